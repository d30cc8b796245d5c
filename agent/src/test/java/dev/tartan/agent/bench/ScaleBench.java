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
 * The scale table of {@code scripts/bench.sh} (issue 11): one agent, through the shipped launcher and
 * its default JVM flags, in networks of 1,000 / 5,000 / 20,000 / 50,000 synthetic peers, each size in
 * the same run against the same etcd.
 *
 * <p>Per size N (ascending; the leases of the smaller sizes stay, more are added): a fresh host
 * namespace with an empty kernel and a netlink monitor in it, then the agent is exec'd:
 * <ol>
 *   <li>launch → all 3·N entries (neighbours, FDB entries, routes) as the monitor receives them;
 *   <li>steady RSS: {@code VmRSS} read 3 times, 5 s apart, from 10 s after all entries;
 *   <li>PUT of one new lease → its route, neighbour and FDB entry (p50 / p99 over the samples);
 *   <li>CPU of the agent (utime + stime from {@code /proc/PID/stat}) over 30 s idle and over 30 s of
 *       10 lease renewals a second (existing peers' keys re-put with the same value, as a flannel host
 *       renews), as a percentage of one core.
 * </ol>
 * Network 10.0.0.0/8 with /24 subnets (65,535 hosts) inside the bench's namespaces only; peers'
 * public IPs from 198.18.0.0/15.
 */
public final class ScaleBench {
  static final String DEVICE = "flannel.1";
  static final String PREFIX = "/tartan-bench-scale/network";
  static final Ipv4Subnet NETWORK = Ipv4Subnet.parse("10.0.0.0/8");
  /** Bulk peers are 1..N; samples use numbers from 60,000 on (still inside the /8's 65,535). */
  static final int SAMPLE0 = 60_000;
  static final long WAIT_MS = 300_000;
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
  private int bulk;

  private ScaleBench(Map<String, String> args) {
    this.args = args;
    this.ctl = required("ctl");
    this.bridge = args.getOrDefault("bridge", "br0");
    this.launcher = Path.of(required("launcher")).toAbsolutePath();
    this.jar = Path.of(required("jar")).toAbsolutePath();
    this.work = Path.of(required("work")).toAbsolutePath();
    this.nsPrefix = required("ns-prefix");
    this.report = new Report(Path.of(required("out")), "scale");
  }

