package dev.tartan.agent.routing;

import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.store.LeaseEvent;
import dev.tartan.store.SubnetLease;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class PeerTableTest {
  static final SubnetLease OWN = vxlan("10.244.1.0/24", "198.51.100.1", "5a:00:00:00:00:01");
  static final SubnetLease P2 = vxlan("10.244.2.0/24", "198.51.100.2", "5a:00:00:00:00:02");
  static final SubnetLease P3 = vxlan("10.244.3.0/24", "198.51.100.3", "5a:00:00:00:00:03");

  final AtomicInteger triggers = new AtomicInteger();
  final PeerTable table = new PeerTable(net("10.244.1.0/24"), triggers::incrementAndGet);

  @Test
  void snapshotReplacesAndExcludesOurOwnLease() {
    table.onSnapshot(List.of(OWN, P2));
    table.onSnapshot(List.of(OWN, P3));

    assertThat(table.remotes()).containsExactly(P3);
    assertThat(table.ownLease()).isEqualTo(OWN);
    assertThat(table.size()).isEqualTo(1);
    assertThat(table.synced()).isTrue();
    assertThat(triggers).hasValue(2);
  }

  @Test
  void eventsAddReplaceAndRemove() {
    table.onSnapshot(List.of(OWN));
    SubnetLease p2new = vxlan("10.244.2.0/24", "198.51.100.2", "5a:00:00:00:00:22");

    table.onEvents(List.of(new LeaseEvent.Added(P2), new LeaseEvent.Added(P3)));
    table.onEvents(List.of(new LeaseEvent.Added(p2new)));
    table.onEvents(List.of(new LeaseEvent.Removed(P3)));

    assertThat(table.remotes()).containsExactly(p2new);
    assertThat(triggers).hasValue(4);
  }

  @Test
  void removingAnUnknownLeaseIsHarmless() {
    table.onEvents(List.of(new LeaseEvent.Removed(P3)));
    assertThat(table.remotes()).isEmpty();
    assertThat(table.synced()).isFalse();
  }

  @Test
  void ourOwnLeaseEventsNeverMakeAPeer() {
    table.onEvents(List.of(new LeaseEvent.Added(OWN)));
    assertThat(table.remotes()).isEmpty();
    assertThat(table.size()).isZero();
  }

  @Test
  void aNewOwnSubnetChangesWhatIsRemote() {
    table.onSnapshot(List.of(OWN, P2, P3));

    table.ownSubnet(net("10.244.3.0/24"));

    assertThat(table.remotes()).containsExactlyInAnyOrder(OWN, P2);
    assertThat(triggers).hasValue(2);
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
          table.onEvents(List.of(new LeaseEvent.Added(vxlan("10." + (n / 256) + "." + (n % 256) + ".0/24",
              "198.51.100.9", String.format("5a:00:00:00:%02x:%02x", n / 256, n % 256)))));
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
    assertThat(triggers).hasValue(threads * 500);
  }
}
