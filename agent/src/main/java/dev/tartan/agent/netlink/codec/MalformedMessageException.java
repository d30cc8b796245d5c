package dev.tartan.agent.netlink.codec;

/**
 * A netlink buffer that does not parse: a truncated header, a length field pointing past the end,
 * an attribute shorter than its type needs. Thrown by {@link MessageReader} and {@link Attributes}
 * instead of reading out of bounds; the socket layer turns it into a NetlinkException.
 */
public final class MalformedMessageException extends RuntimeException {
  public MalformedMessageException(String message) {
    super(message);
  }
}
