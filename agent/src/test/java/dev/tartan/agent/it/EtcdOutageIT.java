package dev.tartan.agent.it;

import static dev.tartan.agent.it.Matrix.report;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Pinger;
import dev.tartan.agent.testbed.Testbed;
import dev.tartan.store.testing.EtcdMember;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Outage matrix row 2: every member of a 3-member etcd is down for 60 s, then back. Pings between
 * existing containers lose nothing; the agents do not spin (CPU from /proc over the outage); the
 * renewal that fell due during the outage is done after the return (each key re-written with a new
 * etcd lease); a host whose agent started while etcd was down waits, then comes up and is
 * programmed everywhere.
 *
 * <p>The lease TTL is 120 s: it outlives the outage, and its renewal (at TTL - TTL/3 = 80 s after
 * the grant) falls inside the outage window, which starts once 25 s of the TTL have run.
 */
@Timeout(300)
class EtcdOutageIT {
  static final String ROW = "2 etcd-all-down-60s";
  static final Duration OUTAGE = Duration.ofSeconds(60);
  static final String TTL = "120s";
  static Testbed bed;
  static final Map<Integer, AgentProcess> agents = new LinkedHashMap<>();

  @BeforeAll
  static void up() {
    bed = Matrix.startNetwork(3, 3, agents, "--lease-ttl", TTL);
  }

  @AfterAll
  static void down() {
    if (bed != null) {
      bed.close();
    }
  }

