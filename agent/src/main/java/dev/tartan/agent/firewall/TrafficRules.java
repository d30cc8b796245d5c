package dev.tartan.agent.firewall;

import static java.util.Objects.requireNonNull;

import dev.tartan.net.Ipv4Subnet;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's masquerade rules ({@code --ip-masq}) and forward rules ({@code --iptables-forward-rules})
 * for one network and lease, installed once and re-checked on every resync. Two modes, chosen by
 * {@code EnableNFTables} in the network config, like flanneld: iptables (chains FLANNEL-POSTRTG and
 * FLANNEL-FWD, docs/flannel-compat.md §3.2–§3.3) or nftables (tables flannel-ipv4 and flannel-ipv6, §3.4). At install
 * the other mode's rules are removed (flannel does this at start), the VXLAN peer filter's included.
 */
public final class TrafficRules {
  private static final Logger log = LoggerFactory.getLogger(TrafficRules.class);
  /** Our iptables chains per table, removed when the host switches to nftables mode. */
  static final List<String> NAT_CHAINS = List.of(MasqRules.MASQ_CHAIN);
  static final List<String> FILTER_CHAINS = List.of(MasqRules.FORWARD_CHAIN, VxlanFilterRules.CHAIN);
  /** Our nftables tables, removed when the host switches to iptables mode. */
  static final List<String> NFT_TABLES = List.of("ip " + NftRules.IPV4_TABLE, "ip6 " + NftRules.IPV6_TABLE,
      "ip " + NftRules.FILTER_TABLE);

  private final Iptables iptables; // iptables mode with rules wanted, else null
  private final Nft nft;           // nftables mode, else null
  private final List<String> prefix;
  private final boolean ipMasq;
  private final boolean randomFullyDisable;
  private final boolean forwardRules;
  private volatile List<RuleSet> desired = List.of();
  private volatile List<NftTable> desiredTables = List.of();

  private TrafficRules(Iptables iptables, Nft nft, List<String> prefix, boolean ipMasq, boolean randomFullyDisable,
      boolean forwardRules) {
    this.iptables = iptables;
    this.nft = nft;
    this.prefix = List.copyOf(prefix);
    this.ipMasq = ipMasq;
    this.randomFullyDisable = randomFullyDisable;
    this.forwardRules = forwardRules;
  }

  /**
   * @param ipMasq             {@code --ip-masq}
   * @param randomFullyDisable {@code --ip-masq-fully-random-disable}
   * @param forwardRules       {@code --iptables-forward-rules}
   * @param enableNFTables     {@code EnableNFTables} of the network config
   * @throws IptablesException when the mode's binaries are missing (iptables: only when rules are
   *     wanted; nftables: always, flannel creates its tables in any case)
   */
  public static TrafficRules create(boolean ipMasq, boolean randomFullyDisable, boolean forwardRules,
      boolean enableNFTables) throws IptablesException {
    if (enableNFTables) {
      return new TrafficRules(null, Nft.locate(), List.of(), ipMasq, randomFullyDisable, forwardRules);
    }
    Iptables ipt = ipMasq || forwardRules ? Iptables.locate() : null;
    return new TrafficRules(ipt, null, List.of(), ipMasq, randomFullyDisable, forwardRules);
  }

  /** For tests: iptables mode with a given {@link Iptables} (e.g. one that runs inside a namespace). */
  static TrafficRules create(Iptables iptables, boolean ipMasq, boolean randomFullyDisable,
      boolean forwardRules) {
    return new TrafficRules(requireNonNull(iptables), null, iptables.prefix(), ipMasq, randomFullyDisable,
        forwardRules);
  }

  /** For tests: nftables mode with a given {@link Nft}; the mode switch runs behind {@code prefix}. */
  static TrafficRules createNft(Nft nft, List<String> prefix, boolean ipMasq, boolean randomFullyDisable,
      boolean forwardRules) {
    return new TrafficRules(null, requireNonNull(nft), prefix, ipMasq, randomFullyDisable, forwardRules);
  }

  /** False when neither --ip-masq nor --iptables-forward-rules asks for rules. */
  public boolean enabled() {
    return ipMasq || forwardRules;
  }

  /** "nftables" or "iptables". */
  public String mode() {
    return nft != null ? "nftables" : "iptables";
  }

  /**
   * Removes the other mode's rules, then installs the rules for {@code network} and {@code subnet}.
   * iptables mode: when the previous run's values (from the subnet file) differ, the rules built
   * from them are deleted in the same {@code iptables-restore} run. nftables mode: the tables are
   * re-created as a whole in one transaction, which drops any old rule too.
   */
  public void install(Ipv4Subnet network, Ipv4Subnet subnet, Optional<Ipv4Subnet> previousNetwork,
      Optional<Ipv4Subnet> previousSubnet) throws IptablesException {
    removeOtherMode();
    if (nft != null) {
      installNft(network, subnet);
      return;
    }
    if (iptables == null) {
      return;
    }
    List<RuleSet> want = new ArrayList<>();
    if (ipMasq) {
      boolean randomFully = !randomFullyDisable && iptables.supportsRandomFully();
      want.add(MasqRules.masquerade(network, subnet, randomFully));
    }
    if (forwardRules) {
      want.add(MasqRules.forward(network));
    }
    List<RuleSet> obsolete = new ArrayList<>();
    if (previousNetwork.isPresent() && previousSubnet.isPresent()
        && (!previousNetwork.get().equals(network) || !previousSubnet.get().equals(subnet))) {
      log.info("network or subnet changed ({} {} -> {} {}): deleting the iptables rules of the old ones",
          previousNetwork.get(), previousSubnet.get(), network, subnet);
      obsolete.add(MasqRules.masquerade(previousNetwork.get(), previousSubnet.get(), true));
      obsolete.add(MasqRules.masquerade(previousNetwork.get(), previousSubnet.get(), false));
      if (!previousNetwork.get().equals(network)) {
        obsolete.add(MasqRules.forward(previousNetwork.get()));
      }
    }
    iptables.apply(want, obsolete);
    desired = List.copyOf(want);
    for (RuleSet s : want) {
      log.info("installed iptables rules: {} {} ({} rules and the jump from {})", s.table(),
          s.chain(), s.rules().size(), s.jump().chain());
    }
  }

