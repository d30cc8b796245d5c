package dev.tartan.agent.backend;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.NetlinkEvent;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Direct routes to peers on the same L2 (host-gw, VXLAN DirectRouting): {@code S via PublicIP dev
 * <underlay> proto tartan}, and the test whether a peer's public IP is on-link. As flannel, the
 * kernel decides: its route to the address ({@code ip route get}, one request, no dump) must have
 * no gateway; we also require it to leave through the underlay device, where our direct routes
 * live.
 */
public final class DirectRoutes {
  private DirectRoutes() {}

  /** Whether a public IP is on-link: null when it is, else why not (one short clause). */
  @FunctionalInterface
  public interface OnLink {
    String notOnLink(Inet4Address publicIp);
  }

  /** {@code S via R dev UNDERLAY proto tartan} (main table, not onlink: R must be on-link already). */
  public static Route route(Ipv4Subnet subnet, Inet4Address publicIp, int underlay) {
    return new Route(subnet, publicIp, underlay, false, Route.TABLE_MAIN, Route.PROTO_TARTAN);
  }

  /**
   * The decision from the kernel's route to {@code ip} (pure): on-link when there is one, without
   * a gateway, through {@code underlay}.
   *
   * @return null when on-link, else why not
   */
  public static String decide(Inet4Address ip, Optional<Route> resolved, int underlay, String underlayName) {
    if (resolved.isEmpty()) {
      return "the kernel has no route to " + ip.getHostAddress();
    }
    Route r = resolved.get();
    if (r.gateway() != null) {
      return "the kernel routes " + ip.getHostAddress() + " via the gateway " + r.gateway().getHostAddress()
          + " (not on-link)";
    }
    if (r.link() != underlay) {
      return "the kernel routes " + ip.getHostAddress() + " through ifindex " + r.link() + ", not "
          + underlayName;
    }
    return null;
  }

  /**
   * The test on the kernel: one {@code ip route get} per address, remembered until the kernel's
   * routing may have changed ({@link Cached#kernelChanged}). A failing socket surfaces as an
   * {@link IllegalStateException} (the pass fails and is retried as a full one).
   */
  public static Cached kernel(RtNetlink nl, int underlay, String underlayName) {
    return new Cached(nl, underlay, underlayName);
  }

  /**
   * The kernel's answers by address. A full pass at 50,000 peers would otherwise ask 50,000 times
   * (~30 µs each); the answers can only change when a route, address or link changes, which the
   * netlink monitor reports: then all are forgotten and the next pass asks again.
   */
  public static final class Cached implements OnLink {
    /** What {@code ip route get} said: no route, or its gateway (null: on-link) and device. */
    private record Answer(boolean present, java.net.InetAddress gateway, int link) {}

    private final RtNetlink nl;
    private final int underlay;
    private final String underlayName;
    private final Map<Inet4Address, Answer> answers = new ConcurrentHashMap<>();
    private final AtomicLong generation = new AtomicLong();

    /** Links seen up: only such a link going down or away takes routes with it (without route events). */
    private final Set<Integer> up = ConcurrentHashMap.newKeySet();

    Cached(RtNetlink nl, int underlay, String underlayName) {
      this.nl = Objects.requireNonNull(nl, "nl");
      this.underlay = underlay;
      this.underlayName = Objects.requireNonNull(underlayName, "underlayName");
      try {
        nl.links().stream().filter(Link::up).forEach(l -> up.add(l.index()));
      } catch (NetlinkException e) {
        up.add(underlay); // unknown: at least the underlay going down is noticed
      }
    }

    @Override
    public String notOnLink(Inet4Address ip) {
      Answer a = answers.get(ip);
      if (a == null) {
        long gen = generation.get();
        Optional<Route> r;
        try {
          r = nl.routeTo(ip);
        } catch (NetlinkException e) {
          throw new IllegalStateException("ip route get " + ip.getHostAddress() + ": " + e.getMessage(), e);
        }
        a = r.map(x -> new Answer(true, x.gateway(), x.link())).orElse(new Answer(false, null, 0));
        if (generation.get() == gen) { // else the kernel changed meanwhile: do not keep a stale answer
          answers.put(ip, a);
        }
      }
      Optional<Route> resolved = a.present()
          ? Optional.of(new Route(Ipv4Subnet.of(ip, 32), a.gateway(), a.link(), false, Route.TABLE_MAIN, 0))
          : Optional.empty();
      return decide(ip, resolved, underlay, underlayName);
    }

    /**
     * Forgets every answer when {@code e} may change a route lookup: an IPv4 address change, an IPv4
     * route change (except our own {@code proto tartan} routes, which only carry the overlay's subnets),
     * a link that was up going down or away (not a bridge port), or lost events. Called on the
     * monitor's thread; never blocks.
     */
    public void kernelChanged(NetlinkEvent e) {
      boolean relevant;
      if (e instanceof NetlinkEvent.RouteChanged rc) {
        // the answers are IPv4 lookups: IPv6 routes (a veth's fe80::/64 among them) change none
        relevant = rc.route().protocol() != Route.PROTO_TARTAN && !rc.route().dst().ipv6();
      } else if (e instanceof NetlinkEvent.AddressChanged ac) {
        relevant = ac.address().address() instanceof java.net.Inet4Address;
      } else if (e instanceof NetlinkEvent.LinkChanged lc) {
        // a link that was up going down or away flushes its routes without route events; a new link
        // (created down) or a bridge port (a container's veth) carries none; a link coming up
        // brings its routes back with route events
        Link l = lc.link();
        boolean wasUp = lc.deleted() || !l.up() ? up.remove(l.index()) : !up.add(l.index());
        relevant = l.master() == 0 && wasUp && (lc.deleted() || !l.up());
      } else {
        relevant = e instanceof NetlinkEvent.Overrun;
      }
      if (relevant) {
        generation.incrementAndGet();
        answers.clear();
      }
    }

    /** Addresses whose answer is remembered. */
    public int size() {
      return answers.size();
    }
  }
}
