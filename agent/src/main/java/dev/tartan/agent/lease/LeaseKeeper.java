package dev.tartan.agent.lease;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.AccessDeniedException;
import dev.tartan.store.RequestRejectedException;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseLostException;
import dev.tartan.store.LeaseStore;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfigMissingException;
import dev.tartan.store.SubnetLease;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one owner of this host's subnet lease (flanneld's lease loop): acquires it with retry, renews
 * it before it expires, notices when it is lost (deleted, expired, taken by another host, lapsed
 * because etcd could not be reached in time) and re-acquires it, the same subnet when still free.
 * When etcd comes back without its data (no network config and no lease of ours) it tells the peer
 * side to hold the peers as they are until the config and our lease are back. etcd refusing us for
 * good (permission denied) stops it with one line.
 *
 * <p>Renewal through partitions and stalls: each attempt is bounded by the time the lease has left
 * ({@link RenewalSchedule#attemptTimeout}: never one attempt that outlives the lease), retries spread
 * over what is left, and only once the lease has lapsed by our clock does the keeper re-acquire. A
 * watch event about our key that predates our current copy (its revision is lower: the stale
 * deletion of the key we replaced when re-acquiring) is not a loss.
 *
 * <p>All work and every {@link Listener} call runs on the given single-threaded scheduler; the watch
 * hands its results in with {@link #onSnapshot} and {@link #onEvents} from its own thread. Reading
 * {@link #lease()}, {@link #held()} and {@link #holding()} is safe from any thread.
 */
public final class LeaseKeeper implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LeaseKeeper.class);

  static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);
  static final Duration MAX_BACKOFF = Duration.ofSeconds(10);
  /** After a hold, how long the other hosts get to re-acquire their leases before the peers are re-read. */
  static final Duration PEER_RESYNC_GRACE = MAX_BACKOFF.plusSeconds(2);

  /** What the keeper reports, always on its scheduler's thread. The keeper logs each change itself. */
  public interface Listener {
    /** The first lease, from {@link #acquire}. */
    default void acquired(SubnetLease lease) {}

    /** The lease was renewed; {@code lease} is the new copy (expiry, etcd lease, revision). */
    default void renewed(SubnetLease lease) {}

    /** A renewal attempt failed; the next follows after {@code retryIn} (the lease is still ours). */
    default void renewFailed(String reason, Duration retryIn) {}

    /** The lease is gone (deleted, expired, lapsed) or belongs to another host; re-acquiring follows. */
    default void lost(SubnetLease lease, String reason) {}

    /**
     * A lease again after {@link #lost}: the same subnet when it was still free, else another one.
     * Throwing (the new subnet could not be put in place) makes the keeper re-acquire again after a
     * backoff, which finds and reuses {@code lease}, and call this again with the same {@code old}.
     */
    default void reacquired(SubnetLease old, SubnetLease lease) throws Exception {}

    /**
     * etcd has neither the network config nor our lease (its data was lost or the prefix deleted):
     * keep the peers programmed as they are; the snapshot that showed it was not passed on.
     */
    default void holding(SubnetLease lease) {}

    /**
     * The config and our lease are back and the other hosts have had {@link #PEER_RESYNC_GRACE} to
     * re-acquire theirs: re-read every lease to drop the peers that did not come back.
     */
    default void holdEnded(SubnetLease lease) {}

    /** etcd refused us for good (e.g. permission denied): the keeper stopped; the lease will expire. */
    default void stopped(SubnetLease lease, String reason) {}
  }

  private enum State { NEW, ACQUIRING, HELD, REACQUIRING, STOPPED, CLOSED }

  private final LeaseStore store;
  private final Supplier<LeaseAttrs> attrs;
  private final Duration margin;
  private final Clock clock;
  private final ScheduledExecutorService exec;
  private final Listener listener;
  private final Duration requestTimeout;

  private final CompletableFuture<SubnetLease> first = new CompletableFuture<>();
  private final AtomicBoolean holdingPeers = new AtomicBoolean();
  private volatile SubnetLease current;
  private volatile State state = State.NEW;

  // confined to the scheduler's thread
  private ScheduledFuture<?> next;
  private boolean renewing;
  private int failures;
  private String lastLogged;

  /**
   * @param attrs  what we publish in the lease value (read at each acquisition)
   * @param margin renew this long before expiry (flannel's {@code --subnet-lease-renew-margin}); at
   *               most a third of the TTL is used
   */
  public LeaseKeeper(LeaseStore store, Supplier<LeaseAttrs> attrs, Duration margin, Clock clock,
      ScheduledExecutorService exec, Listener listener) {
    this(store, attrs, margin, clock, exec, listener, RenewalSchedule.REQUEST_TIMEOUT);
  }

  LeaseKeeper(LeaseStore store, Supplier<LeaseAttrs> attrs, Duration margin, Clock clock,
      ScheduledExecutorService exec, Listener listener, Duration requestTimeout) {
    this.store = Objects.requireNonNull(store, "store");
    this.attrs = Objects.requireNonNull(attrs, "attrs");
    this.margin = Objects.requireNonNull(margin, "margin");
    if (margin.isNegative() || margin.isZero()) {
      throw new IllegalArgumentException("renew margin must be positive, got " + margin);
    }
    this.clock = Objects.requireNonNull(clock, "clock");
    this.exec = Objects.requireNonNull(exec, "exec");
    this.listener = Objects.requireNonNull(listener, "listener");
    this.requestTimeout = requestTimeout;
  }

  /**
   * Acquires the lease ({@code previous}: the subnet from the subnet file, preferred when free),
   * retrying with backoff 1 s, doubling to 10 s and logging each distinct failure once. The future
   * fails with {@link AccessDeniedException} when etcd refuses us for good, and is cancelled by
   * {@link #close()}. Renewals begin with {@link #startRenewing()}.
   */
  public CompletableFuture<SubnetLease> acquire(Optional<Ipv4Subnet> previous) {
    return acquire(previous, Optional.empty());
  }

  /** {@link #acquire(Optional)} with the IPv6 subnet of the subnet file too (dual stack). */
  public CompletableFuture<SubnetLease> acquire(Optional<Ipv4Subnet> previous,
      Optional<dev.tartan.net.Ipv6Subnet> previousV6) {
    Objects.requireNonNull(previous, "previous");
    Objects.requireNonNull(previousV6, "previousV6");
    if (state != State.NEW) {
      throw new IllegalStateException("already started");
    }
    state = State.ACQUIRING;
    post(() -> acquireFirst(previous, previousV6, FIRST_BACKOFF));
    return first;
  }

  /** Starts renewing the lease (once acquired); the agent calls it when the host is set up. */
  public void startRenewing() {
    post(() -> {
      renewing = true;
      if (state == State.HELD && next == null) {
        scheduleRenewal(current);
      }
    });
  }

  /** Our lease as last written; null before the first acquisition. */
  public SubnetLease lease() {
    return current;
  }

  /** True while we hold a valid lease (not while re-acquiring it, nor after etcd refused us). */
  public boolean held() {
    return state == State.HELD;
  }

  /** True while the peers are held because etcd lost its data (see {@link Listener#holding}). */
  public boolean holding() {
    return holdingPeers.get();
  }

  /** Stops all work (the lease stays in etcd until it expires). Idempotent; any thread. */
  @Override
  public void close() {
    state = State.CLOSED;
    first.cancel(false);
    try {
      exec.execute(this::cancelNext);
    } catch (RejectedExecutionException e) {
      // the scheduler is shut down: nothing runs any more
    }
  }

  // ---- the watch's view of our key

  /**
   * A watch snapshot. Returns false when it must not be passed on to the peers: etcd has neither the
   * network config nor our lease (its data was lost or the prefix deleted), so its empty peer set
   * says nothing about the hosts, which keep forwarding. The peers are then held (see
   * {@link Listener#holding}) and the lease re-acquired once the config is back. Otherwise checks
   * that our lease is in it and still ours.
   *
   * @param peersSynced whether the peer side has already applied a snapshot (before that there is
   *                    nothing to hold)
   */
  public boolean onSnapshot(List<SubnetLease> all, boolean peersSynced) {
    SubnetLease mine = current;
    if (mine == null || state == State.CLOSED || state == State.STOPPED) {
      return true;
    }
    Optional<SubnetLease> seen = all.stream().filter(l -> l.subnet().equals(mine.subnet())).findFirst();
    if (seen.isEmpty() && peersSynced && networkConfigMissing()) {
      boolean newHold = holdingPeers.compareAndSet(false, true);
      post(() -> {
        if (newHold) {
          tell("holding", () -> listener.holding(mine));
        }
        ownKeyLost(mine, "it is no longer in etcd");
      });
      return false;
    }
    post(() -> {
      if (seen.isEmpty()) {
        ownKeyLost(mine, "it is no longer in etcd");
      } else {
        ownKeySeen(seen.get());
      }
    });
    return true;
  }

  /** A batch of watch events: a deletion, expiry or takeover of our key is a loss (unless stale). */
  public void onEvents(List<LeaseEvent> batch) {
    SubnetLease mine = current;
    if (mine == null) {
      return;
    }
    for (LeaseEvent e : batch) {
      if (!e.lease().subnet().equals(mine.subnet())) {
        continue;
      }
      if (e instanceof LeaseEvent.Removed r) {
        post(() -> ownKeyRemoved(r));
      } else {
        post(() -> ownKeySeen(e.lease()));
      }
    }
  }

  private boolean networkConfigMissing() {
    try {
      store.networkConfig();
      return false;
    } catch (NetworkConfigMissingException e) {
      return true;
    } catch (LeaseStoreException e) {
      return false;
    }
  }

  /** True when {@code seen} is an older copy of our key than the one we hold (a stale watch result). */
  private boolean stale(SubnetLease seen, SubnetLease mine) {
    return seen.modRevision() < mine.modRevision();
  }

  private void ownKeyRemoved(LeaseEvent.Removed r) {
    SubnetLease mine = current;
    if (state != State.HELD || !r.lease().subnet().equals(mine.subnet())) {
      return;
    }
    if (stale(r.lease(), mine)) {
      log.debug("ignoring the removal of an older copy of our key {} (revision {}, ours {})", mine.subnet(),
          r.lease().modRevision(), mine.modRevision());
      return;
    }
    ownKeyLost(mine, r.cause() == LeaseEvent.Cause.EXPIRED ? "its key expired" : "its key was deleted");
  }

  private void ownKeySeen(SubnetLease seen) {
    SubnetLease mine = current;
    if (state != State.HELD || !seen.subnet().equals(mine.subnet()) || stale(seen, mine)
        || seen.attrs().publicIp().equals(mine.attrs().publicIp())) {
      return;
    }
    ownKeyLost(mine, "it now belongs to " + seen.attrs().publicIp().getHostAddress());
  }

  private void ownKeyLost(SubnetLease mine, String reason) {
    if (state != State.HELD || !mine.equals(current)) {
      return; // already re-acquiring, or a report about a copy we have replaced meanwhile
    }
    lost(mine, reason);
  }

  // ---- acquire, renew, re-acquire (on the scheduler's thread)

  private void acquireFirst(Optional<Ipv4Subnet> previous, Optional<dev.tartan.net.Ipv6Subnet> previousV6,
      Duration backoff) {
    if (state != State.ACQUIRING) {
      return;
    }
    try {
      SubnetLease l = previousV6.isPresent() ? store.acquire(attrs.get(), previous, previousV6)
          : store.acquire(attrs.get(), previous);
      current = l;
      state = State.HELD;
      lastLogged = null;
      logAcquired(l, previous);
      tell("acquired", () -> listener.acquired(l));
      first.complete(l);
      if (renewing) {
        scheduleRenewal(l);
      }
    } catch (AccessDeniedException | RequestRejectedException e) {
      // refused for good (TLS, credentials, permissions, a request etcd will never accept): stop with its line
      state = State.STOPPED;
      first.completeExceptionally(e);
    } catch (NetworkConfigMissingException e) {
      logOnce(e.getMessage(), () -> log.info("waiting for the network config: {} (create it with `tartan network "
          + "init --network CIDR`)", e.getMessage()));
      later(() -> acquireFirst(previous, previousV6, longer(backoff)), backoff);
    } catch (LeaseStoreException e) {
      // the same failure for another randomly chosen subnet key is the same failure
      logOnce(e.getMessage().replaceAll("/subnets/[0-9.]+-[0-9]+", "/subnets/*"),
          () -> log.warn("cannot acquire a subnet lease yet: {}; retrying", e.getMessage()));
      later(() -> acquireFirst(previous, previousV6, longer(backoff)), backoff);
    }
  }

  private void scheduleRenewal(SubnetLease l) {
    cancelNext();
    if (l.expiresAt() == null) {
      log.debug("lease {} has no expiry (reservation): not renewing it", l.subnet());
      return;
    }
    Instant now = clock.instant();
    Duration ttl = Duration.between(now, l.expiresAt());
    Duration delay = RenewalSchedule.untilRenewal(now, l.expiresAt(), ttl, margin);
    log.debug("renewing lease {} in {} (expires {})", l.subnet(), delay, l.expiresAt());
    failures = 0;
    later(this::renewNow, delay);
  }

  private void renewNow() {
    next = null;
    SubnetLease l = current;
    if (state != State.HELD) {
      return;
    }
    Instant start = clock.instant();
    Optional<Duration> bound = RenewalSchedule.attemptTimeout(start, l.expiresAt(), requestTimeout);
    if (bound.isEmpty()) {
      lost(l, "it expired: " + failures + " renewal attempts could not reach etcd in time");
      return;
    }
    try {
      SubnetLease renewed = store.renew(l, bound.get());
      current = renewed;
      if (failures == 0) {
        log.info("lease renewed: {} until {}", renewed.subnet(), renewed.expiresAt());
      } else {
        log.info("lease renewed: {} until {} (after {} failed attempts)", renewed.subnet(), renewed.expiresAt(),
            failures);
      }
      tell("renewed", () -> listener.renewed(renewed));
      scheduleRenewal(renewed);
    } catch (LeaseLostException e) {
      lost(l, e.getMessage());
    } catch (AccessDeniedException e) {
      stop(l, e.getMessage());
    } catch (LeaseStoreException | RuntimeException e) {
      failures++;
      Instant now = clock.instant();
      Duration retryIn = RenewalSchedule.retryDelay(failures, Duration.between(start, now), now, l.expiresAt());
      // one WARN per run of failures; the retries are DEBUG and the renewal line counts them
      if (failures == 1) {
        log.warn("renewing lease {} failed: {}; retrying in {} ms ({} ms left; further failures are logged when it "
            + "renews or is lost)", l.subnet(), e.getMessage(), retryIn.toMillis(),
            Duration.between(now, l.expiresAt()).toMillis());
      } else {
        log.debug("renewing lease {} failed again (attempt {}): {}; retrying in {} ms ({} ms left)", l.subnet(),
            failures, e.getMessage(), retryIn.toMillis(), Duration.between(now, l.expiresAt()).toMillis());
      }
      tell("renewFailed", () -> listener.renewFailed(String.valueOf(e.getMessage()), retryIn));
      later(this::renewNow, retryIn);
    }
  }

  private void lost(SubnetLease l, String reason) {
    cancelNext();
    state = State.REACQUIRING;
    lastLogged = null;
    log.warn("lease {} lost ({}): re-acquiring it", l.subnet(), reason);
    tell("lost", () -> listener.lost(l, reason));
    reacquire(l, FIRST_BACKOFF);
  }

  private void reacquire(SubnetLease old, Duration backoff) {
    next = null;
    if (state != State.REACQUIRING) {
      return;
    }
    SubnetLease l;
    try {
      l = old.ipv6Subnet() != null ? store.acquire(attrs.get(), Optional.of(old.subnet()), Optional.of(old.ipv6Subnet()))
          : store.acquire(attrs.get(), Optional.of(old.subnet()));
    } catch (AccessDeniedException e) {
      stop(old, e.getMessage());
      return;
    } catch (LeaseStoreException e) {
      logOnce(e.getMessage().replaceAll("/subnets/[0-9.]+-[0-9]+", "/subnets/*"),
          () -> log.warn("re-acquiring the lease failed: {}; retrying in {} s", e.getMessage(), backoff.toSeconds()));
      later(() -> reacquire(old, longer(backoff)), backoff);
      return;
    }
    SubnetLease before = current;
    current = l;
    if (!l.equals(before)) {
      logAcquired(l, Optional.of(old.subnet()));
    }
    try {
      listener.reacquired(old, l);
    } catch (Exception e) {
      log.warn("putting the re-acquired lease {} in place failed: {}; retrying in {} s", l.subnet(), e.getMessage(),
          backoff.toSeconds());
      later(() -> reacquire(old, longer(backoff)), backoff);
      return;
    }
    state = State.HELD;
    lastLogged = null;
    if (renewing) {
      scheduleRenewal(l);
    }
    if (holdingPeers.get()) {
      try {
        exec.schedule(this::endHold, PEER_RESYNC_GRACE.toMillis(), TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        // shut down meanwhile
      }
    }
  }

  private void endHold() {
    if (state != State.HELD || !holdingPeers.compareAndSet(true, false)) {
      return;
    }
    log.info("network config and lease are back: re-reading every lease to drop the peers that did not return");
    SubnetLease l = current;
    tell("holdEnded", () -> listener.holdEnded(l));
  }

  private void stop(SubnetLease l, String reason) {
    cancelNext();
    state = State.STOPPED;
    log.error("etcd refused lease {} for good: {}; no longer renewing it (fix the access and restart the agent)",
        l.subnet(), reason);
    tell("stopped", () -> listener.stopped(l, reason));
  }

  private void logAcquired(SubnetLease l, Optional<Ipv4Subnet> previous) {
    if (previous.isPresent() && !previous.get().equals(l.subnet())) {
      log.warn("subnet changed: {} -> {} (the previous subnet was taken by another host or is outside the network "
          + "config); containers on the old subnet must be restarted", previous.get(), l.subnet());
    } else {
      // the store logs the one INFO line of this change (with how: new, reused, previous subnet)
      log.debug("lease acquired: {} ({})", l.subnet(), l.reserved() ? "reserved, no TTL" : "expires " + l.expiresAt());
    }
  }

  /** Calls the listener; its failure is a bug there, logged, and changes nothing here. */
  private static void tell(String what, Runnable call) {
    try {
      call.run();
    } catch (RuntimeException e) {
      log.error("lease keeper listener failed in {}", what, e);
    }
  }

  private void logOnce(String key, Runnable logIt) {
    if (!key.equals(lastLogged)) {
      lastLogged = key;
      logIt.run();
    }
  }

  private static Duration longer(Duration backoff) {
    Duration d = backoff.multipliedBy(2);
    return d.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : d;
  }

  private void later(Runnable task, Duration delay) {
    if (state == State.CLOSED) {
      return;
    }
    try {
      next = exec.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // shut down meanwhile
    }
  }

  private void cancelNext() {
    if (next != null) {
      next.cancel(false);
      next = null;
    }
  }

  /** Runs {@code task} on the scheduler's thread, unless the keeper was closed. */
  private void post(Runnable task) {
    try {
      exec.execute(() -> {
        if (state != State.CLOSED) {
          task.run();
        }
      });
    } catch (RejectedExecutionException e) {
      // shut down: nothing runs any more
    }
  }
}
