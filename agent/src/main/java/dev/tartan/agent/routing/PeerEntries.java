package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.net.Ipv4Subnet;
import java.util.Objects;

/**
 * The three kernel entries of one peer: its {@code .0} address to its VtepMAC (neighbour), the
 * VtepMAC to its public IP (FDB) and its subnet via the {@code .0} address (route). Added in this
 * order and removed in reverse.
 */
public record PeerEntries(Neighbour neighbour, FdbEntry fdb, Route route) implements PeerSpec {
  public PeerEntries {
    Objects.requireNonNull(neighbour, "neighbour");
    Objects.requireNonNull(fdb, "fdb");
    Objects.requireNonNull(route, "route");
  }

  public Ipv4Subnet subnet() {
    return route.dst();
  }

  public String mac() {
    return fdb.mac();
  }
}
