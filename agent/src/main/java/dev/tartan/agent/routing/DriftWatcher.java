package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.NetlinkEvent;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns kernel notifications into repairs: when something of ours disappears or is changed by
 * someone else, it calls {@code repair} (normally {@link ReconcileLoop#trigger()}). "Ours" is the
 * last desired state the {@link Reconciler} applied: a route, permanent neighbour or FDB entry of
 * it deleted or rewritten; the overlay device or the bridge deleted or set down (then {@code
 * linkLost} is told too, so the device is recreated and every peer re-added); and a monitor
 * overrun (events were lost). Deletions Tartan makes itself are of entries that are no longer
 * desired, so they do not trigger anything.
 *
 * <p>Feed it from a {@code NetlinkMonitor} (it is a {@code Consumer<NetlinkEvent>}); it never
 * blocks and never touches netlink itself.
 */
public final class DriftWatcher implements Consumer<NetlinkEvent> {
  private static final Logger log = LoggerFactory.getLogger(DriftWatcher.class);

  /** What drifted. */
  public enum Kind { ROUTE, NEIGHBOUR, FDB, DEVICE, BRIDGE, OVERRUN }

  private final Supplier<DesiredState> applied;
  private final String deviceName;
  private final String bridgeName;
  private final Runnable repair;
  private final Consumer<String> linkLost;
  private final Map<Kind, AtomicLong> counts = new EnumMap<>(Kind.class);
  private volatile DesiredState loggedFor;
  private volatile Index index;
  private final Map<Integer, Boolean> linkUp = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * @param applied    the state last applied ({@link Reconciler#lastApplied()}); may give null
   * @param deviceName the overlay device ({@code flannel.1})
   * @param bridgeName the bridge ({@code cni0}), or null when not watched
   * @param repair     asks for a reconcile; must not block
   * @param linkLost   told the name of a watched link that was deleted or set down; must not block
   */
  public DriftWatcher(Supplier<DesiredState> applied, String deviceName, String bridgeName,
      Runnable repair, Consumer<String> linkLost) {
    this.applied = Objects.requireNonNull(applied, "applied");
    this.deviceName = Objects.requireNonNull(deviceName, "deviceName");
    this.bridgeName = bridgeName;
    this.repair = Objects.requireNonNull(repair, "repair");
    this.linkLost = Objects.requireNonNull(linkLost, "linkLost");
    for (Kind k : Kind.values()) {
      counts.put(k, new AtomicLong());
    }
  }

  @Override
  public void accept(NetlinkEvent event) {
    Kind kind = classify(event);
    if (kind == null) {
      return;
    }
    counts.get(kind).incrementAndGet();
    // one INFO line per burst: further events before the next pass are logged at DEBUG
    DesiredState current = applied.get();
    boolean first = current == null || current != loggedFor;
    loggedFor = current;
    if (kind == Kind.DEVICE || kind == Kind.BRIDGE) {
      NetlinkEvent.LinkChanged lc = (NetlinkEvent.LinkChanged) event;
      log.info("{} {} by someone else; recreating it", lc.link().name(),
          lc.deleted() ? "was deleted" : "was set down");
      linkLost.accept(lc.link().name());
    } else if (kind == Kind.OVERRUN) {
      log.info("netlink monitor overran (events lost); resyncing");
    } else if (first) {
      log.info("{} changed by someone else; repairing", describe(event));
    } else {
      log.debug("{} changed by someone else; repairing", describe(event));
    }
    repair.run();
  }

  /** The kind of drift the event shows, or null when it is not drift of ours. */
  Kind classify(NetlinkEvent event) {
    if (event instanceof NetlinkEvent.Overrun) {
      return Kind.OVERRUN;
    }
    if (event instanceof NetlinkEvent.LinkChanged lc) {
      Link l = lc.link();
      Kind kind = deviceName.equals(l.name()) ? Kind.DEVICE
          : bridgeName != null && bridgeName.equals(l.name()) ? Kind.BRIDGE : null;
      if (kind == null) {
        return null;
      }
      // deleted, or going from up to down; a link created down (as ours are) is not drift. When
      // the earlier state was not seen, the device in use counts as having been up.
      Boolean wasUp = lc.deleted() ? linkUp.remove(l.index()) : linkUp.put(l.index(), l.up());
      if (lc.deleted()) {
        return kind;
      }
      if (l.up()) {
        return null;
      }
      DesiredState want = applied.get();
      boolean inUse = kind == Kind.DEVICE && want != null && want.link() == l.index();
      return Boolean.TRUE.equals(wasUp) || (wasUp == null && inUse) ? kind : null;
    }
    DesiredState want = applied.get();
    if (want == null) {
      return null;
    }
    Index idx = index;
    if (idx == null || idx.state != want) {
      idx = new Index(want);
      index = idx;
    }
    if (event instanceof NetlinkEvent.RouteChanged rc) {
      Route r = rc.route();
      if (r.table() != Route.TABLE_MAIN) {
        return null;
      }
      Route mine = idx.routes.get(r.dst());
      if (mine == null) {
        return null;
      }
      if (rc.deleted()) {
        return r.link() == mine.link() ? Kind.ROUTE : null;
      }
      // a route for one of our subnets written by someone else replaces ours
      return r.protocol() != Route.PROTO_TARTAN || r.link() != mine.link()
          || !Objects.equals(r.gateway(), mine.gateway()) ? Kind.ROUTE : null;
    }
    if (event instanceof NetlinkEvent.NeighbourChanged nc) {
      Neighbour n = nc.neighbour();
      Neighbour mine = n.link() == want.link() ? idx.neighbours.get(n.ip()) : null;
      if (mine == null) {
        return null;
      }
      if (nc.deleted()) {
        return Kind.NEIGHBOUR;
      }
      return mine.mac().equals(n.mac()) && (n.state() & Neighbour.NUD_PERMANENT) != 0
          ? null : Kind.NEIGHBOUR;
    }
    if (event instanceof NetlinkEvent.FdbChanged fc) {
      FdbEntry e = fc.entry();
      FdbEntry mine = e.link() == want.link() ? idx.fdb.get(e.mac()) : null;
      if (mine == null) {
        return null;
      }
      boolean same = e.dst() == null || e.dst().equals(mine.dst());
      return fc.deleted() == same ? Kind.FDB : null;
    }
    return null;
  }

  /** The applied state by key, built once per state. */
  private static final class Index {
    final DesiredState state;
    final Map<Ipv4Subnet, Route> routes = new HashMap<>();
    final Map<Inet4Address, Neighbour> neighbours = new HashMap<>();
    final Map<String, FdbEntry> fdb = new HashMap<>();

    Index(DesiredState state) {
      this.state = state;
      for (Route r : state.routes()) {
        routes.put(r.dst(), r);
      }
      for (Neighbour n : state.neighbours()) {
        neighbours.put(n.ip(), n);
      }
      for (FdbEntry e : state.fdb()) {
        fdb.put(e.mac(), e);
      }
    }
  }

  /** Drift events seen of one kind since start. */
  public long count(Kind kind) {
    return counts.get(kind).get();
  }

  /** All counts (a copy), for metrics. */
  public Map<Kind, Long> counts() {
    Map<Kind, Long> out = new EnumMap<>(Kind.class);
    counts.forEach((k, v) -> out.put(k, v.get()));
    return out;
  }

  private static String describe(NetlinkEvent e) {
    if (e instanceof NetlinkEvent.RouteChanged rc) {
      return Reconciler.describe(rc.route());
    }
    if (e instanceof NetlinkEvent.NeighbourChanged nc) {
      return Reconciler.describe(nc.neighbour());
    }
    if (e instanceof NetlinkEvent.FdbChanged fc) {
      return Reconciler.describe(fc.entry());
    }
    return e.toString();
  }
}
