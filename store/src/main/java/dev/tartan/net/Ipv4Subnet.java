package dev.tartan.net;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 network in CIDR form, always network-masked ({@code 10.244.3.0/24}).
 *
 * <p>The address is held as an unsigned 32-bit value in an {@code int}.
 */
public record Ipv4Subnet(int address, int prefixLength) implements Comparable<Ipv4Subnet>, IpSubnet {

  public Ipv4Subnet {
    if (prefixLength < 0 || prefixLength > 32) {
      throw new IllegalArgumentException("prefix length must be 0..32, got " + prefixLength);
    }
    address = address & mask(prefixLength);
  }

  /** Parses {@code a.b.c.d/len}; host bits are masked off as Go's ParseCIDR does. */
  public static Ipv4Subnet parse(String cidr) {
    int slash = cidr.indexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException("not a CIDR (missing /len): " + cidr);
    }
    int len;
    try {
      len = Integer.parseInt(cidr.substring(slash + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a CIDR (bad prefix length): " + cidr);
    }
    if (len < 0 || len > 32) {
      throw new IllegalArgumentException("not a CIDR (prefix length must be 0..32): " + cidr);
    }
    return new Ipv4Subnet(parseAddress(cidr.substring(0, slash)), len);
  }

  public static Ipv4Subnet of(Inet4Address address, int prefixLength) {
    return new Ipv4Subnet(toInt(address), prefixLength);
  }

  /** Parses a dotted quad strictly (four decimal groups 0..255, no leading sign). */
  public static int parseAddress(String dotted) {
    String[] parts = dotted.split("\\.", -1);
    if (parts.length != 4) {
      throw new IllegalArgumentException("not an IPv4 address: " + dotted);
    }
    int value = 0;
    for (String p : parts) {
      if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit)) {
        throw new IllegalArgumentException("not an IPv4 address: " + dotted);
      }
      int octet = Integer.parseInt(p);
      if (octet > 255) {
        throw new IllegalArgumentException("not an IPv4 address: " + dotted);
      }
      value = (value << 8) | octet;
    }
    return value;
  }

  public static int toInt(Inet4Address address) {
    byte[] b = address.getAddress();
    return ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
  }

  public static Inet4Address toInet(int value) {
    byte[] b = {(byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value};
    try {
      return (Inet4Address) InetAddress.getByAddress(b);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  public static String format(int value) {
    return (value >>> 24) + "." + ((value >>> 16) & 0xff) + "." + ((value >>> 8) & 0xff) + "." + (value & 0xff);
  }

  public static int mask(int prefixLength) {
    return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
  }

  /** The network address, e.g. {@code 10.244.3.0}. */
  @Override
  public Inet4Address networkAddress() {
    return toInet(address);
  }

  /** The n-th address inside the subnet ({@code host(1)} is the bridge gateway {@code .1}). */
  public Inet4Address host(int n) {
    return toInet(address + n);
  }

  /** Number of addresses (2^(32-len)) as a long so /0 fits. */
  public long size() {
    return 1L << (32 - prefixLength);
  }

  public boolean contains(int ip) {
    return (ip & mask(prefixLength)) == address;
  }

  public boolean contains(Inet4Address ip) {
    return contains(toInt(ip));
  }

  public boolean contains(Ipv4Subnet other) {
    return other.prefixLength >= prefixLength && contains(other.address);
  }

  public boolean overlaps(Ipv4Subnet other) {
    return contains(other.address) || other.contains(address);
  }

  @Override
  public int compareTo(Ipv4Subnet o) {
    int c = Integer.compareUnsigned(address, o.address);
    return c != 0 ? c : Integer.compare(prefixLength, o.prefixLength);
  }

  @Override
  public String toString() {
    return format(address) + "/" + prefixLength;
  }
}
