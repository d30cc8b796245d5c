package dev.tartan.store.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.AccessDeniedException;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.LeaseLostException;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfigMissingException;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.Subscription;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The fake's own semantics and fault injection (the shared contract test covers the rest on both stores). */
class FakeLeaseStoreTest {

  private static final String CONFIG = "{\"Network\": \"10.244.0.0/16\", \"Backend\": {\"Type\": \"vxlan\"}}";
  private static final Duration TTL = Duration.ofSeconds(30);

  private final ManualClock clock = new ManualClock();
  private final FakeLeaseStore.Data data = new FakeLeaseStore.Data(clock);
  private final FakeLeaseStore a = new FakeLeaseStore(data, "/coreos.com/network", TTL);
  private final FakeLeaseStore b = new FakeLeaseStore(data, "/coreos.com/network/", TTL);
  private final Recording seen = new Recording();

  static final class Recording implements LeaseListener {
    final List<String> log = new ArrayList<>();
    final List<LeaseEvent> events = new ArrayList<>();

    @Override
    public void onSnapshot(List<SubnetLease> all) {
      log.add("snapshot " + all.size());
    }

    @Override
    public void onEvents(List<LeaseEvent> batch) {
      for (LeaseEvent e : batch) {
        events.add(e);
        log.add((e instanceof LeaseEvent.Removed r ? "removed " + r.cause() : "added") + " " + e.lease().subnet());
      }
    }
  }

  @BeforeEach
  void config() throws Exception {
    a.putConfig(CONFIG, false);
  }

  @Test
  void twoHostsGetDistinctSubnetsAndAHostReusesItsOwn() throws Exception {
    SubnetLease x = a.acquire(attrs("198.18.0.1"), Optional.empty());
    SubnetLease y = b.acquire(attrs("198.18.0.2"), Optional.of(x.subnet())); // previous is taken
    assertThat(y.subnet()).isNotEqualTo(x.subnet());
    SubnetLease again = a.acquire(attrs("198.18.0.1"), Optional.empty());
    assertThat(again.subnet()).isEqualTo(x.subnet());
    assertThat(again.modRevision()).isGreaterThan(x.modRevision());
    assertThat(again.etcdLeaseId()).isNotEqualTo(x.etcdLeaseId());
    assertThat(a.list()).hasSize(2).allSatisfy(l -> assertThat(l.expiresAt()).isEqualTo(clock.instant().plus(TTL)));
  }

  @Test
  void watchDeliversSnapshotThenEventsWithTheLastKnownCopyAndTheCause() throws Exception {
    SubnetLease x = a.acquire(attrs("198.18.0.1"), Optional.empty());
    Subscription w = b.watch(seen);
    SubnetLease renewed = a.renew(x);
    SubnetLease y = b.acquire(attrs("198.18.0.2"), Optional.empty());
    clock.advance(TTL);
    b.renew(y, Duration.ofSeconds(1)); // y lives on, x's etcd lease runs out
    assertThat(data.tick()).isEqualTo(1);
    b.releaseSubnet(y.subnet());

    assertThat(seen.log).containsExactly("snapshot 1", "added " + x.subnet(), "added " + y.subnet(),
        "added " + y.subnet(), "removed EXPIRED " + x.subnet(), "removed DELETED " + y.subnet());
    LeaseEvent.Removed expired = (LeaseEvent.Removed) seen.events.get(3);
    assertThat(expired.lease().modRevision()).isEqualTo(renewed.modRevision());
    assertThat(expired.lease().etcdLeaseId()).isEqualTo(renewed.etcdLeaseId());
    w.close();
    a.acquire(attrs("198.18.0.1"), Optional.empty());
    assertThat(seen.log).hasSize(6);
  }

  @Test
  void renewAfterDeletionOrTakeoverIsLost() throws Exception {
    SubnetLease x = a.acquire(attrs("198.18.0.1"), Optional.empty());
    data.delete(a.keyOf(x.subnet()));
    assertThatThrownBy(() -> a.renew(x)).isInstanceOf(LeaseLostException.class).hasMessageContaining("is gone");
    data.put(a.keyOf(x.subnet()), "{\"PublicIP\":\"198.18.0.9\",\"BackendType\":\"vxlan\"}");
    assertThatThrownBy(() -> a.renew(x)).isInstanceOf(LeaseLostException.class).hasMessageContaining("198.18.0.9");
  }

  @Test
  void faultsHitTheNextRequestsInOrder() throws Exception {
    data.failNext(1);
    data.denyNext(1);
    data.hangNext(1);
    assertThatThrownBy(a::networkConfig).isInstanceOf(LeaseStoreException.class)
        .isNotInstanceOf(AccessDeniedException.class);
    assertThatThrownBy(a::networkConfig).isInstanceOf(AccessDeniedException.class);
    Instant before = clock.instant();
    SubnetLease fake = new SubnetLease(Ipv4Subnet.parse("10.244.1.0/24"), null, attrs("198.18.0.1"), null, 1, 1);
    assertThatThrownBy(() -> a.renew(fake, Duration.ofMillis(700))).hasMessageContaining("did not answer");
    assertThat(Duration.between(before, clock.instant())).isEqualTo(Duration.ofMillis(700));
    assertThat(data.requestTimeouts()).containsExactly(Duration.ofMillis(700));
    assertThat(a.networkConfig().network()).isEqualTo(Ipv4Subnet.parse("10.244.0.0/16"));
  }

  @Test
  void wipeLosesEverythingAndWatchesSeeAnEmptySnapshot() throws Exception {
    a.acquire(attrs("198.18.0.1"), Optional.empty());
    a.watch(seen);
    data.wipe();
    assertThat(seen.log).containsExactly("snapshot 1", "snapshot 0");
    assertThat(data.keys()).isEmpty();
    assertThat(data.revision()).isZero();
    assertThatThrownBy(a::networkConfig).isInstanceOf(NetworkConfigMissingException.class);
  }

  @Test
  void garbageUnderSubnetsIsSkippedAndCounted() throws Exception {
    data.put(a.subnetsPrefix() + "not-a-key", "{}");
    data.put(a.subnetsPrefix() + "10.244.9.0-24", "garbage");
    assertThat(a.list()).isEmpty();
    assertThat(a.badKeysSkipped()).isEqualTo(2);
  }

  private static LeaseAttrs attrs(String ip) {
    try {
      return LeaseAttrs.ipv4((Inet4Address) InetAddress.getByName(ip), "vxlan", "{\"VNI\":1}");
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }
}
