package dev.tartan.agent.netlink.rtnl;

/**
 * A subscription to rtnetlink multicast groups (link, IPv4 address, IPv4 route, neighbour) on its
 * own socket and thread; events go to the listener in kernel order. Closing stops the thread.
 */
public interface NetlinkMonitor extends AutoCloseable {
  @Override
  void close();
}
