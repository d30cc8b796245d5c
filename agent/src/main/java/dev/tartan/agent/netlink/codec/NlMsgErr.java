package dev.tartan.agent.netlink.codec;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A parsed NLMSG_ERROR payload (struct nlmsgerr): {@code error} is 0 for an ACK, else a negative
 * errno; {@code origSeq} is the request's sequence number (from the echoed header); the extended
 * ACK message and offset come from the TLVs after the echoed request (after only its header when
 * NLM_F_CAPPED is set), present when NLM_F_ACK_TLVS is set.
 *
 * @param errno positive errno, 0 for an ACK
 * @param extAckMessage NLMSGERR_ATTR_MSG, or ""
 * @param extAckOffset NLMSGERR_ATTR_OFFS (byte offset of the offending attribute), or -1
 */
public record NlMsgErr(int errno, int origType, int origSeq, String extAckMessage, int extAckOffset) {

  public boolean ack() {
    return errno == 0;
  }

  /** Parses the payload of an NLMSG_ERROR message whose nlmsghdr flags are {@code flags}. */
  public static NlMsgErr parse(int flags, ByteBuffer payload) {
    ByteBuffer p = payload.slice().order(ByteOrder.nativeOrder());
    if (p.remaining() < Netlink.NLMSGERR_SIZE) {
      throw new MalformedMessageException("truncated NLMSG_ERROR: " + p.remaining()
          + " bytes, need " + Netlink.NLMSGERR_SIZE);
    }
    int error = p.getInt(0);
    int origLen = p.getInt(4);
    int origType = p.getShort(8) & 0xffff;
    int origSeq = p.getInt(12);
    int errno = error == Integer.MIN_VALUE ? Integer.MAX_VALUE : Math.abs(error);
    String msg = "";
    int offs = -1;
    if ((flags & Netlink.NLM_F_ACK_TLVS) != 0) {
      int tlvStart;
      if ((flags & Netlink.NLM_F_CAPPED) != 0 || error == 0) {
        tlvStart = Netlink.NLMSGERR_SIZE;
      } else {
        if (origLen < Netlink.NLMSG_HDRLEN) {
          throw new MalformedMessageException("NLMSG_ERROR echoes a request with bad nlmsg_len " + origLen);
        }
        long start = 4L + ((origLen + 3L) & ~3L);
        if (start > p.remaining()) {
          throw new MalformedMessageException("NLMSG_ERROR echoed request (" + origLen
              + " bytes) runs past the end (" + p.remaining() + " bytes)");
        }
        tlvStart = (int) start;
      }
      Attributes tlvs = Attributes.parse(p.duplicate().position(tlvStart));
      String m = tlvs.string(Netlink.NLMSGERR_ATTR_MSG);
      msg = m == null ? "" : m;
      offs = tlvs.has(Netlink.NLMSGERR_ATTR_OFFS) ? tlvs.u32(Netlink.NLMSGERR_ATTR_OFFS, -1) : -1;
    }
    return new NlMsgErr(errno, origType, origSeq, msg, offs);
  }
}
