package dev.tartan.store.etcd;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.RequestRejectedException;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.alloc.SubnetKeys;
import dev.tartan.store.testing.EtcdClusterExtension;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Prefix listings read in pages at one revision (issue "Scale"), on one real etcd member. */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class PagedListingIT {

  @RegisterExtension
  static final EtcdClusterExtension etcd = EtcdClusterExtension.builder().build();

  private static final AtomicInteger PREFIXES = new AtomicInteger();
  private static final String CONFIG = "{\"Network\":\"10.0.0.0/8\",\"Backend\":{\"Type\":\"vxlan\"}}";

  private final List<AutoCloseable> toClose = new ArrayList<>();
  private Client client;
  private String prefix;

  @BeforeEach
  void setUp(TestInfo info) throws Exception {
    prefix = "/paged" + PREFIXES.incrementAndGet() + "-" + info.getTestMethod().orElseThrow().getName() + "/network";
    client = Client.builder().endpoints(etcd.clientEndpoints()).build();
    toClose.add(client);
    client.getKVClient().put(bs(prefix + "/config"), bs(CONFIG)).get(30, TimeUnit.SECONDS);
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    // keep the member small for the next test
    client = Client.builder().endpoints(etcd.clientEndpoints()).build();
    try (Client c = client) {
      c.getKVClient().delete(bs(prefix + "/"), io.etcd.jetcd.options.DeleteOption.builder().isPrefix(true).build())
          .get(60, TimeUnit.SECONDS);
    }
  }

  private EtcdStore connect(int pageSize) throws Exception {
    EtcdStore s = EtcdStore.connect(EtcdOptions.of(etcd.clientEndpoints()).withPrefix(prefix)
        .withLeaseTtl(Duration.ofSeconds(600)).withPageSize(pageSize));
    toClose.add(s);
    return s;
  }

  private static ByteSequence bs(String s) {
    return ByteSequence.from(s, UTF_8);
  }

  /** The i-th synthetic peer: subnet 10.x.y.0/24 spread over the /8, public IP in 198.18.0.0/15. */
  private static Ipv4Subnet subnet(int i) {
    int spread = (int) ((i * 40503L) % 65536); // a permutation of 0..65535: keys land all over the range
    return new Ipv4Subnet((10 << 24) | (spread << 8), 24);
  }

  private static String value(int i, String padding) {
    int ip = (198 << 24) | (18 << 16) | i;
    return "{\"PublicIP\":\"" + Ipv4Subnet.format(ip) + "\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","
        + "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"0a:00:00:" + String.format("%02x:%02x:%02x", (i >> 16) & 0xff,
            (i >> 8) & 0xff, i & 0xff) + "\"" + padding + "}}";
  }

  private String key(int i) {
    return prefix + "/subnets/" + SubnetKeys.format(subnet(i));
  }

  /** Writes peers [from, to) in transactions of 100 puts (no etcd lease: they never expire). */
  private void load(int from, int to, String padding) throws Exception {
    for (int start = from; start < to; start += 100) {
      List<Op> puts = new ArrayList<>();
      for (int i = start; i < Math.min(to, start + 100); i++) {
        puts.add(Op.put(bs(key(i)), bs(value(i, padding)), PutOption.DEFAULT));
      }
      TxnResponse t = client.getKVClient().txn().Then(puts.toArray(new Op[0])).commit().get(60, TimeUnit.SECONDS);
      assertThat(t.isSucceeded()).isTrue();
    }
  }

  @Test
  void listingOf2500LeasesInPagesOf100EqualsTheUnpagedResult() throws Exception {
    load(0, 2500, "");
    EtcdStore paged = connect(100);
    EtcdStore whole = connect(EtcdOptions.MAX_PAGE_SIZE);

    LeaseReader.Snapshot p = paged.read(false);
    LeaseReader.Snapshot w = whole.read(false);
    assertThat(p.leases()).hasSize(2500).isEqualTo(w.leases());
    assertThat(p.revision()).isEqualTo(w.revision());

    // and equal to one raw Range of the whole prefix
    GetResponse raw = client.getKVClient().get(bs(prefix + "/subnets/"), GetOption.builder().isPrefix(true).build())
        .get(60, TimeUnit.SECONDS);
    assertThat(raw.getKvs()).hasSize(2500);
    Map<Ipv4Subnet, Long> rawRevisions = new HashMap<>();
    raw.getKvs().forEach(kv -> rawRevisions.put(
        SubnetKeys.parse(kv.getKey().toString(UTF_8).substring((prefix + "/subnets/").length())).orElseThrow().subnet(),
        kv.getModRevision()));
    for (SubnetLease l : p.leases()) {
      assertThat(rawRevisions.get(l.subnet())).as("%s", l.subnet()).isEqualTo(l.modRevision());
    }
    // list() (tartan leases list, tartan doctor) pages too and adds expiry
    assertThat(paged.list()).extracting(SubnetLease::subnet)
        .isEqualTo(w.leases().stream().map(SubnetLease::subnet).toList());
  }

  @Test
  void snapshotTakenWhile500WritesLandIsConsistentAndTheWatchContinuesFromIt() throws Exception {
    load(0, 2000, "");
    EtcdStore store = connect(50); // 40+ pages: the writes land between them
    RecordingListener rec = new RecordingListener();
    AtomicInteger written = new AtomicInteger();
    Thread writer = new Thread(() -> {
      try {
        for (int i = 2000; i < 2500; i++) {
          client.getKVClient().put(bs(key(i)), bs(value(i, ""))).get(60, TimeUnit.SECONDS);
          written.incrementAndGet();
        }
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    }, "writer");
    writer.start();
    await().atMost(Duration.ofSeconds(60)).until(() -> written.get() >= 20);
    toClose.add(store.watch(rec));
    writer.join(120_000);
    assertThat(written.get()).isEqualTo(2500 - 2000);
    await().atMost(Duration.ofSeconds(60)).until(() -> rec.view().size() == 2500);

    assertThat(rec.snapshotCount()).isEqualTo(1);
    List<SubnetLease> snapshot = rec.snapshots.get(0);
    Map<Ipv4Subnet, Integer> seen = new HashMap<>();
    snapshot.forEach(l -> seen.merge(l.subnet(), 1, Integer::sum));
    List<LeaseEvent> events = rec.events();
    assertThat(events).allMatch(e -> e instanceof LeaseEvent.Added);
    events.forEach(e -> seen.merge(e.lease().subnet(), 1, Integer::sum));
    for (int i = 0; i < 2500; i++) {
      assertThat(seen.get(subnet(i))).as("peer %d (%s) seen once in snapshot + events", i, subnet(i)).isEqualTo(1);
    }
    assertThat(seen).hasSize(2500);
    assertThat(snapshot.size()).as("the watch started after 20 writes had landed").isBetween(2020, 2500);
    // the snapshot is one revision: every key in it was written at or before the newest of them, and
    // every event comes after it
    long snapRevision = snapshot.stream().mapToLong(SubnetLease::modRevision).max().orElseThrow();
    assertThat(events).allMatch(e -> e.lease().modRevision() > snapRevision);
    for (int i = 2000; i < 2500; i++) {
      int at = i;
      boolean inSnapshot = snapshot.stream().anyMatch(l -> l.subnet().equals(subnet(at)));
      boolean laterInSnapshot = i + 1 < 2500 && snapshot.stream().anyMatch(l -> l.subnet().equals(subnet(at + 1)));
      if (laterInSnapshot) {
        assertThat(inSnapshot).as("write %d precedes write %d, which is in the snapshot", i, i + 1).isTrue();
      }
    }
  }

  @Test
  void leaseSetWhoseSingleRangeAnswerExceeds4MiBIsListedCompletely() throws Exception {
    String padding = ",\"Pad\":\"" + "x".repeat(60) + "\""; // ~250 bytes a key: 25,000 keys ~ 6 MB
    load(0, 25_000, padding);

    // One Range answer is over gRPC's default 4 MiB inbound limit: rejected for good, with the fix.
    try {
      client.getKVClient().get(bs(prefix + "/subnets/"), GetOption.builder().isPrefix(true).build())
          .get(60, TimeUnit.SECONDS);
      throw new AssertionError("one Range of 25,000 padded leases should exceed 4 MiB");
    } catch (ExecutionException e) {
      assertThat(EtcdErrors.failure(e.getCause(), "list")).isInstanceOf(RequestRejectedException.class)
          .hasMessageContaining("RESOURCE_EXHAUSTED").hasMessageContaining("page size");
      assertThat(EtcdErrors.isTransient(e.getCause())).isFalse();
    }

    EtcdStore store = connect(EtcdOptions.DEFAULT_PAGE_SIZE);
    LeaseReader.Snapshot s = store.read(false);
    assertThat(s.leases()).hasSize(25_000);
    assertThat(s.leases()).extracting(SubnetLease::subnet).doesNotHaveDuplicates();
    RecordingListener rec = new RecordingListener();
    toClose.add(store.watch(rec));
    await().atMost(Duration.ofSeconds(120)).until(() -> rec.snapshotCount() == 1);
    assertThat(rec.snapshots.get(0)).hasSize(25_000);
  }
}
