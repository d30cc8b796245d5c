package dev.tartan.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Testbed;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Assumptions;

/**
 * What the outage-matrix ITs share: reading leases from etcd, the desired peer state computed from
 * them (independently of the agent's code: docs/flannel-compat.md §2.4), the kernel state a host really has, agent
 * CPU time from /proc, synthetic peer leases, and the {@code RELIABILITY} lines that
 * docs/reliability.md quotes.
 */
final class Matrix {
  static final String SUBNETS = "/coreos.com/network/subnets/";
  static final String NETWORK = "10.244.0.0/16";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static boolean reported;

  private Matrix() {}

  /** Skips the class unless root, the tools, the jar and the CNI plugin are there. */
  static void assumeTestbed() {
    String reason = Testbed.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    Assumptions.assumeTrue(Files.isExecutable(Testbed.cniPlugin()), "cni/target/tartan-cni not built");
  }

  /** {@code tartan network init} with host subnets limited to 10.244.1.0 .. 10.244.40.0. */
  static void initNetwork(Testbed bed) {
    bed.tartan("network", "init", "--network", NETWORK, "--backend", "vxlan",
        "--subnet-min", "10.244.1.0", "--subnet-max", "10.244.40.0");
  }

  // ---- figures

  /**
   * Prints {@code RELIABILITY <row>: <figure>=<value>} and writes it to target/reliability.txt (started
   * afresh by the first figure of a test run).
   */
  /**
   * A testbed of {@code hosts} hosts and an etcd of {@code etcdMembers} members, the network config,
   * and one agent per host (with {@code agentFlags}) started into {@code agents} and awaited ready.
   */
  static Testbed startNetwork(int hosts, int etcdMembers, Map<Integer, AgentProcess> agents, String... agentFlags) {
    assumeTestbed();
    Testbed bed = Testbed.create(hosts, etcdMembers);
    initNetwork(bed);
    for (int h = 1; h <= hosts; h++) {
      agents.put(h, bed.startAgent(h, agentFlags));
    }
    for (int h = 1; h <= hosts; h++) {
      awaitReady(bed, h, agents.get(h), Duration.ofSeconds(60));
    }
    return bed;
  }

