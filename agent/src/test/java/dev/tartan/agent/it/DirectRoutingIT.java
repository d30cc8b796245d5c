package dev.tartan.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Testbed;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * VXLAN DirectRouting on real etcd and namespaces: Tartan hosts A (1) and B (2) and a hand-built
 * flannel node F (3, vxlan with DirectRouting) on one L2, Tartan host C (4) on another L2 behind a
 * router. A↔B and A↔F are direct (only the route; traffic leaves {@code flannel.1}'s counters
 * alone), A↔C is VXLAN (neighbour, FDB, onlink route); every peer is exactly one of the two. F
 * moving to the far L2 switches it to VXLAN on A and B and to a direct route on C; a direct route
 * deleted by hand comes back.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(300)
class DirectRoutingIT {
  static final int A = 1;
  static final int B = 2;
  static final int F = 3;
  static final int C = 4;
  static final String F_SUBNET = "10.244.200.0";
  static Testbed bed;
  static FlannelNode flannel;
  static final Map<Integer, AgentProcess> agents = new HashMap<>();
  static final Map<Integer, String> subnets = new HashMap<>();
  static final Map<Integer, String> publicIps = new HashMap<>();
  static final Map<Integer, String> macs = new HashMap<>();
  static final Map<Integer, String> containers = new HashMap<>();

  @BeforeAll
  static void up() throws Exception {
    String reason = Testbed.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    Assumptions.assumeTrue(Files.isExecutable(Testbed.cniPlugin()), "cni/target/tartan-cni-java not built");
    bed = Testbed.create(4);
    FlannelNode.addFarL2(bed);
    for (int h : List.of(A, B, F)) {
      publicIps.put(h, Testbed.hostIp(h));
    }
    publicIps.put(C, FlannelNode.moveToFarL2(bed, C));
    String init = bed.tartan("network", "init", "--network", "10.244.0.0/16", "--direct-routing");
    assertThat(init).contains("\"Backend\":{\"Type\":\"vxlan\",\"DirectRouting\":true}");

    flannel = new FlannelNode(bed, F, F_SUBNET);
    flannel.vxlanDevice(null);
    flannel.subnetFile(1450);
    flannel.publish("vxlan");
    subnets.put(F, F_SUBNET);
    macs.put(F, flannel.vtepMac);

    for (int h : List.of(A, B, C)) {
      agents.put(h, bed.startAgent(h, "--ip-masq", "--resync-interval", "2s"));
    }
    for (int h : List.of(A, B, C)) {
      awaitReady(h);
      subnets.put(h, subnetOf(h));
      macs.put(h, FlannelNode.macOf(bed, h));
    }
    // flanneld with DirectRouting on F: A and B are on-link, C is not
    flannel.directRoute(subnets.get(A), publicIps.get(A));
    flannel.directRoute(subnets.get(B), publicIps.get(B));
    flannel.vxlanPeer(subnets.get(C), publicIps.get(C), macs.get(C));
    for (int h : List.of(A, B, F, C)) {
      containers.put(h, bed.addContainer(h, 1));
    }
  }

  @AfterAll
  static void down() {
    if (bed != null) {
      bed.close();
    }
  }

  static void awaitReady(int h) {
    Matrix.awaitReady(bed, h, agents.get(h), Duration.ofSeconds(150));
  }

  /** Host {@code h}'s subnet address ("10.244.3.0"), from its subnet file. */
  static String subnetOf(int h) {
    return Matrix.subnetOf(bed, h).split("/")[0];
  }

  /** Host {@code h}'s Tartan entries: proto-tartan routes, permanent neighbours and FDB entries on flannel.1. */
  static TreeSet<String> kernel(int h) {
    String ns = bed.host(h);
    TreeSet<String> out = new TreeSet<>();
    for (JsonNode r : bed.ipJson(ns, "-4", "route", "show", "proto", "111")) {
      out.add("route " + r.path("dst").asText() + " via " + r.path("gateway").asText() + " dev "
          + r.path("dev").asText() + (r.path("flags").toString().contains("onlink") ? " onlink" : ""));
    }
    for (JsonNode n : bed.ipJson(ns, "-4", "neigh", "show", "dev", "flannel.1", "nud", "permanent")) {
      out.add("neigh " + n.path("dst").asText() + " " + n.path("lladdr").asText());
    }
    for (JsonNode e : bed.bridgeJson(ns, "fdb", "show", "dev", "flannel.1")) {
      if (e.has("dst")) {
        out.add("fdb " + e.path("mac").asText() + " " + e.path("dst").asText());
      }
    }
    return out;
  }

  static List<String> direct(int peer) {
    return List.of("route " + subnets.get(peer) + "/24 via " + publicIps.get(peer) + " dev eth0");
  }

  static List<String> vxlan(int peer) {
    String s = subnets.get(peer);
    return List.of("route " + s + "/24 via " + s + " dev flannel.1 onlink", "neigh " + s + " " + macs.get(peer),
        "fdb " + macs.get(peer) + " " + publicIps.get(peer));
  }

