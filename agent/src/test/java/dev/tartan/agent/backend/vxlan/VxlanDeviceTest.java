package dev.tartan.agent.backend.vxlan;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink.Call;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.VxlanInfo;
import dev.tartan.agent.netlink.rtnl.VxlanSpec;
import dev.tartan.net.Ipv4Subnet;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class VxlanDeviceTest {
  static final Ipv4Subnet NETWORK = net("10.244.0.0/16");

  FakeRtNetlink nl;
  Link eth0;

  @BeforeEach
  void setUp() {
    nl = new FakeRtNetlink();
    eth0 = nl.addLink("eth0", ip("198.51.100.1"));
  }

  VxlanSpec spec(VxlanBackendConfig cfg, String local) {
    return VxlanDevice.spec(cfg, ip(local), eth0.index(), eth0.mtu());
  }

  @Test
  void specFollowsFlannel() throws Exception {
    VxlanSpec s = spec(VxlanBackendConfig.defaults(), "198.51.100.1");
    assertThat(s.name()).isEqualTo("flannel.1");
    assertThat(s.vni()).isEqualTo(1);
    assertThat(s.port()).isZero(); // not sent: kernel default 8472
    assertThat(s.learning()).isFalse();
    assertThat(s.gbp()).isFalse();
    assertThat(s.mtu()).isEqualTo(1450);
    assertThat(s.underlay()).isEqualTo(eth0.index());
    assertThat(s.local()).isEqualTo(ip("198.51.100.1"));
    assertThat(Integer.parseInt(s.mac().substring(0, 2), 16) & 3).isEqualTo(2);
    VxlanSpec big = spec(VxlanBackendConfig.parse("{\"MTU\":1400,\"VNI\":7,\"Port\":4789}"), "198.51.100.1");
    assertThat(big.mtu()).isEqualTo(1350);
    assertThat(big.name()).isEqualTo("flannel.7");
    assertThat(big.port()).isEqualTo(4789);
  }

  @Test
  void createsTheDevice() throws Exception {
    VxlanSpec s = spec(VxlanBackendConfig.defaults(), "198.51.100.1");

    Link l = VxlanDevice.ensure(nl, s);

    assertThat(l.name()).isEqualTo("flannel.1");
    assertThat(l.kind()).isEqualTo("vxlan");
    assertThat(l.mtu()).isEqualTo(1450);
    assertThat(l.mac()).isEqualTo(s.mac());
    assertThat(l.vxlan()).contains(
        new VxlanInfo(1, ip("198.51.100.1"), eth0.index(), 8472, false, false, true));
  }

  @Test
  void aCompatibleDeviceIsReusedWithItsMac() throws Exception {
    Link first = VxlanDevice.ensure(nl, spec(VxlanBackendConfig.defaults(), "198.51.100.1"));
    nl.clearCalls();

    // a restart: new random MAC in the spec, same settings
    Link again = VxlanDevice.ensure(nl, spec(VxlanBackendConfig.defaults(), "198.51.100.1"));

    assertThat(again.index()).isEqualTo(first.index());
    assertThat(again.mac()).isEqualTo(first.mac());
    assertThat(nl.calls()).extracting(Call::op).containsExactly("linkByName");
  }

  @Test
  void aDeviceWithOtherSettingsIsRecreatedKeepingItsMac() throws Exception {
    Link old = nl.createVxlan(new VxlanSpec("flannel.1", 1, ip("198.51.100.9"), eth0.index(), 4789,
        true, false, null, 1450, "5a:11:22:33:44:55"));

    Link l = VxlanDevice.ensure(nl, spec(VxlanBackendConfig.defaults(), "198.51.100.1"));

    assertThat(l.index()).isNotEqualTo(old.index());
    assertThat(l.mac()).isEqualTo("5a:11:22:33:44:55");
    assertThat(l.vxlan().orElseThrow().local()).isEqualTo(ip("198.51.100.1"));
    assertThat(l.vxlan().orElseThrow().port()).isEqualTo(8472);
    assertThat(l.vxlan().orElseThrow().learning()).isFalse();
    assertThat(nl.linkByIndex(old.index())).isEmpty();
  }

  @Test
  void differencesNameEachSetting() throws Exception {
    Link old = nl.createVxlan(new VxlanSpec("flannel.1", 2, ip("198.51.100.9"), 0, 4789, true, true,
        null, 1450, null));
    VxlanSpec want = spec(VxlanBackendConfig.defaults(), "198.51.100.1");

    assertThat(VxlanDevice.differences(old, want)).containsExactly(
        "vni 2 -> 1", "local 198.51.100.9 -> 198.51.100.1", "dev 0 -> " + eth0.index(),
        "dstport 4789 -> 8472", "learning -> nolearning", "gbp on -> off");
    Link same = VxlanDevice.ensure(nl, want);
    assertThat(VxlanDevice.differences(same, want)).isEmpty();
  }

  @Test
  void aLinkOfAnotherKindWithTheNameIsReplaced() throws Exception {
    Link br = nl.createBridge("flannel.1", 0);

    Link l = VxlanDevice.ensure(nl, spec(VxlanBackendConfig.defaults(), "198.51.100.1"));

    assertThat(l.kind()).isEqualTo("vxlan");
    assertThat(nl.linkByIndex(br.index())).isEmpty();
  }

  @Test
  void onlyTheMtuDifferingIsFixedInPlace() throws Exception {
    VxlanSpec want = spec(VxlanBackendConfig.defaults(), "198.51.100.1");
    Link old = nl.createVxlan(VxlanDevice.withMac(
        new VxlanSpec(want.name(), 1, want.local(), want.underlay(), 0, false, false, null, 1400, null),
        "5a:00:00:00:00:01"));

    Link l = VxlanDevice.ensure(nl, want);

    assertThat(l.index()).isEqualTo(old.index());
    assertThat(l.mtu()).isEqualTo(1450);
    assertThat(l.mac()).isEqualTo("5a:00:00:00:00:01");
  }

  @Test
  void anotherDeviceHoldingTheVniIsAClearError() throws Exception {
    nl.createVxlan(new VxlanSpec("vxlan0", 1, null, 0, 0, false, false, null, 0, null));

    assertThatThrownBy(() -> VxlanDevice.ensure(nl, spec(VxlanBackendConfig.defaults(), "198.51.100.1")))
        .isInstanceOf(NetlinkException.class)
        .hasMessageContaining("another vxlan device already uses VNI 1 and port 8472");
  }

  @Test
  void ensureAddressLeavesExactlyOurSlash32AndSetsUp() throws Exception {
    Link l = VxlanDevice.ensure(nl, spec(VxlanBackendConfig.defaults(), "198.51.100.1"));
    nl.addAddress(new Address(l.index(), ip("10.244.7.0"), 32)); // an old subnet's
    nl.addAddress(new Address(l.index(), ip("10.244.1.0"), 24)); // right IP, wrong length
    nl.addAddress(new Address(l.index(), ip("192.0.2.50"), 32)); // outside the Network: kept

    Link after = VxlanDevice.ensureAddress(nl, l, NETWORK, net("10.244.1.0/24"));

    assertThat(after.up()).isTrue();
    assertThat(nl.addresses(l.index())).containsExactlyInAnyOrder(
        new Address(l.index(), ip("10.244.1.0"), 32), new Address(l.index(), ip("192.0.2.50"), 32));
    nl.clearCalls();
    VxlanDevice.ensureAddress(nl, after, NETWORK, net("10.244.1.0/24"));
    assertThat(nl.calls()).extracting(Call::op).containsExactly("addresses", "linkByIndex");
  }

  @Test
  void linkByNameEmptyMeansCreate() throws Exception {
    assertThat(nl.linkByName("flannel.1")).isEqualTo(Optional.empty());
    VxlanDevice.ensure(nl, spec(VxlanBackendConfig.defaults(), "198.51.100.1"));
    assertThat(nl.calls()).extracting(Call::op).containsSubsequence("linkByName", "createVxlan");
  }
}