  @Test
  void allMembersDownForAMinute() {
    Map<Integer, String> ips = new LinkedHashMap<>();
    for (int h = 1; h <= 3; h++) {
      ips.put(h, bed.addContainer(h, 1));
    }
    Map<Integer, String> subnets = new LinkedHashMap<>();
    Map<String, Long> leaseIdBefore = new LinkedHashMap<>();
    for (int h = 1; h <= 3; h++) {
      subnets.put(h, Matrix.subnetOf(bed, h));
    }
    // start the outage once the renewal (due at 40 s TTL left) falls inside it
    Matrix.await("25 s of every lease's TTL have run", Duration.ofSeconds(40),
        () -> subnets.values().stream().allMatch(s -> Matrix.ttlLeft(bed, s) <= 95));
    Map<String, Matrix.Lease> before = Matrix.leases(bed);
    for (String s : subnets.values()) {
      leaseIdBefore.put(s, before.get(s).etcdLease());
    }
    List<Pinger> pings = new ArrayList<>();
    for (int h = 1; h <= 3; h++) {
      int to = h % 3 + 1;
      pings.add(bed.startPing(bed.container(h, 1), ips.get(to), 100));
    }
    Testbed.await(Duration.ofSeconds(1), () -> false);

    Map<Integer, Double> cpu0 = new LinkedHashMap<>();
    for (int h = 1; h <= 3; h++) {
      cpu0.put(h, Matrix.cpuSeconds(agents.get(h).pid()));
    }
    long down = System.nanoTime();
    for (EtcdMember m : bed.etcd().members()) {
      m.kill();
    }

    // a host joins while etcd is down: its agent must wait, not exit
    Testbed.await(Duration.ofSeconds(5), () -> false);
    bed.addHost(4);
    AgentProcess a4 = bed.startAgent(4, "--lease-ttl", TTL);
    agents.put(4, a4);
    long a4Start = System.nanoTime();
    Testbed.await(Duration.ofSeconds(20), () -> false); // past its JVM start-up
    double cpu4Start = Matrix.cpuSeconds(a4.pid());
    long cpu4From = System.nanoTime();

    Testbed.await(Duration.ofNanos(OUTAGE.toNanos() - (System.nanoTime() - down)), () -> false);
    long outageNanos = System.nanoTime() - down;
    Map<Integer, Double> cpuShare = new LinkedHashMap<>();
    for (int h = 1; h <= 3; h++) {
      double used = Matrix.cpuSeconds(agents.get(h).pid()) - cpu0.get(h);
      cpuShare.put(h, used / (outageNanos / 1e9));
    }
    double cpu4Share = (Matrix.cpuSeconds(a4.pid()) - cpu4Start) / ((System.nanoTime() - cpu4From) / 1e9);
    for (AgentProcess a : agents.values()) {
      assertThat(a.alive()).as("agent on host %d alive during the outage:\n%s", a.host(), a.log()).isTrue();
    }
    assertThat(bed.ready(4)).as("host 4 cannot be ready without etcd").isFalse();
    for (int h = 1; h <= 3; h++) {
      assertThat(Matrix.countLines(agents.get(h), "renewing lease")).as("host %d's renewal fell due during the outage", h)
          .isPositive();
    }
    long ttlAtReturn = Long.MAX_VALUE;

    for (EtcdMember m : bed.etcd().members()) {
      m.start();
    }
    bed.etcd().waitHealthy(Duration.ofSeconds(30));
    long up = System.nanoTime();
    for (String s : subnets.values()) {
      ttlAtReturn = Math.min(ttlAtReturn, Matrix.ttlLeft(bed, s));
    }

    // leases renewed: each key re-written with a fresh etcd lease
    Matrix.await("every lease renewed after etcd returned", Duration.ofSeconds(60), () -> {
      Map<String, Matrix.Lease> now = Matrix.leases(bed);
      return subnets.values().stream().allMatch(s -> now.containsKey(s)
          && now.get(s).etcdLease() != leaseIdBefore.get(s));
    });
    long renewedAfter = System.nanoTime() - up;
    long ttlAfterRenewal = Long.MAX_VALUE;
    for (String s : subnets.values()) {
      ttlAfterRenewal = Math.min(ttlAfterRenewal, Matrix.ttlLeft(bed, s));
    }
    // a fresh TTL (120 s) less the time since the renewal, which a loaded machine stretches (etcd itself
    // refreshes every lease's TTL when it elects a leader, so the TTL at its return says nothing): well above
    // half the TTL; that the keys hang on new etcd leases is checked above
    assertThat(ttlAfterRenewal).as("TTL left after the renewal (%d s at etcd's return)", ttlAtReturn)
        .isGreaterThan(60);

    // the host that joined during the outage comes up and is programmed everywhere
    Matrix.awaitReady(bed, 4, a4, Duration.ofSeconds(60));
    long a4Ready = System.nanoTime() - up;
    String sub4 = Matrix.subnetOf(bed, 4);
    for (int h = 1; h <= 4; h++) {
      Matrix.awaitConverged(bed, h, Duration.ofSeconds(20));
    }
    long a4Everywhere = System.nanoTime() - up;
    String ip4 = bed.addContainer(4, 1);
    for (int h = 1; h <= 3; h++) {
      int from = h;
      Matrix.await("host " + h + "'s container reaches the new host's", Duration.ofSeconds(10),
          () -> bed.ping(bed.container(from, 1), ip4));
    }

    // and the agents watch again: a lease written now reaches every host
    Matrix.putPeer(bed, Matrix.peerSubnet(0), Matrix.peerIp(0), Matrix.peerMac(0, 0));
    for (int h = 1; h <= 4; h++) {
      Matrix.awaitConverged(bed, h, Duration.ofSeconds(15));
    }

    int sent = 0;
    int lost = 0;
    for (Pinger p : pings) {
      Pinger.Result r = p.stop();
      sent += r.sent();
      lost += r.lost();
      assertThat(r.lost()).as("pings lost during the outage: %s", r.output()).isZero();
    }
    assertThat(sent).isGreaterThan(3 * 600);
    for (int h = 1; h <= 3; h++) {
      assertThat(cpuShare.get(h)).as("host %d's agent CPU share during the outage (no spinning)", h)
          .isLessThan(0.10);
      assertThat(Matrix.subnetOf(bed, h)).isEqualTo(subnets.get(h));
    }
    assertThat(cpu4Share).as("the waiting agent's CPU share").isLessThan(0.10);
    for (AgentProcess a : agents.values()) {
      assertThat(a.alive()).isTrue();
      assertThat(Matrix.countLines(a, "re-acquiring")).as("host %d kept its lease", a.host()).isZero();
    }

    report(ROW, "outage", Matrix.millis(outageNanos));
    report(ROW, "pings_sent", sent);
    report(ROW, "pings_lost", lost);
    StringBuilder cpu = new StringBuilder();
    cpuShare.forEach((h, s) -> cpu.append(cpu.length() == 0 ? "" : ",").append("h").append(h).append(":")
        .append(String.format(Locale.ROOT, "%.2f%%", s * 100)));
    report(ROW, "agent_cpu_during_outage", cpu);
    report(ROW, "waiting_agent_cpu", String.format(Locale.ROOT, "%.2f%%", cpu4Share * 100));
    report(ROW, "min_ttl_left_at_return", ttlAtReturn + "s");
    report(ROW, "all_leases_renewed_after_return", Matrix.millis(renewedAfter));
    report(ROW, "min_ttl_left_after_renewal", ttlAfterRenewal + "s");
    report(ROW, "joined_host_ready_after_return", Matrix.millis(a4Ready));
    report(ROW, "joined_host_programmed_everywhere_after_return", Matrix.millis(a4Everywhere));
    report(ROW, "joined_host_agent_started_before_return", Matrix.millis(up - a4Start));
  }
}
