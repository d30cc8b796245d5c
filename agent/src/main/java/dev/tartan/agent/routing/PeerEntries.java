package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.Ipv4Subnet;
import java.util.Objects;

/**
 * The three kernel entries of one peer on one overlay device: its subnet's network address to its
 * VtepMAC (neighbour), the VtepMAC to its public IP (FDB) and its subnet via that address (route).
 * Added in this order and removed in reverse. On the IPv6 device ({@code flannel-v6.N}) the
 * entries are the lease's IPv6 ones; the peer is still known by its lease's IPv4 subnet.
 *
 * @param peer the lease's (IPv4) subnet, which names the peer
 */
public record PeerEntries(Ipv4Subnet peer, Neighbour neighbour, FdbEntry fdb, Route route) implements PeerSpec {
  public PeerEntries {
    Objects.requireNonNull(peer, "peer");
    Objects.requireNonNull(neighbour, "neighbour");
    Objects.requireNonNull(fdb, "fdb");
    Objects.requireNonNull(route, "route");
  }

  /** The IPv4 entries of the peer whose subnet is the route's destination. */
  public PeerEntries(Neighbour neighbour, FdbEntry fdb, Route route) {
    this(v4(route), neighbour, fdb, route);
  }

  private static Ipv4Subnet v4(Route route) {
    if (route.dst() instanceof Ipv4Subnet s) {
      return s;
    }
    throw new IllegalArgumentException("IPv6 entries need the peer's IPv4 subnet: " + route);
  }

  /** The lease's (IPv4) subnet, the peer's key. */
  public Ipv4Subnet subnet() {
    return peer;
  }

  public String mac() {
    return fdb.mac();
  }

  /** The peer for the log: its subnet, and the IPv6 subnet for IPv6 entries. */
  public String name() {
    return route.dst().equals(peer) ? peer.toString() : peer + " (" + route.dst() + ")";
  }
}
