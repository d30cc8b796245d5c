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
 * @param addresses6 every IPv6 address (dual stack; else empty)
 * @param routes6    the main table's IPv6 routes (dual stack; else empty)
 * @param neighbours6 the IPv6 device's ({@code flannel-v6.<VNI>}) IPv6 neighbours
 * @param fdb6       the IPv6 device's FDB entries
 */
public record KernelState(List<Link> links, List<Address> addresses, List<Route> routes,
    List<Neighbour> neighbours, List<FdbEntry> fdb, List<Address> addresses6, List<Route> routes6,
    List<Neighbour> neighbours6, List<FdbEntry> fdb6) {

  public KernelState {
    links = List.copyOf(links);
    addresses = List.copyOf(addresses);
    routes = List.copyOf(routes);
    neighbours = List.copyOf(neighbours);
    fdb = List.copyOf(fdb);
    addresses6 = List.copyOf(addresses6);
    routes6 = List.copyOf(routes6);
    neighbours6 = List.copyOf(neighbours6);
    fdb6 = List.copyOf(fdb6);
  }

  /** IPv4 only. */
  public KernelState(List<Link> links, List<Address> addresses, List<Route> routes, List<Neighbour> neighbours,
      List<FdbEntry> fdb) {
    this(links, addresses, routes, neighbours, fdb, List.of(), List.of(), List.of(), List.of());
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

  /**
   * {@link #read(RtNetlink, String)} and, for a dual-stack network, {@code ip -6 addr}, {@code ip -6
   * route show table main} and the neighbours and FDB entries of {@code deviceName6}.
   */
  public static KernelState read(RtNetlink nl, String deviceName, String deviceName6) throws NetlinkException {
    KernelState v4 = read(nl, deviceName);
    Optional<Link> dev6 = v4.link(deviceName6);
    List<Neighbour> neighbours6 = new ArrayList<>();
    List<FdbEntry> fdb6 = new ArrayList<>();
    if (dev6.isPresent()) {
      int index = dev6.get().index();
      nl.neighbours6(index).stream().filter(n -> n.link() == index).forEach(neighbours6::add);
      nl.fdb(index).stream().filter(e -> e.link() == index).forEach(fdb6::add);
    }
    return new KernelState(v4.links(), v4.addresses(), v4.routes(), v4.neighbours(), v4.fdb(), nl.addresses6(0),
        nl.routes6(Route.TABLE_MAIN, 0), neighbours6, fdb6);
  }

  /** The IPv6 addresses of one link. */
  public List<Address> addresses6Of(int index) {
    return addresses6.stream().filter(a -> a.link() == index).toList();
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
