package dev.tartan.agent.backend;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.NetlinkEvent;
import dev.tartan.agent.routing.PeerOverlay;
import dev.tartan.net.Ipv4Subnet;

/**
 * One backend's data path on this host, as the agent drives it: {@link #prepare()} before the
 * lease, {@link #setUp(Ipv4Subnet)} after it; from then on the {@code PeerSync} owns it (as a
 * {@link PeerOverlay}). Implementations: {@code VxlanNetwork}, {@code HostGwNetwork}.
 */
public interface BackendNetwork extends PeerOverlay {
  /** The lease's {@code BackendType}: {@code "vxlan"} or {@code "host-gw"}. */
  String backendType();

  /** Before the lease: create what the lease publishes (the VXLAN device, for its VtepMAC). */
  void prepare() throws NetlinkException;

  /** The lease's {@code BackendData} JSON, or null when the backend publishes none (host-gw). */
  String backendData();

  /** After the lease: addresses, bridge ({@code <subnet>.1}, MTU), links up. */
  void setUp(Ipv4Subnet subnet) throws NetlinkException;

  /** {@code FLANNEL_MTU}: the bridge's and the containers' MTU. */
  int mtu();

  /** The overlay device watched for drift ({@code flannel.1}), or null when there is none. */
  String deviceName();

  /** The containers' bridge, or null to leave bridges alone. */
  String bridgeName();

  /** Why the data path is not ready (its device is not up), or null when it is. */
  String notReady();

  /** One phrase for the start-up log ({@code vxlan device flannel.1 (...)}). */
  String describe();

  /**
   * A kernel notification from the netlink monitor (its thread; must not block): a backend that
   * remembers the kernel's routes to its peers forgets them when they may have changed.
   */
  default void kernelChanged(NetlinkEvent event) {
  }
}
