package dev.tartan.agent.firewall;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.List;

/**
 * The rules Tartan owns in one table: a dedicated chain, the jump into it from a built-in chain,
 * and the chain's rules in order.
 *
 * @param table {@code nat} or {@code filter}
 * @param chain the dedicated chain ({@code FLANNEL-POSTRTG}, {@code FLANNEL-FWD})
 * @param jump  {@code -A POSTROUTING ... -j FLANNEL-POSTRTG}
 * @param rules the chain's rules, in order
 * @param jumpFirst the jump must be the FIRST rule of its built-in chain (inserted with
 *              {@code -I CHAIN 1}, moved back there when something is inserted before it), so that
 *              no earlier ACCEPT can bypass a filter; false: appended once, anywhere in the chain
 */
public record RuleSet(String table, String chain, Rule jump, List<Rule> rules, boolean jumpFirst) {
  /** A set whose jump is appended ({@code jumpFirst} false). */
  public RuleSet(String table, String chain, Rule jump, List<Rule> rules) {
    this(table, chain, jump, rules, false);
  }

  public RuleSet {
    requireNonNull(table, "table");
    requireNonNull(chain, "chain");
    requireNonNull(jump, "jump");
    rules = List.copyOf(rules);
    for (Rule r : rules) {
      if (!r.chain().equals(chain)) {
        throw new IllegalArgumentException("rule " + r + " is not in chain " + chain);
      }
    }
  }

  /** The jump first, then the chain's rules: the lines {@code iptables-save} shows for this set. */
  public List<Rule> all() {
    List<Rule> out = new ArrayList<>(rules.size() + 1);
    out.add(jump);
    out.addAll(rules);
    return out;
  }
}
