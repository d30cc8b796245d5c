package dev.tartan.agent.netlink.rtnl;

import dev.tartan.net.MacAddress;

import dev.tartan.agent.netlink.Errno;
import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.NetlinkSocket;
import dev.tartan.agent.netlink.codec.MessageWriter;
import dev.tartan.agent.netlink.codec.Rtnl;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link RtNetlink} on the kernel, over one NETLINK_ROUTE socket (jnr-ffi). Every call is one
 * request/ACK exchange (or one dump) on that socket; calls from several threads are serialised.
 * Each method's Javadoc names the {@code ip}/{@code bridge} command it matches.
 *
 * <pre>{@code
 * try (RtNetlinkClient rtnl = RtNetlinkClient.open()) { ... }                        // own netns
 * try (RtNetlinkClient rtnl = RtNetlinkClient.openInNamespace(Path.of("/run/netns/x"))) { ... }
 * NetlinkMonitor m = RtNetlinkClient.monitor(null, event -> ...);                     // own netns
 * }</pre>
 */
public final class RtNetlinkClient implements RtNetlink {
  private static final Logger log = LoggerFactory.getLogger(RtNetlinkClient.class);

  private final NetlinkSocket socket;

  private RtNetlinkClient(NetlinkSocket socket) {
    this.socket = socket;
  }

  /** A client on the caller's network namespace. */
  public static RtNetlinkClient open() throws NetlinkException {
    return new RtNetlinkClient(NetlinkSocket.open());
  }

  /**
   * A client on the network namespace at {@code nsPath} (e.g. {@code /run/netns/NAME}); see
   * {@link NetlinkSocket#openInNamespace}. The calling thread's namespace is not changed.
   */
  public static RtNetlinkClient openInNamespace(Path nsPath) throws NetlinkException {
    Objects.requireNonNull(nsPath, "nsPath");
    return new RtNetlinkClient(NetlinkSocket.openInNamespace(nsPath));
  }

  /**
   * Subscribes to RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_NEIGH and their IPv6
   * counterparts (RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE) on a
   * socket of its own (in {@code nsPathOrNull}, or the caller's namespace when null) and delivers
   * typed events to {@code listener} on a daemon thread, in kernel order ({@code ip monitor link
   * address route neigh}). An ENOBUFS overflow is delivered as {@link NetlinkEvent.Overrun}.
   */
  public static NetlinkMonitor monitor(Path nsPathOrNull, Consumer<NetlinkEvent> listener) throws NetlinkException {
    return monitor(nsPathOrNull, listener, 0);
  }

  /** As {@link #monitor(Path, Consumer)} with a given socket receive buffer (0: the default 4 MiB). */
  static NetlinkMonitor monitor(Path nsPathOrNull, Consumer<NetlinkEvent> listener, int receiveBufferBytes)
      throws NetlinkException {
    Objects.requireNonNull(listener, "listener");
    int[] groups = {Rtnl.RTNLGRP_LINK, Rtnl.RTNLGRP_IPV4_IFADDR, Rtnl.RTNLGRP_IPV4_ROUTE, Rtnl.RTNLGRP_NEIGH,
        Rtnl.RTNLGRP_IPV6_IFADDR, Rtnl.RTNLGRP_IPV6_ROUTE};
    NetlinkSocket s = nsPathOrNull == null ? NetlinkSocket.open(groups) : NetlinkSocket.openInNamespace(nsPathOrNull, groups);
    try {
      if (receiveBufferBytes > 0) {
        s.setReceiveBufferSize(receiveBufferBytes);
      }
      return new KernelMonitor(s, listener);
    } catch (NetlinkException | RuntimeException e) {
      s.close();
      throw e;
    }
  }

  /** The socket's location, e.g. "netns /run/netns/x". */
  public String where() {
    return socket.where();
  }

  // ------------------------------------------------------------------ plumbing

  private interface Encoder {
    void write(MessageWriter w, int seq);
  }

  private <T> T request(String op, Encoder e, NetlinkSocket.Decoder<T> decoder) throws NetlinkException {
    MessageWriter w = new MessageWriter();
    e.write(w, socket.nextSeq());
    log.debug("{}", op);
    return socket.request(op, w.finish(), decoder);
  }

  private void request(String op, Encoder e) throws NetlinkException {
    request(op, e, null);
  }

  private <T> List<T> dump(String op, Encoder e, NetlinkSocket.Decoder<T> decoder) throws NetlinkException {
    return socket.dump(op, seq -> {
      MessageWriter w = new MessageWriter();
      e.write(w, seq);
      return w.finish();
    }, decoder);
  }

