package dev.tartan.cni.attach;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.cni.attach.AttachProtocol.Answer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Hostile bytes on both sides of the attach socket, with a fixed seed and a bounded budget: random and mutated
 * requests against {@link AttachServer} (every one gets an error or a well-formed answer, or is closed when it
 * was cut short; never a hang, never a dead server), and mutated answers against the C front end (it exits,
 * with an answer, an error or the standalone plugin; never a hang or a crash).
 */
class AttachFuzzTest {
  private static final long SEED = 0x7a27a2L;

  @Test
  void malformedRequestsGetAnErrorAndTheServerKeepsServing() throws Exception {
    Path dir = Files.createTempDirectory("tartan-fuzz");
    Path sock = dir.resolve("a.sock");
    Random rnd = new Random(SEED);
    ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor();
    // echo for CNI and netavark requests alike; a subcommand without a handler is sent back before 'K'
    AttachServer.Handler handler = new AttachServer.Handler() {
      @Override
      public Answer handle(AttachProtocol.Request request) {
        return AttachServerTest.echo(request);
      }

      @Override
      public String fallBackReason(AttachProtocol.Request request) {
        return new AttachCalls().fallBackReason(request);
      }
    };
    try (AttachServer server = AttachServer.start(sock, handler, AttachServerTest.QUIET, 2, 4,
        System.getProperty("user.name"))) {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(6);
      int cases = 0;
      int errors = 0;
      int accepted = 0;
      int fellBack = 0;
      while (cases < 3000 && System.nanoTime() < end) {
        byte[] valid = validRequest(rnd);
        byte[] request = mutate(rnd, valid);
        // A damaged request may be cut short: end it, so that the server sees the end instead of waiting for
        // its read deadline (a damaged request that still parses then loses its go-ahead, which is fine too).
        String outcome = exchange(sock, request, watchdog, !Arrays.equals(valid, request));
        cases++;
        if (outcome.startsWith("error")) {
          errors++;
        } else if (outcome.startsWith("answer")) {
          accepted++;
        } else if (outcome.startsWith("fall back")) {
          fellBack++;
        }
      }
      assertThat(cases).isGreaterThan(50);
      assertThat(errors).isGreaterThan(0);
      assertThat(fellBack).as("requests with an unknown subcommand").isGreaterThan(0);
      // Still alive and correct after the storm, with no threads piling up.
      String after = exchange(sock, validRequest(new Random(1)), watchdog, false);
      assertThat(after).startsWith("answer exit 3");
      long threads = Thread.getAllStackTraces().keySet().stream()
          .filter(t -> t.getName().startsWith("tartan-attach-")).count();
      assertThat(threads).isLessThanOrEqualTo(2 + 1 + 1);
      System.out.printf("attach server fuzz: %d requests, %d error answers, %d fell back, %d served%n", cases, errors,
          fellBack, accepted);
    } finally {
      watchdog.shutdownNow();
      Files.deleteIfExists(sock);
      Files.deleteIfExists(dir);
    }
  }

