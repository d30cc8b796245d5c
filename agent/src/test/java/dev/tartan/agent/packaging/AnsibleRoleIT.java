package dev.tartan.agent.packaging;

import dev.tartan.agent.testbed.Cmd;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Testbed;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The Ansible role with Debian's ansible: syntax check, ansible-lint, then a real run of site.yml
 * against localhost (connection local). The play runs inside a testbed host namespace so that it
 * reaches the testbed's etcd (authentication on) and so that nothing it does can touch the root
 * network namespace; the package and files land on this machine's file system and are purged at
 * the end. A second run must change nothing; a third takes the package from a URL instead; then the
 * agent, started from the generated files exactly as tartan.service would start it, must become
 * ready inside the namespace.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AnsibleRoleIT {
  static final Path ANSIBLE = Path.of("..", "ansible").toAbsolutePath().normalize();
  static final Path SITE = ANSIBLE.resolve("site.yml");
  static final Path MODULES_LOAD = Path.of("/etc/modules-load.d/tartan.conf");
  private static final ObjectMapper JSON = new ObjectMapper();

  private boolean modulesLoadExisted;
  private Path work;

  @BeforeAll
  void setUp() throws IOException {
    assumeTrue(onPath("ansible-playbook"), "needs Debian's ansible (sudo scripts/install-deps.sh)");
    modulesLoadExisted = Files.exists(MODULES_LOAD);
    work = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "ansible-it-");
  }

  @AfterAll
  void tearDown() throws IOException {
    if (work == null) {
      return;
    }
    Deb.purge();
    if (!modulesLoadExisted) {
      Files.deleteIfExists(MODULES_LOAD);
    }
    try (Stream<Path> s = Files.walk(work)) {
      s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }

  @Test
  @Order(1)
  void playbookPassesSyntaxCheck() {
    Cmd.Result r = Cmd.exec(Duration.ofMinutes(2), List.of("ansible-playbook", "-i",
        ANSIBLE.resolve("inventory/hosts.ini").toString(), "--syntax-check", SITE.toString()), ansibleEnv());
    assertThat(r.ok()).as(r.describe()).isTrue();
  }

  @Test
  @Order(2)
  void roleAndPlaybookPassAnsibleLint() {
    assumeTrue(onPath("ansible-lint"), "ansible-lint not installed (sudo scripts/install-deps.sh)");
    Cmd.Result r = Cmd.exec(Duration.ofMinutes(3), List.of("sh", "-c",
        "cd '" + ANSIBLE + "' && ansible-lint --offline --nocolor site.yml roles/tartan"), ansibleEnv());
    assertThat(r.ok()).as(r.describe()).isTrue();
  }

  @Test
  @Order(3)
  void realRunInstallsConfiguresIsIdempotentAndTheAgentBecomesReady() throws Exception {
    String reason = Deb.unavailableReason();
    assumeTrue(reason == null, reason);
    reason = Testbed.unavailableReason();
    assumeTrue(reason == null, reason);
    Deb.purgeLeftover();

    try (Testbed tb = Testbed.create(1)) {
      String password = "ans'ible\"$pw" + ProcessHandle.current().pid();
      EtcdAuth.enable(tb, "tartan", password);

      Path netd = work.resolve("net.d");
      ObjectNode vars = JSON.createObjectNode();
      vars.put("tartan_deb_src", Deb.file().toString());
      vars.put("tartan_deb_dir", work.resolve("deb").toString());
      vars.putArray("tartan_etcd_endpoints").add(tb.etcdEndpoints());
      vars.put("tartan_etcd_username", "tartan");
      vars.put("tartan_etcd_password", password);
      vars.put("tartan_network", "10.78.0.0/16");
      vars.put("tartan_subnet_file", tb.subnetFile(1).toString());
      vars.putArray("tartan_cni_conf_dirs").add(netd.toString());
      vars.put("tartan_java_opts", "-Dtartan.started.by=AnsibleRoleIT");
      boolean systemdIsPid1 = Files.readString(Path.of("/proc/1/comm")).strip().equals("systemd");
      if (systemdIsPid1) {
        // Never start the real service (in the root namespace) from a test.
        vars.put("tartan_manage_service", false);
      }
      Path varsFile = work.resolve("vars.json");
      Files.writeString(varsFile, JSON.writeValueAsString(vars));
      Path inventory = work.resolve("inventory.ini");
      Files.writeString(inventory,
          "[tartan]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n");

      // First run: installs and configures; the service tasks are skipped (PID 1 is not systemd).
      JsonNode first = play(tb, inventory, varsFile, password);
      JsonNode stats = first.path("stats").path("localhost");
      assertThat(stats.path("failures").asInt()).isZero();
      assertThat(stats.path("changed").asInt()).isPositive();
      assertThat(task(first, "Write the network config into etcd").path("changed").asBoolean()).isTrue();
      if (!systemdIsPid1) {
        for (String name : List.of("Enable and start tartan.service", "Wait for the agent to be ready")) {
          assertThat(task(first, name).path("skipped").asBoolean())
              .as("'%s' is skipped by tartan_manage_service (ansible_service_mgr != systemd)", name).isTrue();
        }
      }

      assertThat(Deb.status()).isEqualTo("install ok installed");
      assertThat(Cmd.run("/usr/bin/tartan", "--version").strip()).isEqualTo("tartan " + Deb.version());
      assertThat(mode("/etc/tartan/agent.conf")).isEqualTo("rw-------");
      assertThat(mode("/etc/default/tartan")).isEqualTo("rw-------");
      String agentConf = Files.readString(Path.of("/etc/tartan/agent.conf"));
      assertThat(agentConf).contains("etcd-endpoints = \"" + tb.etcdEndpoints() + "\"")
          .contains("etcd-username = \"tartan\"").contains("healthz-port = 8471")
          .doesNotContain(password);
      Map<String, String> defaults = ServiceUnit.parseEnvironmentFile(Files.readString(Path.of("/etc/default/tartan")));
      assertThat(defaults).containsEntry("FLANNELD_ETCD_PASSWORD", password)
          .containsEntry("TARTAN_JAVA_OPTS", "-Dtartan.started.by=AnsibleRoleIT");
      assertThat(Files.readString(MODULES_LOAD)).isEqualTo("vxlan\n");
      JsonNode conflist = JSON.readTree(netd.resolve("10-tartan.conflist").toFile());
      assertThat(conflist.path("name").asText()).isEqualTo("tartan");
      assertThat(conflist.path("plugins").path(0).path("type").asText()).isEqualTo("tartan");
      assertThat(conflist.path("plugins").path(0).path("subnetFile").asText()).isEqualTo(tb.subnetFile(1).toString());
      assertThat(conflist.path("plugins").path(1).path("type").asText()).isEqualTo("portmap");
      JsonNode config = JSON.readTree(EtcdAuth.rootGet(tb, "/coreos.com/network/config").lines().skip(1)
          .findFirst().orElseThrow());
      assertThat(config.path("Network").asText()).isEqualTo("10.78.0.0/16");
      assertThat(config.path("Backend").path("Type").asText()).isEqualTo("vxlan");

      // Second run: nothing to do.
      JsonNode second = play(tb, inventory, varsFile, password);
      assertThat(second.path("stats").path("localhost").path("failures").asInt()).isZero();
      assertThat(second.path("stats").path("localhost").path("changed").asInt())
          .as("second run changes nothing; tasks that did: %s", changedTasks(second)).isZero();

      // Third run: the same package from a URL (an HTTP server inside the namespace), checksum pinned.
      AgentProcess http = tb.startInHost(1, List.of("python3", "-m", "http.server", "--bind", "127.0.0.1",
          "8088", "--directory", Deb.file().getParent().toString()), Map.of("PATH", "/usr/bin:/bin"), "http.log");
      assertThat(Testbed.await(Duration.ofSeconds(20), () -> Cmd.exec(Duration.ofSeconds(5), List.of("ip", "netns",
          "exec", tb.host(1), "curl", "-sfI", "http://127.0.0.1:8088/" + Deb.file().getFileName())).ok()))
          .as("http.server up; log:\n%s", http.log()).isTrue();
      vars.put("tartan_deb_src", "");
      vars.put("tartan_deb_dir", work.resolve("deb-url").toString());
      vars.put("tartan_deb_url", "http://127.0.0.1:8088/" + Deb.file().getFileName());
      vars.put("tartan_deb_checksum", "sha256:" + sha256(Deb.file()));
      Files.writeString(varsFile, JSON.writeValueAsString(vars));
      JsonNode third = play(tb, inventory, varsFile, password);
      assertThat(third.path("stats").path("localhost").path("failures").asInt()).isZero();
      assertThat(task(third, "Download the package").path("changed").asBoolean()).isTrue();
      assertThat(task(third, "Install the package (and its dependencies)").path("changed").asBoolean())
          .as("the same version is installed already").isFalse();
      assertThat(changedTasks(third))
          .containsExactly("tartan : Create the package directory", "tartan : Download the package");
      assertThat(work.resolve("deb-url").resolve(Deb.file().getFileName())).hasSameBinaryContentAs(Deb.file());
      http.kill();

      // The agent from the generated files, started as tartan.service would start it.
      ServiceUnit unit = ServiceUnit.read(PackageInstallIT.UNIT);
      // (its attach socket in the test bed, not at the machine-wide default path)
      AgentProcess agent = tb.startInHost(1, unit.execStart(),
          unit.environment(Map.of("FLANNELD_ATTACH_SOCKET", tb.attachSocket(1).toString())), "ansible-unit.log");
      boolean ready = Testbed.await(Duration.ofSeconds(90), () -> tb.ready(1) || !agent.alive());
      assertThat(ready && agent.alive()).as("agent ready within 90 s; log:\n%s", agent.log()).isTrue();
      assertThat(EtcdAuth.rootGet(tb, "/coreos.com/network/subnets/"))
          .contains("\"PublicIP\":\"" + Testbed.hostIp(1) + "\"");
      assertThat(Files.readString(tb.subnetFile(1))).contains("FLANNEL_NETWORK=10.78.0.0/16");
      agent.stop();
    }
  }

  /** Runs site.yml inside host 1 of the testbed with the JSON callback; returns its report. */
  private JsonNode play(Testbed tb, Path inventory, Path varsFile, String password) throws IOException {
    List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", tb.host(1),
        "ansible-playbook", "-i", inventory.toString(), "-e", "@" + varsFile, SITE.toString()));
    Cmd.Result r = Cmd.exec(Duration.ofMinutes(8), argv, ansibleEnv());
    assertThat(r.out()).as("the etcd password never shows in ansible's output").doesNotContain(password);
    assertThat(r.ok()).as(r.describe()).isTrue();
    return JSON.readTree(r.out());
  }

  private Map<String, String> ansibleEnv() {
    Map<String, String> env = new HashMap<>(System.getenv());
    env.put("ANSIBLE_STDOUT_CALLBACK", "json");
    env.put("ANSIBLE_NOCOLOR", "1");
    env.put("ANSIBLE_RETRY_FILES_ENABLED", "0");
    env.put("ANSIBLE_LOCAL_TEMP", work.resolve("ansible-tmp").toString());
    env.put("ANSIBLE_HOME", work.resolve("ansible-home").toString());
    return env;
  }

  /** The localhost result of the task named {@code name} (role tasks are reported as "tartan : name"). */
  private static JsonNode task(JsonNode report, String name) {
    JsonNode found = null;
    for (JsonNode play : report.path("plays")) {
      for (JsonNode t : play.path("tasks")) {
        String taskName = t.path("task").path("name").asText();
        if (taskName.equals(name) || taskName.endsWith(" : " + name)) {
          found = t.path("hosts").path("localhost");
        }
      }
    }
    assertThat(found).as("task '%s' in the report", name).isNotNull();
    return found;
  }

  private static List<String> changedTasks(JsonNode report) {
    List<String> names = new ArrayList<>();
    for (JsonNode play : report.path("plays")) {
      for (JsonNode t : play.path("tasks")) {
        if (t.path("hosts").path("localhost").path("changed").asBoolean()) {
          names.add(t.path("task").path("name").asText());
        }
      }
    }
    return names;
  }

  private static String sha256(Path file) throws IOException {
    try {
      return java.util.HexFormat.of().formatHex(
          java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  private static boolean onPath(String binary) {
    return Cmd.exec(Duration.ofSeconds(10), List.of("sh", "-c", "command -v " + binary)).ok();
  }

  private static String mode(String path) throws IOException {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(Path.of(path)));
  }
}
