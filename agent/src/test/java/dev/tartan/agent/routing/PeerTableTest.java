package dev.tartan.agent.routing;

import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.routing.PeerTable.Effect;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseEvent.Cause;
import dev.tartan.store.SubnetLease;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class PeerTableTest {
  static final SubnetLease OWN = vxlan("10.244.1.0/24", "198.51.100.1", "5a:00:00:00:00:01");
  static final SubnetLease P2 = vxlan("10.244.2.0/24", "198.51.100.2", "5a:00:00:00:00:02");
  static final SubnetLease P3 = vxlan("10.244.3.0/24", "198.51.100.3", "5a:00:00:00:00:03");
  static final Instant T0 = Instant.parse("2026-12-01T00:00:00Z");
  static final Duration GRACE = Duration.ofSeconds(60);

  final PeerTable table = new PeerTable(net("10.244.1.0/24"));

  Effect apply(LeaseEvent e) {
    return table.apply(e, T0, GRACE);
  }

  @Test
  void snapshotReplacesAndExcludesOurOwnLease() {
    table.snapshot(List.of(OWN, P2));
    table.snapshot(List.of(OWN, P3));

    assertThat(table.remotes()).containsExactly(P3);
    assertThat(table.ownLease()).isEqualTo(OWN);
    assertThat(table.size()).isEqualTo(1);
    assertThat(table.synced()).isTrue();
  }

  @Test
  void eventsAddReplaceAndRemove() {
    table.snapshot(List.of(OWN));
    SubnetLease p2new = vxlan("10.244.2.0/24", "198.51.100.2", "5a:00:00:00:00:22");

    assertThat(apply(new LeaseEvent.Added(P2))).isEqualTo(Effect.PUT);
    apply(new LeaseEvent.Added(P3));
    apply(new LeaseEvent.Added(p2new));
    assertThat(apply(new LeaseEvent.Removed(P3, Cause.DELETED))).isEqualTo(Effect.REMOVED);

    assertThat(table.remotes()).containsExactly(p2new);
  }

  @Test
  void removingAnUnknownLeaseIsHarmless() {
    assertThat(apply(new LeaseEvent.Removed(P3))).isEqualTo(Effect.NONE);
    assertThat(table.remotes()).isEmpty();
    assertThat(table.synced()).isFalse();
  }

  @Test
  void ourOwnLeaseEventsNeverMakeAPeer() {
    apply(new LeaseEvent.Added(OWN));
    assertThat(table.remotes()).isEmpty();
    assertThat(table.size()).isZero();
    assertThat(table.get(OWN.subnet())).isNull();
  }

  @Test
  void aNewOwnSubnetChangesWhatIsRemote() {
    table.snapshot(List.of(OWN, P2, P3));

    table.ownSubnet(net("10.244.3.0/24"));

    assertThat(table.remotes()).containsExactly(OWN, P2);
  }

  @Test
  void anExpiredPeerIsHeldUntilItsGraceEnds() {
    table.snapshot(List.of(OWN, P2));

    assertThat(apply(new LeaseEvent.Removed(P2, Cause.EXPIRED))).isEqualTo(Effect.HELD);
    assertThat(table.remotes()).containsExactly(P2);
    assertThat(table.inGrace()).isEqualTo(1);
    assertThat(table.nextGraceEnd()).isEqualTo(T0.plus(GRACE));
    assertThat(table.expire(T0.plusSeconds(59))).isEmpty();

    assertThat(table.expire(T0.plusSeconds(60))).containsExactly(P2.subnet());
    assertThat(table.remotes()).isEmpty();
    assertThat(table.inGrace()).isZero();
  }

  @Test
  void aHeldPeerLeasedAgainOrDeletedLeavesGraceAtOnce() {
    table.snapshot(List.of(OWN, P2, P3));
    apply(new LeaseEvent.Removed(P2, Cause.EXPIRED));
    apply(new LeaseEvent.Removed(P3, Cause.EXPIRED));
    SubnetLease taken = vxlan("10.244.2.0/24", "198.51.100.9", "5a:00:00:00:00:09");

    assertThat(apply(new LeaseEvent.Added(taken))).isEqualTo(Effect.PUT);
    assertThat(apply(new LeaseEvent.Removed(P3, Cause.DELETED))).isEqualTo(Effect.REMOVED);

    assertThat(table.remotes()).containsExactly(taken);
    assertThat(table.inGrace()).isZero();
  }

  @Test
  void noGraceRemovesAnExpiredPeerAtOnce() {
    table.snapshot(List.of(OWN, P2));
    assertThat(table.apply(new LeaseEvent.Removed(P2, Cause.EXPIRED), T0, Duration.ZERO))
        .isEqualTo(Effect.REMOVED);
  }

  @Test
  void aHeldPeerSurvivesAReListThatLacksIt() {
    table.snapshot(List.of(OWN, P2, P3));
    apply(new LeaseEvent.Removed(P2, Cause.EXPIRED));

    table.snapshot(List.of(OWN, P3));

    assertThat(table.remotes()).containsExactly(P2, P3);
    assertThat(table.inGrace()).isEqualTo(1);
  }

  @Test
  void overlapsAreFound() {
    table.snapshot(List.of(OWN, P2, P3));
    assertThat(table.overlapsAnother(net("10.244.2.0/24"))).isFalse();
    assertThat(table.overlapsAnother(net("10.244.2.128/25"))).isTrue();
    assertThat(table.overlapsAnother(net("10.244.0.0/16"))).isTrue();
    assertThat(table.overlapsAnother(net("10.244.9.0/24"))).isFalse();
  }

  @Test
  void isThreadSafe() throws Exception {
    int threads = 4;
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> ts = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int base = t * 500;
      Thread th = new Thread(() -> {
        try {
          go.await();
        } catch (InterruptedException e) {
          return;
        }
        for (int i = 0; i < 500; i++) {
          int n = base + i;
          apply(new LeaseEvent.Added(vxlan("10." + (n / 256) + "." + (n % 256) + ".0/24",
              "198.51.100.9", String.format("5a:00:00:00:%02x:%02x", n / 256, n % 256))));
          table.remotes();
        }
      });
      ts.add(th);
      th.start();
    }
    go.countDown();
    for (Thread th : ts) {
      th.join();
    }
    assertThat(table.remotes()).hasSize(threads * 500);
  }
}
