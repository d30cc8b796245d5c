package dev.tartan.agent.doctor;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What {@code tartan doctor} read from this host's kernel: every link and IPv4 address, the main
 * table's routes (every protocol), and the neighbours and FDB entries of the overlay device.
 *
 * @param neighbours the overlay device's neighbours (empty when it does not exist)
 * @param fdb        the overlay device's FDB entries (empty when it does not exist)
 */
public record KernelState(List<Link> links, List<Address> addresses, List<Route> routes,
    List<Neighbour> neighbours, List<FdbEntry> fdb) {

  public KernelState {
    links = List.copyOf(links);
    addresses = List.copyOf(addresses);
    routes = List.copyOf(routes);
    neighbours = List.copyOf(neighbours);
    fdb = List.copyOf(fdb);
  }

  /**
   * Reads it: {@code ip link}, {@code ip -4 addr}, {@code ip -4 route show table main}, and for
   * {@code deviceName} {@code ip neigh show dev} and {@code bridge fdb show dev}.
   */
  public static KernelState read(RtNetlink nl, String deviceName) throws NetlinkException {
    List<Link> links = nl.links();
    Optional<Link> dev = links.stream().filter(l -> l.name().equals(deviceName)).findFirst();
    List<Neighbour> neighbours = new ArrayList<>();
    List<FdbEntry> fdb = new ArrayList<>();
    if (dev.isPresent()) {
      int index = dev.get().index();
      nl.neighbours(index).stream().filter(n -> n.link() == index).forEach(neighbours::add);
      nl.fdb(index).stream().filter(e -> e.link() == index).forEach(fdb::add);
    }
    return new KernelState(links, nl.addresses(0), nl.routes(Route.TABLE_MAIN, 0), neighbours, fdb);
  }

  public Optional<Link> link(String name) {
    return links.stream().filter(l -> l.name().equals(name)).findFirst();
  }

  public Optional<Link> link(int index) {
    return links.stream().filter(l -> l.index() == index).findFirst();
  }

  /** The IPv4 addresses of one link. */
  public List<Address> addressesOf(int index) {
    return addresses.stream().filter(a -> a.link() == index).toList();
  }

  /** The name of link {@code index}, or its number when there is no such link. */
  String nameOf(int index) {
    return link(index).map(Link::name).orElse(Integer.toString(index));
  }
}
