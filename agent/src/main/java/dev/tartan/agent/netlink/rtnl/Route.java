package dev.tartan.agent.netlink.rtnl;

import dev.tartan.net.IpSubnet;
import java.net.InetAddress;
import java.util.Objects;

/**
 * A unicast route, IPv4 or IPv6 (the family of {@code dst}): {@code ip route replace DST [via
 * GATEWAY] dev LINK [onlink] table TABLE proto PROTOCOL}.
 *
 * @param gateway  RTA_GATEWAY (same family as {@code dst}), or null
 * @param link     RTA_OIF ifindex, 0 for none
 * @param table    254 (main) unless set
 * @param protocol rtm_protocol; Tartan tags its own routes with {@link #PROTO_TARTAN}
 */
public record Route(IpSubnet dst, InetAddress gateway, int link, boolean onlink, int table,
    int protocol) {

  /** RT_TABLE_MAIN. */
  public static final int TABLE_MAIN = 254;
  /** RTPROT_BOOT, what {@code ip route add} uses by default. */
  public static final int PROTO_BOOT = 3;
  /** A private rtm_protocol value ("tartan") so Tartan lists and cleans only its own routes. */
  public static final int PROTO_TARTAN = 111;

  public Route {
    Objects.requireNonNull(dst, "dst");
    if (gateway != null && (gateway.getAddress().length == 16) != dst.ipv6()) {
      throw new IllegalArgumentException("gateway " + gateway.getHostAddress() + " is not of the family of " + dst);
    }
  }

  /** The overlay route for a peer: {@code ip route replace S via S0 dev D onlink proto tartan}. */
  public static Route overlay(IpSubnet dst, InetAddress gateway, int link) {
    return new Route(dst, gateway, link, true, TABLE_MAIN, PROTO_TARTAN);
  }

  public boolean ipv6() {
    return dst.ipv6();
  }
}
