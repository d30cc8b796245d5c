package dev.tartan.agent.netlink.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class AttributesTest {

  @Test
  void readsEveryKindAndStripsTheNestedFlag() throws Exception {
    var a = Attributes.parse(Hex.buffer(""
        + "0500 0100 ab000000"            // u8
        + "0600 0200 3412 0000"           // u16
        + "0600 0f00 2118 0000"           // be16 8472
        + "0800 0400 efbeadde"            // u32
        + "0a00 0300 65746830 0000 0000"  // "eth0\0" + one byte after the NUL
        + "0800 0500 c6336401"            // in_addr
        + "0400 1700"                     // flag
        + "1000 1280"                     // type 18 | NLA_F_NESTED
        + "  0a00 0100 76786c61 6e000000"));
    assertThat(a.size()).isEqualTo(8);
    assertThat(a.u8(1, -1)).isEqualTo(0xab);
    assertThat(a.u16(2, -1)).isEqualTo(0x1234);
    assertThat(a.u16be(15, -1)).isEqualTo(8472);
    assertThat(a.u32(4, -1)).isEqualTo(0xdeadbeef);
    assertThat(a.string(3)).isEqualTo("eth0");
    assertThat(a.inet4(5)).isEqualTo(InetAddress.getByName("198.51.100.1"));
    assertThat(a.has(23)).isTrue();
    assertThat(a.bytes(23)).isEmpty();
    assertThat(a.nested(18).string(1)).isEqualTo("vxlan");
    assertThat(a.u32(99, 7)).isEqualTo(7);
    assertThat(a.string(99)).isNull();
    assertThat(a.nested(99).size()).isZero();
    assertThat(a.inet4(99)).isNull();
  }

  @Test
  void unalignedLastAttributeIsAccepted() {
    // the kernel always pads, but a final attribute without padding still parses
    var a = Attributes.parse(Hex.buffer("0500 0100 ab"));
    assertThat(a.u8(1, 0)).isEqualTo(0xab);
  }

  @Test
  void attributeLengthBelowItsHeaderIsMalformed() {
    assertThatThrownBy(() -> Attributes.parse(Hex.buffer("0200 0100 ab000000")))
        .isInstanceOf(MalformedMessageException.class).hasMessageContaining("bad nla_len 2");
    assertThatThrownBy(() -> Attributes.parse(Hex.buffer("0000 0100"))).isInstanceOf(MalformedMessageException.class);
  }

  @Test
  void attributePastTheEndIsMalformed() {
    assertThatThrownBy(() -> Attributes.parse(Hex.buffer("0c00 0100 ab000000")))
        .isInstanceOf(MalformedMessageException.class).hasMessageContaining("runs past the end");
  }

  @Test
  void trailingBytesShorterThanAHeaderAreMalformed() {
    assertThatThrownBy(() -> Attributes.parse(Hex.buffer("0800 0100 01000000 0800")))
        .isInstanceOf(MalformedMessageException.class).hasMessageContaining("truncated attribute header");
  }

  @Test
  void valueShorterThanItsTypeIsMalformedNotReadBeyond() {
    var a = Attributes.parse(Hex.buffer("0600 0100 0102 0000 0500 0200 01000000 0700 0300 0a0b0c00"));
    assertThatThrownBy(() -> a.u32(1, 0)).isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("want 4 bytes, got 2");
    assertThatThrownBy(() -> a.u16(2, 0)).isInstanceOf(MalformedMessageException.class);
    assertThatThrownBy(() -> a.inet4(3)).isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("got 3 bytes");
    assertThat(a.u16(1, 0)).isEqualTo(0x0201);
  }

  @Test
  void malformedNestIsReportedWhenOpened() {
    var a = Attributes.parse(Hex.buffer("0a00 1200 0900 0100 7678"));
    assertThatThrownBy(() -> a.nested(18)).isInstanceOf(MalformedMessageException.class);
  }
}
