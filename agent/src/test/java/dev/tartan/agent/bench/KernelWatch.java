package dev.tartan.agent.bench;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.NetlinkEvent;
import dev.tartan.agent.netlink.rtnl.NetlinkMonitor;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.netlink.rtnl.RtNetlinkClient;
import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A host namespace's kernel as the agent programs it, seen through a netlink monitor (the agent's
 * own {@link RtNetlinkClient#monitor}, opened in the namespace before the action being timed): the
 * peer entries on the VXLAN device ({@code proto tartan} routes, permanent neighbours, FDB entries
 * with a dst) that are present now, each with the {@link System#nanoTime()} at which the
 * notification that added it was received.
 *
 * <p>After a monitor overrun (ENOBUFS: notifications lost) the entries are re-read with dumps and
 * stamped with the time of that dump, so a completion time is then an upper bound; {@link
 * #overruns()} says whether that happened.
 */
final class KernelWatch implements AutoCloseable {
  private final Path ns;
  private final String device;
  private final NetlinkMonitor monitor;
  private final Map<dev.tartan.net.IpSubnet, Long> routes = new HashMap<>();
  private final Map<java.net.InetAddress, Long> neighbours = new HashMap<>();
  private final Map<String, Long> fdb = new HashMap<>();
  private final Map<Object, Long> removed = new HashMap<>();
  private int deviceIndex;
  private int overruns;
  private boolean resyncNeeded;

  private KernelWatch(Path ns, String device) throws NetlinkException {
    this.ns = ns;
    this.device = device;
    this.monitor = RtNetlinkClient.monitor(ns, this::event);
  }

  /** Starts watching the namespace at {@code ns} for entries on {@code device} (e.g. flannel.1). */
  static KernelWatch start(Path ns, String device) throws NetlinkException {
    KernelWatch w = new KernelWatch(ns, device);
    w.resync(); // whatever is there already (a warm restart)
    return w;
  }

  private synchronized void event(NetlinkEvent e) {
    long now = System.nanoTime();
    if (e instanceof NetlinkEvent.LinkChanged) {
      Link l = ((NetlinkEvent.LinkChanged) e).link();
      if (l.name().equals(device)) {
        if (((NetlinkEvent.LinkChanged) e).deleted()) {
          deviceIndex = 0;
          routes.clear();
          neighbours.clear();
          fdb.clear();
        } else {
          deviceIndex = l.index();
        }
      }
    } else if (e instanceof NetlinkEvent.RouteChanged) {
      NetlinkEvent.RouteChanged c = (NetlinkEvent.RouteChanged) e;
      Route r = c.route();
      if (r.protocol() == Route.PROTO_TARTAN && r.table() == Route.TABLE_MAIN) {
        if (c.deleted()) {
          routes.remove(r.dst());
          removed.put(r.dst(), now);
        } else {
          routes.putIfAbsent(r.dst(), now);
        }
      }
    } else if (e instanceof NetlinkEvent.NeighbourChanged) {
      NetlinkEvent.NeighbourChanged c = (NetlinkEvent.NeighbourChanged) e;
      Neighbour n = c.neighbour();
      if (onDevice(n.link())) {
        if (c.deleted() || (n.state() & Neighbour.NUD_PERMANENT) == 0) {
          if (neighbours.remove(n.ip()) != null) {
            removed.put(n.ip(), now);
          }
        } else {
          neighbours.putIfAbsent(n.ip(), now);
        }
      }
    } else if (e instanceof NetlinkEvent.FdbChanged) {
      NetlinkEvent.FdbChanged c = (NetlinkEvent.FdbChanged) e;
      FdbEntry f = c.entry();
      if (onDevice(f.link()) && f.dst() != null) {
        if (c.deleted()) {
          fdb.remove(mac(f.mac()));
          removed.put(mac(f.mac()), now);
        } else {
          fdb.putIfAbsent(mac(f.mac()), now);
        }
      }
    } else if (e instanceof NetlinkEvent.Overrun) {
      overruns++;
      resyncNeeded = true;
    }
    notifyAll();
  }

  private boolean onDevice(int link) {
    return deviceIndex == 0 || link == deviceIndex;
  }

  private static String mac(String m) {
    return m.toLowerCase(Locale.ROOT);
  }

  /** Re-reads the device's entries with dumps; entries not yet known get the dump's time. */
  private void resync() throws NetlinkException {
    try (RtNetlinkClient nl = RtNetlinkClient.openInNamespace(ns)) {
      Optional<Link> dev = nl.linkByName(device);
      long now = System.nanoTime();
      synchronized (this) {
        resyncNeeded = false;
        if (dev.isEmpty()) {
          return;
        }
        deviceIndex = dev.get().index();
      }
      var rs = nl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN);
      var ns = nl.neighbours(dev.get().index());
      var fs = nl.fdb(dev.get().index());
      synchronized (this) {
        for (Route r : rs) {
          routes.putIfAbsent(r.dst(), now);
        }
        for (Neighbour n : ns) {
          if ((n.state() & Neighbour.NUD_PERMANENT) != 0) {
            neighbours.putIfAbsent(n.ip(), now);
          }
        }
        for (FdbEntry f : fs) {
          if (f.dst() != null) {
            fdb.putIfAbsent(mac(f.mac()), now);
          }
        }
      }
    }
  }

  /**
   * Waits until {@code done} holds (checked under this watch's lock after every notification), for
   * at most {@code timeoutMs}; re-reads the kernel after an overrun. Returns whether it held.
   */
  boolean await(BooleanSupplier done, long timeoutMs) throws InterruptedException, NetlinkException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (true) {
      boolean resync;
      synchronized (this) {
        while (!done.getAsBoolean() && !resyncNeeded) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return false;
          }
          TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        if (done.getAsBoolean()) {
          return true;
        }
        resync = resyncNeeded;
      }
      if (resync) {
        resync();
      }
    }
  }

  /** When the route, neighbour and FDB entry of a peer were all present (the last of the three), or -1. */
  synchronized long peerPresentAt(Ipv4Subnet subnet, String vtepMac) {
    Long r = routes.get(subnet);
    Long n = neighbours.get(subnet.networkAddress());
    Long f = fdb.get(mac(vtepMac));
    if (r == null || n == null || f == null) {
      return -1;
    }
    return Math.max(r, Math.max(n, f));
  }

  /** True when none of the peer's three entries is present. */
  synchronized boolean peerAbsent(Ipv4Subnet subnet, String vtepMac) {
    return !routes.containsKey(subnet) && !neighbours.containsKey(subnet.networkAddress())
        && !fdb.containsKey(mac(vtepMac));
  }

  /** When the last of the peer's three entries was removed (all three gone), or -1. */
  synchronized long peerRemovedAt(Ipv4Subnet subnet, String vtepMac) {
    if (!peerAbsent(subnet, vtepMac)) {
      return -1;
    }
    Long r = removed.get(subnet);
    Long n = removed.get(subnet.networkAddress());
    Long f = removed.get(mac(vtepMac));
    if (r == null || n == null || f == null) {
      return -1;
    }
    return Math.max(r, Math.max(n, f));
  }

  /** The time the last of all currently present entries appeared. */
  synchronized long lastAddedAt() {
    long last = -1;
    for (long t : routes.values()) {
      last = Math.max(last, t);
    }
    for (long t : neighbours.values()) {
      last = Math.max(last, t);
    }
    for (long t : fdb.values()) {
      last = Math.max(last, t);
    }
    return last;
  }

  synchronized int routes() {
    return routes.size();
  }

  synchronized int neighbours() {
    return neighbours.size();
  }

  synchronized int fdbEntries() {
    return fdb.size();
  }

  /** True when at least {@code n} of each kind are present. */
  synchronized boolean atLeast(int n) {
    return routes.size() >= n && neighbours.size() >= n && fdb.size() >= n;
  }

  synchronized int overruns() {
    return overruns;
  }

  @Override
  public void close() {
    monitor.close();
  }
}
