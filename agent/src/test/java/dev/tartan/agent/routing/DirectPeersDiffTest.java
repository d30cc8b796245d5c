package dev.tartan.agent.routing;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** KernelDiff, DesiredState and PeerEntries with direct routes (host-gw, VXLAN DirectRouting). */
class DirectPeersDiffTest {
  static final int DEV = 5;
  static final int ETH = 2;

  static PeerEntries vxlan(int n, String mac, String publicIp) {
    return KernelDiffTest.peer(n, mac, publicIp);
  }

  static PeerEntries direct(int n, String publicIp) {
    return PeerEntries.direct(new Route(net("10.244." + n + ".0/24"), ip(publicIp), ETH, false, Route.TABLE_MAIN,
        Route.PROTO_TARTAN));
  }

  static DesiredState desired(int link, PeerEntries... peers) {
    Set<Neighbour> n = new java.util.HashSet<>();
    Set<FdbEntry> f = new java.util.HashSet<>();
    Set<Route> r = new java.util.HashSet<>();
    for (PeerEntries p : peers) {
      if (!p.isDirect()) {
        n.add(p.neighbour());
        f.add(p.fdb());
      }
      r.add(p.route());
    }
    return new DesiredState(link, n, f, r, List.of(), List.of(), ETH);
  }

  final PeerEntries v2 = vxlan(2, "5a:00:00:00:00:02", "198.51.100.2");
  final PeerEntries d2 = direct(2, "198.51.100.2");
  final PeerEntries d3 = direct(3, "198.51.100.3");

