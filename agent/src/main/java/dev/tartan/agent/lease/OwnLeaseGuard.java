package dev.tartan.agent.lease;

import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.SubnetLease;
import java.util.List;
import java.util.Objects;
import java.util.function.BooleanSupplier;

/**
 * Sits between the store's watch and the peer path: passes every snapshot and event on to the peers
 * and shows the lease keeper our own key as it goes by (deleted, expired, missing from a snapshot,
 * taken by another host). A snapshot the keeper holds back (etcd lost its data: the peers stay as
 * they are) is not passed on.
 */
public final class OwnLeaseGuard implements LeaseListener {
  private final LeaseKeeper keeper;
  private final LeaseListener peers;
  private final BooleanSupplier peersSynced;

  /**
   * @param peersSynced whether the peers have seen a first snapshot (a hold only makes sense after one)
   */
  public OwnLeaseGuard(LeaseKeeper keeper, LeaseListener peers, BooleanSupplier peersSynced) {
    this.keeper = Objects.requireNonNull(keeper, "keeper");
    this.peers = Objects.requireNonNull(peers, "peers");
    this.peersSynced = Objects.requireNonNull(peersSynced, "peersSynced");
  }

  @Override
  public void onSnapshot(List<SubnetLease> all) {
    if (keeper.onSnapshot(all, peersSynced.getAsBoolean())) {
      peers.onSnapshot(all);
    }
  }

  @Override
  public void onEvents(List<LeaseEvent> batch) {
    peers.onEvents(batch);
    keeper.onEvents(batch);
  }

  @Override
  public void onDisconnected(String reason) {
    peers.onDisconnected(reason); // the store's watch logs the outage and the reconnect
  }

  @Override
  public void onReconnected() {
    peers.onReconnected();
  }
}
