package dev.tartan.agent.routing;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static dev.tartan.agent.routing.TestLeases.vxlan;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tartan.agent.backend.vxlan.VxlanBackendConfig;
import dev.tartan.agent.backend.vxlan.VxlanNetwork;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.NetlinkMonitor;
import dev.tartan.agent.netlink.rtnl.RtNetlinkClient;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.SubnetLease;
import java.time.Clock;
import java.time.Duration;
import java.util.function.UnaryOperator;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The data path on the real kernel, in namespaces this test creates ({@code dpt-XXXXXX}, underlay
 * 198.51.100.0/24 on a veth): device, addresses, bridge, peers as {@code ip -j} / {@code bridge -j}
 * show them (docs/flannel-compat.md §2.9), idempotence, removal, VtepMAC change, drift repair, and real VXLAN
 * traffic between two namespaces.
 */
@Timeout(120)
class DataPathIT {
  static final Ipv4Subnet NETWORK = net("10.244.0.0/16");
  static final Ipv4Subnet OWN = net("10.244.1.0/24");
  static final SubnetLease P2 = vxlan("10.244.2.0/24", "198.51.100.2", "5a:00:00:00:00:02");
  static final SubnetLease P3 = vxlan("10.244.3.0/24", "198.51.100.3", "5a:00:00:00:00:03");
  static final SubnetLease P4 = vxlan("10.244.4.0/24", "198.51.100.4", "5a:00:00:00:00:04");

  @BeforeAll
  static void requireRoot() {
    DataPathNetns.assumeRoot();
  }

  /** A namespace with {@code eth0} (veth to {@code eth0p}) at {@code 198.51.100.N/24}. */
  static DataPathNetns host(int n) {
    DataPathNetns ns = DataPathNetns.create();
    ns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0p");
    ns.ip("addr", "add", "198.51.100." + n + "/24", "dev", "eth0");
    ns.ip("link", "set", "eth0", "up");
    ns.ip("link", "set", "eth0p", "up");
    return ns;
  }

  static VxlanNetwork network(RtNetlinkClient nl, int n) throws Exception {
    Link eth0 = nl.linkByName("eth0").orElseThrow();
    return new VxlanNetwork(nl, VxlanBackendConfig.defaults(), NETWORK, ip("198.51.100." + n),
        eth0.index(), eth0.mtu(), "cni0");
  }

