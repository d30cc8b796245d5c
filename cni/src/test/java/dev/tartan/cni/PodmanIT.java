package dev.tartan.cni;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tartan.cni.PluginHost.Call;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Podman 4 with its CNI backend calls the plugin as type {@code tartan} and as type {@code flannel}, on one
 * test host with a hand-written subnet.env (the two-host overlay test with agents lives with the agent):
 * containers get addresses from the host's subnet, reach each other, and leave nothing behind.
 *
 * <p>Known requirements on these machines (environment.md §5): runtime runc, cgroupfs, ulimits of at most
 * 4096, and podman entered into the host namespace with nsenter (ip netns exec hides the cgroup mounts).
 * Containers run from a busybox directory ({@code --rootfs}), so no image store or registry is involved.
 */
@Timeout(600)
class PodmanIT {

  @BeforeEach
  void requirements() {
    PluginHost.assumeUsable();
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/podman")), "needs podman (apt-get install podman runc)");
    assumeTrue(Files.isExecutable(Path.of("/usr/sbin/runc")) || Files.isExecutable(Path.of("/usr/bin/runc")),
        "needs runc (crun fails on this kernel's hybrid cgroups)");
    assumeTrue(Files.isExecutable(Path.of("/bin/busybox")), "needs a static busybox (busybox-static)");
    assumeTrue(Files.isExecutable(PluginHost.PLUGINS.resolve("portmap")), "needs the portmap plugin");
  }

  @Test
  void podmanContainersGetAddressesFromTheSubnetAndReachEachOther() throws Exception {
    boolean cniCacheExisted = Files.exists(Path.of("/var/lib/cni"));
    try (PluginHost host = new PluginHost()) {
      Podman podman = new Podman(host);
      try {
        Call a = podman.run("run", "-d", "--name", "a", "--network", PluginHost.NETWORK, "--rootfs", podman.rootfs.toString(),
            "sleep", "120");
        assertThat(a.status()).as(a.toString()).isZero();
        List<String> ips = host.allocatedIps();
        assertThat(ips).hasSize(1);
        assertThat(ips.get(0)).startsWith("10.244.7.");
        assertThat(host.savedConfigs()).hasSize(1);

        Call b = podman.run("run", "--rm", "--network", PluginHost.NETWORK, "--rootfs", podman.rootfs.toString(),
            "sh", "-c", "ip -4 addr show eth0; ip route; ping -c 1 -W 5 " + ips.get(0));
        assertThat(b.status()).as(b.toString()).isZero();
        assertThat(b.stdout()).contains("inet 10.244.7.").contains("10.244.0.0/16 via 10.244.7.1")
            .contains("default via 10.244.7.1").contains("1 packets received");

        Call rm = podman.run("rm", "-f", "-t", "0", "a");
        assertThat(rm.status()).as(rm.toString()).isZero();
        assertThat(host.allocatedIps()).isEmpty();
        assertThat(host.savedConfigs()).isEmpty();
        assertThat(host.hostVeths()).isEmpty();

        Call flannel = podman.run("run", "--rm", "--network", "flannel-compat", "--rootfs", podman.rootfs.toString(),
            "ip", "-4", "addr", "show", "eth0");
        assertThat(flannel.status()).as(flannel.toString()).isZero();
        assertThat(flannel.stdout()).contains("inet 10.244.7.");
      } finally {
        podman.close();
      }
      assertThat(host.hostVeths()).isEmpty();
    } finally {
      if (!cniCacheExisted) { // libcni's result cache, which podman 4 does not let us move; empty by now
        Files.deleteIfExists(Path.of("/var/lib/cni/results"));
        Files.deleteIfExists(Path.of("/var/lib/cni"));
      }
    }
  }

  /** podman with its own storage, config and CNI directories under the host's temp dir. */
  private static final class Podman {
    final PluginHost host;
    final Path root;
    final Path rootfs;
    final Path conf;
    final Path tmp;

    Podman(PluginHost host) throws Exception {
      this.host = host;
      root = Files.createDirectory(host.dir.resolve("podman"));
      tmp = Files.createDirectory(root.resolve("tmp"));
      rootfs = root.resolve("rootfs");
      Path rootBin = Files.createDirectories(rootfs.resolve("bin"));
      Files.copy(Path.of("/bin/busybox"), rootBin.resolve("busybox"));
      for (String applet : new String[] {"sh", "ip", "ping", "sleep"}) {
        Files.createSymbolicLink(rootBin.resolve(applet), Path.of("busybox"));
      }
      Path bin = Files.createDirectory(root.resolve("cnibin"));
      Files.createSymbolicLink(bin.resolve("tartan"), PluginHost.LAUNCHER);
      Files.createSymbolicLink(bin.resolve("flannel"), PluginHost.LAUNCHER);
      Path netd = Files.createDirectory(root.resolve("cni.d"));
      String plugin = "\"subnetFile\":\"" + host.subnetFile + "\",\"dataDir\":\"" + host.dataDir + "\","
          + "\"ipam\":{\"dataDir\":\"" + host.ipamDir + "\"},\"delegate\":{\"hairpinMode\":true,\"isDefaultGateway\":true}";
      Files.writeString(netd.resolve("10-tartan.conflist"), "{\"cniVersion\":\"1.0.0\",\"name\":\"" + PluginHost.NETWORK + "\","
          + "\"plugins\":[{\"type\":\"tartan\"," + plugin + "},{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}");
      Files.writeString(netd.resolve("20-flannel.conflist"), "{\"cniVersion\":\"0.3.1\",\"name\":\"flannel-compat\","
          + "\"plugins\":[{\"type\":\"flannel\"," + plugin + "}]}");
      conf = Files.writeString(root.resolve("containers.conf"), "[containers]\n"
          + "default_ulimits = [\"nofile=4096:4096\", \"nproc=4096:4096\"]\n"
          + "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
          + "[network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [\"" + bin + "\", \"" + PluginHost.PLUGINS + "\"]\n"
          + "network_config_dir = \"" + netd + "\"\ndefault_subnet = \"203.0.113.0/24\"\n");
    }

    Call run(String... args) throws Exception {
      List<String> cmd = new ArrayList<>(List.of("env", "CONTAINERS_CONF=" + conf, "TMPDIR=" + tmp, "nsenter",
          "--net=/run/netns/" + host.name, "podman", "--root", root.resolve("storage").toString(), "--runroot",
          root.resolve("run").toString(), "--storage-driver", "vfs"));
      cmd.addAll(List.of(args));
      return PluginHost.run(cmd, "");
    }

    void close() throws Exception {
      run("rm", "-a", "-f", "-t", "0");
      PluginHost.run(List.of("sh", "-c", "grep -o ' " + root + "[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l"), "");
    }
  }
}
