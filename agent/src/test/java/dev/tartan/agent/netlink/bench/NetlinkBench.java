package dev.tartan.agent.netlink.bench;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.TestNetns;
import dev.tartan.agent.netlink.rtnl.Batch;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.netlink.rtnl.RtNetlinkClient;
import dev.tartan.agent.netlink.rtnl.VxlanSpec;
import dev.tartan.net.Ipv4Subnet;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Programming N peers (flannel's per-peer triple: ARP entry, FDB entry, onlink route = 3N
 * rtnetlink operations) on a vxlan device in a throw-away namespace, batched ({@link Batch}) and
 * one request at a time. Prints ops/s and total time per phase (median of the rounds).
 *
 * <p>Run with {@code scripts/bench-netlink.sh [peers] [rounds]} (root). Peer i gets the /29
 * {@code 10.244.0.0 + 8i} (5,000 peers do not fit in /24s of 10.244.0.0/16), gateway its network
 * address, a unique MAC, and a TEST-NET underlay address as FDB dst. Only the namespace this
 * program creates is touched; it is removed on exit.
 */
public final class NetlinkBench {
  private record Peer(Neighbour arp, FdbEntry fdb, Route route) {}

  private static double median(double[] values) {
    double[] m = values.clone();
    Arrays.sort(m);
    return m[m.length / 2];
  }

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  /** Wall and CPU (user + system, this thread: the kernel runs rtnetlink requests in send(2)). */
  private static final class Clock {
    private long wall;
    private long cpu;

    void start() {
      cpu = THREADS.getCurrentThreadCpuTime();
      wall = System.nanoTime();
    }

    void stop(double[] wallOut, double[] cpuOut, int round) {
      wallOut[round] = (System.nanoTime() - wall) / 1e6;
      cpuOut[round] = (THREADS.getCurrentThreadCpuTime() - cpu) / 1e6;
    }
  }

  public static void main(String[] args) throws Exception {
    int peers = args.length > 0 ? Integer.parseInt(args[0]) : 5000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    if (peers < 1 || peers > 8192) {
      throw new IllegalArgumentException("peers must be 1..8192 (/29s of 10.244.0.0/16)");
    }
    TestNetns ns = TestNetns.create();
    try {
      ns.addUnderlay("nlb-under", "198.51.100.1/24");
      try (RtNetlinkClient rtnl = RtNetlinkClient.openInNamespace(ns.path())) {
        run(rtnl, peers, rounds, ns);
      }
    } finally {
      ns.close();
    }
  }

