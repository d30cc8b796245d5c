package dev.tartan.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.testbed.Cmd;
import dev.tartan.agent.testbed.DebianHost;
import dev.tartan.agent.testbed.Testbed;
import java.nio.file.Files;
import java.time.Duration;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * containerd through the CNI path, on Debian 13 (containerd 1.7) and Debian 12 (1.6): {@code ctr run --cni}
 * with the package's conflist in /etc/cni/net.d (nerdctl is not packaged by Debian; ctr drives the same
 * go-cni path). The container gets an address from its host's subnet and reaches a podman 5 container on
 * another Debian 13 host, and back.
 */
@Timeout(900)
class ContainerdCtrIT {

  @ParameterizedTest(name = "Debian {0}, containerd {1}")
  @CsvSource({"trixie, 1.7.", "bookworm, 1.6."})
  void ctrRunCniContainerGetsTheHostsSubnetAndPingsAContainerOnAnotherHost(String suite, String containerd)
      throws Exception {
    String reason = Testbed.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    String debian = DebianHost.unavailableReason();
    Assumptions.assumeTrue(debian == null, debian);
    try (Testbed bed = Testbed.create(2)) {
      bed.tartan("network", "init", "--network", "10.244.0.0/16");
      try (DebianHost h1 = DebianHost.start(bed, 1, suite);
          DebianHost h2 = DebianHost.start(bed, 2, DebianHost.TRIXIE)) {
        Debian13PodmanIT.installAndStartAgent(bed, h1);
        Debian13PodmanIT.installAndStartAgent(bed, h2);
        h2.setupPodman();
        h2.podman("network", "create", "-d", "tartan", "tartan");
        h2.podman("run", "-d", "--name", "server", "--cap-add", "NET_RAW", "--network", "tartan", DebianHost.IMAGE, "sleep", "600");
        String serverIp = h2.podmanIp("server", "tartan");

        // The README's containerd setup: the conflist in conf_dir, the delegates beside tartan in ctr's
        // fixed CNI bin dir /opt/cni/bin (the package links tartan there; Debian's plugins live in /usr/lib/cni).
        Files.createDirectories(h1.path("/etc/cni/net.d"));
        Files.copy(h1.path("/usr/share/doc/tartan/10-tartan.conflist"), h1.path("/etc/cni/net.d/10-tartan.conflist"));
        h1.run("sh", "-c", "for p in bridge host-local portmap; do ln -s /usr/lib/cni/$p /opt/cni/bin/$p; done");
        h1.startDaemon("containerd.log", "containerd");
        assertThat(Testbed.await(Duration.ofSeconds(60),
            () -> h1.exec(Duration.ofSeconds(10), "ctr", "version").ok())).as("containerd up").isTrue();
        assertThat(h1.run("ctr", "version")).contains("Version:  " + containerd);
        h1.setupPodman(); // only to build the busybox image, exported for containerd below
        h1.run("sh", "-c", "podman save --format docker-archive -o /tmp/bb.tar " + DebianHost.IMAGE
            + " && ctr images import /tmp/bb.tar && rm /tmp/bb.tar");

        h1.run("ctr", "run", "-d", "--cni", DebianHost.IMAGE + ":latest", "c1", "sleep", "600");
        String addr = h1.run("ctr", "task", "exec", "--exec-id", "addr", "c1", "ip", "-4", "addr", "show", "eth0");
        assertThat(addr).contains("inet " + Debian13PodmanIT.prefix(h1.subnetFile()));
        String ctrIp = addr.replaceAll("(?s).*inet (\\S+)/.*", "$1");
        Cmd.Result ping = h1.exec(Duration.ofSeconds(60), "ctr", "task", "exec", "--exec-id", "ping", "c1",
            "ping", "-c", "3", "-W", "2", serverIp);
        assertThat(ping.exit()).as(ping.describe()).isZero();
        assertThat(ping.out()).contains("3 packets received");
        Cmd.Result back = h2.podmanExec("exec", "server", "ping", "-c", "3", "-W", "2", ctrIp);
        assertThat(back.exit()).as("podman 5 on host 2 -> ctr container %s: %s", ctrIp, back.describe()).isZero();

        // ctr's kill runs the CNI DEL; nothing of the container stays on the host.
        h1.run("ctr", "task", "kill", "-s", "SIGKILL", "c1");
        assertThat(Testbed.await(Duration.ofSeconds(30),
            () -> h1.exec(Duration.ofSeconds(10), "ctr", "task", "delete", "c1").ok())).isTrue();
        h1.run("ctr", "container", "delete", "c1");
        if (containerd.equals("1.6.")) {
          // ctr 1.6 never runs the CNI DEL for a detached (-d) container (1.7's kill does): release it as a
          // runtime would, through the plugin's DEL without a netns (the container is gone).
          Cmd.Result del = Cmd.exec(Duration.ofSeconds(120), h1.argv("env", "CNI_COMMAND=DEL",
              "CNI_CONTAINERID=default-c1", "CNI_IFNAME=eth0", "CNI_PATH=/opt/cni/bin", "/opt/cni/bin/tartan"), null,
              "{\"cniVersion\":\"1.0.0\",\"name\":\"tartan\",\"type\":\"tartan\"}");
          assertThat(del.exit()).as(del.describe()).isZero();
        }
        h2.podman("rm", "-f", "-t", "0", "server");
        Debian13PodmanIT.assertNothingLeftOnHost(h1);
        Debian13PodmanIT.assertNothingLeftOnHost(h2);
      }
    }
  }
}
