package dev.tartan.agent.bench;

import dev.tartan.agent.bench.BenchHost.AgentRun;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.testing.EtcdClusterExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The agent's start and memory levers (issue 16), each on its own against the baseline and all
 * together, side by side in one run: agent start → READY with its lease reused in a 2-peer network
 * (the variants interleaved round by round, so load drifts hit them alike), and VmRSS with 5,000
 * peers after READY.
 *
 * <p>Variants come from a tab-separated file, one a line: name, launcher, jar, extra JVM options
 * (TARTAN_JAVA_OPTS, appended after the launcher's, so they win), extra environment
 * ({@code K=V;K=V} or {@code -}), and a description. Run by {@code scripts/bench.sh} (part
 * {@code levers}) as root inside its control namespace. Arguments ({@code --name value}): ctl, bridge,
 * variants, work, out, ns-prefix, runs (9), memory-wait (20).
 */
public final class LeverBench {
  static final String SMALL_PREFIX = "/tartan-bench-levers-small/network";
  static final Ipv4Subnet SMALL_NETWORK = Ipv4Subnet.parse("10.66.0.0/16");
  static final String BIG_PREFIX = "/tartan-bench-levers/network";
  static final Ipv4Subnet BIG_NETWORK = Ipv4Subnet.parse("10.64.0.0/10");
  static final int PEERS = 5000;
  static final long WAIT_MS = 120_000;

  /** In a variant's environment: record the archive at this path from one real start first (not passed on). */
  static final String RECORD = "LEVER_RECORD_CDS";

  record Variant(String name, Path launcher, Path jar, String javaOpts, Map<String, String> env, String what) {}

  private final Map<String, String> args;
  private final List<Variant> variants = new ArrayList<>();
  private final List<BenchHost> hosts = new ArrayList<>();
  private final Report report;
  private EtcdClusterExtension etcd;

  private LeverBench(Map<String, String> args) throws IOException {
    this.args = args;
    this.report = new Report(Path.of(required("out")), "levers");
    for (String line : Files.readAllLines(Path.of(required("variants")))) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      String[] f = line.split("\t", -1);
      if (f.length != 6) {
        throw new IllegalArgumentException("variant line needs 6 tab-separated fields: " + line);
      }
      Map<String, String> env = new LinkedHashMap<>();
      if (!f[4].equals("-")) {
        for (String kv : f[4].split(";")) {
          int eq = kv.indexOf('=');
          env.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
      }
      variants.add(new Variant(f[0], Path.of(f[1]), Path.of(f[2]), f[3], env, f[5]));
    }
  }

  public static void main(String[] argv) throws Exception {
    LeverBench b = new LeverBench(AgentBench.parse(argv));
    Thread hook = new Thread(b::cleanup, "bench-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      b.run();
    } finally {
      b.cleanup();
      Runtime.getRuntime().removeShutdownHook(hook);
    }
  }

  private String required(String name) {
    String v = args.get(name);
    if (v == null) {
      throw new IllegalArgumentException("missing --" + name);
    }
    return v;
  }

  private void run() throws Exception {
    Path work = Path.of(required("work"));
    Files.createDirectories(work);
    etcd = EtcdClusterExtension.builder().members(1).listenHost(BenchHost.GATEWAY)
        .logDirectory(work.resolve("etcd-logs")).build();
    etcd.start();
    int runs = Integer.parseInt(args.getOrDefault("runs", "9"));
    int memoryWait = Integer.parseInt(args.getOrDefault("memory-wait", "20"));
    Map<String, List<Double>> ready = new LinkedHashMap<>();
    Map<String, double[]> memory = new HashMap<>();
    Map<String, Double> bigReady = new HashMap<>();
    try (SyntheticPeers small = SyntheticPeers.create(etcd.clientEndpoints(), SMALL_PREFIX, SMALL_NETWORK);
        SyntheticPeers big = SyntheticPeers.create(etcd.clientEndpoints(), BIG_PREFIX, BIG_NETWORK)) {
      small.putRange(1, 3);
      BenchHost h = host("lv", 25, work);
      for (Variant v : variants) { // untimed: the lease (first variant), the page cache, the archive's pages
        ready.put(v.name(), new ArrayList<>());
        String record = v.env().get(RECORD);
        if (record != null) { // the archive of this variant: recorded from one real start of its jar
          Files.deleteIfExists(Path.of(record));
          Variant rec = new Variant(v.name(), v.launcher(), v.jar(), "-XX:ArchiveClassesAtExit=" + record,
              Map.of(), "");
          startAndAwait(h, rec, SMALL_PREFIX).stop();
          if (!Files.isRegularFile(Path.of(record))) {
            throw new IllegalStateException(v.name() + ": no archive at " + record + " after the recording start");
          }
          say("%s: recorded %s (%d MiB) from a real start", v.name(), record, Files.size(Path.of(record)) >> 20);
        }
        startAndAwait(h, v, SMALL_PREFIX).stop();
      }
      for (int r = 1; r <= runs; r++) {
        StringBuilder line = new StringBuilder();
        for (Variant v : variants) {
          AgentRun a = startAndAwaitTimed(h, v, SMALL_PREFIX, ready.get(v.name()));
          a.stop();
          line.append(String.format(Locale.ROOT, " %s %.0f", v.name(), last(ready.get(v.name()))));
        }
        say("round %d:%s ms (load %s)", r, line, AgentBench.loadAvg());
      }
      closeHost(h);

      long t0 = System.nanoTime();
      big.putRange(1, PEERS + 1);
      say("wrote %d synthetic leases in %.0f ms", PEERS, AgentBench.ms(System.nanoTime() - t0));
      BenchHost m = host("lm", 26, work);
      startAndAwait(m, variants.get(0), BIG_PREFIX).stop(); // programs the 5,000 peers once
      for (Variant v : variants) {
        List<Double> t = new ArrayList<>();
        AgentRun a = startAndAwaitTimed(m, v, BIG_PREFIX, t);
        bigReady.put(v.name(), t.get(0));
        long readyAt = System.nanoTime();
        double[] max = new double[4];
        for (int k = 0; k < 2; k++) {
          long sleep = (readyAt + (memoryWait + 5L * k) * 1_000_000_000L - System.nanoTime()) / 1_000_000;
          if (sleep > 0) {
            Thread.sleep(sleep);
          }
          if (!a.alive()) {
            throw new IllegalStateException(v.name() + ": the agent exited; log " + a.log());
          }
          double rss = a.statusKb("VmRSS") / 1024.0;
          if (rss >= max[0]) {
            max[0] = rss;
            max[1] = a.statusKb("RssAnon") / 1024.0;
            max[2] = a.statusKb("RssFile") / 1024.0;
            max[3] = a.statusKb("Threads");
          }
        }
        memory.put(v.name(), max);
        say("%s: 5,000 peers, READY %.0f ms, VmRSS %.1f MiB (anon %.1f, file %.1f), %d threads", v.name(),
            t.get(0), max[0], max[1], max[2], (int) max[3]);
        a.stop();
      }
      closeHost(m);
    }
    write(runs, memoryWait, ready, memory, bigReady);
  }

  private void write(int runs, int memoryWait, Map<String, List<Double>> ready, Map<String, double[]> memory,
      Map<String, Double> bigReady) throws IOException {
    Variant base = variants.get(0);
    double baseReady = Stats.of(ready.get(base.name())).median();
    double baseRss = memory.get(base.name())[0];
    report.line("### 3c. Agent start and memory levers (issue 16), one by one and together")
        .line("")
        .linef("Each variant is the baseline plus one lever (the last rows: all kept levers, as shipped). READY: "
            + "agent start (exec through the variant's launcher) → `READY=1` on NOTIFY_SOCKET, lease reused, a "
            + "2-peer network; %d runs per variant, the variants interleaved round by round (after one untimed "
            + "start each). Memory: one more start per variant on a host of a 5,000-peer network (entries already "
            + "in its kernel), `/proc/PID/status` %d and %d s after READY (the larger VmRSS).", runs, memoryWait,
            memoryWait + 5)
        .line("")
        .line("| variant | lever | READY, 2 peers: median (ms) | vs baseline | runs (ms, in order) | READY, 5,000 "
            + "peers (ms) | VmRSS, 5,000 peers (MiB) | vs baseline | RssAnon / RssFile | threads |")
        .line("|---|---|---|---|---|---|---|---|---|---|");
    for (Variant v : variants) {
      Stats s = Stats.of(ready.get(v.name()));
      double[] m = memory.get(v.name());
      report.linef("| %s | %s | **%s** | %s | %s | %s | **%.1f** | %s | %.1f / %.1f | %d |", v.name(), v.what(),
          Stats.fmt(s.median()), delta(s.median(), baseReady, "ms", 0), s.rawList(0), Stats.fmt(bigReady.get(v.name())),
          m[0], delta(m[0], baseRss, "MiB", 1), m[1], m[2], (int) m[3]);
    }
    report.line("");
    report.line("Launchers, jars, options and environment of the variants:").line("");
    for (Variant v : variants) {
      report.linef("- `%s`: `%s` with `%s`%s%s", v.name(), v.launcher(), v.jar().getFileName(),
          v.javaOpts().isBlank() ? "" : ", TARTAN_JAVA_OPTS=`" + v.javaOpts() + "`",
          v.env().isEmpty() ? "" : ", env `" + v.env() + "`");
    }
    report.line("");
    Variant all = variants.get(variants.size() - 1);
    for (Variant v : variants) {
      if (!v.name().startsWith("all")) {
        continue;
      }
      Stats s = Stats.of(ready.get(v.name()));
      report.atMost("3c. Start → READY, 2 peers, lease reused, levers: " + v.name() + " (median)", s.median(), 800, "ms",
          String.format(Locale.ROOT, "%s ms (median of %d; baseline %s ms)", Stats.fmt(s.median()), s.n(),
              Stats.fmt(baseReady)));
      report.atMost("3c. VmRSS, 5,000 peers, levers: " + v.name(), memory.get(v.name())[0], 80, "MiB",
          String.format(Locale.ROOT, "%.1f MiB (baseline %.1f MiB)", memory.get(v.name())[0], baseRss));
    }
    if (!all.name().startsWith("all")) {
      report.reported("3c. Levers", "no 'all' variant", "");
    }
    report.flush();
  }

  private static String delta(double v, double base, String unit, int decimals) {
    return String.format(Locale.ROOT, "%+." + decimals + "f %s (%+.0f %%)", v - base, unit, (v - base) / base * 100);
  }

  private AgentRun startAndAwait(BenchHost h, Variant v, String prefix) throws Exception {
    return startAndAwaitTimed(h, v, prefix, new ArrayList<>());
  }

  private AgentRun startAndAwaitTimed(BenchHost h, Variant v, String prefix, List<Double> times) throws Exception {
    Map<String, String> env = new HashMap<>(v.env());
    env.remove(RECORD);
    if (!v.javaOpts().isBlank()) {
      env.put("TARTAN_JAVA_OPTS", v.javaOpts());
    }
    try (NotifySocket n = NotifySocket.bind(h.dir().resolve("notify.sock"))) {
      AgentRun a = h.startAgent(v.launcher(), v.jar(), etcd.endpointsCsv(), prefix, n.path(), env);
      NotifySocket.Message m = n.awaitReady(WAIT_MS);
      if (m == null) {
        throw new IllegalStateException(v.name() + ": no READY=1 within " + WAIT_MS + " ms (alive: " + a.alive()
            + "); log " + a.log());
      }
      times.add(AgentBench.ms(m.nanos() - a.startNanos()));
      return a;
    }
  }

  private static double last(List<Double> l) {
    return l.get(l.size() - 1);
  }

  private BenchHost host(String name, int octet, Path work) throws IOException {
    BenchHost h = BenchHost.create(required("ns-prefix") + name, required("ctl"), args.getOrDefault("bridge", "br0"),
        octet, work.resolve(name));
    synchronized (hosts) {
      hosts.add(h);
    }
    return h;
  }

  private void closeHost(BenchHost h) {
    h.close();
    synchronized (hosts) {
      hosts.remove(h);
    }
  }

  private void cleanup() {
    List<BenchHost> open;
    synchronized (hosts) {
      open = new ArrayList<>(hosts);
      hosts.clear();
    }
    for (BenchHost h : open) {
      h.close();
    }
    if (etcd != null) {
      etcd.close();
      etcd = null;
    }
  }

  static void say(String format, Object... args) {
    System.out.println("lever-bench: " + String.format(Locale.ROOT, format, args));
  }
}
