package dev.tartan.agent.netlink;

import java.nio.file.Path;

/**
 * An open file descriptor on a network namespace ({@code /run/netns/NAME}, {@code
 * /proc/PID/ns/net}), e.g. for moving a veth peer there ({@code IFLA_NET_NS_FD}). Close it when
 * done.
 */
public final class NetworkNamespace implements AutoCloseable {
  private final Path path;
  private int fd;

  private NetworkNamespace(Path path, int fd) {
    this.path = path;
    this.fd = fd;
  }

  /** Opens {@code path} read-only, close-on-exec. */
  public static NetworkNamespace open(Path path) throws NetlinkException {
    return new NetworkNamespace(path, openFd(path));
  }

  static int openFd(Path path) throws NetlinkException {
    while (true) {
      int fd = Native.libc().open(path.toString(), Native.O_RDONLY | Native.O_CLOEXEC);
      if (fd >= 0) {
        return fd;
      }
      int errno = Native.errno();
      if (errno != Errno.EINTR) {
        throw new NetlinkException("open network namespace " + path, errno, Errno.name(errno), "");
      }
    }
  }

  public Path path() {
    return path;
  }

  /** The descriptor; -1 once closed. */
  public synchronized int fd() {
    return fd;
  }

  @Override
  public synchronized void close() {
    if (fd >= 0) {
      Native.libc().close(fd);
      fd = -1;
    }
  }

  @Override
  public String toString() {
    return "netns " + path;
  }
}
