package dev.tartan.store.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.LeaseLostException;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.NetworkConfigException;
import dev.tartan.store.NetworkConfigMissingException;
import dev.tartan.store.Store;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.alloc.OutOfSubnetsException;
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

  // ---------------------------------------------------------------------------------------------
  // dual stack (EnableIPv6): keys 10.5.N.0-24&fd00:5:0:M::-64

  /** CONFIG with IPv6: three IPv6 subnets fd00:5:0:1::/64 .. fd00:5:0:3::/64. */
  protected static final String DUAL_CONFIG = "{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":\"10.5.1.0\","
      + "\"SubnetMax\":\"10.5.20.0\",\"EnableIPv6\":true,\"IPv6Network\":\"fd00:5::/48\","
      + "\"IPv6SubnetMin\":\"fd00:5:0:1::\",\"IPv6SubnetMax\":\"fd00:5:0:3::\",\"Backend\":{\"Type\":\"vxlan\"}}";
  private static final String OTHER_V6_CONFIG = DUAL_CONFIG.replace("fd00:5:", "fd00:6:");

  private Store dualConfigured() throws Exception {
    Store s = host();
    s.putConfig(DUAL_CONFIG, false);
    return s;
  }

  /** A dual-stack vxlan host as flannel publishes it (§1.4): PublicIPv6 and BackendV6Data. */
  protected static LeaseAttrs dualHost(String publicIp, String publicIpv6, String mac, String mac6) {
    return new LeaseAttrs(ip(publicIp), dev.tartan.net.Ipv6Text.parse(publicIpv6), "vxlan",
        "{\"VNI\":1,\"VtepMAC\":\"" + mac + "\"}", "{\"VNI\":1,\"VtepMAC\":\"" + mac6 + "\"}");
  }

  private static Ipv6Subnet net6(String cidr) {
    return Ipv6Subnet.parse(cidr);
  }

  @Test
  void dualStackHostsGetDistinctIpv4AndIpv6SubnetsUnderOneKeyEach() throws Exception {
    Store admin = dualConfigured();
    Recorder rec = new Recorder();
    opened.add(host().watch(rec));
    LeaseAttrs a = dualHost("198.51.100.1", "2001:db8::1", "0a:00:00:00:00:01", "0a:00:00:00:06:01");
    LeaseAttrs b = dualHost("198.51.100.2", "2001:db8::2", "0a:00:00:00:00:02", "0a:00:00:00:06:02");
    SubnetLease la = host().acquire(a, Optional.empty(), Optional.empty());
    SubnetLease lb = host().acquire(b, Optional.empty(), Optional.empty());

    NetworkConfig cfg = admin.networkConfig();
    assertThat(List.of(la, lb)).allSatisfy(l -> {
      assertThat(cfg.accepts(l.subnet())).isTrue();
      assertThat(cfg.acceptsV6(l.ipv6Subnet())).as("IPv6 part %s", l.ipv6Subnet()).isTrue();
    });
    assertThat(la.subnet()).isNotEqualTo(lb.subnet());
    assertThat(la.ipv6Subnet()).isNotEqualTo(lb.ipv6Subnet());
    assertThat(admin.list()).extracting(SubnetLease::subnet, SubnetLease::ipv6Subnet, SubnetLease::attrs)
        .containsExactlyInAnyOrder(tuple(la.subnet(), la.ipv6Subnet(), a), tuple(lb.subnet(), lb.ipv6Subnet(), b));

    await().atMost(EVENTS).until(() -> rec.events().size() >= 2);
    assertThat(rec.events()).extracting(e -> e.lease().ipv6Subnet())
        .containsExactly(la.ipv6Subnet(), lb.ipv6Subnet());
    assertThat(rec.events()).extracting(e -> e.lease().attrs()).containsExactly(a, b);
  }

  @Test
  void thePreviousIpv6SubnetIsTakenWhenFreeIndependentlyOfIpv4() throws Exception {
    Store admin = dualConfigured();
    SubnetLease a = host().acquire(dualHost("198.51.100.1", "2001:db8::1", "0a:00:00:00:00:01",
        "0a:00:00:00:06:01"), Optional.of(net("10.5.7.0/24")), Optional.of(net6("fd00:5:0:2::/64")));
    assertThat(a.subnet()).isEqualTo(net("10.5.7.0/24"));
    assertThat(a.ipv6Subnet()).isEqualTo(net6("fd00:5:0:2::/64"));

    // IPv4 previous free, IPv6 previous taken: IPv4 kept, IPv6 picked among the free ones
    SubnetLease b = host().acquire(dualHost("198.51.100.2", "2001:db8::2", "0a:00:00:00:00:02",
        "0a:00:00:00:06:02"), Optional.of(net("10.5.8.0/24")), Optional.of(net6("fd00:5:0:2::/64")));
    assertThat(b.subnet()).isEqualTo(net("10.5.8.0/24"));
    assertThat(b.ipv6Subnet()).isIn(net6("fd00:5:0:1::/64"), net6("fd00:5:0:3::/64"));

    // an IPv6 previous outside the IPv6 range is ignored
    SubnetLease c = host().acquire(dualHost("198.51.100.3", "2001:db8::3", "0a:00:00:00:00:03",
        "0a:00:00:00:06:03"), Optional.empty(), Optional.of(net6("fd00:5:0:9::/64")));
    assertThat(admin.networkConfig().acceptsV6(c.ipv6Subnet())).isTrue();
    assertThat(admin.list()).extracting(SubnetLease::ipv6Subnet).doesNotHaveDuplicates().hasSize(3);
  }

  @Test
  void renewKeepsTheDualStackKey() throws Exception {
    Store admin = dualConfigured();
    Store s = host();
    LeaseAttrs attrs = dualHost("198.51.100.1", "2001:db8::1", "0a:00:00:00:00:01", "0a:00:00:00:06:01");
    SubnetLease l = s.acquire(attrs, Optional.empty(), Optional.empty());
    SubnetLease r = s.renew(s.renew(l), Duration.ofSeconds(30));
    assertThat(r.subnet()).isEqualTo(l.subnet());
    assertThat(r.ipv6Subnet()).isEqualTo(l.ipv6Subnet());
    assertThat(admin.list()).singleElement().satisfies(x -> {
      assertThat(x.ipv6Subnet()).isEqualTo(l.ipv6Subnet());
      assertThat(x.attrs()).isEqualTo(attrs);
    });
    SubnetLease again = host().acquire(attrs, Optional.empty(), Optional.empty()); // a restart reuses it
    assertThat(again.ipv6Subnet()).isEqualTo(l.ipv6Subnet());
    assertThat(admin.list()).hasSize(1);
  }

  @Test
  void turningIpv6OnReplacesOurIpv4OnlyLeaseWithADualStackKeyThatKeepsTheIpv4Subnet() throws Exception {
    Store admin = configured();
    Store s = host();
    SubnetLease v4 = s.acquire(host("198.51.100.1", "0a:00:00:00:00:01"), Optional.empty());
    assertThat(v4.ipv6Subnet()).isNull();

    admin.putConfig(DUAL_CONFIG, true);
    LeaseAttrs dual = dualHost("198.51.100.1", "2001:db8::1", "0a:00:00:00:00:01", "0a:00:00:00:06:01");
    SubnetLease l = host().acquire(dual, Optional.of(v4.subnet()), Optional.empty());
    assertThat(l.subnet()).isEqualTo(v4.subnet());
    assertThat(admin.networkConfig().acceptsV6(l.ipv6Subnet())).isTrue();
    assertThat(admin.list()).singleElement().satisfies(x -> {
      assertThat(x.subnet()).isEqualTo(v4.subnet());
      assertThat(x.ipv6Subnet()).isEqualTo(l.ipv6Subnet());
    });
    assertThatThrownBy(() -> s.renew(v4)).isInstanceOf(LeaseLostException.class); // the old key is gone
  }

  @Test
  void anIpv6PartOutsideTheIpv6RangeIsReplacedAndTurningIpv6OffDropsIt() throws Exception {
    Store admin = dualConfigured();
    LeaseAttrs dual = dualHost("198.51.100.1", "2001:db8::1", "0a:00:00:00:00:01", "0a:00:00:00:06:01");
    SubnetLease first = host().acquire(dual, Optional.empty(), Optional.empty());

    admin.putConfig(OTHER_V6_CONFIG, true); // IPv6Network fd00:6::/48
    SubnetLease moved = host().acquire(dual, Optional.of(first.subnet()), Optional.of(first.ipv6Subnet()));
    assertThat(moved.subnet()).isEqualTo(first.subnet());
    assertThat(moved.ipv6Subnet()).isNotNull();
    assertThat(net6("fd00:6::/48").contains(moved.ipv6Subnet())).isTrue();
    assertThat(admin.list()).singleElement().extracting(SubnetLease::ipv6Subnet).isEqualTo(moved.ipv6Subnet());

    admin.putConfig(CONFIG, true); // IPv6 off: a key with an IPv6 part is not reused
    SubnetLease v4 = host().acquire(host("198.51.100.1", "0a:00:00:00:00:01"), Optional.empty(),
        Optional.of(moved.ipv6Subnet()));
    assertThat(v4.subnet()).isEqualTo(first.subnet());
    assertThat(v4.ipv6Subnet()).isNull();
    assertThat(admin.list()).singleElement().extracting(SubnetLease::ipv6Subnet).isNull();
  }

  @Test
  void noFreeIpv6SubnetIsOneClearErrorAndWritesNothing() throws Exception {
    Store admin = dualConfigured();
    for (int i = 1; i <= 3; i++) {
      host().acquire(dualHost("198.51.100." + i, "2001:db8::" + i, "0a:00:00:00:00:0" + i, "0a:00:00:00:06:0" + i),
          Optional.empty(), Optional.empty());
    }
    assertThatThrownBy(() -> host().acquire(dualHost("198.51.100.4", "2001:db8::4", "0a:00:00:00:00:04",
        "0a:00:00:00:06:04"), Optional.empty(), Optional.empty()))
        .isInstanceOf(OutOfSubnetsException.class)
        .hasMessageStartingWith("out of IPv6 subnets: every /64 between fd00:5:0:1:: and fd00:5:0:3:: in "
            + "IPv6Network fd00:5::/48 is leased (3 leases)")
        .hasMessageNotContaining("\n");
    assertThat(admin.list()).hasSize(3);
  }

  @Test
  void ourReservationStaysAReservationWhenItGainsItsIpv6Part() throws Exception {
    Store admin = configured();
    admin.reserve(net("10.5.9.0/24"), ip("198.51.100.3"));
    admin.putConfig(DUAL_CONFIG, true);
    SubnetLease got = host().acquire(dualHost("198.51.100.3", "2001:db8::3", "0a:00:00:00:00:03",
        "0a:00:00:00:06:03"), Optional.empty(), Optional.empty());
    assertThat(got.subnet()).isEqualTo(net("10.5.9.0/24"));
    assertThat(got.ipv6Subnet()).isNotNull();
    assertThat(got.reserved()).isTrue();
    assertThat(admin.list()).singleElement().satisfies(l -> {
      assertThat(l.reserved()).isTrue();
      assertThat(l.ipv6Subnet()).isEqualTo(got.ipv6Subnet());
    });
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
