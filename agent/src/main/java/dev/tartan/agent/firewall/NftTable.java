package dev.tartan.agent.firewall;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;

/**
 * One nftables table we own, as pure data: its sets and chains, each chain's rules as the text
 * {@code nft list} prints them (handles and counter values left out). {@link #script()} is the
 * {@code nft -f} input that re-creates it in one transaction; {@link #differences} compares it with
 * what {@code nft -j list table} read back (see {@link NftJson}).
 *
 * @param family  {@code ip} or {@code ip6}
 * @param name    {@code flannel-ipv4}, ...
 * @param comment the table's comment, or null
 */
public record NftTable(String family, String name, String comment, List<NftSet> sets, List<NftChain> chains) {
  public NftTable {
    requireNonNull(family, "family");
    requireNonNull(name, "name");
    sets = List.copyOf(sets);
    chains = List.copyOf(chains);
  }

  /**
   * A named set.
   *
   * @param type     {@code ipv4_addr}
   * @param elements the members as nft prints them (dotted quads)
   */
  public record NftSet(String name, String type, List<String> elements) {
    public NftSet {
      requireNonNull(name, "name");
      requireNonNull(type, "type");
      elements = List.copyOf(elements);
    }
  }

  /**
   * A base chain and its rules.
   *
   * @param type     {@code filter} or {@code nat}
   * @param hook     {@code forward}, {@code postrouting}, {@code input}
   * @param priority the priority as written in the script ({@code filter}, {@code srcnat}, {@code filter - 1})
   * @param prio     the same as a number (what {@code nft -j} prints): filter 0, srcnat 100
   * @param comment  the chain's comment, or null
   * @param rules    the rules in order, as {@code nft list} prints them ({@code ip saddr 10.5.0.0/16 accept})
   */
  public record NftChain(String name, String type, String hook, String priority, int prio, String comment,
      List<String> rules) {
    public NftChain {
      requireNonNull(name, "name");
      rules = List.copyOf(rules);
    }
  }

  /** {@code ip flannel-ipv4}: how nft commands name the table. */
  public String id() {
    return family + " " + name;
  }

  /**
   * The {@code nft -f} input that makes the kernel hold exactly this table, atomically: the table
   * is added (so that deleting it cannot fail), deleted with everything in it, and declared again
   * with its sets, elements, chains and rules. Packets see the old table or the new one, never a
   * half-filled one.
   */
  public String script() {
    StringBuilder b = new StringBuilder();
    b.append("add table ").append(id()).append('\n');
    b.append("delete table ").append(id()).append('\n');
    b.append("add table ").append(id());
    if (comment != null) {
      b.append(" { comment ").append(quote(comment)).append(" ; }");
    }
    b.append('\n');
    for (NftSet s : sets) {
      b.append("add set ").append(id()).append(' ').append(s.name()).append(" { type ").append(s.type())
          .append(" ; }\n");
      if (!s.elements().isEmpty()) {
        b.append("add element ").append(id()).append(' ').append(s.name()).append(" { ")
            .append(String.join(", ", s.elements())).append(" }\n");
      }
    }
    for (NftChain c : chains) {
      b.append("add chain ").append(id()).append(' ').append(c.name()).append(" { type ").append(c.type())
          .append(" hook ").append(c.hook()).append(" priority ").append(c.priority()).append(" ; policy accept ;");
      if (c.comment() != null) {
        b.append(" comment ").append(quote(c.comment())).append(" ;");
      }
      b.append(" }\n");
      for (String r : c.rules()) {
        b.append("add rule ").append(id()).append(' ').append(c.name()).append(' ').append(r).append('\n');
      }
    }
    return b.toString();
  }

  /** The {@code nft -f} input that deletes the table whether or not it exists. */
  public static String deleteScript(String family, String name) {
    return "add table " + family + " " + name + "\ndelete table " + family + " " + name + "\n";
  }

  /**
   * How {@code kernel} (read back, comments not compared: {@code nft -j} of nft 1.0 leaves them
   * out) differs from this table: one line per difference, empty when it holds exactly our sets,
   * chains (type, hook, priority) and rules in order.
   */
  public List<String> differences(NftTable kernel) {
    List<String> out = new ArrayList<>();
    if (kernel == null) {
      out.add("table " + id() + " is missing");
      return out;
    }
    for (NftSet s : sets) {
      NftSet k = kernel.set(s.name());
      if (k == null) {
        out.add("set " + s.name() + " is missing");
      } else if (!new TreeSet<>(s.elements()).equals(new TreeSet<>(k.elements())) || !s.type().equals(k.type())) {
        out.add("set " + s.name() + " holds " + new TreeSet<>(k.elements()) + ", expected "
            + new TreeSet<>(s.elements()));
      }
    }
    for (NftSet k : kernel.sets()) {
      if (set(k.name()) == null) {
        out.add("set " + k.name() + " is not ours");
      }
    }
    for (NftChain c : chains) {
      NftChain k = kernel.chain(c.name());
      if (k == null) {
        out.add("chain " + c.name() + " is missing");
        continue;
      }
      if (!Objects.equals(c.type(), k.type()) || !Objects.equals(c.hook(), k.hook()) || c.prio() != k.prio()) {
        out.add("chain " + c.name() + " is type " + k.type() + " hook " + k.hook() + " priority " + k.prio()
            + ", expected type " + c.type() + " hook " + c.hook() + " priority " + c.prio());
      }
      if (!c.rules().equals(k.rules())) {
        for (String r : c.rules()) {
          if (!k.rules().contains(r)) {
            out.add("chain " + c.name() + " lacks: " + r);
          }
        }
        for (String r : k.rules()) {
          if (!c.rules().contains(r)) {
            out.add("chain " + c.name() + " has a rule that is not ours: " + r);
          }
        }
        if (new TreeSet<>(c.rules()).equals(new TreeSet<>(k.rules()))) {
          out.add("chain " + c.name() + " holds our rules in another order or twice");
        }
      }
    }
    for (NftChain k : kernel.chains()) {
      if (chain(k.name()) == null) {
        out.add("chain " + k.name() + " is not ours (" + k.rules().size() + " rules)");
      }
    }
    return out;
  }

  /** The chain named {@code name}, or null. */
  public NftChain chain(String name) {
    return chains.stream().filter(c -> c.name().equals(name)).findFirst().orElse(null);
  }

  /** The set named {@code name}, or null. */
  public NftSet set(String name) {
    return sets.stream().filter(s -> s.name().equals(name)).findFirst().orElse(null);
  }

  static String quote(String s) {
    return "\"" + s.replace("\"", "") + "\"";
  }
}
