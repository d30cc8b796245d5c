package dev.tartan.agent.firewall;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** One table as {@code iptables-save -t TABLE} prints it: the chains and the rule lines. */
record SavedTable(Set<String> chains, List<String> rules) {

  static SavedTable parse(String saveOutput) {
    Set<String> chains = new LinkedHashSet<>();
    List<String> rules = new ArrayList<>();
    for (String raw : saveOutput.split("\n")) {
      String line = raw.strip();
      if (line.startsWith(":")) {
        int end = line.indexOf(' ');
        chains.add(end < 0 ? line.substring(1) : line.substring(1, end));
      } else if (line.startsWith("-A ")) {
        rules.add(line);
      }
    }
    return new SavedTable(chains, rules);
  }

  boolean hasChain(String chain) {
    return chains.contains(chain);
  }

  /** How often each rule line occurs. */
  Map<String, Integer> counts() {
    Map<String, Integer> m = new HashMap<>();
    rules.forEach(r -> m.merge(r, 1, Integer::sum));
    return m;
  }

  /** The rule lines of one chain, in order. */
  List<String> rulesOf(String chain) {
    String prefix = "-A " + chain + " ";
    return rules.stream().filter(r -> r.startsWith(prefix)).toList();
  }
}
