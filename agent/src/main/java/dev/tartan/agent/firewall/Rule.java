package dev.tartan.agent.firewall;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.stream.Collectors;

/**
 * One iptables rule: {@code -A CHAIN ARGS...}.
 *
 * @param chain the chain it is appended to ({@code POSTROUTING}, {@code FLANNEL-POSTRTG}, ...)
 * @param args  the rule spec, one word per element ({@code "-s", "10.5.0.0/16", ...}); an element
 *              with spaces is one word ({@code "flanneld masq"})
 */
public record Rule(String chain, List<String> args) {
  public Rule {
    requireNonNull(chain, "chain");
    args = List.copyOf(args);
  }

  static Rule of(String chain, String... args) {
    return new Rule(chain, List.of(args));
  }

  /** The spec as iptables-save prints it (words with spaces in double quotes). */
  public String spec() {
    return args.stream().map(Rule::quote).collect(Collectors.joining(" "));
  }

  /** The rule as {@code iptables-save} prints it: {@code -A CHAIN SPEC}. */
  public String text() {
    return "-A " + chain + " " + spec();
  }

  /** The line that inserts it first in its chain: {@code -I CHAIN 1 SPEC}. */
  String insertFirstLine() {
    return "-I " + chain + " 1 " + spec();
  }

  /** The line that deletes it in an iptables-restore payload: {@code -D CHAIN SPEC}. */
  String deleteLine() {
    return "-D " + chain + " " + spec();
  }

  private static String quote(String word) {
    return word.isEmpty() || word.chars().anyMatch(c -> c == ' ' || c == '\t') ? "\"" + word + "\"" : word;
  }

  @Override
  public String toString() {
    return text();
  }
}
