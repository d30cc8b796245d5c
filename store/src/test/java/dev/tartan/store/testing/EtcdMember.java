package dev.tartan.store.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One real {@code etcd} process of an {@link EtcdClusterExtension}. Ports and the data directory are
 * fixed for the member's lifetime, so {@link #start()} after {@link #kill()} or {@link #stop()} brings
 * the same member back (etcd replays its WAL and rejoins the cluster).
 */
public final class EtcdMember {
  private final EtcdClusterExtension cluster;
  private final int index;
  private final String name;
  private final Path dataDir;
  private final Path logFile;
  private int clientPort;
  private int peerPort;
  private Process process;
  private boolean paused;

  EtcdMember(EtcdClusterExtension cluster, int index, Path dataDir, Path logFile, int clientPort, int peerPort) {
    this.cluster = cluster;
    this.index = index;
    this.name = "m" + index;
    this.dataDir = dataDir;
    this.logFile = logFile;
    this.clientPort = clientPort;
    this.peerPort = peerPort;
  }

  /** The member's index in the cluster (0-based). */
  public int index() {
    return index;
  }

  /** The etcd member name ({@code m0}, {@code m1}, ...). */
  public String name() {
    return name;
  }

  /** {@code http://<client host>:<port>}. */
  public URI clientEndpoint() {
    return URI.create(cluster.clientScheme() + "://" + cluster.clientHost() + ":" + clientPort);
  }

  /** {@code http://<listen host>:<port>} used for raft traffic. */
  public URI peerEndpoint() {
    return URI.create("http://" + cluster.listenHost() + ":" + peerPort);
  }

  public Path dataDir() {
    return dataDir;
  }

  /** Where etcd's stdout and stderr go (appended across restarts). */
  public Path logFile() {
    return logFile;
  }

  /** The OS pid of the running process, or -1. */
  public synchronized long pid() {
    return isRunning() ? process.pid() : -1;
  }

  public synchronized boolean isRunning() {
    return process != null && process.isAlive();
  }

  /** Starts (or restarts) the member with its data dir and ports; does not wait for health. */
  public synchronized void start() {
    if (isRunning()) {
      throw new IllegalStateException(name + " is already running (pid " + process.pid() + ")");
    }
    List<String> cmd = new ArrayList<>(cluster.commandPrefix());
    cmd.add(cluster.etcdBinary().toString());
    cmd.addAll(List.of(
        "--name", name,
        "--data-dir", dataDir.toString(),
        "--listen-client-urls", clientEndpoint().toString(),
        "--advertise-client-urls", clientEndpoint().toString(),
        "--listen-peer-urls", peerEndpoint().toString(),
        "--initial-advertise-peer-urls", peerEndpoint().toString(),
        "--initial-cluster", cluster.initialCluster(),
        "--initial-cluster-token", cluster.clusterToken(),
        "--initial-cluster-state", "new",
        "--heartbeat-interval", Long.toString(cluster.heartbeat().toMillis()),
        "--election-timeout", Long.toString(cluster.electionTimeout().toMillis()),
        "--logger", "zap",
        "--log-outputs", "stderr"));
    cmd.addAll(cluster.extraArgs());
    ProcessBuilder pb = new ProcessBuilder(cmd)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
    try {
      process = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + cmd.get(0), e);
    }
    ProcessReaper.register(process);
  }

  /** SIGKILL: the member dies without any raft hand-over (like a host losing power). */
  public synchronized void kill() {
    resumeIfPaused();
    if (process != null) {
      process.destroyForcibly();
      awaitExit(Duration.ofSeconds(10));
      ProcessReaper.unregister(process);
    }
  }

  /**
   * SIGSTOP: the process freezes with its sockets open (the kernel still accepts and acknowledges
   * bytes; nothing is answered), as a member stalled by the host or cut off mid-connection.
   * {@link #resume()} undoes it; a frozen member is also resumed before {@link #kill()}/{@link #stop()}.
   */
  public synchronized void pause() {
    signal("STOP");
    paused = true;
  }

  /** SIGCONT after {@link #pause()}. */
  public synchronized void resume() {
    signal("CONT");
    paused = false;
  }

  private void signal(String name) {
    if (!isRunning()) {
      throw new IllegalStateException(this.name + " is not running");
    }
    try {
      Process p = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
      if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while signalling " + this.name, e);
    }
  }

  /**
   * SIGTERM and wait for exit: etcd hands leadership over gracefully. A member whose peers are all
   * dead can take several seconds; after 15 s it is killed.
   */
  public synchronized void stop() {
    resumeIfPaused();
    if (process != null) {
      process.destroy();
      if (!awaitExit(Duration.ofSeconds(15))) {
        process.destroyForcibly();
        awaitExit(Duration.ofSeconds(10));
      }
      ProcessReaper.unregister(process);
    }
  }

  private void resumeIfPaused() {
    if (paused && isRunning()) {
      resume();
    }
    paused = false;
  }

  private boolean awaitExit(Duration timeout) {
    try {
      return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** True when the last process exited on its own (e.g. a bind failure) rather than by kill/stop. */
  synchronized boolean exitedEarly() {
    return process != null && !process.isAlive();
  }

  synchronized void reassignPorts(int clientPort, int peerPort) {
    if (isRunning()) {
      throw new IllegalStateException(name + " is running");
    }
    this.clientPort = clientPort;
    this.peerPort = peerPort;
  }

  @Override
  public String toString() {
    return name + "(" + clientEndpoint() + (isRunning() ? ", running" : ", stopped") + ")";
  }
}
