package dev.tartan.agent.netlink.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** struct nlmsgerr {int error; struct nlmsghdr msg;} + echoed payload (unless capped) + ext-ack TLVs. */
class NlMsgErrTest {
  private static final String ORIG_HDR = "30000000 1c00 0505 2a000000 00000000"; // RTM_NEWNEIGH, 48 bytes, seq 42

  @Test
  void plainAck() {
    var e = NlMsgErr.parse(Netlink.NLM_F_CAPPED, Hex.buffer("00000000" + ORIG_HDR));
    assertThat(e.ack()).isTrue();
    assertThat(e.origSeq()).isEqualTo(42);
    assertThat(e.origType()).isEqualTo(Rtnl.RTM_NEWNEIGH);
    assertThat(e.extAckMessage()).isEmpty();
    assertThat(e.extAckOffset()).isEqualTo(-1);
  }

  @Test
  void cappedErrorWithExtendedAck() {
    var e = NlMsgErr.parse(Netlink.NLM_F_CAPPED | Netlink.NLM_F_ACK_TLVS, Hex.buffer("deffffff" + ORIG_HDR
        + "1900 0100 6d7475206c657373207468616e20646576696365 00 000000" // "mtu less than device" (20+NUL)
        + "0800 0200 20000000"));
    assertThat(e.ack()).isFalse();
    assertThat(e.errno()).isEqualTo(34);
    assertThat(e.extAckMessage()).isEqualTo("mtu less than device");
    assertThat(e.extAckOffset()).isEqualTo(32);
  }

  @Test
  void uncappedErrorSkipsTheEchoedRequestToFindTheTlvs() {
    // echoed request of 22 bytes: header + 6 payload bytes, padded to 24
    var e = NlMsgErr.parse(Netlink.NLM_F_ACK_TLVS, Hex.buffer("eaffffff"
        + "16000000 1000 0506 09000000 00000000 010203040506 0000"
        + "0800 0100 62616400"));
    assertThat(e.errno()).isEqualTo(22);
    assertThat(e.origSeq()).isEqualTo(9);
    assertThat(e.extAckMessage()).isEqualTo("bad");
  }

  @Test
  void truncatedErrorIsMalformed() {
    assertThatThrownBy(() -> NlMsgErr.parse(0, Hex.buffer("eaffffff 16000000")))
        .isInstanceOf(MalformedMessageException.class).hasMessageContaining("truncated NLMSG_ERROR");
  }

  @Test
  void echoedLengthPastTheEndIsMalformed() {
    assertThatThrownBy(() -> NlMsgErr.parse(Netlink.NLM_F_ACK_TLVS, Hex.buffer("eaffffff fffffff0 1000 0506 09000000 00000000")))
        .isInstanceOf(MalformedMessageException.class);
    assertThatThrownBy(() -> NlMsgErr.parse(Netlink.NLM_F_ACK_TLVS, Hex.buffer("eaffffff feffff7f 1000 0506 09000000 00000000")))
        .isInstanceOf(MalformedMessageException.class).hasMessageContaining("runs past the end");
  }
}
