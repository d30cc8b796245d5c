package dev.tartan.agent.backend.vxlan;

import dev.tartan.net.MacAddress;

import dev.tartan.agent.backend.Addresses;
import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.agent.netlink.rtnl.VxlanInfo;
import dev.tartan.agent.netlink.rtnl.VxlanSpec;
import dev.tartan.net.IpSubnet;
import dev.tartan.net.Ipv4Subnet;
import java.net.InetAddress;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The VXLAN device {@code flannel.<VNI>} (docs/flannel-compat.md §2.2, §2.3): created with flannel's settings,
 * reused when an existing one matches, recreated when it does not.
 *
 * <p>Tartan is stricter than flannel about reuse: every setting it controls must match (kind, VNI,
 * local address, underlay device, UDP port, learning, GBP, and the UDP checksum when the spec sets
 * one); flannel only compares the ones both sides have set. A device whose MTU alone differs is
 * kept and its MTU set in place. A reused device keeps its MAC, so a restart does not change the
 * VtepMAC; a recreated one keeps the old device's MAC too when that was a unicast MAC.
 */
public final class VxlanDevice {
  private static final Logger log = LoggerFactory.getLogger(VxlanDevice.class);
  private static final RandomGenerator RANDOM = new SecureRandom();

  private VxlanDevice() {}

  /**
   * What flannel creates: name {@code flannel.<VNI>}, id VNI, {@code local}, {@code dev
   * underlay}, dstport ({@code Port}, or the kernel default when 0), learning and GBP from the
   * config, MTU = ({@code Backend.MTU} or {@code underlayMtu}) − 50, a random locally administered
   * unicast MAC.
   */
  public static VxlanSpec spec(VxlanBackendConfig cfg, InetAddress local, int underlayIndex,
      int underlayMtu) {
    return spec(cfg.deviceName(), cfg, local, underlayIndex, underlayMtu);
  }

  /**
   * The same settings under another name: {@code flannel-v6.<VNI>} with an IPv6 {@code local}
   * (docs/flannel-compat.md §2.7).
   */
  public static VxlanSpec spec(String name, VxlanBackendConfig cfg, InetAddress local, int underlayIndex,
      int underlayMtu) {
    return new VxlanSpec(name, cfg.vni(), local, underlayIndex, cfg.port(),
        cfg.learning(), cfg.gbp(), null, cfg.overlayMtu(underlayMtu),
        MacAddress.randomLocalUnicast(RANDOM));
  }

  /**
   * Converges the device to {@code wanted}: created when missing; reused as is when compatible
   * (MTU fixed in place); deleted and recreated otherwise, with one INFO line naming what
   * differed. Does not touch addresses or the up state (see {@link #ensureAddress}).
   *
   * @return the device as the kernel reports it
   */
  public static Link ensure(RtNetlink nl, VxlanSpec wanted) throws NetlinkException {
    Objects.requireNonNull(wanted, "wanted");
    for (int attempt = 0; ; attempt++) {
      Link existing = nl.linkByName(wanted.name()).orElse(null);
      if (existing == null) {
        try {
          Link created = nl.createVxlan(wanted);
          log.info("created vxlan device {} (vni {}, local {}, dev {}, dstport {}, {}, mtu {}, mac {})",
              created.name(), wanted.vni(), hostOf(wanted.local()), wanted.underlay(),
              effectivePort(wanted.port()), wanted.learning() ? "learning" : "nolearning",
              created.mtu(), created.mac());
          return created;
        } catch (NetlinkException e) {
          if (!e.alreadyExists() || attempt > 0) {
            throw e;
          }
          if (nl.linkByName(wanted.name()).isEmpty()) {
            throw new NetlinkException(e.op(), e.errno(), "EEXIST", "another vxlan device already "
                + "uses VNI " + wanted.vni() + " and port " + effectivePort(wanted.port())
                + " (see ip -d link show type vxlan); delete it or choose another Backend.VNI");
          }
          continue; // created by someone else meanwhile: compare it
        }
      }
      List<String> diff = differences(existing, wanted);
      if (diff.isEmpty()) {
        if (wanted.mtu() != 0 && existing.mtu() != wanted.mtu()) {
          nl.setMtu(existing.index(), wanted.mtu());
          log.info("set mtu of {} {} -> {}", existing.name(), existing.mtu(), wanted.mtu());
          return nl.linkByIndex(existing.index()).orElse(existing);
        }
        log.debug("reusing vxlan device {} (mac {})", existing.name(), existing.mac());
        return existing;
      }
      if (attempt > 0) {
        throw new NetlinkException("ensure vxlan device " + wanted.name(), "it keeps differing from "
            + "what Tartan creates (" + String.join(", ", diff) + ")", null);
      }
      log.info("vxlan device {} has other settings ({}); recreating it", existing.name(),
          String.join(", ", diff));
      VxlanSpec recreate = wanted;
      if (!existing.mac().isEmpty() && MacAddress.isUnicast(MacAddress.parse(existing.mac()))) {
        recreate = withMac(wanted, existing.mac());
      }
      try {
        nl.deleteLink(existing.index());
      } catch (NetlinkException e) {
        if (!e.notFound()) {
          throw e;
        }
      }
      wanted = recreate;
    }
  }

