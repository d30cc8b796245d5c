package dev.tartan.cni;

import dev.tartan.cni.delegate.Cidr;
import dev.tartan.cni.json.JsonStruct;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Converts CNI results between spec versions, as libcni's {@code convert} functions do
 * (flannel-compat.md §6.4):
 *
 * <ul>
 *   <li>0.3.0, 0.3.1 and 0.4.0 share one shape: each IP carries {@code "version": "4"|"6"}; interfaces have
 *       name, mac, sandbox; routes dst, gw.
 *   <li>1.0.0 drops {@code version} from IPs; 1.1.0 has the same shape plus optional interface
 *       {@code mtu}/{@code socketPath}/{@code pciID} and route {@code mtu}/{@code advmss}/{@code priority}/
 *       {@code table}/{@code scope}, which converting to 0.x drops (1.0.0 keeps them, as libcni's shared
 *       1.x types do).
 * </ul>
 *
 * Only the spec's top-level keys are kept, in Go's struct order: cniVersion, interfaces, ips, routes, dns.
 */
final class Results {
  private Results() {}

  /**
   * A copy of {@code result} in version {@code to}.
   *
   * @throws IllegalArgumentException when the result's version is missing or unsupported, or its shape is
   *     wrong
   */
  static Map<String, Object> convert(Map<String, Object> result, String to) {
    Object from = result.get("cniVersion");
    if (!(from instanceof String) || !CniVersions.supported((String) from)) {
      throw new IllegalArgumentException("result has unsupported cniVersion " + from);
    }
    boolean legacy = CniVersions.compare(to, "1.0.0") < 0;
    JsonStruct out = new JsonStruct();
    out.put("cniVersion", to);
    if (result.containsKey("interfaces")) {
      List<Object> interfaces = new ArrayList<>();
      for (Object o : list(result.get("interfaces"), "interfaces")) {
        Map<?, ?> in = map(o, "interfaces[]");
        interfaces.add(legacy ? pick(in, "name", "mac", "sandbox")
            : pick(in, "name", "mac", "mtu", "sandbox", "socketPath", "pciID"));
      }
      out.put("interfaces", interfaces);
    }
    if (result.containsKey("ips")) {
      List<Object> ips = new ArrayList<>();
      for (Object o : list(result.get("ips"), "ips")) {
        Map<?, ?> in = map(o, "ips[]");
        JsonStruct ip = new JsonStruct();
        if (legacy) {
          Object address = in.get("address");
          if (!(address instanceof String)) {
            throw new IllegalArgumentException("ips[] entry without an address");
          }
          ip.put("version", Cidr.parse((String) address, false).ipv6() ? "6" : "4");
        }
        copy(in, ip, "interface", "address", "gateway");
        ips.add(ip);
      }
      out.put("ips", ips);
    }
    if (result.containsKey("routes")) {
      List<Object> routes = new ArrayList<>();
      for (Object o : list(result.get("routes"), "routes")) {
        Map<?, ?> in = map(o, "routes[]");
        routes.add(legacy ? pick(in, "dst", "gw") : pick(in, "dst", "gw", "mtu", "advmss", "priority", "table", "scope"));
      }
      out.put("routes", routes);
    }
    if (result.containsKey("dns")) {
      out.put("dns", result.get("dns"));
    }
    return out;
  }

  /**
   * The addresses ({@code a.b.c.d/len}, Go's text form) that {@code result} gives the interface {@code ifname}:
   * IPs whose {@code interface} index names it, and IPs without an index.
   */
  static List<String> addressesOf(Map<String, Object> result, String ifname) {
    List<?> interfaces = result.containsKey("interfaces") ? list(result.get("interfaces"), "interfaces") : List.of();
    List<String> out = new ArrayList<>();
    if (!result.containsKey("ips")) {
      return out;
    }
    for (Object o : list(result.get("ips"), "ips")) {
      Map<?, ?> ip = map(o, "ips[]");
      Object idx = ip.get("interface");
      if (idx instanceof Long) {
        long i = (Long) idx;
        if (i < 0 || i >= interfaces.size() || !ifname.equals(map(interfaces.get((int) i), "interfaces[]").get("name"))) {
          continue;
        }
      }
      Object address = ip.get("address");
      if (!(address instanceof String)) {
        throw new IllegalArgumentException("ips[] entry without an address");
      }
      out.add(Cidr.parse((String) address, false).toString());
    }
    return out;
  }

  /**
   * A copy of {@code result} whose routes without {@code gw} name the gateway of the first IP of their family.
   * That is where bridge + host-local put them (flannel-compat.md §5.6), and bridge 1.1.1's CHECK looks routes
   * up by (dst, gw), so without this it never finds a flannel route and CHECK always fails.
   */
  @SuppressWarnings("unchecked")
  static Map<String, Object> withRouteGateways(Map<String, Object> result) {
    if (!(result.get("routes") instanceof List) || !(result.get("ips") instanceof List)) {
      return result;
    }
    String gw4 = null;
    String gw6 = null;
    for (Object o : (List<?>) result.get("ips")) {
      Object gw = o instanceof Map ? ((Map<?, ?>) o).get("gateway") : null;
      if (gw instanceof String) {
        boolean v6 = ((String) gw).indexOf(':') >= 0;
        if (v6 && gw6 == null) {
          gw6 = (String) gw;
        } else if (!v6 && gw4 == null) {
          gw4 = (String) gw;
        }
      }
    }
    List<Object> routes = new ArrayList<>();
    for (Object o : (List<?>) result.get("routes")) {
      if (o instanceof Map && !((Map<?, ?>) o).containsKey("gw") && ((Map<?, ?>) o).get("dst") instanceof String) {
        Map<String, Object> route = (Map<String, Object>) o;
        String gw = ((String) route.get("dst")).indexOf(':') >= 0 ? gw6 : gw4;
        if (gw != null) {
          JsonStruct withGw = new JsonStruct();
          withGw.put("dst", route.get("dst"));
          withGw.put("gw", gw);
          for (Map.Entry<String, Object> e : route.entrySet()) {
            withGw.putIfAbsent(e.getKey(), e.getValue());
          }
          o = withGw;
        }
      }
      routes.add(o);
    }
    JsonStruct out = new JsonStruct();
    out.putAll(result);
    out.put("routes", routes);
    return out;
  }

  private static JsonStruct pick(Map<?, ?> in, String... keys) {
    JsonStruct out = new JsonStruct();
    copy(in, out, keys);
    return out;
  }

  private static void copy(Map<?, ?> in, JsonStruct out, String... keys) {
    for (String k : keys) {
      if (in.containsKey(k)) {
        out.put(k, in.get(k));
      }
    }
  }

  private static List<?> list(Object o, String what) {
    if (o == null) {
      return List.of();
    }
    if (!(o instanceof List)) {
      throw new IllegalArgumentException("result field " + what + " must be an array");
    }
    return (List<?>) o;
  }

  private static Map<?, ?> map(Object o, String what) {
    if (!(o instanceof Map)) {
      throw new IllegalArgumentException("result field " + what + " must be an object");
    }
    return (Map<?, ?>) o;
  }
}
