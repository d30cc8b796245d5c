package dev.tartan.store;

/** {@code <prefix>/config} exists but is invalid; the message is flannel's text for the problem. */
public class NetworkConfigException extends LeaseStoreException {
  public NetworkConfigException(String message) {
    super(message);
  }
}
