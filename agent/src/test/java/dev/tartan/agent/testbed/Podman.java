package dev.tartan.agent.testbed;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * podman 4 inside one testbed host, with its own storage, containers.conf and CNI config directory
 * (under the testbed's directory), the CNI backend and a conflist whose plugin is Tartan's
 * ({@code type} "tartan" from cni/target/tartan-cni), and a busybox image imported from a local
 * rootfs tarball (no registry).
 *
 * <p>Requirements on these machines: runtime runc, cgroupfs, ulimits of at most 4096, and podman
 * entered into the host namespace with {@code nsenter --net} ({@code ip netns exec} hides the cgroup
 * mounts).
 */
public final class Podman implements AutoCloseable {
  public static final String NETWORK = "tartan";
  public static final String IMAGE = "localhost/tt-busybox:latest";

  private final Testbed bed;
  private final int host;
  private final Path root;
  private final Path conf;
  private final Path tmp;
  private final Path runRoot;

  /** Why podman cannot run here, or null when it can. */
  public static String unavailableReason() {
    if (!Cmd.onPath("podman") || !Cmd.onPath("runc") || !Cmd.onPath("nsenter")) {
      return "needs podman, runc and nsenter (apt-get install podman runc util-linux)";
    }
    if (!Files.isExecutable(Path.of("/bin/busybox"))) {
      return "needs a static busybox for the image (apt-get install busybox-static)";
    }
    return null;
  }

  public Podman(Testbed bed, int host) {
    this.bed = bed;
    this.host = host;
    try {
      root = Files.createDirectories(bed.hostDir(host).resolve("podman"));
      tmp = Files.createDirectories(root.resolve("tmp"));
      runRoot = Files.createTempDirectory(Path.of("/tmp"), "ttpod"); // podman wants < 50 characters
      Path cniBin = Files.createDirectories(root.resolve("cnibin"));
      Files.createSymbolicLink(cniBin.resolve("tartan"), Testbed.cniPlugin());
      Path netd = Files.createDirectories(root.resolve("cni.d"));
      Files.writeString(netd.resolve("10-tartan.conflist"), "{\"cniVersion\":\"1.0.0\",\"name\":\"" + NETWORK
          + "\",\"plugins\":[{\"type\":\"tartan\",\"subnetFile\":\"" + bed.subnetFile(host) + "\","
          + "\"dataDir\":\"" + bed.hostDir(host).resolve("cni") + "\","
          + "\"ipam\":{\"dataDir\":\"" + bed.hostDir(host).resolve("ipam") + "\"},"
          + "\"delegate\":{\"hairpinMode\":true,\"isDefaultGateway\":true}},"
          + "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}");
      conf = Files.writeString(root.resolve("containers.conf"), "[containers]\n"
          + "default_ulimits = [\"nofile=4096:4096\", \"nproc=4096:4096\"]\n"
          + "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
          + "[network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [\"" + cniBin + "\", \"/usr/lib/cni\"]\n"
          + "network_config_dir = \"" + netd + "\"\ndefault_subnet = \"203.0.113.0/24\"\n");
      importBusybox();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A busybox rootfs (the static binary and its applets) as a tarball, imported as {@link #IMAGE}. */
  private void importBusybox() throws IOException {
    Path rootfs = Files.createDirectories(root.resolve("rootfs"));
    Path bin = Files.createDirectories(rootfs.resolve("bin"));
    Files.copy(Path.of("/bin/busybox"), bin.resolve("busybox"));
    for (String applet : new String[] {"sh", "ip", "ping", "sleep", "cat", "hostname"}) {
      Files.createSymbolicLink(bin.resolve(applet), Path.of("busybox"));
    }
    Path tar = root.resolve("busybox-rootfs.tar");
    Cmd.run("tar", "-C", rootfs.toString(), "-cf", tar.toString(), ".");
    podman("import", "--change", "CMD [\"/bin/sh\"]", tar.toString(), IMAGE);
  }

  /** Runs {@code podman ARGS} inside the host and returns stdout; a failure throws with stderr. */
  public String podman(String... args) {
    return Cmd.run(argv(args));
  }

  /** Like {@link #podman} but returns the whole result. */
  public Cmd.Result exec(String... args) {
    return Cmd.exec(List.of(argv(args)), null);
  }

  private String[] argv(String... args) {
    List<String> cmd = new ArrayList<>(List.of("env", "CONTAINERS_CONF=" + conf, "TMPDIR=" + tmp,
        "nsenter", "--net=/run/netns/" + bed.host(host), "podman",
        "--root", root.resolve("storage").toString(), "--runroot", runRoot.toString(),
        "--storage-driver", "vfs"));
    cmd.addAll(List.of(args));
    return cmd.toArray(String[]::new);
  }

  /** The IPv4 address a running container got on {@link #NETWORK}. */
  public String ip(String container) {
    return podman("inspect", "--format", "{{(index .NetworkSettings.Networks \"" + NETWORK + "\").IPAddress}}",
        container).trim();
  }

  /** Removes every container (the plugin's DEL runs) and unmounts what podman left mounted. */
  @Override
  public void close() {
    exec("rm", "-a", "-f", "-t", "0");
    for (Path p : new Path[] {root, runRoot}) {
      Cmd.quiet("sh", "-c", "grep -o ' " + p + "[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l");
    }
    Cmd.quiet("rm", "-rf", runRoot.toString());
  }
}
