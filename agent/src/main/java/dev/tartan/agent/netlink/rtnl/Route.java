package dev.tartan.agent.netlink.rtnl;

import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.util.Objects;

/**
 * An IPv4 unicast route: {@code ip route replace DST [via GATEWAY] dev LINK [onlink] table TABLE
 * proto PROTOCOL}.
 *
 * @param gateway  RTA_GATEWAY, or null
 * @param link     RTA_OIF ifindex, 0 for none
 * @param table    254 (main) unless set
 * @param protocol rtm_protocol; Tartan tags its own routes with {@link #PROTO_TARTAN}
 */
public record Route(Ipv4Subnet dst, Inet4Address gateway, int link, boolean onlink, int table,
    int protocol) {

  /** RT_TABLE_MAIN. */
  public static final int TABLE_MAIN = 254;
  /** RTPROT_BOOT, what {@code ip route add} uses by default. */
  public static final int PROTO_BOOT = 3;
  /** A private rtm_protocol value ("tartan") so Tartan lists and cleans only its own routes. */
  public static final int PROTO_TARTAN = 111;

  public Route {
    Objects.requireNonNull(dst, "dst");
  }

  /** The overlay route for a peer: {@code ip route replace S via S0 dev D onlink proto tartan}. */
  public static Route overlay(Ipv4Subnet dst, Inet4Address gateway, int link) {
    return new Route(dst, gateway, link, true, TABLE_MAIN, PROTO_TARTAN);
  }
}
