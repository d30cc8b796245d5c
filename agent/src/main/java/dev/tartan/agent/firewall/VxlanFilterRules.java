package dev.tartan.agent.firewall;

import dev.tartan.net.Ipv4Subnet;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The rules of {@code --vxlan-peer-filter} (Docker's VXLAN injection advisory: without them anyone
 * who can send UDP to the VXLAN port can inject frames into the overlay), as pure data. Table
 * filter, jumped to as the FIRST rule of INPUT for the VXLAN port only:
 *
 * <pre>
 * -A INPUT -p udp -m udp --dport 8472 -m comment --comment "tartan vxlan peer filter" -j TARTAN-VXLAN
 * # with the ipset tool: one rule for the whole set
 * -A TARTAN-VXLAN -m set --match-set tartan-vxlan src -m comment --comment "tartan vxlan peer filter" -j ACCEPT
 * # without it: one rule per peer public IP
 * -A TARTAN-VXLAN -s 198.51.100.2/32 -m comment --comment "tartan vxlan peer filter" -j ACCEPT
 * -A TARTAN-VXLAN -m comment --comment "tartan vxlan peer filter" -j DROP
 * </pre>
 */
public final class VxlanFilterRules {
  /** filter chain of the peer filter. */
  public static final String CHAIN = "TARTAN-VXLAN";
  /** hash:ip set of the peers' public IPs (ipset mode). */
  public static final String IPSET = "tartan-vxlan";
  public static final String COMMENT = "tartan vxlan peer filter";

  private VxlanFilterRules() {}

  /** One ACCEPT per peer (in address order), then DROP. */
  public static RuleSet perPeer(int port, Collection<Inet4Address> peers) {
    List<Inet4Address> sorted = new ArrayList<>(peers);
    sorted.sort((a, b) -> Integer.compareUnsigned(Ipv4Subnet.toInt(a), Ipv4Subnet.toInt(b)));
    List<Rule> rules = new ArrayList<>(sorted.size() + 1);
    for (Inet4Address p : sorted) {
      rules.add(Rule.of(CHAIN, "-s", p.getHostAddress() + "/32", "-m", "comment", "--comment", COMMENT,
          "-j", "ACCEPT"));
    }
    rules.add(drop());
    return new RuleSet("filter", CHAIN, jump(port), rules, true);
  }

  /** ACCEPT what is in the ipset {@value #IPSET}, then DROP. */
  public static RuleSet withIpset(int port) {
    List<Rule> rules = List.of(
        Rule.of(CHAIN, "-m", "set", "--match-set", IPSET, "src", "-m", "comment", "--comment", COMMENT,
            "-j", "ACCEPT"),
        drop());
    return new RuleSet("filter", CHAIN, jump(port), rules, true);
  }

  /** {@code -A INPUT -p udp -m udp --dport PORT ... -j TARTAN-VXLAN}. */
  public static Rule jump(int port) {
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("VXLAN port must be 1..65535, got " + port);
    }
    return Rule.of("INPUT", "-p", "udp", "-m", "udp", "--dport", Integer.toString(port), "-m", "comment",
        "--comment", COMMENT, "-j", CHAIN);
  }

  private static Rule drop() {
    return Rule.of(CHAIN, "-m", "comment", "--comment", COMMENT, "-j", "DROP");
  }
}
