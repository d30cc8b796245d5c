package dev.tartan.agent.netlink.codec;

/**
 * A netlink buffer that does not parse: a truncated header, a length field pointing past the end,
 * an attribute shorter than its type needs. Thrown by {@link MessageReader} and {@link Attributes}
 * instead of reading out of bounds; the socket layer turns it into a NetlinkException. The
 * message says what is wrong and where; no stack trace is captured (it is an expected condition
 * on hostile input, and cheap to throw).
 */
public final class MalformedMessageException extends RuntimeException {
  public MalformedMessageException(String message) {
    super(message, null, false, false);
  }
}
