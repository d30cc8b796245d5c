package dev.tartan.agent.cli;

import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.etcd.EtcdLeaseStore;

/** Opens the etcd store for one admin command. */
final class Stores {
  private Stores() {}

  static EtcdLeaseStore open(EtcdFlags flags) throws LeaseStoreException {
    return EtcdLeaseStore.connect(flags.toOptions());
  }
}
