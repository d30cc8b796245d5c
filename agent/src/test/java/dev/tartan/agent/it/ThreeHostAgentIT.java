package dev.tartan.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Pinger;
import dev.tartan.agent.testbed.Testbed;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Three hosts (network namespaces) on one underlay, one agent JVM each, two containers per host
 * attached by the real CNI chain, real etcd: the end-to-end checks.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(180)
class ThreeHostAgentIT {
  static final int HOSTS = 3;
  static Testbed bed;
  static final Map<Integer, AgentProcess> agents = new HashMap<>();
  /** container IPs by "h.c". */
  static final Map<String, String> ips = new HashMap<>();

  @BeforeAll
  static void up() {
    String reason = Testbed.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    Assumptions.assumeTrue(Files.isExecutable(Testbed.cniPlugin()), "cni/target/tartan-cni not built");
    bed = Testbed.create(HOSTS);
    bed.tartan("network", "init", "--network", "10.244.0.0/16", "--backend", "vxlan");
    for (int h = 1; h <= HOSTS; h++) {
      agents.put(h, bed.startAgent(h, "--ip-masq", "--resync-interval", "2s"));
    }
    for (int h = 1; h <= HOSTS; h++) {
      awaitReady(h);
    }
    for (int h = 1; h <= HOSTS; h++) {
      for (int c = 1; c <= 2; c++) {
        ips.put(h + "." + c, bed.addContainer(h, c));
      }
    }
  }

  @AfterAll
  static void down() {
    if (bed != null) {
      bed.close();
    }
  }

  static void awaitReady(int h) {
    if (!Testbed.await(Duration.ofSeconds(120), () -> bed.ready(h))) {
      AgentProcess a = agents.get(h);
      fail("agent on host " + h + " not ready after 120 s; log:\n" + (a == null ? "" : a.log()));
    }
  }

  static String subnetOf(int h) throws Exception {
    for (String line : Files.readAllLines(bed.subnetFile(h))) {
      if (line.startsWith("FLANNEL_SUBNET=")) {
        String gw = line.substring("FLANNEL_SUBNET=".length()).split("/")[0];
        return gw.substring(0, gw.lastIndexOf('.')) + ".0";
      }
    }
    throw new IllegalStateException("no FLANNEL_SUBNET in " + bed.subnetFile(h));
  }

  @Test
  @Order(1)
  void everyContainerReachesEveryOtherContainer() {
    List<String> failures = new ArrayList<>();
    for (String from : ips.keySet()) {
      String[] hc = from.split("\\.");
      String ns = bed.container(Integer.parseInt(hc[0]), Integer.parseInt(hc[1]));
      for (Map.Entry<String, String> to : ips.entrySet()) {
        if (!to.getKey().equals(from) && !bed.ping(ns, to.getValue())) {
          failures.add(from + " -> " + to.getKey() + " (" + to.getValue() + ")");
        }
      }
    }
    assertThat(failures).as("unanswered pings").isEmpty();
  }

