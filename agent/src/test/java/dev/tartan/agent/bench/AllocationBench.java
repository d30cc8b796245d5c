package dev.tartan.agent.bench;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.Store;
import dev.tartan.store.etcd.EtcdOptions;
import dev.tartan.store.etcd.EtcdStores;
import dev.tartan.store.etcd.LeaseJson;
import dev.tartan.store.testing.EtcdClusterExtension;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Issue 7, item 6: {@code acquirers} hosts take a subnet at the same moment from a 3-member etcd
 * cluster. Each acquirer is the store the agent uses ({@link Store#acquire}) on a jetcd
 * client of its own (its own gRPC channel and connections), all in this one JVM: 200 agent JVMs
 * (75–120 MiB each, and 200 JVM start-ups at once) do not fit a 2-core machine. The clients are
 * connected before the start signal; the time runs from the signal to the last lease. Duplicates
 * are counted from the results and again from what etcd holds afterwards.
 *
 * <p>Then, as far as real agents go on this machine: {@code agents} real {@code tartan agent} JVMs
 * (through the unit's launcher), one per host namespace, started at the same moment against the same
 * cluster; the time runs from the first exec to the last READY=1, and duplicates are counted in etcd.
 *
 * <p>Arguments ({@code --name value}): work, out, acquirers (200), rounds (3), and for the real agents
 * ctl, bridge, launcher, jar, ns-prefix, agents (20; 0 skips them). Run by {@code scripts/bench.sh}
 * inside its control namespace (etcd members on 198.51.100.254 there).
 */
public final class AllocationBench {
  private static final Ipv4Subnet NETWORK = Ipv4Subnet.parse("10.20.0.0/16");

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = AgentBench.parse(argv);
    Path work = Path.of(args.get("work")).toAbsolutePath();
    Report report = new Report(Path.of(args.get("out")), "alloc");
    int acquirers = Integer.parseInt(args.getOrDefault("acquirers", "200"));
    int rounds = Integer.parseInt(args.getOrDefault("rounds", "3"));
    Files.createDirectories(work);

    int agents = Integer.parseInt(args.getOrDefault("agents", "20"));
    EtcdClusterExtension etcd = EtcdClusterExtension.builder().members(3).listenHost(BenchHost.GATEWAY)
        .logDirectory(work.resolve("etcd-logs")).build();
    List<Client> clients = new ArrayList<>();
    List<Store> opened = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(acquirers);
    Thread hook = new Thread(etcd::close, "alloc-bench-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      etcd.start();
      report.line("### 6. Allocation: " + acquirers + " hosts acquire a subnet at once, 3-member etcd")
          .line("")
          .line("**These are " + acquirers + " store clients in one JVM, not " + acquirers + " agent JVMs**: each "
              + "acquirer is `EtcdLeaseStore.acquire` (the agent's own allocation code: list, pick, "
              + "owner-checked create transaction, retry on a lost race) on a jetcd client of its own "
              + "(own gRPC channel and connections), connected before the start. " + acquirers + " agent JVMs "
              + "(75–120 MiB RSS each, and 200 JVM start-ups at once) would not fit this 2-core machine. Network "
              + NETWORK + " with /24 subnets (255 free); a fresh etcd prefix per round; etcd members on "
              + "198.51.100.254 (different ports) in the bench's control namespace, data on disk (fsync per write).")
          .line("")
          .line("| round | acquirers | distinct subnets | duplicates | keys in etcd / distinct PublicIPs | "
              + "start → all leased (ms) | per acquirer p50 / p99 (ms) | load avg |")
          .line("|---|---|---|---|---|---|---|---|");
      for (int i = 0; i < acquirers; i++) {
        Client c = Client.builder().endpoints(etcd.clientEndpoints()).build();
        clients.add(c);
        c.getKVClient().get(SyntheticPeers.bs("/warm-up")).get(30, TimeUnit.SECONDS);
      }
      long dupTotal = 0;
      long failedTotal = 0;
      List<Double> totals = new ArrayList<>();
      for (int r = 1; r <= rounds; r++) {
        String prefix = "/tartan-bench-alloc-" + r + "/network";
        clients.get(0).getKVClient().put(SyntheticPeers.bs(prefix + "/config"),
            SyntheticPeers.bs("{\"Network\":\"" + NETWORK + "\",\"SubnetLen\":24,\"Backend\":{\"Type\":\"vxlan\"}}"))
            .get(10, TimeUnit.SECONDS);
        List<Store> stores = new ArrayList<>();
        for (int i = 0; i < acquirers; i++) { // each a connection of its own, as an agent's
          Store s = EtcdStores.connect(EtcdOptions.of(etcd.clientEndpoints()).withPrefix(prefix)
              .withLeaseTtl(Duration.ofSeconds(600)));
          stores.add(s);
          opened.add(s);
        }
        CountDownLatch ready = new CountDownLatch(acquirers);
        CountDownLatch go = new CountDownLatch(1);
        long[] done = new long[acquirers];
        List<Future<SubnetLease>> results = new ArrayList<>();
        for (int i = 0; i < acquirers; i++) {
          int idx = i;
          Store s = stores.get(i);
          LeaseAttrs attrs = LeaseAttrs.ipv4(Ipv4Subnet.toInet(Ipv4Subnet.parseAddress("198.18.0.0") + 1 + i),
              "vxlan", String.format(Locale.ROOT, "{\"VNI\":1,\"VtepMAC\":\"0e:b1:00:00:%02x:%02x\"}", i >> 8, i & 0xff));
          results.add(pool.submit(() -> {
            ready.countDown();
            go.await();
            SubnetLease l = s.acquire(attrs, Optional.empty());
            done[idx] = System.nanoTime();
            return l;
          }));
        }
        ready.await();
        Thread.sleep(200);
        long t0 = System.nanoTime();
        go.countDown();
        Set<Ipv4Subnet> subnets = new HashSet<>();
        List<Double> each = new ArrayList<>();
        int failed = 0;
        String firstFailure = null;
        for (int i = 0; i < acquirers; i++) {
          try {
            subnets.add(results.get(i).get(120, TimeUnit.SECONDS).subnet());
            each.add((done[i] - t0) / 1e6);
          } catch (Exception e) {
            failed++;
            if (firstFailure == null) {
              firstFailure = String.valueOf(e.getCause() != null ? e.getCause() : e);
            }
          }
        }
        long end = 0;
        for (long d : done) {
          end = Math.max(end, d);
        }
        double total = (end - t0) / 1e6;
        int ok = acquirers - failed;
        long dups = ok - subnets.size();
        // what etcd holds: one key per host, no PublicIP twice
        List<KeyValue> kvs = clients.get(0).getKVClient().get(SyntheticPeers.bs(prefix + "/subnets/"),
            GetOption.builder().isPrefix(true).build()).get(30, TimeUnit.SECONDS).getKvs();
        Set<String> ips = new HashSet<>();
        for (KeyValue kv : kvs) {
          ips.add(LeaseJson.decode(kv.getValue().toString(UTF_8)).publicIp().getHostAddress());
        }
        dups += kvs.size() - ips.size();
        dupTotal += dups;
        totals.add(total);
        Stats s = Stats.of(each);
        report.linef("| %d | %d%s | %d | %d | %d / %d | %s | %s / %s | %s |", r, acquirers,
            failed == 0 ? "" : " (" + failed + " failed: " + firstFailure + ")", subnets.size(), dups, kvs.size(),
            ips.size(), Stats.fmt(total), Stats.fmt(s.median()), Stats.fmt(s.pct(99)), AgentBench.loadAvg());
        System.out.printf(Locale.ROOT, "alloc-bench: round %d: %d leased in %.0f ms, %d duplicates, %d failed%n", r,
            ok, total, dups, failed);
        failedTotal += failed;
        report.flush();
      }
      Stats t = Stats.of(totals);
      report.line("");
      report.mustBeZero("6. Allocation: " + acquirers + " concurrent acquirers (store clients, 3-member etcd): "
          + "duplicate subnets", dupTotal, dupTotal + " in " + rounds + " rounds");
      report.reported("6. Allocation: " + acquirers + " concurrent acquirers: start → all leased",
          String.format(Locale.ROOT, "%s ms (median of %d rounds; %s–%s)", Stats.fmt(t.median()), t.n(),
              Stats.fmt(t.min()), Stats.fmt(t.max())),
          failedTotal == 0 ? "every acquirer leased; no target in the issue"
              : "**" + failedTotal + " acquires failed** (see the table)");
      report.flush();
      if (agents > 0) {
        realAgents(args, etcd, clients.get(0), agents, work, report);
        report.flush();
      }
    } finally {
      pool.shutdownNow();
      for (Store s : opened) {
        s.close();
      }
      for (Client c : clients) {
        c.close();
      }
      etcd.close();
      Runtime.getRuntime().removeShutdownHook(hook);
    }
  }

  /** {@code n} real agent JVMs started at once, each in a host namespace of its own. */
  private static void realAgents(Map<String, String> args, EtcdClusterExtension etcd, Client client, int n,
      Path work, Report report) throws Exception {
    String prefix = "/tartan-bench-agents/network";
    Ipv4Subnet network = Ipv4Subnet.parse("10.21.0.0/16");
    client.getKVClient().put(SyntheticPeers.bs(prefix + "/config"),
        SyntheticPeers.bs("{\"Network\":\"" + network + "\",\"SubnetLen\":24,\"Backend\":{\"Type\":\"vxlan\"}}"))
        .get(10, TimeUnit.SECONDS);
    Path launcher = Path.of(args.get("launcher")).toAbsolutePath();
    Path jar = Path.of(args.get("jar")).toAbsolutePath();
    List<BenchHost> hosts = new ArrayList<>();
    List<NotifySocket> sockets = new ArrayList<>();
    List<BenchHost.AgentRun> runs = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        BenchHost h = BenchHost.create(args.get("ns-prefix") + "g" + i, args.get("ctl"), args.getOrDefault("bridge",
            "br0"), 101 + i, work.resolve("g" + i));
        hosts.add(h);
        sockets.add(NotifySocket.bind(h.dir().resolve("notify.sock")));
      }
      String load = AgentBench.loadAvg();
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        runs.add(hosts.get(i).startAgent(launcher, jar, etcd.endpointsCsv(), prefix, sockets.get(i).path()));
      }
      List<Double> ready = new ArrayList<>();
      int notReady = 0;
      for (int i = 0; i < n; i++) {
        NotifySocket.Message m = sockets.get(i).awaitReady(Math.max(1000, 240_000 - (System.nanoTime() - t0) / 1_000_000));
        if (m == null) {
          notReady++;
        } else {
          ready.add((m.nanos() - t0) / 1e6);
        }
      }
      List<KeyValue> kvs = client.getKVClient().get(SyntheticPeers.bs(prefix + "/subnets/"),
          GetOption.builder().isPrefix(true).build()).get(30, TimeUnit.SECONDS).getKvs();
      Set<String> ips = new HashSet<>();
      for (KeyValue kv : kvs) {
        ips.add(LeaseJson.decode(kv.getValue().toString(UTF_8)).publicIp().getHostAddress());
      }
      // what each agent believes it holds: FLANNEL_SUBNET of its subnet.env
      Set<String> held = new HashSet<>();
      int files = 0;
      for (BenchHost h : hosts) {
        Path env = h.dir().resolve("subnet.env");
        if (Files.exists(env)) {
          for (String line : Files.readAllLines(env)) {
            if (line.startsWith("FLANNEL_SUBNET=")) {
              held.add(line.substring("FLANNEL_SUBNET=".length()));
              files++;
            }
          }
        }
      }
      long dups = (files - held.size()) + ((long) kvs.size() - ips.size());
      Stats s = ready.isEmpty() ? null : Stats.of(ready);
      report.line("")
          .linef("**Real agents, as far as this machine goes:** %d `tartan agent` JVMs (the unit's launcher and "
              + "JVM flags), one per host namespace, exec'd at the same moment against the same 3-member cluster "
              + "(network %s). Load average before: %s.", n, network, load)
          .line("")
          .line("| agents | READY | leases in etcd / distinct PublicIPs | subnet.env files / distinct subnets | "
              + "duplicates | first exec → READY: p50 / last (ms) |")
          .line("|---|---|---|---|---|---|")
          .linef("| %d | %d%s | %d / %d | %d / %d | %d | %s |", n, n - notReady, notReady == 0 ? "" : " (" + notReady
              + " not within 240 s)", kvs.size(), ips.size(), files, held.size(), dups,
              s == null ? "-" : Stats.fmt(s.median()) + " / " + Stats.fmt(s.max()))
          .line("");
      report.mustBeZero("6. Allocation: " + n + " real agent JVMs at once (3-member etcd): duplicate subnets", dups,
          dups + " (" + kvs.size() + " leases for " + n + " agents)");
      report.reported("6. Allocation: " + n + " real agent JVMs at once: first exec → all READY",
          s == null ? "none ready" : Stats.fmt(s.max()) + " ms (p50 " + Stats.fmt(s.median()) + " ms)",
          notReady == 0 ? "all ready; dominated by " + n + " JVM start-ups sharing " 
              + Runtime.getRuntime().availableProcessors() + " CPUs"
              : "**" + notReady + " agents not ready within 240 s**");
      System.out.printf(Locale.ROOT, "alloc-bench: %d real agents: %d ready, last after %s ms, %d duplicates%n", n,
          n - notReady, s == null ? "-" : Stats.fmt(s.max()), dups);
    } finally {
      for (BenchHost.AgentRun r : runs) {
        r.stop();
      }
      for (NotifySocket sock : sockets) {
        sock.close();
      }
      for (BenchHost h : hosts) {
        h.close();
      }
    }
  }
}