  public static void main(String[] argv) throws Exception {
    ScaleBench b = new ScaleBench(AgentBench.parse(argv));
    Thread hook = new Thread(b::cleanup, "scale-bench-cleanup");
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
    Files.createDirectories(work);
    etcd = EtcdClusterExtension.builder().members(1).listenHost(BenchHost.GATEWAY)
        .logDirectory(work.resolve("etcd-logs")).build();
    etcd.start();
    peers = SyntheticPeers.create(etcd.clientEndpoints(), PREFIX, NETWORK);
    int samples = Integer.parseInt(args.getOrDefault("samples", "50"));
    int cpuSeconds = Integer.parseInt(args.getOrDefault("cpu-seconds", "30"));
    List<Integer> sizes = new ArrayList<>();
    for (String s : args.getOrDefault("sizes", "1000,5000,20000,50000").split(",")) {
      sizes.add(Integer.parseInt(s.trim()));
    }
    say("etcd %s, network %s, sizes %s", etcd.endpointsCsv(), NETWORK, sizes);

    report.line("### 7. Scale: one agent in networks of 1,000 to 50,000 hosts")
        .line("")
        .line("One agent through the shipped launcher (`systemd/tartan`, its default JVM flags), each size a fresh "
            + "host namespace with an empty kernel; the leases of the smaller sizes stay in etcd and more are "
            + "added (network 10.0.0.0/8, /24 subnets; synthetic peers' public IPs from 198.18.0.0/15). "
            + "\"Launch → all\" ends at the netlink monitor's receipt of the last of the 3·N notifications. "
            + "RSS: `VmRSS` 10, 15 and 20 s after all entries (max). PUT → present: one new lease, until its "
            + "route, neighbour and FDB entry are all in the kernel (" + samples + " samples). CPU: the agent's "
            + "utime + stime over " + cpuSeconds + " s, idle and with 10 renewals a second (existing peers' keys "
            + "re-put with the same value), as % of one core.")
        .line("")
        .line("| peers | launch → all entries (ms) | launch → READY (ms) | PUT → present p50 / p99 / max (ms) | "
            + "timed out | steady RSS (MiB) | CPU idle (% core) | CPU at 10 renewals/s (% core) | load avg |")
        .line("|---|---|---|---|---|---|---|---|---|");
    Map<Integer, Stats> puts = new HashMap<>();
    Map<Integer, double[]> figures = new HashMap<>();
    int octet = 40;
    for (int n : sizes) {
      try {
        putBulk(n);
        double[] f = size(n, samples, cpuSeconds, octet++, puts);
        figures.put(n, f);
      } catch (Exception e) {
        say("size %d failed: %s", n, e);
        report.linef("| %,d | failed: `%s` | | | | | | | |", n, e.toString().replace('\n', ' ').replace('|', '/'));
        report.failed(String.format(Locale.ROOT, "7. Scale, %,d peers", n), "", e.toString());
      }
      report.flush();
    }
    report.line("");
    for (int n : sizes) {
      Stats s = puts.get(n);
      if (s != null) {
        report.linef("Raw PUT → present samples at %,d peers (ms, in order): %s", n, s.rawList(1)).line("");
      }
    }
    // headline rows with the targets
    for (int n : sizes) {
      double[] f = figures.get(n);
      Stats s = puts.get(n);
      if (f == null || s == null) {
        continue;
      }
      String label = String.format(Locale.ROOT, "%,d peers", n);
      report.atMost("7. Scale, " + label + ": PUT → route+neighbour+FDB p99", s.pct(99), 20, "ms",
          String.format(Locale.ROOT, "p50 %s ms, p99 %s ms", Stats.fmt(s.median()), Stats.fmt(s.pct(99))));
      if (n == 5000) {
        report.atMost("7. Scale, " + label + ": launch → all entries", f[0], 2000, "ms", Stats.fmt(f[0]) + " ms");
        report.atMost("7. Scale, " + label + ": steady RSS", f[2], 80, "MiB", String.format(Locale.ROOT, "%.1f MiB", f[2]));
      } else if (n == 50000) {
        report.atMost("7. Scale, " + label + ": launch → all entries", f[0], 12000, "ms", Stats.fmt(f[0]) + " ms");
        report.atMost("7. Scale, " + label + ": steady RSS", f[2], 160, "MiB", String.format(Locale.ROOT, "%.1f MiB", f[2]));
        report.atMost("7. Scale, " + label + ": CPU at 10 renewals/s", f[4], 5, "% of a core",
            String.format(Locale.ROOT, "%.1f %% (idle %.1f %%)", f[4], f[3]));
      } else {
        report.reported("7. Scale, " + label + ": launch → all entries / steady RSS",
            String.format(Locale.ROOT, "%s ms / %.1f MiB", Stats.fmt(f[0]), f[2]), "targets apply at 5k and 50k");
      }
    }
    Stats small = puts.get(1000);
    Stats large = puts.get(50000);
    if (small != null && large != null) {
      report.atMost("7. Scale: p50(50k) / p50(1k)", large.median() / small.median(), 1.5, "×",
          String.format(Locale.ROOT, "%.2f (%s / %s ms)", large.median() / small.median(), Stats.fmt(large.median()),
              Stats.fmt(small.median())));
    }
    report.flush();
  }

