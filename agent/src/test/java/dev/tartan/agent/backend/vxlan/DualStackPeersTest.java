package dev.tartan.agent.backend.vxlan;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.NetlinkMonitor;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.routing.DesiredState;
import dev.tartan.agent.routing.DriftWatcher;
import dev.tartan.agent.routing.KernelDiff;
import dev.tartan.agent.routing.PeerEntries;
import dev.tartan.agent.routing.PeerLog;
import dev.tartan.agent.routing.PeerSync;
import dev.tartan.agent.routing.Reconciler;
import dev.tartan.net.IpSubnet;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.SubnetLease;
import java.net.Inet6Address;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The IPv6 side of a dual-stack host (docs/flannel-compat.md §2.7): {@code flannel-v6.1}'s
 * entries from the leases' IPv6 parts, kept by a second {@link PeerSync} on the same leases, next
 * to the IPv4 one on {@code flannel.1}, both on one (fake) kernel.
 */
class DualStackPeersTest {
  static final Ipv4Subnet NETWORK = net("10.244.0.0/16");
  static final Ipv6Subnet NETWORK6 = Ipv6Subnet.parse("fd00:10::/48");
  static final Ipv4Subnet OWN = net("10.244.1.0/24");
  static final Ipv6Subnet OWN6 = Ipv6Subnet.parse("fd00:10:0:1::/64");
  static final SubnetLease P2 = dual("10.244.2.0/24", "fd00:10:0:2::/64", "198.51.100.2", "2001:db8::2", 2);
  static final SubnetLease P3 = dual("10.244.3.0/24", "fd00:10:0:3::/64", "198.51.100.3", "2001:db8::3", 3);
  static final SubnetLease P4 = dual("10.244.4.0/24", "fd00:10:0:4::/64", "198.51.100.4", "2001:db8::4", 4);
  static final SubnetLease V4ONLY = vxlan("10.244.5.0/24", "198.51.100.5", "5a:00:00:00:00:05");

  static Inet6Address ip6(String s) {
    return Ipv6Text.parse(s);
  }

  /** A dual-stack vxlan lease as flannel writes it: VtepMAC 5a:..:0N (IPv4), 6a:..:0N (IPv6). */
  static SubnetLease dual(String cidr, String cidr6, String publicIp, String publicIpv6, int n) {
    String data = "{\"VNI\":1,\"VtepMAC\":\"5a:00:00:00:00:0" + n + "\"}";
    String data6 = "{\"VNI\":1,\"VtepMAC\":\"6a:00:00:00:00:0" + n + "\"}";
    return new SubnetLease(net(cidr), Ipv6Subnet.parse(cidr6),
        new LeaseAttrs(ip(publicIp), ip6(publicIpv6), "vxlan", data, data6),
        Instant.parse("2026-12-01T00:00:00Z"), 7, 100);
  }

  FakeRtNetlink nl;
  VxlanNetwork v4;
  Vxlan6Network v6;
  Link dev4;
  Link dev6;
  PeerSync sync4;
  PeerSync sync6;
  DriftWatcher drift6;
  NetlinkMonitor monitor;

  final List<SubnetLease> all = List.of(P2, P3, V4ONLY,
      dual("10.244.1.0/24", "fd00:10:0:1::/64", "198.51.100.1", "2001:db8::1", 1)); // our own lease

  @BeforeEach
  void setUp() throws Exception {
    nl = new FakeRtNetlink();
    Link eth0 = nl.addLink("eth0", ip("198.51.100.1"));
    nl.replaceAddress(new Address(eth0.index(), ip6("2001:db8::1"), 64));
    VxlanBackendConfig cfg = VxlanBackendConfig.defaults();
    v4 = new VxlanNetwork(nl, cfg, NETWORK, ip("198.51.100.1"), eth0.index(), eth0.mtu(), "cni0");
    v6 = new Vxlan6Network(nl, cfg, NETWORK6, ip6("2001:db8::1"), eth0.index(), eth0.mtu(), "cni0");
    v4.ensureDevice();
    v6.ensureDevice();
    dev4 = v4.configure(OWN);
    dev6 = v6.configure(OWN, OWN6);
    PeerLog log4 = new PeerLog();
    PeerLog log6 = new PeerLog();
    Clock clock = Clock.systemUTC();
    sync4 = new PeerSync(v4, new Reconciler(nl, log4), log4, OWN, Duration.ofHours(1), Duration.ZERO, clock,
        UnaryOperator.identity());
    sync6 = new PeerSync(v6, new Reconciler(nl, log6, true), log6, OWN, Duration.ofHours(1), Duration.ZERO, clock,
        UnaryOperator.identity());
    DriftWatcher drift4 = new DriftWatcher(sync4.programmed(), v4.deviceName(), "cni0", sync4::repair, n -> { });
    drift6 = new DriftWatcher(sync6.programmed(), v6.deviceName(), "cni0", sync6::repair, n -> { });
    monitor = nl.monitor(drift4.andThen(drift6));
    sync4.onSnapshot(all);
    sync6.onSnapshot(all);
    sync4.runPass();
    sync6.runPass();
    nl.clearCalls();
  }

