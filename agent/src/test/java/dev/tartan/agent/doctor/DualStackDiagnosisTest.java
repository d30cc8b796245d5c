package dev.tartan.agent.doctor;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.doctor.Diagnosis.Identity;
import dev.tartan.agent.doctor.Diagnosis.SubnetFile;
import dev.tartan.agent.firewall.IptablesException;
import dev.tartan.agent.firewall.NftRules;
import dev.tartan.agent.firewall.NftTable;
import dev.tartan.agent.firewall.Rule;
import dev.tartan.agent.firewall.RuleSet;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.netlink.rtnl.VxlanInfo;
import dev.tartan.agent.subnetenv.SubnetEnv;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.SubnetLease;
import java.net.Inet6Address;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@code tartan doctor} on a dual-stack host: flannel-v6.1, its /128, cni0's IPv6 gateway, the IPv6 entries. */
class DualStackDiagnosisTest {
  static final int ETH0 = 2;
  static final int DEV = 3;
  static final int CNI0 = 4;
  static final int DEV6 = 5;
  static final String MAC1 = "0e:00:00:00:00:01";
  static final String MAC2 = "0e:00:00:00:00:02";
  static final String MAC61 = "0e:00:00:00:06:01";
  static final String MAC62 = "0e:00:00:00:06:02";

  static Inet6Address ip6(String s) {
    return Ipv6Text.parse(s);
  }

  static SubnetLease dual(String s4, String s6, String pub, String pub6, String mac, String mac6) {
    return new SubnetLease(net(s4), Ipv6Subnet.parse(s6), new LeaseAttrs(ip(pub), ip6(pub6), "vxlan",
        "{\"VNI\":1,\"VtepMAC\":\"" + mac + "\"}", "{\"VNI\":1,\"VtepMAC\":\"" + mac6 + "\"}"), null, 7, 1);
  }

  final List<SubnetLease> leases = new ArrayList<>(List.of(
      dual("10.244.1.0/24", "fd00:10:0:1::/64", "198.51.100.1", "2001:db8::1", MAC1, MAC61),
      dual("10.244.2.0/24", "fd00:10:0:2::/64", "198.51.100.2", "2001:db8::2", MAC2, MAC62)));
  final List<Link> links = new ArrayList<>(List.of(
      new Link(ETH0, "eth0", "veth", 1500, "02:00:00:00:01:01", 1, 0, Optional.empty()),
      new Link(DEV, "flannel.1", "vxlan", 1450, MAC1, 1, 0,
          Optional.of(new VxlanInfo(1, ip("198.51.100.1"), ETH0, 8472, false, false, true))),
      new Link(CNI0, "cni0", "bridge", 1450, "02:00:00:00:0c:01", 1, 0, Optional.empty()),
      new Link(DEV6, "flannel-v6.1", "vxlan", 1430, MAC61, 1, 0,
          Optional.of(new VxlanInfo(1, ip6("2001:db8::1"), ETH0, 8472, false, false, true)))));
  final List<Address> addresses6 = new ArrayList<>(List.of(
      new Address(ETH0, ip6("2001:db8::1"), 64),
      new Address(DEV6, ip6("fd00:10:0:1::"), 128),
      new Address(CNI0, ip6("fd00:10:0:1::1"), 64)));
  final List<Route> routes6 = new ArrayList<>(List.of(
      Route.overlay(Ipv6Subnet.parse("fd00:10:0:2::/64"), ip6("fd00:10:0:2::"), DEV6)));
  final List<Neighbour> neighbours6 = new ArrayList<>(List.of(Neighbour.permanent(DEV6, ip6("fd00:10:0:2::"), MAC62)));
  final List<FdbEntry> fdb6 = new ArrayList<>(List.of(new FdbEntry(DEV6, MAC62, ip6("2001:db8::2"))));

  /** FLANNEL_IPMASQ in the subnet file; EnableNFTables in the config. */
  boolean ipMasq;
  boolean nftables;
  /** Texts of the rules missing from iptables / ip6tables; null: the binary is not there. */
  List<String> missing4 = List.of();
  List<String> missing6 = List.of();
  /** The nft tables present, by "family name". */
  final java.util.Map<String, NftTable> nft = new java.util.HashMap<>();
  final List<RuleSet> probed6 = new ArrayList<>();

