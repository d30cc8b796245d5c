package dev.tartan.store;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
 * the tasks itself, on the test thread, so timing logic is checked without sleeping.
 */
public final class ManualScheduler extends AbstractExecutorService implements ScheduledExecutorService {

  /** One scheduled one-shot task. */
  public final class Task implements ScheduledFuture<Object> {
    private final Runnable body;
    private final Duration delay;
    private final CompletableFuture<Object> result = new CompletableFuture<>();

    Task(Runnable body, Duration delay) {
      this.body = body;
      this.delay = delay;
    }

    public Duration delay() {
      return delay;
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
  }

  private final List<Task> pending = new ArrayList<>();
  private boolean shutdown;

  /** Tasks scheduled and neither run nor cancelled, in scheduling order. */
  public synchronized List<Task> pending() {
    return List.copyOf(pending);
  }

  /** The only pending task (fails otherwise). */
  public synchronized Task single() {
    if (pending.size() != 1) {
      throw new AssertionError("expected exactly one scheduled task, found " + pending.size());
    }
    return pending.get(0);
  }

  @Override
  public synchronized ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
    Task t = new Task(command, Duration.ofNanos(unit.toNanos(delay)));
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
