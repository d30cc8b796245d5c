package dev.tartan.agent.packaging;

import dev.tartan.agent.testbed.Cmd;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Testbed;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Installs the built .deb on this machine with dpkg, runs what it installed, starts the installed
 * launcher exactly as tartan.service's ExecStart would (inside a test network namespace, with
 * NOTIFY_SOCKET), then removes and purges it and checks that nothing is left. Nothing runs in the
 * root network namespace; the package is purged at the end, also on failure.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PackageInstallIT {
  static final Path UNIT = Path.of("/lib/systemd/system/tartan.service");
  /** The CNI front end runtimes call (C); the standalone plugin (JVM launcher) is in /usr/share/tartan. */
  static final Path PLUGIN = Path.of("/usr/lib/tartan/tartan-cni");
  static final List<Path> FLANNEL_NAMES = List.of(Path.of("/usr/lib/cni/flannel"), Path.of("/opt/cni/bin/flannel"));
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Which flannel names existed before the install (postinst must leave those alone). */
  private final Map<Path, Boolean> flannelBefore = new LinkedHashMap<>();

  @BeforeAll
  void install() {
    String reason = Deb.unavailableReason();
    assumeTrue(reason == null, reason);
    Deb.purgeLeftover();
    for (Path p : FLANNEL_NAMES) {
      flannelBefore.put(p, Files.exists(p, LinkOption.NOFOLLOW_LINKS));
    }
    Cmd.Result r = Deb.install();
    assertThat(r.ok()).as(r.describe()).isTrue();
    assertThat(Deb.status()).isEqualTo("install ok installed");
  }

  @AfterAll
  void purge() {
    Deb.purge();
  }

  @Test
  @Order(1)
  void installsTheLauncherJarsUnitAndConfigWithTheirModes() throws IOException {
    assertThat(mode("/usr/bin/tartan")).isEqualTo("rwxr-xr-x");
    assertThat(Path.of("/usr/share/tartan/tartan.jar")).isRegularFile();
    assertThat(Path.of("/usr/share/tartan/tartan-cni.jar")).isRegularFile();
    assertThat(mode(PLUGIN.toString())).isEqualTo("rwxr-xr-x");
    assertThat(mode("/usr/share/tartan/tartan-cni")).isEqualTo("rwxr-xr-x");
    assertThat(Path.of("/usr/lib/tartan/tartan-cni-java").toRealPath()).isEqualTo(Path.of("/usr/share/tartan/tartan-cni"));
    assertThat(Path.of("/usr/lib/cni/tartan").toRealPath()).isEqualTo(PLUGIN);
    assertThat(Path.of("/opt/cni/bin/tartan").toRealPath()).isEqualTo(PLUGIN);
    // podman 5's netavark plugin: the same front end, falling back to the netavark launcher beside the jar
    assertThat(Path.of("/usr/libexec/netavark/tartan").toRealPath()).isEqualTo(PLUGIN);
    assertThat(mode("/usr/share/tartan/tartan-netavark")).isEqualTo("rwxr-xr-x");
    assertThat(Path.of("/usr/lib/tartan/tartan-netavark-java").toRealPath())
        .isEqualTo(Path.of("/usr/share/tartan/tartan-netavark"));
    assertThat(UNIT).isRegularFile();
    assertThat(mode("/etc/tartan/agent.conf")).isEqualTo("rw-------");
    assertThat(mode("/etc/default/tartan")).isEqualTo("rw-------");
    JsonNode conflist = JSON.readTree(Path.of("/usr/share/doc/tartan/10-tartan.conflist").toFile());
    assertThat(conflist.path("plugins").path(0).path("type").asText()).isEqualTo("tartan");
    // postinst: the class-data archives of the CNI plugin and the agent, and flannel names only where none existed.
    assertThat(Path.of("/usr/share/tartan/tartan-cni.jsa")).isRegularFile();
    assertThat(Path.of("/usr/share/tartan/tartan.jsa")).isRegularFile();
    for (Path name : FLANNEL_NAMES) {
      if (!flannelBefore.get(name)) {
        assertThat(Files.readSymbolicLink(name)).as(name.toString()).isEqualTo(PLUGIN);
      } else {
        assertThat(Files.isSymbolicLink(name) && Files.readSymbolicLink(name).equals(PLUGIN))
            .as(name + " existed before and must be left alone").isFalse();
      }
    }
  }

  @Test
  @Order(2)
  void launcherRunsTheCommandLineWithTheJvmDefaultsAndHonoursJavaOpts() {
    Map<String, String> env = new LinkedHashMap<>(ServiceUnit.SYSTEMD_BASE_ENV);
    Cmd.Result version = Cmd.exec(Duration.ofMinutes(1), List.of("/usr/bin/tartan", "--version"), env);
    assertThat(version.ok()).as(version.describe()).isTrue();
    assertThat(version.out().strip()).isEqualTo("tartan " + Deb.version());

    env.put("TARTAN_JAVA_OPTS", "-XX:+PrintFlagsFinal");
    String defaults = Cmd.exec(Duration.ofMinutes(1), List.of("/usr/bin/tartan", "--version"), env).out();
    assertThat(flag(defaults, "MaxHeapSize")).isEqualTo("201326592");
    assertThat(flag(defaults, "InitialHeapSize")).isEqualTo("8388608");
    assertThat(flag(defaults, "UseSerialGC")).isEqualTo("true");
    assertThat(flag(defaults, "TieredStopAtLevel")).isEqualTo("1");
    assertThat(flag(defaults, "ReservedCodeCacheSize")).isEqualTo("25165824");
    assertThat(flag(defaults, "ThreadStackSize")).isEqualTo("512");
    assertThat(flag(defaults, "SharedArchiveFile")).as("the agent's class-data archive postinst built")
        .isEqualTo("/usr/share/tartan/tartan.jsa");

    env.put("JAVA_OPTS", "-Xmx100m");
    env.put("TARTAN_JAVA_OPTS", "-Xmx128m -XX:+PrintFlagsFinal");
    String both = Cmd.exec(Duration.ofMinutes(1), List.of("/usr/bin/tartan", "--version"), env).out();
    assertThat(flag(both, "MaxHeapSize")).as("TARTAN_JAVA_OPTS comes last and wins").isEqualTo("134217728");
    env.remove("TARTAN_JAVA_OPTS");
    env.put("JAVA_OPTS", "-Xmx100m -XX:+PrintFlagsFinal");
    String javaOpts = Cmd.exec(Duration.ofMinutes(1), List.of("/usr/bin/tartan", "--version"), env).out();
    assertThat(flag(javaOpts, "MaxHeapSize")).as("JAVA_OPTS overrides the defaults").isEqualTo("104857600");
  }

  @Test
  @Order(3)
  void cniPluginAnswersVersionUnderEveryInstalledName() {
    List<Path> names = new java.util.ArrayList<>(List.of(Path.of("/usr/lib/cni/tartan"), Path.of("/opt/cni/bin/tartan")));
    FLANNEL_NAMES.stream().filter(n -> !flannelBefore.get(n)).forEach(names::add);
    for (Path name : names) {
      Cmd.Result r = Cmd.exec(Duration.ofMinutes(1), List.of("sh", "-c",
          "echo '{\"cniVersion\":\"1.0.0\"}' | CNI_COMMAND=VERSION " + name));
      assertThat(r.ok()).as(r.describe()).isTrue();
      assertThat(r.out()).as(name.toString()).contains("\"supportedVersions\"").contains("\"1.0.0\"");
    }
  }

  @Test
  @Order(4)
  void unitPassesSystemdAnalyzeVerify() {
    assumeTrue(Cmd.exec(Duration.ofSeconds(10), List.of("sh", "-c", "command -v systemd-analyze")).ok(),
        "systemd-analyze not installed (apt-get install systemd)");
    Cmd.Result r = Cmd.exec(Duration.ofMinutes(1), List.of("systemd-analyze", "verify", UNIT.toString()));
    assertThat(r.ok()).as(r.describe()).isTrue();
    assertThat(r.err()).as(r.describe()).isEmpty();
  }

  /**
   * The unit's own ExecStart and EnvironmentFile, the environment systemd would give it
   * (NOTIFY_SOCKET, WATCHDOG_USEC from WatchdogSec), run inside a testbed host against the testbed's
   * etcd with authentication on, confined like the unit (file-system sandbox approximated in a mount
   * namespace, CapabilityBoundingSet, NoNewPrivileges):
   * READY=1 arrives only when /readyz answers 200, watchdog pings come
   * well within WatchdogSec, the main PID is the JVM, the password never appears on its command line,
   * and SIGTERM (systemctl stop) ends it with an exit status the unit counts as success.
   */
  @Test
  @Order(5)
  void theUnitsExecStartRunsTheAgentInsideANamespaceAndNotifiesReadiness() throws Exception {
    String reason = Testbed.unavailableReason();
    assumeTrue(reason == null, reason);
    assumeTrue(NotifyReceiver.available(), "needs python3 (the stand-in for systemd's notify socket)");
    assumeTrue(Cmd.exec(Duration.ofSeconds(10), List.of("sh", "-c", "command -v setpriv")).ok(),
        "needs setpriv (util-linux) to apply the unit's capability bounding set");
    ServiceUnit unit = ServiceUnit.read(UNIT);
    assertThat(unit.get("Type")).contains("notify");
    Duration watchdog = unit.watchdog().orElseThrow();

    boolean hostRunFlannel = Files.exists(Path.of("/run/flannel"));
    // StateDirectory=cni: systemd (and the sandbox modelling it) makes /var/lib/cni; removed after if new.
    boolean hostVarLibCni = Files.exists(Path.of("/var/lib/cni"));
    try (Testbed tb = Testbed.create(1); NotifyReceiver notify = NotifyReceiver.startIn(tb.dir())) {
      String password = "pa\"ss $word`" + ProcessHandle.current().pid();
      EtcdAuth.enable(tb, "tartan", password);
      Cmd.Result init = Cmd.exec(Duration.ofMinutes(1), List.of("ip", "netns", "exec", tb.ns("ctl"),
              "/usr/bin/tartan", "network", "init", "--network", "10.77.0.0/16"),
          Map.of("PATH", ServiceUnit.SYSTEMD_BASE_ENV.get("PATH"), "FLANNELD_ETCD_ENDPOINTS", tb.etcdEndpoints(),
              "FLANNELD_ETCD_USERNAME", "tartan", "FLANNELD_ETCD_PASSWORD", password));
      assertThat(init.ok()).as(init.describe()).isTrue();

      Files.writeString(Path.of("/etc/tartan/agent.conf"), String.join("\n",
          "agent {",
          "  etcd-endpoints = \"" + tb.etcdEndpoints() + "\"",
          "  etcd-username = \"tartan\"",
          "  ip-masq = true",
          "  healthz-ip = \"127.0.0.1\"",
          "  healthz-port = 8471",
          "}", ""));
      Files.writeString(Path.of("/etc/default/tartan"), String.join("\n",
          "# written by PackageInstallIT",
          "FLANNELD_ETCD_PASSWORD=\"" + password.replace("\\", "\\\\").replace("\"", "\\\"")
              .replace("$", "\\$").replace("`", "\\`") + "\"",
          "FLANNELD_IFACE=eth0",
          "TARTAN_JAVA_OPTS=-Dtartan.started.by=PackageInstallIT",
          ""));

      Map<String, String> env = unit.environment(Map.of(
          "NOTIFY_SOCKET", notify.socket().toString(),
          "WATCHDOG_USEC", Long.toString(watchdog.toNanos() / 1000)));
      assertThat(env).containsEntry("FLANNELD_ETCD_PASSWORD", password);
      // Confined as systemd would confine it: the unit's file-system sandbox in a private mount
      // namespace (so /run/flannel/subnet.env lands in the service's own /run), then its capability
      // bounding set and no new privileges.
      Path sandbox = tb.dir().resolve("sandbox.sh");
      Files.writeString(sandbox, unit.sandboxScript());
      List<String> argv = new java.util.ArrayList<>(List.of("unshare", "--mount", "--propagation", "private",
          "sh", sandbox.toString()));
      argv.addAll(unit.setprivPrefix());
      argv.addAll(unit.execStart());
      AgentProcess agent = tb.startInHost(1, argv, env, "unit.log");

      NotifyReceiver.Message ready = null;
      long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
      while (ready == null && agent.alive() && System.nanoTime() < deadline) {
        ready = notify.await(t -> fields(t).contains("READY=1"), Duration.ofMillis(500));
      }
      assertThat(ready).as("READY=1 within 90 s (agent %s); log:\n%s",
          agent.alive() ? "still running" : "exited", agent.log()).isNotNull();
      assertThat(tb.ready(1)).as("/readyz answers 200 once READY=1 was sent").isTrue();

      long pid = agent.pid();
      assertThat(Files.readString(Path.of("/proc/" + pid + "/comm")).strip())
          .as("the launcher execs java: the main PID is the JVM").isEqualTo("java");
      String status = Files.readString(Path.of("/proc/" + pid + "/status"));
      assertThat(status).as("CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN (the attach socket's delegates)")
          .contains("CapBnd:\t0000000000203000").contains("NoNewPrivs:\t1");
      String cmdline = Files.readString(Path.of("/proc/" + pid + "/cmdline")).replace('\0', ' ');
      assertThat(cmdline).contains("-Xmx192m", "-Dtartan.started.by=PackageInstallIT",
          "-jar /usr/share/tartan/tartan.jar agent --config /etc/tartan/agent.conf");
      assertThat(cmdline).doesNotContain(password).doesNotContain("pa\"ss");

      String leases = EtcdAuth.rootGet(tb, "/coreos.com/network/subnets/");
      assertThat(leases).contains("\"PublicIP\":\"" + Testbed.hostIp(1) + "\"");
      assertThat(Files.readString(Path.of("/proc/" + pid + "/root/run/flannel/subnet.env")))
          .as("the default subnet file, in the service's RuntimeDirectory").contains("FLANNEL_NETWORK=10.77.0.0/16");
      assertThat(Files.exists(Path.of("/run/flannel"))).as("the host's /run untouched").isEqualTo(hostRunFlannel);

      NotifyReceiver.Message ping1 = notify.await(t -> fields(t).contains("WATCHDOG=1"), watchdog);
      assertThat(ping1).as("a WATCHDOG=1 within WatchdogSec=%s of READY; log:\n%s", watchdog, agent.log()).isNotNull();
      NotifyReceiver.Message ping2 = notify.await(t -> fields(t).contains("WATCHDOG=1"), watchdog);
      assertThat(ping2).as("a second WATCHDOG=1 within WatchdogSec").isNotNull();
      assertThat(Duration.between(ping1.at(), ping2.at())).isLessThan(watchdog);

      int exit = agent.stop();
      assertThat(exit).as("exit status after SIGTERM; the unit's SuccessExitStatus=%s; log:\n%s",
          unit.get("SuccessExitStatus").orElse(""), agent.log())
          .isIn(successStatuses(unit));
    } finally {
      if (!hostVarLibCni) {
        try {
          Files.deleteIfExists(Path.of("/var/lib/cni")); // only when empty: what the agent wrote there stays visible
        } catch (java.nio.file.DirectoryNotEmptyException e) {
          // left for inspection
        }
      }
    }
  }

  @Test
  @Order(6)
  void reinstallingKeepsTheAdministratorsConfigWithoutAPrompt() throws IOException {
    String conf = Files.readString(Path.of("/etc/tartan/agent.conf"));
    Cmd.Result again = Deb.install(); // stdin is /dev/null: a conffile prompt would fail here
    assertThat(again.ok()).as(again.describe()).isTrue();
    assertThat(Files.readString(Path.of("/etc/tartan/agent.conf"))).isEqualTo(conf);
    assertThat(Path.of("/usr/share/tartan/tartan-cni.jsa")).as("rebuilt by postinst").isRegularFile();
    assertThat(Path.of("/usr/share/tartan/tartan.jsa")).as("rebuilt by postinst").isRegularFile();
    assertThat(Deb.status()).isEqualTo("install ok installed");

    // A JVM package changing fires the trigger on /usr/lib/jvm: dpkg runs `postinst triggered`, which
    // builds both archives again for the new JVM.
    Files.delete(Path.of("/usr/share/tartan/tartan-cni.jsa"));
    Files.delete(Path.of("/usr/share/tartan/tartan.jsa"));
    Cmd.Result triggered = Cmd.exec(Duration.ofMinutes(3),
        List.of("/var/lib/dpkg/info/tartan.postinst", "triggered", "/usr/lib/jvm"), ServiceUnit.SYSTEMD_BASE_ENV);
    assertThat(triggered.ok()).as(triggered.describe()).isTrue();
    assertThat(Path.of("/usr/share/tartan/tartan-cni.jsa")).as("rebuilt by the JVM trigger").isRegularFile();
    assertThat(Path.of("/usr/share/tartan/tartan.jsa")).as("rebuilt by the JVM trigger").isRegularFile();
  }

  @Test
  @Order(7)
  void removeKeepsConfigAndPurgeLeavesNothingBehind() throws IOException {
    Cmd.Result remove = Deb.remove();
    assertThat(remove.ok()).as(remove.describe()).isTrue();
    assertThat(Deb.status()).isEqualTo("deinstall ok config-files");
    assertThat(Path.of("/usr/bin/tartan")).doesNotExist();
    assertThat(Path.of("/usr/share/tartan")).doesNotExist();
    assertThat(Path.of("/usr/lib/cni/tartan")).doesNotExist();
    assertThat(Files.exists(Path.of("/opt/cni/bin/tartan"), LinkOption.NOFOLLOW_LINKS)).isFalse();
    assertThat(UNIT).doesNotExist();
    for (Path name : FLANNEL_NAMES) {
      assertThat(Files.exists(name, LinkOption.NOFOLLOW_LINKS)).as(name.toString()).isEqualTo(flannelBefore.get(name));
    }
    assertThat(Path.of("/etc/tartan/agent.conf")).isRegularFile();
    assertThat(Path.of("/etc/default/tartan")).isRegularFile();

    Cmd.Result purge = Deb.purgeCommand();
    assertThat(purge.ok()).as(purge.describe()).isTrue();
    assertThat(Deb.status()).isNull();
    assertThat(Path.of("/etc/tartan")).doesNotExist();
    assertThat(Path.of("/etc/default/tartan")).doesNotExist();
    assertThat(Path.of("/usr/share/doc/tartan")).doesNotExist();
  }

  static List<String> fields(String message) {
    return Arrays.asList(message.split("\\|"));
  }

  /** 0 plus the unit's SuccessExitStatus= numbers (systemd also counts SIGTERM deaths as clean). */
  static List<Integer> successStatuses(ServiceUnit unit) {
    List<Integer> ok = new java.util.ArrayList<>(List.of(0));
    unit.get("SuccessExitStatus").ifPresent(v -> Arrays.stream(v.split("\\s+"))
        .filter(s -> s.matches("\\d+")).map(Integer::valueOf).forEach(ok::add));
    return ok;
  }

  /** The value of a JVM flag in -XX:+PrintFlagsFinal output. */
  static String flag(String printFlagsFinal, String name) {
    return printFlagsFinal.lines()
        .map(String::strip)
        .filter(l -> l.matches("\\S+\\s+" + name + "\\s+:?=.*"))
        .map(l -> l.replaceFirst("^\\S+\\s+" + name + "\\s+:?=\\s*(\\S+).*$", "$1"))
        .findFirst().orElseThrow(() -> new AssertionError(name + " not in -XX:+PrintFlagsFinal output"));
  }

  private static String mode(String path) throws IOException {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(Path.of(path), LinkOption.NOFOLLOW_LINKS));
  }
}
