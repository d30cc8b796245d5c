package dev.tartan.agent.packaging;

import static dev.tartan.agent.packaging.BootedHost.addContainer;
import static dev.tartan.agent.packaging.BootedHost.awaitActiveAndReady;
import static dev.tartan.agent.packaging.BootedHost.journal;
import static dev.tartan.agent.packaging.BootedHost.mainPid;
import static dev.tartan.agent.packaging.BootedHost.now;
import static dev.tartan.agent.packaging.BootedHost.ready;
import static dev.tartan.agent.packaging.BootedHost.status;
import static dev.tartan.agent.packaging.BootedHost.subnet;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Machine;
import dev.tartan.agent.testbed.Pinger;
import dev.tartan.agent.testbed.Testbed;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The package and tartan.service under a real systemd: two machines booted by systemd-nspawn, one
 * from Debian 12 (systemd 252) and one from Debian 13 (systemd 257), each in a testbed host
 * namespace, etcd in the testbed's control namespace. The machines are booted once and used by every
 * step in order (the tests depend on the state the previous ones left, like an administrator's
 * session): install and start, hardening, restart, watchdog, upgrade, then remove and purge.
 * Containers are network namespaces inside the machines attached by the installed CNI plugin.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 10, unit = java.util.concurrent.TimeUnit.MINUTES)
class SystemdServiceIT {
  private static final Pattern EXPOSURE = Pattern.compile("Overall exposure level for tartan\\.service: ([0-9.]+) (\\S+)");
  private Testbed tb;
  private final List<Machine> machines = new ArrayList<>();
  private final Map<Machine, String> subnets = new LinkedHashMap<>();
  private final Map<Machine, String> containerIps = new LinkedHashMap<>();
  private long startedAt;
  /** Each step builds on the state the previous one left: after a failure the rest are skipped. */
  private boolean broken;

  @BeforeAll
  void boot() {
    String reason = BootedHost.unavailableReason();
    assumeTrue(reason == null, reason);
    startedAt = System.nanoTime();
    tb = Testbed.create(2);
    tb.tartan("network", "init", "--network", "10.81.0.0/16");
    machines.add(Machine.boot(tb, 1, Machine.Suite.BOOKWORM));
    machines.add(Machine.boot(tb, 2, Machine.Suite.TRIXIE));
    System.out.printf("SystemdServiceIT: testbed and two machines booted in %d s%n", elapsed());
  }

  @AfterAll
  void tearDown() {
    if (tb != null) {
      tb.close(); // closes the machines first
      System.out.printf("SystemdServiceIT: %d s in all%n", elapsed());
    }
  }

  @BeforeEach
  void skipAfterAFailedStep() {
    assumeTrue(!broken, "an earlier step failed; the machines are not in the state this step starts from");
    broken = true;
  }

  /** The last line of every step. */
  private void done() {
    broken = false;
  }

  private long elapsed() {
    return (System.nanoTime() - startedAt) / 1_000_000_000L;
  }

  @Test
  @Order(1)
  void installedWithAptTheServiceIsActiveOnlyOnceReadyAndLogsToTheJournal() throws Exception {
    for (Machine m : machines) {
      Cmd.Result install = BootedHost.aptInstall(m, Deb.file());
      assertThat(install.ok()).as("%s: %s", m, install.describe()).isTrue();
      assertThat(m.show("tartan.service", "UnitFileState")).as("not enabled by the package").isEqualTo("disabled");
      BootedHost.nameEtcd(m, tb.etcdEndpoints());
    }
    for (Machine m : machines) {
      String since = now(m);
      // `systemctl enable --now` blocks until READY=1 (Type=notify); meanwhile the unit must be
      // "activating" and whenever it says "active" /readyz must already answer 200.
      Process enable = new ProcessBuilder(m.inside("systemctl", "enable", "--now", "tartan"))
          .redirectErrorStream(true).start();
      enable.getOutputStream().close();
      int activating = 0;
      while (enable.isAlive()) {
        String state = m.show("tartan.service", "ActiveState");
        boolean readyNow = ready(m);
        if (state.equals("activating")) {
          activating++;
        } else if (state.equals("active")) {
          assertThat(readyNow).as("%s: active only after READY (readyz 200)", m).isTrue();
        }
        Testbed.sleep(100);
      }
      assertThat(enable.waitFor()).as("%s: enable --now: %s", m, new String(enable.getInputStream().readAllBytes()))
          .isZero();
      assertThat(activating).as("%s: seen 'activating' while the agent started", m).isPositive();
      assertThat(m.run("systemctl", "is-active", "tartan").strip()).isEqualTo("active");
      assertThat(m.show("tartan.service", "SubState")).isEqualTo("running");
      assertThat(m.show("tartan.service", "UnitFileState")).isEqualTo("enabled");
      assertThat(ready(m)).isTrue();
      assertThat(status(m)).contains("Active: active (running)");
      String statusText = m.show("tartan.service", "StatusText");
      assertThat(statusText).as("StatusText").startsWith("subnet 10.81.").contains("peers");

      String subnetEnv = m.run("cat", "/run/flannel/subnet.env");
      assertThat(subnetEnv).contains("FLANNEL_NETWORK=10.81.0.0/16").contains("FLANNEL_SUBNET=10.81.");
      subnets.put(m, subnet(m));
      assertThat(m.run("ip", "-d", "link", "show", "flannel.1")).contains("vxlan id 1");
      containerIps.put(m, addContainer(m, "c1"));
      assertThat(m.run("ip", "link", "show", "cni0")).contains("cni0");

      List<String> journal = journal(m, since);
      assertThat(journal).as("%s: journalctl -u tartan", m)
          .anyMatch(l -> l.contains("ready: flannel.1 on eth0 (" + m.ip() + ")"))
          .anyMatch(l -> l.startsWith("Started tartan.service"));
      System.out.printf("SystemdServiceIT: %s: %s, %s, container %s%n", m, statusText, subnets.get(m),
          containerIps.get(m));
    }
    assertThat(subnets.values()).doesNotHaveDuplicates();
    awaitCrossPings();
    done();
  }

