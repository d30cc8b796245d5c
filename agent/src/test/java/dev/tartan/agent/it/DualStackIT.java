package dev.tartan.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Testbed;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Dual stack end to end (docs/flannel-compat.md §2.7), real etcd and namespaces: two Tartan hosts
 * and a flannel node built by hand (the test does flanneld's steps with {@code ip}/{@code bridge}
 * and writes its dual-stack lease into etcd) on an underlay with IPv4 (198.51.100.h, carrying
 * {@code flannel.1}) and IPv6 (2001:db8:100::h, carrying {@code flannel-v6.1} with a local6). A
 * pod per host (veth into {@code cni0}, an IPv4 and an IPv6 address) pings every other pod over
 * both families, Tartan to Tartan and Tartan to flannel; IPv6 entries and the IPv6 device deleted
 * by hand come back. Then a container per Tartan host through the real CNI chain (tartan-cni ->
 * bridge + host-local) gets an address of each family and reaches every pod over both; with
 * {@code --ip-masq} its IPv6 packets to an outside host (2001:db8:100::100, no route back) arrive
 * from the host's IPv6 address while pods see its own (iptables mode, then nftables mode), and
 * {@code tartan doctor} names a deleted IPv6 masquerade rule.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(300)
class DualStackIT {
  static final int TARTAN_HOSTS = 2;
  static final int FLANNEL = 3;
  static final String PREFIX = "/coreos.com/network/";
  static final String CONFIG = "{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true,"
      + "\"IPv6Network\":\"fd00:10::/48\",\"IPv6SubnetLen\":64,\"Backend\":{\"Type\":\"vxlan\"}}";
  static final String FLANNEL_SUBNET = "10.244.30.0";
  static final String FLANNEL_SUBNET6 = "fd00:10:0:30::";
  static final String[] AGENT_FLAGS = {"--resync-interval", "5s", "--ip-masq", "--iptables-resync", "1s"};
  /** The outside host: on the underlay's IPv6 segment, no route to the pod networks. */
  static final String EXT_IP6 = "2001:db8:100::100";
  static final ObjectMapper JSON = new ObjectMapper();

  static Testbed bed;
  static final Map<Integer, AgentProcess> agents = new LinkedHashMap<>();
  /** Per host: {IPv4 subnet address, IPv6 subnet address} ("10.244.7.0", "fd00:10:0:3::"). */
  static final Map<Integer, String[]> subnets = new LinkedHashMap<>();
  /** Per host: {pod IPv4, pod IPv6}. */
  static final Map<Integer, String[]> pods = new LinkedHashMap<>();
  static final List<String> podNamespaces = new ArrayList<>();
  /** Per Tartan host: {IPv4, IPv6} of the container attached through the real CNI chain (container 2). */
  static final Map<Integer, String[]> cniPods = new LinkedHashMap<>();
  static String ext;

  static String hostIp6(int h) {
    return "2001:db8:100::" + h;
  }

  @BeforeAll
  static void up() throws Exception {
    String reason = Testbed.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    Assumptions.assumeTrue(Files.isExecutable(Testbed.cniPlugin()), "cni/target/tartan-cni-java not built");
    Assumptions.assumeTrue(Cmd.onPath("ip6tables-save") && Cmd.onPath("iptables-save") && Cmd.onPath("nft"),
        "needs iptables, ip6tables and nft (apt-get install iptables nftables)");
    bed = Testbed.create(TARTAN_HOSTS + 1);
    for (int h = 1; h <= TARTAN_HOSTS + 1; h++) {
      Cmd.run("ip", "-n", bed.host(h), "-6", "addr", "add", hostIp6(h) + "/64", "dev", "eth0", "nodad");
    }
    bed.etcdctl("put", PREFIX + "config", CONFIG);
    buildFlannelNode();
    for (int h = 1; h <= TARTAN_HOSTS; h++) {
      agents.put(h, bed.startAgent(h, AGENT_FLAGS));
    }
    for (int i = 1; i <= TARTAN_HOSTS; i++) {
      int h = i;
      if (!Testbed.await(Duration.ofSeconds(120), () -> bed.ready(h))) {
        fail("agent on host " + h + " not ready after 120 s; log:\n" + agents.get(h).log());
      }
      subnets.put(h, subnetsOf(h));
    }
    programFlannelPeers();
    for (int h = 1; h <= TARTAN_HOSTS + 1; h++) {
      addPod(h);
    }
  }

  @AfterAll
  static void down() {
    if (ext != null) {
      Cmd.quiet("ip", "netns", "del", ext);
    }
    for (String ns : podNamespaces) {
      Cmd.quiet("ip", "netns", "del", ns);
    }
    if (bed != null) {
      bed.close();
    }
  }

