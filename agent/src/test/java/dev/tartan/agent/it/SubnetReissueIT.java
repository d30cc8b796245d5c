package dev.tartan.agent.it;

import static dev.tartan.agent.it.Matrix.report;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tartan.agent.testbed.AgentProcess;
import dev.tartan.agent.testbed.Testbed;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Outage matrix row 4 (flannel #1289): host A (host 1) is away longer than its lease TTL (5 s),
 * its subnet X is issued to a new host B (host 3, started with a subnet file naming X), then A
 * comes back with its old subnet file. A and B never hold the same subnet: in etcd X goes from A
 * to nobody to B and never back; A takes a new subnet Y, says so at WARN, and moves its device and
 * bridge addresses to Y; every host routes X to B. Host 2 watches with a container.
 */
@Timeout(180)
class SubnetReissueIT {
  static final String ROW = "4 subnet-reissued-while-away";
  static Testbed bed;

  @BeforeAll
  static void up() {
    Matrix.assumeTestbed();
    bed = Testbed.create(3, 1);
    Matrix.initNetwork(bed);
  }

  @AfterAll
  static void down() {
    if (bed != null) {
      bed.close();
    }
  }

  @Test
  void returningHostGetsANewSubnetAndSaysSo() throws Exception {
    AgentProcess a = bed.startAgent(1, "--lease-ttl", "5s");
    // host 2 drops an expired peer at once (flannel's behaviour), so the row shows X going to nobody
    AgentProcess o = bed.startAgent(2, "--peer-expiry-grace", "0");
    Matrix.awaitReady(bed, 1, a, Duration.ofSeconds(60));
    Matrix.awaitReady(bed, 2, o, Duration.ofSeconds(60));
    String x = Matrix.subnetOf(bed, 1);
    String ipO = bed.addContainer(2, 1);

    // who owns X in etcd, sampled all along
    List<String> owners = Collections.synchronizedList(new ArrayList<>());
    List<String> doubleLeases = Collections.synchronizedList(new ArrayList<>());
    AtomicBoolean sampling = new AtomicBoolean(true);
    Thread sampler = new Thread(() -> {
      while (sampling.get()) {
        Map<String, Matrix.Lease> now = Matrix.leases(bed);
        Matrix.Lease l = now.get(x);
        String owner = l == null ? "none" : l.publicIp();
        if (owners.isEmpty() || !owners.get(owners.size() - 1).equals(owner)) {
          owners.add(owner);
        }
        TreeSet<String> ips = new TreeSet<>();
        for (Matrix.Lease e : now.values()) {
          if (!ips.add(e.publicIp())) {
            doubleLeases.add(e.publicIp() + " holds two subnets: " + now.keySet());
          }
        }
        Testbed.await(Duration.ofMillis(100), () -> false);
      }
    }, "x-owner-sampler");
    sampler.setDaemon(true);
    sampler.start();

    // A goes away (crash; its kernel state stays) for longer than its TTL
    a.kill();
    long killed = System.nanoTime();
    Matrix.await("A's lease " + x + " expires", Duration.ofSeconds(15), () -> !Matrix.leases(bed).containsKey(x));
    long expired = System.nanoTime() - killed;
    Matrix.await("host 2 forgets " + x, Duration.ofSeconds(5),
        () -> bed.ipJson(bed.host(2), "route", "show", x).isEmpty());

    // B starts with a subnet file that names X: it gets X
    Files.writeString(bed.subnetFile(3), "FLANNEL_NETWORK=" + Matrix.NETWORK + "\nFLANNEL_SUBNET="
        + gateway(x) + "/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n");
    AgentProcess b = bed.startAgent(3);
    Matrix.awaitReady(bed, 3, b, Duration.ofSeconds(60));
    assertThat(Matrix.subnetOf(bed, 3)).isEqualTo(x);
    assertThat(Matrix.leases(bed).get(x).publicIp()).isEqualTo(Testbed.hostIp(3));
    String ipB = bed.addContainer(3, 1);
    Matrix.await("host 2's container reaches B's container in " + x, Duration.ofSeconds(10),
        () -> bed.ping(bed.container(2, 1), ipB));

    // A comes back with its old subnet file (naming X)
    assertThat(Matrix.subnetOf(bed, 1)).isEqualTo(x);
    long back = System.nanoTime();
    AgentProcess a2 = bed.startAgent(1, "--lease-ttl", "5s");
    Matrix.awaitReady(bed, 1, a2, Duration.ofSeconds(60));
    long readyAfter = System.nanoTime() - back;
    String y = Matrix.subnetOf(bed, 1);
    sampling.set(false);
    sampler.join(5000);

    assertThat(y).as("A's new subnet").isNotEqualTo(x);
    Map<String, Matrix.Lease> leases = Matrix.leases(bed);
    assertThat(leases.get(x).publicIp()).isEqualTo(Testbed.hostIp(3));
    assertThat(leases.get(y).publicIp()).isEqualTo(Testbed.hostIp(1));
    assertThat(owners).as("owners of %s over time", x)
        .containsExactly(Testbed.hostIp(1), "none", Testbed.hostIp(3));
    assertThat(doubleLeases).isEmpty();
    String warn = a2.log().lines().filter(l -> l.contains(" WARN ") && l.contains("subnet changed: " + x + " -> " + y))
        .findFirst().orElse(null);
    assertThat(warn).as("A's WARN line about the new subnet; log:\n%s", a2.log()).isNotNull();

    // the kernels: A on Y only, B on X only
    assertThat(networkAddresses(1, "cni0")).containsExactly(gateway(y) + "/24");
    assertThat(networkAddresses(1, "flannel.1")).containsExactly(y.split("/")[0] + "/32");
    assertThat(networkAddresses(3, "cni0")).containsExactly(gateway(x) + "/24");
    assertThat(networkAddresses(3, "flannel.1")).containsExactly(x.split("/")[0] + "/32");
    for (int h = 1; h <= 3; h++) {
      Matrix.awaitConverged(bed, h, Duration.ofSeconds(10)); // on A: X is a peer, via B
    }
    String ipA = bed.addContainer(1, 1);
    assertThat(ipA).startsWith(y.substring(0, y.lastIndexOf('.') + 1));
    Matrix.await("A's new container reaches B's container in " + x, Duration.ofSeconds(10),
        () -> bed.ping(bed.container(1, 1), ipB));
    Matrix.await("host 2's container reaches A's new container", Duration.ofSeconds(10),
        () -> bed.ping(bed.container(2, 1), ipA));
    assertThat(bed.ping(bed.container(1, 1), ipO)).isTrue();

    report(ROW, "lease_gone_after_kill", Matrix.millis(expired) + " (TTL 5s)");
    report(ROW, "owners_of_X", String.join(" -> ", owners));
    report(ROW, "returning_host_ready_after", Matrix.millis(readyAfter));
    report(ROW, "warn_line", "\"" + warn.substring(warn.indexOf("WARN")) + "\"");
  }

  static String gateway(String subnet) {
    String net = subnet.split("/")[0];
    return net.substring(0, net.lastIndexOf('.')) + ".1";
  }

  /** Addresses on {@code dev} of host {@code h} inside the flannel Network, as "a.b.c.d/len". */
  static List<String> networkAddresses(int h, String dev) {
    List<String> out = new ArrayList<>();
    for (JsonNode link : bed.ipJson(bed.host(h), "-4", "addr", "show", "dev", dev)) {
      for (JsonNode a : link.path("addr_info")) {
        String ip = a.path("local").asText();
        if (ip.startsWith("10.244.")) {
          out.add(ip + "/" + a.path("prefixlen").asInt());
        }
      }
    }
    return out;
  }
}
