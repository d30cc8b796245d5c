package dev.tartan.agent.netlink.codec;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The attributes (nlattr/rtattr TLVs) of one message or nest, indexed by type. Lengths are
 * checked on parse; getters check each value's size, so a short attribute throws {@link
 * MalformedMessageException} rather than reading what follows it. The NLA_F_NESTED and
 * NLA_F_NET_BYTEORDER bits are stripped from types; when a type repeats, the first one wins
 * (as with the kernel's nla_parse, later ones would overwrite; we keep the first for
 * determinism and expose {@link #count(int)}).
 */
public final class Attributes {
  private static final Attributes EMPTY = new Attributes(ByteBuffer.allocate(0), new int[0], new int[0], new int[0]);

  private final ByteBuffer buf;
  private final int[] types;
  private final int[] offsets;
  private final int[] lengths;

  private Attributes(ByteBuffer buf, int[] types, int[] offsets, int[] lengths) {
    this.buf = buf;
    this.types = types;
    this.offsets = offsets;
    this.lengths = lengths;
  }

  /** Parses the whole buffer (position to limit) as attributes. */
  public static Attributes parse(ByteBuffer region) {
    ByteBuffer b = region.slice().order(ByteOrder.nativeOrder());
    int end = b.limit();
    int n = 0;
    int[] types = new int[8];
    int[] offsets = new int[8];
    int[] lengths = new int[8];
    int p = 0;
    while (p < end) {
      int remaining = end - p;
      if (remaining < Netlink.NLA_HDRLEN) {
        throw new MalformedMessageException("truncated attribute header: " + remaining
            + " bytes left, need " + Netlink.NLA_HDRLEN);
      }
      int len = b.getShort(p) & 0xffff;
      int type = b.getShort(p + 2) & Netlink.NLA_TYPE_MASK;
      if (len < Netlink.NLA_HDRLEN) {
        throw new MalformedMessageException("attribute type " + type + ": bad nla_len " + len);
      }
      if (len > remaining) {
        throw new MalformedMessageException("attribute type " + type + ": nla_len " + len
            + " runs past the end (" + remaining + " bytes left)");
      }
      if (n == types.length) {
        types = Arrays.copyOf(types, n * 2);
        offsets = Arrays.copyOf(offsets, n * 2);
        lengths = Arrays.copyOf(lengths, n * 2);
      }
      types[n] = type;
      offsets[n] = p + Netlink.NLA_HDRLEN;
      lengths[n] = len - Netlink.NLA_HDRLEN;
      n++;
      p += Math.min(Netlink.align(len), remaining);
    }
    return new Attributes(b, Arrays.copyOf(types, n), Arrays.copyOf(offsets, n), Arrays.copyOf(lengths, n));
  }

  /** Parses the attributes that follow a {@code headerSize}-byte fixed header in {@code payload}. */
  public static Attributes after(ByteBuffer payload, int headerSize, String what) {
    int avail = payload.remaining();
    if (avail < headerSize) {
      throw new MalformedMessageException(what + ": payload of " + avail
          + " bytes is shorter than its " + headerSize + "-byte header");
    }
    int aligned = Math.min(Netlink.align(headerSize), avail);
    return parse(payload.duplicate().position(payload.position() + aligned));
  }

  public static Attributes empty() {
    return EMPTY;
  }

  public int size() {
    return types.length;
  }

  /** The type of the i-th attribute in wire order. */
  public int typeAt(int i) {
    return types[i];
  }

  /** The i-th attribute's payload. */
  public ByteBuffer valueAt(int i) {
    return slice(offsets[i], lengths[i]);
  }

  public boolean has(int type) {
    return find(type) >= 0;
  }

  public int count(int type) {
    int c = 0;
    for (int t : types) {
      if (t == type) {
        c++;
      }
    }
    return c;
  }

  /** The payload of the first attribute of this type, or null. */
  public ByteBuffer get(int type) {
    int i = find(type);
    return i < 0 ? null : slice(offsets[i], lengths[i]);
  }

  public int u8(int type, int absent) {
    int i = find(type);
    return i < 0 ? absent : buf.get(offsets[need(i, 1)]) & 0xff;
  }

  public int u16(int type, int absent) {
    int i = find(type);
    return i < 0 ? absent : buf.getShort(offsets[need(i, 2)]) & 0xffff;
  }

  /** A {@code __be16} value (IFLA_VXLAN_PORT). */
  public int u16be(int type, int absent) {
    int i = find(type);
    if (i < 0) {
      return absent;
    }
    int o = offsets[need(i, 2)];
    return ((buf.get(o) & 0xff) << 8) | (buf.get(o + 1) & 0xff);
  }

  public int u32(int type, int absent) {
    int i = find(type);
    return i < 0 ? absent : buf.getInt(offsets[need(i, 4)]);
  }

  /** A string attribute, cut at the first NUL; null when absent. */
  public String string(int type) {
    int i = find(type);
    if (i < 0) {
      return null;
    }
    int o = offsets[i];
    int n = 0;
    while (n < lengths[i] && buf.get(o + n) != 0) {
      n++;
    }
    byte[] b = new byte[n];
    buf.get(o, b);
    return new String(b, StandardCharsets.UTF_8);
  }

  /** The raw payload bytes; null when absent. */
  public byte[] bytes(int type) {
    int i = find(type);
    if (i < 0) {
      return null;
    }
    byte[] b = new byte[lengths[i]];
    buf.get(offsets[i], b);
    return b;
  }

  /** A 4-byte in_addr; null when absent; malformed when not exactly 4 bytes. */
  public Inet4Address inet4(int type) {
    int i = find(type);
    if (i < 0) {
      return null;
    }
    if (lengths[i] != 4) {
      throw new MalformedMessageException("attribute type " + type + ": want a 4-byte IPv4 address, got "
          + lengths[i] + " bytes");
    }
    byte[] b = new byte[4];
    buf.get(offsets[i], b);
    try {
      return (Inet4Address) InetAddress.getByAddress(b);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  /**
   * A 4-byte in_addr or a 16-byte in6_addr (always an {@link java.net.Inet6Address}, also for
   * {@code ::ffff:a.b.c.d}); null when absent; malformed for any other length.
   */
  public InetAddress inet(int type) {
    int i = find(type);
    if (i < 0) {
      return null;
    }
    if (lengths[i] != 4 && lengths[i] != 16) {
      throw new MalformedMessageException("attribute type " + type + ": want a 4- or 16-byte address, got "
          + lengths[i] + " bytes");
    }
    byte[] b = new byte[lengths[i]];
    buf.get(offsets[i], b);
    try {
      return b.length == 4 ? InetAddress.getByAddress(b) : java.net.Inet6Address.getByAddress(null, b, -1);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  /** A 16-byte in6_addr; null when absent; malformed when not exactly 16 bytes. */
  public java.net.Inet6Address inet6(int type) {
    int i = find(type);
    if (i < 0) {
      return null;
    }
    if (lengths[i] != 16) {
      throw new MalformedMessageException("attribute type " + type + ": want a 16-byte IPv6 address, got "
          + lengths[i] + " bytes");
    }
    return (java.net.Inet6Address) inet(type);
  }

  /** The attributes nested in this one; empty when absent. */
  public Attributes nested(int type) {
    int i = find(type);
    return i < 0 ? EMPTY : parse(slice(offsets[i], lengths[i]));
  }

  private int find(int type) {
    for (int i = 0; i < types.length; i++) {
      if (types[i] == type) {
        return i;
      }
    }
    return -1;
  }

  private int need(int i, int size) {
    if (lengths[i] < size) {
      throw new MalformedMessageException("attribute type " + types[i] + ": want " + size
          + " bytes, got " + lengths[i]);
    }
    return i;
  }

  private ByteBuffer slice(int offset, int length) {
    return buf.duplicate().position(offset).limit(offset + length).slice().order(ByteOrder.nativeOrder());
  }
}