  @AfterEach
  void tearDown() {
    sync4.close();
    sync6.close();
  }

  List<String> kernel6() throws Exception {
    List<String> out = new ArrayList<>();
    for (Neighbour n : nl.neighbours6(dev6.index())) {
      out.add("neigh " + IpSubnet.text(n.ip()) + " " + n.mac());
    }
    for (FdbEntry e : nl.fdb(dev6.index())) {
      out.add("fdb " + e.mac() + " " + IpSubnet.text(e.dst()));
    }
    for (Route r : nl.routes6(Route.TABLE_MAIN, Route.PROTO_TARTAN)) {
      out.add("route " + r.dst() + " via " + IpSubnet.text(r.gateway()) + " dev " + r.link() + (r.onlink() ? " onlink" : ""));
    }
    out.sort(null);
    return out;
  }

  @Test
  void aFullPassOnTheIpv6DeviceReadsTheIpv6TablesWritesNothingInShapeAndDeletesAStaleRoute() throws Exception {
    List<String> before = kernel6();
    sync6.onSnapshot(all); // a re-list: a full dump and diff
    sync6.runPass();
    assertThat(nl.writes()).as("nothing changed: the full pass writes nothing").isEmpty();
    assertThat(kernel6()).isEqualTo(before);

    Ipv6Subnet gone = Ipv6Subnet.parse("fd00:10:0:9::/64");
    nl.replaceRoute(new Route(gone, ip6("fd00:10:0:9::"), dev6.index(), true, Route.TABLE_MAIN, Route.PROTO_TARTAN));
    sync6.onSnapshot(all);
    sync6.runPass();
    assertThat(kernel6()).as("our stale IPv6 route is removed").isEqualTo(before);
  }

  @Test
  void theIpv6DeviceGetsItsAddressAndTheBridgeItsGateway() throws Exception {
    assertThat(dev6.name()).isEqualTo("flannel-v6.1");
    assertThat(dev6.vxlan().orElseThrow().local()).isEqualTo(ip6("2001:db8::1"));
    assertThat(dev6.vxlan().orElseThrow().vni()).isEqualTo(1);
    assertThat(dev4.mtu()).isEqualTo(1450);
    assertThat(dev6.mtu()).as("the kernel's limit over an IPv6 underlay of 1500").isEqualTo(1430);
    assertThat(nl.linkByName("cni0").orElseThrow().mtu()).isEqualTo(1450);
    assertThat(v6.repair()).isFalse();
    assertThat(nl.writes()).as("a repair of a device in shape writes nothing").isEmpty();
    assertThat(dev6.up()).isTrue();
    assertThat(nl.addresses6(dev6.index())).containsExactly(new Address(dev6.index(), ip6("fd00:10:0:1::"), 128));
    Link cni0 = nl.linkByName("cni0").orElseThrow();
    assertThat(nl.addresses6(cni0.index())).containsExactly(new Address(cni0.index(), ip6("fd00:10:0:1::1"), 64));
    assertThat(nl.addresses(cni0.index())).containsExactly(new Address(cni0.index(), ip("10.244.1.1"), 24));
    assertThat(v6.leaseData().vtepMac()).isEqualTo(dev6.mac()).isNotEqualTo(dev4.mac());
  }