  private static Link link(int type, int flags, ByteBuffer p) {
    return type == Rtnl.RTM_NEWLINK ? RtnlCodec.decodeLink(p) : null;
  }

  // ------------------------------------------------------------------ links

  /** {@code ip link show NAME}; empty when there is no such device (ENODEV). */
  @Override
  public Optional<Link> linkByName(String name) throws NetlinkException {
    try {
      return Optional.ofNullable(request("ip link show " + name,
          (w, seq) -> RtnlCodec.getLinkByName(w, seq, name), RtNetlinkClient::link));
    } catch (NetlinkException e) {
      if (e.notFound()) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /** {@code ip link show} for one ifindex; empty when there is none (ENODEV). */
  @Override
  public Optional<Link> linkByIndex(int index) throws NetlinkException {
    try {
      return Optional.ofNullable(request("ip link show ifindex " + index,
          (w, seq) -> RtnlCodec.getLinkByIndex(w, seq, index), RtNetlinkClient::link));
    } catch (NetlinkException e) {
      if (e.notFound()) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /** {@code ip link show}. */
  @Override
  public List<Link> links() throws NetlinkException {
    return dump("ip link show", RtnlCodec::dumpLinks, RtNetlinkClient::link);
  }

  /**
   * {@code ip link add NAME type vxlan id VNI [local L] [dev U] [dstport P] [no]learning [gbp]
   * [[no]udpcsum] [mtu M] [address MAC]} (CREATE|EXCL): EEXIST when the name (or the VNI on the
   * same port) is taken. Returns the link as the kernel reports it.
   */
  @Override
  public Link createVxlan(VxlanSpec spec) throws NetlinkException {
    String op = "ip link add " + spec.name() + " type vxlan id " + spec.vni();
    request(op, (w, seq) -> RtnlCodec.newVxlan(w, seq, spec));
    return created(op, spec.name());
  }

  /** {@code ip link add NAME type bridge [mtu MTU]} (CREATE|EXCL). */
  @Override
  public Link createBridge(String name, int mtu) throws NetlinkException {
    String op = "ip link add " + name + " type bridge";
    request(op, (w, seq) -> RtnlCodec.newBridge(w, seq, name, mtu));
    return created(op, name);
  }

  private Link created(String op, String name) throws NetlinkException {
    return linkByName(name).orElseThrow(() -> new NetlinkException(op, Errno.ENODEV, Errno.name(Errno.ENODEV),
        "created, but gone before it could be read back"));
  }

  /**
   * {@code ip link add NAME type veth peer name PEER [netns NSFD]} (CREATE|EXCL); the peer is
   * moved into the namespace open as {@code peerNetnsFd} (IFLA_NET_NS_FD), or stays here when -1.
   */
  @Override
  public void createVethPair(String name, String peerName, int peerNetnsFd) throws NetlinkException {
    request("ip link add " + name + " type veth peer name " + peerName
            + (peerNetnsFd >= 0 ? " netns fd " + peerNetnsFd : ""),
        (w, seq) -> RtnlCodec.newVeth(w, seq, name, peerName, peerNetnsFd));
  }

  /** {@code ip link set dev X up|down}. */
  @Override
  public void setUp(int index, boolean up) throws NetlinkException {
    request("ip link set dev " + index + (up ? " up" : " down"), (w, seq) -> RtnlCodec.setUp(w, seq, index, up));
  }

  /** {@code ip link set dev X mtu MTU}. */
  @Override
  public void setMtu(int index, int mtu) throws NetlinkException {
    request("ip link set dev " + index + " mtu " + mtu, (w, seq) -> RtnlCodec.setMtu(w, seq, index, mtu));
  }

  /** {@code ip link set dev X address MAC}. */
  @Override
  public void setMac(int index, String mac) throws NetlinkException {
    MacAddress.parse(mac);
    request("ip link set dev " + index + " address " + mac, (w, seq) -> RtnlCodec.setMac(w, seq, index, mac));
  }

  /** {@code ip link set dev X master M}, or {@code nomaster} when master is 0. */
  @Override
  public void setMaster(int index, int master) throws NetlinkException {
    request("ip link set dev " + index + (master == 0 ? " nomaster" : " master " + master),
        (w, seq) -> RtnlCodec.setMaster(w, seq, index, master));
  }

  /** {@code ip link del dev X}; ENODEV ({@code notFound()}) when missing. */
  @Override
  public void deleteLink(int index) throws NetlinkException {
    request("ip link del dev " + index, (w, seq) -> RtnlCodec.delLink(w, seq, index));
  }

  // ------------------------------------------------------------------ addresses

  /** {@code ip addr add A/LEN dev X} (CREATE|EXCL). */
  @Override
  public void addAddress(Address a) throws NetlinkException {
    request("ip addr add " + Describe.address(a), (w, seq) -> RtnlCodec.newAddress(w, seq, a, false));
  }

  /** {@code ip addr replace A/LEN dev X} (CREATE|REPLACE). */
  @Override
  public void replaceAddress(Address a) throws NetlinkException {
    request("ip addr replace " + Describe.address(a), (w, seq) -> RtnlCodec.newAddress(w, seq, a, true));
  }

  /** {@code ip addr del A/LEN dev X}; EADDRNOTAVAIL ({@code notFound()}) when missing. */
  @Override
  public void deleteAddress(Address a) throws NetlinkException {
    request("ip addr del " + Describe.address(a), (w, seq) -> RtnlCodec.delAddress(w, seq, a));
  }

  /** {@code ip -4 addr show [dev X]}; link 0 lists all. */
  @Override
  public List<Address> addresses(int link) throws NetlinkException {
    return addresses(Rtnl.AF_INET, link);
  }

  /** {@code ip -6 addr show [dev X]}; link 0 lists all. */
  @Override
  public List<Address> addresses6(int link) throws NetlinkException {
    return addresses(Rtnl.AF_INET6, link);
  }

  private List<Address> addresses(int family, int link) throws NetlinkException {
    boolean v6 = family == Rtnl.AF_INET6;
    return dump((v6 ? "ip -6" : "ip -4") + " addr show" + (link == 0 ? "" : " dev " + link),
        (w, seq) -> RtnlCodec.dumpAddresses(w, seq, family, link),
        (type, flags, p) -> {
          Address a = type == Rtnl.RTM_NEWADDR ? RtnlCodec.decodeAddress(p) : null;
          return a != null && a.ipv6() == v6 && (link == 0 || a.link() == link) ? a : null;
        });
  }

  // ------------------------------------------------------------------ routes

  /**
   * {@code ip route replace DST [via GW] [dev X] [onlink] table T proto P} (CREATE|REPLACE),
   * tagged with {@link Route#protocol()} as rtm_protocol.
   */
  @Override
  public void replaceRoute(Route r) throws NetlinkException {
    request("ip route replace " + Describe.route(r), (w, seq) -> RtnlCodec.newRoute(w, seq, r));
  }

  /** {@code ip route del DST [via GW] [dev X] table T [proto P]}; ESRCH ({@code notFound()}) when missing. */
  @Override
  public void deleteRoute(Route r) throws NetlinkException {
    request("ip route del " + Describe.route(r), (w, seq) -> RtnlCodec.delRoute(w, seq, r));
  }

  /**
   * {@code ip -4 route show table T [proto P]} (unicast routes only); table 0 lists all tables,
   * protocol 0 every protocol. A table that does not exist yet is empty.
   */
  @Override
  public List<Route> routes(int table, int protocol) throws NetlinkException {
    return routes(Rtnl.AF_INET, table, protocol);
  }

  /** {@code ip -6 route show table T [proto P]} (unicast routes only), as {@link #routes(int, int)}. */
  @Override
  public List<Route> routes6(int table, int protocol) throws NetlinkException {
    return routes(Rtnl.AF_INET6, table, protocol);
  }

  private List<Route> routes(int family, int table, int protocol) throws NetlinkException {
    boolean v6 = family == Rtnl.AF_INET6;
    try {
      return dump((v6 ? "ip -6" : "ip -4") + " route show table " + (table == 0 ? "all" : table)
              + (protocol == 0 ? "" : " proto " + protocol),
          (w, seq) -> RtnlCodec.dumpRoutes(w, seq, family, table, protocol),
          (type, flags, p) -> {
            Route r = type == Rtnl.RTM_NEWROUTE ? RtnlCodec.decodeRoute(p) : null;
            return r != null && r.ipv6() == v6 && (table == 0 || r.table() == table)
                && (protocol == 0 || r.protocol() == protocol) ? r : null;
          });
    } catch (NetlinkException e) {
      if (table != 0 && e.errno() == Errno.ENOENT) {
        return List.of(); // "ipv4: FIB table does not exist"
      }
      throw e;
    }
  }

  /**
   * {@code ip route get IP}; empty when the kernel answers ENETUNREACH/EHOSTUNREACH or the route is
   * not unicast (a local address).
   */
  @Override
  public Optional<Route> routeTo(java.net.Inet4Address ip) throws NetlinkException {
    try {
      return Optional.ofNullable(request("ip route get " + ip.getHostAddress(),
          (w, seq) -> RtnlCodec.getRoute(w, seq, ip),
          (type, flags, p) -> type == Rtnl.RTM_NEWROUTE ? RtnlCodec.decodeRouteGet(p) : null));
    } catch (NetlinkException e) {
      if (e.errno() == Errno.ENETUNREACH || e.errno() == Errno.EHOSTUNREACH) {
        return Optional.empty();
      }
      throw e;
    }
  }

  // ------------------------------------------------------------------ neighbours

  /** {@code ip neigh replace IP lladdr MAC dev X nud permanent} (CREATE|REPLACE). */
  @Override
  public void replaceNeighbour(Neighbour n) throws NetlinkException {
    request("ip neigh replace " + Describe.neighbour(n), (w, seq) -> RtnlCodec.newNeighbour(w, seq, n));
  }

  /** {@code ip neigh del IP dev X}; ENOENT ({@code notFound()}) when missing. */
  @Override
  public void deleteNeighbour(Neighbour n) throws NetlinkException {
    request("ip neigh del " + n.ip().getHostAddress() + " dev " + n.link(), (w, seq) -> RtnlCodec.delNeighbour(w, seq, n));
  }

  /** {@code ip -4 neigh show [dev X]}; link 0 lists all. */
  @Override
  public List<Neighbour> neighbours(int link) throws NetlinkException {
    return neighbours(Rtnl.AF_INET, link);
  }

  /** {@code ip -6 neigh show [dev X]}; link 0 lists all. */
  @Override
  public List<Neighbour> neighbours6(int link) throws NetlinkException {
    return neighbours(Rtnl.AF_INET6, link);
  }

  private List<Neighbour> neighbours(int family, int link) throws NetlinkException {
    boolean v6 = family == Rtnl.AF_INET6;
    return dump((v6 ? "ip -6" : "ip -4") + " neigh show" + (link == 0 ? "" : " dev " + link),
        (w, seq) -> RtnlCodec.dumpNeighbours(w, seq, family, link),
        (type, flags, p) -> {
          Neighbour n = type == Rtnl.RTM_NEWNEIGH ? RtnlCodec.decodeNeighbour(p) : null;
          return n != null && n.ipv6() == v6 && (link == 0 || n.link() == link) ? n : null;
        });
  }

  // ------------------------------------------------------------------ fdb

  /** {@code bridge fdb replace MAC dev X dst D self permanent} (AF_BRIDGE, NTF_SELF, CREATE|REPLACE). */
  @Override
  public void replaceFdb(FdbEntry e) throws NetlinkException {
    request("bridge fdb replace " + Describe.fdb(e), (w, seq) -> RtnlCodec.newFdb(w, seq, e, false));
  }

  /** {@code bridge fdb append MAC dev X dst D self permanent} (CREATE|APPEND). */
  @Override
  public void appendFdb(FdbEntry e) throws NetlinkException {
    request("bridge fdb append " + Describe.fdb(e), (w, seq) -> RtnlCodec.newFdb(w, seq, e, true));
  }

  /** {@code bridge fdb del MAC dev X [dst D] self}; ENOENT ({@code notFound()}) when missing. */
  @Override
  public void deleteFdb(FdbEntry e) throws NetlinkException {
    request("bridge fdb del " + Describe.fdb(e), (w, seq) -> RtnlCodec.delFdb(w, seq, e));
  }

  /** {@code bridge fdb show [dev X]}, self entries with a MAC; link 0 lists all. */
  @Override
  public List<FdbEntry> fdb(int link) throws NetlinkException {
    return dump("bridge fdb show" + (link == 0 ? "" : " dev " + link), (w, seq) -> RtnlCodec.dumpFdb(w, seq, link),
        (type, flags, p) -> {
          FdbEntry f = type == Rtnl.RTM_NEWNEIGH ? RtnlCodec.decodeFdb(p) : null;
          return f != null && (link == 0 || f.link() == link) ? f : null;
        });
  }

  // ------------------------------------------------------------------ batch, close

  /**
   * A batch on this client's socket: requests are encoded as they are added and sent back to back
   * by {@link Batch#execute()}, many per send(2), each with its own sequence number and ACK.
   */
  @Override
  public Batch batch() {
    return new ClientBatch(socket);
  }

  @Override
  public void close() {
    socket.close();
  }

  @Override
  public String toString() {
    return "RtNetlinkClient(" + socket + ")";
  }
}