  @Test
  @Order(2)
  void theHardeningIsInForceInTheRunningServiceAndItsExposureIsLow() {
    for (Machine m : machines) {
      long pid = BootedHost.runningPid(m);
      assertThat(m.run("cat", "/proc/" + pid + "/comm").strip()).as("the main PID is the JVM").isEqualTo("java");
      String procStatus = m.run("cat", "/proc/" + pid + "/status");
      // CAP_NET_ADMIN (12) + CAP_NET_RAW (13) + CAP_SYS_ADMIN (21, for the attach socket's delegates: setns)
      assertThat(procStatus).contains("CapBnd:\t0000000000203000").contains("NoNewPrivs:\t1")
          .containsPattern("Seccomp:\t2");
      // As the service sees the file system: /usr read-only, its own /tmp, /run/flannel writable.
      Cmd.Result usr = m.exec("nsenter", "-t", Long.toString(pid), "-m", "touch", "/usr/tartan-hardening-probe");
      assertThat(usr.ok()).as("/usr writable for the service? %s", usr.describe()).isFalse();
      assertThat(usr.err()).contains("Read-only file system");
      assertThat(m.exec("test", "-e", "/usr/tartan-hardening-probe").ok()).isFalse();
      Cmd.Result etc = m.exec("nsenter", "-t", Long.toString(pid), "-m", "touch", "/etc/tartan/probe");
      assertThat(etc.ok()).as("/etc read-only for the service").isFalse();
      assertThat(m.exec("nsenter", "-t", Long.toString(pid), "-m", "test", "-w", "/run/flannel").ok()).isTrue();
      assertThat(m.run("ls", "/root")).contains("tartan_");
      assertThat(m.exec("nsenter", "-t", Long.toString(pid), "-m", "ls", "-A", "/root").out())
          .as("ProtectHome: /root is empty for the service").isEmpty();
      // ProtectProc=invisible: the service's /proc hides processes it could not ptrace.
      assertThat(m.run("grep", " /proc ", "/proc/" + pid + "/mountinfo")).contains("hidepid=invisible");

      Cmd.Result verify = m.exec("systemd-analyze", "verify", "tartan.service");
      assertThat(verify.ok() && verify.err().isBlank()).as("%s: %s", m, verify.describe()).isTrue();
      String analysis = m.exec("systemd-analyze", "security", "--no-pager", "tartan.service").out();
      Matcher e = EXPOSURE.matcher(analysis);
      assertThat(e.find()).as("systemd-analyze security output:\n%s", analysis).isTrue();
      System.out.printf("SystemdServiceIT: %s: systemd-analyze security tartan.service: %s %s%n", m, e.group(1),
          e.group(2));
      assertThat(Double.parseDouble(e.group(1))).as("exposure (4.1 before issue 14)").isLessThan(3.5);
      // ... and the agent still works under it: ready, the watchdog fed, no seccomp or permission errors.
      assertThat(ready(m)).isTrue();
      assertThat(m.run("journalctl", "-u", "tartan", "--no-pager", "-o", "cat"))
          .doesNotContain("Operation not permitted").doesNotContain("Permission denied");
    }
    awaitCrossPings();
    done();
  }

