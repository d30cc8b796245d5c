package dev.tartan.agent.netlink.rtnl;

import dev.tartan.agent.netlink.Errno;
import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.NetlinkSocket;
import dev.tartan.agent.netlink.codec.MessageWriter;
import dev.tartan.agent.netlink.codec.NlMsgErr;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A {@link Batch} on a kernel socket: each request is encoded when added (sequence number patched
 * in at execute time), then {@link NetlinkSocket#batch} sends them back to back and collects one
 * ACK per request. Not thread-safe; reusable after execute.
 */
final class ClientBatch implements Batch {
  private static final byte NEIGH_REPLACE = 0;
  private static final byte NEIGH_DELETE = 1;
  private static final byte FDB_REPLACE = 2;
  private static final byte FDB_DELETE = 3;
  private static final byte ROUTE_REPLACE = 4;
  private static final byte ROUTE_DELETE = 5;

  private final NetlinkSocket socket;
  private final MessageWriter w = new MessageWriter(16 * 1024);
  private final List<Object> requests = new ArrayList<>();
  private byte[] kinds = new byte[64];
  private int[] offsets = new int[65];

  ClientBatch(NetlinkSocket socket) {
    this.socket = socket;
  }

  private void mark(Object request, byte kind) {
    Objects.requireNonNull(request, "request");
    int n = requests.size();
    if (n >= kinds.length) {
      kinds = Arrays.copyOf(kinds, kinds.length * 2);
      offsets = Arrays.copyOf(offsets, kinds.length + 1);
    }
    offsets[n] = w.size();
    kinds[n] = kind;
    requests.add(request);
  }

  @Override
  public Batch replaceNeighbour(Neighbour n) {
    mark(n, NEIGH_REPLACE);
    RtnlCodec.newNeighbour(w, 0, n);
    return this;
  }

  @Override
  public Batch deleteNeighbour(Neighbour n) {
    mark(n, NEIGH_DELETE);
    RtnlCodec.delNeighbour(w, 0, n);
    return this;
  }

  @Override
  public Batch replaceFdb(FdbEntry e) {
    mark(e, FDB_REPLACE);
    RtnlCodec.newFdb(w, 0, e, false);
    return this;
  }

  @Override
  public Batch deleteFdb(FdbEntry e) {
    mark(e, FDB_DELETE);
    RtnlCodec.delFdb(w, 0, e);
    return this;
  }

  @Override
  public Batch replaceRoute(Route r) {
    mark(r, ROUTE_REPLACE);
    RtnlCodec.newRoute(w, 0, r);
    return this;
  }

  @Override
  public Batch deleteRoute(Route r) {
    mark(r, ROUTE_DELETE);
    RtnlCodec.delRoute(w, 0, r);
    return this;
  }

  @Override
  public int size() {
    return requests.size();
  }

  @Override
  public List<Failure> execute() throws NetlinkException {
    int n = requests.size();
    if (n == 0) {
      return List.of();
    }
    try {
      offsets[n] = w.size();
      byte[] data = w.array();
      ByteBuffer view = ByteBuffer.wrap(data).order(ByteOrder.nativeOrder());
      int first = socket.reserveSeqs(n);
      for (int i = 0; i < n; i++) {
        view.putInt(offsets[i] + 8, first + i);
      }
      NlMsgErr[] acks = socket.batch("batch of " + n + " requests", data, offsets, n);
      List<Failure> failures = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        if (!acks[i].ack()) {
          int errno = acks[i].errno();
          failures.add(new Failure(requests.get(i),
              new NetlinkException(describe(kinds[i], requests.get(i)), errno, Errno.name(errno), acks[i].extAckMessage())));
        }
      }
      return failures;
    } finally {
      w.reset();
      requests.clear();
    }
  }

  private static String describe(byte kind, Object r) {
    return switch (kind) {
      case NEIGH_REPLACE -> "ip neigh replace " + Describe.neighbour((Neighbour) r);
      case NEIGH_DELETE -> "ip neigh del " + ((Neighbour) r).ip().getHostAddress() + " dev " + ((Neighbour) r).link();
      case FDB_REPLACE -> "bridge fdb replace " + Describe.fdb((FdbEntry) r);
      case FDB_DELETE -> "bridge fdb del " + Describe.fdb((FdbEntry) r);
      case ROUTE_REPLACE -> "ip route replace " + Describe.route((Route) r);
      case ROUTE_DELETE -> "ip route del " + Describe.route((Route) r);
      default -> String.valueOf(r);
    };
  }
}