  @Test
  void theFrontEndSurvivesMalformedAnswers() throws Exception {
    try (FrontEnd fe = new FrontEnd()) {
      Path sock = fe.dir.resolve("fuzz.sock");
      Random rnd = new Random(SEED);
      String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"attachSocket\":\"" + sock + "\"}";
      try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
        server.bind(UnixDomainSocketAddress.of(sock));
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
        int cases = 0;
        int answered = 0;
        int fellBack = 0;
        int errors = 0;
        while (cases < 300 && System.nanoTime() < end) {
          byte[] answer = mutate(rnd, validAnswer(rnd));
          CompletableFuture<Void> agent = CompletableFuture.runAsync(() -> playAgent(server, answer));
          FrontEnd.Run run = fe.run(Map.of("CNI_COMMAND", "ADD", "TARTAN_ATTACH_TIMEOUT_MS", "200"), conf);
          agent.get(20, TimeUnit.SECONDS);
          cases++;
          assertThat(run.status()).as("no crash (a signal shows as 128+n): %s", run).isLessThan(128);
          if (run.fellBack()) {
            fellBack++;
          } else if (run.stdout().contains("\"code\": 104")) {
            errors++;
            assertThat(run.status()).isEqualTo(1);
          } else {
            answered++;
          }
        }
        assertThat(cases).isGreaterThan(30);
        assertThat(errors).isGreaterThan(0);
        System.out.printf("front end fuzz: %d answers, %d taken, %d fell back, %d errors%n", cases, answered,
            fellBack, errors);
      } finally {
        Files.deleteIfExists(sock);
      }
    }
  }

  @Test
  void theFrontEndAsNetavarksPluginSurvivesMalformedAnswers() throws Exception {
    try (FrontEnd fe = new FrontEnd()) {
      Path sock = fe.dir.resolve("fuzz.sock");
      Random rnd = new Random(SEED + 1);
      Map<String, String> env = Map.of("TARTAN_ATTACH_SOCKET", sock.toString(), "TARTAN_ATTACH_TIMEOUT_MS", "200");
      try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
        server.bind(UnixDomainSocketAddress.of(sock));
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
        int cases = 0;
        int fellBack = 0;
        int errors = 0;
        while (cases < 200 && System.nanoTime() < end) {
          byte[] answer = mutate(rnd, validAnswer(rnd));
          CompletableFuture<Void> agent = CompletableFuture.runAsync(() -> playAgent(server, answer));
          FrontEnd.Run run = fe.netavark(List.of("setup", "/run/netns/x"), env, "{\"container_id\":\"c\"}");
          agent.get(20, TimeUnit.SECONDS);
          cases++;
          assertThat(run.status()).as("no crash (a signal shows as 128+n): %s", run).isLessThan(128);
          if (run.fellBack()) {
            fellBack++;
            assertThat(run.stdout()).startsWith("FALLBACK\nnetavark\nargs:setup /run/netns/x\n");
          } else if (run.stdout().startsWith("{\"error\": \"tartan: ")) {
            errors++; // netavark's error shape, never CNI's
            assertThat(run.status()).isEqualTo(1);
            assertThat(run.stdout()).doesNotContain("cniVersion");
          }
        }
        assertThat(cases).isGreaterThan(20);
        assertThat(errors).isGreaterThan(0);
        assertThat(fellBack).isGreaterThan(0);
        System.out.printf("netavark front end fuzz: %d answers, %d fell back, %d errors%n", cases, fellBack, errors);
      } finally {
        Files.deleteIfExists(sock);
      }
    }
  }

  @Test
  void theNetavarkPluginInTheAgentAnswersMutatedInputWithItsErrorJson() throws Exception {
    Path dir = Files.createTempDirectory("tartan-nv-fuzz");
    Path subnetEnv = dir.resolve("subnet.env");
    Path emptyCniPath = Files.createDirectory(dir.resolve("bin")); // no delegate can run: nothing is changed
    Files.writeString(subnetEnv, "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\n"
        + "FLANNEL_IPMASQ=true\n");
    Map<String, String> env = Map.of("TARTAN_SUBNET_FILE", subnetEnv.toString(), "TARTAN_CNI_PATH",
        emptyCniPath.toString(), "TARTAN_CNI_DATA_DIR", dir.resolve("data").toString(), "HOME", "/ignored");
    String setup = "{\"container_id\":\"c1\",\"container_name\":\"x\",\"network\":{\"name\":\"tartan\","
        + "\"options\":{\"mtu\":\"1450\"}},\"network_options\":{\"interface_name\":\"eth0\"}}";
    String create = "{\"name\":\"tartan\",\"id\":\"abc\",\"driver\":\"tartan\"}";
    Random rnd = new Random(SEED + 2);
    try {
      int errors = 0;
      for (int i = 0; i < 400; i++) {
        boolean isCreate = rnd.nextInt(3) == 0;
        byte[] stdin = mutate(rnd, (isCreate ? create : setup).getBytes(StandardCharsets.UTF_8));
        List<String> args = isCreate ? List.of("create") : List.of(rnd.nextBoolean() ? "setup" : "teardown",
            "/run/netns/tartan-fuzz-none");
        Answer a = new AttachCalls().handle(new AttachProtocol.Request(args, env, stdin));
        assertThat(a.fallBack()).isFalse();
        assertThat(a.exitCode()).isIn(0, 1);
        String out = new String(a.stdout(), StandardCharsets.UTF_8);
        if (a.exitCode() == 1) {
          errors++;
          assertThat(dev.tartan.cni.json.Json.parseObject(out)).containsKey("error");
        } else if (!args.get(0).equals("teardown")) {
          assertThat(dev.tartan.cni.json.Json.parseObject(out)).isNotEmpty();
        }
      }
      assertThat(errors).isGreaterThan(0);
      assertThat(dir.resolve("data")).satisfiesAnyOf(d -> assertThat(d).doesNotExist(),
          d -> assertThat(d).isDirectory());
    } finally {
      try (var walk = Files.walk(dir)) {
        for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  /** One connection: writes the request, answers 'K' with 'G' when asked; describes what came back. */
  private static String exchange(Path sock, byte[] request, ScheduledExecutorService watchdog, boolean closeOutput)
      throws Exception {
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
      var hang = watchdog.schedule(() -> {
        try {
          ch.close();
        } catch (IOException e) {
          // closing anyway
        }
      }, 25, TimeUnit.SECONDS);
      try {
        try {
          ch.write(ByteBuffer.wrap(request));
          if (closeOutput) {
            ch.shutdownOutput();
          }
        } catch (IOException refusedMidway) {
          // the server answered and closed before reading everything: read its answer
        }
        InputStream in = Channels.newInputStream(ch);
        byte[] head = in.readNBytes(5);
        if (head.length == 0) {
          return "closed";
        }
        assertThat(Arrays.copyOf(head, 4)).isEqualTo(AttachProtocol.ANSWER_MAGIC);
        ByteArrayOutputStream frames = new ByteArrayOutputStream();
        while (true) {
          byte[] fh = in.readNBytes(5);
          if (fh.length < 5) {
            if (!closeOutput && hang.isDone()) {
              throw new AssertionError("the server hung on a request");
            }
            return "closed after " + frames;
          }
          int len = ByteBuffer.wrap(fh, 1, 4).getInt();
          byte[] payload = in.readNBytes(len);
          switch (fh[0]) {
            case 'K':
              try {
                ch.write(ByteBuffer.wrap(new byte[] {'G', 0, 0, 0, 0}));
              } catch (IOException e) {
                return "closed after K";
              }
              break;
            case 'O':
              frames.writeBytes(payload);
              break;
            case 'F':
              return "fall back " + new String(payload, StandardCharsets.UTF_8);
            case 'X':
              int status = ByteBuffer.wrap(payload).getInt();
              String out = frames.toString(StandardCharsets.UTF_8);
              return (status == 1 && out.contains("\"code\": 103") ? "error " : "answer exit " + status + " ") + out;
            case 'E':
            case 'Z':
              break;
            default:
              throw new AssertionError("unknown answer frame " + fh[0]);
          }
        }
      } finally {
        assertThat(hang.cancel(false)).as("the exchange finished before the 25 s watchdog").isTrue();
      }
    }
  }

  /** Accepts one front end, reads its request, writes {@code answer}, reads the go-ahead if any, closes. */
  private static void playAgent(ServerSocketChannel server, byte[] answer) {
    try (SocketChannel ch = server.accept()) {
      InputStream in = Channels.newInputStream(ch);
      AttachProtocol.readRequest(in);
      ch.write(ByteBuffer.wrap(answer));
      ch.shutdownOutput();
      in.readNBytes(5); // the go-ahead, if the mutated answer held a 'K'; EOF otherwise
    } catch (IOException e) {
      // the front end gave up first: fine
    }
  }

  private static byte[] validRequest(Random rnd) {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("CNI_COMMAND", "ADD");
    env.put("CNI_CONTAINERID", "c" + rnd.nextInt(1000));
    env.put("CNI_NETNS", "/run/netns/x");
    byte[] stdin = ("{\"cniVersion\":\"1.0.0\",\"name\":\"n" + rnd.nextInt(100) + "\"}").getBytes(StandardCharsets.UTF_8);
    switch (rnd.nextInt(8)) {
      case 0: // a netavark call: subcommand and netns as arguments, the plugin's variables
        return AttachProtocol.request(List.of("setup", "/run/netns/x"), Map.of("TARTAN_SUBNET_FILE", "/run/s.env"),
            stdin);
      case 1:
        return AttachProtocol.request(List.of("info"), Map.of(), new byte[0]);
      case 2: // a subcommand without a handler
        return AttachProtocol.request(List.of("frobnicate", "x"), env, stdin);
      default:
        return AttachProtocol.request(List.of(), env, stdin);
    }
  }

  private static byte[] validAnswer(Random rnd) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(AttachProtocol.answerHeader());
    if (rnd.nextBoolean()) {
      out.writeBytes(AttachProtocol.frame(AttachProtocol.ACCEPTED, new byte[0]));
    }
    Answer a = rnd.nextInt(6) == 0 ? Answer.fallBack("busy")
        : Answer.exit(rnd.nextInt(3), "{\"cniVersion\":\"1.0.0\"}\n".getBytes(StandardCharsets.UTF_8),
            "warn\n".getBytes(StandardCharsets.UTF_8));
    out.writeBytes(AttachProtocol.answerBody(a));
    return out.toByteArray();
  }

  /** Random damage: flipped bytes, cuts, repeats, huge or odd lengths, junk; sometimes none or pure noise. */
  static byte[] mutate(Random rnd, byte[] b) {
    switch (rnd.nextInt(8)) {
      case 0:
        return b;
      case 1: {
        byte[] noise = new byte[rnd.nextInt(64)];
        rnd.nextBytes(noise);
        return noise;
      }
      case 2:
        return Arrays.copyOf(b, rnd.nextInt(b.length + 1));
      case 3: {
        byte[] c = b.clone();
        int at = 5 + rnd.nextInt(Math.max(1, c.length - 9));
        int v = rnd.nextInt(4) == 0 ? -1 : rnd.nextInt(4) == 0 ? Integer.MAX_VALUE : rnd.nextInt(1 << 20);
        ByteBuffer.wrap(c).putInt(Math.min(at, c.length - 4), v);
        return c;
      }
      case 4: {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int cut = rnd.nextInt(b.length + 1);
        out.write(b, 0, cut);
        out.write(b, cut > 4 ? 5 : 0, b.length - (cut > 4 ? 5 : 0));
        return out.toByteArray();
      }
      default: {
        byte[] c = b.clone();
        int flips = 1 + rnd.nextInt(4);
        for (int i = 0; i < flips; i++) {
          c[rnd.nextInt(c.length)] = (byte) rnd.nextInt(256);
        }
        return c;
      }
    }
  }
}
