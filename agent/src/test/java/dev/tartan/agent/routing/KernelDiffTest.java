package dev.tartan.agent.routing;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The pure diff: desired x actual -> operations, and one peer's before -> after. */
class KernelDiffTest {
  static final int DEV = 5;

  static PeerEntries peer(int n, String mac, String publicIp) {
    var s = net("10.244." + n + ".0/24");
    return new PeerEntries(Neighbour.permanent(DEV, s.networkAddress(), mac), new FdbEntry(DEV, mac, ip(publicIp)),
        Route.overlay(s, s.networkAddress(), DEV));
  }

  static DesiredState desired(PeerEntries... peers) {
    Set<Neighbour> n = new java.util.HashSet<>();
    Set<FdbEntry> f = new java.util.HashSet<>();
    Set<Route> r = new java.util.HashSet<>();
    for (PeerEntries p : peers) {
      n.add(p.neighbour());
      f.add(p.fdb());
      r.add(p.route());
    }
    return new DesiredState(DEV, n, f, r);
  }

  static KernelDiff.Actual actual(PeerEntries... peers) {
    DesiredState d = desired(peers);
    return KernelDiff.Actual.of(DEV, d.neighbours(), d.fdb(), d.routes());
  }

  final PeerEntries p2 = peer(2, "5a:00:00:00:00:02", "198.51.100.2");
  final PeerEntries p3 = peer(3, "5a:00:00:00:00:03", "198.51.100.3");

  @Test
  void fullAddsWhatIsMissingAndRemovesWhatIsNotWanted() {
    KernelDiff.Plan p = KernelDiff.full(desired(p2), actual(p3));

    assertThat(p.neighAdd()).containsExactly(p2.neighbour());
    assertThat(p.fdbAdd()).containsExactly(p2.fdb());
    assertThat(p.routeAdd()).containsExactly(p2.route());
    assertThat(p.routeDel()).containsExactly(p3.route());
    assertThat(p.fdbDel()).containsExactly(p3.fdb());
    assertThat(p.neighDel()).containsExactly(p3.neighbour());
  }

  @Test
  void fullOfAMatchingKernelIsEmpty() {
    assertThat(KernelDiff.full(desired(p2, p3), actual(p2, p3)).isEmpty()).isTrue();
  }

  @Test
  void fullIgnoresEntriesThatAreNotOurs() {
    Neighbour dynamic = new Neighbour(DEV, ip("10.244.9.0"), "5a:00:00:00:00:09", 0x02);
    Route other = new Route(net("10.244.9.0/24"), ip("10.244.9.0"), DEV, true, Route.TABLE_MAIN, Route.PROTO_BOOT);
    Route otherDev = Route.overlay(net("10.244.8.0/24"), ip("10.244.8.0"), DEV + 1);
    KernelDiff.Actual a = KernelDiff.Actual.of(DEV, List.of(dynamic), List.of(), List.of(other, otherDev));

    assertThat(KernelDiff.full(desired(), a).isEmpty()).isTrue();
  }

  @Test
  void fullRewritesAChangedVtepMacAndDropsTheOldFdbEntry() {
    PeerEntries moved = peer(3, "5a:00:00:00:00:33", "198.51.100.3");
    KernelDiff.Plan p = KernelDiff.full(desired(p2, moved), actual(p2, p3));

    assertThat(p.neighAdd()).containsExactly(moved.neighbour());
    assertThat(p.fdbAdd()).containsExactly(moved.fdb());
    assertThat(p.fdbDel()).containsExactly(p3.fdb());
    assertThat(p.routeAdd()).isEmpty();
    assertThat(p.neighDel()).isEmpty();
  }

  @Test
  void peerAddedIsThreeAdditionsRemovedThreeDeletions() {
    KernelDiff.Plan add = KernelDiff.peer(null, p2);
    assertThat(add.size()).isEqualTo(3);
    assertThat(add.neighAdd()).containsExactly(p2.neighbour());
    assertThat(add.routeAdd()).containsExactly(p2.route());

    KernelDiff.Plan del = KernelDiff.peer(p2, null);
    assertThat(del.routeDel()).containsExactly(p2.route());
    assertThat(del.fdbDel()).containsExactly(p2.fdb());
    assertThat(del.neighDel()).containsExactly(p2.neighbour());
  }

  @Test
  void peerChangedWritesOnlyWhatDiffers() {
    assertThat(KernelDiff.peer(p2, p2).isEmpty()).isTrue();

    KernelDiff.Plan ip = KernelDiff.peer(p2, peer(2, "5a:00:00:00:00:02", "198.51.100.22"));
    assertThat(ip.size()).isEqualTo(1);
    assertThat(ip.fdbAdd()).hasSize(1);

    PeerEntries newMac = peer(2, "5a:00:00:00:00:22", "198.51.100.2");
    KernelDiff.Plan mac = KernelDiff.peer(p2, newMac);
    assertThat(mac.neighAdd()).containsExactly(newMac.neighbour());
    assertThat(mac.fdbAdd()).containsExactly(newMac.fdb());
    assertThat(mac.fdbDel()).containsExactly(p2.fdb());
    assertThat(mac.size()).isEqualTo(3);
  }
}
