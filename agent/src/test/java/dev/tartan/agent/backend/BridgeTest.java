package dev.tartan.agent.backend;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink.Call;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.net.Ipv4Subnet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class BridgeTest {
  static final Ipv4Subnet NETWORK = net("10.244.0.0/16");
  FakeRtNetlink nl;

  @BeforeEach
  void setUp() {
    nl = new FakeRtNetlink();
    nl.addLink("eth0", ip("198.51.100.1"));
  }

  @Test
  void createsTheBridgeWithGatewayAddressMtuAndUp() throws Exception {
    Link br = Bridge.ensure(nl, "cni0", NETWORK, net("10.244.3.0/24"), 1450);

    assertThat(br.kind()).isEqualTo("bridge");
    assertThat(br.mtu()).isEqualTo(1450);
    assertThat(br.up()).isTrue();
    assertThat(nl.addresses(br.index())).containsExactly(new Address(br.index(), ip("10.244.3.1"), 24));
  }

  @Test
  void secondEnsureWritesNothing() throws Exception {
    Bridge.ensure(nl, "cni0", NETWORK, net("10.244.3.0/24"), 1450);
    nl.clearCalls();

    Bridge.ensure(nl, "cni0", NETWORK, net("10.244.3.0/24"), 1450);

    assertThat(nl.calls()).extracting(Call::op).containsExactly("linkByName", "addresses", "linkByIndex");
  }

  @Test
  void reAddressesWhenTheSubnetChanged() throws Exception {
    Link br = Bridge.ensure(nl, "cni0", NETWORK, net("10.244.3.0/24"), 1450);
    nl.addAddress(new Address(br.index(), ip("192.0.2.1"), 24)); // not in the Network: kept

    Bridge.ensure(nl, "cni0", NETWORK, net("10.244.9.0/24"), 1450);

    assertThat(nl.addresses(br.index())).containsExactlyInAnyOrder(
        new Address(br.index(), ip("10.244.9.1"), 24), new Address(br.index(), ip("192.0.2.1"), 24));
  }

  @Test
  void fixesTheMtuOfAnExistingBridge() throws Exception {
    Link br = nl.createBridge("cni0", 1500);

    Link after = Bridge.ensure(nl, "cni0", NETWORK, net("10.244.3.0/24"), 1450);

    assertThat(after.index()).isEqualTo(br.index());
    assertThat(after.mtu()).isEqualTo(1450);
  }

  @Test
  void aNonBridgeWithTheNameIsAClearError() throws Exception {
    nl.createVethPair("cni0", "peer0", -1);

    assertThatThrownBy(() -> Bridge.ensure(nl, "cni0", NETWORK, net("10.244.3.0/24"), 1450))
        .isInstanceOf(NetlinkException.class)
        .hasMessageContaining("a link named cni0 exists but is a veth, not a bridge")
        .hasMessageContaining("ip link del cni0");
  }
}
