package dev.tartan.store;

/** Any failure of the lease store, with a message an operator can act on. */
public class LeaseStoreException extends Exception {
  public LeaseStoreException(String message) {
    super(message);
  }

  public LeaseStoreException(String message, Throwable cause) {
    super(message, cause);
  }
}
