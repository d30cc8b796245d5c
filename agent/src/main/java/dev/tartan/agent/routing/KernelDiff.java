package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.IpSubnet;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The difference between what the kernel should hold and what it holds, as netlink operations
 * (pure: no I/O, no logging). Two shapes:
 *
 * <ul>
 *   <li>{@link #full}: the whole desired state against a dump of the kernel (start, re-list,
 *       periodic resync, fallback). Entries of ours that are not desired are removed, which also
 *       deletes the FDB entry of a peer's old VtepMAC.
 *   <li>{@link #peer}: one peer's entries before and after a lease event, without reading the
 *       kernel: what was programmed is known. Costs O(1).
 * </ul>
 *
 * A {@link Plan} keeps the safe order: neighbour, FDB, route additions, then route, FDB,
 * neighbour removals (the route last on the way in, or the kernel ARPs for the gateway).
 */
public final class KernelDiff {
  private KernelDiff() {}

  /** Operations, in the order they are sent. Lists are mutable until {@link #sorted()}. */
  public record Plan(List<Neighbour> neighAdd, List<FdbEntry> fdbAdd, List<Route> routeAdd,
      List<Route> routeDel, List<FdbEntry> fdbDel, List<Neighbour> neighDel) {

    public Plan {
      Objects.requireNonNull(neighAdd);
      Objects.requireNonNull(fdbAdd);
      Objects.requireNonNull(routeAdd);
      Objects.requireNonNull(routeDel);
      Objects.requireNonNull(fdbDel);
      Objects.requireNonNull(neighDel);
    }

    public static Plan empty() {
      return new Plan(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>(),
          new ArrayList<>(), new ArrayList<>());
    }

    /** Appends {@code other}'s operations to this plan's lists (each kind keeps its place). */
    public Plan addAll(Plan other) {
      neighAdd.addAll(other.neighAdd);
      fdbAdd.addAll(other.fdbAdd);
      routeAdd.addAll(other.routeAdd);
      routeDel.addAll(other.routeDel);
      fdbDel.addAll(other.fdbDel);
      neighDel.addAll(other.neighDel);
      return this;
    }

    /** Number of operations. */
    public int size() {
      return neighAdd.size() + fdbAdd.size() + routeAdd.size() + routeDel.size() + fdbDel.size()
          + neighDel.size();
    }

    public boolean isEmpty() {
      return size() == 0;
    }

    /** The same operations, each kind in a deterministic order (batch and log lines). */
    public Plan sorted() {
      Comparator<Neighbour> byIp = Comparator.comparing(Neighbour::ip, IpSubnet.ADDRESS_ORDER);
      Comparator<FdbEntry> byMac = Comparator.comparing(FdbEntry::mac);
      Comparator<Route> byDst = Comparator.comparing(Route::dst, IpSubnet.ORDER);
      neighAdd.sort(byIp);
      neighDel.sort(byIp);
      fdbAdd.sort(byMac);
      fdbDel.sort(byMac);
      routeAdd.sort(byDst);
      routeDel.sort(byDst);
      return this;
    }
  }

  /**
   * The entries of ours in the kernel on one device, by key: permanent neighbours by address, FDB
   * entries by MAC (a MAC may have several remotes), {@code proto tartan} routes in the main table
   * by destination.
   */
  public record Actual(Map<InetAddress, Neighbour> neighbours, Map<String, List<FdbEntry>> fdb,
      Map<IpSubnet, List<Route>> routes) {

    /** Keeps what is ours on {@code dev} from three dumps. */
    public static Actual of(int dev, Collection<Neighbour> neighbours, Collection<FdbEntry> fdb,
        Collection<Route> routes) {
      return of(dev, 0, neighbours, fdb, routes);
    }

    /**
     * Keeps what is ours from the dumps: permanent neighbours and FDB entries on {@code dev} (none
     * when it is 0), {@code proto tartan} routes on {@code dev} or {@code directLink} (0: none).
     */
    public static Actual of(int dev, int directLink, Collection<Neighbour> neighbours,
        Collection<FdbEntry> fdb, Collection<Route> routes) {
      Map<InetAddress, Neighbour> n = new HashMap<>();
      Map<String, List<FdbEntry>> f = new HashMap<>();
      if (dev > 0) {
        for (Neighbour x : neighbours) {
          if (x.link() == dev && (x.state() & Neighbour.NUD_PERMANENT) != 0) {
            n.putIfAbsent(x.ip(), x);
          }
        }
        for (FdbEntry e : fdb) {
          if (e.link() == dev) {
            f.computeIfAbsent(e.mac(), k -> new ArrayList<>(1)).add(e);
          }
        }
      }
      Map<IpSubnet, List<Route>> r = new HashMap<>();
      for (Route x : routes) {
        boolean onOurs = (dev > 0 && x.link() == dev) || (directLink > 0 && x.link() == directLink);
        if (onOurs && x.protocol() == Route.PROTO_TARTAN && x.table() == Route.TABLE_MAIN) {
          r.computeIfAbsent(x.dst(), k -> new ArrayList<>(1)).add(x);
        }
      }
      return new Actual(n, f, r);
    }

    public int size() {
      int fdbCount = 0;
      for (List<FdbEntry> l : fdb.values()) {
        fdbCount += l.size();
      }
      int routeCount = 0;
      for (List<Route> l : routes.values()) {
        routeCount += l.size();
      }
      return neighbours.size() + fdbCount + routeCount;
    }
  }

  /** Everything that must change for the kernel ({@code actual}) to match {@code desired}. */
  public static Plan full(DesiredState desired, Actual actual) {
    Plan p = Plan.empty();
    Set<InetAddress> wantedIps = new HashSet<>();
    for (Neighbour n : desired.neighbours()) {
      wantedIps.add(n.ip());
      Neighbour have = actual.neighbours().get(n.ip());
      if (have == null || !have.mac().equals(n.mac())) {
        p.neighAdd().add(n);
      }
    }
    for (Neighbour n : actual.neighbours().values()) {
      if (!wantedIps.contains(n.ip())) {
        p.neighDel().add(n);
      }
    }

    Map<String, FdbEntry> wantedFdb = new HashMap<>();
    for (FdbEntry e : desired.fdb()) {
      wantedFdb.put(e.mac(), e);
      List<FdbEntry> have = actual.fdb().get(e.mac());
      if (have == null || !have.contains(e)) {
        p.fdbAdd().add(e); // replace rewrites the first remote; any further remotes are removed below
      }
    }
    for (Map.Entry<String, List<FdbEntry>> m : actual.fdb().entrySet()) {
      FdbEntry want = wantedFdb.get(m.getKey());
      List<FdbEntry> have = m.getValue();
      if (want == null) {
        p.fdbDel().addAll(have);
      } else if (have.contains(want)) {
        for (FdbEntry e : have) {
          if (!e.equals(want)) {
            p.fdbDel().add(e);
          }
        }
      } else {
        p.fdbDel().addAll(have.subList(1, have.size())); // the first is rewritten by the replace
      }
    }

    Map<IpSubnet, Route> wantedRoutes = new HashMap<>();
    for (Route r : desired.routes()) {
      wantedRoutes.put(r.dst(), r);
      List<Route> have = actual.routes().get(r.dst());
      if (have == null || !have.contains(r)) {
        p.routeAdd().add(r);
      }
    }
    for (Map.Entry<IpSubnet, List<Route>> m : actual.routes().entrySet()) {
      Route want = wantedRoutes.get(m.getKey());
      List<Route> have = m.getValue();
      if (want == null) {
        p.routeDel().addAll(have);
      } else if (have.contains(want)) {
        for (Route r : have) {
          if (!r.equals(want)) {
            p.routeDel().add(r);
          }
        }
      } else {
        p.routeDel().addAll(have.subList(1, have.size())); // the first is rewritten by the replace
      }
    }
    return p.sorted();
  }

  /**
   * One peer's operations when its entries go from {@code before} to {@code after} (either null:
   * the peer is new, or gone). Only entries that differ are written: a new VtepMAC rewrites the
   * neighbour, adds the FDB entry of the new MAC and deletes the old one; a new public IP rewrites
   * the FDB entry only. A peer switching between VXLAN and a direct route gets its route replaced
   * (same destination) and its neighbour and FDB entry added or deleted.
   */
  public static Plan peer(PeerEntries before, PeerEntries after) {
    Plan p = Plan.empty();
    Neighbour bn = before == null ? null : before.neighbour();
    Neighbour an = after == null ? null : after.neighbour();
    if (an != null && !an.equals(bn)) {
      p.neighAdd().add(an);
    }
    if (bn != null && !bn.equals(an) && (an == null || !an.ip().equals(bn.ip()))) {
      p.neighDel().add(bn);
    }
    FdbEntry bf = before == null ? null : before.fdb();
    FdbEntry af = after == null ? null : after.fdb();
    if (af != null && !af.equals(bf)) {
      p.fdbAdd().add(af);
    }
    if (bf != null && !bf.equals(af) && (af == null || !af.mac().equals(bf.mac()) || af.link() != bf.link())) {
      p.fdbDel().add(bf);
    }
    Route br = before == null ? null : before.route();
    Route ar = after == null ? null : after.route();
    if (ar != null && !ar.equals(br)) {
      p.routeAdd().add(ar);
    }
    if (br != null && !br.equals(ar) && (ar == null || !ar.dst().equals(br.dst()))) {
      p.routeDel().add(br);
    }
    return p;
  }
}
