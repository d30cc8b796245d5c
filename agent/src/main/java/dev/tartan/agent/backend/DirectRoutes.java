package dev.tartan.agent.backend;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.util.Objects;
import java.util.Optional;

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
   * The test on the kernel: one {@code ip route get} per call. A failing socket surfaces as an
   * {@link IllegalStateException} (the pass fails and is retried as a full one).
   */
  public static OnLink kernel(RtNetlink nl, int underlay, String underlayName) {
    Objects.requireNonNull(nl, "nl");
    return ip -> {
      try {
        return decide(ip, nl.routeTo(ip), underlay, underlayName);
      } catch (NetlinkException e) {
        throw new IllegalStateException("ip route get " + ip.getHostAddress() + ": " + e.getMessage(), e);
      }
    };
  }
}
