package dev.tartan.agent.iface;

import static java.util.Objects.requireNonNull;

import dev.tartan.agent.config.AgentConfig;
import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Picks the external interface with flannel's rules (docs/flannel-compat.md §2.1), first match wins:
 *
 * <ol>
 *   <li>each {@code --iface} in order: an IP (the interface holding it; that IP is the interface
 *       address) or a name;
 *   <li>each {@code --iface-regex} in order: the first interface with a usable address the regex
 *       finds, else the first interface whose name it finds;
 *   <li>{@code --iface-can-reach}: the interface of the longest-prefix route to that IP in the main
 *       table;
 *   <li>only when none of the three is given: the interface holding {@code --public-ip} (it must be
 *       local), else the interface of the IPv4 default route.
 * </ol>
 *
 * An interface qualifies only with a usable IPv4 address (global or link-local unicast; global
 * first). The public IP is {@code --public-ip} or the interface address.
 */
public final class ExternalInterfaceSelector {
  private static final Logger log = LoggerFactory.getLogger(ExternalInterfaceSelector.class);
  private static final Ipv4Subnet LINK_LOCAL = Ipv4Subnet.parse("169.254.0.0/16");
  private static final Ipv4Subnet LOOPBACK = Ipv4Subnet.parse("127.0.0.0/8");
  private static final Ipv4Subnet MULTICAST = Ipv4Subnet.parse("224.0.0.0/4");

  private final RtNetlink netlink;

  public ExternalInterfaceSelector(RtNetlink netlink) {
    this.netlink = requireNonNull(netlink, "netlink");
  }

  /** With {@code --iface}, {@code --iface-regex}, {@code --iface-can-reach} and {@code --public-ip}. */
  public ExternalInterface select(AgentConfig config) throws InterfaceSelectionException {
    return select(config.iface(), config.ifaceRegex(), config.ifaceCanReach(), config.publicIp());
  }

  /**
   * @param iface      names or IPv4 addresses, tried in order (may be empty)
   * @param ifaceRegex regular expressions, tried in order (may be empty)
   * @param canReach   an address whose route decides, or null
   * @param publicIp   the address to publish, or null for the interface address
   * @throws InterfaceSelectionException when nothing qualifies (the message lists what was tried)
   */
  public ExternalInterface select(List<String> iface, List<String> ifaceRegex,
      Inet4Address canReach, Inet4Address publicIp) throws InterfaceSelectionException {
    try {
      State s = new State(netlink);
      Found found = find(s, iface, ifaceRegex, canReach, publicIp);
      if (found.link.mtu() <= 0) {
        throw new InterfaceSelectionException("interface " + found.link.name() + " reports MTU "
            + found.link.mtu() + ": cannot size the vxlan device; fix the interface or pick another");
      }
      Inet4Address pub = publicIp != null ? publicIp : found.address;
      boolean local = s.addresses.stream().anyMatch(a -> a.address().equals(pub));
      ExternalInterface ext = new ExternalInterface(found.link.index(), found.link.name(),
          found.link.mtu(), found.address, pub, local);
      log.info("external interface {} (chosen {})", ext, found.how);
      return ext;
    } catch (NetlinkException e) {
      throw new InterfaceSelectionException("cannot list interfaces, addresses or routes: "
          + e.getMessage(), e);
    }
  }

  /**
   * The IPv6 addresses of a dual-stack host on the chosen interface {@code ext}: its first global
   * IPv6 address (not link-local, loopback or multicast), published unless {@code publicIpv6} is
   * given. A {@code publicIpv6} that is an address of {@code ext} is the interface address too.
   *
   * @throws InterfaceSelectionException when the interface has no global IPv6 address
   */
  public Ipv6Underlay selectIpv6(ExternalInterface ext, Inet6Address publicIpv6)
      throws InterfaceSelectionException {
    List<Address> all;
    try {
      all = netlink.addresses6(0);
    } catch (NetlinkException e) {
      throw new InterfaceSelectionException("cannot list IPv6 addresses: " + e.getMessage(), e);
    }
    List<Inet6Address> onIface = new ArrayList<>();
    for (Address a : all) {
      if (a.link() == ext.index() && a.address() instanceof Inet6Address v6 && globalUnicast(v6)) {
        onIface.add(v6);
      }
    }
    boolean local = publicIpv6 != null && all.stream().anyMatch(a -> a.address().equals(publicIpv6));
    Inet6Address address = publicIpv6 != null && onIface.contains(publicIpv6) ? publicIpv6
        : onIface.isEmpty() ? null : onIface.get(0);
    if (address == null) {
      throw new InterfaceSelectionException("the network config has EnableIPv6 but " + ext.name()
          + " has no global IPv6 address: add one (ip -6 addr add ADDR/LEN dev " + ext.name()
          + ") or pick an interface that has one (--iface)");
    }
    Ipv6Underlay u = new Ipv6Underlay(address, publicIpv6 != null ? publicIpv6 : address,
        publicIpv6 == null || local);
    log.info("external interface {} IPv6: {}", ext.name(), u);
    return u;
  }

