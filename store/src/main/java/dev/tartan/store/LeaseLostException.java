package dev.tartan.store;

/** Our lease is gone (expired or deleted) or now belongs to another host. */
public class LeaseLostException extends LeaseStoreException {
  public LeaseLostException(String message) {
    super(message);
  }
}
