package dev.tartan.agent.subnetenv;

import static java.util.Objects.requireNonNull;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Text;
import java.math.BigInteger;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The content of flannel's {@code subnet.env} (docs/flannel-compat.md §3.1), read by the CNI plugin.
 *
 * @param network     {@code FLANNEL_NETWORK}, the whole overlay network
 * @param subnet      this host's lease, network-masked ({@code 10.5.72.0/24}); the file carries
 *                    the gateway form {@code 10.5.72.1/24} (see {@link #gateway()})
 * @param mtu         {@code FLANNEL_MTU}, the overlay MTU (uplink MTU - 50 for VXLAN)
 * @param ipMasq      {@code FLANNEL_IPMASQ}, the value of {@code --ip-masq}
 * @param ipv6Network {@code FLANNEL_IPV6_NETWORK} as masked CIDR text, or null (IPv4 only)
 * @param ipv6Subnet  the IPv6 lease as masked CIDR text (written as {@code <subnet + 1>/len}), or
 *                    null; set together with {@code ipv6Network}
 */
public record SubnetEnv(Ipv4Subnet network, Ipv4Subnet subnet, int mtu, boolean ipMasq,
    String ipv6Network, String ipv6Subnet) {

  static final String NETWORK = "FLANNEL_NETWORK";
  static final String SUBNET = "FLANNEL_SUBNET";
  static final String IPV6_NETWORK = "FLANNEL_IPV6_NETWORK";
  static final String IPV6_SUBNET = "FLANNEL_IPV6_SUBNET";
  static final String MTU = "FLANNEL_MTU";
  static final String IPMASQ = "FLANNEL_IPMASQ";

  public SubnetEnv {
    requireNonNull(network, "network");
    requireNonNull(subnet, "subnet");
    if (!network.contains(subnet)) {
      throw new IllegalArgumentException("subnet " + subnet + " is not inside network " + network);
    }
    if (subnet.prefixLength() > 30) {
      throw new IllegalArgumentException("subnet " + subnet + " has no room for a gateway and hosts");
    }
    if (mtu < 68 || mtu > 65535) {
      throw new IllegalArgumentException("MTU must be 68..65535, got " + mtu);
    }
    if ((ipv6Network == null) != (ipv6Subnet == null)) {
      throw new IllegalArgumentException("ipv6Network and ipv6Subnet must be set together");
    }
    if (ipv6Network != null) {
      ipv6Network = V6.masked(ipv6Network);
      ipv6Subnet = V6.masked(ipv6Subnet);
    }
  }

  /** IPv4 only (no FLANNEL_IPV6_* lines). */
  public static SubnetEnv of(Ipv4Subnet network, Ipv4Subnet subnet, int mtu, boolean ipMasq) {
    return new SubnetEnv(network, subnet, mtu, ipMasq, null, null);
  }

  /** The bridge address {@code <subnet>.1}, which {@code FLANNEL_SUBNET} carries. */
  public Inet4Address gateway() {
    return subnet.host(1);
  }

  /**
   * The file content, exactly flanneld's: {@code KEY=value\n} lines in the order NETWORK, SUBNET,
   * IPV6_NETWORK, IPV6_SUBNET (when set), MTU, IPMASQ.
   */
  public String render() {
    StringBuilder b = new StringBuilder();
    line(b, NETWORK, network.toString());
    line(b, SUBNET, Ipv4Subnet.format(Ipv4Subnet.toInt(gateway())) + "/" + subnet.prefixLength());
    if (ipv6Network != null) {
      line(b, IPV6_NETWORK, ipv6Network);
      line(b, IPV6_SUBNET, V6.plusOne(ipv6Subnet));
    }
    line(b, MTU, Integer.toString(mtu));
    line(b, IPMASQ, Boolean.toString(ipMasq));
    return b.toString();
  }

  private static void line(StringBuilder b, String key, String value) {
    b.append(key).append('=').append(value).append('\n');
  }

  /**
   * Parses a subnet.env (flanneld's or ours): {@code KEY=value} lines, blank lines and {@code #}
   * comments allowed, optional {@code export } and quotes. Subnets are network-masked
   * ({@code 10.5.72.1/24} gives {@code 10.5.72.0/24}).
   *
   * @throws IllegalArgumentException naming the missing or bad variables
   */
  public static SubnetEnv parse(String text) {
    Map<String, String> vars = variables(text);
    List<String> missing = new ArrayList<>();
    for (String k : List.of(NETWORK, SUBNET, MTU, IPMASQ)) {
      if (!vars.containsKey(k)) {
        missing.add(k);
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("subnet.env is missing " + String.join(", ", missing));
    }
    Ipv4Subnet network = single(NETWORK, vars.get(NETWORK));
    Ipv4Subnet subnet = single(SUBNET, vars.get(SUBNET));
    int mtu;
    try {
      mtu = Integer.parseInt(vars.get(MTU));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(MTU + " is not a number: " + vars.get(MTU));
    }
    String masq = vars.get(IPMASQ);
    if (!masq.equals("true") && !masq.equals("false")) {
      throw new IllegalArgumentException(IPMASQ + " must be true or false, got " + masq);
    }
    String v6Net = vars.get(IPV6_NETWORK);
    String v6Sub = vars.get(IPV6_SUBNET);
    try {
      return new SubnetEnv(network, subnet, mtu, masq.equals("true"), v6Net, v6Sub);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("subnet.env is inconsistent: " + e.getMessage(), e);
    }
  }

  private static Ipv4Subnet single(String key, String value) {
    if (value.contains(",")) {
      throw new IllegalArgumentException(key + " holds several values (" + value + "), expected one");
    }
    try {
      return Ipv4Subnet.parse(value.trim());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(key + " is not an IPv4 CIDR: " + value);
    }
  }

  /** dotenv-style {@code KEY=value} lines; later duplicates win. */
  static Map<String, String> variables(String text) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String raw : text.split("\r?\n")) {
      String line = raw.trim();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      if (line.startsWith("export ")) {
        line = line.substring("export ".length()).trim();
      }
      int eq = line.indexOf('=');
      if (eq <= 0) {
        continue;
      }
      String key = line.substring(0, eq).trim();
      String value = line.substring(eq + 1).trim();
      if (value.length() >= 2 && (value.startsWith("\"") && value.endsWith("\"")
          || value.startsWith("'") && value.endsWith("'"))) {
        value = value.substring(1, value.length() - 1);
      }
      out.put(key, value);
    }
    return out;
  }

  /** IPv6 CIDR text helpers (Go's canonical form, via the store's Ipv6Text). */
  static final class V6 {
    private V6() {}

    static String masked(String cidr) {
      Object[] p = split(cidr);
      BigInteger value = (BigInteger) p[0];
      int len = (Integer) p[1];
      return Ipv6Text.format(Ipv6Text.fromBigInteger(value.and(Ipv6Text.mask(len)))) + "/" + len;
    }

    static String plusOne(String maskedCidr) {
      Object[] p = split(maskedCidr);
      return Ipv6Text.format(Ipv6Text.fromBigInteger(((BigInteger) p[0]).add(BigInteger.ONE)))
          + "/" + p[1];
    }

    private static Object[] split(String cidr) {
      int slash = cidr.indexOf('/');
      if (slash < 0) {
        throw new IllegalArgumentException("not an IPv6 CIDR: " + cidr);
      }
      int len;
      try {
        len = Integer.parseInt(cidr.substring(slash + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not an IPv6 CIDR: " + cidr);
      }
      if (len < 0 || len > 127) {
        throw new IllegalArgumentException("not an IPv6 CIDR: " + cidr);
      }
      return new Object[] {Ipv6Text.toBigInteger(Ipv6Text.parse(cidr.substring(0, slash))), len};
    }
  }
}
