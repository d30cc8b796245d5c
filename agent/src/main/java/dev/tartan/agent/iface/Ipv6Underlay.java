package dev.tartan.agent.iface;

import static java.util.Objects.requireNonNull;

import dev.tartan.net.Ipv6Text;
import java.net.Inet6Address;

/**
 * The IPv6 side of the external interface, for a dual-stack network (docs/flannel-compat.md §2.1,
 * §2.7): the {@code flannel-v6.<VNI>} device runs over it.
 *
 * @param address       the interface's first global IPv6 address (the {@code --public-ipv6} when
 *                      it is one of the interface's)
 * @param publicIpv6    the address published as {@code PublicIPv6}: {@code --public-ipv6} or {@code address}
 * @param publicIpLocal whether {@code publicIpv6} is an address of this host
 */
public record Ipv6Underlay(Inet6Address address, Inet6Address publicIpv6, boolean publicIpLocal) {
  public Ipv6Underlay {
    requireNonNull(address, "address");
    requireNonNull(publicIpv6, "publicIpv6");
  }

  /** The vxlan device's {@code local}: the public IPv6 when local, else the interface's address. */
  public Inet6Address vxlanLocal() {
    return publicIpLocal ? publicIpv6 : address;
  }

  @Override
  public String toString() {
    return "address " + Ipv6Text.format(address) + ", public IPv6 " + Ipv6Text.format(publicIpv6)
        + (publicIpLocal ? "" : " (not local)");
  }
}
