package dev.tartan.agent.netlink.rtnl;

import java.net.Inet4Address;
import java.util.Objects;

/** An IPv4 address on a link: {@code ip addr add ADDRESS/PREFIX dev LINK}. */
public record Address(int link, Inet4Address address, int prefixLength) {
  public Address {
    Objects.requireNonNull(address, "address");
  }
}
