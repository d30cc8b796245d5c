package dev.tartan.agent.packaging;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a command to completion with a time limit and, optionally, an exact environment. */
final class Run {
  private Run() {}

  /** What a command did. */
  record Result(List<String> argv, int exit, String out, String err) {
    boolean ok() {
      return exit == 0;
    }

    /** Everything it printed, for assertion messages. */
    String describe() {
      return String.join(" ", argv) + " -> exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  static Result exec(Duration timeout, List<String> argv) {
    return exec(timeout, argv, null);
  }

  /**
   * Runs {@code argv}; {@code env} replaces the environment when not null. Never throws for a
   * non-zero exit; a timeout kills the command and throws.
   */
  static Result exec(Duration timeout, List<String> argv, Map<String, String> env) {
    try {
      Path out = Files.createTempFile("tt-pkg", ".out");
      Path err = Files.createTempFile("tt-pkg", ".err");
      try {
        ProcessBuilder pb = new ProcessBuilder(argv).redirectOutput(out.toFile()).redirectError(err.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        if (env != null) {
          pb.environment().clear();
          pb.environment().putAll(env);
        }
        Process p = pb.start();
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          p.descendants().forEach(ProcessHandle::destroyForcibly);
          p.destroyForcibly();
          p.waitFor(10, TimeUnit.SECONDS);
          throw new IllegalStateException("timed out after " + timeout + ": " + String.join(" ", argv)
              + "\n" + Files.readString(out) + Files.readString(err));
        }
        return new Result(argv, p.exitValue(), Files.readString(out), Files.readString(err));
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

  /** Runs {@code argv} (2 minutes at most) and returns stdout; a non-zero exit throws with both outputs. */
  static String ok(String... argv) {
    Result r = exec(Duration.ofMinutes(2), List.of(argv));
    if (!r.ok()) {
      throw new IllegalStateException("command failed: " + r.describe());
    }
    return r.out();
  }
}
