package dev.tartan.agent.firewall;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies {@link RuleSet}s with the {@code iptables-restore} and {@code iptables-save} binaries
 * (or, for the IPv6 tables, {@code ip6tables-restore} and {@code ip6tables-save}: {@link #locate6}) found in PATH (on Debian 12 the iptables-nft variant by default). Every change is ONE
 * {@code iptables-restore --noflush --wait} run, so it is atomic and never flushes anything that is
 * not ours. Works on the network namespace of the process.
 */
public final class Iptables {
  private static final Logger log = LoggerFactory.getLogger(Iptables.class);
  private static final long TIMEOUT_SECONDS = 60;
  private static final Pattern VERSION = Pattern.compile("v(\\d+)\\.(\\d+)\\.(\\d+)(?:\\s*\\(([^)]*)\\))?");

  private final List<String> prefix;
  private final String family;
  private final String restore;
  private final String save;
  private final boolean wait;
  private final String version;
  private volatile Boolean randomFully;

  private Iptables(List<String> prefix, String family, String restore, String save, boolean wait, String version) {
    this.prefix = List.copyOf(prefix);
    this.family = family;
    this.restore = restore;
    this.save = save;
    this.wait = wait;
    this.version = version;
  }

  /**
   * Finds {@code iptables-restore} and {@code iptables-save} in PATH (plus /usr/sbin and /sbin,
   * which are often missing from a user's PATH) and reads their version.
   *
   * @throws IptablesException when a binary is missing ("install it with apt-get install iptables")
   */
  public static Iptables locate() throws IptablesException {
    return locate(List.of());
  }

  /** Like {@link #locate()}, every command run behind {@code prefix} (tests: ip netns exec NS). */
  static Iptables locate(List<String> prefix) throws IptablesException {
    return locate(prefix, "iptables");
  }

  /**
   * {@code ip6tables-restore} and {@code ip6tables-save}: the IPv6 tables (dual stack), behind
   * {@code prefix}.
   *
   * @throws IptablesException when a binary is missing ("install it with apt-get install iptables")
   */
  public static Iptables locate6(List<String> prefix) throws IptablesException {
    return locate(prefix, "ip6tables");
  }

  private static Iptables locate(List<String> prefix, String family) throws IptablesException {
    String restore = which(family + "-restore");
    String save = which(family + "-save");
    Result r = run(prefix, List.of(restore, "--version"), null);
    String text = (r.stdout + " " + r.stderr).trim();
    Matcher m = VERSION.matcher(text);
    boolean wait = false;
    String version = "unknown version";
    if (m.find()) {
      int major = Integer.parseInt(m.group(1));
      int minor = Integer.parseInt(m.group(2));
      int patch = Integer.parseInt(m.group(3));
      // --wait exists in iptables-restore since 1.6.2
      wait = major > 1 || major == 1 && (minor > 6 || minor == 6 && patch >= 2);
      version = "v" + major + "." + minor + "." + patch + (m.group(4) == null ? "" : " (" + m.group(4) + ")");
    }
    log.debug("using {} {} (wait: {})", restore, version, wait);
    return new Iptables(prefix, family, restore, save, wait, version);
  }

  /** "iptables" or "ip6tables": the stack these tables belong to. */
  public String family() {
    return family;
  }

  /** The command prefix every run goes behind (tests: ip netns exec NS). */
  List<String> prefix() {
    return prefix;
  }

  /** "v1.8.9 (nf_tables)", or "unknown version". */
  public String version() {
    return version;
  }

  /**
   * Whether MASQUERADE takes {@code --random-fully} here: checked once with a dry run
   * ({@code iptables-restore --test}) of such a rule in a probe chain; nothing is committed.
   */
  public boolean supportsRandomFully() throws IptablesException {
    Boolean known = randomFully;
    if (known == null) {
      String probe = "*nat\n:TARTAN-PROBE - [0:0]\n-A TARTAN-PROBE -j MASQUERADE --random-fully\nCOMMIT\n";
      List<String> cmd = new ArrayList<>(List.of(restore, "--noflush", "--test"));
      if (wait) {
        cmd.add("--wait");
      }
      Result r = run(prefix, cmd, probe);
      known = r.exit == 0;
      if (!known) {
        log.info("{} {} does not take MASQUERADE --random-fully ({}); masquerading without it",
            family, version, oneLine(r.stderr));
      }
      randomFully = known;
    }
    return known;
  }

  /** The rules of {@code set} (jump included) that are not in the kernel, in order. */
  public List<Rule> missing(RuleSet set) throws IptablesException {
    SavedTable now = saved(set.table());
    if (!now.hasChain(set.chain())) {
      return set.all();
    }
    Map<String, Integer> counts = now.counts();
    return set.all().stream().filter(r -> counts.getOrDefault(r.text(), 0) == 0).toList();
  }

  /**
   * Makes the kernel hold exactly {@code desired}: our chains created if missing, the jumps
   * appended once, every chain rule re-appended in order (deleted first where present), anything
   * else in our chains and any rule of {@code obsolete} (the sets built from the previous
   * network/subnet) deleted. One {@code iptables-restore --noflush} run.
   */
  public void apply(List<RuleSet> desired, List<RuleSet> obsolete) throws IptablesException {
    Map<String, SavedTable> now = saved(desired, obsolete);
    String payload = RestorePayload.build(desired, obsolete, now);
    if (payload.isEmpty()) {
      return;
    }
    restore(payload);
  }

  /**
   * Applies only when something differs (a rule, jump or chain missing, out of order, a foreign
   * rule in our chain, or an obsolete rule present); for the periodic resync.
   *
   * @return true when rules were (re)applied
   */
  public boolean ensure(List<RuleSet> desired, List<RuleSet> obsolete) throws IptablesException {
    Map<String, SavedTable> now = saved(desired, obsolete);
    if (RestorePayload.inPlace(desired, obsolete, now)) {
      return false;
    }
    String payload = RestorePayload.build(desired, obsolete, now);
    if (!payload.isEmpty()) {
      restore(payload);
    }
    return true;
  }

  /** Deletes every rule of {@code sets} (jumps included) that is present; chains are kept. */
  public void delete(List<RuleSet> sets) throws IptablesException {
    apply(List.of(), sets);
  }

  /**
   * Removes {@code chains} of {@code table} with every rule that jumps to them, in one
   * {@code iptables-restore --noflush} run ({@code -D} the jumps, {@code -F}, {@code -X}).
   *
   * @return the chains that existed (and are gone now)
   */
  public List<String> removeChains(String table, List<String> chains) throws IptablesException {
    SavedTable now = saved(table);
    List<String> present = chains.stream().filter(now::hasChain).toList();
    if (present.isEmpty()) {
      return present;
    }
    StringBuilder payload = new StringBuilder("*").append(table).append('\n');
    for (String line : now.rules()) {
      Rule r = VxlanPeerFilter.parseSaved(line);
      int n = r == null ? 0 : r.args().size();
      if (n >= 2 && r.args().get(n - 2).equals("-j") && present.contains(r.args().get(n - 1))
          && !present.contains(r.chain())) {
        payload.append(r.deleteLine()).append('\n');
      }
    }
    for (String c : present) {
      payload.append("-F ").append(c).append('\n');
    }
    for (String c : present) {
      payload.append("-X ").append(c).append('\n');
    }
    payload.append("COMMIT\n");
    restore(payload.toString());
    return present;
  }

  /** {@code iptables-save -t TABLE}. */
  public String save(String table) throws IptablesException {
    Result r = run(prefix, List.of(save, "-t", table), null);
    if (r.exit != 0) {
      throw new IptablesException(family + "-save -t " + table + " failed (exit " + r.exit + "): "
          + oneLine(r.stderr));
    }
    return r.stdout;
  }

  private SavedTable saved(String table) throws IptablesException {
    return SavedTable.parse(save(table));
  }

  private Map<String, SavedTable> saved(List<RuleSet> a, List<RuleSet> b) throws IptablesException {
    Set<String> tables = new LinkedHashSet<>();
    a.forEach(s -> tables.add(s.table()));
    b.forEach(s -> tables.add(s.table()));
    Map<String, SavedTable> out = new HashMap<>();
    for (String t : tables) {
      out.put(t, saved(t));
    }
    return out;
  }

  private void restore(String payload) throws IptablesException {
    List<String> cmd = new ArrayList<>(List.of(restore, "--noflush"));
    if (wait) {
      cmd.add("--wait");
    }
    log.debug("{}-restore --noflush <<EOF\n{}EOF", family, payload);
    Result r = run(prefix, cmd, payload);
    if (r.exit != 0) {
      throw new IptablesException(family + "-restore refused the rules (exit " + r.exit + "): "
          + oneLine(r.stderr) + " [payload: " + oneLine(payload.replace('\n', ';')) + "]");
    }
  }

  // ---- processes

  record Result(int exit, String stdout, String stderr) {}

  /** Runs {@code prefix + command} with {@code stdin} (or none); also used by {@link Ipset}. */
  static Result run(List<String> prefix, List<String> command, String stdin)
      throws IptablesException {
    List<String> cmd = new ArrayList<>(prefix);
    cmd.addAll(command);
    Process p;
    try {
      p = new ProcessBuilder(cmd).start();
    } catch (IOException e) {
      throw new IptablesException("cannot run " + String.join(" ", cmd) + ": " + e.getMessage(), e);
    }
    CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
    try (OutputStream in = p.getOutputStream()) {
      if (stdin != null) {
        in.write(stdin.getBytes(StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      // the process exited early; its exit code and stderr tell why
    }
    try {
      if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IptablesException(command.get(0) + " did not finish within " + TIMEOUT_SECONDS
            + " s (is another program holding the xtables lock /run/xtables.lock?)");
      }
      return new Result(p.exitValue(), out.get(10, TimeUnit.SECONDS), err.get(10, TimeUnit.SECONDS));
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IptablesException(command.get(0) + " interrupted", e);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new IptablesException("cannot read the output of " + command.get(0) + ": " + e, e);
    }
  }

  private static String readAll(InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  /** The absolute path of {@code name} in PATH, /usr/sbin or /sbin. */
  static String which(String name) throws IptablesException {
    List<String> dirs = new ArrayList<>();
    String path = System.getenv("PATH");
    if (path != null) {
      for (String d : path.split(File.pathSeparator)) {
        if (!d.isEmpty()) {
          dirs.add(d);
        }
      }
    }
    dirs.add("/usr/sbin");
    dirs.add("/sbin");
    for (String d : dirs) {
      Path p = Path.of(d, name);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) {
        return p.toString();
      }
    }
    throw new IptablesException(name + " not found in PATH, /usr/sbin or /sbin: install it with "
        + "apt-get install iptables (needed for --ip-masq and --iptables-forward-rules"
        + (name.startsWith("ip6") ? " with EnableIPv6)" : ")"));
  }

  static String oneLine(String s) {
    return s == null ? "" : s.strip().replaceAll("\\s*[\\r\\n]+\\s*", "; ");
  }
}