  @Test
  void dualStackPeersGetIpv6EntriesAndIpv4OnlyPeersNone() throws Exception {
    assertThat(kernel6()).containsExactly(
        "fdb 6a:00:00:00:00:02 2001:db8::2",
        "fdb 6a:00:00:00:00:03 2001:db8::3",
        "neigh fd00:10:0:2:: 6a:00:00:00:00:02",
        "neigh fd00:10:0:3:: 6a:00:00:00:00:03",
        "route fd00:10:0:2::/64 via fd00:10:0:2:: dev " + dev6.index() + " onlink",
        "route fd00:10:0:3::/64 via fd00:10:0:3:: dev " + dev6.index() + " onlink");
    // the IPv4 side has all three remote peers, each on flannel.1 only
    assertThat(nl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).extracting(Route::dst)
        .containsExactlyInAnyOrder(net("10.244.2.0/24"), net("10.244.3.0/24"), net("10.244.5.0/24"));
    assertThat(nl.fdb(dev4.index())).extracting(FdbEntry::dst).allMatch(d -> d.getAddress().length == 4);
    assertThat(sync6.programmedPeers()).isEqualTo(2);
  }

  @Test
  void anEventWritesThatPeersIpv6EntriesOnlyInOneBatch() throws Exception {
    sync6.onEvents(List.of(new LeaseEvent.Added(P4)));
    sync6.runPass();
    assertThat(nl.writes()).containsExactly("replaceNeighbour", "replaceFdb", "replaceRoute");
    assertThat(nl.dumps()).isZero();
    assertThat(nl.batches()).isEqualTo(1);
    assertThat(kernel6()).contains("neigh fd00:10:0:4:: 6a:00:00:00:00:04", "fdb 6a:00:00:00:00:04 2001:db8::4");

    nl.clearCalls();
    sync6.onEvents(List.of(new LeaseEvent.Removed(P3, LeaseEvent.Cause.DELETED)));
    sync6.runPass();
    assertThat(nl.writes()).containsExactly("deleteRoute", "deleteFdb", "deleteNeighbour");
    assertThat(kernel6()).noneMatch(l -> l.contains(":3"));
  }

  @Test
  void aPeerThatDropsItsIpv6PartLosesItsIpv6EntriesOnly() throws Exception {
    SubnetLease p2v4 = vxlan("10.244.2.0/24", "198.51.100.2", "5a:00:00:00:00:02");
    sync6.onEvents(List.of(new LeaseEvent.Added(p2v4)));
    sync6.runPass();
    assertThat(nl.writes()).containsExactly("deleteRoute", "deleteFdb", "deleteNeighbour");
    assertThat(kernel6()).noneMatch(l -> l.contains(":2"));
  }

  @Test
  void deletedIpv6EntriesAreRepairedOneByOne() throws Exception {
    nl.deleteNeighbour(Neighbour.permanent(dev6.index(), ip6("fd00:10:0:2::"), "6a:00:00:00:00:02"));
    nl.deleteRoute(Route.overlay(Ipv6Subnet.parse("fd00:10:0:3::/64"), ip6("fd00:10:0:3::"), dev6.index()));
    nl.deleteFdb(new FdbEntry(dev6.index(), "6a:00:00:00:00:03", ip6("2001:db8::3")));
    nl.clearCalls();

    sync6.runPass();
    sync4.runPass();

    assertThat(drift6.count(DriftWatcher.Kind.NEIGHBOUR)).isEqualTo(1);
    assertThat(drift6.count(DriftWatcher.Kind.ROUTE)).isEqualTo(1);
    assertThat(drift6.count(DriftWatcher.Kind.FDB)).isEqualTo(1);
    assertThat(nl.writes()).containsExactlyInAnyOrder("replaceNeighbour", "replaceFdb", "replaceRoute");
    assertThat(nl.dumps()).isZero();
    assertThat(kernel6()).hasSize(6);
  }

  @Test
  void aDeletedIpv6DeviceIsRecreatedWithItsMacAndEveryEntry() throws Exception {
    String mac = dev6.mac();
    nl.deleteLink(dev6.index());
    sync6.runPass();
    Link again = nl.linkByName("flannel-v6.1").orElseThrow();
    assertThat(again.mac()).isEqualTo(mac);
    dev6 = again;
    assertThat(nl.addresses6(again.index())).containsExactly(new Address(again.index(), ip6("fd00:10:0:1::"), 128));
    assertThat(kernel6()).hasSize(6);
    assertThat(nl.fdb(dev6.index())).extracting(FdbEntry::dst).containsExactlyInAnyOrder(ip6("2001:db8::2"), ip6("2001:db8::3"));
  }

