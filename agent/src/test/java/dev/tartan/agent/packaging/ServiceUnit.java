package dev.tartan.agent.packaging;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The parts of a systemd service unit that decide how its main process starts: ExecStart,
 * EnvironmentFile and WatchdogSec, read the way systemd reads them (for the simple forms the
 * Tartan unit uses). Lets a test start the installed launcher exactly as the unit would.
 */
record ServiceUnit(Map<String, List<String>> service) {

  /** The base environment systemd gives a system service (before EnvironmentFile=). */
  static final Map<String, String> SYSTEMD_BASE_ENV = Map.of(
      "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", "LANG", "C.UTF-8");

  static ServiceUnit read(Path unitFile) {
    try {
      return parse(Files.readString(unitFile));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Settings of the [Service] section, in order, repeated keys kept. */
  static ServiceUnit parse(String text) {
    Map<String, List<String>> service = new LinkedHashMap<>();
    String section = "";
    for (String raw : text.split("\n")) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
        continue;
      }
      if (line.startsWith("[") && line.endsWith("]")) {
        section = line.substring(1, line.length() - 1);
        continue;
      }
      int eq = line.indexOf('=');
      if (eq <= 0 || !section.equals("Service")) {
        continue;
      }
      service.computeIfAbsent(line.substring(0, eq).strip(), k -> new ArrayList<>())
          .add(line.substring(eq + 1).strip());
    }
    return new ServiceUnit(service);
  }

  /** The last value of {@code key}, if any. */
  Optional<String> get(String key) {
    List<String> v = service.getOrDefault(key, List.of());
    return v.isEmpty() ? Optional.empty() : Optional.of(v.get(v.size() - 1));
  }

  /** ExecStart= split into words (the unit uses no quotes or specifiers; both are rejected here). */
  List<String> execStart() {
    String line = get("ExecStart").orElseThrow(() -> new IllegalStateException("no ExecStart="));
    if (line.matches(".*[\"'%$\\\\].*") || line.matches("^[-@:+!].*")) {
      throw new IllegalStateException("ExecStart= uses quoting, specifiers or prefixes this reader does not model: " + line);
    }
    return List.of(line.split("\\s+"));
  }

  /** EnvironmentFile= paths and whether each is optional ("-" prefix). */
  Map<Path, Boolean> environmentFiles() {
    Map<Path, Boolean> files = new LinkedHashMap<>();
    for (String v : service.getOrDefault("EnvironmentFile", List.of())) {
      boolean optional = v.startsWith("-");
      files.put(Path.of(optional ? v.substring(1) : v), optional);
    }
    return files;
  }

  /**
   * How systemd would confine the main process, as a {@code setpriv} prefix: the unit's
   * CapabilityBoundingSet= (nothing inheritable) and NoNewPrivileges=. The file-system sandbox
   * (ProtectSystem=, PrivateTmp=, ...) needs systemd itself and is not modelled.
   */
  List<String> setprivPrefix() {
    List<String> argv = new ArrayList<>(List.of("setpriv"));
    get("CapabilityBoundingSet").ifPresent(caps -> {
      StringBuilder set = new StringBuilder("-all");
      for (String cap : caps.split("\\s+")) {
        set.append(",+").append(cap.toLowerCase(java.util.Locale.ROOT).replaceFirst("^cap_", ""));
      }
      argv.addAll(List.of("--bounding-set", set.toString(), "--inh-caps", "-all"));
    });
    if (get("NoNewPrivileges").filter(v -> v.equals("yes") || v.equals("true")).isPresent()) {
      argv.add("--no-new-privs");
    }
    return argv;
  }

