package dev.tartan.store;

import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import dev.tartan.net.Ipv4Subnet;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.math.BigInteger;
import java.net.Inet6Address;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * Flannel's {@code ParseConfig} + {@code CheckNetworkConfig}: case-insensitive keys, unknown keys
 * ignored, flannel's defaults and its exact error texts. Pure.
 */
final class NetworkConfigParser {

  static final ObjectMapper JSON =
      JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

  static final String BACKEND_MISSING =
      "Backend is missing in the network config: add \"Backend\": {\"Type\": \"vxlan\"}";

  /** The IPv6 half of the config after flannel's defaulting. */
  private record Ipv6Range(Inet6Address network, int prefixLength, int subnetLen, Inet6Address subnetMin,
      Inet6Address subnetMax) {
    Ipv6Subnet subnet() {
      return Ipv6Subnet.of(network, prefixLength);
    }
  }

  private final Map<String, JsonNode> fields = new HashMap<>();

  private NetworkConfigParser() {}

  static NetworkConfig parse(String json) throws NetworkConfigException {
    if (json == null) {
      throw new NetworkConfigException("network config is empty");
    }
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new NetworkConfigException("network config is not valid JSON: " + e.getOriginalMessage());
    }
    if (root == null || root.isMissingNode()) {
      throw new NetworkConfigException("network config is empty");
    }
    if (!root.isObject()) {
      throw new NetworkConfigException("network config must be a JSON object, got: " + abbreviate(root));
    }
    NetworkConfigParser p = new NetworkConfigParser();
    // Go's encoding/json matches keys case-insensitively; the last occurrence wins.
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      p.fields.put(e.getKey().toLowerCase(Locale.ROOT), e.getValue());
    }
    return p.build();
  }

  private NetworkConfig build() throws NetworkConfigException {
    boolean enableIPv4 = bool("EnableIPv4", true);
    boolean enableIPv6 = bool("EnableIPv6", false);
    boolean enableNFTables = bool("EnableNFTables", false);
    Ipv4Subnet network = cidr4("Network");
    long subnetLen = uint("SubnetLen");
    int subnetMin = ipv4("SubnetMin");
    int subnetMax = ipv4("SubnetMax");
    Inet6Address v6Network = null;
    int v6Prefix = 0;
    String v6NetworkText = text("IPv6Network");
    if (v6NetworkText != null) {
      int slash = v6NetworkText.indexOf('/');
      try {
        if (slash < 0) {
          throw new IllegalArgumentException();
        }
        v6Prefix = Integer.parseInt(v6NetworkText.substring(slash + 1));
        if (v6Prefix < 0 || v6Prefix > 128) {
          throw new IllegalArgumentException();
        }
        Inet6Address a = Ipv6Text.parse(v6NetworkText.substring(0, slash));
        v6Network = Ipv6Text.fromBigInteger(Ipv6Text.toBigInteger(a).and(Ipv6Text.mask(v6Prefix)));
      } catch (IllegalArgumentException e) {
        throw new NetworkConfigException(
            "invalid IPv6Network in the network config: invalid CIDR address: " + v6NetworkText);
      }
    }
    long v6SubnetLen = uint("IPv6SubnetLen");
    Inet6Address v6Min = ipv6("IPv6SubnetMin");
    Inet6Address v6Max = ipv6("IPv6SubnetMax");
    JsonNode backend = fields.get("backend");

    if (!enableIPv4) {
      throw new NetworkConfigException(
          "EnableIPv4 false (an IPv6-only network) is not supported in etcd mode: remove \"EnableIPv4\": false");
    }
    // IPv4 (flannel's CheckNetworkConfig, in its order).
    if (network == null || (network.address() == 0 && network.prefixLength() == 0)) {
      throw new NetworkConfigException("please define a correct Network parameter in the flannel config");
    }
    int len;
    if (subnetLen > 0) {
      if (subnetLen > 30) {
        throw new NetworkConfigException("SubnetLen must be less than /31");
      }
      if (subnetLen < network.prefixLength() + 2) {
        throw new NetworkConfigException("network must be able to accommodate at least four subnets");
      }
      len = (int) subnetLen;
    } else if (network.prefixLength() > 28) {
      throw new NetworkConfigException("network is too small. Minimum useful network prefix is /28");
    } else if (network.prefixLength() <= 22) {
      len = 24;
    } else {
      len = network.prefixLength() + 2;
    }
    int size = 1 << (32 - len);
    int min;
    if (subnetMin == 0) {
      min = network.address() + size;
    } else if (!network.contains(subnetMin)) {
      throw new NetworkConfigException("SubnetMin is not in the range of the Network");
    } else {
      min = subnetMin;
    }
    int max;
    if (subnetMax == 0) {
      max = (int) (Integer.toUnsignedLong(network.address()) + network.size() - size);
    } else if (!network.contains(subnetMax)) {
      throw new NetworkConfigException("SubnetMax is not in the range of the Network");
    } else {
      max = subnetMax;
    }
    int mask = Ipv4Subnet.mask(len);
    if ((min & mask) != min) {
      throw new NetworkConfigException("SubnetMin is not on a SubnetLen boundary: " + Ipv4Subnet.format(min));
    }
    if ((max & mask) != max) {
      throw new NetworkConfigException("SubnetMax is not on a SubnetLen boundary: " + Ipv4Subnet.format(max));
    }

    Ipv6Range v6 = null;
    if (enableIPv6) {
      v6 = checkIpv6(v6Network, v6Prefix, v6SubnetLen, v6Min, v6Max);
    }

    // Tartan deviates from flannel here: no silent "udp" when Backend is absent.
    if (backend == null || backend.isNull()) {
      throw new NetworkConfigException(BACKEND_MISSING);
    }
    if (!backend.isObject()) {
      throw new NetworkConfigException(
          "error decoding Backend property of config: Backend must be a JSON object, got: " + abbreviate(backend));
    }
    String type = null;
    for (Iterator<Map.Entry<String, JsonNode>> it = backend.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().equalsIgnoreCase("Type")) {
        if (!e.getValue().isTextual() && !e.getValue().isNull()) {
          throw new NetworkConfigException(
              "error decoding Backend property of config: Backend.Type must be a string, got: "
                  + abbreviate(e.getValue()));
        }
        type = e.getValue().isNull() ? null : e.getValue().asText();
      }
    }
    if (type == null || type.isEmpty()) {
      throw new NetworkConfigException(
          "Backend.Type is missing in the network config: add \"Type\": \"vxlan\" to \"Backend\"");
    }
    String backendJson;
    try {
      backendJson = JSON.writeValueAsString(backend);
    } catch (JsonProcessingException e) {
      throw new AssertionError(e);
    }
    NetworkConfig cfg = new NetworkConfig(network, len, Ipv4Subnet.toInet(min), Ipv4Subnet.toInet(max),
        true, enableIPv6, v6 == null ? null : v6.subnet(), v6 == null ? 0 : v6.subnetLen(),
        v6 == null ? null : v6.subnetMin(), v6 == null ? null : v6.subnetMax(), enableNFTables,
        type.toLowerCase(Locale.ROOT), backendJson);
    return cfg;
  }

  private static Ipv6Range checkIpv6(Inet6Address network, int prefix, long subnetLen, Inet6Address min,
      Inet6Address max) throws NetworkConfigException {
    if (network == null || (prefix == 0 && Ipv6Text.toBigInteger(network).signum() == 0)) {
      throw new NetworkConfigException("please define a correct IPv6Network parameter in the flannel config");
    }
    int len;
    if (subnetLen > 0) {
      if (subnetLen > 126) {
        throw new NetworkConfigException("SubnetLen must be less than /127");
      }
      if (subnetLen < prefix + 2) {
        throw new NetworkConfigException("network must be able to accommodate at least four subnets");
      }
      len = (int) subnetLen;
    } else if (prefix > 124) {
      throw new NetworkConfigException("IPv6Network is too small. Minimum useful network prefix is /124");
    } else if (prefix <= 62) {
      len = 64;
    } else {
      len = prefix + 2;
    }
    BigInteger net = Ipv6Text.toBigInteger(network);
    BigInteger netMask = Ipv6Text.mask(prefix);
    BigInteger size = BigInteger.ONE.shiftLeft(128 - len);
    BigInteger lo;
    if (min == null || Ipv6Text.toBigInteger(min).signum() == 0) {
      lo = net.add(size);
    } else if (!Ipv6Text.toBigInteger(min).and(netMask).equals(net)) {
      throw new NetworkConfigException("IPv6SubnetMin is not in the range of the IPv6Network");
    } else {
      lo = Ipv6Text.toBigInteger(min);
    }
    BigInteger hi;
    if (max == null || Ipv6Text.toBigInteger(max).signum() == 0) {
      hi = net.add(BigInteger.ONE.shiftLeft(128 - prefix)).subtract(size);
    } else if (!Ipv6Text.toBigInteger(max).and(netMask).equals(net)) {
      throw new NetworkConfigException("IPv6SubnetMax is not in the range of the IPv6Network");
    } else {
      hi = Ipv6Text.toBigInteger(max);
    }
    BigInteger subMask = Ipv6Text.mask(len);
    if (!lo.and(subMask).equals(lo)) {
      throw new NetworkConfigException(
          "IPv6SubnetMin is not on a SubnetLen boundary: " + Ipv6Text.format(Ipv6Text.fromBigInteger(lo)));
    }
    if (!hi.and(subMask).equals(hi)) {
      throw new NetworkConfigException(
          "IPv6SubnetMax is not on a SubnetLen boundary: " + Ipv6Text.format(Ipv6Text.fromBigInteger(hi)));
    }
    return new Ipv6Range(network, prefix, len, Ipv6Text.fromBigInteger(lo), Ipv6Text.fromBigInteger(hi));
  }

  // --- typed field access (JSON null = absent, as for Go's zero values) -----------------------

  private JsonNode field(String name) {
    JsonNode n = fields.get(name.toLowerCase(Locale.ROOT));
    return n == null || n.isNull() ? null : n;
  }

  private boolean bool(String name, boolean dflt) throws NetworkConfigException {
    JsonNode n = field(name);
    if (n == null) {
      return dflt;
    }
    if (!n.isBoolean()) {
      throw typeError(name, "true or false", n);
    }
    return n.booleanValue();
  }

  private long uint(String name) throws NetworkConfigException {
    JsonNode n = field(name);
    if (n == null) {
      return 0;
    }
    if (!n.isIntegralNumber() || n.bigIntegerValue().signum() < 0) {
      throw typeError(name, "a non-negative integer", n);
    }
    BigInteger v = n.bigIntegerValue();
    return v.bitLength() > 62 ? Long.MAX_VALUE : v.longValue();
  }

  private String text(String name) throws NetworkConfigException {
    JsonNode n = field(name);
    if (n == null) {
      return null;
    }
    if (!n.isTextual()) {
      throw typeError(name, "a string", n);
    }
    return n.textValue();
  }

  /** An IPv4 address field; 0 when absent or "0.0.0.0" (flannel treats both as unset). */
  private int ipv4(String name) throws NetworkConfigException {
    String s = text(name);
    if (s == null) {
      return 0;
    }
    try {
      return Ipv4Subnet.parseAddress(s);
    } catch (IllegalArgumentException e) {
      throw new NetworkConfigException(
          "invalid " + name + " in the network config: invalid IPv4 address format: " + s);
    }
  }

  private Inet6Address ipv6(String name) throws NetworkConfigException {
    String s = text(name);
    if (s == null) {
      return null;
    }
    try {
      return Ipv6Text.parse(s);
    } catch (IllegalArgumentException e) {
      throw new NetworkConfigException(
          "invalid " + name + " in the network config: invalid IPv6 address format: " + s);
    }
  }

  private Ipv4Subnet cidr4(String name) throws NetworkConfigException {
    String s = text(name);
    if (s == null) {
      return null;
    }
    try {
      return Ipv4Subnet.parse(s);
    } catch (IllegalArgumentException e) {
      throw new NetworkConfigException(
          "invalid " + name + " in the network config: invalid CIDR address: " + s);
    }
  }

  private static NetworkConfigException typeError(String name, String expected, JsonNode got) {
    return new NetworkConfigException(
        "invalid " + name + " in the network config: must be " + expected + ", got " + abbreviate(got));
  }

  private static String abbreviate(JsonNode n) {
    String s = n.toString();
    return s.length() > 60 ? s.substring(0, 57) + "..." : s;
  }
}
