package dev.tartan.agent.systemd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Platform;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * AF_UNIX datagram sockets through libc (Java 17's NIO has stream unix sockets only). Tiny and
 * package-private: {@link SdNotify} sends with it, tests receive with it.
 */
final class UnixDatagram {
  static final int AF_UNIX = 1;
  static final int SOCK_DGRAM = 2;
  static final int SOCK_CLOEXEC = 0x80000;
  static final int MSG_NOSIGNAL = 0x4000;
  static final int SOL_SOCKET = 1;
  static final int SO_RCVTIMEO = 20;
  static final int EINTR = 4;
  /** sizeof(sun_path). */
  static final int SUN_PATH_MAX = 108;

  /** Public only so that jnr-ffi's generated class (in its own class loader) may implement it. */
  public interface LibC {
    @SaveError
    int socket(int domain, int type, int protocol);

    @SaveError
    int bind(int fd, @In byte[] addr, int addrlen);

    @SaveError
    @ssize_t long sendto(int fd, @In byte[] buf, @size_t long len, int flags, @In byte[] addr,
        int addrlen);

    @SaveError
    @ssize_t long recv(int fd, @Out byte[] buf, @size_t long len, int flags);

    @SaveError
    int setsockopt(int fd, int level, int optname, @In byte[] optval, int optlen);

    int close(int fd);

    String strerror(int errnum);
  }

  /** Loaded on first use only, so processes without NOTIFY_SOCKET never load jnr-ffi. */
  private static final class Holder {
    static final LibC LIBC = LibraryLoader.create(LibC.class).failImmediately()
        .load(Platform.getNativePlatform().getStandardCLibraryName());
    static final Runtime RUNTIME = Runtime.getRuntime(LIBC);
  }

  private UnixDatagram() {}

  static LibC libc() {
    return Holder.LIBC;
  }

  static int errno() {
    return Holder.RUNTIME.getLastError();
  }

  static String error(String op, int errno) {
    return op + ": " + libc().strerror(errno) + " (errno " + errno + ")";
  }

  /**
   * A {@code struct sockaddr_un} for NOTIFY_SOCKET's syntax: {@code /path} (NUL-terminated) or
   * {@code @name} (abstract: a leading NUL byte, no terminator, length counts the name only).
   *
   * @return the bytes, exactly as long as the address length to pass
   */
  static byte[] sockaddr(String address) {
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
}
