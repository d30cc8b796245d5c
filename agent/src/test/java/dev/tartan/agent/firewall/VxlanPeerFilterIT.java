package dev.tartan.agent.firewall;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link VxlanPeerFilter} against the real iptables-restore/-save and ipset inside a network
 * namespace this test creates (never the root namespace's tables): both modes, updates, the jump
 * kept first in INPUT, repair on resync, clean-up when the filter is turned off. The packet-level
 * proof (a forged VXLAN frame dropped, peers passing) is in {@code it.VxlanPeerFilterAgentIT}.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VxlanPeerFilterIT {
  static final Inet4Address A = ip("198.51.100.2");
  static final Inet4Address B = ip("198.51.100.3");
  static final Inet4Address C = ip("203.0.113.9");
  static final String JUMP =
      "-A INPUT -p udp -m udp --dport 8472 -m comment --comment \"tartan vxlan peer filter\" -j TARTAN-VXLAN";
  static final String DROP = "-A TARTAN-VXLAN -m comment --comment \"tartan vxlan peer filter\" -j DROP";

  String ns;
  List<String> prefix;
  Iptables ipt;

  static Inet4Address ip(String s) {
    return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(s));
  }

  static String accept(Inet4Address a) {
    return "-A TARTAN-VXLAN -s " + a.getHostAddress() + "/32 -m comment --comment \"tartan vxlan peer filter\" -j ACCEPT";
  }

  @BeforeEach
  void namespace() throws Exception {
    assumeTrue(IptablesIT.isRoot(), "needs root to create a network namespace");
    assumeTrue(IptablesIT.onPath("ip") && IptablesIT.onPath("iptables-restore") && IptablesIT.onPath("iptables-save"),
        "needs ip and the iptables package (apt-get install iptables iproute2)");
    ns = "tartan-vxf-" + ProcessHandle.current().pid() % 100000 + "x" + ThreadLocalRandom.current().nextInt(1000);
    IptablesIT.sh("ip", "netns", "add", ns);
    prefix = List.of("ip", "netns", "exec", ns);
    ipt = Iptables.locate(prefix);
  }

  @AfterEach
  void cleanup() throws Exception {
    if (ns != null) {
      IptablesIT.sh("ip", "netns", "del", ns); // takes the namespace's tables and sets with it
    }
  }

  List<String> filterRules() throws Exception {
    return Arrays.stream(ipt.save("filter").split("\n")).filter(l -> l.startsWith("-A ")).toList();
  }

  @Test
  void perPeerRulesFollowThePeersWithTheJumpFirst() throws Exception {
    String rootBefore = IptablesIT.rootRules();
    // an operator's blanket ACCEPT for the VXLAN port must not bypass the filter
    IptablesIT.sh("ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-p", "udp", "--dport", "8472", "-j", "ACCEPT");
    VxlanPeerFilter f = VxlanPeerFilter.create(ipt, Optional.empty(), 8472);
    assertThat(f.mode()).isEqualTo("one rule per peer");

    assertThat(f.update(List.of(B, A))).isTrue();
    assertThat(filterRules()).containsExactly(JUMP, "-A INPUT -p udp -m udp --dport 8472 -j ACCEPT", accept(A),
        accept(B), DROP);
    assertThat(f.update(List.of(A, B))).as("same peers: nothing to do").isFalse();

    assertThat(f.update(List.of(A, C))).isTrue();
    assertThat(filterRules()).containsExactly(JUMP, "-A INPUT -p udp -m udp --dport 8472 -j ACCEPT", accept(A),
        accept(C), DROP);
    assertThat(f.resync(List.of(A, C))).as("all in place").isFalse();

    // someone deletes a rule, and someone inserts before our jump: the resync repairs both
    IptablesIT.sh("ip", "netns", "exec", ns, "iptables", "-D", "TARTAN-VXLAN", "-s", "203.0.113.9/32", "-m", "comment",
        "--comment", "tartan vxlan peer filter", "-j", "ACCEPT");
    IptablesIT.sh("ip", "netns", "exec", ns, "iptables", "-I", "INPUT", "1", "-j", "ACCEPT");
    assertThat(f.resync(List.of(A, C))).isTrue();
    assertThat(filterRules()).containsExactly(JUMP, "-A INPUT -j ACCEPT",
        "-A INPUT -p udp -m udp --dport 8472 -j ACCEPT", accept(A), accept(C), DROP);

    assertThat(f.update(List.of())).isTrue();
    assertThat(filterRules()).contains(JUMP, DROP).noneMatch(l -> l.contains("-s 198.51.100.") || l.contains("-s 203."));
    assertThat(IptablesIT.rootRules()).as("the root namespace is untouched").isEqualTo(rootBefore);
  }

  @Test
  void ipsetModeKeepsOneRuleAndSwapsTheSet() throws Exception {
    Optional<Ipset> ipset = Ipset.locate(prefix);
    assumeTrue(ipset.isPresent(), "needs ipset (apt-get install ipset)");
    VxlanPeerFilter f = VxlanPeerFilter.create(ipt, ipset, 8472);
    assertThat(f.mode()).isEqualTo("ipset tartan-vxlan");
    f.update(List.of(A, B));
    String setRule = "-A TARTAN-VXLAN -m set --match-set tartan-vxlan src -m comment --comment "
        + "\"tartan vxlan peer filter\" -j ACCEPT";
    assertThat(filterRules()).containsExactly(JUMP, setRule, DROP);
    assertThat(ipset.get().members("tartan-vxlan")).contains(java.util.Set.of("198.51.100.2", "198.51.100.3"));

    f.update(List.of(C));
    assertThat(ipset.get().members("tartan-vxlan")).contains(java.util.Set.of("203.0.113.9"));
    assertThat(ipset.get().members("tartan-vxlan-new")).as("the scratch set is gone").isEmpty();
    assertThat(filterRules()).containsExactly(JUMP, setRule, DROP);

    IptablesIT.sh("ip", "netns", "exec", ns, "ipset", "add", "tartan-vxlan", "192.0.2.66");
    assertThat(f.resync(List.of(C))).as("a foreign member is removed").isTrue();
    assertThat(ipset.get().members("tartan-vxlan")).contains(java.util.Set.of("203.0.113.9"));

    // ipset uninstalled later: the per-peer rules replace the set rule in one run
    VxlanPeerFilter chainOnly = VxlanPeerFilter.create(ipt, Optional.empty(), 8472);
    chainOnly.update(List.of(C));
    assertThat(filterRules()).containsExactly(JUMP, accept(C), DROP);
  }

  @Test
  void turnedOffItRemovesWhatAnEarlierRunLeft() throws Exception {
    Optional<Ipset> ipset = Ipset.locate(prefix);
    VxlanPeerFilter.create(ipt, ipset, 4789).update(List.of(A));
    IptablesIT.sh("ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-j", "ACCEPT");
    assertThat(VxlanPeerFilter.removeLeftovers(ipt, ipset)).isTrue();
    assertThat(filterRules()).containsExactly("-A INPUT -j ACCEPT");
    if (ipset.isPresent()) {
      assertThat(ipset.get().members("tartan-vxlan")).isEmpty();
    }
    assertThat(VxlanPeerFilter.removeLeftovers(ipt, ipset)).as("nothing left the second time").isFalse();
  }
}
