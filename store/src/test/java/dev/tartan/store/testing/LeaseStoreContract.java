package dev.tartan.store.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.LeaseLostException;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfigException;
import dev.tartan.store.NetworkConfigMissingException;
import dev.tartan.store.Store;
import dev.tartan.store.SubnetLease;
import java.net.Inet4Address;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What every {@link Store} must do, as the agent and the CLI rely on it: run against real etcd
 * ({@code EtcdLeaseStoreContractIT}) and against the in-memory fake, so the fake cannot drift from
 * the real thing (netty's shared testsuite, our {@code RtNetlinkContract}).
 *
 * <p>{@link #connect()} returns another host's client on the same data each time it is called (a
 * fresh, empty data set per test). Nothing here waits for a TTL: the contract holds whatever clock
 * the store runs on; leases are removed by hand ({@code releaseSubnet}), never by expiry.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
public abstract class LeaseStoreContract {

  /** 20 subnets: 10.5.1.0/24 .. 10.5.20.0/24. */
  protected static final String CONFIG = "{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":\"10.5.1.0\","
      + "\"SubnetMax\":\"10.5.20.0\",\"Backend\":{\"Type\":\"vxlan\"}}";
  private static final String OTHER_CONFIG = "{\"Network\":\"10.6.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}";
  private static final Duration EVENTS = Duration.ofSeconds(30);

  private final List<AutoCloseable> opened = new ArrayList<>();

  /** Another host's client on this test's data (the same data for every call within one test). */
  protected abstract Store connect() throws Exception;

  @AfterEach
  void closeOpened() throws Exception {
    for (int i = opened.size() - 1; i >= 0; i--) {
      opened.get(i).close();
    }
    opened.clear();
  }

  private Store host() throws Exception {
    Store s = connect();
    opened.add(s);
    return s;
  }

  private Store configured() throws Exception {
    Store s = host();
    s.putConfig(CONFIG, false);
    return s;
  }

  protected static Inet4Address ip(String dotted) {
    return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(dotted));
  }

  protected static LeaseAttrs host(String publicIp, String mac) {
    return LeaseAttrs.ipv4(ip(publicIp), "vxlan", "{\"VNI\":1,\"VtepMAC\":\"" + mac + "\"}");
  }

  private static Ipv4Subnet net(String cidr) {
    return Ipv4Subnet.parse(cidr);
  }

  // ---------------------------------------------------------------------------------------------
  // config

  @Test
  void networkConfigIsMissingUntilWritten() throws Exception {
    Store s = host();
    assertThat(s.rawConfig()).isEmpty();
    assertThatThrownBy(s::networkConfig).isInstanceOf(NetworkConfigMissingException.class);
    assertThatThrownBy(() -> s.acquire(host("198.51.100.1", "0a:00:00:00:00:01"), Optional.empty()))
        .isInstanceOf(NetworkConfigMissingException.class);

    s.putConfig(CONFIG, false);
    assertThat(host().networkConfig().network()).isEqualTo(net("10.5.0.0/16"));
    assertThat(s.rawConfig()).contains(CONFIG);
  }

  @Test
  void putConfigLeavesAnIdenticalConfigAndReplacesADifferentOneOnlyWithForce() throws Exception {
    Store s = configured();
    s.putConfig(CONFIG.replace(",", ", "), false); // the same JSON, other whitespace: left as it is
    assertThat(s.rawConfig()).contains(CONFIG);

    assertThatThrownBy(() -> s.putConfig(OTHER_CONFIG, false)).isInstanceOf(LeaseStoreException.class)
        .isNotInstanceOf(NetworkConfigException.class).hasMessageContaining("--force");
    assertThat(s.rawConfig()).contains(CONFIG);

    assertThatThrownBy(() -> s.putConfig("{\"Network\":\"10.7.0.0/16\"}", true))
        .isInstanceOf(NetworkConfigException.class); // validated first: no Backend
    assertThat(s.rawConfig()).contains(CONFIG);

    s.putConfig(OTHER_CONFIG, true);
    assertThat(host().rawConfig()).contains(OTHER_CONFIG);
    assertThat(host().networkConfig().network()).isEqualTo(net("10.6.0.0/16"));
  }

  // ---------------------------------------------------------------------------------------------
  // acquire

  @Test
  void twoHostsGetDistinctSubnetsInTheConfiguredRange() throws Exception {
    Store admin = configured();
    LeaseAttrs a = host("198.51.100.1", "0a:00:00:00:00:01");
    LeaseAttrs b = host("198.51.100.2", "0a:00:00:00:00:02");
    SubnetLease la = host().acquire(a, Optional.empty());
    SubnetLease lb = host().acquire(b, Optional.empty());

    assertThat(la.subnet()).isNotEqualTo(lb.subnet());
    assertThat(admin.networkConfig().accepts(la.subnet())).isTrue();
    assertThat(admin.networkConfig().accepts(lb.subnet())).isTrue();
    assertThat(la.attrs()).isEqualTo(a);
    assertThat(la.reserved()).isFalse();

    List<SubnetLease> all = admin.list();
    assertThat(all).extracting(SubnetLease::subnet).containsExactlyInAnyOrder(la.subnet(), lb.subnet());
    assertThat(all).extracting(SubnetLease::subnet).isSorted();
    assertThat(all).extracting(SubnetLease::attrs).containsExactlyInAnyOrder(a, b);
    assertThat(all).allSatisfy(l -> assertThat(l.expiresAt()).as("list() carries the expiry").isNotNull());
  }

  @Test
  void aHostRestartingWithTheSamePublicIpGetsItsLeaseBack() throws Exception {
    Store admin = configured();
    SubnetLease first = host().acquire(host("198.51.100.1", "0a:00:00:00:00:01"), Optional.empty());
    host().acquire(host("198.51.100.2", "0a:00:00:00:00:02"), Optional.empty());

    LeaseAttrs newMac = host("198.51.100.1", "0a:00:00:00:00:99");
    SubnetLease again = host().acquire(newMac, Optional.empty()); // another client, as after a restart
    assertThat(again.subnet()).isEqualTo(first.subnet());
    assertThat(again.attrs()).isEqualTo(newMac);
    assertThat(admin.list()).filteredOn(l -> l.attrs().publicIp().equals(ip("198.51.100.1")))
        .singleElement().satisfies(l -> {
          assertThat(l.subnet()).isEqualTo(first.subnet());
          assertThat(l.attrs()).isEqualTo(newMac);
        });
  }

  @Test
  void thePreviousSubnetIsTakenWhenFreeAndAnotherOneWhenNot() throws Exception {
    Store admin = configured();
    SubnetLease a = host().acquire(host("198.51.100.1", "0a:00:00:00:00:01"), Optional.of(net("10.5.7.0/24")));
    assertThat(a.subnet()).isEqualTo(net("10.5.7.0/24"));

    SubnetLease b = host().acquire(host("198.51.100.2", "0a:00:00:00:00:02"), Optional.of(net("10.5.7.0/24")));
    assertThat(b.subnet()).isNotEqualTo(net("10.5.7.0/24"));
    assertThat(admin.list()).hasSize(2);
  }

  // ---------------------------------------------------------------------------------------------
  // renew, release

  @Test
  void renewKeepsTheSubnetAndCanBeRepeated() throws Exception {
    Store admin = configured();
    Store s = host();
    LeaseAttrs attrs = host("198.51.100.1", "0a:00:00:00:00:01");
    SubnetLease l = s.acquire(attrs, Optional.empty());
    SubnetLease r1 = s.renew(l);
    SubnetLease r2 = s.renew(r1);
    SubnetLease r3 = s.renew(r2, Duration.ofSeconds(30));
    assertThat(List.of(r1, r2, r3)).allSatisfy(r -> {
      assertThat(r.subnet()).isEqualTo(l.subnet());
      assertThat(r.attrs()).isEqualTo(attrs);
      assertThat(r.reserved()).isFalse();
    });
    assertThat(admin.list()).singleElement().extracting(SubnetLease::subnet).isEqualTo(l.subnet());
  }

  @Test
  void renewingALeaseThatWasDeletedIsLost() throws Exception {
    Store admin = configured();
    Store s = host();
    SubnetLease l = s.acquire(host("198.51.100.1", "0a:00:00:00:00:01"), Optional.empty());
    assertThat(admin.releaseSubnet(l.subnet())).isTrue();
    assertThatThrownBy(() -> s.renew(l)).isInstanceOf(LeaseLostException.class);
    assertThat(admin.list()).isEmpty();
  }

  @Test
  void renewingOrReleasingALeaseAnotherHostTookIsLostAndLeavesTheirs() throws Exception {
    Store admin = configured();
    Store a = host();
    SubnetLease la = a.acquire(host("198.51.100.1", "0a:00:00:00:00:01"), Optional.empty());
    admin.releaseSubnet(la.subnet());
    LeaseAttrs battrs = host("198.51.100.2", "0a:00:00:00:00:02");
    SubnetLease lb = host().acquire(battrs, Optional.of(la.subnet()));
    assertThat(lb.subnet()).isEqualTo(la.subnet());

    assertThatThrownBy(() -> a.renew(la)).isInstanceOf(LeaseLostException.class);
    assertThatThrownBy(() -> a.release(la)).isInstanceOf(LeaseLostException.class);
    assertThat(admin.list()).singleElement().satisfies(l -> {
      assertThat(l.subnet()).isEqualTo(la.subnet());
      assertThat(l.attrs()).isEqualTo(battrs);
    });
  }

  @Test
  void releaseDeletesOurLeaseAndReleasingAgainIsFine() throws Exception {
    Store admin = configured();
    Store s = host();
    SubnetLease mine = s.acquire(host("198.51.100.1", "0a:00:00:00:00:01"), Optional.empty());
    SubnetLease other = host().acquire(host("198.51.100.2", "0a:00:00:00:00:02"), Optional.empty());
    s.release(mine);
    assertThat(admin.list()).extracting(SubnetLease::subnet).containsExactly(other.subnet());
    s.release(mine); // already gone: success
    assertThat(admin.list()).extracting(SubnetLease::subnet).containsExactly(other.subnet());
  }

  // ---------------------------------------------------------------------------------------------
  // reservations

  @Test
  void aReservationHasNoTtlAndIsTakenByItsHost() throws Exception {
    Store admin = configured();
    SubnetLease r = admin.reserve(net("10.5.9.0/24"), ip("198.51.100.3"));
    assertThat(r.reserved()).isTrue();
    assertThat(admin.list()).singleElement().satisfies(l -> {
      assertThat(l.subnet()).isEqualTo(net("10.5.9.0/24"));
      assertThat(l.reserved()).isTrue();
      assertThat(l.expiresAt()).isNull();
    });

    Store c = host();
    LeaseAttrs attrs = host("198.51.100.3", "0a:00:00:00:00:03");
    SubnetLease got = c.acquire(attrs, Optional.empty());
    assertThat(got.subnet()).isEqualTo(net("10.5.9.0/24"));
    assertThat(got.reserved()).isTrue();
    SubnetLease renewed = c.renew(got);
    assertThat(renewed.reserved()).isTrue();
    assertThat(renewed.expiresAt()).isNull();

    // another host never gets it
    SubnetLease d = host().acquire(host("198.51.100.4", "0a:00:00:00:00:04"), Optional.of(net("10.5.9.0/24")));
    assertThat(d.subnet()).isNotEqualTo(net("10.5.9.0/24"));
  }

  @Test
  void reserveRefusesAnotherHostsSubnetAndSubnetsOutsideTheConfig() throws Exception {
    Store admin = configured();
    SubnetLease a = host().acquire(host("198.51.100.1", "0a:00:00:00:00:01"), Optional.empty());
    assertThatThrownBy(() -> admin.reserve(a.subnet(), ip("198.51.100.9")))
        .isInstanceOf(LeaseStoreException.class).hasMessageContaining(a.subnet().toString());
    assertThatThrownBy(() -> admin.reserve(net("10.5.30.0/24"), ip("198.51.100.9")))
        .isInstanceOf(LeaseStoreException.class);
    assertThatThrownBy(() -> admin.reserve(net("10.5.2.0/25"), ip("198.51.100.9")))
        .isInstanceOf(LeaseStoreException.class);

    // the host's own lease becomes a reservation
    SubnetLease pinned = admin.reserve(a.subnet(), ip("198.51.100.1"));
    assertThat(pinned.reserved()).isTrue();
    assertThat(admin.list()).singleElement().satisfies(l -> {
      assertThat(l.reserved()).isTrue();
      assertThat(l.attrs()).isEqualTo(a.attrs());
    });
  }

  @Test
  void releaseSubnetDeletesLeasesAndReservationsAndSaysWhetherThereWasOne() throws Exception {
    Store admin = configured();
    SubnetLease a = host().acquire(host("198.51.100.1", "0a:00:00:00:00:01"), Optional.empty());
    admin.reserve(net("10.5.20.0/24"), ip("198.51.100.5"));
    assertThat(admin.releaseSubnet(a.subnet())).isTrue();
    assertThat(admin.releaseSubnet(net("10.5.20.0/24"))).isTrue();
    assertThat(admin.releaseSubnet(net("10.5.20.0/24"))).isFalse();
    assertThat(admin.list()).isEmpty();
  }

  // ---------------------------------------------------------------------------------------------
  // watch

  @Test
  void watchDeliversASnapshotThenAddedAndRemovedEvents() throws Exception {
    Store admin = configured();
    Store a = host();
    SubnetLease la = a.acquire(host("198.51.100.1", "0a:00:00:00:00:01"), Optional.empty());

    Recorder rec = new Recorder();
    opened.add(host().watch(rec));
    await().atMost(EVENTS).until(() -> rec.snapshots().size() == 1);
    assertThat(rec.snapshots().get(0)).extracting(SubnetLease::subnet).containsExactly(la.subnet());
    assertThat(rec.snapshots().get(0).get(0).attrs()).isEqualTo(la.attrs());

    LeaseAttrs battrs = host("198.51.100.2", "0a:00:00:00:00:02");
    SubnetLease lb = host().acquire(battrs, Optional.empty());
    await().atMost(EVENTS).until(() -> rec.events().size() >= 1);
    assertThat(rec.events().get(0)).isInstanceOf(LeaseEvent.Added.class);
    assertThat(rec.events().get(0).lease().subnet()).isEqualTo(lb.subnet());
    assertThat(rec.events().get(0).lease().attrs()).isEqualTo(battrs);

    SubnetLease renewed = a.renew(la); // a renewal is an Added of the same subnet
    await().atMost(EVENTS).until(() -> rec.events().size() >= 2);
    assertThat(rec.events().get(1)).isInstanceOf(LeaseEvent.Added.class);
    assertThat(rec.events().get(1).lease().subnet()).isEqualTo(renewed.subnet());

    admin.releaseSubnet(lb.subnet());
    await().atMost(EVENTS).until(() -> rec.events().size() >= 3);
    assertThat(rec.events().get(2)).isEqualTo(new LeaseEvent.Removed(rec.events().get(2).lease(),
        LeaseEvent.Cause.DELETED));
    assertThat(rec.events().get(2).lease().subnet()).isEqualTo(lb.subnet());
    assertThat(rec.events().get(2).lease().attrs()).isEqualTo(battrs);

    a.release(renewed);
    await().atMost(EVENTS).until(() -> rec.events().size() >= 4);
    assertThat(rec.events().get(3)).isInstanceOf(LeaseEvent.Removed.class);
    assertThat(((LeaseEvent.Removed) rec.events().get(3)).cause()).isEqualTo(LeaseEvent.Cause.DELETED);
    assertThat(rec.events().get(3).lease().subnet()).isEqualTo(la.subnet());
    assertThat(rec.snapshots()).hasSize(1);
  }

  @Test
  void aClosedWatchDeliversNothingMore() throws Exception {
    configured();
    Recorder rec = new Recorder();
    AutoCloseable w = host().watch(rec);
    await().atMost(EVENTS).until(() -> rec.snapshots().size() == 1);
    w.close();
    host().acquire(host("198.51.100.1", "0a:00:00:00:00:01"), Optional.empty());
    Thread.sleep(500);
    assertThat(rec.events()).isEmpty();
  }

  /** Records snapshots and events in the order delivered. */
  protected static final class Recorder implements LeaseListener {
    private final List<List<SubnetLease>> snapshots = new ArrayList<>();
    private final List<LeaseEvent> events = new ArrayList<>();

    @Override
    public synchronized void onSnapshot(List<SubnetLease> all) {
      snapshots.add(List.copyOf(all));
    }

    @Override
    public synchronized void onEvents(List<LeaseEvent> batch) {
      events.addAll(batch);
    }

    public synchronized List<List<SubnetLease>> snapshots() {
      return List.copyOf(snapshots);
    }

    public synchronized List<LeaseEvent> events() {
      return List.copyOf(events);
    }
  }
}