  @Test
  @Order(3)
  void restartKeepsTheSubnetAndDropsNoPingBetweenContainers() {
    for (Machine m : machines) {
      Machine other = other(m);
      Pinger there = BootedHost.ping(m, "c1", containerIps.get(other));
      Pinger back = BootedHost.ping(other, "c1", containerIps.get(m));
      Testbed.sleep(1000);
      long before = mainPid(m);
      m.run("systemctl", "restart", "tartan");
      awaitActiveAndReady(m);
      assertThat(mainPid(m)).isNotEqualTo(before);
      Testbed.sleep(2000);
      Pinger.Result r1 = there.stop();
      Pinger.Result r2 = back.stop();
      System.out.printf("SystemdServiceIT: restart on %s: %d/%d and %d/%d pings answered%n", m, r1.received(),
          r1.sent(), r2.received(), r2.sent());
      assertThat(r1.lost()).as("pings lost from %s during the restart:\n%s", m, r1.output()).isZero();
      assertThat(r2.lost()).as("pings lost to %s during the restart:\n%s", m, r2.output()).isZero();
      assertThat(r1.sent()).isGreaterThan(10);
      assertThat(subnet(m)).isEqualTo(subnets.get(m));
    }
    done();
  }

  @Test
  @Order(4)
  void aStoppedJvmIsKilledByTheWatchdogAndRestartedWithTheSameSubnet() {
    Map<Machine, Long> stopped = new LinkedHashMap<>();
    Map<Machine, String> since = new LinkedHashMap<>();
    for (Machine m : machines) {
      since.put(m, now(m));
      long pid = BootedHost.runningPid(m);
      m.run("kill", "-STOP", Long.toString(pid));
      stopped.put(m, pid);
    }
    long t0 = System.nanoTime();
    for (Machine m : machines) {
      boolean restarted = Testbed.await(Duration.ofMinutes(3), () -> {
        long pid = mainPid(m);
        return pid > 0 && pid != stopped.get(m) && ready(m);
      });
      assertThat(restarted).as("%s: restarted after the watchdog fired; status:\n%s", m, status(m)).isTrue();
      System.out.printf("SystemdServiceIT: %s: watchdog restart ready %d s after SIGSTOP%n", m,
          (System.nanoTime() - t0) / 1_000_000_000L);
      assertThat(Long.parseLong(m.show("tartan.service", "NRestarts"))).isPositive();
      assertThat(journal(m, since.get(m))).anyMatch(l -> l.contains("Watchdog timeout"));
      assertThat(m.exec("test", "-e", "/proc/" + stopped.get(m)).ok()).as("the stopped JVM is gone").isFalse();
      assertThat(subnet(m)).isEqualTo(subnets.get(m));
    }
    awaitCrossPings();
    done();
  }

  /**
   * The upgrade path with a package of the previous version: this build repacked with a lower version
   * (dpkg-deb), so the test exercises dpkg's upgrade sequence (old prerm upgrade, new postinst configure
   * OLD) and the conffile handling without building another commit.
   */
  @Test
  @Order(5)
  void anUpgradeRestartsOnceKeepsSubnetConffileAndEveryPing() throws Exception {
    Path old = previousVersion();
    String oldVersion = Deb.version() + "~prev";
    for (Machine m : machines) {
      // Start over from the previous version, installed, configured and running.
      m.run("systemctl", "disable", "--now", "tartan");
      m.run("apt-get", "purge", "-y", "tartan");
      Cmd.Result install = BootedHost.aptInstall(m, old);
      assertThat(install.ok()).as(install.describe()).isTrue();
      assertThat(m.run("dpkg-query", "-W", "-f=${Version}", "tartan")).isEqualTo(oldVersion);
      BootedHost.nameEtcd(m, tb.etcdEndpoints());
      m.sh("sed -i 's|^  # iface = .*|  iface = [ eth0 ]|' /etc/tartan/agent.conf");
      m.run("systemctl", "enable", "--now", "tartan");
      awaitActiveAndReady(m);
      assertThat(subnet(m)).isEqualTo(subnets.get(m));
    }
    awaitCrossPings();
    for (Machine m : machines) {
      Machine other = other(m);
      String conf = m.run("cat", "/etc/tartan/agent.conf");
      String since = now(m);
      long before = mainPid(m);
      Testbed.sleep(1100); // journal --since has one-second steps
      Pinger there = BootedHost.ping(m, "c1", containerIps.get(other));
      Pinger back = BootedHost.ping(other, "c1", containerIps.get(m));
      Testbed.sleep(1000);
      Cmd.Result upgrade = BootedHost.aptInstall(m, Deb.file());
      assertThat(upgrade.ok()).as(upgrade.describe()).isTrue();
      assertThat(upgrade.out()).doesNotContain("conffile");
      awaitActiveAndReady(m);
      Testbed.sleep(2000);
      Pinger.Result r1 = there.stop();
      Pinger.Result r2 = back.stop();
      System.out.printf("SystemdServiceIT: upgrade on %s: %d/%d and %d/%d pings answered%n", m, r1.received(),
          r1.sent(), r2.received(), r2.sent());
      assertThat(m.run("dpkg-query", "-W", "-f=${Version}", "tartan")).isEqualTo(Deb.version());
      assertThat(mainPid(m)).isNotEqualTo(before);
      List<String> journal = journal(m, since);
      assertThat(journal.stream().filter(l -> l.startsWith("Started tartan.service")).count())
          .as("%s: one restart by the upgrade; journal:\n%s", m, String.join("\n", journal)).isEqualTo(1);
      assertThat(journal.stream().filter(l -> l.startsWith("Stopping tartan.service")).count()).isEqualTo(1);
      assertThat(m.run("cat", "/etc/tartan/agent.conf")).as("the changed conffile is kept").isEqualTo(conf);
      assertThat(subnet(m)).isEqualTo(subnets.get(m));
      assertThat(r1.lost()).as("pings lost from %s during the upgrade:\n%s", m, r1.output()).isZero();
      assertThat(r2.lost()).as("pings lost to %s during the upgrade:\n%s", m, r2.output()).isZero();
    }
    done();
  }

