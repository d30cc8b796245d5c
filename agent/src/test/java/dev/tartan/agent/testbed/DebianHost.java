package dev.tartan.agent.testbed;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * A real Debian host (12 "bookworm" or 13 "trixie") inside testbed host {@code h}'s network namespace: its
 * own root file system, a per-host overlayfs copy of the cached root fs that {@code scripts/rootfs.sh} built,
 * entered as environment.md §8 says.
 *
 * <pre>
 *   hostDir(h)/debian/{upper,work,merged}   the overlay (lower = the cached root fs, never written)
 *   hostDir(h)/debian/storage               /var/lib/containers: podman's storage on a plain directory
 *   hostDir(h)/debian/containerd            /var/lib/containerd: likewise for containerd's snapshots
 * </pre>
 *
 * One long-lived process per host ({@code unshare --mount --propagation private}, then the mounts, then
 * {@code pivot_root} into the overlay and {@code exec sleep infinity}) holds the host's private mount
 * namespace, so every mount lives and dies with it (nothing is mounted in the machine's own namespace).
 * Every command enters it with {@code nsenter -t PID --mount --net --root --wd} and a clean environment;
 * podman keeps its netns and container mounts under the host's {@code /run}, which stays between commands.
 *
 * <p>{@link #close()} (also after a failure) removes the containers through podman, kills every process in
 * the host's mount namespace and every descendant of those (containers run in their own namespaces under
 * conmon or containerd's shim), removes the containers' cgroups and deletes the overlay and storage
 * directories; the logs stay under the testbed's directory.
 */
public final class DebianHost implements AutoCloseable {
  public static final String BOOKWORM = "bookworm";
  public static final String TRIXIE = "trixie";
  public static final String IMAGE = "localhost/busybox";
  private static final String PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  private static final Duration ROOTFS_BUILD = Duration.ofMinutes(15);

  private final Testbed bed;
  private final int host;
  private final String suite;
  private final Path dir;
  private final Path log;
  private Process init;
  private long pid;
  private final Set<String> containerIds = new LinkedHashSet<>();
  private boolean podman;

  private DebianHost(Testbed bed, int host, String suite) {
    this.bed = bed;
    this.host = host;
    this.suite = suite;
    this.dir = bed.hostDir(host).resolve("debian");
    this.log = bed.hostDir(host).resolve("debian-init.log");
    bed.attach(this); // the testbed's close (and its shutdown hook) closes this host first
  }

  /** Why Debian hosts cannot be built here, or null. */
  public static String unavailableReason() {
    if (!Cmd.rootWith("nsenter", "unshare", "mmdebstrap", "dpkg-deb")) {
      return "needs root, nsenter, unshare, mmdebstrap, dpkg-deb (sudo scripts/install-deps.sh)";
    }
    if (!Files.isRegularFile(deb())) {
      return deb() + " is missing: run `mvn -pl cni,agent -am package` first";
    }
    return null;
  }

  /** The package `mvn package` built: target/tartan_VERSION_ARCH.deb at the repository root. */
  public static Path deb() {
    String version = "0.0.0";
    try (JarFile jar = new JarFile(Testbed.agentJar().toFile())) {
      String v = jar.getManifest().getMainAttributes().getValue("Implementation-Version");
      version = v == null ? version : v;
    } catch (IOException e) {
      // no jar: deb() then names a file that does not exist, and unavailableReason() says so
    }
    String arch = Cmd.run("dpkg", "--print-architecture").strip(); // the package holds the native CNI front end
    return Path.of("..", "target", "tartan_" + version + "_" + arch + ".deb").toAbsolutePath().normalize();
  }

  /** The cached root file system of {@code suite}, built first if needed (scripts/rootfs.sh; it locks). */
  public static Path rootfs(String suite) {
    Path script = Path.of("..", "scripts", "rootfs.sh").toAbsolutePath().normalize();
    Cmd.Result r = Cmd.exec(ROOTFS_BUILD, List.of(script.toString(), suite));
    if (!r.ok()) {
      throw new IllegalStateException("scripts/rootfs.sh " + suite + " failed:\n" + r.err() + r.out());
    }
    return Path.of(r.out().strip());
  }

  /** Makes testbed host {@code h} (already on the underlay) a Debian {@code suite} host. */
  public static DebianHost start(Testbed bed, int h, String suite) {
    DebianHost d = new DebianHost(bed, h, suite);
    try {
      d.boot(rootfs(suite));
      return d;
    } catch (RuntimeException e) {
      d.close();
      throw e;
    }
  }

  private void boot(Path lower) {
    try {
      for (String sub : new String[] {"upper", "work", "merged", "storage", "containerd"}) {
        Files.createDirectories(dir.resolve(sub));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Path m = dir.resolve("merged");
    String script = String.join("\n",
        "set -e",
        "m=" + m,
        "mount -t overlay overlay -o lowerdir=" + lower + ",upperdir=" + dir.resolve("upper") + ",workdir="
            + dir.resolve("work") + " \"$m\"",
        // overlayfs cannot hold podman's or containerd's overlay storage: plain directories bound there
        "mkdir -p \"$m/var/lib/containers\" \"$m/var/lib/containerd\"",
        "mount --bind " + dir.resolve("storage") + " \"$m/var/lib/containers\"",
        "mount --bind " + dir.resolve("containerd") + " \"$m/var/lib/containerd\"",
        "mount -t proc proc \"$m/proc\"",
        "mount -t sysfs sysfs \"$m/sys\"", // fresh: shows this network namespace's links
        "mount --rbind /sys/fs/cgroup \"$m/sys/fs/cgroup\"",
        "mount --rbind /dev \"$m/dev\"",
        "mount -t tmpfs -o mode=755 tmpfs \"$m/run\"",
        "mount -t tmpfs -o mode=1777 tmpfs \"$m/tmp\"",
        "cd \"$m\"",
        "mkdir -p .oldroot",
        "pivot_root . .oldroot",
        "umount -l /.oldroot",
        "rmdir /.oldroot",
        "touch /run/.tt-ready",
        "exec sleep infinity");
    ProcessBuilder pb = new ProcessBuilder("nsenter", "--net=/run/netns/" + bed.host(host), "unshare", "--mount",
        "--propagation", "private", "sh", "-c", script)
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().clear();
    pb.environment().put("PATH", PATH);
    try {
      init = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    pid = init.pid(); // nsenter and unshare exec: this is the shell, then sleep
    Path ready = Path.of("/proc/" + pid + "/root/run/.tt-ready");
    if (!Testbed.await(Duration.ofSeconds(60), () -> Files.exists(ready) || !init.isAlive())
        || !init.isAlive()) {
      throw new IllegalStateException("Debian " + suite + " host " + host + " did not come up; " + log + ":\n"
          + readLog());
    }
  }

  private String readLog() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  // ---------------------------------------------------------------- commands

  /** The argv that runs {@code argv} inside this host (its mounts, network, root; a clean environment). */
  public List<String> argv(String... argv) {
    List<String> all = new ArrayList<>(List.of("nsenter", "-t", Long.toString(pid), "--mount", "--net", "--root",
        "--wd", "env", "-i", "PATH=" + PATH, "HOME=/root", "LANG=C.UTF-8", "PODMAN_IGNORE_CGROUPSV1_WARNING=1"));
    all.addAll(List.of(argv));
    return all;
  }

  /** Runs a command inside the host (at most {@code timeout}); never throws for a non-zero exit. */
  public Cmd.Result exec(Duration timeout, String... argv) {
    return Cmd.exec(timeout, argv(argv));
  }

  /** Runs a command inside the host and returns stdout; a failure throws with everything it printed. */
  public String run(String... argv) {
    Cmd.Result r = exec(Duration.ofSeconds(180), argv);
    if (!r.ok()) {
      throw new IllegalStateException("on Debian " + suite + " host " + host + ": " + r.describe());
    }
    return r.out();
  }

  /** A path inside the host, as the machine sees it (through the long-lived process's root). */
  public Path path(String inside) {
    return Path.of("/proc/" + pid + "/root" + inside);
  }

  /** The agent's subnet file, where the installed package's agent writes it. */
  public Path subnetFile() {
    return path("/run/flannel/subnet.env");
  }

  public int host() {
    return host;
  }

  public String suite() {
    return suite;
  }

  // ---------------------------------------------------------------- the package and the agent

  /** Installs the built .deb with dpkg -i, as an administrator would. */
  public void installDeb() {
    try {
      Files.copy(deb(), path("/tmp/tartan.deb"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    run("dpkg", "-i", "/tmp/tartan.deb");
  }

  /**
   * Starts the installed agent ({@code /usr/bin/tartan agent}, the package's launcher on this host's Java)
   * against the testbed's etcd, healthz on 127.0.0.1:8471 inside the host (so {@link Testbed#ready} works).
   */
  public AgentProcess startAgent(String... extra) {
    List<String> args = new ArrayList<>(List.of("/usr/bin/tartan", "agent", "--etcd-endpoints", bed.etcdEndpoints(),
        "--healthz-ip", "127.0.0.1", "--healthz-port", "8471"));
    args.addAll(List.of(extra));
    return startDaemon("debian-agent.log", args.toArray(String[]::new));
  }

  /**
   * Starts a long-running command inside the host (e.g. {@code containerd}), output appended to
   * {@code logName} in the testbed host's directory; killed by {@link #close()} and by the testbed's.
   */
  public AgentProcess startDaemon(String logName, String... argv) {
    Path daemonLog = bed.hostDir(host).resolve(logName);
    ProcessBuilder pb = new ProcessBuilder(argv(argv)).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(daemonLog.toFile()));
    try {
      return bed.track(host, pb.start(), daemonLog);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // ---------------------------------------------------------------- podman

  /**
   * Configures podman for this machine (runc, cgroupfs, file events, small ulimits: environment.md §8) and
   * imports a busybox image built from the host's own busybox-static ({@link #IMAGE}, no registry).
   */
  public void setupPodman() {
    try {
      Files.createDirectories(path("/etc/containers"));
      Files.writeString(path("/etc/containers/containers.conf"), "[containers]\n"
          + "default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"
          + "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
          + "[network]\ndefault_subnet = \"10.99.0.0/24\"\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    podman = true;
    run("sh", "-c", "set -e; rm -rf /tmp/bb; mkdir -p /tmp/bb/bin; cp /bin/busybox /tmp/bb/bin/;"
        + " for a in sh ip ping sleep cat true hostname; do ln -s busybox /tmp/bb/bin/$a; done;"
        + " tar -C /tmp/bb -cf /tmp/bb.tar .; podman import --change 'CMD [\"/bin/sh\"]' /tmp/bb.tar " + IMAGE
        + " >/dev/null; rm -rf /tmp/bb /tmp/bb.tar");
  }

  /** {@code podman ARGS} inside the host; returns stdout, a failure throws. */
  public String podman(String... args) {
    List<String> all = new ArrayList<>(List.of("podman"));
    all.addAll(List.of(args));
    return run(all.toArray(String[]::new));
  }

  /** Like {@link #podman} without throwing. */
  public Cmd.Result podmanExec(String... args) {
    List<String> all = new ArrayList<>(List.of("podman"));
    all.addAll(List.of(args));
    return exec(Duration.ofSeconds(180), all.toArray(String[]::new));
  }

  /** The IPv4 address container {@code name} got on network {@code network}. */
  public String podmanIp(String name, String network) {
    return podman("inspect", "--format", "{{(index .NetworkSettings.Networks \"" + network + "\").IPAddress}}", name)
        .strip();
  }

  // ---------------------------------------------------------------- clean-up

  @Override
  public synchronized void close() {
    if (init == null) {
      deleteState();
      return;
    }
    if (init.isAlive() && podman) {
      Cmd.Result ids = exec(Duration.ofSeconds(60), "podman", "ps", "-aq", "--no-trunc");
      containerIds.addAll(ids.out().lines().map(String::strip).filter(s -> !s.isEmpty()).toList());
      exec(Duration.ofSeconds(120), "podman", "rm", "-a", "-f", "-t", "0"); // the network plugins' teardown
    }
    killEverything();
    removeCgroups();
    deleteState();
    init = null;
  }

  /**
   * SIGKILL to every process in the host's mount namespace and every descendant of one (containers live in
   * their own namespaces under conmon or containerd's shim), until none is left, then to init. The namespace
   * is identified only while init holds it: a freed namespace's inode number may be reused by someone else's.
   */
  private void killEverything() {
    ProcessHandle initHandle = init.toHandle();
    String mntNs = initHandle.isAlive() ? mntNsOf(pid) : null;
    long self = ProcessHandle.current().pid();
    for (int round = 0; round < 50 && mntNs != null && initHandle.isAlive(); round++) {
      String ns = mntNs;
      Set<ProcessHandle> victims = new HashSet<>();
      ProcessHandle.allProcesses().filter(p -> p.pid() != self && p.pid() != pid && ns.equals(mntNsOf(p.pid())))
          .forEach(p -> {
            victims.add(p);
            p.descendants().forEach(victims::add);
          });
      initHandle.descendants().forEach(victims::add);
      victims.removeIf(p -> !p.isAlive() || p.pid() == self || p.pid() == pid);
      if (victims.isEmpty()) {
        break;
      }
      victims.forEach(ProcessHandle::destroyForcibly);
      Testbed.sleep(100);
    }
    init.destroyForcibly();
    Testbed.waitFor(init);
  }

  private static String mntNsOf(long pid) {
    try {
      return Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/mnt")).toString();
    } catch (IOException | SecurityException e) {
      return null;
    }
  }

  /** cgroupfs: runc's directories for this host's containers (podman rm removes them; after a kill it cannot). */
  private void removeCgroups() {
    if (containerIds.isEmpty()) {
      return;
    }
    try (Stream<Path> s = Files.walk(Path.of("/sys/fs/cgroup"), 3)) {
      List<Path> dirs = s.filter(p -> containerIds.stream().anyMatch(id -> p.getFileName().toString().contains(id)))
          .sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList();
      for (Path p : dirs) {
        Cmd.quiet("rmdir", p.toString());
      }
    } catch (IOException | UncheckedIOException e) {
      // best effort
    }
  }

  /** Deletes the overlay and storage directories (the mounts died with the host's mount namespace). */
  private void deleteState() {
    if (!Files.isDirectory(dir)) {
      return;
    }
    String mounts;
    try {
      mounts = Files.readString(Path.of("/proc/self/mounts"));
    } catch (IOException e) {
      mounts = "";
    }
    if (mounts.contains(" " + dir)) { // never the case when the mounts stayed in the host's namespace
      throw new IllegalStateException("something is mounted under " + dir + " in the machine's namespace; not"
          + " deleting it (see /proc/self/mounts)");
    }
    Cmd.quiet("rm", "-rf", "--one-file-system", dir.toString());
  }
}
