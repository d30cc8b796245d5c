package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.SubnetLease;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The peer path, from the lease watch to the kernel: {@link LeaseListener} of the watch →
 * {@link PeerTable} → the backend's entries for each peer ({@link PeerOverlay}) → {@link
 * KernelDiff} → one netlink batch ({@link Reconciler#apply}), on one thread (a {@link
 * ReconcileLoop}).
 *
 * <p>A lease event costs O(1): it marks its subnet; the next pass writes that peer's entries
 * only (what was programmed is known, no table is dumped). Events that arrive while a pass runs
 * coalesce into the next pass's single batch. The full dump and diff runs at the first snapshot,
 * on every re-list, every resync interval, when the device was recreated, after a batch or pass
 * failed, and while conflicting leases exist. A drift repair from the {@link DriftWatcher} writes
 * the one entry it names.
 *
 * <p>Until the first snapshot the kernel is left as it is (a restarted agent must not remove the
 * entries it programmed before). A peer whose lease expired is held for {@code grace} (see
 * {@link PeerTable}); {@code Added} of its subnet replaces it at once, a deletion removes it at
 * once.
 */
public final class PeerSync implements LeaseListener, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PeerSync.class);

  /** Why the next pass is a full one; {@code summary}: one summary line (start, re-list). */
  private record Full(String reason, boolean summary) {}

  private static final Full PERIODIC = new Full("resync", false);
  private static final String CONFLICTS = "conflicting leases";

  private final PeerOverlay overlay;
  private final Reconciler reconciler;
  private final PeerTable table;
  private final PeerLog peerLog;
  private final Clock clock;
  private final Duration resync;
  private final Duration grace;
  private final ReconcileLoop loop;
  private final ScheduledExecutorService timer;
  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();

  // handed from the watch and monitor threads to the pass, under `work`
  private final Object work = new Object();
  private LinkedHashSet<Ipv4Subnet> dirty = new LinkedHashSet<>();
  private List<DriftWatcher.Repair> repairs = new ArrayList<>();
  private Full full = new Full("first sync", true);
  private boolean snapshotSeen;

  // what is programmed; written by the pass, read by the DriftWatcher's thread too
  private final ProgrammedPeers applied = new ProgrammedPeers();
  // the pass's own
  private volatile java.nio.file.Path graceFile;
  private List<GraceFile.Held> graceWritten;
  private Instant lastFull;
  private DesiredState lastDesired; // device, skipped and conflicts of the last state computed from the leases
  private boolean conflicts;

  /**
   * @param overlay     the backend's network (device, desired entries)
   * @param reconciler  applies plans to the kernel
   * @param ownSubnet   our subnet, or null while none is held
   * @param resync      full pass at least this often
   * @param grace       how long a peer whose lease expired keeps its entries (zero: none)
   * @param clock       for the grace and the resync interval
   * @param instrument  wraps the loop's pass (metrics), or {@code UnaryOperator.identity()}
   */
  public PeerSync(PeerOverlay overlay, Reconciler reconciler, PeerLog peerLog, Ipv4Subnet ownSubnet,
      Duration resync, Duration grace, Clock clock, UnaryOperator<ReconcileLoop.Pass> instrument) {
    this.overlay = Objects.requireNonNull(overlay, "overlay");
    this.reconciler = Objects.requireNonNull(reconciler, "reconciler");
    this.peerLog = Objects.requireNonNull(peerLog, "peerLog");
    this.table = new PeerTable(ownSubnet);
    this.resync = Objects.requireNonNull(resync, "resync");
    this.grace = Objects.requireNonNull(grace, "grace");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.loop = new ReconcileLoop("tartan-reconcile", resync, instrument.apply(this::runPass));
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "tartan-peer-grace");
      t.setDaemon(true);
      return t;
    });
  }

  /** Starts the loop; its first pass waits for the first snapshot. */
  public void start() {
    loop.start();
  }

  /** Where to list the peers held in grace for {@code tartan doctor} ({@link GraceFile}); null for nowhere. */
  public void graceFile(java.nio.file.Path file) {
    this.graceFile = file;
  }

  /** Called (on the watch's thread) after the set of peers changed; must not block. */
  public void onChange(Runnable listener) {
    listeners.add(Objects.requireNonNull(listener, "listener"));
  }

  // ---- the watch's side

  @Override
  public void onSnapshot(List<SubnetLease> all) {
    table.snapshot(all);
    synchronized (work) {
      full = new Full(snapshotSeen ? "re-list" : "first sync", true);
      snapshotSeen = true;
      dirty.clear();
    }
    log.debug("lease snapshot: {} leases", all.size());
    changed();
  }

  @Override
  public void onEvents(List<LeaseEvent> batch) {
    Instant now = clock.instant();
    boolean any = false;
    for (LeaseEvent e : batch) {
      PeerTable.Effect effect = table.apply(e, now, grace);
      if (effect == PeerTable.Effect.NONE) {
        continue;
      }
      Ipv4Subnet s = e.lease().subnet();
      if (effect == PeerTable.Effect.HELD) {
        peerLog.held(s, grace);
        wakeAt(grace);
      }
      synchronized (work) {
        dirty.add(s);
      }
      any = true;
    }
    if (any) {
      changed();
    }
  }

  @Override
  public void onDisconnected(String reason) {
    log.debug("lease watch disconnected ({}); keeping {} peers programmed", reason, table.size());
  }

  private void changed() {
    loop.trigger();
    for (Runnable l : listeners) {
      l.run();
    }
  }

  private void wakeAt(Duration after) {
    try {
      timer.schedule(loop::trigger, after.toMillis() + 10, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException closing) {
      // close() ran meanwhile: kernel state stays as it is
    }
  }

  /** A repair from the {@link DriftWatcher}: one entry, or a full pass. Never blocks. */
  public void repair(DriftWatcher.Repair r) {
    synchronized (work) {
      if (r.entry() == null) {
        boolean overrun = r.kind() == DriftWatcher.Kind.OVERRUN;
        requestFull(new Full(overrun ? "resync" : r.kind().name().toLowerCase(java.util.Locale.ROOT)
            + " recreated", !overrun));
      } else {
        if (!repairs.contains(r)) { // the kernel reports a deleted neighbour twice (FAILED, then gone)
          repairs.add(r);
        }
      }
    }
    loop.trigger();
  }

  /** Our own subnet changed (lease re-acquired elsewhere): re-address the device, full pass. */
  public void ownSubnet(Ipv4Subnet subnet) {
    overlay.ownSubnet(subnet);
    table.ownSubnet(subnet);
    synchronized (work) {
      requestFull(new Full("own subnet now " + subnet, true));
    }
    changed();
  }

  /** Asks for a pass (e.g. after our lease was re-acquired). */
  public void trigger() {
    loop.trigger();
  }

  private void requestFull(Full f) {
    if (full == null || !full.summary()) {
      full = f;
    }
  }

  // ---- the pass (the loop's thread; tests call it directly)

  /**
   * One pass: repair the device, then the peers: incremental when only leases changed, else full.
   *
   * @return null before the first snapshot (nothing done), else what was done
   */
  public ReconcileResult runPass() throws Exception {
    boolean recreated = overlay.repair();
    LinkedHashSet<Ipv4Subnet> todo;
    List<DriftWatcher.Repair> fixes;
    Full f;
    synchronized (work) {
      if (!snapshotSeen) {
        return null;
      }
      todo = dirty;
      fixes = repairs;
      f = full;
      dirty = new LinkedHashSet<>();
      repairs = new ArrayList<>();
      full = null;
    }
    try {
      Instant now = clock.instant();
      Set<Ipv4Subnet> expired = new HashSet<>(table.expire(now));
      todo.addAll(expired);
      if (f == null && recreated) {
        f = new Full("device recreated", true);
      }
      if (f == null && conflicts && !todo.isEmpty()) {
        f = new Full(CONFLICTS, false);
      }
      if (f == null && (lastFull == null || !now.isBefore(lastFull.plus(resync)) || now.isBefore(lastFull))) {
        f = PERIODIC;
      }
      if (f != null && !f.summary() && !conflicts && (!todo.isEmpty() || !fixes.isEmpty())) {
        // a resync that meets pending lease changes: apply them as changes (logged per peer) first
        incremental(todo, fixes, expired);
      }
      ReconcileResult r = f != null ? fullPass(f, now) : incremental(todo, fixes, expired);
      writeGraceFile();
      Instant next = table.nextGraceEnd();
      if (next != null && !next.isAfter(now)) {
        loop.trigger();
      }
      return r;
    } catch (Exception | Error e) {
      synchronized (work) {
        requestFull(new Full("retry", false));
      }
      throw e;
    } finally {
      peerLog.flush();
      if (peerLog.pending()) {
        try { // report what was left out once its second is over, even if no pass runs then
          timer.schedule(peerLog::flush, 1100, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closing) {
          // stopping
        }
      }
    }
  }

  private void writeGraceFile() {
    java.nio.file.Path file = graceFile;
    if (file == null) {
      return;
    }
    List<GraceFile.Held> now = new ArrayList<>();
    for (Map.Entry<Ipv4Subnet, Instant> h : new java.util.TreeMap<>(table.held()).entrySet()) {
      PeerEntries p = applied.get(h.getKey());
      if (p != null && p.publicIp() instanceof java.net.Inet4Address dst) {
        now.add(new GraceFile.Held(h.getKey(), dst, p.mac(), h.getValue()));
      }
    }
    if (now.equals(graceWritten)) {
      return;
    }
    graceWritten = now;
    try {
      GraceFile.write(file, now);
    } catch (java.io.IOException e) {
      log.warn("cannot write {} (the peers held in grace, for tartan doctor): {}", file, e.toString());
    }
  }

  /**
   * The full pass. The desired state is computed from the leases again for a start, re-list, new
   * device or own subnet, and while leases conflict; a resync (periodic, after a monitor overrun,
   * a failed batch or pass) checks the kernel against what is programmed, which the incremental
   * passes keep equal to the leases' entries: no lease is decoded again.
   */
  private ReconcileResult fullPass(Full f, Instant now) throws Exception {
    DesiredState desired;
    boolean recompute = f.summary() || conflicts || lastDesired == null || f.reason().equals(CONFLICTS)
        || overlay.kernelDecides(); // a peer may have moved on or off the underlay's link
    if (recompute) {
      desired = overlay.desired(table.remotes());
      conflicts = !desired.conflicts().isEmpty();
      Map<Ipv4Subnet, PeerEntries> before = !f.summary() && overlay.kernelDecides() ? applied.copy() : null;
      applied.replaceWith(desired);
      if (before != null) { // the kernel's answer changed for a peer: it switches form (one line each)
        before.forEach((s, was) -> {
          PeerEntries is = applied.get(s);
          if (is != null && is.isDirect() != was.isDirect()) {
            peerLog.changed(was, is);
          }
        });
      }
      lastDesired = new DesiredState(desired.link(), Set.of(), Set.of(), Set.of(), desired.skipped(),
          desired.conflicts(), desired.directLink()); // without the entries: those are in `applied`
    } else {
      desired = applied.asDesired(lastDesired);
    }
    lastFull = now;
    return reconciler.reconcile(desired, f.summary() ? f.reason() : null);
  }

  private record Change(PeerEntries before, PeerEntries after, boolean expired) {}

  private ReconcileResult incremental(Set<Ipv4Subnet> todo, List<DriftWatcher.Repair> fixes,
      Set<Ipv4Subnet> expired) throws Exception {
    long start = System.nanoTime();
    // check first, change nothing: a conflict sends the whole pass to the full path
    Map<Ipv4Subnet, PeerEntries> next = new HashMap<>();
    Map<String, Ipv4Subnet> nextMacs = new HashMap<>();
    for (Ipv4Subnet s : todo) {
      SubnetLease lease = table.get(s);
      if (lease == null) {
        continue;
      }
      if (table.overlapsAnother(s)) {
        return fullPass(new Full(CONFLICTS, false), clock.instant());
      }
      PeerSpec spec = overlay.peer(lease);
      if (spec instanceof DesiredState.Skipped sk) {
        peerLog.skipped(s, sk.reason());
        continue;
      }
      if (spec instanceof DesiredState.Absent) {
        continue; // nothing for this device: entries programmed before are removed below
      }
      PeerEntries p = (PeerEntries) spec;
      if (!p.isDirect()) { // a direct peer has no FDB entry: its VtepMAC cannot clash
        PeerEntries owner = applied.byMac(p.mac());
        Ipv4Subnet claimed = nextMacs.putIfAbsent(p.mac(), s);
        if ((owner != null && !owner.subnet().equals(s) && !todo.contains(owner.subnet())) || claimed != null) {
          return fullPass(new Full(CONFLICTS, false), clock.instant());
        }
      }
      next.put(s, p);
    }

    KernelDiff.Plan plan = KernelDiff.Plan.empty();
    List<Change> changes = new ArrayList<>();
    for (Ipv4Subnet s : todo) {
      PeerEntries before = applied.get(s);
      PeerEntries after = next.get(s);
      KernelDiff.Plan p = KernelDiff.peer(before, after);
      if (p.isEmpty()) {
        continue;
      }
      plan.addAll(p);
      changes.add(new Change(before, after, expired.contains(s)));
    }
    for (Change c : changes) { // removals first: a MAC may move from one peer to another
      applied.remove(c.before());
    }
    for (Change c : changes) {
      if (c.after() != null) {
        applied.put(c.after());
      }
    }
    List<Object> repaired = new ArrayList<>();
    for (DriftWatcher.Repair r : fixes) {
      Object e = r.entry();
      if (!applied.contains(e)) {
        continue; // no longer ours (the peer changed or left meanwhile)
      }
      if (e instanceof Route x) {
        plan.routeAdd().add(x);
      } else if (e instanceof Neighbour x) {
        plan.neighAdd().add(x);
      } else if (e instanceof FdbEntry x) {
        plan.fdbAdd().add(x);
      }
      repaired.add(e);
    }
    Set<Object> failed = reconciler.apply(plan);
    if (!failed.isEmpty()) {
      synchronized (work) {
        requestFull(new Full("fallback", false));
      }
      loop.trigger();
    }
    int added = 0;
    int removed = 0;
    for (Change c : changes) {
      if (c.before() == null) {
        if (!failed.contains(c.after().route())) {
          added++;
          peerLog.added(c.after());
        }
      } else if (c.after() == null) {
        if (!failed.contains(c.before().route())) {
          removed++;
          peerLog.removed(c.before(), c.expired()
              ? " (its lease expired " + grace.toSeconds() + " s ago and was not renewed)" : "");
        }
      } else {
        peerLog.changed(c.before(), c.after());
      }
    }
    for (Object x : repaired) {
      if (!failed.contains(x)) {
        peerLog.repaired(x);
      }
    }
    int n = applied.size();
    ReconcileResult.Counts nc = counts(n, plan.neighAdd(), plan.neighDel(), failed);
    ReconcileResult.Counts fc = counts(n, plan.fdbAdd(), plan.fdbDel(), failed);
    ReconcileResult.Counts rc = counts(n, plan.routeAdd(), plan.routeDel(), failed);
    return new ReconcileResult(nc, fc, rc, added, removed, Duration.ofNanos(System.nanoTime() - start));
  }

  private static <T> ReconcileResult.Counts counts(int expected, List<T> add, List<T> del, Set<Object> failed) {
    int addFailed = 0;
    for (T t : add) {
      addFailed += failed.contains(t) ? 1 : 0;
    }
    int delFailed = 0;
    for (T t : del) {
      delFailed += failed.contains(t) ? 1 : 0;
    }
    return new ReconcileResult.Counts(expected, expected - addFailed, add.size() - addFailed,
        del.size() - delFailed, addFailed + delFailed);
  }

  // ---- views

  /** What is programmed now, for the {@link DriftWatcher}. */
  public DriftWatcher.Programmed programmed() {
    return applied;
  }

  /** True once the first lease snapshot arrived. */
  public boolean snapshotSeen() {
    synchronized (work) {
      return snapshotSeen;
    }
  }

  /** True once a pass has programmed the peers ("first sync done" for /readyz). */
  public boolean kernelSynced() {
    return loop.synced();
  }

  /** Waits until a pass has programmed the peers; false on timeout. */
  public boolean awaitKernelSynced(Duration timeout) throws InterruptedException {
    return loop.awaitSynced(timeout);
  }

  /** The last failure's text while passes keep failing, else null. */
  public String lastError() {
    return loop.lastError();
  }

  /** The loop's thread runs (for /healthz). */
  public boolean alive() {
    return loop.alive();
  }

  /** Remote leases known (held ones included). */
  public int size() {
    return table.size();
  }

  /** Peers held in grace after their lease expired. */
  public int inGrace() {
    return table.inGrace();
  }

  /** Peers held in grace with the end of each grace. */
  public Map<Ipv4Subnet, Instant> held() {
    return table.held();
  }

  /** Every remote lease (held ones included), in subnet order. */
  public List<SubnetLease> remotes() {
    return table.remotes();
  }

  /** Peers whose entries are programmed. */
  public int programmedPeers() {
    return applied.size();
  }

  /** Stops the loop; kernel state stays as it is. */
  @Override
  public void close() {
    timer.shutdownNow();
    loop.close();
  }
}
