package dev.tartan.agent.netlink.rtnl;

import java.util.Optional;

/**
 * A network interface as the kernel reports it (RTM_NEWLINK).
 *
 * @param index  ifindex
 * @param name   IFLA_IFNAME
 * @param kind   IFLA_INFO_KIND ("vxlan", "bridge", "veth"), or "" for devices without one
 * @param mtu    IFLA_MTU
 * @param mac    IFLA_ADDRESS as lowercase {@code aa:bb:cc:dd:ee:ff}, or "" when absent
 * @param flags  ifi_flags (IFF_UP = 1, ...)
 * @param master IFLA_MASTER ifindex, 0 when none
 * @param vxlan  the vxlan settings when {@code kind} is "vxlan"
 */
public record Link(int index, String name, String kind, int mtu, String mac, int flags, int master,
    Optional<VxlanInfo> vxlan) {

  public boolean up() {
    return (flags & 1) != 0;
  }
}
