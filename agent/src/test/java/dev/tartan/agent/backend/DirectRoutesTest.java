package dev.tartan.agent.backend;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink;
import dev.tartan.agent.netlink.rtnl.NetlinkEvent;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Route;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The on-link decision: the kernel's route to the peer has no gateway and leaves through the underlay. */
class DirectRoutesTest {
  static final int ETH = 2;

  static Optional<Route> via(String gateway, int link) {
    return Optional.of(new Route(net("198.51.100.7/32"), gateway == null ? null : ip(gateway), link, false,
        Route.TABLE_MAIN, 2));
  }

  @Test
  void onLinkWhenTheRouteHasNoGatewayAndLeavesThroughTheUnderlay() {
    assertThat(DirectRoutes.decide(ip("198.51.100.7"), via(null, ETH), ETH, "eth0")).isNull();
  }

  @Test
  void notOnLinkBehindAGatewayOnAnotherDeviceOrWithoutARoute() {
    assertThat(DirectRoutes.decide(ip("203.0.113.7"), via("198.51.100.254", ETH), ETH, "eth0"))
        .isEqualTo("the kernel routes 203.0.113.7 via the gateway 198.51.100.254 (not on-link)");
    assertThat(DirectRoutes.decide(ip("198.51.100.7"), via(null, 9), ETH, "eth0"))
        .isEqualTo("the kernel routes 198.51.100.7 through ifindex 9, not eth0");
    assertThat(DirectRoutes.decide(ip("192.0.2.7"), Optional.empty(), ETH, "eth0"))
        .isEqualTo("the kernel has no route to 192.0.2.7");
  }

  @Test
  void theDirectRouteGoesViaThePublicIpNotOnlinkProtoTartan() {
    Route r = DirectRoutes.route(net("10.244.3.0/24"), ip("198.51.100.3"), ETH);
    assertThat(r).isEqualTo(new Route(net("10.244.3.0/24"), ip("198.51.100.3"), ETH, false, Route.TABLE_MAIN,
        Route.PROTO_TARTAN));
  }

  @Test
  void theKernelTestAsksForTheRouteToTheAddressWithoutADump() throws Exception {
    FakeRtNetlink nl = new FakeRtNetlink();
    Link eth0 = nl.addLink("eth0", ip("198.51.100.1"));
    nl.replaceRoute(new Route(net("0.0.0.0/0"), ip("198.51.100.254"), eth0.index(), false, Route.TABLE_MAIN, 3));
    nl.clearCalls();
    DirectRoutes.OnLink test = DirectRoutes.kernel(nl, eth0.index(), "eth0");
    nl.clearCalls(); // the links it starts from
    assertThat(test.notOnLink(ip("198.51.100.9"))).isNull();
    assertThat(test.notOnLink(ip("203.0.113.9"))).contains("via the gateway 198.51.100.254");
    assertThat(nl.dumps()).isZero();
    assertThat(nl.calls()).extracting(FakeRtNetlink.Call::op).containsExactly("routeTo", "routeTo");
  }

  @Test
  void answersAreRememberedUntilARouteAddressOrLinkOfSomeoneElseChanges() throws Exception {
    FakeRtNetlink nl = new FakeRtNetlink();
    Link eth0 = nl.addLink("eth0", ip("198.51.100.1"));
    DirectRoutes.Cached test = DirectRoutes.kernel(nl, eth0.index(), "eth0");
    nl.clearCalls();
    assertThat(test.notOnLink(ip("198.51.100.9"))).isNull();
    assertThat(test.notOnLink(ip("198.51.100.9"))).isNull();
    assertThat(nl.calls()).extracting(FakeRtNetlink.Call::op).containsExactly("routeTo");

    test.kernelChanged(new NetlinkEvent.RouteChanged(DirectRoutes.route(net("10.244.3.0/24"), ip("198.51.100.9"),
        eth0.index()), false)); // one of ours: changes no answer
    assertThat(test.size()).isEqualTo(1);
    test.kernelChanged(new NetlinkEvent.AddressChanged(new Address(eth0.index(), ip("198.51.100.1"), 24), true));
    assertThat(test.size()).isZero();
    nl.deleteAddress(new Address(eth0.index(), ip("198.51.100.1"), 24));
    assertThat(test.notOnLink(ip("198.51.100.9"))).isEqualTo("the kernel has no route to 198.51.100.9");
  }

  @Test
  void aContainersVethComingAndGoingKeepsTheAnswersTheUnderlayGoingDownDropsThem() throws Exception {
    FakeRtNetlink nl = new FakeRtNetlink();
    Link eth0 = nl.addLink("eth0", ip("198.51.100.1"));
    DirectRoutes.Cached test = DirectRoutes.kernel(nl, eth0.index(), "eth0");
    test.notOnLink(ip("198.51.100.9"));
    Link veth = new Link(40, "veth1", "veth", 1500, "02:00:00:00:00:40", 0, 0, java.util.Optional.empty());
    test.kernelChanged(new NetlinkEvent.LinkChanged(veth, false)); // created, down
    Link port = new Link(40, "veth1", "veth", 1500, "02:00:00:00:00:40", 1, 7, java.util.Optional.empty());
    test.kernelChanged(new NetlinkEvent.LinkChanged(port, false)); // in the bridge, up
    test.kernelChanged(new NetlinkEvent.AddressChanged(new Address(40, java.net.InetAddress.getByName("fe80::40"), 64),
        false)); // the veth's link-local address
    test.kernelChanged(new NetlinkEvent.RouteChanged(new Route(dev.tartan.net.Ipv6Subnet.parse("fe80::/64"), null, 40,
        false, Route.TABLE_MAIN, 2), false)); // and its route
    test.kernelChanged(new NetlinkEvent.LinkChanged(port, true)); // the container is gone
    assertThat(test.size()).isEqualTo(1);

    Link down = new Link(eth0.index(), "eth0", "veth", 1500, eth0.mac(), 0, 0, java.util.Optional.empty());
    test.kernelChanged(new NetlinkEvent.LinkChanged(down, false));
    assertThat(test.size()).isZero();
  }
}