  private static void run(RtNetlinkClient rtnl, int n, int rounds, TestNetns ns) throws Exception {
    Link under = rtnl.linkByName("nlb-under").orElseThrow();
    Link vx = rtnl.createVxlan(new VxlanSpec("nlb-vx", 1, Ipv4Subnet.toInet(Ipv4Subnet.parseAddress("198.51.100.1")),
        under.index(), 8472, false, false, null, 0, null));
    rtnl.setUp(vx.index(), true);
    List<Peer> all = peers(vx.index(), n);

    // warm-up: JIT the encoders and the socket path
    for (int i = 0; i < 3; i++) {
      List<Peer> few = all.subList(0, Math.min(n, 1000));
      checkNoFailures(addBatch(rtnl, few).execute());
      checkNoFailures(deleteBatch(rtnl, few).execute());
      addOneByOne(rtnl, few);
      deleteOneByOne(rtnl, few);
    }

    double[][] wall = new double[5][rounds];
    double[][] cpu = new double[5][rounds];
    Clock clock = new Clock();
    for (int r = 0; r < rounds; r++) {
      clock.start(); // encoding included
      checkNoFailures(addBatch(rtnl, all).execute());
      clock.stop(wall[0], cpu[0], r);
      verify(rtnl, vx.index(), n);

      clock.start(); // encoding included
      checkNoFailures(addBatch(rtnl, all).execute());
      clock.stop(wall[1], cpu[1], r);
      verify(rtnl, vx.index(), n);

      clock.start(); // encoding included
      checkNoFailures(deleteBatch(rtnl, all).execute());
      clock.stop(wall[2], cpu[2], r);
      verify(rtnl, vx.index(), 0);

      clock.start();
      addOneByOne(rtnl, all);
      clock.stop(wall[3], cpu[3], r);
      verify(rtnl, vx.index(), n);

      clock.start();
      deleteOneByOne(rtnl, all);
      clock.stop(wall[4], cpu[4], r);
      verify(rtnl, vx.index(), 0);
    }

    // cross-check one peer with iproute2's view
    checkNoFailures(addBatch(rtnl, all.subList(0, 1)).execute());
    String shown = ns.ip("route", "show", "proto", "111");
    if (!shown.contains("10.244.0.0/29 via 10.244.0.0 dev nlb-vx")) {
      throw new IllegalStateException("ip route does not show the programmed route: " + shown);
    }

    int ops = 3 * n;
    String[] phases = {"batched add (neigh+fdb+route)", "batched re-apply (resync, all exist)", "batched delete",
        "unbatched add", "unbatched delete"};
    System.out.printf(Locale.ROOT, "%n%d peers = %d rtnetlink operations per phase, %d rounds, median (load average %.1f):%n",
        n, ops, rounds, ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    System.out.printf(Locale.ROOT, "%-38s %9s %9s %10s   %s%n", "phase", "wall ms", "cpu ms", "ops/s", "wall ms per round");
    for (int p = 0; p < phases.length; p++) {
      double med = median(wall[p]);
      StringBuilder each = new StringBuilder();
      for (double m : wall[p]) {
        each.append(String.format(Locale.ROOT, "%.0f ", m));
      }
      System.out.printf(Locale.ROOT, "%-38s %9.1f %9.1f %10.0f   %s%n", phases[p], med, median(cpu[p]),
          ops / (med / 1000.0), each);
    }
    System.out.println("(cpu = user+system time of the sending thread; the kernel does the rtnetlink work inside send(2),"
        + " so it is load-independent where wall time is not)");
  }

  private static List<Peer> peers(int vx, int n) {
    int base = Ipv4Subnet.parseAddress("10.244.0.0");
    int[] underlays = {Ipv4Subnet.parseAddress("198.51.100.2"), Ipv4Subnet.parseAddress("203.0.113.1")};
    List<Peer> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Ipv4Subnet subnet = new Ipv4Subnet(base + 8 * i, 29);
      Inet4Address gw = subnet.networkAddress();
      String mac = String.format("02:42:00:00:%02x:%02x", ((i + 1) >> 8) & 0xff, (i + 1) & 0xff);
      Inet4Address dst = Ipv4Subnet.toInet(underlays[i % 2] + (i / 2) % 250);
      out.add(new Peer(Neighbour.permanent(vx, gw, mac), new FdbEntry(vx, mac, dst), Route.overlay(subnet, gw, vx)));
    }
    return out;
  }

  private static Batch addBatch(RtNetlinkClient rtnl, List<Peer> peers) {
    Batch b = rtnl.batch();
    for (Peer p : peers) {
      b.replaceNeighbour(p.arp()).replaceFdb(p.fdb()).replaceRoute(p.route());
    }
    return b;
  }

  private static Batch deleteBatch(RtNetlinkClient rtnl, List<Peer> peers) {
    Batch b = rtnl.batch();
    for (Peer p : peers) {
      b.deleteRoute(p.route()).deleteFdb(p.fdb()).deleteNeighbour(p.arp());
    }
    return b;
  }

  private static void addOneByOne(RtNetlinkClient rtnl, List<Peer> peers) throws NetlinkException {
    for (Peer p : peers) {
      rtnl.replaceNeighbour(p.arp());
      rtnl.replaceFdb(p.fdb());
      rtnl.replaceRoute(p.route());
    }
  }

  private static void deleteOneByOne(RtNetlinkClient rtnl, List<Peer> peers) throws NetlinkException {
    for (Peer p : peers) {
      rtnl.deleteRoute(p.route());
      rtnl.deleteFdb(p.fdb());
      rtnl.deleteNeighbour(p.arp());
    }
  }

  private static void checkNoFailures(List<Batch.Failure> failures) {
    if (!failures.isEmpty()) {
      throw new IllegalStateException(failures.size() + " failures, first: " + failures.get(0));
    }
  }

  private static void verify(RtNetlinkClient rtnl, int vx, int n) throws NetlinkException {
    int routes = rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN).size();
    int arp = rtnl.neighbours(vx).size();
    int fdb = rtnl.fdb(vx).size();
    if (routes != n || arp != n || fdb != n) {
      throw new IllegalStateException("expected " + n + " of each, found routes " + routes + ", neighbours " + arp
          + ", fdb " + fdb);
    }
  }
}
