package dev.tartan.agent;

/** The agent cannot start for a reason the operator must fix; the message says what and how. */
public final class AgentException extends Exception {
  public AgentException(String message) {
    super(message);
  }
}
