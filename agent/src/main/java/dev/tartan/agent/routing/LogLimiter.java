package dev.tartan.agent.routing;

import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * At most {@code perSecond} lines in any one-second window; the rest are counted. {@link
 * #takeSuppressed()} hands the count over once the window they fell in has ended, so the caller
 * can print one line saying how many were left out. Thread-safe.
 */
final class LogLimiter {
  private static final long WINDOW = TimeUnit.SECONDS.toNanos(1);

  private final int perSecond;
  private final LongSupplier nanos;
  private long windowStart;
  private int inWindow;
  private long suppressed;
  private boolean started;

  LogLimiter(int perSecond, LongSupplier nanos) {
    if (perSecond < 1) {
      throw new IllegalArgumentException("perSecond must be at least 1");
    }
    this.perSecond = perSecond;
    this.nanos = Objects.requireNonNull(nanos, "nanos");
  }

  /** True when one more line may be printed now; false counts it as suppressed. */
  synchronized boolean allow() {
    roll();
    if (inWindow < perSecond) {
      inWindow++;
      return true;
    }
    suppressed++;
    return false;
  }

  /** The lines suppressed in windows that have ended (then 0 again), or 0 while one is running. */
  synchronized long takeSuppressed() {
    roll();
    if (suppressed == 0 || inWindow >= perSecond) {
      return 0; // the window that suppressed them is still running
    }
    long n = suppressed;
    suppressed = 0;
    return n;
  }

  /** True while suppressed lines are counted and not yet taken. */
  synchronized boolean pending() {
    return suppressed > 0;
  }

  private void roll() {
    long now = nanos.getAsLong();
    if (!started || now - windowStart >= WINDOW) {
      started = true;
      windowStart = now;
      inWindow = 0;
    }
  }
}
