package dev.tartan.store.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.testing.EtcdClusterExtension;
import dev.tartan.store.testing.EtcdMember;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A watch across etcd data loss: the member is replaced by a fresh, empty etcd at the same
 * endpoint. Its revisions start again at 1, below the watch's resume revision; a watch that simply
 * resumed there would wait for a future revision and miss every new lease until the counter caught
 * up. The watch must notice and deliver a new snapshot.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LeaseWatchDataLossIT {

  @RegisterExtension
  static final EtcdClusterExtension etcd = EtcdClusterExtension.builder().build();

  private static final String PREFIX = "/it-dataloss/network";
  private static final String CONFIG = "{\"Network\":\"10.23.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}";

  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  private static LeaseAttrs host(int i) {
    return LeaseAttrs.ipv4(Ipv4Subnet.toInet(Ipv4Subnet.parseAddress("198.18.0." + i)), "vxlan",
        "{\"VNI\":1,\"VtepMAC\":\"0a:00:00:00:00:0" + i + "\"}");
  }

  private EtcdStore connect() throws Exception {
    EtcdStore s = EtcdStore.connect(EtcdOptions.of(etcd.clientEndpoints()).withPrefix(PREFIX)
        .withLeaseTtl(Duration.ofSeconds(60)));
    toClose.add(s);
    return s;
  }

  @Test
  void watchRelistsWhenEtcdComesBackEmpty() throws Exception {
    etcd.etcdctl("put", PREFIX + "/config", CONFIG);
    EtcdStore store = connect();
    // enough history that the old resume revision lies well above the new etcd's revisions
    for (int i = 0; i < 10; i++) {
      etcd.etcdctl("put", "/it-dataloss/filler", Integer.toString(i));
    }
    SubnetLease a = store.acquire(host(1), Optional.empty());
    SubnetLease b = store.acquire(host(2), Optional.empty());
    RecordingListener rec = new RecordingListener();
    toClose.add(store.watch(rec));
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.snapshotCount() == 1);
    assertThat(rec.view()).containsOnlyKeys(a.subnet(), b.subnet());

    EtcdMember m = etcd.member(0);
    m.kill();
    deleteTree(m.dataDir());
    m.start();
    etcd.waitHealthy(Duration.ofSeconds(30));

    // the empty store is reported as an empty snapshot ...
    await().atMost(Duration.ofSeconds(20)).until(() -> rec.snapshotCount() == 2);
    assertThat(rec.view()).isEmpty();
    // ... and what is written afterwards arrives as events
    etcd.etcdctl("put", PREFIX + "/config", CONFIG);
    SubnetLease c = store.acquire(host(3), Optional.of(b.subnet()));
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.view().containsKey(c.subnet()));
    assertThat(c.subnet()).isEqualTo(b.subnet());
    assertThat(rec.view()).containsOnlyKeys(c.subnet());
    assertThat(rec.view().get(c.subnet()).attrs()).isEqualTo(host(3));
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
