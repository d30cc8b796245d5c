package dev.tartan.agent.cli;

import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.Store;
import dev.tartan.store.etcd.EtcdStores;

/** Opens the etcd store for one admin command. */
final class Stores {
  private Stores() {}

  static Store open(EtcdFlags flags) throws LeaseStoreException {
    return EtcdStores.connect(flags.toOptions());
  }
}
