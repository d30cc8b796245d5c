package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.Ipv4Subnet;
import java.net.InetAddress;
import java.util.Objects;

/**
 * The kernel entries of one peer on one overlay device. Over VXLAN three: its subnet's network
 * address to its VtepMAC (neighbour), the VtepMAC to its public IP (FDB) and its subnet via that
 * address (route), added in this order and removed in reverse. Direct (host-gw, or VXLAN
 * DirectRouting to a peer on-link): only the route {@code S via PublicIP dev <underlay>}; neighbour
 * and FDB are null. On the IPv6 device ({@code flannel-v6.N}) the entries are the lease's IPv6
 * ones; the peer is still known by its lease's IPv4 subnet.
 *
 * @param peer the lease's (IPv4) subnet, which names the peer
 */
public record PeerEntries(Ipv4Subnet peer, Neighbour neighbour, FdbEntry fdb, Route route) implements PeerSpec {
  public PeerEntries {
    Objects.requireNonNull(peer, "peer");
    Objects.requireNonNull(route, "route");
    if ((neighbour == null) != (fdb == null)) {
      throw new IllegalArgumentException("a peer has both a neighbour and an FDB entry, or neither");
    }
    if (neighbour == null && (route.gateway() == null || route.onlink())) {
      throw new IllegalArgumentException("a direct route goes via the peer's public IP, not onlink: " + route);
    }
  }

  /** The IPv4 entries of the peer whose subnet is the route's destination. */
  public PeerEntries(Neighbour neighbour, FdbEntry fdb, Route route) {
    this(v4(route), neighbour, fdb, route);
  }

  /** A peer reached by the direct route {@code r} alone ({@code S via PublicIP dev <underlay>}). */
  public static PeerEntries direct(Route r) {
    return new PeerEntries(null, null, r);
  }

  private static Ipv4Subnet v4(Route route) {
    Objects.requireNonNull(route, "route");
    if (route.dst() instanceof Ipv4Subnet s) {
      return s;
    }
    throw new IllegalArgumentException("IPv6 entries need the peer's IPv4 subnet: " + route);
  }

  /** True for a peer reached by a direct route (no neighbour, no FDB entry). */
  public boolean isDirect() {
    return neighbour == null;
  }

  /** The lease's (IPv4) subnet, the peer's key. */
  public Ipv4Subnet subnet() {
    return peer;
  }

  /** The VtepMAC, or null for a direct peer. */
  public String mac() {
    return fdb == null ? null : fdb.mac();
  }

  /** The peer's public IP: the FDB entry's destination, or the direct route's gateway. */
  public InetAddress publicIp() {
    return fdb == null ? route.gateway() : fdb.dst();
  }

  /** The peer for the log: its subnet, and the IPv6 subnet for IPv6 entries. */
  public String name() {
    return route.dst().equals(peer) ? peer.toString() : peer + " (" + route.dst() + ")";
  }
}
