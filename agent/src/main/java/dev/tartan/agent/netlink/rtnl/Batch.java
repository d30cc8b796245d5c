package dev.tartan.agent.netlink.rtnl;

import dev.tartan.agent.netlink.NetlinkException;
import java.util.List;

/**
 * Requests queued and sent together; the kernel answers each one. Execution never stops at the
 * first error: every failure is returned with the operation that caused it.
 */
public interface Batch {
  Batch replaceNeighbour(Neighbour n);

  Batch deleteNeighbour(Neighbour n);

  Batch replaceFdb(FdbEntry e);

  Batch deleteFdb(FdbEntry e);

  Batch replaceRoute(Route r);

  Batch deleteRoute(Route r);

  int size();

  /**
   * Sends everything queued, in order, and waits for all ACKs.
   *
   * @return the failures in queue order (empty when all succeeded)
   * @throws NetlinkException only when the socket itself fails
   */
  List<Failure> execute() throws NetlinkException;

  /** One refused request: what it was and why. */
  record Failure(Object request, NetlinkException error) {}
}
