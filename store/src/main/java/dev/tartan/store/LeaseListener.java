package dev.tartan.store;

import java.util.List;

/**
 * Receives a watch's results, always on one thread, in order.
 *
 * <p>{@link #onSnapshot} comes first with every lease, and again after a compaction or re-list; it
 * replaces what the listener knew. {@link #onEvents} carries the changes in between.
 */
public interface LeaseListener {
  void onSnapshot(List<SubnetLease> all);

  void onEvents(List<LeaseEvent> batch);

  /** The watch lost etcd and is reconnecting (kernel state must stay as it is). */
  default void onDisconnected(String reason) {}

  /** The watch is connected again (after {@link #onDisconnected}). */
  default void onReconnected() {}
}
