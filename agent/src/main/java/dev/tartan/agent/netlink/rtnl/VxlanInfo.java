package dev.tartan.agent.netlink.rtnl;

import java.net.InetAddress;

/**
 * A vxlan device's IFLA_INFO_DATA as read back from the kernel.
 *
 * @param vni        IFLA_VXLAN_ID
 * @param local      IFLA_VXLAN_LOCAL (IPv4) or IFLA_VXLAN_LOCAL6 (IPv6), or null
 * @param underlay   IFLA_VXLAN_LINK ifindex, 0 when none
 * @param port       IFLA_VXLAN_PORT (host order here; big-endian on the wire)
 * @param learning   IFLA_VXLAN_LEARNING
 * @param gbp        IFLA_VXLAN_GBP present
 * @param udpCsum    IFLA_VXLAN_UDP_CSUM
 */
public record VxlanInfo(int vni, InetAddress local, int underlay, int port, boolean learning,
    boolean gbp, boolean udpCsum) {}
