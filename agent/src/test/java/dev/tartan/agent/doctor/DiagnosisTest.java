package dev.tartan.agent.doctor;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.lease;
import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.doctor.Diagnosis.Identity;
import dev.tartan.agent.doctor.Diagnosis.SubnetFile;
import dev.tartan.agent.firewall.IptablesException;
import dev.tartan.agent.firewall.MasqRules;
import dev.tartan.agent.firewall.NftRules;
import dev.tartan.agent.firewall.NftTable;
import dev.tartan.agent.firewall.Rule;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.netlink.rtnl.VxlanInfo;
import dev.tartan.agent.subnetenv.SubnetEnv;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.SubnetLease;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The doctor's comparison on hand-built kernel snapshots: no netlink, no etcd, no iptables. */
class DiagnosisTest {
  static final String MAC1 = "0e:00:00:00:00:01";
  static final String MAC2 = "0e:00:00:00:00:02";
  static final String MAC3 = "0e:00:00:00:00:03";
  static final int LO = 1;
  static final int ETH0 = 2;
  static final int DEV = 3;
  static final int CNI0 = 4;
  static final Path FILE = Path.of("/run/flannel/subnet.env");
  static final String PREFIX = "/coreos.com/network/subnets/";

  static NetworkConfig config() {
    try {
      return NetworkConfig.parse("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /** Three hosts: us (.1, 10.244.1.0/24) and two peers. */
  final List<SubnetLease> leases = new ArrayList<>(List.of(
      vxlan("10.244.1.0/24", "198.51.100.1", MAC1),
      vxlan("10.244.2.0/24", "198.51.100.2", MAC2),
      vxlan("10.244.3.0/24", "198.51.100.3", MAC3)));

  // the kernel of a host the agent has converged: what ThreeHostAgentIT sees with ip -j
  final List<Link> links = new ArrayList<>(List.of(
      new Link(LO, "lo", "", 65536, "00:00:00:00:00:00", 1, 0, Optional.empty()),
      new Link(ETH0, "eth0", "veth", 1500, "02:00:00:00:01:01", 1, 0, Optional.empty()),
      device(1, ip("198.51.100.1"), ETH0, false, 1450, MAC1, true),
      new Link(CNI0, "cni0", "bridge", 1450, "02:00:00:00:0c:01", 1, 0, Optional.empty())));
  final List<Address> addresses = new ArrayList<>(List.of(
      new Address(LO, ip("127.0.0.1"), 8),
      new Address(ETH0, ip("198.51.100.1"), 24),
      new Address(DEV, ip("10.244.1.0"), 32),
      new Address(CNI0, ip("10.244.1.1"), 24)));
  final List<Route> routes = new ArrayList<>(List.of(
      new Route(net("0.0.0.0/0"), ip("198.51.100.254"), ETH0, false, Route.TABLE_MAIN, Route.PROTO_BOOT),
      new Route(net("198.51.100.0/24"), null, ETH0, false, Route.TABLE_MAIN, 2),
      new Route(net("10.244.1.0/24"), null, CNI0, false, Route.TABLE_MAIN, 2),
      Route.overlay(net("10.244.2.0/24"), ip("10.244.2.0"), DEV),
      Route.overlay(net("10.244.3.0/24"), ip("10.244.3.0"), DEV)));
  final List<Neighbour> neighbours = new ArrayList<>(List.of(
      Neighbour.permanent(DEV, ip("10.244.2.0"), MAC2),
      Neighbour.permanent(DEV, ip("10.244.3.0"), MAC3)));
  final List<FdbEntry> fdb = new ArrayList<>(List.of(
      new FdbEntry(DEV, MAC2, ip("198.51.100.2")),
      new FdbEntry(DEV, MAC3, ip("198.51.100.3"))));

  SubnetFile subnetFile = new SubnetFile(FILE, SubnetEnv.of(net("10.244.0.0/16"), net("10.244.1.0/24"), 1450, true), null);
  Identity identity = Identity.automatic();
  /** The masquerade rules present, as iptables-save would show them. */
  List<String> masqMissing = List.of();
  final AtomicInteger masqProbes = new AtomicInteger();
  IptablesException masqFailure;

  static Link device(int vni, java.net.Inet4Address local, int underlay, boolean learning, int mtu, String mac,
      boolean up) {
    return new Link(DEV, "flannel." + vni, "vxlan", mtu, mac, up ? 1 : 0, 0,
        Optional.of(new VxlanInfo(vni, local, underlay, 8472, learning, false, true)));
  }

  List<dev.tartan.agent.routing.GraceFile.Held> held = List.of();

  Report examine() {
    KernelState k = new KernelState(links, addresses, routes, neighbours, fdb);
    Diagnosis.MasqProbe probe = set -> {
      masqProbes.incrementAndGet();
      if (masqFailure != null) {
        throw masqFailure;
      }
      return set.all().stream().filter(r -> masqMissing.stream().anyMatch(m -> r.text().contains(m))).toList();
    };
    return Diagnosis.examine(new Diagnosis.Inputs(config(), PREFIX, leases, k, identity, subnetFile, probe, "cni0",
        held));
  }

  /** In nftables mode, with {@code table} as nft lists it and {@code iptablesLeft} iptables rules present. */
  Report examineNft(Optional<NftTable> table, boolean iptablesLeft) {
    KernelState k = new KernelState(links, addresses, routes, neighbours, fdb);
    Diagnosis.MasqProbe probe = new Diagnosis.MasqProbe() {
      @Override
      public List<dev.tartan.agent.firewall.Rule> missing(dev.tartan.agent.firewall.RuleSet set) {
        return iptablesLeft ? List.of() : set.all();
      }

      @Override
      public Optional<NftTable> nftTable(String family, String name) throws IptablesException {
        if (masqFailure != null) {
          throw masqFailure;
        }
        masqProbes.incrementAndGet();
        return table;
      }
    };
    NetworkConfig nftConfig;
    try {
      nftConfig = NetworkConfig.parse("{\"Network\":\"10.244.0.0/16\",\"EnableNFTables\":true,\"Backend\":{\"Type\":\"vxlan\"}}");
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    return Diagnosis.examine(new Diagnosis.Inputs(nftConfig, PREFIX, leases, k, identity, subnetFile, probe, "cni0"));
  }

  @Test
  void nftablesModeChecksFlannelsTable() {
    NftTable flannel = NftRules.ipv4(net("10.244.0.0/16"), net("10.244.1.0/24"), true, true, true);
    assertThat(examineNft(Optional.of(flannel), false).findings()).isEmpty();
    assertThat(masqProbes.get()).isOne();
    assertThat(examineNft(Optional.of(NftRules.ipv4(net("10.244.0.0/16"), net("10.244.1.0/24"), true, false, false)),
        false).findings()).as("without fully-random and without the forward chain: fine too").isEmpty();

    List<Finding> missing = examineNft(Optional.empty(), false).findings();
    assertThat(missing).extracting(Finding::where).containsExactly("nft table ip flannel-ipv4");
    assertThat(missing.get(0).problem()).isEqualTo("table ip flannel-ipv4 is missing (EnableNFTables, FLANNEL_IPMASQ=true)");

    NftTable.NftChain p = flannel.chain("postrtg");
    NftTable drifted = new NftTable("ip", "flannel-ipv4", null, List.of(), List.of(
        new NftTable.NftChain(p.name(), p.type(), p.hook(), p.priority(), p.prio(), null, p.rules().subList(1, 6)),
        flannel.chain("forward")));
    assertThat(examineNft(Optional.of(drifted), false).findings()).extracting(Finding::problem)
        .containsExactly("chain postrtg lacks: meta mark 0x00004000 return");

    assertThat(examineNft(Optional.of(flannel), true).findings()).extracting(Finding::problem)
        .containsExactly("iptables mode's masquerade rules are still present in nftables mode");

    masqFailure = new IptablesException("nft not found in PATH");
    assertThat(examineNft(Optional.of(flannel), false).findings()).extracting(Finding::problem)
        .containsExactly("cannot read the nftables rules: nft not found in PATH");
  }

  void replaceLink(Link l) {
    links.removeIf(x -> x.index() == l.index());
    links.add(l);
  }

  @Test
  void aConvergedHostIsConsistent() {
    Report r = examine();
    assertThat(r.findings()).isEmpty();
    assertThat(r.consistent()).isTrue();
    assertThat(r.host().publicIp()).isEqualTo(ip("198.51.100.1"));
    assertThat(r.host().iface()).isEqualTo("eth0");
    assertThat(r.host().lease().subnet()).isEqualTo(net("10.244.1.0/24"));
    assertThat(r.host().device()).isEqualTo("flannel.1");
    assertThat(r.peers()).isEqualTo(2);
    assertThat(r.leases()).isEqualTo(3);
    assertThat(masqProbes.get()).isPositive(); // FLANNEL_IPMASQ=true: the rules were looked at
  }

  @Test
  void aMissingRouteIsNamedWithTheCommandThatRestoresIt() {
    routes.remove(Route.overlay(net("10.244.2.0/24"), ip("10.244.2.0"), DEV));
    assertThat(examine().findings()).containsExactly(new Finding("route", "10.244.2.0/24 (198.51.100.2)",
        "route 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 111 missing",
        "ip route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 111"));
  }

  @Test
  void aRouteRewrittenBySomeoneElseIsWrong() {
    routes.remove(Route.overlay(net("10.244.3.0/24"), ip("10.244.3.0"), DEV));
    routes.add(new Route(net("10.244.3.0/24"), ip("198.51.100.3"), ETH0, false, Route.TABLE_MAIN, Route.PROTO_BOOT));
    List<Finding> f = examine().findings();
    assertThat(f).hasSize(1);
    assertThat(f.get(0).problem()).isEqualTo("route to 10.244.3.0/24 is 10.244.3.0/24 via 198.51.100.3 dev eth0 proto 3,"
        + " expected 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink proto 111");
    assertThat(f.get(0).fix()).isEqualTo("ip route replace 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink proto 111");
  }

  @Test
  void neighbourWithAnotherMacOrNotPermanentIsReported() {
    neighbours.clear();
    neighbours.add(Neighbour.permanent(DEV, ip("10.244.2.0"), "0e:00:00:00:00:99"));
    neighbours.add(new Neighbour(DEV, ip("10.244.3.0"), MAC3, 0x04)); // NUD_STALE, learned
    List<Finding> f = examine().findings();
    assertThat(f).extracting(Finding::check).containsExactly("neighbour", "neighbour");
    assertThat(f.get(0).problem()).isEqualTo("neighbour 10.244.2.0 has lladdr 0e:00:00:00:00:99, the lease's VtepMAC is " + MAC2);
    assertThat(f.get(0).fix()).isEqualTo("ip neigh replace 10.244.2.0 lladdr " + MAC2 + " dev flannel.1 nud permanent");
    assertThat(f.get(1).problem()).isEqualTo("neighbour 10.244.3.0 is not permanent (nud 0x4)");
  }

  @Test
  void fdbMissingOrPointingElsewhere() {
    fdb.clear();
    fdb.add(new FdbEntry(DEV, MAC2, ip("198.51.100.99")));
    List<Finding> f = examine().findings();
    assertThat(f).extracting(Finding::where).containsExactly("10.244.2.0/24 (198.51.100.2)", "10.244.3.0/24 (198.51.100.3)");
    assertThat(f.get(0).problem()).isEqualTo("fdb " + MAC2 + " points to 198.51.100.99, the lease's PublicIP is 198.51.100.2");
    assertThat(f.get(0).fix()).isEqualTo("bridge fdb replace " + MAC2 + " dev flannel.1 dst 198.51.100.2 self permanent");
    assertThat(f.get(1).problem()).isEqualTo("fdb " + MAC3 + " dst 198.51.100.3 missing on flannel.1");
  }

  @Test
  void entriesOfALeaseThatIsGoneAreStale() {
    leases.removeIf(l -> l.subnet().equals(net("10.244.3.0/24")));
    List<Finding> f = examine().findings();
    assertThat(f).containsExactly(
        new Finding("route", "10.244.3.0/24", "stale route 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink proto 111:"
            + " no lease for 10.244.3.0/24", "ip route del 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink proto 111"),
        new Finding("neighbour", "10.244.3.0", "stale neighbour 10.244.3.0 lladdr " + MAC3
            + " on flannel.1: no lease has this gateway", "ip neigh del 10.244.3.0 dev flannel.1"),
        new Finding("fdb", MAC3, "stale fdb " + MAC3 + " dst 198.51.100.3 on flannel.1: no lease has this VtepMAC",
            "bridge fdb del " + MAC3 + " dev flannel.1 dst 198.51.100.3 self"));
  }

  @Test
  void entriesOfAPeerHeldInGraceAreExpectedAndListed() {
    leases.removeIf(l -> l.subnet().equals(net("10.244.3.0/24")));
    held = List.of(new dev.tartan.agent.routing.GraceFile.Held(net("10.244.3.0/24"), ip("198.51.100.3"), MAC3,
        java.time.Instant.parse("2026-12-01T00:01:00Z")));
    Report r = examine();
    assertThat(r.findings()).isEmpty();
    assertThat(r.held()).isEqualTo(held);
  }

  @Test
  void aMissingDeviceIsOneFindingNotOnePerPeer() {
    links.removeIf(l -> l.index() == DEV);
    addresses.removeIf(a -> a.link() == DEV);
    routes.removeIf(r -> r.link() == DEV);
    neighbours.clear();
    fdb.clear();
    List<Finding> f = examine().findings();
    assertThat(f).hasSize(1);
    assertThat(f.get(0).check()).isEqualTo("device");
    assertThat(f.get(0).problem()).isEqualTo("flannel.1 does not exist (and with it the entries of 2 peers)");
    assertThat(f.get(0).fix()).startsWith("systemctl restart tartan");
  }

  @Test
  void deviceSettingsThatDifferFromTheConfig() {
    replaceLink(new Link(DEV, "flannel.1", "vxlan", 1400, "0e:00:00:00:00:42", 0, 0,
        Optional.of(new VxlanInfo(1, ip("198.51.100.1"), LO, 4789, true, false, true))));
    addresses.removeIf(a -> a.link() == DEV);
    addresses.add(new Address(DEV, ip("10.244.7.0"), 32)); // an old subnet's address
    List<Finding> f = examine().findings();
    assertThat(f).extracting(Finding::check).containsOnly("device");
    assertThat(f).extracting(Finding::problem).containsExactly(
        "flannel.1 has other settings than the network config asks for: dev lo -> eth0, dstport 4789 -> 8472,"
            + " learning -> nolearning",
        "flannel.1 has MTU 1400, expected 1450 (eth0 MTU 1500 - 50)",
        "flannel.1 is down",
        "flannel.1 has MAC 0e:00:00:00:00:42 but the lease publishes VtepMAC " + MAC1 + " (peers send to that MAC)",
        "flannel.1 has 10.244.7.0/32, which is not this host's lease 10.244.1.0/24",
        "flannel.1 lacks its address 10.244.1.0/32");
    assertThat(f).extracting(Finding::fix).contains("ip link set flannel.1 mtu 1450", "ip link set flannel.1 up",
        "ip addr del 10.244.7.0/32 dev flannel.1", "ip addr add 10.244.1.0/32 dev flannel.1");
    // the device is down, but its peers' entries are still checked (they are all there)
    assertThat(f).noneMatch(x -> x.check().equals("route"));
  }

  @Test
  void cni0WithTheOldSubnetsAddress() {
    addresses.removeIf(a -> a.link() == CNI0);
    addresses.add(new Address(CNI0, ip("10.244.9.1"), 24)); // flannel #520: lease changed, bridge kept its address
    addresses.add(new Address(CNI0, ip("192.0.2.1"), 24)); // outside the Network: not ours, left alone
    assertThat(examine().findings()).containsExactly(
        new Finding("bridge", "cni0", "cni0 has 10.244.9.1/24, which is not this host's lease 10.244.1.0/24",
            "ip addr del 10.244.9.1/24 dev cni0"),
        new Finding("bridge", "cni0", "cni0 lacks its address 10.244.1.1/24", "ip addr add 10.244.1.1/24 dev cni0"));
  }

  @Test
  void missingBridge() {
    links.removeIf(l -> l.index() == CNI0);
    addresses.removeIf(a -> a.link() == CNI0);
    List<Finding> f = examine().findings();
    assertThat(f).extracting(Finding::problem).containsExactly("cni0 does not exist");
    assertThat(f.get(0).fix()).isEqualTo("systemctl restart tartan (it creates cni0 with 10.244.1.1/24)");
  }

  @Test
  void subnetFileMissingOrDisagreeing() {
    subnetFile = SubnetFile.missing(FILE);
    assertThat(examine().findings()).extracting(Finding::problem)
        .containsExactly("/run/flannel/subnet.env does not exist (the CNI plugin needs it)");
    assertThat(masqProbes.get()).isZero();

    subnetFile = new SubnetFile(FILE, SubnetEnv.of(net("10.244.0.0/16"), net("10.244.9.0/24"), 1400, false), null);
    assertThat(examine().findings()).extracting(Finding::problem).containsExactly(
        "FLANNEL_SUBNET is 10.244.9.1/24, this host's lease is 10.244.1.0/24",
        "FLANNEL_MTU is 1400, expected 1450");

    subnetFile = new SubnetFile(FILE, null, "subnet.env is missing FLANNEL_MTU");
    assertThat(examine().findings()).extracting(Finding::problem)
        .containsExactly("/run/flannel/subnet.env is unreadable: subnet.env is missing FLANNEL_MTU");
    assertThat(masqProbes.get()).isZero(); // FLANNEL_IPMASQ=false or unknown: no rules to expect
  }

  @Test
  void masqueradeChainMissingWhenTheFileAsksForIt() {
    masqMissing = List.of(MasqRules.MASQ_CHAIN); // every rule (and the jump into the chain)
    List<Finding> f = examine().findings();
    assertThat(f).hasSize(1);
    assertThat(f.get(0).check()).isEqualTo("masquerade");
    assertThat(f.get(0).where()).isEqualTo("iptables -t nat FLANNEL-POSTRTG");
    assertThat(f.get(0).problem()).startsWith("the masquerade rules are missing (FLANNEL_IPMASQ=true): -A POSTROUTING");

    masqMissing = List.of("MASQUERADE --random-fully"); // rules without --random-fully are all there
    assertThat(examine().findings()).isEmpty();

    masqMissing = List.of("-d 224.0.0.0/4");
    assertThat(examine().findings()).extracting(Finding::problem).singleElement().asString()
        .startsWith("1 of 7 masquerade rules missing, first: -A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4");
  }

  @Test
  void masqueradeRulesThatCannotBeReadAreAFinding() {
    masqFailure = new IptablesException("iptables-save not found; install it with apt-get install iptables");
    assertThat(examine().findings()).extracting(Finding::problem).containsExactly(
        "cannot read the masquerade rules: iptables-save not found; install it with apt-get install iptables");
  }

  @Test
  void leasesThatAreOutOfRangeOverlapOrCollide() {
    leases.add(vxlan("10.244.0.0/24", "198.51.100.10", "0e:00:00:00:00:10")); // below SubnetMin 10.244.1.0
    leases.add(vxlan("10.244.4.0/25", "198.51.100.11", "0e:00:00:00:00:11")); // wrong length
    leases.add(vxlan("10.99.0.0/24", "198.51.100.12", "0e:00:00:00:00:12")); // outside the Network
    leases.add(vxlan("10.244.8.0/23", "198.51.100.13", "0e:00:00:00:00:13")); // a /23 (old SubnetLen)...
    leases.add(vxlan("10.244.9.0/24", "198.51.100.15", "0e:00:00:00:00:15")); // ...overlapping this one
    leases.add(vxlan("10.244.5.0/24", "198.51.100.14", MAC2)); // VtepMAC of 10.244.2.0/24
    leases.add(vxlan("10.244.6.0/24", "198.51.100.2", "0e:00:00:00:00:16")); // a second lease of host .2
    leases.add(lease("10.244.7.0/24", "198.51.100.17", "udp", "{}"));
    List<String> problems = examine().findings().stream().filter(f -> f.check().equals("etcd"))
        .map(Finding::problem).toList();
    assertThat(problems).contains(
        "lease 10.244.0.0/24 is outside [SubnetMin 10.244.1.0, SubnetMax 10.244.255.0] (host 198.51.100.10)",
        "lease 10.244.4.0/25 has length /25, the network config says SubnetLen 24 (host 198.51.100.11)",
        "lease 10.99.0.0/24 is outside the Network 10.244.0.0/16 (host 198.51.100.12)",
        "lease 10.244.8.0/23 has length /23, the network config says SubnetLen 24 (host 198.51.100.13)",
        "lease 10.244.9.0/24 (host 198.51.100.15) conflicts with 10.244.8.0/23 (host 198.51.100.13): overlapping subnets;"
            + " peers program only 10.244.8.0/23",
        "lease 10.244.5.0/24 (host 198.51.100.14) conflicts with 10.244.2.0/24 (host 198.51.100.2): same VtepMAC "
            + MAC2 + "; peers program only 10.244.2.0/24",
        "2 leases for host 198.51.100.2: 10.244.2.0/24, 10.244.6.0/24; peers route all of them to it",
        "lease 10.244.7.0/24 (host 198.51.100.17) cannot be programmed: BackendType is \"udp\", not vxlan");
    assertThat(examine().findings()).filteredOn(f -> f.problem().startsWith("lease 10.244.0.0/24"))
        .extracting(Finding::where, Finding::fix)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(PREFIX + "10.244.0.0-24",
            "tartan leases release 10.244.0.0/24 (the host gets a valid subnet when its agent restarts)"));
  }

  @Test
  void thisHostIsTheLeaseOfALocalAddressUnlessToldOtherwise() {
    leases.removeIf(l -> l.subnet().equals(net("10.244.1.0/24")));
    Report r = examine();
    assertThat(r.host()).isNull();
    assertThat(r.findings()).extracting(Finding::problem)
        .containsExactly("no lease in etcd has a PublicIP of this host (198.51.100.1)");

    // behind NAT: the PublicIP is given
    leases.add(vxlan("10.244.1.0/24", "203.0.113.1", MAC1));
    identity = new Identity(ip("203.0.113.1"), "eth0");
    r = examine();
    assertThat(r.host().publicIp()).isEqualTo(ip("203.0.113.1"));
    assertThat(r.host().iface()).isEqualTo("eth0");
    assertThat(r.findings()).isEmpty();

    identity = new Identity(null, "eth9");
    assertThat(examine().findings()).extracting(Finding::problem).containsExactly("there is no interface eth9 on this host");
  }

  @Test
  void byInterfaceName() {
    identity = new Identity(null, "eth0");
    Report r = examine();
    assertThat(r.host().lease().subnet()).isEqualTo(net("10.244.1.0/24"));
    assertThat(r.findings()).isEmpty();
  }

  @Test
  void rulesAreThoseOfTheAgent() {
    // the probe sees exactly MasqRules' sets for this network and subnet
    List<String> seen = new ArrayList<>();
    KernelState k = new KernelState(links, addresses, routes, neighbours, fdb);
    Diagnosis.examine(new Diagnosis.Inputs(config(), PREFIX, leases, k, identity, subnetFile, set -> {
      seen.add(set.all().stream().map(Rule::text).reduce("", (a, b) -> a + b + "\n"));
      return List.of();
    }, "cni0"));
    assertThat(seen).contains(MasqRules.masquerade(net("10.244.0.0/16"), net("10.244.1.0/24"), false).all().stream()
        .map(Rule::text).reduce("", (a, b) -> a + b + "\n"));
  }
}
