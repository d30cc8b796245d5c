package dev.tartan.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.DebianHost;
import dev.tartan.agent.testbed.Podman;
import dev.tartan.agent.testbed.Testbed;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Podman 5 on real Debian 13 hosts (environment.md §8), agents and plugins from the installed .deb: the
 * netavark plugin {@code tartan} end to end, beside a Debian 12 host on podman 4's CNI path, and beside
 * the CNI path on the same host.
 */
@Timeout(900)
class Debian13PodmanIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String NET = "tartan";
  /** The CNI plugin's config as the package's example conflist has it (network "tartan", default dirs). */
  private static final String CNI_CONF = "{\"cniVersion\":\"1.0.0\",\"name\":\"tartan\",\"type\":\"tartan\","
      + "\"delegate\":{\"hairpinMode\":true,\"isDefaultGateway\":true}}";

  @BeforeEach
  void assumptions() {
    String reason = Testbed.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    String debian = DebianHost.unavailableReason();
    Assumptions.assumeTrue(debian == null, debian);
  }

  @Test
  void podman5ContainersOnTwoDebian13HostsPingAcrossAndTeardownLeavesNothing() throws Exception {
    try (Testbed bed = Testbed.create(2)) {
      bed.tartan("network", "init", "--network", "10.244.0.0/16");
      List<DebianHost> hosts = new ArrayList<>();
      List<AgentProcess> agents = new ArrayList<>();
      try (DebianHost h1 = DebianHost.start(bed, 1, DebianHost.TRIXIE);
          DebianHost h2 = DebianHost.start(bed, 2, DebianHost.TRIXIE)) {
        hosts.add(h1);
        hosts.add(h2);
        for (DebianHost h : hosts) {
          agents.add(installAndStartAgent(bed, h, "--ip-masq"));
          // the agent's masquerade through Debian 13's iptables (nf_tables backend)
          assertThat(h.run("iptables", "-t", "nat", "-S", "FLANNEL-POSTRTG")).contains("MASQUERADE");
          assertThat(h.run("nft", "list", "table", "ip", "nat")).contains("FLANNEL-POSTRTG");
          JsonNode info = JSON.readTree(h.run("/usr/libexec/netavark/tartan", "info"));
          assertThat(info.path("api_version").asText()).isEqualTo("1.0.0");
          assertThat("tartan " + info.path("version").asText()).isEqualTo(h.run("tartan", "--version").strip());
          h.setupPodman();
          assertThat(h.podman("--version")).startsWith("podman version 5.");
          assertThat(h.podman("network", "create", "-d", "tartan", NET).strip()).isEqualTo(NET);
          JsonNode net = JSON.readTree(h.podman("network", "inspect", NET)).path(0);
          assertThat(net.path("subnets").path(0).path("subnet").asText()).isEqualTo(subnet(h.subnetFile()));
          assertThat(net.path("ipam_options").path("driver").asText()).isEqualTo("none");
        }
        h2.podman("run", "-d", "--name", "server", "--network", NET, DebianHost.IMAGE, "sleep", "600");
        String serverIp = h2.podmanIp("server", NET);
        assertThat(serverIp).startsWith(prefix(h2.subnetFile()));

        Cmd.Result client = h1.podmanExec("run", "--rm", "--cap-add", "NET_RAW", "--network", NET, DebianHost.IMAGE,
            "sh", "-c", "ip -4 addr show eth0; ip route; ping -c 3 -W 2 " + serverIp
            // off the overlay: the underlay's etcd address answers only through the agent's masquerade
            + " && ping -c 2 -W 2 " + Testbed.ETCD_IP);
        assertThat(client.exit()).as("podman run on host 1: %s", client.describe()).isZero();
        assertThat(client.out()).contains("inet " + prefix(h1.subnetFile()))
            .contains("mtu " + mtu(h1.subnetFile()))
            .contains("default via " + prefix(h1.subnetFile()) + "1 dev eth0")
            .contains("3 packets received").contains("2 packets received");
        // Those netavark calls (create, setup, teardown) ran in the warm agents, through their attach sockets.
        assertThat(attachCalls(bed, h1, "netavark")).as("netavark calls run by agent 1").isGreaterThanOrEqualTo(3);
        assertThat(attachCalls(bed, h2, "netavark")).as("netavark calls run by agent 2").isGreaterThanOrEqualTo(2);

        // With the agent stopped, the plugin falls back to its standalone launcher: containers still start.
        assertThat(agents.get(0).stop()).isZero();
        assertThat(h1.path("/run/tartan/attach.sock")).doesNotExist();
        Cmd.Result fallback = h1.podmanExec("run", "--rm", "--cap-add", "NET_RAW", "--network", NET, DebianHost.IMAGE,
            "sh", "-c", "ip -4 addr show eth0; ping -c 3 -W 2 " + serverIp);
        assertThat(fallback.exit()).as("podman run with agent 1 stopped: %s", fallback.describe()).isZero();
        assertThat(fallback.out()).contains("inet " + prefix(h1.subnetFile())).contains("3 packets received");

        h2.podman("rm", "-f", "-t", "0", "server");
        for (DebianHost h : hosts) {
          assertNothingLeftOnHost(h);
        }
      }
      for (DebianHost h : hosts) { // closed: no process, mount or directory of the Debian hosts is left
        Path dir = bed.hostDir(h.host()).resolve("debian");
        assertThat(dir).doesNotExist();
        assertThat(Files.readString(Path.of("/proc/self/mounts"))).doesNotContain(dir.toString());
      }
    }
  }

  @Test
  void oneNetworkMixesADebian12HostOnPodman4CniAndADebian13HostOnPodman5Netavark() throws Exception {
    String podmanReason = Podman.unavailableReason();
    Assumptions.assumeTrue(podmanReason == null, podmanReason);
    Assumptions.assumeTrue(Files.isExecutable(Testbed.cniPlugin()), "cni/target/tartan-cni not built");
    boolean cniCacheExisted = Files.exists(Path.of("/var/lib/cni"));
    try (Testbed bed = Testbed.create(2)) {
      bed.tartan("network", "init", "--network", "10.244.0.0/16");
      bed.startAgent(1); // this machine, Debian 12: the agent jar and podman 4.3 through the CNI plugin
      assertThat(Testbed.await(Duration.ofSeconds(90), () -> bed.ready(1))).as("agent 1 ready").isTrue();
      try (Podman p1 = new Podman(bed, 1); DebianHost h2 = DebianHost.start(bed, 2, DebianHost.TRIXIE)) {
        installAndStartAgent(bed, h2);
        h2.setupPodman();
        h2.podman("network", "create", "-d", "tartan", NET);

        h2.podman("run", "-d", "--name", "server5", "--network", NET, DebianHost.IMAGE, "sleep", "600");
        String ip5 = h2.podmanIp("server5", NET);
        p1.podman("run", "-d", "--name", "server4", "--network", Podman.NETWORK, Podman.IMAGE, "sleep", "600");
        String ip4 = p1.ip("server4");
        assertThat(ip5).startsWith(prefix(h2.subnetFile()));
        assertThat(ip4).startsWith(prefix(bed.subnetFile(1)));

        Cmd.Result from4 = p1.exec("exec", "server4", "ping", "-c", "3", "-W", "2", ip5);
        assertThat(from4.exit()).as("podman 4 -> podman 5: %s", from4.describe()).isZero();
        Cmd.Result from5 = h2.podmanExec("run", "--rm", "--cap-add", "NET_RAW", "--network", NET, DebianHost.IMAGE,
            "ping", "-c", "3", "-W", "2", ip4);
        assertThat(from5.exit()).as("podman 5 -> podman 4: %s", from5.describe()).isZero();
        assertThat(from5.out()).contains("3 packets received");
      }
    } finally {
      if (!cniCacheExisted) { // libcni's result cache, which podman 4 keeps at a fixed path
        Cmd.quiet("rm", "-rf", "/var/lib/cni");
      }
    }
  }

  @Test
  void theCniPathAndTheNetavarkPathOnOneHostNeverHandOutOneAddressTwice() throws Exception {
    try (Testbed bed = Testbed.create(1); DebianHost h = DebianHost.start(bed, 1, DebianHost.TRIXIE)) {
      h.installDeb();
      // A subnet of 4 usable addresses (.1 is the gateway): both paths drawing from it must never collide.
      Files.createDirectories(h.subnetFile().getParent());
      Files.writeString(h.subnetFile(), "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/29\n"
          + "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n");
      h.setupPodman();
      h.podman("network", "create", "-d", "tartan", NET);
      List<String> addresses = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        h.podman("run", "-d", "--name", "p" + i, "--network", NET, DebianHost.IMAGE, "sleep", "600");
        addresses.add(h.podmanIp("p" + i, NET));
        if (i < 2) {
          addresses.add(cniAdd(h, "c" + i));
        }
      }
      assertThat(addresses).hasSize(5).doesNotHaveDuplicates().allMatch(a -> a.startsWith("10.244.3."));
      assertThat(new HashSet<>(addresses)).containsExactlyInAnyOrder("10.244.3.2", "10.244.3.3", "10.244.3.4",
          "10.244.3.5", "10.244.3.6");
      // The pool is exhausted for both paths alike.
      Cmd.Result full = h.podmanExec("run", "--rm", "--network", NET, DebianHost.IMAGE, "true");
      assertThat(full.exit()).as(full.describe()).isNotZero();
      assertThat(full.err()).contains("tartan: setup of container").contains("no IP addresses available");
      // A subnet change (a new lease) after `podman network create`: setup follows subnet.env.
      Files.writeString(h.subnetFile(), "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.9.1/24\n"
          + "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n");
      h.run("ip", "addr", "flush", "dev", "cni0"); // what the agent does when its lease changes
      Cmd.Result moved = h.podmanExec("run", "--rm", "--network", NET, DebianHost.IMAGE, "ip", "-4", "addr",
          "show", "eth0");
      assertThat(moved.exit()).as(moved.describe()).isZero();
      assertThat(moved.out()).contains("inet 10.244.9.");
      // Teardown releases everything, whichever path allocated it.
      h.podman("rm", "-a", "-f", "-t", "0");
      for (int i = 0; i < 2; i++) {
        cni(h, "DEL", "c" + i);
        h.run("ip", "netns", "del", "c" + i);
      }
      assertNothingLeftOnHost(h);
    }
  }

  // ---------------------------------------------------------------- helpers

  static AgentProcess installAndStartAgent(Testbed bed, DebianHost h, String... agentFlags) {
    h.installDeb();
    String java = h.suite().equals(DebianHost.TRIXIE) ? "21" : "17"; // each suite's only/default JDK
    assertThat(h.run("sh", "-c", "java -version 2>&1")).contains("version \"" + java);
    assertThat(h.run("iptables", "--version")).contains("nf_tables");
    AgentProcess agent = h.startAgent(agentFlags);
    assertThat(Testbed.await(Duration.ofSeconds(120), () -> bed.ready(h.host())))
        .as("agent on Debian %s host %d ready", h.suite(), h.host()).isTrue();
    assertThat(h.path("/run/tartan/attach.sock")).as("the agent's attach socket").exists();
    return agent;
  }

  /** {@code tartan_attach_calls_total{kind=...}} from the host agent's /metrics. */
  static long attachCalls(Testbed bed, DebianHost h, String kind) {
    Cmd.Result r = Cmd.exec(Duration.ofSeconds(30), List.of(Cmd.inNs(bed.host(h.host()), "curl", "-sf", "-m", "5",
        "http://127.0.0.1:8471/metrics")));
    assertThat(r.ok()).as(r.describe()).isTrue();
    String prefix = "tartan_attach_calls_total{kind=\"" + kind + "\",} ";
    for (String line : r.out().split("\n")) {
      if (line.startsWith(prefix) || line.startsWith(prefix.replace(",}", "}"))) {
        return (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    throw new AssertionError("no tartan_attach_calls_total for kind " + kind + " in:\n" + r.out());
  }

  /** The CNI path inside the host: the installed plugin /usr/lib/cni/tartan, ADD into a fresh netns. */
  private static String cniAdd(DebianHost h, String id) throws Exception {
    h.run("ip", "netns", "add", id);
    JsonNode result = JSON.readTree(cni(h, "ADD", id));
    return result.path("ips").path(0).path("address").asText().split("/")[0];
  }

  private static String cni(DebianHost h, String command, String id) {
    Cmd.Result r = Cmd.exec(Duration.ofSeconds(120), h.argv("env", "CNI_COMMAND=" + command, "CNI_CONTAINERID=" + id,
        "CNI_NETNS=/run/netns/" + id, "CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni", "/usr/lib/cni/tartan"), null, CNI_CONF);
    assertThat(r.exit()).as(r.describe()).isZero();
    return r.out();
  }

  /** No container veth on the host, no allocation in host-local's directory, no saved delegate config. */
  static void assertNothingLeftOnHost(DebianHost h) throws Exception {
    List<String> veths = new ArrayList<>();
    for (JsonNode link : JSON.readTree(h.run("ip", "-j", "link", "show", "type", "veth"))) {
      if (!link.path("ifname").asText().equals("eth0")) { // eth0 is the host's own underlay veth
        veths.add(link.path("ifname").asText());
      }
    }
    assertThat(veths).as("container veths left on host %d", h.host()).isEmpty();
    Set<String> allocations = new HashSet<>(List.of(h.run("sh", "-c",
        "ls -A /var/lib/cni/networks/tartan /var/lib/cni/flannel 2>/dev/null || true").split("\\s+")));
    allocations.removeIf(f -> f.isEmpty() || f.endsWith(":") || f.equals("lock") || f.startsWith("last_reserved_ip"));
    assertThat(allocations).as("allocations or saved configs left on host %d", h.host()).isEmpty();
  }

  private static String subnetLine(Path subnetFile) throws Exception {
    for (String line : Files.readAllLines(subnetFile)) {
      if (line.startsWith("FLANNEL_SUBNET=")) {
        return line.substring("FLANNEL_SUBNET=".length());
      }
    }
    throw new IllegalStateException("no FLANNEL_SUBNET in " + subnetFile);
  }

  /** "10.244.N." of the host's subnet. */
  static String prefix(Path subnetFile) throws Exception {
    String gw = subnetLine(subnetFile).split("/")[0];
    return gw.substring(0, gw.lastIndexOf('.') + 1);
  }

  /** The host's subnet as a network, e.g. 10.244.5.0/24. */
  private static String subnet(Path subnetFile) throws Exception {
    return prefix(subnetFile) + "0/" + subnetLine(subnetFile).split("/")[1];
  }

  private static String mtu(Path subnetFile) throws Exception {
    for (String line : Files.readAllLines(subnetFile)) {
      if (line.startsWith("FLANNEL_MTU=")) {
        return line.substring("FLANNEL_MTU=".length());
      }
    }
    throw new IllegalStateException("no FLANNEL_MTU in " + subnetFile);
  }
}
