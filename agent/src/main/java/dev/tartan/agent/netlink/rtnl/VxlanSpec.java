package dev.tartan.agent.netlink.rtnl;

import java.net.InetAddress;
import java.util.Objects;

/**
 * What to create: {@code ip link add NAME type vxlan id VNI local LOCAL dev UNDERLAY dstport PORT
 * nolearning [gbp] [udpcsum|noudpcsum] mtu MTU address MAC}.
 *
 * @param underlay ifindex of the underlay device, 0 for none
 * @param port     destination UDP port; 0 leaves the kernel default (8472)
 * @param udpCsum  null leaves the kernel default
 * @param mtu      0 leaves the kernel default
 * @param mac      null or "" lets the kernel pick a random one
 */
public record VxlanSpec(String name, int vni, InetAddress local, int underlay, int port,
    boolean learning, boolean gbp, Boolean udpCsum, int mtu, String mac) {

  public VxlanSpec {
    Objects.requireNonNull(name, "name");
    if (vni < 0 || vni >= (1 << 24)) {
      throw new IllegalArgumentException("VXLAN ID must be 0.." + ((1 << 24) - 1) + ", got " + vni);
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("VXLAN port must be 0..65535, got " + port);
    }
  }
}
