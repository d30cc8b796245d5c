package dev.tartan.agent.doctor;

import static java.util.Objects.requireNonNull;

import dev.tartan.agent.backend.BackendConfigException;
import dev.tartan.agent.backend.BackendDataException;
import dev.tartan.agent.backend.Bridge;
import dev.tartan.agent.backend.DirectRoutes;
import dev.tartan.agent.backend.hostgw.HostGwPeers;
import dev.tartan.agent.backend.vxlan.VxlanBackendConfig;
import dev.tartan.agent.backend.vxlan.VxlanDevice;
import dev.tartan.agent.backend.vxlan.VxlanLeaseData;
import dev.tartan.agent.backend.vxlan.VxlanPeers;
import dev.tartan.agent.firewall.IptablesException;
import dev.tartan.agent.firewall.MasqRules;
import dev.tartan.agent.firewall.NftRules;
import dev.tartan.agent.firewall.NftTable;
import dev.tartan.agent.firewall.Rule;
import dev.tartan.agent.firewall.RuleSet;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.netlink.rtnl.VxlanInfo;
import dev.tartan.agent.netlink.rtnl.VxlanSpec;
import dev.tartan.agent.routing.DesiredState;
import dev.tartan.agent.routing.GraceFile;
import dev.tartan.agent.subnetenv.SubnetEnv;
import dev.tartan.net.IpSubnet;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.SubnetLease;
import java.net.Inet4Address;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * {@code tartan doctor}'s comparison, a pure function of what was read: the network config and
 * the leases from etcd, this host's kernel state, its subnet file and (through {@link MasqProbe})
 * its masquerade rules. What should be there comes from the agent's own pieces ({@link
 * VxlanPeers}, {@link VxlanDevice}, {@link MasqRules}, {@link SubnetEnv}); every difference is one
 * {@link Finding} with the command that repairs it.
 *
 * <p>Checks: leases in etcd (outside the network, wrong length, outside [SubnetMin, SubnetMax],
 * overlapping, duplicate VtepMAC or PublicIP, undecodable; flannel #805), which lease is this
 * host's, the VXLAN device (VNI, port, local, underlay, learning, GBP, MTU, MAC = VtepMAC, up,
 * address), cni0 (address, MTU, up), each peer's neighbour, FDB entry and route (missing, wrong
 * MAC or destination, not permanent) and stale entries of ours; with host-gw (no device) or VXLAN
 * DirectRouting, the direct route {@code S via PublicIP dev <ext iface>} of each peer on-link
 * (judged from the main table's longest match); the subnet file (exists, matches
 * the lease and config) and the masquerade chain when the file says {@code FLANNEL_IPMASQ=true}
 * (iptables FLANNEL-POSTRTG, or with {@code EnableNFTables} the nft table flannel-ipv4; with
 * {@code EnableIPv6} also ip6tables' FLANNEL-POSTRTG or the table ip6 flannel-ipv6; the other
 * mode's rules left behind are reported too).
 */
public final class Diagnosis {
  static final String RESTART = "systemctl restart tartan";

  private Diagnosis() {}

  /**
   * Who "this host" is: {@code --public-ip} and/or {@code --iface}; both null means the lease whose
   * PublicIP is an address of this host.
   */
  public record Identity(Inet4Address publicIp, String iface) {
    public static Identity automatic() {
      return new Identity(null, null);
    }
  }

  /**
   * The subnet file as found: {@code env} when it parsed, {@code error} when it did not (or could
   * not be read), neither when it does not exist.
   */
  public record SubnetFile(Path path, SubnetEnv env, String error) {
    public SubnetFile {
      requireNonNull(path, "path");
    }

    public static SubnetFile missing(Path path) {
      return new SubnetFile(path, null, null);
    }
  }

  /**
   * Which rules of a set are not in the kernel ({@code Iptables::missing}); and, for nftables
   * mode, a table as {@code nft -j list table} reads it ({@code Nft::list}).
   */
  @FunctionalInterface
  public interface MasqProbe {
    List<Rule> missing(RuleSet set) throws IptablesException;

    /** Like {@link #missing} in the IPv6 tables ({@code ip6tables-save}; dual stack). */
    default List<Rule> missing6(RuleSet set) throws IptablesException {
      throw new IptablesException("ip6tables is not available here");
    }

    /** The table, or empty when it does not exist. */
    default Optional<NftTable> nftTable(String family, String name) throws IptablesException {
      throw new IptablesException("nft is not available here");
    }
  }

  /**
   * Everything read.
   *
   * @param subnetsPrefix the etcd key prefix of the leases ({@code /coreos.com/network/subnets/})
   * @param bridgeName    the containers' bridge ({@code cni0})
   * @param held          peers the agent holds in grace after their lease expired ({@link GraceFile}):
   *                      their entries are expected, not stale
   */
  public record Inputs(NetworkConfig config, String subnetsPrefix, List<SubnetLease> leases,
      KernelState kernel, Identity identity, SubnetFile subnetFile, MasqProbe masq, String bridgeName,
      List<GraceFile.Held> held) {
    /** Without peers held in grace. */
    public Inputs(NetworkConfig config, String subnetsPrefix, List<SubnetLease> leases, KernelState kernel,
        Identity identity, SubnetFile subnetFile, MasqProbe masq, String bridgeName) {
      this(config, subnetsPrefix, leases, kernel, identity, subnetFile, masq, bridgeName, List.of());
    }

    public Inputs {
      held = List.copyOf(held);
      requireNonNull(config, "config");
      requireNonNull(subnetsPrefix, "subnetsPrefix");
      leases = List.copyOf(leases);
      requireNonNull(kernel, "kernel");
      requireNonNull(identity, "identity");
      requireNonNull(subnetFile, "subnetFile");
      requireNonNull(masq, "masq");
      requireNonNull(bridgeName, "bridgeName");
    }
  }

  /** Compares; never throws for what it finds. */
  public static Report examine(Inputs in) {
    Diagnosis.Run run = new Run(in);
    return run.examine();
  }

  /** The state of one examination. */
  private static final class Run {
    final Inputs in;
    final NetworkConfig cfg;
    final KernelState k;
    final List<Finding> findings = new ArrayList<>();
    Report.Host host;
    int peers;

    Run(Inputs in) {
      this.in = in;
      this.cfg = in.config();
      this.k = in.kernel();
    }

    void add(String check, String where, String problem, String fix) {
      findings.add(new Finding(check, where, problem, fix));
    }

    boolean hostGw() {
      return HostGwPeers.TYPE.equals(cfg.backendType());
    }

    Report examine() {
      checkLeases();
      if (hostGw()) {
        Optional<Own> own = identify();
        own.ifPresent(this::checkHostGw);
        return report();
      }
      VxlanBackendConfig backend;
      try {
        backend = VxlanBackendConfig.parse(cfg.backendJson());
      } catch (BackendConfigException e) {
        add("etcd", configKey(), "the network config's Backend is invalid: " + e.getMessage(),
            "tartan network init --network " + cfg.network() + " --force (with the backend flags you need)");
        return report();
      }
      Optional<Own> own = identify();
      if (own.isEmpty()) {
        return report();
      }
      checkHost(own.get(), backend);
      return report();
    }

    Report report() {
      return new Report(host, in.leases().size(), peers, findings, in.held());
    }

    String configKey() {
      String p = in.subnetsPrefix();
      String base = p.endsWith("subnets/") ? p.substring(0, p.length() - "subnets/".length()) : p;
      return base + "config";
    }

    String key(Ipv4Subnet s) {
      return in.subnetsPrefix() + Ipv4Subnet.format(s.address()) + "-" + s.prefixLength();
    }

    // ------------------------------------------------------------------ etcd

    void checkLeases() {
      for (SubnetLease l : in.leases()) {
        Ipv4Subnet s = l.subnet();
        String problem = null;
        if (!cfg.network().contains(s)) {
          problem = "lease " + s + " is outside the Network " + cfg.network();
        } else if (s.prefixLength() != cfg.subnetLen()) {
          problem = "lease " + s + " has length /" + s.prefixLength() + ", the network config says SubnetLen "
              + cfg.subnetLen();
        } else if (!cfg.accepts(s)) {
          problem = "lease " + s + " is outside [SubnetMin " + cfg.subnetMin().getHostAddress() + ", SubnetMax "
              + cfg.subnetMax().getHostAddress() + "]";
        }
        if (problem != null) {
          add("etcd", key(s), problem + " (host " + ip(l.attrs().publicIp()) + ")",
              "tartan leases release " + s + " (the host gets a valid subnet when its agent restarts)");
        }
      }
      // overlaps, duplicate VtepMACs, undecodable leases: the same rules the agent programs by
      DesiredState all = hostGw() ? HostGwPeers.desired(null, 1, ip -> null, in.leases())
          : VxlanPeers.desired(null, 1, in.leases());
      Map<Ipv4Subnet, SubnetLease> bySubnet = new HashMap<>();
      for (SubnetLease l : in.leases()) {
        bySubnet.put(l.subnet(), l);
      }
      for (DesiredState.Conflict c : all.conflicts()) {
        add("etcd", key(c.dropped()), "lease " + c.dropped() + " (host " + hostOf(bySubnet.get(c.dropped()))
                + ") conflicts with " + c.kept() + " (host " + hostOf(bySubnet.get(c.kept())) + "): " + c.reason()
                + "; peers program only " + c.kept(),
            "tartan leases release " + c.dropped());
      }
      for (DesiredState.Skipped s : all.skipped()) {
        add("etcd", key(s.subnet()), "lease " + s.subnet() + " (host " + hostOf(bySubnet.get(s.subnet()))
                + ") cannot be programmed: " + s.reason(),
            "restart tartan on that host (it rewrites its lease), or tartan leases release " + s.subnet());
      }
      Map<Inet4Address, List<SubnetLease>> byIp = new LinkedHashMap<>();
      for (SubnetLease l : in.leases()) {
        byIp.computeIfAbsent(l.attrs().publicIp(), x -> new ArrayList<>()).add(l);
      }
      byIp.forEach((ip, ls) -> {
        if (ls.size() > 1) {
          List<String> subnets = ls.stream().map(l -> l.subnet().toString()).toList();
          add("etcd", in.subnetsPrefix(), ls.size() + " leases for host " + ip(ip) + ": "
                  + String.join(", ", subnets) + "; peers route all of them to it",
              "keep the one in that host's subnet file, release the others: tartan leases release "
                  + subnets.get(subnets.size() - 1));
        }
      });
    }

    // ------------------------------------------------------------------ this host

    /** This host's lease, public IP and underlay interface. */
    record Own(SubnetLease lease, Inet4Address publicIp, Link underlay, Address underlayAddress) {}

    Optional<Own> identify() {
      Identity id = in.identity();
      Inet4Address publicIp = id.publicIp();
      Link iface = null;
      if (id.iface() != null) {
        iface = k.link(id.iface()).orElse(null);
        if (iface == null) {
          add("lease", id.iface(), "there is no interface " + id.iface() + " on this host",
              "pass the interface that carries the underlay (--iface), as given to the agent");
          return Optional.empty();
        }
        if (publicIp == null) {
          List<Address> addrs = k.addressesOf(iface.index());
          if (addrs.isEmpty()) {
            add("lease", id.iface(), id.iface() + " has no IPv4 address", "pass --public-ip");
            return Optional.empty();
          }
          publicIp = addrs.get(0).ipv4();
        }
      }
      Set<Inet4Address> local = new HashSet<>();
      for (Address a : k.addresses()) {
        local.add(a.ipv4());
      }
      if (publicIp == null) {
        List<Inet4Address> candidates = in.leases().stream().map(l -> l.attrs().publicIp())
            .filter(local::contains).distinct().toList();
        if (candidates.isEmpty()) {
          add("lease", "this host", "no lease in etcd has a PublicIP of this host ("
                  + k.addresses().stream().map(Address::ipv4)
                      .filter(a -> !a.isLoopbackAddress() && !cfg.network().contains(a))
                      .map(Diagnosis::ip).distinct().collect(Collectors.joining(", ")) + ")",
              "start the agent here (" + RESTART + "); behind NAT pass --public-ip");
          return Optional.empty();
        }
        if (candidates.size() > 1) {
          add("lease", "this host", "leases of several addresses of this host: "
                  + candidates.stream().map(Diagnosis::ip).collect(Collectors.joining(", ")),
              "pass --public-ip or --iface to say which one the agent uses");
          return Optional.empty();
        }
        publicIp = candidates.get(0);
      }
      Inet4Address pub = publicIp;
      List<SubnetLease> mine = in.leases().stream().filter(l -> l.attrs().publicIp().equals(pub)).toList();
      if (mine.isEmpty()) {
        add("lease", ip(pub), "no lease in etcd has PublicIP " + ip(pub),
            "start the agent here (" + RESTART + ") and check its log");
        return Optional.empty();
      }
      SubnetLease lease = mine.get(0);
      SubnetEnv env = in.subnetFile().env();
      if (mine.size() > 1 && env != null) {
        lease = mine.stream().filter(l -> l.subnet().equals(env.subnet())).findFirst().orElse(lease);
      }
      Address underlayAddress = null;
      for (Address a : k.addresses()) {
        if (a.address().equals(pub) && (iface == null || a.link() == iface.index())) {
          underlayAddress = a;
          break;
        }
      }
      if (iface == null && underlayAddress != null) {
        iface = k.link(underlayAddress.link()).orElse(null);
      }
      if (iface != null && underlayAddress == null) {
        List<Address> addrs = k.addressesOf(iface.index());
        underlayAddress = addrs.isEmpty() ? null : addrs.get(0);
      }
      return Optional.of(new Own(lease, pub, iface, underlayAddress));
    }

    void checkHost(Own own, VxlanBackendConfig backend) {
      String devName = backend.deviceName();
      host = new Report.Host(own.publicIp(), own.underlay() == null ? null : own.underlay().name(), own.lease(),
          devName);
      Ipv4Subnet subnet = own.lease().subnet();
      Integer overlayMtu = null;
      if (own.underlay() != null) {
        try {
          overlayMtu = backend.overlayMtu(own.underlay().mtu());
        } catch (IllegalArgumentException e) {
          add("device", own.underlay().name(), e.getMessage(), "raise the MTU of " + own.underlay().name());
        }
      }
      Optional<Link> device = k.link(devName);
      if (device.isEmpty()) {
        List<SubnetLease> remotes = remotes(own);
        add("device", devName, devName + " does not exist (and with it the entries of "
                + VxlanPeers.desired(subnet, 1, remotes).peers() + " peers)",
            RESTART + " (it creates " + devName + " and programs every peer)");
      } else {
        checkDevice(own, backend, device.get(), overlayMtu);
        DirectRoutes.OnLink direct = backend.directRouting() && own.underlay() != null
            ? onLink(own.underlay()) : null;
        int underlay = own.underlay() == null ? 0 : own.underlay().index();
        checkPeers(device.get(), VxlanPeers.desired(subnet, device.get().index(), underlay, direct, in.leases()));
      }
      checkBridge(own, overlayMtu);
      checkSubnetFile(own, overlayMtu);
      if (cfg.enableIPv6()) {
        checkIpv6(own, backend);
      }
    }

    // ------------------------------------------------------------------ dual stack (docs/flannel-compat.md §2.7)

    /** The IPv6 side: the lease's IPv6 part, flannel-v6.N (up, MAC, /128), cni0's gateway, the IPv6 entries. */
    void checkIpv6(Own own, VxlanBackendConfig backend) {
      SubnetLease lease = own.lease();
      Ipv6Subnet s6 = lease.ipv6Subnet();
      String name = backend.deviceName6();
      if (s6 == null || lease.attrs().publicIpv6() == null || lease.attrs().backendV6DataJson() == null) {
        add("lease", key(lease.subnet()), "the network config has EnableIPv6 but this host's lease has no "
                + (s6 == null ? "IPv6 subnet" : lease.attrs().publicIpv6() == null ? "PublicIPv6" : "BackendV6Data"),
            RESTART + " (it re-acquires a dual-stack lease; the interface needs a global IPv6 address)");
        return;
      }
      Optional<Link> device = k.link(name);
      if (device.isEmpty()) {
        add("device", name, name + " does not exist (and with it the IPv6 entries of "
                + VxlanPeers.desired6(lease.subnet(), s6, 1, remotes(own)).peers() + " peers)",
            RESTART + " (it creates " + name + " and programs every peer)");
      } else {
        Link dev = device.get();
        if (!dev.up()) {
          add("device", name, name + " is down", "ip link set " + name + " up");
        }
        if (dev.vxlan().isEmpty() || dev.vxlan().get().vni() != backend.vni()) {
          add("device", name, name + " is not a vxlan device of VNI " + backend.vni(),
              RESTART + " (it recreates " + name + ")");
        }
        try {
          VxlanLeaseData data = VxlanLeaseData.parse(lease.attrs().backendV6DataJson());
          if (!data.vtepMac().equalsIgnoreCase(dev.mac())) {
            add("device", name, name + " has MAC " + dev.mac() + " but the lease publishes the IPv6 VtepMAC "
                + data.vtepMac() + " (peers send to that MAC)", RESTART + " (it republishes the lease)");
          }
        } catch (BackendDataException e) {
          add("lease", key(lease.subnet()), "BackendV6Data is invalid: " + e.getMessage(), RESTART);
        }
        checkAddress6("device", dev, new Address(dev.index(), s6.networkAddress(), 128));
        checkPeers6(own, dev);
      }
      k.link(in.bridgeName()).ifPresent(b -> checkAddress6("bridge", b,
          new Address(b.index(), s6.host(1), s6.prefixLength())));
      SubnetEnv env = in.subnetFile().env();
      if (env != null && !java.util.Objects.equals(env.ipv6Subnet(), s6.toString())) {
        add("subnet-file", in.subnetFile().path().toString(), "FLANNEL_IPV6_SUBNET is "
                + (env.ipv6Subnet() == null ? "missing" : env.ipv6Subnet()) + ", this host's IPv6 subnet is " + s6,
            RESTART + " (it rewrites " + in.subnetFile().path() + "), then restart the containers started since");
      }
    }

    /** {@code wanted} present, and no other address of the IPv6 Network on the link. */
    void checkAddress6(String check, Link link, Address wanted) {
      boolean present = false;
      for (Address a : k.addresses6Of(link.index())) {
        if (a.address().equals(wanted.address()) && a.prefixLength() == wanted.prefixLength()) {
          present = true;
        } else if (cfg.ipv6Network() != null && cfg.ipv6Network().containsAddress(a.address())) {
          add(check, link.name(), link.name() + " has " + cidr(a) + ", which is not this host's IPv6 subnet",
              "ip addr del " + cidr(a) + " dev " + link.name());
        }
      }
      if (!present) {
        add(check, link.name(), link.name() + " lacks its address " + cidr(wanted),
            "ip addr add " + cidr(wanted) + " dev " + link.name());
      }
    }

    /** Every peer's IPv6 neighbour, FDB entry and route on {@code dev}; stale {@code proto tartan} IPv6 routes. */
    void checkPeers6(Own own, Link dev) {
      String d = dev.name();
      DesiredState want = VxlanPeers.desired6(own.lease().subnet(), own.lease().ipv6Subnet(), dev.index(), in.leases());
      Map<java.net.InetAddress, Neighbour> neighByIp = new HashMap<>();
      k.neighbours6().forEach(n -> neighByIp.putIfAbsent(n.ip(), n));
      Set<FdbEntry> fdb = new HashSet<>(k.fdb6());
      Map<IpSubnet, List<Route>> routesByDst = new HashMap<>();
      k.routes6().forEach(r -> routesByDst.computeIfAbsent(r.dst(), x -> new ArrayList<>()).add(r));
      Map<java.net.InetAddress, Neighbour> wantNeigh = new HashMap<>();
      want.neighbours().forEach(n -> wantNeigh.put(n.ip(), n));
      Map<String, FdbEntry> wantFdb = new HashMap<>();
      want.fdb().forEach(e -> wantFdb.put(e.mac(), e));
      List<Route> routes = new ArrayList<>(want.routes());
      routes.sort(Comparator.comparing(Route::dst, IpSubnet.ORDER));
      for (Route r : routes) {
        String where = want.owner(r) + " (" + r.dst() + ")";
        Neighbour n = r.gateway() == null ? null : wantNeigh.get(r.gateway());
        if (n != null) {
          Neighbour have = neighByIp.get(n.ip());
          if (have == null || !have.mac().equalsIgnoreCase(n.mac()) || (have.state() & Neighbour.NUD_PERMANENT) == 0) {
            add("neighbour", where, "IPv6 neighbour " + ip(n.ip()) + " lladdr " + n.mac() + " missing or different on "
                + d, neighCmd(n, d));
          }
          FdbEntry e = wantFdb.get(n.mac());
          if (e != null && !fdb.contains(e)) {
            add("fdb", where, "fdb " + e.mac() + " dst " + ip(e.dst()) + " missing on " + d, fdbCmd("replace", e, d));
          }
        }
        if (!routesByDst.getOrDefault(r.dst(), List.of()).contains(r)) {
          add("route", where, "route " + routeText(r, d) + " missing", routeCmd("replace", r, d));
        }
      }
      Set<IpSubnet> wanted = new HashSet<>();
      routes.forEach(r -> wanted.add(r.dst()));
      k.routes6().stream()
          .filter(r -> r.link() == dev.index() && r.protocol() == Route.PROTO_TARTAN && !wanted.contains(r.dst()))
          .sorted(Comparator.comparing(Route::dst, IpSubnet.ORDER))
          .forEach(r -> add("route", r.dst().toString(), "stale route " + routeText(r, d) + ": no lease for " + r.dst(),
              routeCmd("del", r, d)));
    }

    /** host-gw: no device; one route per on-link peer through the external interface; bridge and file at its MTU. */
    void checkHostGw(Own own) {
      host = new Report.Host(own.publicIp(), own.underlay() == null ? null : own.underlay().name(), own.lease(),
          "none (host-gw)");
      Integer mtu = own.underlay() == null ? null : own.underlay().mtu();
      if (own.underlay() == null) {
        add("device", ip(own.publicIp()), "cannot tell which interface carries " + ip(own.publicIp())
            + ", so the host-gw routes are not checked", "pass --iface, as given to the agent");
      } else {
        checkPeers(null, HostGwPeers.desired(own.lease().subnet(), own.underlay().index(), onLink(own.underlay()),
            in.leases()));
      }
      checkBridge(own, mtu);
      checkSubnetFile(own, mtu);
    }

    /**
     * Whether a peer is on-link, from the main table as read (longest prefix; the agent asks the
     * kernel with {@code ip route get}, which also follows policy rules).
     */
    DirectRoutes.OnLink onLink(Link underlay) {
      return ip -> {
        Route best = null;
        for (Route r : k.routes()) {
          if (r.table() == Route.TABLE_MAIN && r.dst().containsAddress(ip)
              && (best == null || r.dst().prefixLength() > best.dst().prefixLength())) {
            best = r;
          }
        }
        return DirectRoutes.decide(ip, Optional.ofNullable(best), underlay.index(), underlay.name());
      };
    }

    List<SubnetLease> remotes(Own own) {
      return in.leases().stream().filter(l -> !l.subnet().equals(own.lease().subnet())).toList();
    }

    void checkDevice(Own own, VxlanBackendConfig backend, Link dev, Integer overlayMtu) {
      String name = dev.name();
      Optional<VxlanInfo> info = dev.vxlan();
      // the agent's device spec; when the underlay is unknown (NAT without --iface) its two fields are not compared
      Inet4Address local = own.underlay() == null || own.underlayAddress() == null
          ? info.map(VxlanInfo::local).filter(Inet4Address.class::isInstance).map(Inet4Address.class::cast).orElse(null)
          : own.underlayAddress().ipv4().equals(own.publicIp()) ? own.publicIp() : own.underlayAddress().ipv4();
      int underlay = own.underlay() != null ? own.underlay().index() : info.map(VxlanInfo::underlay).orElse(0);
      VxlanSpec spec = new VxlanSpec(name, backend.vni(), local, underlay, backend.port(), backend.learning(),
          backend.gbp(), null, 0, null);
      List<String> diff = VxlanDevice.differences(dev, spec);
      if (!diff.isEmpty()) {
        List<String> named = diff.stream().map(this::linkNames).toList();
        add("device", name, name + " has other settings than the network config asks for: "
                + String.join(", ", named),
            RESTART + " (it recreates " + name + " with VNI " + backend.vni() + ", port " + backend.effectivePort()
                + (own.underlay() == null ? "" : ", dev " + own.underlay().name()) + ")");
      }
      if (overlayMtu != null && dev.mtu() != overlayMtu) {
        add("device", name, name + " has MTU " + dev.mtu() + ", expected " + overlayMtu + " (" + own.underlay().name()
                + " MTU " + own.underlay().mtu() + " - " + VxlanBackendConfig.OVERHEAD + ")",
            "ip link set " + name + " mtu " + overlayMtu);
      }
      if (!dev.up()) {
        add("device", name, name + " is down", "ip link set " + name + " up");
      }
      try {
        VxlanLeaseData data = VxlanLeaseData.parse(own.lease().attrs().backendDataJson());
        if (!data.vtepMac().equalsIgnoreCase(dev.mac())) {
          add("device", name, name + " has MAC " + dev.mac() + " but the lease publishes VtepMAC " + data.vtepMac()
                  + " (peers send to that MAC)",
              RESTART + " (it republishes the lease with the device's MAC)");
        }
      } catch (BackendDataException e) {
        // reported with the leases (cannot be programmed)
      }
      Ipv4Subnet subnet = own.lease().subnet();
      checkAddresses("device", dev, new Address(dev.index(), subnet.networkAddress(), 32));
    }

    /** {@code "dev 2 -> 3"} (ifindexes, as {@link VxlanDevice#differences} says it) with link names. */
    String linkNames(String difference) {
      if (!difference.startsWith("dev ")) {
        return difference;
      }
      String[] p = difference.substring(4).split(" -> ");
      try {
        return "dev " + k.nameOf(Integer.parseInt(p[0])) + " -> " + k.nameOf(Integer.parseInt(p[1]));
      } catch (RuntimeException e) {
        return difference;
      }
    }

    /** {@code wanted} present, and no other address of the Network on the link (flannel #520). */
    void checkAddresses(String check, Link link, Address wanted) {
      boolean present = false;
      for (Address a : k.addressesOf(link.index())) {
        if (a.address().equals(wanted.address()) && a.prefixLength() == wanted.prefixLength()) {
          present = true;
        } else if (cfg.network().contains(a.ipv4())) {
          add(check, link.name(), link.name() + " has " + cidr(a) + ", which is not this host's lease "
                  + host.lease().subnet(),
              "ip addr del " + cidr(a) + " dev " + link.name());
        }
      }
      if (!present) {
        add(check, link.name(), link.name() + " lacks its address " + cidr(wanted),
            "ip addr add " + cidr(wanted) + " dev " + link.name());
      }
    }

    void checkBridge(Own own, Integer overlayMtu) {
      String name = in.bridgeName();
      Ipv4Subnet subnet = own.lease().subnet();
      Optional<Link> br = k.link(name);
      if (br.isEmpty()) {
        add("bridge", name, name + " does not exist", RESTART + " (it creates " + name + " with "
            + Ipv4Subnet.format(Ipv4Subnet.toInt(subnet.host(1))) + "/" + subnet.prefixLength() + ")");
        return;
      }
      Link b = br.get();
      if (!"bridge".equals(b.kind())) {
        add("bridge", name, name + " is " + (b.kind().isEmpty() ? "not a bridge" : "a " + b.kind() + ", not a bridge"),
            "ip link del " + name + " && " + RESTART);
        return;
      }
      checkAddresses("bridge", b, new Address(b.index(), subnet.host(1), subnet.prefixLength()));
      if (overlayMtu != null && b.mtu() != overlayMtu) {
        add("bridge", name, name + " has MTU " + b.mtu() + ", expected " + overlayMtu,
            "ip link set " + name + " mtu " + overlayMtu);
      }
      if (!b.up()) {
        add("bridge", name, name + " is down", "ip link set " + name + " up");
      }
    }

    // ------------------------------------------------------------------ peers

    /** Each peer's entries against {@code want}; {@code dev} is the overlay device, or null (host-gw). */
    void checkPeers(Link dev, DesiredState want) {
      String d = dev == null ? null : dev.name();
      peers = want.peers();
      Map<Ipv4Subnet, SubnetLease> bySubnet = new HashMap<>();
      for (SubnetLease l : in.leases()) {
        bySubnet.put(l.subnet(), l);
      }
      Map<java.net.InetAddress, Neighbour> neighByIp = new HashMap<>();
      for (Neighbour n : k.neighbours()) {
        neighByIp.putIfAbsent(n.ip(), n);
      }
      Map<String, List<FdbEntry>> fdbByMac = new HashMap<>();
      for (FdbEntry e : k.fdb()) {
        fdbByMac.computeIfAbsent(e.mac(), x -> new ArrayList<>()).add(e);
      }
      Map<IpSubnet, List<Route>> routesByDst = new HashMap<>();
      for (Route r : k.routes()) {
        routesByDst.computeIfAbsent(r.dst(), x -> new ArrayList<>()).add(r);
      }
      Map<java.net.InetAddress, Neighbour> wantNeigh = new HashMap<>();
      for (Neighbour n : want.neighbours()) {
        wantNeigh.put(n.ip(), n);
      }
      Map<String, FdbEntry> wantFdb = new HashMap<>();
      for (FdbEntry e : want.fdb()) {
        wantFdb.put(e.mac(), e);
      }

      List<Route> routes = new ArrayList<>(want.routes());
      routes.sort(Comparator.comparing(Route::dst, IpSubnet.ORDER));
      for (Route r : routes) {
        SubnetLease peer = bySubnet.get(r.dst());
        String where = r.dst() + " (" + hostOf(peer) + ")";
        Neighbour n = wantNeigh.get(r.gateway());
        FdbEntry e = n == null ? null : wantFdb.get(n.mac());
        if (n != null) {
          Neighbour have = neighByIp.get(n.ip());
          if (have == null) {
            add("neighbour", where, "neighbour " + ip(n.ip()) + " lladdr " + n.mac() + " missing on " + d,
                neighCmd(n, d));
          } else if (!have.mac().equalsIgnoreCase(n.mac())) {
            add("neighbour", where, "neighbour " + ip(n.ip()) + " has lladdr " + orNone(have.mac())
                + ", the lease's VtepMAC is " + n.mac(), neighCmd(n, d));
          } else if ((have.state() & Neighbour.NUD_PERMANENT) == 0) {
            add("neighbour", where, "neighbour " + ip(n.ip()) + " is not permanent (nud 0x"
                + Integer.toHexString(have.state()) + ")", neighCmd(n, d));
          }
        }
        if (e != null) {
          List<FdbEntry> have = fdbByMac.getOrDefault(e.mac(), List.of());
          if (have.isEmpty()) {
            add("fdb", where, "fdb " + e.mac() + " dst " + ip(e.dst()) + " missing on " + d, fdbCmd("replace", e, d));
          } else if (!have.contains(e)) {
            add("fdb", where, "fdb " + e.mac() + " points to " + dsts(have) + ", the lease's PublicIP is "
                + ip(e.dst()), fdbCmd("replace", e, d));
          } else if (have.size() > 1) {
            for (FdbEntry extra : have) {
              if (!extra.equals(e)) {
                add("fdb", where, "fdb " + e.mac() + " also points to " + ip(extra.dst()), fdbCmd("del", extra, d));
              }
            }
          }
        }
        List<Route> haveRoutes = routesByDst.getOrDefault(r.dst(), List.of());
        String rd = k.nameOf(r.link());
        if (haveRoutes.isEmpty()) {
          add("route", where, "route " + routeText(r, rd) + " missing", routeCmd("replace", r, rd));
        } else if (!haveRoutes.contains(r)) {
          Route other = haveRoutes.get(0);
          add("route", where, "route to " + r.dst() + " is " + routeText(other, k.nameOf(other.link()))
              + ", expected " + routeText(r, rd), routeCmd("replace", r, rd));
        }
      }

      // entries of ours that no lease asks for (those of peers held in grace are expected)
      Set<IpSubnet> wantedDst = new HashSet<>();
      routes.forEach(r -> wantedDst.add(r.dst()));
      for (GraceFile.Held h : in.held()) {
        wantedDst.add(h.subnet());
        if (h.vtepMac() == null || dev == null) {
          continue; // a direct peer: its route only
        }
        wantNeigh.putIfAbsent(h.subnet().networkAddress(), Neighbour.permanent(dev.index(),
            h.subnet().networkAddress(), h.vtepMac()));
        wantFdb.putIfAbsent(h.vtepMac(), new FdbEntry(dev.index(), h.vtepMac(), h.publicIp()));
      }
      List<Route> staleRoutes = k.routes().stream()
          .filter(r -> ((dev != null && r.link() == dev.index())
              || (want.directLink() > 0 && r.link() == want.directLink()))
              && r.protocol() == Route.PROTO_TARTAN && !wantedDst.contains(r.dst()))
          .sorted(Comparator.comparing(Route::dst, IpSubnet.ORDER)).toList();
      for (Route r : staleRoutes) {
        String rd = k.nameOf(r.link());
        add("route", r.dst().toString(), "stale route " + routeText(r, rd) + ": no lease for " + r.dst(),
            routeCmd("del", r, rd));
      }
      if (dev == null) {
        return; // no overlay device: no neighbours or FDB entries of ours
      }
      List<Neighbour> staleNeigh = k.neighbours().stream()
          .filter(n -> (n.state() & Neighbour.NUD_PERMANENT) != 0 && !wantNeigh.containsKey(n.ip()))
          .sorted(Comparator.comparing(Neighbour::ip, IpSubnet.ADDRESS_ORDER)).toList();
      for (Neighbour n : staleNeigh) {
        add("neighbour", ip(n.ip()), "stale neighbour " + ip(n.ip()) + " lladdr " + n.mac() + " on " + d
            + ": no lease has this gateway", "ip neigh del " + ip(n.ip()) + " dev " + d);
      }
      List<FdbEntry> staleFdb = k.fdb().stream().filter(e -> !wantFdb.containsKey(e.mac()))
          .sorted(Comparator.comparing(FdbEntry::mac)).toList();
      for (FdbEntry e : staleFdb) {
        add("fdb", e.mac(), "stale fdb " + e.mac() + (e.dst() == null ? "" : " dst " + ip(e.dst())) + " on " + d
            + ": no lease has this VtepMAC", fdbCmd("del", e, d));
      }
    }

    // ------------------------------------------------------------------ files and rules

    void checkSubnetFile(Own own, Integer overlayMtu) {
      SubnetFile f = in.subnetFile();
      String path = f.path().toString();
      Ipv4Subnet subnet = own.lease().subnet();
      if (f.env() == null) {
        if (f.error() == null) {
          add("subnet-file", path, path + " does not exist (the CNI plugin needs it)",
              RESTART + " (it writes " + path + "; pass --subnet-file if the agent uses another path)");
        } else {
          add("subnet-file", path, path + " is unreadable: " + f.error(), RESTART + " (it rewrites " + path + ")");
        }
        return;
      }
      SubnetEnv env = f.env();
      String rewrite = RESTART + " (it rewrites " + path + "), then restart the containers started since";
      if (!env.network().equals(cfg.network())) {
        add("subnet-file", path, "FLANNEL_NETWORK is " + env.network() + ", the network config says "
            + cfg.network(), rewrite);
      }
      if (!env.subnet().equals(subnet)) {
        add("subnet-file", path, "FLANNEL_SUBNET is " + ip(env.gateway()) + "/" + env.subnet().prefixLength()
            + ", this host's lease is " + subnet, rewrite);
      }
      if (overlayMtu != null && env.mtu() != overlayMtu) {
        add("subnet-file", path, "FLANNEL_MTU is " + env.mtu() + ", expected " + overlayMtu, rewrite);
      }
      Ipv6Subnet subnet6 = cfg.enableIPv6() ? own.lease().ipv6Subnet() : null;
      if (env.ipMasq() && cfg.enableNFTables()) {
        checkNftMasquerade(subnet);
        if (subnet6 != null) {
          checkNftMasquerade6(subnet6);
        }
      } else if (env.ipMasq()) {
        checkMasquerade(subnet);
        if (subnet6 != null) {
          checkMasquerade6(subnet6);
        }
        checkNoNftTable();
      }
    }

    /** Which rules of a set a table lacks: {@link MasqProbe#missing} or {@link MasqProbe#missing6}. */
    @FunctionalInterface
    interface RuleProbe {
      List<Rule> missing(RuleSet set) throws IptablesException;
    }

    void checkMasquerade(Ipv4Subnet subnet) {
      checkIptablesMasquerade("iptables", in.masq()::missing,
          randomFully -> MasqRules.masquerade(cfg.network(), subnet, randomFully));
    }

    /** Dual stack, iptables mode: the same chain in ip6tables for IPv6Network and this host's IPv6 subnet. */
    void checkMasquerade6(Ipv6Subnet subnet6) {
      checkIptablesMasquerade("ip6tables", in.masq()::missing6,
          randomFully -> MasqRules.masquerade(cfg.ipv6Network(), subnet6, randomFully));
    }

    void checkIptablesMasquerade(String tool, RuleProbe probe, java.util.function.Function<Boolean, RuleSet> rules) {
      String where = tool + " -t nat " + MasqRules.MASQ_CHAIN;
      List<Rule> best = null;
      int total = 0;
      try {
        // with or without --random-fully, whichever the agent could use
        for (boolean randomFully : new boolean[] {true, false}) {
          RuleSet set = rules.apply(randomFully);
          List<Rule> missing = probe.missing(set);
          if (best == null || missing.size() < best.size()) {
            best = missing;
            total = set.all().size();
          }
        }
      } catch (IptablesException e) {
        add("masquerade", where, "cannot read the masquerade rules: " + e.getMessage(),
            "apt-get install iptables, and run the doctor as root");
        return;
      }
      if (!best.isEmpty()) {
        add("masquerade", where, best.size() == total
                ? "the masquerade rules are missing (FLANNEL_IPMASQ=true): " + best.get(0).text() + " ..."
                : best.size() + " of " + total + " masquerade rules missing, first: " + best.get(0).text(),
            RESTART + " (it re-applies them; a running agent does every --iptables-resync)");
      }
    }

    /**
     * nftables mode: table ip flannel-ipv4 holds exactly flannel's chain postrtg (with or without
     * fully-random) and, when present, chain forward; the iptables mode's chain is gone.
     */
    void checkNftMasquerade(Ipv4Subnet subnet) {
      checkNftTable("ip", NftRules.IPV4_TABLE,
          (randomFully, forward) -> NftRules.ipv4(cfg.network(), subnet, true, randomFully, forward));
      checkNoIptablesChain("iptables", in.masq()::missing, MasqRules.masquerade(cfg.network(), subnet, true));
    }

    /** Dual stack, nftables mode: the same for table ip6 flannel-ipv6 and the ip6tables chain. */
    void checkNftMasquerade6(Ipv6Subnet subnet6) {
      checkNftTable("ip6", NftRules.IPV6_TABLE,
          (randomFully, forward) -> NftRules.ipv6(cfg.ipv6Network(), subnet6, true, randomFully, forward));
      checkNoIptablesChain("ip6tables", in.masq()::missing6, MasqRules.masquerade(cfg.ipv6Network(), subnet6, true));
    }

    void checkNftTable(String family, String table,
        java.util.function.BiFunction<Boolean, Boolean, NftTable> expected) {
      String where = "nft table " + family + " " + table;
      Optional<NftTable> now;
      try {
        now = in.masq().nftTable(family, table);
      } catch (IptablesException e) {
        add("masquerade", where, "cannot read the nftables rules: " + e.getMessage(),
            "apt-get install nftables, and run the doctor as root");
        return;
      }
      if (now.isEmpty()) {
        add("masquerade", where,
            "table " + family + " " + table + " is missing (EnableNFTables, FLANNEL_IPMASQ=true)",
            RESTART + " (it re-creates it; a running agent does every --iptables-resync)");
        return;
      }
      boolean forward = now.get().chain(NftRules.FORWARD_CHAIN) != null;
      List<String> best = null;
      for (boolean randomFully : new boolean[] {true, false}) {
        List<String> d = expected.apply(randomFully, forward).differences(now.get());
        if (best == null || d.size() < best.size()) {
          best = d;
        }
      }
      for (String d : best) {
        add("masquerade", where, d,
            RESTART + " (it re-creates the table; a running agent does every --iptables-resync)");
      }
    }

    /** nftables mode: none of iptables mode's masquerade rules left in {@code tool}. */
    void checkNoIptablesChain(String tool, RuleProbe probe, RuleSet old) {
      try {
        if (probe.missing(old).size() < old.all().size()) {
          add("masquerade", tool + " -t nat " + MasqRules.MASQ_CHAIN, "iptables mode's "
              + (tool.equals("ip6tables") ? "IPv6 " : "") + "masquerade rules are still present in nftables mode",
              RESTART + " (in nftables mode it removes the iptables chains of ours)");
        }
      } catch (IptablesException e) {
        // no such binary here: nothing of iptables mode can be left
      }
    }

    /** iptables mode: no table of nftables mode left behind. */
    void checkNoNftTable() {
      try {
        if (in.masq().nftTable("ip", NftRules.IPV4_TABLE).isPresent()) {
          add("masquerade", "nft table ip " + NftRules.IPV4_TABLE, "nftables mode's table is still present in "
              + "iptables mode", RESTART + " (in iptables mode it deletes the nft tables of ours)");
        }
      } catch (IptablesException e) {
        // no nft here: nothing of nftables mode can be left
      }
    }

    // ------------------------------------------------------------------ text

    String hostOf(SubnetLease l) {
      return l == null ? "?" : ip(l.attrs().publicIp());
    }
  }

  static String ip(java.net.InetAddress a) {
    return a == null ? "none" : IpSubnet.text(a);
  }

  private static String orNone(String mac) {
    return mac.isEmpty() ? "none" : mac;
  }

  private static String cidr(Address a) {
    return ip(a.address()) + "/" + a.prefixLength();
  }

  private static String dsts(List<FdbEntry> es) {
    return es.stream().map(e -> ip(e.dst())).collect(Collectors.joining(", "));
  }

  /** {@code 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 111}. */
  static String routeText(Route r, String dev) {
    return r.dst() + (r.gateway() == null ? "" : " via " + ip(r.gateway())) + " dev " + dev
        + (r.onlink() ? " onlink" : "") + (r.table() == Route.TABLE_MAIN ? "" : " table " + r.table())
        + " proto " + r.protocol();
  }

  static String routeCmd(String verb, Route r, String dev) {
    return "ip route " + verb + " " + routeText(r, dev);
  }

  static String neighCmd(Neighbour n, String dev) {
    return "ip neigh replace " + ip(n.ip()) + " lladdr " + n.mac() + " dev " + dev + " nud permanent";
  }

  static String fdbCmd(String verb, FdbEntry e, String dev) {
    return "bridge fdb " + verb + " " + e.mac() + " dev " + dev + (e.dst() == null ? "" : " dst " + ip(e.dst()))
        + " self" + (verb.equals("del") ? "" : " permanent");
  }

  /** The containers' bridge name by default. */
  public static String defaultBridge() {
    return Bridge.DEFAULT_NAME;
  }
}
