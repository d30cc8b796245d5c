package dev.tartan.agent.firewall;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import java.net.Inet4Address;
import java.util.List;
import org.junit.jupiter.api.Test;

/** flannel's nftables tables (docs/flannel-compat.md §3.4) and the nft peer filter, as golden {@code nft -f} text. */
class NftRulesTest {
  static final Ipv4Subnet C = Ipv4Subnet.parse("10.5.0.0/16");
  static final Ipv4Subnet P = Ipv4Subnet.parse("10.5.72.0/24");

  static Inet4Address ip(String s) {
    return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(s));
  }

  @Test
  void flannelsIpv4TableIsRecreatedInOneScript() {
    NftTable t = NftRules.ipv4(C, P, true, true, true);
    assertThat(t.script()).isEqualTo("""
        add table ip flannel-ipv4
        delete table ip flannel-ipv4
        add table ip flannel-ipv4 { comment "rules for flannel-ipv4" ; }
        add chain ip flannel-ipv4 postrtg { type nat hook postrouting priority srcnat ; policy accept ; \
        comment "chain to manage traffic masquerading by flannel" ; }
        add rule ip flannel-ipv4 postrtg meta mark 0x00004000 return
        add rule ip flannel-ipv4 postrtg ip saddr 10.5.72.0/24 ip daddr 10.5.0.0/16 return
        add rule ip flannel-ipv4 postrtg ip saddr 10.5.0.0/16 ip daddr 10.5.72.0/24 return
        add rule ip flannel-ipv4 postrtg ip saddr != 10.5.72.0/24 ip daddr 10.5.0.0/16 return
        add rule ip flannel-ipv4 postrtg ip saddr 10.5.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random
        add rule ip flannel-ipv4 postrtg ip saddr != 10.5.0.0/16 ip daddr 10.5.0.0/16 masquerade fully-random
        add chain ip flannel-ipv4 forward { type filter hook forward priority filter ; policy accept ; \
        comment "chain to accept flannel traffic" ; }
        add rule ip flannel-ipv4 forward ip saddr 10.5.0.0/16 accept
        add rule ip flannel-ipv4 forward ip daddr 10.5.0.0/16 accept
        """);
  }

  @Test
  void flannelsIpv6TableHoldsTheSameRulesForTheIpv6NetworkWithDualStack() {
    NftTable t = NftRules.ipv6(Ipv6Subnet.parse("fd00:5::/48"), Ipv6Subnet.parse("fd00:5:0:48::/64"), true, true, true);
    assertThat(t.script()).isEqualTo("""
        add table ip6 flannel-ipv6
        delete table ip6 flannel-ipv6
        add table ip6 flannel-ipv6 { comment "rules for flannel-ipv6" ; }
        add chain ip6 flannel-ipv6 postrtg { type nat hook postrouting priority srcnat ; policy accept ; \
        comment "chain to manage traffic masquerading by flannel" ; }
        add rule ip6 flannel-ipv6 postrtg meta mark 0x00004000 return
        add rule ip6 flannel-ipv6 postrtg ip6 saddr fd00:5:0:48::/64 ip6 daddr fd00:5::/48 return
        add rule ip6 flannel-ipv6 postrtg ip6 saddr fd00:5::/48 ip6 daddr fd00:5:0:48::/64 return
        add rule ip6 flannel-ipv6 postrtg ip6 saddr != fd00:5:0:48::/64 ip6 daddr fd00:5::/48 return
        add rule ip6 flannel-ipv6 postrtg ip6 saddr fd00:5::/48 ip6 daddr != ff00::/8 masquerade fully-random
        add rule ip6 flannel-ipv6 postrtg ip6 saddr != fd00:5::/48 ip6 daddr fd00:5::/48 masquerade fully-random
        add chain ip6 flannel-ipv6 forward { type filter hook forward priority filter ; policy accept ; \
        comment "chain to accept flannel traffic" ; }
        add rule ip6 flannel-ipv6 forward ip6 saddr fd00:5::/48 accept
        add rule ip6 flannel-ipv6 forward ip6 daddr fd00:5::/48 accept
        """);
    assertThat(NftRules.ipv6(Ipv6Subnet.parse("fd00:5::/48"), Ipv6Subnet.parse("fd00:5:0:48::/64"), false, false,
        true).chains()).extracting(NftTable.NftChain::name).containsExactly("forward");
  }

  @Test
  void withoutFullyRandomMasqueradeOrForwardRules() {
    NftTable noRandom = NftRules.ipv4(C, P, true, false, false);
    assertThat(noRandom.chains()).extracting(NftTable.NftChain::name).containsExactly("postrtg");
    assertThat(noRandom.chain("postrtg").rules()).endsWith(
        "ip saddr 10.5.0.0/16 ip daddr != 224.0.0.0/4 masquerade",
        "ip saddr != 10.5.0.0/16 ip daddr 10.5.0.0/16 masquerade");
    NftTable forwardOnly = NftRules.ipv4(C, P, false, true, true);
    assertThat(forwardOnly.chains()).extracting(NftTable.NftChain::name).containsExactly("forward");
    assertThat(NftRules.ipv4(C, P, false, false, false).script()).isEqualTo("""
        add table ip flannel-ipv4
        delete table ip flannel-ipv4
        add table ip flannel-ipv4 { comment "rules for flannel-ipv4" ; }
        """);
    assertThat(NftRules.ipv6().script()).isEqualTo("""
        add table ip6 flannel-ipv6
        delete table ip6 flannel-ipv6
        add table ip6 flannel-ipv6 { comment "rules for flannel-ipv6" ; }
        """);
  }

  @Test
  void vxlanFilterIsASetAndTwoRules() {
    NftTable t = NftRules.vxlanFilter(8472, List.of(ip("203.0.113.9"), ip("198.51.100.2"), ip("198.51.100.2")));
    assertThat(t.script()).isEqualTo("""
        add table ip tartan-vxlan
        delete table ip tartan-vxlan
        add table ip tartan-vxlan { comment "tartan vxlan peer filter" ; }
        add set ip tartan-vxlan peers { type ipv4_addr ; }
        add element ip tartan-vxlan peers { 198.51.100.2, 203.0.113.9 }
        add chain ip tartan-vxlan input { type filter hook input priority filter - 1 ; policy accept ; }
        add rule ip tartan-vxlan input udp dport 8472 ip saddr @peers counter accept
        add rule ip tartan-vxlan input udp dport 8472 counter drop
        """);
    assertThat(NftRules.vxlanFilter(4789, List.of()).script())
        .as("no peers: the set stays empty (an empty element list is a syntax error)")
        .doesNotContain("add element").contains("udp dport 4789 counter drop");
    assertThatThrownBy(() -> NftRules.vxlanFilter(0, List.of())).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void deleteScriptWorksWhetherOrNotTheTableExists() {
    assertThat(NftTable.deleteScript("ip", "tartan-vxlan")).isEqualTo("add table ip tartan-vxlan\ndelete table ip tartan-vxlan\n");
  }
}
