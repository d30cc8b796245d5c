package dev.tartan.agent.routing;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.backend.vxlan.VxlanBackendConfig;
import dev.tartan.agent.backend.vxlan.VxlanDevice;
import dev.tartan.agent.backend.vxlan.VxlanPeers;
import dev.tartan.agent.netlink.Errno;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink.Call;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.SubnetLease;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ReconcilerTest {
  static final Ipv4Subnet NETWORK = net("10.244.0.0/16");
  static final Ipv4Subnet OWN = net("10.244.1.0/24");
  static final Set<String> WRITES = Set.of("replaceNeighbour", "deleteNeighbour", "replaceFdb",
      "deleteFdb", "appendFdb", "replaceRoute", "deleteRoute");

  FakeRtNetlink nl;
  Link dev;
  Reconciler reconciler;

  static final SubnetLease P2 = vxlan("10.244.2.0/24", "198.51.100.2", "5a:00:00:00:00:02");
  static final SubnetLease P3 = vxlan("10.244.3.0/24", "198.51.100.3", "5a:00:00:00:00:03");
  static final SubnetLease P4 = vxlan("10.244.4.0/24", "198.51.100.4", "5a:00:00:00:00:04");

  @BeforeEach
  void setUp() throws Exception {
    nl = new FakeRtNetlink();
    Link eth0 = nl.addLink("eth0", ip("198.51.100.1"));
    Link created = VxlanDevice.ensure(nl,
        VxlanDevice.spec(VxlanBackendConfig.defaults(), ip("198.51.100.1"), eth0.index(), 1500));
    dev = VxlanDevice.ensureAddress(nl, created, NETWORK, OWN);
    reconciler = new Reconciler(nl);
    nl.clearCalls();
  }

  DesiredState desired(SubnetLease... leases) {
    return VxlanPeers.desired(OWN, dev.index(), List.of(leases));
  }

  List<String> writes() {
    List<String> out = new ArrayList<>();
    for (Call c : nl.calls()) {
      if (WRITES.contains(c.op())) {
        out.add(c.op());
      }
    }
    return out;
  }

  List<Route> ourRoutes() throws Exception {
    return nl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN);
  }

  @Test
  void addsNeighbourThenFdbThenRoute() throws Exception {
    ReconcileResult r = reconciler.reconcile(desired(P2, P3, P4));

    assertThat(writes()).containsExactly(
        "replaceNeighbour", "replaceNeighbour", "replaceNeighbour",
        "replaceFdb", "replaceFdb", "replaceFdb",
        "replaceRoute", "replaceRoute", "replaceRoute");
    assertThat(nl.neighbours(dev.index())).containsExactlyInAnyOrder(
        Neighbour.permanent(dev.index(), ip("10.244.2.0"), "5a:00:00:00:00:02"),
        Neighbour.permanent(dev.index(), ip("10.244.3.0"), "5a:00:00:00:00:03"),
        Neighbour.permanent(dev.index(), ip("10.244.4.0"), "5a:00:00:00:00:04"));
    assertThat(nl.fdb(dev.index())).containsExactlyInAnyOrder(
        new FdbEntry(dev.index(), "5a:00:00:00:00:02", ip("198.51.100.2")),
        new FdbEntry(dev.index(), "5a:00:00:00:00:03", ip("198.51.100.3")),
        new FdbEntry(dev.index(), "5a:00:00:00:00:04", ip("198.51.100.4")));
    assertThat(ourRoutes()).containsExactlyInAnyOrder(
        Route.overlay(net("10.244.2.0/24"), ip("10.244.2.0"), dev.index()),
        Route.overlay(net("10.244.3.0/24"), ip("10.244.3.0"), dev.index()),
        Route.overlay(net("10.244.4.0/24"), ip("10.244.4.0"), dev.index()));
    assertThat(r.peersAdded()).isEqualTo(3);
    assertThat(r.writes()).isEqualTo(9);
    assertThat(r.failures()).isZero();
    assertThat(r.routes()).isEqualTo(new ReconcileResult.Counts(3, 3, 3, 0, 0));
    assertThat(reconciler.lastApplied()).isEqualTo(desired(P2, P3, P4));
  }

  @Test
  void aSecondRunWithNothingChangedWritesNothing() throws Exception {
    reconciler.reconcile(desired(P2, P3, P4));
    nl.clearCalls();

    ReconcileResult r = reconciler.reconcile(desired(P2, P3, P4));

    assertThat(writes()).isEmpty();
    assertThat(nl.calls()).extracting(Call::op).containsExactly("neighbours", "fdb", "routes");
    assertThat(r.writes()).isZero();
    assertThat(r.neighbours()).isEqualTo(new ReconcileResult.Counts(3, 3, 0, 0, 0));
  }

  @Test
  void removesRouteThenFdbThenNeighbour() throws Exception {
    reconciler.reconcile(desired(P2, P3, P4));
    nl.clearCalls();

    ReconcileResult r = reconciler.reconcile(desired(P2, P4));

    assertThat(writes()).containsExactly("deleteRoute", "deleteFdb", "deleteNeighbour");
    assertThat(ourRoutes()).extracting(Route::dst)
        .containsExactlyInAnyOrder(net("10.244.2.0/24"), net("10.244.4.0/24"));
    assertThat(nl.neighbours(dev.index())).extracting(Neighbour::ip)
        .doesNotContain(ip("10.244.3.0"));
    assertThat(nl.fdb(dev.index())).extracting(FdbEntry::mac).doesNotContain("5a:00:00:00:00:03");
    assertThat(r.peersRemoved()).isEqualTo(1);
    assertThat(r.routes()).isEqualTo(new ReconcileResult.Counts(2, 2, 0, 1, 0));
  }

  @Test
  void addsComeBeforeRemovalsInOneBatch() throws Exception {
    reconciler.reconcile(desired(P2, P3));
    nl.clearCalls();

    reconciler.reconcile(desired(P2, P4));

    assertThat(writes()).containsExactly("replaceNeighbour", "replaceFdb", "replaceRoute",
        "deleteRoute", "deleteFdb", "deleteNeighbour");
  }

  @Test
  void aChangedVtepMacReplacesTheNeighbourAndDeletesTheOldFdbEntry() throws Exception {
    reconciler.reconcile(desired(P2, P3));
    nl.clearCalls();
    SubnetLease p3new = vxlan("10.244.3.0/24", "198.51.100.3", "5a:00:00:00:00:33");

    ReconcileResult r = reconciler.reconcile(desired(P2, p3new));

    assertThat(writes()).containsExactly("replaceNeighbour", "replaceFdb", "deleteFdb");
    assertThat(nl.fdb(dev.index())).containsExactlyInAnyOrder(
        new FdbEntry(dev.index(), "5a:00:00:00:00:02", ip("198.51.100.2")),
        new FdbEntry(dev.index(), "5a:00:00:00:00:33", ip("198.51.100.3")));
    assertThat(nl.neighbours(dev.index())).contains(
        Neighbour.permanent(dev.index(), ip("10.244.3.0"), "5a:00:00:00:00:33"));
    assertThat(ourRoutes()).hasSize(2);
    assertThat(r.peersAdded()).isZero();
    assertThat(r.peersRemoved()).isZero();
    assertThat(r.fdb()).isEqualTo(new ReconcileResult.Counts(2, 2, 1, 1, 0));
  }

  @Test
  void aChangedPublicIpRewritesTheFdbEntryOnly() throws Exception {
    reconciler.reconcile(desired(P2));
    nl.clearCalls();

    reconciler.reconcile(desired(vxlan("10.244.2.0/24", "203.0.113.2", "5a:00:00:00:00:02")));

    assertThat(writes()).containsExactly("replaceFdb");
    assertThat(nl.fdb(dev.index())).containsExactly(
        new FdbEntry(dev.index(), "5a:00:00:00:00:02", ip("203.0.113.2")));
  }

  @Test
  void staleEntriesOfOursAreRemovedAndOthersAreLeftAlone() throws Exception {
    Link eth0 = nl.linkByName("eth0").orElseThrow();
    // stale: left over from a peer that went away while the agent was down
    nl.replaceNeighbour(Neighbour.permanent(dev.index(), ip("10.244.9.0"), "5a:00:00:00:00:09"));
    nl.replaceFdb(new FdbEntry(dev.index(), "5a:00:00:00:00:09", ip("198.51.100.9")));
    nl.replaceRoute(Route.overlay(net("10.244.9.0/24"), ip("10.244.9.0"), dev.index()));
    // not ours: a dynamic neighbour, a route of another protocol, a route on another device
    nl.replaceNeighbour(new Neighbour(dev.index(), ip("10.244.8.0"), "5a:00:00:00:00:08", 0x02));
    Route boot = new Route(net("10.244.7.0/24"), ip("10.244.7.0"), dev.index(), true, 254,
        Route.PROTO_BOOT);
    nl.replaceRoute(boot);
    Route other = new Route(net("10.99.0.0/16"), ip("198.51.100.254"), eth0.index(), false, 254,
        Route.PROTO_TARTAN);
    nl.replaceRoute(other);
    nl.clearCalls();

    ReconcileResult r = reconciler.reconcile(desired(P2));

    assertThat(ourRoutes()).containsExactlyInAnyOrder(
        Route.overlay(net("10.244.2.0/24"), ip("10.244.2.0"), dev.index()), other);
    assertThat(nl.routes(254, Route.PROTO_BOOT)).contains(boot);
    assertThat(nl.neighbours(dev.index())).extracting(Neighbour::ip)
        .containsExactlyInAnyOrder(ip("10.244.2.0"), ip("10.244.8.0"));
    assertThat(nl.fdb(dev.index())).extracting(FdbEntry::mac).containsExactly("5a:00:00:00:00:02");
    assertThat(r.routes().removed()).isEqualTo(1);
    assertThat(r.fdb().removed()).isEqualTo(1);
    assertThat(r.neighbours().removed()).isEqualTo(1);
    assertThat(r.peersRemoved()).isEqualTo(1);
  }

  @Test
  void anEmptyDesiredStateClearsEverythingOfOurs() throws Exception {
    reconciler.reconcile(desired(P2, P3, P4));

    ReconcileResult r = reconciler.reconcile(DesiredState.empty(dev.index()));

    assertThat(ourRoutes()).isEmpty();
    assertThat(nl.neighbours(dev.index())).isEmpty();
    assertThat(nl.fdb(dev.index())).isEmpty();
    assertThat(r.peersRemoved()).isEqualTo(3);
  }

  @Test
  void aRefusedRequestIsCountedAndDoesNotStopTheOthers() throws Exception {
    nl.failNext("replaceFdb", Errno.ENOBUFS);

    ReconcileResult r = reconciler.reconcile(desired(P2, P3, P4));

    assertThat(r.failures()).isEqualTo(1);
    assertThat(r.fdb()).isEqualTo(new ReconcileResult.Counts(3, 2, 2, 0, 1));
    assertThat(r.peersAdded()).isEqualTo(2);
    assertThat(ourRoutes()).hasSize(3);
    assertThat(nl.fdb(dev.index())).hasSize(2);

    nl.clearCalls();
    ReconcileResult again = reconciler.reconcile(desired(P2, P3, P4));
    assertThat(writes()).containsExactly("replaceFdb");
    assertThat(again.failures()).isZero();
    assertThat(nl.fdb(dev.index())).hasSize(3);
  }

  @Test
  void deletingSomethingAlreadyGoneIsNotAFailure() throws Exception {
    reconciler.reconcile(desired(P2));
    DesiredState none = DesiredState.empty(dev.index());
    // the route vanishes between the dump and the delete: the fake answers ESRCH
    nl.failNext("deleteRoute", Errno.ESRCH);

    ReconcileResult r = reconciler.reconcile(none);

    assertThat(r.failures()).isZero();
  }

  @Test
  void entriesOnAnotherLinkAreNeverTouched() throws Exception {
    reconciler.reconcile(desired(P2));
    Link other = nl.createVxlan(new dev.tartan.agent.netlink.rtnl.VxlanSpec("vx9", 9, null, 0, 0,
        false, false, null, 0, null));
    nl.setUp(other.index(), true);
    nl.replaceNeighbour(Neighbour.permanent(other.index(), ip("10.9.0.0"), "5a:00:00:00:09:00"));
    nl.replaceRoute(Route.overlay(net("10.9.0.0/24"), ip("10.9.0.0"), other.index()));
    nl.clearCalls();

    reconciler.reconcile(desired(P2));

    assertThat(writes()).isEmpty();
  }

  @Test
  void manyPeersTakeOneDumpPerKindAndOneBatch() throws Exception {
    List<SubnetLease> leases = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      leases.add(vxlan("10." + (100 + i / 256) + "." + (i % 256) + ".0/24",
          "198.51.100." + (1 + i % 250), String.format("5a:00:00:00:%02x:%02x", i / 256, i % 256)));
    }
    DesiredState d = VxlanPeers.desired(OWN, dev.index(), leases);

    ReconcileResult r = reconciler.reconcile(d);

    assertThat(r.writes()).isEqualTo(6000);
    assertThat(r.peersAdded()).isEqualTo(2000);
    assertThat(nl.calls()).filteredOn(c -> !WRITES.contains(c.op())).extracting(Call::op)
        .containsExactly("neighbours", "fdb", "routes");
    nl.clearCalls();
    assertThat(reconciler.reconcile(d).writes()).isZero();
    assertThat(nl.calls()).hasSize(3);
  }
}
