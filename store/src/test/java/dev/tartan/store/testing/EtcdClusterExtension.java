package dev.tartan.store.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Runs a real etcd cluster (Debian's {@code /usr/bin/etcd}) for a test class, shaped like jetcd's
 * {@code EtcdClusterExtension}.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final EtcdClusterExtension etcd = EtcdClusterExtension.builder().members(3).build();
 * }</pre>
 *
 * <p>Members listen on free ports of 127.0.0.1 with temporary data directories; the cluster is
 * started in {@code beforeAll} and torn down (processes killed, data removed) in {@code afterAll} and,
 * as a safety net, in a JVM shutdown hook. The extension can also be driven by hand with {@link
 * #start()} and {@link #close()}, e.g. after a test has created the network namespace etcd should
 * run in ({@link Builder#netns(String)}). etcd's output goes to {@code target/etcd-logs/<class>-<id>/}.
 *
 * <p>If the etcd binary is missing, the test class is aborted (reported as skipped) with the reason.
 */
public final class EtcdClusterExtension implements BeforeAllCallback, AfterAllCallback, AutoCloseable {
  /** Message used when the binaries are absent; {@code .ci/run} installs them. */
  public static final String MISSING_BINARY = "etcd not installed: apt-get install etcd-server etcd-client";

  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration ETCDCTL_TIMEOUT = Duration.ofSeconds(60);
  private static final int START_ATTEMPTS = 3;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final int size;
  private final String listenHost;
  private final String clientHost;
  private final String clientScheme;
  private final String netns;
  private final List<String> extraArgs;
  private final List<String> etcdctlArgs;
  private final Duration heartbeat;
  private final Duration electionTimeout;
  private final Path etcdBinary;
  private final Path etcdctlBinary;
  private final Path logRoot;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

  private final List<EtcdMember> members = new ArrayList<>();
  private String clusterToken;
  private Path dataRoot;

  private EtcdClusterExtension(Builder b) {
    this.size = b.members;
    this.listenHost = b.listenHost;
    this.clientHost = b.clientHost != null ? b.clientHost : b.listenHost;
    this.clientScheme = b.clientScheme;
    this.netns = b.netns;
    this.extraArgs = List.copyOf(b.extraArgs);
    this.etcdctlArgs = List.copyOf(b.etcdctlArgs);
    this.heartbeat = b.heartbeat;
    this.electionTimeout = b.electionTimeout;
    this.etcdBinary = b.etcdBinary;
    this.etcdctlBinary = b.etcdctlBinary;
    this.logRoot = b.logRoot;
  }

  public static Builder builder() {
    return new Builder();
  }

  // ---------------------------------------------------------------- JUnit lifecycle

  @Override
  public void beforeAll(ExtensionContext context) {
    start(context.getRequiredTestClass().getSimpleName());
  }

  @Override
  public void afterAll(ExtensionContext context) {
    close();
  }

  // ---------------------------------------------------------------- lifecycle by hand

  /** Starts all members and waits until they are healthy. Aborts the test if etcd is missing. */
  public void start() {
    start("manual");
  }

  private synchronized void start(String label) {
    if (!members.isEmpty()) {
      throw new IllegalStateException("cluster already started");
    }
    Assumptions.assumeTrue(Files.isExecutable(etcdBinary) && Files.isExecutable(etcdctlBinary), MISSING_BINARY
        + " (looked for " + etcdBinary + " and " + etcdctlBinary + "; -Dtartan.etcd.binary / -Dtartan.etcdctl.binary"
        + " name others)");
    if (netns != null) {
      Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip")),
          "iproute2 not installed: apt-get install iproute2");
      Assumptions.assumeTrue(Files.exists(Path.of("/run/netns", netns)),
          "network namespace " + netns + " does not exist (create it before starting etcd in it)");
    }
    String id = Long.toString(ProcessHandle.current().pid(), 36) + "-" + UUID.randomUUID().toString().substring(0, 6);
    clusterToken = "tartan-" + id;
    try {
      dataRoot = Files.createTempDirectory("tartan-etcd-");
      ProcessReaper.registerDirectory(dataRoot);
      Path logDir = logRoot.resolve(label + "-" + id);
      Files.createDirectories(logDir);
      for (int i = 0; i < size; i++) {
        members.add(new EtcdMember(this, i, dataRoot.resolve("m" + i + ".etcd"),
            logDir.resolve("m" + i + ".log"), 0, 0));
      }
    } catch (IOException e) {
      close();
      throw new UncheckedIOException("cannot create etcd directories", e);
    }
    try {
      startWithRetries();
    } catch (RuntimeException | Error e) {
      close();
      throw e;
    }
  }

  /**
   * A port picked from ServerSocket(0) can be taken by someone else before etcd binds it; when a member
   * exits during the first start, the whole cluster is started again on fresh ports.
   */
  private void startWithRetries() {
    for (int attempt = 1; ; attempt++) {
      for (EtcdMember m : members) {
        m.reassignPorts(freePort(), freePort());
        ProcessReaper.deleteRecursively(m.dataDir());
      }
      members.forEach(EtcdMember::start);
      try {
        waitHealthy(START_TIMEOUT);
        return;
      } catch (IllegalStateException e) {
        boolean portClash = members.stream().anyMatch(m -> m.exitedEarly() && logTail(m).contains("address already in use"));
        members.forEach(EtcdMember::kill);
        if (!portClash || attempt >= START_ATTEMPTS) {
          throw e;
        }
      }
    }
  }

  /** Kills every member and removes the data directories. Idempotent. */
  @Override
  public synchronized void close() {
    for (EtcdMember m : members) {
      m.kill();
    }
    members.clear();
    if (dataRoot != null) {
      ProcessReaper.deleteRecursively(dataRoot);
      ProcessReaper.unregisterDirectory(dataRoot);
      dataRoot = null;
    }
  }

  // ---------------------------------------------------------------- accessors

  /** One client URL per member ({@code http://127.0.0.1:<port>}), in member order. */
  public List<URI> clientEndpoints() {
    return members().stream().map(EtcdMember::clientEndpoint).collect(Collectors.toUnmodifiableList());
  }

  /** The client URLs as a comma list, for {@code --etcd-endpoints} and {@code --endpoints}. */
  public String endpointsCsv() {
    return clientEndpoints().stream().map(URI::toString).collect(Collectors.joining(","));
  }

  /** Peer URLs, in member order. */
  public List<URI> peerEndpoints() {
    return members().stream().map(EtcdMember::peerEndpoint).collect(Collectors.toUnmodifiableList());
  }

  /** Member {@code i} (0-based). */
  public EtcdMember member(int i) {
    return members().get(i);
  }

  public synchronized List<EtcdMember> members() {
    if (members.isEmpty()) {
      throw new IllegalStateException("etcd cluster is not running (register the extension on a static field)");
    }
    return List.copyOf(members);
  }

  public int size() {
    return size;
  }

  // ---------------------------------------------------------------- operations

  /**
   * Waits until every running member answers healthy ({@code /health}, i.e. it has a leader). Fails at
   * once, with the end of its log, if a member process exits on its own.
   */
  public void waitHealthy(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<EtcdMember> pending = new ArrayList<>(members().stream().filter(EtcdMember::isRunning).toList());
    String lastProblem = "no member running";
    while (true) {
      for (var it = pending.iterator(); it.hasNext(); ) {
        EtcdMember m = it.next();
        if (m.exitedEarly()) {
          throw new IllegalStateException("etcd member " + m.name() + " exited; end of " + m.logFile() + ":\n" + logTail(m));
        }
        String problem = healthProblem(m);
        if (problem == null) {
          it.remove();
        } else {
          lastProblem = m.name() + ": " + problem;
        }
      }
      if (pending.isEmpty()) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("etcd not healthy after " + timeout + " (" + lastProblem + "); logs in "
            + pending.get(0).logFile().getParent());
      }
      sleep(25);
    }
  }

  /** Returns null when healthy, else a short description of what is wrong. */
  private String healthProblem(EtcdMember m) {
    if (netns == null && "http".equals(clientScheme)) {
      try {
        HttpRequest req = HttpRequest.newBuilder(m.clientEndpoint().resolve("/health"))
            .timeout(Duration.ofSeconds(2)).GET().build();
        HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() == 200 && JSON.readTree(resp.body()).path("health").asText().equals("true")) {
          return null;
        }
        return "HTTP " + resp.statusCode() + " " + resp.body().strip();
      } catch (IOException e) {
        return e.toString();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for etcd", e);
      }
    }
    Result r = runEtcdctl(List.of(m.clientEndpoint()), List.of("endpoint", "health", "--command-timeout=2s"),
        Duration.ofSeconds(10));
    return r.exitCode == 0 ? null : r.stderr.strip();
  }

  /**
   * Runs {@code etcdctl} (API v3) against all client endpoints with the given arguments.
   *
   * @return etcdctl's stdout
   * @throws IllegalStateException with etcdctl's stderr when it exits non-zero
   */
  public String etcdctl(String... args) {
    Result r = runEtcdctl(clientEndpoints(), Arrays.asList(args), ETCDCTL_TIMEOUT);
    if (r.exitCode != 0) {
      throw new IllegalStateException("etcdctl " + String.join(" ", args) + " failed (exit " + r.exitCode + "): "
          + r.stderr.strip());
    }
    return r.stdout;
  }

  /** Runs {@code etcdctl} against one member only (e.g. to read from a restarted member). */
  public String etcdctl(EtcdMember member, String... args) {
    Result r = runEtcdctl(List.of(member.clientEndpoint()), Arrays.asList(args), ETCDCTL_TIMEOUT);
    if (r.exitCode != 0) {
      throw new IllegalStateException("etcdctl " + String.join(" ", args) + " on " + member.name() + " failed (exit "
          + r.exitCode + "): " + r.stderr.strip());
    }
    return r.stdout;
  }

  /**
   * Compacts the key-value history at the current revision (physically, so the compacted revisions are
   * gone when this returns) and returns that revision.
   */
  public long compact() {
    String out = etcdctl("get", "/", "--keys-only", "--write-out=json");
    long revision;
    try {
      revision = JSON.readTree(out).path("header").path("revision").asLong(-1);
    } catch (IOException e) {
      throw new IllegalStateException("cannot parse etcdctl output: " + out, e);
    }
    if (revision <= 0) {
      throw new IllegalStateException("no revision in etcdctl output: " + out);
    }
    Result r = runEtcdctl(clientEndpoints(), List.of("compaction", "--physical", Long.toString(revision)),
        ETCDCTL_TIMEOUT);
    if (r.exitCode != 0 && !r.stderr.contains("required revision has been compacted")) {
      throw new IllegalStateException("etcdctl compaction " + revision + " failed: " + r.stderr.strip());
    }
    return revision;
  }

  private record Result(int exitCode, String stdout, String stderr) {}

  private Result runEtcdctl(List<URI> endpoints, List<String> args, Duration timeout) {
    List<String> cmd = new ArrayList<>(commandPrefix());
    cmd.add(etcdctlBinary.toString());
    cmd.add("--endpoints=" + endpoints.stream().map(URI::toString).collect(Collectors.joining(",")));
    cmd.addAll(etcdctlArgs);
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().keySet().removeIf(k -> k.startsWith("ETCDCTL_"));
    pb.environment().put("ETCDCTL_API", "3");
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + etcdctlBinary, e);
    }
    try {
      p.getOutputStream().close();
      CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
      CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("etcdctl " + String.join(" ", args) + " did not finish in " + timeout);
      }
      return new Result(p.exitValue(), out.get(5, TimeUnit.SECONDS), err.get(5, TimeUnit.SECONDS));
    } catch (IOException | ExecutionException | TimeoutException e) {
      p.destroyForcibly();
      throw new IllegalStateException("etcdctl " + String.join(" ", args) + ": " + e, e);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted running etcdctl", e);
    }
  }

  private static String readAll(InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String logTail(EtcdMember m) {
    try {
      List<String> lines = Files.readAllLines(m.logFile(), StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("no free port on 127.0.0.1", e);
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for etcd", e);
    }
  }

  // ---------------------------------------------------------------- used by EtcdMember

  String listenHost() {
    return listenHost;
  }

  String clientHost() {
    return clientHost;
  }

  String clientScheme() {
    return clientScheme;
  }

  Path etcdBinary() {
    return etcdBinary;
  }

  List<String> extraArgs() {
    return extraArgs;
  }

  Duration heartbeat() {
    return heartbeat;
  }

  Duration electionTimeout() {
    return electionTimeout;
  }

  String clusterToken() {
    return clusterToken;
  }

  /** {@code ip netns exec <ns>} when the cluster runs inside a namespace, else nothing. */
  List<String> commandPrefix() {
    return netns == null ? List.of() : List.of("ip", "netns", "exec", netns);
  }

  synchronized String initialCluster() {
    return members.stream().map(m -> m.name() + "=" + m.peerEndpoint()).collect(Collectors.joining(","));
  }

  // ---------------------------------------------------------------- builder

  public static final class Builder {
    private int members = 1;
    private String listenHost = "127.0.0.1";
    private String clientHost;
    private String clientScheme = "http";
    private String netns;
    private final List<String> extraArgs = new ArrayList<>();
    private final List<String> etcdctlArgs = new ArrayList<>();
    private Duration heartbeat = Duration.ofMillis(50);
    private Duration electionTimeout = Duration.ofMillis(750);
    private Path etcdBinary = Path.of(System.getProperty("tartan.etcd.binary", "/usr/bin/etcd"));
    private Path etcdctlBinary = Path.of(System.getProperty("tartan.etcdctl.binary", "/usr/bin/etcdctl"));
    private Path logRoot = Path.of(System.getProperty("basedir", "."), "target", "etcd-logs");

    private Builder() {}

    /** Number of members, 1 (default) to 7. */
    public Builder members(int n) {
      if (n < 1 || n > 7) {
        throw new IllegalArgumentException("members must be 1..7, got " + n);
      }
      this.members = n;
      return this;
    }

    /**
     * The address etcd binds for peer and client URLs (default 127.0.0.1). It must exist where etcd
     * runs: in the root namespace only loopback may be used; other addresses need {@link #netns}.
     */
    public Builder listenHost(String ip) {
      this.listenHost = Objects.requireNonNull(ip, "ip");
      return this;
    }

    /** The address for client URLs only (default: the listen host); peers stay on the listen host. */
    public Builder clientHost(String ip) {
      this.clientHost = Objects.requireNonNull(ip, "ip");
      return this;
    }

    /** {@code https} when {@link #extraArgs} configure client TLS (default {@code http}). */
    public Builder clientScheme(String scheme) {
      if (!scheme.equals("http") && !scheme.equals("https")) {
        throw new IllegalArgumentException("scheme must be http or https: " + scheme);
      }
      this.clientScheme = scheme;
      return this;
    }

    /**
     * Runs etcd and every etcdctl call with {@code ip netns exec <name>}. The namespace must exist
     * (with {@code lo} up and the client host address assigned) before {@link #start()}; use the
     * extension by hand ({@code start()}/{@code close()}) in that case. Health is then checked with
     * etcdctl inside the namespace.
     */
    public Builder netns(String name) {
      this.netns = Objects.requireNonNull(name, "name");
      return this;
    }

    /** Extra etcd flags for every member, e.g. {@code --client-cert-auth}, {@code --cert-file=...}. */
    public Builder extraArgs(String... args) {
      this.extraArgs.addAll(List.of(args));
      return this;
    }

    /** Extra etcdctl flags for every call, e.g. {@code --cacert=...}, {@code --user=root:pw}. */
    public Builder etcdctlArgs(String... args) {
      this.etcdctlArgs.addAll(List.of(args));
      return this;
    }

    /** Raft heartbeat (default 50 ms). */
    public Builder heartbeat(Duration d) {
      this.heartbeat = Objects.requireNonNull(d);
      return this;
    }

    /** Raft election timeout (default 750 ms; etcd's default is 1 s). */
    public Builder electionTimeout(Duration d) {
      this.electionTimeout = Objects.requireNonNull(d);
      return this;
    }

    /** Directory under which each cluster gets a log folder (default {@code target/etcd-logs}). */
    public Builder logDirectory(Path dir) {
      this.logRoot = Objects.requireNonNull(dir);
      return this;
    }

    public EtcdClusterExtension build() {
      return new EtcdClusterExtension(this);
    }
  }
}
