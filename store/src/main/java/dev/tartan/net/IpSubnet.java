package dev.tartan.net;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.Comparator;

/**
 * An IPv4 or IPv6 network in CIDR form: what a route's destination is, whatever its family.
 * Ordered IPv4 first, then by address and prefix length ({@link #ORDER}).
 */
public sealed interface IpSubnet permits Ipv4Subnet, Ipv6Subnet {

  /** IPv4 before IPv6; within a family the subnets' own order (address, then prefix length). */
  Comparator<IpSubnet> ORDER = (a, b) -> {
    if (a instanceof Ipv4Subnet x && b instanceof Ipv4Subnet y) {
      return x.compareTo(y);
    }
    if (a instanceof Ipv6Subnet x && b instanceof Ipv6Subnet y) {
      return x.compareTo(y);
    }
    return a instanceof Ipv4Subnet ? -1 : 1;
  };

  /** Addresses ordered IPv4 first, then bytewise (unsigned). */
  Comparator<InetAddress> ADDRESS_ORDER = (a, b) -> {
    byte[] x = a.getAddress();
    byte[] y = b.getAddress();
    return x.length != y.length ? Integer.compare(x.length, y.length) : Arrays.compareUnsigned(x, y);
  };

  int prefixLength();

  /** The network address ({@code 10.244.3.0}, {@code fd00:12:13::}). */
  InetAddress networkAddress();

  /** True when {@code ip} is of this family and inside this subnet. */
  default boolean containsAddress(InetAddress ip) {
    if (this instanceof Ipv4Subnet v4) {
      return ip instanceof Inet4Address a && v4.contains(a);
    }
    return ip instanceof Inet6Address a && ((Ipv6Subnet) this).contains(a);
  }

  /** True for an {@link Ipv6Subnet}. */
  default boolean ipv6() {
    return this instanceof Ipv6Subnet;
  }

  /** Parses an IPv4 or IPv6 CIDR (host bits masked off). */
  static IpSubnet parse(String cidr) {
    return cidr.indexOf(':') >= 0 ? Ipv6Subnet.parse(cidr) : Ipv4Subnet.parse(cidr);
  }

  /** The subnet of {@code address}/{@code prefixLength} in the address's family. */
  static IpSubnet of(InetAddress address, int prefixLength) {
    if (address instanceof Inet4Address v4) {
      return Ipv4Subnet.of(v4, prefixLength);
    }
    return Ipv6Subnet.of((Inet6Address) address, prefixLength);
  }

  /** {@code a.b.c.d} or Go's IPv6 text form. */
  static String text(InetAddress address) {
    return address instanceof Inet6Address v6 ? Ipv6Text.format(v6) : address.getHostAddress();
  }
}