  private void installNft(Ipv4Subnet network, Ipv4Subnet subnet) throws IptablesException {
    boolean randomFully = ipMasq && !randomFullyDisable && nft.supportsFullyRandom();
    List<NftTable> want = List.of(NftRules.ipv4(network, subnet, ipMasq, randomFully, forwardRules),
        NftRules.ipv6());
    nft.apply(want);
    desiredTables = want;
    NftTable v4 = want.get(0);
    log.info("installed nftables rules: table {} (chains {}), table {}", v4.id(),
        v4.chains().stream().map(c -> c.name() + " " + c.rules().size() + " rules").toList(), want.get(1).id());
  }

  /**
   * Re-applies the installed rules when anything differs (call every {@code --iptables-resync}).
   * nftables mode: each table is read back with {@code nft -j list table} and compared.
   *
   * @return true when something had to be re-applied
   */
  public boolean resync() throws IptablesException {
    if (nft != null) {
      List<NftTable> want = desiredTables;
      List<String> drift = nftDrift(want);
      if (drift.isEmpty()) {
        return false;
      }
      nft.apply(want);
      log.warn("nftables rules were changed by someone else ({}): re-created {}", String.join("; ", drift),
          want.stream().map(NftTable::id).toList());
      return true;
    }
    List<RuleSet> want = desired;
    if (iptables == null || want.isEmpty()) {
      return false;
    }
    boolean applied = iptables.ensure(want, List.of());
    if (applied) {
      log.warn("iptables rules were changed by someone else: re-applied {}",
          want.stream().map(s -> s.table() + " " + s.chain()).toList());
    }
    return applied;
  }

  private List<String> nftDrift(List<NftTable> want) throws IptablesException {
    List<String> drift = new ArrayList<>();
    for (NftTable t : want) {
      for (String d : t.differences(nft.list(t.family(), t.name()).orElse(null))) {
        drift.add(t.id() + ": " + d);
      }
    }
    return drift;
  }

  /** Whether every installed rule is in place (for readiness). */
  public boolean inPlace() throws IptablesException {
    if (nft != null) {
      return nftDrift(desiredTables).isEmpty();
    }
    for (RuleSet s : desired) {
      if (!iptables.missing(s).isEmpty()) {
        return false;
      }
    }
    return true;
  }

  /** The iptables rule sets of the last {@link #install} (empty in nftables mode). */
  public List<RuleSet> installed() {
    return desired;
  }

  /** The nftables tables of the last {@link #install} (empty in iptables mode). */
  public List<NftTable> installedTables() {
    return desiredTables;
  }

  /**
   * Removes what the other mode left: in nftables mode our iptables chains (FLANNEL-POSTRTG,
   * FLANNEL-FWD, TARTAN-VXLAN, with the jumps to them) and the ipset of the peer filter; in
   * iptables mode the tables flannel-ipv4, flannel-ipv6 and tartan-vxlan. A missing binary means
   * there is nothing of that mode to remove.
   */
  private void removeOtherMode() throws IptablesException {
    List<String> removed = new ArrayList<>();
    if (nft != null) {
      Optional<Iptables> ipt;
      try {
        ipt = Optional.of(Iptables.locate(prefix));
      } catch (IptablesException e) {
        ipt = Optional.empty(); // no iptables, no rules of ours
      }
      if (ipt.isPresent()) {
        ipt.get().removeChains("nat", NAT_CHAINS).forEach(c -> removed.add("iptables nat " + c));
        ipt.get().removeChains("filter", FILTER_CHAINS).forEach(c -> removed.add("iptables filter " + c));
      }
      Optional<Ipset> ipset = Ipset.locate(prefix);
      if (ipset.isPresent() && ipset.get().members(VxlanFilterRules.IPSET).isPresent()) {
        ipset.get().destroy(VxlanFilterRules.IPSET);
        removed.add("ipset " + VxlanFilterRules.IPSET);
      }
      if (!removed.isEmpty()) {
        log.info("nftables mode: removed the iptables mode's {}", removed);
      }
    } else {
      Optional<Nft> other = Nft.find(prefix);
      if (other.isPresent()) {
        other.get().deleteTables(NFT_TABLES).forEach(t -> removed.add("nft table " + t));
      }
      if (!removed.isEmpty()) {
        log.info("iptables mode: removed the nftables mode's {}", removed);
      }
    }
  }
}
