package dev.tartan.agent.netlink.rtnl;

import dev.tartan.net.MacAddress;

import dev.tartan.agent.netlink.Errno;
import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.net.IpSubnet;
import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * An in-memory network namespace with the kernel's rtnetlink semantics, for unit tests of code
 * that programs links, addresses, routes, neighbours and FDB entries.
 *
 * <p>What it mirrors (checked against kernel 6.18 by {@code RtNetlinkContract}):
 *
 * <ul>
 *   <li>{@code create...}/{@code addAddress} fail with EEXIST; deleting a missing link gives ENODEV,
 *       a missing neighbour or FDB entry ENOENT, a missing route ESRCH, a missing address
 *       EADDRNOTAVAIL (all {@link NetlinkException#notFound()}); operations on a missing ifindex
 *       give ENODEV.
 *   <li>Routes are keyed by (table, dst); replace overwrites. A route needs its device up (ENETDOWN)
 *       and, without onlink, a gateway inside a connected subnet of that device (ENETUNREACH). An
 *       address on an up link adds its connected route (proto kernel). Delete matches dst and table
 *       and, when given, protocol, gateway and device.
 *   <li>Neighbours are keyed by (link, ip). FDB entries are keyed by (link, mac) with a list of
 *       remotes: replace on a unicast MAC rewrites the first remote; append adds a remote only to
 *       the all-zeros or multicast MAC (on a unicast MAC it is accepted and ignored, as the kernel
 *       does); delete with a dst removes that remote (a dst the MAC does not have is a no-op, as in
 *       the kernel; ENOENT only when the MAC is missing), without one the whole MAC.
 *   <li>Setting a link down flushes its routes and neighbours (FDB entries stay). Deleting a link
 *       removes its addresses, routes, neighbours and FDB entries, its veth peer, the vxlan devices
 *       that use it as underlay, and detaches its bridge ports.
 *   <li>Events: every change is delivered to {@link #monitor} listeners after the call returns,
 *       like RTM_NEW/DEL notifications; routes flushed by link down/delete produce no event (the
 *       kernel sends none either).
 * </ul>
 *
 * <p>Test hooks: {@link #addLink} seeds an underlay (e.g. {@code eth0} with an address), {@link
 * #failNext} injects an errno, {@link #emit} delivers any event (e.g. {@link
 * NetlinkEvent.Overrun}), {@link #calls()} records every operation in order ({@link #dumps()},
 * {@link #batches()} and {@link #writes()} count them), {@link #closed()}.
 */
public final class FakeRtNetlink implements RtNetlink {

  /** One recorded operation: its name (the RtNetlink method) and argument. */
  public record Call(String op, Object argument) {}

  private static final int IFF_UP = 0x1;
  private static final int IFF_BROADCAST = 0x2;
  private static final int IFF_LOOPBACK = 0x8;
  private static final int IFF_RUNNING = 0x40;
  private static final int IFF_MULTICAST = 0x1000;
  private static final int IFF_LOWER_UP = 0x10000;
  private static final int PROTO_KERNEL = 2;
  private static final int VXLAN_HEADROOM = 50;
  private static final int DEFAULT_VXLAN_PORT = 8472;

  private static final class LinkState {
    final int index;
    String name;
    final String kind;
    int mtu;
    String mac;
    int flags;
    int master;
    final VxlanInfo vxlan;
    int peer;

    LinkState(int index, String name, String kind, int mtu, String mac, int flags, VxlanInfo vxlan) {
      this.index = index;
      this.name = name;
      this.kind = kind;
      this.mtu = mtu;
      this.mac = mac;
      this.flags = flags;
      this.vxlan = vxlan;
    }

    Link snapshot() {
      return new Link(index, name, kind, mtu, mac, flags, master, Optional.ofNullable(vxlan));
    }

    boolean up() {
      return (flags & IFF_UP) != 0;
    }
  }

  private record RouteKey(int table, IpSubnet dst) {}

  private record NeighKey(int link, InetAddress ip) {}

  private record FdbKey(int link, String mac) {}

  private record Injected(String op, int errno, String extAck) {}

  private static final java.util.Set<String> DUMPS = java.util.Set.of("neighbours", "fdb", "routes");
  private static final java.util.Set<String> WRITES = java.util.Set.of("replaceNeighbour", "deleteNeighbour",
      "replaceFdb", "appendFdb", "deleteFdb", "replaceRoute", "deleteRoute");

  private final Object lock = new Object();
  private int batchesExecuted;
  private final TreeMap<Integer, LinkState> links = new TreeMap<>();
  private final List<Address> addresses = new ArrayList<>();
  private final LinkedHashMap<RouteKey, Route> routes = new LinkedHashMap<>();
  private final LinkedHashMap<NeighKey, Neighbour> neighbours = new LinkedHashMap<>();
  private final LinkedHashMap<FdbKey, List<InetAddress>> fdb = new LinkedHashMap<>();
  private final List<Call> calls = new ArrayList<>();
  private final List<Injected> injected = new ArrayList<>();
  private final CopyOnWriteArrayList<Consumer<NetlinkEvent>> listeners = new CopyOnWriteArrayList<>();
  private final ThreadLocal<List<NetlinkEvent>> pending = ThreadLocal.withInitial(ArrayList::new);
  private final Random random = new Random(42);
  private int nextIndex = 1;
  private boolean closed;

  /** A fresh namespace holding only {@code lo} (index 1, down), like {@code ip netns add}. */
  public FakeRtNetlink() {
    int idx = nextIndex++;
    links.put(idx, new LinkState(idx, "lo", "", 65536, "00:00:00:00:00:00", IFF_LOOPBACK, null));
  }

  // ------------------------------------------------------------------ test hooks

  /**
   * Seeds a plain, up device (as a veth/ethernet underlay would be) with one address and its
   * connected route; emits the same events the kernel would. {@code address} may be null.
   */
  public Link addLink(String name, int mtu, Inet4Address address, int prefixLength) {
    Link l;
    synchronized (lock) {
      if (findByName(name) != null) {
        throw new IllegalStateException("link " + name + " already exists");
      }
      LinkState s = newLink(name, "", mtu == 0 ? 1500 : mtu, randomMac(), null);
      s.flags |= IFF_UP | IFF_RUNNING | IFF_LOWER_UP;
      l = s.snapshot();
      event(new NetlinkEvent.LinkChanged(l, false));
      if (address != null) {
        Address a = new Address(s.index, address, prefixLength);
        addresses.add(a);
        event(new NetlinkEvent.AddressChanged(a, false));
        addConnectedRoute(a);
      }
    }
    flush();
    return l;
  }

  /** {@code eth0}, MTU 1500, up, with {@code address/24}. */
  public Link addLink(String name, Inet4Address address) {
    return addLink(name, 1500, address, 24);
  }

  /**
   * Makes the next operation named {@code op} (an RtNetlink method name such as "replaceRoute",
   * or "*" for any) fail once with {@code errno}, without changing state.
   */
  public void failNext(String op, int errno) {
    synchronized (lock) {
      injected.add(new Injected(op, errno, "injected by FakeRtNetlink"));
    }
  }

  /** Delivers {@code event} to every monitor listener (e.g. an {@link NetlinkEvent.Overrun}). */
  public void emit(NetlinkEvent event) {
    for (Consumer<NetlinkEvent> l : listeners) {
      l.accept(event);
    }
  }

  /**
   * Subscribes {@code listener} to every change (the fake's NetlinkMonitor). Events arrive on the
   * thread that made the change, after the change is visible, outside the fake's lock.
   */
  public NetlinkMonitor monitor(Consumer<NetlinkEvent> listener) {
    Objects.requireNonNull(listener, "listener");
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /** Every RtNetlink operation so far, in order (batched requests appear individually). */
  public List<Call> calls() {
    synchronized (lock) {
      return List.copyOf(calls);
    }
  }

  /** Forgets the recorded calls and zeroes the counters. */
  public void clearCalls() {
    synchronized (lock) {
      calls.clear();
      batchesExecuted = 0;
    }
  }

  /** Table dumps so far ({@link #neighbours}, {@link #fdb}, {@link #routes} calls). */
  public int dumps() {
    synchronized (lock) {
      return (int) calls.stream().filter(c -> DUMPS.contains(c.op())).count();
    }
  }

  /** Batches executed so far (empty ones included). */
  public int batches() {
    synchronized (lock) {
      return batchesExecuted;
    }
  }

  /** Write operations so far (batched requests counted one by one), by name in call order. */
  public List<String> writes() {
    synchronized (lock) {
      return calls.stream().map(Call::op).filter(WRITES::contains).toList();
    }
  }

  public boolean closed() {
    synchronized (lock) {
      return closed;
    }
  }

  // ------------------------------------------------------------------ links

  @Override
  public Optional<Link> linkByName(String name) throws NetlinkException {
    return run("linkByName", name, () -> Optional.ofNullable(findByName(name)).map(LinkState::snapshot));
  }

  @Override
  public Optional<Link> linkByIndex(int index) throws NetlinkException {
    return run("linkByIndex", index, () -> Optional.ofNullable(links.get(index)).map(LinkState::snapshot));
  }

  @Override
  public List<Link> links() throws NetlinkException {
    return run("links", null, () -> links.values().stream().map(LinkState::snapshot).toList());
  }

  @Override
  public Link createVxlan(VxlanSpec spec) throws NetlinkException {
    Objects.requireNonNull(spec, "spec");
    String op = "ip link add " + spec.name() + " type vxlan";
    return run("createVxlan", spec, () -> {
      checkNewName(op, spec.name());
      int maxMtu = 65535;
      int mtu = 1500;
      if (spec.underlay() != 0) {
        LinkState under = links.get(spec.underlay());
        if (under == null) {
          throw error(op, Errno.ENODEV, "Invalid local interface, underlay device not found");
        }
        maxMtu = under.mtu - VXLAN_HEADROOM;
        mtu = maxMtu;
      }
      if (spec.mtu() != 0) {
        if (spec.mtu() < 68 || spec.mtu() > maxMtu) {
          throw error(op, Errno.EINVAL, "");
        }
        mtu = spec.mtu();
      }
      String mac = spec.mac() == null || spec.mac().isEmpty() ? randomMac() : MacAddress.normalise(spec.mac());
      for (LinkState s : links.values()) {
        // the kernel's vxlan_vni_in_use: same VNI, port and flags, IPv6 (a local6) being one of them
        if (s.vxlan != null && s.vxlan.vni() == spec.vni() && portOf(spec) == s.vxlan.port()
            && s.vxlan.gbp() == spec.gbp() && ipv6(s.vxlan.local()) == ipv6(spec.local())) {
          throw error(op, Errno.EEXIST, "A VXLAN device with the specified VNI already exists");
        }
      }
      VxlanInfo info = new VxlanInfo(spec.vni(), spec.local(), spec.underlay(), portOf(spec),
          spec.learning(), spec.gbp(), spec.udpCsum() == null || spec.udpCsum());
      LinkState s = newLink(spec.name(), "vxlan", mtu, mac, info);
      Link l = s.snapshot();
      event(new NetlinkEvent.LinkChanged(l, false));
      return l;
    });
  }

  @Override
  public Link createBridge(String name, int mtu) throws NetlinkException {
    String op = "ip link add " + name + " type bridge";
    return run("createBridge", name, () -> {
      checkNewName(op, name);
      if (mtu != 0 && (mtu < 68 || mtu > 65535)) {
        throw error(op, Errno.EINVAL, "");
      }
      LinkState s = newLink(name, "bridge", mtu == 0 ? 1500 : mtu, randomMac(), null);
      Link l = s.snapshot();
      event(new NetlinkEvent.LinkChanged(l, false));
      return l;
    });
  }

  @Override
  public void createVethPair(String name, String peerName, int peerNetnsFd) throws NetlinkException {
    String op = "ip link add " + name + " type veth peer name " + peerName;
    run("createVethPair", name + " " + peerName + " " + peerNetnsFd, () -> {
      checkNewName(op, name);
      if (peerNetnsFd < 0) {
        checkNewName(op, peerName);
        if (peerName.equals(name)) {
          throw error(op, Errno.EEXIST, "");
        }
      }
      LinkState a = newLink(name, "veth", 1500, randomMac(), null);
      event(new NetlinkEvent.LinkChanged(a.snapshot(), false));
      if (peerNetnsFd < 0) {
        LinkState b = newLink(peerName, "veth", 1500, randomMac(), null);
        a.peer = b.index;
        b.peer = a.index;
        event(new NetlinkEvent.LinkChanged(b.snapshot(), false));
      }
      return null;
    });
  }

  @Override
  public void setUp(int index, boolean up) throws NetlinkException {
    String op = "ip link set dev " + index + (up ? " up" : " down");
    run("setUp", index + " " + up, () -> {
      LinkState s = link(op, index);
      if (s.up() == up) {
        return null;
      }
      if (up) {
        s.flags |= IFF_UP | IFF_RUNNING | IFF_LOWER_UP;
        event(new NetlinkEvent.LinkChanged(s.snapshot(), false));
        for (Address a : List.copyOf(addresses)) {
          if (a.link() == index) {
            addConnectedRoute(a);
          }
        }
      } else {
        s.flags &= ~(IFF_UP | IFF_RUNNING | IFF_LOWER_UP);
        event(new NetlinkEvent.LinkChanged(s.snapshot(), false));
        flushRoutesAndNeighbours(index);
      }
      return null;
    });
  }

  @Override
  public void setMtu(int index, int mtu) throws NetlinkException {
    String op = "ip link set dev " + index + " mtu " + mtu;
    run("setMtu", index + " " + mtu, () -> {
      LinkState s = link(op, index);
      int max = 65535;
      if (s.vxlan != null && s.vxlan.underlay() != 0 && links.containsKey(s.vxlan.underlay())) {
        max = links.get(s.vxlan.underlay()).mtu - VXLAN_HEADROOM;
      }
      if (mtu < 68) {
        throw error(op, Errno.EINVAL, "mtu less than device minimum");
      }
      if (mtu > max) {
        throw error(op, Errno.EINVAL, "");
      }
      if (s.mtu != mtu) {
        s.mtu = mtu;
        event(new NetlinkEvent.LinkChanged(s.snapshot(), false));
      }
      return null;
    });
  }

  @Override
  public void setMac(int index, String mac) throws NetlinkException {
    String op = "ip link set dev " + index + " address " + mac;
    String normal = MacAddress.normalise(mac);
    run("setMac", index + " " + mac, () -> {
      LinkState s = link(op, index);
      if (!MacAddress.isUnicast(normal)) {
        throw error(op, Errno.EADDRNOTAVAIL, "");
      }
      if (!s.mac.equals(normal)) {
        s.mac = normal;
        event(new NetlinkEvent.LinkChanged(s.snapshot(), false));
      }
      return null;
    });
  }

  @Override
  public void setMaster(int index, int master) throws NetlinkException {
    String op = "ip link set dev " + index + (master == 0 ? " nomaster" : " master " + master);
    run("setMaster", index + " " + master, () -> {
      LinkState s = link(op, index);
      if (master != 0) {
        LinkState m = links.get(master);
        if (m == null) {
          throw error(op, Errno.EINVAL, "");
        }
        if (!"bridge".equals(m.kind)) {
          throw error(op, Errno.EOPNOTSUPP, "");
        }
        if (master == index) {
          throw error(op, Errno.ELOOP, "");
        }
      }
      if (s.master != master) {
        s.master = master;
        event(new NetlinkEvent.LinkChanged(s.snapshot(), false));
      }
      return null;
    });
  }

  @Override
  public void deleteLink(int index) throws NetlinkException {
    String op = "ip link del dev " + index;
    run("deleteLink", index, () -> {
      LinkState s = link(op, index);
      if (index == 1 && "lo".equals(s.name)) {
        throw error(op, Errno.EOPNOTSUPP, "");
      }
      removeLink(s);
      return null;
    });
  }

  // ------------------------------------------------------------------ addresses

  @Override
  public void addAddress(Address a) throws NetlinkException {
    String op = "ip addr add " + describe(a);
    run("addAddress", a, () -> {
      link(op, a.link());
      checkPrefix(op, a);
      if (findAddress(a) != null) {
        throw error(op, Errno.EEXIST, "");
      }
      insertAddress(a);
      return null;
    });
  }

  @Override
  public void replaceAddress(Address a) throws NetlinkException {
    String op = "ip addr replace " + describe(a);
    run("replaceAddress", a, () -> {
      link(op, a.link());
      checkPrefix(op, a);
      if (findAddress(a) == null) {
        insertAddress(a);
      }
      return null;
    });
  }

  @Override
  public void deleteAddress(Address a) throws NetlinkException {
    String op = "ip addr del " + describe(a);
    run("deleteAddress", a, () -> {
      link(op, a.link());
      Address found = findAddress(a);
      if (found == null) {
        throw error(op, Errno.EADDRNOTAVAIL, "ipv4: Address not found");
      }
      addresses.remove(found);
      event(new NetlinkEvent.AddressChanged(found, true));
      IpSubnet net = IpSubnet.of(a.address(), a.prefixLength());
      Route connected = routes.get(new RouteKey(Route.TABLE_MAIN, net));
      if (connected != null && connected.protocol() == PROTO_KERNEL && connected.link() == a.link()) {
        routes.remove(new RouteKey(Route.TABLE_MAIN, net));
        event(new NetlinkEvent.RouteChanged(connected, true));
      }
      return null;
    });
  }

  @Override
  public List<Address> addresses(int link) throws NetlinkException {
    return run("addresses", link,
        () -> addresses.stream().filter(a -> !a.ipv6() && (link == 0 || a.link() == link)).toList());
  }

  @Override
  public List<Address> addresses6(int link) throws NetlinkException {
    return run("addresses6", link,
        () -> addresses.stream().filter(a -> a.ipv6() && (link == 0 || a.link() == link)).toList());
  }

  // ------------------------------------------------------------------ routes

  @Override
  public void replaceRoute(Route r) throws NetlinkException {
    String op = "ip route replace " + describe(r);
    run("replaceRoute", r, () -> {
      if (r.link() == 0 && r.gateway() == null) {
        throw error(op, Errno.EINVAL, "Device or gateway required");
      }
      if (r.link() != 0) {
        LinkState s = link(op, r.link());
        if (!s.up()) {
          throw error(op, Errno.ENETDOWN, "Nexthop device is not up");
        }
      }
      if (r.gateway() != null && !r.onlink() && !gatewayReachable(r)) {
        throw error(op, Errno.ENETUNREACH, "Nexthop has invalid gateway");
      }
      if (r.onlink() && r.link() == 0) {
        throw error(op, Errno.ENODEV, "Nexthop device required for onlink");
      }
      RouteKey key = new RouteKey(r.table(), r.dst());
      Route old = routes.put(key, r);
      if (!r.equals(old)) {
        event(new NetlinkEvent.RouteChanged(r, false));
      }
      return null;
    });
  }

  @Override
  public void deleteRoute(Route r) throws NetlinkException {
    String op = "ip route del " + describe(r);
    run("deleteRoute", r, () -> {
      RouteKey key = new RouteKey(r.table(), r.dst());
      Route old = routes.get(key);
      if (old == null
          || (r.protocol() != 0 && r.protocol() != old.protocol())
          || (r.gateway() != null && !r.gateway().equals(old.gateway()))
          || (r.link() != 0 && r.link() != old.link())) {
        throw error(op, Errno.ESRCH, "");
      }
      routes.remove(key);
      event(new NetlinkEvent.RouteChanged(old, true));
      return null;
    });
  }

  @Override
  public List<Route> routes(int table, int protocol) throws NetlinkException {
    return run("routes", table + " " + protocol, () -> routes.values().stream()
        .filter(r -> !r.ipv6())
        .filter(r -> table == 0 || r.table() == table)
        .filter(r -> protocol == 0 || r.protocol() == protocol)
        .toList());
  }

  @Override
  public List<Route> routes6(int table, int protocol) throws NetlinkException {
    return run("routes6", table + " " + protocol, () -> routes.values().stream()
        .filter(Route::ipv6)
        .filter(r -> table == 0 || r.table() == table)
        .filter(r -> protocol == 0 || r.protocol() == protocol)
        .toList());
  }

  /** Longest-prefix match over the main table (no policy routing); empty when nothing matches. */
  @Override
  public Optional<Route> routeTo(java.net.Inet4Address ip) throws NetlinkException {
    return run("routeTo", ip, () -> {
      if (addresses.stream().anyMatch(a -> a.address().equals(ip))) {
        return Optional.<Route>empty(); // local
      }
      Route best = null;
      for (Route r : routes.values()) {
        if (r.table() == Route.TABLE_MAIN && r.dst().containsAddress(ip)
            && (best == null || r.dst().prefixLength() > best.dst().prefixLength())) {
          best = r;
        }
      }
      return best == null ? Optional.<Route>empty()
          : Optional.of(new Route(dev.tartan.net.Ipv4Subnet.of(ip, 32), best.gateway(), best.link(), best.onlink(),
              Route.TABLE_MAIN, best.protocol()));
    });
  }

  // ------------------------------------------------------------------ neighbours

  @Override
  public void replaceNeighbour(Neighbour n) throws NetlinkException {
    String op = "ip neigh replace " + n.ip().getHostAddress() + " lladdr " + n.mac() + " dev " + n.link();
    Neighbour normal = n.mac().isEmpty() ? n : new Neighbour(n.link(), n.ip(), MacAddress.normalise(n.mac()), n.state());
    run("replaceNeighbour", n, () -> {
      link(op, n.link());
      Neighbour old = neighbours.put(new NeighKey(n.link(), n.ip()), normal);
      if (!normal.equals(old)) {
        event(new NetlinkEvent.NeighbourChanged(normal, false));
      }
      return null;
    });
  }

  @Override
  public void deleteNeighbour(Neighbour n) throws NetlinkException {
    String op = "ip neigh del " + n.ip().getHostAddress() + " dev " + n.link();
    run("deleteNeighbour", n, () -> {
      link(op, n.link());
      Neighbour old = neighbours.remove(new NeighKey(n.link(), n.ip()));
      if (old == null) {
        throw error(op, Errno.ENOENT, "");
      }
      event(new NetlinkEvent.NeighbourChanged(old, true));
      return null;
    });
  }

  @Override
  public List<Neighbour> neighbours(int link) throws NetlinkException {
    return run("neighbours", link,
        () -> neighbours.values().stream().filter(n -> !n.ipv6() && (link == 0 || n.link() == link)).toList());
  }

  @Override
  public List<Neighbour> neighbours6(int link) throws NetlinkException {
    return run("neighbours6", link,
        () -> neighbours.values().stream().filter(n -> n.ipv6() && (link == 0 || n.link() == link)).toList());
  }

  // ------------------------------------------------------------------ fdb

  @Override
  public void replaceFdb(FdbEntry e) throws NetlinkException {
    String op = "bridge fdb replace " + describe(e);
    String mac = MacAddress.normalise(e.mac());
    run("replaceFdb", e, () -> {
      checkFdbLink(op, e.link());
      FdbKey key = new FdbKey(e.link(), mac);
      List<InetAddress> remotes = fdb.get(key);
      if (remotes == null) {
        remotes = new ArrayList<>();
        remotes.add(e.dst());
        fdb.put(key, remotes);
        event(new NetlinkEvent.FdbChanged(new FdbEntry(e.link(), mac, e.dst()), false));
        return null;
      }
      if (!MacAddress.isUnicast(mac)) {
        throw error(op, Errno.EOPNOTSUPP, "Cannot replace non-unicast fdb entries");
      }
      if (!remotes.contains(e.dst())) {
        remotes.set(0, e.dst());
        event(new NetlinkEvent.FdbChanged(new FdbEntry(e.link(), mac, e.dst()), false));
      }
      return null;
    });
  }

  @Override
  public void appendFdb(FdbEntry e) throws NetlinkException {
    String op = "bridge fdb append " + describe(e);
    String mac = MacAddress.normalise(e.mac());
    run("appendFdb", e, () -> {
      checkFdbLink(op, e.link());
      FdbKey key = new FdbKey(e.link(), mac);
      List<InetAddress> remotes = fdb.get(key);
      if (remotes == null) {
        remotes = new ArrayList<>();
        remotes.add(e.dst());
        fdb.put(key, remotes);
        event(new NetlinkEvent.FdbChanged(new FdbEntry(e.link(), mac, e.dst()), false));
      } else if (!MacAddress.isUnicast(mac) && !remotes.contains(e.dst())) {
        remotes.add(e.dst());
        event(new NetlinkEvent.FdbChanged(new FdbEntry(e.link(), mac, e.dst()), false));
      }
      return null;
    });
  }

  @Override
  public void deleteFdb(FdbEntry e) throws NetlinkException {
    String op = "bridge fdb del " + describe(e);
    String mac = MacAddress.normalise(e.mac());
    run("deleteFdb", e, () -> {
      link(op, e.link());
      FdbKey key = new FdbKey(e.link(), mac);
      List<InetAddress> remotes = fdb.get(key);
      if (remotes == null) {
        throw error(op, Errno.ENOENT, "");
      }
      if (e.dst() != null && !remotes.contains(e.dst())) {
        return null; // the kernel answers 0 when the MAC exists but not this remote
      }
      if (e.dst() == null || remotes.size() == 1) {
        fdb.remove(key);
        for (InetAddress d : remotes) {
          event(new NetlinkEvent.FdbChanged(new FdbEntry(e.link(), mac, d), true));
        }
      } else {
        remotes.remove(e.dst());
        event(new NetlinkEvent.FdbChanged(new FdbEntry(e.link(), mac, e.dst()), true));
      }
      return null;
    });
  }

  @Override
  public List<FdbEntry> fdb(int link) throws NetlinkException {
    return run("fdb", link, () -> {
      List<FdbEntry> out = new ArrayList<>();
      for (Map.Entry<FdbKey, List<InetAddress>> en : fdb.entrySet()) {
        if (link == 0 || en.getKey().link() == link) {
          for (InetAddress d : en.getValue()) {
            out.add(new FdbEntry(en.getKey().link(), en.getKey().mac(), d));
          }
        }
      }
      return out;
    });
  }

  // ------------------------------------------------------------------ batch, close

  @Override
  public Batch batch() {
    return new FakeBatch();
  }

  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
    }
  }

  private interface Op {
    void apply() throws NetlinkException;
  }

  private final class FakeBatch implements Batch {
    private final List<Object> requests = new ArrayList<>();
    private final List<Op> ops = new ArrayList<>();

    private Batch add(Object request, Op op) {
      requests.add(Objects.requireNonNull(request, "request"));
      ops.add(op);
      return this;
    }

    @Override
    public Batch replaceNeighbour(Neighbour n) {
      return add(n, () -> FakeRtNetlink.this.replaceNeighbour(n));
    }

    @Override
    public Batch deleteNeighbour(Neighbour n) {
      return add(n, () -> FakeRtNetlink.this.deleteNeighbour(n));
    }

    @Override
    public Batch replaceFdb(FdbEntry e) {
      return add(e, () -> FakeRtNetlink.this.replaceFdb(e));
    }

    @Override
    public Batch deleteFdb(FdbEntry e) {
      return add(e, () -> FakeRtNetlink.this.deleteFdb(e));
    }

    @Override
    public Batch replaceRoute(Route r) {
      return add(r, () -> FakeRtNetlink.this.replaceRoute(r));
    }

    @Override
    public Batch deleteRoute(Route r) {
      return add(r, () -> FakeRtNetlink.this.deleteRoute(r));
    }

    @Override
    public int size() {
      return ops.size();
    }

    @Override
    public List<Failure> execute() throws NetlinkException {
      synchronized (lock) {
        batchesExecuted++;
      }
      List<Failure> failures = new ArrayList<>();
      for (int i = 0; i < ops.size(); i++) {
        try {
          ops.get(i).apply();
        } catch (NetlinkException e) {
          failures.add(new Failure(requests.get(i), e));
        }
      }
      requests.clear();
      ops.clear();
      return failures;
    }
  }

  // ------------------------------------------------------------------ internals

  private interface Body<T> {
    T run() throws NetlinkException;
  }

  private <T> T run(String method, Object arg, Body<T> body) throws NetlinkException {
    T result;
    try {
      synchronized (lock) {
        if (closed) {
          throw new NetlinkException(method, Errno.EBADF, Errno.name(Errno.EBADF), "socket closed");
        }
        calls.add(new Call(method, arg));
        for (Iterator<Injected> it = injected.iterator(); it.hasNext(); ) {
          Injected inj = it.next();
          if (inj.op().equals(method) || inj.op().equals("*")) {
            it.remove();
            throw new NetlinkException(method, inj.errno(), Errno.name(inj.errno()), inj.extAck());
          }
        }
        result = body.run();
      }
    } catch (NetlinkException | RuntimeException e) {
      pending.get().clear();
      throw e;
    }
    flush();
    return result;
  }

  private void event(NetlinkEvent e) {
    pending.get().add(e);
  }

  private void flush() {
    List<NetlinkEvent> p = pending.get();
    if (p.isEmpty()) {
      return;
    }
    List<NetlinkEvent> out = List.copyOf(p);
    p.clear();
    for (NetlinkEvent e : out) {
      emit(e);
    }
  }

  private static NetlinkException error(String op, int errno, String extAck) {
    return new NetlinkException(op, errno, Errno.name(errno), extAck);
  }

  private LinkState link(String op, int index) throws NetlinkException {
    LinkState s = links.get(index);
    if (s == null) {
      throw error(op, Errno.ENODEV, "");
    }
    return s;
  }

  private void checkFdbLink(String op, int index) throws NetlinkException {
    LinkState s = link(op, index);
    if (s.vxlan == null) {
      throw error(op, Errno.EOPNOTSUPP, "FakeRtNetlink models FDB entries on vxlan devices only");
    }
  }

  private LinkState findByName(String name) {
    for (LinkState s : links.values()) {
      if (s.name.equals(name)) {
        return s;
      }
    }
    return null;
  }

  private void checkNewName(String op, String name) throws NetlinkException {
    if (name.isEmpty() || name.length() > 15 || name.contains("/") || name.contains(" ")) {
      throw error(op, Errno.EINVAL, "Attribute failed policy validation");
    }
    if (findByName(name) != null) {
      throw error(op, Errno.EEXIST, "");
    }
  }

  private LinkState newLink(String name, String kind, int mtu, String mac, VxlanInfo vxlan) {
    int idx = nextIndex++;
    LinkState s = new LinkState(idx, name, kind, mtu, mac, IFF_BROADCAST | IFF_MULTICAST, vxlan);
    links.put(idx, s);
    return s;
  }

  private void removeLink(LinkState s) {
    if (!links.containsKey(s.index)) {
      return;
    }
    links.remove(s.index);
    flushRoutesAndNeighbours(s.index);
    for (Iterator<Address> it = addresses.iterator(); it.hasNext(); ) {
      Address a = it.next();
      if (a.link() == s.index) {
        it.remove();
        event(new NetlinkEvent.AddressChanged(a, true));
      }
    }
    for (Iterator<Map.Entry<FdbKey, List<InetAddress>>> it = fdb.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<FdbKey, List<InetAddress>> en = it.next();
      if (en.getKey().link() == s.index) {
        it.remove();
        for (InetAddress d : en.getValue()) {
          event(new NetlinkEvent.FdbChanged(new FdbEntry(s.index, en.getKey().mac(), d), true));
        }
      }
    }
    Link gone = s.snapshot();
    event(new NetlinkEvent.LinkChanged(gone, true));
    for (LinkState other : List.copyOf(links.values())) {
      if (other.master == s.index) {
        other.master = 0;
        event(new NetlinkEvent.LinkChanged(other.snapshot(), false));
      }
    }
    if (s.peer != 0 && links.containsKey(s.peer)) {
      removeLink(links.get(s.peer));
    }
    for (LinkState other : List.copyOf(links.values())) {
      if (other.vxlan != null && other.vxlan.underlay() == s.index) {
        removeLink(other);
      }
    }
  }

  /** Link down or gone: the kernel drops its routes silently and flushes its neighbours. */
  private void flushRoutesAndNeighbours(int index) {
    routes.values().removeIf(r -> r.link() == index);
    for (Iterator<Neighbour> it = neighbours.values().iterator(); it.hasNext(); ) {
      Neighbour n = it.next();
      if (n.link() == index) {
        it.remove();
        event(new NetlinkEvent.NeighbourChanged(n, true));
      }
    }
  }

  private Address findAddress(Address a) {
    for (Address x : addresses) {
      if (x.link() == a.link() && x.address().equals(a.address()) && x.prefixLength() == a.prefixLength()) {
        return x;
      }
    }
    return null;
  }

  private void insertAddress(Address a) {
    addresses.add(a);
    event(new NetlinkEvent.AddressChanged(a, false));
    addConnectedRoute(a);
  }

  private void addConnectedRoute(Address a) {
    LinkState s = links.get(a.link());
    if (s == null || !s.up() || a.prefixLength() == (a.ipv6() ? 128 : 32)) {
      return;
    }
    IpSubnet net = IpSubnet.of(a.address(), a.prefixLength());
    RouteKey key = new RouteKey(Route.TABLE_MAIN, net);
    if (!routes.containsKey(key)) {
      Route r = new Route(net, null, a.link(), false, Route.TABLE_MAIN, PROTO_KERNEL);
      routes.put(key, r);
      event(new NetlinkEvent.RouteChanged(r, false));
    }
  }

  private boolean gatewayReachable(Route r) {
    for (Address a : addresses) {
      if ((r.link() == 0 || a.link() == r.link())
          && a.ipv6() == r.ipv6()
          && IpSubnet.of(a.address(), a.prefixLength()).equals(IpSubnet.of(r.gateway(), a.prefixLength()))
          && links.containsKey(a.link()) && links.get(a.link()).up()) {
        return true;
      }
    }
    return false;
  }

  private static void checkPrefix(String op, Address a) throws NetlinkException {
    if (a.prefixLength() < 0 || a.prefixLength() > (a.ipv6() ? 128 : 32)) {
      throw error(op, Errno.EINVAL, "Invalid prefix length");
    }
  }

  private static boolean ipv6(InetAddress local) {
    return local != null && local.getAddress().length == 16;
  }

  private static int portOf(VxlanSpec spec) {
    return spec.port() == 0 ? DEFAULT_VXLAN_PORT : spec.port();
  }

  private String randomMac() {
    byte[] b = new byte[6];
    random.nextBytes(b);
    b[0] = (byte) ((b[0] & 0xfe) | 0x02);
    return MacAddress.format(b);
  }

  private static String describe(Address a) {
    return a.address().getHostAddress() + "/" + a.prefixLength() + " dev " + a.link();
  }

  private static String describe(Route r) {
    return r.dst() + (r.gateway() == null ? "" : " via " + r.gateway().getHostAddress())
        + (r.link() == 0 ? "" : " dev " + r.link()) + (r.onlink() ? " onlink" : "")
        + " table " + r.table() + " proto " + r.protocol();
  }

  private static String describe(FdbEntry e) {
    return e.mac() + " dev " + e.link() + (e.dst() == null ? "" : " dst " + e.dst().getHostAddress()) + " self";
  }
}
