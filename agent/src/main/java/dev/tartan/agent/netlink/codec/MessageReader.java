package dev.tartan.agent.netlink.codec;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Walks the netlink messages packed in one received datagram (a dump part, a batch of ACKs, a
 * multicast notification). Every length is checked against the bytes actually there: a truncated
 * header or a length past the end throws {@link MalformedMessageException}; each step advances at
 * least one header, so a hostile buffer can never loop forever. Pure: no I/O.
 *
 * <pre>{@code
 * var r = new MessageReader(buf);
 * while (r.next()) { switch (r.type()) { ... r.payload() ... } }
 * }</pre>
 */
public final class MessageReader {
  private final ByteBuffer buf;
  private final int end;
  private int next;
  private int start = -1;
  private int len;

  /** Reads the bytes between the buffer's position and limit; the buffer is not modified. */
  public MessageReader(ByteBuffer buffer) {
    this.buf = buffer.duplicate().order(ByteOrder.nativeOrder());
    this.next = buffer.position();
    this.end = buffer.limit();
  }

  /** Moves to the next message; false when the buffer is used up. */
  public boolean next() {
    if (next >= end) {
      start = -1;
      return false;
    }
    int remaining = end - next;
    if (remaining < Netlink.NLMSG_HDRLEN) {
      throw new MalformedMessageException("truncated netlink header: " + remaining
          + " bytes left, need " + Netlink.NLMSG_HDRLEN);
    }
    int l = buf.getInt(next);
    if (l < Netlink.NLMSG_HDRLEN) {
      throw new MalformedMessageException("bad nlmsg_len " + Integer.toUnsignedString(l)
          + " (less than the " + Netlink.NLMSG_HDRLEN + "-byte header)");
    }
    if (l > remaining) {
      throw new MalformedMessageException("nlmsg_len " + l + " runs past the end of the buffer ("
          + remaining + " bytes left)");
    }
    start = next;
    len = l;
    next = start + (int) Math.min((l + 3L) & ~3L, remaining);
    return true;
  }

  private void current() {
    if (start < 0) {
      throw new IllegalStateException("no current message: call next() first");
    }
  }

  public int length() {
    current();
    return len;
  }

  public int type() {
    current();
    return buf.getShort(start + 4) & 0xffff;
  }

  public int flags() {
    current();
    return buf.getShort(start + 6) & 0xffff;
  }

  public int seq() {
    current();
    return buf.getInt(start + 8);
  }

  public int pid() {
    current();
    return buf.getInt(start + 12);
  }

  /** The bytes after the nlmsghdr, as a host-order buffer of their own (position 0). */
  public ByteBuffer payload() {
    current();
    return buf.duplicate().position(start + Netlink.NLMSG_HDRLEN).limit(start + len).slice()
        .order(ByteOrder.nativeOrder());
  }

  /**
   * The payload's attributes after a fixed header of {@code headerSize} bytes (ifinfomsg, rtmsg,
   * ...); throws when the payload is shorter than that header.
   */
  public Attributes attributes(int headerSize) {
    return Attributes.after(payload(), headerSize, "message type " + type());
  }
}
