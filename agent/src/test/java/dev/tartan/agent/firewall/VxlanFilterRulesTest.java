package dev.tartan.agent.firewall;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.SubnetLease;
import java.net.Inet4Address;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VxlanFilterRulesTest {
  static Inet4Address ip(String s) {
    return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(s));
  }

  static final String FILTER_WITH_ACCEPT = """
      *filter
      :INPUT ACCEPT [0:0]
      :FORWARD ACCEPT [0:0]
      :OUTPUT ACCEPT [0:0]
      -A INPUT -p udp -m udp --dport 8472 -j ACCEPT
      COMMIT
      """;

  @Test
  void perPeerRulesAreSortedThenDrop() {
    RuleSet s = VxlanFilterRules.perPeer(8472, List.of(ip("198.51.100.20"), ip("198.51.100.3"), ip("203.0.113.1")));
    assertThat(s.table()).isEqualTo("filter");
    assertThat(s.jumpFirst()).isTrue();
    assertThat(s.all()).extracting(Rule::text).containsExactly(
        "-A INPUT -p udp -m udp --dport 8472 -m comment --comment \"tartan vxlan peer filter\" -j TARTAN-VXLAN",
        "-A TARTAN-VXLAN -s 198.51.100.3/32 -m comment --comment \"tartan vxlan peer filter\" -j ACCEPT",
        "-A TARTAN-VXLAN -s 198.51.100.20/32 -m comment --comment \"tartan vxlan peer filter\" -j ACCEPT",
        "-A TARTAN-VXLAN -s 203.0.113.1/32 -m comment --comment \"tartan vxlan peer filter\" -j ACCEPT",
        "-A TARTAN-VXLAN -m comment --comment \"tartan vxlan peer filter\" -j DROP");
  }

  @Test
  void noPeersMeansDropEverything() {
    assertThat(VxlanFilterRules.perPeer(4789, List.of()).all()).extracting(Rule::text).containsExactly(
        "-A INPUT -p udp -m udp --dport 4789 -m comment --comment \"tartan vxlan peer filter\" -j TARTAN-VXLAN",
        "-A TARTAN-VXLAN -m comment --comment \"tartan vxlan peer filter\" -j DROP");
  }

  @Test
  void ipsetModeIsOneRuleForTheSet() {
    assertThat(VxlanFilterRules.withIpset(8472).rules()).extracting(Rule::text).containsExactly(
        "-A TARTAN-VXLAN -m set --match-set tartan-vxlan src -m comment --comment \"tartan vxlan peer filter\" -j ACCEPT",
        "-A TARTAN-VXLAN -m comment --comment \"tartan vxlan peer filter\" -j DROP");
  }

  @Test
  void portIsChecked() {
    assertThatThrownBy(() -> VxlanFilterRules.jump(0)).hasMessageContaining("1..65535");
    assertThatThrownBy(() -> VxlanFilterRules.jump(65536)).hasMessageContaining("1..65535");
  }

  @Test
  void theJumpIsInsertedBeforeAnEarlierAccept() {
    RuleSet s = VxlanFilterRules.perPeer(8472, List.of(ip("198.51.100.2")));
    Map<String, SavedTable> now = Map.of("filter", SavedTable.parse(FILTER_WITH_ACCEPT));
    assertThat(RestorePayload.inPlace(List.of(s), List.of(), now)).isFalse();
    assertThat(RestorePayload.build(List.of(s), List.of(), now)).isEqualTo("""
        *filter
        :TARTAN-VXLAN - [0:0]
        -I INPUT 1 -p udp -m udp --dport 8472 -m comment --comment "tartan vxlan peer filter" -j TARTAN-VXLAN
        -A TARTAN-VXLAN -s 198.51.100.2/32 -m comment --comment "tartan vxlan peer filter" -j ACCEPT
        -A TARTAN-VXLAN -m comment --comment "tartan vxlan peer filter" -j DROP
        COMMIT
        """);
  }

  @Test
  void aJumpNoLongerFirstIsMovedBackAndOneInPlaceIsLeftAlone() {
    RuleSet s = VxlanFilterRules.perPeer(8472, List.of(ip("198.51.100.2")));
    String first = "*filter\n:INPUT ACCEPT [0:0]\n:TARTAN-VXLAN - [0:0]\n" + s.jump().text() + "\n"
        + "-A INPUT -j ACCEPT\n" + s.rules().get(0).text() + "\n" + s.rules().get(1).text() + "\nCOMMIT\n";
    assertThat(RestorePayload.inPlace(List.of(s), List.of(), Map.of("filter", SavedTable.parse(first)))).isTrue();

    String pushedDown = "*filter\n:INPUT ACCEPT [0:0]\n:TARTAN-VXLAN - [0:0]\n-A INPUT -j ACCEPT\n" + s.jump().text()
        + "\n" + s.jump().text() + "\n" + s.rules().get(0).text() + "\n" + s.rules().get(1).text() + "\nCOMMIT\n";
    Map<String, SavedTable> now = Map.of("filter", SavedTable.parse(pushedDown));
    assertThat(RestorePayload.inPlace(List.of(s), List.of(), now)).isFalse();
    String payload = RestorePayload.build(List.of(s), List.of(), now);
    assertThat(payload.lines().filter(l -> l.startsWith("-D INPUT"))).hasSize(2);
    assertThat(payload.lines().filter(l -> l.startsWith("-I INPUT 1 "))).hasSize(1);
    assertThat(payload.indexOf("-D INPUT")).isLessThan(payload.indexOf("-I INPUT 1"));
  }

  @Test
  void appendedJumpsKeepTheirOldBehaviour() {
    RuleSet fwd = MasqRules.forward(Ipv4Subnet.parse("10.5.0.0/16"));
    assertThat(fwd.jumpFirst()).isFalse();
    String payload = RestorePayload.build(List.of(fwd), List.of(),
        Map.of("filter", SavedTable.parse("*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -j ACCEPT\nCOMMIT\n")));
    assertThat(payload).contains("-A FORWARD -m comment --comment \"flanneld forward\" -j FLANNEL-FWD")
        .doesNotContain("-I FORWARD");
  }

  @Test
  void savedLinesParseBackIntoTheSameRule() {
    for (Rule r : VxlanFilterRules.perPeer(8472, List.of(ip("198.51.100.2"))).all()) {
      assertThat(VxlanPeerFilter.parseSaved(r.text())).isEqualTo(r);
    }
    assertThat(VxlanPeerFilter.parseSaved(":INPUT ACCEPT [0:0]")).isNull();
  }

  @Test
  void peersAreTheVxlanLeasesWithAPublicIp() {
    List<SubnetLease> remotes = List.of(
        lease("10.5.1.0/24", "198.51.100.2", "vxlan"),
        lease("10.5.2.0/24", "198.51.100.3", "vxlan"),
        lease("10.5.3.0/24", "198.51.100.4", "host-gw"),
        lease("10.5.4.0/24", "0.0.0.0", "vxlan"),
        lease("10.5.5.0/24", "198.51.100.2", "vxlan"));
    assertThat(VxlanPeerFilter.peerAddresses(remotes)).containsExactly(ip("198.51.100.2"), ip("198.51.100.3"));
  }

  static SubnetLease lease(String subnet, String publicIp, String type) {
    return new SubnetLease(Ipv4Subnet.parse(subnet), null,
        LeaseAttrs.ipv4(ip(publicIp), type, "{\"VNI\":1,\"VtepMAC\":\"02:00:00:00:00:01\"}"), null, 0, 1);
  }
}
