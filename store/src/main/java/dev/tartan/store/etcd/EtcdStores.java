package dev.tartan.store.etcd;

import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.Store;

/** The factory of the etcd implementation of {@link Store}. */
public final class EtcdStores {
  private EtcdStores() {}

  /** Connects to etcd with {@code opts}; one line naming the setting to fix when that fails. */
  public static Store connect(EtcdOptions opts) throws LeaseStoreException {
    return EtcdStore.connect(opts);
  }
}
