package dev.tartan.cni.delegate;

import dev.tartan.cni.CniException;
import dev.tartan.cni.json.Json;
import dev.tartan.cni.json.JsonStruct;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the config handed to the delegate plugin from the plugin's network config and subnet.env, exactly
 * as flannel's CNI plugin does (flannel-compat.md §5.3):
 *
 * <ul>
 *   <li>{@code delegate} is the base: {@code type} must be a string if present; {@code name} and {@code ipam}
 *       are refused (they are set here). Top-level {@code runtimeConfig} is copied in.
 *   <li>{@code name} = network name; {@code type} defaults to {@code bridge}; {@code ipMasq} defaults to
 *       {@code !FLANNEL_IPMASQ}; {@code mtu} defaults to {@code FLANNEL_MTU}; for {@code bridge},
 *       {@code isGateway} defaults to true; {@code cniVersion} is copied when set. Values in {@code delegate}
 *       win. Nothing else is added (the bridge plugin itself defaults the bridge name to {@code cni0}).
 *   <li>{@code ipam} starts from the top-level {@code ipam} (all keys kept), {@code type} defaults to
 *       {@code host-local}, {@code ranges} is replaced by the subnet(s), {@code routes} is the given routes
 *       followed by one {@code {"dst": network}} per {@code FLANNEL_NETWORK}, then per IPv6 network.
 * </ul>
 *
 * The result is written with sorted keys ({@link #serialize}), as Go marshals a map.
 */
public final class DelegateConf {
  /** The delegate when the config names none. */
  public static final String DEFAULT_TYPE = "bridge";

  private DelegateConf() {}

  /**
   * Builds the delegate config. {@code netconf} is not modified.
   *
   * @throws CniException code 7 naming the offending field
   */
  public static Map<String, Object> build(Map<String, Object> netconf, SubnetEnv env) throws CniException {
    Map<String, Object> delegate = new LinkedHashMap<>();
    Object given = netconf.get("delegate");
    if (given != null) {
      Map<String, Object> base = object(given, "delegate");
      if (base.containsKey("type") && !(base.get("type") instanceof String)) {
        throw invalid("'delegate' dictionary, if present, must have (string) 'type' field");
      }
      if (base.containsKey("name")) {
        throw invalid("'delegate' dictionary must not have 'name' field, it'll be set by the plugin");
      }
      if (base.containsKey("ipam")) {
        throw invalid("'delegate' dictionary must not have 'ipam' field, it'll be set by the plugin");
      }
      delegate.putAll(base);
    }
    Object runtimeConfig = netconf.get("runtimeConfig");
    if (runtimeConfig != null) {
      delegate.put("runtimeConfig", object(runtimeConfig, "runtimeConfig"));
    }
    Object name = netconf.get("name");
    if (!(name instanceof String) || ((String) name).isEmpty()) {
      throw invalid("missing network name");
    }
    delegate.put("name", name);
    if (!delegate.containsKey("type")) {
      delegate.put("type", DEFAULT_TYPE);
    }
    if (!delegate.containsKey("ipMasq")) {
      delegate.put("ipMasq", !env.ipMasq());
    }
    if (!delegate.containsKey("mtu")) {
      delegate.put("mtu", env.mtu());
    }
    if (DEFAULT_TYPE.equals(delegate.get("type")) && !delegate.containsKey("isGateway")) {
      delegate.put("isGateway", Boolean.TRUE);
    }
    Object cniVersion = netconf.get("cniVersion");
    if (cniVersion instanceof String && !((String) cniVersion).isEmpty()) {
      delegate.put("cniVersion", cniVersion);
    }
    delegate.put("ipam", ipam(netconf.get("ipam"), env));
    return delegate;
  }

  /** The delegate config as saved and piped to the delegate: compact JSON, keys sorted (Go map order). */
  public static byte[] serialize(Map<String, Object> delegate) {
    return Json.writeSorted(delegate).getBytes(StandardCharsets.UTF_8);
  }

  private static Map<String, Object> ipam(Object given, SubnetEnv env) throws CniException {
    Map<String, Object> ipam = new LinkedHashMap<>();
    if (given != null) {
      ipam.putAll(object(given, "ipam"));
    }
    if (!ipam.containsKey("type")) {
      ipam.put("type", "host-local");
    }
    List<Object> ranges = new ArrayList<>();
    if (env.subnet() != null) {
      ranges.add(List.of(Map.of("subnet", env.subnet().toString())));
    }
    if (env.ipv6Subnet() != null) {
      ranges.add(List.of(Map.of("subnet", env.ipv6Subnet().toString())));
    }
    ipam.put("ranges", ranges);
    List<Object> routes = routes(ipam.get("routes"));
    for (Cidr network : env.networks()) {
      routes.add(route(network.toString()));
    }
    for (Cidr network : env.ipv6Networks()) {
      routes.add(route(network.toString()));
    }
    ipam.put("routes", routes);
    return ipam;
  }

  /** Re-reads {@code ipam.routes} the way Go's {@code types.Route} does: known fields only, in struct order. */
  private static List<Object> routes(Object given) throws CniException {
    List<Object> out = new ArrayList<>();
    if (given == null) {
      return out;
    }
    if (!(given instanceof List)) {
      throw invalid("failed to read IPAM routes: ipam.routes must be an array, got " + Json.typeName(given));
    }
    List<?> list = (List<?>) given;
    for (int i = 0; i < list.size(); i++) {
      String where = "ipam.routes[" + i + "]";
      if (!(list.get(i) instanceof Map)) {
        throw invalid("failed to read IPAM routes: " + where + " must be an object");
      }
      Map<?, ?> r = (Map<?, ?>) list.get(i);
      JsonStruct route = new JsonStruct();
      Object dst = r.get("dst");
      if (!(dst instanceof String)) {
        throw invalid("failed to read IPAM routes: " + where + ".dst must be a CIDR string");
      }
      try {
        route.put("dst", Cidr.parse((String) dst, false).toString());
      } catch (IllegalArgumentException e) {
        throw invalid("failed to read IPAM routes: " + where + ".dst " + e.getMessage());
      }
      Object gw = r.get("gw");
      if (gw != null) {
        byte[] ip = gw instanceof String ? Cidr.parseIp((String) gw) : null;
        if (ip == null) {
          throw invalid("failed to read IPAM routes: " + where + ".gw must be an IP address");
        }
        route.put("gw", Cidr.format(ip));
      }
      for (String key : new String[] {"mtu", "advmss", "priority", "table", "scope"}) {
        Object v = r.get(key);
        if (v == null) {
          continue;
        }
        if (!(v instanceof Long)) {
          throw invalid("failed to read IPAM routes: " + where + "." + key + " must be an integer");
        }
        boolean pointer = key.equals("table") || key.equals("scope"); // *int in Go: 0 is kept
        if (pointer || (Long) v != 0) {
          route.put(key, v);
        }
      }
      out.add(route);
    }
    return out;
  }

  private static JsonStruct route(String dst) {
    JsonStruct r = new JsonStruct();
    r.put("dst", dst);
    return r;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> object(Object value, String field) throws CniException {
    if (!(value instanceof Map)) {
      throw invalid("'" + field + "' must be an object, got " + Json.typeName(value));
    }
    return (Map<String, Object>) value;
  }

  private static CniException invalid(String msg) {
    return new CniException(CniException.INVALID_NETWORK_CONFIG, msg, "");
  }
}
