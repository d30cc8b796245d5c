package dev.tartan.agent.backend;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.net.IpSubnet;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Keeping exactly one address of the flannel Network on a link (docs/flannel-compat.md §2.3, flannel #520). */
public final class Addresses {
  private static final Logger log = LoggerFactory.getLogger(Addresses.class);

  private Addresses() {}

  /**
   * Makes {@code wanted} the only address on its link that lies inside {@code network}: other
   * in-Network addresses are deleted first (an old subnet's address after a re-lease), then
   * {@code wanted} is added if missing. Addresses outside {@code network} are left alone.
   *
   * @param name the link's name, for the log
   * @return true when something was changed
   */
  public static boolean ensureOnly(RtNetlink nl, String name, Address wanted, IpSubnet network)
      throws NetlinkException {
    if (wanted.ipv6() != network.ipv6()) {
      throw new IllegalArgumentException(wanted + " is not of the family of " + network);
    }
    boolean present = false;
    List<Address> stale = new ArrayList<>();
    for (Address a : wanted.ipv6() ? nl.addresses6(wanted.link()) : nl.addresses(wanted.link())) {
      if (a.link() != wanted.link()) {
        continue;
      }
      if (a.address().equals(wanted.address()) && a.prefixLength() == wanted.prefixLength()) {
        present = true;
      } else if (network.containsAddress(a.address())) {
        stale.add(a);
      }
    }
    for (Address a : stale) {
      try {
        nl.deleteAddress(a);
        log.info("removed address {}/{} from {} (not our subnet's)", IpSubnet.text(a.address()),
            a.prefixLength(), name);
      } catch (NetlinkException e) {
        if (!e.notFound()) {
          throw e;
        }
      }
    }
    if (!present) {
      nl.replaceAddress(wanted);
      log.info("added address {}/{} to {}", IpSubnet.text(wanted.address()),
          wanted.prefixLength(), name);
    }
    return !present || !stale.isEmpty();
  }
}
