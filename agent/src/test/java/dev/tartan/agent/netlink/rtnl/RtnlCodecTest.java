package dev.tartan.agent.netlink.rtnl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.agent.netlink.codec.Hex;
import dev.tartan.agent.netlink.codec.MalformedMessageException;
import dev.tartan.agent.netlink.codec.MessageReader;
import dev.tartan.agent.netlink.codec.MessageWriter;
import dev.tartan.agent.netlink.codec.Rtnl;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import java.net.Inet6Address;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * Every request kind against bytes worked out by hand from the uapi headers (x86-64, so host
 * order is little-endian), and decoding of kernel-shaped replies.
 *
 * <p>Layouts: nlmsghdr {u32 len, u16 type, u16 flags, u32 seq, u32 pid}; ifinfomsg {u8 family, u8
 * pad, u16 type, i32 index, u32 flags, u32 change}; ifaddrmsg {u8 family, u8 prefixlen, u8 flags,
 * u8 scope, u32 index}; rtmsg {u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32
 * flags}; ndmsg {u8 family, u8 pad, u16 pad, i32 ifindex, u16 state, u8 flags, u8 type}.
 * Flags: REQUEST 1, ACK 4, REPLACE 0x100, EXCL 0x200, CREATE 0x400, APPEND 0x800, DUMP 0x300.
 */
class RtnlCodecTest {

