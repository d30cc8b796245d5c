package dev.tartan.agent.firewall;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * nftables mode against the real {@code nft} inside a network namespace this test creates (never
 * the root namespace's ruleset): flannel's tables exactly, a second install changing nothing, drift
 * repaired, switching modes both ways, the peer filter's table. Needs root, ip, nft and iptables.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NftIT {
  /** What flannel's nftables code (docs/flannel-compat.md §3.4) leaves in {@code nft list table ip flannel-ipv4}. */
  static final String FLANNEL_IPV4 = """
      table ip flannel-ipv4 {
      comment "rules for flannel-ipv4"
      chain postrtg {
      comment "chain to manage traffic masquerading by flannel"
      type nat hook postrouting priority srcnat; policy accept;
      meta mark 0x00004000 return
      ip saddr 10.5.72.0/24 ip daddr 10.5.0.0/16 return
      ip saddr 10.5.0.0/16 ip daddr 10.5.72.0/24 return
      ip saddr != 10.5.72.0/24 ip daddr 10.5.0.0/16 return
      ip saddr 10.5.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random
      ip saddr != 10.5.0.0/16 ip daddr 10.5.0.0/16 masquerade fully-random
      }
      chain forward {
      comment "chain to accept flannel traffic"
      type filter hook forward priority filter; policy accept;
      ip saddr 10.5.0.0/16 accept
      ip daddr 10.5.0.0/16 accept
      }
      }
      """;

  /** flannel's table ip6 flannel-ipv6 for IPv6Network fd00:5::/48 and the IPv6 subnet fd00:5:0:48::/64. */
  static final String FLANNEL_IPV6 = """
      table ip6 flannel-ipv6 {
      comment "rules for flannel-ipv6"
      chain postrtg {
      comment "chain to manage traffic masquerading by flannel"
      type nat hook postrouting priority srcnat; policy accept;
      meta mark 0x00004000 return
      ip6 saddr fd00:5:0:48::/64 ip6 daddr fd00:5::/48 return
      ip6 saddr fd00:5::/48 ip6 daddr fd00:5:0:48::/64 return
      ip6 saddr != fd00:5:0:48::/64 ip6 daddr fd00:5::/48 return
      ip6 saddr fd00:5::/48 ip6 daddr != ff00::/8 masquerade fully-random
      ip6 saddr != fd00:5::/48 ip6 daddr fd00:5::/48 masquerade fully-random
      }
      chain forward {
      comment "chain to accept flannel traffic"
      type filter hook forward priority filter; policy accept;
      ip6 saddr fd00:5::/48 accept
      ip6 daddr fd00:5::/48 accept
      }
      }
      """;

  String ns;
  List<String> prefix;
  Nft nft;
  Iptables ipt;

  @BeforeEach
  void namespace() throws Exception {
    assumeTrue(IptablesIT.isRoot(), "needs root to create a network namespace");
    assumeTrue(IptablesIT.onPath("ip") && IptablesIT.onPath("nft") && IptablesIT.onPath("iptables-restore"),
        "needs ip, nft and iptables (apt-get install iproute2 nftables iptables)");
    ns = "tartan-nft-" + ProcessHandle.current().pid() % 100000 + "x" + ThreadLocalRandom.current().nextInt(1000);
    IptablesIT.sh("ip", "netns", "add", ns);
    prefix = List.of("ip", "netns", "exec", ns);
    nft = Nft.locate(prefix);
    ipt = Iptables.locate(prefix);
  }

  @AfterEach
  void cleanup() throws Exception {
    if (ns != null) {
      IptablesIT.sh("ip", "netns", "del", ns);
    }
  }

  /** {@code nft list table} without indentation and blank lines. */
  static String normalised(String listing) {
    StringBuilder b = new StringBuilder();
    for (String l : listing.split("\n")) {
      if (!l.isBlank()) {
        b.append(l.strip()).append('\n');
      }
    }
    return b.toString();
  }

  String rootRuleset() throws Exception {
    return IptablesIT.run("nft", "list", "ruleset");
  }

  @Test
  void installsExactlyFlannelsTablesAndRepairsDrift() throws Exception {
    String rootBefore = rootRuleset();
    assertThat(nft.supportsFullyRandom()).isTrue();
    TrafficRules rules = TrafficRules.createNft(nft, prefix, true, false, true);
    rules.install(IptablesIT.C, IptablesIT.P, Optional.empty(), Optional.empty());
    assertThat(normalised(nft.listText("ip", "flannel-ipv4").orElseThrow())).isEqualTo(FLANNEL_IPV4);
    assertThat(normalised(nft.listText("ip6", "flannel-ipv6").orElseThrow()))
        .isEqualTo("table ip6 flannel-ipv6 {\ncomment \"rules for flannel-ipv6\"\n}\n");
    assertThat(rules.inPlace()).isTrue();
    assertThat(rules.resync()).as("nothing changed: no re-apply").isFalse();

    rules.install(IptablesIT.C, IptablesIT.P, Optional.of(IptablesIT.C), Optional.of(IptablesIT.P));
    assertThat(normalised(nft.listText("ip", "flannel-ipv4").orElseThrow())).isEqualTo(FLANNEL_IPV4);

    // a rule deleted by hand (by its handle), a rule added by hand, the whole table deleted
    String handles = IptablesIT.run("ip", "netns", "exec", ns, "nft", "-a", "list", "chain", "ip", "flannel-ipv4",
        "postrtg");
    String handle = handles.lines().filter(l -> l.contains("ip saddr 10.5.0.0/16 ip daddr 10.5.72.0/24 return"))
        .findFirst().orElseThrow().replaceAll(".*# handle ", "").strip();
    IptablesIT.sh("ip", "netns", "exec", ns, "nft", "delete", "rule", "ip", "flannel-ipv4", "postrtg", "handle", handle);
    assertThat(rules.inPlace()).isFalse();
    assertThat(rules.resync()).isTrue();
    assertThat(normalised(nft.listText("ip", "flannel-ipv4").orElseThrow())).isEqualTo(FLANNEL_IPV4);

    IptablesIT.sh("ip", "netns", "exec", ns, "nft", "add", "rule", "ip", "flannel-ipv4", "forward", "ip", "saddr",
        "192.0.2.0/24", "drop");
    assertThat(rules.resync()).isTrue();
    assertThat(normalised(nft.listText("ip", "flannel-ipv4").orElseThrow())).isEqualTo(FLANNEL_IPV4);

    IptablesIT.sh("ip", "netns", "exec", ns, "nft", "delete", "table", "ip", "flannel-ipv4");
    assertThat(rules.resync()).isTrue();
    assertThat(normalised(nft.listText("ip", "flannel-ipv4").orElseThrow())).isEqualTo(FLANNEL_IPV4);
    assertThat(rules.resync()).isFalse();
    assertThat(rootRuleset()).as("the root namespace is untouched").isEqualTo(rootBefore);
  }

  @Test
  void switchingModesRemovesTheOtherModesRules() throws Exception {
    // iptables mode first, with the peer filter (per-peer rules and, when installed, the ipset)
    Optional<Ipset> ipset = Ipset.locate(prefix);
    TrafficRules.create(ipt, true, false, true).install(IptablesIT.C, IptablesIT.P, Optional.empty(), Optional.empty());
    VxlanPeerFilter.create(ipt, ipset, 8472).update(List.of(VxlanPeerFilterIT.A));
    IptablesIT.sh("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "192.0.2.0/24",
        "-j", "MASQUERADE"); // someone else's rule stays
    assertThat(iptablesRules()).anyMatch(l -> l.contains("FLANNEL-POSTRTG")).anyMatch(l -> l.contains("TARTAN-VXLAN"));

    TrafficRules nftMode = TrafficRules.createNft(nft, prefix, true, false, true);
    nftMode.install(IptablesIT.C, IptablesIT.P, Optional.of(IptablesIT.C), Optional.of(IptablesIT.P));
    VxlanPeerFilter.create(nft, 8472).update(List.of(VxlanPeerFilterIT.A));
    assertThat(iptablesRules()).as("no iptables rules of ours")
        .containsExactly("-A POSTROUTING -s 192.0.2.0/24 -j MASQUERADE");
    assertThat(String.join("\n", iptablesChains())).doesNotContain("FLANNEL").doesNotContain("TARTAN");
    if (ipset.isPresent()) {
      assertThat(ipset.get().members("tartan-vxlan")).as("the ipset is gone").isEmpty();
    }
    assertThat(nft.list("ip", "flannel-ipv4")).isPresent();
    assertThat(nft.list("ip", "tartan-vxlan")).isPresent();

    // and back
    TrafficRules.create(ipt, true, false, true).install(IptablesIT.C, IptablesIT.P, Optional.of(IptablesIT.C),
        Optional.of(IptablesIT.P));
    assertThat(nft.list("ip", "flannel-ipv4")).isEmpty();
    assertThat(nft.list("ip6", "flannel-ipv6")).isEmpty();
    assertThat(nft.list("ip", "tartan-vxlan")).isEmpty();
    assertThat(iptablesRules()).contains("-A POSTROUTING -s 192.0.2.0/24 -j MASQUERADE",
        "-A POSTROUTING -m comment --comment \"flanneld masq\" -j FLANNEL-POSTRTG");
  }

  @Test
  void dualStackFillsTheIpv6TableWithFlannelsRulesAndRepairsIt() throws Exception {
    String rootBefore = rootRuleset();
    TrafficRules rules = TrafficRules.createNft(nft, prefix, true, false, true);
    rules.install(IptablesIT.C, IptablesIT.P, IptablesIT.C6, IptablesIT.P6, Optional.empty(), Optional.empty());
    assertThat(normalised(nft.listText("ip6", "flannel-ipv6").orElseThrow())).isEqualTo(FLANNEL_IPV6);
    assertThat(normalised(nft.listText("ip", "flannel-ipv4").orElseThrow())).isEqualTo(FLANNEL_IPV4);
    assertThat(rules.installedTables()).extracting(NftTable::id).containsExactly("ip flannel-ipv4", "ip6 flannel-ipv6");
    assertThat(rules.inPlace()).isTrue();
    assertThat(rules.resync()).isFalse();

    String handles = IptablesIT.run("ip", "netns", "exec", ns, "nft", "-a", "list", "chain", "ip6", "flannel-ipv6",
        "postrtg");
    String handle = handles.lines().filter(l -> l.contains("ip6 daddr != ff00::/8"))
        .findFirst().orElseThrow().replaceAll(".*# handle ", "").strip();
    IptablesIT.sh("ip", "netns", "exec", ns, "nft", "delete", "rule", "ip6", "flannel-ipv6", "postrtg", "handle",
        handle);
    assertThat(rules.inPlace()).isFalse();
    assertThat(rules.resync()).isTrue();
    assertThat(normalised(nft.listText("ip6", "flannel-ipv6").orElseThrow())).isEqualTo(FLANNEL_IPV6);
    IptablesIT.sh("ip", "netns", "exec", ns, "nft", "delete", "table", "ip6", "flannel-ipv6");
    assertThat(rules.resync()).isTrue();
    assertThat(normalised(nft.listText("ip6", "flannel-ipv6").orElseThrow())).isEqualTo(FLANNEL_IPV6);
    assertThat(rules.resync()).isFalse();

    // IPv6 turned off: the table stays, empty, as flannel leaves it
    rules.install(IptablesIT.C, IptablesIT.P, Optional.of(IptablesIT.C), Optional.of(IptablesIT.P));
    assertThat(normalised(nft.listText("ip6", "flannel-ipv6").orElseThrow()))
        .isEqualTo("table ip6 flannel-ipv6 {\ncomment \"rules for flannel-ipv6\"\n}\n");
    assertThat(rootRuleset()).as("the root namespace is untouched").isEqualTo(rootBefore);
  }

  @Test
  void switchingModesRemovesTheOtherModesIpv6Rules() throws Exception {
    assumeTrue(IptablesIT.onPath("ip6tables-restore"), "needs ip6tables (apt-get install iptables)");
    Iptables ip6 = Iptables.locate6(prefix);
    TrafficRules.create(ipt, true, false, true).install(IptablesIT.C, IptablesIT.P, IptablesIT.C6, IptablesIT.P6,
        Optional.empty(), Optional.empty());
    IptablesIT.sh("ip", "netns", "exec", ns, "ip6tables", "-t", "nat", "-A", "POSTROUTING", "-s", "2001:db8:9::/48",
        "-j", "MASQUERADE"); // someone else's rule stays
    assertThat(IptablesIT.ruleLines(ip6, "nat")).containsAll(IptablesIT.FLANNEL_IP6_NAT);

    TrafficRules nftMode = TrafficRules.createNft(nft, prefix, true, false, true);
    nftMode.install(IptablesIT.C, IptablesIT.P, IptablesIT.C6, IptablesIT.P6, Optional.empty(), Optional.empty());
    assertThat(IptablesIT.ruleLines(ip6, "nat")).as("no ip6tables rules of ours")
        .containsExactly("-A POSTROUTING -s 2001:db8:9::/48 -j MASQUERADE");
    assertThat(IptablesIT.ruleLines(ip6, "filter")).isEmpty();
    assertThat(normalised(nft.listText("ip6", "flannel-ipv6").orElseThrow())).isEqualTo(FLANNEL_IPV6);

    TrafficRules back = TrafficRules.create(ipt, true, false, true);
    back.install(IptablesIT.C, IptablesIT.P, IptablesIT.C6, IptablesIT.P6, Optional.empty(), Optional.empty());
    assertThat(nft.list("ip6", "flannel-ipv6")).isEmpty();
    assertThat(IptablesIT.ruleLines(ip6, "nat")).contains("-A POSTROUTING -s 2001:db8:9::/48 -j MASQUERADE")
        .containsAll(IptablesIT.FLANNEL_IP6_NAT.subList(1, IptablesIT.FLANNEL_IP6_NAT.size()));
  }

  @Test
  void thePeerFilterTableFollowsThePeersAndIsRepaired() throws Exception {
    VxlanPeerFilter f = VxlanPeerFilter.create(nft, 8472);
    assertThat(f.mode()).isEqualTo("nft set ip tartan-vxlan peers");
    assertThat(f.update(List.of(VxlanPeerFilterIT.B, VxlanPeerFilterIT.A))).isTrue();
    assertThat(nft.list("ip", "tartan-vxlan").orElseThrow().set("peers").elements())
        .containsExactly("198.51.100.2", "198.51.100.3");
    assertThat(f.update(List.of(VxlanPeerFilterIT.A, VxlanPeerFilterIT.B))).isFalse();
    assertThat(f.update(List.of(VxlanPeerFilterIT.C))).isTrue();
    assertThat(nft.list("ip", "tartan-vxlan").orElseThrow().set("peers").elements()).containsExactly("203.0.113.9");
    assertThat(f.resync(List.of(VxlanPeerFilterIT.C))).isFalse();

    IptablesIT.sh("ip", "netns", "exec", ns, "nft", "add", "element", "ip", "tartan-vxlan", "peers", "{ 192.0.2.66 }");
    assertThat(f.resync(List.of(VxlanPeerFilterIT.C))).as("a foreign member is removed").isTrue();
    assertThat(nft.list("ip", "tartan-vxlan").orElseThrow().set("peers").elements()).containsExactly("203.0.113.9");
    IptablesIT.sh("ip", "netns", "exec", ns, "nft", "flush", "chain", "ip", "tartan-vxlan", "input");
    assertThat(f.resync(List.of(VxlanPeerFilterIT.C))).isTrue();
    assertThat(nft.list("ip", "tartan-vxlan").orElseThrow().chain("input").rules())
        .containsExactly("udp dport 8472 ip saddr @peers counter accept", "udp dport 8472 counter drop");
    assertThat(f.update(List.of())).isTrue();
    assertThat(nft.list("ip", "tartan-vxlan").orElseThrow().set("peers").elements()).isEmpty();
  }

  List<String> iptablesRules() throws Exception {
    List<String> out = new java.util.ArrayList<>();
    for (String t : List.of("nat", "filter")) {
      ipt.save(t).lines().filter(l -> l.startsWith("-A ")).forEach(out::add);
    }
    return out;
  }

  List<String> iptablesChains() throws Exception {
    List<String> out = new java.util.ArrayList<>();
    for (String t : List.of("nat", "filter")) {
      ipt.save(t).lines().filter(l -> l.startsWith(":")).forEach(out::add);
    }
    return out;
  }
}
