package dev.tartan.agent.routing;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One thread that runs a {@link Pass} (normally: check the device, compute the desired state,
 * {@link Reconciler#reconcile}) when triggered and every resync interval. Triggers coalesce: any
 * number of triggers while a pass waits or runs cause exactly one more pass. A failed pass is
 * retried with a backoff (250 ms doubling, capped at the resync interval); the failure is logged
 * at WARN once, repeats at DEBUG, and recovery at INFO.
 */
public final class ReconcileLoop implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReconcileLoop.class);
  private static final long FIRST_RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

  /**
   * One pass; thrown exceptions count as a failed pass. Returning null means "nothing to do
   * yet" (e.g. no lease snapshot so far): not a failure, not a sync; the next trigger runs again.
   */
  @FunctionalInterface
  public interface Pass {
    ReconcileResult run() throws Exception;
  }

  private final Pass pass;
  private final long intervalNanos;
  private final Thread thread;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  private final Condition done = lock.newCondition();
  private boolean pending = true; // the first pass runs at start
  private boolean closed;
  private boolean started;
  private final AtomicLong runs = new AtomicLong();
  private final AtomicLong failedRuns = new AtomicLong();
  private final AtomicLong triggers = new AtomicLong();
  private volatile ReconcileResult lastResult;
  private volatile boolean succeededOnce;
  private volatile String lastError;

  /**
   * @param name           thread name ("tartan-reconcile")
   * @param resyncInterval full pass at least this often (Tartan's {@code --resync-interval})
   */
  public ReconcileLoop(String name, Duration resyncInterval, Pass pass) {
    this.pass = Objects.requireNonNull(pass, "pass");
    if (resyncInterval.isNegative() || resyncInterval.isZero()) {
      throw new IllegalArgumentException("resync interval must be positive, got " + resyncInterval);
    }
    this.intervalNanos = resyncInterval.toNanos();
    this.thread = new Thread(this::loop, name);
    this.thread.setDaemon(true);
  }

  /** Starts the thread; the first pass runs at once. */
  public void start() {
    lock.lock();
    try {
      if (started) {
        throw new IllegalStateException("already started");
      }
      started = true;
    } finally {
      lock.unlock();
    }
    thread.start();
  }

  /** Asks for a pass soon; never blocks (safe from watch and netlink monitor threads). */
  public void trigger() {
    triggers.incrementAndGet();
    lock.lock();
    try {
      pending = true;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void loop() {
    long retryNanos = FIRST_RETRY_NANOS;
    long waitNanos = 0;
    while (true) {
      lock.lock();
      try {
        long deadline = System.nanoTime() + waitNanos;
        while (!pending && !closed) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            break;
          }
          try {
            wake.awaitNanos(left);
          } catch (InterruptedException e) {
            closed = true;
          }
        }
        if (closed) {
          done.signalAll();
          return;
        }
        pending = false;
      } finally {
        lock.unlock();
      }
      boolean ok = runOnce();
      if (ok) {
        retryNanos = FIRST_RETRY_NANOS;
        waitNanos = intervalNanos;
      } else {
        waitNanos = Math.min(retryNanos, intervalNanos);
        retryNanos = Math.min(retryNanos * 2, intervalNanos);
      }
      lock.lock();
      try {
        done.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  private boolean runOnce() {
    try {
      ReconcileResult r = pass.run();
      runs.incrementAndGet();
      if (r == null) {
        return true;
      }
      lastResult = r;
      succeededOnce = true;
      if (lastError != null) {
        log.info("reconcile works again (after: {})", lastError);
        lastError = null;
      }
      return true;
    } catch (Exception e) {
      runs.incrementAndGet();
      failedRuns.incrementAndGet();
      String msg = e.getClass().getSimpleName() + ": " + e.getMessage();
      if (msg.equals(lastError)) {
        log.debug("reconcile failed again: {}", msg);
      } else if (e instanceof RuntimeException) {
        log.warn("reconcile failed, retrying: {}", msg, e);
      } else {
        log.warn("reconcile failed, retrying: {}", msg);
      }
      lastError = msg;
      return false;
    }
  }

  /** Passes run so far (successful and failed). */
  public long runs() {
    return runs.get();
  }

  public long failedRuns() {
    return failedRuns.get();
  }

  /** Calls to {@link #trigger()} so far. */
  public long triggers() {
    return triggers.get();
  }

  /** The last successful pass's result, or null. */
  public ReconcileResult lastResult() {
    return lastResult;
  }

  /** True once a pass has succeeded ("first sync done" for /readyz). */
  public boolean synced() {
    return succeededOnce;
  }

  /** The last failure's text while passes keep failing, else null. */
  public String lastError() {
    return lastError;
  }

  /** The thread is running (for /healthz). */
  public boolean alive() {
    return thread.isAlive();
  }

  /** Waits until a pass has succeeded; false on timeout. */
  public boolean awaitSynced(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    lock.lock();
    try {
      while (!succeededOnce) {
        long left = deadline - System.nanoTime();
        if (left <= 0 || closed) {
          return succeededOnce;
        }
        done.awaitNanos(left);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Stops the thread after the pass in progress (kernel state is left as it is). */
  @Override
  public void close() {
    lock.lock();
    try {
      closed = true;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
    if (Thread.currentThread() != thread && thread.isAlive()) {
      try {
        thread.join(TimeUnit.SECONDS.toMillis(10));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
