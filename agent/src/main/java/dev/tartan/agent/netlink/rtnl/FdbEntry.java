package dev.tartan.agent.netlink.rtnl;

import java.net.Inet4Address;
import java.util.Objects;

/**
 * A bridge forwarding entry on a vxlan device, family AF_BRIDGE, flag NTF_SELF, state permanent:
 * {@code bridge fdb replace MAC dev LINK dst DST self permanent}.
 *
 * @param dst the remote VTEP (NDA_DST), or null for an entry without one
 */
public record FdbEntry(int link, String mac, Inet4Address dst) {
  public FdbEntry {
    Objects.requireNonNull(mac, "mac");
  }
}
