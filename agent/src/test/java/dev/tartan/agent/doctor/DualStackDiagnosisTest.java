package dev.tartan.agent.doctor;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.doctor.Diagnosis.Identity;
import dev.tartan.agent.doctor.Diagnosis.SubnetFile;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.netlink.rtnl.VxlanInfo;
import dev.tartan.agent.subnetenv.SubnetEnv;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.SubnetLease;
import java.net.Inet6Address;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@code tartan doctor} on a dual-stack host: flannel-v6.1, its /128, cni0's IPv6 gateway, the IPv6 entries. */
class DualStackDiagnosisTest {
  static final int ETH0 = 2;
  static final int DEV = 3;
  static final int CNI0 = 4;
  static final int DEV6 = 5;
  static final String MAC1 = "0e:00:00:00:00:01";
  static final String MAC2 = "0e:00:00:00:00:02";
  static final String MAC61 = "0e:00:00:00:06:01";
  static final String MAC62 = "0e:00:00:00:06:02";

  static Inet6Address ip6(String s) {
    return Ipv6Text.parse(s);
  }

  static SubnetLease dual(String s4, String s6, String pub, String pub6, String mac, String mac6) {
    return new SubnetLease(net(s4), Ipv6Subnet.parse(s6), new LeaseAttrs(ip(pub), ip6(pub6), "vxlan",
        "{\"VNI\":1,\"VtepMAC\":\"" + mac + "\"}", "{\"VNI\":1,\"VtepMAC\":\"" + mac6 + "\"}"), null, 7, 1);
  }

  final List<SubnetLease> leases = new ArrayList<>(List.of(
      dual("10.244.1.0/24", "fd00:10:0:1::/64", "198.51.100.1", "2001:db8::1", MAC1, MAC61),
      dual("10.244.2.0/24", "fd00:10:0:2::/64", "198.51.100.2", "2001:db8::2", MAC2, MAC62)));
  final List<Link> links = new ArrayList<>(List.of(
      new Link(ETH0, "eth0", "veth", 1500, "02:00:00:00:01:01", 1, 0, Optional.empty()),
      new Link(DEV, "flannel.1", "vxlan", 1450, MAC1, 1, 0,
          Optional.of(new VxlanInfo(1, ip("198.51.100.1"), ETH0, 8472, false, false, true))),
      new Link(CNI0, "cni0", "bridge", 1450, "02:00:00:00:0c:01", 1, 0, Optional.empty()),
      new Link(DEV6, "flannel-v6.1", "vxlan", 1430, MAC61, 1, 0,
          Optional.of(new VxlanInfo(1, ip6("2001:db8::1"), ETH0, 8472, false, false, true)))));
  final List<Address> addresses6 = new ArrayList<>(List.of(
      new Address(ETH0, ip6("2001:db8::1"), 64),
      new Address(DEV6, ip6("fd00:10:0:1::"), 128),
      new Address(CNI0, ip6("fd00:10:0:1::1"), 64)));
  final List<Route> routes6 = new ArrayList<>(List.of(
      Route.overlay(Ipv6Subnet.parse("fd00:10:0:2::/64"), ip6("fd00:10:0:2::"), DEV6)));
  final List<Neighbour> neighbours6 = new ArrayList<>(List.of(Neighbour.permanent(DEV6, ip6("fd00:10:0:2::"), MAC62)));
  final List<FdbEntry> fdb6 = new ArrayList<>(List.of(new FdbEntry(DEV6, MAC62, ip6("2001:db8::2"))));

  Report examine() throws Exception {
    NetworkConfig cfg = NetworkConfig.parse("{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true,"
        + "\"IPv6Network\":\"fd00:10::/48\",\"IPv6SubnetLen\":64,\"Backend\":{\"Type\":\"vxlan\"}}");
    KernelState k = new KernelState(links,
        List.of(new Address(ETH0, ip("198.51.100.1"), 24), new Address(DEV, ip("10.244.1.0"), 32),
            new Address(CNI0, ip("10.244.1.1"), 24)),
        List.of(new Route(net("0.0.0.0/0"), ip("198.51.100.254"), ETH0, false, Route.TABLE_MAIN, Route.PROTO_BOOT),
            Route.overlay(net("10.244.2.0/24"), ip("10.244.2.0"), DEV)),
        List.of(Neighbour.permanent(DEV, ip("10.244.2.0"), MAC2)),
        List.of(new FdbEntry(DEV, MAC2, ip("198.51.100.2"))),
        addresses6, routes6, neighbours6, fdb6);
    SubnetFile file = new SubnetFile(Path.of("/run/flannel/subnet.env"), new SubnetEnv(net("10.244.0.0/16"),
        net("10.244.1.0/24"), 1450, false, "fd00:10::/48", "fd00:10:0:1::/64"), null);
    return Diagnosis.examine(new Diagnosis.Inputs(cfg, "/coreos.com/network/subnets/", leases, k,
        Identity.automatic(), file, set -> List.of(), "cni0"));
  }

  @Test
  void aConvergedDualStackHostIsConsistent() throws Exception {
    assertThat(examine().findings()).isEmpty();
  }

  @Test
  void missingIpv6EntriesAreNamedWithTheCommandThatFixesThem() throws Exception {
    routes6.clear();
    neighbours6.clear();
    fdb6.clear();
    addresses6.removeIf(a -> a.link() == CNI0);
    List<Finding> f = examine().findings();
    assertThat(f).extracting(Finding::fix).containsExactlyInAnyOrder(
        "ip neigh replace fd00:10:0:2:: lladdr " + MAC62 + " dev flannel-v6.1 nud permanent",
        "bridge fdb replace " + MAC62 + " dev flannel-v6.1 dst 2001:db8::2 self permanent",
        "ip route replace fd00:10:0:2::/64 via fd00:10:0:2:: dev flannel-v6.1 onlink proto 111",
        "ip addr add fd00:10:0:1::1/64 dev cni0");
  }

  @Test
  void aMissingIpv6DeviceAndAStaleRouteAreReported() throws Exception {
    links.removeIf(l -> l.index() == DEV6);
    assertThat(examine().findings()).extracting(Finding::problem)
        .containsExactly("flannel-v6.1 does not exist (and with it the IPv6 entries of 1 peers)");

    links.add(new Link(DEV6, "flannel-v6.1", "vxlan", 1430, MAC61, 1, 0,
        Optional.of(new VxlanInfo(1, ip6("2001:db8::1"), ETH0, 8472, false, false, true))));
    routes6.add(Route.overlay(Ipv6Subnet.parse("fd00:10:0:9::/64"), ip6("fd00:10:0:9::"), DEV6));
    assertThat(examine().findings()).extracting(Finding::fix)
        .containsExactly("ip route del fd00:10:0:9::/64 via fd00:10:0:9:: dev flannel-v6.1 onlink proto 111");
  }

  @Test
  void aLeaseWithoutItsIpv6PartIsReported() throws Exception {
    leases.set(0, new SubnetLease(net("10.244.1.0/24"), null,
        LeaseAttrs.ipv4(ip("198.51.100.1"), "vxlan", "{\"VNI\":1,\"VtepMAC\":\"" + MAC1 + "\"}"), null, 7, 1));
    assertThat(examine().findings()).extracting(Finding::problem).anyMatch(p -> p.contains("has no IPv6 subnet"));
  }
}
