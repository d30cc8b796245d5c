package dev.tartan.agent.iface;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.net.Ipv4Subnet;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Refuses an overlay Network that overlaps a network this host already sits on (its underlay, a
 * docker bridge, ...): routes to the overlay would then capture the host's own traffic, or the
 * other way round. The overlay's own devices ({@code flannel.1}, {@code cni0}) are left out:
 * their addresses lie inside the Network by design.
 */
public final class NetworkOverlap {
  private NetworkOverlap() {}

  /** An address of the host whose network overlaps the overlay Network. */
  public record Conflict(String link, Address address) {
    public Ipv4Subnet hostNetwork() {
      return Ipv4Subnet.of(address.ipv4(), address.prefixLength());
    }
  }

  /**
   * The first address (by link name, then address) whose network overlaps {@code network}, among
   * the addresses of links not in {@code ownLinks}. Pure.
   *
   * @param linkNames ifindex to name
   */
  public static Optional<Conflict> find(Ipv4Subnet network, List<Address> addresses, Map<Integer, String> linkNames,
      Set<String> ownLinks) {
    List<Conflict> out = new ArrayList<>();
    for (Address a : addresses) {
      String name = linkNames.getOrDefault(a.link(), "ifindex " + a.link());
      if (ownLinks.contains(name)) {
        continue;
      }
      if (Ipv4Subnet.of(a.ipv4(), a.prefixLength()).overlaps(network)) {
        out.add(new Conflict(name, a));
      }
    }
    out.sort(Comparator.comparing(Conflict::link).thenComparing(c -> Integer.toUnsignedLong(
        Ipv4Subnet.toInt(c.address().ipv4()))));
    return out.stream().findFirst();
  }

  /** The one-line refusal for {@code c}. */
  public static String message(Ipv4Subnet network, Conflict c) {
    return "the network config's Network " + network + " overlaps " + c.hostNetwork() + " of interface " + c.link()
        + " (address " + c.address().address().getHostAddress() + "/" + c.address().prefixLength()
        + ") on this host: choose a Network that contains none of the host's own networks "
        + "(tartan network init --network CIDR on a fresh prefix)";
  }

  /**
   * Reads the host's IPv4 addresses and links and checks them.
   *
   * @throws InterfaceSelectionException with {@link #message} on a conflict
   */
  public static void check(RtNetlink nl, Ipv4Subnet network, Set<String> ownLinks)
      throws InterfaceSelectionException, NetlinkException {
    Map<Integer, String> names = new HashMap<>();
    for (Link l : nl.links()) {
      names.put(l.index(), l.name());
    }
    Optional<Conflict> c = find(network, nl.addresses(0), names, ownLinks);
    if (c.isPresent()) {
      throw new InterfaceSelectionException(message(network, c.get()));
    }
  }
}
