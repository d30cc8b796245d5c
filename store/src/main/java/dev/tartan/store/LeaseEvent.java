package dev.tartan.store;

import java.util.Objects;

/** A change to the set of leases, as seen by a watch. */
public sealed interface LeaseEvent {
  SubnetLease lease();

  /** A lease was created or rewritten (renewal, new VtepMAC, ...). */
  record Added(SubnetLease lease) implements LeaseEvent {}

  /**
   * A lease was deleted or expired; {@code lease} is the last known copy (old VtepMAC, PublicIP).
   * {@code cause} says which, as far as the store can tell.
   */
  record Removed(SubnetLease lease, Cause cause) implements LeaseEvent {
    public Removed {
      Objects.requireNonNull(cause, "cause");
    }

    /** A removal whose cause is not known: treated as a deletion. */
    public Removed(SubnetLease lease) {
      this(lease, Cause.DELETED);
    }
  }

  /** Why a lease's key went away. */
  enum Cause {
    /** Deleted on purpose ({@code tartan leases release}, a host's own release, by hand). */
    DELETED,
    /** Its etcd lease ran out: the host could not renew (stopped, partitioned, or etcd stalled). */
    EXPIRED
  }
}
