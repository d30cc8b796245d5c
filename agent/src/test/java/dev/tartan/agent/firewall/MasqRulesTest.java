package dev.tartan.agent.firewall;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import java.util.List;
import org.junit.jupiter.api.Test;

class MasqRulesTest {
  static final Ipv4Subnet C = Ipv4Subnet.parse("10.5.0.0/16");
  static final Ipv4Subnet P = Ipv4Subnet.parse("10.5.72.0/24");
  static final Ipv6Subnet C6 = Ipv6Subnet.parse("fd00:5::/48");
  static final Ipv6Subnet P6 = Ipv6Subnet.parse("fd00:5:0:48::/64");

  @Test
  void masqueradeRulesAreFlannelsInIptablesSaveNotation() {
    RuleSet set = MasqRules.masquerade(C, P, true);
    assertThat(set.table()).isEqualTo("nat");
    assertThat(set.chain()).isEqualTo("FLANNEL-POSTRTG");
    assertThat(set.all().stream().map(Rule::text)).containsExactly(
        "-A POSTROUTING -m comment --comment \"flanneld masq\" -j FLANNEL-POSTRTG",
        "-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment \"flanneld masq\" -j RETURN",
        "-A FLANNEL-POSTRTG -s 10.5.72.0/24 -d 10.5.0.0/16 -m comment --comment \"flanneld masq\" -j RETURN",
        "-A FLANNEL-POSTRTG -s 10.5.0.0/16 -d 10.5.72.0/24 -m comment --comment \"flanneld masq\" -j RETURN",
        "-A FLANNEL-POSTRTG ! -s 10.5.0.0/16 -d 10.5.72.0/24 -m comment --comment \"flanneld masq\" -j RETURN",
        "-A FLANNEL-POSTRTG -s 10.5.0.0/16 ! -d 224.0.0.0/4 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully",
        "-A FLANNEL-POSTRTG ! -s 10.5.0.0/16 -d 10.5.0.0/16 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully");
  }

  @Test
  void ip6tablesRulesAreFlannelsForTheIpv6NetworkAndSubnet() {
    RuleSet masq = MasqRules.masquerade(C6, P6, true);
    assertThat(masq.table()).isEqualTo("nat");
    assertThat(masq.all().stream().map(Rule::text)).containsExactly(
        "-A POSTROUTING -m comment --comment \"flanneld masq\" -j FLANNEL-POSTRTG",
        "-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment \"flanneld masq\" -j RETURN",
        "-A FLANNEL-POSTRTG -s fd00:5:0:48::/64 -d fd00:5::/48 -m comment --comment \"flanneld masq\" -j RETURN",
        "-A FLANNEL-POSTRTG -s fd00:5::/48 -d fd00:5:0:48::/64 -m comment --comment \"flanneld masq\" -j RETURN",
        "-A FLANNEL-POSTRTG ! -s fd00:5::/48 -d fd00:5:0:48::/64 -m comment --comment \"flanneld masq\" -j RETURN",
        "-A FLANNEL-POSTRTG -s fd00:5::/48 ! -d ff00::/8 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully",
        "-A FLANNEL-POSTRTG ! -s fd00:5::/48 -d fd00:5::/48 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully");
    assertThat(MasqRules.forward(C6).all().stream().map(Rule::text)).containsExactly(
        "-A FORWARD -m comment --comment \"flanneld forward\" -j FLANNEL-FWD",
        "-A FLANNEL-FWD -s fd00:5::/48 -m comment --comment \"flanneld forward\" -j ACCEPT",
        "-A FLANNEL-FWD -d fd00:5::/48 -m comment --comment \"flanneld forward\" -j ACCEPT");
  }

  @Test
  void withoutRandomFullyTheMasqueradeTargetsAreBare() {
    List<String> rules = MasqRules.masquerade(C, P, false).rules().stream().map(Rule::text).toList();
    assertThat(rules).noneMatch(r -> r.contains("random-fully"));
    assertThat(rules.get(4)).isEqualTo(
        "-A FLANNEL-POSTRTG -s 10.5.0.0/16 ! -d 224.0.0.0/4 -m comment --comment \"flanneld masq\" -j MASQUERADE");
  }

  @Test
  void forwardRulesAcceptTheWholeNetwork() {
    RuleSet set = MasqRules.forward(C);
    assertThat(set.table()).isEqualTo("filter");
    assertThat(set.all().stream().map(Rule::text)).containsExactly(
        "-A FORWARD -m comment --comment \"flanneld forward\" -j FLANNEL-FWD",
        "-A FLANNEL-FWD -s 10.5.0.0/16 -m comment --comment \"flanneld forward\" -j ACCEPT",
        "-A FLANNEL-FWD -d 10.5.0.0/16 -m comment --comment \"flanneld forward\" -j ACCEPT");
  }

  @Test
  void ruleSetsKeepTheirRulesInTheirChain() {
    Rule jump = Rule.of("FORWARD", "-j", "X");
    assertThatThrownBy(() -> new RuleSet("filter", "X", jump, List.of(Rule.of("Y", "-j", "ACCEPT"))))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theIpv6NetworkAndSubnetComeTogether() throws Exception {
    TrafficRules none = TrafficRules.create(false, false, false, false);
    assertThatThrownBy(() -> none.install(C, P, C6, null, java.util.Optional.empty(), java.util.Optional.empty()))
        .isInstanceOf(IllegalArgumentException.class);
    none.install(C, P, C6, P6, java.util.Optional.empty(), java.util.Optional.empty()); // no rules wanted: nothing
    assertThat(none.installedV6()).isEmpty();
  }

  @Test
  void withoutMasqueradeAndForwardRulesThereIsNothingToResync() throws Exception {
    TrafficRules none = TrafficRules.create(false, false, false, false);
    assertThat(none.enabled()).isFalse();
    assertThat(none.mode()).isEqualTo("iptables");
    assertThat(none.resync()).isFalse();
  }
}
