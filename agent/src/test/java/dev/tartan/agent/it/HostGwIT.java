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
 * The host-gw backend on real etcd and namespaces: Tartan hosts 1 and 2 and a hand-built flannel
 * host-gw node (host 3) on one L2, and a Tartan host (4) on another L2 behind a router. Routes are
 * exact per peer, containers reach each other across all three on-link hosts, a route deleted by
 * hand comes back, and the far host is skipped with one WARN.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(240)
class HostGwIT {
  static final int FLANNEL = 3;
  static final int FAR = 4;
  static final String FLANNEL_SUBNET = "10.244.200.0";
  static Testbed bed;
  static FlannelNode flannel;
  static final Map<Integer, AgentProcess> agents = new HashMap<>();
  static final Map<Integer, String> subnets = new HashMap<>();
  static final Map<Integer, String> publicIps = new HashMap<>();
  static final Map<Integer, String> containers = new HashMap<>();

  @BeforeAll
  static void up() throws Exception {
    String reason = Testbed.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    Assumptions.assumeTrue(Files.isExecutable(Testbed.cniPlugin()), "cni/target/tartan-cni-java not built");
    bed = Testbed.create(4);
    FlannelNode.addFarL2(bed);
    publicIps.put(1, Testbed.hostIp(1));
    publicIps.put(2, Testbed.hostIp(2));
    publicIps.put(FLANNEL, Testbed.hostIp(FLANNEL));
    publicIps.put(FAR, FlannelNode.moveToFarL2(bed, FAR));
    bed.tartan("network", "init", "--network", "10.244.0.0/16", "--backend", "host-gw");

    flannel = new FlannelNode(bed, FLANNEL, FLANNEL_SUBNET); // first: the agents' allocations avoid its subnet
    flannel.subnetFile(1500);
    flannel.publish("host-gw");
    subnets.put(FLANNEL, FLANNEL_SUBNET);

    for (int h : List.of(1, 2, FAR)) {
      agents.put(h, bed.startAgent(h, "--ip-masq", "--resync-interval", "2s"));
    }
    for (int h : List.of(1, 2, FAR)) {
      awaitReady(h);
      subnets.put(h, subnetOf(h));
    }
    for (int h : List.of(1, 2)) { // flanneld's host-gw routes on the flannel node; the far host fails there
      flannel.directRoute(subnets.get(h), publicIps.get(h));
    }
    for (int h : List.of(1, 2, FLANNEL)) {
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

  /** Host {@code h}'s routes with proto tartan, as "S via R dev D". */
  static TreeSet<String> tartanRoutes(int h) {
    TreeSet<String> out = new TreeSet<>();
    for (JsonNode r : bed.ipJson(bed.host(h), "-4", "route", "show", "proto", "111")) {
      out.add(r.path("dst").asText() + " via " + r.path("gateway").asText() + " dev " + r.path("dev").asText()
          + (r.path("flags").toString().contains("onlink") ? " onlink" : ""));
    }
    return out;
  }

  static String route(int peer) {
    return subnets.get(peer) + "/24 via " + publicIps.get(peer) + " dev eth0";
  }

  @Test
  @Order(1)
  void routesAreExactlyOnePerOnLinkPeerAndTheLeaseIsFlannels() throws Exception {
    assertThat(tartanRoutes(1)).containsExactlyInAnyOrder(route(2), route(FLANNEL));
    assertThat(tartanRoutes(2)).containsExactlyInAnyOrder(route(1), route(FLANNEL));
    assertThat(tartanRoutes(FAR)).as("nothing is on-link for the far host").isEmpty();
    for (int h : List.of(1, 2, FAR)) {
      assertThat(Cmd.quiet("ip", "-n", bed.host(h), "link", "show", "flannel.1").ok()).as("no vxlan device").isFalse();
      assertThat(bed.ipJson(bed.host(h), "neigh", "show", "nud", "permanent")).as("no permanent neighbours").isEmpty();
      String gw = subnets.get(h).substring(0, subnets.get(h).lastIndexOf('.')) + ".1";
      assertThat(Files.readString(bed.subnetFile(h))).isEqualTo("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=" + gw
          + "/24\nFLANNEL_MTU=1500\nFLANNEL_IPMASQ=true\n");
      String lease = bed.etcdctl("get", "--print-value-only", "/coreos.com/network/subnets/" + subnets.get(h) + "-24")
          .strip();
      assertThat(lease).isEqualTo("{\"PublicIP\":\"" + publicIps.get(h) + "\",\"PublicIPv6\":null,"
          + "\"BackendType\":\"host-gw\"}");
    }
    JsonNode cni0 = bed.ipJson(bed.host(1), "link", "show", "cni0").get(0);
    assertThat(cni0.path("mtu").asInt()).isEqualTo(1500);
  }

  @Test
  @Order(2)
  void doctorFindsTheConvergedHostConsistent() {
    for (int h : List.of(1, FAR)) {
      Cmd.Result r = FlannelNode.doctor(bed, h);
      assertThat(r.exit()).as("doctor on host %d:\n%s%s", h, r.out(), r.err()).isZero();
      assertThat(r.out()).contains("device none (host-gw)");
    }
  }

  @Test
  @Order(2)
  void containersReachEachOtherAcrossAllOnLinkHosts() {
    List<String> failures = new ArrayList<>();
    for (int from : containers.keySet()) {
      for (int to : containers.keySet()) {
        if (from != to && !bed.ping(bed.container(from, 1), containers.get(to))) {
          failures.add(from + " -> " + to + " (" + containers.get(to) + ")");
        }
      }
    }
    assertThat(failures).as("unanswered pings; %s", state()).isEmpty();
  }

  /** Routes, neighbours and forward rules of every host and container: what a failed ping needs. */
  static String state() {
    StringBuilder sb = new StringBuilder();
    for (int h : containers.keySet()) {
      for (String ns : List.of(bed.host(h), bed.container(h, 1))) {
        sb.append("\n== ").append(ns).append("\n").append(Cmd.quiet("ip", "-n", ns, "-4", "route").out())
            .append(Cmd.quiet("ip", "-n", ns, "-4", "neigh").out())
            .append(Cmd.quiet("ip", "-n", ns, "-4", "-br", "addr").out());
      }
      sb.append(Cmd.quiet("ip", "netns", "exec", bed.host(h), "iptables-save").out());
      sb.append(Cmd.quiet("ip", "netns", "exec", bed.host(h), "sysctl", "net.ipv4.ip_forward").out());
    }
    return sb.toString();
  }

  @Test
  @Order(3)
  void aRouteDeletedByHandIsRestored() {
    Cmd.run("ip", "-n", bed.host(1), "route", "del", subnets.get(2) + "/24");
    assertThat(Testbed.await(Duration.ofSeconds(30), () -> tartanRoutes(1).contains(route(2))))
        .as("route to host 2 restored; log:\n%s", agents.get(1).log()).isTrue();
    assertThat(agents.get(1).log()).contains("repaired route " + subnets.get(2) + "/24 via " + publicIps.get(2));
    assertThat(bed.ping(bed.container(1, 1), containers.get(2))).as("ping; %s", state()).isTrue();
  }

  @Test
  @Order(4)
  void theHostOnAnotherL2IsSkippedWithOneWarn() {
    Testbed.sleep(6000); // three resyncs: the warning must not repeat
    for (int h : List.of(1, 2)) {
      String log = agents.get(h).log();
      List<String> warns = log.lines()
          .filter(l -> l.contains("WARN") && l.contains("lease " + subnets.get(FAR) + "/24 is not programmed")).toList();
      assertThat(warns).as("host %d log:\n%s", h, log).hasSize(1);
      assertThat(warns.get(0)).contains("its PublicIP " + publicIps.get(FAR) + " is not on this host's L2",
          "via the gateway 198.51.100.254", "host-gw needs all hosts on one L2");
    }
  }
}
