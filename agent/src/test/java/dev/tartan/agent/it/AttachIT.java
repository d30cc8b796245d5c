package dev.tartan.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Testbed;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 16: CNI calls through the agent's attach socket and through the standalone plugin, on one testbed host
 * with a real agent, the real front end ({@code cni/target/tartan-cni}) and the real bridge + host-local.
 *
 * <p>To know which path served a call, the "agent only" front end is a copy of the front end whose fallback
 * ({@code tartan-cni-java} beside it) fails loudly; the standalone calls use {@code "attachSocket": ""} or
 * an agent that is down.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(300)
class AttachIT {
  static final ObjectMapper JSON = new ObjectMapper();
  static Testbed bed;
  static AgentProcess agent;
  static Path agentOnly;
  static Path tools;

  @BeforeAll
  static void up() throws Exception {
    String reason = Testbed.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    Assumptions.assumeTrue(Files.isExecutable(Testbed.cniFrontEnd()), "cni/target/tartan-cni not built");
    Assumptions.assumeTrue(Files.isExecutable(Testbed.cniPlugin()), "cni/target/tartan-cni-java not built");
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/lib/cni/bridge")), "needs /usr/lib/cni/bridge");
    Assumptions.assumeTrue(Cmd.onPath("setpriv"), "needs setpriv (util-linux)");
    bed = Testbed.create(1);
    tools = Files.createTempDirectory("tartan-attach-it");
    Files.setPosixFilePermissions(tools, PosixFilePermissions.fromString("rwxr-xr-x"));
    agentOnly = Files.copy(Testbed.cniFrontEnd(), tools.resolve("tartan-cni"), StandardCopyOption.COPY_ATTRIBUTES);
    script(tools.resolve("tartan-cni-java"), "#!/bin/sh\n"
        + "echo '{\"cniVersion\":\"1.0.0\",\"code\":999,\"msg\":\"the standalone plugin ran, the agent was expected\"}'\n"
        + "exit 1\n");
    // A delegate that does bridge's work, then (while the file "slow" exists) sits on its result: an agent
    // killed meanwhile has done the whole ADD but never answered.
    Path slow = Files.createDirectories(tools.resolve("plugins"));
    script(slow.resolve("slowbridge"), "#!/bin/sh\n"
        + "out=$(/usr/lib/cni/bridge); rc=$?\n"
        + "if [ \"$CNI_COMMAND\" = ADD ] && [ -e " + tools.resolve("slow") + " ]; then\n"
        + "  touch " + tools.resolve("in-add") + "; sleep 60\n"
        + "fi\n"
        + "printf '%s' \"$out\"; exit $rc\n");
    bed.tartan("network", "init", "--network", "10.244.0.0/16", "--backend", "vxlan");
    agent = bed.startAgent(1);
    awaitReady();
  }

