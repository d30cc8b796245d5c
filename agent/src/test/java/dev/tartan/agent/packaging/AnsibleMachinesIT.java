package dev.tartan.agent.packaging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Machine;
import dev.tartan.agent.testbed.Pinger;
import dev.tartan.agent.testbed.Testbed;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The Ansible role as an operator runs it: ansible-playbook in the testbed's control namespace, over
 * ssh (a key made by the test) to three machines booted by systemd-nspawn (Debian 12, 13, 12) with
 * sshd and their own systemd. First run: install, configure, enable, /readyz waited; a second run
 * changes nothing; a config change rolls a restart over the hosts one at a time (serial: 1) while
 * containers on each machine ping the next one's, and no ping is lost.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 12, unit = java.util.concurrent.TimeUnit.MINUTES)
class AnsibleMachinesIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<Machine.Suite> SUITES =
      List.of(Machine.Suite.BOOKWORM, Machine.Suite.TRIXIE, Machine.Suite.BOOKWORM);
  private Testbed tb;
  private final List<Machine> machines = new ArrayList<>();
  private Path work;
  private Path inventory;
  private Path varsFile;
  private ObjectNode vars;
  private long startedAt;

  @BeforeAll
  void boot() throws IOException {
    assumeTrue(Cmd.onPath("ansible-playbook") && Cmd.onPath("ssh"),
        "needs Debian's ansible and an ssh client (sudo scripts/install-deps.sh)");
    String reason = BootedHost.unavailableReason();
    assumeTrue(reason == null, reason);
    startedAt = System.nanoTime();
    tb = Testbed.create(SUITES.size());
    work = Files.createDirectories(tb.dir().resolve("ansible"));
    Path key = work.resolve("id_ed25519");
    Cmd.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tartan-test", "-f", key.toString());
    String pub = Files.readString(work.resolve("id_ed25519.pub"));
    StringBuilder inv = new StringBuilder("[tartan]\n");
    for (int h = 1; h <= SUITES.size(); h++) {
      Machine m = Machine.boot(tb, h, SUITES.get(h - 1));
      machines.add(m);
      m.writeFile("/root/.ssh/authorized_keys", pub, "600");
      m.run("chmod", "700", "/root/.ssh");
      inv.append("m").append(h).append(" ansible_host=").append(m.ip()).append('\n');
    }
    inv.append("\n[tartan:vars]\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\n")
        .append("ansible_ssh_private_key_file=").append(key).append('\n')
        .append("ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null")
        .append(" -o LogLevel=ERROR'\n");
    inventory = work.resolve("inventory.ini");
    Files.writeString(inventory, inv);
    vars = JSON.createObjectNode();
    vars.put("tartan_deb_src", Deb.file().toString());
    vars.putArray("tartan_etcd_endpoints").add(tb.etcdEndpoints());
    vars.put("tartan_network", "10.82.0.0/16");
    varsFile = work.resolve("vars.json");
    Files.writeString(varsFile, JSON.writeValueAsString(vars));
    System.out.printf("AnsibleMachinesIT: testbed and three machines booted in %d s%n", elapsed());
  }

  @AfterAll
  void tearDown() {
    if (tb != null) {
      tb.close();
      System.out.printf("AnsibleMachinesIT: %d s in all%n", elapsed());
    }
  }

  private long elapsed() {
    return (System.nanoTime() - startedAt) / 1_000_000_000L;
  }

  @Test
  @Order(1)
  void firstRunInstallsConfiguresEnablesAndWaitsForReadiness() {
    JsonNode report = play();
    for (Machine m : machines) {
      JsonNode stats = report.path("stats").path(name(m));
      assertThat(stats.path("failures").asInt()).isZero();
      assertThat(stats.path("changed").asInt()).isPositive();
      assertThat(taskOn(report, "Enable and start tartan.service", m).path("changed").asBoolean()).isTrue();
      assertThat(taskOn(report, "Wait for the agent to be ready", m).path("skipped").asBoolean()).isFalse();
      assertThat(m.run("systemctl", "is-enabled", "tartan").strip()).isEqualTo("enabled");
      assertThat(m.run("systemctl", "is-active", "tartan").strip()).isEqualTo("active");
      assertThat(BootedHost.ready(m)).isTrue();
      assertThat(m.run("cat", "/run/flannel/subnet.env")).contains("FLANNEL_NETWORK=10.82.0.0/16");
      assertThat(m.run("ls", "/etc/cni/net.d")).contains("10-tartan.conflist");
    }
    System.out.printf("AnsibleMachinesIT: first run done at %d s%n", elapsed());
  }

  @Test
  @Order(2)
  void secondRunChangesNothing() {
    JsonNode report = play();
    for (Machine m : machines) {
      assertThat(report.path("stats").path(name(m)).path("changed").asInt())
          .as("%s: tasks that changed on the second run: %s", m, changedTasks(report, m)).isZero();
    }
    System.out.printf("AnsibleMachinesIT: second run done at %d s%n", elapsed());
  }

  @Test
  @Order(3)
  void aConfigChangeRestartsOneHostAtATimeAndDropsNoPing() throws IOException {
    List<String> ips = new ArrayList<>();
    for (Machine m : machines) {
      ips.add(BootedHost.addContainer(m, "c1"));
    }
    List<Pinger> pingers = new ArrayList<>();
    for (int i = 0; i < machines.size(); i++) {
      Machine from = machines.get(i);
      String to = ips.get((i + 1) % machines.size());
      assertThat(Testbed.await(Duration.ofSeconds(90), () -> BootedHost.pingOnce(from, "c1", to)))
          .as("c1 on %s reaches %s", from, to).isTrue();
    }
    Map<Machine, Long> pids = new HashMap<>();
    for (int i = 0; i < machines.size(); i++) {
      pids.put(machines.get(i), BootedHost.mainPid(machines.get(i)));
      pingers.add(BootedHost.ping(machines.get(i), "c1", ips.get((i + 1) % machines.size())));
    }
    vars.put("tartan_java_opts", "-Dtartan.rollout=2");
    Files.writeString(varsFile, JSON.writeValueAsString(vars));
    JsonNode report = play();
    Testbed.sleep(2000);
    for (int i = 0; i < machines.size(); i++) {
      Machine m = machines.get(i);
      Pinger.Result r = pingers.get(i).stop();
      System.out.printf("AnsibleMachinesIT: rolling restart: %s -> %s: %d/%d answered%n", m,
          ips.get((i + 1) % machines.size()), r.received(), r.sent());
      assertThat(r.lost()).as("pings lost from %s during the rolling restart:\n%s", m, r.output()).isZero();
      assertThat(r.sent()).isGreaterThan(10);
      assertThat(report.path("stats").path(name(m)).path("failures").asInt()).isZero();
      assertThat(BootedHost.mainPid(m)).as("%s restarted", m).isNotEqualTo(pids.get(m));
      assertThat(m.run("cat", "/proc/" + BootedHost.mainPid(m) + "/cmdline")).contains("-Dtartan.rollout=2");
    }
    // One host at a time: each was stopped only after the one before it was active (READY) again.
    // The machines share the kernel, so their monotonic timestamps compare.
    for (int i = 0; i + 1 < machines.size(); i++) {
      long readyAgain = Long.parseLong(machines.get(i).show("tartan.service", "ActiveEnterTimestampMonotonic"));
      long nextStopped = Long.parseLong(machines.get(i + 1).show("tartan.service", "InactiveEnterTimestampMonotonic"));
      assertThat(nextStopped).as("%s stopped after %s was ready again", machines.get(i + 1), machines.get(i))
          .isGreaterThan(readyAgain);
    }
    System.out.printf("AnsibleMachinesIT: rolling restart done at %d s%n", elapsed());
  }

  /** site.yml from the control namespace over ssh, JSON callback; its report. */
  private JsonNode play() {
    Map<String, String> env = new HashMap<>(System.getenv());
    env.put("ANSIBLE_STDOUT_CALLBACK", "json");
    env.put("ANSIBLE_NOCOLOR", "1");
    env.put("ANSIBLE_RETRY_FILES_ENABLED", "0");
    env.put("ANSIBLE_HOST_KEY_CHECKING", "False");
    env.put("ANSIBLE_LOCAL_TEMP", work.resolve("tmp").toString());
    env.put("ANSIBLE_HOME", work.resolve("home").toString());
    env.put("ANSIBLE_SSH_CONTROL_PATH_DIR", work.resolve("cp").toString());
    Cmd.Result r = Cmd.exec(Duration.ofMinutes(10), List.of(Cmd.inNs(tb.ns("ctl"), "ansible-playbook",
        "-i", inventory.toString(), "-e", "@" + varsFile, AnsibleRoleIT.SITE.toString())), env);
    assertThat(r.ok()).as(r.describe()).isTrue();
    try {
      return JSON.readTree(r.out());
    } catch (IOException e) {
      throw new AssertionError("ansible-playbook printed no JSON: " + r.out(), e);
    }
  }

  private static String name(Machine m) {
    return "m" + m.host();
  }

  /** The result on {@code m} of the task named {@code name} (last play that ran it). */
  private static JsonNode taskOn(JsonNode report, String name, Machine m) {
    JsonNode found = null;
    for (JsonNode play : report.path("plays")) {
      for (JsonNode t : play.path("tasks")) {
        String taskName = t.path("task").path("name").asText();
        if ((taskName.equals(name) || taskName.endsWith(" : " + name)) && t.path("hosts").has(name(m))) {
          found = t.path("hosts").path(name(m));
        }
      }
    }
    assertThat(found).as("task '%s' on %s in the report", name, m).isNotNull();
    return found;
  }

  private static List<String> changedTasks(JsonNode report, Machine m) {
    List<String> names = new ArrayList<>();
    for (JsonNode play : report.path("plays")) {
      for (JsonNode t : play.path("tasks")) {
        if (t.path("hosts").path(name(m)).path("changed").asBoolean()) {
          names.add(t.path("task").path("name").asText());
        }
      }
    }
    return names;
  }
}