  @Test
  void programsExactlyTheSpecShapesAndRemovesAPeer() throws Exception {
    try (DataPathNetns ns = host(1); RtNetlinkClient nl = RtNetlinkClient.openInNamespace(ns.path())) {
      VxlanNetwork network = network(nl, 1);
      Link dev = network.ensureDevice();
      network.configure(OWN);
      Reconciler reconciler = new Reconciler(nl);

      ReconcileResult first = reconciler.reconcile(network.desired(List.of(P2, P3, P4)));
      assertThat(first.writes()).isEqualTo(9);
      assertThat(first.failures()).isZero();

      // the device: vxlan id 1, dev eth0, dstport 8472, nolearning, local, mtu 1450, up, our MAC
      JsonNode link = ns.ipJson("-d", "link", "show", "flannel.1").get(0);
      assertThat(link.path("mtu").asInt()).isEqualTo(1450);
      assertThat(link.path("address").asText()).isEqualTo(dev.mac());
      assertThat(link.path("flags").toString()).contains("\"UP\"");
      JsonNode vx = link.path("linkinfo").path("info_data");
      assertThat(link.path("linkinfo").path("info_kind").asText()).isEqualTo("vxlan");
      assertThat(vx.path("id").asInt()).isEqualTo(1);
      assertThat(vx.path("local").asText()).isEqualTo("198.51.100.1");
      assertThat(vx.path("link").asText()).isEqualTo("eth0");
      assertThat(vx.path("port").asInt()).isEqualTo(8472);
      assertThat(vx.path("learning").asBoolean(true)).isFalse();
      assertThat(addresses(ns, "flannel.1")).containsExactly("10.244.1.0/32");

      // cni0: bridge, 10.244.1.1/24, overlay MTU, up
      JsonNode br = ns.ipJson("-d", "link", "show", "cni0").get(0);
      assertThat(br.path("linkinfo").path("info_kind").asText()).isEqualTo("bridge");
      assertThat(br.path("mtu").asInt()).isEqualTo(1450);
      assertThat(br.path("flags").toString()).contains("\"UP\"");
      assertThat(addresses(ns, "cni0")).containsExactly("10.244.1.1/24");

      assertThat(neighbours(ns)).containsExactly(
          "10.244.2.0 5a:00:00:00:00:02 PERMANENT", "10.244.3.0 5a:00:00:00:00:03 PERMANENT",
          "10.244.4.0 5a:00:00:00:00:04 PERMANENT");
      assertThat(fdb(ns)).containsExactly(
          "5a:00:00:00:00:02 dst 198.51.100.2 self permanent",
          "5a:00:00:00:00:03 dst 198.51.100.3 self permanent",
          "5a:00:00:00:00:04 dst 198.51.100.4 self permanent");
      assertThat(routes(ns)).containsExactly(
          "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 111",
          "10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink proto 111",
          "10.244.4.0/24 via 10.244.4.0 dev flannel.1 onlink proto 111");

      // what the kernel reports back compares equal to what we want: a second pass writes nothing
      assertThat(reconciler.reconcile(network.desired(List.of(P2, P3, P4))).writes()).isZero();
      assertThat(network.repair()).isFalse();

      // a peer leaves
      ReconcileResult removal = reconciler.reconcile(network.desired(List.of(P2, P4)));
      assertThat(removal.peersRemoved()).isEqualTo(1);
      assertThat(removal.failures()).isZero();
      assertThat(neighbours(ns)).containsExactly(
          "10.244.2.0 5a:00:00:00:00:02 PERMANENT", "10.244.4.0 5a:00:00:00:00:04 PERMANENT");
      assertThat(fdb(ns)).containsExactly(
          "5a:00:00:00:00:02 dst 198.51.100.2 self permanent",
          "5a:00:00:00:00:04 dst 198.51.100.4 self permanent");
      assertThat(routes(ns)).containsExactly(
          "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 111",
          "10.244.4.0/24 via 10.244.4.0 dev flannel.1 onlink proto 111");

      // a peer's VtepMAC changes: neighbour replaced, old FDB entry deleted
      SubnetLease p4new = vxlan("10.244.4.0/24", "198.51.100.4", "5a:00:00:00:00:44");
      ReconcileResult change = reconciler.reconcile(network.desired(List.of(P2, p4new)));
      assertThat(change.failures()).isZero();
      assertThat(neighbours(ns)).containsExactly(
          "10.244.2.0 5a:00:00:00:00:02 PERMANENT", "10.244.4.0 5a:00:00:00:00:44 PERMANENT");
      assertThat(fdb(ns)).containsExactly(
          "5a:00:00:00:00:02 dst 198.51.100.2 self permanent",
          "5a:00:00:00:00:44 dst 198.51.100.4 self permanent");

      // the subnet changes (lease re-acquired elsewhere): device and bridge re-addressed
      network.ownSubnet(net("10.244.9.0/24"));
      network.repair();
      assertThat(addresses(ns, "flannel.1")).containsExactly("10.244.9.0/32");
      assertThat(addresses(ns, "cni0")).containsExactly("10.244.9.1/24");
    }
  }

