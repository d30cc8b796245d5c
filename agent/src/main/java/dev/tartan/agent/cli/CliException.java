package dev.tartan.agent.cli;

/** A command failed for a reason the operator can act on; printed as one line, exit code 1. */
public final class CliException extends Exception {
  public CliException(String message) {
    super(message);
  }
}