  @Test
  @Order(2)
  void kernelStateMatchesFlannelsLayout() throws Exception {
    for (int h = 1; h <= HOSTS; h++) {
      String ns = bed.host(h);
      JsonNode link = bed.ipJson(ns, "-d", "link", "show", "flannel.1").get(0);
      JsonNode vx = link.path("linkinfo").path("info_data");
      assertThat(link.path("linkinfo").path("info_kind").asText()).isEqualTo("vxlan");
      assertThat(vx.path("id").asInt()).isEqualTo(1);
      assertThat(vx.path("port").asInt()).isEqualTo(8472);
      assertThat(vx.path("learning").asBoolean(true)).isFalse();
      assertThat(vx.path("local").asText()).isEqualTo(Testbed.hostIp(h));
      assertThat(link.path("mtu").asInt()).isEqualTo(1450);
      assertThat(link.path("flags").toString()).contains("UP");
      String ownMac = link.path("address").asText();

      String own = subnetOf(h);
      JsonNode addrs = bed.ipJson(ns, "-4", "addr", "show", "dev", "flannel.1").get(0).path("addr_info");
      assertThat(addrs).hasSize(1);
      assertThat(addrs.get(0).path("local").asText()).isEqualTo(own);
      assertThat(addrs.get(0).path("prefixlen").asInt()).isEqualTo(32);

      JsonNode cni0 = bed.ipJson(ns, "-4", "addr", "show", "dev", "cni0").get(0);
      assertThat(cni0.path("addr_info").get(0).path("local").asText())
          .isEqualTo(own.substring(0, own.lastIndexOf('.')) + ".1");
      assertThat(cni0.path("mtu").asInt()).isEqualTo(1450);

      assertThat(Files.readString(bed.subnetFile(h))).isEqualTo(
          "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=" + own.substring(0, own.lastIndexOf('.'))
              + ".1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n");

      for (int p = 1; p <= HOSTS; p++) {
        if (p == h) {
          continue;
        }
        String peer = subnetOf(p);
        String peerMac = bed.ipJson(bed.host(p), "link", "show", "flannel.1").get(0).path("address").asText();
        assertThat(peerMac).isNotEqualTo(ownMac);
        JsonNode neigh = bed.ipJson(ns, "neigh", "show", peer, "dev", "flannel.1");
        assertThat(neigh).as("neighbour %s on host %d", peer, h).hasSize(1);
        assertThat(neigh.get(0).path("lladdr").asText()).isEqualTo(peerMac);
        assertThat(neigh.get(0).path("state").toString()).contains("PERMANENT");

        JsonNode fdb = bed.bridgeJson(ns, "fdb", "show", "dev", "flannel.1");
        List<String> fdbMatches = new ArrayList<>();
        for (JsonNode e : fdb) {
          if (e.path("mac").asText().equals(peerMac)) {
            fdbMatches.add(e.path("dst").asText() + " " + e.path("flags") + " " + e.path("state").asText());
          }
        }
        assertThat(fdbMatches).as("fdb for %s on host %d", peerMac, h)
            .containsExactly(Testbed.hostIp(p) + " [\"self\"] permanent");

        JsonNode route = bed.ipJson(ns, "route", "show", peer + "/24");
        assertThat(route).hasSize(1);
        assertThat(route.get(0).path("gateway").asText()).isEqualTo(peer);
        assertThat(route.get(0).path("dev").asText()).isEqualTo("flannel.1");
        assertThat(route.get(0).path("flags").toString()).contains("onlink");
      }
      // our own subnet is never programmed as a peer
      assertThat(bed.ipJson(ns, "neigh", "show", own, "dev", "flannel.1")).isEmpty();
    }
  }

  @Test
  @Order(3)
  void driftIsRepaired() throws Exception {
    String ns = bed.host(1);
    String peer = subnetOf(2);
    String peerMac = bed.ipJson(bed.host(2), "link", "show", "flannel.1").get(0).path("address").asText();

    Cmd.run("ip", "-n", ns, "route", "del", peer + "/24");
    assertThat(Testbed.await(Duration.ofSeconds(3),
        () -> bed.ipJson(ns, "route", "show", peer + "/24").size() == 1)).as("route restored").isTrue();

    Cmd.run("ip", "-n", ns, "neigh", "del", peer, "dev", "flannel.1");
    assertThat(Testbed.await(Duration.ofSeconds(3),
        () -> bed.ipJson(ns, "neigh", "show", peer, "dev", "flannel.1").size() == 1)).as("neighbour restored").isTrue();

    Cmd.run("bridge", "-n", ns, "fdb", "del", peerMac, "dev", "flannel.1", "dst", Testbed.hostIp(2), "self");
    assertThat(Testbed.await(Duration.ofSeconds(3), () -> {
      for (JsonNode e : bed.bridgeJson(ns, "fdb", "show", "dev", "flannel.1")) {
        if (e.path("mac").asText().equals(peerMac)) {
          return true;
        }
      }
      return false;
    })).as("fdb entry restored").isTrue();

    Cmd.run("ip", "-n", ns, "link", "del", "flannel.1");
    assertThat(Testbed.await(Duration.ofSeconds(5),
        () -> bed.ipJson(ns, "route", "show", peer + "/24").size() == 1)).as("device and peers restored").isTrue();
    // peers learn host 1's new VTEP MAC through its republished lease
    for (String to : List.of(ips.get("2.1"), ips.get("3.1"))) {
      assertThat(Testbed.await(Duration.ofSeconds(5), () -> bed.ping(bed.container(1, 1), to)))
          .as("ping from h1 to %s after the device was recreated", to).isTrue();
    }
  }

