package dev.tartan.agent.firewall;

import static java.util.Objects.requireNonNull;

import dev.tartan.net.Ipv4Subnet;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's iptables side effects in one place: the masquerade rules ({@code --ip-masq}) and the
 * forward rules ({@code --iptables-forward-rules}) for one network and lease, installed once and
 * re-checked on every resync. iptables mode only.
 */
public final class TrafficRules {
  private static final Logger log = LoggerFactory.getLogger(TrafficRules.class);

  private final Iptables iptables;
  private final boolean ipMasq;
  private final boolean randomFullyDisable;
  private final boolean forwardRules;
  private volatile List<RuleSet> desired = List.of();

  private TrafficRules(Iptables iptables, boolean ipMasq, boolean randomFullyDisable,
      boolean forwardRules) {
    this.iptables = iptables;
    this.ipMasq = ipMasq;
    this.randomFullyDisable = randomFullyDisable;
    this.forwardRules = forwardRules;
  }

  /**
   * @param ipMasq             {@code --ip-masq}
   * @param randomFullyDisable {@code --ip-masq-fully-random-disable}
   * @param forwardRules       {@code --iptables-forward-rules}
   * @param enableNFTables     {@code EnableNFTables} of the network config: not supported yet
   * @throws IptablesException when nftables mode is asked for, or when rules are wanted and the
   *     iptables binaries are missing
   */
  public static TrafficRules create(boolean ipMasq, boolean randomFullyDisable, boolean forwardRules,
      boolean enableNFTables) throws IptablesException {
    requireIptablesMode(enableNFTables);
    Iptables ipt = ipMasq || forwardRules ? Iptables.locate() : null;
    return new TrafficRules(ipt, ipMasq, randomFullyDisable, forwardRules);
  }

  /** For tests: with a given {@link Iptables} (e.g. one that runs inside a namespace). */
  static TrafficRules create(Iptables iptables, boolean ipMasq, boolean randomFullyDisable,
      boolean forwardRules) {
    return new TrafficRules(requireNonNull(iptables), ipMasq, randomFullyDisable, forwardRules);
  }

  /** Fails with a clear line when the network config asks for nftables (not supported yet). */
  public static void requireIptablesMode(boolean enableNFTables) throws IptablesException {
    if (enableNFTables) {
      throw new IptablesException("EnableNFTables is set in the network config, but tartan "
          + "supports only iptables mode so far: set \"EnableNFTables\": false (or remove it) in "
          + "<etcd-prefix>/config");
    }
  }

  /** False when neither --ip-masq nor --iptables-forward-rules asks for rules. */
  public boolean enabled() {
    return iptables != null;
  }

  /**
   * Installs the rules for {@code network} and {@code subnet}. When the previous run's values
   * (from the subnet file) differ, the rules built from them are deleted in the same
   * {@code iptables-restore} run.
   */
  public void install(Ipv4Subnet network, Ipv4Subnet subnet, Optional<Ipv4Subnet> previousNetwork,
      Optional<Ipv4Subnet> previousSubnet) throws IptablesException {
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

  /**
   * Re-applies the installed rules when any is missing or changed (call every
   * {@code --iptables-resync}).
   *
   * @return true when something had to be re-applied
   */
  public boolean resync() throws IptablesException {
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

  /** Whether every installed rule is in place (for readiness). */
  public boolean inPlace() throws IptablesException {
    for (RuleSet s : desired) {
      if (!iptables.missing(s).isEmpty()) {
        return false;
      }
    }
    return true;
  }

  /** The rule sets of the last {@link #install}. */
  public List<RuleSet> installed() {
    return desired;
  }
}