  Diagnosis.MasqProbe probe() {
    return new Diagnosis.MasqProbe() {
      @Override
      public List<Rule> missing(RuleSet set) throws IptablesException {
        return missing(set, missing4, "iptables");
      }

      @Override
      public List<Rule> missing6(RuleSet set) throws IptablesException {
        probed6.add(set);
        return missing(set, missing6, "ip6tables");
      }

      List<Rule> missing(RuleSet set, List<String> texts, String tool) throws IptablesException {
        if (texts == null) {
          throw new IptablesException(tool + "-save not found in PATH");
        }
        return set.all().stream().filter(r -> texts.stream().anyMatch(m -> r.text().contains(m))).toList();
      }

      @Override
      public Optional<NftTable> nftTable(String family, String name) {
        return Optional.ofNullable(nft.get(family + " " + name));
      }
    };
  }

  Report examine() throws Exception {
    NetworkConfig cfg = NetworkConfig.parse("{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true,"
        + (nftables ? "\"EnableNFTables\":true," : "")
        + "\"IPv6Network\":\"fd00:10::/48\",\"IPv6SubnetLen\":64,\"Backend\":{\"Type\":\"vxlan\"}}");
    KernelState k = new KernelState(links,
        List.of(new Address(ETH0, ip("198.51.100.1"), 24), new Address(DEV, ip("10.244.1.0"), 32),
            new Address(CNI0, ip("10.244.1.1"), 24)),
        List.of(new Route(net("0.0.0.0/0"), ip("198.51.100.254"), ETH0, false, Route.TABLE_MAIN, Route.PROTO_BOOT),
            Route.overlay(net("10.244.2.0/24"), ip("10.244.2.0"), DEV)),
        List.of(Neighbour.permanent(DEV, ip("10.244.2.0"), MAC2)),
        List.of(new FdbEntry(DEV, MAC2, ip("198.51.100.2"))),
        addresses6, routes6, neighbours6, fdb6);
    SubnetFile file = new SubnetFile(Path.of("/run/flannel/subnet.env"), new SubnetEnv(net("10.244.0.0/16"),
        net("10.244.1.0/24"), 1450, ipMasq, "fd00:10::/48", "fd00:10:0:1::/64"), null);
    return Diagnosis.examine(new Diagnosis.Inputs(cfg, "/coreos.com/network/subnets/", leases, k,
        Identity.automatic(), file, probe(), "cni0"));
  }

  // ---- the IPv6 masquerade rules (FLANNEL_IPMASQ=true)

  @Test
  void theIpv6MasqueradeChainIsCheckedInIp6tables() throws Exception {
    ipMasq = true;
    assertThat(examine().findings()).isEmpty();
    assertThat(probed6).isNotEmpty().allSatisfy(set -> assertThat(set.all().toString())
        .contains("-s fd00:10::/48 ! -d ff00::/8").contains("-s fd00:10:0:1::/64 -d fd00:10::/48"));

    missing6 = List.of("! -d ff00::/8");
    List<Finding> f = examine().findings();
    assertThat(f).hasSize(1);
    assertThat(f.get(0).check()).isEqualTo("masquerade");
    assertThat(f.get(0).where()).isEqualTo("ip6tables -t nat FLANNEL-POSTRTG");
    assertThat(f.get(0).problem()).startsWith("1 of ").contains("-s fd00:10::/48 ! -d ff00::/8");
    assertThat(f.get(0).fix()).startsWith("systemctl restart tartan");

    missing6 = List.of("FLANNEL-POSTRTG");
    assertThat(examine().findings()).extracting(Finding::problem)
        .singleElement().asString().startsWith("the masquerade rules are missing (FLANNEL_IPMASQ=true)");
  }

  @Test
  void withoutIp6tablesTheDoctorSaysSo() throws Exception {
    ipMasq = true;
    missing6 = null;
    assertThat(examine().findings()).extracting(Finding::where, Finding::problem).containsExactly(
        org.assertj.core.groups.Tuple.tuple("ip6tables -t nat FLANNEL-POSTRTG",
            "cannot read the masquerade rules: ip6tables-save not found in PATH"));
  }

