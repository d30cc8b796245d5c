package dev.tartan.store;

/** {@code <prefix>/config} does not exist (yet). */
public class NetworkConfigMissingException extends LeaseStoreException {
  public NetworkConfigMissingException(String message) {
    super(message);
  }
}
