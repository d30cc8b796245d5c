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
import java.util.HashMap;
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
 * Issue 15 part 3, end to end: agents whose network config says {@code "EnableNFTables": true},
 * on real etcd and namespaces. A pod reaching an underlay host that has no route back to the pod
 * network arrives with its host's address; {@code nft list table ip flannel-ipv4} is exactly
 * flannel's (docs/flannel-compat.md §3.4); a rule deleted by hand is restored by the resync; the VXLAN peer filter
 * (table ip tartan-vxlan) drops a forged VXLAN frame from a non-peer while peers pass; restarting a
 * host with the config switched to iptables mode and back leaves no rules of the other mode.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(300)
class NftablesModeIT {
  static final String EXT_IP = "198.51.100.100";
  static final String ROGUE_IP = "198.51.100.200";
  static final String[] AGENT_FLAGS = {"--ip-masq", "--vxlan-peer-filter", "--iptables-resync", "1s"};
  static final ObjectMapper JSON = new ObjectMapper();
  static Testbed bed;
  static String ext;
  static String rogue;
  static final Map<Integer, AgentProcess> agents = new HashMap<>();
  static final Map<String, String> ips = new HashMap<>();

  @BeforeAll
  static void up() {
    String reason = Testbed.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    Assumptions.assumeTrue(Files.isExecutable(Testbed.cniPlugin()), "cni/target/tartan-cni not built");
    Assumptions.assumeTrue(Cmd.onPath("nft") && Cmd.onPath("iptables-save") && Cmd.onPath("bash"),
        "needs nft, iptables and bash (apt-get install nftables iptables)");
    bed = Testbed.create(2);
    bed.tartan("network", "init", "--network", "10.244.0.0/16", "--enable-nftables");
    for (int h = 1; h <= 2; h++) {
      agents.put(h, bed.startAgent(h, AGENT_FLAGS));
    }
    for (int h = 1; h <= 2; h++) {
      awaitReady(h, agents.get(h));
    }
    ips.put("1.1", bed.addContainer(1, 1));
    ips.put("2.1", bed.addContainer(2, 1));
    // the testbed's CNI config routes only the pod network; the way out goes via cni0 like a default gateway
    Cmd.run("ip", "-n", bed.container(1, 1), "route", "add", "default", "via", gateway(1));
    ext = underlayHost("ext", "vext", EXT_IP);
    // counts, in the outside host, echo requests by source: the host's address or a pod address
    Cmd.runWithInput("""
        add table ip obs
        add chain ip obs in { type filter hook input priority 0 ; }
        add rule ip obs in ip saddr 198.51.100.1 icmp type echo-request counter
        add rule ip obs in ip saddr 10.244.0.0/16 counter
        """, Cmd.inNs(ext, "nft", "-f", "-"));
  }

  @AfterAll
  static void down() {
    for (String ns : new String[] {ext, rogue}) {
      if (ns != null) {
        Cmd.quiet("ip", "netns", "del", ns);
      }
    }
    if (bed != null) {
      bed.close();
    }
  }

  // ---- helpers

