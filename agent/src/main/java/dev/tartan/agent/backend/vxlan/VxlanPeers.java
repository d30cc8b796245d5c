package dev.tartan.agent.backend.vxlan;

import dev.tartan.agent.backend.BackendDataException;
import dev.tartan.agent.backend.DirectRoutes;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.routing.DesiredState;
import dev.tartan.agent.routing.PeerEntries;
import dev.tartan.agent.routing.PeerSpec;
import dev.tartan.agent.routing.DesiredState.Conflict;
import dev.tartan.agent.routing.DesiredState.Skipped;
import dev.tartan.agent.routing.DesiredState.Absent;
import dev.tartan.net.IpSubnet;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.store.SubnetLease;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The pure part of the VXLAN backend (flannel's {@code handleSubnetEvents} as a function): for
 * every remote vxlan lease, neighbour {@code S0 -> VtepMAC} (permanent), FDB {@code VtepMAC ->
 * PublicIP} and route {@code S via S0 dev D onlink proto tartan} (docs/flannel-compat.md §2.4).
 *
 * <p>Left out: our own subnet; leases whose BackendType is not {@code vxlan} or whose BackendData
 * cannot be decoded ({@link DesiredState#skipped()}); leases that overlap a subnet already taken
 * or reuse a VtepMAC already taken ({@link DesiredState#conflicts()}). Leases are considered in
 * subnet order (address, then prefix length), so the winner of a conflict does not depend on the
 * order the leases arrived in: the lower (or, at the same address, the larger) subnet wins, and our
 * own subnet always wins.
 *
 * <p>DirectRouting (docs/flannel-compat.md §2.6): with an {@link DirectRoutes.OnLink} test, a peer
 * whose public IP is on-link gets only the direct route {@code S via PublicIP dev <underlay>
 * proto tartan} instead of the three entries; its VtepMAC then takes part in no conflict (it has
 * no FDB entry).
 */
public final class VxlanPeers {
  private VxlanPeers() {}

  public static DesiredState desired(Ipv4Subnet ownSubnet, int deviceIndex,
      Collection<SubnetLease> leases) {
    return desired(ownSubnet, deviceIndex, 0, null, leases);
  }

  /**
   * @param underlay ifindex of the external interface (direct routes), or 0 without DirectRouting
   * @param onLink   the on-link test, or null without DirectRouting
   */
  public static DesiredState desired(Ipv4Subnet ownSubnet, int deviceIndex, int underlay,
      DirectRoutes.OnLink onLink, Collection<SubnetLease> leases) {
    List<SubnetLease> sorted = new ArrayList<>(leases);
    sorted.sort(Comparator.comparing(SubnetLease::subnet));
    Set<Neighbour> neighbours = new HashSet<>();
    Set<FdbEntry> fdb = new HashSet<>();
    Set<Route> routes = new HashSet<>();
    List<Skipped> skipped = new ArrayList<>();
    List<Conflict> conflicts = new ArrayList<>();
    Map<String, Ipv4Subnet> macOwner = new HashMap<>();
    Ipv4Subnet last = null; // accepted subnets are disjoint and sorted: only the last can overlap
    for (SubnetLease lease : sorted) {
      Ipv4Subnet s = lease.subnet();
      if (s.equals(ownSubnet)) {
        continue;
      }
      if (ownSubnet != null && s.overlaps(ownSubnet)) {
        conflicts.add(new Conflict(ownSubnet, s, "overlaps our own subnet"));
        continue;
      }
      PeerSpec spec = peer(deviceIndex, underlay, onLink, lease);
      if (spec instanceof Skipped sk) {
        skipped.add(sk);
        continue;
      }
      PeerEntries p = (PeerEntries) spec;
      if (last != null && last.overlaps(s)) {
        conflicts.add(new Conflict(last, s, "overlapping subnets"));
        continue;
      }
      if (!p.isDirect()) {
        Ipv4Subnet macTaken = macOwner.putIfAbsent(p.mac(), s);
        if (macTaken != null) {
          conflicts.add(new Conflict(macTaken, s, "same VtepMAC " + p.mac()));
          continue;
        }
        neighbours.add(p.neighbour());
        fdb.add(p.fdb());
      }
      last = s;
      routes.add(p.route());
    }
    return new DesiredState(deviceIndex, neighbours, fdb, routes, skipped, conflicts, onLink == null ? 0 : underlay);
  }

  /**
   * One lease's entries on device {@code deviceIndex}, or why it is left out (not vxlan,
   * undecodable BackendData, PublicIP 0.0.0.0). Conflicts with other leases are not checked here.
   */
  public static PeerSpec peer(int deviceIndex, SubnetLease lease) {
    return peer(deviceIndex, 0, null, lease);
  }

  /** As {@link #peer(int, SubnetLease)}; with {@code onLink}, an on-link peer gets the direct route. */
  public static PeerSpec peer(int deviceIndex, int underlay, DirectRoutes.OnLink onLink, SubnetLease lease) {
    Ipv4Subnet s = lease.subnet();
    String type = lease.attrs().backendType();
    if (!"vxlan".equals(type)) {
      return new Skipped(s, type == null ? "no BackendType" : "BackendType is \"" + type + "\", not vxlan");
    }
    VxlanLeaseData data;
    try {
      data = VxlanLeaseData.parse(lease.attrs().backendDataJson());
    } catch (BackendDataException e) {
      return new Skipped(s, e.getMessage());
    }
    Inet4Address publicIp = lease.attrs().publicIp();
    if (publicIp.isAnyLocalAddress()) {
      return new Skipped(s, "PublicIP is 0.0.0.0");
    }
    if (onLink != null && onLink.notOnLink(publicIp) == null) {
      return PeerEntries.direct(DirectRoutes.route(s, publicIp, underlay));
    }
    Inet4Address gateway = s.networkAddress();
    return new PeerEntries(Neighbour.permanent(deviceIndex, gateway, data.vtepMac()),
        new FdbEntry(deviceIndex, data.vtepMac(), publicIp), Route.overlay(s, gateway, deviceIndex));
  }

  // ---- IPv6 (dual stack, docs/flannel-compat.md §2.7)

  /**
   * The IPv6 device's entries for every remote lease with an IPv6 part: neighbour {@code S6addr ->
   * BackendV6Data.VtepMAC}, FDB {@code VtepMAC -> PublicIPv6}, route {@code S6 via S6addr dev D
   * onlink proto tartan}. Leases without an IPv6 subnet have none ({@link Absent}, left out
   * silently: mixed networks work). Conflicts as for IPv4, on the IPv6 subnets and VtepMACs;
   * leases are considered in (IPv4) subnet order, our own always wins.
   */
  public static DesiredState desired6(Ipv4Subnet ownSubnet, Ipv6Subnet ownSubnet6, int deviceIndex,
      Collection<SubnetLease> leases) {
    List<SubnetLease> sorted = new ArrayList<>(leases);
    sorted.sort(Comparator.comparing(SubnetLease::subnet));
    Set<Neighbour> neighbours = new HashSet<>();
    Set<FdbEntry> fdb = new HashSet<>();
    Set<Route> routes = new HashSet<>();
    List<Skipped> skipped = new ArrayList<>();
    List<Conflict> conflicts = new ArrayList<>();
    Map<String, Ipv4Subnet> macOwner = new HashMap<>();
    TreeMap<Ipv6Subnet, Ipv4Subnet> taken = new TreeMap<>(); // accepted IPv6 subnets, disjoint
    for (SubnetLease lease : sorted) {
      Ipv4Subnet s = lease.subnet();
      if (s.equals(ownSubnet)) {
        continue;
      }
      PeerSpec spec = peer6(deviceIndex, lease);
      if (spec instanceof Absent) {
        continue;
      }
      if (spec instanceof Skipped sk) {
        skipped.add(sk);
        continue;
      }
      PeerEntries p = (PeerEntries) spec;
      Ipv6Subnet s6 = lease.ipv6Subnet();
      if (ownSubnet6 != null && s6.overlaps(ownSubnet6)) {
        conflicts.add(new Conflict(ownSubnet, s, "IPv6 subnet " + s6 + " overlaps our own " + ownSubnet6));
        continue;
      }
      Map.Entry<Ipv6Subnet, Ipv4Subnet> below = taken.floorEntry(s6);
      Map.Entry<Ipv6Subnet, Ipv4Subnet> above = taken.ceilingEntry(s6);
      Map.Entry<Ipv6Subnet, Ipv4Subnet> clash = below != null && below.getKey().overlaps(s6) ? below
          : above != null && above.getKey().overlaps(s6) ? above : null;
      if (clash != null) {
        conflicts.add(new Conflict(clash.getValue(), s, "overlapping IPv6 subnets " + clash.getKey() + " and " + s6));
        continue;
      }
      Ipv4Subnet macTaken = macOwner.putIfAbsent(p.mac(), s);
      if (macTaken != null) {
        conflicts.add(new Conflict(macTaken, s, "same IPv6 VtepMAC " + p.mac()));
        continue;
      }
      taken.put(s6, s);
      neighbours.add(p.neighbour());
      fdb.add(p.fdb());
      routes.add(p.route());
    }
    // the routes' owners: each accepted IPv6 subnet's lease
    return new DesiredState(deviceIndex, neighbours, fdb, routes, skipped, conflicts,
        new HashMap<IpSubnet, Ipv4Subnet>(taken));
  }

  /**
   * One lease's entries on the IPv6 device {@code deviceIndex}: {@link Absent} without an IPv6
   * subnet, {@link Skipped} when its IPv6 part cannot be programmed (not vxlan, no or undecodable
   * BackendV6Data, no PublicIPv6).
   */
  public static PeerSpec peer6(int deviceIndex, SubnetLease lease) {
    Ipv4Subnet s = lease.subnet();
    Ipv6Subnet s6 = lease.ipv6Subnet();
    if (s6 == null) {
      return new Absent(s);
    }
    String type = lease.attrs().backendType();
    if (!"vxlan".equals(type)) {
      return new Skipped(s, type == null ? "no BackendType" : "BackendType is \"" + type + "\", not vxlan");
    }
    Inet6Address publicIpv6 = lease.attrs().publicIpv6();
    if (publicIpv6 == null || publicIpv6.isAnyLocalAddress()) {
      return new Skipped(s, "IPv6 subnet " + s6 + " without a PublicIPv6");
    }
    VxlanLeaseData data;
    try {
      String json = lease.attrs().backendV6DataJson();
      if (json == null) {
        return new Skipped(s, "IPv6 subnet " + s6 + " without BackendV6Data");
      }
      data = VxlanLeaseData.parse(json);
    } catch (BackendDataException e) {
      return new Skipped(s, "BackendV6Data: " + e.getMessage());
    }
    Inet6Address gateway = s6.networkAddress();
    return new PeerEntries(s, Neighbour.permanent(deviceIndex, gateway, data.vtepMac()),
        new FdbEntry(deviceIndex, data.vtepMac(), publicIpv6), Route.overlay(s6, gateway, deviceIndex));
  }
}
