package dev.tartan.agent.netlink.rtnl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.tartan.agent.netlink.Errno;
import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The behaviour every {@link RtNetlink} must show, run against the kernel ({@code
 * KernelRtNetlinkContractIT}) and the in-memory fake ({@code FakeRtNetlinkContractTest}).
 *
 * <p>Each test gets a fresh namespace holding {@code lo} and an up underlay device {@link
 * #UNDERLAY} with 198.51.100.1/24 and MTU 1500.
 */
@Timeout(30)
public abstract class RtNetlinkContract {
  protected static final String UNDERLAY = "nlt-under";
  protected static final Inet4Address UNDERLAY_IP = ip("198.51.100.1");

  protected RtNetlink rtnl;
  protected Link underlay;

  /** A fresh namespace (lo + up {@link #UNDERLAY} with 198.51.100.1/24) and a handle on it. */
  protected abstract RtNetlink openFreshNamespace() throws Exception;

  /** A monitor on the namespace {@link #openFreshNamespace()} made last. */
  protected abstract NetlinkMonitor monitor(Consumer<NetlinkEvent> listener) throws Exception;

  /** Removes the namespace; called after {@link RtNetlink#close()}. */
  protected abstract void destroyNamespace() throws Exception;

  @BeforeEach
  void openNamespace() throws Exception {
    rtnl = openFreshNamespace();
    underlay = rtnl.linkByName(UNDERLAY).orElseThrow();
  }

  @AfterEach
  void closeNamespace() throws Exception {
    try {
      if (rtnl != null) {
        rtnl.close();
      }
    } finally {
      destroyNamespace();
    }
  }

  protected static Inet4Address ip(String s) {
    try {
      return (Inet4Address) InetAddress.getByName(s);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  protected static Ipv4Subnet net(String s) {
    return Ipv4Subnet.parse(s);
  }

  protected Link vxlan(String name, int vni) throws NetlinkException {
    Link l = rtnl.createVxlan(new VxlanSpec(name, vni, UNDERLAY_IP, underlay.index(), 8472, false,
        false, null, 0, null));
    rtnl.setUp(l.index(), true);
    return l;
  }

  // ------------------------------------------------------------------ links

  @Test
  void freshNamespaceHasLoopbackAndTheUnderlay() throws Exception {
    assertThat(rtnl.linkByName("lo")).get().satisfies(l -> assertThat(l.index()).isEqualTo(1));
    assertThat(underlay.up()).isTrue();
    assertThat(underlay.mtu()).isEqualTo(1500);
    assertThat(underlay.mac()).matches("[0-9a-f]{2}(:[0-9a-f]{2}){5}");
    assertThat(rtnl.addresses(underlay.index())).containsExactly(new Address(underlay.index(), UNDERLAY_IP, 24));
    assertThat(rtnl.links()).extracting(Link::name).contains("lo", UNDERLAY);
    assertThat(rtnl.linkByIndex(underlay.index())).contains(underlay);
  }

  @Test
  void missingLinksAreEmptyNotErrors() throws Exception {
    assertThat(rtnl.linkByName("nlt-nosuch")).isEmpty();
    assertThat(rtnl.linkByIndex(99999)).isEmpty();
  }

  @Test
  void createVxlanSetsEverySetting() throws Exception {
    Link l = rtnl.createVxlan(new VxlanSpec("nlt-vx", 1, UNDERLAY_IP, underlay.index(), 4789, false,
        false, false, 1400, "02:aa:bb:cc:dd:01"));
    assertThat(l.name()).isEqualTo("nlt-vx");
    assertThat(l.kind()).isEqualTo("vxlan");
    assertThat(l.mtu()).isEqualTo(1400);
    assertThat(l.mac()).isEqualTo("02:aa:bb:cc:dd:01");
    assertThat(l.up()).isFalse();
    VxlanInfo v = l.vxlan().orElseThrow();
    assertThat(v).isEqualTo(new VxlanInfo(1, UNDERLAY_IP, underlay.index(), 4789, false, false, false));
    assertThat(rtnl.linkByName("nlt-vx")).contains(l);
  }

  @Test
  void createVxlanDefaultsFollowTheKernel() throws Exception {
    Link l = rtnl.createVxlan(new VxlanSpec("nlt-vx", 7, UNDERLAY_IP, underlay.index(), 0, true,
        false, null, 0, null));
    VxlanInfo v = l.vxlan().orElseThrow();
    assertThat(v.port()).isEqualTo(8472);
    assertThat(v.learning()).isTrue();
    assertThat(v.udpCsum()).isTrue();
    assertThat(l.mtu()).isEqualTo(1450);
    assertThat(l.mac()).isNotEmpty();
  }

  @Test
  void createExistingNameFailsWithAlreadyExists() throws Exception {
    vxlan("nlt-vx", 1);
    assertThatThrownBy(() -> rtnl.createVxlan(new VxlanSpec("nlt-vx", 2, UNDERLAY_IP, underlay.index(),
        8472, false, false, null, 0, null)))
        .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.alreadyExists()).isTrue());
    assertThatThrownBy(() -> rtnl.createBridge("nlt-vx", 0))
        .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.alreadyExists()).isTrue());
    assertThatThrownBy(() -> rtnl.createBridge(UNDERLAY, 0))
        .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.alreadyExists()).isTrue());
  }

  @Test
  void setUpMtuMacAndMaster() throws Exception {
    Link br = rtnl.createBridge("nlt-br", 0);
    assertThat(br.kind()).isEqualTo("bridge");
    rtnl.createVethPair("nlt-va", "nlt-vb", -1);
    Link va = rtnl.linkByName("nlt-va").orElseThrow();
    rtnl.setMtu(va.index(), 1400);
    rtnl.setMac(va.index(), "02:00:00:00:0A:01");
    rtnl.setMaster(va.index(), br.index());
    rtnl.setUp(va.index(), true);
    Link after = rtnl.linkByIndex(va.index()).orElseThrow();
    assertThat(after.mtu()).isEqualTo(1400);
    assertThat(after.mac()).isEqualTo("02:00:00:00:0a:01");
    assertThat(after.master()).isEqualTo(br.index());
    assertThat(after.up()).isTrue();
    rtnl.setMaster(va.index(), 0);
    rtnl.setUp(va.index(), false);
    after = rtnl.linkByIndex(va.index()).orElseThrow();
    assertThat(after.master()).isZero();
    assertThat(after.up()).isFalse();
  }

  @Test
  void vethPairLivesAndDiesTogether() throws Exception {
    rtnl.createVethPair("nlt-va", "nlt-vb", -1);
    Link a = rtnl.linkByName("nlt-va").orElseThrow();
    Link b = rtnl.linkByName("nlt-vb").orElseThrow();
    assertThat(a.kind()).isEqualTo("veth");
    assertThat(b.kind()).isEqualTo("veth");
    rtnl.deleteLink(a.index());
    assertThat(rtnl.linkByName("nlt-va")).isEmpty();
    assertThat(rtnl.linkByName("nlt-vb")).isEmpty();
  }

  @Test
  void vxlanMtuAboveUnderlayMinusHeadroomIsRejected() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    assertThatThrownBy(() -> rtnl.setMtu(vx.index(), 1451))
        .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
    rtnl.setMtu(vx.index(), 1300);
    assertThat(rtnl.linkByIndex(vx.index()).orElseThrow().mtu()).isEqualTo(1300);
  }

  @Test
  void operationsOnMissingLinksReportNotFound() throws Exception {
    int missing = 99999;
    for (ThrowingRunnable r : List.<ThrowingRunnable>of(
        () -> rtnl.deleteLink(missing),
        () -> rtnl.setUp(missing, true),
        () -> rtnl.setMtu(missing, 1400),
        () -> rtnl.deleteNeighbour(Neighbour.permanent(missing, ip("10.244.1.0"), "02:00:00:00:00:01")))) {
      assertThatThrownBy(r::run)
          .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.notFound()).isTrue());
    }
  }

  @Test
  void deletingAVxlanRemovesItsRoutesNeighboursAndFdb() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    rtnl.replaceNeighbour(Neighbour.permanent(vx.index(), ip("10.244.1.0"), "02:00:00:00:00:01"));
    rtnl.replaceFdb(new FdbEntry(vx.index(), "02:00:00:00:00:01", ip("198.51.100.2")));
    rtnl.replaceRoute(Route.overlay(net("10.244.1.0/24"), ip("10.244.1.0"), vx.index()));
    rtnl.deleteLink(vx.index());
    assertThat(rtnl.linkByName("nlt-vx")).isEmpty();
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).isEmpty();
    assertThat(rtnl.neighbours(0)).noneMatch(n -> n.link() == vx.index());
    assertThat(rtnl.fdb(0)).noneMatch(f -> f.link() == vx.index());
    assertThatThrownBy(() -> rtnl.deleteLink(vx.index()))
        .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.notFound()).isTrue());
  }

  @Test
  void linkDownFlushesRoutesAndNeighboursButKeepsFdb() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    rtnl.replaceNeighbour(Neighbour.permanent(vx.index(), ip("10.244.1.0"), "02:00:00:00:00:01"));
    rtnl.replaceFdb(new FdbEntry(vx.index(), "02:00:00:00:00:01", ip("198.51.100.2")));
    rtnl.replaceRoute(Route.overlay(net("10.244.1.0/24"), ip("10.244.1.0"), vx.index()));
    rtnl.setUp(vx.index(), false);
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).isEmpty();
    assertThat(rtnl.neighbours(vx.index())).isEmpty();
    assertThat(rtnl.fdb(vx.index())).containsExactly(
        new FdbEntry(vx.index(), "02:00:00:00:00:01", ip("198.51.100.2")));
  }

  // ------------------------------------------------------------------ addresses

  @Test
  void addressesAddReplaceListDelete() throws Exception {
    Link br = rtnl.createBridge("nlt-br", 0);
    Address a = new Address(br.index(), ip("10.244.5.1"), 24);
    rtnl.addAddress(a);
    assertThatThrownBy(() -> rtnl.addAddress(a))
        .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.alreadyExists()).isTrue());
    rtnl.replaceAddress(a);
    assertThat(rtnl.addresses(br.index())).containsExactly(a);
    assertThat(rtnl.addresses(0)).contains(a, new Address(underlay.index(), UNDERLAY_IP, 24));
    rtnl.deleteAddress(a);
    assertThat(rtnl.addresses(br.index())).isEmpty();
    assertThatThrownBy(() -> rtnl.deleteAddress(a))
        .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.notFound()).isTrue());
  }

  // ------------------------------------------------------------------ routes

  @Test
  void routeReplaceIsKeyedByTableAndDestination() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    Route r1 = Route.overlay(net("10.244.1.0/24"), ip("10.244.1.0"), vx.index());
    rtnl.replaceRoute(r1);
    rtnl.replaceRoute(r1);
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).containsExactly(r1);
    Route r2 = Route.overlay(net("10.244.1.0/24"), ip("10.244.1.9"), vx.index());
    rtnl.replaceRoute(r2);
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).containsExactly(r2);
    rtnl.deleteRoute(r2);
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).isEmpty();
    assertThatThrownBy(() -> rtnl.deleteRoute(r2))
        .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.notFound()).isTrue());
  }

  @Test
  void routesListFiltersByProtocolAndShowsConnectedRoutes() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    Route ours = Route.overlay(net("10.244.2.0/24"), ip("10.244.2.0"), vx.index());
    Route boot = new Route(net("10.244.3.0/24"), ip("10.244.3.0"), vx.index(), true, Route.TABLE_MAIN,
        Route.PROTO_BOOT);
    rtnl.replaceRoute(ours);
    rtnl.replaceRoute(boot);
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).containsExactly(ours);
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_BOOT)).containsExactly(boot);
    assertThat(rtnl.routes(Route.TABLE_MAIN, 0)).contains(ours, boot,
        new Route(net("198.51.100.0/24"), null, underlay.index(), false, Route.TABLE_MAIN, 2));
    Route viaUnderlay = new Route(net("203.0.113.0/24"), ip("198.51.100.254"), underlay.index(), false,
        Route.TABLE_MAIN, Route.PROTO_TARTAN);
    rtnl.replaceRoute(viaUnderlay);
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).containsExactlyInAnyOrder(ours, viaUnderlay);
  }

  @Test
  void routeToTellsTheGatewayAndDeviceOfTheRouteInUse() throws Exception {
    Route onLink = rtnl.routeTo(ip("198.51.100.7")).orElseThrow();
    assertThat(onLink.gateway()).isNull();
    assertThat(onLink.link()).isEqualTo(underlay.index());
    assertThat(onLink.dst()).isEqualTo(net("198.51.100.7/32"));

    rtnl.replaceRoute(new Route(net("203.0.113.0/24"), ip("198.51.100.254"), underlay.index(), false,
        Route.TABLE_MAIN, Route.PROTO_BOOT));
    Route routed = rtnl.routeTo(ip("203.0.113.9")).orElseThrow();
    assertThat(routed.gateway()).isEqualTo(ip("198.51.100.254"));
    assertThat(routed.link()).isEqualTo(underlay.index());

    assertThat(rtnl.routeTo(ip("192.0.2.1"))).as("no route at all").isEmpty();
    assertThat(rtnl.routeTo(UNDERLAY_IP)).as("our own address is local, not unicast").isEmpty();
  }

  @Test
  void routeOnADownDeviceOrToAnUnreachableGatewayIsRefused() throws Exception {
    Link vx = rtnl.createVxlan(new VxlanSpec("nlt-vx", 1, UNDERLAY_IP, underlay.index(), 8472, false,
        false, null, 0, null));
    assertThatThrownBy(() -> rtnl.replaceRoute(Route.overlay(net("10.244.1.0/24"), ip("10.244.1.0"), vx.index())))
        .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENETDOWN));
    Route notOnlink = new Route(net("203.0.113.0/24"), ip("192.0.2.77"), underlay.index(), false,
        Route.TABLE_MAIN, Route.PROTO_TARTAN);
    assertThatThrownBy(() -> rtnl.replaceRoute(notOnlink))
        .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENETUNREACH));
  }

  // ------------------------------------------------------------------ neighbours

  @Test
  void neighboursReplaceListDelete() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    Neighbour n = Neighbour.permanent(vx.index(), ip("10.244.1.0"), "02:00:00:00:00:01");
    rtnl.replaceNeighbour(n);
    rtnl.replaceNeighbour(n);
    assertThat(rtnl.neighbours(vx.index())).containsExactly(n);
    Neighbour moved = Neighbour.permanent(vx.index(), ip("10.244.1.0"), "02:00:00:00:00:02");
    rtnl.replaceNeighbour(moved);
    assertThat(rtnl.neighbours(vx.index())).containsExactly(moved);
    assertThat(rtnl.neighbours(0)).contains(moved);
    rtnl.deleteNeighbour(moved);
    assertThat(rtnl.neighbours(vx.index())).isEmpty();
    assertThatThrownBy(() -> rtnl.deleteNeighbour(moved))
        .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.notFound()).isTrue());
  }

  // ------------------------------------------------------------------ fdb

  @Test
  void fdbReplaceRewritesTheRemoteOfAUnicastMac() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    FdbEntry e = new FdbEntry(vx.index(), "02:00:00:00:00:01", ip("198.51.100.2"));
    rtnl.replaceFdb(e);
    rtnl.replaceFdb(e);
    assertThat(rtnl.fdb(vx.index())).containsExactly(e);
    FdbEntry moved = new FdbEntry(vx.index(), "02:00:00:00:00:01", ip("198.51.100.3"));
    rtnl.replaceFdb(moved);
    assertThat(rtnl.fdb(vx.index())).containsExactly(moved);
    rtnl.appendFdb(new FdbEntry(vx.index(), "02:00:00:00:00:01", ip("198.51.100.4")));
    assertThat(rtnl.fdb(vx.index())).as("append on a unicast MAC is ignored").containsExactly(moved);
    rtnl.deleteFdb(moved);
    assertThat(rtnl.fdb(vx.index())).isEmpty();
    assertThatThrownBy(() -> rtnl.deleteFdb(moved))
        .isInstanceOfSatisfying(NetlinkException.class, e2 -> assertThat(e2.notFound()).isTrue());
  }

  @Test
  void fdbAppendAddsRemotesToTheAllZerosMac() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    FdbEntry a = new FdbEntry(vx.index(), "00:00:00:00:00:00", ip("198.51.100.2"));
    FdbEntry b = new FdbEntry(vx.index(), "00:00:00:00:00:00", ip("198.51.100.3"));
    rtnl.appendFdb(a);
    rtnl.appendFdb(b);
    assertThat(rtnl.fdb(vx.index())).containsExactlyInAnyOrder(a, b);
    rtnl.deleteFdb(a);
    assertThat(rtnl.fdb(vx.index())).containsExactly(b);
    rtnl.deleteFdb(a); // the MAC still has a remote: the kernel answers 0 for a missing one
    assertThat(rtnl.fdb(vx.index())).containsExactly(b);
    rtnl.deleteFdb(b);
    assertThat(rtnl.fdb(vx.index())).isEmpty();
    assertThatThrownBy(() -> rtnl.deleteFdb(b))
        .isInstanceOfSatisfying(NetlinkException.class, e -> assertThat(e.notFound()).isTrue());
  }

  // ------------------------------------------------------------------ batch

  @Test
  void batchProgramsManyPeersAndDeletesThemAgain() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    int peers = 300;
    Batch add = rtnl.batch();
    List<Route> routes = new ArrayList<>();
    for (int i = 0; i < peers; i++) {
      Inet4Address gw = Ipv4Subnet.toInet(Ipv4Subnet.parseAddress("10.244.0.0") + (i << 8) + 256);
      String mac = String.format("02:00:00:00:%02x:%02x", (i + 1) >> 8, (i + 1) & 0xff);
      add.replaceNeighbour(Neighbour.permanent(vx.index(), gw, mac))
          .replaceFdb(new FdbEntry(vx.index(), mac, Ipv4Subnet.toInet(Ipv4Subnet.parseAddress("198.51.100.2") + i % 200)))
          .replaceRoute(Route.overlay(Ipv4Subnet.of(gw, 24), gw, vx.index()));
      routes.add(Route.overlay(Ipv4Subnet.of(gw, 24), gw, vx.index()));
    }
    assertThat(add.size()).isEqualTo(3 * peers);
    assertThat(add.execute()).isEmpty();
    assertThat(rtnl.neighbours(vx.index())).hasSize(peers);
    assertThat(rtnl.fdb(vx.index())).hasSize(peers);
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).containsExactlyInAnyOrderElementsOf(routes);

    Batch del = rtnl.batch();
    for (Route r : routes) {
      del.deleteRoute(r);
    }
    for (FdbEntry f : rtnl.fdb(vx.index())) {
      del.deleteFdb(f);
    }
    for (Neighbour n : rtnl.neighbours(vx.index())) {
      del.deleteNeighbour(n);
    }
    assertThat(del.execute()).isEmpty();
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).isEmpty();
    assertThat(rtnl.fdb(vx.index())).isEmpty();
    assertThat(rtnl.neighbours(vx.index())).isEmpty();
  }

  @Test
  void batchReportsEachFailureWithItsRequestAndAppliesTheRest() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    Neighbour good1 = Neighbour.permanent(vx.index(), ip("10.244.1.0"), "02:00:00:00:00:01");
    Route badRoute = Route.overlay(net("10.244.2.0/24"), ip("10.244.2.0"), 99999);
    Neighbour missing = Neighbour.permanent(vx.index(), ip("10.244.9.0"), "02:00:00:00:00:09");
    Route good2 = Route.overlay(net("10.244.1.0/24"), ip("10.244.1.0"), vx.index());
    List<Batch.Failure> failures = rtnl.batch()
        .replaceNeighbour(good1).replaceRoute(badRoute).deleteNeighbour(missing).replaceRoute(good2)
        .execute();
    assertThat(failures).extracting(Batch.Failure::request).containsExactly(badRoute, missing);
    assertThat(failures.get(0).error().notFound()).isTrue();
    assertThat(failures.get(1).error().notFound()).isTrue();
    assertThat(rtnl.neighbours(vx.index())).containsExactly(good1);
    assertThat(rtnl.routes(Route.TABLE_MAIN, Route.PROTO_TARTAN)).containsExactly(good2);
  }

  @Test
  void emptyBatchDoesNothing() throws Exception {
    Batch b = rtnl.batch();
    assertThat(b.size()).isZero();
    assertThat(b.execute()).isEmpty();
  }

  // ------------------------------------------------------------------ monitor

  @Test
  void monitorSeesRouteNeighbourFdbAndLinkChanges() throws Exception {
    Link vx = vxlan("nlt-vx", 1);
    ConcurrentLinkedQueue<NetlinkEvent> events = new ConcurrentLinkedQueue<>();
    try (NetlinkMonitor m = monitor(events::add)) {
      Route r = Route.overlay(net("10.244.1.0/24"), ip("10.244.1.0"), vx.index());
      Neighbour n = Neighbour.permanent(vx.index(), ip("10.244.1.0"), "02:00:00:00:00:01");
      FdbEntry f = new FdbEntry(vx.index(), "02:00:00:00:00:01", ip("198.51.100.2"));
      rtnl.replaceRoute(r);
      rtnl.replaceNeighbour(n);
      rtnl.replaceFdb(f);
      rtnl.deleteRoute(r);
      rtnl.deleteLink(vx.index());
      await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(events).contains(
          new NetlinkEvent.RouteChanged(r, false),
          new NetlinkEvent.RouteChanged(r, true),
          new NetlinkEvent.NeighbourChanged(n, false),
          new NetlinkEvent.FdbChanged(f, false)));
      await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(events).anySatisfy(e -> {
        assertThat(e).isInstanceOf(NetlinkEvent.LinkChanged.class);
        NetlinkEvent.LinkChanged lc = (NetlinkEvent.LinkChanged) e;
        assertThat(lc.deleted()).isTrue();
        assertThat(lc.link().name()).isEqualTo("nlt-vx");
      }));
    }
  }

  @Test
  void closedMonitorDeliversNothingMore() throws Exception {
    ConcurrentLinkedQueue<NetlinkEvent> events = new ConcurrentLinkedQueue<>();
    NetlinkMonitor m = monitor(events::add);
    m.close();
    m.close();
    rtnl.createBridge("nlt-br", 0);
    Thread.sleep(100);
    assertThat(events).isEmpty();
  }

  @FunctionalInterface
  protected interface ThrowingRunnable {
    void run() throws Exception;
  }
}
