package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Batch;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import java.time.Duration;
import java.util.HashSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies {@link KernelDiff} plans to the kernel. {@link #apply} sends one plan as one {@link
 * Batch}; {@link #reconcile} is the full pass: one dump each of the device's neighbours, FDB and
 * {@code proto tartan} routes, {@link KernelDiff#full}, {@link #apply}. A refused request is logged
 * once (through the {@link PeerLog}) and counted; it never stops the others; deleting what is
 * already gone is success.
 *
 * <p>Not thread-safe: call from one thread (the {@link PeerSync}'s loop). {@link #lastApplied()}
 * may be read from any thread.
 */
public final class Reconciler {
  private static final Logger log = LoggerFactory.getLogger(Reconciler.class);

  private final RtNetlink nl;
  private final PeerLog peerLog;
  private final boolean ipv6;
  private volatile DesiredState lastApplied;
  private Set<Object> lastFailed = Set.of();

  public Reconciler(RtNetlink nl) {
    this(nl, new PeerLog());
  }

  public Reconciler(RtNetlink nl, PeerLog peerLog) {
    this(nl, peerLog, false);
  }

  /** @param ipv6 the device carries IPv6 entries ({@code flannel-v6.N}): dumps read the IPv6 tables */
  public Reconciler(RtNetlink nl, PeerLog peerLog, boolean ipv6) {
    this.nl = Objects.requireNonNull(nl, "nl");
    this.peerLog = Objects.requireNonNull(peerLog, "peerLog");
    this.ipv6 = ipv6;
  }

  /** The desired state of the last full pass (set before its batch is sent), or null before the first. */
  public DesiredState lastApplied() {
    return lastApplied;
  }

  /** Our entries on {@code dev} as the kernel has them now (three dumps). */
  public KernelDiff.Actual read(int dev) throws NetlinkException {
    return read(DesiredState.empty(dev));
  }

  /**
   * Our entries for {@code desired} as the kernel has them now: neighbours and FDB of its overlay
   * device (none without one) and our routes on it and on its direct-route link, from the IPv6
   * tables for an IPv6 device.
   */
  public KernelDiff.Actual read(DesiredState desired) throws NetlinkException {
    int dev = desired.link();
    List<Neighbour> neighbours = dev <= 0 ? List.of() : ipv6 ? nl.neighbours6(dev) : nl.neighbours(dev);
    List<FdbEntry> fdb = dev <= 0 ? List.of() : nl.fdb(dev);
    List<Route> routes = ipv6 ? nl.routes6(Route.TABLE_MAIN, Route.PROTO_TARTAN)
        : nl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN);
    return KernelDiff.Actual.of(Math.max(dev, 0), desired.directLink(), neighbours, fdb, routes);
  }

  /**
   * Sends {@code plan} as one batch.
   *
   * @return the entries the kernel refused (deletions of entries already gone are not failures)
   * @throws NetlinkException only when the socket fails
   */
  public Set<Object> apply(KernelDiff.Plan plan) throws NetlinkException {
    if (plan.isEmpty()) {
      return Set.of();
    }
    Map<Object, String> ops = new HashMap<>(plan.size() * 2);
    Batch batch = nl.batch();
    for (Neighbour n : plan.neighAdd()) {
      batch.replaceNeighbour(n);
      ops.put(n, "replace");
    }
    for (FdbEntry e : plan.fdbAdd()) {
      batch.replaceFdb(e);
      ops.put(e, "replace");
    }
    for (Route r : plan.routeAdd()) {
      batch.replaceRoute(r);
      ops.put(r, "replace");
    }
    // An entry both written and deleted in one batch (a host that moved to another subnet keeps its VtepMAC
    // and public IP: the old peer's FDB entry equals the new one's) must stay: the deletes would run last.
    Set<Object> written = new HashSet<>(ops.keySet());
    for (Route r : plan.routeDel()) {
      if (!written.contains(r)) {
        batch.deleteRoute(r);
        ops.put(r, "delete");
      }
    }
    for (FdbEntry e : plan.fdbDel()) {
      if (!written.contains(e)) {
        batch.deleteFdb(e);
        ops.put(e, "delete");
      }
    }
    for (Neighbour n : plan.neighDel()) {
      if (!written.contains(n)) {
        batch.deleteNeighbour(n);
        ops.put(n, "delete");
      }
    }
    if (log.isDebugEnabled()) {
      ops.forEach((entry, op) -> log.debug("{} {}", op, PeerLog.describe(entry)));
    }
    Set<Object> failed = new HashSet<>();
    for (Batch.Failure f : batch.execute()) {
      Object entry = f.request();
      String op = entry == null ? "request" : ops.getOrDefault(entry, "request");
      if (op.equals("delete") && f.error().notFound()) {
        continue; // already gone: that is what we wanted
      }
      Object key = entry == null ? "unknown request" : entry;
      failed.add(key);
      peerLog.failed(op, key, f.error().getMessage(), lastFailed.contains(key));
    }
    for (Object e : lastFailed) {
      if (!failed.contains(e) && ops.containsKey(e)) {
        peerLog.recovered(ops.get(e), e);
      }
    }
    Set<Object> stillFailing = new HashSet<>(failed);
    for (Object e : lastFailed) {
      if (!ops.containsKey(e)) {
        stillFailing.add(e); // not retried in this plan: still failing as far as we know
      }
    }
    lastFailed = stillFailing;
    return failed;
  }

  /** A full pass without a summary line (see {@link #reconcile(DesiredState, String)}). */
  public ReconcileResult reconcile(DesiredState desired) throws NetlinkException {
    return reconcile(desired, null);
  }

  /**
   * One full pass: read the kernel, diff, apply.
   *
   * @param syncReason non-null for a start or re-list: one summary line under this title, no
   *     per-entry lines; null for a periodic resync: a line only when something was fixed
   * @throws NetlinkException when reading the kernel's state fails or the socket fails; single
   *     refused requests are reported in the result instead
   */
  public ReconcileResult reconcile(DesiredState desired, String syncReason) throws NetlinkException {
    long start = System.nanoTime();
    int dev = desired.link();
    lastApplied = desired;
    reportLeftOut(desired);
    KernelDiff.Actual actual = read(desired);
    KernelDiff.Plan plan = KernelDiff.full(desired, actual);
    Set<Object> failed = apply(plan);

    Map<java.net.InetAddress, Neighbour> neighByIp = new HashMap<>();
    Map<String, FdbEntry> fdbByMac = new HashMap<>();
    if (!failed.isEmpty()) {
      desired.neighbours().forEach(n -> neighByIp.put(n.ip(), n));
      desired.fdb().forEach(e -> fdbByMac.put(e.mac(), e));
    }
    int peersAdded = 0;
    for (Route r : plan.routeAdd()) {
      if (failed.contains(r) || actual.routes().containsKey(r.dst())) {
        continue;
      }
      Neighbour n = r.gateway() == null ? null : neighByIp.get(r.gateway());
      if (n != null && (failed.contains(n) || failed.contains(fdbByMac.get(n.mac())))) {
        continue; // the peer is not complete
      }
      peersAdded++;
    }
    Set<Object> wantedDst = new HashSet<>();
    for (Route r : desired.routes()) {
      wantedDst.add(r.dst());
    }
    int peersRemoved = 0;
    for (Route r : plan.routeDel()) {
      if (!failed.contains(r) && !wantedDst.contains(r.dst())) {
        peersRemoved++;
      }
    }
    ReconcileResult.Counts nc = counts(desired.neighbours().size(), plan.neighAdd(), plan.neighDel(), failed);
    ReconcileResult.Counts fc = counts(desired.fdb().size(), plan.fdbAdd(), plan.fdbDel(), failed);
    ReconcileResult.Counts rc = counts(desired.routes().size(), plan.routeAdd(), plan.routeDel(), failed);
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    ReconcileResult result = new ReconcileResult(nc, fc, rc, peersAdded, peersRemoved, took);
    int written = nc.added() + fc.added() + rc.added();
    int removed = nc.removed() + fc.removed() + rc.removed();
    if (syncReason != null) {
      peerLog.synced(syncReason, desired.peers(), nc.present() + fc.present() + rc.present(), written, removed,
          result.failures(), took);
    } else if (result.writes() > 0 || result.failures() > 0) {
      peerLog.resynced(desired.peers(), written, removed, result.failures(), took);
      logEntries("replace", plan.neighAdd(), failed);
      logEntries("replace", plan.fdbAdd(), failed);
      logEntries("replace", plan.routeAdd(), failed);
      logEntries("delete", plan.routeDel(), failed);
      logEntries("delete", plan.fdbDel(), failed);
      logEntries("delete", plan.neighDel(), failed);
    } else {
      log.debug("reconciled {} peers on dev {}: no writes, {} ms", desired.peers(), dev, took.toMillis());
    }
    return result;
  }

  private void logEntries(String op, List<?> entries, Set<Object> failed) {
    for (Object e : entries) {
      if (!failed.contains(e)) {
        peerLog.entry(op, e);
      }
    }
  }

  /** One WARN per lease newly skipped or losing a conflict (the {@link PeerLog} remembers which). */
  private void reportLeftOut(DesiredState desired) {
    Set<Object> now = new HashSet<>();
    for (DesiredState.Skipped s : desired.skipped()) {
      now.add(java.util.List.of(s.subnet(), s.reason()));
      peerLog.skipped(s.subnet(), s.reason());
    }
    for (DesiredState.Conflict c : desired.conflicts()) {
      now.add(c);
      peerLog.conflict(c);
    }
    peerLog.leftOutNow(now);
  }

  private static <T> ReconcileResult.Counts counts(int expected, List<T> add, List<T> del, Set<Object> failed) {
    int addFailed = 0;
    for (T t : add) {
      if (failed.contains(t)) {
        addFailed++;
      }
    }
    int delFailed = 0;
    for (T t : del) {
      if (failed.contains(t)) {
        delFailed++;
      }
    }
    return new ReconcileResult.Counts(expected, expected - addFailed, add.size() - addFailed,
        del.size() - delFailed, addFailed + delFailed);
  }

  /** {@code ip}/{@code bridge}-like text naming one entry. */
  static String describe(Object entry) {
    return PeerLog.describe(entry);
  }
}