  @Test
  void driftIsRepairedByTheLoop() throws Exception {
    try (DataPathNetns ns = host(1); RtNetlinkClient nl = RtNetlinkClient.openInNamespace(ns.path())) {
      VxlanNetwork network = network(nl, 1);
      Link dev = network.ensureDevice();
      network.configure(OWN);
      PeerLog peerLog = new PeerLog();
      List<String> lost = new CopyOnWriteArrayList<>();
      try (PeerSync sync = new PeerSync(network, new Reconciler(nl, peerLog), peerLog, OWN, Duration.ofHours(1),
          Duration.ofSeconds(60), Clock.systemUTC(), UnaryOperator.identity())) {
        DriftWatcher watcher = new DriftWatcher(sync.programmed(), "flannel.1", "cni0", sync::repair, lost::add);
        try (NetlinkMonitor monitor = RtNetlinkClient.monitor(ns.path(), watcher)) {
          sync.onSnapshot(List.of(P2, P3, P4));
          sync.start();
          await().atMost(Duration.ofSeconds(10)).until(() -> routes(ns).size() == 3);

          ns.ip("route", "del", "10.244.3.0/24");
          await().atMost(Duration.ofSeconds(2)).until(() -> routes(ns).size() == 3);
          assertThat(watcher.count(DriftWatcher.Kind.ROUTE)).isPositive();

          ns.ip("neigh", "del", "10.244.2.0", "dev", "flannel.1");
          await().atMost(Duration.ofSeconds(2)).until(() -> neighbours(ns).size() == 3);

          ns.run("bridge", "-n", ns.name, "fdb", "del", "5a:00:00:00:00:04", "dev", "flannel.1",
              "dst", "198.51.100.4", "self");
          await().atMost(Duration.ofSeconds(2)).until(() -> fdb(ns).size() == 3);

          ns.ip("link", "del", "flannel.1");
          await().atMost(Duration.ofSeconds(2)).until(() -> routes(ns).size() == 3
              && neighbours(ns).size() == 3 && fdb(ns).size() == 3);
          JsonNode link = ns.ipJson("-d", "link", "show", "flannel.1").get(0);
          assertThat(link.path("address").asText()).isEqualTo(dev.mac());
          assertThat(addresses(ns, "flannel.1")).containsExactly("10.244.1.0/32");
          assertThat(lost).contains("flannel.1");

          ns.ip("link", "del", "cni0");
          await().atMost(Duration.ofSeconds(2)).until(() -> addresses(ns, "cni0").equals(List.of("10.244.1.1/24")));
          assertThat(sync.lastError()).isNull();
        }
      }
    }
  }

  /** Two hosts on one underlay: a ping over the overlay shows the programmed data path works. */
  @Test
  void twoHostsTalkOverTheOverlay() throws Exception {
    try (DataPathNetns h1 = DataPathNetns.create(); DataPathNetns h2 = DataPathNetns.create()) {
      h1.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", h2.name);
      h1.ip("addr", "add", "198.51.100.1/24", "dev", "eth0");
      h2.ip("addr", "add", "198.51.100.2/24", "dev", "eth0");
      h1.ip("link", "set", "eth0", "up");
      h2.ip("link", "set", "eth0", "up");
      try (RtNetlinkClient nl1 = RtNetlinkClient.openInNamespace(h1.path());
          RtNetlinkClient nl2 = RtNetlinkClient.openInNamespace(h2.path())) {
        VxlanNetwork n1 = network(nl1, 1);
        VxlanNetwork n2 = network(nl2, 2);
        Link d1 = n1.ensureDevice();
        Link d2 = n2.ensureDevice();
        n1.configure(net("10.244.1.0/24"));
        n2.configure(net("10.244.2.0/24"));
        List<SubnetLease> leases = List.of(
            vxlan("10.244.1.0/24", "198.51.100.1", d1.mac()),
            vxlan("10.244.2.0/24", "198.51.100.2", d2.mac()));
        assertThat(new Reconciler(nl1).reconcile(n1.desired(leases)).failures()).isZero();
        assertThat(new Reconciler(nl2).reconcile(n2.desired(leases)).failures()).isZero();

        // h1 -> h2's bridge address, and back, through flannel.1 on both sides
        assertThat(h1.execIn("ping", "-c", "2", "-W", "2", "-i", "0.2", "10.244.2.1")).isZero();
        assertThat(h2.execIn("ping", "-c", "2", "-W", "2", "-i", "0.2", "10.244.1.1")).isZero();
        // MTU 1450: 1422 bytes of ICMP payload fit with DF set
        assertThat(h1.execIn("ping", "-c", "1", "-W", "2", "-M", "do", "-s", "1422", "10.244.2.1")).isZero();
      }
    }
  }