  private static Inet4Address ip(String s) {
    try {
      return (Inet4Address) InetAddress.getByName(s);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  private static Inet6Address ip6(String s) {
    return Ipv6Text.parse(s);
  }

  private static String encode(Consumer<MessageWriter> encoder) {
    MessageWriter w = new MessageWriter();
    encoder.accept(w);
    return Hex.of(w.finish());
  }

  private static ByteBuffer payloadOf(Consumer<MessageWriter> encoder) {
    MessageWriter w = new MessageWriter();
    encoder.accept(w);
    MessageReader r = new MessageReader(w.finish());
    assertThat(r.next()).isTrue();
    return r.payload();
  }

  // ------------------------------------------------------------------ links

  @Test
  void createVxlan() {
    VxlanSpec spec = new VxlanSpec("flannel.1", 1, ip("198.51.100.1"), 2, 8472, false, false, null, 1450, null);
    assertThat(encode(w -> RtnlCodec.newVxlan(w, 1, spec))).isEqualTo(Hex.norm(""
        + "74000000 1000 0506 01000000 00000000"   // len 116, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE
        + "00 00 0000 00000000 00000000 00000000"  // ifinfomsg AF_UNSPEC
        + "0e00 0300 666c616e6e656c2e3100 0000"    // IFLA_IFNAME "flannel.1"
        + "0800 0400 aa050000"                     // IFLA_MTU 1450
        + "3c00 1200"                              // IFLA_LINKINFO (60)
        + "0a00 0100 7678 6c61 6e00 0000"          //   IFLA_INFO_KIND "vxlan"
        + "2c00 0200"                              //   IFLA_INFO_DATA (44)
        + "0800 0100 01000000"                     //     IFLA_VXLAN_ID 1
        + "0800 0400 c6336401"                     //     IFLA_VXLAN_LOCAL 198.51.100.1 (network order)
        + "0800 0300 02000000"                     //     IFLA_VXLAN_LINK 2
        + "0600 0f00 2118 0000"                    //     IFLA_VXLAN_PORT 8472 (__be16)
        + "0500 0700 00 000000"));                 //     IFLA_VXLAN_LEARNING 0
  }

  @Test
  void createVxlanWithEveryOption() {
    VxlanSpec spec = new VxlanSpec("vx", 0xabcdef, null, 0, 4789, true, true, false, 0, "02:aa:bb:cc:dd:ee");
    assertThat(encode(w -> RtnlCodec.newVxlan(w, 2, spec))).isEqualTo(Hex.norm(""
        + "6c000000 1000 0506 02000000 00000000"   // len 108
        + "00 00 0000 00000000 00000000 00000000"
        + "0700 0300 767800 00"                    // IFLA_IFNAME "vx"
        + "0a00 0100 02aabbccddee 0000"            // IFLA_ADDRESS
        + "3800 1200"                              // IFLA_LINKINFO (56)
        + "0a00 0100 7678 6c61 6e00 0000"
        + "2800 0200"                              //   IFLA_INFO_DATA (40)
        + "0800 0100 efcdab00"                     //     ID 0xabcdef
        + "0600 0f00 12b5 0000"                    //     PORT 4789 = 0x12b5 big-endian
        + "0500 0700 01 000000"                    //     LEARNING 1
        + "0400 1700"                              //     GBP (flag)
        + "0500 1200 00 000000"));                 //     UDP_CSUM 0
  }

  @Test
  void createBridge() {
    assertThat(encode(w -> RtnlCodec.newBridge(w, 2, "cni0", 0))).isEqualTo(Hex.norm(""
        + "3c000000 1000 0506 02000000 00000000"   // len 60
        + "00 00 0000 00000000 00000000 00000000"
        + "0900 0300 636e6930 00 000000"           // IFLA_IFNAME "cni0"
        + "1000 1200"                              // IFLA_LINKINFO (16)
        + "0b00 0100 627269646765 00 00"));        //   IFLA_INFO_KIND "bridge"
  }

  @Test
  void createVethWithPeerInAnotherNamespace() {
    assertThat(encode(w -> RtnlCodec.newVeth(w, 3, "veth0", "eth0", 5))).isEqualTo(Hex.norm(""
        + "68000000 1000 0506 03000000 00000000"   // len 104
        + "00 00 0000 00000000 00000000 00000000"
        + "0a00 0300 7665746830 00 0000"           // IFLA_IFNAME "veth0"
        + "3c00 1200"                              // IFLA_LINKINFO (60)
        + "0900 0100 76657468 00 000000"           //   IFLA_INFO_KIND "veth"
        + "2c00 0200"                              //   IFLA_INFO_DATA (44)
        + "2800 0100"                              //     VETH_INFO_PEER (40)
        + "00 00 0000 00000000 00000000 00000000"  //       the peer's ifinfomsg
        + "0900 0300 65746830 00 000000"           //       IFLA_IFNAME "eth0"
        + "0800 1c00 05000000"));                  //       IFLA_NET_NS_FD 5
  }

  @Test
  void setLinkAttributes() {
    assertThat(encode(w -> RtnlCodec.setUp(w, 4, 7, true))).isEqualTo(Hex.norm(
        "20000000 1000 0500 04000000 00000000 | 00 00 0000 07000000 01000000 01000000"));
    assertThat(encode(w -> RtnlCodec.setUp(w, 4, 7, false))).isEqualTo(Hex.norm(
        "20000000 1000 0500 04000000 00000000 | 00 00 0000 07000000 00000000 01000000"));
    assertThat(encode(w -> RtnlCodec.setMtu(w, 5, 7, 1400))).isEqualTo(Hex.norm(
        "28000000 1000 0500 05000000 00000000 | 00 00 0000 07000000 00000000 00000000 | 0800 0400 78050000"));
    assertThat(encode(w -> RtnlCodec.setMac(w, 6, 7, "02:00:00:00:00:01"))).isEqualTo(Hex.norm(
        "2c000000 1000 0500 06000000 00000000 | 00 00 0000 07000000 00000000 00000000 | 0a00 0100 020000000001 0000"));
    assertThat(encode(w -> RtnlCodec.setMaster(w, 7, 7, 3))).isEqualTo(Hex.norm(
        "28000000 1000 0500 07000000 00000000 | 00 00 0000 07000000 00000000 00000000 | 0800 0a00 03000000"));
    assertThat(encode(w -> RtnlCodec.delLink(w, 8, 7))).isEqualTo(Hex.norm(
        "20000000 1100 0500 08000000 00000000 | 00 00 0000 07000000 00000000 00000000"));
  }

  @Test
  void getLinks() {
    assertThat(encode(w -> RtnlCodec.getLinkByName(w, 9, "eth0"))).isEqualTo(Hex.norm(""
        + "34000000 1200 0500 09000000 00000000 | 00 00 0000 00000000 00000000 00000000"
        + "0900 0300 65746830 00 000000 | 0800 1d00 08000000"));      // IFLA_EXT_MASK SKIP_STATS
    assertThat(encode(w -> RtnlCodec.getLinkByIndex(w, 9, 2))).isEqualTo(Hex.norm(""
        + "28000000 1200 0500 09000000 00000000 | 00 00 0000 02000000 00000000 00000000 | 0800 1d00 08000000"));
    assertThat(encode(w -> RtnlCodec.dumpLinks(w, 10))).isEqualTo(Hex.norm(""
        + "28000000 1200 0103 0a000000 00000000 | 00 00 0000 00000000 00000000 00000000 | 0800 1d00 08000000"));
  }

  /** An RTM_NEWLINK as the kernel sends it for a vxlan device (trimmed to the attributes we read). */
  static final String KERNEL_VXLAN_LINK = ""
      + "b0000000 1000 0000 2a000000 00000000"
      + "00 00 0100 05000000 43100100 00000000"  // ARPHRD_ETHER, ifindex 5, UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP
      + "0700 0300 767800 00"                    // IFLA_IFNAME "vx"
      + "0800 0400 aa050000"                     // IFLA_MTU 1450
      + "0a00 0100 02aabbccddee 0000"            // IFLA_ADDRESS
      + "0a00 0200 ffffffffffff 0000"            // IFLA_BROADCAST (ignored)
      + "0800 0a00 09000000"                     // IFLA_MASTER 9
      + "0500 1000 06 000000"                    // IFLA_OPERSTATE (ignored)
      + "5800 1280"                              // IFLA_LINKINFO | NLA_F_NESTED (88)
      + "0a00 0100 7678 6c61 6e00 0000"          //   KIND "vxlan"
      + "4800 0280"                              //   DATA | NESTED (72)
      + "0800 0100 01000000"                     //     ID 1
      + "0800 0300 02000000"                     //     LINK 2
      + "0800 0400 c6336401"                     //     LOCAL
      + "0500 0500 00 000000"                    //     TTL (ignored)
      + "0500 0700 00 000000"                    //     LEARNING 0
      + "0800 0800 2c010000"                     //     AGEING (ignored)
      + "0600 0f00 2118 0000"                    //     PORT 8472
      + "0500 1200 01 000000"                    //     UDP_CSUM 1
      + "0400 1700";                             //     GBP

  @Test
  void decodesAKernelVxlanLink() {
    MessageReader r = new MessageReader(Hex.buffer(KERNEL_VXLAN_LINK));
    assertThat(r.next()).isTrue();
    Link l = RtnlCodec.decodeLink(r.payload());
    assertThat(l).isEqualTo(new Link(5, "vx", "vxlan", 1450, "02:aa:bb:cc:dd:ee", 0x11043, 9,
        Optional.of(new VxlanInfo(1, ip("198.51.100.1"), 2, 8472, false, true, true))));
    assertThat(l.up()).isTrue();
    assertThat(r.next()).isFalse();
  }

  @Test
  void linkWithoutKindOrAddressHasEmptyStrings() {
    Link l = RtnlCodec.decodeLink(Hex.buffer("00 00 0403 01000000 09000000 00000000 | 0700 0300 6c6f00 00"));
    assertThat(l).isEqualTo(new Link(1, "lo", "", 0, "", 9, 0, Optional.empty()));
  }

  @Test
  void bridgeFamilyLinkMessagesAreSkipped() {
    assertThat(RtnlCodec.decodeLink(Hex.buffer("07 00 0100 05000000 00000000 00000000 | 0700 0300 767800 00"))).isNull();
  }

  @Test
  void linkWithoutNameIsMalformed() {
    assertThatThrownBy(() -> RtnlCodec.decodeLink(Hex.buffer("00 00 0100 05000000 00000000 00000000")))
        .isInstanceOf(MalformedMessageException.class).hasMessageContaining("without IFLA_IFNAME");
    assertThatThrownBy(() -> RtnlCodec.decodeLink(Hex.buffer("00 00 0100 0500")))
        .isInstanceOf(MalformedMessageException.class).hasMessageContaining("ifinfomsg");
  }

  @Test
  void vxlanRequestDecodesBackToItsSpec() {
    VxlanSpec spec = new VxlanSpec("vx", 77, ip("203.0.113.5"), 3, 65000, false, true, true, 1400, "02:00:00:00:00:77");
    Link l = RtnlCodec.decodeLink(payloadOf(w -> RtnlCodec.newVxlan(w, 1, spec)));
    assertThat(l.name()).isEqualTo("vx");
    assertThat(l.mtu()).isEqualTo(1400);
    assertThat(l.mac()).isEqualTo("02:00:00:00:00:77");
    assertThat(l.vxlan()).contains(new VxlanInfo(77, ip("203.0.113.5"), 3, 65000, false, true, true));
  }

  // ------------------------------------------------------------------ addresses

  @Test
  void addresses() {
    Address a = new Address(3, ip("10.244.1.0"), 24);
    String body = "02 18 00 00 03000000 | 0800 0200 0af40100 | 0800 0100 0af40100"; // IFA_LOCAL, IFA_ADDRESS
    assertThat(encode(w -> RtnlCodec.newAddress(w, 1, a, false)))
        .isEqualTo(Hex.norm("28000000 1400 0506 01000000 00000000" + body));
    assertThat(encode(w -> RtnlCodec.newAddress(w, 1, a, true)))
        .isEqualTo(Hex.norm("28000000 1400 0505 01000000 00000000" + body));
    assertThat(encode(w -> RtnlCodec.delAddress(w, 1, a)))
        .isEqualTo(Hex.norm("28000000 1500 0500 01000000 00000000" + body));
    assertThat(encode(w -> RtnlCodec.dumpAddresses(w, 2, 3)))
        .isEqualTo(Hex.norm("18000000 1600 0103 02000000 00000000 | 02 00 00 00 03000000"));
    assertThat(RtnlCodec.decodeAddress(payloadOf(w -> RtnlCodec.newAddress(w, 1, a, false)))).isEqualTo(a);
  }

  @Test
  void decodesAKernelAddressOfEitherFamily() {
    // RTM_NEWADDR payload for 198.51.100.1/24 on ifindex 2: IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_FLAGS
    Address a = RtnlCodec.decodeAddress(Hex.buffer("02 18 80 00 02000000 | 0800 0100 c6336401 | 0800 0200 c6336401"
        + "0a00 0300 657468300000 0000 | 0800 0800 80000000"));
    assertThat(a).isEqualTo(new Address(2, ip("198.51.100.1"), 24));
    // 2001:db8::1/64 on ifindex 2 (IFA_ADDRESS, IFA_FLAGS), as the kernel reports an IPv6 address
    assertThat(RtnlCodec.decodeAddress(Hex.buffer("0a 40 00 00 02000000 | 1400 0100 20010db8000000000000000000000001"
        + "0800 0800 80000000"))).isEqualTo(new Address(2, ip6("2001:db8::1"), 64));
    assertThat(RtnlCodec.decodeAddress(Hex.buffer("07 40 00 00 02000000"))).isNull(); // not an address family
    assertThatThrownBy(() -> RtnlCodec.decodeAddress(Hex.buffer("0a 40 00 00 02000000")))
        .isInstanceOf(MalformedMessageException.class).hasMessageContaining("without an IPv6 address");
    assertThatThrownBy(() -> RtnlCodec.decodeAddress(Hex.buffer("02 18 80 00 02000000")))
        .isInstanceOf(MalformedMessageException.class);
  }

  // ------------------------------------------------------------------ routes

  @Test
  void routes() {
    Route overlay = Route.overlay(Ipv4Subnet.parse("10.244.1.0/24"), ip("10.244.1.0"), 5);
    String attrs = "0800 0100 0af40100 | 0800 0500 0af40100 | 0800 0400 05000000"; // RTA_DST, RTA_GATEWAY, RTA_OIF
    // table main 0xfe, proto 111 0x6f, scope universe, RTN_UNICAST, RTNH_F_ONLINK
    assertThat(encode(w -> RtnlCodec.newRoute(w, 1, overlay)))
        .isEqualTo(Hex.norm("34000000 1800 0505 01000000 00000000 | 02 18 00 00 fe 6f 00 01 04000000" + attrs));
    // delete: scope NOWHERE (0xff), type UNSPEC so the kernel matches any
    assertThat(encode(w -> RtnlCodec.delRoute(w, 1, overlay)))
        .isEqualTo(Hex.norm("34000000 1900 0500 01000000 00000000 | 02 18 00 00 fe 6f ff 00 00000000" + attrs));
    // device route in table 1000: rtm_table UNSPEC + RTA_TABLE, scope link (0xfd)
    Route devRoute = new Route(Ipv4Subnet.parse("10.244.0.0/16"), null, 5, false, 1000, Route.PROTO_BOOT);
    assertThat(encode(w -> RtnlCodec.newRoute(w, 2, devRoute))).isEqualTo(Hex.norm(
        "34000000 1800 0505 02000000 00000000 | 02 10 00 00 00 03 fd 01 00000000"
            + "0800 0100 0af40000 | 0800 0400 05000000 | 0800 0f00 e8030000"));
    // default route: no RTA_DST
    Route dflt = new Route(Ipv4Subnet.parse("0.0.0.0/0"), ip("198.51.100.254"), 0, false, 254, 3);
    assertThat(encode(w -> RtnlCodec.newRoute(w, 3, dflt))).isEqualTo(Hex.norm(
        "24000000 1800 0505 03000000 00000000 | 02 00 00 00 fe 03 00 01 00000000 | 0800 0500 c63364fe"));
    assertThat(encode(w -> RtnlCodec.dumpRoutes(w, 4, 254, 111))).isEqualTo(Hex.norm(
        "1c000000 1a00 0103 04000000 00000000 | 02 00 00 00 fe 6f 00 00 00000000"));
    assertThat(encode(w -> RtnlCodec.dumpRoutes(w, 4, 1000, 0))).isEqualTo(Hex.norm(
        "24000000 1a00 0103 04000000 00000000 | 02 00 00 00 00 00 00 00 00000000 | 0800 0f00 e8030000"));
    for (Route r : new Route[] {overlay, devRoute, dflt}) {
      assertThat(RtnlCodec.decodeRoute(payloadOf(w -> RtnlCodec.newRoute(w, 1, r)))).isEqualTo(r);
    }
  }

  @Test
  void decodesAKernelRouteAndSkipsNonUnicastAndClones() {
    // 10.244.1.0/24 via 10.244.1.0 dev 5 proto 111 onlink, as dumped: RTA_TABLE, RTA_DST, RTA_GATEWAY, RTA_OIF
    Route r = RtnlCodec.decodeRoute(Hex.buffer("02 18 00 00 fe 6f 00 01 04000000 | 0800 0f00 fe000000"
        + "0800 0100 0af40100 | 0800 0500 0af40100 | 0800 0400 05000000"));
    assertThat(r).isEqualTo(Route.overlay(Ipv4Subnet.parse("10.244.1.0/24"), ip("10.244.1.0"), 5));
    assertThat(RtnlCodec.decodeRoute(Hex.buffer("02 20 00 00 ff 02 fe 02 00000000 | 0800 0100 c6336401"))).isNull(); // local
    assertThat(RtnlCodec.decodeRoute(Hex.buffer("02 20 00 00 fe 02 00 01 00020000"))).isNull(); // RTM_F_CLONED
    assertThat(RtnlCodec.decodeRoute(Hex.buffer("07 40 00 00 fe 02 00 01 00000000"))).isNull(); // AF_BRIDGE
    assertThatThrownBy(() -> RtnlCodec.decodeRoute(Hex.buffer("0a 81 00 00 fe 02 00 01 00000000")))
        .isInstanceOf(MalformedMessageException.class).hasMessageContaining("IPv6 route with prefix length 129");
    assertThatThrownBy(() -> RtnlCodec.decodeRoute(Hex.buffer("02 28 00 00 fe 02 00 01 00000000")))
        .isInstanceOf(MalformedMessageException.class).hasMessageContaining("prefix length 40");
    assertThatThrownBy(() -> RtnlCodec.decodeRoute(Hex.buffer("02 18 00 00 fe 6f 00 01 0400")))
        .isInstanceOf(MalformedMessageException.class).hasMessageContaining("rtmsg");
  }

  // ------------------------------------------------------------------ neighbours

  @Test
  void neighbours() {
    Neighbour n = Neighbour.permanent(5, ip("10.244.1.0"), "02:00:00:00:00:01");
    assertThat(encode(w -> RtnlCodec.newNeighbour(w, 1, n))).isEqualTo(Hex.norm(
        "30000000 1c00 0505 01000000 00000000 | 02 00 0000 05000000 8000 00 00"  // NUD_PERMANENT
            + "0800 0100 0af40100 | 0a00 0200 020000000001 0000"));               // NDA_DST, NDA_LLADDR
    assertThat(encode(w -> RtnlCodec.delNeighbour(w, 1, n))).isEqualTo(Hex.norm(
        "24000000 1d00 0500 01000000 00000000 | 02 00 0000 05000000 0000 00 00 | 0800 0100 0af40100"));
    assertThat(encode(w -> RtnlCodec.dumpNeighbours(w, 2, 5))).isEqualTo(Hex.norm(
        "24000000 1e00 0103 02000000 00000000 | 02 00 0000 00000000 0000 00 00 | 0800 0800 05000000")); // NDA_IFINDEX
    assertThat(encode(w -> RtnlCodec.dumpNeighbours(w, 2, 0))).isEqualTo(Hex.norm(
        "1c000000 1e00 0103 02000000 00000000 | 02 00 0000 00000000 0000 00 00"));
    assertThat(RtnlCodec.decodeNeighbour(payloadOf(w -> RtnlCodec.newNeighbour(w, 1, n)))).isEqualTo(n);
    // an incomplete entry has no lladdr
    assertThat(RtnlCodec.decodeNeighbour(Hex.buffer("02 00 0000 02000000 0100 00 01 | 0800 0100 c6336402")))
        .isEqualTo(new Neighbour(2, ip("198.51.100.2"), "", 1));
    assertThatThrownBy(() -> RtnlCodec.decodeNeighbour(Hex.buffer("02 00 0000 02000000 0100 00 01")))
        .isInstanceOf(MalformedMessageException.class).hasMessageContaining("without NDA_DST");
  }

  // ------------------------------------------------------------------ fdb

  @Test
  void fdb() {
    FdbEntry e = new FdbEntry(5, "02:00:00:00:00:01", ip("198.51.100.2"));
    String body = "07 00 0000 05000000 8000 02 00"                   // AF_BRIDGE, NUD_PERMANENT, NTF_SELF
        + "0a00 0200 020000000001 0000 | 0800 0100 c6336402";         // NDA_LLADDR, NDA_DST
    assertThat(encode(w -> RtnlCodec.newFdb(w, 1, e, false)))
        .isEqualTo(Hex.norm("30000000 1c00 0505 01000000 00000000" + body));
    assertThat(encode(w -> RtnlCodec.newFdb(w, 1, e, true)))
        .isEqualTo(Hex.norm("30000000 1c00 050c 01000000 00000000" + body));   // CREATE|APPEND
    assertThat(encode(w -> RtnlCodec.delFdb(w, 1, e)))
        .isEqualTo(Hex.norm("30000000 1d00 0500 01000000 00000000" + body));
    assertThat(encode(w -> RtnlCodec.dumpFdb(w, 2, 5)))
        .isEqualTo(Hex.norm("1c000000 1e00 0103 02000000 00000000 | 07 00 0000 05000000 0000 00 00"));
    assertThat(RtnlCodec.decodeFdb(payloadOf(w -> RtnlCodec.newFdb(w, 1, e, false)))).isEqualTo(e);
    FdbEntry noDst = new FdbEntry(5, "02:00:00:00:00:01", null);
    assertThat(RtnlCodec.decodeFdb(payloadOf(w -> RtnlCodec.newFdb(w, 1, noDst, false)))).isEqualTo(noDst);
  }

  @Test
  void fdbDecodingSkipsMasterEntriesAndOddRemotes() {
    // NTF_MASTER (a bridge-learned entry)
    assertThat(RtnlCodec.decodeFdb(Hex.buffer("07 00 0000 05000000 0200 04 00 | 0a00 0200 020000000001 0000"))).isNull();
    // an NDA_DST that is neither 4 nor 16 bytes
    assertThat(RtnlCodec.decodeFdb(Hex.buffer("07 00 0000 05000000 8000 02 00 | 0a00 0200 020000000001 0000"
        + "0a00 0100 20010db80000 0000"))).isNull();
    // AF_INET is not an FDB entry
    assertThat(RtnlCodec.decodeFdb(Hex.buffer("02 00 0000 05000000 8000 02 00"))).isNull();
  }

  // ------------------------------------------------------------------ notifications

  @Test
  void notificationsBecomeTypedEvents() {
    MessageReader r = new MessageReader(Hex.buffer(KERNEL_VXLAN_LINK));
    r.next();
    assertThat(RtnlCodec.decodeEvent(17, r.payload())).isInstanceOfSatisfying(NetlinkEvent.LinkChanged.class,
        e -> assertThat(e.deleted()).isTrue());
    Route route = Route.overlay(Ipv4Subnet.parse("10.244.1.0/24"), ip("10.244.1.0"), 5);
    assertThat(RtnlCodec.decodeEvent(25, payloadOf(w -> RtnlCodec.newRoute(w, 1, route))))
        .isEqualTo(new NetlinkEvent.RouteChanged(route, true));
    Neighbour n = Neighbour.permanent(5, ip("10.244.1.0"), "02:00:00:00:00:01");
    assertThat(RtnlCodec.decodeEvent(28, payloadOf(w -> RtnlCodec.newNeighbour(w, 1, n))))
        .isEqualTo(new NetlinkEvent.NeighbourChanged(n, false));
    FdbEntry f = new FdbEntry(5, "02:00:00:00:00:01", ip("198.51.100.2"));
    assertThat(RtnlCodec.decodeEvent(29, payloadOf(w -> RtnlCodec.newFdb(w, 1, f, false))))
        .isEqualTo(new NetlinkEvent.FdbChanged(f, true));
    Address a = new Address(3, ip("10.244.1.0"), 24);
    assertThat(RtnlCodec.decodeEvent(20, payloadOf(w -> RtnlCodec.newAddress(w, 1, a, false))))
        .isEqualTo(new NetlinkEvent.AddressChanged(a, false));
    Neighbour n6 = Neighbour.permanent(6, ip6("fd00:0:0:1::"), "02:00:00:00:00:02");
    assertThat(RtnlCodec.decodeEvent(29, payloadOf(w -> RtnlCodec.newNeighbour(w, 1, n6))))
        .isEqualTo(new NetlinkEvent.NeighbourChanged(n6, true));
    assertThat(RtnlCodec.decodeEvent(28, Hex.buffer("1c 00 0000 05000000 8000 00 00"))).isNull(); // AF_CAN
    assertThat(RtnlCodec.decodeEvent(99, Hex.buffer(""))).isNull();
  }

  // ------------------------------------------------------------------ IPv6 (dual stack)

  private static final String FD00_1 = "fd000000000000010000000000000000"; // fd00:0:0:1::

  @Test
  void ipv6Routes() {
    Route overlay = Route.overlay(Ipv6Subnet.parse("fd00:0:0:1::/64"), ip6("fd00:0:0:1::"), 5);
    // RTA_DST, RTA_GATEWAY (16 bytes each), RTA_OIF
    String attrs = "1400 0100" + FD00_1 + "1400 0500" + FD00_1 + "0800 0400 05000000";
    assertThat(encode(w -> RtnlCodec.newRoute(w, 1, overlay)))
        .isEqualTo(Hex.norm("4c000000 1800 0505 01000000 00000000 | 0a 40 00 00 fe 6f 00 01 04000000" + attrs));
    assertThat(encode(w -> RtnlCodec.delRoute(w, 1, overlay)))
        .isEqualTo(Hex.norm("4c000000 1900 0500 01000000 00000000 | 0a 40 00 00 fe 6f ff 00 00000000" + attrs));
    assertThat(encode(w -> RtnlCodec.dumpRoutes(w, 4, Rtnl.AF_INET6, 254, 111))).isEqualTo(Hex.norm(
        "1c000000 1a00 0103 04000000 00000000 | 0a 00 00 00 fe 6f 00 00 00000000"));
    assertThat(RtnlCodec.decodeRoute(payloadOf(w -> RtnlCodec.newRoute(w, 1, overlay)))).isEqualTo(overlay);
    // as dumped by the kernel: RTA_TABLE, RTA_DST, RTA_PRIORITY, RTA_GATEWAY, RTA_OIF
    Route dumped = RtnlCodec.decodeRoute(Hex.buffer("0a 40 00 00 fe 6f 00 01 04000000 | 0800 0f00 fe000000"
        + "1400 0100" + FD00_1 + "0800 0600 00040000 | 1400 0500" + FD00_1 + "0800 0400 05000000"));
    assertThat(dumped).isEqualTo(overlay);
    assertThatThrownBy(() -> Route.overlay(Ipv6Subnet.parse("fd00:0:0:1::/64"), ip("10.0.0.1"), 5))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void ipv6Neighbours() {
    Neighbour n = Neighbour.permanent(5, ip6("fd00:0:0:1::"), "02:00:00:00:00:01");
    assertThat(encode(w -> RtnlCodec.newNeighbour(w, 1, n))).isEqualTo(Hex.norm(
        "3c000000 1c00 0505 01000000 00000000 | 0a 00 0000 05000000 8000 00 00"  // AF_INET6, NUD_PERMANENT
            + "1400 0100" + FD00_1 + "0a00 0200 020000000001 0000"));              // NDA_DST, NDA_LLADDR
    assertThat(encode(w -> RtnlCodec.delNeighbour(w, 1, n))).isEqualTo(Hex.norm(
        "30000000 1d00 0500 01000000 00000000 | 0a 00 0000 05000000 0000 00 00 | 1400 0100" + FD00_1));
    assertThat(encode(w -> RtnlCodec.dumpNeighbours(w, 2, Rtnl.AF_INET6, 5))).isEqualTo(Hex.norm(
        "24000000 1e00 0103 02000000 00000000 | 0a 00 0000 00000000 0000 00 00 | 0800 0800 05000000"));
    assertThat(RtnlCodec.decodeNeighbour(payloadOf(w -> RtnlCodec.newNeighbour(w, 1, n)))).isEqualTo(n);
    assertThatThrownBy(() -> RtnlCodec.decodeNeighbour(Hex.buffer("0a 00 0000 02000000 0100 00 01 | 0800 0100 c6336402")))
        .isInstanceOf(MalformedMessageException.class).hasMessageContaining("16-byte");
  }

  @Test
  void fdbWithAnIpv6Remote() {
    FdbEntry e = new FdbEntry(5, "02:00:00:00:00:01", ip6("2001:db8::2"));
    String body = "07 00 0000 05000000 8000 02 00 | 0a00 0200 020000000001 0000"
        + "1400 0100 20010db8000000000000000000000002";
    assertThat(encode(w -> RtnlCodec.newFdb(w, 1, e, false)))
        .isEqualTo(Hex.norm("3c000000 1c00 0505 01000000 00000000" + body));
    assertThat(RtnlCodec.decodeFdb(Hex.buffer(body))).isEqualTo(e);
    assertThat(RtnlCodec.decodeEvent(28, Hex.buffer(body))).isEqualTo(new NetlinkEvent.FdbChanged(e, false));
  }

  @Test
  void ipv6AddressIsAddedWithoutDad() {
    Address a = new Address(6, ip6("fd00:0:0:1::"), 128);
    // ifaddrmsg AF_INET6, /128, IFA_F_NODAD, scope universe; IFA_LOCAL then IFA_ADDRESS
    assertThat(encode(w -> RtnlCodec.newAddress(w, 1, a, false))).isEqualTo(Hex.norm(
        "40000000 1400 0506 01000000 00000000 | 0a 80 02 00 06000000 | 1400 0200" + FD00_1 + "1400 0100" + FD00_1));
    assertThat(encode(w -> RtnlCodec.dumpAddresses(w, 2, Rtnl.AF_INET6, 6))).isEqualTo(Hex.norm(
        "18000000 1600 0103 02000000 00000000 | 0a 00 00 00 06000000"));
    assertThat(RtnlCodec.decodeAddress(payloadOf(w -> RtnlCodec.newAddress(w, 1, a, true)))).isEqualTo(a);
  }

  @Test
  void vxlanWithAnIpv6Local() {
    VxlanSpec spec = new VxlanSpec("flannel-v6.1", 1, ip6("2001:db8::1"), 2, 0, false, false, null, 1450, null);
    String hex = encode(w -> RtnlCodec.newVxlan(w, 1, spec));
    assertThat(hex).contains(Hex.norm("1400 1100 20010db8000000000000000000000001")); // IFLA_VXLAN_LOCAL6 (17)
    Link l = RtnlCodec.decodeLink(payloadOf(w -> RtnlCodec.newVxlan(w, 1, spec)));
    assertThat(l.name()).isEqualTo("flannel-v6.1");
    assertThat(l.vxlan().orElseThrow().local()).isEqualTo(ip6("2001:db8::1"));
    assertThat(l.vxlan().orElseThrow().vni()).isEqualTo(1);
  }
}
