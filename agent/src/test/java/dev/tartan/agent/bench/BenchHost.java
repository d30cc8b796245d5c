package dev.tartan.agent.bench;

import dev.tartan.agent.testbed.Cmd;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A "host" for the benchmarks: a network namespace whose {@code eth0} (198.51.100.N/24, default
 * route via .254) is a veth into the bridge of the control namespace, and the {@code tartan agent}
 * runs in it. The benchmark JVM itself runs inside the control namespace (so it reaches etcd and the
 * hosts on 198.51.100.0/24); nothing here touches the root namespace. {@link #close()} kills what
 * runs in the namespace and deletes it, which removes every link, route and entry in it.
 */
final class BenchHost implements AutoCloseable {
  static final String GATEWAY = "198.51.100.254";

  private final String ns;
  private final String ctl;
  private final int octet;
  private final Path dir;
  private final List<AgentRun> agents = new ArrayList<>();

  private BenchHost(String ns, String ctl, int octet, Path dir) {
    this.ns = ns;
    this.ctl = ctl;
    this.octet = octet;
    this.dir = dir;
  }

  /** Creates namespace {@code ns} as host 198.51.100.{@code octet} on {@code bridge} of {@code ctl}. */
  static BenchHost create(String ns, String ctl, String bridge, int octet, Path dir) throws IOException {
    Files.createDirectories(dir);
    BenchHost h = new BenchHost(ns, ctl, octet, dir);
    String veth = h.veth();
    try {
      Cmd.quiet("ip", "-n", ctl, "link", "del", veth); // a leftover of an earlier host with this number
      Cmd.run("ip", "netns", "add", ns);
      Cmd.run("ip", "-n", ns, "link", "set", "lo", "up");
      Cmd.run("ip", "-n", ctl, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
      Cmd.run("ip", "-n", ctl, "link", "set", veth, "master", bridge, "up");
      Cmd.run("ip", "-n", ns, "addr", "add", "198.51.100." + octet + "/24", "dev", "eth0");
      Cmd.run("ip", "-n", ns, "link", "set", "eth0", "up");
      Cmd.run("ip", "-n", ns, "route", "add", "default", "via", GATEWAY);
      return h;
    } catch (RuntimeException e) {
      h.close();
      throw e;
    }
  }

  String ns() {
    return ns;
  }

  /** The veth end in the control namespace's bridge. */
  private String veth() {
    return "vb" + octet;
  }

  Path nsPath() {
    return Path.of("/run/netns", ns);
  }

  Path dir() {
    return dir;
  }

  /** Every agent started in this host so far (running or not). */
  List<AgentRun> agents() {
    return List.copyOf(agents);
  }

  /**
   * Starts {@code tartan agent} in this host through {@code launcher} (the packaged /usr/bin/tartan
   * script, which execs java with the unit's JVM flags) on {@code jar}, with NOTIFY_SOCKET set, the
   * deployed config's {@code --ip-masq} and healthz on 127.0.0.1:8471 inside the host.
   */
  AgentRun startAgent(Path launcher, Path jar, String endpoints, String prefix, Path notifySocket)
      throws IOException {
    return startAgent(launcher, jar, endpoints, prefix, notifySocket, java.util.Map.of());
  }

  /** Like the above with extra environment, e.g. TARTAN_JAVA_OPTS for a diagnostic run. */
  AgentRun startAgent(Path launcher, Path jar, String endpoints, String prefix, Path notifySocket,
      java.util.Map<String, String> extraEnv) throws IOException {
    List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", ns, launcher.toString(), "agent",
        "--etcd-endpoints", endpoints, "--etcd-prefix", prefix,
        "--subnet-file", dir.resolve("subnet.env").toString(), "--ip-masq",
        "--healthz-ip", "127.0.0.1", "--healthz-port", "8471",
        "--attach-socket", dir.resolve("attach.sock").toString())); // not the machine-wide default path
    Path log = dir.resolve("agent-" + agents.size() + ".log");
    ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().keySet().removeIf(k -> k.startsWith("FLANNELD_") || k.equals("NOTIFY_SOCKET")
        || k.equals("JAVA_OPTS") || k.equals("TARTAN_JAVA_OPTS") || k.equals("JAVA_TOOL_OPTIONS"));
    pb.environment().put("TARTAN_JAR", jar.toString());
    pb.environment().put("NOTIFY_SOCKET", notifySocket.toString());
    pb.environment().putAll(extraEnv);
    long wall = System.currentTimeMillis();
    long t0 = System.nanoTime();
    Process p = pb.start();
    AgentRun a = new AgentRun(p, t0, wall, log);
    agents.add(a);
    return a;
  }

  /** One agent process; {@code ip netns exec} and the launcher both exec, so its pid is the JVM's. */
  static final class AgentRun {
    private final Process process;
    private final long startNanos;
    private final long startMillis;
    private final Path log;

    AgentRun(Process process, long startNanos, long startMillis, Path log) {
      this.process = process;
      this.startNanos = startNanos;
      this.startMillis = startMillis;
      this.log = log;
    }

    /** {@link System#currentTimeMillis()} just before the process was started. */
    long startMillis() {
      return startMillis;
    }

    long pid() {
      return process.pid();
    }

    /** {@link System#nanoTime()} just before the process was started. */
    long startNanos() {
      return startNanos;
    }

    boolean alive() {
      return process.isAlive();
    }

    Path log() {
      return log;
    }

    /** SIGTERM and wait (the agent keeps its lease and the kernel state), as {@code systemctl stop}. */
    void stop() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
      }
    }

    /** A line of /proc/PID/status, e.g. "VmRSS" -> kB; -1 when absent. */
    long statusKb(String field) throws IOException {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
        if (line.startsWith(field + ":")) {
          String v = line.substring(field.length() + 1).trim();
          return Long.parseLong(v.split("\\s+")[0]);
        }
      }
      return -1;
    }

    /** The JVM's command line as the kernel has it (NUL-separated in /proc). */
    String commandLine() throws IOException {
      byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid()), "cmdline"));
      return new String(raw, java.nio.charset.StandardCharsets.UTF_8).replace('\0', ' ').trim();
    }

    String exe() throws IOException {
      return Files.readSymbolicLink(Path.of("/proc", Long.toString(pid()), "exe")).toString();
    }
  }

  @Override
  public void close() {
    for (AgentRun a : agents) {
      if (a.alive()) {
        a.process.destroyForcibly();
        try {
          a.process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    String pids = Cmd.quiet("ip", "netns", "pids", ns).out().trim();
    if (!pids.isEmpty()) {
      List<String> kill = new ArrayList<>(List.of("kill", "-9"));
      kill.addAll(List.of(pids.split("\\s+")));
      Cmd.quiet(kill.toArray(String[]::new));
    }
    // Deleting one end of a veth deletes both at once; a namespace's own links go only when the kernel
    // gets round to cleaning it up, which can be after the next host with this number is created.
    Cmd.quiet("ip", "-n", ctl, "link", "del", veth());
    Cmd.quiet("ip", "netns", "del", ns);
  }
}
