package dev.tartan.agent.netlink;

/** Linux errno values seen on netlink sockets, with their symbolic names. */
public final class Errno {
  public static final int EPERM = 1;
  public static final int ENOENT = 2;
  public static final int ESRCH = 3;
  public static final int EINTR = 4;
  public static final int EIO = 5;
  public static final int EBADF = 9;
  public static final int EAGAIN = 11;
  public static final int ENOMEM = 12;
  public static final int EACCES = 13;
  public static final int EBUSY = 16;
  public static final int EEXIST = 17;
  public static final int ENODEV = 19;
  public static final int EINVAL = 22;
  public static final int EMFILE = 24;
  public static final int ENOSPC = 28;
  public static final int ERANGE = 34;
  public static final int ELOOP = 40;
  public static final int EMSGSIZE = 90;
  public static final int EPROTONOSUPPORT = 93;
  public static final int EOPNOTSUPP = 95;
  public static final int EAFNOSUPPORT = 97;
  public static final int EADDRINUSE = 98;
  public static final int EADDRNOTAVAIL = 99;
  public static final int ENETDOWN = 100;
  public static final int ENETUNREACH = 101;
  public static final int ENOBUFS = 105;
  public static final int ENOTCONN = 107;
  public static final int ETIMEDOUT = 110;
  public static final int EHOSTUNREACH = 113;

  private Errno() {}

  /** "ENOENT (No such file or directory)" style name; "errno N" for values not listed here. */
  public static String name(int errno) {
    return switch (errno) {
      case EPERM -> "EPERM (Operation not permitted)";
      case ENOENT -> "ENOENT (No such file or directory)";
      case ESRCH -> "ESRCH (No such process)";
      case EINTR -> "EINTR (Interrupted system call)";
      case EIO -> "EIO (Input/output error)";
      case EBADF -> "EBADF (Bad file descriptor)";
      case EAGAIN -> "EAGAIN (Resource temporarily unavailable)";
      case ENOMEM -> "ENOMEM (Cannot allocate memory)";
      case EACCES -> "EACCES (Permission denied)";
      case EBUSY -> "EBUSY (Device or resource busy)";
      case EEXIST -> "EEXIST (File exists)";
      case ENODEV -> "ENODEV (No such device)";
      case EINVAL -> "EINVAL (Invalid argument)";
      case EMFILE -> "EMFILE (Too many open files)";
      case ENOSPC -> "ENOSPC (No space left on device)";
      case ERANGE -> "ERANGE (Numerical result out of range)";
      case ELOOP -> "ELOOP (Too many levels of symbolic links)";
      case EMSGSIZE -> "EMSGSIZE (Message too long)";
      case EPROTONOSUPPORT -> "EPROTONOSUPPORT (Protocol not supported)";
      case EOPNOTSUPP -> "EOPNOTSUPP (Operation not supported)";
      case EAFNOSUPPORT -> "EAFNOSUPPORT (Address family not supported by protocol)";
      case EADDRINUSE -> "EADDRINUSE (Address already in use)";
      case EADDRNOTAVAIL -> "EADDRNOTAVAIL (Cannot assign requested address)";
      case ENETDOWN -> "ENETDOWN (Network is down)";
      case ENETUNREACH -> "ENETUNREACH (Network is unreachable)";
      case ENOBUFS -> "ENOBUFS (No buffer space available)";
      case ENOTCONN -> "ENOTCONN (Transport endpoint is not connected)";
      case ETIMEDOUT -> "ETIMEDOUT (Connection timed out)";
      case EHOSTUNREACH -> "EHOSTUNREACH (No route to host)";
      default -> "errno " + errno;
    };
  }
}