  /** Returns {launch→all ms, launch→READY ms, RSS MiB, CPU idle %, CPU renewals %}. */
  private double[] size(int n, int samples, int cpuSeconds, int octet, Map<Integer, Stats> puts) throws Exception {
    BenchHost h = BenchHost.create(nsPrefix + "s" + n, ctl, bridge, octet, work.resolve("s" + n));
    synchronized (hosts) {
      hosts.add(h);
    }
    try (KernelWatch w = KernelWatch.start(h.nsPath(), DEVICE);
        NotifySocket sock = NotifySocket.bind(h.dir().resolve("notify.sock"))) {
      AgentRun agent = h.startAgent(launcher, jar, etcd.endpointsCsv(), PREFIX, sock.path());
      if (!w.await(() -> w.atLeast(n), WAIT_MS)) {
        throw new IllegalStateException("not all entries after " + WAIT_MS + " ms: " + w.routes() + " routes; alive "
            + agent.alive() + "; log " + agent.log());
      }
      double tAll = AgentBench.ms(w.lastAddedAt() - agent.startNanos());
      NotifySocket.Message m = sock.awaitReady(WAIT_MS);
      double tReady = m == null ? Double.NaN : AgentBench.ms(m.nanos() - agent.startNanos());
      say("%d peers: all entries after %.0f ms, READY %.0f ms", n, tAll, tReady);

      // steady RSS
      Thread.sleep(10_000);
      double rss = 0;
      for (int k = 0; k < 3; k++) {
        if (!agent.alive()) {
          throw new IllegalStateException("the agent exited; log " + agent.log());
        }
        rss = Math.max(rss, agent.statusKb("VmRSS") / 1024.0);
        if (k < 2) {
          Thread.sleep(5000);
        }
      }
      say("%d peers: steady RSS %.1f MiB", n, rss);

      // PUT -> present
      List<Double> add = new ArrayList<>();
      int timeouts = 0;
      for (int j = 0; j < samples; j++) {
        Peer p = peers.peer(SAMPLE0 + j);
        long t0 = System.nanoTime();
        peers.put(p);
        if (w.await(() -> w.peerPresentAt(p.subnet(), p.vtepMac()) >= 0, SAMPLE_TIMEOUT_MS)) {
          add.add(AgentBench.ms(w.peerPresentAt(p.subnet(), p.vtepMac()) - t0));
        } else {
          timeouts++;
          add.add((double) SAMPLE_TIMEOUT_MS);
        }
        peers.delete(p);
        w.await(() -> w.peerRemovedAt(p.subnet(), p.vtepMac()) >= 0, SAMPLE_TIMEOUT_MS);
        Thread.sleep(50);
      }
      Stats a = Stats.of(add);
      puts.put(n, a);
      say("%d peers: PUT -> present p50 %.1f ms, p99 %.1f ms (%d timeouts)", n, a.median(), a.pct(99), timeouts);

      // CPU idle, then under 10 renewals a second
      double idle = cpuPercent(agent, cpuSeconds, 0, n);
      double renewing = cpuPercent(agent, cpuSeconds, 10, n);
      say("%d peers: CPU idle %.1f %%, at 10 renewals/s %.1f %% of one core", n, idle, renewing);
      if (!agent.alive()) {
        throw new IllegalStateException("the agent exited; log " + agent.log());
      }
      report.linef("| %,d | %s | %s | %s / **%s** / %s | %d | %.1f | %.1f | %.1f | %s |", n, Stats.fmt(tAll),
          Stats.fmt(tReady), Stats.fmt(a.median()), Stats.fmt(a.pct(99)), Stats.fmt(a.max()), timeouts, rss, idle,
          renewing, AgentBench.loadAvg());
      agent.stop();
      return new double[] {tAll, tReady, rss, idle, renewing};
    } finally {
      h.close();
      synchronized (hosts) {
        hosts.remove(h);
      }
    }
  }

  /** The agent's CPU over {@code seconds} while {@code perSecond} existing peers are re-put each second. */
  private double cpuPercent(AgentRun agent, int seconds, int perSecond, int n) throws Exception {
    long ticks0 = cpuTicks(agent.pid());
    long t0 = System.nanoTime();
    long end = t0 + seconds * 1_000_000_000L;
    int k = 0;
    while (System.nanoTime() < end) {
      long slotStart = System.nanoTime();
      for (int i = 0; i < perSecond; i++) {
        peers.put(peers.peer(1 + (k++ % n)));
      }
      long sleep = 1000 - (System.nanoTime() - slotStart) / 1_000_000;
      if (sleep > 0) {
        Thread.sleep(Math.min(sleep, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
      }
    }
    long ticks = cpuTicks(agent.pid()) - ticks0;
    double wallS = (System.nanoTime() - t0) / 1e9;
    return ticks / 100.0 / wallS * 100.0; // USER_HZ is 100 on Linux
  }

  /** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat). */
  static long cpuTicks(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }

  private void putBulk(int n) throws Exception {
    if (n > bulk) {
      long t0 = System.nanoTime();
      peers.putRangeTxn(1 + bulk, 1 + n);
      say("wrote %d synthetic leases in %.0f ms", n - bulk, AgentBench.ms(System.nanoTime() - t0));
      bulk = n;
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

  static void say(String format, Object... args) {
    System.out.println("scale-bench: " + String.format(Locale.ROOT, format, args));
  }
}
