package dev.tartan.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Testbed;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 11's scale check: one agent, started through the shipped launcher ({@code systemd/tartan},
 * its default JVM flags) in a testbed host, joins a network of 20,000 synthetic hosts in real etcd
 * and programs every one of them: 20,000 neighbours, FDB entries and routes. Timing is printed, not
 * asserted. Then a burst of 1,000 new leases: all programmed, and the log stays readable (a start
 * summary, at most ~20 per-peer lines a second plus a count of the rest).
 *
 * <p>Synthetic peers: subnets 10.x.y.0/24 of the network 10.0.0.0/8 (only ever routes inside the
 * test's namespace), public IPs in 198.18.0.0/15 (only ever FDB destinations there), VtepMACs
 * 0e:b0:00:hh:mm:ll. Written with {@code etcdctl txn}, 128 puts per transaction.
 */
@Timeout(900)
class ScaleIT {
  static final int PEERS = 20_000;
  static final int BURST = 1_000;
  static final String SUBNETS = "/coreos.com/network/subnets/";
  static Testbed bed;

  @BeforeAll
  static void up() {
    Matrix.assumeTestbed();
    bed = Testbed.create(1);
    bed.tartan("network", "init", "--network", "10.0.0.0/8", "--subnet-len", "24", "--backend", "vxlan");
  }

  @AfterAll
  static void down() {
    if (bed != null) {
      bed.close();
    }
  }

  static String subnet(int i) {
    return "10." + (i >> 8 & 0xff) + "." + (i & 0xff) + ".0";
  }

  static String publicIp(int i) {
    int ip = (198 << 24 | 18 << 16) + 1 + i;
    return (ip >>> 24) + "." + (ip >> 16 & 0xff) + "." + (ip >> 8 & 0xff) + "." + (ip & 0xff);
  }

  static String mac(int i) {
    return String.format(Locale.ROOT, "0e:b0:00:%02x:%02x:%02x", i >> 16 & 0xff, i >> 8 & 0xff, i & 0xff);
  }

  /** Peers {@code from} .. {@code to - 1}, 128 puts per {@code etcdctl txn}. */
  static void putPeers(int from, int to, String skip) {
    for (int start = from; start < to; start += 128) {
      StringBuilder txn = new StringBuilder("\n");
      for (int i = start; i < Math.min(to, start + 128); i++) {
        if ((subnet(i) + "/24").equals(skip)) {
          continue; // the agent's own
        }
        String json = "{\"PublicIP\":\"" + publicIp(i) + "\",\"BackendType\":\"vxlan\",\"BackendData\":"
            + "{\"VNI\":1,\"VtepMAC\":\"" + mac(i) + "\"}}";
        txn.append("put ").append(SUBNETS).append(subnet(i)).append("-24 \"")
            .append(json.replace("\"", "\\\"")).append("\"\n");
      }
      txn.append("\n\n");
      String out = Cmd.runWithInput(txn.toString(), Cmd.inNs(bed.ns("ctl"), "etcdctl", "--endpoints",
          bed.etcdEndpoints(), "txn"));
      assertThat(out).startsWith("SUCCESS");
    }
  }

  /** The agent's entries on flannel.1 as {@code ip}/{@code bridge} print them, one string each. */
  static Set<String> kernel() {
    String ns = bed.host(1);
    Set<String> out = new HashSet<>();
    for (String l : Cmd.run("ip", "-n", ns, "-4", "neigh", "show", "dev", "flannel.1").split("\n")) {
      if (l.contains("PERMANENT")) {
        out.add("neigh " + l.replace(" PERMANENT", "").strip());
      }
    }
    for (String l : Cmd.run("bridge", "-n", ns, "fdb", "show", "dev", "flannel.1").split("\n")) {
      if (l.contains(" dst ")) {
        out.add("fdb " + l.replace(" self permanent", "").strip());
      }
    }
    for (String l : Cmd.run("ip", "-n", ns, "-4", "route", "show", "dev", "flannel.1", "proto", "111").split("\n")) {
      if (!l.isBlank()) {
        out.add("route " + l.strip());
      }
    }
    return out;
  }

  static Set<String> expected(int to, String own) {
    Set<String> out = new HashSet<>();
    for (int i = 1; i < to; i++) {
      String s = subnet(i);
      if ((s + "/24").equals(own)) {
        continue;
      }
      out.add("neigh " + s + " lladdr " + mac(i));
      out.add("fdb " + mac(i) + " dst " + publicIp(i));
      out.add("route " + s + "/24 via " + s + " onlink");
    }
    return out;
  }

  static long rssKiB(long pid) throws Exception {
    for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (l.startsWith("VmRSS:")) {
        return Long.parseLong(l.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }

  @Test
  void anAgentJoinsTwentyThousandHostsAndProgramsThemAll() throws Exception {
    long t0 = System.nanoTime();
    putPeers(1, PEERS + 1, null);
    System.out.printf("SCALE: %,d leases written in %d ms%n", PEERS, (System.nanoTime() - t0) / 1_000_000);

    Path launcher = Path.of("..", "systemd", "tartan").toAbsolutePath().normalize();
    List<String> argv = new ArrayList<>(List.of("sh", launcher.toString(), "agent",
        "--etcd-endpoints", bed.etcdEndpoints(), "--subnet-file", bed.subnetFile(1).toString(),
        "--healthz-ip", "127.0.0.1", "--healthz-port", "8471"));
    Map<String, String> env = Map.of("PATH", System.getenv("PATH"), "TARTAN_JAR", Testbed.agentJar().toString());
    long launched = System.nanoTime();
    AgentProcess agent = bed.startInHost(1, argv, env, "agent.log");

    String own = null;
    Set<String> want = null;
    Set<String> have = Set.of();
    long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
    while (System.nanoTime() < deadline && agent.alive()) {
      if (own == null && Files.exists(bed.subnetFile(1))) {
        for (String l : Files.readAllLines(bed.subnetFile(1))) {
          if (l.startsWith("FLANNEL_SUBNET=")) {
            String gw = l.substring("FLANNEL_SUBNET=".length());
            own = gw.substring(0, gw.lastIndexOf('.')) + ".0/24";
            want = expected(PEERS + 1, own);
          }
        }
      }
      if (want != null) {
        have = kernel();
        if (have.equals(want)) {
          break;
        }
      }
      Testbed.sleep(500);
    }
    long programmed = System.nanoTime() - launched;
    assertThat(agent.alive()).as("agent running; log:\n%s", tail(agent)).isTrue();
    assertThat(want).as("subnet.env written").isNotNull();
    assertThat(have).as("all %d entries", want.size()).hasSize(want.size()).isEqualTo(want);
    System.out.printf("SCALE: launch -> all %,d entries %d ms (polled every 0.5 s); RSS %,d KiB%n", want.size(),
        programmed / 1_000_000, rssKiB(agent.pid()));
    Cmd.quiet("jcmd", Long.toString(agent.pid()), "GC.run");
    System.out.println("SCALE: after a full GC: " + Cmd.quiet("jcmd", Long.toString(agent.pid()), "GC.heap_info")
        .out().replace("\n", " | "));
    System.out.println("SCALE: " + Cmd.quiet("jcmd", Long.toString(agent.pid()), "GC.class_histogram").out()
        .lines().limit(25).reduce("", (a, b) -> a + "\n" + b));

    String log = agent.log();
    assertThat(log).as("one start summary").contains("first sync: " + PEERS + " peers, " + 3 * PEERS
        + " kernel entries");
    long peerLines = log.lines().filter(l -> l.contains(" peer ")).count();
    assertThat(peerLines).as("no per-peer lines at start").isLessThan(50);

    // a burst of 1,000 new hosts: all programmed, the log rate-limited
    long b0 = System.nanoTime();
    putPeers(PEERS + 1, PEERS + 1 + BURST, own);
    Set<String> wantAfter = expected(PEERS + 1 + BURST, own);
    Testbed.await(Duration.ofMinutes(3), () -> kernel().size() == wantAfter.size());
    long burst = System.nanoTime() - b0;
    assertThat(kernel()).isEqualTo(wantAfter);
    Testbed.sleep(2_000); // the count of suppressed lines is printed once their second is over
    String after = agent.log().substring(log.length());
    long added = after.lines().filter(l -> l.contains(") added")).count();
    System.out.printf("SCALE: burst of %,d leases programmed in %d ms; %d 'added' lines; RSS %,d KiB%n", BURST,
        burst / 1_000_000, added, rssKiB(agent.pid()));
    assertThat(added).as("per-peer lines are rate-limited").isLessThan(BURST / 2);
    assertThat(after).contains("more peer changes not logged one by one");
    System.out.println("SCALE: log lines in total: " + agent.log().lines().count());

    // single lease PUTs at 21,000 peers: etcdctl put issued -> the route in the kernel (ip monitor)
    Process monitor = new ProcessBuilder("ip", "-n", bed.host(1), "monitor", "route").redirectErrorStream(true).start();
    java.util.concurrent.ConcurrentHashMap<String, Long> seen = new java.util.concurrent.ConcurrentHashMap<>();
    Thread reader = new Thread(() -> {
      try (var in = new java.io.BufferedReader(new java.io.InputStreamReader(monitor.getInputStream()))) {
        for (String l = in.readLine(); l != null; l = in.readLine()) {
          seen.putIfAbsent(l.split(" ")[0], System.nanoTime());
        }
      } catch (java.io.IOException e) {
        // monitor stopped
      }
    });
    reader.setDaemon(true);
    reader.start();
    try {
      Testbed.sleep(500);
      List<Long> millis = new ArrayList<>();
      for (int i = PEERS + BURST + 1; i <= PEERS + BURST + 30; i++) {
        if ((subnet(i) + "/24").equals(own)) {
          continue;
        }
        String key = subnet(i) + "/24";
        String json = "{\"PublicIP\":\"" + publicIp(i) + "\",\"BackendType\":\"vxlan\",\"BackendData\":"
            + "{\"VNI\":1,\"VtepMAC\":\"" + mac(i) + "\"}}";
        long put = System.nanoTime();
        bed.etcdctl("put", SUBNETS + subnet(i) + "-24", json);
        Testbed.await(Duration.ofSeconds(10), () -> seen.containsKey(key));
        Long at = seen.get(key);
        assertThat(at).as("route %s programmed", key).isNotNull();
        millis.add((at - put) / 1_000_000);
        Testbed.sleep(100);
      }
      millis.sort(null);
      System.out.printf("SCALE: PUT -> route at %,d peers, %d samples (etcdctl start included): p50 %d ms, "
          + "max %d ms%n", PEERS + BURST, millis.size(), millis.get(millis.size() / 2), millis.get(millis.size() - 1));
    } finally {
      monitor.destroyForcibly();
    }
  }

  static String tail(AgentProcess a) {
    List<String> lines = a.log().lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
  }
}
