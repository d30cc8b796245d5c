package dev.tartan.agent.backend.vxlan;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.backend.DirectRoutes;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.routing.DesiredState;
import dev.tartan.agent.routing.PeerEntries;
import dev.tartan.net.Ipv4Subnet;
import java.util.List;
import org.junit.jupiter.api.Test;

/** DirectRouting: an on-link peer gets the direct route alone, the others the three VXLAN entries. */
class VxlanDirectRoutingTest {
  static final int DEV = 5;
  static final int ETH = 2;
  static final Ipv4Subnet OWN = net("10.244.1.0/24");
  static final DirectRoutes.OnLink L2 = ip -> net("198.51.100.0/24").contains(ip) ? null : "not on-link";

  @Test
  void anOnLinkPeerGetsOnlyTheDirectRoute() {
    PeerEntries p = (PeerEntries) VxlanPeers.peer(DEV, ETH, L2, vxlan("10.244.2.0/24", "198.51.100.2",
        "5a:00:00:00:00:02"));
    assertThat(p.isDirect()).isTrue();
    assertThat(p.route()).isEqualTo(new Route(net("10.244.2.0/24"), ip("198.51.100.2"), ETH, false, Route.TABLE_MAIN,
        Route.PROTO_TARTAN));
  }

  @Test
  void aPeerBehindARouterGetsTheThreeVxlanEntries() {
    PeerEntries p = (PeerEntries) VxlanPeers.peer(DEV, ETH, L2, vxlan("10.244.3.0/24", "203.0.113.3",
        "5a:00:00:00:00:03"));
    assertThat(p.isDirect()).isFalse();
    assertThat(p).isEqualTo(VxlanPeers.peer(DEV, vxlan("10.244.3.0/24", "203.0.113.3", "5a:00:00:00:00:03")));
    assertThat(p.route().onlink()).isTrue();
    assertThat(p.route().link()).isEqualTo(DEV);
  }

  @Test
  void aPeerThatMovesSwitchesForm() {
    var onL2 = vxlan("10.244.3.0/24", "198.51.100.3", "5a:00:00:00:00:03");
    var behindRouter = vxlan("10.244.3.0/24", "203.0.113.3", "5a:00:00:00:00:03");
    assertThat(((PeerEntries) VxlanPeers.peer(DEV, ETH, L2, onL2)).isDirect()).isTrue();
    assertThat(((PeerEntries) VxlanPeers.peer(DEV, ETH, L2, behindRouter)).isDirect()).isFalse();
    // the underlay changes: nothing is on-link any more
    assertThat(((PeerEntries) VxlanPeers.peer(DEV, ETH, ip -> "gone", onL2)).isDirect()).isFalse();
  }

  @Test
  void desiredMixesBothFormsAndADirectPeerTakesPartInNoMacConflict() {
    DesiredState d = VxlanPeers.desired(OWN, DEV, ETH, L2, List.of(
        vxlan("10.244.2.0/24", "198.51.100.2", "5a:00:00:00:00:02"),
        vxlan("10.244.3.0/24", "203.0.113.3", "5a:00:00:00:00:02"), // same MAC, but 10.244.2.0/24 is direct
        vxlan("10.244.4.0/24", "203.0.113.4", "5a:00:00:00:00:04")));
    assertThat(d.directLink()).isEqualTo(ETH);
    assertThat(d.conflicts()).isEmpty();
    assertThat(d.routes()).hasSize(3);
    assertThat(d.neighbours()).hasSize(2);
    assertThat(d.fdb()).extracting(f -> f.dst().getHostAddress()).containsExactlyInAnyOrder("203.0.113.3", "203.0.113.4");
  }

  @Test
  void withoutDirectRoutingNothingChanges() {
    var leases = List.of(vxlan("10.244.2.0/24", "198.51.100.2", "5a:00:00:00:00:02"));
    assertThat(VxlanPeers.desired(OWN, DEV, 0, null, leases)).isEqualTo(VxlanPeers.desired(OWN, DEV, leases));
    assertThat(VxlanPeers.desired(OWN, DEV, leases).directLink()).isZero();
  }
}
