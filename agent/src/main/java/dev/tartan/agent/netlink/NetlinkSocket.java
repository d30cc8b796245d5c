package dev.tartan.agent.netlink;

import dev.tartan.agent.netlink.codec.MalformedMessageException;
import dev.tartan.agent.netlink.codec.MessageReader;
import dev.tartan.agent.netlink.codec.Netlink;
import dev.tartan.agent.netlink.codec.NlMsgErr;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An {@code AF_NETLINK}/{@code NETLINK_ROUTE} socket: sequence numbers, replies matched by
 * sequence number and port id, ACK and error handling with the kernel's extended-ACK text,
 * multipart dumps (retried when the kernel flags NLM_F_DUMP_INTR), batches of requests in flight,
 * and multicast receive for monitors (ENOBUFS reported as an overrun, not an error).
 *
 * <p>Options set on open: NETLINK_EXT_ACK, NETLINK_CAP_ACK (errors do not echo the request),
 * NETLINK_GET_STRICT_CHK (dumps filtered by the kernel, headers validated), a 4 MiB receive buffer
 * (SO_RCVBUFFORCE, falling back to SO_RCVBUF) and, for request sockets, a 30 s receive timeout
 * so a lost reply can never hang a caller.
 *
 * <p>Request methods are synchronized: one exchange at a time per socket.
 */
