package dev.tartan.cni.attach;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The built front end {@code target/tartan-cni} (C) in a temporary directory of its own, beside a
 * {@code tartan-cni-java} that stands for the standalone plugin: it prints {@code FALLBACK}, its stdin and its
 * {@code CNI_*} variables, so a test sees that the front end fell back and what it handed on; and a
 * {@code tartan-netavark-java} for the netavark plugin's (it prints {@code FALLBACK}, {@code netavark}, its
 * arguments, its stdin and its {@code TARTAN_*} variables).
 */
final class FrontEnd implements AutoCloseable {
  static final Path BUILT = Path.of("target", "tartan-cni").toAbsolutePath();

  final Path dir;
  final Path exe;

  record Run(int status, String stdout, String stderr) {
    boolean fellBack() {
      return stdout.startsWith("FALLBACK\n");
    }
  }

  FrontEnd() throws IOException {
    assumeTrue(Files.isExecutable(BUILT), "needs the front end " + BUILT + " (built by mvn compile with cc)");
    dir = Files.createTempDirectory("tartan-fe");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    exe = Files.copy(BUILT, dir.resolve("tartan-cni"), StandardCopyOption.COPY_ATTRIBUTES);
    Path standalone = dir.resolve("tartan-cni-java");
    Files.writeString(standalone, "#!/bin/sh\necho FALLBACK\necho \"args:$*\"\ncat\necho\nenv | grep '^CNI_' | sort\n");
    Files.setPosixFilePermissions(standalone, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path netavark = dir.resolve("tartan-netavark-java");
    Files.writeString(netavark, "#!/bin/sh\necho FALLBACK\necho netavark\necho \"args:$*\"\n"
        + "[ \"$1\" = info ] || cat\necho\nenv | grep '^TARTAN_' | sort\n");
    Files.setPosixFilePermissions(netavark, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  /** The front end as netavark's plugin: {@code tartan ARGS...}. */
  Run netavark(List<String> args, Map<String, String> env, String stdin) {
    return run(List.of(), args, env, stdin.getBytes(StandardCharsets.UTF_8));
  }

  Run run(Map<String, String> env, String stdin) {
    return run(List.of(), env, stdin.getBytes(StandardCharsets.UTF_8));
  }

  /** Runs the front end (prefix: e.g. setpriv ...) with exactly {@code env}; fails the test after 20 s. */
  Run run(List<String> prefix, Map<String, String> env, byte[] stdin) {
    return run(prefix, List.of(), env, stdin);
  }

  /** Runs the front end (prefix: e.g. setpriv ...) with {@code args} and exactly {@code env}; 20 s at most. */
  Run run(List<String> prefix, List<String> args, Map<String, String> env, byte[] stdin) {
    List<String> argv = new ArrayList<>(prefix);
    argv.add(exe.toString());
    argv.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(argv);
    pb.environment().clear();
    pb.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    pb.environment().putAll(env);
    try {
      Process p = pb.start();
      CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
      CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
      try (var in = p.getOutputStream()) {
        in.write(stdin);
      } catch (IOException closedEarly) {
        // the front end stopped reading: its exit status tells
      }
      if (!p.waitFor(20, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("the front end hung (20 s)");
      }
      return new Run(p.exitValue(), new String(out.get(), StandardCharsets.UTF_8),
          new String(err.get(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] readAll(java.io.InputStream in) {
    try {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() throws IOException {
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        Files.deleteIfExists(p);
      }
    }
    Files.deleteIfExists(dir);
  }
}
