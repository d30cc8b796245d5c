package dev.tartan.agent.testbed;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a command to completion for tests and returns what it printed. */
public final class Cmd {
  private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(120);

  private Cmd() {}

  /** The outcome of one command. */
  public record Result(List<String> argv, int exit, String out, String err) {
    public boolean ok() {
      return exit == 0;
    }

    /** The command and everything it printed, for assertion messages. */
    public String describe() {
      return String.join(" ", argv) + " -> exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  /** Runs the command (120 s at most); never throws for a non-zero exit. */
  public static Result exec(List<String> argv, String stdin) {
    return exec(DEFAULT_TIMEOUT, argv, null, stdin);
  }

  /** Runs the command with a time limit; never throws for a non-zero exit. */
  public static Result exec(Duration timeout, List<String> argv) {
    return exec(timeout, argv, null, null);
  }

  /** Runs the command with a time limit; {@code env} replaces the environment when not null. */
  public static Result exec(Duration timeout, List<String> argv, Map<String, String> env) {
    return exec(timeout, argv, env, null);
  }

  /**
   * Runs {@code argv} with {@code stdin} (or none); {@code env} replaces the environment when not
   * null. Never throws for a non-zero exit; a timeout kills the command and its children and throws.
   */
  public static Result exec(Duration timeout, List<String> argv, Map<String, String> env, String stdin) {
    try {
      Path out = Files.createTempFile("tt-cmd", ".out");
      Path err = Files.createTempFile("tt-cmd", ".err");
      try {
        ProcessBuilder pb = new ProcessBuilder(argv)
            .redirectOutput(out.toFile())
            .redirectError(err.toFile());
        if (env != null) {
          pb.environment().clear();
          pb.environment().putAll(env);
        }
        Process p = pb.start();
        if (stdin != null) {
          p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        p.getOutputStream().close();
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          p.descendants().forEach(ProcessHandle::destroyForcibly);
          p.destroyForcibly();
          p.waitFor(10, TimeUnit.SECONDS);
          throw new IllegalStateException("timed out after " + timeout + ": " + String.join(" ", argv)
              + "\n" + Files.readString(out) + Files.readString(err));
        }
        return new Result(List.copyOf(argv), p.exitValue(), Files.readString(out), Files.readString(err));
      } finally {
        Files.deleteIfExists(out);
        Files.deleteIfExists(err);
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + String.join(" ", argv) + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted: " + String.join(" ", argv), e);
    }
  }

  /** Runs the command and returns stdout; a non-zero exit throws with stderr. */
  public static String run(String... argv) {
    return check(exec(List.of(argv), null), argv);
  }

  /** Like {@link #run} with the given text on stdin. */
  public static String runWithInput(String stdin, String... argv) {
    return check(exec(List.of(argv), stdin), argv);
  }

  /** Runs the command, ignoring failure (clean-up paths). */
  public static Result quiet(String... argv) {
    return exec(List.of(argv), null);
  }

  /** Prefixes {@code ip netns exec NS}. */
  public static String[] inNs(String ns, String... argv) {
    List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", ns));
    all.addAll(List.of(argv));
    return all.toArray(String[]::new);
  }

  private static String check(Result r, String... argv) {
    if (!r.ok()) {
      throw new IllegalStateException(
          "command failed (exit " + r.exit() + "): " + String.join(" ", argv) + "\n" + r.err() + r.out());
    }
    return r.out();
  }

  /** True when the test runs as root and every named binary is on the PATH. */
  public static boolean rootWith(String... binaries) {
    if (!"root".equals(System.getProperty("user.name"))) {
      return false;
    }
    for (String b : binaries) {
      if (!onPath(b)) {
        return false;
      }
    }
    return true;
  }

  public static boolean onPath(String binary) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
      if (Files.isExecutable(Path.of(dir, binary))) {
        return true;
      }
    }
    return false;
  }
}
