package dev.tartan.store;

/** A change to the set of leases, as seen by a watch. */
public sealed interface LeaseEvent {
  SubnetLease lease();

  /** A lease was created or rewritten (renewal, new VtepMAC, ...). */
  record Added(SubnetLease lease) implements LeaseEvent {}

  /** A lease was deleted or expired; {@code lease} is the last known copy (old VtepMAC, PublicIP). */
  record Removed(SubnetLease lease) implements LeaseEvent {}
}
