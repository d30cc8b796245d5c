package dev.tartan.agent.packaging;

import dev.tartan.agent.testbed.Cmd;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.jar.JarFile;

/**
 * The package built by `mvn package` (target/tartan_VERSION_ARCH.deb at the repository root) and
 * installing it on this machine for a test. A test that installs it writes its JVM's pid to a marker
 * in /run, so a run that was killed half-way is recognised and its package purged by the next run;
 * a package installed by a test run that is still going, or by anyone else, makes the tests skip
 * instead of replacing it.
 */
final class Deb {
  static final String PACKAGE = "tartan";
  private static final Path MARKER = Path.of("/run/tartan-packaging-test.installed");

  private Deb() {}

  /** The project version, from the shaded jar's manifest (the same source as `tartan --version`). */
  static String version() {
    try (JarFile jar = new JarFile(Path.of("target", "tartan.jar").toFile())) {
      String v = jar.getManifest().getMainAttributes().getValue("Implementation-Version");
      if (v == null) {
        throw new IllegalStateException("target/tartan.jar has no Implementation-Version");
      }
      return v;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Path file() {
    return Path.of("..", "target", "tartan_" + version() + "_" + arch() + ".deb").toAbsolutePath().normalize();
  }

  /** The build machine's Debian architecture (the package holds the native CNI front end). */
  static String arch() {
    return Cmd.run("dpkg", "--print-architecture").strip();
  }

  /** Why the install tests cannot run here, or null. */
  static String unavailableReason() {
    if (!"root".equals(System.getProperty("user.name"))) {
      return "needs root (dpkg -i)";
    }
    if (!Files.isRegularFile(Path.of("target", "tartan.jar"))) {
      return "agent/target/tartan.jar is missing: run `mvn package` first";
    }
    if (!Files.isRegularFile(file())) {
      return file() + " is missing: run `mvn package` first";
    }
    if (!Cmd.exec(Duration.ofSeconds(10), List.of("sh", "-c", "command -v dpkg")).ok()) {
      return "not a Debian system (no dpkg)";
    }
    long owner = markerPid();
    if (owner > 0 && owner != ProcessHandle.current().pid() && ProcessHandle.of(owner).map(ProcessHandle::isAlive).orElse(false)) {
      return "another test run (pid " + owner + ") has the tartan package installed right now";
    }
    if (status() != null && owner < 0) {
      return "the tartan package is installed on this machine (" + status()
          + "); the test would replace it: `dpkg -P tartan` first";
    }
    return null;
  }

  /** The pid of the test JVM that installed the package, 0 for an unreadable marker, -1 without one. */
  private static long markerPid() {
    try {
      return Long.parseLong(Files.readString(MARKER).strip());
    } catch (java.nio.file.NoSuchFileException e) {
      return -1;
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
  }

  /** dpkg's status line of the package ("install ok installed", "deinstall ok config-files"), or null. */
  static String status() {
    Cmd.Result r = Cmd.exec(Duration.ofSeconds(30), List.of("dpkg-query", "-W", "-f=${Status}", PACKAGE));
    if (!r.ok() || r.out().isBlank() || r.out().strip().endsWith("not-installed")) {
      return null;
    }
    return r.out().strip();
  }

  /** Purges a package left by an interrupted test run (marker of a JVM that is gone, or of this one). */
  static void purgeLeftover() {
    if (Files.exists(MARKER)) {
      purge();
    }
  }

  static Cmd.Result install() {
    try {
      Files.writeString(MARKER, ProcessHandle.current().pid() + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return Cmd.exec(Duration.ofMinutes(3), List.of("dpkg", "-i", file().toString()));
  }

  static Cmd.Result remove() {
    return Cmd.exec(Duration.ofMinutes(3), List.of("dpkg", "-r", PACKAGE));
  }

  static Cmd.Result purgeCommand() {
    return Cmd.exec(Duration.ofMinutes(3), List.of("dpkg", "-P", PACKAGE));
  }

  /** Purges the package if installed and drops the marker (clean-up paths; never throws). */
  static void purge() {
    try {
      if (status() != null) {
        Cmd.exec(Duration.ofMinutes(3), List.of("dpkg", "-P", PACKAGE));
      }
      Files.deleteIfExists(MARKER);
    } catch (RuntimeException | IOException e) {
      System.err.println("packaging test clean-up: " + e.getMessage());
    }
  }
}
