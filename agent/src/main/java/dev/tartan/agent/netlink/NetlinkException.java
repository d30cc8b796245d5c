package dev.tartan.agent.netlink;

/**
 * A netlink request the kernel refused, or a socket failure.
 *
 * @see #errno() the positive errno (EEXIST = 17, ENOENT = 2, ESRCH = 3, ENODEV = 19 ...), 0 for
 *     protocol errors found by our own parser and for socket failures without an errno
 */
public class NetlinkException extends Exception {
  private final String op;
  private final int errno;
  private final String extAck;

  public NetlinkException(String op, int errno, String errnoName, String extAck) {
    super(op + ": " + errnoName + (extAck == null || extAck.isEmpty() ? "" : " (" + extAck + ")"));
    this.op = op;
    this.errno = errno;
    this.extAck = extAck == null ? "" : extAck;
  }

  public NetlinkException(String op, String message, Throwable cause) {
    super(op + ": " + message, cause);
    this.op = op;
    this.errno = 0;
    this.extAck = "";
  }

  public String op() {
    return op;
  }

  public int errno() {
    return errno;
  }

  /** The kernel's extended-ACK message, or "". */
  public String extAck() {
    return extAck;
  }

  public boolean alreadyExists() {
    return errno == 17; // EEXIST
  }

  /**
   * ENOENT, ESRCH, ENODEV or EADDRNOTAVAIL: the object (or its device) is not there. The kernel
   * answers a missing neighbour/FDB entry with ENOENT, a missing route with ESRCH, a missing device
   * with ENODEV and a missing IPv4 address ({@code ip addr del}) with EADDRNOTAVAIL.
   */
  public boolean notFound() {
    return errno == 2 || errno == 3 || errno == 19 || errno == 99;
  }
}
