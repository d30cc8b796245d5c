package dev.tartan.agent.firewall;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * A {@code hash:ip} set handled with the {@code ipset} binary: read with {@code ipset save NAME},
 * replaced as a whole with one {@code ipset restore} that fills a scratch set and swaps it in, so
 * a rule matching the set never sees it half-filled. Works on the network namespace of the process
 * (tests: behind {@code ip netns exec NS}).
 */
final class Ipset {
  private final List<String> prefix;
  private final String binary;

  private Ipset(List<String> prefix, String binary) {
    this.prefix = List.copyOf(prefix);
    this.binary = binary;
  }

  /** The {@code ipset} in PATH, /usr/sbin or /sbin, if installed. */
  static Optional<Ipset> locate(List<String> prefix) {
    try {
      return Optional.of(new Ipset(prefix, Iptables.which("ipset")));
    } catch (IptablesException e) {
      return Optional.empty();
    }
  }

  /** The set's members as text (dotted quads), or empty when the set does not exist. */
  Optional<Set<String>> members(String name) throws IptablesException {
    Iptables.Result r = Iptables.run(prefix, List.of(binary, "save", name), null);
    if (r.exit() != 0) {
      if (r.stderr().contains("does not exist")) {
        return Optional.empty();
      }
      throw new IptablesException("ipset save " + name + " failed (exit " + r.exit() + "): "
          + Iptables.oneLine(r.stderr()));
    }
    Set<String> out = new TreeSet<>();
    String add = "add " + name + " ";
    for (String line : r.stdout().split("\n")) {
      if (line.startsWith(add)) {
        out.add(line.substring(add.length()).strip());
      }
    }
    return Optional.of(out);
  }

  /** Makes {@code name} hold exactly {@code members} (created when missing). */
  void replace(String name, Collection<String> members) throws IptablesException {
    String scratch = name + "-new";
    StringBuilder in = new StringBuilder();
    in.append("create ").append(name).append(" hash:ip family inet -exist\n");
    in.append("create ").append(scratch).append(" hash:ip family inet -exist\n");
    in.append("flush ").append(scratch).append('\n');
    for (String m : members) {
      in.append("add ").append(scratch).append(' ').append(m).append(" -exist\n");
    }
    in.append("swap ").append(scratch).append(' ').append(name).append('\n');
    in.append("destroy ").append(scratch).append('\n');
    Iptables.Result r = Iptables.run(prefix, List.of(binary, "restore"), in.toString());
    if (r.exit() != 0) {
      Iptables.run(prefix, List.of(binary, "destroy", scratch), null); // best effort
      throw new IptablesException("ipset restore of " + name + " (" + members.size() + " members) failed (exit "
          + r.exit() + "): " + Iptables.oneLine(r.stderr()));
    }
  }

  /** {@code ipset destroy NAME}; a missing set is fine, a set still referenced by a rule fails. */
  void destroy(String name) throws IptablesException {
    Iptables.Result r = Iptables.run(prefix, List.of(binary, "destroy", name), null);
    if (r.exit() != 0 && !r.stderr().contains("does not exist")) {
      throw new IptablesException("ipset destroy " + name + " failed (exit " + r.exit() + "): "
          + Iptables.oneLine(r.stderr()));
    }
  }

  static List<String> texts(Collection<java.net.Inet4Address> addresses) {
    List<String> out = new ArrayList<>(addresses.size());
    addresses.forEach(a -> out.add(a.getHostAddress()));
    return out;
  }
}