  static TreeSet<String> expected(List<List<String>> peers) {
    TreeSet<String> out = new TreeSet<>();
    peers.forEach(out::addAll);
    return out;
  }

  static long[] counters(int h) {
    JsonNode s = bed.ipJson(bed.host(h), "-s", "link", "show", "flannel.1").get(0).path("stats64");
    return new long[] {s.path("rx").path("packets").asLong(), s.path("tx").path("packets").asLong()};
  }

  @Test
  @Order(1)
  void eachPeerIsExactlyOneOfTheTwoForms() {
    assertThat(kernel(A)).containsExactlyElementsOf(expected(List.of(direct(B), direct(F), vxlan(C))));
    assertThat(kernel(B)).containsExactlyElementsOf(expected(List.of(direct(A), direct(F), vxlan(C))));
    assertThat(kernel(C)).containsExactlyElementsOf(expected(List.of(vxlan(A), vxlan(B), vxlan(F))));
  }

  @Test
  @Order(2)
  void doctorFindsTheMixOfDirectAndVxlanPeersConsistent() {
    for (int h : List.of(A, C)) {
      Cmd.Result r = FlannelNode.doctor(bed, h);
      assertThat(r.exit()).as("doctor on host %d:\n%s%s", h, r.out(), r.err()).isZero();
      assertThat(r.out()).contains("3 peers checked");
    }
  }

  @Test
  @Order(2)
  void everyContainerReachesEveryOtherAndDirectTrafficBypassesVxlan() {
    List<String> failures = new ArrayList<>();
    for (int from : containers.keySet()) {
      for (int to : containers.keySet()) {
        if (from != to && !bed.ping(bed.container(from, 1), containers.get(to))) {
          failures.add(from + " -> " + to + " (" + containers.get(to) + ")");
        }
      }
    }
    assertThat(failures).as("unanswered pings").isEmpty();

    long[] before = counters(A);
    for (int to : List.of(B, F)) {
      for (int i = 0; i < 5; i++) {
        assertThat(bed.ping(bed.container(A, 1), containers.get(to))).isTrue();
        assertThat(bed.ping(bed.container(to, 1), containers.get(A))).isTrue();
      }
    }
    assertThat(counters(A)).as("flannel.1 rx/tx packets on A while pinging B and F").isEqualTo(before);
    for (int i = 0; i < 5; i++) {
      assertThat(bed.ping(bed.container(A, 1), containers.get(C))).isTrue();
    }
    long[] after = counters(A);
    assertThat(after[0]).as("rx over VXLAN from C").isGreaterThanOrEqualTo(before[0] + 5);
    assertThat(after[1]).as("tx over VXLAN to C").isGreaterThanOrEqualTo(before[1] + 5);
  }

  @Test
  @Order(3)
  void aDirectRouteDeletedByHandIsRestored() {
    Cmd.run("ip", "-n", bed.host(A), "route", "del", subnets.get(B) + "/24");
    assertThat(Testbed.await(Duration.ofSeconds(30), () -> kernel(A).containsAll(direct(B))))
        .as("direct route to B restored; log:\n%s", agents.get(A).log()).isTrue();
    assertThat(kernel(A)).containsExactlyElementsOf(expected(List.of(direct(B), direct(F), vxlan(C))));
    assertThat(bed.ping(bed.container(A, 1), containers.get(B))).isTrue();
  }

  @Test
  @Order(4)
  void aPeerMovingToTheOtherL2SwitchesToVxlan() {
    // F moves to the far L2 (flanneld restarted there: new device address, same VtepMAC, new lease value)
    publicIps.put(F, FlannelNode.moveToFarL2(bed, F));
    flannel.publicIp = publicIps.get(F);
    flannel.vxlanDevice(macs.get(F));
    for (int h : List.of(A, B)) {
      flannel.vxlanPeer(subnets.get(h), publicIps.get(h), macs.get(h));
    }
    flannel.directRoute(subnets.get(C), publicIps.get(C)); // now on C's L2
    flannel.publish("vxlan");

    TreeSet<String> wantA = expected(List.of(direct(B), vxlan(F), vxlan(C)));
    assertThat(Testbed.await(Duration.ofSeconds(30), () -> kernel(A).equals(wantA)))
        .as("A switched F to vxlan: %s; log:\n%s", kernel(A), agents.get(A).log()).isTrue();
    TreeSet<String> wantC = expected(List.of(vxlan(A), vxlan(B), direct(F)));
    assertThat(Testbed.await(Duration.ofSeconds(30), () -> kernel(C).equals(wantC))).as("C: %s", kernel(C)).isTrue();
    assertThat(agents.get(A).log()).contains("peer " + F_SUBNET + "/24 via " + publicIps.get(F)
        + " now reached by vxlan, vtep " + macs.get(F) + " (was a direct route via 198.51.100." + F + ")");
    assertThat(bed.ping(bed.container(A, 1), containers.get(F))).isTrue();
    assertThat(bed.ping(bed.container(F, 1), containers.get(B))).isTrue();
    assertThat(bed.ping(bed.container(C, 1), containers.get(F))).as("C and F now share an L2").isTrue();
  }
}
