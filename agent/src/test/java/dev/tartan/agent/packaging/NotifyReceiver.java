package dev.tartan.agent.packaging;

import dev.tartan.agent.testbed.Cmd;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * What systemd is to a Type=notify service: an AF_UNIX datagram socket at a path (NOTIFY_SOCKET)
 * that receives READY=1, WATCHDOG=1, STATUS=... . Bound by python3, so the witness shares no code
 * with the agent it listens to. Path sockets work across network namespaces; abstract ones do not.
 */
final class NotifyReceiver implements AutoCloseable {
  /** One datagram and when it arrived; newlines inside it shown as '|'. */
  record Message(Instant at, String text) {}

  private static final String SCRIPT = String.join("\n",
      "import os, socket, sys, time",
      "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
      "s.bind(sys.argv[1])",
      "s.settimeout(1.0)",
      "print('BOUND', flush=True)",
      "end = time.time() + 900",
      "while time.time() < end and os.getppid() != 1:",
      "    try:",
      "        d = s.recv(65536)",
      "    except socket.timeout:",
      "        continue",
      "    print(d.decode('utf-8', 'replace').replace('\\n', '|'), flush=True)",
      "");

  private final Path dir;
  private final boolean ownsDir;
  private final Path socket;
  private final Process process;
  private final BlockingQueue<Message> queue = new LinkedBlockingQueue<>();

  private NotifyReceiver(Path dir, boolean ownsDir, Path socket, Process process) {
    this.dir = dir;
    this.ownsDir = ownsDir;
    this.socket = socket;
    this.process = process;
  }

  static boolean available() {
    return Cmd.exec(Duration.ofSeconds(10), List.of("sh", "-c", "command -v python3")).ok();
  }

  /** A receiver with its socket in a new temporary directory. */
  static NotifyReceiver start() {
    try {
      return start(Files.createTempDirectory("tt-notify"), true);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A receiver with its socket {@code notify.sock} in {@code dir} (kept; the socket is removed at close). */
  static NotifyReceiver startIn(Path dir) {
    return start(dir, false);
  }

  private static NotifyReceiver start(Path dir, boolean ownsDir) {
    try {
      Path socket = dir.resolve("notify.sock");
      if (socket.toString().length() > 100) {
        throw new IllegalStateException("socket path too long for AF_UNIX: " + socket);
      }
      Process p = new ProcessBuilder("python3", "-u", "-c", SCRIPT, socket.toString())
          .redirectError(ProcessBuilder.Redirect.INHERIT).start();
      NotifyReceiver r = new NotifyReceiver(dir, ownsDir, socket, p);
      BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      String first = in.readLine();
      if (!"BOUND".equals(first)) {
        r.close();
        throw new IllegalStateException("python3 did not bind " + socket + ": " + first);
      }
      Thread t = new Thread(() -> {
        try {
          for (String line; (line = in.readLine()) != null; ) {
            r.queue.add(new Message(Instant.now(), line));
          }
        } catch (IOException ignored) {
          // closed
        }
      }, "notify-receiver");
      t.setDaemon(true);
      t.start();
      return r;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  Path socket() {
    return socket;
  }

  /** The next message matching {@code filter} within {@code timeout}, or null; others are dropped. */
  Message await(Predicate<String> filter, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return null;
      }
      Message m = queue.poll(left, TimeUnit.NANOSECONDS);
      if (m == null) {
        return null;
      }
      if (filter.test(m.text())) {
        return m;
      }
    }
  }

  @Override
  public void close() {
    process.destroyForcibly();
    try {
      process.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      Files.deleteIfExists(socket);
      if (ownsDir) {
        try (Stream<Path> s = Files.walk(dir)) {
          s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
      }
    } catch (IOException ignored) {
      // best effort
    }
  }
}
