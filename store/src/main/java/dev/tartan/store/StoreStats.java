package dev.tartan.store;

/** The store's own counters, exported by the agent's metrics. */
public interface StoreStats {

  /** Keys or values under {@code subnets/} skipped because they do not parse. */
  long badKeysSkipped();

  /** Watch outages (each followed by a reconnect attempt). */
  long watchReconnects();

  /** Compactions a watch ran into (each followed by a re-list). */
  long compactionsSeen();
}
