package dev.tartan.agent.routing;

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
 * A namespace made by the data-path ITs ({@code ip netns add dpt-XXXXXX}), deleted by {@link
 * #close()} or a shutdown hook. Everything runs through {@code ip -n} / {@code bridge -n}: the
 * root namespace is never touched.
 */
final class DataPathNetns implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      for (String n : LIVE) {
        exec(List.of("ip", "netns", "del", n));
      }
    }, "dpt-netns-cleanup"));
  }

  final String name;

  private DataPathNetns(String name) {
    this.name = name;
  }

  static void assumeRoot() {
    boolean root = false;
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Uid:")) {
          root = line.split("\\s+")[1].equals("0");
        }
      }
    } catch (IOException e) {
      root = false;
    }
    assumeTrue(root, "data-path kernel tests need root (network namespaces, CAP_NET_ADMIN)");
    assumeTrue(Files.isExecutable(Path.of("/usr/sbin/ip")) && Files.isExecutable(Path.of("/usr/sbin/bridge")),
        "needs iproute2 (ip, bridge)");
    assumeTrue(kernelHasVxlan(), "the kernel cannot create vxlan devices");
  }

  private static boolean kernelHasVxlan() {
    DataPathNetns probe = create();
    try {
      return exec(List.of("ip", "-n", probe.name, "link", "add", "vxprobe", "type", "vxlan", "id", "1",
          "dstport", "8472")).exit == 0;
    } finally {
      probe.close();
    }
  }

  static DataPathNetns create() {
    String n = String.format("dpt-%06x", ThreadLocalRandom.current().nextInt(1 << 24));
    LIVE.add(n);
    run("ip", "netns", "add", n);
    return new DataPathNetns(n);
  }

  Path path() {
    return Path.of("/run/netns", name);
  }

  String ip(String... args) {
    List<String> cmd = new ArrayList<>(List.of("ip", "-n", name));
    cmd.addAll(List.of(args));
    return run(cmd.toArray(String[]::new));
  }

  JsonNode ipJson(String... args) {
    List<String> cmd = new ArrayList<>(List.of("ip", "-n", name, "-j"));
    cmd.addAll(List.of(args));
    return parse(run(cmd.toArray(String[]::new)));
  }

  JsonNode bridgeJson(String... args) {
    List<String> cmd = new ArrayList<>(List.of("bridge", "-n", name, "-j"));
    cmd.addAll(List.of(args));
    return parse(run(cmd.toArray(String[]::new)));
  }

  /** {@code ip netns exec NAME ARGS}; returns the exit code. */
  int execIn(String... args) {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", name));
    cmd.addAll(List.of(args));
    return exec(cmd).exit;
  }

  private static JsonNode parse(String out) {
    try {
      return JSON.readTree(out.isBlank() ? "[]" : out);
    } catch (IOException e) {
      throw new IllegalStateException("not JSON: " + out, e);
    }
  }

  private record Result(int exit, String out, String err) {}

  private static Result exec(List<String> cmd) {
    try {
      Process p = new ProcessBuilder(cmd).start();
      byte[] out = p.getInputStream().readAllBytes();
      byte[] err = p.getErrorStream().readAllBytes();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return new Result(-1, "", "timed out");
      }
      return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8),
          new String(err, StandardCharsets.UTF_8));
    } catch (IOException e) {
      return new Result(-1, "", e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, "", "interrupted");
    }
  }

  static String run(String... cmd) {
    Result r = exec(List.of(cmd));
    if (r.exit != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed (" + r.exit + "): " + r.err.trim());
    }
    return r.out;
  }

  @Override
  public void close() {
    if (LIVE.remove(name)) {
      exec(List.of("ip", "netns", "del", name));
    }
  }

  @Override
  public String toString() {
    return name;
  }
}
