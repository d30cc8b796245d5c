package dev.tartan.net;

import java.math.BigInteger;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * IPv6 text in Go's form: {@code net.IP.String()} (lower case, no leading zeros, the longest run of
 * two or more zero groups shortened to {@code ::}, the first one on a tie). Flannel writes IPv6 subnet
 * keys and {@code PublicIPv6} this way; parsing never touches DNS.
 */
public final class Ipv6Text {

  private Ipv6Text() {}

  /** Parses a literal IPv6 address (no zone, no brackets); IllegalArgumentException otherwise. */
  public static Inet6Address parse(String text) {
    if (text == null || text.isEmpty() || text.indexOf(':') < 0 || text.charAt(0) == '.') {
      throw new IllegalArgumentException("not an IPv6 address: " + text);
    }
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
          || c == ':' || c == '.';
      if (!ok) {
        throw new IllegalArgumentException("not an IPv6 address: " + text);
      }
    }
    try {
      // A literal containing ':' is parsed numerically by the JDK and never resolved.
      InetAddress a = InetAddress.getByName(text);
      if (!(a instanceof Inet6Address)) {
        throw new IllegalArgumentException("not an IPv6 address (IPv4-mapped): " + text);
      }
      return (Inet6Address) a;
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an IPv6 address: " + text);
    }
  }

  /** Go's canonical text of an IPv6 address, e.g. {@code fd00:12:13::}. */
  public static String format(Inet6Address address) {
    return format(address.getAddress());
  }

  /** Go's canonical text of 16 address bytes. */
  public static String format(byte[] b) {
    if (b.length != 16) {
      throw new IllegalArgumentException("IPv6 address needs 16 bytes, got " + b.length);
    }
    int[] g = new int[8];
    for (int i = 0; i < 8; i++) {
      g[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
    }
    int bestStart = -1;
    int bestLen = 1; // runs of a single zero group are not shortened
    for (int i = 0; i < 8; ) {
      if (g[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    StringBuilder sb = new StringBuilder(39);
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLen - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(g[i]));
    }
    return sb.toString();
  }

  /** The address as an unsigned 128-bit number. */
  public static BigInteger toBigInteger(Inet6Address address) {
    return new BigInteger(1, address.getAddress());
  }

  /** The address whose unsigned 128-bit value is {@code value} (0 <= value < 2^128). */
  public static Inet6Address fromBigInteger(BigInteger value) {
    if (value.signum() < 0 || value.bitLength() > 128) {
      throw new IllegalArgumentException("not a 128-bit value: " + value);
    }
    byte[] raw = value.toByteArray();
    byte[] b = new byte[16];
    int n = Math.min(raw.length, 16);
    System.arraycopy(raw, raw.length - n, b, 16 - n, n);
    try {
      return (Inet6Address) InetAddress.getByAddress(b);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  /** A mask of {@code prefixLength} leading one bits over 128 bits. */
  public static BigInteger mask(int prefixLength) {
    if (prefixLength < 0 || prefixLength > 128) {
      throw new IllegalArgumentException("IPv6 prefix length must be 0..128, got " + prefixLength);
    }
    BigInteger all = BigInteger.ONE.shiftLeft(128).subtract(BigInteger.ONE);
    return all.shiftRight(128 - prefixLength).shiftLeft(128 - prefixLength);
  }
}
