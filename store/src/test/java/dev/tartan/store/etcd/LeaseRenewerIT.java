package dev.tartan.store.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseRenewer;
import dev.tartan.store.ManualScheduler;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.testing.EtcdClusterExtension;
import io.etcd.jetcd.Client;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link LeaseRenewer} on the real store and etcd. A {@link ManualScheduler} shows the delays the
 * renewer asks for and runs each renewal on demand, so no test waits for a TTL except the last one,
 * which runs in real time.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LeaseRenewerIT {

  @RegisterExtension
  static final EtcdClusterExtension etcd = EtcdClusterExtension.builder().build();

  private static final AtomicInteger PREFIXES = new AtomicInteger();
  private static final Duration HOUR = Duration.ofMinutes(60);

  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final ManualScheduler scheduler = new ManualScheduler();
  private final Events events = new Events();

  /** What the renewer reported. */
  static final class Events implements LeaseRenewer.Listener {
    final List<SubnetLease> renewed = new ArrayList<>();
    final List<Duration> retries = new ArrayList<>();
    final List<String> lost = new ArrayList<>();

    @Override
    public synchronized void onRenewed(SubnetLease lease) {
      renewed.add(lease);
    }

    @Override
    public synchronized void onRenewFailed(Exception e, Duration retryIn) {
      retries.add(retryIn);
    }

    @Override
    public synchronized void onLost(SubnetLease lease, String reason) {
      lost.add(reason);
    }

    synchronized int renewals() {
      return renewed.size();
    }
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  private String newPrefix() {
    String p = "/renew" + PREFIXES.incrementAndGet() + "/network";
    etcd.etcdctl("put", p + "/config", "{\"Network\":\"10.30.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    return p;
  }

  private EtcdStore store(String prefix, Duration ttl) throws Exception {
    EtcdStore s = EtcdStore.connect(EtcdOptions.of(etcd.clientEndpoints()).withPrefix(prefix)
        .withLeaseTtl(ttl));
    toClose.add(s);
    return s;
  }

  private static LeaseAttrs host(int n) {
    return LeaseAttrs.ipv4(Ipv4Subnet.toInet(Ipv4Subnet.parseAddress("198.51.100." + n)), "vxlan",
        "{\"VNI\":1,\"VtepMAC\":\"0a:00:00:00:00:" + String.format("%02x", n) + "\"}");
  }

  private LeaseRenewer renewer(EtcdStore store, SubnetLease lease, Duration margin,
      ScheduledExecutorService exec) {
    LeaseRenewer r = new LeaseRenewer(store, lease, margin, Clock.systemUTC(), exec, events);
    toClose.add(r);
    return r;
  }

  private static String keyOf(String prefix, SubnetLease l) {
    return prefix + "/subnets/" + l.subnet().networkAddress().getHostAddress() + "-" + l.subnet().prefixLength();
  }

  @Test
  void renewsTwoThirdsIntoAShortTtlAndKeepsTheSubnet() throws Exception {
    String p = newPrefix();
    EtcdStore store = store(p, Duration.ofSeconds(30));
    SubnetLease lease = store.acquire(host(1), Optional.empty());
    LeaseRenewer r = renewer(store, lease, HOUR, scheduler);
    r.start();

    ManualScheduler.Task first = scheduler.single();
    assertThat(first.delay()).isBetween(Duration.ofSeconds(18), Duration.ofSeconds(20)); // 30 s - 30 s / 3
    first.run();

    assertThat(events.renewed).hasSize(1);
    SubnetLease renewed = r.current();
    assertThat(renewed).isEqualTo(events.renewed.get(0));
    assertThat(renewed.subnet()).isEqualTo(lease.subnet());
    assertThat(renewed.etcdLeaseId()).isNotEqualTo(lease.etcdLeaseId());
    assertThat(etcd.etcdctl("get", keyOf(p, lease), "-w", "json"))
        .contains("\"lease\":" + renewed.etcdLeaseId());
    assertThat(scheduler.single().delay()).isBetween(Duration.ofSeconds(18), Duration.ofSeconds(20));
    assertThat(events.retries).isEmpty();
    assertThat(events.lost).isEmpty();
  }

  @Test
  void aMarginBelowAThirdOfTheTtlIsUsedAsIs() throws Exception {
    EtcdStore store = store(newPrefix(), Duration.ofSeconds(60));
    LeaseRenewer r = renewer(store, store.acquire(host(2), Optional.empty()), Duration.ofSeconds(5), scheduler);
    r.start();
    assertThat(scheduler.single().delay()).isBetween(Duration.ofSeconds(53), Duration.ofSeconds(55));
  }

  @Test
  void aReservationIsNeverRenewed() throws Exception {
    EtcdStore store = store(newPrefix(), Duration.ofSeconds(30));
    store.reserve(Ipv4Subnet.parse("10.30.9.0/24"), host(3).publicIp());
    SubnetLease lease = store.acquire(host(3), Optional.empty());
    assertThat(lease.reserved()).isTrue();
    renewer(store, lease, HOUR, scheduler).start();
    assertThat(scheduler.pending()).isEmpty();
  }

  @Test
  void anotherHostTakingTheKeyIsReportedAsLostAndStopsTheRenewer() throws Exception {
    String p = newPrefix();
    EtcdStore store = store(p, Duration.ofSeconds(30));
    SubnetLease lease = store.acquire(host(4), Optional.empty());
    LeaseRenewer r = renewer(store, lease, HOUR, scheduler);
    r.start();
    etcd.etcdctl("put", keyOf(p, lease), "{\"PublicIP\":\"198.51.100.99\",\"PublicIPv6\":null}");

    scheduler.single().run();
    assertThat(events.lost).singleElement().asString().contains("now belongs to host 198.51.100.99");
    assertThat(scheduler.pending()).isEmpty();
    assertThat(r.current()).isEqualTo(lease);
    assertThat(etcd.etcdctl("get", keyOf(p, lease), "--print-value-only")).contains("198.51.100.99");
  }

  @Test
  void failedRenewalsRetryWithBackoffButNeverPastExpiry() throws Exception {
    String p = newPrefix();
    Client client = Client.builder().endpoints(etcd.clientEndpoints()).build();
    EtcdStore store = new EtcdStore(client, p, Duration.ofSeconds(30), Clock.systemUTC(), new Random());
    SubnetLease lease = store.acquire(host(5), Optional.empty());
    LeaseRenewer r = renewer(store, lease, HOUR, scheduler);
    r.start();
    client.close(); // every request of this store now fails at once

    for (int i = 0; i < 6; i++) {
      scheduler.single().run();
    }
    // 30 s lease renewed at once: 1, 2, 4, 8, 16 s fit in what is left; 32 s would not: half of ~30 s.
    assertThat(events.retries.subList(0, 5)).containsExactly(Duration.ofSeconds(1), Duration.ofSeconds(2),
        Duration.ofSeconds(4), Duration.ofSeconds(8), Duration.ofSeconds(16));
    assertThat(events.retries.get(5)).isBetween(Duration.ofSeconds(13), Duration.ofSeconds(15));
    assertThat(scheduler.single().delay()).isEqualTo(events.retries.get(5));
    assertThat(events.renewed).isEmpty();
    assertThat(events.lost).isEmpty();
  }

  @Test
  void closeCancelsTheNextRenewal() throws Exception {
    EtcdStore store = store(newPrefix(), Duration.ofSeconds(30));
    LeaseRenewer r = renewer(store, store.acquire(host(6), Optional.empty()), HOUR, scheduler);
    r.start();
    ManualScheduler.Task t = scheduler.single();
    r.close();
    assertThat(t.isCancelled()).isTrue();
    assertThat(scheduler.pending()).isEmpty();
  }

  @Test
  void keepsAThreeSecondLeaseAliveInRealTime() throws Exception {
    String p = newPrefix();
    EtcdStore store = store(p, Duration.ofSeconds(3));
    SubnetLease lease = store.acquire(host(7), Optional.empty());
    ScheduledExecutorService exec = Executors.newSingleThreadScheduledExecutor();
    toClose.add(exec::shutdownNow);
    LeaseRenewer r = renewer(store, lease, HOUR, exec);
    r.start();

    await().atMost(Duration.ofSeconds(20)).until(() -> events.renewals() >= 3); // > 2 TTLs
    assertThat(events.retries).isEmpty();
    assertThat(events.lost).isEmpty();
    assertThat(r.current().subnet()).isEqualTo(lease.subnet());
    assertThat(etcd.etcdctl("get", keyOf(p, lease), "--print-value-only")).contains("198.51.100.7");
    assertThat(store.list()).extracting(SubnetLease::subnet).containsExactly(lease.subnet());
  }
}
