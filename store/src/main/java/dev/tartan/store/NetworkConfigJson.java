package dev.tartan.store;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.util.Locale;
import java.util.Objects;

/** Builds the {@code <prefix>/config} JSON that {@code tartan network init} writes, with flannel's field names. */
public final class NetworkConfigJson {

  private NetworkConfigJson() {}

  /**
   * Returns compact JSON such as
   * {@code {"Network":"10.244.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan","VNI":1}}}. Optional
   * arguments (null) are left out so flannel's defaults apply. The result is validated with
   * {@link NetworkConfig#parse}, so an impossible combination fails here with flannel's error text.
   *
   * @param network     {@code Network} (required)
   * @param subnetLen   {@code SubnetLen}, or null
   * @param subnetMin   {@code SubnetMin}, or null
   * @param subnetMax   {@code SubnetMax}, or null
   * @param backendType {@code Backend.Type}, null means "vxlan"
   * @param vni         {@code Backend.VNI}, or null (flannel's default 1)
   * @param port        {@code Backend.Port}, or null (kernel default 8472)
   */
  public static String build(Ipv4Subnet network, Integer subnetLen, Inet4Address subnetMin,
      Inet4Address subnetMax, String backendType, Integer vni, Integer port) throws NetworkConfigException {
    Objects.requireNonNull(network, "network");
    ObjectNode root = NetworkConfigParser.JSON.createObjectNode();
    root.put("Network", network.toString());
    if (subnetLen != null) {
      root.put("SubnetLen", subnetLen);
    }
    if (subnetMin != null) {
      root.put("SubnetMin", subnetMin.getHostAddress());
    }
    if (subnetMax != null) {
      root.put("SubnetMax", subnetMax.getHostAddress());
    }
    ObjectNode backend = root.putObject("Backend");
    backend.put("Type", backendType == null ? "vxlan" : backendType.toLowerCase(Locale.ROOT));
    if (vni != null) {
      if (vni < 0 || vni > 0xffffff) {
        throw new NetworkConfigException("VNI must be 0..16777215, got " + vni);
      }
      backend.put("VNI", vni);
    }
    if (port != null) {
      if (port < 0 || port > 65535) {
        throw new NetworkConfigException("Port must be 0..65535, got " + port);
      }
      backend.put("Port", port);
    }
    String json;
    try {
      json = NetworkConfigParser.JSON.writeValueAsString(root);
    } catch (JsonProcessingException e) {
      throw new AssertionError(e);
    }
    NetworkConfig.parse(json);
    return json;
  }

  /**
   * {@code json} (from {@link #build}) with dual stack: {@code "EnableIPv6": true},
   * {@code IPv6Network} and the optional {@code IPv6SubnetLen}, {@code IPv6SubnetMin},
   * {@code IPv6SubnetMax} (null: flannel's defaults), placed before {@code Backend}. Validated with
   * {@link NetworkConfig#parse}; an error names the IPv6 settings.
   */
  public static String withIpv6(String json, Ipv6Subnet network6, Integer subnetLen, Inet6Address subnetMin,
      Inet6Address subnetMax) throws NetworkConfigException {
    Objects.requireNonNull(json, "json");
    Objects.requireNonNull(network6, "network6");
    ObjectNode out = NetworkConfigParser.JSON.createObjectNode();
    try {
      ObjectNode root = (ObjectNode) NetworkConfigParser.JSON.readTree(json);
      root.fields().forEachRemaining(e -> {
        if (e.getKey().equals("Backend")) {
          out.put("EnableIPv6", true);
          out.put("IPv6Network", network6.toString());
          if (subnetLen != null) {
            out.put("IPv6SubnetLen", subnetLen);
          }
          if (subnetMin != null) {
            out.put("IPv6SubnetMin", Ipv6Text.format(subnetMin));
          }
          if (subnetMax != null) {
            out.put("IPv6SubnetMax", Ipv6Text.format(subnetMax));
          }
        }
        out.set(e.getKey(), e.getValue());
      });
    } catch (JsonProcessingException | ClassCastException e) {
      throw new IllegalArgumentException("not a network config object: " + json, e);
    }
    String result;
    try {
      result = NetworkConfigParser.JSON.writeValueAsString(out);
    } catch (JsonProcessingException e) {
      throw new AssertionError(e);
    }
    try {
      NetworkConfig.parse(result);
    } catch (NetworkConfigException e) {
      throw new NetworkConfigException("invalid IPv6 settings: " + e.getMessage());
    }
    return result;
  }
}
