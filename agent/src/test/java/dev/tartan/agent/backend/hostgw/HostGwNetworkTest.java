package dev.tartan.agent.backend.hostgw;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.lease;
import static dev.tartan.agent.routing.TestLeases.net;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.netlink.rtnl.FakeRtNetlink;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.routing.PeerLog;
import dev.tartan.agent.routing.PeerSync;
import dev.tartan.agent.routing.Reconciler;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.SubnetLease;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** host-gw through the peer path on the fake kernel: routes only, the bridge at the interface MTU, no device. */
class HostGwNetworkTest {
  static final Ipv4Subnet NETWORK = net("10.244.0.0/16");
  static final Ipv4Subnet OWN = net("10.244.1.0/24");
  static final SubnetLease NEAR = lease("10.244.2.0/24", "198.51.100.2", "host-gw", null);
  static final SubnetLease FAR = lease("10.244.3.0/24", "203.0.113.3", "host-gw", null);

  FakeRtNetlink nl;
  Link eth0;
  HostGwNetwork network;
  PeerSync sync;

  @BeforeEach
  void setUp() throws Exception {
    nl = new FakeRtNetlink();
    eth0 = nl.addLink("eth0", ip("198.51.100.1"));
    nl.replaceRoute(new Route(net("0.0.0.0/0"), ip("198.51.100.254"), eth0.index(), false, Route.TABLE_MAIN,
        Route.PROTO_BOOT));
    network = new HostGwNetwork(nl, NETWORK, eth0.index(), "eth0", eth0.mtu(), "cni0");
    network.setUp(OWN);
    PeerLog log = new PeerLog();
    sync = new PeerSync(network, new Reconciler(nl, log), log, OWN, Duration.ofHours(1), Duration.ZERO,
        Clock.systemUTC(), UnaryOperator.identity());
    nl.monitor(network::kernelChanged);
    sync.onSnapshot(List.of(NEAR, FAR));
    sync.runPass();
  }

  @AfterEach
  void tearDown() {
    sync.close();
  }

  List<Route> ours() throws Exception {
    return nl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN);
  }

  @Test
  void theLeasePublishesNoBackendDataAndTheBridgeHasTheInterfaceMtu() throws Exception {
    assertThat(network.backendType()).isEqualTo("host-gw");
    assertThat(network.backendData()).isNull();
    assertThat(network.deviceName()).isNull();
    assertThat(network.mtu()).isEqualTo(1500);
    assertThat(nl.linkByName("cni0").orElseThrow().mtu()).isEqualTo(1500);
    assertThat(nl.linkByName("flannel.1")).isEmpty();
    assertThat(network.repair()).isFalse();
  }

  @Test
  void onlyTheOnLinkPeerGetsItsRoute() throws Exception {
    assertThat(ours()).containsExactly(new Route(net("10.244.2.0/24"), ip("198.51.100.2"), eth0.index(), false,
        Route.TABLE_MAIN, Route.PROTO_TARTAN));
    assertThat(nl.neighbours(0)).noneMatch(n -> n.state() == dev.tartan.agent.netlink.rtnl.Neighbour.NUD_PERMANENT);
  }

  @Test
  void aPeerMovingBehindARouterLosesItsRouteAndOneComingOnLinkGetsOne() throws Exception {
    nl.clearCalls();
    sync.onEvents(List.of(new LeaseEvent.Added(lease("10.244.2.0/24", "203.0.113.2", "host-gw", null)),
        new LeaseEvent.Added(lease("10.244.3.0/24", "198.51.100.3", "host-gw", null))));
    sync.runPass();

    assertThat(nl.dumps()).isZero();
    assertThat(ours()).containsExactly(new Route(net("10.244.3.0/24"), ip("198.51.100.3"), eth0.index(), false,
        Route.TABLE_MAIN, Route.PROTO_TARTAN));
  }
}