  private static boolean globalUnicast(Inet6Address a) {
    return !a.isLinkLocalAddress() && !a.isLoopbackAddress() && !a.isMulticastAddress()
        && !a.isAnyLocalAddress();
  }

  private record Found(Link link, Inet4Address address, String how) {}

  /** One consistent read of links, addresses and main-table routes. */
  private static final class State {
    final List<Link> links;
    final List<Address> addresses;
    final List<Route> routes;

    State(RtNetlink nl) throws NetlinkException {
      links = nl.links().stream().sorted(Comparator.comparingInt(Link::index)).toList();
      addresses = nl.addresses(0);
      routes = nl.routes(Route.TABLE_MAIN, 0);
    }

    Optional<Link> byIndex(int index) {
      return links.stream().filter(l -> l.index() == index).findFirst();
    }

    Optional<Link> byName(String name) {
      return links.stream().filter(l -> l.name().equals(name)).findFirst();
    }

    /** Usable IPv4 addresses of a link, global before link-local, else kernel order. */
    List<Inet4Address> usable(int link) {
      List<Inet4Address> global = new ArrayList<>();
      List<Inet4Address> linkLocal = new ArrayList<>();
      for (Address a : addresses) {
        if (a.link() != link) {
          continue;
        }
        int ip = Ipv4Subnet.toInt(a.ipv4());
        if (LINK_LOCAL.contains(ip)) {
          linkLocal.add(a.ipv4());
        } else if (ip != 0 && ip != -1 && !LOOPBACK.contains(ip) && !MULTICAST.contains(ip)) {
          global.add(a.ipv4());
        }
      }
      global.addAll(linkLocal);
      return global;
    }
  }

  private static Found find(State s, List<String> ifaces, List<String> regexes, Inet4Address canReach,
      Inet4Address publicIp) throws InterfaceSelectionException {
    boolean flags = !ifaces.isEmpty() || !regexes.isEmpty() || canReach != null;
    if (!flags) {
      if (publicIp != null) {
        return byAddress(s, publicIp).map(f -> new Found(f.link, f.address, "as holder of --public-ip"))
            .orElseThrow(() -> new InterfaceSelectionException("--public-ip "
                + publicIp.getHostAddress() + " is not an address of this host: when the public IP "
                + "is NATed, choose the interface with --iface (or --iface-regex/--iface-can-reach)"));
      }
      return defaultRoute(s);
    }
    List<String> tried = new ArrayList<>();
    for (String value : ifaces) {
      Optional<Found> f = byIfaceFlag(s, value, tried);
      if (f.isPresent()) {
        return f.get();
      }
    }
    for (String re : regexes) {
      Optional<Found> f = byRegex(s, re, tried);
      if (f.isPresent()) {
        return f.get();
      }
    }
    if (canReach != null) {
      Optional<Found> f = byRoute(s, canReach, tried);
      if (f.isPresent()) {
        return f.get();
      }
    }
    throw new InterfaceSelectionException("no interface matches " + String.join("; ", tried)
        + ": check the flags against `ip -4 addr` (interfaces: " + summary(s) + ")");
  }

  private static Optional<Found> byIfaceFlag(State s, String value, List<String> tried) {
    Inet4Address ip = parseIpv4(value);
    if (ip != null) {
      Optional<Found> f = byAddress(s, ip);
      if (f.isEmpty()) {
        tried.add("--iface " + value + " (no interface has this address)");
      }
      return f.map(x -> new Found(x.link, x.address, "by --iface " + value));
    }
    Optional<Link> link = s.byName(value);
    if (link.isEmpty()) {
      tried.add("--iface " + value + " (no such interface)");
      return Optional.empty();
    }
    List<Inet4Address> usable = s.usable(link.get().index());
    if (usable.isEmpty()) {
      tried.add("--iface " + value + " (it has no usable IPv4 address)");
      return Optional.empty();
    }
    return Optional.of(new Found(link.get(), usable.get(0), "by --iface " + value));
  }

