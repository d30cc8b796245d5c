package dev.tartan.agent.netlink.rtnl;

import dev.tartan.agent.netlink.NetlinkException;
import java.util.List;
import java.util.Optional;

/**
 * Typed rtnetlink operations on one network namespace. {@code create...} fails on EEXIST,
 * {@code replace...} upserts, {@code delete...} reports a missing object as a {@link
 * NetlinkException} whose {@link NetlinkException#notFound()} is true.
 *
 * <p>Implementations: {@code RtNetlinkClient} (the kernel) and {@code FakeRtNetlink} (tests).
 */
public interface RtNetlink extends AutoCloseable {

  // ---- links

  /** {@code ip link show NAME}. */
  Optional<Link> linkByName(String name) throws NetlinkException;

  /** {@code ip link show} for one ifindex. */
  Optional<Link> linkByIndex(int index) throws NetlinkException;

  /** {@code ip link show}. */
  List<Link> links() throws NetlinkException;

  /** {@code ip link add NAME type vxlan ...} (CREATE|EXCL); returns the new link. */
  Link createVxlan(VxlanSpec spec) throws NetlinkException;

  /** {@code ip link add NAME type bridge} [mtu MTU] (CREATE|EXCL); mtu 0 = kernel default. */
  Link createBridge(String name, int mtu) throws NetlinkException;

  /**
   * {@code ip link add NAME type veth peer name PEER netns NSFD}; {@code peerNetnsFd} -1 keeps the
   * peer in this namespace.
   */
  void createVethPair(String name, String peerName, int peerNetnsFd) throws NetlinkException;

  /** {@code ip link set dev X up|down}. */
  void setUp(int index, boolean up) throws NetlinkException;

  /** {@code ip link set dev X mtu MTU}. */
  void setMtu(int index, int mtu) throws NetlinkException;

  /** {@code ip link set dev X address MAC}. */
  void setMac(int index, String mac) throws NetlinkException;

  /** {@code ip link set dev X master M} ({@code nomaster} when master is 0). */
  void setMaster(int index, int master) throws NetlinkException;

  /** {@code ip link del dev X}. */
  void deleteLink(int index) throws NetlinkException;

  // ---- addresses (IPv4 and IPv6; the family is the address's)

  /** {@code ip addr add A/LEN dev X} (CREATE|EXCL). */
  void addAddress(Address a) throws NetlinkException;

  /** {@code ip addr replace A/LEN dev X}. */
  void replaceAddress(Address a) throws NetlinkException;

  /** {@code ip addr del A/LEN dev X}. */
  void deleteAddress(Address a) throws NetlinkException;

  /** {@code ip -4 addr show [dev X]}; link 0 lists all. */
  List<Address> addresses(int link) throws NetlinkException;

  /** {@code ip -6 addr show [dev X]}; link 0 lists all. */
  List<Address> addresses6(int link) throws NetlinkException;

  // ---- routes (IPv4 and IPv6; the family is the destination's)

  /** {@code ip route replace ...}. */
  void replaceRoute(Route r) throws NetlinkException;

  /** {@code ip route del ...}. */
  void deleteRoute(Route r) throws NetlinkException;

  /** {@code ip -4 route show table T [proto P]}; protocol 0 lists every protocol. */
  List<Route> routes(int table, int protocol) throws NetlinkException;

  /**
   * {@code ip route get IP}: the route the kernel would use to reach {@code ip} (its gateway, if
   * any, and output device), one request, no dump. Empty when the kernel has no unicast route to
   * it (unreachable, or a local address).
   */
  Optional<Route> routeTo(java.net.Inet4Address ip) throws NetlinkException;

  /** {@code ip -6 route show table T [proto P]}; protocol 0 lists every protocol. */
  List<Route> routes6(int table, int protocol) throws NetlinkException;

  // ---- neighbours (IPv4 and IPv6; the family is the address's)

  /** {@code ip neigh replace IP lladdr MAC dev X nud permanent}. */
  void replaceNeighbour(Neighbour n) throws NetlinkException;

  /** {@code ip neigh del IP dev X}. */
  void deleteNeighbour(Neighbour n) throws NetlinkException;

  /** {@code ip -4 neigh show [dev X]}; link 0 lists all. */
  List<Neighbour> neighbours(int link) throws NetlinkException;

  /** {@code ip -6 neigh show [dev X]}; link 0 lists all. */
  List<Neighbour> neighbours6(int link) throws NetlinkException;

  // ---- forwarding database (AF_BRIDGE, NTF_SELF)

  /** {@code bridge fdb replace MAC dev X dst D self permanent}. */
  void replaceFdb(FdbEntry e) throws NetlinkException;

  /** {@code bridge fdb append MAC dev X dst D self permanent}. */
  void appendFdb(FdbEntry e) throws NetlinkException;

  /** {@code bridge fdb del MAC dev X dst D self}. */
  void deleteFdb(FdbEntry e) throws NetlinkException;

  /** {@code bridge fdb show dev X} (self entries with a MAC); link 0 lists all. */
  List<FdbEntry> fdb(int link) throws NetlinkException;

  // ---- batching

  /** Starts a batch: many requests in flight, ACKs collected by {@link Batch#execute()}. */
  Batch batch();

  @Override
  void close();
}
