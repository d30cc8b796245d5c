package dev.tartan.store;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import java.time.Instant;
import java.util.Objects;

/**
 * One key under {@code <prefix>/subnets/}: a host's subnet and what it published.
 *
 * @param subnet      the IPv4 subnet from the key
 * @param ipv6Subnet  the IPv6 part of a dual-stack key ({@code fd00:12:13::/56}), or null
 * @param attrs       the parsed lease value
 * @param expiresAt   when etcd will delete the key; null for a reservation (no etcd lease) and in
 *                    watch results, which skip the TTL round trip (the agent needs no peer's expiry)
 * @param etcdLeaseId the etcd lease the key is attached to; 0 for a reservation
 * @param modRevision the key's mod revision when it was read (used for owner-checked writes)
 */
public record SubnetLease(
    Ipv4Subnet subnet,
    Ipv6Subnet ipv6Subnet,
    LeaseAttrs attrs,
    Instant expiresAt,
    long etcdLeaseId,
    long modRevision) {

  public SubnetLease {
    Objects.requireNonNull(subnet, "subnet");
    Objects.requireNonNull(attrs, "attrs");
  }

  /** A key written without an etcd lease never expires (flannel's "reservation"). */
  public boolean reserved() {
    return etcdLeaseId == 0;
  }
}
