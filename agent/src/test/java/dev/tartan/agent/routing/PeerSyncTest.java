package dev.tartan.agent.routing;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.backend.vxlan.VxlanBackendConfig;
import dev.tartan.agent.backend.vxlan.VxlanNetwork;
import dev.tartan.agent.netlink.Errno;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseEvent.Cause;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.testing.ManualClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The peer path on the fake kernel, one pass at a time (the loop is not started; {@link
 * PeerSync#runPass()} is called directly) with a manual clock: lease events cost only their peer's
 * operations and no dump; a burst is one batch; drift repairs one entry; the grace.
 */
class PeerSyncTest {
  static final Ipv4Subnet NETWORK = net("10.244.0.0/16");
  static final Ipv4Subnet OWN = net("10.244.1.0/24");
  static final SubnetLease P2 = vxlan("10.244.2.0/24", "198.51.100.2", "5a:00:00:00:00:02");
  static final SubnetLease P3 = vxlan("10.244.3.0/24", "198.51.100.3", "5a:00:00:00:00:03");
  static final SubnetLease P4 = vxlan("10.244.4.0/24", "198.51.100.4", "5a:00:00:00:00:04");
  static final Duration GRACE = Duration.ofSeconds(60);
  static final Instant START = Instant.parse("2026-12-01T00:00:00Z");

  /** The VXLAN network, counting how often the whole desired state is computed from the leases. */
  static final class CountingOverlay implements PeerOverlay {
    final VxlanNetwork network;
    int desiredCalls;

    CountingOverlay(VxlanNetwork network) {
      this.network = network;
    }

    @Override
    public boolean repair() throws dev.tartan.agent.netlink.NetlinkException {
      return network.repair();
    }

    @Override
    public void ownSubnet(Ipv4Subnet subnet) {
      network.ownSubnet(subnet);
    }

    @Override
    public DesiredState desired(java.util.Collection<SubnetLease> remotes) {
      desiredCalls++;
      return network.desired(remotes);
    }

    @Override
    public PeerSpec peer(SubnetLease lease) {
      return network.peer(lease);
    }
  }

  FakeRtNetlink nl;
  Link dev;
  CountingOverlay overlay;
  dev.tartan.agent.netlink.rtnl.NetlinkMonitor monitor;
  ManualClock clock;
  PeerSync sync;
  DriftWatcher drift;

  @BeforeEach
  void setUp() throws Exception {
    nl = new FakeRtNetlink();
    Link eth0 = nl.addLink("eth0", ip("198.51.100.1"));
    VxlanNetwork network = new VxlanNetwork(nl, VxlanBackendConfig.defaults(), NETWORK, ip("198.51.100.1"),
        eth0.index(), eth0.mtu(), "cni0");
    network.ensureDevice();
    dev = network.configure(OWN);
    clock = new ManualClock(START);
    PeerLog log = new PeerLog();
    overlay = new CountingOverlay(network);
    sync = new PeerSync(overlay, new Reconciler(nl, log), log, OWN, Duration.ofHours(1), GRACE, clock,
        UnaryOperator.identity());
    drift = new DriftWatcher(sync.programmed(), network.deviceName(), "cni0", sync::repair, name -> { });
    monitor = nl.monitor(drift);
    sync.onSnapshot(List.of(P2, P3));
    ReconcileResult first = sync.runPass();
    assertThat(first.routes().present()).isEqualTo(2);
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
      out.add("route " + r.dst());
    }
    out.sort(null);
    return out;
  }

  @Test
  void anAddedLeaseIsItsThreeEntriesInOneBatchWithoutADump() throws Exception {
    sync.onEvents(List.of(new LeaseEvent.Added(P4)));
    ReconcileResult r = sync.runPass();

    assertThat(nl.writes()).containsExactly("replaceNeighbour", "replaceFdb", "replaceRoute");
    assertThat(nl.dumps()).isZero();
    assertThat(nl.batches()).isEqualTo(1);
    assertThat(r.peersAdded()).isEqualTo(1);
    assertThat(kernel()).contains("neigh 10.244.4.0 5a:00:00:00:00:04", "fdb 5a:00:00:00:00:04 198.51.100.4",
        "route 10.244.4.0/24");
  }

  @Test
  void aRemovedLeaseIsItsThreeEntriesInReverseWithoutADump() throws Exception {
    sync.onEvents(List.of(new LeaseEvent.Removed(P3, Cause.DELETED)));
    ReconcileResult r = sync.runPass();

    assertThat(nl.writes()).containsExactly("deleteRoute", "deleteFdb", "deleteNeighbour");
    assertThat(nl.dumps()).isZero();
    assertThat(nl.batches()).isEqualTo(1);
    assertThat(r.peersRemoved()).isEqualTo(1);
    assertThat(kernel()).containsExactly("fdb 5a:00:00:00:00:02 198.51.100.2", "neigh 10.244.2.0 5a:00:00:00:00:02",
        "route 10.244.2.0/24");
    assertThat(drift.counts().values()).allMatch(v -> v == 0);
  }

  @Test
  void aNewVtepMacRewritesTheNeighbourAndMovesTheFdbEntryOnly() throws Exception {
    SubnetLease p3 = vxlan("10.244.3.0/24", "198.51.100.3", "5a:00:00:00:00:33");
    sync.onEvents(List.of(new LeaseEvent.Added(p3)));
    sync.runPass();

    assertThat(nl.writes()).containsExactly("replaceNeighbour", "replaceFdb", "deleteFdb");
    assertThat(nl.dumps()).isZero();
    assertThat(kernel()).contains("neigh 10.244.3.0 5a:00:00:00:00:33", "fdb 5a:00:00:00:00:33 198.51.100.3")
        .doesNotContain("fdb 5a:00:00:00:00:03 198.51.100.3");
  }

  @Test
  void aHostMovingToAnotherSubnetInOneBatchKeepsItsFdbEntry() throws Exception {
    // host 198.51.100.3 (same VtepMAC) leaves 10.244.3.0/24 and leases 10.244.5.0/24: its FDB entry is the
    // same before and after, so the batch's delete of the old peer's entry must not remove the new one's
    SubnetLease moved = vxlan("10.244.5.0/24", "198.51.100.3", "5a:00:00:00:00:03");
    sync.onEvents(List.of(new LeaseEvent.Removed(P3, Cause.DELETED), new LeaseEvent.Added(moved)));
    sync.runPass();

    assertThat(nl.dumps()).isZero();
    assertThat(nl.writes()).doesNotContain("deleteFdb");
    assertThat(kernel()).contains("neigh 10.244.5.0 5a:00:00:00:00:03", "fdb 5a:00:00:00:00:03 198.51.100.3",
        "route 10.244.5.0/24").doesNotContain("route 10.244.3.0/24", "neigh 10.244.3.0 5a:00:00:00:00:03");
  }

  @Test
  void aNewPublicIpRewritesTheFdbEntryOnly() throws Exception {
    SubnetLease p3 = vxlan("10.244.3.0/24", "198.51.100.33", "5a:00:00:00:00:03");
    sync.onEvents(List.of(new LeaseEvent.Added(p3)));
    sync.runPass();

    assertThat(nl.writes()).containsExactly("replaceFdb");
    assertThat(nl.dumps()).isZero();
    assertThat(kernel()).contains("fdb 5a:00:00:00:00:03 198.51.100.33");
  }

  @Test
  void aRenewalThatChangesNothingWritesNothing() throws Exception {
    sync.onEvents(List.of(new LeaseEvent.Added(P3)));
    sync.runPass();

    assertThat(nl.writes()).isEmpty();
    assertThat(nl.dumps()).isZero();
  }

  @Test
  void aBurstOfAThousandEventsIsOneBatch() throws Exception {
    List<SubnetLease> many = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      many.add(vxlan("10.245." + (i / 4) + "." + (i % 4) * 64 + "/26", "198.18.0." + (1 + i % 250),
          String.format("5a:00:00:00:%02x:%02x", 0x10 + i / 256, i % 256)));
    }
    for (SubnetLease l : many) {
      sync.onEvents(List.of(new LeaseEvent.Added(l))); // one event per watch response
    }
    ReconcileResult r = sync.runPass();

    assertThat(nl.batches()).isEqualTo(1);
    assertThat(nl.dumps()).isZero();
    assertThat(nl.writes()).hasSize(3000);
    assertThat(r.peersAdded()).isEqualTo(1000);
    assertThat(nl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).hasSize(1002);
  }

  @Test
  void aDeletionTheMonitorReportsRepairsThatOneEntry() throws Exception {
    nl.deleteNeighbour(Neighbour.permanent(dev.index(), ip("10.244.2.0"), "5a:00:00:00:00:02"));
    nl.clearCalls();

    sync.runPass();

    assertThat(drift.count(DriftWatcher.Kind.NEIGHBOUR)).isEqualTo(1);
    assertThat(nl.writes()).containsExactly("replaceNeighbour");
    assertThat(nl.dumps()).isZero();
    assertThat(kernel()).contains("neigh 10.244.2.0 5a:00:00:00:00:02");
  }

  @Test
  void aDeletedRouteAndFdbEntryAreRepairedOneByOne() throws Exception {
    nl.deleteRoute(Route.overlay(net("10.244.3.0/24"), ip("10.244.3.0"), dev.index()));
    nl.deleteFdb(new FdbEntry(dev.index(), "5a:00:00:00:00:02", ip("198.51.100.2")));
    nl.clearCalls();

    sync.runPass();

    assertThat(nl.writes()).containsExactlyInAnyOrder("replaceFdb", "replaceRoute");
    assertThat(nl.dumps()).isZero();
    assertThat(kernel()).hasSize(6);
  }

  @Test
  void theResyncIntervalBringsTheFullDumpAndDiff() throws Exception {
    clock.advance(Duration.ofHours(1));
    sync.runPass();
    assertThat(nl.dumps()).isEqualTo(3);
  }

  @Test
  void aPeriodicResyncDecodesNoLeaseAndRepairsWhatTheMonitorMissed() throws Exception {
    sync.onEvents(List.of(new LeaseEvent.Added(P4)));
    sync.runPass();
    int computed = overlay.desiredCalls;
    monitor.close(); // the monitor misses the next deletion
    nl.deleteRoute(Route.overlay(net("10.244.4.0/24"), ip("10.244.4.0"), dev.index()));
    nl.clearCalls();

    clock.advance(Duration.ofHours(1));
    sync.runPass();

    assertThat(nl.dumps()).isEqualTo(3);
    assertThat(nl.writes()).containsExactly("replaceRoute");
    assertThat(overlay.desiredCalls).isEqualTo(computed);
    assertThat(kernel()).contains("route 10.244.4.0/24", "route 10.244.2.0/24", "route 10.244.3.0/24");
  }

  @Test
  void aReListIsAFullPass() throws Exception {
    sync.onSnapshot(List.of(P2, P4));
    ReconcileResult r = sync.runPass();

    assertThat(nl.dumps()).isEqualTo(3);
    assertThat(r.peersAdded()).isEqualTo(1);
    assertThat(r.peersRemoved()).isEqualTo(1);
  }

  @Test
  void aFailedBatchFallsBackToTheFullPass() throws Exception {
    nl.failNext("replaceRoute", Errno.ENETDOWN);
    sync.onEvents(List.of(new LeaseEvent.Added(P4)));
    sync.runPass();
    assertThat(nl.dumps()).isZero();

    nl.clearCalls();
    sync.runPass();

    assertThat(nl.dumps()).isEqualTo(3);
    assertThat(nl.writes()).containsExactly("replaceRoute");
    assertThat(kernel()).contains("route 10.244.4.0/24");
  }

  @Test
  void conflictingLeasesGoThroughTheFullPass() throws Exception {
    SubnetLease sameMac = vxlan("10.244.5.0/24", "198.51.100.5", "5a:00:00:00:00:02");
    sync.onEvents(List.of(new LeaseEvent.Added(sameMac)));
    sync.runPass();

    assertThat(nl.dumps()).isEqualTo(3);
    assertThat(kernel()).doesNotContain("route 10.244.5.0/24");
  }

  // ---- grace

  @Test
  void anExpiredPeerIsHeldThenRemovedWhenTheGraceEnds() throws Exception {
    sync.onEvents(List.of(new LeaseEvent.Removed(P3, Cause.EXPIRED)));
    sync.runPass();
    assertThat(nl.writes()).isEmpty();
    assertThat(sync.inGrace()).isEqualTo(1);
    assertThat(kernel()).contains("route 10.244.3.0/24");

    clock.advance(Duration.ofSeconds(59));
    sync.runPass();
    assertThat(kernel()).contains("route 10.244.3.0/24");

    clock.advance(Duration.ofSeconds(1));
    nl.clearCalls();
    sync.runPass();
    assertThat(nl.writes()).containsExactly("deleteRoute", "deleteFdb", "deleteNeighbour");
    assertThat(nl.dumps()).isZero();
    assertThat(sync.inGrace()).isZero();
    assertThat(kernel()).doesNotContain("route 10.244.3.0/24");
  }

  @Test
  void theSameHostRenewingDuringTheGraceKeepsEverything() throws Exception {
    sync.onEvents(List.of(new LeaseEvent.Removed(P3, Cause.EXPIRED)));
    sync.runPass();
    clock.advance(Duration.ofSeconds(30));
    sync.onEvents(List.of(new LeaseEvent.Added(P3)));
    sync.runPass();
    clock.advance(Duration.ofSeconds(60));
    sync.runPass();

    assertThat(nl.writes()).isEmpty();
    assertThat(sync.inGrace()).isZero();
    assertThat(kernel()).contains("route 10.244.3.0/24");
  }

  @Test
  void anotherHostTakingTheSubnetReplacesTheEntriesAtOnce() throws Exception {
    sync.onEvents(List.of(new LeaseEvent.Removed(P3, Cause.EXPIRED)));
    sync.runPass();
    SubnetLease taken = vxlan("10.244.3.0/24", "198.51.100.9", "5a:00:00:00:00:09");
    sync.onEvents(List.of(new LeaseEvent.Added(taken)));
    sync.runPass();

    assertThat(sync.inGrace()).isZero();
    assertThat(kernel()).contains("neigh 10.244.3.0 5a:00:00:00:00:09", "fdb 5a:00:00:00:00:09 198.51.100.9",
        "route 10.244.3.0/24").doesNotContain("fdb 5a:00:00:00:00:03 198.51.100.3");
  }

  @Test
  void aDeletedLeaseIsRemovedAtOnceEvenWhileHeld() throws Exception {
    sync.onEvents(List.of(new LeaseEvent.Removed(P2, Cause.DELETED)));
    sync.onEvents(List.of(new LeaseEvent.Removed(P3, Cause.EXPIRED)));
    sync.onEvents(List.of(new LeaseEvent.Removed(P3, Cause.DELETED)));
    sync.runPass();

    assertThat(sync.inGrace()).isZero();
    assertThat(kernel()).isEmpty();
  }
}
