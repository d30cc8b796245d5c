package dev.tartan.agent.backend.hostgw;

import dev.tartan.agent.backend.DirectRoutes;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.routing.DesiredState;
import dev.tartan.agent.routing.DesiredState.Conflict;
import dev.tartan.agent.routing.DesiredState.Skipped;
import dev.tartan.agent.routing.PeerEntries;
import dev.tartan.agent.routing.PeerSpec;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.SubnetLease;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The host-gw backend's peers (flannel's {@code RouteNetwork} for {@code host-gw}): for every
 * remote {@code host-gw} lease, the route {@code S via PublicIP dev <ext iface> proto tartan}; no
 * neighbours, no FDB entries, no device.
 *
 * <p>Left out: our own subnet; leases of other backend types and leases whose PublicIP is 0.0.0.0
 * or not on-link ({@link DesiredState#skipped()}: flannel's route add would fail with "network is
 * unreachable"); leases overlapping a subnet already taken ({@link DesiredState#conflicts()}),
 * decided in subnet order as for VXLAN.
 */
public final class HostGwPeers {
  /** The lease's {@code BackendType}. */
  public static final String TYPE = "host-gw";

  private HostGwPeers() {}

  public static DesiredState desired(Ipv4Subnet ownSubnet, int underlay, DirectRoutes.OnLink onLink,
      Collection<SubnetLease> leases) {
    List<SubnetLease> sorted = new ArrayList<>(leases);
    sorted.sort(Comparator.comparing(SubnetLease::subnet));
    Set<Route> routes = new HashSet<>();
    List<Skipped> skipped = new ArrayList<>();
    List<Conflict> conflicts = new ArrayList<>();
    Ipv4Subnet last = null;
    for (SubnetLease lease : sorted) {
      Ipv4Subnet s = lease.subnet();
      if (s.equals(ownSubnet)) {
        continue;
      }
      if (ownSubnet != null && s.overlaps(ownSubnet)) {
        conflicts.add(new Conflict(ownSubnet, s, "overlaps our own subnet"));
        continue;
      }
      PeerSpec spec = peer(underlay, onLink, lease);
      if (spec instanceof Skipped sk) {
        skipped.add(sk);
        continue;
      }
      if (last != null && last.overlaps(s)) {
        conflicts.add(new Conflict(last, s, "overlapping subnets"));
        continue;
      }
      last = s;
      routes.add(((PeerEntries) spec).route());
    }
    return new DesiredState(0, Set.of(), Set.of(), routes, skipped, conflicts, underlay);
  }

  /** One lease's route, or why it is left out. Conflicts with other leases are not checked here. */
  public static PeerSpec peer(int underlay, DirectRoutes.OnLink onLink, SubnetLease lease) {
    Ipv4Subnet s = lease.subnet();
    String type = lease.attrs().backendType();
    if (!TYPE.equals(type)) {
      return new Skipped(s, type == null ? "no BackendType" : "BackendType is \"" + type + "\", not host-gw");
    }
    Inet4Address publicIp = lease.attrs().publicIp();
    if (publicIp.isAnyLocalAddress()) {
      return new Skipped(s, "PublicIP is 0.0.0.0");
    }
    String why = onLink.notOnLink(publicIp);
    if (why != null) {
      return new Skipped(s, "its PublicIP " + publicIp.getHostAddress() + " is not on this host's L2: " + why
          + "; host-gw needs all hosts on one L2 (use vxlan, with DirectRouting for the hosts that share one)");
    }
    return PeerEntries.direct(DirectRoutes.route(s, publicIp, underlay));
  }
}