  @AfterAll
  static void down() throws Exception {
    if (bed != null) {
      bed.close();
    }
    if (tools != null) {
      try (Stream<Path> s = Files.walk(tools)) {
        s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  static void awaitReady() {
    if (!Testbed.await(Duration.ofSeconds(120), () -> bed.ready(1) && Files.exists(bed.attachSocket(1)))) {
      fail("agent not ready after 120 s; log:\n" + agent.log());
    }
  }

  static void script(Path p, String text) throws Exception {
    Files.writeString(p, text);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  enum Via { AGENT, STANDALONE }

  /** The network config; {@code attachSocket} per path; extra fields merged in. */
  static String conf(Via via, Map<String, Object> extra) throws Exception {
    ObjectNode c = JSON.createObjectNode();
    c.put("cniVersion", "1.0.0").put("name", "tt").put("type", "tartan")
        .put("subnetFile", bed.subnetFile(1).toString()).put("dataDir", bed.hostDir(1).resolve("cni").toString())
        .put("attachSocket", via == Via.AGENT ? bed.attachSocket(1).toString() : "");
    c.putObject("ipam").put("dataDir", bed.hostDir(1).resolve("ipam").toString());
    extra.forEach((k, v) -> c.set(k, JSON.valueToTree(v)));
    return JSON.writeValueAsString(c);
  }

  static Cmd.Result call(Via via, String command, String container, String conf, String... prefix) {
    List<String> inner = new ArrayList<>(List.of(prefix)); // e.g. setpriv: inside the namespace
    inner.addAll(List.of("env", "CNI_COMMAND=" + command, "CNI_CONTAINERID=" + container,
        "CNI_NETNS=/run/netns/" + bed.ns(container), "CNI_IFNAME=eth0", "CNI_PATH=" + tools.resolve("plugins")
            + ":/usr/lib/cni",
        (via == Via.AGENT ? agentOnly : Testbed.cniFrontEnd()).toString()));
    return Cmd.exec(Duration.ofSeconds(120), List.of(Cmd.inNs(bed.host(1), inner.toArray(String[]::new))), null, conf);
  }

  static String ok(Cmd.Result r) {
    assertThat(r.exit()).as(r.describe()).isZero();
    return r.out();
  }

  static String newContainer(String name) {
    Cmd.run("ip", "netns", "add", bed.ns(name));
    return name;
  }

  static void dropContainer(String name) {
    Cmd.quiet("ip", "netns", "del", bed.ns(name));
  }

  /** The ADD result with what must differ between two containers (addresses, MACs, netns paths) masked. */
  static JsonNode shape(String result, String container) throws Exception {
    String masked = result.replaceAll("\"mac\"\\s*:\\s*\"[0-9a-f:]+\"", "\"mac\":\"M\"")
        .replaceAll("\"address\"\\s*:\\s*\"10\\.244\\.\\d+\\.\\d+/24\"", "\"address\":\"A\"")
        .replace(bed.ns(container), "NETNS").replaceAll("\"veth[0-9a-f]+\"", "\"VETH\"");
    return JSON.readTree(masked);
  }

  static List<String> leftovers() throws Exception {
    List<String> left = new ArrayList<>();
    for (Path d : List.of(bed.hostDir(1).resolve("cni"), bed.hostDir(1).resolve("ipam").resolve("tt"))) {
      if (Files.isDirectory(d)) {
        try (Stream<Path> s = Files.list(d)) {
          s.map(p -> p.getFileName().toString())
              .filter(n -> !n.equals("lock") && !n.startsWith("last_reserved_ip"))
              .forEach(n -> left.add(d.getFileName() + "/" + n));
        }
      }
    }
    return left;
  }

  @Test
  @Order(1)
  void addCheckDelGiveTheSameThroughTheSocketAndTheStandalonePluginAndCrossOver() throws Exception {
    String a = newContainer("a1");
    String b = newContainer("a2");
    try {
      // CHECK right after each ADD, through both paths (bridge compares cni0's MAC with the result's, and the
      // kernel may change the bridge's MAC when the next container's veth joins it).
      String viaAgent = ok(call(Via.AGENT, "ADD", a, conf(Via.AGENT, Map.of())));
      byte[] savedA = Files.readAllBytes(bed.hostDir(1).resolve("cni").resolve(a));
      checkBothWays(a, viaAgent);
      String viaStandalone = ok(call(Via.STANDALONE, "ADD", b, conf(Via.STANDALONE, Map.of())));
      byte[] savedB = Files.readAllBytes(bed.hostDir(1).resolve("cni").resolve(b));
      checkBothWays(b, viaStandalone);
      assertThat(shape(viaAgent, a)).isEqualTo(shape(viaStandalone, b));
      assertThat(savedA).as("the saved delegate configs").isEqualTo(savedB);

      // DEL works whichever path did the ADD.
      assertThat(ok(call(Via.STANDALONE, "DEL", a, conf(Via.STANDALONE, Map.of())))).isEmpty();
      assertThat(ok(call(Via.AGENT, "DEL", b, conf(Via.AGENT, Map.of())))).isEmpty();
      assertThat(leftovers()).isEmpty();

      // Errors are the same JSON and status too: CHECK of a container that is gone, VERSION.
      Map<String, Object> prev = Map.of("prevResult", JSON.readValue(viaAgent, Map.class));
      Cmd.Result e1 = call(Via.AGENT, "CHECK", a, conf(Via.AGENT, prev));
      Cmd.Result e2 = call(Via.STANDALONE, "CHECK", a, conf(Via.STANDALONE, prev));
      assertThat(e1.exit()).isEqualTo(e2.exit()).isEqualTo(1);
      assertThat(e1.out()).isEqualTo(e2.out()).contains("\"code\": 3");
      assertThat(ok(call(Via.AGENT, "VERSION", a, conf(Via.AGENT, Map.of()))))
          .isEqualTo(ok(call(Via.STANDALONE, "VERSION", a, conf(Via.STANDALONE, Map.of()))));
    } finally {
      call(Via.STANDALONE, "DEL", a, conf(Via.STANDALONE, Map.of()));
      call(Via.STANDALONE, "DEL", b, conf(Via.STANDALONE, Map.of()));
      dropContainer(a);
      dropContainer(b);
    }
  }

  static void checkBothWays(String c, String result) throws Exception {
    Map<String, Object> prev = Map.of("prevResult", JSON.readValue(result, Map.class));
    assertThat(ok(call(Via.AGENT, "CHECK", c, conf(Via.AGENT, prev)))).isEmpty();
    assertThat(ok(call(Via.STANDALONE, "CHECK", c, conf(Via.STANDALONE, prev)))).isEmpty();
  }

  @Test
  @Order(2)
  void aNonRootCallerIsRefused() throws Exception {
    String c = newContainer("a3");
    String[] nobody = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    try {
      // The socket is 0600 in the agent's directory: nobody cannot even connect; the front end then runs the
      // standalone plugin with nobody's rights, which get it nowhere.
      Cmd.Result blocked = call(Via.STANDALONE, "ADD", c, conf(Via.AGENT, Map.of()), nobody);
      assertThat(blocked.exit()).as(blocked.describe()).isEqualTo(1);
      assertThat(JSON.readTree(blocked.out()).path("code").asInt()).isPositive();
      // Opened up on purpose, the socket still refuses a caller that is not root (SO_PEERCRED).
      Path sock = bed.attachSocket(1);
      Files.setPosixFilePermissions(bed.dir(), PosixFilePermissions.fromString("rwx--x--x"));
      Files.setPosixFilePermissions(bed.hostDir(1), PosixFilePermissions.fromString("rwx--x--x"));
      Files.setPosixFilePermissions(sock, PosixFilePermissions.fromString("rw-rw-rw-"));
      Cmd.Result refused = call(Via.AGENT, "ADD", c, conf(Via.AGENT, Map.of()), nobody);
      assertThat(refused.exit()).as(refused.describe()).isEqualTo(1);
      assertThat(refused.out()).contains("\"code\": 103", "serves root only", "user nobody");
      assertThat(leftovers()).isEmpty();
      assertThat(agent.log()).contains("refused a call from user nobody");
    } finally {
      Files.setPosixFilePermissions(bed.attachSocket(1), PosixFilePermissions.fromString("rw-------"));
      Files.setPosixFilePermissions(bed.hostDir(1), PosixFilePermissions.fromString("rwx------"));
      Files.setPosixFilePermissions(bed.dir(), PosixFilePermissions.fromString("rwx------"));
      dropContainer(c);
    }
  }

  @Test
  @Order(3)
  void anAgentKilledMidAddLeavesNothingThatADelOrARetryDoesNotClean() throws Exception {
    String c = newContainer("a4");
    Map<String, Object> slow = Map.of("delegate", Map.of("type", "slowbridge"));
    Files.writeString(tools.resolve("slow"), "");
    try {
      CompletableFuture<Cmd.Result> add = CompletableFuture.supplyAsync(
          () -> call(Via.AGENT, "ADD", c, confUnchecked(Via.AGENT, slow)));
      assertThat(Testbed.await(Duration.ofSeconds(60), () -> Files.exists(tools.resolve("in-add"))))
          .as("the delegate started").isTrue();
      // The agent dies as systemd stops a failed unit: it and every process of its cgroup.
      List<ProcessHandle> children = ProcessHandle.of(agent.pid()).map(p -> p.descendants().toList())
          .orElse(List.of());
      agent.kill();
      children.forEach(ProcessHandle::destroyForcibly);
      Cmd.Result lost = add.get();
      assertThat(lost.exit()).as(lost.describe()).isEqualTo(1);
      assertThat(lost.out()).contains("\"code\": 104", "retry it");
      assertThat(leftovers()).as("the ADD was done, the answer lost").isNotEmpty();

      // The agent is down (its socket file is left, nobody listens): the front end runs the standalone plugin.
      Files.delete(tools.resolve("slow"));
      assertThat(bed.attachSocket(1)).exists();
      Map<String, Object> standalone = Map.of("delegate", Map.of("type", "slowbridge"),
          "attachSocket", bed.attachSocket(1).toString());
      Cmd.Result del = call(Via.STANDALONE, "DEL", c, confUnchecked(Via.AGENT, standalone));
      assertThat(del.exit()).as(del.describe()).isZero();
      assertThat(leftovers()).isEmpty();
      assertThat(Cmd.exec(List.of(Cmd.inNs(bed.ns(c), "ip", "link", "show", "eth0")), null).ok()).isFalse();

      // A retry (ADD again) succeeds; after the agent is back, its DEL cleans that up.
      String retried = ok(call(Via.STANDALONE, "ADD", c, confUnchecked(Via.AGENT, standalone)));
      assertThat(JSON.readTree(retried).path("ips").path(0).path("address").asText()).startsWith("10.244.");
      agent = bed.startAgent(1);
      awaitReady();
      assertThat(ok(call(Via.AGENT, "DEL", c, confUnchecked(Via.AGENT, slow)))).isEmpty();
      assertThat(leftovers()).isEmpty();
    } finally {
      Files.deleteIfExists(tools.resolve("slow"));
      call(Via.STANDALONE, "DEL", c, confUnchecked(Via.STANDALONE, slow));
      dropContainer(c);
    }
  }

  static String confUnchecked(Via via, Map<String, Object> extra) {
    try {
      Map<String, Object> m = new LinkedHashMap<>(extra);
      return conf(via, m);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
