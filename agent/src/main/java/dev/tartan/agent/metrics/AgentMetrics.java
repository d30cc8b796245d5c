package dev.tartan.agent.metrics;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import com.codahale.metrics.jvm.MemoryUsageGaugeSet;
import dev.tartan.agent.health.HealthServer;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.agent.routing.DriftWatcher;
import dev.tartan.agent.routing.ReconcileLoop;
import dev.tartan.agent.routing.ReconcileResult;
import dev.tartan.store.SubnetLease;
import io.prometheus.client.Collector.MetricFamilySamples;
import io.prometheus.client.CollectorRegistry;
import io.prometheus.client.dropwizard.DropwizardExports;
import io.prometheus.client.exporter.common.TextFormat;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;

/**
 * The agent's metrics: one dropwizard {@link MetricRegistry} (dotted names such as {@code
 * lease.ttl_seconds}), served at {@code /metrics} on the healthz port in the Prometheus text
 * format (0.0.4) by the Prometheus client's dropwizard bridge and text writer. Names get the
 * {@code tartan_} prefix there; counters are meters ({@code _total}); kinds, errnos and the
 * lease's subnet are labels. The metric table is in the README.
 *
 * <p>The agent hands its components over as they are created ({@link #lease}, {@link #etcd},
 * {@link #peers}, {@link #drift}, {@link #timed}, {@link #countErrors}); until then their
 * metrics read 0 (NaN for the lease's TTL). Counts kept by the components themselves (etcd
 * reconnects, drift events) are copied into their meters at every scrape. No configuration
 * value is exported (nothing like an etcd endpoint or password can leak through a label).
 */
public final class AgentMetrics {
  /** The HTTP path. */
  public static final String PATH = "/metrics";

  /** HELP lines by Prometheus family name (counters without {@code _total}); JVM ones keep the bridge's. */
  private static final Map<String, String> HELP = Map.ofEntries(
      Map.entry("tartan_lease_info", "This host's lease: 1 with its subnet and PublicIP as labels"),
      Map.entry("tartan_lease_held", "1 while the lease is held, 0 while it is being re-acquired"),
      Map.entry("tartan_lease_ttl_seconds", "Seconds until etcd expires the lease (+Inf for a reservation)"),
      Map.entry("tartan_lease_renewals", "Lease renewals"),
      Map.entry("tartan_lease_renewal_failures", "Failed lease renewal attempts"),
      Map.entry("tartan_lease_reacquisitions", "Times the lease was lost and acquired again"),
      Map.entry("tartan_peers_known", "Remote leases the etcd watch knows"),
      Map.entry("tartan_peers_in_grace", "Peers whose lease expired, kept programmed until peer-expiry-grace ends"),
      Map.entry("tartan_peers_ipv6_programmed", "Dual stack: peers whose IPv6 entries are programmed"),
      Map.entry("tartan_kernel_entries_expected", "Entries the leases ask for, after the last reconcile"),
      Map.entry("tartan_kernel_entries_present", "Expected entries present in the kernel after the last reconcile"),
      Map.entry("tartan_reconcile_runs", "Reconcile passes"),
      Map.entry("tartan_reconcile_failures", "Reconcile passes that failed"),
      Map.entry("tartan_reconcile_duration_seconds", "Wall time of a reconcile pass"),
      Map.entry("tartan_drift_repairs", "Changes to Tartan's kernel state by someone else, repaired, by kind"),
      Map.entry("tartan_netlink_errors", "Netlink requests the kernel refused, by errno"),
      Map.entry("tartan_etcd_watch_reconnects", "Times the lease watch reconnected to etcd"),
      Map.entry("tartan_etcd_compactions_seen", "Times the lease watch fell behind a compaction and re-listed"),
      Map.entry("tartan_etcd_bad_keys_skipped", "Keys under subnets/ that are not leases, skipped"),
      Map.entry("tartan_attach_calls", "Calls the attach socket ran in the agent, by kind (cni, netavark)"));

  private final MetricRegistry registry = new MetricRegistry();
  private final PrometheusNames names = new PrometheusNames();
  private final CollectorRegistry prometheus = new CollectorRegistry(true);
  private final Clock clock;
  private final List<Mirror> mirrors = new ArrayList<>();

