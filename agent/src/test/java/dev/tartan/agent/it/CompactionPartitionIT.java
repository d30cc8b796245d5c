package dev.tartan.agent.it;

import static dev.tartan.agent.it.Matrix.report;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Testbed;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Outage matrix row 5: etcd compaction while the agents watch, and a partition of one host from
 * etcd, then heal. Peer leases are written, re-written (new VtepMAC) and deleted around the
 * compactions; every host ends with exactly the entries the final leases ask for (no lost event,
 * nothing stale). During the partition the cut-off host's kernel stays as it was, and its etcd
 * connection is dropped (what gRPC keepalive does to a connection silent for about 10 s), so after the
 * heal its watch resumes from a revision the compaction removed and must re-list.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(180)
class CompactionPartitionIT {
  static final String ROW = "5 compaction-and-partition";
  static Testbed bed;
  static final Map<Integer, AgentProcess> agents = new LinkedHashMap<>();

  @BeforeAll
  static void up() {
    bed = Matrix.startNetwork(3, 1, agents);
  }

  @AfterAll
  static void down() {
    if (bed != null) {
      bed.close();
    }
  }

  @Test
  @Order(1)
  void compactionWhileWatching() {
    for (int i = 0; i < 30; i++) {
      Matrix.putPeer(bed, Matrix.peerSubnet(i), Matrix.peerIp(i), Matrix.peerMac(i, 0));
    }
    long rev = bed.etcd().compact();
    for (int i = 0; i < 10; i++) {
      Matrix.deletePeer(bed, Matrix.peerSubnet(i));
    }
    for (int i = 10; i < 20; i++) {
      Matrix.putPeer(bed, Matrix.peerSubnet(i), Matrix.peerIp(i), Matrix.peerMac(i, 1));
    }
    bed.etcd().compact();
    for (int i = 30; i < 40; i++) {
      Matrix.putPeer(bed, Matrix.peerSubnet(i), Matrix.peerIp(i), Matrix.peerMac(i, 0));
    }
    long start = System.nanoTime();
    for (int h = 1; h <= 3; h++) {
      Matrix.awaitConverged(bed, h, Duration.ofSeconds(15));
    }
    long took = System.nanoTime() - start;
    assertThat(Matrix.actual(bed, 1).peers()).isEqualTo(2 + 30);
    report(ROW, "compaction_while_watching", "60 writes/deletes around 2 compactions (first at revision "
        + rev + "), 3 hosts exact after " + Matrix.millis(took));
  }

  @Test
  @Order(2)
  void partitionedHostConvergesAfterHeal() {
    Matrix.PeerState beforeCut = Matrix.actual(bed, 3);
    bed.setHostLink(3, false);
    long cut = System.nanoTime();
    // the etcd side forgets host 3's connection; host 3's side finds out when it next talks
    Cmd.run("ip", "netns", "exec", bed.ns("ctl"), "ss", "-K", "dst", Testbed.hostIp(3));
    Cmd.run("ip", "netns", "exec", bed.host(3), "ss", "-K", "dst", Testbed.ETCD_IP);

    int changes = 0;
    for (int i = 20; i < 30; i++) {
      Matrix.deletePeer(bed, Matrix.peerSubnet(i));
      changes++;
    }
    for (int i = 30; i < 35; i++) {
      Matrix.putPeer(bed, Matrix.peerSubnet(i), Matrix.peerIp(i + 100), Matrix.peerMac(i, 2));
      changes++;
    }
    for (int i = 40; i < 60; i++) {
      Matrix.putPeer(bed, Matrix.peerSubnet(i), Matrix.peerIp(i), Matrix.peerMac(i, 0));
      changes++;
    }
    long rev = bed.etcd().compact();
    for (int h = 1; h <= 2; h++) {
      Matrix.awaitConverged(bed, h, Duration.ofSeconds(15));
    }
    Testbed.await(Duration.ofNanos(Math.max(0, Duration.ofSeconds(10).toNanos() - (System.nanoTime() - cut))),
        () -> false);
    assertThat(Matrix.actual(bed, 3)).as("host 3's kernel while cut off from etcd").isEqualTo(beforeCut);
    assertThat(agents.get(3).alive()).isTrue();

    bed.setHostLink(3, true);
    long healed = System.nanoTime();
    long cutFor = healed - cut;
    long took = Matrix.awaitConverged(bed, 3, Duration.ofSeconds(30));
    assertThat(agents.get(3).log()).as("host 3's watch re-listed after the compaction")
        .contains("ran into a compaction");
    assertThat(Matrix.actual(bed, 3).peers()).isEqualTo(2 + 40);
    for (int h = 1; h <= 3; h++) {
      Matrix.awaitConverged(bed, h, Duration.ofSeconds(5));
    }
    report(ROW, "partition", Matrix.millis(cutFor) + ", " + changes + " lease changes and a compaction (revision "
        + rev + ") meanwhile");
    report(ROW, "partitioned_host_exact_after_heal", Matrix.millis(took));
  }
}
