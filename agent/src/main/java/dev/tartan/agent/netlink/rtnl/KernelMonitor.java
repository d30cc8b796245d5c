package dev.tartan.agent.netlink.rtnl;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.NetlinkSocket;
import dev.tartan.agent.netlink.codec.MalformedMessageException;
import java.nio.ByteBuffer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link NetlinkMonitor} on a multicast socket: a daemon thread receives (waking every {@value
 * #POLL_MS} ms to notice close), decodes and delivers. A listener that throws is logged and the
 * monitor carries on.
 */
final class KernelMonitor implements NetlinkMonitor, NetlinkSocket.Listener {
  private static final Logger log = LoggerFactory.getLogger(KernelMonitor.class);
  static final int POLL_MS = 200;

  private final NetlinkSocket socket;
  private final Consumer<NetlinkEvent> listener;
  private final Thread thread;
  private volatile boolean closed;

  KernelMonitor(NetlinkSocket socket, Consumer<NetlinkEvent> listener) throws NetlinkException {
    this.socket = socket;
    this.listener = listener;
    socket.setReceiveTimeout(POLL_MS);
    thread = new Thread(this::run, "netlink-monitor-" + Integer.toUnsignedString(socket.portId()));
    thread.setDaemon(true);
    thread.start();
  }

  private void run() {
    try {
      while (!closed) {
        socket.receive(this);
      }
    } catch (NetlinkException e) {
      if (!closed) {
        log.error("netlink monitor in {} stopped: {}", socket.where(), e.getMessage());
        deliver(new NetlinkEvent.Overrun());
      }
    } finally {
      socket.close();
    }
  }

  @Override
  public void message(int type, int flags, ByteBuffer payload) {
    if (closed) {
      return;
    }
    NetlinkEvent e;
    try {
      e = RtnlCodec.decodeEvent(type, payload);
    } catch (MalformedMessageException ex) {
      log.warn("malformed netlink notification (type {}) in {}: {}; asking for a resync", type, socket.where(),
          ex.getMessage());
      e = new NetlinkEvent.Overrun();
    }
    if (e != null) {
      deliver(e);
    }
  }

  @Override
  public void overrun() {
    if (!closed) {
      log.warn("netlink monitor in {} overran (ENOBUFS): events lost, listener must resync", socket.where());
      deliver(new NetlinkEvent.Overrun());
    }
  }

  private void deliver(NetlinkEvent e) {
    try {
      listener.accept(e);
    } catch (RuntimeException ex) {
      log.warn("netlink event listener failed on {}: {}", e, ex.toString());
    }
  }

  /** Stops delivery at once; the thread ends (and closes the socket) within {@value #POLL_MS} ms. */
  @Override
  public void close() {
    closed = true;
    if (Thread.currentThread() != thread) {
      try {
        thread.join(2L * POLL_MS + 1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