  static synchronized void report(String row, String figure, Object value) {
    String line = "RELIABILITY " + row + ": " + figure + "=" + value;
    System.out.println(line);
    try {
      Files.writeString(Path.of("target", "reliability.txt"), line + "\n", StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          reported ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING);
      reported = true;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String millis(long nanos) {
    return String.format(Locale.ROOT, "%.1fs", nanos / 1e9);
  }

  // ---- agents

  static void awaitReady(Testbed bed, int h, AgentProcess a, Duration timeout) {
    if (!Testbed.await(timeout, () -> bed.ready(h))) {
      fail("agent on host " + h + " not ready after " + timeout.toSeconds() + " s; log:\n"
          + (a == null ? "" : a.log()));
    }
  }

  /** utime + stime of a java process (the agent, exec'd by {@code ip netns exec}), in seconds (/proc/PID/stat). */
  static double cpuSeconds(long pid) {
    try {
      String comm = Files.readString(Path.of("/proc", Long.toString(pid), "comm")).trim();
      assertThat(comm).as("process %d is the agent's JVM", pid).isEqualTo("java");
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // after "pid (comm) ": state is field 3, utime field 14, stime field 15
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      return ticks / (double) CLK_TCK;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static final long CLK_TCK = Long.parseLong(Cmd.run("getconf", "CLK_TCK").trim());

  static long countLines(AgentProcess a, String needle) {
    return a.log().lines().filter(l -> l.contains(needle)).count();
  }

  // ---- leases in etcd

  /** One lease as stored: subnet "10.244.3.0/24", public IP, VtepMAC, etcd lease id (0 = none). */
  record Lease(String subnet, String publicIp, String mac, long etcdLease) {}

  /** Every lease under {@value #SUBNETS}, by subnet ("10.244.3.0/24"). */
  static Map<String, Lease> leases(Testbed bed) {
    JsonNode r = json(bed.etcdctl("get", "--prefix", SUBNETS, "-w", "json"));
    Map<String, Lease> out = new TreeMap<>();
    for (JsonNode kv : r.path("kvs")) {
      String key = decode(kv.path("key").asText());
      String subnet = key.substring(SUBNETS.length()).replace('-', '/');
      JsonNode v = json(decode(kv.path("value").asText()));
      out.put(subnet, new Lease(subnet, v.path("PublicIP").asText(),
          v.path("BackendData").path("VtepMAC").asText(), kv.path("lease").asLong(0)));
    }
    return out;
  }

  /** Remaining TTL (s) of the etcd lease attached to {@code subnet}'s key; -1 when none. */
  static long ttlLeft(Testbed bed, String subnet) {
    Lease l = leases(bed).get(subnet);
    if (l == null || l.etcdLease() == 0) {
      return -1;
    }
    JsonNode r = json(bed.etcdctl("lease", "timetolive", Long.toHexString(l.etcdLease()), "-w", "json"));
    return r.path("ttl").asLong(-1);
  }

  /** The subnet ("10.244.3.0/24") written in host {@code h}'s subnet file. */
  static String subnetOf(Testbed bed, int h) {
    try {
      for (String line : Files.readAllLines(bed.subnetFile(h))) {
        if (line.startsWith("FLANNEL_SUBNET=")) {
          String[] gwLen = line.substring("FLANNEL_SUBNET=".length()).split("/");
          String gw = gwLen[0];
          return gw.substring(0, gw.lastIndexOf('.')) + ".0/" + gwLen[1];
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    throw new IllegalStateException("no FLANNEL_SUBNET in " + bed.subnetFile(h));
  }

  /** A vxlan lease for a host that does not exist (public IPs in 198.18.0.0/15). */
  static void putPeer(Testbed bed, String subnet, String publicIp, String mac) {
    bed.etcdctl("put", SUBNETS + subnet.replace('/', '-'), peerJson(publicIp, mac));
  }

  static String peerJson(String publicIp, String mac) {
    return "{\"PublicIP\":\"" + publicIp + "\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","
        + "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"" + mac + "\"}}";
  }

  static void deletePeer(Testbed bed, String subnet) {
    bed.etcdctl("del", SUBNETS + subnet.replace('/', '-'));
  }

  /** Synthetic peer {@code i} (0..155): subnet 10.244.(100+i).0/24, outside the hosts' range. */
  static String peerSubnet(int i) {
    return "10.244." + (100 + i) + ".0/24";
  }

  static String peerIp(int i) {
    return "198.18." + (i / 250) + "." + (1 + i % 250);
  }

  static String peerMac(int i, int generation) {
    return String.format(Locale.ROOT, "0e:%02x:00:00:%02x:%02x", generation, i / 256, i % 256);
  }

  // ---- peer state: desired (from the leases) and actual (from the kernel)

  /**
   * A host's peer entries on flannel.1 as comparable text, in {@code ip}/{@code bridge} terms:
   * neighbours "S0 lladdr MAC", FDB "MAC dst IP", routes "S via S0 onlink".
   */
  record PeerState(Set<String> neighbours, Set<String> fdb, Set<String> routes) {
    int peers() {
      return routes.size();
    }
  }

  /** docs/flannel-compat.md §2.4 for every lease but {@code ownSubnet}. */
  static PeerState desired(Map<String, Lease> leases, String ownSubnet) {
    Set<String> neigh = new TreeSet<>();
    Set<String> fdb = new TreeSet<>();
    Set<String> routes = new TreeSet<>();
    for (Lease l : leases.values()) {
      if (l.subnet().equals(ownSubnet)) {
        continue;
      }
      String gw = l.subnet().split("/")[0];
      neigh.add(gw + " lladdr " + l.mac());
      fdb.add(l.mac() + " dst " + l.publicIp());
      routes.add(l.subnet() + " via " + gw + " onlink");
    }
    return new PeerState(neigh, fdb, routes);
  }

  /** What host {@code h}'s kernel has on flannel.1 (every neighbour, FDB entry and route). */
  static PeerState actual(Testbed bed, int h) {
    String ns = bed.host(h);
    Set<String> neigh = new TreeSet<>();
    for (JsonNode n : bed.ipJson(ns, "neigh", "show", "dev", "flannel.1")) {
      String state = n.path("state").toString();
      neigh.add(n.path("dst").asText() + " lladdr " + n.path("lladdr").asText()
          + (state.contains("PERMANENT") ? "" : " " + state));
    }
    Set<String> fdb = new TreeSet<>();
    for (JsonNode e : bed.bridgeJson(ns, "fdb", "show", "dev", "flannel.1")) {
      fdb.add(e.path("mac").asText() + " dst " + e.path("dst").asText()
          + ("permanent".equals(e.path("state").asText()) ? "" : " " + e.path("state").asText()));
    }
    Set<String> routes = new TreeSet<>();
    for (JsonNode r : bed.ipJson(ns, "route", "show", "dev", "flannel.1")) {
      routes.add(r.path("dst").asText() + " via " + r.path("gateway").asText()
          + (r.path("flags").toString().contains("onlink") ? " onlink" : ""));
    }
    return new PeerState(neigh, fdb, routes);
  }

  /** Waits until host {@code h}'s kernel equals the desired state of the current leases; returns ns waited. */
  static long awaitConverged(Testbed bed, int h, Duration timeout) {
    long start = System.nanoTime();
    String own = subnetOf(bed, h);
    boolean ok = Testbed.await(timeout, () -> actual(bed, h).equals(desired(leases(bed), own)));
    long took = System.nanoTime() - start;
    if (!ok) {
      PeerState want = desired(leases(bed), own);
      PeerState have = actual(bed, h);
      assertThat(have).as("host %d's flannel.1 entries vs the leases in etcd after %s", h, timeout)
          .isEqualTo(want);
    }
    return took;
  }

  /** Polls until {@code check} holds; fails with {@code what} otherwise. */
  static void await(String what, Duration timeout, BooleanSupplier check) {
    assertThat(Testbed.await(timeout, check)).as(what).isTrue();
  }

  static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (IOException e) {
      throw new IllegalStateException("not JSON: " + text, e);
    }
  }

  private static String decode(String b64) {
    return new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
  }
}
