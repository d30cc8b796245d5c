package dev.tartan.agent.netlink.rtnl;

/**
 * A subscription to rtnetlink multicast groups (link, IPv4 and IPv6 address and route, neighbour) on its
 * own socket and thread; events go to the listener in kernel order. Closing stops the thread.
 */
public interface NetlinkMonitor extends AutoCloseable {
  @Override
  void close();
}
