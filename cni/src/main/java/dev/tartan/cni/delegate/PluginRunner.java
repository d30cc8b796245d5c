package dev.tartan.cni.delegate;

import dev.tartan.cni.CniException;
import dev.tartan.cni.json.Json;
import dev.tartan.cni.json.JsonException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Runs a delegate plugin the way libcni's {@code invoke} package does: the binary named by {@code type} is
 * looked up in the {@code CNI_PATH} directories, gets this plugin's environment with {@code CNI_COMMAND} (and
 * any overrides) set, the config on stdin and this plugin's stderr; its stdout is the result or the error.
 * A delegate that runs longer than the timeout is killed.
 */
public final class PluginRunner {
  /** Default limit for one delegate run; bridge + host-local normally take 20-40 ms. */
  public static final long DEFAULT_TIMEOUT_MILLIS = 60_000;
  private static final int MAX_OUTPUT = 1 << 20;
  /** Stdin up to this size is written before reading stdout: a Linux pipe buffers 64 KiB. */
  private static final int INLINE_STDIN = 32 << 10;

  private final String cniPath;
  private final Map<String, String> cniEnv;
  private final long timeoutMillis;

  /**
   * @param cniPath the {@code CNI_PATH} value (':'-separated directories)
   * @param cniEnv the {@code CNI_*} variables to hand on (this plugin's own); all other inherited
   *     {@code CNI_*} variables are dropped
   */
  public PluginRunner(String cniPath, Map<String, String> cniEnv, long timeoutMillis) {
    this.cniPath = cniPath == null ? "" : cniPath;
    this.cniEnv = Map.copyOf(cniEnv);
    this.timeoutMillis = timeoutMillis;
  }

  /** The executable for {@code type}: the first {@code <dir>/<type>} on CNI_PATH that is an executable file. */
  public Path find(String type) throws CniException {
    if (type.isEmpty() || type.indexOf('/') >= 0 || type.equals(".") || type.equals("..")) {
      throw new CniException(CniException.INVALID_NETWORK_CONFIG, "invalid delegate plugin type \"" + type
          + "\": it must be a plain file name", "");
    }
    List<String> dirs = new ArrayList<>();
    for (String dir : cniPath.split(":")) {
      if (!dir.isEmpty()) {
        dirs.add(dir);
        Path p;
        try {
          p = Path.of(dir, type);
        } catch (java.nio.file.InvalidPathException e) { // not encodable in the JVM's file-name charset
          throw new CniException(CniException.INVALID_NETWORK_CONFIG, "invalid delegate plugin type \"" + type
              + "\": " + e.getReason(), "");
        }
        if (Files.isRegularFile(p) && Files.isExecutable(p)) {
          return p;
        }
      }
    }
    throw new CniException(CniException.DELEGATE_FAILED, "failed to find delegate plugin \"" + type
        + "\" in CNI_PATH " + dirs + "; install it (Debian: containernetworking-plugins, in /usr/lib/cni) or fix"
        + " the runtime's CNI plugin directories", "");
  }

