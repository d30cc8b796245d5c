package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.IpSubnet;
import dev.tartan.net.Ipv4Subnet;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's view of the peers: one INFO line per peer added, changed, removed or held in
 * grace, at most {@value #LINES_PER_SECOND} a second (the rest counted and reported in one line);
 * one summary line for a start or re-list, whatever the network's size; netlink detail at DEBUG.
 */
public final class PeerLog {
  static final int LINES_PER_SECOND = 20;
  private static final Logger log = LoggerFactory.getLogger(PeerLog.class);

  private final LogLimiter limiter;
  private final String device; // "" for the (IPv4) device, else the second device's name

  public PeerLog() {
    this(System::nanoTime);
  }

  /** For a second device's peers (dual stack: {@code flannel-v6.<VNI>}): its summary lines name it. */
  public PeerLog(String device) {
    this.limiter = new LogLimiter(LINES_PER_SECOND, System::nanoTime);
    this.device = java.util.Objects.requireNonNull(device, "device");
  }

  PeerLog(java.util.function.LongSupplier nanos) {
    this.limiter = new LogLimiter(LINES_PER_SECOND, nanos);
    this.device = "";
  }

  private void line(String format, Object... args) {
    flush(); // the count of an earlier second first
    if (limiter.allow()) {
      log.info(format, args);
    } else {
      log.debug(format, args);
    }
  }

  /** True while lines were left out that {@link #flush()} has not reported yet. */
  public boolean pending() {
    return limiter.pending();
  }

  /** Prints how many lines were left out, once the second they fell in is over. */
  public void flush() {
    long n = limiter.takeSuppressed();
    if (n > 0) {
      log.info("{} more peer changes not logged one by one (over {} lines a second)", n, LINES_PER_SECOND);
    }
  }

  void added(PeerEntries p) {
    line("peer {} via {} ({}) added", p.name(), ip(p), how(p));
  }

  void removed(PeerEntries p, String why) {
    line("peer {} via {} ({}) removed{}", p.name(), ip(p), how(p), why);
  }

  private static String ip(PeerEntries p) {
    return p.publicIp() == null ? "?" : IpSubnet.text(p.publicIp());
  }

  private static String how(PeerEntries p) {
    return p.isDirect() ? "direct route" : "vtep " + p.mac();
  }

  void changed(PeerEntries before, PeerEntries after) {
    if (before.isDirect() != after.isDirect()) {
      line("peer {} via {} now reached by {} (was {} via {})", after.subnet(), ip(after),
          after.isDirect() ? "a direct route" : "vxlan, vtep " + after.mac(),
          before.isDirect() ? "a direct route" : "vxlan", ip(before));
      return;
    }
    if (before.isDirect()) {
      line("peer {} updated: via {} -> {}", after.name(), ip(before), ip(after));
      return;
    }
    StringBuilder what = new StringBuilder();
    if (!before.mac().equals(after.mac())) {
      what.append("vtep ").append(before.mac()).append(" -> ").append(after.mac());
    }
    if (!java.util.Objects.equals(before.fdb().dst(), after.fdb().dst())) {
      what.append(what.length() == 0 ? "" : ", ").append("via ").append(dst(before.fdb())).append(" -> ")
          .append(dst(after.fdb()));
    }
    if (what.length() == 0) {
      what.append("entries rewritten");
    }
    line("peer {} updated: {}", after.name(), what);
  }

  void held(Ipv4Subnet subnet, Duration grace) {
    line("peer {} lease expired: keeping its entries for up to {} s (until it is renewed or the subnet "
        + "is leased to another host)", subnet, grace.toSeconds());
  }

  /** The leases left out (skipped or losing a conflict) already warned about: one WARN each, from either path. */
  private final java.util.Set<Object> leftOut = java.util.concurrent.ConcurrentHashMap.newKeySet();

  void skipped(Ipv4Subnet subnet, String reason) {
    if (!leftOut.add(java.util.List.of(subnet, reason))) {
      return;
    }
    if (limiter.allow()) {
      log.warn("lease {} is not programmed: {}", subnet, reason);
    }
  }
  void conflict(DesiredState.Conflict c) {
    if (leftOut.add(c)) {
      log.warn("lease {} is not programmed: {} with {} (which is kept)", c.dropped(), c.reason(), c.kept());
    }
  }

  /** After a full pass: forget the leases no longer left out, so they are warned about again if they are. */
  void leftOutNow(java.util.Set<Object> now) {
    leftOut.retainAll(now);
  }


  void repaired(Object entry) {
    line("repaired {} (changed by someone else)", describe(entry));
  }

  void failed(String op, Object entry, String error, boolean again) {
    if (again || !limiter.allow()) {
      log.debug("{} {} failed again: {}", op, describe(entry), error);
    } else {
      log.warn("{} {} failed: {}", op, describe(entry), error);
    }
  }

  void recovered(String op, Object entry) {
    line("{} {} succeeded after earlier failures", op, describe(entry));
  }

  /** A start or re-list: one line, however many peers. */
  void synced(String why, int peers, int entries, int written, int removed, int failed, Duration took) {
    log.info("{}{}: {} peers, {} kernel entries ({} written, {} stale removed, {} failed) in {} ms", why,
        device.isEmpty() ? "" : " of " + device, peers,
        entries, written, removed, failed, took.toMillis());
  }

  /** A periodic resync that found something to fix. */
  void resynced(int peers, int written, int removed, int failed, Duration took) {
    log.info("resync of {} peers{}: {} entries rewritten, {} stale removed, {} failed, {} ms", peers,
        device.isEmpty() ? "" : " on " + device, written,
        removed, failed, took.toMillis());
  }

  void entry(String op, Object entry) {
    line("resync: {} {}", op, describe(entry));
  }

  static String dst(FdbEntry e) {
    return e == null || e.dst() == null ? "?" : IpSubnet.text(e.dst());
  }

  /** {@code ip}/{@code bridge}-like text naming one entry. */
  public static String describe(Object entry) {
    if (entry instanceof Neighbour n) {
      return "neighbour " + IpSubnet.text(n.ip()) + " lladdr " + n.mac() + " dev " + n.link();
    }
    if (entry instanceof FdbEntry e) {
      return "fdb " + e.mac() + " dev " + e.link() + " dst " + dst(e);
    }
    if (entry instanceof Route r) {
      return "route " + r.dst() + (r.gateway() == null ? "" : " via " + IpSubnet.text(r.gateway()))
          + " dev " + r.link() + (r.onlink() ? " onlink" : "") + " proto " + r.protocol();
    }
    return String.valueOf(entry);
  }
}
