package dev.tartan.agent.bench;

import dev.tartan.agent.bench.BenchHost.AgentRun;
import dev.tartan.agent.bench.SyntheticPeers.Peer;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.testing.EtcdClusterExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The agent's own figures of the benchmark suite (issue 7, items 2–4), against the real agent
 * ({@code tartan agent} started through the packaged launcher, so with the unit's JVM flags) in
 * host namespaces, a real etcd, and synthetic peer leases written straight to etcd:
 *
 * <ol>
 *   <li>Convergence: with N = 100 and 1,000 peers programmed, one new lease's PUT → its route,
 *       neighbour and FDB entry present in the host's kernel (netlink monitor opened before the
 *       PUT; the PUT timestamped just before it is sent); and its DELETE → all three gone.
 *   <li>Cold start: agent start (exec) with 5,000 peer leases in etcd and an empty kernel → all
 *       15,000 entries present, and → READY=1 on NOTIFY_SOCKET.
 *   <li>Memory: the agent's VmRSS 20–30 s after READY with 5,000 peers.
 *   <li>Restart: agent start → READY with its lease reused (SIGTERM, start again), with 5,000
 *       peers and in a 2-peer network.
 * </ol>
 *
 * <p>Run by {@code scripts/bench.sh} as root <em>inside the control namespace</em> (bridge on
 * 198.51.100.254/24), which it creates; this program adds host namespaces to that bridge and
 * removes them again. Arguments ({@code --name value}): ctl, bridge, launcher, jar, work, out,
 * ns-prefix, samples (100), cold-runs (3), ready-runs (5), memory-wait (20).
 */
public final class AgentBench {
  static final String DEVICE = "flannel.1";
  static final String PREFIX = "/coreos.com/network";
  static final Ipv4Subnet NETWORK = Ipv4Subnet.parse("10.64.0.0/10");
  static final String SMALL_PREFIX = "/tartan-bench-small/network";
  static final Ipv4Subnet SMALL_NETWORK = Ipv4Subnet.parse("10.66.0.0/16");
  /** Bulk peers are subnets BULK0.. of the network; samples for N are SAMPLE0 + N + j. */
  static final int BULK0 = 1000;
  static final int SAMPLE0 = 10000;
  static final int COLD_PEERS = 5000;
  static final long WAIT_MS = 120_000;
  static final long SAMPLE_TIMEOUT_MS = 5000;

  private final Map<String, String> args;
  private final String ctl;
  private final String bridge;
  private final Path launcher;
  private final Path jar;
  private final Path work;
  private final String nsPrefix;
  private final Report report;
  private final List<BenchHost> hosts = new ArrayList<>();
  private EtcdClusterExtension etcd;
  private SyntheticPeers peers;
  private int bulk; // synthetic bulk peers written so far

  private AgentBench(Map<String, String> args) {
    this.args = args;
    this.ctl = required("ctl");
    this.bridge = args.getOrDefault("bridge", "br0");
    this.launcher = Path.of(required("launcher")).toAbsolutePath();
    this.jar = Path.of(required("jar")).toAbsolutePath();
    this.work = Path.of(required("work")).toAbsolutePath();
    this.nsPrefix = required("ns-prefix");
    this.report = new Report(Path.of(required("out")), "agent");
  }

  public static void main(String[] argv) throws Exception {
    AgentBench b = new AgentBench(parse(argv));
    Thread hook = new Thread(b::cleanup, "bench-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      b.run();
    } finally {
      b.cleanup();
      Runtime.getRuntime().removeShutdownHook(hook);
    }
  }

