package dev.tartan.agent.backend.hostgw;

import dev.tartan.agent.backend.BackendNetwork;
import dev.tartan.agent.backend.Bridge;
import dev.tartan.agent.backend.DirectRoutes;
import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.agent.routing.DesiredState;
import dev.tartan.agent.routing.PeerSpec;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.SubnetLease;
import java.util.Collection;
import java.util.Objects;

/**
 * The host-gw data path of one host: no overlay device; one route per peer through the external
 * interface ({@link HostGwPeers}); the bridge with the interface's MTU ({@code FLANNEL_MTU} is the
 * interface MTU, nothing is encapsulated). The lease publishes {@code "BackendType":"host-gw"} and
 * no {@code BackendData}, as flannel.
 */
public final class HostGwNetwork implements BackendNetwork {
  private final RtNetlink nl;
  private final Ipv4Subnet network;
  private final int underlay;
  private final String underlayName;
  private final int mtu;
  private final String bridgeName;
  private final DirectRoutes.Cached onLink;
  private volatile Ipv4Subnet ownSubnet;

  /**
   * @param underlay     ifindex of the external interface
   * @param underlayName its name (for messages)
   * @param mtu          its MTU
   * @param bridgeName   the containers' bridge ({@code cni0}), or null to leave bridges alone
   */
  public HostGwNetwork(RtNetlink nl, Ipv4Subnet network, int underlay, String underlayName, int mtu,
      String bridgeName) {
    this.nl = Objects.requireNonNull(nl, "nl");
    this.network = Objects.requireNonNull(network, "network");
    this.underlay = underlay;
    this.underlayName = Objects.requireNonNull(underlayName, "underlayName");
    this.mtu = mtu;
    this.bridgeName = bridgeName;
    this.onLink = DirectRoutes.kernel(nl, underlay, underlayName);
  }

  @Override
  public String backendType() {
    return HostGwPeers.TYPE;
  }

  @Override
  public void prepare() {
    // nothing to create before the lease
  }

  @Override
  public String backendData() {
    return null;
  }

  @Override
  public synchronized void setUp(Ipv4Subnet subnet) throws NetlinkException {
    ownSubnet(subnet);
    if (bridgeName != null) {
      Bridge.ensure(nl, bridgeName, network, subnet, mtu);
    }
  }

  @Override
  public int mtu() {
    return mtu;
  }

  @Override
  public String deviceName() {
    return null;
  }

  @Override
  public String bridgeName() {
    return bridgeName;
  }

  @Override
  public String notReady() {
    return null;
  }

  @Override
  public void kernelChanged(dev.tartan.agent.netlink.rtnl.NetlinkEvent event) {
    if (onLink != null) {
      onLink.kernelChanged(event);
    }
  }

  @Override
  public String describe() {
    return "host-gw routes via " + underlayName + " (ifindex " + underlay + ", mtu " + mtu + ")";
  }

  @Override
  public void ownSubnet(Ipv4Subnet subnet) {
    this.ownSubnet = Objects.requireNonNull(subnet, "subnet");
  }

  /** The bridge (address, MTU, up); there is no device to recreate. */
  @Override
  public synchronized boolean repair() throws NetlinkException {
    Ipv4Subnet subnet = ownSubnet;
    if (subnet != null && bridgeName != null) {
      Bridge.ensure(nl, bridgeName, network, subnet, mtu);
    }
    return false;
  }

  @Override
  public DesiredState desired(Collection<SubnetLease> remotes) {
    return HostGwPeers.desired(ownSubnet, underlay, onLink, remotes);
  }

  @Override
  public PeerSpec peer(SubnetLease lease) {
    return HostGwPeers.peer(underlay, onLink, lease);
  }

  /** A peer may move on or off this L2: every resync asks the kernel again. */
  @Override
  public boolean kernelDecides() {
    return true;
  }
}
