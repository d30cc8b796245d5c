package dev.tartan.agent.netlink;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Platform;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * The jnr-ffi binding: the libc calls a netlink socket needs (loaded on first use) and their
 * constants. Hidden in this package-private class; {@link LibC} itself must be public only so that
 * jnr-ffi's generated implementation (in its own class loader) may implement it.
 */
final class Native {
  static final int SOCK_RAW = 3;
  static final int SOCK_CLOEXEC = 0x80000;
  static final int SOL_SOCKET = 1;
  static final int SO_SNDBUF = 7;
  static final int SO_RCVBUF = 8;
  static final int SO_RCVTIMEO = 20;
  static final int SO_SNDBUFFORCE = 32;
  static final int SO_RCVBUFFORCE = 33;
  static final int MSG_PEEK = 0x2;
  static final int MSG_TRUNC = 0x20;
  static final int MSG_DONTWAIT = 0x40;
  static final int O_RDONLY = 0;
  static final int O_CLOEXEC = 0x80000;
  static final int CLONE_NEWNET = 0x40000000;

  private Native() {}

  /**
   * Raw libc calls: -1 means "read errno" ({@link Native#errno()}); the wrappers in {@link
   * NetlinkSocket} and {@link NetworkNamespace} turn that into a {@link NetlinkException} and retry
   * on EINTR.
   */
  public interface LibC {
    @SaveError
    int socket(int domain, int type, int protocol);

    @SaveError
    int bind(int fd, @In byte[] addr, int addrlen);

    @SaveError
    int getsockname(int fd, @Out byte[] addr, @In @Out int[] addrlen);

    @SaveError
    int setsockopt(int fd, int level, int optname, @In byte[] optval, int optlen);

    @SaveError
    int getsockopt(int fd, int level, int optname, @Out byte[] optval, @In @Out int[] optlen);

    @SaveError
    @ssize_t long send(int fd, Pointer buf, @size_t long len, int flags);

    @SaveError
    @ssize_t long recv(int fd, Pointer buf, @size_t long len, int flags);

    @SaveError
    @ssize_t long sendto(int fd, @In byte[] buf, @size_t long len, int flags, @In byte[] addr, int addrlen);

    @SaveError
    @ssize_t long recvfrom(int fd, @Out byte[] buf, @size_t long len, int flags, Pointer addr, Pointer addrlen);

    @SaveError
    int close(int fd);

    @SaveError
    int open(String path, int flags);

    @SaveError
    int setns(int fd, int nstype);
  }


  private static final class Holder {
    static final LibC LIBC = LibraryLoader.create(LibC.class).failImmediately()
        .load(Platform.getNativePlatform().getStandardCLibraryName());
    static final Runtime RUNTIME = Runtime.getRuntime(LIBC);
  }

  static LibC libc() {
    return Holder.LIBC;
  }

  static Runtime runtime() {
    return Holder.RUNTIME;
  }

  /** errno of this thread's last {@code @SaveError} call. */
  static int errno() {
    return Holder.RUNTIME.getLastError();
  }
}
