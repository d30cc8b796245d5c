package dev.tartan.agent.netlink.codec;

import java.net.Inet4Address;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds netlink messages, one after another, in one growing buffer: host byte order, every
 * attribute padded to 4 bytes, nest lengths patched when the nest closes, {@code nlmsg_len}
 * patched when the message ends. Pure: no I/O.
 *
 * <pre>{@code
 * var w = MessageWriter.request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq);
 * w.ifinfomsg(AF_UNSPEC, 0, 0, 0, 0).string(IFLA_IFNAME, "flannel.1").u32(IFLA_MTU, 1450);
 * try (var info = w.nest(IFLA_LINKINFO)) {
 *   w.string(IFLA_INFO_KIND, "vxlan");
 *   try (var data = w.nest(IFLA_INFO_DATA)) { w.u32(IFLA_VXLAN_ID, 1).u16be(IFLA_VXLAN_PORT, 8472); }
 * }
 * ByteBuffer msg = w.finish();
 * }</pre>
 */
public final class MessageWriter {
  private static final ByteOrder HOST = ByteOrder.nativeOrder();

  private byte[] buf;
  private ByteBuffer bb;
  private int pos;
  private int msgStart = -1;
  private int openNests;
  private int messages;

  public MessageWriter() {
    this(256);
  }

  public MessageWriter(int initialCapacity) {
    buf = new byte[Math.max(64, initialCapacity)];
    bb = ByteBuffer.wrap(buf).order(HOST);
  }

  /** A writer holding one started message. */
  public static MessageWriter request(int type, int flags, int seq) {
    return new MessageWriter().begin(type, flags, seq);
  }

  /** Starts a message: an nlmsghdr whose length is patched by {@link #end()}; pid 0. */
  public MessageWriter begin(int type, int flags, int seq) {
    if (msgStart >= 0) {
      throw new IllegalStateException("previous message not ended");
    }
    msgStart = pos;
    ensure(Netlink.NLMSG_HDRLEN);
    bb.putInt(pos, 0);
    bb.putShort(pos + 4, (short) type);
    bb.putShort(pos + 6, (short) flags);
    bb.putInt(pos + 8, seq);
    bb.putInt(pos + 12, 0);
    pos += Netlink.NLMSG_HDRLEN;
    return this;
  }

  /** Ends the current message, patching nlmsg_len. */
  public MessageWriter end() {
    if (msgStart < 0) {
      throw new IllegalStateException("no message started");
    }
    if (openNests != 0) {
      throw new IllegalStateException(openNests + " nest(s) still open");
    }
    bb.putInt(msgStart, pos - msgStart);
    msgStart = -1;
    messages++;
    return this;
  }

  /** Ends the current message (if any) and returns everything written, position 0, host order. */
  public ByteBuffer finish() {
    if (msgStart >= 0) {
      end();
    }
    return ByteBuffer.wrap(Arrays.copyOf(buf, pos)).order(HOST);
  }

  /** Bytes written so far. */
  public int size() {
    return pos;
  }

  /** Messages ended so far. */
  public int messages() {
    return messages;
  }

  /** The backing array; valid bytes are [0, {@link #size()}). */
  public byte[] array() {
    return buf;
  }

  /** Forgets everything written; keeps the buffer. */
  public void reset() {
    pos = 0;
    msgStart = -1;
    openNests = 0;
    messages = 0;
  }

  // ------------------------------------------------------------------ fixed headers

  /** struct ifinfomsg (16 bytes). */
  public MessageWriter ifinfomsg(int family, int type, int index, int flags, int change) {
    ensure(IfLink.IFINFOMSG_SIZE);
    bb.put(pos, (byte) family);
    bb.put(pos + 1, (byte) 0);
    bb.putShort(pos + 2, (short) type);
    bb.putInt(pos + 4, index);
    bb.putInt(pos + 8, flags);
    bb.putInt(pos + 12, change);
    pos += IfLink.IFINFOMSG_SIZE;
    return this;
  }

  /** struct ifaddrmsg (8 bytes). */
  public MessageWriter ifaddrmsg(int family, int prefixLength, int flags, int scope, int index) {
    ensure(IfAddr.IFADDRMSG_SIZE);
    bb.put(pos, (byte) family);
    bb.put(pos + 1, (byte) prefixLength);
    bb.put(pos + 2, (byte) flags);
    bb.put(pos + 3, (byte) scope);
    bb.putInt(pos + 4, index);
    pos += IfAddr.IFADDRMSG_SIZE;
    return this;
  }

