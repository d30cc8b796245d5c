package dev.tartan.store;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import java.util.List;
import java.util.Optional;

/**
 * Host subnet leases in flannel's etcd layout ({@code <prefix>/config}, {@code <prefix>/subnets/<key>}).
 *
 * <p>Every write is owner-checked: the store never overwrites another host's lease.
 */
public interface LeaseStore extends AutoCloseable {

  /** Reads and validates {@code <prefix>/config}; {@link NetworkConfigMissingException} when absent. */
  NetworkConfig networkConfig() throws LeaseStoreException;

  /**
   * Takes a subnet for this host: reuses the lease whose PublicIP is ours (if compatible with the
   * config), else {@code previous} (from the subnet file) when free and in range, else a random pick
   * among the first 100 free subnets. Losing a creation race re-lists and retries (bounded).
   */
  SubnetLease acquire(LeaseAttrs attrs, Optional<Ipv4Subnet> previous) throws LeaseStoreException;

  /**
   * {@link #acquire(LeaseAttrs, Optional)} for a dual-stack network: {@code previousV6} (the IPv6
   * subnet from the subnet file) is preferred for the IPv6 part when free. The lease's {@link
   * SubnetLease#ipv6Subnet()} is set when the config has {@code EnableIPv6} and the store allocates
   * IPv6 subnets. This default is for stores that do not: it ignores {@code previousV6}.
   */
  default SubnetLease acquire(LeaseAttrs attrs, Optional<Ipv4Subnet> previous, Optional<Ipv6Subnet> previousV6)
      throws LeaseStoreException {
    return acquire(attrs, previous);
  }

  /**
   * Extends our lease by a fresh TTL, only if the key still holds our value (same PublicIP);
   * {@link LeaseLostException} when it was deleted or taken by another host. A reservation stays
   * without TTL.
   */
  SubnetLease renew(SubnetLease lease) throws LeaseStoreException;

  /**
   * {@link #renew(SubnetLease)} bounded by {@code timeout}: the attempt gives up (a transient
   * {@link LeaseStoreException}) when etcd has not answered by then, and the store re-dials its
   * connection before the next request, so a retry never lands on a stalled connection.
   */
  default SubnetLease renew(SubnetLease lease, java.time.Duration timeout) throws LeaseStoreException {
    return renew(lease);
  }

  /** Deletes our own lease (decommission). Deleting a lease that is already gone is success. */
  void release(SubnetLease lease) throws LeaseStoreException;

  /** Every parsable lease, sorted by subnet; bad keys are skipped (WARN + counter). */
  List<SubnetLease> list() throws LeaseStoreException;

  /**
   * Snapshot, then events from the snapshot's revision + 1; reconnects by itself. The leases it
   * delivers carry no expiry ({@link SubnetLease#expiresAt()} null): use {@link #list()} for TTLs.
   */
  Subscription watch(LeaseListener listener);

  @Override
  void close();
}
