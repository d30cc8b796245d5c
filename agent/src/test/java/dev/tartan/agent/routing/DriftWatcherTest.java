package dev.tartan.agent.routing;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.backend.Bridge;
import dev.tartan.agent.backend.vxlan.VxlanBackendConfig;
import dev.tartan.agent.backend.vxlan.VxlanDevice;
import dev.tartan.agent.backend.vxlan.VxlanPeers;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.NetlinkEvent;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.routing.DriftWatcher.Kind;
import dev.tartan.net.Ipv4Subnet;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DriftWatcherTest {
  static final Ipv4Subnet NETWORK = net("10.244.0.0/16");
  static final Ipv4Subnet OWN = net("10.244.1.0/24");

  FakeRtNetlink nl;
  Link dev;
  Link bridge;
  Reconciler reconciler;
  DriftWatcher watcher;
  final AtomicInteger repairs = new AtomicInteger();
  final List<String> lost = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    nl = new FakeRtNetlink();
    Link eth0 = nl.addLink("eth0", ip("198.51.100.1"));
    dev = VxlanDevice.ensureAddress(nl, VxlanDevice.ensure(nl,
        VxlanDevice.spec(VxlanBackendConfig.defaults(), ip("198.51.100.1"), eth0.index(), 1500)),
        NETWORK, OWN);
    bridge = Bridge.ensure(nl, "cni0", NETWORK, OWN, 1450);
    reconciler = new Reconciler(nl);
    watcher = new DriftWatcher(TestProgrammed.of(reconciler::lastApplied), "flannel.1", "cni0",
        r -> repairs.incrementAndGet(), lost::add);
    nl.monitor(watcher);
    reconciler.reconcile(desired("10.244.2.0/24", "10.244.3.0/24"));
    repairs.set(0);
  }

  DesiredState desired(String... subnets) {
    List<dev.tartan.store.SubnetLease> leases = new ArrayList<>();
    for (String s : subnets) {
      int n = Integer.parseInt(s.split("\\.")[2]);
      leases.add(vxlan(s, "198.51.100." + n, String.format("5a:00:00:00:00:%02x", n)));
    }
    return VxlanPeers.desired(OWN, dev.index(), leases);
  }

  @Test
  void ourOwnChangesAreNotDrift() throws Exception {
    reconciler.reconcile(desired("10.244.2.0/24", "10.244.4.0/24")); // adds one, removes one
    reconciler.reconcile(desired("10.244.2.0/24", "10.244.4.0/24"));

    assertThat(repairs).hasValue(0);
    assertThat(watcher.counts().values()).allMatch(v -> v == 0);
  }

  @Test
  void aDeletedRouteTriggersARepair() throws Exception {
    nl.deleteRoute(Route.overlay(net("10.244.3.0/24"), ip("10.244.3.0"), dev.index()));

    assertThat(repairs).hasValue(1);
    assertThat(watcher.count(Kind.ROUTE)).isEqualTo(1);
    // and the repair puts it back
    ReconcileResult r = reconciler.reconcile(desired("10.244.2.0/24", "10.244.3.0/24"));
    assertThat(r.routes().added()).isEqualTo(1);
  }

  @Test
  void aRouteReplacedBySomeoneElseIsDrift() throws Exception {
    nl.replaceRoute(new Route(net("10.244.3.0/24"), ip("10.244.2.0"), dev.index(), true, 254,
        Route.PROTO_BOOT));

    assertThat(watcher.count(Kind.ROUTE)).isEqualTo(1);
  }

  @Test
  void unrelatedRoutesAreNotDrift() throws Exception {
    Link eth0 = nl.linkByName("eth0").orElseThrow();
    nl.replaceRoute(new Route(net("10.99.0.0/16"), ip("198.51.100.254"), eth0.index(), false, 254,
        Route.PROTO_BOOT));
    nl.deleteRoute(new Route(net("10.99.0.0/16"), null, 0, false, 254, 0));

    assertThat(repairs).hasValue(0);
  }

  @Test
  void aDeletedOrRewrittenNeighbourIsDrift() throws Exception {
    nl.deleteNeighbour(Neighbour.permanent(dev.index(), ip("10.244.2.0"), "5a:00:00:00:00:02"));
    nl.replaceNeighbour(Neighbour.permanent(dev.index(), ip("10.244.3.0"), "5a:00:00:00:00:99"));

    assertThat(watcher.count(Kind.NEIGHBOUR)).isEqualTo(2);
    assertThat(repairs).hasValue(2);
  }

  @Test
  void aDeletedOrMovedFdbEntryIsDrift() throws Exception {
    nl.deleteFdb(new FdbEntry(dev.index(), "5a:00:00:00:00:02", ip("198.51.100.2")));
    nl.replaceFdb(new FdbEntry(dev.index(), "5a:00:00:00:00:03", ip("203.0.113.3")));

    assertThat(watcher.count(Kind.FDB)).isEqualTo(2);
  }

  @Test
  void aDeletedDeviceIsReportedAndRepaired() throws Exception {
    nl.deleteLink(dev.index());

    assertThat(lost).contains("flannel.1");
    assertThat(watcher.count(Kind.DEVICE)).isEqualTo(1);
    assertThat(repairs.get()).isPositive();
  }

  @Test
  void aDeviceSetDownIsReported() throws Exception {
    nl.setUp(dev.index(), false);

    assertThat(lost).containsExactly("flannel.1");
    assertThat(watcher.count(Kind.DEVICE)).isEqualTo(1);
  }

  @Test
  void aDeletedBridgeIsReported() throws Exception {
    nl.deleteLink(bridge.index());

    assertThat(lost).containsExactly("cni0");
    assertThat(watcher.count(Kind.BRIDGE)).isEqualTo(1);
  }

  @Test
  void aBridgeSetDownAfterBeingSeenUpIsReported() throws Exception {
    nl.setUp(bridge.index(), false); // first state seen: not counted (could be a fresh bridge)
    nl.setUp(bridge.index(), true);
    assertThat(lost).isEmpty();

    nl.setUp(bridge.index(), false);

    assertThat(lost).containsExactly("cni0");
    assertThat(watcher.count(Kind.BRIDGE)).isEqualTo(1);
  }

  @Test
  void aRecreatedDeviceComingUpIsNotDrift() throws Exception {
    nl.deleteLink(dev.index());
    repairs.set(0);
    Link fresh = VxlanDevice.ensure(nl, VxlanDevice.spec(VxlanBackendConfig.defaults(),
        ip("198.51.100.1"), nl.linkByName("eth0").orElseThrow().index(), 1500));
    VxlanDevice.ensureAddress(nl, fresh, NETWORK, OWN);

    assertThat(repairs).hasValue(0);
    assertThat(watcher.count(Kind.DEVICE)).isEqualTo(1); // the deletion only
  }

  @Test
  void anOverrunForcesAResync() {
    nl.emit(new NetlinkEvent.Overrun());

    assertThat(repairs).hasValue(1);
    assertThat(watcher.count(Kind.OVERRUN)).isEqualTo(1);
  }

  @Test
  void beforeTheFirstPassOnlyLinksAndOverrunsCount() {
    DriftWatcher fresh = new DriftWatcher(TestProgrammed.of(() -> null), "flannel.1", null,
        r -> repairs.incrementAndGet(), lost::add);
    fresh.accept(new NetlinkEvent.RouteChanged(
        Route.overlay(net("10.244.3.0/24"), ip("10.244.3.0"), dev.index()), true));
    assertThat(repairs).hasValue(0);
    fresh.accept(new NetlinkEvent.LinkChanged(dev, true));
    assertThat(repairs).hasValue(1);
  }
}