  /**
   * A shell script that approximates the unit's file-system sandbox in a private mount namespace
   * (run it as {@code unshare --mount --propagation private sh SCRIPT COMMAND...}): PrivateTmp= (own
   * /tmp and /var/tmp), an own empty /run holding only RuntimeDirectory= and the paths of
   * ReadWritePaths=, StateDirectory= (/var/lib/NAME, writable), ProtectHome= (/home and /root inaccessible) and ProtectSystem=strict (every
   * other mount read-only; /proc, /sys and /dev stay). An absolute NOTIFY_SOCKET is made reachable at
   * /run/systemd/ (NOTIFY_SOCKET rewritten). Unlike systemd, the rest of the host's /run is not
   * visible at all. Settings it does not know make it fail rather than pretend.
   */
  String sandboxScript() {
    List<String> sh = new ArrayList<>(List.of("set -eu"));
    // systemd's notify socket stays reachable at /run/systemd/ (as /run/systemd/notify is for a real
    // service): keep a handle on its directory before /tmp and /run are covered.
    sh.add("notify=\"${NOTIFY_SOCKET:-}\"");
    sh.add("case \"$notify\" in /*) exec 3<\"$(dirname \"$notify\")\" ;; esac");
    if (get("PrivateTmp").filter(ServiceUnit::yes).isPresent()) {
      sh.add("mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp");
      sh.add("mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp");
    }
    sh.add("mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run");
    List<String> writable = new ArrayList<>();
    for (String dir : service.getOrDefault("RuntimeDirectory", List.of())) {
      for (String d : dir.split("\\s+")) {
        sh.add("mkdir -p /run/" + d);
        writable.add("/run/" + d);
      }
    }
    for (String paths : service.getOrDefault("ReadWritePaths", List.of())) {
      for (String p : paths.split("\\s+")) {
        String path = p.startsWith("-") ? p.substring(1) : p;
        if (!path.startsWith("/run/")) {
          throw new IllegalStateException("ReadWritePaths outside /run not modelled: " + p);
        }
        sh.add(": > " + path);
        writable.add(path);
      }
    }
    // StateDirectory=: /var/lib/NAME, created if missing (as systemd does) and writable.
    List<String> state = new ArrayList<>();
    for (String dir : service.getOrDefault("StateDirectory", List.of())) {
      for (String d : dir.split("\\s+")) {
        sh.add("mkdir -p /var/lib/" + d);
        writable.add("/var/lib/" + d);
        state.add("/var/lib/" + d);
      }
    }
    sh.add("case \"$notify\" in /*) mkdir -p /run/systemd; mount --bind /proc/self/fd/3 /run/systemd; exec 3<&-;");
    sh.add("  NOTIFY_SOCKET=/run/systemd/$(basename \"$notify\"); export NOTIFY_SOCKET ;; esac");
    // Writable spots are mounts of their own before /run turns read-only (a later bind would inherit
    // the read-only flag).
    for (String w : writable) {
      sh.add("mount --bind " + w + " " + w);
    }
    if (get("ProtectHome").filter(ServiceUnit::yes).isPresent()) {
      sh.add("for d in /home /root; do [ -d \"$d\" ] && mount -t tmpfs -o ro,mode=000 tmpfs \"$d\"; done");
    }
    String protect = get("ProtectSystem").orElse("no");
    if (protect.equals("strict")) {
      sh.add("for mp in $(awk '{print $5}' /proc/self/mountinfo | sort -u); do");
      sh.add("  case \"$mp\" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/tmp|/var/tmp|/run|/run/*|/home|/root"
          + state.stream().map(d -> "|" + d).reduce("", String::concat) + ") continue ;; esac");
      sh.add("  mount -o remount,bind,ro \"$mp\"");
      sh.add("done");
      sh.add("mount -o remount,bind,ro /run");
    } else if (!protect.equals("no")) {
      throw new IllegalStateException("ProtectSystem=" + protect + " not modelled");
    }
    sh.add("exec \"$@\"");
    return String.join("\n", sh) + "\n";
  }

  private static boolean yes(String v) {
    return v.equals("yes") || v.equals("true") || v.equals("1");
  }

  /** WatchdogSec= as a duration (plain seconds or a number with s/min/ms). */
  Optional<Duration> watchdog() {
    return get("WatchdogSec").map(ServiceUnit::timespan);
  }

  /**
   * The environment of the main process as systemd builds it: the base environment, then every
   * EnvironmentFile= (a missing optional one is skipped), then {@code extra} (NOTIFY_SOCKET, ...).
   */
  Map<String, String> environment(Map<String, String> extra) {
    Map<String, String> env = new LinkedHashMap<>(SYSTEMD_BASE_ENV);
    environmentFiles().forEach((file, optional) -> {
      if (!Files.exists(file)) {
        if (!optional) {
          throw new IllegalStateException("EnvironmentFile " + file + " is missing");
        }
        return;
      }
      try {
        env.putAll(parseEnvironmentFile(Files.readString(file)));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
    env.putAll(extra);
    return env;
  }

  /**
   * KEY=VALUE lines as systemd's EnvironmentFile= reads them: blank lines and lines starting with #
   * or ; are comments; a value in double quotes has \\, \", \$ and \` escapes, in single quotes it
   * is literal; an unquoted value is trimmed.
   */
  static Map<String, String> parseEnvironmentFile(String text) {
    Map<String, String> env = new LinkedHashMap<>();
    for (String raw : text.split("\n")) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
        continue;
      }
      int eq = line.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("not KEY=VALUE: " + line);
      }
      String key = line.substring(0, eq).strip();
      String value = line.substring(eq + 1).strip();
      if (value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"")) {
        StringBuilder sb = new StringBuilder();
        String inner = value.substring(1, value.length() - 1);
        for (int i = 0; i < inner.length(); i++) {
          char c = inner.charAt(i);
          if (c == '\\' && i + 1 < inner.length() && "\\\"$`".indexOf(inner.charAt(i + 1)) >= 0) {
            sb.append(inner.charAt(++i));
          } else {
            sb.append(c);
          }
        }
        value = sb.toString();
      } else if (value.length() >= 2 && value.startsWith("'") && value.endsWith("'")) {
        value = value.substring(1, value.length() - 1);
      }
      env.put(key, value);
    }
    return env;
  }

  static Duration timespan(String v) {
    String s = v.strip();
    if (s.matches("\\d+")) {
      return Duration.ofSeconds(Long.parseLong(s));
    }
    if (s.matches("\\d+ms")) {
      return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
    }
    if (s.matches("\\d+s")) {
      return Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)));
    }
    if (s.matches("\\d+min")) {
      return Duration.ofMinutes(Long.parseLong(s.substring(0, s.length() - 3)));
    }
    throw new IllegalArgumentException("time span not modelled: " + v);
  }
}
