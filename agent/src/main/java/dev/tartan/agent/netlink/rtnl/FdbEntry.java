package dev.tartan.agent.netlink.rtnl;

import java.net.InetAddress;
import java.util.Objects;

/**
 * A bridge forwarding entry on a vxlan device, family AF_BRIDGE, flag NTF_SELF, state permanent:
 * {@code bridge fdb replace MAC dev LINK dst DST self permanent}.
 *
 * @param dst the remote VTEP (NDA_DST, IPv4 or IPv6), or null for an entry without one
 */
public record FdbEntry(int link, String mac, InetAddress dst) {
  public FdbEntry {
    Objects.requireNonNull(mac, "mac");
  }
}
