package dev.tartan.agent.firewall;

import static java.util.Objects.requireNonNull;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.SubnetLease;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --vxlan-peer-filter}: only the public IPs of the network's other hosts may send to the
 * VXLAN port; everything else arriving there is dropped (see {@link VxlanFilterRules} for the
 * rules). With the {@code ipset} tool the peers live in the hash:ip set {@value
 * VxlanFilterRules#IPSET} (one rule, O(1) per packet, replaced by a swap); without it the chain
 * holds one ACCEPT per peer, rewritten in one {@code iptables-restore}. Either way each change is
 * atomic for the packets. Call {@link #update} when the peers change and {@link #resync} on the
 * iptables resync. Thread-safe.
 *
 * <p>In nftables mode ({@code EnableNFTables}) the filter is the table {@code ip tartan-vxlan} with the
 * named set {@code peers} (see {@link NftRules#vxlanFilter}), re-created in one {@code nft -f}
 * transaction on every change and compared with {@code nft -j list table} on every resync.
 */
public final class VxlanPeerFilter {
  private static final Logger log = LoggerFactory.getLogger(VxlanPeerFilter.class);

  private final Iptables iptables; // iptables mode, else null
  private final Ipset ipset;
  private final Nft nft;           // nftables mode, else null
  private final int port;
  private Set<String> applied;
  private RuleSet installed;
  private NftTable installedTable;

  private VxlanPeerFilter(Iptables iptables, Ipset ipset, int port) {
    this.iptables = requireNonNull(iptables, "iptables");
    this.ipset = ipset;
    this.nft = null;
    this.port = port;
    VxlanFilterRules.jump(port); // checks the port
  }

  private VxlanPeerFilter(Nft nft, int port) {
    this.iptables = null;
    this.ipset = null;
    this.nft = requireNonNull(nft, "nft");
    this.port = port;
    VxlanFilterRules.jump(port); // checks the port
  }

  /**
   * For the agent: the iptables binaries of the host, and {@code ipset} when installed.
   *
   * @param port the VXLAN UDP port (the backend's {@code Port}, 8472 by default)
   * @throws IptablesException when iptables-restore or iptables-save is missing
   */
  public static VxlanPeerFilter create(int port) throws IptablesException {
    return new VxlanPeerFilter(Iptables.locate(), Ipset.locate(List.of()).orElse(null), port);
  }

  /**
   * For the agent, in the mode of the network config.
   *
   * @param nftables {@code EnableNFTables}: the nft table {@code ip tartan-vxlan} instead of iptables
   * @throws IptablesException when the mode's binaries are missing
   */
  public static VxlanPeerFilter create(int port, boolean nftables) throws IptablesException {
    return nftables ? new VxlanPeerFilter(Nft.locate(), port) : create(port);
  }

  /** For tests: nftables mode with a given {@link Nft}. */
  static VxlanPeerFilter create(Nft nft, int port) {
    return new VxlanPeerFilter(nft, port);
  }

  /** For tests: a given {@link Iptables}, with or without ipset. */
  static VxlanPeerFilter create(Iptables iptables, Optional<Ipset> ipset, int port) {
    return new VxlanPeerFilter(iptables, ipset.orElse(null), port);
  }

  /** The public IPs that may send VXLAN: those of the remote leases of the vxlan backend. */
  public static Set<Inet4Address> peerAddresses(Collection<SubnetLease> remotes) {
    Set<Inet4Address> out = new TreeSet<>((a, b) -> Integer.compareUnsigned(Ipv4Subnet.toInt(a),
        Ipv4Subnet.toInt(b)));
    for (SubnetLease l : remotes) {
      Inet4Address ip = l.attrs().publicIp();
      if ("vxlan".equals(l.attrs().backendType()) && ip != null && !ip.isAnyLocalAddress()) {
        out.add(ip);
      }
    }
    return out;
  }

  /** "ipset tartan-vxlan" or "one rule per peer". */
  public String mode() {
    if (nft != null) {
      return "nft set ip " + NftRules.FILTER_TABLE + " " + NftRules.FILTER_SET;
    }
    return ipset != null ? "ipset " + VxlanFilterRules.IPSET : "one rule per peer";
  }

  /**
   * Makes the filter accept exactly {@code peers} (no-op when that is what was applied last).
   *
   * @return true when the kernel was changed
   */
  public synchronized boolean update(Collection<Inet4Address> peers) throws IptablesException {
    Set<String> want = new TreeSet<>(Ipset.texts(peers));
    if (want.equals(applied) && (installed != null || installedTable != null)) {
      return false;
    }
    apply(peers, want);
    log.info("vxlan peer filter: udp/{} accepted from {} peer{} ({}), dropped from anyone else", port,
        want.size(), want.size() == 1 ? "" : "s", mode());
    return true;
  }

  /**
   * Re-applies {@code peers} when the kernel differs from it (set members, a rule or the jump
   * missing, changed, or no longer first in INPUT).
   *
   * @return true when something had to be re-applied
   */
  public synchronized boolean resync(Collection<Inet4Address> peers) throws IptablesException {
    Set<String> want = new TreeSet<>(Ipset.texts(peers));
    if (!want.equals(applied) || installed == null && installedTable == null) {
      update(peers);
      return true;
    }
    if (nft != null) {
      List<String> drift = installedTable.differences(
          nft.list(installedTable.family(), installedTable.name()).orElse(null));
      if (drift.isEmpty()) {
        return false;
      }
      nft.apply(List.of(installedTable));
      log.warn("vxlan peer filter was changed by someone else ({}): re-created table {}", String.join("; ", drift),
          installedTable.id());
      return true;
    }
    boolean repaired = false;
    if (ipset != null) {
      Optional<Set<String>> now = ipset.members(VxlanFilterRules.IPSET);
      if (now.isEmpty() || !now.get().equals(want)) {
        ipset.replace(VxlanFilterRules.IPSET, want);
        repaired = true;
      }
    }
    if (iptables.ensure(List.of(installed), List.of())) {
      repaired = true;
    }
    if (repaired) {
      log.warn("vxlan peer filter was changed by someone else: re-applied chain {} ({})", VxlanFilterRules.CHAIN,
          mode());
    }
    return repaired;
  }

  private void apply(Collection<Inet4Address> peers, Set<String> want) throws IptablesException {
    if (nft != null) {
      NftTable table = NftRules.vxlanFilter(port, peers);
      nft.apply(List.of(table)); // the set and the rules that name it, in one transaction
      installedTable = table;
      applied = want;
      return;
    }
    RuleSet rules;
    if (ipset != null) {
      ipset.replace(VxlanFilterRules.IPSET, want); // before the rule that names it
      rules = VxlanFilterRules.withIpset(port);
    } else {
      rules = VxlanFilterRules.perPeer(port, peers);
    }
    iptables.apply(List.of(rules), List.of()); // anything else in our chain goes in the same run
    installed = rules;
    applied = want;
  }

  /**
   * With {@code --vxlan-peer-filter} off: removes the jump, the rules and the set an earlier run
   * left (a stale filter would drop hosts that joined since). Best effort: iptables or ipset
   * missing means nothing to remove.
   *
   * @return true when something was removed
   */
  public static boolean removeLeftovers() throws IptablesException {
    boolean removed = false;
    Optional<Nft> nft = Nft.find(List.of());
    if (nft.isPresent() && !nft.get().deleteTables(List.of("ip " + NftRules.FILTER_TABLE)).isEmpty()) {
      log.info("vxlan-peer-filter is off: removed the nft table ip {} an earlier run left", NftRules.FILTER_TABLE);
      removed = true;
    }
    Iptables ipt;
    try {
      ipt = Iptables.locate();
    } catch (IptablesException e) {
      return removed; // no iptables, no rules of ours
    }
    return removeLeftovers(ipt, Ipset.locate(List.of())) || removed;
  }

  static boolean removeLeftovers(Iptables ipt, Optional<Ipset> ipset) throws IptablesException {
    SavedTable now = SavedTable.parse(ipt.save("filter"));
    boolean removed = false;
    if (now.hasChain(VxlanFilterRules.CHAIN)) {
      List<Rule> jumps = new ArrayList<>();
      for (String line : now.rulesOf("INPUT")) {
        Rule r = parseSaved(line);
        if (r != null && r.args().size() >= 2 && r.args().get(r.args().size() - 2).equals("-j")
            && r.args().get(r.args().size() - 1).equals(VxlanFilterRules.CHAIN)) {
          jumps.add(r);
        }
      }
      List<Rule> own = new ArrayList<>();
      for (String line : now.rulesOf(VxlanFilterRules.CHAIN)) {
        Rule r = parseSaved(line);
        if (r != null) {
          own.add(r);
        }
      }
      List<RuleSet> obsolete = new ArrayList<>();
      for (Rule j : jumps) {
        obsolete.add(new RuleSet("filter", VxlanFilterRules.CHAIN, j, List.of()));
      }
      if (!own.isEmpty()) {
        Rule anyJump = jumps.isEmpty() ? VxlanFilterRules.jump(8472) : jumps.get(0);
        obsolete.add(new RuleSet("filter", VxlanFilterRules.CHAIN, anyJump, own));
      }
      if (!obsolete.isEmpty()) {
        ipt.delete(obsolete);
        removed = true;
      }
    }
    if (ipset.isPresent() && ipset.get().members(VxlanFilterRules.IPSET).isPresent()) {
      ipset.get().destroy(VxlanFilterRules.IPSET);
      removed = true;
    }
    if (removed) {
      log.info("vxlan-peer-filter is off: removed the {} rules (and ipset {}) an earlier run left",
          VxlanFilterRules.CHAIN, VxlanFilterRules.IPSET);
    }
    return removed;
  }

  /** An {@code iptables-save} rule line ({@code -A CHAIN words...}, "quoted words") as a Rule. */
  static Rule parseSaved(String line) {
    List<String> words = new ArrayList<>();
    StringBuilder w = new StringBuilder();
    boolean quoted = false;
    boolean inWord = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (quoted) {
        if (c == '\\' && i + 1 < line.length()) {
          w.append(line.charAt(++i));
        } else if (c == '"') {
          quoted = false;
        } else {
          w.append(c);
        }
      } else if (c == '"') {
        quoted = true;
        inWord = true;
      } else if (c == ' ') {
        if (inWord) {
          words.add(w.toString());
          w.setLength(0);
          inWord = false;
        }
      } else {
        w.append(c);
        inWord = true;
      }
    }
    if (inWord) {
      words.add(w.toString());
    }
    if (words.size() < 2 || !words.get(0).equals("-A")) {
      return null;
    }
    return new Rule(words.get(1), words.subList(2, words.size()));
  }
}
