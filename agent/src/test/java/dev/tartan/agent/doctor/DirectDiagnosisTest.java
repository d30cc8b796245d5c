package dev.tartan.agent.doctor;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.lease;
import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.doctor.Diagnosis.Identity;
import dev.tartan.agent.doctor.Diagnosis.SubnetFile;
import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.agent.netlink.rtnl.FdbEntry;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.Neighbour;
import dev.tartan.agent.netlink.rtnl.Route;
import dev.tartan.agent.subnetenv.SubnetEnv;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.SubnetLease;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The doctor with host-gw and VXLAN DirectRouting: direct routes checked against the leases. */
class DirectDiagnosisTest {
  static final int ETH0 = 2;
  static final int DEV = 3;
  static final int CNI0 = 4;
  static final Path FILE = Path.of("/run/flannel/subnet.env");

  static NetworkConfig config(String backend) {
    try {
      return NetworkConfig.parse("{\"Network\":\"10.244.0.0/16\",\"Backend\":" + backend + "}");
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  static Route direct(String subnet, String via) {
    return new Route(net(subnet), ip(via), ETH0, false, Route.TABLE_MAIN, Route.PROTO_TARTAN);
  }

  final List<Link> links = new ArrayList<>(List.of(
      new Link(ETH0, "eth0", "veth", 1500, "02:00:00:00:01:01", 1, 0, Optional.empty()),
      new Link(CNI0, "cni0", "bridge", 1500, "02:00:00:00:0c:01", 1, 0, Optional.empty())));
  final List<Address> addresses = new ArrayList<>(List.of(
      new Address(ETH0, ip("198.51.100.1"), 24),
      new Address(CNI0, ip("10.244.1.1"), 24)));
  final List<Route> routes = new ArrayList<>(List.of(
      new Route(net("0.0.0.0/0"), ip("198.51.100.254"), ETH0, false, Route.TABLE_MAIN, Route.PROTO_BOOT),
      new Route(net("198.51.100.0/24"), null, ETH0, false, Route.TABLE_MAIN, 2),
      new Route(net("10.244.1.0/24"), null, CNI0, false, Route.TABLE_MAIN, 2)));

  Report examine(NetworkConfig cfg, List<SubnetLease> leases, int mtu, List<Neighbour> neigh, List<FdbEntry> fdb) {
    KernelState k = new KernelState(links, addresses, routes, neigh, fdb);
    SubnetFile file = new SubnetFile(FILE, SubnetEnv.of(net("10.244.0.0/16"), net("10.244.1.0/24"), mtu, false), null);
    return Diagnosis.examine(new Diagnosis.Inputs(cfg, "/coreos.com/network/subnets/", leases, k,
        Identity.automatic(), file, set -> List.of(), "cni0"));
  }

  // ---- host-gw

  final List<SubnetLease> hostGw = List.of(
      lease("10.244.1.0/24", "198.51.100.1", "host-gw", null),
      lease("10.244.2.0/24", "198.51.100.2", "host-gw", null),
      lease("10.244.3.0/24", "203.0.113.3", "host-gw", null)); // another L2: skipped by the agent

  Report hostGw() {
    return examine(config("{\"Type\":\"host-gw\"}"), hostGw, 1500, List.of(), List.of());
  }

  @Test
  void aConvergedHostGwHostIsConsistent() {
    routes.add(direct("10.244.2.0/24", "198.51.100.2"));
    Report r = hostGw();
    assertThat(r.findings()).isEmpty();
    assertThat(r.host().device()).isEqualTo("none (host-gw)");
  }

  @Test
  void aMissingHostGwRouteIsReportedWithItsFix() {
    Report r = hostGw();
    assertThat(r.findings()).extracting(Finding::fix)
        .containsExactly("ip route replace 10.244.2.0/24 via 198.51.100.2 dev eth0 proto 111");
  }

  @Test
  void aStaleHostGwRouteAndAWrongMtuAreReported() {
    routes.add(direct("10.244.2.0/24", "198.51.100.2"));
    routes.add(direct("10.244.9.0/24", "198.51.100.9"));
    Report r = examine(config("{\"Type\":\"host-gw\"}"), hostGw, 1450, List.of(), List.of());
    assertThat(r.findings()).extracting(Finding::problem).anySatisfy(p -> assertThat(p)
        .isEqualTo("stale route 10.244.9.0/24 via 198.51.100.9 dev eth0 proto 111: no lease for 10.244.9.0/24"));
    assertThat(r.findings()).extracting(Finding::problem).anySatisfy(p -> assertThat(p)
        .isEqualTo("FLANNEL_MTU is 1450, expected 1500"));
  }

  // ---- vxlan DirectRouting

  static final String MAC1 = "0e:00:00:00:00:01";
  static final String MAC2 = "0e:00:00:00:00:02";
  static final String MAC3 = "0e:00:00:00:00:03";

  Report directRouting(List<Neighbour> neigh, List<FdbEntry> fdb) {
    links.add(new Link(DEV, "flannel.1", "vxlan", 1450, MAC1, 1, 0, Optional.of(
        new dev.tartan.agent.netlink.rtnl.VxlanInfo(1, ip("198.51.100.1"), ETH0, 8472, false, false, true))));
    links.set(1, new Link(CNI0, "cni0", "bridge", 1450, "02:00:00:00:0c:01", 1, 0, Optional.empty()));
    addresses.add(new Address(DEV, ip("10.244.1.0"), 32));
    return examine(config("{\"Type\":\"vxlan\",\"DirectRouting\":true}"), List.of(
        vxlan("10.244.1.0/24", "198.51.100.1", MAC1),
        vxlan("10.244.2.0/24", "198.51.100.2", MAC2),
        vxlan("10.244.3.0/24", "203.0.113.3", MAC3)), 1450, neigh, fdb);
  }

  @Test
  void directRoutingWantsTheDirectRouteOnLinkAndVxlanElsewhere() {
    routes.add(direct("10.244.2.0/24", "198.51.100.2"));
    routes.add(Route.overlay(net("10.244.3.0/24"), ip("10.244.3.0"), DEV));
    Report r = directRouting(List.of(Neighbour.permanent(DEV, ip("10.244.3.0"), MAC3)),
        List.of(new FdbEntry(DEV, MAC3, ip("203.0.113.3"))));
    assertThat(r.findings()).isEmpty();
  }

  @Test
  void anOnLinkPeerStillOnVxlanIsReported() {
    routes.add(Route.overlay(net("10.244.2.0/24"), ip("10.244.2.0"), DEV));
    routes.add(Route.overlay(net("10.244.3.0/24"), ip("10.244.3.0"), DEV));
    Report r = directRouting(List.of(Neighbour.permanent(DEV, ip("10.244.2.0"), MAC2),
            Neighbour.permanent(DEV, ip("10.244.3.0"), MAC3)),
        List.of(new FdbEntry(DEV, MAC2, ip("198.51.100.2")), new FdbEntry(DEV, MAC3, ip("203.0.113.3"))));
    assertThat(r.findings()).extracting(Finding::fix).containsExactlyInAnyOrder(
        "ip route replace 10.244.2.0/24 via 198.51.100.2 dev eth0 proto 111",
        "ip neigh del 10.244.2.0 dev flannel.1",
        "bridge fdb del 0e:00:00:00:00:02 dev flannel.1 dst 198.51.100.2 self");
  }
}
