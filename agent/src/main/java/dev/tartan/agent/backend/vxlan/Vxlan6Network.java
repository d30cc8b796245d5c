package dev.tartan.agent.backend.vxlan;

import dev.tartan.agent.backend.Bridge;
import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.agent.netlink.rtnl.VxlanSpec;
import dev.tartan.agent.routing.DesiredState;
import dev.tartan.agent.routing.PeerOverlay;
import dev.tartan.agent.routing.PeerSpec;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.store.SubnetLease;
import java.net.Inet6Address;
import java.util.Collection;
import java.util.Objects;

/**
 * The IPv6 data path of a dual-stack host (docs/flannel-compat.md §2.7): the device {@code
 * flannel-v6.<VNI>} (same VNI, port, learning and GBP as {@code flannel.<VNI>}, local = the
 * public IPv6 when local, MTU as the kernel allows over an IPv6 underlay, see {@link #deviceMtu}), its {@code <own v6 subnet address>/128}, the bridge's {@code
 * <v6 subnet>::1/len}, and every peer's IPv6 entries. A second {@link PeerOverlay}: its own {@code
 * PeerSync} is fed the same leases as the IPv4 one and keeps the IPv6 entries (event path, full
 * dump and diff, drift repair) the same way.
 *
 * <p>Start-up calls {@link #ensureDevice()} (before the lease, for the BackendV6Data VtepMAC), then
 * {@link #configure}; a new subnet pair is handed over with {@link #ownSubnet6(Ipv6Subnet)} and
 * {@link #ownSubnet(Ipv4Subnet)} before a trigger.
 */
public final class Vxlan6Network implements PeerOverlay {
  private final RtNetlink nl;
  private final VxlanBackendConfig config;
  private final Ipv6Subnet network6;
  private final String bridgeName;
  private final int mtu;
  /** The IPv6 headroom of a vxlan device (VXLAN6_HEADROOM: IPv6 40 + UDP 8 + VXLAN 8 + Ethernet 14). */
  static final int IPV6_OVERHEAD = 70;
  private final KeptDevice kept;
  private volatile Ipv4Subnet ownSubnet;
  private volatile Ipv6Subnet ownSubnet6;

  /**
   * @param network6      the flannel {@code IPv6Network}
   * @param local         the vxlan source address (the public IPv6 when local, else the interface's)
   * @param underlayIndex ifindex of the external interface
   * @param underlayMtu   its MTU (used unless {@code Backend.MTU} is set)
   * @param bridgeName    the containers' bridge ({@code cni0}), or null to leave bridges alone
   */
  public Vxlan6Network(RtNetlink nl, VxlanBackendConfig config, Ipv6Subnet network6, Inet6Address local,
      int underlayIndex, int underlayMtu, String bridgeName) {
    this.nl = Objects.requireNonNull(nl, "nl");
    this.config = Objects.requireNonNull(config, "config");
    this.network6 = Objects.requireNonNull(network6, "network6");
    this.bridgeName = bridgeName;
    this.mtu = config.overlayMtu(underlayMtu);
    VxlanSpec s = VxlanDevice.spec(config.deviceName6(), config, Objects.requireNonNull(local, "local"),
        underlayIndex, underlayMtu);
    this.kept = new KeptDevice(nl, new VxlanSpec(s.name(), s.vni(), s.local(), s.underlay(), s.port(), s.learning(), s.gbp(),
        s.udpCsum(), deviceMtu(mtu, underlayMtu), s.mac()));
  }

  public String deviceName() {
    return kept.name();
  }

  /**
   * The IPv6 device's MTU: the overlay MTU ({@code flannel.<VNI>}'s, also cni0's and {@code
   * FLANNEL_MTU}), but at most what the kernel allows a vxlan device over an IPv6 underlay (the
   * underlay's MTU − 70; flanneld leaves it to the kernel, which gives exactly that, and the kernel
   * refuses more).
   */
  static int deviceMtu(int overlayMtu, int underlayMtu) {
    return Math.min(overlayMtu, underlayMtu - IPV6_OVERHEAD);
  }

  /** The device's MTU ({@link #deviceMtu}). */
  public int mtu() {
    return kept.mtu();
  }

  public Ipv6Subnet network6() {
    return network6;
  }

  /** The device as last ensured, or null before {@link #ensureDevice()}. */
  public Link device() {
    return kept.device();
  }

  public Ipv6Subnet ownSubnet6() {
    return ownSubnet6;
  }

  /** Our lease's (IPv4) subnet: our own lease is not a peer. */
  @Override
  public void ownSubnet(Ipv4Subnet subnet) {
    this.ownSubnet = Objects.requireNonNull(subnet, "subnet");
  }

  /** Our lease's IPv6 subnet; the next {@link #repair()} re-addresses the device and the bridge. */
  public void ownSubnet6(Ipv6Subnet subnet6) {
    this.ownSubnet6 = Objects.requireNonNull(subnet6, "subnet6");
  }

  /** Creates, reuses or recreates {@code flannel-v6.<VNI>}; its MAC becomes the BackendV6Data VtepMAC. */
  public Link ensureDevice() throws NetlinkException {
    return kept.ensure();
  }

  /** What to publish as {@code BackendV6Data}: this VNI and the IPv6 device's MAC. */
  public VxlanLeaseData leaseData() {
    return kept.leaseData(config.vni());
  }

  /**
   * After the lease: {@code <subnet6 address>/128} on the device, device up, bridge with {@code
   * <subnet6>::1/len}, up.
   */
  public synchronized Link configure(Ipv4Subnet subnet, Ipv6Subnet subnet6) throws NetlinkException {
    ownSubnet(subnet);
    ownSubnet6(subnet6);
    Link l = kept.device();
    if (l == null) {
      l = kept.ensure();
    }
    kept.remember(VxlanDevice.ensureAddress(nl, l, network6, subnet6));
    if (bridgeName != null) {
      Bridge.ensure6(nl, bridgeName, network6, subnet6, mtu);
    }
    return kept.device();
  }

  @Override
  public synchronized boolean repair() throws NetlinkException {
    Ipv6Subnet subnet6 = ownSubnet6;
    boolean recreated = kept.check();
    if (subnet6 != null) {
      kept.remember(VxlanDevice.ensureAddress(nl, kept.device(), network6, subnet6));
      if (bridgeName != null) {
        Bridge.ensure6(nl, bridgeName, network6, subnet6, mtu);
      }
    }
    return recreated;
  }

  @Override
  public DesiredState desired(Collection<SubnetLease> remotes) {
    Link l = kept.require();
    return VxlanPeers.desired6(ownSubnet, ownSubnet6, l.index(), remotes);
  }

  @Override
  public PeerSpec peer(SubnetLease lease) {
    Link l = kept.require();
    return VxlanPeers.peer6(l.index(), lease);
  }
}
