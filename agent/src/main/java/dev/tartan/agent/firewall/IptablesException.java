package dev.tartan.agent.firewall;

/** iptables could not be run, or refused the rules. The message is one line with the fix. */
public class IptablesException extends Exception {
  public IptablesException(String message) {
    super(message);
  }

  public IptablesException(String message, Throwable cause) {
    super(message, cause);
  }
}
