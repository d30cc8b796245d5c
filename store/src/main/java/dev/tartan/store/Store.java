package dev.tartan.store;

import java.time.Duration;

/**
 * One connection to the lease store with all its faces: the agent's hot path ({@link LeaseStore}),
 * the operator's operations ({@link LeaseAdmin}) and the counters ({@link StoreStats}). Only the
 * wiring (the agent's start-up, the CLI) holds this type; everything else takes the face it needs.
 */
public interface Store extends LeaseStore, LeaseAdmin, StoreStats {

  /** The TTL given to the etcd lease of every subnet key written. */
  Duration leaseTtl();

  @Override
  void close();
}
