package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.IpSubnet;
import dev.tartan.net.Ipv4Subnet;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the {@link PeerSync} has programmed, per peer, looked up by subnet, gateway and VtepMAC.
 * Written by the sync's pass (before its batch is sent, so the kernel's notifications of our own
 * writes are recognised); read by the {@link DriftWatcher} on the monitor's thread.
 */
final class ProgrammedPeers implements DriftWatcher.Programmed {
  private final Map<Ipv4Subnet, PeerEntries> bySubnet = new ConcurrentHashMap<>();
  private final Map<IpSubnet, PeerEntries> byDst = new ConcurrentHashMap<>();
  private final Map<InetAddress, PeerEntries> byGateway = new ConcurrentHashMap<>();
  private final Map<String, PeerEntries> byMac = new ConcurrentHashMap<>();
  private volatile int link = -1;

  PeerEntries get(Ipv4Subnet subnet) {
    return bySubnet.get(subnet);
  }

  PeerEntries byMac(String mac) {
    return byMac.get(mac);
  }

  /** Every peer programmed now, by subnet (a copy). */
  Map<Ipv4Subnet, PeerEntries> copy() {
    return new HashMap<>(bySubnet);
  }

  int size() {
    return bySubnet.size();
  }

  void put(PeerEntries p) {
    bySubnet.put(p.subnet(), p);
    byDst.put(p.route().dst(), p);
    if (!p.isDirect()) {
      byGateway.put(p.neighbour().ip(), p);
      byMac.put(p.mac(), p);
    }
  }

  void remove(PeerEntries p) {
    if (p == null) {
      return;
    }
    bySubnet.remove(p.subnet(), p);
    byDst.remove(p.route().dst(), p);
    if (!p.isDirect()) {
      byGateway.remove(p.neighbour().ip(), p);
      byMac.remove(p.mac(), p);
    }
  }

  /** Becomes a whole desired state (a full pass); entries that did not change stay the same objects. */
  void replaceWith(DesiredState desired) {
    link = desired.link();
    Map<InetAddress, Neighbour> neigh = new HashMap<>();
    for (Neighbour n : desired.neighbours()) {
      neigh.put(n.ip(), n);
    }
    Map<String, FdbEntry> fdb = new HashMap<>();
    for (FdbEntry e : desired.fdb()) {
      fdb.put(e.mac(), e);
    }
    Set<Ipv4Subnet> seen = new HashSet<>();
    for (Route r : desired.routes()) {
      PeerEntries p;
      if (desired.directLink() > 0 && r.link() == desired.directLink() && !r.onlink()) {
        p = new PeerEntries(desired.owner(r), null, null, r);
      } else {
        Neighbour n = r.gateway() == null ? null : neigh.get(r.gateway());
        FdbEntry e = n == null ? null : fdb.get(n.mac());
        if (e == null) {
          continue;
        }
        p = new PeerEntries(desired.owner(r), n, e, r);
      }
      PeerEntries old = bySubnet.get(p.subnet());
      if (!p.equals(old)) {
        remove(old);
        put(p);
      }
      seen.add(p.subnet());
    }
    for (PeerEntries old : List.copyOf(bySubnet.values())) {
      if (!seen.contains(old.subnet())) {
        remove(old);
      }
    }
  }

  /**
   * What is programmed now as a desired state on the device of {@code computed} (the last state
   * computed from the leases), with its skipped and conflicting leases.
   */
  DesiredState asDesired(DesiredState computed) {
    Set<Neighbour> n = new HashSet<>();
    Set<FdbEntry> f = new HashSet<>();
    Set<Route> r = new HashSet<>();
    Map<IpSubnet, Ipv4Subnet> owners = new HashMap<>();
    for (PeerEntries p : bySubnet.values()) {
      if (!p.isDirect()) {
        n.add(p.neighbour());
        f.add(p.fdb());
      }
      r.add(p.route());
      if (!p.route().dst().equals(p.subnet())) {
        owners.put(p.route().dst(), p.subnet());
      }
    }
    return new DesiredState(computed.link(), n, f, r, computed.skipped(), computed.conflicts(),
        computed.directLink(), owners);
  }

  /** True when {@code entry} is one of the entries programmed now (a repair may write it again). */
  boolean contains(Object entry) {
    if (entry instanceof Route r) {
      return r.equals(route(r.dst()));
    }
    if (entry instanceof Neighbour n) {
      return n.equals(neighbour(n.ip()));
    }
    if (entry instanceof FdbEntry e) {
      return e.equals(fdb(e.mac()));
    }
    return false;
  }

  @Override
  public int link() {
    return link;
  }

  @Override
  public Route route(IpSubnet dst) {
    PeerEntries p = byDst.get(dst);
    return p == null ? null : p.route();
  }

  @Override
  public Neighbour neighbour(InetAddress ip) {
    PeerEntries p = byGateway.get(ip);
    return p == null ? null : p.neighbour();
  }

  @Override
  public FdbEntry fdb(String mac) {
    PeerEntries p = byMac.get(mac);
    return p == null ? null : p.fdb();
  }
}
