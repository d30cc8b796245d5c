package dev.tartan.agent.backend.vxlan;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.agent.netlink.rtnl.VxlanSpec;
import java.util.Objects;

/**
 * One vxlan device ({@code flannel.<VNI>} or {@code flannel-v6.<VNI>}) as last ensured, and the spec
 * that recreates it: once the device exists its MAC is kept in the spec, so a device recreated after
 * a deletion keeps the VtepMAC the lease publishes.
 */
final class KeptDevice {
  private final RtNetlink nl;
  private volatile VxlanSpec spec;
  private volatile Link device;

  KeptDevice(RtNetlink nl, VxlanSpec spec) {
    this.nl = Objects.requireNonNull(nl, "nl");
    this.spec = Objects.requireNonNull(spec, "spec");
  }

  String name() {
    return spec.name();
  }

  /** The device's MTU as specified (0: the kernel's choice). */
  int mtu() {
    return spec.mtu();
  }

  /** The device as last ensured, or null before {@link #ensure()}. */
  Link device() {
    return device;
  }

  /** The device; {@link IllegalStateException} before {@link #ensure()}. */
  Link require() {
    Link l = device;
    if (l == null) {
      throw new IllegalStateException("ensureDevice() first");
    }
    return l;
  }

  /** Creates, reuses or recreates the device (docs/flannel-compat.md §2.2). */
  synchronized Link ensure() throws NetlinkException {
    Link l = VxlanDevice.ensure(nl, spec);
    remember(l);
    return l;
  }

  /**
   * Checks that the device is present with the same settings and recreates it when not.
   *
   * @return true when it had to be created again (a new ifindex: all peers must be re-added)
   */
  synchronized boolean check() throws NetlinkException {
    Link before = device;
    Link now = nl.linkByName(spec.name()).orElse(null);
    boolean recreated = false;
    if (now == null || !VxlanDevice.differences(now, spec).isEmpty()
        || (spec.mtu() != 0 && now.mtu() != spec.mtu())) {
      now = VxlanDevice.ensure(nl, spec);
      recreated = before == null || now.index() != before.index();
    }
    remember(now);
    return recreated;
  }

  /** Records {@code l} (after an address change: its flags and MAC as the kernel reports them). */
  void remember(Link l) {
    device = l;
    if (!l.mac().isEmpty() && !l.mac().equals(spec.mac())) {
      spec = VxlanDevice.withMac(spec, l.mac()); // keep the VtepMAC if the device is recreated
    }
  }

  /** The device's lease data: {@code vni} and its MAC. */
  VxlanLeaseData leaseData(int vni) {
    return new VxlanLeaseData(vni, require().mac());
  }
}
