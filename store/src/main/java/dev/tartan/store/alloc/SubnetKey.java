package dev.tartan.store.alloc;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import java.util.Objects;

/**
 * The name of one key under {@code <prefix>/subnets/}: an IPv4 subnet and, for dual stack, an IPv6
 * subnet. {@link #toString()} is the key text ({@code 10.244.3.0-24} or
 * {@code 10.12.13.0-24&fd00:12:13::-56}).
 *
 * @param subnet     the IPv4 subnet
 * @param ipv6Subnet the IPv6 subnet ({@code fd00:12:13::/56}), or null
 */
public record SubnetKey(Ipv4Subnet subnet, Ipv6Subnet ipv6Subnet) {

  public SubnetKey {
    Objects.requireNonNull(subnet, "subnet");
  }

  public static SubnetKey of(Ipv4Subnet subnet) {
    return new SubnetKey(subnet, null);
  }

  @Override
  public String toString() {
    return SubnetKeys.format(subnet, ipv6Subnet);
  }
}