public final class NetlinkSocket implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NetlinkSocket.class);

  /** Turns one reply message into a value; return null to skip it. */
  @FunctionalInterface
  public interface Decoder<T> {
    T decode(int type, int flags, ByteBuffer payload);
  }

  /** What a monitor socket delivers. */
  public interface Listener {
    /** One multicast message; {@code payload} is valid only during the call. */
    void message(int type, int flags, ByteBuffer payload);

    /** The kernel dropped messages (ENOBUFS): state must be re-read. */
    void overrun();
  }

  static final int RECV_BUFFER = 64 * 1024;
  static final int SEND_CHUNK = 64 * 1024;
  static final int WANT_SOCKET_BUFFER = 4 * 1024 * 1024;
  static final int REQUEST_TIMEOUT_MS = 30_000;
  static final int MAX_DUMP_RETRIES = 10;

  private final int fd;
  private final int portId;
  private final String where;
  private final int receiveBuffer;
  private final Pointer sendMem;
  private final Pointer recvMem;
  private final byte[] recvBytes = new byte[RECV_BUFFER];
  private final AtomicInteger seq = new AtomicInteger((int) (System.nanoTime() & 0x3fffffff));
  private volatile boolean closed;

  private NetlinkSocket(int fd, int portId, String where, int receiveBuffer) {
    this.fd = fd;
    this.portId = portId;
    this.where = where;
    this.receiveBuffer = receiveBuffer;
    this.sendMem = Memory.allocateDirect(Native.runtime(), SEND_CHUNK);
    this.recvMem = Memory.allocateDirect(Native.runtime(), RECV_BUFFER);
  }

  /** A socket in this thread's network namespace, joined to the given RTNLGRP_* groups. */
  public static NetlinkSocket open(int... groups) throws NetlinkException {
    return create("own netns", groups);
  }

  /**
   * A socket inside the network namespace at {@code nsPath} (e.g. {@code /run/netns/NAME}). A
   * dedicated platform thread enters the namespace with setns(2), creates and binds the socket,
   * and returns to its original namespace; the socket stays in the target namespace for its whole
   * life, whichever thread uses it.
   */
  public static NetlinkSocket openInNamespace(Path nsPath, int... groups) throws NetlinkException {
    AtomicReference<Object> result = new AtomicReference<>();
    Thread t = new Thread(() -> result.set(createInNamespace(nsPath, groups)), "netns-open");
    t.setDaemon(true);
    t.start();
    try {
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new NetlinkException("open netlink socket in " + nsPath, "interrupted", e);
    }
    Object r = result.get();
    if (r instanceof NetlinkSocket s) {
      return s;
    }
    if (r instanceof NetlinkException e) {
      throw e;
    }
    Throwable t2 = (Throwable) r;
    throw new NetlinkException("open netlink socket in " + nsPath,
        "failed (" + t2 + "); is jnr-ffi's native library loadable (java.io.tmpdir must allow exec)?", t2);
  }

  private static Object createInNamespace(Path nsPath, int[] groups) {
    Native.LibC c;
    try {
      c = Native.libc();
    } catch (Throwable e) {
      return e;
    }
    int orig = -1;
    int target = -1;
    boolean entered = false;
    try {
      orig = NetworkNamespace.openFd(Path.of("/proc/thread-self/ns/net"));
      target = NetworkNamespace.openFd(nsPath);
      if (c.setns(target, Native.CLONE_NEWNET) != 0) {
        int errno = Native.errno();
        return new NetlinkException("setns " + nsPath, errno, Errno.name(errno), "");
      }
      entered = true;
      return create("netns " + nsPath, groups);
    } catch (NetlinkException e) {
      return e;
    } catch (Throwable e) {
      return e;
    } finally {
      if (entered && c.setns(orig, Native.CLONE_NEWNET) != 0) {
        // The thread ends right after this; nothing else runs in the foreign namespace.
        log.warn("netns-open thread could not return to its namespace: {}", Errno.name(Native.errno()));
      }
      if (orig >= 0) {
        c.close(orig);
      }
      if (target >= 0) {
        c.close(target);
      }
    }
  }

  private static NetlinkSocket create(String where, int[] groups) throws NetlinkException {
    Native.LibC c = Native.libc();
    int fd = c.socket(Netlink.AF_NETLINK, Native.SOCK_RAW | Native.SOCK_CLOEXEC, Netlink.NETLINK_ROUTE);
    if (fd < 0) {
      int errno = Native.errno();
      throw new NetlinkException("socket(AF_NETLINK, NETLINK_ROUTE) in " + where, errno, Errno.name(errno), "");
    }
    try {
      byte[] sa = new byte[12];
      ByteBuffer.wrap(sa).order(ByteOrder.nativeOrder()).putShort(0, (short) Netlink.AF_NETLINK);
      check(c.bind(fd, sa, sa.length), "bind netlink socket in " + where);
      int[] len = {sa.length};
      byte[] out = new byte[12];
      check(c.getsockname(fd, out, len), "getsockname on netlink socket");
      int port = ByteBuffer.wrap(out).order(ByteOrder.nativeOrder()).getInt(4);

      setInt(fd, Netlink.SOL_NETLINK, Netlink.NETLINK_EXT_ACK, 1, "NETLINK_EXT_ACK", false);
      setInt(fd, Netlink.SOL_NETLINK, Netlink.NETLINK_CAP_ACK, 1, "NETLINK_CAP_ACK", false);
      setInt(fd, Netlink.SOL_NETLINK, Netlink.NETLINK_GET_STRICT_CHK, 1, "NETLINK_GET_STRICT_CHK", false);
      if (!setInt(fd, Native.SOL_SOCKET, Native.SO_RCVBUFFORCE, WANT_SOCKET_BUFFER, "SO_RCVBUFFORCE", false)) {
        setInt(fd, Native.SOL_SOCKET, Native.SO_RCVBUF, WANT_SOCKET_BUFFER, "SO_RCVBUF", false);
      }
      if (!setInt(fd, Native.SOL_SOCKET, Native.SO_SNDBUFFORCE, 1024 * 1024, "SO_SNDBUFFORCE", false)) {
        setInt(fd, Native.SOL_SOCKET, Native.SO_SNDBUF, 1024 * 1024, "SO_SNDBUF", false);
      }
      for (int g : groups) {
        setInt(fd, Netlink.SOL_NETLINK, Netlink.NETLINK_ADD_MEMBERSHIP, g, "NETLINK_ADD_MEMBERSHIP " + g, true);
      }
      byte[] v = new byte[4];
      int[] vlen = {4};
      int rcv = c.getsockopt(fd, Native.SOL_SOCKET, Native.SO_RCVBUF, v, vlen) == 0
          ? ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getInt() : 212992;
      NetlinkSocket s = new NetlinkSocket(fd, port, where, rcv);
      s.setReceiveTimeout(REQUEST_TIMEOUT_MS);
      log.debug("netlink socket fd {} port {} in {} (rcvbuf {})", fd, port, where, rcv);
      return s;
    } catch (NetlinkException | RuntimeException e) {
      c.close(fd);
      throw e;
    }
  }

  private static boolean setInt(int fd, int level, int opt, int value, String name, boolean required)
      throws NetlinkException {
    byte[] b = new byte[4];
    ByteBuffer.wrap(b).order(ByteOrder.nativeOrder()).putInt(value);
    if (Native.libc().setsockopt(fd, level, opt, b, 4) == 0) {
      return true;
    }
    int errno = Native.errno();
    if (required) {
      throw new NetlinkException("setsockopt " + name, errno, Errno.name(errno), "");
    }
    log.debug("setsockopt {} failed: {}", name, Errno.name(errno));
    return false;
  }

  private static void check(int rc, String op) throws NetlinkException {
    if (rc < 0) {
      int errno = Native.errno();
      throw new NetlinkException(op, errno, Errno.name(errno), "");
    }
  }

  /**
   * Sets the kernel receive buffer (SO_RCVBUFFORCE, falling back to SO_RCVBUF, which rmem_max
   * caps); a monitor socket that falls further behind than this gets ENOBUFS.
   */
  public void setReceiveBufferSize(int bytes) throws NetlinkException {
    if (!setInt(fd, Native.SOL_SOCKET, Native.SO_RCVBUFFORCE, bytes, "SO_RCVBUFFORCE", false)) {
      setInt(fd, Native.SOL_SOCKET, Native.SO_RCVBUF, bytes, "SO_RCVBUF", true);
    }
  }

  /** Blocks in receive at most this long (SO_RCVTIMEO); 0 waits forever. */
  public void setReceiveTimeout(int millis) throws NetlinkException {
    byte[] tv = new byte[16];
    ByteBuffer.wrap(tv).order(ByteOrder.nativeOrder()).putLong(0, millis / 1000).putLong(8, (millis % 1000) * 1000L);
    if (Native.libc().setsockopt(fd, Native.SOL_SOCKET, Native.SO_RCVTIMEO, tv, 16) != 0) {
      int errno = Native.errno();
      throw new NetlinkException("setsockopt SO_RCVTIMEO", errno, Errno.name(errno), "");
    }
  }

  /** The port id the kernel assigned (nl_pid); replies carry it. */
  public int portId() {
    return portId;
  }

  /** The effective receive buffer (SO_RCVBUF as the kernel reports it). */
  public int receiveBufferSize() {
    return receiveBuffer;
  }

  /** A fresh sequence number for a request. */
  public int nextSeq() {
    return seq.incrementAndGet();
  }

  /** {@code n} consecutive sequence numbers; returns the first. */
  public int reserveSeqs(int n) {
    return seq.getAndAdd(n) + 1;
  }

  /** Where the socket lives ("own netns" or "netns /run/netns/x"). */
  public String where() {
    return where;
  }

  // ------------------------------------------------------------------ requests

  /**
   * Sends one request (with NLM_F_ACK set) and waits for its ACK. Reply messages before the ACK
   * (e.g. the RTM_NEWLINK answering an RTM_GETLINK) go through {@code decoder}; the first non-null
   * result is returned (null when there was none or {@code decoder} is null).
   *
   * @throws NetlinkException with the kernel's errno and extended-ACK text when it refuses
   */
  public synchronized <T> T request(String op, ByteBuffer message, Decoder<T> decoder) throws NetlinkException {
    ensureOpen(op);
    int mySeq = message.order(ByteOrder.nativeOrder()).getInt(message.position() + 8);
    send(op, message);
    T result = null;
    while (true) {
      ByteBuffer data = receive(op);
      if (data == null) {
        throw new NetlinkException(op, Errno.ETIMEDOUT, Errno.name(Errno.ETIMEDOUT),
            "no reply from the kernel within " + REQUEST_TIMEOUT_MS + " ms");
      }
      try {
        MessageReader r = new MessageReader(data);
        while (r.next()) {
          if (r.seq() != mySeq || r.pid() != portId) {
            continue;
          }
          int type = r.type();
          if (type == Netlink.NLMSG_ERROR) {
            NlMsgErr err = NlMsgErr.parse(r.flags(), r.payload());
            if (err.ack()) {
              return result;
            }
            throw new NetlinkException(op, err.errno(), Errno.name(err.errno()), err.extAckMessage());
          }
          if (type == Netlink.NLMSG_DONE) {
            return result;
          }
          if (type >= Netlink.NLMSG_MIN_TYPE && decoder != null && result == null) {
            result = decoder.decode(type, r.flags(), r.payload());
          }
        }
      } catch (MalformedMessageException e) {
        throw new NetlinkException(op, "malformed reply from the kernel: " + e.getMessage(), e);
      }
    }
  }

  /**
   * Runs a dump: {@code request} builds the NLM_F_DUMP request for a given sequence number; every
   * reply message goes through {@code decoder} (nulls are dropped) until NLMSG_DONE. When the
   * kernel flags the dump as interrupted (NLM_F_DUMP_INTR, the table changed meanwhile) it is run
   * again, up to {@value #MAX_DUMP_RETRIES} times.
   */
  public synchronized <T> List<T> dump(String op, IntFunction<ByteBuffer> request, Decoder<T> decoder)
      throws NetlinkException {
    ensureOpen(op);
    for (int attempt = 0; attempt < MAX_DUMP_RETRIES; attempt++) {
      int mySeq = nextSeq();
      send(op, request.apply(mySeq));
      List<T> out = new ArrayList<>();
      boolean interrupted = false;
      boolean done = false;
      while (!done) {
        ByteBuffer data = receive(op);
        if (data == null) {
          throw new NetlinkException(op, Errno.ETIMEDOUT, Errno.name(Errno.ETIMEDOUT),
              "dump not finished within " + REQUEST_TIMEOUT_MS + " ms");
        }
        try {
          MessageReader r = new MessageReader(data);
          while (r.next()) {
            if (r.seq() != mySeq || r.pid() != portId) {
              continue;
            }
            int flags = r.flags();
            if ((flags & Netlink.NLM_F_DUMP_INTR) != 0) {
              interrupted = true;
            }
            int type = r.type();
            if (type == Netlink.NLMSG_DONE) {
              ByteBuffer p = r.payload();
              int error = p.remaining() >= 4 ? p.getInt(0) : 0;
              if (error < 0) {
                throw new NetlinkException(op, -error, Errno.name(-error), "dump ended with an error");
              }
              done = true;
              break;
            }
            if (type == Netlink.NLMSG_ERROR) {
              NlMsgErr err = NlMsgErr.parse(flags, r.payload());
              if (err.ack()) {
                done = true;
                break;
              }
              throw new NetlinkException(op, err.errno(), Errno.name(err.errno()), err.extAckMessage());
            }
            if (type >= Netlink.NLMSG_MIN_TYPE) {
              T v = decoder.decode(type, flags, r.payload());
              if (v != null) {
                out.add(v);
              }
            }
          }
        } catch (MalformedMessageException e) {
          throw new NetlinkException(op, "malformed dump message from the kernel: " + e.getMessage(), e);
        }
      }
      if (!interrupted) {
        return out;
      }
      log.debug("{}: dump interrupted by a concurrent change, retrying", op);
    }
    throw new NetlinkException(op, Errno.EAGAIN, Errno.name(Errno.EAGAIN),
        "dump interrupted " + MAX_DUMP_RETRIES + " times in a row");
  }

  /**
   * Sends {@code count} requests packed back to back in {@code data} (message i starts at {@code
   * offsets[i]}, {@code offsets[count]} is the end; each with NLM_F_ACK and its own sequence
   * number), many per send(2), in windows small enough that their ACKs fit the receive buffer;
   * collects every ACK. Result i is request i's ACK or error.
   *
   * @throws NetlinkException only when the socket itself fails (then the state of the requests in
   *     the current window is unknown)
   */
  public synchronized NlMsgErr[] batch(String op, byte[] data, int[] offsets, int count) throws NetlinkException {
    ensureOpen(op);
    NlMsgErr[] results = new NlMsgErr[count];
    if (count == 0) {
      return results;
    }
    ByteBuffer view = ByteBuffer.wrap(data).order(ByteOrder.nativeOrder());
    int firstSeq = view.getInt(offsets[0] + 8);
    for (int i = 0; i < count; i++) {
      if (view.getInt(offsets[i] + 8) != firstSeq + i) {
        throw new IllegalArgumentException("batch sequence numbers must be consecutive from " + firstSeq);
      }
    }
    // An ACK costs about 1 KiB of receive buffer (skb truesize), an error with ext-ack text more.
    int window = Math.max(8, Math.min(1024, receiveBuffer / 2048));
    int next = 0;
    while (next < count) {
      int windowStart = next;
      int windowEnd = Math.min(count, next + window);
      while (next < windowEnd) {
        int chunkStart = next;
        int chunkBytes = 0;
        while (next < windowEnd) {
          int len = offsets[next + 1] - offsets[next];
          if (chunkBytes > 0 && chunkBytes + len > SEND_CHUNK) {
            break;
          }
          chunkBytes += len;
          next++;
        }
        sendBytes(op, data, offsets[chunkStart], chunkBytes);
      }
      int pending = windowEnd - windowStart;
      while (pending > 0) {
        ByteBuffer in = receive(op);
        if (in == null) {
          throw new NetlinkException(op, Errno.ETIMEDOUT, Errno.name(Errno.ETIMEDOUT),
              pending + " ACKs missing after " + REQUEST_TIMEOUT_MS + " ms");
        }
        try {
          MessageReader r = new MessageReader(in);
          while (r.next()) {
            if (r.pid() != portId || r.type() != Netlink.NLMSG_ERROR) {
              continue;
            }
            int idx = r.seq() - firstSeq;
            if (idx < windowStart || idx >= windowEnd || results[idx] != null) {
              continue;
            }
            results[idx] = NlMsgErr.parse(r.flags(), r.payload());
            pending--;
          }
        } catch (MalformedMessageException e) {
          throw new NetlinkException(op, "malformed ACK from the kernel: " + e.getMessage(), e);
        }
      }
    }
    return results;
  }

  // ------------------------------------------------------------------ monitor receive

  /**
   * Receives one datagram of multicast notifications and hands each message to {@code listener}
   * (ENOBUFS becomes {@link Listener#overrun()}). Returns false when the receive timed out.
   */
  public boolean receive(Listener listener) throws NetlinkException {
    ByteBuffer data;
    try {
      data = receive("receive notifications");
    } catch (NetlinkException e) {
      if (e.errno() == Errno.ENOBUFS) {
        listener.overrun();
        return true;
      }
      throw e;
    }
    if (data == null) {
      return false;
    }
    try {
      MessageReader r = new MessageReader(data);
      while (r.next()) {
        if (r.type() >= Netlink.NLMSG_MIN_TYPE) {
          listener.message(r.type(), r.flags(), r.payload());
        } else if (r.type() == Netlink.NLMSG_OVERRUN) {
          listener.overrun();
        }
      }
    } catch (MalformedMessageException e) {
      log.warn("dropping a malformed netlink notification in {}: {}", where, e.getMessage());
      listener.overrun();
    }
    return true;
  }

  // ------------------------------------------------------------------ I/O

  private void send(String op, ByteBuffer message) throws NetlinkException {
    int len = message.remaining();
    byte[] b = new byte[len];
    message.duplicate().get(b);
    sendBytes(op, b, 0, len);
  }

  private void sendBytes(String op, byte[] b, int off, int len) throws NetlinkException {
    Pointer p = len <= SEND_CHUNK ? sendMem : Memory.allocateDirect(Native.runtime(), len);
    p.put(0, b, off, len);
    while (true) {
      long n = Native.libc().send(fd, p, len, 0);
      if (n >= 0) {
        if (n != len) {
          throw new NetlinkException(op, "short send: " + n + " of " + len + " bytes", null);
        }
        return;
      }
      int errno = Native.errno();
      if (errno != Errno.EINTR) {
        throw new NetlinkException(op + " (send)", errno, Errno.name(errno), "");
      }
    }
  }

  /** One datagram, or null on receive timeout. */
  private ByteBuffer receive(String op) throws NetlinkException {
    while (true) {
      if (closed) {
        throw new NetlinkException(op, Errno.EBADF, Errno.name(Errno.EBADF), "netlink socket closed");
      }
      long n = Native.libc().recv(fd, recvMem, RECV_BUFFER, Native.MSG_TRUNC);
      if (n >= 0) {
        if (n > RECV_BUFFER) {
          throw new NetlinkException(op, "netlink datagram of " + n + " bytes truncated to "
              + RECV_BUFFER, null);
        }
        recvMem.get(0, recvBytes, 0, (int) n);
        return ByteBuffer.wrap(recvBytes, 0, (int) n).order(ByteOrder.nativeOrder());
      }
      int errno = Native.errno();
      if (errno == Errno.EINTR) {
        continue;
      }
      if (errno == Errno.EAGAIN) {
        return null;
      }
      throw new NetlinkException(op + " (recv)", errno, Errno.name(errno), "");
    }
  }

  private void ensureOpen(String op) throws NetlinkException {
    if (closed) {
      throw new NetlinkException(op, Errno.EBADF, Errno.name(Errno.EBADF), "netlink socket closed");
    }
  }

  public boolean isClosed() {
    return closed;
  }

  /** Closes the descriptor; idempotent. Do not close while another thread is receiving. */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      Native.libc().close(fd);
    }
  }

  @Override
  public String toString() {
    return "netlink socket port " + portId + " in " + where;
  }
}
