package dev.tartan.store.alloc;

import dev.tartan.store.LeaseStoreException;

/** Every subnet in [SubnetMin, SubnetMax] overlaps an existing lease. */
public final class OutOfSubnetsException extends LeaseStoreException {
  public OutOfSubnetsException(String message) {
    super(message);
  }
}
