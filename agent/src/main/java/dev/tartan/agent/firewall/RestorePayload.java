package dev.tartan.agent.firewall;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds the {@code iptables-restore --noflush} input that converges the tables to the desired rule
 * sets (pure; the current state comes from {@code iptables-save}).
 *
 * <p>Per table: declare our chain when it is missing (declaring an existing chain would flush it);
 * delete anything in our chains that is not desired and the rules of obsolete sets; append each
 * jump once (extra copies deleted), or for a {@link RuleSet#jumpFirst()} set insert it as rule 1
 * unless it is already the one and only copy there; then for each chain rule {@code -D} every existing copy and
 * {@code -A} it, so the chain holds exactly the desired rules, contiguous and in order.
 */
final class RestorePayload {
  private RestorePayload() {}

  /** The payload; "" when there is nothing desired and nothing obsolete left to delete. */
  static String build(List<RuleSet> desired, List<RuleSet> obsolete, Map<String, SavedTable> saved) {
    Set<String> tables = new LinkedHashSet<>();
    desired.forEach(s -> tables.add(s.table()));
    obsolete.forEach(s -> tables.add(s.table()));
    StringBuilder out = new StringBuilder();
    for (String table : tables) {
      List<RuleSet> want = desired.stream().filter(s -> s.table().equals(table)).toList();
      List<RuleSet> old = obsolete.stream().filter(s -> s.table().equals(table)).toList();
      SavedTable now = saved.getOrDefault(table, new SavedTable(Set.of(), List.of()));
      List<String> lines = table(want, old, now);
      if (!lines.isEmpty()) {
        out.append('*').append(table).append('\n');
        lines.forEach(l -> out.append(l).append('\n'));
        out.append("COMMIT\n");
      }
    }
    return out.toString();
  }

  /** True when {@link #build} would change nothing but re-append rules already in place. */
  static boolean inPlace(List<RuleSet> desired, List<RuleSet> obsolete, Map<String, SavedTable> saved) {
    for (RuleSet s : desired) {
      SavedTable now = saved.get(s.table());
      if (now == null || !now.hasChain(s.chain())) {
        return false;
      }
      List<String> want = s.rules().stream().map(Rule::text).toList();
      if (!now.rulesOf(s.chain()).equals(want) || now.counts().getOrDefault(s.jump().text(), 0) != 1) {
        return false;
      }
      if (s.jumpFirst() && !isFirst(s.jump(), now)) {
        return false;
      }
    }
    Set<String> wanted = new HashSet<>();
    desired.forEach(s -> s.all().forEach(r -> wanted.add(r.text())));
    for (RuleSet s : obsolete) {
      SavedTable now = saved.get(s.table());
      if (now == null) {
        continue;
      }
      Map<String, Integer> counts = now.counts();
      for (Rule r : s.all()) {
        if (!wanted.contains(r.text()) && counts.getOrDefault(r.text(), 0) > 0) {
          return false;
        }
      }
    }
    return true;
  }

  private static List<String> table(List<RuleSet> want, List<RuleSet> old, SavedTable now) {
    Map<String, Integer> counts = new HashMap<>(now.counts());
    Set<String> wanted = new HashSet<>();
    Set<String> ownChains = new HashSet<>();
    want.forEach(s -> {
      ownChains.add(s.chain());
      s.all().forEach(r -> wanted.add(r.text()));
    });
    List<String> declare = new ArrayList<>();
    List<String> delete = new ArrayList<>();
    List<String> append = new ArrayList<>();
    for (RuleSet s : want) {
      if (!now.hasChain(s.chain())) {
        declare.add(":" + s.chain() + " - [0:0]");
      }
      for (String line : now.rulesOf(s.chain())) {
        if (!wanted.contains(line)) {
          delete.add("-D" + line.substring(2));
          counts.merge(line, -1, Integer::sum);
        }
      }
    }
    for (RuleSet s : old) {
      for (Rule r : s.all()) {
        if (wanted.contains(r.text()) || ownChains.contains(r.chain())) {
          continue;
        }
        for (int n = counts.getOrDefault(r.text(), 0); n > 0; n--) {
          delete.add(r.deleteLine());
        }
        counts.put(r.text(), 0);
      }
    }
    for (RuleSet s : want) {
      int jumps = counts.getOrDefault(s.jump().text(), 0);
      if (s.jumpFirst()) {
        if (jumps != 1 || !isFirst(s.jump(), now)) {
          for (int n = jumps; n > 0; n--) {
            delete.add(s.jump().deleteLine());
          }
          append.add(s.jump().insertFirstLine());
        }
      } else {
        if (jumps == 0) {
          append.add(s.jump().text());
        }
        for (int n = jumps; n > 1; n--) {
          delete.add(s.jump().deleteLine());
        }
      }
      for (Rule r : s.rules()) {
        for (int n = counts.getOrDefault(r.text(), 0); n > 0; n--) {
          append.add(r.deleteLine());
        }
        append.add(r.text());
      }
    }
    List<String> lines = new ArrayList<>(declare);
    lines.addAll(delete);
    lines.addAll(append);
    return lines;
  }

  /** Whether {@code jump} is the first rule of its (built-in) chain. */
  private static boolean isFirst(Rule jump, SavedTable now) {
    List<String> chain = now.rulesOf(jump.chain());
    return !chain.isEmpty() && chain.get(0).equals(jump.text());
  }
}