  /** struct rtmsg (12 bytes). */
  public MessageWriter rtmsg(int family, int dstLen, int srcLen, int tos, int table, int protocol,
      int scope, int type, int flags) {
    ensure(Rtnl.RTMSG_SIZE);
    bb.put(pos, (byte) family);
    bb.put(pos + 1, (byte) dstLen);
    bb.put(pos + 2, (byte) srcLen);
    bb.put(pos + 3, (byte) tos);
    bb.put(pos + 4, (byte) table);
    bb.put(pos + 5, (byte) protocol);
    bb.put(pos + 6, (byte) scope);
    bb.put(pos + 7, (byte) type);
    bb.putInt(pos + 8, flags);
    pos += Rtnl.RTMSG_SIZE;
    return this;
  }

  /** struct ndmsg (12 bytes). */
  public MessageWriter ndmsg(int family, int ifindex, int state, int flags, int type) {
    ensure(Neigh.NDMSG_SIZE);
    bb.put(pos, (byte) family);
    bb.put(pos + 1, (byte) 0);
    bb.putShort(pos + 2, (short) 0);
    bb.putInt(pos + 4, ifindex);
    bb.putShort(pos + 8, (short) state);
    bb.put(pos + 10, (byte) flags);
    bb.put(pos + 11, (byte) type);
    pos += Neigh.NDMSG_SIZE;
    return this;
  }

  // ------------------------------------------------------------------ attributes

  public MessageWriter u8(int type, int value) {
    attrHeader(type, 1);
    bb.put(pos, (byte) value);
    pos += 1;
    pad();
    return this;
  }

  public MessageWriter u16(int type, int value) {
    attrHeader(type, 2);
    bb.putShort(pos, (short) value);
    pos += 2;
    pad();
    return this;
  }

  /** A 16-bit value in network byte order (e.g. IFLA_VXLAN_PORT, a {@code __be16}). */
  public MessageWriter u16be(int type, int value) {
    attrHeader(type, 2);
    buf[pos] = (byte) (value >>> 8);
    buf[pos + 1] = (byte) value;
    pos += 2;
    pad();
    return this;
  }

  public MessageWriter u32(int type, int value) {
    attrHeader(type, 4);
    bb.putInt(pos, value);
    pos += 4;
    return this;
  }

  /** A NUL-terminated string (the NUL counts in nla_len, as the kernel expects). */
  public MessageWriter string(int type, String value) {
    byte[] b = value.getBytes(StandardCharsets.UTF_8);
    attrHeader(type, b.length + 1);
    System.arraycopy(b, 0, buf, pos, b.length);
    buf[pos + b.length] = 0;
    pos += b.length + 1;
    pad();
    return this;
  }

  public MessageWriter bytes(int type, byte[] value) {
    attrHeader(type, value.length);
    System.arraycopy(value, 0, buf, pos, value.length);
    pos += value.length;
    pad();
    return this;
  }

  /** An IPv4 address: 4 bytes, network order (in_addr). */
  public MessageWriter inet4(int type, Inet4Address address) {
    return bytes(type, address.getAddress());
  }

  /** An IPv4 (4 bytes, in_addr) or IPv6 address (16 bytes, in6_addr), network order. */
  public MessageWriter inet(int type, java.net.InetAddress address) {
    return bytes(type, address.getAddress());
  }

  /** A flag attribute: header only, no payload (NLA_FLAG). */
  public MessageWriter flag(int type) {
    attrHeader(type, 0);
    return this;
  }

  /** Opens a nested attribute; closing it patches its length (padding of its children included). */
  public Nest nest(int type) {
    if (msgStart < 0) {
      throw new IllegalStateException("no message started");
    }
    int start = pos;
    attrHeader(type, 0);
    openNests++;
    return new Nest(start);
  }

  /** An open nested attribute; close exactly once, innermost first. */
  public final class Nest implements AutoCloseable {
    private final int start;
    private boolean closed;

    private Nest(int start) {
      this.start = start;
    }

    @Override
    public void close() {
      if (closed) {
        return;
      }
      closed = true;
      int len = pos - start;
      if (len > 0xffff) {
        throw new IllegalStateException("nested attribute longer than 65535 bytes");
      }
      bb.putShort(start, (short) len);
      openNests--;
    }
  }

  private void attrHeader(int type, int payload) {
    if (msgStart < 0) {
      throw new IllegalStateException("no message started");
    }
    int len = Netlink.NLA_HDRLEN + payload;
    if (len > 0xffff) {
      throw new IllegalArgumentException("attribute " + type + " longer than 65535 bytes");
    }
    ensure(Netlink.align(len));
    bb.putShort(pos, (short) len);
    bb.putShort(pos + 2, (short) type);
    pos += Netlink.NLA_HDRLEN;
  }

  private void pad() {
    int aligned = Netlink.align(pos);
    while (pos < aligned) {
      buf[pos++] = 0;
    }
  }

  private void ensure(int n) {
    if (pos + n > buf.length) {
      buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + n + 64));
      bb = ByteBuffer.wrap(buf).order(HOST);
    }
  }
}
