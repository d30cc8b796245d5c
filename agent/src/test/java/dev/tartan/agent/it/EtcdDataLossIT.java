package dev.tartan.agent.it;

import static dev.tartan.agent.it.Matrix.report;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Pinger;
import dev.tartan.agent.testbed.Testbed;
import dev.tartan.store.testing.EtcdMember;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Outage matrix row 3: etcd loses its data (a fresh, empty etcd at the same endpoint) and the
 * operator re-applies the network config with {@code tartan network init} a few seconds later.
 * Host 1 and 3 keep running: while etcd has no config they keep their peers programmed (a ping
 * between them loses nothing), then re-acquire their subnets from their running state. Host 2's
 * agent is down during the loss and starts afterwards: it re-acquires from its subnet file. Host 4
 * goes away for good during the loss: once the others have re-read every lease it is gone from
 * their kernels. Every host gets its previous subnet back, no container changes address, subnet.env
 * files are unchanged, and the containers reach each other.
 */
@Timeout(180)
class EtcdDataLossIT {
  static final String ROW = "3 etcd-data-loss";
  static Testbed bed;
  static final Map<Integer, AgentProcess> agents = new LinkedHashMap<>();

  @BeforeAll
  static void up() {
    bed = Matrix.startNetwork(4, 1, agents);
  }

  @AfterAll
  static void down() {
    if (bed != null) {
      bed.close();
    }
  }

  @Test
  void freshEmptyEtcdAndConfigReapplied() throws Exception {
    Map<Integer, String> ips = new LinkedHashMap<>();
    Map<Integer, String> subnetEnv = new LinkedHashMap<>();
    Map<String, String> ownerBefore = new LinkedHashMap<>();
    for (int h = 1; h <= 3; h++) {
      ips.put(h, bed.addContainer(h, 1));
      subnetEnv.put(h, Files.readString(bed.subnetFile(h)));
      ownerBefore.put(Matrix.subnetOf(bed, h), Testbed.hostIp(h));
    }
    assertThat(Matrix.leases(bed)).hasSize(4);
    Matrix.PeerState h1Before = Matrix.actual(bed, 1);
    assertThat(h1Before.peers()).isEqualTo(3);
    Pinger ping = bed.startPing(bed.container(1, 1), ips.get(3), 100);
    Testbed.await(Duration.ofSeconds(1), () -> false);

    agents.remove(2).kill();
    agents.remove(4).kill(); // host 4 does not come back
    EtcdMember m = bed.etcd().member(0);
    m.kill();
    wipe(m.dataDir());
    m.start();
    bed.etcd().waitHealthy(Duration.ofSeconds(30));
    long wiped = System.nanoTime();
    assertThat(bed.etcdctl("get", "--prefix", "/coreos.com/network/", "--keys-only").isBlank())
        .as("the new etcd is empty").isTrue();

    // the operator notices a little later; the running agents wait meanwhile
    Testbed.await(Duration.ofSeconds(4), () -> false);
    assertThat(agents.get(1).alive() && agents.get(3).alive()).isTrue();
    for (int h : new int[] {1, 3}) {
      AgentProcess a = agents.get(h);
      Matrix.await("host " + h + " saw the empty etcd and holds its peers", Duration.ofSeconds(10),
          () -> a.log().contains("keeping the 3 peers programmed"));
    }
    assertThat(Matrix.actual(bed, 1)).as("host 1's kernel while etcd is empty").isEqualTo(h1Before);
    Matrix.initNetwork(bed);
    long reinit = System.nanoTime();
    AgentProcess a2 = bed.startAgent(2);
    agents.put(2, a2);

    Matrix.await("every host holds its previous subnet again", Duration.ofSeconds(60), () -> {
      Map<String, String> now = new LinkedHashMap<>();
      Matrix.leases(bed).forEach((s, l) -> now.put(s, l.publicIp()));
      return now.equals(ownerBefore);
    });
    long back = System.nanoTime() - reinit;
    for (int h = 1; h <= 3; h++) {
      Matrix.awaitReady(bed, h, agents.get(h), Duration.ofSeconds(30));
    }
    // once the others had time to re-acquire, hosts 1 and 3 re-read every lease and drop host 4
    for (int h = 1; h <= 3; h++) {
      Matrix.awaitConverged(bed, h, Duration.ofSeconds(40));
    }
    long allConverged = System.nanoTime() - reinit;
    assertThat(Matrix.actual(bed, 1).peers()).isEqualTo(2);
    for (int h = 1; h <= 3; h++) {
      for (int to = 1; to <= 3; to++) {
        if (to != h) {
          int from = h;
          String ip = ips.get(to);
          Matrix.await("container " + h + " reaches container " + to, Duration.ofSeconds(10),
              () -> bed.ping(bed.container(from, 1), ip));
        }
      }
    }
    Testbed.await(Duration.ofSeconds(1), () -> false);
    Pinger.Result r = ping.stop();

    for (int h = 1; h <= 3; h++) {
      assertThat(Files.readString(bed.subnetFile(h))).as("host %d's subnet.env", h).isEqualTo(subnetEnv.get(h));
      String addr = bed.ipJson(bed.container(h, 1), "-4", "addr", "show", "dev", "eth0").get(0)
          .path("addr_info").get(0).path("local").asText();
      assertThat(addr).as("container on host %d keeps its address", h).isEqualTo(ips.get(h));
    }
    assertThat(a2.log()).as("host 2 took its subnet from the subnet file")
        .contains("previous subnet from the subnet file");
    for (int h : new int[] {1, 3}) {
      assertThat(agents.get(h).log()).as("host %d noticed the loss and re-acquired", h)
          .contains("re-acquiring it");
    }
    assertThat(r.sent()).isGreaterThan(50);
    assertThat(r.lost()).as("pings lost between hosts 1 and 3: %s", r.output()).isZero();

    report(ROW, "subnets_kept", ownerBefore.size() + "/" + ownerBefore.size());
    report(ROW, "container_addresses_changed", 0);
    report(ROW, "leases_back_after_config_reapplied", Matrix.millis(back));
    report(ROW, "gone_host_dropped_everywhere_after_config_reapplied", Matrix.millis(allConverged));
    report(ROW, "config_reapplied_after_wipe", Matrix.millis(reinit - wiped));
    report(ROW, "pings_sent", r.sent());
    report(ROW, "pings_lost", r.lost());
  }

  /** Deletes a (stopped) member's data directory: the next start is a brand-new, empty etcd. */
  static void wipe(Path dataDir) throws IOException {
    if (!Files.exists(dataDir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dataDir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.delete(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }
  }
}
