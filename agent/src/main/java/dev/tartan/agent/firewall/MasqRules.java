package dev.tartan.agent.firewall;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import java.util.ArrayList;
import java.util.List;

/**
 * flanneld's iptables rules (docs/flannel-compat.md §3.2, §3.3), for iptables and (dual stack) ip6tables, as pure data. Nothing here touches the kernel; see
 * {@link Iptables} for that.
 */
public final class MasqRules {
  /** nat chain of the masquerade rules. */
  public static final String MASQ_CHAIN = "FLANNEL-POSTRTG";
  /** filter chain of the forward rules. */
  public static final String FORWARD_CHAIN = "FLANNEL-FWD";
  public static final String MASQ_COMMENT = "flanneld masq";
  public static final String FORWARD_COMMENT = "flanneld forward";
  /** Packets kube-proxy marked for masquerading itself; flannel leaves them alone. */
  public static final String KUBE_PROXY_MARK = "0x4000/0x4000";
  public static final String MULTICAST = "224.0.0.0/4";
  /** The IPv6 rules' multicast range (flannel's ip6tables rules). */
  public static final String MULTICAST6 = "ff00::/8";

  private MasqRules() {}

  /**
   * Table nat: masquerade traffic from the pod network C to the outside, never pod to pod, never
   * to multicast, never from outside to our pods P (client addresses stay visible):
   *
   * <pre>
   * -A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
   * -A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
   * -A FLANNEL-POSTRTG -s P -d C -m comment --comment "flanneld masq" -j RETURN
   * -A FLANNEL-POSTRTG -s C -d P -m comment --comment "flanneld masq" -j RETURN
   * -A FLANNEL-POSTRTG ! -s C -d P -m comment --comment "flanneld masq" -j RETURN
   * -A FLANNEL-POSTRTG -s C ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE [--random-fully]
   * -A FLANNEL-POSTRTG ! -s C -d C -m comment --comment "flanneld masq" -j MASQUERADE [--random-fully]
   * </pre>
   *
   * @param network     C, the flannel Network
   * @param subnet      P, this host's lease
   * @param randomFully append {@code --random-fully} to the MASQUERADE targets
   */
  public static RuleSet masquerade(Ipv4Subnet network, Ipv4Subnet subnet, boolean randomFully) {
    return masquerade(network.toString(), subnet.toString(), MULTICAST, randomFully);
  }

  /**
   * The same rules for ip6tables (table nat of the IPv6 stack): C = {@code IPv6Network}, P = this
   * host's IPv6 subnet, and {@code ff00::/8} instead of {@code 224.0.0.0/4}.
   */
  public static RuleSet masquerade(Ipv6Subnet network, Ipv6Subnet subnet, boolean randomFully) {
    return masquerade(network.toString(), subnet.toString(), MULTICAST6, randomFully);
  }

  private static RuleSet masquerade(String c, String p, String multicast, boolean randomFully) {
    String ch = MASQ_CHAIN;
    List<Rule> rules = new ArrayList<>();
    rules.add(masq(ch, List.of("-m", "mark", "--mark", KUBE_PROXY_MARK), "RETURN", false));
    rules.add(masq(ch, List.of("-s", p, "-d", c), "RETURN", false));
    rules.add(masq(ch, List.of("-s", c, "-d", p), "RETURN", false));
    rules.add(masq(ch, List.of("!", "-s", c, "-d", p), "RETURN", false));
    rules.add(masq(ch, List.of("-s", c, "!", "-d", multicast), "MASQUERADE", randomFully));
    rules.add(masq(ch, List.of("!", "-s", c, "-d", c), "MASQUERADE", randomFully));
    Rule jump = Rule.of("POSTROUTING", "-m", "comment", "--comment", MASQ_COMMENT, "-j", ch);
    return new RuleSet("nat", ch, jump, rules);
  }

  /**
   * Table filter: accept forwarded traffic from and to the pod network (Docker sets the FORWARD
   * policy to DROP):
   *
   * <pre>
   * -A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
   * -A FLANNEL-FWD -s C -m comment --comment "flanneld forward" -j ACCEPT
   * -A FLANNEL-FWD -d C -m comment --comment "flanneld forward" -j ACCEPT
   * </pre>
   */
  public static RuleSet forward(Ipv4Subnet network) {
    return forward(network.toString());
  }

  /** The same rules for ip6tables (table filter of the IPv6 stack), C = {@code IPv6Network}. */
  public static RuleSet forward(Ipv6Subnet network) {
    return forward(network.toString());
  }

  private static RuleSet forward(String c) {
    String ch = FORWARD_CHAIN;
    List<Rule> rules = List.of(
        Rule.of(ch, "-s", c, "-m", "comment", "--comment", FORWARD_COMMENT, "-j", "ACCEPT"),
        Rule.of(ch, "-d", c, "-m", "comment", "--comment", FORWARD_COMMENT, "-j", "ACCEPT"));
    Rule jump = Rule.of("FORWARD", "-m", "comment", "--comment", FORWARD_COMMENT, "-j", ch);
    return new RuleSet("filter", ch, jump, rules);
  }

  private static Rule masq(String chain, List<String> match, String target, boolean randomFully) {
    List<String> args = new ArrayList<>(match);
    args.addAll(List.of("-m", "comment", "--comment", MASQ_COMMENT, "-j", target));
    if (randomFully) {
      args.add("--random-fully");
    }
    return new Rule(chain, args);
  }
}