  private static Optional<Found> byRegex(State s, String regex, List<String> tried) {
    Pattern p = Pattern.compile(regex);
    for (Link l : s.links) {
      for (Inet4Address a : s.usable(l.index())) {
        if (p.matcher(a.getHostAddress()).find()) {
          return Optional.of(new Found(l, a, "by --iface-regex " + regex + " on its address"));
        }
      }
    }
    for (Link l : s.links) {
      if (p.matcher(l.name()).find()) {
        List<Inet4Address> usable = s.usable(l.index());
        if (!usable.isEmpty()) {
          return Optional.of(new Found(l, usable.get(0), "by --iface-regex " + regex + " on its name"));
        }
      }
    }
    tried.add("--iface-regex " + regex + " (no address or name with a usable IPv4 address matches)");
    return Optional.empty();
  }

  private static Optional<Found> byRoute(State s, Inet4Address target, List<String> tried) {
    Optional<Route> best = longestMatch(s, target);
    if (best.isEmpty()) {
      tried.add("--iface-can-reach " + target.getHostAddress() + " (no route to it)");
      return Optional.empty();
    }
    Route r = best.get();
    Optional<Link> link = s.byIndex(r.link());
    if (link.isEmpty()) {
      tried.add("--iface-can-reach " + target.getHostAddress() + " (route via unknown ifindex "
          + r.link() + ")");
      return Optional.empty();
    }
    Optional<Inet4Address> source = sourceFor(s, r, target);
    if (source.isEmpty()) {
      tried.add("--iface-can-reach " + target.getHostAddress() + " (interface " + link.get().name()
          + " has no usable IPv4 address)");
      return Optional.empty();
    }
    return Optional.of(new Found(link.get(), source.get(), "by --iface-can-reach "
        + target.getHostAddress() + " (route " + r.dst() + ")"));
  }

  /** The main-table route the kernel would use: the longest prefix holding the target, with a device. */
  private static Optional<Route> longestMatch(State s, Inet4Address target) {
    Route best = null;
    for (Route r : s.routes) {
      if (r.link() > 0 && r.dst().containsAddress(target)
          && (best == null || r.dst().prefixLength() > best.dst().prefixLength())) {
        best = r;
      }
    }
    return Optional.ofNullable(best);
  }

  /** The interface address on the same subnet as the next hop, else its first usable address. */
  private static Optional<Inet4Address> sourceFor(State s, Route r, Inet4Address target) {
    Inet4Address hop = r.gateway() instanceof Inet4Address g ? g : target;
    for (Address a : s.addresses) {
      if (a.link() == r.link() && Ipv4Subnet.of(a.ipv4(), a.prefixLength()).contains(hop)
          && s.usable(r.link()).contains(a.ipv4())) {
        return Optional.of(a.ipv4());
      }
    }
    return s.usable(r.link()).stream().findFirst();
  }

  private static Optional<Found> byAddress(State s, Inet4Address ip) {
    for (Address a : s.addresses) {
      if (a.address().equals(ip)) {
        Optional<Link> l = s.byIndex(a.link());
        if (l.isPresent()) {
          return Optional.of(new Found(l.get(), ip, "as holder of " + ip.getHostAddress()));
        }
      }
    }
    return Optional.empty();
  }

  private static Found defaultRoute(State s) throws InterfaceSelectionException {
    Optional<Route> def = s.routes.stream()
        .filter(r -> r.dst().prefixLength() == 0 && r.link() > 0).findFirst();
    if (def.isEmpty()) {
      throw new InterfaceSelectionException("no IPv4 default route to take the external interface "
          + "from: add a default route or choose the interface with --iface");
    }
    Link link = s.byIndex(def.get().link()).orElseThrow(() -> new InterfaceSelectionException(
        "the default route uses ifindex " + def.get().link() + ", which does not exist"));
    List<Inet4Address> usable = s.usable(link.index());
    if (usable.isEmpty()) {
      throw new InterfaceSelectionException("interface " + link.name() + " (of the default route) "
          + "has no usable IPv4 address: give it one or choose the interface with --iface");
    }
    return new Found(link, usable.get(0), "as the default route's");
  }

  private static String summary(State s) {
    List<String> parts = new ArrayList<>();
    for (Link l : s.links) {
      parts.add(l.name() + " " + s.usable(l.index()).stream().map(Inet4Address::getHostAddress).toList());
    }
    return String.join(", ", parts);
  }

  private static Inet4Address parseIpv4(String text) {
    try {
      return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(text));
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
