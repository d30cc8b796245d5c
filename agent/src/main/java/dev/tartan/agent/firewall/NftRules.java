package dev.tartan.agent.firewall;

import dev.tartan.agent.firewall.NftTable.NftChain;
import dev.tartan.agent.firewall.NftTable.NftSet;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * flanneld's nftables mode (docs/flannel-compat.md §3.4, {@code "EnableNFTables": true}) and the nft form of the
 * VXLAN peer filter, as pure data. Nothing here touches the kernel; see {@link Nft}.
 *
 * <pre>
 * table ip flannel-ipv4 {
 *   comment "rules for flannel-ipv4"
 *   chain postrtg {                       # --ip-masq
 *     comment "chain to manage traffic masquerading by flannel"
 *     type nat hook postrouting priority srcnat; policy accept;
 *     meta mark 0x00004000 return
 *     ip saddr P ip daddr C return
 *     ip saddr C ip daddr P return
 *     ip saddr != P ip daddr C return        # flannel's code; iptables rule 4 is "! -s C -d P"
 *     ip saddr C ip daddr != 224.0.0.0/4 masquerade fully-random
 *     ip saddr != C ip daddr C masquerade fully-random
 *   }
 *   chain forward {                       # --iptables-forward-rules
 *     comment "chain to accept flannel traffic"
 *     type filter hook forward priority filter; policy accept;
 *     ip saddr C accept
 *     ip daddr C accept
 *   }
 * }
 * table ip6 flannel-ipv6 {                # always created, like flannel; chains only with EnableIPv6
 *   comment "rules for flannel-ipv6"
 *   chain postrtg { ... }                 # the same rules with ip6 saddr/daddr, C6, P6 and ff00::/8
 *   chain forward { ... }                 # ip6 saddr C6 accept, ip6 daddr C6 accept
 * }
 * </pre>
 */
public final class NftRules {
  public static final String IPV4_TABLE = "flannel-ipv4";
  public static final String IPV6_TABLE = "flannel-ipv6";
  public static final String POSTRTG_CHAIN = "postrtg";
  public static final String FORWARD_CHAIN = "forward";
  public static final String POSTRTG_COMMENT = "chain to manage traffic masquerading by flannel";
  public static final String FORWARD_COMMENT = "chain to accept flannel traffic";
  /** kube-proxy's mark, matched exactly (flannel's nft rule; iptables masks with 0x4000). */
  public static final String KUBE_PROXY_MARK = "0x00004000";

  /** The peer filter's own table (family ip), its set of peer public IPs and its input chain. */
  public static final String FILTER_TABLE = "tartan-vxlan";
  public static final String FILTER_SET = "peers";
  public static final String FILTER_CHAIN = "input";
  public static final String FILTER_COMMENT = "tartan vxlan peer filter";

  private NftRules() {}

  /**
   * Table {@code ip flannel-ipv4}.
   *
   * @param masquerade  with chain {@code postrtg} ({@code --ip-masq})
   * @param randomFully {@code masquerade fully-random} instead of {@code masquerade}
   * @param forward     with chain {@code forward} ({@code --iptables-forward-rules})
   */
  public static NftTable ipv4(Ipv4Subnet network, Ipv4Subnet subnet, boolean masquerade, boolean randomFully,
      boolean forward) {
    List<NftChain> chains = new ArrayList<>();
    if (masquerade) {
      chains.add(postrtg(network, subnet, randomFully));
    }
    if (forward) {
      chains.add(forward(network));
    }
    return new NftTable("ip", IPV4_TABLE, "rules for " + IPV4_TABLE, List.of(), chains);
  }

  /** Table {@code ip6 flannel-ipv6} without IPv6: flannel creates it in any case; it stays empty. */
  public static NftTable ipv6() {
    return new NftTable("ip6", IPV6_TABLE, "rules for " + IPV6_TABLE, List.of(), List.of());
  }

