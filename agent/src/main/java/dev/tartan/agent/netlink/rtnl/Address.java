package dev.tartan.agent.netlink.rtnl;

import java.net.InetAddress;
import java.util.Objects;

/** An address on a link: {@code ip addr add ADDRESS/PREFIX dev LINK} (IPv4 or IPv6). */
public record Address(int link, InetAddress address, int prefixLength) {
  public Address {
    Objects.requireNonNull(address, "address");
    int max = address.getAddress().length * 8;
    if (prefixLength < 0 || prefixLength > max) {
      throw new IllegalArgumentException("prefix length must be 0.." + max + ", got " + prefixLength);
    }
  }

  /** The address as IPv4 (lists from {@link RtNetlink#addresses(int)} hold IPv4 only). */
  public java.net.Inet4Address ipv4() {
    if (address instanceof java.net.Inet4Address a) {
      return a;
    }
    throw new IllegalStateException("not an IPv4 address: " + address.getHostAddress());
  }

  public boolean ipv6() {
    return address.getAddress().length == 16;
  }
}
