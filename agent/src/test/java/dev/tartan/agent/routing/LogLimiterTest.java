package dev.tartan.agent.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LogLimiterTest {
  final AtomicLong now = new AtomicLong();
  final LogLimiter limiter = new LogLimiter(20, now::get);

  @Test
  void twentyASecondThenCountedAndReportedWhenTheSecondIsOver() {
    int allowed = 0;
    for (int i = 0; i < 1000; i++) {
      allowed += limiter.allow() ? 1 : 0;
    }
    assertThat(allowed).isEqualTo(20);
    assertThat(limiter.takeSuppressed()).isZero(); // the second is not over

    now.addAndGet(TimeUnit.SECONDS.toNanos(1));
    assertThat(limiter.takeSuppressed()).isEqualTo(980);
    assertThat(limiter.takeSuppressed()).isZero();
    assertThat(limiter.allow()).isTrue();
  }
}
