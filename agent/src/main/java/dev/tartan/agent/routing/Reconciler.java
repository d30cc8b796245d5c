package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Batch;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the kernel match a {@link DesiredState}: reads what is there (one dump each of the
 * device's neighbours, FDB and our {@code proto tartan} routes), computes the difference and
 * applies it with one {@link Batch}, in the safe order: neighbour, FDB, route additions, then
 * route, FDB, neighbour removals. Entries of ours that are not desired (permanent neighbours and
 * FDB entries on the device, {@code proto tartan} routes on the device) are removed, which also
 * deletes the FDB entry of a peer's old VtepMAC (flannel quirk Q4). A refused request is logged
 * once and counted; it never stops the others.
 *
 * <p>Not thread-safe: call {@link #reconcile} from one thread (the {@link ReconcileLoop}).
 * {@link #lastApplied()} may be read from any thread.
 */
public final class Reconciler {
  private static final Logger log = LoggerFactory.getLogger(Reconciler.class);

  private final RtNetlink nl;
  private volatile DesiredState lastApplied;
  private Set<Object> lastFailed = Set.of();
  private Set<Object> lastLeft = Set.of();

  public Reconciler(RtNetlink nl) {
    this.nl = Objects.requireNonNull(nl, "nl");
  }

  /** The desired state of the last pass (set before its batch is sent), or null before the first. */
  public DesiredState lastApplied() {
    return lastApplied;
  }

  /**
   * One pass.
   *
   * @throws NetlinkException when reading the kernel's state fails or the socket fails; single
   *     refused requests are reported in the result instead
   */
  public ReconcileResult reconcile(DesiredState desired) throws NetlinkException {
    long start = System.nanoTime();
    int dev = desired.link();
    lastApplied = desired;
    reportLeftOut(desired);

    // ---- what the kernel has
    Map<Inet4Address, Neighbour> actualNeigh = new HashMap<>();
    for (Neighbour n : nl.neighbours(dev)) {
      if (n.link() == dev && (n.state() & Neighbour.NUD_PERMANENT) != 0) {
        actualNeigh.putIfAbsent(n.ip(), n);
      }
    }
    Map<String, List<FdbEntry>> actualFdb = new HashMap<>();
    for (FdbEntry e : nl.fdb(dev)) {
      if (e.link() == dev) {
        actualFdb.computeIfAbsent(e.mac(), k -> new ArrayList<>(1)).add(e);
      }
    }
    Map<Ipv4Subnet, List<Route>> actualRoutes = new HashMap<>();
    for (Route r : nl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)) {
      if (r.link() == dev && r.protocol() == Route.PROTO_TARTAN && r.table() == Route.TABLE_MAIN) {
        actualRoutes.computeIfAbsent(r.dst(), k -> new ArrayList<>(1)).add(r);
      }
    }

    // ---- the difference
    List<Neighbour> neighAdd = new ArrayList<>();
    List<Neighbour> neighDel = new ArrayList<>();
    for (Neighbour n : desired.neighbours()) {
      Neighbour have = actualNeigh.get(n.ip());
      if (have == null || !have.mac().equals(n.mac())) {
        neighAdd.add(n);
      }
    }
    Set<Inet4Address> wantedIps = new HashSet<>();
    for (Neighbour n : desired.neighbours()) {
      wantedIps.add(n.ip());
    }
    for (Neighbour n : actualNeigh.values()) {
      if (!wantedIps.contains(n.ip())) {
        neighDel.add(n);
      }
    }

    List<FdbEntry> fdbAdd = new ArrayList<>();
    List<FdbEntry> fdbDel = new ArrayList<>();
    Map<String, FdbEntry> wantedFdb = new HashMap<>();
    for (FdbEntry e : desired.fdb()) {
      wantedFdb.put(e.mac(), e);
    }
    for (FdbEntry e : desired.fdb()) {
      List<FdbEntry> have = actualFdb.get(e.mac());
      if (have == null) {
        fdbAdd.add(e);
      } else if (!have.contains(e)) {
        fdbAdd.add(e); // replace rewrites the first remote; any further remotes are removed below
      }
    }
    for (Map.Entry<String, List<FdbEntry>> m : actualFdb.entrySet()) {
      FdbEntry want = wantedFdb.get(m.getKey());
      List<FdbEntry> have = m.getValue();
      if (want == null) {
        fdbDel.addAll(have);
      } else if (have.contains(want)) {
        for (FdbEntry e : have) {
          if (!e.equals(want)) {
            fdbDel.add(e);
          }
        }
      } else {
        fdbDel.addAll(have.subList(1, have.size())); // the first is rewritten by the replace
      }
    }

    List<Route> routeAdd = new ArrayList<>();
    List<Route> routeDel = new ArrayList<>();
    Map<Ipv4Subnet, Route> wantedRoutes = new HashMap<>();
    for (Route r : desired.routes()) {
      wantedRoutes.put(r.dst(), r);
      List<Route> have = actualRoutes.get(r.dst());
      if (have == null || !have.contains(r)) {
        routeAdd.add(r);
      }
    }
    for (Map.Entry<Ipv4Subnet, List<Route>> m : actualRoutes.entrySet()) {
      Route want = wantedRoutes.get(m.getKey());
      List<Route> have = m.getValue();
      if (want == null) {
        routeDel.addAll(have);
      } else if (have.contains(want)) {
        for (Route r : have) {
          if (!r.equals(want)) {
            routeDel.add(r);
          }
        }
      } else {
        routeDel.addAll(have.subList(1, have.size())); // the first is rewritten by the replace
      }
    }

    // deterministic order (batch and log lines)
    Comparator<Neighbour> byIp = Comparator.comparingInt(n -> Ipv4Subnet.toInt(n.ip()));
    Comparator<FdbEntry> byMac = Comparator.comparing(FdbEntry::mac);
    Comparator<Route> byDst = Comparator.comparing(Route::dst);
    neighAdd.sort(byIp);
    neighDel.sort(byIp);
    fdbAdd.sort(byMac);
    fdbDel.sort(byMac);
    routeAdd.sort(byDst);
    routeDel.sort(byDst);

    // ---- one batch, in the safe order
    Map<Object, String> ops = new LinkedHashMap<>();
    Set<Object> failed = new HashSet<>();
    int total = neighAdd.size() + fdbAdd.size() + routeAdd.size() + routeDel.size() + fdbDel.size()
        + neighDel.size();
    if (total > 0) {
      Batch batch = nl.batch();
      for (Neighbour n : neighAdd) {
        batch.replaceNeighbour(n);
        ops.put(n, "replace");
      }
      for (FdbEntry e : fdbAdd) {
        batch.replaceFdb(e);
        ops.put(e, "replace");
      }
      for (Route r : routeAdd) {
        batch.replaceRoute(r);
        ops.put(r, "replace");
      }
      for (Route r : routeDel) {
        batch.deleteRoute(r);
        ops.put(r, "delete");
      }
      for (FdbEntry e : fdbDel) {
        batch.deleteFdb(e);
        ops.put(e, "delete");
      }
      for (Neighbour n : neighDel) {
        batch.deleteNeighbour(n);
        ops.put(n, "delete");
      }
      if (log.isDebugEnabled()) {
        ops.forEach((entry, op) -> log.debug("{} {}", op, describe(entry)));
      }
      List<Batch.Failure> failures = batch.execute();
      for (Batch.Failure f : failures) {
        Object entry = f.request();
        String op = ops.getOrDefault(entry, "request");
        if (entry instanceof NetlinkException || entry == null) {
          entry = "unknown request";
        }
        boolean deleteOfMissing = op.startsWith("delete") && f.error().notFound();
        if (deleteOfMissing) {
          continue; // already gone: that is what we wanted
        }
        failed.add(entry);
        if (lastFailed.contains(entry)) {
          log.debug("{} {} failed again: {}", op, describe(entry), f.error().getMessage());
        } else {
          log.warn("{} {} failed: {}", op, describe(entry), f.error().getMessage());
        }
      }
    }
    for (Object e : lastFailed) {
      if (!failed.contains(e) && ops.containsKey(e)) {
        log.info("{} {} succeeded after earlier failures", ops.get(e), describe(e));
      }
    }
    lastFailed = failed;

    // ---- one INFO line per peer subnet added or removed
    Map<Inet4Address, Neighbour> wantedNeigh = new HashMap<>();
    for (Neighbour n : desired.neighbours()) {
      wantedNeigh.put(n.ip(), n);
    }
    int peersAdded = 0;
    int peersRemoved = 0;
    for (Route r : routeAdd) {
      if (failed.contains(r)) {
        continue;
      }
      Neighbour n = r.gateway() == null ? null : wantedNeigh.get(r.gateway());
      FdbEntry e = n == null ? null : wantedFdb.get(n.mac());
      if ((n != null && failed.contains(n)) || (e != null && failed.contains(e))) {
        continue;
      }
      if (actualRoutes.containsKey(r.dst())) {
        log.info("peer {} via {} (vtep {}) updated", r.dst(), dstOf(e), n == null ? "?" : n.mac());
      } else {
        peersAdded++;
        log.info("peer {} via {} (vtep {}) added", r.dst(), dstOf(e), n == null ? "?" : n.mac());
      }
    }
    Set<Object> reported = new HashSet<>();
    for (Route r : routeDel) {
      if (failed.contains(r) || wantedRoutes.containsKey(r.dst())) {
        continue;
      }
      peersRemoved++;
      Neighbour n = r.gateway() == null ? null : actualNeigh.get(r.gateway());
      List<FdbEntry> es = n == null ? null : actualFdb.get(n.mac());
      FdbEntry e = es == null || es.isEmpty() ? null : es.get(0);
      if (n != null && !wantedNeigh.containsKey(n.ip())) {
        reported.add(n);
      }
      if (es != null && !wantedFdb.containsKey(n.mac())) {
        reported.addAll(es);
      }
      log.info("peer {} via {} (vtep {}) removed", r.dst(), dstOf(e), n == null ? "?" : n.mac());
    }
    // VtepMAC or PublicIP changes of peers whose route stays as it is
    Set<Route> routesAdded = new HashSet<>(routeAdd);
    Map<Inet4Address, Route> routeByGateway = new HashMap<>();
    for (Route r : desired.routes()) {
      if (r.gateway() != null) {
        routeByGateway.put(r.gateway(), r);
      }
    }
    for (Neighbour n : neighAdd) {
      Neighbour old = actualNeigh.get(n.ip());
      if (old != null && !failed.contains(n)) {
        Route r = routeByGateway.get(n.ip());
        log.info("peer {} vtep changed {} -> {}",
            r == null ? n.ip().getHostAddress() : r.dst(), old.mac(), n.mac());
        reported.add(old);
        if (!wantedFdb.containsKey(old.mac()) && actualFdb.containsKey(old.mac())) {
          reported.addAll(actualFdb.get(old.mac())); // the old FDB entry goes with it
        }
      }
    }
    for (FdbEntry e : fdbAdd) {
      List<FdbEntry> old = actualFdb.get(e.mac());
      if (old != null && !failed.contains(e)) {
        log.info("vtep {} moved {} -> {}", e.mac(), dstOf(old.get(0)), dstOf(e));
      }
    }
    for (Route r : routeDel) {
      if (!failed.contains(r) && wantedRoutes.containsKey(r.dst()) && !routesAdded.contains(r)) {
        log.info("removed extra route {}", describe(r));
      }
    }
    for (FdbEntry e : fdbDel) {
      if (!failed.contains(e) && !reported.contains(e)) {
        log.info("removed stale {}", describe(e));
      }
    }
    for (Neighbour n : neighDel) {
      if (!failed.contains(n) && !reported.contains(n)) {
        log.info("removed stale {}", describe(n));
      }
    }

    ReconcileResult.Counts nc = counts(desired.neighbours().size(), neighAdd, neighDel, failed);
    ReconcileResult.Counts fc = counts(desired.fdb().size(), fdbAdd, fdbDel, failed);
    ReconcileResult.Counts rc = counts(desired.routes().size(), routeAdd, routeDel, failed);
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    ReconcileResult result = new ReconcileResult(nc, fc, rc, peersAdded, peersRemoved, took);
    // peers added or removed already had their own INFO line; a summary is news only for repairs and failures
    if (result.failures() > 0 || (result.writes() > 0 && peersAdded == 0 && peersRemoved == 0)) {
      log.info("reconciled {} peers on dev {}: +{} -{} peers, {} writes, {} failed, {} ms",
          desired.peers(), dev, peersAdded, peersRemoved, result.writes(), result.failures(),
          took.toMillis());
    } else {
      log.debug("reconciled {} peers on dev {}: {} writes, {} ms", desired.peers(), dev, result.writes(),
          took.toMillis());
    }
    return result;
  }

  /** One WARN per lease newly skipped or losing a conflict; INFO when it is programmed again. */
  private void reportLeftOut(DesiredState desired) {
    Set<Object> now = new HashSet<>();
    for (DesiredState.Skipped s : desired.skipped()) {
      now.add(s);
      if (!lastLeft.contains(s)) {
        log.warn("lease {} is not programmed: {}", s.subnet(), s.reason());
      }
    }
    for (DesiredState.Conflict c : desired.conflicts()) {
      now.add(c);
      if (!lastLeft.contains(c)) {
        log.warn("lease {} is not programmed: {} with {} (which is kept)", c.dropped(), c.reason(),
            c.kept());
      }
    }
    lastLeft = now;
  }

  private static <T> ReconcileResult.Counts counts(int expected, List<T> add, List<T> del,
      Set<Object> failed) {
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

  private static String dstOf(FdbEntry e) {
    return e == null || e.dst() == null ? "?" : e.dst().getHostAddress();
  }

  /** {@code ip}/{@code bridge}-like text naming one entry. */
  static String describe(Object entry) {
    if (entry instanceof Neighbour n) {
      return "neighbour " + n.ip().getHostAddress() + " lladdr " + n.mac() + " dev " + n.link();
    }
    if (entry instanceof FdbEntry e) {
      return "fdb " + e.mac() + " dev " + e.link() + " dst " + dstOf(e);
    }
    if (entry instanceof Route r) {
      return "route " + r.dst() + (r.gateway() == null ? "" : " via " + r.gateway().getHostAddress())
          + " dev " + r.link() + (r.onlink() ? " onlink" : "") + " proto " + r.protocol();
    }
    return String.valueOf(entry);
  }
}
