package dev.tartan.agent.lease;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/** When {@link LeaseKeeper} renews, how long one attempt may take, and when it tries again. Pure. */
final class RenewalSchedule {

  /** An attempt's bound when the lease has plenty of time left (the etcd store's own request timeout). */
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
  static final Duration FIRST_RETRY = Duration.ofSeconds(1);
  static final Duration MAX_RETRY = Duration.ofSeconds(60);
  static final Duration MIN_RETRY = Duration.ofMillis(50);
  /** An attempt shorter than this cannot be useful: the lease has lapsed. */
  static final Duration MIN_ATTEMPT = Duration.ofMillis(50);
  /** Kept free before the expiry by our clock (a tenth of what is left, at most this). */
  static final Duration MAX_GUARD = Duration.ofSeconds(1);

  private RenewalSchedule() {}

  /**
   * The margin actually used: the configured one (flannel's {@code --subnet-lease-renew-margin},
   * default 60 min), but at most a third of the lease's TTL so that short TTLs renew in time.
   */
  static Duration effectiveMargin(Duration margin, Duration ttl) {
    Duration third = ttl.dividedBy(3);
    return margin.compareTo(third) <= 0 ? margin : third;
  }

  /** Delay until renewing a lease that expires at {@code expiresAt} and was granted for {@code ttl}. */
  static Duration untilRenewal(Instant now, Instant expiresAt, Duration ttl, Duration margin) {
    Duration d = Duration.between(now, expiresAt.minus(effectiveMargin(margin, ttl)));
    return d.isNegative() ? Duration.ZERO : d;
  }

  /**
   * How long one renewal attempt may wait for etcd: never past the lease's expiry. Of the time left
   * (less a guard of a tenth, at most 1 s) an attempt gets half, so that a retry on a fresh
   * connection still fits after an attempt that hung on a stalled one; at most {@code requestTimeout}.
   * Empty when the lease has lapsed by our clock (no useful attempt fits any more).
   */
  static Optional<Duration> attemptTimeout(Instant now, Instant expiresAt, Duration requestTimeout) {
    if (expiresAt == null) {
      return Optional.of(requestTimeout);
    }
    Duration left = Duration.between(now, expiresAt);
    Duration guard = left.dividedBy(10);
    if (guard.compareTo(MAX_GUARD) > 0) {
      guard = MAX_GUARD;
    }
    Duration usable = left.minus(guard);
    if (usable.compareTo(MIN_ATTEMPT) < 0) {
      return Optional.empty();
    }
    Duration half = usable.dividedBy(2);
    Duration t = half.compareTo(MIN_ATTEMPT) < 0 ? usable : half;
    return Optional.of(t.compareTo(requestTimeout) < 0 ? t : requestTimeout);
  }

  /**
   * Delay before the next attempt after {@code failures} consecutive failed renewals: 1 s, doubling,
   * capped at 60 s, less the time the failed attempt already took; but at most half the time left, so
   * the retries spread over what is left instead of one late attempt (at least 50 ms: no busy loop).
   */
  static Duration retryDelay(int failures, Duration spent, Instant now, Instant expiresAt) {
    Duration backoff = FIRST_RETRY;
    for (int i = 1; i < failures && backoff.compareTo(MAX_RETRY) < 0; i++) {
      backoff = backoff.multipliedBy(2);
    }
    if (backoff.compareTo(MAX_RETRY) > 0) {
      backoff = MAX_RETRY;
    }
    Duration d = backoff.minus(spent);
    if (expiresAt != null) {
      Duration half = Duration.between(now, expiresAt).dividedBy(2);
      if (half.compareTo(d) < 0) {
        d = half;
      }
    }
    return d.compareTo(MIN_RETRY) < 0 ? MIN_RETRY : d;
  }
}
