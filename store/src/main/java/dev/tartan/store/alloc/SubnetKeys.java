package dev.tartan.store.alloc;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import java.math.BigInteger;
import java.net.Inet6Address;
import java.util.Optional;

/**
 * Flannel's subnet key codec: {@code <a.b.c.d>-<len>} and, for dual stack,
 * {@code <a.b.c.d>-<len>&<ipv6>-<len>} with the IPv6 address in Go's canonical lower-case form.
 *
 * <p>Parsing looks at the end of a full etcd key (the text after the last {@code /}), as flannel
 * does, and accepts only what re-serialises to the same text: no host bits, no leading zeros, IPv4
 * prefix 0..31 and IPv6 prefix 0..127 (flannel's 5 and 7 bit limits). Pure.
 */
public final class SubnetKeys {

  private SubnetKeys() {}

  /** Parses a key name or a full etcd key ({@code /coreos.com/network/subnets/10.244.3.0-24}). */
  public static Optional<SubnetKey> parse(String key) {
    if (key == null) {
      return Optional.empty();
    }
    String name = key.substring(key.lastIndexOf('/') + 1);
    int amp = name.indexOf('&');
    String v4 = amp < 0 ? name : name.substring(0, amp);
    String v6 = amp < 0 ? null : name.substring(amp + 1);
    Ipv4Subnet subnet = parseV4(v4);
    if (subnet == null) {
      return Optional.empty();
    }
    Ipv6Subnet ipv6 = null;
    if (v6 != null) {
      ipv6 = parseV6(v6);
      if (ipv6 == null) {
        return Optional.empty();
      }
    }
    return Optional.of(new SubnetKey(subnet, ipv6));
  }

  /** The key name of an IPv4 subnet: {@code 10.244.3.0-24}. */
  public static String format(Ipv4Subnet subnet) {
    return Ipv4Subnet.format(subnet.address()) + "-" + subnet.prefixLength();
  }

  /** The key name, dual stack when {@code ipv6Subnet} ({@code fd00:12:13::/56}) is not null. */
  public static String format(Ipv4Subnet subnet, Ipv6Subnet ipv6Subnet) {
    if (ipv6Subnet == null) {
      return format(subnet);
    }
    return format(subnet) + "&" + Ipv6Text.format(ipv6Subnet.networkAddress()) + "-" + ipv6Subnet.prefixLength();
  }

  private static Ipv4Subnet parseV4(String text) {
    int dash = text.lastIndexOf('-');
    if (dash < 0) {
      return null;
    }
    int len = parseLength(text.substring(dash + 1), 31);
    if (len < 0) {
      return null;
    }
    int address;
    try {
      address = Ipv4Subnet.parseAddress(text.substring(0, dash));
    } catch (IllegalArgumentException e) {
      return null;
    }
    Ipv4Subnet subnet = new Ipv4Subnet(address, len);
    return format(subnet).equals(text) ? subnet : null;
  }

  /** The subnet of {@code addr-len} in canonical form (masked, Go's text), or null. */
  private static Ipv6Subnet parseV6(String text) {
    int dash = text.lastIndexOf('-');
    if (dash <= 0) {
      return null;
    }
    String addr = text.substring(0, dash);
    for (int i = 0; i < addr.length(); i++) {
      char c = addr.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':')) {
        return null; // flannel's pattern: lower-case hex digits and colons only
      }
    }
    int len = parseLength(text.substring(dash + 1), 127);
    if (len < 0) {
      return null;
    }
    Inet6Address a;
    try {
      a = Ipv6Text.parse(addr);
    } catch (IllegalArgumentException e) {
      return null;
    }
    BigInteger value = Ipv6Text.toBigInteger(a);
    if (!value.and(Ipv6Text.mask(len)).equals(value) || !Ipv6Text.format(a).equals(addr)) {
      return null;
    }
    return Ipv6Subnet.of(a, len);
  }

  /** A decimal prefix length without sign or leading zeros, at most {@code max}; -1 otherwise. */
  private static int parseLength(String s, int max) {
    if (s.isEmpty() || s.length() > 3 || (s.length() > 1 && s.charAt(0) == '0')) {
      return -1;
    }
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) < '0' || s.charAt(i) > '9') {
        return -1;
      }
    }
    int v = Integer.parseInt(s);
    return v <= max ? v : -1;
  }
}
