package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.util.Objects;

/**
 * The kernel entries of one peer. Over VXLAN three: its {@code .0} address to its VtepMAC
 * (neighbour), the VtepMAC to its public IP (FDB) and its subnet via the {@code .0} address
 * (route), added in this order and removed in reverse. Direct (host-gw, or VXLAN DirectRouting to
 * a peer on-link): only the route {@code S via PublicIP dev <underlay>}; neighbour and FDB are
 * null.
 */
public record PeerEntries(Neighbour neighbour, FdbEntry fdb, Route route) implements PeerSpec {
  public PeerEntries {
    Objects.requireNonNull(route, "route");
    if ((neighbour == null) != (fdb == null)) {
      throw new IllegalArgumentException("a peer has both a neighbour and an FDB entry, or neither");
    }
    if (neighbour == null && (route.gateway() == null || route.onlink())) {
      throw new IllegalArgumentException("a direct route goes via the peer's public IP, not onlink: " + route);
    }
  }

  /** A peer reached by the direct route {@code r} alone ({@code S via PublicIP dev <underlay>}). */
  public static PeerEntries direct(Route r) {
    return new PeerEntries(null, null, r);
  }

  /** True for a peer reached by a direct route (no neighbour, no FDB entry). */
  public boolean isDirect() {
    return neighbour == null;
  }

  public Ipv4Subnet subnet() {
    return route.dst();
  }

  /** The VtepMAC, or null for a direct peer. */
  public String mac() {
    return fdb == null ? null : fdb.mac();
  }

  /** The peer's public IP: the FDB entry's destination, or the direct route's gateway. */
  public Inet4Address publicIp() {
    return fdb == null ? route.gateway() : fdb.dst();
  }
}
