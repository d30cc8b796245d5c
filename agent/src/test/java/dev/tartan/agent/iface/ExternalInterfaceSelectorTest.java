package dev.tartan.agent.iface;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.agent.netlink.Errno;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ExternalInterfaceSelectorTest {
  FakeRtNetlink nl;
  Link eth0;
  Link eth1;
  Link bare;
  ExternalInterfaceSelector selector;

  static Inet4Address ip(String s) {
    return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(s));
  }

  /**
   * eth0 198.51.100.10/24 (mtu 1500), eth1 203.0.113.5/24 plus a link-local address added first
   * (mtu 9000), bare (no address); routes: connected ones, 10.99.0.0/16 via 203.0.113.1, default
   * via 198.51.100.1.
   */
  @BeforeEach
  void host() throws Exception {
    nl = new FakeRtNetlink();
    eth0 = nl.addLink("eth0", 1500, ip("198.51.100.10"), 24);
    eth1 = nl.addLink("eth1", 9000, ip("169.254.7.7"), 16);
    nl.addAddress(new Address(eth1.index(), ip("203.0.113.5"), 24));
    bare = nl.addLink("bare", 1500, null, 0);
    nl.replaceRoute(new Route(Ipv4Subnet.parse("10.99.0.0/16"), ip("203.0.113.1"), eth1.index(),
        false, Route.TABLE_MAIN, Route.PROTO_BOOT));
    nl.replaceRoute(new Route(Ipv4Subnet.parse("0.0.0.0/0"), ip("198.51.100.1"), eth0.index(),
        false, Route.TABLE_MAIN, Route.PROTO_BOOT));
    selector = new ExternalInterfaceSelector(nl);
  }

  ExternalInterface select(List<String> iface, List<String> regex, String canReach, String publicIp)
      throws InterfaceSelectionException {
    return selector.select(iface, regex, canReach == null ? null : ip(canReach),
        publicIp == null ? null : ip(publicIp));
  }

  @Test
  void withoutFlagsTheDefaultRouteDecides() throws Exception {
    ExternalInterface e = select(List.of(), List.of(), null, null);
    assertThat(e).isEqualTo(new ExternalInterface(eth0.index(), "eth0", 1500, ip("198.51.100.10"),
        ip("198.51.100.10"), true));
    assertThat(e.vxlanLocal()).isEqualTo(ip("198.51.100.10"));
  }

  @Test
  void noDefaultRouteIsAnError() throws Exception {
    nl.deleteRoute(new Route(Ipv4Subnet.parse("0.0.0.0/0"), null, 0, false, Route.TABLE_MAIN, 0));
    assertThatThrownBy(() -> select(List.of(), List.of(), null, null))
        .isInstanceOf(InterfaceSelectionException.class)
        .hasMessage("no IPv4 default route to take the external interface from: add a default route "
            + "or choose the interface with --iface");
  }

  @Test
  void ifaceValuesAreTriedInOrderByNameOrAddress() throws Exception {
    ExternalInterface e = select(List.of("eth9", "bare", "eth1", "eth0"), List.of(), null, null);
    assertThat(e.name()).isEqualTo("eth1");
    assertThat(e.mtu()).isEqualTo(9000);
    assertThat(e.address()).as("global before link-local").isEqualTo(ip("203.0.113.5"));

    ExternalInterface byIp = select(List.of("169.254.7.7"), List.of(), null, null);
    assertThat(byIp.name()).isEqualTo("eth1");
    assertThat(byIp.address()).as("the given IP is the interface address").isEqualTo(ip("169.254.7.7"));
  }

  @Test
  void nothingMatchingListsWhatWasTried() throws Exception {
    nl.deleteRoute(new Route(Ipv4Subnet.parse("0.0.0.0/0"), null, 0, false, Route.TABLE_MAIN, 0));
    assertThatThrownBy(() -> select(List.of("eth9", "bare", "192.0.2.99"), List.of("^wl"), "192.0.2.1",
        null))
        .isInstanceOf(InterfaceSelectionException.class)
        .hasMessage("no interface matches --iface eth9 (no such interface); --iface bare (it has no "
            + "usable IPv4 address); --iface 192.0.2.99 (no interface has this address); "
            + "--iface-regex ^wl (no address or name with a usable IPv4 address matches); "
            + "--iface-can-reach 192.0.2.1 (no route to it): check the "
            + "flags against `ip -4 addr` (interfaces: lo [], eth0 [198.51.100.10], "
            + "eth1 [203.0.113.5, 169.254.7.7], bare [])");
  }

  @Test
  void regexesMatchAddressesBeforeNames() throws Exception {
    // "eth1" as an address regex matches nothing; as a name it finds eth1
    assertThat(select(List.of(), List.of("eth1"), null, null).name()).isEqualTo("eth1");
    // ".5$" matches eth1's address 203.0.113.5 although no name matches
    ExternalInterface e = select(List.of(), List.of("\\.5$"), null, null);
    assertThat(e.name()).isEqualTo("eth1");
    assertThat(e.address()).isEqualTo(ip("203.0.113.5"));
    // "1" is found in eth0's address first (interfaces in index order, addresses before names)
    assertThat(select(List.of(), List.of("1"), null, null).name()).isEqualTo("eth0");
    // a name match without an address does not count; later regexes are tried
    assertThat(select(List.of(), List.of("^bare$", "^eth0$"), null, null).name()).isEqualTo("eth0");
    // --iface comes before --iface-regex
    assertThat(select(List.of("eth0"), List.of("eth1"), null, null).name()).isEqualTo("eth0");
    assertThat(select(List.of("nope"), List.of("eth1"), null, null).name()).isEqualTo("eth1");
  }

  @Test
  void canReachUsesTheLongestPrefixRoute() throws Exception {
    ExternalInterface viaGateway = select(List.of(), List.of(), "10.99.3.4", null);
    assertThat(viaGateway.name()).isEqualTo("eth1");
    assertThat(viaGateway.address()).as("the address on the gateway's subnet")
        .isEqualTo(ip("203.0.113.5"));
    assertThat(select(List.of(), List.of(), "203.0.113.77", null).name()).isEqualTo("eth1");
    assertThat(select(List.of(), List.of(), "8.8.8.8", null).name()).as("default route")
        .isEqualTo("eth0");
    assertThat(select(List.of("nope"), List.of("^wl"), "10.99.0.1", null).name()).isEqualTo("eth1");
  }

  @Test
  void publicIpPicksItsHolderWithoutOtherFlags() throws Exception {
    ExternalInterface e = select(List.of(), List.of(), null, "203.0.113.5");
    assertThat(e.name()).isEqualTo("eth1");
    assertThat(e.publicIp()).isEqualTo(ip("203.0.113.5"));
    assertThat(e.publicIpLocal()).isTrue();
    assertThatThrownBy(() -> select(List.of(), List.of(), null, "192.0.2.200"))
        .isInstanceOf(InterfaceSelectionException.class)
        .hasMessage("--public-ip 192.0.2.200 is not an address of this host: when the public IP is "
            + "NATed, choose the interface with --iface (or --iface-regex/--iface-can-reach)");
  }

  @Test
  void aNatedPublicIpIsPublishedButTheVxlanDeviceBindsTheInterfaceAddress() throws Exception {
    ExternalInterface nat = select(List.of("eth0"), List.of(), null, "192.0.2.200");
    assertThat(nat.address()).isEqualTo(ip("198.51.100.10"));
    assertThat(nat.publicIp()).isEqualTo(ip("192.0.2.200"));
    assertThat(nat.publicIpLocal()).isFalse();
    assertThat(nat.vxlanLocal()).isEqualTo(ip("198.51.100.10"));

    ExternalInterface local = select(List.of("eth0"), List.of(), null, "203.0.113.5");
    assertThat(local.publicIpLocal()).isTrue();
    assertThat(local.vxlanLocal()).as("flannel >= 0.27.4: local = public IP").isEqualTo(ip("203.0.113.5"));
  }

  @Test
  void defaultRouteInterfaceWithoutAddressAndNetlinkErrorsAreReported() throws Exception {
    nl.replaceRoute(new Route(Ipv4Subnet.parse("0.0.0.0/0"), ip("192.0.2.1"), bare.index(), true,
        Route.TABLE_MAIN, Route.PROTO_BOOT));
    assertThatThrownBy(() -> select(List.of(), List.of(), null, null))
        .isInstanceOf(InterfaceSelectionException.class)
        .hasMessage("interface bare (of the default route) has no usable IPv4 address: give it one "
            + "or choose the interface with --iface");
    nl.failNext("links", Errno.EIO);
    assertThatThrownBy(() -> select(List.of("eth0"), List.of(), null, null))
        .isInstanceOf(InterfaceSelectionException.class)
        .hasMessageStartingWith("cannot list interfaces, addresses or routes: ");
  }

  @Test
  void theRecordRefusesAZeroMtu() {
    assertThatThrownBy(() -> new ExternalInterface(2, "eth0", 0, ip("198.51.100.10"),
        ip("198.51.100.10"), true)).hasMessage("interface eth0 has MTU 0");
  }

  // ---- IPv6 (dual stack)

  static java.net.Inet6Address ip6(String s) {
    return dev.tartan.net.Ipv6Text.parse(s);
  }

  @Test
  void ipv6IsTheInterfacesFirstGlobalAddress() throws Exception {
    ExternalInterface e = select(List.of(), List.of(), null, null);
    nl.addAddress(new Address(eth0.index(), ip6("fe80::1"), 64));
    nl.addAddress(new Address(eth0.index(), ip6("2001:db8::10"), 64));
    nl.addAddress(new Address(eth0.index(), ip6("2001:db8::11"), 64));
    nl.addAddress(new Address(eth1.index(), ip6("2001:db8:1::5"), 64));
    Ipv6Underlay u = selector.selectIpv6(e, null);
    assertThat(u).isEqualTo(new Ipv6Underlay(ip6("2001:db8::10"), ip6("2001:db8::10"), true));
    assertThat(u.vxlanLocal()).isEqualTo(ip6("2001:db8::10"));
  }

  @Test
  void publicIpv6IsPublishedAndUsedAsLocalOnlyWhenItIsOurs() throws Exception {
    ExternalInterface e = select(List.of(), List.of(), null, null);
    nl.addAddress(new Address(eth0.index(), ip6("2001:db8::10"), 64));
    nl.addAddress(new Address(eth0.index(), ip6("2001:db8::11"), 64));
    Ipv6Underlay own = selector.selectIpv6(e, ip6("2001:db8::11"));
    assertThat(own).isEqualTo(new Ipv6Underlay(ip6("2001:db8::11"), ip6("2001:db8::11"), true));
    Ipv6Underlay nat = selector.selectIpv6(e, ip6("2001:db8:ffff::1"));
    assertThat(nat).isEqualTo(new Ipv6Underlay(ip6("2001:db8::10"), ip6("2001:db8:ffff::1"), false));
    assertThat(nat.vxlanLocal()).isEqualTo(ip6("2001:db8::10"));
  }

  @Test
  void anInterfaceWithoutAGlobalIpv6AddressIsAClearError() throws Exception {
    ExternalInterface e = select(List.of(), List.of(), null, null);
    nl.addAddress(new Address(eth0.index(), ip6("fe80::1"), 64));
    assertThatThrownBy(() -> selector.selectIpv6(e, null)).isInstanceOf(InterfaceSelectionException.class)
        .hasMessageContaining("EnableIPv6").hasMessageContaining("eth0 has no global IPv6 address");
  }
}
