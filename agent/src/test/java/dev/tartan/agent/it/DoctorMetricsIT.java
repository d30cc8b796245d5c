package dev.tartan.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Testbed;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 7 end to end on the testbed: three hosts with one agent each; {@code /metrics} scraped
 * inside a host's namespace with curl; {@code tartan doctor} run inside a host (the shaded jar,
 * as an operator would) finds nothing on a converged host, and after a route is deleted by hand
 * (agent stopped, so nothing repairs it) exits 1 naming the route and a fix that works.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(150)
class DoctorMetricsIT {
  static final int HOSTS = 3;
  static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})? (\\S+)");
  static final ObjectMapper JSON = new ObjectMapper();
  static Testbed bed;
  static final Map<Integer, AgentProcess> agents = new HashMap<>();

  @BeforeAll
  static void up() {
    String reason = Testbed.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    Assumptions.assumeTrue(Cmd.onPath("iptables-save"), "iptables-save missing (apt-get install iptables)");
    bed = Testbed.create(HOSTS);
    bed.tartan("network", "init", "--network", "10.244.0.0/16", "--backend", "vxlan");
    for (int h = 1; h <= HOSTS; h++) {
      agents.put(h, bed.startAgent(h, "--ip-masq", "--resync-interval", "2s"));
    }
    for (int h = 1; h <= HOSTS; h++) {
      int host = h;
      if (!Testbed.await(Duration.ofSeconds(60), () -> bed.ready(host))) {
        fail("agent on host " + h + " not ready after 60 s; log:\n" + agents.get(h).log());
      }
    }
  }

  @AfterAll
  static void down() {
    if (bed != null) {
      bed.close();
    }
  }

  static String subnetOf(int h) throws Exception {
    for (String line : Files.readAllLines(bed.subnetFile(h))) {
      if (line.startsWith("FLANNEL_SUBNET=")) {
        String gw = line.substring("FLANNEL_SUBNET=".length()).split("/")[0];
        return gw.substring(0, gw.lastIndexOf('.')) + ".0/24";
      }
    }
    throw new IllegalStateException("no FLANNEL_SUBNET in " + bed.subnetFile(h));
  }

  /** curl inside host {@code h}, parsed into "name{labels}" -> value. */
  static Map<String, Double> scrape(int h) {
    String text = Cmd.run(Cmd.inNs(bed.host(h), "curl", "-sf", "-m", "5", "http://127.0.0.1:8471/metrics"));
    Map<String, Double> out = new HashMap<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      Matcher m = SAMPLE.matcher(line);
      assertThat(m.matches()).as("sample line %s", line).isTrue();
      out.put(m.group(1) + (m.group(2) == null ? "" : m.group(2).replace(",}", "}")),
          Double.parseDouble(m.group(3).replace("+Inf", "Infinity")));
    }
    return out;
  }

  /** {@code tartan doctor ARGS} inside host {@code h} with the shaded jar. */
  static Cmd.Result doctor(int h, String... args) {
    List<String> argv = new ArrayList<>(List.of(Cmd.inNs(bed.host(h), "java")));
    argv.addAll(Testbed.AGENT_JVM);
    argv.addAll(List.of("-jar", Testbed.agentJar().toString(), "doctor",
        "--etcd-endpoints", bed.etcdEndpoints(), "--subnet-file", bed.subnetFile(h).toString()));
    argv.addAll(List.of(args));
    return Cmd.exec(argv, null);
  }

  @Test
  @Order(1)
  void metricsInsideAHostShowTheConvergedState() throws Exception {
    boolean converged = Testbed.await(Duration.ofSeconds(20), () -> {
      Map<String, Double> s = scrape(1);
      return s.getOrDefault("tartan_peers_known", 0.0) == 2.0
          && s.getOrDefault("tartan_kernel_entries_present{kind=\"route\"}", 0.0) == 2.0;
    });
    Map<String, Double> s = scrape(1);
    assertThat(converged).as("host 1 sees 2 peers with their routes: %s", s).isTrue();
    assertThat(s).containsEntry("tartan_peers_known", 2.0)
        .containsEntry("tartan_lease_held", 1.0)
        .containsEntry("tartan_lease_info{subnet=\"" + subnetOf(1) + "\",public_ip=\"198.51.100.1\"}", 1.0);
    for (String kind : List.of("route", "neighbour", "fdb")) {
      assertThat(s).containsEntry("tartan_kernel_entries_expected{kind=\"" + kind + "\"}", 2.0)
          .containsEntry("tartan_kernel_entries_present{kind=\"" + kind + "\"}", 2.0);
    }
    // flannel's 24 h lease, just acquired
    assertThat(s.get("tartan_lease_ttl_seconds")).isBetween(23 * 3600.0, 24 * 3600.0);
    assertThat(s.get("tartan_reconcile_runs_total")).isGreaterThanOrEqualTo(1.0);
    assertThat(s.get("tartan_reconcile_duration_seconds_count")).isEqualTo(s.get("tartan_reconcile_runs_total"));
    assertThat(s).containsKeys("tartan_etcd_watch_reconnects_total", "tartan_etcd_compactions_seen_total",
        "tartan_etcd_bad_keys_skipped_total", "tartan_lease_renewals_total", "tartan_drift_repairs_total{kind=\"route\"}");
    assertThat(s.get("jvm_memory_heap_used")).isPositive();
  }

  @Test
  @Order(2)
  void doctorOnAConvergedHostExitsZero() throws Exception {
    Cmd.Result r = doctor(2);
    assertThat(r.exit()).as("doctor output:\n%s%s", r.out(), r.err()).isZero();
    assertThat(r.out()).contains("host 198.51.100.2 (eth0): lease " + subnetOf(2) + ", device flannel.1; 3 leases in etcd,"
        + " 2 peers checked", "consistent: no discrepancies");

    Cmd.Result j = doctor(2, "-o", "json");
    assertThat(j.exit()).as(j.out() + j.err()).isZero();
    JsonNode report = JSON.readTree(j.out());
    assertThat(report.path("consistent").asBoolean()).isTrue();
    assertThat(report.path("peers").asInt()).isEqualTo(2);
    assertThat(report.path("findings")).isEmpty();
    assertThat(j.err()).as("no progress line when stderr is not a terminal").isEmpty();
  }

  @Test
  @Order(3)
  void aRouteDeletedWhileTheAgentIsStoppedIsFoundWithAFixThatWorks() throws Exception {
    String peer = subnetOf(2);
    agents.remove(1).stop(); // SIGTERM: the agent leaves everything in place and repairs nothing
    Cmd.run("ip", "-n", bed.host(1), "route", "del", peer);

    Cmd.Result r = doctor(1);
    assertThat(r.exit()).as("doctor output:\n%s%s", r.out(), r.err()).isEqualTo(1);
    String fix = "ip route replace " + peer + " via " + peer.replace("/24", "") + " dev flannel.1 onlink proto 111";
    assertThat(r.out()).contains("route " + peer + " via " + peer.replace("/24", "") + " dev flannel.1 onlink proto 111 missing",
        fix, "1 discrepancy");

    Cmd.Result j = doctor(1, "-o", "json");
    assertThat(j.exit()).isEqualTo(1);
    JsonNode findings = JSON.readTree(j.out()).path("findings");
    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).path("check").asText()).isEqualTo("route");
    assertThat(findings.get(0).path("where").asText()).isEqualTo(peer + " (198.51.100.2)");
    assertThat(findings.get(0).path("fix").asText()).isEqualTo(fix);

    // the printed fix, run as printed, makes the host consistent again
    Cmd.run(Cmd.inNs(bed.host(1), "sh", "-c", fix));
    Cmd.Result again = doctor(1);
    assertThat(again.exit()).as("after the fix:\n%s%s", again.out(), again.err()).isZero();
  }
}
