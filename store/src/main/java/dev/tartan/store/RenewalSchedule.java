package dev.tartan.store;

import java.time.Duration;
import java.time.Instant;

/** When {@link LeaseRenewer} acts: pure functions of the clock's "now". */
final class RenewalSchedule {

  static final Duration FIRST_RETRY = Duration.ofSeconds(1);
  static final Duration MAX_RETRY = Duration.ofSeconds(60);
  static final Duration MIN_RETRY = Duration.ofMillis(50);

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
   * Delay before the next attempt after {@code failures} consecutive failed renewals: 1 s, doubling,
   * capped at 60 s; but never so long that the lease would expire before the next attempt (then half
   * the time left, at least 50 ms). Once expired by our clock, the plain backoff applies (the store
   * answers "lost" when etcd has deleted the key).
   */
  static Duration retryDelay(int failures, Instant now, Instant expiresAt) {
    Duration backoff = FIRST_RETRY;
    for (int i = 1; i < failures && backoff.compareTo(MAX_RETRY) < 0; i++) {
      backoff = backoff.multipliedBy(2);
    }
    if (backoff.compareTo(MAX_RETRY) > 0) {
      backoff = MAX_RETRY;
    }
    if (expiresAt == null) {
      return backoff;
    }
    Duration left = Duration.between(now, expiresAt);
    if (left.isNegative() || left.isZero() || backoff.compareTo(left) < 0) {
      return backoff;
    }
    Duration half = left.dividedBy(2);
    return half.compareTo(MIN_RETRY) < 0 ? MIN_RETRY : half;
  }
}
