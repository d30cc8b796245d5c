package dev.tartan.agent.lease;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class RenewalScheduleTest {

  private static final Instant NOW = Instant.parse("2026-11-27T10:00:00Z");

  @Test
  void flannelDefaultsRenewAnHourBeforeExpiry() {
    Duration ttl = Duration.ofHours(24);
    assertThat(RenewalSchedule.effectiveMargin(Duration.ofMinutes(60), ttl)).isEqualTo(Duration.ofMinutes(60));
    assertThat(RenewalSchedule.untilRenewal(NOW, NOW.plus(ttl), ttl, Duration.ofMinutes(60)))
        .isEqualTo(Duration.ofHours(23));
  }

  @Test
  void marginIsCappedAtAThirdOfTheTtl() {
    Duration ttl = Duration.ofSeconds(6);
    assertThat(RenewalSchedule.effectiveMargin(Duration.ofMinutes(60), ttl)).isEqualTo(Duration.ofSeconds(2));
    assertThat(RenewalSchedule.untilRenewal(NOW, NOW.plus(ttl), ttl, Duration.ofMinutes(60)))
        .isEqualTo(Duration.ofSeconds(4));
    // a 1439-minute margin (flannel's maximum) on a 24 h lease: 8 h, not 1 min before expiry
    assertThat(RenewalSchedule.effectiveMargin(Duration.ofMinutes(1439), Duration.ofHours(24)))
        .isEqualTo(Duration.ofHours(8));
  }

  @Test
  void aSmallMarginIsUsedAsIs() {
    Duration ttl = Duration.ofSeconds(60);
    assertThat(RenewalSchedule.untilRenewal(NOW, NOW.plus(ttl), ttl, Duration.ofSeconds(5)))
        .isEqualTo(Duration.ofSeconds(55));
  }

  @Test
  void overdueRenewalHappensAtOnce() {
    Duration ttl = Duration.ofSeconds(60);
    assertThat(RenewalSchedule.untilRenewal(NOW, NOW.plusSeconds(3), ttl, Duration.ofSeconds(20)))
        .isEqualTo(Duration.ZERO);
    assertThat(RenewalSchedule.untilRenewal(NOW, NOW.minusSeconds(3), ttl, Duration.ofSeconds(20)))
        .isEqualTo(Duration.ZERO);
  }

  @Test
  void retryBackoffDoublesUpToAMinute() {
    Instant far = NOW.plus(Duration.ofHours(1));
    long[] expected = {1, 2, 4, 8, 16, 32, 60, 60, 60};
    for (int f = 1; f <= expected.length; f++) {
      assertThat(RenewalSchedule.retryDelay(f, Duration.ZERO, NOW, far)).as("failure %d", f)
          .isEqualTo(Duration.ofSeconds(expected[f - 1]));
    }
    assertThat(RenewalSchedule.retryDelay(1000, Duration.ZERO, NOW, far)).isEqualTo(Duration.ofSeconds(60));
  }

  @Test
  void retriesSpreadOverTheTimeLeft() {
    // 10 s left, backoff would be 16 s: try again after half of what is left.
    assertThat(RenewalSchedule.retryDelay(5, Duration.ZERO, NOW, NOW.plusSeconds(10))).isEqualTo(Duration.ofSeconds(5));
    // 1 s left, backoff 1 s: half a second.
    assertThat(RenewalSchedule.retryDelay(1, Duration.ZERO, NOW, NOW.plusSeconds(1))).isEqualTo(Duration.ofMillis(500));
    // almost expired: at least 50 ms, no busy loop
    assertThat(RenewalSchedule.retryDelay(3, Duration.ZERO, NOW, NOW.plusMillis(20))).isEqualTo(Duration.ofMillis(50));
    // backoff shorter than half of what is left: plain backoff
    assertThat(RenewalSchedule.retryDelay(2, Duration.ZERO, NOW, NOW.plusSeconds(5))).isEqualTo(Duration.ofSeconds(2));
  }

  @Test
  void anAttemptThatHungCountsAgainstTheBackoff() {
    // the attempt waited 4.5 s for a stalled connection: the retry (on a fresh one) goes at once
    assertThat(RenewalSchedule.retryDelay(1, Duration.ofMillis(4500), NOW, NOW.plusMillis(5500)))
        .isEqualTo(RenewalSchedule.MIN_RETRY);
    assertThat(RenewalSchedule.retryDelay(3, Duration.ofSeconds(1), NOW, NOW.plus(Duration.ofHours(1))))
        .isEqualTo(Duration.ofSeconds(3));
  }

  @Test
  void anAttemptNeverOutlivesTheLease() {
    Duration request = RenewalSchedule.REQUEST_TIMEOUT;
    // plenty of time: the request timeout
    assertThat(RenewalSchedule.attemptTimeout(NOW, NOW.plus(Duration.ofHours(1)), request)).contains(request);
    // flannel's 30 s TTL with the 10 s margin: half of (10 s less a 1 s guard)
    assertThat(RenewalSchedule.attemptTimeout(NOW, NOW.plusSeconds(10), request)).contains(Duration.ofMillis(4500));
    // 1 s left: half of 0.9 s
    assertThat(RenewalSchedule.attemptTimeout(NOW, NOW.plusSeconds(1), request)).contains(Duration.ofMillis(450));
    // 100 ms left: the last attempt gets all of the 90 ms usable
    assertThat(RenewalSchedule.attemptTimeout(NOW, NOW.plusMillis(100), request)).contains(Duration.ofMillis(90));
    // less than that: lapsed
    assertThat(RenewalSchedule.attemptTimeout(NOW, NOW.plusMillis(50), request)).isEmpty();
    assertThat(RenewalSchedule.attemptTimeout(NOW, NOW.minusSeconds(1), request)).isEmpty();
    // a reservation never expires
    assertThat(RenewalSchedule.attemptTimeout(NOW, null, request)).contains(request);
  }

  @Test
  void attemptBoundsShrinkWithTheTimeLeft() {
    Duration previous = RenewalSchedule.REQUEST_TIMEOUT;
    for (long left = 20_000; left >= 100; left /= 2) {
      Duration t = RenewalSchedule.attemptTimeout(NOW, NOW.plusMillis(left), RenewalSchedule.REQUEST_TIMEOUT)
          .orElseThrow();
      assertThat(t).isLessThanOrEqualTo(previous).isLessThan(Duration.ofMillis(left));
      previous = t;
    }
  }
}
