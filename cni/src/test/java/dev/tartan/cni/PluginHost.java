package dev.tartan.cni;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tartan.cni.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A test host for the real launcher {@code cni/target/tartan-cni}: a network namespace of its own
 * ({@code cnih-<rand>}) standing in for the host, a temporary directory with {@code subnet.env}, the plugin's
 * dataDir and host-local's dataDir, and container namespaces ({@code cnic-<rand>}) on demand. Everything is
 * removed by {@link #close}, also when a test fails.
 */
final class PluginHost implements AutoCloseable {
  /** The standalone plugin (the JVM launcher) the front end falls back to; the front end has its own tests. */
  static final Path LAUNCHER = Path.of("target", "tartan-cni-java").toAbsolutePath();
  static final Path PLUGINS = Path.of("/usr/lib/cni");
  static final String SUBNET_ENV = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\n"
      + "FLANNEL_IPMASQ=true\n";
  static final String NETWORK = "tartan-it";

  final String name;
  final Path dir;
  final Path subnetFile;
  final Path dataDir;
  final Path ipamDir;
  private final List<String> namespaces = new ArrayList<>();

  record Call(int status, String stdout, String stderr) {
    Map<String, Object> json() throws Exception {
      return Json.parseObject(stdout);
    }

    @Override
    public String toString() {
      return "exit " + status + ", stdout: " + stdout + ", stderr: " + stderr;
    }
  }

  /** Skips the test unless this is root with the plugins, iproute2, nsenter and a packaged launcher. */
  static void assumeUsable() {
    assumeTrue("root".equals(System.getProperty("user.name")), "needs root for network namespaces");
    assumeTrue(Files.isExecutable(PLUGINS.resolve("bridge")) && Files.isExecutable(PLUGINS.resolve("host-local")),
        "needs bridge and host-local in /usr/lib/cni (Debian: containernetworking-plugins)");
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/nsenter")) || Files.isExecutable(Path.of("/bin/nsenter")),
        "needs nsenter (util-linux)");
    assumeTrue(Files.isExecutable(LAUNCHER), "needs the packaged launcher " + LAUNCHER + " (run mvn verify)");
  }

  PluginHost() throws Exception {
    String suffix = Integer.toHexString(ThreadLocalRandom.current().nextInt(0x100000, 0xffffff));
    name = "cnih-" + suffix;
    dir = Files.createTempDirectory("tartan-cni-it");
    subnetFile = Files.writeString(dir.resolve("subnet.env"), SUBNET_ENV);
    dataDir = dir.resolve("data");
    ipamDir = dir.resolve("ipam");
    try {
      ip("netns", "add", name);
      namespaces.add(name);
      ip("-n", name, "link", "set", "lo", "up");
    } catch (Exception e) {
      close();
      throw e;
    }
  }

  /** A new container namespace; returns its name (its path is /run/netns/NAME). */
  String container() throws Exception {
    String c = "cnic-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x100000, 0xffffff));
    ip("netns", "add", c);
    namespaces.add(c);
    return c;
  }

  void deleteNamespace(String ns) throws Exception {
    ip("netns", "del", ns);
    namespaces.remove(ns);
  }

  /** The plugin config: host-local's files go to the temp dir, not /var/lib/cni. */
  String conf(String version, String extra) {
    return "{\"cniVersion\":\"" + version + "\",\"name\":\"" + NETWORK + "\",\"type\":\"tartan\",\"subnetFile\":\""
        + subnetFile + "\",\"dataDir\":\"" + dataDir + "\",\"ipam\":{\"dataDir\":\"" + ipamDir + "\"}" + extra + "}";
  }

  /** Runs the launcher inside this host's namespace, as a runtime would. */
  Call plugin(String command, String containerId, String netns, String ifname, String stdin) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", name, "env", "CNI_COMMAND=" + command,
        "CNI_PATH=" + PLUGINS, "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=it;K8S_POD_NAME=" + containerId));
    if (containerId != null) {
      cmd.add("CNI_CONTAINERID=" + containerId);
    }
    if (netns != null) {
      cmd.add("CNI_NETNS=/run/netns/" + netns);
    }
    if (ifname != null) {
      cmd.add("CNI_IFNAME=" + ifname);
    }
    cmd.add(LAUNCHER.toString());
    return run(cmd, stdin);
  }

  /** `ip -j ARGS...` parsed. */
  List<?> ipJson(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("ip", "-j"));
    cmd.addAll(List.of(args));
    Call c = run(cmd, "");
    if (c.status() != 0) {
      throw new IllegalStateException("ip " + String.join(" ", args) + ": " + c);
    }
    String out = c.stdout().strip();
    return out.isEmpty() ? List.of() : (List<?>) Json.parse(out);
  }

  /** Names of the veth links in this host's namespace. */
  List<String> hostVeths() throws Exception {
    List<String> out = new ArrayList<>();
    for (Object link : ipJson("-n", name, "link", "show", "type", "veth")) {
      out.add((String) ((Map<?, ?>) link).get("ifname"));
    }
    return out;
  }

  /** host-local's allocated addresses (files other than lock and last_reserved_ip.*). */
  List<String> allocatedIps() throws IOException {
    Path net = ipamDir.resolve(NETWORK);
    if (!Files.isDirectory(net)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(net)) {
      return files.map(p -> p.getFileName().toString())
          .filter(n -> !n.equals("lock") && !n.startsWith("last_reserved_ip")).sorted().toList();
    }
  }

  List<String> savedConfigs() throws IOException {
    if (!Files.isDirectory(dataDir)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(dataDir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  void ip(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("ip"));
    cmd.addAll(List.of(args));
    Call c = run(cmd, "");
    if (c.status() != 0) {
      throw new IllegalStateException("ip " + String.join(" ", args) + ": " + c);
    }
  }

  static Call run(List<String> cmd, String stdin) throws Exception {
    Process p = new ProcessBuilder(cmd).start();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    Thread errReader = new Thread(() -> {
      try {
        p.getErrorStream().transferTo(err);
      } catch (IOException e) {
        // the process went away
      }
    });
    errReader.start();
    try (var in = p.getOutputStream()) {
      in.write(stdin.getBytes(StandardCharsets.UTF_8));
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("timed out: " + cmd);
    }
    errReader.join();
    return new Call(p.exitValue(), out, err.toString(StandardCharsets.UTF_8));
  }

  @Override
  public void close() throws IOException {
    IOException first = null;
    for (String ns : new ArrayList<>(namespaces)) {
      try {
        ip("netns", "del", ns);
        namespaces.remove(ns);
      } catch (Exception e) {
        first = first == null ? new IOException("cleanup: ip netns del " + ns + " failed", e) : first;
      }
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
    if (first != null) {
      throw first;
    }
  }
}
