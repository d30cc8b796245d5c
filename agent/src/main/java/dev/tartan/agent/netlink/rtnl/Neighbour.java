package dev.tartan.agent.netlink.rtnl;

import java.net.InetAddress;
import java.util.Objects;

/**
 * A neighbour entry (ARP for IPv4, NDP for IPv6): {@code ip neigh replace IP lladdr MAC dev LINK
 * nud STATE}.
 *
 * @param mac   lowercase {@code aa:bb:cc:dd:ee:ff}, or "" when the kernel has none (incomplete)
 * @param state NUD_* bits; {@link #NUD_PERMANENT} for entries Tartan writes
 */
public record Neighbour(int link, InetAddress ip, String mac, int state) {
  public static final int NUD_PERMANENT = 0x80;

  public Neighbour {
    Objects.requireNonNull(ip, "ip");
    Objects.requireNonNull(mac, "mac");
  }

  public static Neighbour permanent(int link, InetAddress ip, String mac) {
    return new Neighbour(link, ip, mac, NUD_PERMANENT);
  }

  public boolean ipv6() {
    return ip.getAddress().length == 16;
  }
}
