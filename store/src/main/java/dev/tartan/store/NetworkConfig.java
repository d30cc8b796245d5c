package dev.tartan.store;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.util.Objects;

/**
 * The validated content of {@code <prefix>/config} (flannel's network config), with flannel's
 * defaults applied, IPv4 and (with {@code EnableIPv6}) IPv6.
 *
 * @param network        {@code Network}, network-masked
 * @param subnetLen      {@code SubnetLen} (default 24, or prefix+2 for small networks)
 * @param subnetMin      first subnet that may be leased (default: network + one subnet)
 * @param subnetMax      last subnet that may be leased (default: the last subnet)
 * @param enableIPv4     {@code EnableIPv4} (default true)
 * @param enableIPv6     {@code EnableIPv6} (default false)
 * @param ipv6Network    {@code IPv6Network}, network-masked, or null (IPv6 disabled)
 * @param ipv6SubnetLen  {@code IPv6SubnetLen} (default 64, or prefix+2 for small networks); 0 when disabled
 * @param ipv6SubnetMin  first IPv6 subnet that may be leased (default: network + one subnet), or null
 * @param ipv6SubnetMax  last IPv6 subnet that may be leased (default: the last subnet), or null
 * @param enableNFTables {@code EnableNFTables} (default false)
 * @param backendType    {@code Backend.Type}, lower-cased ("vxlan")
 * @param backendJson    the raw {@code Backend} object, for the backend to read its own keys
 */
public record NetworkConfig(
    Ipv4Subnet network,
    int subnetLen,
    Inet4Address subnetMin,
    Inet4Address subnetMax,
    boolean enableIPv4,
    boolean enableIPv6,
    Ipv6Subnet ipv6Network,
    int ipv6SubnetLen,
    Inet6Address ipv6SubnetMin,
    Inet6Address ipv6SubnetMax,
    boolean enableNFTables,
    String backendType,
    String backendJson) {

  public NetworkConfig {
    Objects.requireNonNull(network, "network");
    Objects.requireNonNull(backendType, "backendType");
    Objects.requireNonNull(backendJson, "backendJson");
    if (enableIPv6 && (ipv6Network == null || ipv6SubnetMin == null || ipv6SubnetMax == null
        || ipv6SubnetLen < ipv6Network.prefixLength() || ipv6SubnetLen > 128)) {
      throw new IllegalArgumentException("EnableIPv6 needs the IPv6 network and its subnet range");
    }
  }

  /**
   * Parses {@code <prefix>/config} with flannel's rules: keys are case-insensitive and unknown keys
   * ignored; {@code SubnetLen}/{@code SubnetMin}/{@code SubnetMax} get flannel's defaults; invalid
   * values give flannel's error texts. Unlike flannel, a missing {@code Backend} is an error (flannel
   * silently picks "udp"). IPv6 fields are validated and defaulted when {@code EnableIPv6} is true; an IPv6-only
   * config ({@code EnableIPv4: false}) is rejected.
   *
   * @throws NetworkConfigException with a one-line message naming the problem
   */
  public static NetworkConfig parse(String json) throws NetworkConfigException {
    return NetworkConfigParser.parse(json);
  }

  /** True when {@code subnet} has the configured length and lies within [SubnetMin, SubnetMax]. */
  public boolean accepts(Ipv4Subnet subnet) {
    int ip = subnet.address();
    return subnet.prefixLength() == subnetLen
        && Integer.compareUnsigned(ip, Ipv4Subnet.toInt(subnetMin)) >= 0
        && Integer.compareUnsigned(ip, Ipv4Subnet.toInt(subnetMax)) <= 0;
  }

  /**
   * True when IPv6 is enabled and {@code subnet} has IPv6SubnetLen and lies within
   * [IPv6SubnetMin, IPv6SubnetMax]; false for null.
   */
  public boolean acceptsV6(Ipv6Subnet subnet) {
    if (!enableIPv6 || subnet == null || subnet.prefixLength() != ipv6SubnetLen) {
      return false;
    }
    Ipv6Subnet lo = Ipv6Subnet.of(ipv6SubnetMin, 128);
    Ipv6Subnet hi = Ipv6Subnet.of(ipv6SubnetMax, 128);
    Ipv6Subnet at = new Ipv6Subnet(subnet.high(), subnet.low(), 128);
    return at.compareTo(lo) >= 0 && at.compareTo(hi) <= 0;
  }

  /** The IPv6 subnet range for messages: {@code /64 between fc00:0:0:1:: and fc00:0:0:ffff::}. */
  public String ipv6RangeText() {
    return enableIPv6 ? "/" + ipv6SubnetLen + " between " + Ipv6Text.format(ipv6SubnetMin)
        + " and " + Ipv6Text.format(ipv6SubnetMax) : "IPv6 disabled";
  }
}