  /** A namespace on the underlay bridge with one address and no routes beyond its /24. */
  static String underlayHost(String name, String veth, String ip) {
    String ns = bed.ns(name);
    Cmd.run("ip", "netns", "add", ns);
    Cmd.run("ip", "-n", ns, "link", "set", "lo", "up");
    Cmd.run("ip", "-n", bed.ns("ctl"), "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
    Cmd.run("ip", "-n", bed.ns("ctl"), "link", "set", veth, "master", "br0", "up");
    Cmd.run("ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0");
    Cmd.run("ip", "-n", ns, "link", "set", "eth0", "up");
    return ns;
  }

  static void awaitReady(int h, AgentProcess a) {
    if (!Testbed.await(Duration.ofSeconds(90), () -> bed.ready(h))) {
      fail("agent on host " + h + " not ready after 90 s; log:\n" + (a == null ? "" : a.log()));
    }
  }

  static AgentProcess restart(int h) {
    assertThat(agents.get(h).stop()).as("graceful stop").isZero();
    AgentProcess a = bed.startAgent(h, AGENT_FLAGS);
    agents.put(h, a);
    awaitReady(h, a);
    return a;
  }

  /** Host h's lease, from its subnet file (FLANNEL_SUBNET=10.244.X.1/24 -> 10.244.X.0/24). */
  static String subnet(int h) throws Exception {
    for (String line : Files.readAllLines(bed.subnetFile(h))) {
      if (line.startsWith("FLANNEL_SUBNET=")) {
        String gw = line.substring("FLANNEL_SUBNET=".length());
        return gw.substring(0, gw.lastIndexOf('.')) + ".0/24";
      }
    }
    throw new AssertionError("no FLANNEL_SUBNET in " + bed.subnetFile(h));
  }

  /** Host h's cni0 address, the pods' gateway (FLANNEL_SUBNET=10.244.X.1/24 -> 10.244.X.1). */
  static String gateway(int h) {
    try {
      return subnet(h).replaceFirst("\\.0/24$", ".1");
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** What flannel (docs/flannel-compat.md §3.4, pkg/trafficmngr/nftables) leaves for network C and lease P. */
  static String flannelTable(String c, String p) {
    return "table ip flannel-ipv4 {\n"
        + "comment \"rules for flannel-ipv4\"\n"
        + "chain postrtg {\n"
        + "comment \"chain to manage traffic masquerading by flannel\"\n"
        + "type nat hook postrouting priority srcnat; policy accept;\n"
        + "meta mark 0x00004000 return\n"
        + "ip saddr " + p + " ip daddr " + c + " return\n"
        + "ip saddr " + c + " ip daddr " + p + " return\n"
        + "ip saddr != " + p + " ip daddr " + c + " return\n"
        + "ip saddr " + c + " ip daddr != 224.0.0.0/4 masquerade fully-random\n"
        + "ip saddr != " + c + " ip daddr " + c + " masquerade fully-random\n"
        + "}\n"
        + "chain forward {\n"
        + "comment \"chain to accept flannel traffic\"\n"
        + "type filter hook forward priority filter; policy accept;\n"
        + "ip saddr " + c + " accept\n"
        + "ip daddr " + c + " accept\n"
        + "}\n"
        + "}\n";
  }

  /** {@code nft list table} in host h, without indentation and blank lines; "" when missing. */
  static String nftTable(int h, String family, String name) {
    Cmd.Result r = Cmd.exec(List.of(Cmd.inNs(bed.host(h), "nft", "list", "table", family, name)), null);
    if (!r.ok()) {
      return "";
    }
    StringBuilder b = new StringBuilder();
    r.out().lines().filter(l -> !l.isBlank()).forEach(l -> b.append(l.strip()).append('\n'));
    return b.toString();
  }

  static List<String> nftTables(int h) {
    return Cmd.run(Cmd.inNs(bed.host(h), "nft", "list", "tables")).lines().map(String::strip).toList();
  }

  /** Host h's iptables rules and chain declarations of ours (FLANNEL-*, TARTAN-*), any table. */
  static List<String> ourIptables(int h) {
    List<String> out = new ArrayList<>();
    for (String l : Cmd.run(Cmd.inNs(bed.host(h), "iptables-save")).lines().toList()) {
      if (!l.startsWith("#") && (l.contains("FLANNEL") || l.contains("TARTAN") || l.contains("flanneld"))) {
        out.add(l);
      }
    }
    return out;
  }

  /** The packet counters of the outside host's observation rules: [from the host, from pods]. */
  static long[] extCounters() throws Exception {
    JsonNode root = JSON.readTree(Cmd.run(Cmd.inNs(ext, "nft", "-j", "list", "table", "ip", "obs")));
    List<Long> counts = new ArrayList<>();
    for (JsonNode item : root.path("nftables")) {
      for (JsonNode e : item.path("rule").path("expr")) {
        if (e.has("counter")) {
          counts.add(e.get("counter").path("packets").asLong());
        }
      }
    }
    return new long[] {counts.get(0), counts.get(1)};
  }

  /** Packet counters of host h's peer filter rules: "accept" and "drop". */
  static Map<String, Long> filterCounters(int h) throws Exception {
    JsonNode root = JSON.readTree(Cmd.run(Cmd.inNs(bed.host(h), "nft", "-j", "list", "table", "ip", "tartan-vxlan")));
    Map<String, Long> m = new HashMap<>(Map.of("accept", 0L, "drop", 0L));
    for (JsonNode item : root.path("nftables")) {
      long packets = -1;
      for (JsonNode e : item.path("rule").path("expr")) {
        if (e.has("counter")) {
          packets = e.get("counter").path("packets").asLong();
        } else if (packets >= 0 && (e.has("accept") || e.has("drop"))) {
          m.put(e.has("accept") ? "accept" : "drop", packets);
        }
      }
    }
    return m;
  }

  static void sendForged(String ns, int h, int count) {
    String script = "for i in $(seq " + count + "); do printf '" + SecurityIT.forgedVxlanFrame() + "' > /dev/udp/"
        + Testbed.hostIp(h) + "/8472; done";
    Cmd.run(Cmd.inNs(ns, "bash", "-c", script));
  }

  /** A pod on host 1 pings the outside host; asserts it arrived from host 1's address, never a pod's. */
  static void podReachesTheOutsideMasqueraded() throws Exception {
    long[] before = extCounters();
    assertThat(Testbed.await(Duration.ofSeconds(20), () -> bed.ping(bed.container(1, 1), EXT_IP)))
        .as("a pod reaches %s, which has no route back to 10.244.0.0/16", EXT_IP).isTrue();
    long[] after = extCounters();
    assertThat(after[0]).as("echo requests from the host's address 198.51.100.1").isGreaterThan(before[0]);
    assertThat(after[1]).as("echo requests from a pod address").isEqualTo(before[1]);
  }

  // ---- tests

  @Test
  @Order(1)
  void masqueradeWorksAndTheRulesAreFlannels() throws Exception {
    assertThat(bed.ping(bed.container(1, 1), ips.get("2.1"))).as("pod to pod across hosts").isTrue();
    assertThat(bed.ping(ext, ips.get("1.1"))).as("no route back from the outside host").isFalse();
    podReachesTheOutsideMasqueraded();
    for (int h = 1; h <= 2; h++) {
      assertThat(nftTable(h, "ip", "flannel-ipv4")).as("host %d", h).isEqualTo(flannelTable("10.244.0.0/16", subnet(h)));
      assertThat(nftTable(h, "ip6", "flannel-ipv6")).isEqualTo("table ip6 flannel-ipv6 {\ncomment \"rules for flannel-ipv6\"\n}\n");
      assertThat(ourIptables(h)).as("no iptables rules of ours in nftables mode").isEmpty();
    }
  }

  @Test
  @Order(2)
  void aRuleDeletedByHandIsRestoredByTheResync() throws Exception {
    String expected = flannelTable("10.244.0.0/16", subnet(1));
    String handles = Cmd.run(Cmd.inNs(bed.host(1), "nft", "-a", "list", "chain", "ip", "flannel-ipv4", "postrtg"));
    String handle = handles.lines().filter(l -> l.contains("masquerade")).findFirst().orElseThrow()
        .replaceAll(".*# handle ", "").strip();
    Cmd.run(Cmd.inNs(bed.host(1), "nft", "delete", "rule", "ip", "flannel-ipv4", "postrtg", "handle", handle));
    assertThat(nftTable(1, "ip", "flannel-ipv4")).isNotEqualTo(expected);
    assertThat(Testbed.await(Duration.ofSeconds(30), () -> nftTable(1, "ip", "flannel-ipv4").equals(expected)))
        .as("restored; now:\n%s", nftTable(1, "ip", "flannel-ipv4")).isTrue();
    Cmd.run(Cmd.inNs(bed.host(1), "nft", "delete", "table", "ip", "flannel-ipv4"));
    assertThat(Testbed.await(Duration.ofSeconds(30), () -> nftTable(1, "ip", "flannel-ipv4").equals(expected)))
        .as("the whole table re-created").isTrue();
    assertThat(agents.get(1).log()).contains("nftables rules were changed by someone else");
    podReachesTheOutsideMasqueraded();
  }

  @Test
  @Order(3)
  void aForgedVxlanFrameFromANonPeerIsDroppedWhilePeersPass() throws Exception {
    rogue = underlayHost("rogue", "vrogue", ROGUE_IP);
    assertThat(bed.ping(rogue, Testbed.hostIp(1))).as("the rogue host is on the underlay").isTrue();
    String table = nftTable(1, "ip", "tartan-vxlan");
    assertThat(table).contains("elements = { " + Testbed.hostIp(2) + " }")
        .contains("udp dport 8472 ip saddr @peers counter").contains("udp dport 8472 counter");

    Map<String, Long> before = filterCounters(1);
    sendForged(rogue, 1, 5);
    assertThat(Testbed.await(Duration.ofSeconds(5), () -> {
      try {
        return filterCounters(1).get("drop") >= before.get("drop") + 5;
      } catch (Exception e) {
        return false;
      }
    })).as("5 forged packets dropped; counters %s -> %s", before, filterCounters(1)).isTrue();

    Map<String, Long> mid = filterCounters(1);
    sendForged(bed.host(2), 1, 3);
    assertThat(bed.ping(bed.container(2, 1), ips.get("1.1"))).isTrue();
    assertThat(bed.ping(bed.container(1, 1), ips.get("2.1"))).isTrue();
    Map<String, Long> after = filterCounters(1);
    assertThat(after.get("accept")).as("from the peer: accepted").isGreaterThanOrEqualTo(mid.get("accept") + 4);
    assertThat(after.get("drop")).as("nothing from the peer dropped").isEqualTo(mid.get("drop"));
  }

  @Test
  @Order(4)
  void switchingAHostToIptablesModeAndBackLeavesNothingOfTheOtherMode() throws Exception {
    bed.tartan("network", "init", "--network", "10.244.0.0/16", "--force");
    restart(1);
    assertThat(nftTables(1)).as("nft tables of host 1 in iptables mode")
        .doesNotContain("table ip flannel-ipv4", "table ip6 flannel-ipv6", "table ip tartan-vxlan");
    assertThat(String.join("\n", ourIptables(1))).contains("-j FLANNEL-POSTRTG").contains("-j FLANNEL-FWD")
        .contains("-j TARTAN-VXLAN");
    podReachesTheOutsideMasqueraded();
    assertThat(bed.ping(bed.container(1, 1), ips.get("2.1"))).isTrue();

    bed.tartan("network", "init", "--network", "10.244.0.0/16", "--enable-nftables", "--force");
    restart(1);
    assertThat(ourIptables(1)).as("no iptables rules of ours after switching back").isEmpty();
    if (Cmd.onPath("ipset")) {
      assertThat(Cmd.quiet(Cmd.inNs(bed.host(1), "ipset", "list", "-n")).out()).doesNotContain("tartan-vxlan");
    }
    assertThat(nftTable(1, "ip", "flannel-ipv4")).isEqualTo(flannelTable("10.244.0.0/16", subnet(1)));
    assertThat(nftTable(1, "ip", "tartan-vxlan")).contains("elements = { " + Testbed.hostIp(2) + " }");
    podReachesTheOutsideMasqueraded();
    assertThat(bed.ping(bed.container(1, 1), ips.get("2.1"))).isTrue();
  }

  /** {@code tartan doctor} inside host h (the shaded jar). */
  static Cmd.Result doctor(int h) {
    List<String> argv = new ArrayList<>(List.of(Cmd.inNs(bed.host(h), "java")));
    argv.addAll(Testbed.AGENT_JVM);
    argv.addAll(List.of("-jar", Testbed.agentJar().toString(), "doctor", "--etcd-endpoints", bed.etcdEndpoints(),
        "--subnet-file", bed.subnetFile(h).toString()));
    return Cmd.exec(argv, null);
  }

  @Test
  @Order(5)
  void doctorChecksTheNftablesRules() {
    assertThat(agents.get(1).stop()).isZero(); // the rules stay; nobody repairs them meanwhile
    Cmd.Result ok = doctor(1);
    assertThat(ok.exit()).as("doctor output:\n%s%s", ok.out(), ok.err()).isZero();

    String handles = Cmd.run(Cmd.inNs(bed.host(1), "nft", "-a", "list", "chain", "ip", "flannel-ipv4", "postrtg"));
    String handle = handles.lines().filter(l -> l.contains("daddr != 224.0.0.0/4")).findFirst().orElseThrow()
        .replaceAll(".*# handle ", "").strip();
    Cmd.run(Cmd.inNs(bed.host(1), "nft", "delete", "rule", "ip", "flannel-ipv4", "postrtg", "handle", handle));
    Cmd.Result drift = doctor(1);
    System.out.println("---- doctor after a rule was deleted by hand:\n" + drift.out() + drift.err()); // for the report
    assertThat(drift.exit()).as("doctor output:\n%s%s", drift.out(), drift.err()).isEqualTo(1);
    assertThat(drift.out()).contains("nft table ip flannel-ipv4")
        .contains("chain postrtg lacks: ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random");

    AgentProcess a = bed.startAgent(1, AGENT_FLAGS);
    agents.put(1, a);
    awaitReady(1, a);
    Cmd.Result again = doctor(1);
    assertThat(again.exit()).as("after the agent's start:\n%s%s", again.out(), again.err()).isZero();
  }

  @Test
  @Order(6)
  void aWireguardNetworkIsRefusedWithOneLine() {
    bed.etcdctl("put", "/wg/config", "{\"Network\":\"10.250.0.0/16\",\"Backend\":{\"Type\":\"wireguard\"}}");
    List<String> argv = new ArrayList<>(List.of(Cmd.inNs(bed.host(2), "timeout", "60", "java")));
    argv.addAll(Testbed.AGENT_JVM);
    argv.addAll(List.of("-jar", Testbed.agentJar().toString(), "agent", "--etcd-endpoints", bed.etcdEndpoints(),
        "--etcd-prefix", "/wg", "--subnet-file", bed.hostDir(2).resolve("wg-subnet.env").toString()));
    Cmd.Result r = Cmd.exec(argv, null);
    String all = r.out() + r.err();
    System.out.println("---- expected failure, exit " + r.exit() + ":\n" + all); // for the report
    assertThat(r.exit()).as("exit code (124 = still running after 60 s); output:\n%s", all).isNotIn(0, 124);
    assertThat(all.lines().filter(l -> l.contains("Tartan has no WireGuard backend")).toList()).hasSize(1)
        .allMatch(l -> l.contains("supported: vxlan"));
    assertThat(all).as("no stack trace").doesNotContain("\tat ").doesNotContain("Caused by:");
    assertThat(Files.exists(bed.hostDir(2).resolve("wg-subnet.env"))).isFalse();
  }
}
