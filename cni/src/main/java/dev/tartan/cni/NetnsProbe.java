package dev.tartan.cni;

import dev.tartan.cni.delegate.Cidr;
import dev.tartan.cni.json.Json;
import dev.tartan.cni.json.JsonException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Reads the addresses of an interface inside a network namespace with
 * {@code nsenter --net=<netns> ip -j addr show dev <ifname>}: the plugin stays free of netlink bindings (and
 * their start-up cost), and CHECK is rare enough for two execs.
 */
final class NetnsProbe {
  private static final String[] FALLBACK_PATH = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};
  /** {@code ip addr show} answers in milliseconds; past this the probe is killed and CHECK fails. */
  static final long TIMEOUT_MILLIS = 10_000;

  private NetnsProbe() {}

  /** The interface's addresses as {@code a.b.c.d/len} (IPv6 in Go's text form). */
  static List<String> addresses(String netns, String ifname) throws CniException {
    boolean exists;
    try {
      exists = Files.exists(Path.of(netns));
    } catch (java.nio.file.InvalidPathException e) {
      exists = false;
    }
    if (!exists) {
      throw new CniException(CniException.INVALID_NETNS, "network namespace " + netns + " does not exist", "");
    }
    String nsenter = executable("nsenter");
    String ip = executable("ip");
    Probe r;
    try {
      r = run(List.of(nsenter, "--net=" + netns, ip, "-j", "addr", "show", "dev", ifname), TIMEOUT_MILLIS);
    } catch (IOException e) {
      throw new CniException(CniException.CHECK_FAILED, "cannot run " + nsenter + " " + ip + ": " + e.getMessage(), "");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CniException(CniException.CHECK_FAILED, "interrupted while reading " + ifname + " in " + netns, "");
    }
    if (r.timedOut()) {
      throw new CniException(CniException.CHECK_FAILED, "reading " + ifname + " in " + netns + " took longer than "
          + TIMEOUT_MILLIS / 1000 + " s (" + nsenter + " " + ip + " was killed)", "");
    }
    String out = r.output();
    int status = r.status();
    if (status != 0) {
      throw new CniException(CniException.CHECK_FAILED, "interface " + ifname + " in " + netns + " cannot be read: "
          + out.strip(), "");
    }
    try {
      return parse(out);
    } catch (JsonException | RuntimeException e) {
      throw new CniException(CniException.CHECK_FAILED, "unexpected output of ip -j addr show dev " + ifname + ": "
          + e.getMessage(), "");
    }
  }

  /** What a probe command printed (stdout and stderr), its exit status, and whether it was killed. */
  record Probe(String output, int status, boolean timedOut) {}

  /**
   * Runs {@code command}, reading up to 1 MiB of its output; kills it (and its children) after
   * {@code timeoutMillis}: inside the agent a hung probe would otherwise hold an attach slot for good.
   */
  static Probe run(List<String> command, long timeoutMillis) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.redirectErrorStream(true);
    Process p = pb.start();
    CompletableFuture<Boolean> killed = p.onExit().thenApply(x -> false)
        .completeOnTimeout(true, timeoutMillis, TimeUnit.MILLISECONDS);
    killed.thenAccept(k -> {
      if (k) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
      }
    });
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readNBytes(1 << 20), StandardCharsets.UTF_8);
    int status = p.waitFor();
    return new Probe(out, status, killed.getNow(false));
  }

  /** Parses {@code ip -j addr show} output: {@code [{"addr_info":[{"local":"10.1.2.3","prefixlen":24}]}]}. */
  static List<String> parse(String json) throws JsonException {
    List<String> out = new ArrayList<>();
    String text = json.strip();
    if (text.isEmpty()) {
      return out;
    }
    Object links = Json.parse(text);
    if (!(links instanceof List)) {
      throw new IllegalArgumentException("expected a JSON array");
    }
    for (Object link : (List<?>) links) {
      Object infos = link instanceof Map ? ((Map<?, ?>) link).get("addr_info") : null;
      if (!(infos instanceof List)) {
        continue;
      }
      for (Object info : (List<?>) infos) {
        if (!(info instanceof Map)) {
          continue;
        }
        Object local = ((Map<?, ?>) info).get("local");
        Object len = ((Map<?, ?>) info).get("prefixlen");
        if (local instanceof String && len instanceof Long) {
          out.add(Cidr.parse(local + "/" + len, false).toString());
        }
      }
    }
    return out;
  }

  private static String executable(String name) throws CniException {
    List<String> dirs = new ArrayList<>();
    String path = System.getenv("PATH");
    if (path != null) {
      for (String d : path.split(":")) {
        if (!d.isEmpty()) {
          dirs.add(d);
        }
      }
    }
    for (String d : FALLBACK_PATH) {
      dirs.add(d);
    }
    for (String d : dirs) {
      Path p = Path.of(d, name);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) {
        return p.toString();
      }
    }
    throw new CniException(CniException.CHECK_FAILED, "CHECK needs " + name + " (util-linux / iproute2), not found in "
        + dirs, "");
  }
}
