package dev.tartan.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Testbed;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 8, "Hostile input", table-driven on the testbed with running agents: garbage and oversized
 * values under {@code subnets/}, a network config overlapping the host's own networks, SubnetLen
 * out of range, an exhausted pool. Each gives one clear log line and leaves the kernel state and
 * the other leases untouched. (etcd refusing the lease write mid-start is in {@link SecurityIT}.)
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(150)
class HostileInputIT {
  static final String PREFIX = "/coreos.com/network/subnets/";
  static Testbed bed;
  static final Map<Integer, AgentProcess> agents = new HashMap<>();
  static final Map<String, String> ips = new HashMap<>();

  @BeforeAll
  static void up() {
    String reason = Testbed.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    Assumptions.assumeTrue(Files.isExecutable(Testbed.cniPlugin()), "cni/target/tartan-cni not built");
    bed = Testbed.create(3);
    bed.tartan("network", "init", "--network", "10.244.0.0/16", "--backend", "vxlan");
    for (int h = 1; h <= 2; h++) {
      agents.put(h, bed.startAgent(h, "--resync-interval", "2s"));
    }
    for (int h = 1; h <= 2; h++) {
      awaitReady(h, agents.get(h));
    }
    ips.put("1.1", bed.addContainer(1, 1));
    ips.put("2.1", bed.addContainer(2, 1));
  }

  @AfterAll
  static void down() {
    if (bed != null) {
      bed.close();
    }
  }

  static void awaitReady(int h, AgentProcess a) {
    if (!Testbed.await(Duration.ofSeconds(60), () -> bed.ready(h))) {
      fail("agent on host " + h + " not ready after 60 s; log:\n" + (a == null ? "" : a.log()));
    }
  }

  /** {@code etcdctl put KEY} with the value on stdin (values beyond the 128 KiB argument limit). */
  static void put(String key, String value) {
    Cmd.runWithInput(value, Cmd.inNs(bed.ns("ctl"), "etcdctl", "--endpoints=" + bed.etcdEndpoints(), "put", key));
  }

  /** flannel.1's neighbours, FDB entries and routes on host h, as sorted text. */
  static Set<String> kernelState(int h) {
    Set<String> out = new TreeSet<>();
    String ns = bed.host(h);
    for (JsonNode n : bed.ipJson(ns, "neigh", "show", "dev", "flannel.1")) {
      out.add("neigh " + n.path("dst").asText() + " " + n.path("lladdr").asText() + " " + n.path("state"));
    }
    for (JsonNode f : bed.bridgeJson(ns, "fdb", "show", "dev", "flannel.1")) {
      out.add("fdb " + f.path("mac").asText() + " " + f.path("dst").asText());
    }
    for (JsonNode r : bed.ipJson(ns, "route", "show", "dev", "flannel.1")) {
      out.add("route " + r.path("dst").asText() + " via " + r.path("gateway").asText());
    }
    return out;
  }

  static String leases(String prefix) {
    return bed.etcdctl("get", prefix, "--prefix");
  }

  static List<String> linesWith(String log, String text) {
    return log.lines().filter(l -> l.contains(text)).toList();
  }

  /** Runs an agent on host h that is expected to give up; exit code and output (60 s at most). */
  static Cmd.Result agentThatFails(int h, String... flags) {
    List<String> argv = new ArrayList<>(List.of(Cmd.inNs(bed.host(h), "timeout", "60", "java")));
    argv.addAll(Testbed.AGENT_JVM);
    argv.addAll(List.of("-jar", Testbed.agentJar().toString(), "agent", "--etcd-endpoints", bed.etcdEndpoints(),
        "--subnet-file", bed.hostDir(h).resolve("failing-subnet.env").toString()));
    argv.addAll(List.of(flags));
    return Cmd.exec(argv, null);
  }

