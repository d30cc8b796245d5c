package dev.tartan.agent.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * An {@code AF_UNIX} datagram socket (Java 17's channels have UNIX-domain stream sockets only), for
 * sd_notify: {@code socket(AF_UNIX, SOCK_DGRAM)}, {@code sendto} and, for tests standing in for
 * systemd, {@code bind} and {@code recv}. Through the one libc binding ({@link Native}), loaded on
 * first use only, so a process without NOTIFY_SOCKET never loads jnr-ffi.
 */
public final class UnixDatagram implements AutoCloseable {
  static final int AF_UNIX = 1;
  static final int SOCK_DGRAM = 2;
  static final int MSG_NOSIGNAL = 0x4000;
  /** sizeof(sun_path). */
  static final int SUN_PATH_MAX = 108;

  private final int fd;

  private UnixDatagram(int fd) {
    this.fd = fd;
  }

  /** An unbound socket to send from. */
  public static UnixDatagram open() throws NetlinkException {
    int fd;
    try {
      fd = Native.libc().socket(AF_UNIX, SOCK_DGRAM | Native.SOCK_CLOEXEC, 0);
    } catch (LinkageError | RuntimeException e) {
      throw new NetlinkException("socket(AF_UNIX)", "cannot load libc through jnr-ffi: " + e, e);
    }
    if (fd < 0) {
      throw error("socket(AF_UNIX)");
    }
    return new UnixDatagram(fd);
  }

  /** A socket bound to {@code address} ({@code /path} or {@code @name}) whose receive waits at most {@code timeout}. */
  public static UnixDatagram bind(String address, Duration timeout) throws NetlinkException {
    UnixDatagram s = open();
    try {
      byte[] addr = sockaddr(address);
      if (Native.libc().bind(s.fd, addr, addr.length) < 0) {
        throw error("bind " + address);
      }
      byte[] timeval = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder())
          .putLong(timeout.toSeconds()).putLong(timeout.toNanosPart() / 1000).array();
      if (Native.libc().setsockopt(s.fd, Native.SOL_SOCKET, Native.SO_RCVTIMEO, timeval, 16) < 0) {
        throw error("setsockopt SO_RCVTIMEO");
      }
      return s;
    } catch (NetlinkException | RuntimeException e) {
      s.close();
      throw e;
    }
  }

  /** One datagram to {@code address} (from {@link #sockaddr}); retried on EINTR. */
  public void sendTo(byte[] address, byte[] msg) throws NetlinkException {
    while (true) {
      long n = Native.libc().sendto(fd, msg, msg.length, MSG_NOSIGNAL, address, address.length);
      if (n >= 0) {
        if (n != msg.length) {
          throw new NetlinkException("sendto", "short write (" + n + " of " + msg.length + " bytes)", null);
        }
        return;
      }
      int errno = Native.errno();
      if (errno != Errno.EINTR) {
        throw new NetlinkException("sendto", errno, Errno.name(errno), "");
      }
    }
  }

  /** One datagram (at most {@code max} bytes); EAGAIN when the receive timeout passed. */
  public byte[] receive(int max) throws NetlinkException {
    byte[] buf = new byte[max];
    while (true) {
      long n = Native.libc().recvfrom(fd, buf, buf.length, 0, null, null);
      if (n >= 0) {
        return java.util.Arrays.copyOf(buf, (int) n);
      }
      int errno = Native.errno();
      if (errno != Errno.EINTR) {
        throw new NetlinkException("recv", errno, Errno.name(errno), "");
      }
    }
  }

  /** {@link #receive(int)} as UTF-8 text. */
  public String receiveText() throws NetlinkException {
    return new String(receive(65536), StandardCharsets.UTF_8);
  }

  /**
   * A {@code struct sockaddr_un} for NOTIFY_SOCKET's syntax: {@code /path} (NUL-terminated) or
   * {@code @name} (abstract: a leading NUL byte, no terminator, length counts the name only).
   *
   * @return the bytes, exactly as long as the address length to pass
   * @throws IllegalArgumentException when the address is neither form or too long
   */
  public static byte[] sockaddr(String address) {
    boolean abstractName = address.startsWith("@");
    if (!abstractName && !address.startsWith("/")) {
      throw new IllegalArgumentException("unix socket address must be /path or @name: " + address);
    }
    byte[] name = (abstractName ? address.substring(1) : address).getBytes(StandardCharsets.UTF_8);
    int pathLen = name.length + 1; // leading NUL (abstract) or terminating NUL (path)
    if (pathLen > SUN_PATH_MAX) {
      throw new IllegalArgumentException("unix socket address longer than " + (SUN_PATH_MAX - 1)
          + " bytes: " + address);
    }
    ByteBuffer b = ByteBuffer.allocate(2 + pathLen).order(ByteOrder.nativeOrder());
    b.putShort((short) AF_UNIX);
    if (abstractName) {
      b.put((byte) 0).put(name);
    } else {
      b.put(name).put((byte) 0);
    }
    return b.array();
  }

  private static NetlinkException error(String op) {
    int errno = Native.errno();
    return new NetlinkException(op, errno, Errno.name(errno), "");
  }

  @Override
  public void close() {
    Native.libc().close(fd);
  }
}
