package dev.tartan.store;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps our lease alive (flannel's renew loop): wakes at {@code expiresAt - margin} (the margin capped
 * at a third of the TTL so short test TTLs work), renews through the store, and on failure retries
 * with backoff 1 s, x2, up to 60 s, never letting the lease expire without an attempt. A reservation
 * (no expiry) is never renewed. When the store says the lease is lost (deleted, expired or taken by
 * another host) the renewer reports it once and stops.
 *
 * <p>All work runs on the given scheduler; listener calls come from its thread.
 */
public final class LeaseRenewer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(LeaseRenewer.class);

  /** What the renewer reports. */
  public interface Listener {
    /** The lease was renewed; {@code lease} is the new copy (new expiry, etcd lease, revision). */
    void onRenewed(SubnetLease lease);

    /** A renewal failed; the next attempt follows after {@code retryIn}. */
    void onRenewFailed(Exception e, Duration retryIn);

    /** The lease is gone or belongs to another host; the renewer has stopped. */
    void onLost(SubnetLease lease, String reason);
  }

  private final LeaseStore store;
  private final Duration margin;
  private final Clock clock;
  private final ScheduledExecutorService exec;
  private final Listener listener;

  private final Object lock = new Object();
  private volatile SubnetLease current;
  private int failures;
  private boolean started;
  private boolean stopped;
  private ScheduledFuture<?> next;

  /**
   * @param initial the lease just acquired
   * @param margin  renew this long before expiry (flannel's default: 60 min)
   */
  public LeaseRenewer(LeaseStore store, SubnetLease initial, Duration margin, Clock clock,
      ScheduledExecutorService exec, Listener l) {
    this.store = Objects.requireNonNull(store, "store");
    this.current = Objects.requireNonNull(initial, "initial");
    this.margin = Objects.requireNonNull(margin, "margin");
    if (margin.isNegative() || margin.isZero()) {
      throw new IllegalArgumentException("renew margin must be positive, got " + margin);
    }
    this.clock = Objects.requireNonNull(clock, "clock");
    this.exec = Objects.requireNonNull(exec, "exec");
    this.listener = Objects.requireNonNull(l, "listener");
  }

  /** Schedules the first renewal (nothing for a reservation). */
  public void start() {
    synchronized (lock) {
      if (started) {
        throw new IllegalStateException("already started");
      }
      started = true;
      scheduleRenewal(current);
    }
  }

  /** The latest copy of our lease. */
  public SubnetLease current() {
    return current;
  }

  /** Stops renewing (the lease stays in etcd until it expires). */
  @Override
  public void close() {
    synchronized (lock) {
      stopped = true;
      if (next != null) {
        next.cancel(false);
        next = null;
      }
    }
  }

  private void scheduleRenewal(SubnetLease lease) {
    if (lease.expiresAt() == null) {
      LOG.debug("lease {} has no expiry (reservation): not renewing it", lease.subnet());
      return;
    }
    Instant now = clock.instant();
    Duration ttl = Duration.between(now, lease.expiresAt());
    Duration delay = RenewalSchedule.untilRenewal(now, lease.expiresAt(), ttl, margin);
    LOG.debug("renewing lease {} in {} (expires {})", lease.subnet(), delay, lease.expiresAt());
    schedule(delay);
  }

  private void schedule(Duration delay) {
    if (stopped) {
      return;
    }
    next = exec.schedule(this::renewNow, delay.toNanos(), TimeUnit.NANOSECONDS);
  }

  private void renewNow() {
    SubnetLease lease;
    synchronized (lock) {
      if (stopped) {
        return;
      }
      lease = current;
    }
    try {
      SubnetLease renewed = store.renew(lease);
      synchronized (lock) {
        current = renewed;
        failures = 0;
        if (stopped) {
          return;
        }
        scheduleRenewal(renewed);
      }
      try {
        listener.onRenewed(renewed);
      } catch (RuntimeException e) {
        LOG.error("lease renewer listener failed in onRenewed", e);
      }
    } catch (LeaseLostException e) {
      synchronized (lock) {
        stopped = true;
        next = null;
      }
      LOG.error("lease {} lost: {}", lease.subnet(), e.getMessage());
      try {
        listener.onLost(lease, e.getMessage());
      } catch (RuntimeException re) {
        LOG.error("lease renewer listener failed in onLost", re);
      }
    } catch (LeaseStoreException | RuntimeException e) {
      Duration retryIn;
      synchronized (lock) {
        failures++;
        retryIn = RenewalSchedule.retryDelay(failures, clock.instant(), lease.expiresAt());
        if (stopped) {
          return;
        }
        schedule(retryIn);
      }
      LOG.warn("renewing lease {} failed: {}; retrying in {} ms", lease.subnet(), e.getMessage(),
          retryIn.toMillis());
      try {
        listener.onRenewFailed(e, retryIn);
      } catch (RuntimeException re) {
        LOG.error("lease renewer listener failed in onRenewFailed", re);
      }
    }
  }
}
