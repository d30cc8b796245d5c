package dev.tartan.agent.netlink.rtnl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tartan.agent.netlink.Errno;
import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.NetworkNamespace;
import dev.tartan.agent.netlink.TestNetns;
import dev.tartan.net.Ipv4Subnet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The rtnetlink contract on the real kernel, plus checks of what {@link RtNetlinkClient} programs
 * against {@code ip -j} / {@code bridge -j} output. Every test runs in a namespace it creates
 * ({@code nlt-XXXXXX}) through a socket opened there with {@link RtNetlinkClient#openInNamespace};
 * the root namespace is never programmed.
 */
class KernelRtNetlinkContractIT extends RtNetlinkContract {
  private TestNetns ns;

  @BeforeAll
  static void requireRoot() {
    TestNetns.assumeKernelTestsPossible();
  }

  @Override
  protected RtNetlink openFreshNamespace() throws Exception {
    ns = TestNetns.create();
    ns.addUnderlay(UNDERLAY, "198.51.100.1/24");
    return RtNetlinkClient.openInNamespace(ns.path());
  }

  @Override
  protected NetlinkMonitor monitor(Consumer<NetlinkEvent> listener) throws Exception {
    return RtNetlinkClient.monitor(ns.path(), listener);
  }

  @Override
  protected void destroyNamespace() {
    if (ns != null) {
      ns.close();
    }
  }

  private static JsonNode only(JsonNode array) {
    assertThat(array.isArray()).isTrue();
    assertThat(array.size()).as("entries in %s", array).isEqualTo(1);
    return array.get(0);
  }

  private static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  // ------------------------------------------------------------------ checked with ip / bridge

  @Test
  void vxlanAsIpSeesIt() throws Exception {
    rtnl.createVxlan(new VxlanSpec("nlt-vx", 4242, UNDERLAY_IP, underlay.index(), 8472, false, false,
        null, 1400, "02:00:00:aa:bb:cc"));
    rtnl.createVxlan(new VxlanSpec("nlt-vx2", 7, UNDERLAY_IP, underlay.index(), 4789, false, true,
        false, 0, null));

    JsonNode l = only(ns.ipJson("-d", "link", "show", "nlt-vx"));
    assertThat(l.get("mtu").asInt()).isEqualTo(1400);
    assertThat(l.get("address").asText()).isEqualTo("02:00:00:aa:bb:cc");
    JsonNode d = l.get("linkinfo").get("info_data");
    assertThat(l.get("linkinfo").get("info_kind").asText()).isEqualTo("vxlan");
    assertThat(d.get("id").asInt()).isEqualTo(4242);
    assertThat(d.get("port").asInt()).isEqualTo(8472);
    assertThat(d.get("learning").asBoolean()).isFalse();
    assertThat(d.get("local").asText()).isEqualTo("198.51.100.1");
    assertThat(d.get("link").asText()).isEqualTo(UNDERLAY);
    assertThat(d.get("udp_csum").asBoolean()).isTrue();

    JsonNode l2 = only(ns.ipJson("-d", "link", "show", "nlt-vx2"));
    JsonNode d2 = l2.get("linkinfo").get("info_data");
    assertThat(d2.get("id").asInt()).isEqualTo(7);
    assertThat(d2.get("port").asInt()).as("big-endian IFLA_VXLAN_PORT").isEqualTo(4789);
    assertThat(d2.get("learning").asBoolean()).isFalse();
    assertThat(d2.has("gbp")).isTrue();
    assertThat(d2.get("udp_csum").asBoolean()).isFalse();
    assertThat(l2.get("mtu").asInt()).isEqualTo(1450);
  }

  @Test
  void bridgeAndMasterAsIpSeesThem() throws Exception {
    Link br = rtnl.createBridge("nlt-br", 1400);
    assertThat(only(ns.ipJson("link", "show", "nlt-br")).get("mtu").asInt()).isEqualTo(1400);
    rtnl.createVethPair("nlt-va", "nlt-vb", -1);
    Link va = rtnl.linkByName("nlt-va").orElseThrow();
    rtnl.setMaster(va.index(), br.index());
    rtnl.setUp(br.index(), true);
    JsonNode b = only(ns.ipJson("-d", "link", "show", "nlt-br"));
    assertThat(b.get("linkinfo").get("info_kind").asText()).isEqualTo("bridge");
    assertThat(b.get("mtu").asInt()).as("bridge MTU follows its ports once one joins").isEqualTo(1500);
    assertThat(texts(b.get("flags"))).contains("UP");
    assertThat(only(ns.ipJson("link", "show", "nlt-va")).get("master").asText()).isEqualTo("nlt-br");
  }

  @Test
  void vethPeerGoesIntoASecondNamespace() throws Exception {
    try (TestNetns other = TestNetns.create(); NetworkNamespace fd = NetworkNamespace.open(other.path())) {
      rtnl.createVethPair("nlt-va", "nlt-vb", fd.fd());
      assertThat(rtnl.linkByName("nlt-va")).isPresent();
      assertThat(rtnl.linkByName("nlt-vb")).isEmpty();
      JsonNode peer = only(other.ipJson("-d", "link", "show", "nlt-vb"));
      assertThat(peer.get("linkinfo").get("info_kind").asText()).isEqualTo("veth");
      try (RtNetlinkClient there = RtNetlinkClient.openInNamespace(other.path())) {
        assertThat(there.linkByName("nlt-vb")).get().extracting(Link::kind).isEqualTo("veth");
      }
    }
  }

  @Test
  void addressAsIpSeesIt() throws Exception {
    Link br = rtnl.createBridge("nlt-br", 0);
    rtnl.addAddress(new Address(br.index(), ip("10.244.7.1"), 24));
    JsonNode info = only(only(ns.ipJson("-4", "addr", "show", "dev", "nlt-br")).get("addr_info"));
    assertThat(info.get("local").asText()).isEqualTo("10.244.7.1");
    assertThat(info.get("prefixlen").asInt()).isEqualTo(24);
  }

  @Test
  void onlinkRouteNeighbourAndFdbAsIpAndBridgeSeeThem() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    rtnl.replaceNeighbour(Neighbour.permanent(vx.index(), ip("10.244.3.0"), "02:00:00:00:03:00"));
    rtnl.replaceFdb(new FdbEntry(vx.index(), "02:00:00:00:03:00", ip("198.51.100.3")));
    rtnl.replaceRoute(Route.overlay(net("10.244.3.0/24"), ip("10.244.3.0"), vx.index()));

    JsonNode n = only(ns.ipJson("-4", "neigh", "show", "dev", "nlt-vx"));
    assertThat(n.get("dst").asText()).isEqualTo("10.244.3.0");
    assertThat(n.get("lladdr").asText()).isEqualTo("02:00:00:00:03:00");
    assertThat(texts(n.get("state"))).containsExactly("PERMANENT");

    JsonNode f = only(ns.bridgeJson("fdb", "show", "dev", "nlt-vx"));
    assertThat(f.get("mac").asText()).isEqualTo("02:00:00:00:03:00");
    assertThat(f.get("dst").asText()).isEqualTo("198.51.100.3");
    assertThat(texts(f.get("flags"))).contains("self");
    assertThat(f.get("state").asText()).isEqualTo("permanent");

    JsonNode r = only(ns.ipJson("route", "show", "table", "main", "proto", "111"));
    assertThat(r.get("dst").asText()).isEqualTo("10.244.3.0/24");
    assertThat(r.get("gateway").asText()).isEqualTo("10.244.3.0");
    assertThat(r.get("dev").asText()).isEqualTo("nlt-vx");
    assertThat(texts(r.get("flags"))).contains("onlink");
  }

  @Test
  void objectsMadeByIpReadBackEqual() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    ns.ip("route", "add", "10.244.9.0/24", "via", "10.244.9.0", "dev", "nlt-vx", "onlink", "proto", "111");
    ns.ip("neigh", "add", "10.244.9.0", "lladdr", "02:00:00:00:09:00", "dev", "nlt-vx", "nud", "permanent");
    ns.bridge("fdb", "add", "02:00:00:00:09:00", "dev", "nlt-vx", "dst", "198.51.100.9", "self", "permanent");
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN))
        .containsExactly(Route.overlay(net("10.244.9.0/24"), ip("10.244.9.0"), vx.index()));
    assertThat(rtnl.neighbours(vx.index()))
        .containsExactly(Neighbour.permanent(vx.index(), ip("10.244.9.0"), "02:00:00:00:09:00"));
    assertThat(rtnl.fdb(vx.index()))
        .containsExactly(new FdbEntry(vx.index(), "02:00:00:00:09:00", ip("198.51.100.9")));
  }

  @Test
  void kernelErrorsCarryErrnoNameAndExtendedAck() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    assertThatThrownBy(() -> rtnl.setMtu(vx.index(), 67))
        .isInstanceOfSatisfying(NetlinkException.class, e -> {
          assertThat(e.errno()).isEqualTo(Errno.EINVAL);
          assertThat(e.extAck()).contains("mtu less than device minimum");
          assertThat(e.getMessage()).contains("ip link set dev " + vx.index() + " mtu 67", "EINVAL");
        });
    assertThatThrownBy(() -> rtnl.deleteAddress(new Address(underlay.index(), ip("198.51.100.77"), 24)))
        .isInstanceOfSatisfying(NetlinkException.class, e -> {
          assertThat(e.notFound()).isTrue();
          assertThat(e.extAck()).contains("Address not found");
        });
  }

  @Test
  void monitorSeesARouteDeletedByIp() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    Route r = Route.overlay(net("10.244.4.0/24"), ip("10.244.4.0"), vx.index());
    rtnl.replaceRoute(r);
    ConcurrentLinkedQueue<NetlinkEvent> events = new ConcurrentLinkedQueue<>();
    try (NetlinkMonitor m = monitor(events::add)) {
      ns.ip("route", "del", "10.244.4.0/24");
      await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
          assertThat(events).contains(new NetlinkEvent.RouteChanged(r, true)));
    }
  }

  @Test
  void monitorThatFallsBehindReportsAnOverrunAndKeepsGoing() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    CountDownLatch release = new CountDownLatch(1);
    ConcurrentLinkedQueue<NetlinkEvent> events = new ConcurrentLinkedQueue<>();
    try (NetlinkMonitor m = RtNetlinkClient.monitor(ns.path(), e -> {
      events.add(e);
      try {
        release.await(10, TimeUnit.SECONDS); // a stuck listener: the socket buffer fills up
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
      }
    }, 4096)) {
      Batch b = rtnl.batch();
      for (int i = 0; i < 300; i++) {
        b.replaceRoute(Route.overlay(new Ipv4Subnet(Ipv4Subnet.parseAddress("10.244.0.0") + 8 * i, 29),
            ip("10.244.0.1"), vx.index()));
      }
      assertThat(b.execute()).isEmpty();
      release.countDown();
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
          assertThat(events).contains(new NetlinkEvent.Overrun()));
      Route after = Route.overlay(net("10.244.200.0/24"), ip("10.244.200.0"), vx.index());
      rtnl.replaceRoute(after);
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
          assertThat(events).contains(new NetlinkEvent.RouteChanged(after, false)));
    }
  }

  @Test
  void openingInANamespaceLeavesTheCallerWhereItWas() throws Exception {
    Path self = Path.of("/proc/thread-self/ns/net");
    String before = Files.readSymbolicLink(self).toString();
    try (RtNetlinkClient c = RtNetlinkClient.openInNamespace(ns.path())) {
      assertThat(Files.readSymbolicLink(self).toString()).isEqualTo(before);
      assertThat(c.links()).extracting(Link::name).containsExactlyInAnyOrder("lo", UNDERLAY, UNDERLAY + "-p");
    }
  }

  @Test
  void openingAMissingNamespaceFailsClearly() {
    assertThatThrownBy(() -> RtNetlinkClient.openInNamespace(Path.of("/run/netns/nlt-does-not-exist")))
        .isInstanceOfSatisfying(NetlinkException.class, e -> {
          assertThat(e.errno()).isEqualTo(Errno.ENOENT);
          assertThat(e.getMessage()).contains("/run/netns/nlt-does-not-exist");
        });
  }

  @Test
  void routesOfATableThatDoesNotExistAreEmpty() throws Exception {
    assertThat(rtnl.routes(1234, 0)).isEmpty();
    Link vx = vxlan("nlt-vx", 1);
    Route r = new Route(net("10.244.5.0/24"), ip("10.244.5.0"), vx.index(), true, 1234, Route.PROTO_TARTAN);
    rtnl.replaceRoute(r);
    assertThat(rtnl.routes(1234, Route.PROTO_TARTAN)).containsExactly(r);
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).isEmpty();
    rtnl.deleteRoute(r);
  }

  // ------------------------------------------------------------------ IPv6 (dual stack)

  private static java.net.Inet6Address ip6(String s) {
    return dev.tartan.net.Ipv6Text.parse(s);
  }

  private Link vxlan6() throws NetlinkException {
    ns.ip("-6", "addr", "add", "2001:db8::1/64", "dev", UNDERLAY, "nodad");
    Link l = rtnl.createVxlan(new VxlanSpec("nlt-vx6", 1, ip6("2001:db8::1"), underlay.index(), 0, false, false,
        null, 1450, null));
    rtnl.setUp(l.index(), true);
    return l;
  }

  @Test
  void vxlanWithAnIpv6LocalNextToTheIpv4OneOfTheSameVni() throws Exception {
    Link v4 = vxlan("nlt-vx", 1);
    Link v6 = vxlan6();
    JsonNode d = only(ns.ipJson("-d", "link", "show", "nlt-vx6")).get("linkinfo").get("info_data");
    assertThat(d.get("id").asInt()).isEqualTo(1);
    assertThat(d.get("local6").asText()).isEqualTo("2001:db8::1");
    assertThat(d.get("port").asInt()).isEqualTo(8472);
    assertThat(rtnl.linkByName("nlt-vx6").orElseThrow().vxlan().orElseThrow().local()).isEqualTo(ip6("2001:db8::1"));
    assertThat(rtnl.linkByIndex(v4.index()).orElseThrow().vxlan().orElseThrow().local()).isEqualTo(UNDERLAY_IP);
    assertThat(v6.index()).isNotEqualTo(v4.index());
  }

  @Test
  void ipv6AddressRouteNeighbourAndFdbAsIpAndBridgeSeeThem() throws Exception {
    Link vx = vxlan6();
    Address a = new Address(vx.index(), ip6("fd00:10:0:1::"), 128);
    rtnl.replaceAddress(a);
    Neighbour n = Neighbour.permanent(vx.index(), ip6("fd00:10:0:3::"), "02:00:00:00:03:06");
    FdbEntry f = new FdbEntry(vx.index(), "02:00:00:00:03:06", ip6("2001:db8::3"));
    Route r = Route.overlay(dev.tartan.net.Ipv6Subnet.parse("fd00:10:0:3::/64"), ip6("fd00:10:0:3::"), vx.index());
    rtnl.replaceNeighbour(n);
    rtnl.replaceFdb(f);
    rtnl.replaceRoute(r);

    JsonNode info = ns.ipJson("-6", "addr", "show", "dev", "nlt-vx6", "scope", "global").get(0).get("addr_info").get(0);
    assertThat(info.get("local").asText()).isEqualTo("fd00:10:0:1::");
    assertThat(info.get("prefixlen").asInt()).isEqualTo(128);
    JsonNode nj = only(ns.ipJson("-6", "neigh", "show", "dev", "nlt-vx6", "nud", "permanent"));
    assertThat(nj.get("dst").asText()).isEqualTo("fd00:10:0:3::");
    assertThat(nj.get("lladdr").asText()).isEqualTo("02:00:00:00:03:06");
    JsonNode fj = only(ns.bridgeJson("fdb", "show", "dev", "nlt-vx6"));
    assertThat(fj.get("dst").asText()).isEqualTo("2001:db8::3");
    assertThat(texts(fj.get("flags"))).contains("self");
    JsonNode rj = only(ns.ipJson("-6", "route", "show", "table", "main", "proto", "111"));
    assertThat(rj.get("dst").asText()).isEqualTo("fd00:10:0:3::/64");
    assertThat(rj.get("gateway").asText()).isEqualTo("fd00:10:0:3::");
    assertThat(rj.get("dev").asText()).isEqualTo("nlt-vx6");
    assertThat(texts(rj.get("flags"))).contains("onlink");

    // read back as written; the IPv4 lists do not see them
    assertThat(rtnl.addresses6(vx.index())).contains(a);
    assertThat(rtnl.addresses(vx.index())).isEmpty();
    assertThat(rtnl.neighbours6(vx.index())).contains(n);
    assertThat(rtnl.neighbours(vx.index())).isEmpty();
    assertThat(rtnl.fdb(vx.index())).containsExactly(f);
    assertThat(rtnl.routes6(Route.TABLE_MAIN, Route.PROTO_TARTAN)).containsExactly(r);
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).isEmpty();

    rtnl.deleteRoute(r);
    rtnl.deleteFdb(f);
    rtnl.deleteNeighbour(n);
    rtnl.deleteAddress(a);
    assertThat(rtnl.routes6(Route.TABLE_MAIN, Route.PROTO_TARTAN)).isEmpty();
    assertThat(rtnl.fdb(vx.index())).isEmpty();
    assertThat(rtnl.neighbours6(vx.index())).doesNotContain(n);
    assertThat(rtnl.addresses6(vx.index())).doesNotContain(a);
  }

  @Test
  void ipv6ObjectsMadeByIpReadBackEqualAndTheirDeletionIsSeen() throws Exception {
    Link vx = vxlan6();
    ns.ip("-6", "route", "add", "fd00:10:0:9::/64", "via", "fd00:10:0:9::", "dev", "nlt-vx6", "onlink", "proto", "111");
    ns.ip("-6", "neigh", "add", "fd00:10:0:9::", "lladdr", "02:00:00:00:09:06", "dev", "nlt-vx6", "nud", "permanent");
    ns.bridge("fdb", "add", "02:00:00:00:09:06", "dev", "nlt-vx6", "dst", "2001:db8::9", "self", "permanent");
    Route r = Route.overlay(dev.tartan.net.Ipv6Subnet.parse("fd00:10:0:9::/64"), ip6("fd00:10:0:9::"), vx.index());
    Neighbour n = Neighbour.permanent(vx.index(), ip6("fd00:10:0:9::"), "02:00:00:00:09:06");
    FdbEntry f = new FdbEntry(vx.index(), "02:00:00:00:09:06", ip6("2001:db8::9"));
    assertThat(rtnl.routes6(Route.TABLE_MAIN, Route.PROTO_TARTAN)).containsExactly(r);
    assertThat(rtnl.neighbours6(vx.index())).contains(n);
    assertThat(rtnl.fdb(vx.index())).containsExactly(f);

    ConcurrentLinkedQueue<NetlinkEvent> events = new ConcurrentLinkedQueue<>();
    try (NetlinkMonitor m = monitor(events::add)) {
      ns.ip("-6", "route", "del", "fd00:10:0:9::/64");
      ns.ip("-6", "neigh", "del", "fd00:10:0:9::", "dev", "nlt-vx6");
      ns.bridge("fdb", "del", "02:00:00:00:09:06", "dev", "nlt-vx6", "dst", "2001:db8::9", "self");
      await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
        assertThat(events).contains(new NetlinkEvent.RouteChanged(r, true), new NetlinkEvent.FdbChanged(f, true));
        // the kernel reports a deleted IPv6 neighbour as FAILED, without its lladdr
        assertThat(events).anySatisfy(e -> assertThat(e).isInstanceOfSatisfying(NetlinkEvent.NeighbourChanged.class,
            c -> assertThat(c.deleted() && c.neighbour().ip().equals(n.ip()) && c.neighbour().link() == n.link()).isTrue()));
      });
    }
  }
}
