package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.NetlinkEvent;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.IpSubnet;
import java.net.InetAddress;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns kernel notifications into repairs of the entry they name: when a route, permanent
 * neighbour or FDB entry of ours (as {@link Programmed} says) is deleted or rewritten by someone
 * else, it asks for that one entry to be written again. The overlay device or the bridge deleted
 * or set down ({@code linkLost} is told too) and a monitor overrun (events were lost) ask for a
 * full pass ({@link Repair#entry()} null). Deletions Tartan makes itself are of entries that are
 * no longer programmed, so they ask for nothing.
 *
 * <p>Feed it from a {@code NetlinkMonitor} (it is a {@code Consumer<NetlinkEvent>}); it never
 * blocks and never touches netlink itself.
 */
public final class DriftWatcher implements Consumer<NetlinkEvent> {
  private static final Logger log = LoggerFactory.getLogger(DriftWatcher.class);

  /** What drifted. */
  public enum Kind { ROUTE, NEIGHBOUR, FDB, DEVICE, BRIDGE, OVERRUN }

  /** The entries programmed now, looked up by key; safe to call from the monitor's thread. */
  public interface Programmed {
    /** ifindex of the device the entries are on, or -1 before the first pass. */
    int link();

    Route route(IpSubnet dst);

    Neighbour neighbour(InetAddress ip);

    FdbEntry fdb(String mac);
  }

  /** A repair to make: write {@code entry} again, or a full pass when it is null. */
  public record Repair(Kind kind, Object entry) {
    public Repair {
      Objects.requireNonNull(kind, "kind");
    }
  }

  private final Programmed ours;
  private final String deviceName;
  private final String bridgeName;
  private final Consumer<Repair> repair;
  private final Consumer<String> linkLost;
  private final Map<Kind, AtomicLong> counts = new EnumMap<>(Kind.class);
  private final Map<Integer, Boolean> linkUp = new ConcurrentHashMap<>();
  private final LogLimiter limiter = new LogLimiter(PeerLog.LINES_PER_SECOND, System::nanoTime);

  /**
   * @param ours       the entries programmed now
   * @param deviceName the overlay device ({@code flannel.1}), or null when there is none (host-gw)
   * @param bridgeName the bridge ({@code cni0}), or null when not watched
   * @param repair     asks for a repair; must not block
   * @param linkLost   told the name of a watched link that was deleted or set down; must not block
   */
  public DriftWatcher(Programmed ours, String deviceName, String bridgeName, Consumer<Repair> repair,
      Consumer<String> linkLost) {
    this.ours = Objects.requireNonNull(ours, "ours");
    this.deviceName = deviceName;
    this.bridgeName = bridgeName;
    this.repair = Objects.requireNonNull(repair, "repair");
    this.linkLost = Objects.requireNonNull(linkLost, "linkLost");
    for (Kind k : Kind.values()) {
      counts.put(k, new AtomicLong());
    }
  }

  @Override
  public void accept(NetlinkEvent event) {
    Repair r = classify(event);
    if (r == null) {
      return;
    }
    counts.get(r.kind()).incrementAndGet();
    if (r.kind() == Kind.DEVICE || r.kind() == Kind.BRIDGE) {
      NetlinkEvent.LinkChanged lc = (NetlinkEvent.LinkChanged) event;
      log.info("{} {} by someone else; recreating it", lc.link().name(),
          lc.deleted() ? "was deleted" : "was set down");
      linkLost.accept(lc.link().name());
    } else if (r.kind() == Kind.OVERRUN) {
      log.info("netlink monitor overran (events lost); resyncing");
    } else if (limiter.allow()) {
      log.info("{} changed by someone else; repairing it", describe(event));
    } else {
      log.debug("{} changed by someone else; repairing it", describe(event));
    }
    repair.accept(r);
  }

  /** The repair the event asks for, or null when it is not drift of ours. */
  Repair classify(NetlinkEvent event) {
    if (event instanceof NetlinkEvent.Overrun) {
      return new Repair(Kind.OVERRUN, null);
    }
    if (event instanceof NetlinkEvent.LinkChanged lc) {
      Link l = lc.link();
      Kind kind = deviceName != null && deviceName.equals(l.name()) ? Kind.DEVICE
          : bridgeName != null && bridgeName.equals(l.name()) ? Kind.BRIDGE : null;
      if (kind == null) {
        return null;
      }
      // deleted, or going from up to down; a link created down (as ours are) is not drift. When
      // the earlier state was not seen, the device in use counts as having been up.
      Boolean wasUp = lc.deleted() ? linkUp.remove(l.index()) : linkUp.put(l.index(), l.up());
      if (lc.deleted()) {
        return new Repair(kind, null);
      }
      if (l.up()) {
        return null;
      }
      boolean inUse = kind == Kind.DEVICE && ours.link() == l.index();
      return Boolean.TRUE.equals(wasUp) || (wasUp == null && inUse) ? new Repair(kind, null) : null;
    }
    int link = ours.link();
    if (link < 0) {
      return null;
    }
    if (event instanceof NetlinkEvent.RouteChanged rc) {
      Route r = rc.route();
      if (r.table() != Route.TABLE_MAIN) {
        return null;
      }
      Route mine = ours.route(r.dst());
      if (mine == null) {
        return null;
      }
      if (rc.deleted()) {
        return r.link() == mine.link() ? new Repair(Kind.ROUTE, mine) : null;
      }
      // a route for one of our subnets written by someone else replaces ours
      return r.protocol() != Route.PROTO_TARTAN || r.link() != mine.link()
          || !Objects.equals(r.gateway(), mine.gateway()) ? new Repair(Kind.ROUTE, mine) : null;
    }
    if (event instanceof NetlinkEvent.NeighbourChanged nc) {
      Neighbour n = nc.neighbour();
      Neighbour mine = n.link() == link ? ours.neighbour(n.ip()) : null;
      if (mine == null) {
        return null;
      }
      if (nc.deleted()) {
        return new Repair(Kind.NEIGHBOUR, mine);
      }
      return mine.mac().equals(n.mac()) && (n.state() & Neighbour.NUD_PERMANENT) != 0
          ? null : new Repair(Kind.NEIGHBOUR, mine);
    }
    if (event instanceof NetlinkEvent.FdbChanged fc) {
      FdbEntry e = fc.entry();
      FdbEntry mine = e.link() == link ? ours.fdb(e.mac()) : null;
      if (mine == null) {
        return null;
      }
      boolean same = e.dst() == null || e.dst().equals(mine.dst());
      return fc.deleted() == same ? new Repair(Kind.FDB, mine) : null;
    }
    return null;
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
      return PeerLog.describe(rc.route());
    }
    if (e instanceof NetlinkEvent.NeighbourChanged nc) {
      return PeerLog.describe(nc.neighbour());
    }
    if (e instanceof NetlinkEvent.FdbChanged fc) {
      return PeerLog.describe(fc.entry());
    }
    return e.toString();
  }
}
