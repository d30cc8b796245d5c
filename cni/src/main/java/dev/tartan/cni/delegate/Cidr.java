package dev.tartan.cni.delegate;

/**
 * An IP network as Go's {@code net.ParseCIDR} returns it: the address masked to the prefix, printed the way
 * Go prints it ({@code 10.1.17.0/24}, {@code fc00::/64}). Immutable; built by {@link #parse}.
 *
 * @param address the network address in Go's text form, host bits cleared
 * @param prefixLength the prefix length
 * @param ipv6 whether this is an IPv6 network
 */
public record Cidr(String address, int prefixLength, boolean ipv6) {
  public Cidr {
    if (address == null || address.isEmpty()) {
      throw new IllegalArgumentException("address is empty");
    }
    if (prefixLength < 0 || prefixLength > (ipv6 ? 128 : 32)) {
      throw new IllegalArgumentException("prefix length " + prefixLength + " out of range");
    }
  }

  /**
   * Parses {@code a.b.c.d/n} or an IPv6 {@code addr/n}, clearing the host bits.
   *
   * @throws IllegalArgumentException naming what is wrong
   */
  public static Cidr parse(String text) {
    return parse(text, true);
  }

  /** Parses like {@link #parse} but keeps the host bits when {@code mask} is false (Go's types.ParseCIDR). */
  public static Cidr parse(String text, boolean mask) {
    int slash = text.indexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException("\"" + text + "\" is not in CIDR notation (missing /prefix)");
    }
    String ip = text.substring(0, slash);
    String len = text.substring(slash + 1);
    byte[] bytes = parseIp(ip);
    if (bytes == null) {
      throw new IllegalArgumentException("\"" + text + "\" has an invalid IP address");
    }
    int bits = bytes.length * 8;
    int prefix = parseDecimal(len, bits);
    if (prefix < 0) {
      throw new IllegalArgumentException("\"" + text + "\" has an invalid prefix length");
    }
    if (mask) {
      for (int i = 0; i < bytes.length; i++) {
        int keep = Math.max(0, Math.min(8, prefix - i * 8));
        bytes[i] &= (byte) (0xff << (8 - keep));
      }
    }
    return new Cidr(format(bytes), prefix, bytes.length == 16);
  }

  /** Parses an IPv4 or IPv6 literal; null if it is neither. */
  public static byte[] parseIp(String s) {
    return s.indexOf(':') >= 0 ? parseIpv6(s) : parseIpv4(s, 0, s.length());
  }

  /** The address in Go's {@code net.IP.String()} form. */
  public static String format(byte[] ip) {
    if (ip.length == 4) {
      return (ip[0] & 0xff) + "." + (ip[1] & 0xff) + "." + (ip[2] & 0xff) + "." + (ip[3] & 0xff);
    }
    int[] groups = new int[8];
    for (int i = 0; i < 8; i++) {
      groups[i] = ((ip[2 * i] & 0xff) << 8) | (ip[2 * i + 1] & 0xff);
    }
    // The longest run of two or more zero groups becomes "::" (the first one on a tie), as in RFC 5952.
    int bestStart = -1;
    int bestLen = 1;
    for (int i = 0; i < 8; ) {
      if (groups[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && groups[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    StringBuilder sb = new StringBuilder(40);
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLen - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(groups[i]));
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    return address + "/" + prefixLength;
  }

  private static int parseDecimal(String s, int max) {
    if (s.isEmpty() || s.length() > 3 || (s.length() > 1 && s.charAt(0) == '0')) {
      return -1;
    }
    int v = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v <= max ? v : -1;
  }

  private static byte[] parseIpv4(String s, int from, int to) {
    byte[] out = new byte[4];
    int part = 0;
    int start = from;
    for (int i = from; i <= to; i++) {
      if (i == to || s.charAt(i) == '.') {
        if (part > 3) {
          return null;
        }
        int v = parseDecimal(s.substring(start, i), 255);
        if (v < 0) {
          return null;
        }
        out[part++] = (byte) v;
        start = i + 1;
      }
    }
    return part == 4 ? out : null;
  }

  private static byte[] parseIpv6(String s) {
    byte[] out = new byte[16];
    int n = 0;
    int ellipsis = -1;
    int i = 0;
    if (s.startsWith("::")) {
      ellipsis = 0;
      i = 2;
      if (i == s.length()) {
        return out;
      }
    }
    while (i < s.length()) {
      int j = i;
      int v = 0;
      while (j < s.length() && j - i < 5 && Character.digit(s.charAt(j), 16) >= 0) {
        v = v * 16 + Character.digit(s.charAt(j), 16);
        j++;
      }
      if (j - i > 4 || j == i) {
        return null;
      }
      if (j < s.length() && s.charAt(j) == '.') {
        // embedded IPv4 in the last 32 bits
        if (ellipsis < 0 && n != 12) {
          return null;
        }
        if (n + 4 > 16) {
          return null;
        }
        byte[] v4 = parseIpv4(s, i, s.length());
        if (v4 == null) {
          return null;
        }
        System.arraycopy(v4, 0, out, n, 4);
        n += 4;
        i = s.length();
        break;
      }
      if (n + 2 > 16) {
        return null;
      }
      out[n++] = (byte) (v >> 8);
      out[n++] = (byte) v;
      i = j;
      if (i == s.length()) {
        break;
      }
      if (s.charAt(i) != ':' || i + 1 == s.length()) {
        return null;
      }
      i++;
      if (s.charAt(i) == ':') {
        if (ellipsis >= 0) {
          return null;
        }
        ellipsis = n;
        i++;
        if (i == s.length()) {
          break;
        }
      }
    }
    if (ellipsis < 0) {
      return n == 16 ? out : null;
    }
    if (n == 16) {
      return null; // "::" must stand for at least one zero group
    }
    int tail = n - ellipsis;
    System.arraycopy(out, ellipsis, out, 16 - tail, tail);
    for (int k = ellipsis; k < 16 - tail; k++) {
      out[k] = 0;
    }
    return out;
  }
}
