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
   * among the first 100 free subnets. With {@code EnableIPv6} the same for an IPv6 subnet,
   * independently ({@code previousV6}), written as one dual-stack key
   * {@code 10.5.3.0-24&fc00:0:0:7::-64}; a lease of ours whose IPv6 part is missing or outside the
   * IPv6 range (or present while IPv6 is disabled) is deleted and replaced, keeping the part that
   * still fits. Losing a creation race re-lists and retries (bounded).
   *
   * @param previous   {@code FLANNEL_SUBNET} of the subnet file, network-masked
   * @param previousV6 {@code FLANNEL_IPV6_SUBNET} of the subnet file, network-masked; ignored when
   *                   IPv6 is disabled
   * @throws dev.tartan.store.alloc.OutOfSubnetsException when no IPv4 (or, with IPv6, no IPv6)
   *     subnet is free
   */
  SubnetLease acquire(LeaseAttrs attrs, Optional<Ipv4Subnet> previous, Optional<Ipv6Subnet> previousV6)
      throws LeaseStoreException;

  /** {@link #acquire(LeaseAttrs, Optional, Optional)} without a previous IPv6 subnet. */
  default SubnetLease acquire(LeaseAttrs attrs, Optional<Ipv4Subnet> previous) throws LeaseStoreException {
    return acquire(attrs, previous, Optional.empty());
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
