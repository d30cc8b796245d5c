package dev.tartan.store.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.testing.EtcdClusterExtension;
import dev.tartan.store.testing.EtcdMember;
import io.etcd.jetcd.Client;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The lease store against a real 3-member etcd cluster: contention, member failure, compaction. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class EtcdLeaseStoreClusterIT {

  @RegisterExtension
  static final EtcdClusterExtension etcd = EtcdClusterExtension.builder().members(3).build();

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int ACQUIRERS = 100;

  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void cleanUp() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    for (int i = 0; i < etcd.size(); i++) {
      if (!etcd.member(i).isRunning()) {
        etcd.member(i).start();
      }
    }
    etcd.waitHealthy(Duration.ofSeconds(30));
  }

  private static Inet4Address ip(String s) {
    return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(s));
  }

  private static LeaseAttrs host(int i) {
    String mac = String.format("0a:00:00:00:%02x:%02x", i / 256, i % 256);
    return LeaseAttrs.ipv4(ip("198.18." + (i / 250) + "." + (1 + i % 250)), "vxlan",
        "{\"VNI\":1,\"VtepMAC\":\"" + mac + "\"}");
  }

  private EtcdStore connect(String prefix) throws Exception {
    EtcdStore s = EtcdStore.connect(EtcdOptions.of(etcd.clientEndpoints()).withPrefix(prefix)
        .withLeaseTtl(Duration.ofSeconds(60)));
    toClose.add(s);
    return s;
  }

  /** A store whose client talks to one member only (so stopping that member cuts its watch). */
  private EtcdStore pinnedTo(EtcdMember m, String prefix) throws Exception {
    Client c = EtcdConnection.clientBuilder(EtcdOptions.of(List.of(m.clientEndpoint()))).build();
    toClose.add(c);
    EtcdStore s = new EtcdStore(c, prefix, Duration.ofSeconds(60), Clock.systemUTC(), new Random());
    toClose.add(s);
    return s;
  }

  private static int leaderIndex() throws IOException {
    JsonNode statuses = JSON.readTree(etcd.etcdctl("endpoint", "status", "-w", "json"));
    List<URI> endpoints = etcd.clientEndpoints();
    for (JsonNode s : statuses) {
      JsonNode st = s.path("Status");
      if (st.path("header").path("member_id").asText().equals(st.path("leader").asText())) {
        return endpoints.indexOf(URI.create(s.path("Endpoint").asText()));
      }
    }
    throw new AssertionError("no leader in " + statuses);
  }

  /** What etcd holds under the prefix, as subnet -> PublicIP, read with etcdctl. */
  private static Map<String, String> stored(String prefix) throws IOException {
    JsonNode kvs = JSON.readTree(etcd.etcdctl("get", "--prefix", prefix + "/subnets/", "-w", "json")).path("kvs");
    Map<String, String> out = new TreeMap<>();
    for (JsonNode kv : kvs) {
      String key = new String(java.util.Base64.getDecoder().decode(kv.path("key").asText()));
      String value = new String(java.util.Base64.getDecoder().decode(kv.path("value").asText()));
      out.put(key.substring(key.lastIndexOf('/') + 1), JSON.readTree(value).path("PublicIP").asText());
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------

  @Test
  void hundredConcurrentAcquirersGetDistinctSubnets() throws Exception {
    runAcquirers("/it-race/network", false);
  }

  @Test
  void hundredConcurrentAcquirersGetDistinctSubnetsWhileTheLeaderIsKilled() throws Exception {
    runAcquirers("/it-race-kill/network", true);
  }

  private void runAcquirers(String prefix, boolean killLeaderMidway) throws Exception {
    etcd.etcdctl("put", prefix + "/config", "{\"Network\":\"10.20.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    List<EtcdStore> stores = new ArrayList<>();
    for (int i = 0; i < ACQUIRERS; i++) {
      stores.add(connect(prefix)); // one jetcd client each, as separate hosts would have
    }
    ExecutorService pool = Executors.newFixedThreadPool(ACQUIRERS);
    CountDownLatch go = new CountDownLatch(1);
    AtomicInteger done = new AtomicInteger();
    List<Future<SubnetLease>> results = new ArrayList<>();
    try {
      for (int i = 0; i < ACQUIRERS; i++) {
        EtcdStore s = stores.get(i);
        LeaseAttrs attrs = host(i);
        results.add(pool.submit(() -> {
          go.await();
          SubnetLease l = s.acquire(attrs, Optional.empty());
          done.incrementAndGet();
          return l;
        }));
      }
      int victim = killLeaderMidway ? leaderIndex() : -1;
      go.countDown();
      if (killLeaderMidway) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(5)).until(() -> done.get() >= 20);
        etcd.member(victim).kill();
        assertThat(done.get()).as("acquirers still running when the leader died").isLessThan(ACQUIRERS);
      }
      Set<Ipv4Subnet> subnets = new HashSet<>();
      Map<String, String> expected = new TreeMap<>();
      for (int i = 0; i < ACQUIRERS; i++) {
        SubnetLease l = results.get(i).get(90, TimeUnit.SECONDS);
        assertThat(l.attrs()).isEqualTo(host(i));
        assertThat(subnets.add(l.subnet())).as("subnet %s given twice", l.subnet()).isTrue();
        assertThat(Ipv4Subnet.parse("10.20.0.0/16").contains(l.subnet())).isTrue();
        expected.put(l.subnet().networkAddress().getHostAddress() + "-24", l.attrs().publicIp().getHostAddress());
      }
      assertThat(subnets).hasSize(ACQUIRERS);
      assertThat(stored(prefix)).isEqualTo(expected); // exactly these keys, each with its host's PublicIP
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void watchSurvivesItsMemberGoingAwayAndLosesNoEvent() throws Exception {
    String prefix = "/it-reconnect/network";
    etcd.etcdctl("put", prefix + "/config", "{\"Network\":\"10.21.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    EtcdStore writer = connect(prefix);
    SubnetLease a = writer.acquire(host(1), Optional.empty());
    SubnetLease b = writer.acquire(host(2), Optional.empty());

    EtcdMember m = etcd.member(0);
    EtcdStore watcherStore = pinnedTo(m, prefix);
    RecordingListener rec = new RecordingListener();
    toClose.add(watcherStore.watch(rec));
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.snapshotCount() == 1);

    m.kill();
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.count("disconnected") == 1);
    SubnetLease c = writer.acquire(host(3), Optional.empty());
    writer.release(a);
    SubnetLease b2 = writer.renew(b);
    Thread.sleep(500); // several reconnect attempts fail meanwhile
    m.start();

    await().atMost(Duration.ofSeconds(20)).until(() -> rec.count("reconnected") == 1);
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.events().size() == 3);
    assertThat(rec.calls()).containsExactly("snapshot(2)", "disconnected", "reconnected",
        "added " + c.subnet(), "removed " + a.subnet(), "added " + b.subnet());
    assertThat(rec.view()).containsOnlyKeys(b.subnet(), c.subnet());
    assertThat(rec.view().get(b.subnet()).etcdLeaseId()).isEqualTo(b2.etcdLeaseId());
    assertThat(watcherStore.watchReconnects()).isEqualTo(1);
    assertThat(watcherStore.compactionsSeen()).isZero();
  }

  @Test
  void compactionDuringAWatchLosesNoEvent() throws Exception {
    String prefix = "/it-compact/network";
    etcd.etcdctl("put", prefix + "/config", "{\"Network\":\"10.22.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    EtcdStore writer = connect(prefix);
    SubnetLease a = writer.acquire(host(1), Optional.empty());
    SubnetLease b = writer.acquire(host(2), Optional.empty());

    EtcdMember m = etcd.member(0);
    EtcdStore watcherStore = pinnedTo(m, prefix);
    RecordingListener rec = new RecordingListener();
    toClose.add(watcherStore.watch(rec));
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.snapshotCount() == 1);

    // A connected watch is not disturbed by a compaction.
    etcd.compact();
    SubnetLease c = writer.acquire(host(3), Optional.empty());
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.events().size() == 1);

    // While the watch is cut off, history moves on and is compacted: its resume revision is gone.
    m.stop();
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.count("disconnected") == 1);
    writer.release(a);
    SubnetLease d = writer.acquire(host(4), Optional.empty());
    SubnetLease c2 = writer.acquire(LeaseAttrs.ipv4(host(3).publicIp(), "vxlan",
        "{\"VNI\":1,\"VtepMAC\":\"0a:00:00:00:03:33\"}"), Optional.empty()); // new MAC for host 3
    etcd.compact();
    m.start();

    await().atMost(Duration.ofSeconds(30)).until(() -> rec.snapshotCount() == 2);
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.count("reconnected") == 1);
    assertThat(watcherStore.compactionsSeen()).isEqualTo(1);
    List<SubnetLease> truth = writer.list();
    Map<Ipv4Subnet, SubnetLease> view = rec.view();
    assertThat(view.keySet()).containsExactlyInAnyOrder(b.subnet(), c.subnet(), d.subnet());
    for (SubnetLease l : truth) {
      assertThat(view.get(l.subnet()).attrs()).isEqualTo(l.attrs());
    }
    assertThat(view.get(c.subnet()).attrs()).isEqualTo(c2.attrs());

    // And events flow again afterwards.
    writer.release(d);
    await().atMost(Duration.ofSeconds(10)).until(() -> !rec.view().containsKey(d.subnet()));
  }
}
