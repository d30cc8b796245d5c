package dev.tartan.agent.it;

import static dev.tartan.agent.it.Matrix.report;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Pinger;
import dev.tartan.agent.testbed.Testbed;
import dev.tartan.store.testing.EtcdMember;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Outage matrix row 1: a 3-member etcd loses its leader to SIGKILL while the agents renew short
 * leases (8 s) and a new host joins; the member comes back later. Containers see nothing: a ping
 * between two hosts loses no packet, no agent exits or loses its lease, the new host is
 * programmed everywhere, and the restarted member catches up.
 */
@Timeout(180)
class EtcdMemberLossIT {
  static final String ROW = "1 etcd-member-killed";
  static final String TTL = "8s";
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
  void leaderKilledWhileAgentsRenewAndAHostJoins() {
    String ip1 = bed.addContainer(1, 1);
    String ip2 = bed.addContainer(2, 1);
    Pinger ping = bed.startPing(bed.container(1, 1), ip2, 50);
    Testbed.await(Duration.ofSeconds(1), () -> false);
    Map<Integer, Long> renewedBefore = renewals();

    EtcdMember leader = leader();
    long killed = System.nanoTime();
    leader.kill();
    // how long until etcd takes writes again (a new leader)
    Matrix.await("etcd takes writes after the leader was killed", Duration.ofSeconds(20), () -> {
      try {
        bed.etcdctl("put", "/tartan-test/probe", "x", "--command-timeout=1s");
        return true;
      } catch (IllegalStateException e) {
        return false;
      }
    });
    long writable = System.nanoTime() - killed;

    // a new host joins while the member is down
    bed.addHost(4);
    long joinStart = System.nanoTime();
    AgentProcess a4 = bed.startAgent(4, "--lease-ttl", TTL);
    agents.put(4, a4);
    Matrix.awaitReady(bed, 4, a4, Duration.ofSeconds(60));
    String sub4 = Matrix.subnetOf(bed, 4);
    for (int h = 1; h <= 3; h++) {
      int host = h;
      Matrix.await("host " + h + " programs the new host's " + sub4, Duration.ofSeconds(20),
          () -> bed.ipJson(bed.host(host), "route", "show", sub4).size() == 1);
    }
    long joined = System.nanoTime() - joinStart;
    bed.addContainer(4, 1);
    Matrix.await("the new host's container reaches host 1's", Duration.ofSeconds(10),
        () -> bed.ping(bed.container(4, 1), ip1));

    // keep the member down for at least two renewal rounds (8 s TTL: one every ~5.3 s)
    Testbed.await(Duration.ofNanos(Math.max(0, Duration.ofSeconds(14).toNanos() - (System.nanoTime() - killed))),
        () -> false);
    Map<Integer, Long> renewedDuring = renewals();
    long downFor = System.nanoTime() - killed;

    leader.start();
    bed.etcd().waitHealthy(Duration.ofSeconds(30));
    // the restarted member catches up: it serves every current lease itself
    Matrix.await("the restarted member has all four leases", Duration.ofSeconds(15), () -> {
      String keys = bed.etcd().etcdctl(leader, "get", "--prefix", Matrix.SUBNETS, "--keys-only",
          "--consistency=s");
      return keys.lines().filter(l -> !l.isBlank()).count() == 4;
    });
    Map<Integer, Long> renewedAtRestart = renewals();
    Matrix.await("every host renews again with all members up", Duration.ofSeconds(20), () -> {
      Map<Integer, Long> now = renewals();
      return now.keySet().stream().allMatch(h -> now.get(h) > renewedAtRestart.get(h));
    });
    Pinger.Result r = ping.stop();

    long renewalsWhileDown = 0;
    for (int h = 1; h <= 3; h++) {
      long n = renewedDuring.get(h) - renewedBefore.get(h);
      assertThat(n).as("renewals by host %d while the member was down", h).isGreaterThanOrEqualTo(2);
      renewalsWhileDown += n;
    }
    long failedRenewals = 0;
    long watchLost = 0;
    for (AgentProcess a : agents.values()) {
      assertThat(a.alive()).as("agent on host %d is alive", a.host()).isTrue();
      assertThat(Matrix.countLines(a, "re-acquiring")).as("host %d never lost its lease:\n%s", a.host(), a.log())
          .isZero();
      failedRenewals += Matrix.countLines(a, "renewing lease");
      watchLost += Matrix.countLines(a, "lost the etcd watch");
    }
    Map<String, Matrix.Lease> leases = Matrix.leases(bed);
    assertThat(leases).hasSize(4);
    for (int h = 1; h <= 4; h++) {
      String sub = Matrix.subnetOf(bed, h);
      assertThat(leases.get(sub).publicIp()).isEqualTo(Testbed.hostIp(h));
      assertThat(Matrix.ttlLeft(bed, sub)).as("TTL left of %s", sub).isPositive();
      Matrix.awaitConverged(bed, h, Duration.ofSeconds(10));
    }
    assertThat(r.sent()).isGreaterThan(200);
    assertThat(r.lost()).as("pings lost while an etcd member was down: %s", r.output()).isZero();

    report(ROW, "pings_sent", r.sent());
    report(ROW, "pings_lost", r.lost());
    report(ROW, "etcd_writable_again_after", Matrix.millis(writable));
    report(ROW, "member_down_for", Matrix.millis(downFor));
    report(ROW, "renewals_while_down", renewalsWhileDown);
    report(ROW, "renewal_retries", failedRenewals);
    report(ROW, "watch_reconnects", watchLost);
    report(ROW, "new_host_ready_and_programmed_everywhere_after", Matrix.millis(joined));
  }

  /** "lease renewed" lines per host 1..3 so far. */
  static Map<Integer, Long> renewals() {
    Map<Integer, Long> m = new LinkedHashMap<>();
    for (int h = 1; h <= 3; h++) {
      m.put(h, Matrix.countLines(agents.get(h), "LeaseKeeper - lease renewed"));
    }
    return m;
  }

  /** The member that is the raft leader now. */
  static EtcdMember leader() {
    JsonNode status = Matrix.json(bed.etcdctl("endpoint", "status", "-w", "json"));
    for (JsonNode s : status) {
      if (s.path("Status").path("header").path("member_id").asLong()
          == s.path("Status").path("leader").asLong()) {
        String endpoint = s.path("Endpoint").asText();
        for (EtcdMember m : bed.etcd().members()) {
          if (m.clientEndpoint().toString().equals(endpoint)) {
            return m;
          }
        }
      }
    }
    throw new IllegalStateException("no leader in " + status);
  }
}
