package dev.tartan.agent.firewall;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies {@link NftTable}s with the {@code nft} binary found in PATH (/usr/sbin, /sbin). Every
 * change is ONE {@code nft -f -} run, one kernel transaction: the table is deleted and filled
 * again as a whole, or nothing happens. Reads back with {@code nft -j list table}. Works on the
 * network namespace of the process (tests: behind {@code ip netns exec NS}).
 */
public final class Nft {
  private static final Logger log = LoggerFactory.getLogger(Nft.class);

  private final List<String> prefix;
  private final String binary;
  private volatile Boolean fullyRandom;

  private Nft(List<String> prefix, String binary) {
    this.prefix = List.copyOf(prefix);
    this.binary = binary;
  }

  /**
   * The host's {@code nft}.
   *
   * @throws IptablesException when it is missing ("install it with apt-get install nftables")
   */
  public static Nft locate() throws IptablesException {
    return locate(List.of());
  }

  /** Like {@link #locate()}, every command run behind {@code prefix} (tests: ip netns exec NS). */
  static Nft locate(List<String> prefix) throws IptablesException {
    try {
      return new Nft(prefix, Iptables.which("nft"));
    } catch (IptablesException e) {
      throw new IptablesException("nft not found in PATH, /usr/sbin or /sbin: install it with apt-get install "
          + "nftables (the network config sets \"EnableNFTables\": true)");
    }
  }

  /** The {@code nft} of the host, or empty when nftables is not installed. */
  static Optional<Nft> find(List<String> prefix) {
    try {
      return Optional.of(locate(prefix));
    } catch (IptablesException e) {
      return Optional.empty();
    }
  }

  /**
   * Whether {@code masquerade fully-random} is accepted here: checked once with
   * {@code nft --check} of such a rule in a probe table (flannel's checkRandomfully); nothing is
   * committed.
   */
  public boolean supportsFullyRandom() throws IptablesException {
    Boolean known = fullyRandom;
    if (known == null) {
      String probe = "add table ip tartan-probe\n"
          + "add chain ip tartan-probe probe { type nat hook postrouting priority srcnat ; }\n"
          + "add rule ip tartan-probe probe ip saddr != 127.0.0.1 masquerade fully-random\n";
      Iptables.Result r = Iptables.run(prefix, List.of(binary, "--check", "-f", "-"), probe);
      known = r.exit() == 0;
      if (!known) {
        log.info("nft does not take masquerade fully-random ({}); masquerading without it",
            Iptables.oneLine(r.stderr()));
      }
      fullyRandom = known;
    }
    return known;
  }

  /** Re-creates every table of {@code tables} in one transaction. */
  public void apply(List<NftTable> tables) throws IptablesException {
    StringBuilder script = new StringBuilder();
    tables.forEach(t -> script.append(t.script()));
    run(script.toString(), tables.stream().map(NftTable::id).toList().toString());
  }

  /** Deletes the tables that exist of {@code ids} ("ip flannel-ipv4"); returns those that existed. */
  public List<String> deleteTables(List<String> ids) throws IptablesException {
    List<String> present = new ArrayList<>();
    StringBuilder script = new StringBuilder();
    for (String id : ids) {
      String[] fn = id.split(" ", 2);
      if (listJson(fn[0], fn[1]).isPresent()) {
        present.add(id);
        script.append(NftTable.deleteScript(fn[0], fn[1]));
      }
    }
    if (!present.isEmpty()) {
      run(script.toString(), "delete " + present);
    }
    return present;
  }

  /** The table as {@code nft -j list table} reads it back, or empty when it does not exist. */
  public Optional<NftTable> list(String family, String name) throws IptablesException {
    Optional<String> json = listJson(family, name);
    if (json.isEmpty()) {
      return Optional.empty();
    }
    try {
      return Optional.of(NftJson.parse(json.get()));
    } catch (IllegalArgumentException e) {
      throw new IptablesException("cannot read nft -j list table " + family + " " + name + ": " + e.getMessage());
    }
  }

  /** {@code nft list table FAMILY NAME} as text (for people and tests), or empty when missing. */
  public Optional<String> listText(String family, String name) throws IptablesException {
    Iptables.Result r = Iptables.run(prefix, List.of(binary, "list", "table", family, name), null);
    return result(r, family, name);
  }

  private Optional<String> listJson(String family, String name) throws IptablesException {
    Iptables.Result r = Iptables.run(prefix, List.of(binary, "-j", "list", "table", family, name), null);
    return result(r, family, name);
  }

  private static Optional<String> result(Iptables.Result r, String family, String name) throws IptablesException {
    if (r.exit() == 0) {
      return Optional.of(r.stdout());
    }
    if (r.stderr().contains("No such file or directory")) {
      return Optional.empty();
    }
    throw new IptablesException("nft list table " + family + " " + name + " failed (exit " + r.exit() + "): "
        + Iptables.oneLine(r.stderr()));
  }

  private void run(String script, String what) throws IptablesException {
    log.debug("nft -f - <<EOF\n{}EOF", script);
    Iptables.Result r = Iptables.run(prefix, List.of(binary, "-f", "-"), script);
    if (r.exit() != 0) {
      throw new IptablesException("nft refused " + what + " (exit " + r.exit() + "): " + Iptables.oneLine(r.stderr())
          + " [script: " + Iptables.oneLine(script.replace('\n', ';')) + "]");
    }
  }
}