  @Test
  @Order(6)
  void removeThenPurgeLeaveNoUnitLinkOrFileOfOurs() {
    String ours = "/usr/bin/tartan /usr/share/tartan /usr/lib/cni/tartan /opt/cni/bin/tartan /usr/lib/cni/flannel "
        + "/opt/cni/bin/flannel /lib/systemd/system/tartan.service /usr/lib/systemd/system/tartan.service "
        + "/usr/share/doc/tartan /usr/share/man/man1/tartan.1.gz";
    for (Machine m : machines) {
      Cmd.Result remove = m.exec(Duration.ofMinutes(3), "apt-get", "remove", "-y", "tartan");
      assertThat(remove.ok()).as(remove.describe()).isTrue();
      assertThat(m.exec("systemctl", "is-active", "tartan").out().strip()).isIn("inactive", "unknown");
      assertThat(m.run("sh", "-c", "for f in " + ours + "; do [ -e $f ] || [ -L $f ] && echo $f; done; true"))
          .as("%s: files of the package after remove", m).isEmpty();
      assertThat(m.run("dpkg-query", "-W", "-f=${Status}", "tartan")).isEqualTo("deinstall ok config-files");
      assertThat(m.exec("test", "-f", "/etc/tartan/agent.conf").ok()).as("remove keeps the config").isTrue();

      Cmd.Result purge = m.exec(Duration.ofMinutes(3), "apt-get", "purge", "-y", "tartan");
      assertThat(purge.ok()).as(purge.describe()).isTrue();
      assertThat(m.exec("dpkg-query", "-W", "-f=${Status}", "tartan").out()).doesNotContain("installed")
          .doesNotContain("config-files");
      String left = m.run("sh", "-c", "find /etc /lib/systemd /usr/lib/systemd /var/lib/systemd /run/systemd "
          + "/usr/share /usr/lib/cni /opt/cni /etc/default -xdev \\( -name 'tartan*' -o -lname '*tartan*' \\) "
          + "2>/dev/null; true");
      assertThat(left).as("%s: anything named tartan or linking to it after purge", m).isEmpty();
      m.run("systemctl", "daemon-reload");
      assertThat(m.exec("systemctl", "list-unit-files", "--no-legend", "tartan.service").out()).isBlank();
      // The kernel state stays until reboot, as documented: the subnet's device is still there.
      assertThat(m.exec("ip", "link", "show", "flannel.1").ok()).isTrue();
    }
    done();
  }

  /** This build's package with Version: VERSION~prev (sorts before VERSION), via dpkg-deb. */
  private Path previousVersion() throws IOException {
    Path work = tb.dir().resolve("deb-prev");
    Path tree = work.resolve("tree");
    Files.createDirectories(work);
    Cmd.run("dpkg-deb", "-R", Deb.file().toString(), tree.toString());
    Path control = tree.resolve("DEBIAN/control");
    Files.writeString(control, Files.readString(control).replaceFirst("(?m)^Version: .*$",
        "Version: " + Deb.version() + "~prev"));
    Path out = work.resolve("tartan_" + Deb.version() + "~prev_all.deb");
    Cmd.run("dpkg-deb", "--root-owner-group", "-Zxz", "-b", tree.toString(), out.toString());
    return out;
  }

  private Machine other(Machine m) {
    return machines.get(machines.indexOf(m) == 0 ? 1 : 0);
  }

  /** Every container reaches every other one (waits for the peers to be programmed). */
  private void awaitCrossPings() {
    for (Machine m : machines) {
      String target = containerIps.get(other(m));
      if (target == null || !containerIps.containsKey(m)) {
        continue;
      }
      boolean ok = Testbed.await(Duration.ofSeconds(90), () -> BootedHost.pingOnce(m, "c1", target));
      assertThat(ok).as("container c1 on %s reaches %s", m, target).isTrue();
    }
  }
}
