package dev.tartan.agent.routing;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.backend.vxlan.VxlanBackendConfig;
import dev.tartan.agent.backend.vxlan.VxlanNetwork;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.SubnetLease;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * VXLAN DirectRouting through the peer path on the fake kernel: each peer is exactly one of the two
 * forms; a peer that moves switches at its event (its operations only, no dump) and a change of the
 * underlay is picked up by the next resync.
 */
class PeerSyncDirectTest {
  static final Ipv4Subnet NETWORK = net("10.244.0.0/16");
  static final Ipv4Subnet OWN = net("10.244.1.0/24");
  static final SubnetLease P2 = vxlan("10.244.2.0/24", "198.51.100.2", "5a:00:00:00:00:02");
  static final SubnetLease P3 = vxlan("10.244.3.0/24", "203.0.113.3", "5a:00:00:00:00:03");
  static final Duration RESYNC = Duration.ofSeconds(10);

  FakeRtNetlink nl;
  Link eth0;
  Link dev;
  dev.tartan.store.testing.ManualClock clock;
  PeerSync sync;
  DriftWatcher drift;

  @BeforeEach
  void setUp() throws Exception {
    nl = new FakeRtNetlink();
    eth0 = nl.addLink("eth0", ip("198.51.100.1"));
    nl.replaceRoute(new Route(net("0.0.0.0/0"), ip("198.51.100.254"), eth0.index(), false, Route.TABLE_MAIN,
        Route.PROTO_BOOT));
    VxlanNetwork network = new VxlanNetwork(nl, new VxlanBackendConfig(1, 0, 0, false, false, true), NETWORK,
        ip("198.51.100.1"), eth0.index(), eth0.mtu(), "cni0");
    network.ensureDevice();
    dev = network.configure(OWN);
    clock = new dev.tartan.store.testing.ManualClock(PeerSyncTest.START);
    PeerLog log = new PeerLog();
    sync = new PeerSync(network, new Reconciler(nl, log), log, OWN, RESYNC, Duration.ZERO, clock,
        UnaryOperator.identity());
    drift = new DriftWatcher(sync.programmed(), network.deviceName(), "cni0", sync::repair, name -> { });
    nl.monitor(event -> {
      network.kernelChanged(event);
      drift.accept(event);
    });
    sync.onSnapshot(List.of(P2, P3));
    sync.runPass();
    nl.clearCalls();
  }

  @AfterEach
  void tearDown() {
    sync.close();
  }

  List<String> kernel() throws Exception {
    List<String> out = new ArrayList<>();
    for (Neighbour n : nl.neighbours(dev.index())) {
      out.add("neigh " + n.ip().getHostAddress() + " " + n.mac());
    }
    for (FdbEntry e : nl.fdb(dev.index())) {
      out.add("fdb " + e.mac() + " " + e.dst().getHostAddress());
    }
    for (Route r : nl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)) {
      out.add("route " + r.dst() + " via " + r.gateway().getHostAddress() + " dev "
          + (r.link() == eth0.index() ? "eth0" : r.link() == dev.index() ? "flannel.1" : r.link())
          + (r.onlink() ? " onlink" : ""));
    }
    out.sort(null);
    return out;
  }

  @Test
  void eachPeerIsExactlyOneOfTheTwoForms() throws Exception {
    assertThat(kernel()).containsExactly(
        "fdb 5a:00:00:00:00:03 203.0.113.3",
        "neigh 10.244.3.0 5a:00:00:00:00:03",
        "route 10.244.2.0/24 via 198.51.100.2 dev eth0",
        "route 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink");
  }

  @Test
  void aPeerMovingOntoTheL2SwitchesToTheDirectRouteAtItsEvent() throws Exception {
    sync.onEvents(List.of(new LeaseEvent.Added(vxlan("10.244.3.0/24", "198.51.100.3", "5a:00:00:00:00:03"))));
    sync.runPass();

    assertThat(nl.dumps()).isZero();
    assertThat(nl.writes()).containsExactly("replaceRoute", "deleteFdb", "deleteNeighbour");
    assertThat(kernel()).containsExactly(
        "route 10.244.2.0/24 via 198.51.100.2 dev eth0",
        "route 10.244.3.0/24 via 198.51.100.3 dev eth0");
    assertThat(drift.counts().values()).allMatch(v -> v == 0);
  }

  @Test
  void aPeerMovingOffTheL2SwitchesToVxlanAtItsEvent() throws Exception {
    sync.onEvents(List.of(new LeaseEvent.Added(vxlan("10.244.2.0/24", "203.0.113.2", "5a:00:00:00:00:02"))));
    sync.runPass();

    assertThat(nl.dumps()).isZero();
    assertThat(nl.writes()).containsExactly("replaceNeighbour", "replaceFdb", "replaceRoute");
    assertThat(kernel()).contains(
        "fdb 5a:00:00:00:00:02 203.0.113.2",
        "neigh 10.244.2.0 5a:00:00:00:00:02",
        "route 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink");
  }

  @Test
  void aChangedUnderlaySwitchesPeersAtTheNextResync() throws Exception {
    nl.deleteAddress(new Address(eth0.index(), ip("198.51.100.1"), 24)); // 198.51.100.0/24 is no longer on-link
    nl.replaceRoute(new Route(net("198.51.100.0/24"), ip("198.51.100.254"), eth0.index(), true, Route.TABLE_MAIN,
        Route.PROTO_BOOT));
    clock.advance(RESYNC.plusSeconds(1));
    ReconcileResult r = sync.runPass();
    assertThat(r.routes().added()).isEqualTo(1); // 10.244.2.0/24 replaced by its VXLAN route

    assertThat(kernel()).containsExactly(
        "fdb 5a:00:00:00:00:02 198.51.100.2",
        "fdb 5a:00:00:00:00:03 203.0.113.3",
        "neigh 10.244.2.0 5a:00:00:00:00:02",
        "neigh 10.244.3.0 5a:00:00:00:00:03",
        "route 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink",
        "route 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink");
  }

  @Test
  void aResyncAsksTheKernelOnlyAfterItsRoutesChanged() throws Exception {
    clock.advance(RESYNC.plusSeconds(1));
    sync.runPass();
    assertThat(nl.calls()).extracting(FakeRtNetlink.Call::op).doesNotContain("routeTo"); // answers remembered

    nl.replaceRoute(new Route(net("192.0.2.0/24"), ip("198.51.100.254"), eth0.index(), false, Route.TABLE_MAIN,
        Route.PROTO_BOOT)); // someone's route: every answer is forgotten
    nl.clearCalls();
    clock.advance(RESYNC.plusSeconds(1));
    sync.runPass();
    assertThat(nl.calls()).extracting(FakeRtNetlink.Call::op).filteredOn("routeTo"::equals).hasSize(2);
  }

  @Test
  void aDeletedDirectRouteIsRepairedAlone() throws Exception {
    Route direct = sync.programmed().route(P2.subnet());
    nl.deleteRoute(direct);
    sync.runPass();

    assertThat(nl.writes()).containsExactly("deleteRoute", "replaceRoute");
    assertThat(nl.dumps()).isZero();
    assertThat(kernel()).contains("route 10.244.2.0/24 via 198.51.100.2 dev eth0");
  }
}
