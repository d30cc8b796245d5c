package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.IpSubnet;
import dev.tartan.net.Ipv4Subnet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What the kernel should hold for the peers on one overlay device: permanent neighbours, FDB
 * entries and {@code proto tartan} routes, all on {@code link}, plus direct routes ({@code S via
 * PublicIP}, not onlink) on the underlay device {@code directLink} (host-gw, VXLAN DirectRouting).
 * Computed by a backend from the leases (see {@code VxlanPeers}, {@code HostGwPeers}) and applied
 * by the {@link Reconciler}.
 *
 * @param link       ifindex of the overlay device the neighbours, FDB entries and overlay routes
 *                   are on; 0 when there is none (host-gw: no neighbours or FDB entries of ours)
 * @param skipped    leases that were left out because they cannot be programmed
 * @param conflicts  leases that were left out because another lease won (overlap, duplicate MAC)
 * @param directLink ifindex of the underlay device direct routes are on, 0 when there are none
 * @param owners     the lease subnet of each route whose destination is not that subnet (the IPv6
 *                   device's routes); empty for IPv4, where the destination is the lease's subnet
 */
public record DesiredState(int link, Set<Neighbour> neighbours, Set<FdbEntry> fdb, Set<Route> routes,
    List<Skipped> skipped, List<Conflict> conflicts, int directLink, Map<IpSubnet, Ipv4Subnet> owners) {

  public DesiredState {
    owners = Map.copyOf(owners);
    neighbours = Set.copyOf(neighbours);
    fdb = Set.copyOf(fdb);
    routes = Set.copyOf(routes);
    skipped = List.copyOf(skipped);
    conflicts = List.copyOf(conflicts);
    for (Neighbour n : neighbours) {
      requireLink(link, n.link(), n);
    }
    for (FdbEntry e : fdb) {
      requireLink(link, e.link(), e);
    }
    for (Route r : routes) {
      if (directLink == 0 || r.link() != directLink || r.onlink()) {
        requireLink(link, r.link(), r);
      }
    }
    if (link == 0 && !(neighbours.isEmpty() && fdb.isEmpty())) {
      throw new IllegalArgumentException("neighbours or FDB entries without an overlay device");
    }
  }

  public DesiredState(int link, Set<Neighbour> neighbours, Set<FdbEntry> fdb, Set<Route> routes,
      List<Skipped> skipped, List<Conflict> conflicts, int directLink) {
    this(link, neighbours, fdb, routes, skipped, conflicts, directLink, Map.of());
  }

  public DesiredState(int link, Set<Neighbour> neighbours, Set<FdbEntry> fdb, Set<Route> routes,
      List<Skipped> skipped, List<Conflict> conflicts, Map<IpSubnet, Ipv4Subnet> owners) {
    this(link, neighbours, fdb, routes, skipped, conflicts, 0, owners);
  }

  public DesiredState(int link, Set<Neighbour> neighbours, Set<FdbEntry> fdb, Set<Route> routes,
      List<Skipped> skipped, List<Conflict> conflicts) {
    this(link, neighbours, fdb, routes, skipped, conflicts, 0, Map.of());
  }

  public DesiredState(int link, Set<Neighbour> neighbours, Set<FdbEntry> fdb, Set<Route> routes) {
    this(link, neighbours, fdb, routes, List.of(), List.of());
  }

  /** The lease subnet (the peer) a desired route belongs to. */
  public Ipv4Subnet owner(Route r) {
    Ipv4Subnet o = owners.get(r.dst());
    if (o != null) {
      return o;
    }
    if (r.dst() instanceof Ipv4Subnet s) {
      return s;
    }
    throw new IllegalArgumentException("no lease subnet for " + r.dst());
  }

  /** Nothing on {@code link}: every entry of ours there is stale. */
  public static DesiredState empty(int link) {
    return new DesiredState(link, Set.of(), Set.of(), Set.of());
  }

  private static void requireLink(int link, int entryLink, Object entry) {
    if (entryLink != link) {
      throw new IllegalArgumentException("entry is on link " + entryLink + ", not " + link + ": " + entry);
    }
  }

  /** Number of peers programmed (one route each). */
  public int peers() {
    return routes.size();
  }

  /** A lease that cannot be programmed (not vxlan, undecodable BackendData, ...). */
  public record Skipped(Ipv4Subnet subnet, String reason) implements PeerSpec {
    public Skipped {
      Objects.requireNonNull(subnet, "subnet");
      Objects.requireNonNull(reason, "reason");
    }
  }

  /**
   * A lease with no entries on this device, and rightly so (an IPv4-only host on the IPv6 device
   * of a dual-stack network): not programmed, not warned about.
   */
  public record Absent(Ipv4Subnet subnet) implements PeerSpec {
    public Absent {
      Objects.requireNonNull(subnet, "subnet");
    }
  }

  /** Two leases that cannot both be programmed; {@code kept} won (deterministically). */
  public record Conflict(Ipv4Subnet kept, Ipv4Subnet dropped, String reason) {
    public Conflict {
      Objects.requireNonNull(kept, "kept");
      Objects.requireNonNull(dropped, "dropped");
      Objects.requireNonNull(reason, "reason");
    }
  }
}
