package dev.tartan.store.etcd;

import dev.tartan.store.LeaseStoreException;

/** A value under {@code <prefix>/subnets/} is not a flannel lease (not JSON, wrong types, bad address). */
public final class MalformedLeaseException extends LeaseStoreException {
  public MalformedLeaseException(String message) {
    super(message);
  }
}