  private final Meter renewals = registry.meter("lease.renewals");
  private final Meter renewalFailures = registry.meter("lease.renewal_failures");
  private final Meter reacquisitions = registry.meter("lease.reacquisitions");
  private final Meter runs = registry.meter("reconcile.runs");
  private final Meter failures = registry.meter("reconcile.failures");
  private final Timer duration = registry.timer("reconcile.duration");

  private volatile Supplier<SubnetLease> lease = () -> null;
  private volatile BooleanSupplier leaseHeld = () -> false;
  private volatile IntSupplier peersKnown = () -> 0;
  private volatile IntSupplier peersInGrace = () -> 0;
  private volatile IntSupplier peersIpv6 = () -> 0;
  private volatile ReconcileResult lastResult;

  public AgentMetrics() {
    this(Clock.systemUTC());
  }

  /** With the clock the lease's TTL is measured against (tests). */
  public AgentMetrics(Clock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
    names.rename("reconcile.duration", "reconcile.duration_seconds");

    names.labels("lease.info", "lease.info", List.of("subnet", "public_ip"), () -> {
      SubnetLease l = lease.get();
      return l == null ? List.of("", "") : List.of(l.subnet().toString(), l.attrs().publicIp().getHostAddress());
    });
    gauge("lease.info", () -> lease.get() == null ? 0 : 1);
    gauge("lease.held", () -> leaseHeld.getAsBoolean() ? 1 : 0);
    gauge("lease.ttl_seconds", this::ttlSeconds);
    gauge("peers.known", () -> peersKnown.getAsInt());
    gauge("peers.in_grace", () -> peersInGrace.getAsInt());
    gauge("peers.ipv6_programmed", () -> peersIpv6.getAsInt());

    kernelGauges("route", ReconcileResult::routes);
    kernelGauges("neighbour", ReconcileResult::neighbours);
    kernelGauges("fdb", ReconcileResult::fdb);

    registry.registerAll("jvm.memory", new MemoryUsageGaugeSet());
    prometheus.register(new DropwizardExports(registry, names));
  }

  private void kernelGauges(String kind, Function<ReconcileResult, ReconcileResult.Counts> of) {
    String expected = "kernel.expected." + kind;
    String present = "kernel.present." + kind;
    names.label(expected, "kernel.entries_expected", "kind", kind);
    names.label(present, "kernel.entries_present", "kind", kind);
    gauge(expected, () -> count(of, ReconcileResult.Counts::expected));
    gauge(present, () -> count(of, ReconcileResult.Counts::present));
  }

  private int count(Function<ReconcileResult, ReconcileResult.Counts> of,
      ToIntFunction<ReconcileResult.Counts> field) {
    ReconcileResult r = lastResult;
    return r == null ? 0 : field.applyAsInt(of.apply(r));
  }

  private <T> void gauge(String name, Gauge<T> g) {
    registry.register(name, g);
  }

  // ---- sources

  /** Our lease (null before the first) and whether it is held (false while re-acquiring). */
  public void lease(Supplier<SubnetLease> current, BooleanSupplier held) {
    this.lease = Objects.requireNonNull(current, "current");
    this.leaseHeld = Objects.requireNonNull(held, "held");
  }

  public void leaseRenewed() {
    renewals.mark();
  }

  public void leaseRenewFailed() {
    renewalFailures.mark();
  }

  /** The lease was lost and acquired again (the same or a new subnet). */
  public void leaseReacquired() {
    reacquisitions.mark();
  }

  /** The number of remote leases the watch knows. */
  public void peers(IntSupplier known) {
    this.peersKnown = Objects.requireNonNull(known, "known");
  }

  /** The number of remote leases the watch knows, and of those held in grace after their lease expired. */
  public void peers(IntSupplier known, IntSupplier inGrace) {
    peers(known);
    this.peersInGrace = Objects.requireNonNull(inGrace, "inGrace");
  }

  /** Dual stack: the number of peers whose IPv6 entries are programmed (the IPv6 device's {@code PeerSync}). */
  public void ipv6Peers(IntSupplier programmed) {
    this.peersIpv6 = Objects.requireNonNull(programmed, "programmed");
  }

  /** The store's own counters ({@code StoreStats::watchReconnects}, ...). */
  public void etcd(LongSupplier watchReconnects, LongSupplier compactionsSeen, LongSupplier badKeysSkipped) {
    mirror("etcd.watch_reconnects", watchReconnects);
    mirror("etcd.compactions_seen", compactionsSeen);
    mirror("etcd.bad_keys_skipped", badKeysSkipped);
  }

