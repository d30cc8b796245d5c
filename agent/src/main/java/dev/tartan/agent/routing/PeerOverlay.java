package dev.tartan.agent.routing;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.SubnetLease;
import java.util.Collection;

/**
 * What the {@link PeerSync} needs from a backend's network: keep its device in shape and say
 * which kernel entries the leases ask for (functions of the leases, and of the kernel's route to
 * each peer when {@link #kernelDecides()}).
 */
public interface PeerOverlay {
  /**
   * Checks the device (and bridge) and fixes what drifted.
   *
   * @return true when the device had to be created again (every peer must be re-added)
   */
  boolean repair() throws NetlinkException;

  /** Our own subnet changed (lease re-acquired elsewhere); the next {@link #repair()} re-addresses. */
  void ownSubnet(Ipv4Subnet subnet);

  /** Every remote lease's entries on the current device, conflicts resolved. */
  DesiredState desired(Collection<SubnetLease> remotes);

  /** One lease's entries on the current device, or why it cannot be programmed. */
  PeerSpec peer(SubnetLease lease);

  /**
   * True when a peer's entries depend on the kernel as well as on its lease (host-gw and VXLAN
   * DirectRouting ask the kernel whether the peer's public IP is on-link): then every resync
   * computes the desired state again instead of checking the kernel against what is programmed.
   */
  default boolean kernelDecides() {
    return false;
  }
}
