package dev.tartan.store.testing;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Delayed;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A scheduler that only records what is scheduled; the test looks at the requested delays and runs
 * the tasks itself, on the test thread, so timing logic is checked without sleeping. With a
 * {@link ManualClock} each task also has a due time, and {@link #runDue()}, {@link #runNext()} and
 * {@link #advance(Duration)} play the clock forward task by task.
 */
public final class ManualScheduler extends AbstractExecutorService implements ScheduledExecutorService {

  /** One scheduled one-shot task. */
  public final class Task implements ScheduledFuture<Object> {
    private final Runnable body;
    private final Duration delay;
    private final Instant due;
    private final long seq;
    private final CompletableFuture<Object> result = new CompletableFuture<>();

    Task(Runnable body, Duration delay, Instant due, long seq) {
      this.body = body;
      this.delay = delay;
      this.due = due;
      this.seq = seq;
    }

    public Duration delay() {
      return delay;
    }

    /** When the task is due by the manual clock (null without one). */
    public Instant due() {
      return due;
    }

    /** Runs the task now (as if its delay had passed). */
    public void run() {
      synchronized (ManualScheduler.this) {
        pending.remove(this);
      }
      if (!result.isDone()) {
        body.run();
        result.complete(null);
      }
    }

    @Override
    public long getDelay(TimeUnit unit) {
      return unit.convert(delay.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    public int compareTo(Delayed o) {
      return Long.compare(getDelay(TimeUnit.NANOSECONDS), o.getDelay(TimeUnit.NANOSECONDS));
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      synchronized (ManualScheduler.this) {
        pending.remove(this);
      }
      return result.cancel(false);
    }

    @Override
    public boolean isCancelled() {
      return result.isCancelled();
    }

    @Override
    public boolean isDone() {
      return result.isDone();
    }

    @Override
    public Object get() throws InterruptedException, ExecutionException {
      return result.get();
    }

    @Override
    public Object get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException,
        TimeoutException {
      return result.get(timeout, unit);
    }

    @Override
    public String toString() {
      return "task due " + (due != null ? due : "in " + delay);
    }
  }

  private final ManualClock clock;
  private final List<Task> pending = new ArrayList<>();
  private long seq;
  private boolean shutdown;

  /** Records delays only; the test runs tasks by hand. */
  public ManualScheduler() {
    this(null);
  }

  /** Tasks are due at {@code clock}'s time plus their delay. */
  public ManualScheduler(ManualClock clock) {
    this.clock = clock;
  }

  /** Tasks scheduled and neither run nor cancelled, in scheduling order. */
  public synchronized List<Task> pending() {
    return List.copyOf(pending);
  }

  /** The only pending task (fails otherwise). */
  public synchronized Task single() {
    if (pending.size() != 1) {
      throw new AssertionError("expected exactly one scheduled task, found " + pending.size() + ": " + pending);
    }
    return pending.get(0);
  }

  /** The pending task due first (ties: scheduled first). */
  public synchronized Optional<Task> next() {
    return pending.stream().min(Comparator.comparing((Task t) -> t.due).thenComparingLong(t -> t.seq));
  }

  /** Runs every task due by now, also those the tasks schedule for now; returns how many ran. */
  public int runDue() {
    requireClock();
    int ran = 0;
    while (true) {
      Optional<Task> t = next();
      if (t.isEmpty() || t.get().due.isAfter(clock.instant())) {
        return ran;
      }
      t.get().run();
      ran++;
    }
  }

  /** Moves the clock to the next task's due time (if later) and runs it; false when none is pending. */
  public boolean runNext() {
    requireClock();
    Optional<Task> t = next();
    if (t.isEmpty()) {
      return false;
    }
    clock.advanceTo(t.get().due);
    t.get().run();
    return true;
  }

  /** Plays {@code d} forward: every task due meanwhile runs at its due time, in order. */
  public void advance(Duration d) {
    requireClock();
    Instant end = clock.instant().plus(d);
    while (true) {
      Optional<Task> t = next();
      if (t.isEmpty() || t.get().due.isAfter(end)) {
        break;
      }
      clock.advanceTo(t.get().due);
      t.get().run();
    }
    clock.advanceTo(end);
  }

  private void requireClock() {
    if (clock == null) {
      throw new IllegalStateException("this scheduler has no ManualClock");
    }
  }

  @Override
  public synchronized ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
    if (shutdown) {
      throw new java.util.concurrent.RejectedExecutionException("shut down");
    }
    Duration d = Duration.ofNanos(unit.toNanos(delay));
    Task t = new Task(command, d, clock == null ? null : clock.instant().plus(d.isNegative() ? Duration.ZERO : d),
        seq++);
    pending.add(t);
    return t;
  }

  @Override
  public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
    throw new UnsupportedOperationException();
  }

  @Override
  public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
    throw new UnsupportedOperationException();
  }

  @Override
  public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
    throw new UnsupportedOperationException();
  }

  @Override
  public void execute(Runnable command) {
    schedule(command, 0, TimeUnit.NANOSECONDS);
  }

  @Override
  public synchronized void shutdown() {
    shutdown = true;
  }

  @Override
  public synchronized List<Runnable> shutdownNow() {
    shutdown = true;
    pending.clear();
    return List.of();
  }

  @Override
  public synchronized boolean isShutdown() {
    return shutdown;
  }

  @Override
  public synchronized boolean isTerminated() {
    return shutdown && pending.isEmpty();
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return isTerminated();
  }
}