  @Test
  @Order(1)
  void garbageUnderSubnetsIsSkippedWithOneWarnEachAndChangesNothing() {
    Map<Integer, Set<String>> before = Map.of(1, kernelState(1), 2, kernelState(2));
    assertThat(before.get(1)).as("host 1 programs host 2").hasSize(3);
    String realLeases = leases(PREFIX);
    String mib = "{\"PublicIP\":\"198.51.100.99\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\""
        + "x".repeat(1 << 20) + "\"}}";
    // key -> value: what an operator's typo, a buggy tool or an attacker with etcd access could write
    Map<String, String> garbage = new java.util.LinkedHashMap<>();
    garbage.put(PREFIX + "10.244.200.0-24", mib);
    garbage.put(PREFIX + "10.244.201.0-24", "not json {");
    garbage.put(PREFIX + "10.244.202.0-24", "{\"PublicIP\":\"999.1.1.1\",\"BackendType\":\"vxlan\","
        + "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"02:00:00:00:00:99\"}}");
    garbage.put(PREFIX + "10.244.203.0-24", "{\"PublicIP\":\"198.51.100.98\",\"BackendType\":\"vxlan\","
        + "\"BackendData\":{\"VNI\":\"one\"}}");
    garbage.put(PREFIX + "not-a-subnet", "{\"PublicIP\":\"198.51.100.97\",\"BackendType\":\"vxlan\"}");
    garbage.put(PREFIX + "10.244.0.0-16", "{\"PublicIP\":\"198.51.100.96\",\"BackendType\":\"vxlan\","
        + "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"02:00:00:00:00:96\"}}");
    garbage.forEach(HostileInputIT::put);
    Testbed.await(Duration.ofSeconds(6), () -> false); // three resync passes and the watch events
    put(PREFIX + "10.244.201.0-24", "still not json ["); // the same key again: no second line

    assertThat(Testbed.await(Duration.ofSeconds(4), () -> false)).isFalse();
    for (int h = 1; h <= 2; h++) {
      String log = agents.get(h).log();
      for (String key : garbage.keySet()) {
        String subnet = key.substring(PREFIX.length());
        String slash = subnet.replace('-', '/');
        List<String> lines = log.lines().filter(l -> l.contains(" WARN ")
            && (l.contains(subnet) || l.contains(slash))).toList();
        assertThat(lines).as("host %d: warnings about %s in\n%s", h, key, log).hasSize(1);
        assertThat(lines.get(0)).hasSizeLessThan(600);
      }
      assertThat(log).doesNotContain("\tat ").doesNotContain("ERROR");
      assertThat(kernelState(h)).as("host %d kernel state", h).isEqualTo(before.get(h));
      assertThat(bed.ready(h)).isTrue();
    }
    assertThat(bed.ping(bed.container(1, 1), ips.get("2.1"))).isTrue();
    assertThat(bed.ping(bed.container(2, 1), ips.get("1.1"))).isTrue();
    String now = leases(PREFIX);
    for (String line : realLeases.lines().toList()) {
      assertThat(now).as("the real leases are untouched").contains(line);
    }
    for (String key : garbage.keySet()) {
      bed.etcdctl("del", key);
    }
  }

