package dev.tartan.store.etcd;

import dev.tartan.store.LeaseStoreException;

/** etcd was unreachable, timed out or had no leader; the same request may work a moment later. */
final class TransientEtcdException extends LeaseStoreException {
  TransientEtcdException(String message, Throwable cause) {
    super(message, cause);
  }
}