  // ---- the flannel node, by hand

  /** flanneld's start on host 3: both vxlan devices, their addresses, the bridge, the lease. */
  static void buildFlannelNode() throws Exception {
    String ns = bed.host(FLANNEL);
    String hostIp = Testbed.hostIp(FLANNEL);
    Cmd.run("ip", "-n", ns, "link", "add", "flannel.1", "type", "vxlan", "id", "1", "local", hostIp, "dev", "eth0",
        "dstport", "8472", "nolearning");
    Cmd.run("ip", "-n", ns, "link", "set", "flannel.1", "mtu", "1450");
    Cmd.run("ip", "-n", ns, "addr", "add", FLANNEL_SUBNET + "/32", "dev", "flannel.1");
    Cmd.run("ip", "-n", ns, "link", "set", "flannel.1", "up");
    Cmd.run("ip", "-n", ns, "link", "add", "flannel-v6.1", "type", "vxlan", "id", "1", "local", hostIp6(FLANNEL),
        "dev", "eth0", "dstport", "8472", "nolearning");
    Cmd.run("ip", "-n", ns, "-6", "addr", "add", FLANNEL_SUBNET6 + "/128", "dev", "flannel-v6.1", "nodad");
    Cmd.run("ip", "-n", ns, "link", "set", "flannel-v6.1", "up");
    Cmd.run("ip", "-n", ns, "link", "add", "cni0", "type", "bridge");
    Cmd.run("ip", "-n", ns, "link", "set", "cni0", "mtu", "1450");
    Cmd.run("ip", "-n", ns, "addr", "add", "10.244.30.1/24", "dev", "cni0");
    Cmd.run("ip", "-n", ns, "-6", "addr", "add", "fd00:10:0:30::1/64", "dev", "cni0", "nodad");
    Cmd.run("ip", "-n", ns, "link", "set", "cni0", "up");
    Cmd.run(Cmd.inNs(ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"));
    String value = "{\"PublicIP\":\"" + hostIp + "\",\"PublicIPv6\":\"" + hostIp6(FLANNEL) + "\",\"BackendType\":\"vxlan\","
        + "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"" + mac(FLANNEL, "flannel.1") + "\"},"
        + "\"BackendV6Data\":{\"VNI\":1,\"VtepMAC\":\"" + mac(FLANNEL, "flannel-v6.1") + "\"}}";
    bed.etcdctl("put", PREFIX + "subnets/" + FLANNEL_SUBNET + "-24&" + FLANNEL_SUBNET6 + "-64", value);
    subnets.put(FLANNEL, new String[] {FLANNEL_SUBNET, FLANNEL_SUBNET6});
  }

  /** flanneld's handleSubnetEvents on host 3 for every Tartan lease, IPv4 and IPv6 (§2.4, §2.7). */
  static void programFlannelPeers() throws Exception {
    String ns = bed.host(FLANNEL);
    String[] lines = bed.etcdctl("get", "--prefix", PREFIX + "subnets/").split("\n");
    int programmed = 0;
    for (int i = 0; i + 1 < lines.length; i += 2) {
      String key = lines[i].substring((PREFIX + "subnets/").length());
      if (key.startsWith(FLANNEL_SUBNET + "-")) {
        continue;
      }
      String[] parts = key.split("&");
      assertThat(parts).as("a dual-stack key: %s", key).hasSize(2);
      String s4 = parts[0].substring(0, parts[0].indexOf('-'));
      String s6 = parts[1].substring(0, parts[1].lastIndexOf('-'));
      JsonNode v = JSON.readTree(lines[i + 1]);
      String mac = v.path("BackendData").path("VtepMAC").asText();
      String mac6 = v.path("BackendV6Data").path("VtepMAC").asText();
      Cmd.run("ip", "-n", ns, "neigh", "replace", s4, "lladdr", mac, "dev", "flannel.1", "nud", "permanent");
      Cmd.run("bridge", "-n", ns, "fdb", "replace", mac, "dev", "flannel.1", "dst", v.path("PublicIP").asText(),
          "self", "permanent");
      Cmd.run("ip", "-n", ns, "route", "replace", s4 + "/24", "via", s4, "dev", "flannel.1", "onlink");
      Cmd.run("ip", "-n", ns, "-6", "neigh", "replace", s6, "lladdr", mac6, "dev", "flannel-v6.1", "nud", "permanent");
      Cmd.run("bridge", "-n", ns, "fdb", "replace", mac6, "dev", "flannel-v6.1", "dst", v.path("PublicIPv6").asText(),
          "self", "permanent");
      Cmd.run("ip", "-n", ns, "-6", "route", "replace", s6 + "/64", "via", s6, "dev", "flannel-v6.1", "onlink");
      programmed++;
    }
    assertThat(programmed).as("Tartan leases in etcd").isEqualTo(TARTAN_HOSTS);
  }

  // ---- pods

  /** A pod on host {@code h}: veth into cni0, {@code .10} and {@code ::a}, default routes via the bridge. */
  static void addPod(int h) {
    String host = bed.host(h);
    String pod = bed.container(h, 1);
    Cmd.run("ip", "netns", "add", pod);
    podNamespaces.add(pod);
    String[] s = subnets.get(h);
    String net4 = s[0].substring(0, s[0].lastIndexOf('.'));
    String v4 = net4 + ".10";
    String v6 = s[1] + "a";
    Cmd.run("ip", "-n", host, "link", "add", "vp" + h, "type", "veth", "peer", "name", "eth0", "netns", pod);
    Cmd.run("ip", "-n", host, "link", "set", "vp" + h, "mtu", "1450", "master", "cni0", "up");
    Cmd.run("ip", "-n", pod, "link", "set", "lo", "up");
    Cmd.run("ip", "-n", pod, "link", "set", "eth0", "mtu", "1450", "up");
    Cmd.run("ip", "-n", pod, "addr", "add", v4 + "/24", "dev", "eth0");
    Cmd.run("ip", "-n", pod, "-6", "addr", "add", v6 + "/64", "dev", "eth0", "nodad");
    Cmd.run("ip", "-n", pod, "route", "add", "default", "via", net4 + ".1");
    Cmd.run("ip", "-n", pod, "-6", "route", "add", "default", "via", s[1] + "1");
    pods.put(h, new String[] {v4, v6});
  }

  // ---- helpers

  static String mac(int h, String dev) {
    return bed.ipJson(bed.host(h), "link", "show", dev).get(0).path("address").asText();
  }

  /** The subnets of Tartan host {@code h} from its subnet file. */
  static String[] subnetsOf(int h) throws Exception {
    String v4 = null;
    String v6 = null;
    for (String line : Files.readAllLines(bed.subnetFile(h))) {
      if (line.startsWith("FLANNEL_SUBNET=")) {
        String gw = line.substring("FLANNEL_SUBNET=".length()).split("/")[0];
        v4 = gw.substring(0, gw.lastIndexOf('.')) + ".0";
      } else if (line.startsWith("FLANNEL_IPV6_SUBNET=")) {
        String gw = line.substring("FLANNEL_IPV6_SUBNET=".length()).split("/")[0];
        assertThat(gw).endsWith("::1");
        v6 = gw.substring(0, gw.length() - 1);
      }
    }
    assertThat(v4).as("FLANNEL_SUBNET in %s", bed.subnetFile(h)).isNotNull();
    assertThat(v6).as("FLANNEL_IPV6_SUBNET in %s", bed.subnetFile(h)).isNotNull();
    return new String[] {v4, v6};
  }

  /** Every pod pinging every other pod on both families; the pairs that do not answer within the wait. */
  static List<String> unanswered(Duration wait) {
    List<String> failing = new ArrayList<>();
    long end = System.nanoTime() + wait.toNanos();
    do {
      failing.clear();
      for (int from : pods.keySet()) {
        for (int to : pods.keySet()) {
          if (from == to) {
            continue;
          }
          for (int family = 0; family < 2; family++) {
            String target = pods.get(to)[family];
            if (!bed.ping(bed.container(from, 1), target)) {
              failing.add("pod " + from + " -> pod " + to + " (" + target + ")");
            }
          }
        }
      }
    } while (!failing.isEmpty() && System.nanoTime() < end);
    return failing;
  }

  /** True when a host (Tartan or flannel) holds the IPv4 subnet with network address {@code net4}. */
  static boolean isHeld(String net4) {
    return subnets.values().stream().anyMatch(s -> s[0].equals(net4));
  }

  /** One unlabelled sample from host h's /metrics; -1 when absent. */
  static double metric(int h, String name) {
    String text = Cmd.run(Cmd.inNs(bed.host(h), "curl", "-sf", "-m", "5", "http://127.0.0.1:8471/metrics"));
    return text.lines().filter(l -> l.startsWith(name + " ")).mapToDouble(l -> Double.parseDouble(l.split(" ")[1]))
        .findFirst().orElse(-1);
  }

  static boolean ping6(int from, int to) {
    return bed.ping(bed.container(from, 1), pods.get(to)[1]);
  }

  // ---- checks

  @Test
  @Order(1)
  void everyPodReachesEveryOtherOverIpv4AndIpv6() {
    assertThat(unanswered(Duration.ofSeconds(60))).as("unanswered pings (host %d is flannel)", FLANNEL).isEmpty();
  }

  @Test
  @Order(2)
  void kernelStateAndLeaseMatchFlannelsDualStackLayout() throws Exception {
    for (int h = 1; h <= TARTAN_HOSTS; h++) {
      String ns = bed.host(h);
      String own6 = subnets.get(h)[1];
      JsonNode link = bed.ipJson(ns, "-d", "link", "show", "flannel-v6.1").get(0);
      JsonNode vx = link.path("linkinfo").path("info_data");
      assertThat(vx.path("id").asInt()).isEqualTo(1);
      assertThat(vx.path("local6").asText()).isEqualTo(hostIp6(h));
      assertThat(vx.path("port").asInt()).isEqualTo(8472);
      assertThat(vx.path("learning").asBoolean(true)).isFalse();
      assertThat(link.path("mtu").asInt()).as("flanneld's (the kernel's) MTU over IPv6").isEqualTo(1430);
      assertThat(link.path("flags").toString()).contains("UP");
      assertThat(bed.ipJson(ns, "link", "show", "cni0").get(0).path("mtu").asInt()).isEqualTo(1450);
      String mac6 = link.path("address").asText();
      assertThat(mac6).isNotEqualTo(mac(h, "flannel.1"));

      JsonNode addrs = bed.ipJson(ns, "-6", "addr", "show", "dev", "flannel-v6.1", "scope", "global").get(0)
          .path("addr_info");
      assertThat(addrs.get(0).path("local").asText()).isEqualTo(own6);
      assertThat(addrs.get(0).path("prefixlen").asInt()).isEqualTo(128);
      JsonNode cni0 = bed.ipJson(ns, "-6", "addr", "show", "dev", "cni0", "scope", "global").get(0).path("addr_info");
      assertThat(cni0.get(0).path("local").asText()).isEqualTo(own6 + "1");
      assertThat(cni0.get(0).path("prefixlen").asInt()).isEqualTo(64);
      assertThat(Cmd.run(Cmd.inNs(ns, "cat", "/proc/sys/net/ipv6/conf/all/forwarding")).trim()).isEqualTo("1");
      assertThat(Cmd.run(Cmd.inNs(ns, "cat", "/proc/sys/net/ipv6/conf/flannel-v6.1/accept_ra")).trim()).isEqualTo("0");

      String env = Files.readString(bed.subnetFile(h));
      assertThat(env).contains("FLANNEL_IPV6_NETWORK=fd00:10::/48\n", "FLANNEL_IPV6_SUBNET=" + own6 + "1/64\n");

      String key = PREFIX + "subnets/" + subnets.get(h)[0] + "-24&" + own6 + "-64";
      String[] kv = bed.etcdctl("get", key).split("\n");
      assertThat(kv).as("lease key %s", key).hasSize(2);
      JsonNode lease = JSON.readTree(kv[1]);
      assertThat(lease.path("PublicIP").asText()).isEqualTo(Testbed.hostIp(h));
      assertThat(lease.path("PublicIPv6").asText()).isEqualTo(hostIp6(h));
      assertThat(lease.path("BackendV6Data").path("VtepMAC").asText()).isEqualTo(mac6);
      assertThat(lease.path("BackendV6Data").path("VNI").asInt()).isEqualTo(1);

      // the flannel node's IPv6 entries, as flanneld would write them
      String peer6 = FLANNEL_SUBNET6;
      JsonNode neigh = bed.ipJson(ns, "-6", "neigh", "show", peer6, "dev", "flannel-v6.1");
      assertThat(neigh).as("IPv6 neighbour %s on host %d", peer6, h).hasSize(1);
      assertThat(neigh.get(0).path("lladdr").asText()).isEqualTo(mac(FLANNEL, "flannel-v6.1"));
      assertThat(neigh.get(0).path("state").toString()).contains("PERMANENT");
      JsonNode fdb = bed.bridgeJson(ns, "fdb", "show", "dev", "flannel-v6.1");
      assertThat(fdb).anySatisfy(f -> {
        assertThat(f.path("mac").asText()).isEqualTo(mac(FLANNEL, "flannel-v6.1"));
        assertThat(f.path("dst").asText()).isEqualTo(hostIp6(FLANNEL));
      });
      JsonNode route = bed.ipJson(ns, "-6", "route", "show", peer6 + "/64");
      assertThat(route).hasSize(1);
      assertThat(route.get(0).path("gateway").asText()).isEqualTo(peer6);
      assertThat(route.get(0).path("dev").asText()).isEqualTo("flannel-v6.1");
      assertThat(route.get(0).path("flags").toString()).contains("onlink");
      assertThat(route.get(0).path("protocol").asText()).isIn("111", "tartan");
      // IPv4 entries stay on flannel.1, IPv6 ones on flannel-v6.1
      assertThat(bed.bridgeJson(ns, "fdb", "show", "dev", "flannel.1")).noneMatch(f -> f.path("dst").asText().contains(":"));
    }
  }

  @Test
  @Order(3)
  void deletedIpv6EntriesAreRestored() {
    int h = 1;
    String ns = bed.host(h);
    String flannelMac6 = mac(FLANNEL, "flannel-v6.1");
    Cmd.run("ip", "-n", ns, "-6", "route", "del", FLANNEL_SUBNET6 + "/64");
    Cmd.run("ip", "-n", ns, "-6", "neigh", "del", FLANNEL_SUBNET6, "dev", "flannel-v6.1");
    Cmd.run("bridge", "-n", ns, "fdb", "del", flannelMac6, "dev", "flannel-v6.1", "dst", hostIp6(FLANNEL), "self");
    String other6 = subnets.get(2)[1];
    Cmd.run("ip", "-n", ns, "-6", "route", "del", other6 + "/64");

    boolean restored = Testbed.await(Duration.ofSeconds(30), () ->
        bed.ipJson(ns, "-6", "route", "show", FLANNEL_SUBNET6 + "/64").size() == 1
            && bed.ipJson(ns, "-6", "route", "show", other6 + "/64").size() == 1
            && bed.ipJson(ns, "-6", "neigh", "show", FLANNEL_SUBNET6, "dev", "flannel-v6.1", "nud", "permanent").size() == 1
            && bed.bridgeJson(ns, "fdb", "show", "dev", "flannel-v6.1").toString().contains(hostIp6(FLANNEL)));
    assertThat(restored).as("IPv6 route, neighbour and FDB entry restored on host %d; log:\n%s", h,
        agents.get(h).log()).isTrue();
    assertThat(Testbed.await(Duration.ofSeconds(30), () -> ping6(h, FLANNEL) && ping6(h, 2))).isTrue();
    assertThat(agents.get(h).log()).contains("changed by someone else; repairing it");
  }

  @Test
  @Order(4)
  void aDeletedIpv6DeviceIsRecreatedWithItsMacAndPeers() {
    int h = 2;
    String ns = bed.host(h);
    String mac6 = mac(h, "flannel-v6.1");
    Cmd.run("ip", "-n", ns, "link", "del", "flannel-v6.1");
    boolean back = Testbed.await(Duration.ofSeconds(30), () ->
        Cmd.quiet("ip", "-n", ns, "link", "show", "flannel-v6.1").ok()
            && bed.ipJson(ns, "-6", "route", "show", FLANNEL_SUBNET6 + "/64").size() == 1
            && bed.ipJson(ns, "-6", "route", "show", subnets.get(1)[1] + "/64").size() == 1);
    assertThat(back).as("flannel-v6.1 and its routes back on host %d; log:\n%s", h, agents.get(h).log()).isTrue();
    assertThat(mac(h, "flannel-v6.1")).isEqualTo(mac6);
    assertThat(unanswered(Duration.ofSeconds(30))).isEmpty();
  }

  @Test
  @Order(5)
  void anIpv4OnlyPeerGetsIpv4EntriesOnly() {
    // a synthetic host without an IPv6 part (its public IP is never sent to: no pod pings it), on a
    // subnet no host holds (the store picks the hosts' subnets at random: a fixed one could be taken)
    int octet = 40;
    while (isHeld("10.244." + octet + ".0")) {
      octet++;
    }
    String synthetic = "10.244." + octet + ".0";
    String key = PREFIX + "subnets/" + synthetic + "-24";
    bed.etcdctl("put", key, "{\"PublicIP\":\"198.18.0.40\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","
        + "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"0e:00:00:00:40:00\"}}");
    try {
      String ns = bed.host(1);
      assertThat(Testbed.await(Duration.ofSeconds(30), () ->
          bed.ipJson(ns, "route", "show", synthetic + "/24", "dev", "flannel.1").size() == 1)).isTrue();
      assertThat(bed.ipJson(ns, "-6", "route", "show", "table", "main", "proto", "111")).hasSize(2);
      assertThat(bed.bridgeJson(ns, "fdb", "show", "dev", "flannel-v6.1").toString()).doesNotContain("0e:00:00:00:40:00");
      assertThat(agents.get(1).log()).doesNotContain("lease " + synthetic + "/24 is not programmed");
      assertThat(Testbed.await(Duration.ofSeconds(30), () -> metric(1, "tartan_peers_known") == 3
          && metric(1, "tartan_peers_ipv6_programmed") == 2))
          .as("3 peers, 2 of them with IPv6 entries: known %s, IPv6 %s", metric(1, "tartan_peers_known"),
              metric(1, "tartan_peers_ipv6_programmed")).isTrue();
      assertThat(unanswered(Duration.ofSeconds(10))).isEmpty();
    } finally {
      bed.etcdctl("del", key);
    }
    assertThat(Testbed.await(Duration.ofSeconds(30), () ->
        bed.ipJson(bed.host(1), "route", "show", synthetic + "/24").isEmpty())).isTrue();
  }

  // ---- containers through the real CNI chain (tartan-cni -> bridge + host-local) and IPv6 masquerade

  /** Container 2 on host h attached by the CNI plugin; records its {IPv4, IPv6} in {@link #cniPods}. */
  static String[] addCniContainer(int h) {
    bed.addContainer(h, 2);
    String cns = bed.container(h, 2);
    String v4 = bed.ipJson(cns, "-4", "addr", "show", "dev", "eth0").get(0).path("addr_info").get(0)
        .path("local").asText();
    List<JsonNode> a6 = new ArrayList<>();
    // iproute2 may add an empty object to addr_info: keep the entries that name an address
    bed.ipJson(cns, "-6", "addr", "show", "dev", "eth0", "scope", "global").get(0).path("addr_info")
        .forEach(a -> {
          if (a.has("local")) {
            a6.add(a);
          }
        });
    assertThat(a6).as("global IPv6 addresses of %s", cns).hasSize(1);
    String[] ips = {v4, a6.get(0).path("local").asText()};
    assertThat(a6.get(0).path("prefixlen").asInt()).isEqualTo(64);
    cniPods.put(h, ips);
    return ips;
  }

  /** Counters, in namespace ns, of ICMPv6 echo requests by source: {@code sources[i]} is the i-th counter. */
  static void countEchoRequests(String ns, String... sources) {
    StringBuilder b = new StringBuilder("add table ip6 obs\n"
        + "add chain ip6 obs in { type filter hook input priority 0 ; }\n");
    for (String src : sources) {
      b.append("add rule ip6 obs in ip6 saddr ").append(src).append(" icmpv6 type echo-request counter\n");
    }
    Cmd.runWithInput(b.toString(), Cmd.inNs(ns, "nft", "-f", "-"));
  }

  /** The packet counters of {@link #countEchoRequests} in namespace ns, in rule order. */
  static List<Long> echoCounters(String ns) {
    try {
      JsonNode root = JSON.readTree(Cmd.run(Cmd.inNs(ns, "nft", "-j", "list", "table", "ip6", "obs")));
      List<Long> counts = new ArrayList<>();
      for (JsonNode item : root.path("nftables")) {
        for (JsonNode e : item.path("rule").path("expr")) {
          if (e.has("counter")) {
            counts.add(e.get("counter").path("packets").asLong());
          }
        }
      }
      return counts;
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * The CNI container on host 1 pings the outside host (no route back to fd00:10::/48) and the pods on
   * host 2 (CNI container) and host 3 (flannel): the outside host sees host 1's IPv6 address, the pods
   * see the container's own IPv6 address.
   */
  static void ipv6MasqueradesOutsideOnly(String mode) {
    String from = bed.container(1, 2);
    String own6 = cniPods.get(1)[1];
    List<Long> extBefore = echoCounters(ext);
    assertThat(Testbed.await(Duration.ofSeconds(30), () -> bed.ping(from, EXT_IP6)))
        .as("%s: the container reaches %s, which has no route back to fd00:10::/48; log:\n%s", mode, EXT_IP6,
            agents.get(1).log()).isTrue();
    List<Long> extAfter = echoCounters(ext);
    assertThat(extAfter.get(0)).as("%s: echo requests at %s from host 1's address %s", mode, EXT_IP6, hostIp6(1))
        .isGreaterThan(extBefore.get(0));
    assertThat(extAfter.get(1)).as("%s: echo requests at %s from a pod address", mode, EXT_IP6)
        .isEqualTo(extBefore.get(1));

    for (String[] target : List.of(new String[] {bed.container(2, 2), cniPods.get(2)[1]},
        new String[] {bed.container(FLANNEL, 1), pods.get(FLANNEL)[1]})) {
      List<Long> before = echoCounters(target[0]);
      assertThat(Testbed.await(Duration.ofSeconds(30), () -> bed.ping(from, target[1]))).as("%s: %s -> %s", mode,
          own6, target[1]).isTrue();
      List<Long> after = echoCounters(target[0]);
      assertThat(after.get(0)).as("%s: echo requests at %s from the pod's own %s", mode, target[1], own6)
          .isGreaterThan(before.get(0));
      assertThat(after.get(1)).as("%s: echo requests at %s from host 1's %s", mode, target[1], hostIp6(1))
          .isEqualTo(before.get(1));
    }
  }

  @Test
  @Order(6)
  void cniContainersGetBothFamiliesAndReachEveryPodOverBoth() {
    for (int h = 1; h <= TARTAN_HOSTS; h++) {
      String[] ips = addCniContainer(h);
      String[] s = subnets.get(h);
      String cns = bed.container(h, 2);
      assertThat(ips[0]).as("IPv4 of the CNI container on host %d (FLANNEL_SUBNET %s/24)", h, s[0])
          .startsWith(s[0].substring(0, s[0].lastIndexOf('.') + 1)).isNotEqualTo(s[0]);
      assertThat(ips[1]).as("IPv6 of the CNI container on host %d (FLANNEL_IPV6_SUBNET %s/64)", h, s[1])
          .startsWith(s[1]).isNotEqualTo(s[1]).isNotEqualTo(s[1] + "1");
      JsonNode r6 = bed.ipJson(cns, "-6", "route", "show", "fd00:10::/48");
      assertThat(r6).as("route to the IPv6 network in %s", cns).hasSize(1);
      assertThat(r6.get(0).path("gateway").asText()).isEqualTo(s[1] + "1");
      JsonNode r4 = bed.ipJson(cns, "route", "show", "10.244.0.0/16");
      assertThat(r4).as("route to the IPv4 network in %s", cns).hasSize(1);
      assertThat(r4.get(0).path("gateway").asText()).isEqualTo(s[0].substring(0, s[0].lastIndexOf('.')) + ".1");
    }
    List<String> failing = new ArrayList<>();
    long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    do {
      failing.clear();
      for (int from : cniPods.keySet()) {
        Map<String, String> targets = new LinkedHashMap<>();
        for (int to : cniPods.keySet()) {
          if (to != from) {
            targets.put("CNI container on host " + to, String.join(",", cniPods.get(to)));
          }
        }
        for (int to : pods.keySet()) {
          targets.put("pod on host " + to + (to == FLANNEL ? " (flannel)" : ""), String.join(",", pods.get(to)));
        }
        for (Map.Entry<String, String> t : targets.entrySet()) {
          for (String ip : t.getValue().split(",")) {
            if (!bed.ping(bed.container(from, 2), ip)) {
              failing.add("CNI container on host " + from + " -> " + t.getKey() + " (" + ip + ")");
            }
          }
        }
        // and back from the flannel node's pod
        for (String ip : cniPods.get(from)) {
          if (!bed.ping(bed.container(FLANNEL, 1), ip)) {
            failing.add("flannel pod -> CNI container on host " + from + " (" + ip + ")");
          }
        }
      }
    } while (!failing.isEmpty() && System.nanoTime() < end);
    assertThat(failing).as("unanswered pings").isEmpty();
  }

  @Test
  @Order(7)
  void ipv6IsMasqueradedToTheOutsideButNotWithinTheNetwork() {
    Assumptions.assumeTrue(cniPods.size() == TARTAN_HOSTS, "needs the CNI containers of the previous test");
    ext = bed.ns("ext");
    Cmd.run("ip", "netns", "add", ext);
    Cmd.run("ip", "-n", ext, "link", "set", "lo", "up");
    Cmd.run("ip", "-n", bed.ns("ctl"), "link", "add", "vext", "type", "veth", "peer", "name", "eth0", "netns", ext);
    Cmd.run("ip", "-n", bed.ns("ctl"), "link", "set", "vext", "master", "br0", "up");
    Cmd.run("ip", "-n", ext, "-6", "addr", "add", EXT_IP6 + "/64", "dev", "eth0", "nodad");
    Cmd.run("ip", "-n", ext, "link", "set", "eth0", "up");
    countEchoRequests(ext, hostIp6(1), "fd00:10::/48");
    countEchoRequests(bed.container(2, 2), cniPods.get(1)[1], hostIp6(1));
    countEchoRequests(bed.container(FLANNEL, 1), cniPods.get(1)[1], hostIp6(1));
    // the CNI config routes only the pod networks; the way out goes via cni0 like a default gateway
    Cmd.run("ip", "-n", bed.container(1, 2), "-6", "route", "add", "default", "via", subnets.get(1)[1] + "1");
    assertThat(bed.ping(ext, cniPods.get(1)[1])).as("no route back from the outside host").isFalse();
    ipv6MasqueradesOutsideOnly("iptables mode");
    String rules = Cmd.run(Cmd.inNs(bed.host(1), "ip6tables-save", "-t", "nat"));
    assertThat(rules).contains("-j FLANNEL-POSTRTG")
        .contains("-A FLANNEL-POSTRTG -s fd00:10::/48 ! -d ff00::/8 -m comment --comment \"flanneld masq\" -j MASQUERADE");
  }

  @Test
  @Order(8)
  void ipv6IsMasqueradedInNftablesModeToo() {
    Assumptions.assumeTrue(ext != null, "needs the outside host of the previous test");
    bed.etcdctl("put", PREFIX + "config", CONFIG.replace("\"EnableIPv6\":true", "\"EnableIPv6\":true,\"EnableNFTables\":true"));
    assertThat(agents.get(1).stop()).as("graceful stop").isZero();
    AgentProcess a = bed.startAgent(1, AGENT_FLAGS);
    agents.put(1, a);
    assertThat(Testbed.await(Duration.ofSeconds(120), () -> bed.ready(1))).as("ready again; log:\n%s", a.log())
        .isTrue();
    assertThat(Cmd.run(Cmd.inNs(bed.host(1), "ip6tables-save"))).as("no ip6tables chains of ours in nftables mode")
        .doesNotContain("FLANNEL");
    ipv6MasqueradesOutsideOnly("nftables mode");
    String table = Cmd.run(Cmd.inNs(bed.host(1), "nft", "list", "table", "ip6", "flannel-ipv6"));
    assertThat(table).contains("ip6 saddr fd00:10::/48 ip6 daddr != ff00::/8 masquerade");
  }

  @Test
  @Order(9)
  void doctorChecksTheIpv6MasqueradeRules() {
    Assumptions.assumeTrue(ext != null, "needs nftables mode from the previous test");
    assertThat(agents.get(1).stop()).isZero(); // the rules stay; nobody repairs them meanwhile
    Cmd.Result ok = doctor(1);
    assertThat(ok.exit()).as("doctor output:\n%s%s", ok.out(), ok.err()).isZero();

    String handles = Cmd.run(Cmd.inNs(bed.host(1), "nft", "-a", "list", "chain", "ip6", "flannel-ipv6", "postrtg"));
    String handle = handles.lines().filter(l -> l.contains("daddr != ff00::/8")).findFirst().orElseThrow()
        .replaceAll(".*# handle ", "").strip();
    Cmd.run(Cmd.inNs(bed.host(1), "nft", "delete", "rule", "ip6", "flannel-ipv6", "postrtg", "handle", handle));
    Cmd.Result drift = doctor(1);
    System.out.println("---- doctor after an IPv6 masquerade rule was deleted by hand:\n" + drift.out() + drift.err());
    assertThat(drift.exit()).as("doctor output:\n%s%s", drift.out(), drift.err()).isEqualTo(1);
    assertThat(drift.out()).contains("nft table ip6 flannel-ipv6")
        .contains("chain postrtg lacks: ip6 saddr fd00:10::/48 ip6 daddr != ff00::/8 masquerade");

    AgentProcess a = bed.startAgent(1, AGENT_FLAGS);
    agents.put(1, a);
    assertThat(Testbed.await(Duration.ofSeconds(120), () -> bed.ready(1))).as("ready again; log:\n%s", a.log())
        .isTrue();
    Cmd.Result again = doctor(1);
    assertThat(again.exit()).as("after the agent's start:\n%s%s", again.out(), again.err()).isZero();
  }

  /** {@code tartan doctor} inside host h (the shaded jar). */
  static Cmd.Result doctor(int h) {
    List<String> argv = new ArrayList<>(List.of(Cmd.inNs(bed.host(h), "java")));
    argv.addAll(Testbed.AGENT_JVM);
    argv.addAll(List.of("-jar", Testbed.agentJar().toString(), "doctor", "--etcd-endpoints", bed.etcdEndpoints(),
        "--subnet-file", bed.subnetFile(h).toString()));
    return Cmd.exec(argv, null);
  }
}
