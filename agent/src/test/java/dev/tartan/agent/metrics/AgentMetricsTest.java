package dev.tartan.agent.metrics;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.agent.backend.vxlan.VxlanBackendConfig;
import dev.tartan.agent.backend.vxlan.VxlanDevice;
import dev.tartan.agent.backend.vxlan.VxlanPeers;
import dev.tartan.agent.health.HealthServer;
import dev.tartan.agent.netlink.Errno;
import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.FakeRtNetlink;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.agent.routing.DesiredState;
import dev.tartan.agent.routing.DriftWatcher;
import dev.tartan.agent.routing.ReconcileLoop;
import dev.tartan.agent.routing.Reconciler;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.SubnetLease;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AgentMetricsTest {
  static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");
  static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  /** {@code name{labels} value}, as the 0.0.4 text format writes a sample. */
  static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})? (\\S+)");

  final AgentMetrics metrics = new AgentMetrics(CLOCK);
  HealthServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  static SubnetLease lease(String cidr, String publicIp, Instant expiresAt) {
    return new SubnetLease(net(cidr), null, LeaseAttrs.ipv4(ip(publicIp), "vxlan", "{}"), expiresAt,
        expiresAt == null ? 0 : 7, 1);
  }

  /** Scrapes /metrics over HTTP as Prometheus would; returns the samples by "name{labels}". */
  Map<String, Double> scrapeOverHttp() throws Exception {
    if (server == null) {
      server = new HealthServer(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
          HealthServer.Check::passing, HealthServer.Check::passing);
      server.endpoint(AgentMetrics.PATH, metrics.endpoint());
      server.start();
    }
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + server.boundPort() + "/metrics"))
        .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type")).contains("text/plain; version=0.0.4; charset=utf-8");
    return parse(r.body());
  }

  static Map<String, Double> parse(String text) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      Matcher m = SAMPLE.matcher(line);
      assertThat(m.matches()).as("a sample line: %s", line).isTrue();
      // the 0.0.4 writer ends a label set with a comma ({kind="route",}); the key drops it
      String key = m.group(1) + (m.group(2) == null ? "" : m.group(2).replace(",}", "}"));
      assertThat(out).as("duplicate series %s", key).doesNotContainKey(key);
      out.put(key, Double.parseDouble(m.group(3).replace("+Inf", "Infinity")));
    }
    return out;
  }

  @Test
  void everyAgentMetricIsServedAtSlashMetricsWithItsValue() throws Exception {
    // a real Reconciler pass on the in-memory kernel, through the error-counting wrapper
    FakeRtNetlink fake = new FakeRtNetlink();
    Link eth0 = fake.addLink("eth0", ip("198.51.100.1"));
    Link dev = fake.createVxlan(VxlanDevice.spec(VxlanBackendConfig.defaults(), ip("198.51.100.1"),
        eth0.index(), 1500));
    fake.setUp(dev.index(), true);
    RtNetlink nl = metrics.countErrors(fake);
    Reconciler reconciler = new Reconciler(nl);
    DesiredState want = VxlanPeers.desired(net("10.244.1.0/24"), dev.index(), List.of(
        vxlan("10.244.2.0/24", "198.51.100.2", "0e:00:00:00:00:02"),
        vxlan("10.244.3.0/24", "198.51.100.3", "0e:00:00:00:00:03")));
    fake.failNext("replaceRoute", Errno.ENETUNREACH); // one of the two routes is refused
    ReconcileLoop.Pass pass = metrics.timed(() -> reconciler.reconcile(want));
    assertThat(pass.run().routes().failed()).isEqualTo(1);
    ReconcileLoop.Pass failing = metrics.timed(() -> {
      throw new NetlinkException("ip link show flannel.1", Errno.EIO, "EIO", null);
    });
    assertThatThrownBy(failing::run).isInstanceOf(NetlinkException.class);
    fake.failNext("setMtu", Errno.EPERM);
    assertThatThrownBy(() -> nl.setMtu(dev.index(), 1400)).isInstanceOf(NetlinkException.class);
    // deleting what is gone is success: not an error
    assertThatThrownBy(() -> nl.deleteRoute(Route.overlay(net("10.244.9.0/24"), ip("10.244.9.0"), dev.index())))
        .isInstanceOf(NetlinkException.class);

    metrics.lease(() -> lease("10.244.1.0/24", "198.51.100.1", NOW.plusSeconds(90)), () -> true);
    metrics.leaseRenewed();
    metrics.leaseRenewed();
    metrics.leaseRenewFailed();
    metrics.leaseReacquired();
    metrics.peers(() -> 2);
    metrics.ipv6Peers(() -> 1);
    metrics.etcd(() -> 3, () -> 1, () -> 4);
    Map<DriftWatcher.Kind, Long> drift = new EnumMap<>(DriftWatcher.Kind.class);
    drift.put(DriftWatcher.Kind.ROUTE, 2L);
    drift.put(DriftWatcher.Kind.FDB, 1L);
    metrics.drift(() -> drift);
    metrics.attach(() -> 5, () -> 7);

    Map<String, Double> s = scrapeOverHttp();

    assertThat(s).containsEntry("tartan_lease_info{subnet=\"10.244.1.0/24\",public_ip=\"198.51.100.1\"}", 1.0)
        .containsEntry("tartan_lease_held", 1.0)
        .containsEntry("tartan_lease_ttl_seconds", 90.0)
        .containsEntry("tartan_lease_renewals_total", 2.0)
        .containsEntry("tartan_lease_renewal_failures_total", 1.0)
        .containsEntry("tartan_lease_reacquisitions_total", 1.0)
        .containsEntry("tartan_peers_known", 2.0)
        .containsEntry("tartan_peers_ipv6_programmed", 1.0)
        .containsEntry("tartan_kernel_entries_expected{kind=\"route\"}", 2.0)
        .containsEntry("tartan_kernel_entries_present{kind=\"route\"}", 1.0)
        .containsEntry("tartan_kernel_entries_expected{kind=\"neighbour\"}", 2.0)
        .containsEntry("tartan_kernel_entries_present{kind=\"neighbour\"}", 2.0)
        .containsEntry("tartan_kernel_entries_expected{kind=\"fdb\"}", 2.0)
        .containsEntry("tartan_kernel_entries_present{kind=\"fdb\"}", 2.0)
        .containsEntry("tartan_reconcile_runs_total", 2.0)
        .containsEntry("tartan_reconcile_failures_total", 1.0)
        .containsEntry("tartan_reconcile_duration_seconds_count", 2.0)
        .containsEntry("tartan_drift_repairs_total{kind=\"route\"}", 2.0)
        .containsEntry("tartan_drift_repairs_total{kind=\"fdb\"}", 1.0)
        .containsEntry("tartan_drift_repairs_total{kind=\"device\"}", 0.0)
        .containsEntry("tartan_netlink_errors_total{errno=\"ENETUNREACH\"}", 1.0)
        .containsEntry("tartan_netlink_errors_total{errno=\"EPERM\"}", 1.0)
        .containsEntry("tartan_etcd_watch_reconnects_total", 3.0)
        .containsEntry("tartan_etcd_compactions_seen_total", 1.0)
        .containsEntry("tartan_etcd_bad_keys_skipped_total", 4.0)
        .containsEntry("tartan_attach_calls_total{kind=\"cni\"}", 5.0)
        .containsEntry("tartan_attach_calls_total{kind=\"netavark\"}", 7.0)
        .containsKey("tartan_reconcile_duration_seconds{quantile=\"0.99\"}");
    assertThat(s.keySet()).noneMatch(k -> k.contains("ESRCH"));
    assertThat(s.get("jvm_memory_heap_used")).isPositive();
    assertThat(s.get("tartan_reconcile_duration_seconds{quantile=\"0.5\"}")).isBetween(0.0, 10.0);
  }

  @Test
  void typesAreDeclaredForPrometheus() {
    metrics.peers(() -> 1);
    metrics.drift(() -> Map.of(DriftWatcher.Kind.ROUTE, 1L));
    String text = metrics.scrape();
    assertThat(text).contains("# TYPE tartan_lease_renewals_total counter")
        .contains("# TYPE tartan_peers_known gauge")
        .contains("# TYPE tartan_reconcile_duration_seconds summary")
        .contains("# TYPE tartan_kernel_entries_expected gauge");
    assertThat(text).contains("# HELP tartan_lease_ttl_seconds Seconds until etcd expires the lease (+Inf for a reservation)\n")
        .contains("# HELP tartan_lease_renewals_total Lease renewals\n");
    List<String> typed = text.lines().filter(l -> l.startsWith("# TYPE ")).map(l -> l.split(" ")[2]).toList();
    assertThat(typed).isSorted();
    // one TYPE line per family, the labelled series under it
    assertThat(text.lines().filter(l -> l.startsWith("# TYPE tartan_drift_repairs_total "))).hasSize(1);
    assertThat(text.lines().filter(l -> l.startsWith("tartan_drift_repairs_total{"))).hasSize(6);
  }

  @Test
  void countsKeptByComponentsAreCopiedAtEveryScrapeAndOnlyGrow() {
    AtomicLong reconnects = new AtomicLong(1);
    metrics.etcd(reconnects::get, () -> 0, () -> 0);
    assertThat(parse(metrics.scrape())).containsEntry("tartan_etcd_watch_reconnects_total", 1.0);
    reconnects.set(5);
    assertThat(parse(metrics.scrape())).containsEntry("tartan_etcd_watch_reconnects_total", 5.0);
    reconnects.set(5);
    assertThat(parse(metrics.scrape())).containsEntry("tartan_etcd_watch_reconnects_total", 5.0);
  }

  @Test
  void leaseGaugesFollowTheLease() {
    AtomicReference<SubnetLease> lease = new AtomicReference<>();
    AtomicReference<Boolean> held = new AtomicReference<>(false);
    metrics.lease(lease::get, held::get);
    Map<String, Double> s = parse(metrics.scrape());
    assertThat(s.get("tartan_lease_ttl_seconds")).isNaN();
    assertThat(s).containsEntry("tartan_lease_held", 0.0)
        .containsEntry("tartan_lease_info{subnet=\"\",public_ip=\"\"}", 0.0);

    lease.set(lease("10.244.7.0/24", "203.0.113.7", null)); // a reservation never expires
    held.set(true);
    s = parse(metrics.scrape());
    assertThat(s).containsEntry("tartan_lease_ttl_seconds", Double.POSITIVE_INFINITY)
        .containsEntry("tartan_lease_info{subnet=\"10.244.7.0/24\",public_ip=\"203.0.113.7\"}", 1.0);

    lease.set(lease("10.244.8.0/24", "203.0.113.7", NOW.minusSeconds(5))); // expired, re-acquiring
    held.set(false);
    s = parse(metrics.scrape());
    assertThat(s).containsEntry("tartan_lease_ttl_seconds", 0.0)
        .containsEntry("tartan_lease_held", 0.0)
        .containsEntry("tartan_lease_info{subnet=\"10.244.8.0/24\",public_ip=\"203.0.113.7\"}", 1.0);
  }

  @Test
  void beforeTheFirstPassExpectedAndPresentAreZero() {
    Map<String, Double> s = parse(metrics.scrape());
    for (String kind : List.of("route", "neighbour", "fdb")) {
      assertThat(s).containsEntry("tartan_kernel_entries_expected{kind=\"" + kind + "\"}", 0.0)
          .containsEntry("tartan_kernel_entries_present{kind=\"" + kind + "\"}", 0.0);
    }
    assertThat(s).containsEntry("tartan_reconcile_runs_total", 0.0);
  }

  @Test
  void errnoLabels() {
    assertThat(NetlinkErrors.label(Errno.EEXIST)).isEqualTo("EEXIST");
    assertThat(NetlinkErrors.label(Errno.ENOBUFS)).isEqualTo("ENOBUFS");
    assertThat(NetlinkErrors.label(0)).isEqualTo("none");
    assertThat(NetlinkErrors.label(250)).isEqualTo("errno_250");
  }
}