  @Test
  @Order(4)
  void agentKilledAndRestartedKeepsItsSubnetAndLosesNoPacket() throws Exception {
    String before = subnetOf(2);
    Pinger ping = bed.startPing(bed.container(1, 1), ips.get("2.1"), 50);
    Testbed.await(Duration.ofMillis(500), () -> false);
    agents.get(2).kill();
    agents.put(2, bed.startAgent(2, "--ip-masq", "--resync-interval", "2s"));
    awaitReady(2);
    Testbed.await(Duration.ofMillis(500), () -> false);
    Pinger.Result r = ping.stop();
    assertThat(subnetOf(2)).isEqualTo(before);
    assertThat(r.sent()).isGreaterThan(10);
    assertThat(r.lost()).as("packets lost across the agent restart: %s", r.output()).isZero();
  }

  @Test
  @Order(5)
  void etcdOutageLosesNoPacketAndAgentsResume() throws Exception {
    Pinger ping = bed.startPing(bed.container(1, 2), ips.get("3.2"), 100);
    bed.etcd().member(0).stop();
    Testbed.await(Duration.ofSeconds(20), () -> false);
    bed.etcd().member(0).start();
    bed.etcd().waitHealthy(Duration.ofSeconds(20));
    Pinger.Result r = ping.stop();
    assertThat(r.sent()).isGreaterThan(150);
    assertThat(r.lost()).as("packets lost during a 20 s etcd outage: %s", r.output()).isZero();
    for (AgentProcess a : agents.values()) {
      assertThat(a.alive()).as("agent on host %d survived the outage", a.host()).isTrue();
    }
    // the agents watch again: a lease written now is programmed everywhere
    bed.etcdctl("put", "/coreos.com/network/subnets/10.244.250.0-24",
        "{\"PublicIP\":\"198.51.100.250\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","
            + "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"0e:00:00:00:00:fa\"}}");
    for (int h = 1; h <= HOSTS; h++) {
      String ns = bed.host(h);
      assertThat(Testbed.await(Duration.ofSeconds(15),
          () -> bed.ipJson(ns, "route", "show", "10.244.250.0/24").size() == 1))
          .as("host %d programs a lease written after the outage", h).isTrue();
    }
    bed.etcdctl("del", "/coreos.com/network/subnets/10.244.250.0-24");
    for (int h = 1; h <= HOSTS; h++) {
      String ns = bed.host(h);
      assertThat(Testbed.await(Duration.ofSeconds(5),
          () -> bed.ipJson(ns, "route", "show", "10.244.250.0/24").isEmpty()))
          .as("host %d removes a deleted lease", h).isTrue();
    }
  }

  @Test
  @Order(6)
  void aDeadHostsLeaseExpiresAndDisappearsFromItsPeers() throws Exception {
    bed.addHost(4);
    AgentProcess a4 = bed.startAgent(4, "--lease-ttl", "6s");
    agents.put(4, a4);
    awaitReady(4);
    String sub4 = subnetOf(4);
    for (int h = 1; h <= HOSTS; h++) {
      String ns = bed.host(h);
      assertThat(Testbed.await(Duration.ofSeconds(10),
          () -> bed.ipJson(ns, "route", "show", sub4 + "/24").size() == 1)).as("host %d learns host 4", h).isTrue();
    }
    a4.kill();
    agents.remove(4);
    // etcd deletes the key when the 6 s lease runs out; every peer removes neighbour, FDB and route,
    // at once when the watch cannot tell an expiry from a deletion, else when --peer-expiry-grace
    // (60 s by default) ends
    for (int h = 1; h <= HOSTS; h++) {
      String ns = bed.host(h);
      assertThat(Testbed.await(Duration.ofSeconds(15 + 60),
          () -> bed.ipJson(ns, "route", "show", sub4 + "/24").isEmpty()
              && bed.ipJson(ns, "neigh", "show", sub4, "dev", "flannel.1").isEmpty()))
          .as("host %d forgets host 4 after its lease expired", h).isTrue();
    }
  }
}
