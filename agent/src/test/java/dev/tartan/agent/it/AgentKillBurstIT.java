package dev.tartan.agent.it;

import static dev.tartan.agent.it.Matrix.report;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Testbed;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Outage matrix row 6: host 1's agent is SIGKILLed in the middle of a burst of 100 peer joins
 * (synthetic vxlan leases, public IPs in 198.18.0.0/15, one etcd write each). While it is dead the
 * burst finishes and some of the new peers leave again or change VtepMAC and public IP. After the
 * restart host 1's flannel.1 neighbours, FDB and routes equal exactly what the leases in etcd ask
 * for: nothing missing, nothing extra. Host 2 (a real peer that kept running) too.
 */
@Timeout(180)
class AgentKillBurstIT {
  static final String ROW = "6 agent-killed-mid-burst";
  static final int BURST = 100;
  static Testbed bed;
  static AgentProcess a1;
  static AgentProcess a2;

  @BeforeAll
  static void up() {
    Matrix.assumeTestbed();
    bed = Testbed.create(2, 1);
    Matrix.initNetwork(bed);
    a1 = bed.startAgent(1);
    a2 = bed.startAgent(2);
    Matrix.awaitReady(bed, 1, a1, Duration.ofSeconds(60));
    Matrix.awaitReady(bed, 2, a2, Duration.ofSeconds(60));
  }

  @AfterAll
  static void down() {
    if (bed != null) {
      bed.close();
    }
  }

  @Test
  void killedDuringHundredPeerJoins() throws Exception {
    AtomicInteger written = new AtomicInteger();
    long burstStart = System.nanoTime();
    CompletableFuture<Long> burst = CompletableFuture.supplyAsync(() -> {
      for (int i = 0; i < BURST; i++) {
        Matrix.putPeer(bed, Matrix.peerSubnet(i), Matrix.peerIp(i), Matrix.peerMac(i, 0));
        written.incrementAndGet();
      }
      return System.nanoTime() - burstStart;
    });
    Matrix.await("half the burst written and host 1 programming it", Duration.ofSeconds(60),
        () -> written.get() >= BURST / 2 && Matrix.actual(bed, 1).peers() > 1);
    int writtenAtKill = written.get();
    a1.kill();
    int programmedAtKill = Matrix.actual(bed, 1).peers() - 1; // without host 2
    long burstTook = burst.get(120, TimeUnit.SECONDS);

    // while host 1's agent is dead: 10 of the new peers leave, 10 get a new VtepMAC and public IP
    for (int i = 0; i < 10; i++) {
      Matrix.deletePeer(bed, Matrix.peerSubnet(i));
    }
    for (int i = 10; i < 20; i++) {
      Matrix.putPeer(bed, Matrix.peerSubnet(i), Matrix.peerIp(i + 150), Matrix.peerMac(i, 1));
    }
    assertThat(Matrix.actual(bed, 1).peers()).as("host 1's kernel keeps what it had").isEqualTo(programmedAtKill + 1);

    long restart = System.nanoTime();
    a1 = bed.startAgent(1);
    Matrix.awaitReady(bed, 1, a1, Duration.ofSeconds(60));
    long ready = System.nanoTime() - restart;
    Matrix.awaitConverged(bed, 1, Duration.ofSeconds(10));
    long exact = System.nanoTime() - restart;
    Matrix.PeerState want = Matrix.desired(Matrix.leases(bed), Matrix.subnetOf(bed, 1));
    assertThat(want.peers()).isEqualTo(BURST - 10 + 1);
    assertThat(Matrix.actual(bed, 1)).isEqualTo(want);
    Matrix.awaitConverged(bed, 2, Duration.ofSeconds(10));

    report(ROW, "burst", BURST + " leases in " + Matrix.millis(burstTook));
    report(ROW, "killed_after", writtenAtKill + " written, " + programmedAtKill + " programmed");
    report(ROW, "restarted_agent_ready_after", Matrix.millis(ready));
    report(ROW, "kernel_exact_after_restart", Matrix.millis(exact) + " (" + want.peers() + " peers: "
        + want.neighbours().size() + " neighbours, " + want.fdb().size() + " fdb, " + want.routes().size()
        + " routes; 0 missing, 0 extra)");
  }
}
