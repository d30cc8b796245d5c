package dev.tartan.store.etcd;

import dev.tartan.store.LeaseStoreException;

/** A read at a pinned revision that etcd has compacted away ({@code mvcc: required revision has been compacted}). */
final class CompactedRevisionException extends LeaseStoreException {
  CompactedRevisionException(String message, Throwable cause) {
    super(message, cause);
  }
}
