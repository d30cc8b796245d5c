package dev.tartan.agent.firewall;

import static java.util.Objects.requireNonNull;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
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
 * With {@code EnableIPv6} the same rules for {@code IPv6Network} and the host's IPv6 subnet go into the
 * IPv6 stack: ip6tables (the same chains in its nat and filter tables) or the table ip6 flannel-ipv6.
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
  private volatile Iptables iptables6;    // iptables mode, located at the first dual-stack install
  private volatile List<RuleSet> desired6 = List.of();
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

  /** {@link #install(Ipv4Subnet, Ipv4Subnet, Ipv6Subnet, Ipv6Subnet, Optional, Optional)} for IPv4 only. */
  public void install(Ipv4Subnet network, Ipv4Subnet subnet, Optional<Ipv4Subnet> previousNetwork,
      Optional<Ipv4Subnet> previousSubnet) throws IptablesException {
    install(network, subnet, null, null, previousNetwork, previousSubnet);
  }

  /**
   * Removes the other mode's rules, then installs the rules for {@code network} and {@code subnet},
   * and with {@code network6} the IPv6 rules for {@code network6} and {@code subnet6}.
   * iptables mode: when the previous run's values (from the subnet file) differ, the rules built
   * from them are deleted in the same {@code iptables-restore} run; our chains are rewritten as a
   * whole, so IPv6 rules of an old IPv6 network go with them; without IPv6 our ip6tables chains
   * (of an earlier dual-stack run) are removed. nftables mode: the tables are re-created as a whole
   * in one transaction, which drops any old rule too.
   *
   * @param network6 {@code IPv6Network}, or null when IPv6 is disabled
   * @param subnet6  this host's IPv6 subnet; null exactly when {@code network6} is
   * @throws IptablesException also when IPv6 rules are wanted and ip6tables is missing
   */
  public void install(Ipv4Subnet network, Ipv4Subnet subnet, Ipv6Subnet network6, Ipv6Subnet subnet6,
      Optional<Ipv4Subnet> previousNetwork, Optional<Ipv4Subnet> previousSubnet) throws IptablesException {
    requireNonNull(network, "network");
    requireNonNull(subnet, "subnet");
    if ((network6 == null) != (subnet6 == null)) {
      throw new IllegalArgumentException("network6 and subnet6 are both set or both null, got " + network6
          + " and " + subnet6);
    }
    removeOtherMode();
    if (nft != null) {
      installNft(network, subnet, network6, subnet6);
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
    installIp6tables(network6, subnet6);
  }

  private void installIp6tables(Ipv6Subnet network6, Ipv6Subnet subnet6) throws IptablesException {
    if (network6 == null) {
      desired6 = List.of();
      List<String> removed = removeIp6tablesChains();
      if (!removed.isEmpty()) {
        log.info("IPv6 is disabled: removed the ip6tables chains of an earlier dual-stack run {}", removed);
      }
      return;
    }
    Iptables ip6 = iptables6;
    if (ip6 == null) {
      ip6 = Iptables.locate6(prefix);
      iptables6 = ip6;
    }
    List<RuleSet> want = new ArrayList<>();
    if (ipMasq) {
      boolean randomFully = !randomFullyDisable && ip6.supportsRandomFully();
      want.add(MasqRules.masquerade(network6, subnet6, randomFully));
    }
    if (forwardRules) {
      want.add(MasqRules.forward(network6));
    }
    ip6.apply(want, List.of());
    desired6 = List.copyOf(want);
    for (RuleSet s : want) {
      log.info("installed ip6tables rules: {} {} ({} rules and the jump from {})", s.table(),
          s.chain(), s.rules().size(), s.jump().chain());
    }
  }

  /**
   * Our chains in ip6tables, removed; best effort: without ip6tables (or without its nat table)
   * there are no rules of ours there, and an IPv4-only host must not fail on it.
   */
  private List<String> removeIp6tablesChains() {
    try {
      Iptables ip6 = iptables6 != null ? iptables6 : Iptables.locate6(prefix);
      return removeChains(ip6);
    } catch (IptablesException e) {
      log.debug("no ip6tables chains of ours to remove: {}", e.getMessage());
      return List.of();
    }
  }

  /** Our chains (and the jumps to them) in {@code ipt}'s nat and filter tables; those that existed. */
  private static List<String> removeChains(Iptables ipt) throws IptablesException {
    List<String> removed = new ArrayList<>();
    ipt.removeChains("nat", NAT_CHAINS).forEach(c -> removed.add(ipt.family() + " nat " + c));
    ipt.removeChains("filter", FILTER_CHAINS).forEach(c -> removed.add(ipt.family() + " filter " + c));
    return removed;
  }

  private void installNft(Ipv4Subnet network, Ipv4Subnet subnet, Ipv6Subnet network6, Ipv6Subnet subnet6)
      throws IptablesException {
    boolean randomFully = ipMasq && !randomFullyDisable && nft.supportsFullyRandom();
    List<NftTable> want = List.of(NftRules.ipv4(network, subnet, ipMasq, randomFully, forwardRules),
        network6 == null ? NftRules.ipv6() : NftRules.ipv6(network6, subnet6, ipMasq, randomFully, forwardRules));
    nft.apply(want);
    desiredTables = want;
    log.info("installed nftables rules: {}", want.stream().map(t -> "table " + t.id() + " (chains "
        + t.chains().stream().map(c -> c.name() + " " + c.rules().size() + " rules").toList() + ")").toList());
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
    boolean applied = false;
    List<RuleSet> want = desired;
    if (iptables != null && !want.isEmpty() && iptables.ensure(want, List.of())) {
      log.warn("iptables rules were changed by someone else: re-applied {}",
          want.stream().map(s -> s.table() + " " + s.chain()).toList());
      applied = true;
    }
    List<RuleSet> want6 = desired6;
    if (iptables6 != null && !want6.isEmpty() && iptables6.ensure(want6, List.of())) {
      log.warn("ip6tables rules were changed by someone else: re-applied {}",
          want6.stream().map(s -> s.table() + " " + s.chain()).toList());
      applied = true;
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
    for (RuleSet s : desired6) {
      if (!iptables6.missing(s).isEmpty()) {
        return false;
      }
    }
    return true;
  }

  /** The iptables rule sets of the last {@link #install} (empty in nftables mode). */
  public List<RuleSet> installed() {
    return desired;
  }

  /** The ip6tables rule sets of the last {@link #install} (empty without IPv6 and in nftables mode). */
  public List<RuleSet> installedV6() {
    return desired6;
  }

  /** The nftables tables of the last {@link #install}, flannel-ipv6 included (empty in iptables mode). */
  public List<NftTable> installedTables() {
    return desiredTables;
  }

  /**
   * Removes what the other mode left: in nftables mode our iptables chains (FLANNEL-POSTRTG,
   * FLANNEL-FWD, TARTAN-VXLAN, with the jumps to them; in ip6tables too) and the ipset of the peer filter; in
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
        removed.addAll(removeChains(ipt.get()));
      }
      removed.addAll(removeIp6tablesChains());
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
