package dev.tartan.store;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import java.net.Inet4Address;
import java.util.Objects;

/**
 * The validated content of {@code <prefix>/config} (flannel's network config), with flannel's
 * defaults applied. IPv6 fields are carried for later; Tartan programs IPv4 only today.
 *
 * @param network        {@code Network}, network-masked
 * @param subnetLen      {@code SubnetLen} (default 24, or prefix+2 for small networks)
 * @param subnetMin      first subnet that may be leased (default: network + one subnet)
 * @param subnetMax      last subnet that may be leased (default: the last subnet)
 * @param enableIPv4     {@code EnableIPv4} (default true)
 * @param enableIPv6     {@code EnableIPv6} (default false)
 * @param ipv6Network    {@code IPv6Network}, network-masked, or null
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
    boolean enableNFTables,
    String backendType,
    String backendJson) {

  public NetworkConfig {
    Objects.requireNonNull(network, "network");
    Objects.requireNonNull(backendType, "backendType");
    Objects.requireNonNull(backendJson, "backendJson");
  }

  /**
   * Parses {@code <prefix>/config} with flannel's rules: keys are case-insensitive and unknown keys
   * ignored; {@code SubnetLen}/{@code SubnetMin}/{@code SubnetMax} get flannel's defaults; invalid
   * values give flannel's error texts. Unlike flannel, a missing {@code Backend} is an error (flannel
   * silently picks "udp"). IPv6 fields are validated when {@code EnableIPv6} is true; an IPv6-only
   * config ({@code EnableIPv4: false}) is rejected.
   *
   * @throws NetworkConfigException with a one-line message naming the problem
   */
  public static NetworkConfig parse(String json) throws NetworkConfigException {
    return NetworkConfigParser.parse(json).config();
  }

  /** True when {@code subnet} has the configured length and lies within [SubnetMin, SubnetMax]. */
  public boolean accepts(Ipv4Subnet subnet) {
    int ip = subnet.address();
    return subnet.prefixLength() == subnetLen
        && Integer.compareUnsigned(ip, Ipv4Subnet.toInt(subnetMin)) >= 0
        && Integer.compareUnsigned(ip, Ipv4Subnet.toInt(subnetMax)) <= 0;
  }
}
