package dev.tartan.net;

import java.net.Inet6Address;
import java.net.UnknownHostException;

/**
 * An IPv6 network in CIDR form, always network-masked ({@code fd00:12:13::/56}); {@link #toString()}
 * is Go's text form, as flannel writes it in subnet keys and the subnet file.
 *
 * <p>The address is held as two unsigned 64-bit halves: {@code high} (bits 127..64) and {@code low}.
 */
public record Ipv6Subnet(long high, long low, int prefixLength) implements Comparable<Ipv6Subnet>, IpSubnet {

  public Ipv6Subnet {
    if (prefixLength < 0 || prefixLength > 128) {
      throw new IllegalArgumentException("prefix length must be 0..128, got " + prefixLength);
    }
    high &= highMask(prefixLength);
    low &= lowMask(prefixLength);
  }

  /** Parses {@code addr/len}; host bits are masked off as Go's ParseCIDR does. */
  public static Ipv6Subnet parse(String cidr) {
    int slash = cidr.indexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException("not an IPv6 CIDR (missing /len): " + cidr);
    }
    String lenText = cidr.substring(slash + 1);
    int len;
    try {
      len = lenText.isEmpty() || lenText.length() > 3 || !lenText.chars().allMatch(Character::isDigit)
          ? -1 : Integer.parseInt(lenText);
    } catch (NumberFormatException e) {
      len = -1;
    }
    if (len < 0 || len > 128) {
      throw new IllegalArgumentException("not an IPv6 CIDR (prefix length must be 0..128): " + cidr);
    }
    Inet6Address a;
    try {
      a = Ipv6Text.parse(cidr.substring(0, slash));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not an IPv6 CIDR (bad address): " + cidr);
    }
    return of(a, len);
  }

  public static Ipv6Subnet of(Inet6Address address, int prefixLength) {
    byte[] b = address.getAddress();
    return new Ipv6Subnet(half(b, 0), half(b, 8), prefixLength);
  }

  private static long half(byte[] b, int from) {
    long v = 0;
    for (int i = from; i < from + 8; i++) {
      v = (v << 8) | (b[i] & 0xff);
    }
    return v;
  }

  private static long highMask(int len) {
    return len == 0 ? 0 : len >= 64 ? -1L : -1L << (64 - len);
  }

  private static long lowMask(int len) {
    return len <= 64 ? 0 : len == 128 ? -1L : -1L << (128 - len);
  }

  /** The network address, e.g. {@code fd00:12:13::}. */
  @Override
  public Inet6Address networkAddress() {
    return address(high, low);
  }

  /**
   * The n-th address inside the subnet ({@code host(1)} is the bridge gateway {@code ::1}); n is
   * added to the low 64 bits.
   */
  public Inet6Address host(long n) {
    long l = low + n;
    return address(Long.compareUnsigned(l, low) < 0 ? high + 1 : high, l);
  }

  private static Inet6Address address(long high, long low) {
    byte[] b = new byte[16];
    for (int i = 0; i < 8; i++) {
      b[i] = (byte) (high >>> (56 - 8 * i));
      b[8 + i] = (byte) (low >>> (56 - 8 * i));
    }
    try {
      return Inet6Address.getByAddress(null, b, -1); // an Inet6Address even for ::ffff:a.b.c.d
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  public boolean contains(Inet6Address ip) {
    return contains(of(ip, 128));
  }

  public boolean contains(Ipv6Subnet other) {
    return other.prefixLength >= prefixLength
        && (other.high & highMask(prefixLength)) == high
        && (other.low & lowMask(prefixLength)) == low;
  }

  public boolean overlaps(Ipv6Subnet other) {
    return contains(other) || other.contains(this);
  }

  @Override
  public int compareTo(Ipv6Subnet o) {
    int c = Long.compareUnsigned(high, o.high);
    if (c == 0) {
      c = Long.compareUnsigned(low, o.low);
    }
    return c != 0 ? c : Integer.compare(prefixLength, o.prefixLength);
  }

  /** Go's text form: {@code fd00:12:13::/56}. */
  @Override
  public String toString() {
    return Ipv6Text.format(networkAddress()) + "/" + prefixLength;
  }
}