  @Test
  void theFullDiffReadsTheIpv6TablesAndRemovesStaleEntriesOfOursOnly() throws Exception {
    // an entry of ours that no lease wants any more, and a route of someone else on the device
    Route stale = Route.overlay(Ipv6Subnet.parse("fd00:10:0:9::/64"), ip6("fd00:10:0:9::"), dev6.index());
    nl.replaceRoute(stale);
    Route foreign = new Route(Ipv6Subnet.parse("fd00:99::/64"), null, dev6.index(), false, Route.TABLE_MAIN, 3);
    nl.replaceRoute(foreign);
    KernelDiff.Actual actual = new Reconciler(nl, new PeerLog(), true).read(dev6.index());
    assertThat(actual.routes()).containsKey(stale.dst()).doesNotContainKey(foreign.dst());
    DesiredState desired = v6.desired(List.of(P2, P3, V4ONLY));
    KernelDiff.Plan plan = KernelDiff.full(desired, actual);
    assertThat(plan.routeDel()).containsExactly(stale);
    assertThat(plan.size()).isEqualTo(1);
    // and the IPv4 reconciler never sees IPv6 routes
    assertThat(new Reconciler(nl, new PeerLog()).read(dev6.index()).routes()).isEmpty();
  }

  @Test
  void leasesWithABrokenIpv6PartAreSkippedAndConflictsResolved() {
    SubnetLease noData = new SubnetLease(net("10.244.6.0/24"), Ipv6Subnet.parse("fd00:10:0:6::/64"),
        new LeaseAttrs(ip("198.51.100.6"), ip6("2001:db8::6"), "vxlan", "{\"VNI\":1,\"VtepMAC\":\"5a:00:00:00:00:06\"}",
            null), null, 0, 0);
    SubnetLease noPublic = new SubnetLease(net("10.244.7.0/24"), Ipv6Subnet.parse("fd00:10:0:7::/64"),
        new LeaseAttrs(ip("198.51.100.7"), null, "vxlan", "{\"VNI\":1,\"VtepMAC\":\"5a:00:00:00:00:07\"}",
            "{\"VNI\":1,\"VtepMAC\":\"6a:00:00:00:00:07\"}"), null, 0, 0);
    SubnetLease overlapsOwn = dual("10.244.8.0/24", "fd00:10:0:1::/64", "198.51.100.8", "2001:db8::8", 8);
    SubnetLease sameMac = new SubnetLease(net("10.244.9.0/24"), Ipv6Subnet.parse("fd00:10:0:9::/64"),
        new LeaseAttrs(ip("198.51.100.9"), ip6("2001:db8::9"), "vxlan", "{\"VNI\":1,\"VtepMAC\":\"5a:00:00:00:00:09\"}",
            "{\"VNI\":1,\"VtepMAC\":\"6a:00:00:00:00:02\"}"), null, 0, 0);
    DesiredState d = VxlanPeers.desired6(OWN, OWN6, 9, List.of(P2, noData, noPublic, overlapsOwn, sameMac, V4ONLY));
    assertThat(d.routes()).extracting(Route::dst).containsExactly(Ipv6Subnet.parse("fd00:10:0:2::/64"));
    assertThat(d.owners()).containsEntry(Ipv6Subnet.parse("fd00:10:0:2::/64"), net("10.244.2.0/24"));
    assertThat(d.skipped()).extracting(DesiredState.Skipped::subnet)
        .containsExactly(net("10.244.6.0/24"), net("10.244.7.0/24"));
    assertThat(d.skipped().get(0).reason()).contains("without BackendV6Data");
    assertThat(d.skipped().get(1).reason()).contains("without a PublicIPv6");
    assertThat(d.conflicts()).extracting(DesiredState.Conflict::dropped)
        .containsExactly(net("10.244.8.0/24"), net("10.244.9.0/24"));
    assertThat(VxlanPeers.peer6(9, V4ONLY)).isInstanceOf(DesiredState.Absent.class);
    PeerEntries p = (PeerEntries) VxlanPeers.peer6(9, P2);
    assertThat(p.subnet()).isEqualTo(net("10.244.2.0/24"));
    assertThat(p.name()).isEqualTo("10.244.2.0/24 (fd00:10:0:2::/64)");
  }
}
