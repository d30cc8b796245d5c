package dev.tartan.agent.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * A one-line progress display on stderr for commands that can take a while ({@code doctor} on a
 * large network, {@code leases list} with thousands of leases): the current step and the time so
 * far, redrawn in place every 250 ms and erased when done. Only when stderr is a terminal (and
 * {@link System#console()} exists); piped or redirected, it prints nothing at all.
 */
final class Progress implements AutoCloseable {
  private static final long REDRAW_MS = 250;
  /** Nothing is drawn for steps shorter than this: quick commands stay silent. */
  private static final long QUIET_MS = 500;

  private final PrintWriter err;
  private final boolean enabled;
  private final LongSupplier nanos;
  private final long start;
  private volatile String step = "";
  private boolean drawn;
  private Thread ticker;

  Progress(PrintWriter err, boolean enabled, LongSupplier nanos) {
    this.err = err;
    this.enabled = enabled;
    this.nanos = nanos;
    this.start = nanos.getAsLong();
  }

  /** Starts showing {@code step} on {@code err} when stderr is a terminal; a silent one otherwise. */
  static Progress start(PrintWriter err, String step) {
    Progress p = new Progress(err, onTerminal(), System::nanoTime);
    p.step(step);
    if (p.enabled) {
      p.ticker = new Thread(p::tick, "progress");
      p.ticker.setDaemon(true);
      p.ticker.start();
    }
    return p;
  }

  /** True when stdin/stdout are a terminal (a console exists) and stderr is one too. */
  static boolean onTerminal() {
    if (System.console() == null) {
      return false;
    }
    try {
      String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
      return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
    } catch (Exception e) {
      return false;
    }
  }

  boolean enabled() {
    return enabled;
  }

  /** The step now running, e.g. "reading leases from etcd". */
  void step(String text) {
    step = text;
  }

  private void tick() {
    try {
      while (!Thread.currentThread().isInterrupted()) {
        TimeUnit.MILLISECONDS.sleep(REDRAW_MS);
        draw();
      }
    } catch (InterruptedException e) {
      // closed
    }
  }

  /** Redraws the line (the ticker calls it; tests call it directly). */
  synchronized void draw() {
    if (!enabled) {
      return;
    }
    long ms = TimeUnit.NANOSECONDS.toMillis(nanos.getAsLong() - start);
    if (ms < QUIET_MS) {
      return;
    }
    err.print("\r\033[K" + step + " ... " + String.format(Locale.ROOT, "%.1f s", ms / 1000.0));
    err.flush();
    drawn = true;
  }

  /** Stops and erases the line. */
  @Override
  public void close() {
    Thread t = ticker;
    if (t != null) {
      t.interrupt();
      try {
        t.join(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    synchronized (this) {
      if (drawn) {
        err.print("\r\033[K");
        err.flush();
        drawn = false;
      }
    }
  }
}
