package dev.tartan.agent.config;

/**
 * A setting of {@code tartan agent} is unknown or invalid. The message is one line naming the
 * setting, the value (never a password), where it came from and what is expected.
 */
public class AgentConfigException extends Exception {
  public AgentConfigException(String message) {
    super(message);
  }
}
