package dev.tartan.agent.iface;

/** No external interface fits the flags, or the kernel could not be asked. One line with the fix. */
public class InterfaceSelectionException extends Exception {
  public InterfaceSelectionException(String message) {
    super(message);
  }

  public InterfaceSelectionException(String message, Throwable cause) {
    super(message, cause);
  }
}
