package dev.tartan.agent.netlink;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A network namespace made for one test ({@code ip netns add nlt-XXXXXX}), removed by {@link
 * #close()} or, if the JVM dies first, by a shutdown hook. Commands run through {@code ip -n NAME}
 * / {@code bridge -n NAME}; nothing here touches the root namespace.
 */
public final class TestNetns implements AutoCloseable {
  public static final Path IP = Path.of("/usr/sbin/ip");
  public static final Path BRIDGE = Path.of("/usr/sbin/bridge");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      for (String n : LIVE) {
        try {
          new ProcessBuilder(IP.toString(), "netns", "del", n).inheritIO().start().waitFor(5, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException ignored) {
          // best effort at exit
        }
      }
    }, "nlt-netns-cleanup"));
  }

  private final String name;

  private TestNetns(String name) {
    this.name = name;
  }

  /** Skips the calling test unless we are root and iproute2 is installed. */
  public static void assumeKernelTestsPossible() {
    assumeTrue("root".equals(System.getProperty("user.name")) && isRootUid(),
        "kernel netlink tests need root (CAP_NET_ADMIN, CAP_SYS_ADMIN for setns)");
    assumeTrue(Files.isExecutable(IP) && Files.isExecutable(BRIDGE), "needs " + IP + " and " + BRIDGE);
  }

  private static boolean isRootUid() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Uid:")) {
          return line.split("\\s+")[1].equals("0");
        }
      }
    } catch (IOException e) {
      return false;
    }
    return false;
  }

  /** {@code ip netns add nlt-<6 hex>}. */
  public static TestNetns create() {
    String n = String.format("nlt-%06x", ThreadLocalRandom.current().nextInt(1 << 24));
    LIVE.add(n);
    try {
      run(IP.toString(), "netns", "add", n);
    } catch (RuntimeException e) {
      LIVE.remove(n);
      throw e;
    }
    return new TestNetns(n);
  }

  public String name() {
    return name;
  }

  public Path path() {
    return Path.of("/run/netns", name);
  }

  /** {@code ip -n NAME ARGS...}; throws with stderr when it fails. Returns stdout. */
  public String ip(String... args) {
    List<String> cmd = new ArrayList<>(List.of(IP.toString(), "-n", name));
    cmd.addAll(List.of(args));
    return run(cmd.toArray(String[]::new));
  }

  /** {@code bridge -n NAME ARGS...}. */
  public String bridge(String... args) {
    List<String> cmd = new ArrayList<>(List.of(BRIDGE.toString(), "-n", name));
    cmd.addAll(List.of(args));
    return run(cmd.toArray(String[]::new));
  }

  /** {@code ip -n NAME -j ARGS...} parsed. */
  public JsonNode ipJson(String... args) {
    List<String> a = new ArrayList<>(List.of("-j"));
    a.addAll(List.of(args));
    return parse(ip(a.toArray(String[]::new)));
  }

  /** {@code bridge -n NAME -j ARGS...} parsed. */
  public JsonNode bridgeJson(String... args) {
    List<String> a = new ArrayList<>(List.of("-j"));
    a.addAll(List.of(args));
    return parse(bridge(a.toArray(String[]::new)));
  }

  private static JsonNode parse(String out) {
    try {
      return JSON.readTree(out.isBlank() ? "[]" : out);
    } catch (IOException e) {
      throw new IllegalStateException("not JSON: " + out, e);
    }
  }

  /** Adds a veth pair {@code name}/{@code name-p}, address {@code cidr} on {@code name}, both up. */
  public void addUnderlay(String link, String cidr) {
    ip("link", "add", link, "type", "veth", "peer", "name", link + "-p");
    ip("addr", "add", cidr, "dev", link);
    ip("link", "set", link, "up");
    ip("link", "set", link + "-p", "up");
  }

  public static String run(String... cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
      byte[] out = p.getInputStream().readAllBytes();
      byte[] err = p.getErrorStream().readAllBytes();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", cmd) + ": timed out");
      }
      if (p.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", cmd) + " failed (" + p.exitValue() + "): "
            + new String(err, StandardCharsets.UTF_8).trim());
      }
      return new String(out, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(String.join(" ", cmd) + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(String.join(" ", cmd) + ": interrupted", e);
    }
  }

  /** {@code ip netns del NAME}; idempotent. */
  @Override
  public void close() {
    if (LIVE.remove(name)) {
      run(IP.toString(), "netns", "del", name);
    }
  }

  @Override
  public String toString() {
    return name;
  }
}
