package dev.tartan.agent.testbed;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.store.testing.EtcdClusterExtension;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A small network of hosts built from network namespaces, for the agent's integration tests.
 *
 * <pre>
 *   tt-ID-ctl   bridge br0 198.51.100.254/24, etcd (1 or 3 members) on 198.51.100.254
 *   tt-ID-hN    eth0 198.51.100.N/24 (veth into br0), default route via .254; runs `tartan agent`
 *   tt-ID-hNcM  a container: a namespace attached by the real CNI chain (tartan-cni -> bridge + host-local)
 * </pre>
 *
 * Nothing is created in the root namespace. {@link #close()} (and a shutdown hook) kill every process
 * and delete every namespace and file it made.
 */
public final class Testbed implements AutoCloseable {
  public static final String ETCD_IP = "198.51.100.254";
  public static final List<String> AGENT_JVM = List.of(
      "-Xms8m", "-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
      "-XX:ReservedCodeCacheSize=24m");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final String id;
  private final Path dir;
  private final int hosts;
  private final List<String> namespaces = Collections.synchronizedList(new ArrayList<>());
  private final List<AgentProcess> agents = Collections.synchronizedList(new ArrayList<>());
  /** Closed first by {@link #close()}, newest first (e.g. {@link DebianHost}s with their containers). */
  private final List<AutoCloseable> attached = Collections.synchronizedList(new ArrayList<>());
  private final Thread hook = new Thread(this::teardown, "testbed-cleanup");
  private final int etcdMembers;
  private java.util.function.UnaryOperator<EtcdClusterExtension.Builder> etcdOptions = b -> b;
  private EtcdClusterExtension etcd;

  private Testbed(int hosts, int etcdMembers) {
    this.hosts = hosts;
    this.etcdMembers = etcdMembers;
    this.id = String.format(Locale.ROOT, "%04x", ThreadLocalRandom.current().nextInt(0x10000));
    try {
      Path logs = Path.of("target", "testbed");
      Files.createDirectories(logs);
      this.dir = Files.createTempDirectory(logs.toAbsolutePath(), "tt-" + id + "-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** True when this machine can build a testbed (root, iproute2, etcd, the built jars). */
  public static String unavailableReason() {
    if (!Cmd.rootWith("ip", "etcd", "etcdctl", "ping", "curl")) {
      return "needs root and ip, etcd, etcdctl, ping, curl (sudo scripts/install-deps.sh)";
    }
    if (!Files.isRegularFile(agentJar())) {
      return "agent/target/tartan.jar is missing: run `mvn -pl agent package` first";
    }
    return null;
  }

  /** Builds the underlay, {@code hosts} hosts and starts etcd. */
  public static Testbed create(int hosts) {
    return create(hosts, 1);
  }

  /** Like {@link #create(int)} with an etcd cluster of {@code etcdMembers} members. */
  public static Testbed create(int hosts, int etcdMembers) {
    return create(hosts, etcdMembers, b -> b);
  }

  /**
   * Like {@link #create(int, int)}, with {@code etcdOptions} applied to the etcd builder on every
   * {@link #startEtcd()} (e.g. TLS: {@code b -> b.clientScheme("https").extraArgs(...).etcdctlArgs(...)};
   * its server certificate must name {@link #ETCD_IP}).
   */
  public static Testbed create(int hosts, int etcdMembers,
      java.util.function.UnaryOperator<EtcdClusterExtension.Builder> etcdOptions) {
    Testbed tb = new Testbed(hosts, etcdMembers);
    tb.etcdOptions = java.util.Objects.requireNonNull(etcdOptions, "etcdOptions");
    try {
      tb.build();
      return tb;
    } catch (RuntimeException e) {
      tb.close();
      throw e;
    }
  }

  public static Path agentJar() {
    return Path.of("target", "tartan.jar").toAbsolutePath();
  }

  /** The standalone CNI plugin (the JVM launcher the front end falls back to): what the ITs attach with. */
  public static Path cniPlugin() {
    return Path.of("..", "cni", "target", "tartan-cni-java").toAbsolutePath().normalize();
  }

  /** The front end runtimes call (C): hands the call to the agent's attach socket, else runs {@link #cniPlugin()}. */
  public static Path cniFrontEnd() {
    return Path.of("..", "cni", "target", "tartan-cni").toAbsolutePath().normalize();
  }

  private void build() {
    String ctl = ns("ctl");
    Cmd.run("ip", "netns", "add", ctl);
    namespaces.add(ctl);
    Cmd.run("ip", "-n", ctl, "link", "set", "lo", "up");
    Cmd.run("ip", "-n", ctl, "link", "add", "br0", "type", "bridge");
    Cmd.run("ip", "-n", ctl, "addr", "add", ETCD_IP + "/24", "dev", "br0");
    Cmd.run("ip", "-n", ctl, "link", "set", "br0", "up");
    for (int h = 1; h <= hosts; h++) {
      addHost(h);
    }
    startEtcd();
  }

  /** Adds host {@code h} (198.51.100.h) to the underlay; used by tests that add a host later. */
  public void addHost(int h) {
    String ns = host(h);
    String ctl = ns("ctl");
    Cmd.run("ip", "netns", "add", ns);
    namespaces.add(ns);
    Cmd.run("ip", "-n", ns, "link", "set", "lo", "up");
    Cmd.run("ip", "-n", ctl, "link", "add", "vh" + h, "type", "veth", "peer", "name", "eth0", "netns", ns);
    Cmd.run("ip", "-n", ctl, "link", "set", "vh" + h, "master", "br0", "up");
    Cmd.run("ip", "-n", ns, "addr", "add", hostIp(h) + "/24", "dev", "eth0");
    Cmd.run("ip", "-n", ns, "link", "set", "eth0", "up");
    Cmd.run("ip", "-n", ns, "route", "add", "default", "via", ETCD_IP);
    try {
      Files.createDirectories(hostDir(h));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Cuts host {@code h} off the underlay (its veth end in the bridge goes down) or heals it. */
  public void setHostLink(int h, boolean up) {
    Cmd.run("ip", "-n", ns("ctl"), "link", "set", "vh" + h, up ? "up" : "down");
  }

  // ---- etcd (inside the control namespace)

  /** Starts etcd (fresh data) inside the control namespace and waits until it is healthy. */
  public void startEtcd() {
    etcd = etcdOptions.apply(EtcdClusterExtension.builder()
        .members(etcdMembers)
        .netns(ns("ctl"))
        .listenHost(ETCD_IP)
        .logDirectory(dir.resolve("etcd-logs")))
        .build();
    etcd.start();
  }

  /** The etcd cluster, to stop, kill, restart or compact members. */
  public EtcdClusterExtension etcd() {
    return etcd;
  }

  /** Client endpoints as a comma list, for {@code --etcd-endpoints}. */
  public String etcdEndpoints() {
    return etcd.endpointsCsv();
  }

  public String etcdctl(String... args) {
    return etcd.etcdctl(args);
  }

  /** Runs the {@code tartan} CLI inside the control namespace and returns its stdout. */
  public String tartan(String... args) {
    List<String> argv = new ArrayList<>(List.of(Cmd.inNs(ns("ctl"), "java")));
    argv.addAll(AGENT_JVM);
    argv.addAll(List.of("-jar", agentJar().toString()));
    argv.addAll(List.of(args));
    argv.addAll(List.of("--etcd-endpoints", etcdEndpoints()));
    return Cmd.run(argv.toArray(String[]::new));
  }

  // ---- agents

  /**
   * Starts {@code tartan agent} inside host {@code h}, with its subnet file in the host's directory,
   * healthz on 127.0.0.1:8471 inside the host, and the given extra flags.
   */
  public AgentProcess startAgent(int h, String... extra) {
    return startAgent(h, null, extra);
  }

  /** Like {@link #startAgent(int, String...)} with NOTIFY_SOCKET set to {@code notifySocket}. */
  public AgentProcess startAgent(int h, Path notifySocket, String... extra) {
    List<String> argv = new ArrayList<>(List.of(Cmd.inNs(host(h), "java")));
    argv.addAll(AGENT_JVM);
    argv.addAll(List.of("-jar", agentJar().toString(), "agent",
        "--etcd-endpoints", etcdEndpoints(),
        "--subnet-file", subnetFile(h).toString(),
        "--healthz-ip", "127.0.0.1", "--healthz-port", "8471"));
    if (!List.of(extra).contains("--attach-socket")) {
      // one socket per host: the default path is shared by every namespace on this machine
      argv.addAll(List.of("--attach-socket", attachSocket(h).toString()));
    }
    argv.addAll(List.of(extra));
    Path log = hostDir(h).resolve("agent-" + agents.size() + ".log");
    ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().keySet().removeIf(k -> k.startsWith("FLANNELD_") || k.equals("NOTIFY_SOCKET"));
    if (notifySocket != null) {
      pb.environment().put("NOTIFY_SOCKET", notifySocket.toString());
    }
    try {
      AgentProcess a = new AgentProcess(this, h, pb.start(), log);
      agents.add(a);
      return a;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Starts any command inside host {@code h} with exactly {@code env} as its environment (nothing
   * inherited, as systemd starts a service), output appended to {@code logName} in the host's
   * directory. Like an agent, it is killed by {@link #close()}.
   */
  public AgentProcess startInHost(int h, List<String> argv, java.util.Map<String, String> env, String logName) {
    ProcessBuilder pb = new ProcessBuilder(Cmd.inNs(host(h), argv.toArray(String[]::new)))
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(hostDir(h).resolve(logName).toFile()));
    pb.environment().clear();
    pb.environment().putAll(env);
    try {
      AgentProcess a = new AgentProcess(this, h, pb.start(), hostDir(h).resolve(logName));
      agents.add(a);
      return a;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Keeps a process started inside host {@code h} by another helper (e.g. {@link DebianHost}) so that {@link #close()} kills it. */
  AgentProcess track(int h, Process process, Path log) {
    AgentProcess a = new AgentProcess(this, h, process, log);
    agents.add(a);
    return a;
  }

  /** True when the agent on host {@code h} answers 200 on /readyz. */
  public boolean ready(int h) {
    return Cmd.exec(List.of(Cmd.inNs(host(h), "curl", "-sf", "-m", "1", "http://127.0.0.1:8471/readyz")),
        null).ok();
  }

  // ---- containers

  /** Attaches container {@code c} on host {@code h} through the real CNI plugin; returns its IPv4. */
  public String addContainer(int h, int c) {
    String cns = container(h, c);
    Cmd.run("ip", "netns", "add", cns);
    namespaces.add(0, cns);
    String out = cni("ADD", h, c);
    try {
      JsonNode result = JSON.readTree(out);
      return result.path("ips").path(0).path("address").asText().split("/")[0];
    } catch (IOException e) {
      throw new IllegalStateException("CNI ADD printed no JSON: " + out, e);
    }
  }

  /** Runs the CNI plugin for container {@code c} on host {@code h} with the given command. */
  public String cni(String command, int h, int c) {
    String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"tt\",\"type\":\"tartan\","
        + "\"subnetFile\":\"" + subnetFile(h) + "\",\"dataDir\":\"" + hostDir(h).resolve("cni") + "\","
        + "\"ipam\":{\"dataDir\":\"" + hostDir(h).resolve("ipam") + "\"}}";
    return Cmd.runWithInput(conf, Cmd.inNs(host(h), "env", "CNI_COMMAND=" + command,
        "CNI_CONTAINERID=tt" + id + "h" + h + "c" + c, "CNI_NETNS=/run/netns/" + container(h, c),
        "CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni", cniPlugin().toString()));
  }

  /** One ping from a namespace; true when answered within a second. */
  public boolean ping(String fromNs, String ip) {
    return Cmd.exec(List.of(Cmd.inNs(fromNs, "ping", "-c", "1", "-W", "1", ip)), null).ok();
  }

  /** Starts a continuous ping (every {@code intervalMs}) that {@link Pinger#stop()} ends and counts. */
  public Pinger startPing(String fromNs, String ip, int intervalMs) {
    return Pinger.start(fromNs, ip, intervalMs);
  }

  // ---- kernel state, as iproute2 shows it

  /** {@code ip -n NS -j ARGS} parsed. */
  public JsonNode ipJson(String ns, String... args) {
    return json(prefixed(List.of("ip", "-n", ns, "-j"), args));
  }

  /** {@code bridge -n NS -j ARGS} parsed. */
  public JsonNode bridgeJson(String ns, String... args) {
    return json(prefixed(List.of("bridge", "-n", ns, "-j"), args));
  }

  private static String[] prefixed(List<String> head, String... args) {
    List<String> all = new ArrayList<>(head);
    all.addAll(List.of(args));
    return all.toArray(String[]::new);
  }

  private static JsonNode json(String[] argv) {
    String out = Cmd.run(argv);
    try {
      return out.isBlank() ? JSON.createArrayNode() : JSON.readTree(out);
    } catch (IOException e) {
      throw new IllegalStateException("not JSON from " + String.join(" ", argv) + ": " + out, e);
    }
  }

  // ---- names and paths

  public String ns(String suffix) {
    return "tt-" + id + "-" + suffix;
  }

  public String host(int h) {
    return ns("h" + h);
  }

  public String container(int h, int c) {
    return ns("h" + h + "c" + c);
  }

  public static String hostIp(int h) {
    return "198.51.100." + h;
  }

  public Path hostDir(int h) {
    return dir.resolve("h" + h);
  }

  /** The attach socket of the agent on host {@code h} ({@link #startAgent} passes it). */
  public Path attachSocket(int h) {
    return hostDir(h).resolve("attach.sock");
  }

  public Path subnetFile(int h) {
    return hostDir(h).resolve("subnet.env");
  }

  public Path dir() {
    return dir;
  }

  @Override
  public void close() {
    teardown();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException ignored) {
      // already shutting down
    }
  }

  /** Has {@code c} closed by {@link #close()} (and the shutdown hook) before anything else is torn down. */
  void attach(AutoCloseable c) {
    attached.add(c);
  }

  /** Closes {@code c} (e.g. a booted {@link Machine}) first when the testbed is torn down; last registered, first closed. */
  public void closeFirst(AutoCloseable c) {
    attach(c);
  }

  private synchronized void teardown() {
    List<AutoCloseable> first = new ArrayList<>(attached);
    Collections.reverse(first);
    for (AutoCloseable c : first) {
      try {
        c.close();
      } catch (Exception | Error e) {
        System.err.println("testbed: closing " + c + " failed: " + e);
      }
    }
    attached.clear();
    for (AgentProcess a : new ArrayList<>(agents)) {
      a.kill();
    }
    agents.clear();
    if (etcd != null) {
      etcd.close();
      etcd = null;
    }
    for (String ns : new ArrayList<>(namespaces)) {
      String pids = Cmd.quiet("ip", "netns", "pids", ns).out().trim();
      if (!pids.isEmpty()) {
        List<String> kill = new ArrayList<>(List.of("kill", "-9"));
        kill.addAll(List.of(pids.split("\\s+")));
        Cmd.quiet(kill.toArray(String[]::new));
      }
      Cmd.quiet("ip", "netns", "del", ns);
    }
    namespaces.clear();
    // Keep the logs of a failed run under target/testbed; drop the bulky state.
    for (int h = 1; h <= 16; h++) {
      deleteTree(hostDir(h).resolve("ipam"));
      deleteTree(hostDir(h).resolve("cni"));
    }
  }

  void forget(AgentProcess a) {
    agents.remove(a);
  }

  static void waitFor(Process p) {
    try {
      if (!p.waitFor(15, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  public static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static void deleteTree(Path p) {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException ignored) {
      // best effort
    }
  }

  /** Polls {@code check} every 50 ms until true or the timeout; returns whether it became true. */
  public static boolean await(Duration timeout, java.util.function.BooleanSupplier check) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (check.getAsBoolean()) {
        return true;
      }
      sleep(50);
    }
    return check.getAsBoolean();
  }
}
