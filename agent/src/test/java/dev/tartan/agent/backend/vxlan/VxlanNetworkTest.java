package dev.tartan.agent.backend.vxlan;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.routing.DriftWatcher;
import dev.tartan.agent.routing.PeerLog;
import dev.tartan.agent.routing.PeerSync;
import dev.tartan.agent.routing.ReconcileResult;
import dev.tartan.agent.routing.Reconciler;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseEvent;
import java.time.Clock;
import java.time.Duration;
import java.util.function.UnaryOperator;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The pieces wired as the agent wires them, against the fake kernel. */
@Timeout(30)
class VxlanNetworkTest {
  static final Ipv4Subnet NETWORK = net("10.244.0.0/16");
  FakeRtNetlink nl;
  Link eth0;
  VxlanNetwork network;

  @BeforeEach
  void setUp() {
    nl = new FakeRtNetlink();
    eth0 = nl.addLink("eth0", ip("198.51.100.1"));
    network = new VxlanNetwork(nl, VxlanBackendConfig.defaults(), NETWORK, ip("198.51.100.1"),
        eth0.index(), eth0.mtu(), "cni0");
  }

  @Test
  void startUpGivesTheLeaseDataAndConfiguresDeviceAndBridge() throws Exception {
    Link dev = network.ensureDevice();
    VxlanLeaseData data = network.leaseData();
    assertThat(data).isEqualTo(new VxlanLeaseData(1, dev.mac()));
    assertThat(network.mtu()).isEqualTo(1450);

    network.configure(net("10.244.1.0/24"));

    assertThat(nl.addresses(dev.index())).containsExactly(new Address(dev.index(), ip("10.244.1.0"), 32));
    Link br = nl.linkByName("cni0").orElseThrow();
    assertThat(nl.addresses(br.index())).containsExactly(new Address(br.index(), ip("10.244.1.1"), 24));
    assertThat(br.mtu()).isEqualTo(1450);
    assertThat(network.device().up()).isTrue();
    assertThat(network.repair()).isFalse();
  }

  static PeerSync sync(VxlanNetwork network, FakeRtNetlink nl, Duration resync) {
    PeerLog log = new PeerLog();
    return new PeerSync(network, new Reconciler(nl, log), log, net("10.244.1.0/24"), resync,
        Duration.ofSeconds(60), Clock.systemUTC(), UnaryOperator.identity());
  }

  @Test
  void theLoopRepairsADeletedDeviceWithTheSameMacAndReAddsEveryPeer() throws Exception {
    Link dev = network.ensureDevice();
    network.configure(net("10.244.1.0/24"));
    try (PeerSync sync = sync(network, nl, Duration.ofHours(1))) {
      DriftWatcher watcher = new DriftWatcher(sync.programmed(), network.deviceName(), "cni0",
          sync::repair, name -> { });
      nl.monitor(watcher);
      sync.onSnapshot(List.of(
          vxlan("10.244.1.0/24", "198.51.100.1", dev.mac()),
          vxlan("10.244.2.0/24", "198.51.100.2", "5a:00:00:00:00:02"),
          vxlan("10.244.3.0/24", "198.51.100.3", "5a:00:00:00:00:03")));
      sync.start();
      await().until(() -> nl.routes(254, Route.PROTO_TARTAN).size() == 2);

      nl.deleteLink(dev.index());

      await().until(() -> nl.routes(254, Route.PROTO_TARTAN).size() == 2
          && nl.linkByName("flannel.1").isPresent());
      Link again = nl.linkByName("flannel.1").orElseThrow();
      assertThat(again.index()).isNotEqualTo(dev.index());
      assertThat(again.mac()).isEqualTo(dev.mac());
      assertThat(again.up()).isTrue();
      assertThat(nl.addresses(again.index())).containsExactly(
          new Address(again.index(), ip("10.244.1.0"), 32));
      await().until(() -> nl.neighbours(again.index()).size() == 2 && nl.fdb(again.index()).size() == 2);
      assertThat(watcher.count(DriftWatcher.Kind.DEVICE)).isEqualTo(1);

      // a peer leaves
      sync.onEvents(List.of(new LeaseEvent.Removed(
          vxlan("10.244.3.0/24", "198.51.100.3", "5a:00:00:00:00:03"))));
      await().until(() -> nl.routes(254, Route.PROTO_TARTAN).size() == 1);
    }
  }

  @Test
  void aRestartedAgentLeavesThePeersAloneUntilTheFirstLeaseSnapshot() throws Exception {
    // the previous run programmed two peers
    Link dev = network.ensureDevice();
    network.configure(net("10.244.1.0/24"));
    List<dev.tartan.store.SubnetLease> before = List.of(
        vxlan("10.244.2.0/24", "198.51.100.2", "5a:00:00:00:00:02"),
        vxlan("10.244.3.0/24", "198.51.100.3", "5a:00:00:00:00:03"));
    new Reconciler(nl).reconcile(network.desired(before));

    // restart: same kernel, new objects, etcd not answering yet
    VxlanNetwork restarted = new VxlanNetwork(nl, VxlanBackendConfig.defaults(), NETWORK,
        ip("198.51.100.1"), eth0.index(), eth0.mtu(), "cni0");
    assertThat(restarted.ensureDevice().mac()).isEqualTo(dev.mac());
    restarted.configure(net("10.244.1.0/24"));
    try (PeerSync sync = sync(restarted, nl, Duration.ofMillis(20))) {
      for (int i = 0; i < 3; i++) {
        assertThat(sync.runPass()).isNull();
      }
      assertThat(nl.routes(254, Route.PROTO_TARTAN)).hasSize(2);

      sync.onSnapshot(before);
      ReconcileResult first = sync.runPass();
      assertThat(first.writes()).isZero();
      assertThat(nl.routes(254, Route.PROTO_TARTAN)).hasSize(2);
    }
  }

  @Test
  void aNewSubnetReAddressesDeviceAndBridgeOnTheNextPass() throws Exception {
    network.ensureDevice();
    network.configure(net("10.244.1.0/24"));

    network.ownSubnet(net("10.244.7.0/24"));
    network.repair();

    Link dev = network.device();
    Link br = nl.linkByName("cni0").orElseThrow();
    assertThat(nl.addresses(dev.index())).containsExactly(new Address(dev.index(), ip("10.244.7.0"), 32));
    assertThat(nl.addresses(br.index())).containsExactly(new Address(br.index(), ip("10.244.7.1"), 24));
  }
}
