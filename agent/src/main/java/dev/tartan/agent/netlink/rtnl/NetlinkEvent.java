package dev.tartan.agent.netlink.rtnl;

/** A multicast notification from the kernel, as delivered by a {@link NetlinkMonitor}. */
public sealed interface NetlinkEvent {
  /** RTM_NEWLINK / RTM_DELLINK. */
  record LinkChanged(Link link, boolean deleted) implements NetlinkEvent {}

  /** RTM_NEWADDR / RTM_DELADDR (IPv4). */
  record AddressChanged(Address address, boolean deleted) implements NetlinkEvent {}

  /** RTM_NEWROUTE / RTM_DELROUTE (IPv4). */
  record RouteChanged(Route route, boolean deleted) implements NetlinkEvent {}

  /** RTM_NEWNEIGH / RTM_DELNEIGH, family AF_INET. */
  record NeighbourChanged(Neighbour neighbour, boolean deleted) implements NetlinkEvent {}

  /** RTM_NEWNEIGH / RTM_DELNEIGH, family AF_BRIDGE. */
  record FdbChanged(FdbEntry entry, boolean deleted) implements NetlinkEvent {}

  /** The socket overflowed (ENOBUFS): events were lost, the listener must re-read everything. */
  record Overrun() implements NetlinkEvent {}
}