  @Test
  @Order(2)
  void aNetworkOverlappingTheHostsOwnNetworksIsRefusedAtStart() {
    bed.etcdctl("put", "/overlap/network/config", "{\"Network\":\"198.51.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    Cmd.Result r = agentThatFails(3, "--etcd-prefix", "/overlap/network");
    String all = r.out() + r.err();
    assertThat(r.exit()).as(all).isNotIn(0, 124);
    assertThat(linesWith(all, "overlaps")).as(all).singleElement().satisfies(l -> assertThat(l)
        .contains("Network 198.51.0.0/16").contains("198.51.100.0/24").contains("interface eth0"));
    assertThat(all).doesNotContain("\tat ");
    assertThat(bed.ipJson(bed.host(3), "link", "show")).as("no device created")
        .noneMatch(l -> l.path("ifname").asText().equals("flannel.1"));
    assertThat(leases("/overlap/network/subnets/").trim()).isEmpty();
  }

  @Test
  @Order(3)
  void subnetLenOutOfRangeIsOneLineUntilFixed() {
    for (String[] bad : new String[][] {{"31", "SubnetLen must be less than /31"},
        {"17", "network must be able to accommodate at least four subnets"}}) {
      Cmd.Result cli = Cmd.exec(List.of(Cmd.inNs(bed.ns("ctl"), "java", "-jar", Testbed.agentJar().toString(),
          "network", "init", "--network", "10.250.0.0/16", "--subnet-len", bad[0], "--etcd-prefix", "/badlen/network",
          "--etcd-endpoints", bed.etcdEndpoints())), null);
      assertThat(cli.exit()).as(cli.err()).isNotZero();
      assertThat(cli.out() + cli.err()).contains(bad[1]);
    }
    assertThat(bed.etcdctl("get", "/badlen/network/config").trim()).as("nothing written").isEmpty();

    bed.etcdctl("put", "/badlen/network/config",
        "{\"Network\":\"10.250.0.0/16\",\"SubnetLen\":31,\"Backend\":{\"Type\":\"vxlan\"}}");
    AgentProcess a = bed.startAgent(3, "--etcd-prefix", "/badlen/network");
    assertThat(Testbed.await(Duration.ofSeconds(30), () -> a.log().contains("SubnetLen must be less than /31")))
        .as(a.log()).isTrue();
    Testbed.await(Duration.ofSeconds(5), () -> false); // retries at 1, 2, 4 s
    assertThat(linesWith(a.log(), "SubnetLen")).as(a.log()).hasSize(1);
    assertThat(bed.ready(3)).isFalse();
    assertThat(leases("/badlen/network/subnets/").trim()).isEmpty();
    assertThat(bed.ipJson(bed.host(3), "link", "show")).noneMatch(l -> l.path("ifname").asText().equals("flannel.1"));

    bed.etcdctl("put", "/badlen/network/config",
        "{\"Network\":\"10.250.0.0/16\",\"SubnetLen\":24,\"Backend\":{\"Type\":\"vxlan\"}}");
    awaitReady(3, a);
    assertThat(leases("/badlen/network/subnets/")).contains("/badlen/network/subnets/10.250.");
    a.stop();
  }

  @Test
  @Order(4)
  void anExhaustedPoolIsOneLineNamingTheRangeAndWritesNoLease() throws Exception {
    bed.addHost(4);
    bed.etcdctl("put", "/tiny/network/config",
        "{\"Network\":\"10.251.0.0/22\",\"SubnetLen\":24,\"Backend\":{\"Type\":\"vxlan\"}}");
    String show = bed.tartan("network", "show", "--etcd-prefix", "/tiny/network");
    List<String> reserved = new ArrayList<>();
    for (int i = 0; i < 4; i++) { // reserve whatever the range holds (flannel: .1 and .2)
      String subnet = "10.251." + i + ".0/24";
      Cmd.Result r = Cmd.exec(List.of(Cmd.inNs(bed.ns("ctl"), "java", "-jar", Testbed.agentJar().toString(), "leases",
          "reserve", subnet, "--public-ip", "203.0.113." + (i + 1), "--etcd-prefix", "/tiny/network",
          "--etcd-endpoints", bed.etcdEndpoints())), null);
      if (r.exit() == 0) {
        reserved.add(subnet);
      }
    }
    assertThat(reserved).as("network show:\n%s", show).isNotEmpty();
    String before = leases("/tiny/network/subnets/");

    AgentProcess a = bed.startAgent(4, "--etcd-prefix", "/tiny/network");
    assertThat(Testbed.await(Duration.ofSeconds(30), () -> a.log().contains("out of subnets"))).as(a.log()).isTrue();
    Testbed.await(Duration.ofSeconds(5), () -> false);
    assertThat(linesWith(a.log(), "out of subnets")).as(a.log()).singleElement()
        .satisfies(l -> assertThat(l).contains("WARN").contains("10.251.0.0/22").contains("release unused leases"));
    assertThat(leases("/tiny/network/subnets/")).as("no lease written").isEqualTo(before)
        .doesNotContain("198.51.100.4");
    Path subnetFile = bed.subnetFile(4);
    assertThat(subnetFile).doesNotExist();
    assertThat(bed.ready(4)).isFalse();

    bed.tartan("leases", "release", reserved.get(0), "--etcd-prefix", "/tiny/network");
    awaitReady(4, a);
    assertThat(Files.readString(subnetFile)).contains("FLANNEL_SUBNET=" + reserved.get(0).replace(".0/24", ".1/24"));
    a.stop();
  }
}
