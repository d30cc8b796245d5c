package dev.tartan.agent.backend;

/**
 * The {@code Backend} object of the network config, or a lease's backend data, cannot be used. The
 * message names the key and the value and says what would be accepted.
 */
public class BackendConfigException extends Exception {
  public BackendConfigException(String message) {
    super(message);
  }
}
