package dev.tartan.agent.backend;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The containers' bridge ({@code cni0}): a Linux bridge with {@code <subnet>.1/<len>} and the
 * overlay MTU, up. Tartan creates it before the CNI bridge plugin would, so the address follows
 * the lease (re-addressed when the subnet changes, flannel #520).
 */
public final class Bridge {
  private static final Logger log = LoggerFactory.getLogger(Bridge.class);

  /** The flannel CNI plugin's default bridge name. */
  public static final String DEFAULT_NAME = "cni0";

  private Bridge() {}

  /**
   * Converges the bridge: created if missing; MTU set to {@code mtu}; address {@code
   * ownSubnet.1/len} with every other address inside {@code network} removed; up.
   *
   * @return the bridge as the kernel reports it afterwards
   * @throws NetlinkException when the kernel refuses, or when a link of that name exists that is
   *     not a bridge (errno 0; the message says what to do)
   */
  public static Link ensure(RtNetlink nl, String name, Ipv4Subnet network, Ipv4Subnet ownSubnet,
      int mtu) throws NetlinkException {
    Link link = existing(nl, name, mtu);
    Addresses.ensureOnly(nl, name,
        new Address(link.index(), ownSubnet.host(1), ownSubnet.prefixLength()), network);
    return up(nl, name, link);
  }

  /**
   * The IPv6 side of a dual-stack bridge: created if missing (without its IPv4 address, which
   * {@link #ensure} adds); address {@code ownSubnet6::1/len} with every other address inside
   * {@code network6} removed; up.
   */
  public static Link ensure6(RtNetlink nl, String name, Ipv6Subnet network6, Ipv6Subnet ownSubnet6,
      int mtu) throws NetlinkException {
    Link link = existing(nl, name, mtu);
    Addresses.ensureOnly(nl, name,
        new Address(link.index(), ownSubnet6.host(1), ownSubnet6.prefixLength()), network6);
    return up(nl, name, link);
  }

  private static Link existing(RtNetlink nl, String name, int mtu) throws NetlinkException {
    Link link = nl.linkByName(name).orElse(null);
    if (link == null) {
      try {
        link = nl.createBridge(name, mtu);
        log.info("created bridge {} (mtu {})", name, mtu);
      } catch (NetlinkException e) {
        if (!e.alreadyExists()) {
          throw e;
        }
        link = nl.linkByName(name).orElseThrow(() -> e);
      }
    }
    if (!"bridge".equals(link.kind())) {
      throw new NetlinkException("ensure bridge " + name, "a link named " + name + " exists but is "
          + (link.kind().isEmpty() ? "not a bridge" : "a " + link.kind() + ", not a bridge")
          + "; delete it (ip link del " + name + ") and restart", null);
    }
    if (mtu != 0 && link.mtu() != mtu) {
      nl.setMtu(link.index(), mtu);
      log.info("set mtu of {} {} -> {}", name, link.mtu(), mtu);
    }
    return link;
  }

  private static Link up(RtNetlink nl, String name, Link link) throws NetlinkException {
    if (!link.up()) {
      nl.setUp(link.index(), true);
    }
    Optional<Link> now = nl.linkByIndex(link.index());
    return now.orElseThrow(() -> new NetlinkException("ensure bridge " + name, 19, "ENODEV",
        name + " disappeared while being configured"));
  }
}
