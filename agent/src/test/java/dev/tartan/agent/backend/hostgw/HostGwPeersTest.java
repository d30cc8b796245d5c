package dev.tartan.agent.backend.hostgw;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.lease;
import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.backend.DirectRoutes;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.routing.DesiredState;
import dev.tartan.agent.routing.PeerEntries;
import dev.tartan.agent.routing.PeerSpec;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.SubnetLease;
import java.util.List;
import org.junit.jupiter.api.Test;

/** host-gw: one route per on-link host-gw lease; everything else skipped or in conflict. */
class HostGwPeersTest {
  static final int ETH = 2;
  static final Ipv4Subnet OWN = net("10.244.1.0/24");
  /** 198.51.100.0/24 is this host's L2; everything else is behind a router. */
  static final DirectRoutes.OnLink L2 = ip -> net("198.51.100.0/24").contains(ip) ? null
      : "the kernel routes " + ip.getHostAddress() + " via the gateway 198.51.100.254 (not on-link)";

  static SubnetLease hostGw(String cidr, String publicIp) {
    return lease(cidr, publicIp, "host-gw", null);
  }

  @Test
  void anOnLinkHostGwLeaseIsOneDirectRoute() {
    PeerSpec spec = HostGwPeers.peer(ETH, L2, hostGw("10.244.2.0/24", "198.51.100.2"));
    assertThat(spec).isEqualTo(PeerEntries.direct(new Route(net("10.244.2.0/24"), ip("198.51.100.2"), ETH, false,
        Route.TABLE_MAIN, Route.PROTO_TARTAN)));
  }

  @Test
  void aHostOnAnotherL2IsSkippedSayingWhy() {
    PeerSpec spec = HostGwPeers.peer(ETH, L2, hostGw("10.244.3.0/24", "203.0.113.3"));
    assertThat(spec).isInstanceOf(DesiredState.Skipped.class);
    assertThat(((DesiredState.Skipped) spec).reason()).isEqualTo("its PublicIP 203.0.113.3 is not on this host's L2: "
        + "the kernel routes 203.0.113.3 via the gateway 198.51.100.254 (not on-link); host-gw needs all hosts on "
        + "one L2 (use vxlan, with DirectRouting for the hosts that share one)");
  }

  @Test
  void otherBackendTypesAndUnsetAddressesAreSkipped() {
    assertThat(HostGwPeers.peer(ETH, L2, vxlan("10.244.4.0/24", "198.51.100.4", "5a:00:00:00:00:04")))
        .isEqualTo(new DesiredState.Skipped(net("10.244.4.0/24"), "BackendType is \"vxlan\", not host-gw"));
    assertThat(HostGwPeers.peer(ETH, L2, hostGw("10.244.5.0/24", "0.0.0.0")))
        .isEqualTo(new DesiredState.Skipped(net("10.244.5.0/24"), "PublicIP is 0.0.0.0"));
  }

  @Test
  void desiredHasRoutesOnlyOnTheUnderlayAndNoOverlayDevice() {
    DesiredState d = HostGwPeers.desired(OWN, ETH, L2, List.of(
        hostGw("10.244.1.0/24", "198.51.100.1"),  // ours
        hostGw("10.244.2.0/24", "198.51.100.2"),
        hostGw("10.244.2.0/23", "198.51.100.22"), // overlaps 10.244.2.0/24: the larger one wins
        hostGw("10.244.3.0/24", "203.0.113.3"),   // another L2
        vxlan("10.244.4.0/24", "198.51.100.4", "5a:00:00:00:00:04"),
        hostGw("10.244.6.0/24", "198.51.100.6")));
    assertThat(d.link()).isZero();
    assertThat(d.directLink()).isEqualTo(ETH);
    assertThat(d.neighbours()).isEmpty();
    assertThat(d.fdb()).isEmpty();
    assertThat(d.routes()).extracting(Route::dst).containsExactlyInAnyOrder(net("10.244.2.0/23"), net("10.244.6.0/24"));
    assertThat(d.routes()).allMatch(r -> r.link() == ETH && !r.onlink() && r.protocol() == Route.PROTO_TARTAN);
    assertThat(d.skipped()).extracting(DesiredState.Skipped::subnet)
        .containsExactlyInAnyOrder(net("10.244.3.0/24"), net("10.244.4.0/24"));
    assertThat(d.conflicts()).extracting(DesiredState.Conflict::dropped).containsExactly(net("10.244.2.0/24"));
  }
}
