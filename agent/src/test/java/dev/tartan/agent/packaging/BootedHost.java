package dev.tartan.agent.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Machine;
import dev.tartan.agent.testbed.Pinger;
import dev.tartan.agent.testbed.Testbed;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the ITs on booted machines do to a machine: install the package, configure, containers, facts. */
final class BootedHost {
  static final String DEB_IN_MACHINE = "/root/";
  private static final Pattern SUBNET = Pattern.compile("(?m)^FLANNEL_SUBNET=(\\S+)$");

  private BootedHost() {}

  /** Why machines with the package cannot be tested here, or null. */
  static String unavailableReason() {
    String reason = Testbed.unavailableReason();
    if (reason == null) {
      reason = Machine.unavailableReason();
    }
    if (reason == null && !java.nio.file.Files.isRegularFile(Deb.file())) {
      reason = Deb.file() + " is missing: run `mvn -pl cni,agent -am package` first";
    }
    return reason;
  }

  /** `apt-get install ./FILE` inside the machine (the package file copied to /root first). */
  static Cmd.Result aptInstall(Machine m, java.nio.file.Path deb) {
    m.copyIn(deb, DEB_IN_MACHINE + deb.getFileName());
    return m.exec(Duration.ofMinutes(5), "apt-get", "install", "-y",
        DEB_IN_MACHINE + deb.getFileName());
  }

  /** /etc/tartan/agent.conf as the README tells a user: the shipped file with the etcd cluster named. */
  static void nameEtcd(Machine m, String endpoints) {
    m.sh("sed -i 's|^  etcd-endpoints = .*|  etcd-endpoints = \"" + endpoints + "\"|' /etc/tartan/agent.conf");
    assertThat(m.run("cat", "/etc/tartan/agent.conf")).contains("etcd-endpoints = \"" + endpoints + "\"");
  }

  /** The machine's subnet from /run/flannel/subnet.env. */
  static String subnet(Machine m) {
    Matcher matcher = SUBNET.matcher(m.run("cat", "/run/flannel/subnet.env"));
    assertThat(matcher.find()).as("FLANNEL_SUBNET in subnet.env of %s", m).isTrue();
    return matcher.group(1);
  }

  static boolean ready(Machine m) {
    return m.exec(Duration.ofSeconds(10), "curl", "-sf", "-m", "2", "http://127.0.0.1:8471/readyz").ok();
  }

  /**
   * A container on the machine: network namespace {@code name} attached by the installed CNI plugin
   * (/usr/lib/cni/tartan -> bridge + host-local, as the shipped conflist configures it); its IPv4.
   */
  static String addContainer(Machine m, String name) {
    m.run("ip", "netns", "add", name);
    String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"tartan\",\"type\":\"tartan\","
        + "\"subnetFile\":\"/run/flannel/subnet.env\",\"dataDir\":\"/var/lib/cni/flannel\","
        + "\"delegate\":{\"hairpinMode\":true,\"isDefaultGateway\":true}}";
    Cmd.Result r = m.execWithInput(conf, "env", "CNI_COMMAND=ADD", "CNI_CONTAINERID=" + name,
        "CNI_NETNS=/run/netns/" + name, "CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni", "/usr/lib/cni/tartan");
    assertThat(r.ok()).as(r.describe()).isTrue();
    Matcher ip = Pattern.compile("\"address\"\\s*:\\s*\"([0-9.]+)/").matcher(r.out());
    assertThat(ip.find()).as("an IPv4 in the CNI result: %s", r.out()).isTrue();
    return ip.group(1);
  }

  /** A continuous ping from container {@code from} on {@code m} (every 100 ms). */
  static Pinger ping(Machine m, String from, String ip) {
    return Pinger.start(m.insideDirect("ip", "netns", "exec", from), ip, 100);
  }

  /** One ping from a container; true when answered. */
  static boolean pingOnce(Machine m, String from, String ip) {
    return m.exec(Duration.ofSeconds(20), "ip", "netns", "exec", from, "ping", "-c", "1", "-W", "2", ip).ok();
  }

  /** The main PID of tartan.service as the machine sees it (0 when not running). */
  static long mainPid(Machine m) {
    return Long.parseLong(m.show("tartan.service", "MainPID"));
  }

  /** The main PID of the running tartan.service; fails when there is none (never `kill 0`). */
  static long runningPid(Machine m) {
    long pid = mainPid(m);
    assertThat(pid).as("%s: tartan.service has a main PID; status:\n%s", m, status(m)).isPositive();
    return pid;
  }

  /** `systemctl is-active tartan` and /readyz, waited for (up to 3 minutes on a loaded machine). */
  static void awaitActiveAndReady(Machine m) {
    boolean ok = Testbed.await(Duration.ofMinutes(3),
        () -> m.exec("systemctl", "is-active", "tartan").out().strip().equals("active") && ready(m));
    assertThat(ok).as("%s: tartan active and ready; status:\n%s", m, status(m)).isTrue();
  }

  static String status(Machine m) {
    return m.exec("systemctl", "status", "--no-pager", "-l", "-n", "30", "tartan").out();
  }

  /** The journal of tartan.service since {@code since} (a `date +%s` of the machine), message text only. */
  static List<String> journal(Machine m, String since) {
    return m.run("journalctl", "-u", "tartan", "--no-pager", "-o", "cat", "--since", "@" + since).lines().toList();
  }

  static String now(Machine m) {
    return m.run("date", "+%s").strip();
  }
}
