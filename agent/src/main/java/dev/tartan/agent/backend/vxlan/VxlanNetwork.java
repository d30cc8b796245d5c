package dev.tartan.agent.backend.vxlan;

import dev.tartan.agent.backend.BackendNetwork;
import dev.tartan.agent.backend.Bridge;
import dev.tartan.agent.backend.DirectRoutes;
import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.agent.routing.DesiredState;
import dev.tartan.agent.routing.PeerSpec;
import dev.tartan.agent.routing.PeerSync;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.SubnetLease;
import java.net.Inet4Address;
import java.util.Collection;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The VXLAN data path of one host: the device {@code flannel.<VNI>}, its address, the bridge, and
 * the desired per-peer state. Start-up calls {@link #ensureDevice()} (before the lease, for the
 * VtepMAC), then {@link #configure(Ipv4Subnet)} (after it); from then on the {@link PeerSync}
 * calls {@link #repair()} and asks for the peers' entries ({@link #desired}, {@link #peer}) on its
 * loop's thread, so every netlink write happens there. A new subnet (lease
 * re-acquired) is handed over with {@link #ownSubnet(Ipv4Subnet)} followed by a trigger.
 */
public final class VxlanNetwork implements BackendNetwork {
  private static final Logger log = LoggerFactory.getLogger(VxlanNetwork.class);

  private final RtNetlink nl;
  private final VxlanBackendConfig config;
  private final Ipv4Subnet network;
  private final String bridgeName;
  private final int mtu;
  private final int underlayIndex;
  private final DirectRoutes.Cached onLink; // DirectRouting, else null
  private final KeptDevice kept;
  private volatile Ipv4Subnet ownSubnet;

  /**
   * @param network       the flannel {@code Network}
   * @param local         the vxlan source address (the public IP when local, else the interface's)
   * @param underlayIndex ifindex of the external interface
   * @param underlayMtu   its MTU (used unless {@code Backend.MTU} is set)
   * @param bridgeName    the containers' bridge ({@code cni0}), or null to leave bridges alone
   */
  public VxlanNetwork(RtNetlink nl, VxlanBackendConfig config, Ipv4Subnet network,
      Inet4Address local, int underlayIndex, int underlayMtu, String bridgeName) {
    this.nl = Objects.requireNonNull(nl, "nl");
    this.config = Objects.requireNonNull(config, "config");
    this.network = Objects.requireNonNull(network, "network");
    this.bridgeName = bridgeName;
    this.mtu = config.overlayMtu(underlayMtu);
    this.kept = new KeptDevice(nl, VxlanDevice.spec(config, local, underlayIndex, underlayMtu));
    this.underlayIndex = underlayIndex;
    this.onLink = config.directRouting() ? DirectRoutes.kernel(nl, underlayIndex, "the external interface") : null;
  }

  @Override
  public String backendType() {
    return "vxlan";
  }

  @Override
  public void prepare() throws NetlinkException {
    ensureDevice();
  }

  @Override
  public String backendData() {
    return leaseData().toJson();
  }

  @Override
  public void setUp(Ipv4Subnet subnet) throws NetlinkException {
    configure(subnet);
  }

  @Override
  public String notReady() {
    Link d = kept.device();
    return d == null || !d.up() ? config.deviceName() + " is not up" : null;
  }

  @Override
  public void kernelChanged(dev.tartan.agent.netlink.rtnl.NetlinkEvent event) {
    if (onLink != null) {
      onLink.kernelChanged(event);
    }
  }

  @Override
  public String describe() {
    Link d = kept.device();
    return "vxlan device " + config.deviceName() + (d == null ? "" : " (ifindex " + d.index() + ", VtepMAC "
        + d.mac() + ", mtu " + mtu + ")") + (onLink != null ? ", DirectRouting to peers on-link" : "");
  }

  /** With DirectRouting a peer may move on or off this L2: every resync asks the kernel again. */
  @Override
  public boolean kernelDecides() {
    return onLink != null;
  }

  public VxlanBackendConfig config() {
    return config;
  }

  /** The overlay MTU (device, bridge and {@code FLANNEL_MTU}). */
  @Override
  public int mtu() {
    return mtu;
  }

  @Override
  public String deviceName() {
    return config.deviceName();
  }

  /** The bridge name, or null. */
  @Override
  public String bridgeName() {
    return bridgeName;
  }

  /** The device as last ensured, or null before {@link #ensureDevice()}. */
  public Link device() {
    return kept.device();
  }

  public Ipv4Subnet ownSubnet() {
    return ownSubnet;
  }

  /** Records a new own subnet; the next {@link #repair()} re-addresses the device and bridge. */
  @Override
  public void ownSubnet(Ipv4Subnet subnet) {
    this.ownSubnet = Objects.requireNonNull(subnet, "subnet");
  }

  /** Creates, reuses or recreates the device (docs/flannel-compat.md §2.2); its MAC becomes the VtepMAC. */
  public Link ensureDevice() throws NetlinkException {
    return kept.ensure();
  }

  /** What to publish as {@code BackendData}: this VNI and the device's MAC. */
  public VxlanLeaseData leaseData() {
    return kept.leaseData(config.vni());
  }

  /**
   * After the lease: {@code <subnet>.0/32} on the device, device up, bridge with {@code
   * <subnet>.1/<len>} and the overlay MTU, up.
   *
   * @return the device afterwards; its MAC must still be the published VtepMAC (docs/flannel-compat.md §2.3)
   */
  public synchronized Link configure(Ipv4Subnet subnet) throws NetlinkException {
    ownSubnet(subnet);
    Link l = kept.device();
    if (l == null) {
      l = kept.ensure();
    }
    kept.remember(VxlanDevice.ensureAddress(nl, l, network, subnet));
    if (bridgeName != null) {
      Bridge.ensure(nl, bridgeName, network, subnet, mtu);
    }
    return kept.device();
  }

  /**
   * Checks the device (present, same settings, address, up) and the bridge and fixes what
   * drifted; a recreated device keeps its MAC. Cheap when all is well (a few small reads).
   *
   * @return true when the device had to be created again (all peers must be re-added)
   */
  @Override
  public synchronized boolean repair() throws NetlinkException {
    Ipv4Subnet subnet = ownSubnet;
    boolean recreated = kept.check();
    if (subnet != null) {
      kept.remember(VxlanDevice.ensureAddress(nl, kept.device(), network, subnet));
      if (bridgeName != null) {
        Bridge.ensure(nl, bridgeName, network, subnet, mtu);
      }
    }
    return recreated;
  }

  /** The peers' desired state on the current device (pure, see {@link VxlanPeers}). */
  @Override
  public DesiredState desired(Collection<SubnetLease> remotes) {
    Link l = kept.require();
    return VxlanPeers.desired(ownSubnet, l.index(), underlayIndex, onLink, remotes);
  }

  /** One lease's entries on the current device (pure, see {@link VxlanPeers#peer}). */
  @Override
  public PeerSpec peer(SubnetLease lease) {
    Link l = kept.require();
    return VxlanPeers.peer(l.index(), underlayIndex, onLink, lease);
  }
}
