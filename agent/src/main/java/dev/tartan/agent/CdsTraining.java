package dev.tartan.agent;

import dev.tartan.agent.attach.AttachSocket;
import dev.tartan.agent.backend.vxlan.VxlanBackendConfig;
import dev.tartan.agent.config.AgentConfig;
import dev.tartan.agent.config.AgentOptions;
import dev.tartan.agent.health.HealthServer;
import dev.tartan.agent.health.HealthServer.Check;
import dev.tartan.agent.iface.ExternalInterfaceSelector;
import dev.tartan.agent.metrics.AgentMetrics;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.agent.netlink.rtnl.RtNetlinkClient;
import dev.tartan.agent.subnetenv.SubnetEnv;
import dev.tartan.agent.subnetenv.SubnetEnvFile;
import dev.tartan.agent.systemd.SdNotify;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.etcd.EtcdStores;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/**
 * The workload recorded into the agent's class-data archive ({@code tartan --create-cds}, run by the
 * package's postinst and its JVM trigger under {@code -XX:ArchiveClassesAtExit}): the start path up
 * to the first etcd answer, without touching the system. It parses an {@code agent} command line,
 * serves and queries the health endpoints on 127.0.0.1, opens and closes the attach socket in a
 * temporary directory, lets the etcd client fail against a closed loopback port (the client, gRPC
 * and netty up to the connection), opens a netlink socket and reads the links and addresses (no
 * change), writes a subnet file in the temporary directory, and loads, without initialising, every
 * class of Tartan's own. Nothing is created outside the temporary directory.
 *
 * <p>Why a workload and not an archive of a real start: the archive is built at package install,
 * where no etcd and no network config exist, and rebuilt whenever a JVM package changes; it must be
 * buildable on any host at any time.
 */
public final class CdsTraining {
  private CdsTraining() {}

  public static void main(String[] args) throws Exception {
    Path tmp = Files.createTempDirectory("tartan-cds");
    try {
      run(tmp);
    } finally {
      try (Stream<Path> walk = Files.walk(tmp)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
    System.exit(0);
  }

  private static void run(Path tmp) throws Exception {
    int closedPort = freePort();
    int healthPort = freePort();
    CommandLine cmd = Main.commandLine(name -> null);
    ParseResult parsed = cmd.parseArgs("agent", "--etcd-endpoints", "http://127.0.0.1:" + closedPort,
        "--subnet-file", tmp.resolve("subnet.env").toString(), "--ip-masq", "--healthz-ip", "127.0.0.1",
        "--healthz-port", Integer.toString(healthPort), "--attach-socket", tmp.resolve("attach.sock").toString());
    AgentOptions options = (AgentOptions) parsed.subcommand().commandSpec().mixins().get("options").userObject();
    AgentConfig cfg = AgentConfig.resolve(options, Map.of());
    SdNotify.fromEnvironment(Map.of()).status("training");

    AgentMetrics metrics = new AgentMetrics();
    HealthServer health = HealthServer.fromConfig(cfg, Check::passing, () -> Check.failing("training"))
        .orElseThrow();
    health.endpoint(AgentMetrics.PATH, metrics.endpoint());
    health.start();
    try {
      for (String path : List.of("/healthz", "/readyz", AgentMetrics.PATH)) {
        get("http://127.0.0.1:" + health.boundPort() + path);
      }
    } finally {
      health.close();
    }
    AttachSocket.start(cfg.attachSocket(), metrics).ifPresent(CdsTraining::close);

    try {
      EtcdStores.connect(cfg.etcdOptions()).close();
    } catch (LeaseStoreException expected) {
      // nothing listens there: the client and its transport are loaded, which is the point
    }

    try (RtNetlink nl = RtNetlinkClient.open()) {
      new ExternalInterfaceSelector(nl).select(cfg);
    } catch (Exception e) {
      // a host without a default route, or a build chroot: the netlink classes are loaded anyway
    }

    VxlanBackendConfig.parse("{\"Type\":\"vxlan\"}");
    SubnetEnvFile.write(cfg.subnetFile(), SubnetEnv.of(Ipv4Subnet.parse("10.244.0.0/16"),
        Ipv4Subnet.parse("10.244.7.0/24"), 1450, true));
    SubnetEnvFile.readPrevious(cfg.subnetFile());
    SubnetEnvFile.readPreviousNetwork(cfg.subnetFile());
    loadOwnClasses();
  }

  /**
   * Classes the start path needs that the workload cannot reach without an etcd to answer: the etcd
   * messages of the agent's calls (range, txn, put, delete, lease, watch) and netty's HTTP/2 codec
   * (gRPC's transport once a connection is up). Loading them without an etcd costs only archive size.
   */
  private static final List<String> WITHOUT_ETCD = List.of("io/etcd/jetcd/api/Compare",
      "io/etcd/jetcd/api/Watch", "io/etcd/jetcd/api/Lease", "io/etcd/jetcd/api/Txn", "io/etcd/jetcd/api/ResponseOp",
      "io/etcd/jetcd/api/RequestOp", "io/etcd/jetcd/api/ResponseHeader", "io/etcd/jetcd/api/Put",
      "io/etcd/jetcd/api/KeyValue", "io/etcd/jetcd/api/Range", "io/etcd/jetcd/api/DeleteRange",
      "io/etcd/jetcd/api/Event", "io/etcd/jetcd/api/VertxWatchGrpc", "io/etcd/jetcd/api/VertxLeaseGrpc",
      "io/etcd/jetcd/api/VertxKVGrpc", "io/etcd/jetcd/api/KVGrpc", "io/netty/handler/codec/http2/");

  /**
   * Every {@code dev/tartan/} class of the jar this class came from and those of {@link #WITHOUT_ETCD},
   * loaded but not initialised.
   */
  private static void loadOwnClasses() throws IOException, java.net.URISyntaxException {
    URI where = CdsTraining.class.getProtectionDomain().getCodeSource().getLocation().toURI();
    Path jar = Path.of(where);
    if (!Files.isRegularFile(jar)) {
      return; // run from a classes directory (tests): nothing to archive
    }
    ClassLoader loader = CdsTraining.class.getClassLoader();
    try (JarFile f = new JarFile(jar.toFile())) {
      Enumeration<JarEntry> entries = f.entries();
      while (entries.hasMoreElements()) {
        String name = entries.nextElement().getName();
        boolean wanted = name.startsWith("dev/tartan/") || WITHOUT_ETCD.stream().anyMatch(name::startsWith);
        if (wanted && name.endsWith(".class") && !name.contains("module-info")) {
          try {
            Class.forName(name.substring(0, name.length() - 6).replace('/', '.'), false, loader);
          } catch (ClassNotFoundException | LinkageError e) {
            // a class for another platform or an optional dependency: not archived, loaded as usual
          }
        }
      }
    }
  }

  private static void get(String url) throws IOException {
    HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
    c.setConnectTimeout(5000);
    c.setReadTimeout(5000);
    c.getResponseCode();
    try (InputStream in = c.getErrorStream() != null ? c.getErrorStream() : c.getInputStream()) {
      in.readAllBytes();
    } finally {
      c.disconnect();
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static void close(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      System.err.println("tartan: closing the training attach socket: " + e);
    }
  }
}