  /**
   * Table {@code ip6 flannel-ipv6} of a dual-stack network: the chains of {@link #ipv4} for
   * {@code IPv6Network} and this host's IPv6 subnet (flannel's nftables code, family ip6).
   */
  public static NftTable ipv6(Ipv6Subnet network, Ipv6Subnet subnet, boolean masquerade, boolean randomFully,
      boolean forward) {
    List<NftChain> chains = new ArrayList<>();
    if (masquerade) {
      chains.add(postrtg("ip6", network.toString(), subnet.toString(), MasqRules.MULTICAST6, randomFully));
    }
    if (forward) {
      chains.add(forward("ip6", network.toString()));
    }
    return new NftTable("ip6", IPV6_TABLE, "rules for " + IPV6_TABLE, List.of(), chains);
  }

  /** Chain {@code postrtg}: the rules of flannel's addMasqRules, in its order. */
  public static NftChain postrtg(Ipv4Subnet network, Ipv4Subnet subnet, boolean randomFully) {
    return postrtg("ip", network.toString(), subnet.toString(), MasqRules.MULTICAST, randomFully);
  }

  private static NftChain postrtg(String family, String c, String p, String multicast, boolean randomFully) {
    String masq = randomFully ? "masquerade fully-random" : "masquerade";
    String f = family + " ";
    List<String> rules = List.of(
        "meta mark " + KUBE_PROXY_MARK + " return",
        f + "saddr " + p + " " + f + "daddr " + c + " return",
        f + "saddr " + c + " " + f + "daddr " + p + " return",
        f + "saddr != " + p + " " + f + "daddr " + c + " return",
        f + "saddr " + c + " " + f + "daddr != " + multicast + " " + masq,
        f + "saddr != " + c + " " + f + "daddr " + c + " " + masq);
    return new NftChain(POSTRTG_CHAIN, "nat", "postrouting", "srcnat", 100, POSTRTG_COMMENT, rules);
  }

  /** Chain {@code forward}: accept forwarded traffic from and to the pod network. */
  public static NftChain forward(Ipv4Subnet network) {
    return forward("ip", network.toString());
  }

  private static NftChain forward(String family, String c) {
    return new NftChain(FORWARD_CHAIN, "filter", "forward", "filter", 0, FORWARD_COMMENT,
        List.of(family + " saddr " + c + " accept", family + " daddr " + c + " accept"));
  }

  /**
   * Table {@code ip tartan-vxlan}: UDP to the VXLAN port is accepted from the set {@code peers} and
   * dropped from anyone else. A drop in any base chain is final in nftables, so no accept elsewhere
   * can bypass it; its priority (filter - 1) only makes it run before iptables' INPUT.
   *
   * <pre>
   * table ip tartan-vxlan {
   *   comment "tartan vxlan peer filter"
   *   set peers { type ipv4_addr; elements = { 198.51.100.2, ... } }
   *   chain input {
   *     type filter hook input priority filter - 1; policy accept;
   *     udp dport 8472 ip saddr @peers counter accept
   *     udp dport 8472 counter drop
   *   }
   * }
   * </pre>
   */
  public static NftTable vxlanFilter(int port, Collection<Inet4Address> peers) {
    VxlanFilterRules.jump(port); // checks the port
    List<Inet4Address> sorted = new ArrayList<>(peers);
    sorted.sort((a, b) -> Integer.compareUnsigned(Ipv4Subnet.toInt(a), Ipv4Subnet.toInt(b)));
    List<String> elements = sorted.stream().map(Inet4Address::getHostAddress).distinct().toList();
    NftSet set = new NftSet(FILTER_SET, "ipv4_addr", elements);
    NftChain input = new NftChain(FILTER_CHAIN, "filter", "input", "filter - 1", -1, null, List.of(
        "udp dport " + port + " ip saddr @" + FILTER_SET + " counter accept",
        "udp dport " + port + " counter drop"));
    return new NftTable("ip", FILTER_TABLE, FILTER_COMMENT, List.of(set), List.of(input));
  }
}
