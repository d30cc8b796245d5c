package dev.tartan.cni.attach;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tartan.cni.CniPlugin;
import dev.tartan.cni.attach.AttachProtocol.Answer;
import dev.tartan.cni.attach.AttachProtocol.Request;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The attach socket with the real C front end: round trip, fall back, refusal, lost agent. */
class AttachServerTest {
  static final AttachServer.Log QUIET = new AttachServer.Log() {
    @Override
    public void info(String line) {}

    @Override
    public void warn(String line) {}
  };

  FrontEnd fe;
  Path sock;
  final List<AutoCloseable> closers = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    fe = new FrontEnd();
    sock = fe.dir.resolve("run").resolve("attach.sock");
  }

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : closers) {
      c.close();
    }
    Files.deleteIfExists(sock);
    Files.deleteIfExists(sock.getParent());
    fe.close();
  }

  static String me() {
    return System.getProperty("user.name");
  }

  /** Answers with the request's environment and stdin on stdout, "err" on stderr, exit 3. */
  static Answer echo(Request r) {
    StringBuilder sb = new StringBuilder();
    r.env().forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
    sb.append(new String(r.stdin(), StandardCharsets.UTF_8));
    return Answer.exit(3, sb.toString().getBytes(StandardCharsets.UTF_8), "err\n".getBytes(StandardCharsets.UTF_8));
  }

  AttachServer serve(AttachServer.Handler h, int workers, int queue) throws Exception {
    AttachServer s = AttachServer.start(sock, h, QUIET, workers, queue, me());
    closers.add(s);
    return s;
  }

  String conf() {
    return "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"tartan\",\"attachSocket\":\"" + sock + "\"}";
  }

  @Test
  void roundTripForwardsOnlyCniVariablesAndStdinAndReturnsStatusStdoutStderr() throws Exception {
    serve(AttachServerTest::echo, 2, 2);
    assertThat(Files.getPosixFilePermissions(sock)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
    assertThat(Files.getPosixFilePermissions(sock.getParent())).isEqualTo(PosixFilePermissions.fromString("rwx------"));

    FrontEnd.Run run = fe.run(Map.of("CNI_COMMAND", "ADD", "CNI_NETNS", "/run/netns/x", "HOME", "/root"), conf());

    assertThat(run.status()).isEqualTo(3);
    assertThat(run.stdout()).contains("CNI_COMMAND=ADD\n", "CNI_NETNS=/run/netns/x\n").endsWith(conf())
        .doesNotContain("HOME");
    assertThat(run.stderr()).isEqualTo("err\n");
  }

  /** Answers with the request's arguments, environment and stdin on stdout, exit 0. */
  static Answer echoArgs(Request r) {
    StringBuilder sb = new StringBuilder("args:" + String.join(" ", r.args()) + "\n");
    r.env().forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
    sb.append(new String(r.stdin(), StandardCharsets.UTF_8));
    return Answer.exit(0, sb.toString().getBytes(StandardCharsets.UTF_8), new byte[0]);
  }

  Map<String, String> netavarkEnv(String... more) {
    Map<String, String> env = new java.util.HashMap<>(Map.of("TARTAN_ATTACH_SOCKET", sock.toString()));
    for (int i = 0; i < more.length; i += 2) {
      env.put(more[i], more[i + 1]);
    }
    return env;
  }

  @Test
  void aNetavarkCallForwardsItsSubcommandNetnsStdinAndThePluginsVariablesOnly() throws Exception {
    serve(AttachServerTest::echoArgs, 2, 2);
    FrontEnd.Run run = fe.netavark(List.of("setup", "/run/netns/netavark-1"),
        netavarkEnv("TARTAN_SUBNET_FILE", "/run/x/subnet.env", "TARTAN_CNI_NETWORK", "n2", "CNI_COMMAND", "ADD",
            "TARTAN_OTHER", "1", "HOME", "/root"), "{\"container_id\":\"c1\"}");
    assertThat(run.fellBack()).as(run.toString()).isFalse();
    assertThat(run.status()).isZero();
    assertThat(run.stdout()).startsWith("args:setup /run/netns/netavark-1\n")
        .contains("TARTAN_SUBNET_FILE=/run/x/subnet.env\n", "TARTAN_CNI_NETWORK=n2\n")
        .doesNotContain("CNI_COMMAND", "TARTAN_OTHER", "HOME", "TARTAN_ATTACH_SOCKET")
        .endsWith("{\"container_id\":\"c1\"}");
    // info reads no stdin (netavark may leave it open): the request carries none.
    FrontEnd.Run info = fe.netavark(List.of("info"), netavarkEnv(), "not read");
    assertThat(info.stdout()).isEqualTo("args:info\n");
  }

  @Test
  void theNetavarkPluginThroughTheSocketPrintsWhatItPrintsInProcess() throws Exception {
    AttachCalls calls = new AttachCalls();
    serve(calls, 2, 2);
    Path subnetEnv = fe.dir.resolve("subnet.env");
    Files.writeString(subnetEnv, "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\n"
        + "FLANNEL_IPMASQ=true\n");
    String create = "{\"name\":\"tartan\",\"id\":\"abc\",\"driver\":\"tartan\"}";
    for (List<String> args : List.of(List.of("info"), List.of("create"), List.of("setup", "/run/netns/none"))) {
      String stdin = args.get(0).equals("create") ? create : "{\"container_id\": 5}";
      FrontEnd.Run run = fe.netavark(args, netavarkEnv("TARTAN_SUBNET_FILE", subnetEnv.toString()), stdin);

      ByteArrayOutputStream out = new ByteArrayOutputStream();
      int status = new dev.tartan.cni.NetavarkPlugin(Map.of("TARTAN_SUBNET_FILE", subnetEnv.toString())::get,
          args.toArray(String[]::new), new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
          new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(new ByteArrayOutputStream())).run();
      assertThat(run.fellBack()).as(run.toString()).isFalse();
      assertThat(run.status()).as("%s: %s", args, run).isEqualTo(status);
      assertThat(run.stdout()).as("%s", args).isEqualTo(out.toString(StandardCharsets.UTF_8));
    }
    assertThat(calls.netavark()).isEqualTo(3);
    assertThat(calls.cni()).isZero();
    // A subcommand the agent has no handler for is sent back before it is accepted (a newer front end).
    byte[] unknown = AttachProtocol.request(List.of("frobnicate"), Map.of(), new byte[0]);
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
      ch.write(ByteBuffer.wrap(unknown));
      byte[] answer = java.nio.channels.Channels.newInputStream(ch).readAllBytes();
      assertThat(new String(answer, StandardCharsets.UTF_8)).startsWith("TCNA\u0001F")
          .contains("no handler for the subcommand 'frobnicate'");
    }
    assertThat(calls.netavark()).isEqualTo(3);
    FrontEnd.Run created = fe.netavark(List.of("create"), netavarkEnv("TARTAN_SUBNET_FILE", subnetEnv.toString()),
        create);
    assertThat(created.stdout()).contains("\"subnet\": \"10.244.7.0/24\"", "\"driver\": \"none\"");
    FrontEnd.Run bad = fe.netavark(List.of("setup", "/run/netns/none"), netavarkEnv(), "{not json");
    assertThat(calls.netavark()).isEqualTo(5);
    assertThat(bad.status()).isEqualTo(1);
    assertThat(bad.stdout()).startsWith("{\"error\":\"tartan: the setup input on stdin is not valid JSON");
  }

  @Test
  void netavarkCallsFallBackToTheStandaloneLauncherWithTheSameArgumentsAndStdin() throws Exception {
    // No agent: the standalone launcher tartan-netavark-java, with the caller's whole environment.
    FrontEnd.Run none = fe.netavark(List.of("teardown", "/run/netns/x"), netavarkEnv("TARTAN_OTHER", "1"), "{}");
    assertThat(none.stdout()).as(none.toString())
        .startsWith("FALLBACK\nnetavark\nargs:teardown /run/netns/x\n{}\n").contains("TARTAN_OTHER=1");
    assertThat(none.stderr()).isEmpty();
    assertThat(fe.netavark(List.of("info"), netavarkEnv(), "").stdout()).startsWith("FALLBACK\nnetavark\nargs:info\n");
    // An agent that predates netavark calls (CNI only) sends the caller to the standalone launcher.
    serve(CniAttach::handle, 1, 1);
    FrontEnd.Run old = fe.netavark(List.of("setup", "/run/netns/x"), netavarkEnv(), "{\"a\":1}");
    assertThat(old.stdout()).as(old.toString()).startsWith("FALLBACK\nnetavark\nargs:setup /run/netns/x\n{\"a\":1}\n");
    assertThat(old.stderr()).contains("tartan: running the standalone plugin: the agent serves CNI calls only");
    // TARTAN_ATTACH_SOCKET="" never asks the agent; an unknown subcommand or a wrong count goes straight there.
    Map<String, String> off = Map.of("TARTAN_ATTACH_SOCKET", "");
    assertThat(fe.netavark(List.of("setup", "/n"), off, "{}").stdout()).startsWith("FALLBACK\nnetavark\n");
    assertThat(fe.netavark(List.of("frobnicate"), netavarkEnv(), "").stdout())
        .startsWith("FALLBACK\nnetavark\nargs:frobnicate\n");
    assertThat(fe.netavark(List.of("setup"), netavarkEnv(), "").stdout()).startsWith("FALLBACK\nnetavark\nargs:setup\n");
  }

  @Test
  void aNetavarkCallLostAfterAcceptingIsNetavarksErrorNotASecondRun() throws Exception {
    Files.createDirectories(sock.getParent());
    try (ServerSocketChannel dying = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      dying.bind(UnixDomainSocketAddress.of(sock));
      CompletableFuture<Request> agent = CompletableFuture.supplyAsync(() -> {
        try (SocketChannel ch = dying.accept()) {
          var in = java.nio.channels.Channels.newInputStream(ch);
          Request r = AttachProtocol.readRequest(in);
          ch.write(ByteBuffer.wrap(new byte[] {'T', 'C', 'N', 'A', 1, 'K', 0, 0, 0, 0}));
          AttachProtocol.readGo(in);
          return r; // and dies without an answer
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      FrontEnd.Run run = fe.netavark(List.of("setup", "/run/netns/x"), netavarkEnv(), "{}");
      assertThat(agent.get(20, TimeUnit.SECONDS).args()).containsExactly("setup", "/run/netns/x");
      assertThat(run.fellBack()).isFalse();
      assertThat(run.status()).isEqualTo(1);
      assertThat(run.stdout()).startsWith("{\"error\": \"tartan: the agent on ").contains("a teardown cleans up");
    }
  }

  @Test
  void theRealPluginThroughTheSocketPrintsWhatItPrintsInProcess() throws Exception {
    serve(CniAttach::handle, 2, 2);
    Map<String, String> env = Map.of("CNI_COMMAND", "VERSION");
    FrontEnd.Run run = fe.run(env, conf());

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int status = new CniPlugin(env::get, new ByteArrayInputStream(conf().getBytes(StandardCharsets.UTF_8)),
        new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(new ByteArrayOutputStream())).run();
    assertThat(run.status()).isEqualTo(status).isZero();
    assertThat(run.stdout()).isEqualTo(out.toString(StandardCharsets.UTF_8));

    // An error comes back as the plugin's error JSON and status 1.
    FrontEnd.Run bad = fe.run(Map.of("CNI_COMMAND", "ADD", "CNI_PATH", "/usr/lib/cni"), conf());
    assertThat(bad.status()).isEqualTo(1);
    assertThat(bad.stdout()).contains("\"code\": 4", "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME]");
  }

  @Test
  void aHandlerThatBlowsUpIsAnErrorAnswerAndTheServerCarriesOn() throws Exception {
    serve(r -> {
      if (r.env().containsKey("CNI_BOOM") || "boom".equals(r.env().get("TARTAN_CNI_NETWORK"))) {
        throw new IllegalStateException("boom");
      }
      return echo(r);
    }, 1, 1);
    FrontEnd.Run boom = fe.run(Map.of("CNI_COMMAND", "ADD", "CNI_BOOM", "1"), conf());
    assertThat(boom.status()).isEqualTo(1);
    assertThat(boom.stdout()).contains("\"code\": 999", "boom");
    assertThat(fe.run(Map.of("CNI_COMMAND", "ADD"), conf()).status()).isEqualTo(3);
    // A netavark call gets netavark's error shape.
    FrontEnd.Run nv = fe.netavark(List.of("setup", "/n"), netavarkEnv("TARTAN_CNI_NETWORK", "boom"), "{}");
    assertThat(nv.status()).isEqualTo(1);
    assertThat(nv.stdout()).startsWith("{\"error\":\"tartan: internal error in the tartan agent").contains("boom")
        .doesNotContain("cniVersion");
  }

  @Test
  void withoutAServerTheStandalonePluginGetsTheSameStdinAndEnvironment() throws Exception {
    FrontEnd.Run run = fe.run(Map.of("CNI_COMMAND", "DEL", "CNI_CONTAINERID", "c1"), conf());
    assertThat(run.fellBack()).as(run.toString()).isTrue();
    assertThat(run.stdout()).contains(conf() + "\n").contains("CNI_COMMAND=DEL\nCNI_CONTAINERID=c1\n");
    assertThat(run.stderr()).isEmpty(); // no socket is the ordinary "agent not running" case: quiet

    // "attachSocket": "" never asks the agent, even when one serves the default path.
    serve(AttachServerTest::echo, 1, 1);
    String off = "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"attachSocket\":\"\"}";
    assertThat(fe.run(Map.of("CNI_COMMAND", "DEL"), off).fellBack()).isTrue();
    // Arguments (--create-cds) go to the standalone launcher.
    Process p = new ProcessBuilder(fe.exe.toString(), "--create-cds").redirectErrorStream(true).start();
    p.getOutputStream().close();
    assertThat(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).startsWith("FALLBACK\nargs:--create-cds\n");
    assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void aBusyAgentSendsTheCallerToTheStandalonePlugin() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch running = new CountDownLatch(1);
    serve(r -> {
      running.countDown();
      try {
        release.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return echo(r);
    }, 1, 1);
    CompletableFuture<FrontEnd.Run> first = CompletableFuture.supplyAsync(() -> fe.run(Map.of("CNI_COMMAND", "A"), conf()));
    assertThat(running.await(20, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<FrontEnd.Run> queued = CompletableFuture.supplyAsync(() -> fe.run(Map.of("CNI_COMMAND", "B"), conf()));
    FrontEnd.Run third = null;
    for (int i = 0; i < 100 && (third == null || !third.fellBack()); i++) {
      Thread.sleep(50); // until the queued call has taken the one queue slot
      third = fe.run(Map.of("CNI_COMMAND", "C"), conf());
    }
    assertThat(third.fellBack()).as(third.toString()).isTrue();
    assertThat(third.stderr()).contains("the agent is busy");
    release.countDown();
    assertThat(first.get(20, TimeUnit.SECONDS).stdout()).contains("CNI_COMMAND=A");
    assertThat(queued.get(20, TimeUnit.SECONDS).stdout()).contains("CNI_COMMAND=B");
  }

  @Test
  void anAgentThatDoesNotAcceptInTimeIsBypassed() throws Exception {
    Files.createDirectories(sock.getParent());
    try (ServerSocketChannel silent = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      silent.bind(UnixDomainSocketAddress.of(sock)); // listens, never accepts
      FrontEnd.Run run = fe.run(Map.of("CNI_COMMAND", "ADD", "TARTAN_ATTACH_TIMEOUT_MS", "300"), conf());
      assertThat(run.fellBack()).as(run.toString()).isTrue();
      assertThat(run.stderr()).contains("did not accept the call within 300 ms");
    }
  }

  @Test
  void anAgentLostAfterAcceptingIsAnErrorNotASecondRun() throws Exception {
    Files.createDirectories(sock.getParent());
    try (ServerSocketChannel dying = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      dying.bind(UnixDomainSocketAddress.of(sock));
      CompletableFuture<Void> agent = CompletableFuture.runAsync(() -> {
        try (SocketChannel ch = dying.accept()) {
          var in = java.nio.channels.Channels.newInputStream(ch);
          AttachProtocol.readRequest(in);
          ch.write(ByteBuffer.wrap(new byte[] {'T', 'C', 'N', 'A', 1, 'K', 0, 0, 0, 0}));
          AttachProtocol.readGo(in);
          ch.write(ByteBuffer.wrap(new byte[] {'O', 0, 0, 0, 9, '{', '"', 'i', 'p'})); // then dies mid-frame
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      FrontEnd.Run run = fe.run(Map.of("CNI_COMMAND", "ADD"), conf());
      agent.get(20, TimeUnit.SECONDS);
      assertThat(run.fellBack()).isFalse();
      assertThat(run.status()).isEqualTo(1);
      assertThat(run.stdout()).contains("\"cniVersion\": \"1.0.0\"", "\"code\": 104", "stopped while handling the call");
    }
  }

  @Test
  void aCallerThatIsNotTheAllowedUserIsRefused() throws Exception {
    assumeTrue("root".equals(me()), "needs root to run the front end as another user");
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
    AttachServer s = AttachServer.start(sock, AttachServerTest::echo, QUIET, 1, 1, "root");
    closers.add(s);
    // Open the socket to everyone, so that the SO_PEERCRED check is what refuses (not the file mode).
    Files.setPosixFilePermissions(sock.getParent(), PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(sock, PosixFilePermissions.fromString("rw-rw-rw-"));
    for (int i = 1; i <= 5; i++) {
      FrontEnd.Run run = fe.run(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"),
          Map.of("CNI_COMMAND", "ADD"), conf().getBytes(StandardCharsets.UTF_8));
      assertThat(run.status()).as(run.toString()).isEqualTo(1);
      assertThat(run.fellBack()).isFalse();
      assertThat(run.stdout()).contains("\"code\": 103", "serves root only");
      int calls = i;
      assertThat(Testing.await(() -> s.served() == calls)).isTrue();
    }

    // A netavark call from such a caller: refused in netavark's error shape.
    FrontEnd.Run nv = fe.run(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"),
        List.of("setup", "/run/netns/x"), Map.of("TARTAN_ATTACH_SOCKET", sock.toString()),
        "{}".getBytes(StandardCharsets.UTF_8));
    assertThat(nv.status()).as(nv.toString()).isEqualTo(1);
    assertThat(nv.stdout()).startsWith("{\"error\":\"tartan: ").contains("serves root only");

    // With the socket's own mode (0600) such a caller cannot even connect, and runs the standalone plugin
    // with its own (lacking) rights.
    Files.setPosixFilePermissions(sock, PosixFilePermissions.fromString("rw-------"));
    FrontEnd.Run blocked = fe.run(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"),
        Map.of("CNI_COMMAND", "ADD"), conf().getBytes(StandardCharsets.UTF_8));
    assertThat(blocked.fellBack()).as(blocked.toString()).isTrue();
  }

  @Test
  void aStaleSocketIsReplacedALiveOneAndOtherFilesAreLeftAlone() throws Exception {
    AttachServer first = serve(AttachServerTest::echo, 1, 1);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> AttachServer.start(sock, AttachServerTest::echo, QUIET,
        1, 1, me())).hasMessageContaining("is served by another process");
    first.close();
    // A socket file nobody listens on (a killed agent's): replaced.
    Files.createDirectories(sock.getParent());
    try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      dead.bind(UnixDomainSocketAddress.of(sock));
    }
    serve(AttachServerTest::echo, 1, 1).close();
    assertThat(sock).doesNotExist();
    Files.writeString(sock, "not a socket");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> AttachServer.start(sock, AttachServerTest::echo, QUIET,
        1, 1, me())).hasMessageContaining("is not a socket");
    assertThat(Files.readString(sock)).isEqualTo("not a socket");
  }
}