  /** Speed with 5,000 peers on the kernel (printed, not asserted). */
  @Test
  void fiveThousandPeers() throws Exception {
    try (DataPathNetns ns = host(1); RtNetlinkClient nl = RtNetlinkClient.openInNamespace(ns.path())) {
      VxlanNetwork network = network(nl, 1);
      network.ensureDevice();
      network.configure(OWN);
      Reconciler reconciler = new Reconciler(nl);
      List<SubnetLease> leases = new ArrayList<>();
      for (int i = 0; i < 5000; i++) {
        leases.add(vxlan("10." + (100 + i / 256) + "." + (i % 256) + ".0/24",
            "198.51.100." + (10 + i % 200), String.format("5a:00:00:00:%02x:%02x", i / 256, i % 256)));
      }
      ReconcileResult add = reconciler.reconcile(network.desired(leases));
      ReconcileResult noop = reconciler.reconcile(network.desired(leases));
      ReconcileResult noop2 = reconciler.reconcile(network.desired(leases));
      long d0 = System.nanoTime();
      DesiredState desired = network.desired(leases);
      long d1 = System.nanoTime();
      KernelDiff.Actual actual = reconciler.read(network.device().index());
      long d2 = System.nanoTime();
      KernelDiff.Plan none = KernelDiff.full(desired, actual);
      long d3 = System.nanoTime();
      System.out.printf("5000 peers, a no-op full pass split: desired state %d ms, three dumps %d ms, diff %d ms%n",
          (d1 - d0) / 1_000_000, (d2 - d1) / 1_000_000, (d3 - d2) / 1_000_000);
      assertThat(none.isEmpty()).isTrue();
      ReconcileResult remove = reconciler.reconcile(network.desired(List.of()));
      System.out.printf("5000 peers on the kernel: add %d ms (%d writes, %d failed), no-op %d / %d ms,"
          + " remove all %d ms (%d writes)%n", add.duration().toMillis(), add.writes(), add.failures(),
          noop.duration().toMillis(), noop2.duration().toMillis(), remove.duration().toMillis(),
          remove.writes());
      assertThat(add.failures()).isZero();
      assertThat(add.writes()).isEqualTo(15000);
      assertThat(noop.writes()).isZero();
      assertThat(remove.writes()).isEqualTo(15000);
      assertThat(routes(ns)).isEmpty();
    }
  }

  // ---- kernel state as iproute2 shows it, one line per entry, sorted

  static List<String> addresses(DataPathNetns ns, String dev) {
    List<String> out = new ArrayList<>();
    for (JsonNode l : ns.ipJson("-4", "addr", "show", "dev", dev)) {
      for (JsonNode a : l.path("addr_info")) {
        out.add(a.path("local").asText() + "/" + a.path("prefixlen").asInt());
      }
    }
    return out;
  }

  static List<String> neighbours(DataPathNetns ns) {
    Map<String, String> out = new TreeMap<>();
    for (JsonNode n : ns.ipJson("-4", "neigh", "show", "dev", "flannel.1")) {
      out.put(n.path("dst").asText(), n.path("dst").asText() + " " + n.path("lladdr").asText() + " "
          + String.join(",", texts(n.path("state"))));
    }
    return List.copyOf(out.values());
  }

  static List<String> fdb(DataPathNetns ns) {
    Map<String, String> out = new TreeMap<>();
    for (JsonNode e : ns.bridgeJson("fdb", "show", "dev", "flannel.1")) {
      out.put(e.path("mac").asText() + e.path("dst").asText(), e.path("mac").asText() + " dst "
          + e.path("dst").asText() + " " + String.join(" ", texts(e.path("flags"))) + " "
          + e.path("state").asText());
    }
    return List.copyOf(out.values());
  }

  static List<String> routes(DataPathNetns ns) {
    Map<String, String> out = new TreeMap<>();
    // every route on the device (our /32 makes no connected route), with its protocol
    for (JsonNode r : ns.ipJson("-4", "route", "show", "table", "main", "dev", "flannel.1")) {
      out.put(r.path("dst").asText(), r.path("dst").asText() + " via " + r.path("gateway").asText()
          + " dev flannel.1 " + String.join(" ", texts(r.path("flags")))
          + " proto " + r.path("protocol").asText());
    }
    return List.copyOf(out.values());
  }

  private static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    if (array.isArray()) {
      array.forEach(x -> out.add(x.asText()));
    } else if (!array.isMissingNode()) {
      out.add(array.asText());
    }
    return out;
  }
}