  static Map<String, String> parse(String[] argv) {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i + 1 < argv.length; i += 2) {
      if (!argv[i].startsWith("--")) {
        throw new IllegalArgumentException("expected --name value, got " + argv[i]);
      }
      m.put(argv[i].substring(2), argv[i + 1]);
    }
    return m;
  }

  private String required(String name) {
    String v = args.get(name);
    if (v == null) {
      throw new IllegalArgumentException("missing --" + name);
    }
    return v;
  }

  private int intArg(String name, int dflt) {
    return Integer.parseInt(args.getOrDefault(name, Integer.toString(dflt)));
  }

  private void run() throws Exception {
    Files.createDirectories(work);
    etcd = EtcdClusterExtension.builder().members(1).listenHost(BenchHost.GATEWAY)
        .logDirectory(work.resolve("etcd-logs")).build();
    etcd.start();
    peers = SyntheticPeers.create(etcd.clientEndpoints(), PREFIX, NETWORK);
    say("etcd %s, network %s, synthetic peers from 198.18.0.0/15", etcd.endpointsCsv(), NETWORK);

    int samples = intArg("samples", 100);
    try {
      convergence(new int[] {100, 1000}, samples);
    } catch (Exception e) {
      failed("convergence", e);
      report.failed("2. Convergence, N = 1,000: PUT → route+neighbour+FDB, p99", "≤ 50 ms", e.toString());
    }
    report.flush();
    BenchHost cold = null;
    try {
      cold = coldStartAndMemory(intArg("cold-runs", 3), intArg("memory-wait", 20));
    } catch (Exception e) {
      failed("cold start", e);
      report.failed("3. Cold start, 5,000 peers: start → 15,000 entries", "≤ 2000 ms", e.toString());
      report.failed("4. Memory: agent RSS, 5,000 peers", "≤ 96 MiB", e.toString());
    }
    report.flush();
    List<String> rows = new ArrayList<>();
    String memory = null;
    Exception failure = null;
    try {
      if (cold != null) {
        rows.add(restartRuns(cold, PREFIX, "5,000 peers", intArg("ready-runs", 5)));
        memory = nativeMemory(cold);
        closeHost(cold);
      }
      rows.add(smallRestarts(intArg("ready-runs", 5)));
    } catch (Exception e) {
      failure = e;
    }
    report.line("### 3b. Restart: agent start → READY with its lease reused")
        .line("")
        .line("`systemctl restart` as the unit would do it: SIGTERM (the agent leaves the lease and the kernel "
            + "state in place), then exec again; time 0 just before the exec, end at `READY=1` on NOTIFY_SOCKET "
            + "(the agent sends it once /readyz would answer 200: lease held, device, rules, subnet.env, first "
            + "peer sync done). With 5,000 peers: the cold-start host (all entries already in its kernel); with 2 "
            + "peers: a host in a second network (another etcd prefix) with two synthetic peers.")
        .line("")
        .line("| network | runs (ms, in order) | median (ms) | lease |")
        .line("|---|---|---|---|");
    rows.forEach(report::line);
    report.line("");
    if (failure != null) {
      failed("restart", failure);
      report.failed("3. Restart: start → READY, lease reused", "≤ 1000 ms", failure.toString());
    }
    timelines();
    if (memory != null) {
      report.line(memory);
    }
    report.flush();
  }

  // ---------------------------------------------------------------- 2. convergence

  private void convergence(int[] sizes, int samples) throws Exception {
    report.line("### 2. Convergence: one new lease → its route, neighbour and FDB entry on a host")
        .line("")
        .line("One agent (host `198.51.100.21`) with N synthetic peers programmed. Per sample: a netlink monitor "
            + "in the host's namespace is already running; the bench takes `System.nanoTime()`, PUTs one new "
            + "lease (jetcd, attached to an etcd lease), and the sample ends at the monitor's receipt of the "
            + "last of the three notifications (neighbour, FDB entry, `proto 111` route). Then the lease is "
            + "DELETEd and the removal of all three is timed the same way; 20 ms pause; next sample. The PUT's "
            + "own round trip (etcd's WAL fsync on this disk included) is shown separately.")
        .line("");
    putBulk(sizes[0]);
    BenchHost h = host("cv", 21);
    try (KernelWatch w = KernelWatch.start(h.nsPath(), DEVICE);
        NotifySocket n = NotifySocket.bind(h.dir().resolve("notify.sock"))) {
      AgentRun agent = h.startAgent(launcher, jar, etcd.endpointsCsv(), PREFIX, n.path());
      awaitReady(n, agent);
      awaitPeers(w, bulk, agent);
      report.line("| N peers | samples | PUT → all 3 present: p50 / p90 / p99 / max (ms) | timed out | "
          + "DELETE → all 3 gone: p50 / p99 (ms) | PUT round trip p50 / p99 (ms) | monitor overruns | load avg |")
          .line("|---|---|---|---|---|---|---|---|");
      Map<Integer, Stats> adds = new HashMap<>();
      Map<Integer, String> raws = new HashMap<>();
      for (int size : sizes) {
        putBulk(size);
        awaitPeers(w, size, agent);
        Thread.sleep(1000);
        List<Double> add = new ArrayList<>();
        List<Double> del = new ArrayList<>();
        List<Double> rtt = new ArrayList<>();
        int timeouts = 0;
        for (int j = 0; j < samples; j++) {
          Peer p = peers.peer(SAMPLE0 + size + j);
          long t0 = System.nanoTime();
          peers.put(p);
          rtt.add(ms(System.nanoTime() - t0));
          if (w.await(() -> w.peerPresentAt(p.subnet(), p.vtepMac()) >= 0, SAMPLE_TIMEOUT_MS)) {
            add.add(ms(w.peerPresentAt(p.subnet(), p.vtepMac()) - t0));
          } else {
            timeouts++;
            add.add((double) SAMPLE_TIMEOUT_MS);
          }
          long t1 = System.nanoTime();
          peers.delete(p);
          if (w.await(() -> w.peerRemovedAt(p.subnet(), p.vtepMac()) >= 0, SAMPLE_TIMEOUT_MS)) {
            del.add(ms(w.peerRemovedAt(p.subnet(), p.vtepMac()) - t1));
          } else {
            timeouts++;
            del.add((double) SAMPLE_TIMEOUT_MS);
          }
          Thread.sleep(20);
        }
        Stats a = Stats.of(add);
        Stats d = Stats.of(del);
        Stats r = Stats.of(rtt);
        adds.put(size, a);
        raws.put(size, a.rawList(1));
        report.linef("| %,d | %d | %s / %s / **%s** / %s | %d | %s / %s | %s / %s | %d | %s |", size, a.n(),
            Stats.fmt(a.median()), Stats.fmt(a.pct(90)), Stats.fmt(a.pct(99)), Stats.fmt(a.max()), timeouts,
            Stats.fmt(d.median()), Stats.fmt(d.pct(99)), Stats.fmt(r.median()), Stats.fmt(r.pct(99)), w.overruns(),
            loadAvg());
        say("convergence N=%d: p50 %.1f ms, p99 %.1f ms (%d timeouts)", size, a.median(), a.pct(99), timeouts);
      }
      report.line("");
      for (int size : sizes) {
        report.linef("Raw PUT → present samples at N = %,d (ms, in order): %s", size, raws.get(size)).line("");
      }
      for (int size : sizes) {
        Stats a = adds.get(size);
        String text = String.format(Locale.ROOT, "p50 %s ms, p99 %s ms (%d samples)", Stats.fmt(a.median()),
            Stats.fmt(a.pct(99)), a.n());
        if (size == 1000) {
          report.atMost("2. Convergence, N = 1,000: PUT → route+neighbour+FDB, p99", a.pct(99), 50, "ms", text);
        } else {
          report.reported(String.format(Locale.ROOT, "2. Convergence, N = %,d: PUT → route+neighbour+FDB", size),
              text, "p99 target applies at 1,000");
        }
      }
      agent.stop();
    }
    closeHost(h);
    int gone = peers.deleteLeasesOf("198.51.100.21");
    say("released the convergence host's lease (%d key)", gone);
  }

  // ---------------------------------------------------------------- 3./4. cold start and memory

  private BenchHost coldStartAndMemory(int runs, int memoryWait) throws Exception {
    putBulk(COLD_PEERS);
    report.line("### 3. Cold start: agent start with 5,000 peer leases in etcd, empty kernel")
        .line("")
        .line("Each run: a fresh host namespace (`198.51.100.22`, nothing programmed), a netlink monitor in it, "
            + "then the agent is exec'd (time 0: just before `ProcessBuilder.start()` of `ip netns exec … "
            + "tartan agent`). \"All entries\" is the monitor's receipt of the last of the 15,000 "
            + "notifications (5,000 each of neighbours, FDB entries, routes); READY is the arrival of "
            + "`READY=1` on the agent's NOTIFY_SOCKET (as systemd's `Type=notify` sees it). Run 1 acquires a new "
            + "lease, later runs reuse it (subnet file and lease kept, namespace recreated empty).")
        .line("")
        .line("| run | start → 15,000 entries (ms) | start → READY (ms) | lease | monitor overruns | load avg |")
        .line("|---|---|---|---|---|---|");
    List<Double> all = new ArrayList<>();
    List<Double> ready = new ArrayList<>();
    BenchHost h = null;
    AgentRun agent = null;
    long readyAt = 0;
    for (int run = 1; run <= runs; run++) {
      h = host("cs", 22);
      try (KernelWatch w = KernelWatch.start(h.nsPath(), DEVICE);
          NotifySocket n = NotifySocket.bind(h.dir().resolve("notify.sock"))) {
        agent = h.startAgent(launcher, jar, etcd.endpointsCsv(), PREFIX, n.path());
        AgentRun a = agent;
        if (!w.await(() -> w.atLeast(COLD_PEERS), WAIT_MS)) {
          throw new IllegalStateException("not all entries after " + WAIT_MS + " ms: " + w.routes() + " routes, "
              + w.neighbours() + " neighbours, " + w.fdbEntries() + " fdb; log " + a.log());
        }
        double tAll = ms(w.lastAddedAt() - agent.startNanos());
        NotifySocket.Message m = awaitReady(n, agent);
        readyAt = m.nanos();
        double tReady = ms(m.nanos() - agent.startNanos());
        if (w.routes() != COLD_PEERS || w.neighbours() != COLD_PEERS || w.fdbEntries() != COLD_PEERS) {
          throw new IllegalStateException("expected exactly 5,000 of each, found " + w.routes() + " routes, "
              + w.neighbours() + " neighbours, " + w.fdbEntries() + " fdb");
        }
        all.add(tAll);
        ready.add(tReady);
        report.linef("| %d | %s | %s | %s | %d | %s |", run, Stats.fmt(tAll), Stats.fmt(tReady), leaseSource(agent),
            w.overruns(), loadAvg());
        say("cold start run %d: all entries %.0f ms, READY %.0f ms", run, tAll, tReady);
      }
      if (run < runs) {
        agent.stop();
        closeHost(h);
      }
    }
    Stats sa = Stats.of(all);
    Stats sr = Stats.of(ready);
    report.line("")
        .linef("Median of %d runs: start → 15,000 entries **%s ms** (range %s–%s), start → READY %s ms.", sa.n(),
            Stats.fmt(sa.median()), Stats.fmt(sa.min()), Stats.fmt(sa.max()), Stats.fmt(sr.median()))
        .line("");
    report.atMost("3. Cold start, 5,000 peers: start → 15,000 entries (median)", sa.median(), 2000, "ms",
        String.format(Locale.ROOT, "%s ms (median of %d; %s–%s)", Stats.fmt(sa.median()), sa.n(),
            Stats.fmt(sa.min()), Stats.fmt(sa.max())));
    report.flush();

    // ---- 4. memory of the last agent, 5,000 peers, after READY + memoryWait s
    report.line("### 4. Memory: agent RSS with 5,000 peers")
        .line("")
        .linef("The agent of the last cold-start run, left alone with its 5,000 peers; `/proc/PID/status` read "
            + "%d, %d and %d s after READY (the periodic resync runs every 10 s in between).", memoryWait,
            memoryWait + 5, memoryWait + 10)
        .line("")
        .linef("- JVM: `%s` (pid %d)", agent.exe(), agent.pid())
        .linef("- command line: `%s`", agent.commandLine())
        .line("")
        .line("| after READY | VmRSS (MiB) | RssAnon | RssFile | VmHWM (peak) | threads |")
        .line("|---|---|---|---|---|---|");
    double maxRss = 0;
    for (int k = 0; k < 3; k++) {
      long due = readyAt + (memoryWait + 5L * k) * 1_000_000_000L;
      long sleep = (due - System.nanoTime()) / 1_000_000;
      if (sleep > 0) {
        Thread.sleep(sleep);
      }
      if (!agent.alive()) {
        throw new IllegalStateException("the agent exited; log " + agent.log());
      }
      double rss = agent.statusKb("VmRSS") / 1024.0;
      maxRss = Math.max(maxRss, rss);
      report.linef("| %d s | **%.1f** | %.1f | %.1f | %.1f | %d |", memoryWait + 5 * k, rss,
          agent.statusKb("RssAnon") / 1024.0, agent.statusKb("RssFile") / 1024.0, agent.statusKb("VmHWM") / 1024.0,
          agent.statusKb("Threads"));
      say("memory at %d s: VmRSS %.1f MiB", memoryWait + 5 * k, rss);
    }
    report.line("");
    report.atMost("4. Memory: agent VmRSS, 5,000 peers, steady (max of 3 reads)", maxRss, 96, "MiB",
        String.format(Locale.ROOT, "%.1f MiB", maxRss));
    return h;
  }

  private String leaseSource(AgentRun a) throws IOException {
    String log = Files.readString(a.log());
    int i = log.lastIndexOf("EtcdLeaseStore - lease acquired");
    if (i < 0) {
      return "?";
    }
    // "lease acquired: SUBNET for IP (reused the lease of this public IP, expires ...)"
    String line = log.substring(i, log.indexOf('\n', i) < 0 ? log.length() : log.indexOf('\n', i));
    int open = line.indexOf('(');
    int comma = line.indexOf(", expires", open);
    return open < 0 ? line : line.substring(open + 1, comma > open ? comma : line.length()).replace(")", "");
  }

  // ---------------------------------------------------------------- 3b. restarts to READY

  private String smallRestarts(int runs) throws Exception {
    try (SyntheticPeers small = SyntheticPeers.create(etcd.clientEndpoints(), SMALL_PREFIX, SMALL_NETWORK)) {
      small.putRange(1, 3);
      BenchHost h = host("rs", 23);
      try (NotifySocket n = NotifySocket.bind(h.dir().resolve("notify.sock"))) {
        AgentRun first = h.startAgent(launcher, jar, etcd.endpointsCsv(), SMALL_PREFIX, n.path());
        awaitReady(n, first); // acquires the lease; not timed
      }
      String row = restartRuns(h, SMALL_PREFIX, "2 peers", runs);
      closeHost(h);
      return row;
    }
  }

  private String restartRuns(BenchHost h, String prefix, String label, int runs) throws Exception {
    List<Double> times = new ArrayList<>();
    String lease = "";
    for (int k = 0; k < runs; k++) {
      for (AgentRun a : running(h)) {
        a.stop();
      }
      try (NotifySocket n = NotifySocket.bind(h.dir().resolve("notify.sock"))) {
        AgentRun a = h.startAgent(launcher, jar, etcd.endpointsCsv(), prefix, n.path());
        NotifySocket.Message m = awaitReady(n, a);
        times.add(ms(m.nanos() - a.startNanos()));
        lease = leaseSource(a);
        say("restart %s run %d: READY %.0f ms (%s)", label, k + 1, times.get(times.size() - 1), lease);
      }
    }
    for (AgentRun a : running(h)) {
      a.stop();
    }
    timeline(h, prefix, label);
    Stats s = Stats.of(times);
    report.atMost("3. Restart, " + label + ": start → READY, lease reused (median)", s.median(), 1000, "ms",
        String.format(Locale.ROOT, "%s ms (median of %d; %s–%s)", Stats.fmt(s.median()), s.n(), Stats.fmt(s.min()),
            Stats.fmt(s.max())));
    return String.format(Locale.ROOT, "| %s | %s | **%s** | %s |", label, s.rawList(0), Stats.fmt(s.median()), lease);
  }

  private final List<String> timelines = new ArrayList<>();

  /**
   * One more restart (not counted) with the agent's log time-stamped (slf4j-simple's showDateTime, a
   * system property only), to show where the time to READY goes.
   */
  private void timeline(BenchHost h, String prefix, String label) throws Exception {
    AgentRun a;
    NotifySocket.Message m;
    try (NotifySocket n = NotifySocket.bind(h.dir().resolve("notify.sock"))) {
      a = h.startAgent(launcher, jar, etcd.endpointsCsv(), prefix, n.path(), Map.of("TARTAN_JAVA_OPTS",
          "-Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS"));
      m = awaitReady(n, a);
      a.stop();
    }
    double ready = ms(m.nanos() - a.startNanos());
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%s: READY after %.0f ms in this run; the agent's INFO lines, ms after the exec:%n",
        label, ready));
    sb.append("```\n");
    java.time.LocalDate day = java.time.LocalDate.now();
    for (String line : Files.readAllLines(a.log())) {
      if (line.length() < 13 || !line.matches("^\\d\\d:\\d\\d:\\d\\d\\.\\d\\d\\d .*")) {
        continue;
      }
      if (!line.contains(" INFO ") && !line.contains(" WARN ")) {
        continue;
      }
      long at = java.time.LocalTime.parse(line.substring(0, 12)).atDate(day).atZone(java.time.ZoneId.systemDefault())
          .toInstant().toEpochMilli();
      String text = line.substring(13).replaceFirst("^\\[[^\\]]*\\] ", "").replace("dev.tartan.", "");
      sb.append(String.format(Locale.ROOT, "%6d  %s%n", at - a.startMillis(),
          text.length() > 150 ? text.substring(0, 147) + "..." : text));
    }
    sb.append("```\n");
    timelines.add(sb.toString());
  }

  private void timelines() {
    if (timelines.isEmpty()) {
      return;
    }
    report.line("#### Where the time to READY goes")
        .line("")
        .line("One more restart per network after the timed ones, with the agent's log time-stamped "
            + "(`-Dorg.slf4j.simpleLogger.showDateTime=true` via TARTAN_JAVA_OPTS, nothing else changed). The first "
            + "line comes after the JVM start-up and the class loading up to the agent's first log statement.")
        .line("");
    for (String t : timelines) {
      report.line(t);
    }
  }

  /**
   * The 5,000-peer agent once more with native memory tracking ({@code -XX:NativeMemoryTracking=summary},
   * which itself costs a little memory), 20 s after READY: where the RSS goes.
   */
  private String nativeMemory(BenchHost h) throws Exception {
    AgentRun a;
    double rss;
    dev.tartan.agent.testbed.Cmd.Result r;
    try (NotifySocket n = NotifySocket.bind(h.dir().resolve("notify.sock"))) {
      a = h.startAgent(launcher, jar, etcd.endpointsCsv(), PREFIX, n.path(),
          Map.of("TARTAN_JAVA_OPTS", "-XX:NativeMemoryTracking=summary"));
      awaitReady(n, a);
      Thread.sleep(20_000);
      rss = a.statusKb("VmRSS") / 1024.0;
      String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
      r = dev.tartan.agent.testbed.Cmd.exec(
          List.of(jcmd, Long.toString(a.pid()), "VM.native_memory", "summary", "scale=KB"), null);
      a.stop();
    }
    StringBuilder sb = new StringBuilder();
    sb.append("#### 4b. Where the agent's memory goes (native memory tracking)\n\n");
    sb.append(String.format(Locale.ROOT, "The 5,000-peer agent restarted once more with `-XX:NativeMemoryTracking=summary` "
        + "added (NMT's own bookkeeping is in the numbers), read 20 s after READY with `jcmd PID "
        + "VM.native_memory summary`; VmRSS of this run: %.1f MiB. Committed memory by category (MiB; "
        + "categories under 0.5 MiB left out; committed is not all resident):%n%n", rss));
    if (!r.ok()) {
      return sb.append("(jcmd failed: ").append(r.err().trim()).append(")\n").toString();
    }
    java.util.regex.Pattern cat = java.util.regex.Pattern.compile(
        "^-?\\s*(Total|[A-Z][A-Za-z ]+?):? \\(?reserved=(\\d+)KB, committed=(\\d+)KB");
    sb.append("| category | committed (MiB) |\n|---|---|\n");
    for (String line : r.out().split("\n")) {
      java.util.regex.Matcher mm = cat.matcher(line.trim());
      if (mm.find()) {
        double committed = Long.parseLong(mm.group(3)) / 1024.0;
        if (committed >= 0.5 || mm.group(1).equals("Total")) {
          sb.append(String.format(Locale.ROOT, "| %s | %.1f |%n", mm.group(1).trim(), committed));
        }
      }
    }
    return sb.toString();
  }

  private List<AgentRun> running(BenchHost h) {
    return h.agents().stream().filter(AgentRun::alive).toList();
  }

  // ---------------------------------------------------------------- helpers

  private void putBulk(int n) throws Exception {
    if (n > bulk) {
      long t0 = System.nanoTime();
      peers.putRange(BULK0 + bulk, BULK0 + n);
      say("wrote %d synthetic leases in %.0f ms", n - bulk, ms(System.nanoTime() - t0));
      bulk = n;
    }
  }

  private void awaitPeers(KernelWatch w, int n, AgentRun agent) throws Exception {
    if (!w.await(() -> w.atLeast(n), WAIT_MS)) {
      throw new IllegalStateException("the agent did not program " + n + " peers within " + WAIT_MS + " ms ("
          + w.routes() + " routes); log " + agent.log());
    }
  }

  private static NotifySocket.Message awaitReady(NotifySocket n, AgentRun agent) throws InterruptedException {
    NotifySocket.Message m = n.awaitReady(WAIT_MS);
    if (m == null) {
      throw new IllegalStateException("no READY=1 within " + WAIT_MS + " ms (alive: " + agent.alive() + "); log "
          + agent.log());
    }
    return m;
  }

  private BenchHost host(String name, int octet) throws IOException {
    BenchHost h = BenchHost.create(nsPrefix + name, ctl, bridge, octet, work.resolve(name));
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
    if (peers != null) {
      peers.close();
      peers = null;
    }
    if (etcd != null) {
      etcd.close();
      etcd = null;
    }
  }

  private void failed(String what, Exception e) {
    System.err.println("agent-bench: " + what + " failed: " + e);
    report.line("").line("**" + what + " failed:** `" + e.toString().replace('\n', ' ').replace('`', '\'') + "`")
        .line("");
  }

  static double ms(long nanos) {
    return nanos / 1e6;
  }

  static String loadAvg() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException e) {
      return "?";
    }
  }

  static void say(String format, Object... args) {
    System.out.println("agent-bench: " + String.format(Locale.ROOT, format, args));
  }
}