  /**
   * The settings in which {@code existing} differs from {@code wanted}, as {@code "vni 2 -> 1"}
   * texts; empty when the device can be reused. The MTU and MAC are not compared.
   */
  public static List<String> differences(Link existing, VxlanSpec wanted) {
    List<String> d = new ArrayList<>();
    if (!"vxlan".equals(existing.kind()) || existing.vxlan().isEmpty()) {
      d.add("kind " + (existing.kind().isEmpty() ? "none" : existing.kind()) + " -> vxlan");
      return d;
    }
    VxlanInfo have = existing.vxlan().get();
    if (have.vni() != wanted.vni()) {
      d.add("vni " + have.vni() + " -> " + wanted.vni());
    }
    if (!Objects.equals(have.local(), wanted.local())) {
      d.add("local " + hostOf(have.local()) + " -> " + hostOf(wanted.local()));
    }
    if (have.underlay() != wanted.underlay()) {
      d.add("dev " + have.underlay() + " -> " + wanted.underlay());
    }
    if (effectivePort(have.port()) != effectivePort(wanted.port())) {
      d.add("dstport " + effectivePort(have.port()) + " -> " + effectivePort(wanted.port()));
    }
    if (have.learning() != wanted.learning()) {
      d.add(wanted.learning() ? "nolearning -> learning" : "learning -> nolearning");
    }
    if (have.gbp() != wanted.gbp()) {
      d.add(wanted.gbp() ? "gbp off -> on" : "gbp on -> off");
    }
    if (wanted.udpCsum() != null && have.udpCsum() != wanted.udpCsum()) {
      d.add(wanted.udpCsum() ? "noudpcsum -> udpcsum" : "udpcsum -> noudpcsum");
    }
    return d;
  }

  /**
   * docs/flannel-compat.md §2.3: {@code <own subnet network address>/32} ({@code /128} for IPv6) as
   * the only address of {@code network} on the device (other in-Network addresses removed, others
   * left), then the device is set up.
   *
   * @return the device as the kernel reports it afterwards (its MAC is the VtepMAC)
   */
  public static Link ensureAddress(RtNetlink nl, Link device, IpSubnet network,
      IpSubnet ownSubnet) throws NetlinkException {
    Addresses.ensureOnly(nl, device.name(), new Address(device.index(), ownSubnet.networkAddress(),
        ownSubnet.ipv6() ? 128 : 32), network);
    if (!device.up()) {
      nl.setUp(device.index(), true);
    }
    return nl.linkByIndex(device.index()).orElseThrow(() -> new NetlinkException(
        "ensure address on " + device.name(), 19, "ENODEV", device.name() + " disappeared"));
  }

  /** {@code wanted} with another MAC. */
  public static VxlanSpec withMac(VxlanSpec wanted, String mac) {
    return new VxlanSpec(wanted.name(), wanted.vni(), wanted.local(), wanted.underlay(),
        wanted.port(), wanted.learning(), wanted.gbp(), wanted.udpCsum(), wanted.mtu(), mac);
  }

  private static int effectivePort(int port) {
    return port == 0 ? VxlanBackendConfig.DEFAULT_PORT : port;
  }

  private static String hostOf(InetAddress a) {
    return a == null ? "none" : IpSubnet.text(a);
  }
}