  /** Calls run through the attach socket, by kind ({@code AttachCalls::cni}, {@code AttachCalls::netavark}). */
  public void attach(LongSupplier cni, LongSupplier netavark) {
    names.label("attach.calls.cni", "attach.calls", "kind", "cni");
    names.label("attach.calls.netavark", "attach.calls", "kind", "netavark");
    mirror("attach.calls.cni", cni);
    mirror("attach.calls.netavark", netavark);
  }

  /** Drift events by kind ({@code DriftWatcher::counts}), each of which triggered a repair. */
  public void drift(Supplier<Map<DriftWatcher.Kind, Long>> counts) {
    Objects.requireNonNull(counts, "counts");
    for (DriftWatcher.Kind k : DriftWatcher.Kind.values()) {
      String kind = k.name().toLowerCase(Locale.ROOT);
      String name = "drift.repairs." + kind;
      names.label(name, "drift.repairs", "kind", kind);
      mirror(name, () -> counts.get().getOrDefault(k, 0L));
    }
  }

  /**
   * {@code pass} with its runs, failures and duration measured, and its result kept for the
   * expected/present gauges. A pass that returns null (nothing to do yet) counts as a run.
   */
  public ReconcileLoop.Pass timed(ReconcileLoop.Pass pass) {
    Objects.requireNonNull(pass, "pass");
    return () -> {
      Timer.Context t = duration.time();
      try {
        ReconcileResult r = pass.run();
        if (r != null) {
          lastResult = r;
        }
        return r;
      } catch (Exception | Error e) {
        failures.mark();
        throw e;
      } finally {
        t.stop();
        runs.mark();
      }
    };
  }

  /** {@code nl} with the requests the kernel refuses counted by errno ({@code netlink.errors.EEXIST}). */
  public RtNetlink countErrors(RtNetlink nl) {
    return NetlinkErrors.counting(Objects.requireNonNull(nl, "nl"), this::netlinkError);
  }

  private void netlinkError(String errno) {
    String name = "netlink.errors." + errno;
    names.label(name, "netlink.errors", "errno", errno);
    registry.meter(name).mark();
  }

  // ---- output

  /** The registry, for anything else that wants to report into it. */
  public MetricRegistry registry() {
    return registry;
  }

  /** The Prometheus text (format 0.0.4) of every metric now, sorted by name, with our help texts. */
  public String scrape() {
    refresh();
    List<MetricFamilySamples> families = new ArrayList<>();
    for (MetricFamilySamples f : Collections.list(prometheus.metricFamilySamples())) {
      String help = HELP.get(f.name);
      families.add(help == null ? f : new MetricFamilySamples(f.name, f.unit, f.type, help, f.samples));
    }
    families.sort(Comparator.comparing(f -> f.name));
    StringWriter w = new StringWriter(8192);
    try {
      TextFormat.write004(w, Collections.enumeration(families));
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a StringWriter does not throw
    }
    return w.toString();
  }

  /** The {@code /metrics} endpoint for {@link HealthServer#endpoint}. */
  public HealthServer.Endpoint endpoint() {
    return () -> new HealthServer.Response(200, TextFormat.CONTENT_TYPE_004, scrape());
  }

  private double ttlSeconds() {
    SubnetLease l = lease.get();
    if (l == null) {
      return Double.NaN;
    }
    if (l.expiresAt() == null) {
      return Double.POSITIVE_INFINITY; // a reservation never expires
    }
    Duration left = Duration.between(clock.instant(), l.expiresAt());
    return left.isNegative() ? 0 : left.toMillis() / 1000.0;
  }

  // ---- counters kept elsewhere

  private record Mirror(Meter meter, LongSupplier source) {}

  private synchronized void mirror(String name, LongSupplier source) {
    mirrors.add(new Mirror(registry.meter(name), Objects.requireNonNull(source, "source")));
  }

  /** Copies the components' counts into their meters (they only grow). */
  private synchronized void refresh() {
    for (Mirror m : mirrors) {
      long delta = m.source().getAsLong() - m.meter().getCount();
      if (delta > 0) {
        m.meter().mark(delta);
      }
    }
  }
}
