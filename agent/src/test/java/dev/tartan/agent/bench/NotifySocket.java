package dev.tartan.agent.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Platform;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * What systemd is to a {@code Type=notify} service, for timing: an AF_UNIX datagram socket at a
 * path (the agent's {@code NOTIFY_SOCKET}) whose messages are time-stamped ({@link System#nanoTime()})
 * by a thread that blocks in recv(2) as soon as the socket is bound. Path sockets work across
 * network namespaces. Java 17's NIO has no unix datagram sockets, hence libc.
 */
final class NotifySocket implements AutoCloseable {
  /** One datagram ({@code READY=1\nSTATUS=...}) and when it arrived. */
  record Message(long nanos, String text) {
    boolean ready() {
      return ("\n" + text + "\n").contains("\nREADY=1\n");
    }
  }

  /** Public only so that jnr-ffi's generated class (in its own class loader) may implement it. */
  public interface LibC {
    @SaveError
    int socket(int domain, int type, int protocol);

    @SaveError
    int bind(int fd, @In byte[] addr, int addrlen);

    @SaveError
    @ssize_t long recv(int fd, @Out byte[] buf, @size_t long len, int flags);

    @SaveError
    int setsockopt(int fd, int level, int optname, @In byte[] optval, int optlen);

    int close(int fd);
  }

  private static final int AF_UNIX = 1;
  private static final int SOCK_DGRAM = 2;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int SOL_SOCKET = 1;
  private static final int SO_RCVTIMEO = 20;
  private static final LibC LIBC = LibraryLoader.create(LibC.class).failImmediately()
      .load(Platform.getNativePlatform().getStandardCLibraryName());
  private static final Runtime RUNTIME = Runtime.getRuntime(LIBC);

  private final Path path;
  private final int fd;
  private final Thread thread;
  private final BlockingQueue<Message> queue = new LinkedBlockingQueue<>();
  private volatile boolean closed;

  private NotifySocket(Path path, int fd) {
    this.path = path;
    this.fd = fd;
    this.thread = new Thread(this::run, "notify-" + path.getFileName());
    this.thread.setDaemon(true);
  }

  /** Binds a datagram socket at {@code path} (removed first if it exists) and starts receiving. */
  static NotifySocket bind(Path path) throws IOException {
    Files.deleteIfExists(path);
    int fd = LIBC.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      throw new IOException("socket(AF_UNIX, SOCK_DGRAM): errno " + RUNTIME.getLastError());
    }
    byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
    if (name.length + 1 > 108) {
      LIBC.close(fd);
      throw new IOException("unix socket path too long: " + path);
    }
    ByteBuffer addr = ByteBuffer.allocate(2 + name.length + 1).order(ByteOrder.nativeOrder());
    addr.putShort((short) AF_UNIX).put(name).put((byte) 0);
    if (LIBC.bind(fd, addr.array(), addr.capacity()) < 0) {
      int errno = RUNTIME.getLastError();
      LIBC.close(fd);
      throw new IOException("bind " + path + ": errno " + errno);
    }
    // 200 ms receive timeout, so the thread notices close()
    ByteBuffer tv = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
    tv.putLong(0).putLong(200_000);
    LIBC.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv.array(), 16);
    NotifySocket s = new NotifySocket(path, fd);
    s.thread.start();
    return s;
  }

  Path path() {
    return path;
  }

  private void run() {
    byte[] buf = new byte[4096];
    while (!closed) {
      long n = LIBC.recv(fd, buf, buf.length, 0);
      long now = System.nanoTime();
      if (n > 0) {
        queue.add(new Message(now, new String(buf, 0, (int) n, StandardCharsets.UTF_8)));
      }
    }
  }

  /** Drops every message received so far. */
  void clear() {
    queue.clear();
  }

  /** The next READY=1 within {@code timeoutMs}, or null. Other messages are dropped. */
  Message awaitReady(long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return null;
      }
      Message m = queue.poll(left, TimeUnit.NANOSECONDS);
      if (m == null) {
        return null;
      }
      if (m.ready()) {
        return m;
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      thread.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    LIBC.close(fd);
    try {
      Files.deleteIfExists(path);
    } catch (IOException ignored) {
      // best effort
    }
  }
}
