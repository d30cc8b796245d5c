package dev.tartan.agent.netlink.codec;

import static dev.tartan.agent.netlink.codec.IfLink.IFLA_IFNAME;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_INFO_DATA;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_INFO_KIND;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_LINKINFO;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_MTU;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_VXLAN_ID;
import static dev.tartan.agent.netlink.codec.IfLink.IFLA_VXLAN_PORT;
import static dev.tartan.agent.netlink.codec.Netlink.NLM_F_ACK;
import static dev.tartan.agent.netlink.codec.Netlink.NLM_F_CREATE;
import static dev.tartan.agent.netlink.codec.Netlink.NLM_F_EXCL;
import static dev.tartan.agent.netlink.codec.Netlink.NLM_F_REQUEST;
import static dev.tartan.agent.netlink.codec.Rtnl.AF_UNSPEC;
import static dev.tartan.agent.netlink.codec.Rtnl.RTM_NEWLINK;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/**
 * The writer against bytes worked out by hand from the uapi layouts (x86-64, little-endian):
 * nlmsghdr {u32 len, u16 type, u16 flags, u32 seq, u32 pid}, nlattr {u16 len, u16 type} where len
 * counts header + payload but not the padding to 4.
 */
class MessageWriterTest {

  @Test
  void styleGuideExampleMatchesHandWorkedBytes() {
    var w = MessageWriter.request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 7);
    w.ifinfomsg(AF_UNSPEC, 0, 0, 0, 0).string(IFLA_IFNAME, "flannel.1").u32(IFLA_MTU, 1450);
    try (var info = w.nest(IFLA_LINKINFO)) {
      w.string(IFLA_INFO_KIND, "vxlan");
      try (var data = w.nest(IFLA_INFO_DATA)) {
        w.u32(IFLA_VXLAN_ID, 1).u16be(IFLA_VXLAN_PORT, 8472);
      }
    }
    ByteBuffer msg = w.finish();
    String expected = ""
        + "5c000000 1000 0506 07000000 00000000"        // nlmsghdr: len 92, RTM_NEWLINK, 0x605, seq 7
        + "00 00 0000 00000000 00000000 00000000"       // ifinfomsg
        + "0e00 0300 666c616e 6e656c2e 3100 0000"       // IFLA_IFNAME "flannel.1\0" (len 14, 2 pad)
        + "0800 0400 aa050000"                          // IFLA_MTU 1450
        + "2400 1200"                                   // IFLA_LINKINFO, len 36
        + "  0a00 0100 7678 6c61 6e00 0000"             //   IFLA_INFO_KIND "vxlan\0" (len 10)
        + "  1400 0200"                                 //   IFLA_INFO_DATA, len 20
        + "    0800 0100 01000000"                      //     IFLA_VXLAN_ID 1
        + "    0600 0f00 2118 0000";                    //     IFLA_VXLAN_PORT 8472 big-endian (0x2118)
    assertThat(Hex.of(msg)).isEqualTo(Hex.norm(expected));
    assertThat(msg.order()).isEqualTo(ByteOrder.nativeOrder());
  }

  @Test
  void everyAttributeKindIsPaddedToFourButItsLengthIsNot() throws Exception {
    var w = MessageWriter.request(1000, 0, 0);
    w.u8(1, 0xab).u16(2, 0x1234).u16be(3, 0x1234).u32(4, 0xdeadbeef).string(5, "")
        .bytes(6, new byte[] {1, 2, 3}).flag(7).inet4(8, (java.net.Inet4Address) InetAddress.getByName("198.51.100.1"));
    String expected = ""
        + "4c000000 e803 0000 00000000 00000000"   // len 76, type 1000
        + "0500 0100 ab000000"                      // u8: len 5
        + "0600 0200 3412 0000"                     // u16 host order
        + "0600 0300 1234 0000"                     // u16 big-endian
        + "0800 0400 efbeadde"                      // u32 host order
        + "0500 0500 00000000"                      // "" is just the NUL
        + "0700 0600 010203 00"                     // 3 raw bytes
        + "0400 0700"                               // flag: header only
        + "0800 0800 c6336401";                     // in_addr, network order
    assertThat(Hex.of(w.finish())).isEqualTo(Hex.norm(expected));
  }

  @Test
  void messagesGoBackToBackAndResetReusesTheBuffer() {
    var w = new MessageWriter(64);
    for (int i = 0; i < 100; i++) {
      w.begin(18, 1, i).ifinfomsg(0, 0, i, 0, 0).end();
    }
    assertThat(w.messages()).isEqualTo(100);
    assertThat(w.size()).isEqualTo(100 * 32);
    var r = new MessageReader(w.finish());
    int n = 0;
    while (r.next()) {
      assertThat(r.seq()).isEqualTo(n);
      assertThat(r.payload().getInt(4)).isEqualTo(n);
      n++;
    }
    assertThat(n).isEqualTo(100);
    w.reset();
    w.begin(1, 0, 0).u8(1, 0xff);
    w.reset();
    w.begin(1, 0, 0).bytes(2, new byte[1]);
    assertThat(Hex.of(w.finish())).isEqualTo(Hex.norm("18000000 0100 0000 00000000 00000000 0500 0200 00 000000"));
  }

  @Test
  void misuseIsReportedNotSilentlyEncoded() {
    assertThatThrownBy(() -> new MessageWriter().u32(1, 1)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> MessageWriter.request(1, 0, 0).begin(1, 0, 1)).isInstanceOf(IllegalStateException.class);
    var w = MessageWriter.request(1, 0, 0);
    w.nest(1);
    assertThatThrownBy(w::end).isInstanceOf(IllegalStateException.class).hasMessageContaining("nest");
    assertThatThrownBy(() -> MessageWriter.request(1, 0, 0).bytes(1, new byte[70000]))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
