package dev.tartan.agent.netlink.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class MessageReaderTest {

  @Test
  void walksPackedMessagesAndExposesHeaderFields() {
    // RTM_NEWLINK (len 20, unaligned: 4 payload bytes) followed by NLMSG_DONE (len 20)
    ByteBuffer b = Hex.buffer("14000000 1000 0200 05000000 39300000 aabbccdd"
        + "14000000 0300 0200 05000000 39300000 00000000");
    var r = new MessageReader(b);
    assertThat(r.next()).isTrue();
    assertThat(r.type()).isEqualTo(16);
    assertThat(r.flags()).isEqualTo(Netlink.NLM_F_MULTI);
    assertThat(r.seq()).isEqualTo(5);
    assertThat(r.pid()).isEqualTo(12345);
    assertThat(r.length()).isEqualTo(20);
    assertThat(Hex.of(r.payload())).isEqualTo("aabbccdd");
    assertThat(r.next()).isTrue();
    assertThat(r.type()).isEqualTo(Netlink.NLMSG_DONE);
    assertThat(r.next()).isFalse();
    assertThat(b.position()).isZero();
  }

  @Test
  void emptyBufferHasNoMessages() {
    assertThat(new MessageReader(ByteBuffer.allocate(0)).next()).isFalse();
  }

  @Test
  void truncatedHeaderIsMalformed() {
    var r = new MessageReader(Hex.buffer("14000000 1000 0200 0500"));
    assertThatThrownBy(r::next).isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("truncated netlink header");
  }

  @Test
  void lengthShorterThanTheHeaderIsMalformed() {
    var r = new MessageReader(Hex.buffer("08000000 1000 0200 05000000 39300000"));
    assertThatThrownBy(r::next).isInstanceOf(MalformedMessageException.class).hasMessageContaining("bad nlmsg_len 8");
    var r2 = new MessageReader(Hex.buffer("ffffffff 1000 0200 05000000 39300000"));
    assertThatThrownBy(r2::next).isInstanceOf(MalformedMessageException.class).hasMessageContaining("4294967295");
  }

  @Test
  void lengthPastTheEndIsMalformed() {
    var r = new MessageReader(Hex.buffer("40000000 1000 0200 05000000 39300000 aabbccdd"));
    assertThatThrownBy(r::next).isInstanceOf(MalformedMessageException.class).hasMessageContaining("runs past the end");
  }

  @Test
  void secondMessageTruncatedAfterAGoodOne() {
    var r = new MessageReader(Hex.buffer("10000000 0300 0000 01000000 00000000 0c00"));
    assertThat(r.next()).isTrue();
    assertThatThrownBy(r::next).isInstanceOf(MalformedMessageException.class);
  }

  @Test
  void payloadShorterThanItsFixedHeaderIsMalformed() {
    var r = new MessageReader(Hex.buffer("14000000 1000 0000 01000000 00000000 00000000"));
    r.next();
    assertThatThrownBy(() -> r.attributes(IfLink.IFINFOMSG_SIZE)).isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("shorter than its 16-byte header");
  }

  @Test
  void headerAccessWithoutNextIsAProgrammingError() {
    assertThatThrownBy(() -> new MessageReader(ByteBuffer.allocate(0)).type()).isInstanceOf(IllegalStateException.class);
  }
}