  /**
   * Runs the delegate and returns its stdout when it exits 0.
   *
   * @param overrides environment changes for this run; a null value removes the variable
   * @throws CniException the delegate's own error when it printed one (code, msg and details unchanged, as
   *     libcni passes them on), else code 101
   */
  public String exec(String type, String command, Map<String, String> overrides, byte[] stdin)
      throws CniException {
    Path bin = find(type);
    ProcessBuilder pb = new ProcessBuilder(bin.toString());
    Map<String, String> env = pb.environment();
    for (Iterator<String> it = env.keySet().iterator(); it.hasNext(); ) {
      String k = it.next();
      // CNI_* come from this call only; in the agent (attach socket) its own settings and secrets
      // (FLANNELD_ETCD_PASSWORD from /etc/default/tartan, TARTAN_*, JVM options) never reach a delegate
      if (k.startsWith("CNI_") || k.startsWith("FLANNELD_") || k.startsWith("TARTAN_") || k.startsWith("JAVA_")
          || k.equals("JDK_JAVA_OPTIONS") || k.equals("NOTIFY_SOCKET") || k.startsWith("WATCHDOG_")) {
        it.remove();
      }
    }
    env.putAll(cniEnv);
    env.put("CNI_COMMAND", command);
    if (overrides != null) {
      for (Map.Entry<String, String> e : overrides.entrySet()) {
        if (e.getValue() == null) {
          env.remove(e.getKey());
        } else {
          env.put(e.getKey(), e.getValue());
        }
      }
    }
    pb.redirectError(ProcessBuilder.Redirect.INHERIT);
    String what = "delegate " + type + " " + command;
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new CniException(CniException.DELEGATE_FAILED, what + ": cannot start " + bin + ": " + e.getMessage(), "");
    }
    Watchdog watchdog = new Watchdog(p, timeoutMillis);
    watchdog.start();
    Feeder feeder = null;
    byte[] out;
    int status;
    try {
      if (stdin.length <= INLINE_STDIN) {
        feed(p, stdin); // fits the pipe buffer: cannot block, whatever the delegate does
      } else {
        feeder = new Feeder(p, stdin); // a delegate may write before it has read everything
        feeder.start();
      }
      out = p.getInputStream().readNBytes(MAX_OUTPUT);
      p.getInputStream().close();
      status = p.waitFor();
    } catch (IOException e) {
      Watchdog.killTree(p);
      if (watchdog.fired) { // killing it closed the stream under the read
        throw timedOut(what);
      }
      throw new CniException(CniException.DELEGATE_FAILED, what + ": reading its output failed: " + e, "");
    } catch (InterruptedException e) {
      Watchdog.killTree(p);
      Thread.currentThread().interrupt();
      throw new CniException(CniException.DELEGATE_FAILED, what + ": interrupted", "");
    } finally {
      watchdog.interrupt();
      if (feeder != null) {
        feeder.interrupt();
      }
    }
    if (watchdog.fired) {
      throw timedOut(what);
    }
    String stdout = new String(out, StandardCharsets.UTF_8);
    if (status == 0) {
      return stdout;
    }
    throw delegateError(what, status, stdout);
  }

  /** The CNI versions the delegate supports, from its VERSION output. */
  public List<String> supportedVersions(String type) throws CniException {
    String out = exec(type, "VERSION", null, "{\"cniVersion\":\"1.1.0\"}".getBytes(StandardCharsets.UTF_8));
    List<String> versions = new ArrayList<>();
    try {
      Object list = Json.parseObject(out).get("supportedVersions");
      if (list instanceof List) {
        for (Object v : (List<?>) list) {
          if (v instanceof String) {
            versions.add((String) v);
          }
        }
      }
    } catch (JsonException e) {
      throw new CniException(CniException.DELEGATE_FAILED, "delegate " + type + " VERSION printed invalid JSON: "
          + e.getMessage(), "");
    }
    return versions;
  }

  private CniException timedOut(String what) {
    return new CniException(CniException.DELEGATE_FAILED, what + " timed out after " + timeoutMillis
        + " ms and was killed", "");
  }

  private static void feed(Process p, byte[] stdin) {
    try (OutputStream os = p.getOutputStream()) {
      os.write(stdin);
    } catch (IOException e) {
      // the delegate closed stdin early (it failed or does not read it): its exit status tells
    }
  }

  private static CniException delegateError(String what, int status, String stdout) {
    try {
      Map<String, Object> e = Json.parseObject(stdout);
      Object code = e.get("code");
      Object msg = e.get("msg");
      if (code instanceof Long && msg instanceof String) {
        Object details = e.get("details");
        return new CniException((int) (long) (Long) code, (String) msg, details instanceof String ? (String) details : "");
      }
    } catch (JsonException notJson) {
      // fall through: report the raw output
    }
    String shown = stdout.strip();
    if (shown.length() > 500) {
      shown = shown.substring(0, 500) + "...";
    }
    return new CniException(CniException.DELEGATE_FAILED, what + " failed with exit status " + status
        + " and printed no CNI error", shown);
  }

  /** Writes a large config to the delegate while the caller reads its output. */
  private static final class Feeder extends Thread {
    private final Process process;
    private final byte[] stdin;

    Feeder(Process process, byte[] stdin) {
      super("cni-delegate-stdin");
      setDaemon(true);
      this.process = process;
      this.stdin = stdin;
    }

    @Override
    public void run() {
      feed(process, stdin);
    }
  }

  /**
   * Kills the delegate, and whatever it started, when it runs too long; a thread is cheaper to start than an
   * executor. Children are killed too, or one holding the delegate's stdout would keep the read waiting.
   */
  private static final class Watchdog extends Thread {
    private final Process process;
    private final long millis;
    volatile boolean fired;

    Watchdog(Process process, long millis) {
      super("cni-delegate-watchdog");
      setDaemon(true);
      this.process = process;
      this.millis = millis;
    }

    @Override
    public void run() {
      try {
        if (!process.waitFor(millis, java.util.concurrent.TimeUnit.MILLISECONDS)) {
          fired = true;
          killTree(process);
        }
      } catch (InterruptedException e) {
        // the delegate finished in time
      }
    }

    static void killTree(Process process) {
      for (Iterator<ProcessHandle> it = process.descendants().iterator(); it.hasNext(); ) {
        it.next().destroyForcibly();
      }
      process.destroyForcibly();
    }
  }
}
