package dev.tartan.store.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.alloc.SubnetKeys;
import dev.tartan.store.testing.EtcdClusterExtension;
import dev.tartan.store.testing.EtcdMember;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue "Lease renewal through partitions and stalls", store side, on one real etcd member: the
 * cause a watch gives a removal, and a renewal bounded by its timeout that re-dials a stalled
 * connection.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class RemovalCauseAndRenewalIT {

  @RegisterExtension
  static final EtcdClusterExtension etcd = EtcdClusterExtension.builder().build();

  private static final AtomicInteger PREFIXES = new AtomicInteger();
  private static final Duration EVENTS = Duration.ofSeconds(60);

  private final List<AutoCloseable> toClose = new ArrayList<>();
  private String prefix;

  @BeforeEach
  void setUp(TestInfo info) {
    prefix = "/cause" + PREFIXES.incrementAndGet() + "-" + info.getTestMethod().orElseThrow().getName() + "/network";
    etcd.etcdctl("put", prefix + "/config", "{\"Network\":\"10.8.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
  }

  @AfterEach
  void closeAll() throws Exception {
    for (EtcdMember m : etcd.members()) {
      if (m.isRunning()) {
        m.resume(); // harmless when it is not frozen
      }
    }
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  private EtcdStore connect(Duration ttl) throws Exception {
    EtcdStore s = EtcdStore.connect(EtcdOptions.of(etcd.clientEndpoints()).withPrefix(prefix).withLeaseTtl(ttl));
    toClose.add(s);
    return s;
  }

  private static LeaseAttrs host(int n) {
    return LeaseAttrs.ipv4(Ipv4Subnet.toInet(Ipv4Subnet.parseAddress("198.51.100." + n)), "vxlan",
        "{\"VNI\":1,\"VtepMAC\":\"0a:00:00:00:00:0" + n + "\"}");
  }

  private RecordingListener watching(EtcdStore s) {
    RecordingListener rec = new RecordingListener();
    toClose.add(s.watch(rec));
    await().atMost(EVENTS).until(() -> rec.snapshotCount() == 1);
    return rec;
  }

  private static LeaseEvent.Removed awaitRemoval(RecordingListener rec, Ipv4Subnet subnet) {
    await().atMost(EVENTS).until(() -> rec.events().stream()
        .anyMatch(e -> e instanceof LeaseEvent.Removed && e.lease().subnet().equals(subnet)));
    return (LeaseEvent.Removed) rec.events().stream()
        .filter(e -> e instanceof LeaseEvent.Removed && e.lease().subnet().equals(subnet)).findFirst().orElseThrow();
  }

  @Test
  void aLeaseLeftToExpireArrivesAsRemovedExpired() throws Exception {
    RecordingListener rec = watching(connect(Duration.ofMinutes(10)));
    SubnetLease l = connect(Duration.ofSeconds(3)).acquire(host(1), Optional.empty()); // never renewed
    LeaseEvent.Removed r = awaitRemoval(rec, l.subnet());
    assertThat(r.cause()).isEqualTo(LeaseEvent.Cause.EXPIRED);
    assertThat(r.lease().attrs()).isEqualTo(host(1));
  }

  @Test
  void deletionsOnPurposeArriveAsRemovedDeleted() throws Exception {
    EtcdStore admin = connect(Duration.ofMinutes(10));
    RecordingListener rec = watching(admin);
    EtcdStore hosts = connect(Duration.ofMinutes(10));

    SubnetLease released = hosts.acquire(host(1), Optional.empty());
    assertThat(admin.releaseSubnet(released.subnet())).isTrue(); // tartan leases release
    assertThat(awaitRemoval(rec, released.subnet()).cause()).isEqualTo(LeaseEvent.Cause.DELETED);

    SubnetLease deletedByHand = hosts.acquire(host(2), Optional.empty());
    etcd.etcdctl("del", prefix + "/subnets/" + SubnetKeys.format(deletedByHand.subnet()));
    assertThat(awaitRemoval(rec, deletedByHand.subnet()).cause()).isEqualTo(LeaseEvent.Cause.DELETED);

    SubnetLease own = hosts.acquire(host(3), Optional.empty());
    hosts.release(own); // a host's own release
    assertThat(awaitRemoval(rec, own.subnet()).cause()).isEqualTo(LeaseEvent.Cause.DELETED);

    SubnetLease reservation = admin.reserve(Ipv4Subnet.parse("10.8.200.0/24"), Ipv4Subnet.toInet(
        Ipv4Subnet.parseAddress("198.51.100.4")));
    etcd.etcdctl("del", prefix + "/subnets/10.8.200.0-24");
    assertThat(awaitRemoval(rec, reservation.subnet()).cause()).isEqualTo(LeaseEvent.Cause.DELETED);
  }

  @Test
  void renewWithATimeoutAgainstAFrozenMemberFailsInTimeAndTheNextRenewRedials() throws Exception {
    EtcdStore store = connect(Duration.ofSeconds(60));
    SubnetLease l = store.acquire(host(1), Optional.empty());
    RecordingListener rec = watching(store);
    EtcdMember member = etcd.member(0);

    long elapsedMillis;
    Throwable failure = null;
    member.pause();
    try {
      long t0 = System.nanoTime();
      try {
        store.renew(l, Duration.ofSeconds(1));
      } catch (Exception e) {
        failure = e;
      }
      elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    } finally {
      member.resume();
    }
    assertThat(failure).as("a renewal against a frozen etcd").isInstanceOf(TransientEtcdException.class)
        .hasMessageContaining("within 1");
    assertThat(elapsedMillis).as("bounded by its 1 s timeout (+ slack for a loaded machine)").isLessThan(5000);
    assertThat(store.connection().redials()).isEqualTo(1);
    System.out.printf("renew(lease, 1 s) against a frozen member failed after %d ms: %s%n", elapsedMillis,
        failure.getMessage());

    SubnetLease renewed = store.renew(l, Duration.ofSeconds(30)); // on the fresh connection
    assertThat(renewed.subnet()).isEqualTo(l.subnet());
    assertThat(renewed.etcdLeaseId()).isNotEqualTo(l.etcdLeaseId());
    assertThat(store.connection().redials()).isEqualTo(1);

    // the watch re-attached to the new client: it sees the renewal
    await().atMost(EVENTS).until(() -> rec.events().stream().anyMatch(e -> e instanceof LeaseEvent.Added
        && e.lease().modRevision() == renewed.modRevision()));
    assertThat(store.list()).singleElement().extracting(SubnetLease::etcdLeaseId).isEqualTo(renewed.etcdLeaseId());
  }
}