  @Test
  void withoutMasqueradeNoIpv6RulesAreExpected() throws Exception {
    missing6 = null;
    assertThat(examine().findings()).isEmpty();
    assertThat(probed6).isEmpty();
  }

  @Test
  void nftablesModeChecksTableIp6FlannelIpv6() throws Exception {
    ipMasq = true;
    nftables = true;
    missing4 = List.of("FLANNEL");
    missing6 = List.of("FLANNEL");
    nft.put("ip flannel-ipv4", NftRules.ipv4(net("10.244.0.0/16"), net("10.244.1.0/24"), true, true, true));
    assertThat(examine().findings()).extracting(Finding::problem)
        .containsExactly("table ip6 flannel-ipv6 is missing (EnableNFTables, FLANNEL_IPMASQ=true)");

    nft.put("ip6 flannel-ipv6", NftRules.ipv6(Ipv6Subnet.parse("fd00:10::/48"), Ipv6Subnet.parse("fd00:10:0:1::/64"),
        true, true, true));
    assertThat(examine().findings()).isEmpty();

    // an old IPv6 subnet in the table, and iptables mode's IPv6 chain left behind
    nft.put("ip6 flannel-ipv6", NftRules.ipv6(Ipv6Subnet.parse("fd00:10::/48"), Ipv6Subnet.parse("fd00:10:0:9::/64"),
        true, true, true));
    missing6 = List.of();
    List<Finding> f = examine().findings();
    assertThat(f).extracting(Finding::where).contains("nft table ip6 flannel-ipv6", "ip6tables -t nat FLANNEL-POSTRTG");
    assertThat(f).extracting(Finding::problem)
        .contains("iptables mode's IPv6 masquerade rules are still present in nftables mode")
        .anyMatch(p -> p.contains("fd00:10:0:1::/64"));
  }

  @Test
  void aConvergedDualStackHostIsConsistent() throws Exception {
    assertThat(examine().findings()).isEmpty();
  }

  @Test
  void missingIpv6EntriesAreNamedWithTheCommandThatFixesThem() throws Exception {
    routes6.clear();
    neighbours6.clear();
    fdb6.clear();
    addresses6.removeIf(a -> a.link() == CNI0);
    List<Finding> f = examine().findings();
    assertThat(f).extracting(Finding::fix).containsExactlyInAnyOrder(
        "ip neigh replace fd00:10:0:2:: lladdr " + MAC62 + " dev flannel-v6.1 nud permanent",
        "bridge fdb replace " + MAC62 + " dev flannel-v6.1 dst 2001:db8::2 self permanent",
        "ip route replace fd00:10:0:2::/64 via fd00:10:0:2:: dev flannel-v6.1 onlink proto 111",
        "ip addr add fd00:10:0:1::1/64 dev cni0");
  }

  @Test
  void aMissingIpv6DeviceAndAStaleRouteAreReported() throws Exception {
    links.removeIf(l -> l.index() == DEV6);
    assertThat(examine().findings()).extracting(Finding::problem)
        .containsExactly("flannel-v6.1 does not exist (and with it the IPv6 entries of 1 peers)");

    links.add(new Link(DEV6, "flannel-v6.1", "vxlan", 1430, MAC61, 1, 0,
        Optional.of(new VxlanInfo(1, ip6("2001:db8::1"), ETH0, 8472, false, false, true))));
    routes6.add(Route.overlay(Ipv6Subnet.parse("fd00:10:0:9::/64"), ip6("fd00:10:0:9::"), DEV6));
    assertThat(examine().findings()).extracting(Finding::fix)
        .containsExactly("ip route del fd00:10:0:9::/64 via fd00:10:0:9:: dev flannel-v6.1 onlink proto 111");
  }

  @Test
  void aLeaseWithoutItsIpv6PartIsReported() throws Exception {
    leases.set(0, new SubnetLease(net("10.244.1.0/24"), null,
        LeaseAttrs.ipv4(ip("198.51.100.1"), "vxlan", "{\"VNI\":1,\"VtepMAC\":\"" + MAC1 + "\"}"), null, 7, 1));
    assertThat(examine().findings()).extracting(Finding::problem).anyMatch(p -> p.contains("has no IPv6 subnet"));
  }
}
