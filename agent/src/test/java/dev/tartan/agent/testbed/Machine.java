package dev.tartan.agent.testbed;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A Debian machine booted by {@code systemd-nspawn} inside a testbed host's network namespace, with
 * its own systemd as PID 1 (environment.md §9): the host's eth0 (198.51.100.h) is the machine's eth0.
 *
 * <ul>
 *   <li>Root file system: an overlayfs over the cached root fs of {@code scripts/rootfs.sh SUITE}
 *       (never modified), upper and work directories in the testbed's directory.
 *   <li>Cgroups: nspawn runs in a cgroup of its own below this JVM's cgroup in every mounted hierarchy
 *       ({@code --keep-unit} makes it create {@code payload}/{@code supervisor} below its own).
 *   <li>Booted with {@code --register=no --keep-unit -b --console=passive --capability=CAP_NET_ADMIN};
 *       after boot {@code /proc/sys/net} is made writable (what nspawn does for its own private
 *       network), so a service can write net sysctls.
 *   <li>Commands run with {@code nsenter -t PID1 -a} and a clean environment.
 * </ul>
 *
 * {@link #close()} powers the machine off (killed after a grace period), then removes its cgroups,
 * the overlay mount and its directories. Machines are registered with the testbed, which closes them
 * before it deletes its namespaces, also from its shutdown hook.
 */
public final class Machine implements AutoCloseable {
  /** Debian releases the root file systems come in. */
  public enum Suite {
    BOOKWORM("bookworm", "Debian 12"), TRIXIE("trixie", "Debian 13");

    private final String codename;
    private final String title;

    Suite(String codename, String title) {
      this.codename = codename;
      this.title = title;
    }

    public String codename() {
      return codename;
    }

    @Override
    public String toString() {
      return title;
    }
  }

  public static final Map<String, String> ENV = Map.of(
      "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME", "/root", "LANG", "C.UTF-8", "TERM", "dumb", "SYSTEMD_PAGER", "", "SYSTEMD_COLORS", "0",
      "DEBIAN_FRONTEND", "noninteractive");
  /** Services of the root fs that nothing here uses, masked for faster boots (podman's also fail in a Debian 12 machine on hybrid cgroups). */
  private static final List<String> MASKED = List.of("etcd.service", "containerd.service",
      "podman-auto-update.timer", "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer",
      "fstrim.timer", "man-db.timer", "dpkg-db-backup.timer", "podman.service", "podman.socket",
      "podman-restart.service", "podman-auto-update.service", "podman-clean-transient.service");
  private static final Map<Suite, Path> ROOTFS = new ConcurrentHashMap<>();

  private final Testbed bed;
  private final int host;
  private final Suite suite;
  private final String name;
  private final Path dir;
  private final Path root;
  private final List<Path> cgroups = new ArrayList<>();
  private Process nspawn;
  private long pid1;
  private boolean mounted;
  private boolean closed;

  private Machine(Testbed bed, int host, Suite suite) {
    this.bed = bed;
    this.host = host;
    this.suite = suite;
    this.name = bed.host(host);
    this.dir = bed.dir().resolve("machine-h" + host);
    this.root = dir.resolve("root");
  }

  /** Why machines cannot be booted here, or null. */
  public static String unavailableReason() {
    if (!Cmd.rootWith("systemd-nspawn", "nsenter", "mount", "umount")) {
      return "needs root, systemd-nspawn (systemd-container), nsenter and mount (sudo scripts/install-deps.sh)";
    }
    if (!Cmd.onPath("mmdebstrap") && !rootfsCached()) {
      return "needs mmdebstrap to build the Debian root file systems (sudo scripts/install-deps.sh)";
    }
    if (!Files.isDirectory(Path.of("/sys/fs/cgroup"))) {
      return "needs cgroups mounted at /sys/fs/cgroup";
    }
    return null;
  }

  private static boolean rootfsCached() {
    try (Stream<Path> s = Files.list(Path.of("/var/cache/tartan-test/rootfs"))) {
      return s.anyMatch(p -> Files.exists(p.resolve(".complete")));
    } catch (IOException e) {
      return false;
    }
  }

  /** The cached root fs of {@code suite}, built by scripts/rootfs.sh on first use (a few minutes). */
  public static Path rootfs(Suite suite) {
    return ROOTFS.computeIfAbsent(suite, s -> {
      Path script = Path.of("..", "scripts", "rootfs.sh").toAbsolutePath().normalize();
      Cmd.Result r = Cmd.exec(Duration.ofMinutes(20), List.of(script.toString(), s.codename()));
      if (!r.ok()) {
        throw new IllegalStateException("scripts/rootfs.sh " + s.codename() + " failed:\n" + r.err() + r.out());
      }
      return Path.of(r.out().strip());
    });
  }

  /**
   * Boots a machine from {@code suite} in host {@code h} of {@code bed} and waits until its systemd
   * says {@code running} (a {@code degraded} boot fails with the failed units).
   */
  public static Machine boot(Testbed bed, int h, Suite suite) {
    Path lower = rootfs(suite);
    Machine m = new Machine(bed, h, suite);
    bed.closeFirst(m);
    try {
      m.start(lower);
      return m;
    } catch (RuntimeException | Error e) {
      m.close();
      throw e;
    }
  }

  private void start(Path lower) {
    try {
      Files.createDirectories(dir.resolve("upper"));
      Files.createDirectories(dir.resolve("work"));
      Files.createDirectories(root);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Cmd.run("mount", "-t", "overlay", "overlay", "-o", "lowerdir=" + lower + ",upperdir=" + dir.resolve("upper")
        + ",workdir=" + dir.resolve("work"), root.toString());
    mounted = true;
    try {
      Path etc = root.resolve("etc");
      Files.writeString(etc.resolve("hostname"), name + "\n");
      for (String unit : MASKED) {
        Path link = etc.resolve("systemd/system").resolve(unit);
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, Path.of("/dev/null"));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }

    List<Path> procs = createCgroups();
    StringBuilder script = new StringBuilder();
    for (Path p : procs) {
      script.append("echo $$ > '").append(p).append("' || exit 1; ");
    }
    script.append("exec \"$@\"");
    List<String> argv = new ArrayList<>(List.of("sh", "-c", script.toString(), "sh",
        "systemd-nspawn", "-D", root.toString(), "-M", name, "--register=no", "--keep-unit", "-b",
        "--network-namespace-path=/run/netns/" + name, "--console=passive", "--capability=CAP_NET_ADMIN"));
    ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("console.log").toFile()));
    pb.environment().clear();
    pb.environment().put("PATH", ENV.get("PATH"));
    try {
      nspawn = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }

    boolean found = Testbed.await(Duration.ofSeconds(60), () -> (pid1 = findPid1()) > 0 || !nspawn.isAlive());
    if (!found || pid1 <= 0) {
      throw new IllegalStateException(this + ": systemd-nspawn started no PID 1; console:\n" + console());
    }
    // Until systemd has set up its D-Bus, systemctl answers with an error: retry until it says anything.
    String state = "";
    long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
    while (System.nanoTime() < deadline && nspawn.isAlive()) {
      Cmd.Result r = exec(Duration.ofSeconds(200), "systemctl", "is-system-running", "--wait");
      state = r.out().strip();
      if (state.equals("running") || state.equals("degraded")) {
        break;
      }
      Testbed.sleep(500);
    }
    if (!state.equals("running")) {
      throw new IllegalStateException(this + " did not boot to 'running' (state '" + state + "'); failed units:\n"
          + exec("systemctl", "--failed", "--no-legend").out() + "console:\n" + console());
    }
    run("sh", "-c", "mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net");
  }

  /** One cgroup named after the machine below this JVM's own in each mounted hierarchy; their cgroup.procs. */
  private List<Path> createCgroups() {
    Map<String, String> own = new LinkedHashMap<>(); // controllers of /proc/self/cgroup -> path
    List<Path> procs = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
        String[] f = line.split(":", 3);
        own.put(f[1], f[2]);
      }
      for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
        String[] halves = line.split(" - ", 2);
        String[] pre = halves[0].split(" ");
        String[] post = halves[1].split(" ");
        String fsType = post[0];
        if (!fsType.equals("cgroup") && !fsType.equals("cgroup2")) {
          continue;
        }
        List<String> opts = List.of(post[2].split(","));
        String path = null;
        for (Map.Entry<String, String> e : own.entrySet()) {
          boolean match = fsType.equals("cgroup2") ? e.getKey().isEmpty()
              : !e.getKey().isEmpty() && opts.containsAll(List.of(e.getKey().split(",")));
          if (match) {
            path = e.getValue();
          }
        }
        String mountRoot = pre[3];
        if (path == null || !(path + "/").startsWith(mountRoot.equals("/") ? "/" : mountRoot + "/")) {
          continue;
        }
        Path parent = Path.of(pre[4] + path.substring(mountRoot.equals("/") ? 0 : mountRoot.length()));
        Path cg = parent.resolve("tartan-machine-" + name);
        Files.createDirectories(cg);
        cgroups.add(cg);
        if (opts.contains("cpuset")) {
          for (String file : List.of("cpuset.cpus", "cpuset.mems")) {
            Files.writeString(cg.resolve(file), Files.readString(parent.resolve(file)).strip());
          }
        }
        procs.add(cg.resolve("cgroup.procs"));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(this + ": cannot create its cgroups: " + e.getMessage(), e);
    }
    return procs;
  }

  /** The host PID of the machine's PID 1: the process below nspawn that is PID 1 in its pid namespace. */
  private long findPid1() {
    if (nspawn == null) {
      return -1;
    }
    return nspawn.toHandle().descendants().mapToLong(ProcessHandle::pid).filter(p -> {
      try {
        return Files.readAllLines(Path.of("/proc/" + p + "/status")).stream()
            .anyMatch(l -> l.startsWith("NSpid:") && l.trim().endsWith("\t1") && l.split("\\s+").length > 2);
      } catch (IOException e) {
        return false;
      }
    }).findFirst().orElse(-1);
  }

  // ---- commands

  /** Runs argv inside the machine (all its namespaces, a clean environment); never throws for an exit code. */
  public Cmd.Result exec(String... argv) {
    return exec(Duration.ofMinutes(3), argv);
  }

  public Cmd.Result exec(Duration timeout, String... argv) {
    return Cmd.exec(timeout, inside(argv), ENV);
  }

  /** Runs argv inside the machine with {@code stdin}; never throws for an exit code. */
  public Cmd.Result execWithInput(String stdin, String... argv) {
    return Cmd.exec(Duration.ofMinutes(3), inside(argv), ENV, stdin);
  }

  /** Runs argv inside the machine and returns stdout; a non-zero exit throws with everything it printed. */
  public String run(String... argv) {
    Cmd.Result r = exec(Duration.ofMinutes(5), argv);
    if (!r.ok()) {
      throw new IllegalStateException(this + ": " + r.describe());
    }
    return r.out();
  }

  /** Runs a shell script inside the machine and returns stdout; a non-zero exit throws. */
  public String sh(String script) {
    return run("sh", "-c", script);
  }

  /** nsenter's argv for running {@code argv} inside the machine (for long-running processes). */
  public List<String> inside(String... argv) {
    List<String> all = new ArrayList<>(List.of("nsenter", "-t", Long.toString(pid1), "-a", "--"));
    all.addAll(List.of(argv));
    return all;
  }

  /**
   * Like {@link #inside} without the machine's pid namespace, so nsenter execs {@code argv} instead of
   * forking: signals sent to the returned process (ping's SIGINT for its summary) reach it.
   */
  public List<String> insideDirect(String... argv) {
    List<String> all = new ArrayList<>(List.of("nsenter", "-t", Long.toString(pid1),
        "--mount", "--uts", "--ipc", "--net", "--cgroup", "--root", "--wd", "--"));
    all.addAll(List.of(argv));
    return all;
  }

  /** Writes {@code content} to {@code path} inside the machine with the given mode (any path, also /run). */
  public void writeFile(String path, String content, String mode) {
    Cmd.Result r = execWithInput(content, "sh", "-c",
        "mkdir -p \"$(dirname \"$1\")\" && cat > \"$1\" && chmod " + mode + " \"$1\"", "sh", path);
    if (!r.ok()) {
      throw new IllegalStateException(this + ": cannot write " + path + ": " + r.describe());
    }
  }

  /** Copies a file of this machine's host into the machine's root file system (not /run, /tmp, /proc, /sys, /dev). */
  public void copyIn(Path source, String path) {
    if (path.matches("^/(run|tmp|proc|sys|dev)(/.*)?$")) {
      throw new IllegalArgumentException(path + " is a mount of the machine's own; use writeFile");
    }
    try {
      Path target = root.resolve(path.substring(1));
      Files.createDirectories(target.getParent());
      Files.copy(source, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code systemctl show -p PROP --value UNIT}. */
  public String show(String unit, String property) {
    return run("systemctl", "show", "-p", property, "--value", unit).strip();
  }

  // ---- facts

  public long pid1() {
    return pid1;
  }

  public int host() {
    return host;
  }

  public Suite suite() {
    return suite;
  }

  public String ip() {
    return Testbed.hostIp(host);
  }

  public String name() {
    return name;
  }

  public Path dir() {
    return dir;
  }

  public String console() {
    try {
      return Files.readString(dir.resolve("console.log"));
    } catch (IOException e) {
      return "(no console log: " + e.getMessage() + ")";
    }
  }

  @Override
  public String toString() {
    return "machine " + name + " (" + suite + ")";
  }

  // ---- removal

  /** Powers the machine off (killed after 60 s), then removes its cgroups, mount and directories. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      if (nspawn != null && nspawn.isAlive()) {
        if (pid1 > 0) {
          Cmd.quiet("kill", "-RTMIN+4", Long.toString(pid1)); // systemd: poweroff
        }
        if (!waitFor(nspawn, Duration.ofSeconds(60))) {
          System.err.println(this + ": no clean poweroff within 60 s; killing it");
        }
      }
      killAll();
      removeCgroups();
    } finally {
      if (mounted) {
        Cmd.Result u = Cmd.quiet("umount", "-R", root.toString());
        if (!u.ok()) {
          Cmd.quiet("umount", "-R", "-l", root.toString());
        }
        mounted = false;
      }
      deleteTree(dir.resolve("upper"));
      deleteTree(dir.resolve("work"));
      deleteTree(root);
    }
  }

  /** SIGKILL to nspawn and to every process left in the machine's cgroups, until none is left. */
  private void killAll() {
    for (int round = 0; round < 50; round++) {
      List<String> pids = new ArrayList<>();
      if (nspawn != null && nspawn.isAlive()) {
        pids.add(Long.toString(nspawn.pid()));
      }
      for (Path cg : cgroups) {
        try (Stream<Path> s = Files.walk(cg)) {
          s.filter(p -> p.getFileName().toString().equals("cgroup.procs")).forEach(p -> {
            try {
              Files.readAllLines(p).stream().filter(l -> !l.isBlank()).forEach(pids::add);
            } catch (IOException ignored) {
              // the cgroup went away
            }
          });
        } catch (IOException | UncheckedIOException ignored) {
          // the cgroup went away
        }
      }
      if (pids.isEmpty()) {
        return;
      }
      List<String> kill = new ArrayList<>(List.of("kill", "-9"));
      kill.addAll(pids.stream().distinct().toList());
      Cmd.quiet(kill.toArray(String[]::new));
      Testbed.sleep(200);
    }
    System.err.println(this + ": processes left in its cgroups after 50 rounds of SIGKILL");
  }

  private void removeCgroups() {
    for (Path cg : cgroups) {
      if (!Files.isDirectory(cg)) {
        continue;
      }
      try (Stream<Path> s = Files.walk(cg)) {
        s.filter(Files::isDirectory).sorted(Comparator.reverseOrder()).forEach(d -> {
          for (int i = 0; i < 20 && Files.exists(d); i++) {
            try {
              Files.delete(d); // rmdir of a cgroup
            } catch (IOException e) {
              Testbed.sleep(100);
            }
          }
        });
      } catch (IOException | UncheckedIOException e) {
        System.err.println(this + ": cannot remove cgroup " + cg + ": " + e.getMessage());
      }
    }
  }

  private static boolean waitFor(Process p, Duration timeout) {
    try {
      return p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static void deleteTree(Path p) {
    if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Cmd.quiet("rm", "-rf", "--one-file-system", p.toString());
  }
}