  @Test
  void aDirectPeerIsItsRouteAlone() {
    assertThat(d2.isDirect()).isTrue();
    assertThat(d2.mac()).isNull();
    assertThat(d2.publicIp()).isEqualTo(ip("198.51.100.2"));
    assertThat(v2.isDirect()).isFalse();
    assertThat(v2.publicIp()).isEqualTo(ip("198.51.100.2"));
    assertThatThrownBy(() -> PeerEntries.direct(Route.overlay(net("10.244.2.0/24"), ip("10.244.2.0"), DEV)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new PeerEntries(v2.neighbour(), null, v2.route()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aNewDirectPeerIsOneRoute() {
    KernelDiff.Plan p = KernelDiff.peer(null, d2);
    assertThat(p.size()).isEqualTo(1);
    assertThat(p.routeAdd()).containsExactly(d2.route());
    KernelDiff.Plan gone = KernelDiff.peer(d2, null);
    assertThat(gone.size()).isEqualTo(1);
    assertThat(gone.routeDel()).containsExactly(d2.route());
  }

  @Test
  void switchingToDirectReplacesTheRouteAndDeletesNeighbourAndFdb() {
    KernelDiff.Plan p = KernelDiff.peer(v2, d2);
    assertThat(p.routeAdd()).containsExactly(d2.route()); // the same destination: a replace
    assertThat(p.routeDel()).isEmpty();
    assertThat(p.fdbDel()).containsExactly(v2.fdb());
    assertThat(p.neighDel()).containsExactly(v2.neighbour());
    assertThat(p.neighAdd()).isEmpty();
    assertThat(p.fdbAdd()).isEmpty();
  }

  @Test
  void switchingToVxlanAddsNeighbourAndFdbBeforeReplacingTheRoute() {
    KernelDiff.Plan p = KernelDiff.peer(d2, v2);
    assertThat(p.neighAdd()).containsExactly(v2.neighbour());
    assertThat(p.fdbAdd()).containsExactly(v2.fdb());
    assertThat(p.routeAdd()).containsExactly(v2.route());
    assertThat(p.routeDel()).isEmpty();
    assertThat(p.fdbDel()).isEmpty();
    assertThat(p.neighDel()).isEmpty();
  }

  @Test
  void aDirectPeerWithANewPublicIpRewritesItsRoute() {
    PeerEntries moved = direct(2, "198.51.100.20");
    KernelDiff.Plan p = KernelDiff.peer(d2, moved);
    assertThat(p.size()).isEqualTo(1);
    assertThat(p.routeAdd()).containsExactly(moved.route());
  }

  @Test
  void actualKeepsOurRoutesOnBothLinksAndNothingElse() {
    Route foreign = new Route(net("10.244.9.0/24"), ip("198.51.100.9"), ETH, false, Route.TABLE_MAIN, Route.PROTO_BOOT);
    Route otherLink = new Route(net("10.244.8.0/24"), ip("198.51.100.8"), 7, false, Route.TABLE_MAIN, Route.PROTO_TARTAN);
    KernelDiff.Actual a = KernelDiff.Actual.of(DEV, ETH, List.of(v2.neighbour()), List.of(v2.fdb()),
        List.of(v2.route(), d3.route(), foreign, otherLink));
    assertThat(a.routes().keySet()).containsExactlyInAnyOrder(v2.subnet(), d3.subnet());
    assertThat(a.neighbours()).hasSize(1);
  }

  @Test
  void withoutAnOverlayDeviceNoNeighbourOrFdbEntryIsEverOurs() {
    Neighbour someone = Neighbour.permanent(ETH, ip("198.51.100.7"), "5a:00:00:00:00:07");
    KernelDiff.Actual a = KernelDiff.Actual.of(0, ETH, List.of(someone), List.of(new FdbEntry(ETH, "5a:00:00:00:00:07",
        ip("198.51.100.7"))), List.of(d3.route()));
    assertThat(a.neighbours()).isEmpty();
    assertThat(a.fdb()).isEmpty();
    KernelDiff.Plan p = KernelDiff.full(desired(0, d2), a);
    assertThat(p.routeAdd()).containsExactly(d2.route());
    assertThat(p.routeDel()).containsExactly(d3.route());
    assertThat(p.neighDel()).isEmpty();
    assertThat(p.fdbDel()).isEmpty();
  }

  @Test
  void fullSwitchesAPeerThatBecameDirect() {
    KernelDiff.Actual a = KernelDiff.Actual.of(DEV, ETH, List.of(v2.neighbour()), List.of(v2.fdb()), List.of(v2.route()));
    KernelDiff.Plan p = KernelDiff.full(desired(DEV, d2), a);
    assertThat(p.routeAdd()).containsExactly(d2.route());
    assertThat(p.routeDel()).isEmpty(); // replaced in place
    assertThat(p.fdbDel()).containsExactly(v2.fdb());
    assertThat(p.neighDel()).containsExactly(v2.neighbour());
    KernelDiff.Actual after = KernelDiff.Actual.of(DEV, ETH, List.of(), List.of(), List.of(d2.route()));
    assertThat(KernelDiff.full(desired(DEV, d2), after).isEmpty()).isTrue();
  }

  @Test
  void desiredStateAcceptsDirectRoutesOnlyOnItsDirectLink() {
    assertThatThrownBy(() -> new DesiredState(DEV, Set.of(), Set.of(), Set.of(d2.route()), List.of(), List.of(), 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new DesiredState(0, Set.of(v2.neighbour()), Set.of(), Set.of(), List.of(), List.of(), ETH))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(desired(DEV, v2, d3).peers()).isEqualTo(2);
  }

  @Test
  void programmedPeersRebuildDirectPeersFromADesiredState() {
    ProgrammedPeers programmed = new ProgrammedPeers();
    programmed.replaceWith(desired(DEV, v2, d3));
    assertThat(programmed.size()).isEqualTo(2);
    assertThat(programmed.get(d3.subnet())).isEqualTo(d3);
    assertThat(programmed.get(v2.subnet())).isEqualTo(v2);
    assertThat(programmed.route(d3.subnet())).isEqualTo(d3.route());
    DesiredState back = programmed.asDesired(desired(DEV));
    assertThat(back.routes()).containsExactlyInAnyOrder(v2.route(), d3.route());
    assertThat(back.neighbours()).containsExactly(v2.neighbour());
    assertThat(back.directLink()).isEqualTo(ETH);
  }
}
