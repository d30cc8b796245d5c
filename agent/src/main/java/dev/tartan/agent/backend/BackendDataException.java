package dev.tartan.agent.backend;

/** A lease's {@code BackendData} cannot be decoded; such a peer is skipped, as in flannel. */
public class BackendDataException extends Exception {
  public BackendDataException(String message) {
    super(message);
  }
}
