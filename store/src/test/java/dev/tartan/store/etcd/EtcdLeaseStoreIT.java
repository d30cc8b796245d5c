package dev.tartan.store.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseLostException;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfigException;
import dev.tartan.store.NetworkConfigJson;
import dev.tartan.store.NetworkConfigMissingException;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.Subscription;
import dev.tartan.store.alloc.OutOfSubnetsException;
import dev.tartan.store.testing.EtcdClusterExtension;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The lease store against one real etcd member (Debian's etcd 3.4). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EtcdLeaseStoreIT {

  @RegisterExtension
  static final EtcdClusterExtension etcd = EtcdClusterExtension.builder().build();

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final AtomicInteger PREFIXES = new AtomicInteger();
  private static final String FLANNEL_VALUE_A = "{\"PublicIP\":\"198.51.100.1\",\"PublicIPv6\":null,"
      + "\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}";
  private static final String FLANNEL_VALUE_B = "{\"PublicIP\":\"198.51.100.2\",\"PublicIPv6\":null,"
      + "\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"ae:14:0c:5e:1a:02\"}}";

  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  private static String uniquePrefix(TestInfo info) {
    return "/it" + PREFIXES.incrementAndGet() + "-" + info.getTestMethod().orElseThrow().getName() + "/network";
  }

  private EtcdStore connect(String prefix, Duration ttl) throws LeaseStoreException {
    EtcdStore s = EtcdStore.connect(EtcdOptions.of(etcd.clientEndpoints()).withPrefix(prefix)
        .withLeaseTtl(ttl));
    toClose.add(s);
    return s;
  }

  private static Inet4Address ip(String s) {
    return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(s));
  }

  private static LeaseAttrs vxlan(String publicIp, String mac) {
    return LeaseAttrs.ipv4(ip(publicIp), "vxlan", "{\"VNI\":1,\"VtepMAC\":\"" + mac + "\"}");
  }

  private static void putConfig(String prefix, String json) {
    etcd.etcdctl("put", prefix + "/config", json);
  }

  private static JsonNode getJson(String key) throws IOException {
    return JSON.readTree(etcd.etcdctl("get", key, "-w", "json"));
  }

  /** The etcd lease id of {@code key} (0 = none), from etcdctl. */
  private static long etcdLeaseOf(String key) throws IOException {
    JsonNode kvs = getJson(key).path("kvs");
    assertThat(kvs.size()).as("key %s exists", key).isEqualTo(1);
    return kvs.get(0).path("lease").asLong(0);
  }

  private static String value(String key) {
    return etcd.etcdctl("get", key, "--print-value-only");
  }

  // ---------------------------------------------------------------------------------------------

  @Test
  void leaseWrittenByFlannelWithEtcdctlIsListedAndRespected(TestInfo info) throws Exception {
    String p = uniquePrefix(info);
    putConfig(p, "{\"Network\":\"10.3.0.0/16\",\"SubnetMin\":\"10.3.1.0\",\"SubnetMax\":\"10.3.3.0\","
        + "\"Backend\":{\"Type\":\"vxlan\"}}");
    etcd.etcdctl("put", p + "/subnets/10.3.1.0-24", FLANNEL_VALUE_A); // a reservation
    String grant = etcd.etcdctl("lease", "grant", "600"); // "lease 694d... granted with TTL(600s)"
    String leaseHex = grant.split(" ")[1];
    etcd.etcdctl("put", "--lease=" + leaseHex, p + "/subnets/10.3.2.0-24", FLANNEL_VALUE_B);

    EtcdStore store = connect(p, Duration.ofSeconds(30));
    List<SubnetLease> leases = store.list();
    assertThat(leases).extracting(l -> l.subnet().toString()).containsExactly("10.3.1.0/24", "10.3.2.0/24");
    SubnetLease a = leases.get(0);
    assertThat(a.attrs()).isEqualTo(vxlan("198.51.100.1", "c6:d2:32:6f:8f:44"));
    assertThat(a.reserved()).isTrue();
    assertThat(a.expiresAt()).isNull();
    SubnetLease b = leases.get(1);
    assertThat(b.attrs().publicIp()).isEqualTo(ip("198.51.100.2"));
    assertThat(b.reserved()).isFalse();
    assertThat(b.etcdLeaseId()).isEqualTo(Long.parseLong(leaseHex, 16));
    assertThat(b.expiresAt()).isBetween(Instant.now().plusSeconds(590), Instant.now().plusSeconds(601));

    // Only 10.3.3.0/24 is free: allocation must take it and nothing else.
    SubnetLease ours = store.acquire(vxlan("198.51.100.3", "0a:00:00:00:00:03"), Optional.empty());
    assertThat(ours.subnet().toString()).isEqualTo("10.3.3.0/24");
    assertThat(value(p + "/subnets/10.3.1.0-24")).isEqualTo(FLANNEL_VALUE_A + "\n");
    assertThat(value(p + "/subnets/10.3.2.0-24")).isEqualTo(FLANNEL_VALUE_B + "\n");

    assertThatThrownBy(() -> store.acquire(vxlan("198.51.100.4", "0a:00:00:00:00:04"), Optional.empty()))
        .isInstanceOf(OutOfSubnetsException.class)
        .hasMessageContaining("between 10.3.1.0 and 10.3.3.0 in network 10.3.0.0/16");

    // flannel's host A restarting as Tartan takes its reservation back, still without a TTL.
    SubnetLease again = store.acquire(vxlan("198.51.100.1", "c6:d2:32:6f:8f:44"), Optional.empty());
    assertThat(again.subnet().toString()).isEqualTo("10.3.1.0/24");
    assertThat(again.reserved()).isTrue();
    assertThat(etcdLeaseOf(p + "/subnets/10.3.1.0-24")).isZero();
  }

  @Test
  void leaseWrittenByTartanIsFlannelsExactFormWithA24HourEtcdLease() throws Exception {
    String p = EtcdOptions.DEFAULT_PREFIX;
    EtcdStore store = connect(p, EtcdOptions.DEFAULT_LEASE_TTL);
    store.putConfig(NetworkConfigJson.build(Ipv4Subnet.parse("10.44.0.0/16"), null, null, null, "vxlan", 1, null),
        true);

    SubnetLease l = store.acquire(vxlan("192.168.64.3", "c6:d2:32:6f:8f:44"), Optional.empty());
    String key = "/coreos.com/network/subnets/" + l.subnet().networkAddress().getHostAddress() + "-24";
    assertThat(value(key)).isEqualTo("{\"PublicIP\":\"192.168.64.3\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","
        + "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}\n");
    long leaseId = etcdLeaseOf(key);
    assertThat(leaseId).isEqualTo(l.etcdLeaseId()).isNotZero();
    assertThat(etcd.etcdctl("lease", "timetolive", Long.toHexString(leaseId)))
        .contains("granted with TTL(86400s)");
    assertThat(l.expiresAt()).isBetween(Instant.now().plusSeconds(86390), Instant.now().plusSeconds(86401));

    // A lease with only a public IP (docs/flannel-compat.md §7.4).
    store.release(l);
    SubnetLease bare = store.acquire(LeaseAttrs.ipv4(ip("1.2.3.4"), null, null), Optional.empty());
    assertThat(value("/coreos.com/network/subnets/" + bare.subnet().networkAddress().getHostAddress() + "-24"))
        .isEqualTo("{\"PublicIP\":\"1.2.3.4\",\"PublicIPv6\":null}\n");
    store.release(bare);
    etcd.etcdctl("del", "/coreos.com/network/config");
  }

  @Test
  void shortTtlIsWhatEtcdGrants(TestInfo info) throws Exception {
    String p = uniquePrefix(info);
    putConfig(p, "{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    EtcdStore store = connect(p, Duration.ofSeconds(3));
    SubnetLease l = store.acquire(vxlan("198.51.100.5", "0a:00:00:00:00:05"), Optional.empty());
    assertThat(etcd.etcdctl("lease", "timetolive", Long.toHexString(l.etcdLeaseId())))
        .contains("granted with TTL(3s)");
  }

  @Test
  void acquireReusesByPublicIpAndTakesThePreviousSubnet(TestInfo info) throws Exception {
    String p = uniquePrefix(info);
    putConfig(p, "{\"Network\":\"10.6.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    EtcdStore store = connect(p, Duration.ofSeconds(30));
    SubnetLease prev = store.acquire(vxlan("198.51.100.6", "0a:00:00:00:00:06"),
        Optional.of(Ipv4Subnet.parse("10.6.77.0/24")));
    assertThat(prev.subnet().toString()).isEqualTo("10.6.77.0/24");

    // Restart with a new VTEP MAC: same subnet, the value now carries the new MAC, a new etcd lease.
    SubnetLease reused = store.acquire(vxlan("198.51.100.6", "0a:00:00:00:00:66"), Optional.empty());
    assertThat(reused.subnet()).isEqualTo(prev.subnet());
    assertThat(reused.etcdLeaseId()).isNotEqualTo(prev.etcdLeaseId());
    assertThat(value(p + "/subnets/10.6.77.0-24")).contains("0a:00:00:00:00:66");
    assertThat(etcd.etcdctl("lease", "timetolive", Long.toHexString(prev.etcdLeaseId())))
        .contains("already expired"); // revoked: it holds no key any more
  }

  @Test
  void renewKeepsTheSubnetWithAFreshEtcdLease(TestInfo info) throws Exception {
    String p = uniquePrefix(info);
    putConfig(p, "{\"Network\":\"10.7.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    EtcdStore store = connect(p, Duration.ofSeconds(20));
    SubnetLease l = store.acquire(vxlan("198.51.100.7", "0a:00:00:00:00:07"), Optional.empty());
    Thread.sleep(1100);
    SubnetLease r = store.renew(l);
    assertThat(r.subnet()).isEqualTo(l.subnet());
    assertThat(r.attrs()).isEqualTo(l.attrs());
    assertThat(r.etcdLeaseId()).isNotEqualTo(l.etcdLeaseId());
    assertThat(r.modRevision()).isGreaterThan(l.modRevision());
    assertThat(r.expiresAt()).isAfter(l.expiresAt());
    String key = p + "/subnets/" + l.subnet().networkAddress().getHostAddress() + "-24";
    assertThat(etcdLeaseOf(key)).isEqualTo(r.etcdLeaseId());
    assertThat(store.renew(r).subnet()).isEqualTo(l.subnet()); // and again, from the returned copy
  }

  @Test
  void renewAfterAnotherHostTookTheKeyIsLeaseLost(TestInfo info) throws Exception {
    String p = uniquePrefix(info);
    putConfig(p, "{\"Network\":\"10.8.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    EtcdStore store = connect(p, Duration.ofSeconds(30));
    SubnetLease l = store.acquire(vxlan("198.51.100.1", "c6:d2:32:6f:8f:44"), Optional.empty());
    String key = p + "/subnets/" + l.subnet().networkAddress().getHostAddress() + "-24";
    etcd.etcdctl("put", key, FLANNEL_VALUE_B); // flannel's blind reuse-put by another host (flannel #1289)

    assertThatThrownBy(() -> store.renew(l)).isInstanceOf(LeaseLostException.class)
        .hasMessageContaining("now belongs to host 198.51.100.2");
    assertThatThrownBy(() -> store.release(l)).isInstanceOf(LeaseLostException.class);
    assertThat(value(key)).isEqualTo(FLANNEL_VALUE_B + "\n");

    etcd.etcdctl("del", key);
    assertThatThrownBy(() -> store.renew(l)).isInstanceOf(LeaseLostException.class).hasMessageContaining("is gone");
    assertThat(etcd.etcdctl("get", key)).isEmpty(); // renew did not re-create it
  }

  @Test
  void renewAfterOurOwnRewriteStillWorks(TestInfo info) throws Exception {
    String p = uniquePrefix(info);
    putConfig(p, "{\"Network\":\"10.9.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    EtcdStore store = connect(p, Duration.ofSeconds(30));
    SubnetLease l = store.acquire(vxlan("198.51.100.1", "c6:d2:32:6f:8f:44"), Optional.empty());
    String key = p + "/subnets/" + l.subnet().networkAddress().getHostAddress() + "-24";
    etcd.etcdctl("put", key, FLANNEL_VALUE_A); // same PublicIP, new revision, no lease
    SubnetLease r = store.renew(l);
    assertThat(r.subnet()).isEqualTo(l.subnet());
    assertThat(r.reserved()).isTrue(); // the stored key had no etcd lease: it stays a reservation
    assertThat(etcdLeaseOf(key)).isZero();
  }

  @Test
  void reservationStaysWithoutEtcdLease(TestInfo info) throws Exception {
    String p = uniquePrefix(info);
    putConfig(p, "{\"Network\":\"10.10.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    EtcdStore store = connect(p, Duration.ofSeconds(30));
    SubnetLease res = store.reserve(Ipv4Subnet.parse("10.10.42.0/24"), ip("198.51.100.42"));
    String key = p + "/subnets/10.10.42.0-24";
    assertThat(value(key)).isEqualTo("{\"PublicIP\":\"198.51.100.42\",\"PublicIPv6\":null}\n");
    assertThat(res.reserved()).isTrue();
    assertThat(etcdLeaseOf(key)).isZero();

    SubnetLease owner = store.acquire(vxlan("198.51.100.42", "0a:00:00:00:00:42"), Optional.empty());
    assertThat(owner.subnet().toString()).isEqualTo("10.10.42.0/24");
    assertThat(owner.reserved()).isTrue();
    assertThat(owner.expiresAt()).isNull();
    assertThat(etcdLeaseOf(key)).isZero();
    assertThat(value(key)).contains("0a:00:00:00:00:42");
    SubnetLease renewed = store.renew(owner);
    assertThat(renewed.reserved()).isTrue();
    assertThat(etcdLeaseOf(key)).isZero();

    // Another host cannot take it, nor reserve over it.
    SubnetLease other = store.acquire(vxlan("198.51.100.43", "0a:00:00:00:00:43"),
        Optional.of(Ipv4Subnet.parse("10.10.42.0/24")));
    assertThat(other.subnet().toString()).isNotEqualTo("10.10.42.0/24");
    assertThatThrownBy(() -> store.reserve(Ipv4Subnet.parse("10.10.42.0/24"), ip("198.51.100.43")))
        .hasMessageContaining("overlaps the lease 10.10.42.0/24 of host 198.51.100.42");
    assertThatThrownBy(() -> store.reserve(Ipv4Subnet.parse("10.11.0.0/24"), ip("198.51.100.43")))
        .hasMessageContaining("the network config only leases /24 subnets between 10.10.1.0 and 10.10.255.0");

    // Reserving a running host's lease pins it: the key loses its etcd lease.
    SubnetLease pinned = store.reserve(other.subnet(), ip("198.51.100.43"));
    assertThat(pinned.reserved()).isTrue();
    assertThat(etcdLeaseOf(p + "/subnets/" + other.subnet().networkAddress().getHostAddress() + "-24")).isZero();
    assertThat(value(p + "/subnets/" + other.subnet().networkAddress().getHostAddress() + "-24"))
        .contains("0a:00:00:00:00:43");
  }

  @Test
  void releaseDeletesOnlyOurOwnLease(TestInfo info) throws Exception {
    String p = uniquePrefix(info);
    putConfig(p, "{\"Network\":\"10.12.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    EtcdStore store = connect(p, Duration.ofSeconds(30));
    SubnetLease l = store.acquire(vxlan("198.51.100.12", "0a:00:00:00:00:12"), Optional.empty());
    store.release(l);
    assertThat(store.list()).isEmpty();
    store.release(l); // already gone = success
    // the key is deleted, its etcd lease left to run out (a watch reads the removal as DELETED, not EXPIRED)
    assertThat(etcd.etcdctl("lease", "timetolive", "--keys", Long.toHexString(l.etcdLeaseId())))
        .doesNotContain("already expired").contains("attached keys([])");

    SubnetLease m = store.acquire(vxlan("198.51.100.12", "0a:00:00:00:00:12"), Optional.empty());
    assertThat(store.releaseSubnet(m.subnet())).isTrue();
    assertThat(store.releaseSubnet(m.subnet())).isFalse();
    assertThat(store.list()).isEmpty();
  }

  @Test
  void configChangeDeletesTheOldLeaseAndTakesOneInTheNewNetwork(TestInfo info) throws Exception {
    String p = uniquePrefix(info);
    putConfig(p, "{\"Network\":\"10.3.0.0/16\",\"SubnetMin\":\"10.3.1.0\",\"SubnetMax\":\"10.3.25.0\","
        + "\"Backend\":{\"Type\":\"vxlan\"}}");
    for (String s : new String[] {"10.3.1.0-24", "10.3.2.0-24", "10.3.4.0-24", "10.3.5.0-24", "10.3.31.0-24"}) {
      etcd.etcdctl("put", p + "/subnets/" + s, "{\"PublicIP\":\"1.1.1.1\",\"PublicIPv6\":null}");
    }
    EtcdStore store = connect(p, Duration.ofSeconds(30));
    SubnetLease first = store.acquire(LeaseAttrs.ipv4(ip("1.2.3.4"), null, null), Optional.empty());
    assertThat(Ipv4Subnet.parse("10.3.0.0/16").contains(first.subnet())).isTrue();
    assertThat(first.subnet().toString()).isNotIn("10.3.1.0/24", "10.3.2.0/24", "10.3.4.0/24", "10.3.5.0/24");
    assertThat(store.acquire(LeaseAttrs.ipv4(ip("1.2.3.4"), null, null), Optional.empty()).subnet())
        .isEqualTo(first.subnet());

    store.putConfig("{\"Network\":\"10.4.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}", true);
    SubnetLease moved = store.acquire(LeaseAttrs.ipv4(ip("1.2.3.4"), null, null), Optional.of(first.subnet()));
    assertThat(Ipv4Subnet.parse("10.4.0.0/16").contains(moved.subnet())).isTrue();
    assertThat(etcd.etcdctl("get", p + "/subnets/" + first.subnet().networkAddress().getHostAddress() + "-24"))
        .isEmpty();
    assertThat(store.list()).extracting(l -> l.attrs().publicIp().getHostAddress())
        .containsOnlyOnce("1.2.3.4");
  }

  @Test
  void putConfigRefusesToReplaceADifferentConfigWithoutForce(TestInfo info) throws Exception {
    String p = uniquePrefix(info);
    EtcdStore store = connect(p, Duration.ofSeconds(30));
    assertThatThrownBy(store::networkConfig).isInstanceOf(NetworkConfigMissingException.class)
        .hasMessageStartingWith("flannel config not found in etcd store. Did you create your config using etcdv3 API?");
    assertThat(store.rawConfig()).isEmpty();

    String cfg = "{\"Network\":\"10.13.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}";
    store.putConfig(cfg, false);
    assertThat(store.rawConfig()).contains(cfg);
    assertThat(store.networkConfig().network().toString()).isEqualTo("10.13.0.0/16");
    long rev = getJson(p + "/config").path("kvs").get(0).path("mod_revision").asLong();

    store.putConfig("{ \"Network\": \"10.13.0.0/16\",\n \"Backend\": {\"Type\": \"vxlan\"} }", false); // same JSON
    assertThat(getJson(p + "/config").path("kvs").get(0).path("mod_revision").asLong()).isEqualTo(rev);

    String other = "{\"Network\":\"10.14.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}";
    assertThatThrownBy(() -> store.putConfig(other, false)).isInstanceOf(LeaseStoreException.class)
        .hasMessage("a different network config already exists at " + p + "/config; use --force to replace it");
    store.putConfig(other, true);
    assertThat(store.rawConfig()).contains(other);

    assertThatThrownBy(() -> store.putConfig("{\"Network\":\"10.14.0.0/29\",\"Backend\":{\"Type\":\"vxlan\"}}", true))
        .isInstanceOf(NetworkConfigException.class)
        .hasMessage("network is too small. Minimum useful network prefix is /28");
    assertThat(store.rawConfig()).contains(other);
  }

  @Test
  void garbageUnderSubnetsChangesNothingForListeners(TestInfo info) throws Exception {
    String p = uniquePrefix(info);
    putConfig(p, "{\"Network\":\"10.15.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    etcd.etcdctl("put", p + "/subnets/10.15.1.0-24", FLANNEL_VALUE_A);
    EtcdStore store = connect(p, Duration.ofSeconds(30));
    RecordingListener rec = new RecordingListener();
    Subscription sub = store.watch(rec);
    toClose.add(sub);
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.snapshotCount() == 1);
    assertThat(rec.view()).containsOnlyKeys(Ipv4Subnet.parse("10.15.1.0/24"));

    etcd.etcdctl("put", p + "/subnets/garbage", "x");
    etcd.etcdctl("put", p + "/subnets/10.15.2.0-24", "not json");
    etcd.etcdctl("put", p + "/subnets/10.15.1.0-24", "{\"PublicIP\":\"nope\"}"); // a known lease turns bad
    etcd.etcdctl("put", p + "/subnets/deeper/10.15.3.0-24", FLANNEL_VALUE_B);
    etcd.etcdctl("del", p + "/subnets/garbage");
    etcd.etcdctl("put", p + "/subnets/10.15.9.0-24", FLANNEL_VALUE_B); // a sentinel after the garbage

    await().atMost(Duration.ofSeconds(10)).until(() -> !rec.events().isEmpty());
    Thread.sleep(200);
    assertThat(rec.calls()).containsExactly("snapshot(1)", "added 10.15.9.0/24");
    assertThat(rec.view()).containsOnlyKeys(Ipv4Subnet.parse("10.15.1.0/24"), Ipv4Subnet.parse("10.15.9.0/24"));
    assertThat(rec.view().get(Ipv4Subnet.parse("10.15.1.0/24")).attrs().publicIp()).isEqualTo(ip("198.51.100.1"));
    assertThat(store.badKeysSkipped()).isGreaterThanOrEqualTo(5);
    assertThat(store.list()).extracting(l -> l.subnet().toString()).containsExactly("10.15.9.0/24");
    assertThat(store.watchReconnects()).isZero();
  }

  @Test
  void watchDeliversSnapshotThenEventsOnOneThread(TestInfo info) throws Exception {
    String p = uniquePrefix(info);
    putConfig(p, "{\"Network\":\"10.16.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    EtcdStore store = connect(p, Duration.ofSeconds(30));
    SubnetLease a = store.acquire(vxlan("198.51.100.1", "0a:00:00:00:00:01"), Optional.empty());
    RecordingListener rec = new RecordingListener();
    toClose.add(store.watch(rec));
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.snapshotCount() == 1);

    SubnetLease b = store.acquire(vxlan("198.51.100.2", "0a:00:00:00:00:02"), Optional.empty());
    SubnetLease a2 = store.acquire(vxlan("198.51.100.1", "0a:00:00:00:00:11"), Optional.empty()); // new MAC
    store.release(b);
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.events().size() == 3);

    List<LeaseEvent> ev = rec.events();
    assertThat(ev.get(0)).isInstanceOf(LeaseEvent.Added.class);
    assertThat(ev.get(0).lease().subnet()).isEqualTo(b.subnet());
    assertThat(ev.get(0).lease().etcdLeaseId()).isNotZero(); // watch results skip the TTL lookup
    assertThat(ev.get(0).lease().expiresAt()).isNull();
    assertThat(ev.get(1)).isInstanceOf(LeaseEvent.Added.class);
    assertThat(ev.get(1).lease().attrs()).isEqualTo(a2.attrs());
    assertThat(ev.get(2)).isInstanceOf(LeaseEvent.Removed.class);
    assertThat(ev.get(2).lease().attrs()).isEqualTo(b.attrs()); // the stored copy
    assertThat(rec.view()).containsOnlyKeys(a.subnet());
    assertThat(rec.threads()).containsOnly(rec.threads().get(0)).allMatch(t -> t.startsWith("tartan-lease-watch"));
  }

  @Test
  void expiredLeaseShowsUpAsRemovedEvent(TestInfo info) throws Exception {
    String p = uniquePrefix(info);
    putConfig(p, "{\"Network\":\"10.17.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    EtcdStore watcher = connect(p, Duration.ofSeconds(30));
    RecordingListener rec = new RecordingListener();
    toClose.add(watcher.watch(rec));
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.snapshotCount() == 1);

    EtcdStore shortLived = connect(p, Duration.ofSeconds(2));
    SubnetLease l = shortLived.acquire(vxlan("198.51.100.17", "0a:00:00:00:00:17"), Optional.empty());
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.events().size() == 1);
    await().atMost(Duration.ofSeconds(15)).until(() -> rec.events().size() == 2);
    LeaseEvent removed = rec.events().get(1);
    assertThat(removed).isInstanceOf(LeaseEvent.Removed.class);
    assertThat(removed.lease().subnet()).isEqualTo(l.subnet());
    assertThat(removed.lease().attrs()).isEqualTo(l.attrs());
    assertThatThrownBy(() -> shortLived.renew(l)).isInstanceOf(LeaseLostException.class);
  }

  @Test
  void unreachableEtcdNamesTheEndpointsTried() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    URI dead = URI.create("http://127.0.0.1:" + port);
    assertThatThrownBy(() -> EtcdStore.connect(EtcdOptions.of(List.of(dead))))
        .isInstanceOf(LeaseStoreException.class)
        .hasMessageStartingWith("cannot reach etcd at " + dead);
  }
}
