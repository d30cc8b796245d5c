package dev.tartan.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.Podman;
import dev.tartan.agent.testbed.Testbed;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Containers started by podman (CNI backend, plugin type "tartan") on two hosts running agents get
 * addresses from their hosts' subnets and reach each other across the overlay.
 */
@Timeout(300)
class PodmanOverlayIT {

  @Test
  void podmanContainersOnTwoHostsPingEachOtherAcrossTheOverlay() throws Exception {
    String reason = Testbed.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    String podmanReason = Podman.unavailableReason();
    Assumptions.assumeTrue(podmanReason == null, podmanReason);
    Assumptions.assumeTrue(Files.isExecutable(Testbed.cniPlugin()), "cni/target/tartan-cni not built");
    boolean cniCacheExisted = Files.exists(Path.of("/var/lib/cni"));
    try (Testbed bed = Testbed.create(2)) {
      bed.tartan("network", "init", "--network", "10.244.0.0/16");
      bed.startAgent(1);
      bed.startAgent(2);
      for (int h = 1; h <= 2; h++) {
        int host = h;
        assertThat(Testbed.await(Duration.ofSeconds(60), () -> bed.ready(host))).as("agent %d ready", h).isTrue();
      }
      try (Podman p1 = new Podman(bed, 1); Podman p2 = new Podman(bed, 2)) {
        p2.podman("run", "-d", "--name", "server", "--network", Podman.NETWORK, Podman.IMAGE, "sleep", "300");
        String serverIp = p2.ip("server");
        assertThat(serverIp).startsWith(gatewayPrefix(bed, 2));

        Cmd.Result client = p1.exec("run", "--rm", "--network", Podman.NETWORK, Podman.IMAGE, "sh", "-c",
            "ip -4 addr show eth0; ping -c 3 -W 2 " + serverIp);
        assertThat(client.exit()).as("podman run on host 1: %s%s", client.out(), client.err()).isZero();
        assertThat(client.out()).contains("inet " + gatewayPrefix(bed, 1)).contains("3 packets received");

        p2.podman("rm", "-f", "-t", "0", "server");
        List<String> containerVeths = new ArrayList<>();
        for (JsonNode link : bed.ipJson(bed.host(2), "link", "show", "type", "veth")) {
          if (!link.path("ifname").asText().equals("eth0")) { // eth0 is the host's own underlay veth
            containerVeths.add(link.path("ifname").asText());
          }
        }
        assertThat(containerVeths).as("container veths left on host 2 after podman rm").isEmpty();
      }
    } finally {
      if (!cniCacheExisted) { // libcni's result cache, which podman 4 keeps at a fixed path
        Cmd.quiet("rm", "-rf", "/var/lib/cni");
      }
    }
  }

  /** "10.244.N." of host h's subnet, from its subnet file. */
  private static String gatewayPrefix(Testbed bed, int h) throws Exception {
    for (String line : Files.readAllLines(bed.subnetFile(h))) {
      if (line.startsWith("FLANNEL_SUBNET=")) {
        String gw = line.substring("FLANNEL_SUBNET=".length()).split("/")[0];
        return gw.substring(0, gw.lastIndexOf('.') + 1);
      }
    }
    throw new IllegalStateException("no FLANNEL_SUBNET in " + bed.subnetFile(h));
  }

}
