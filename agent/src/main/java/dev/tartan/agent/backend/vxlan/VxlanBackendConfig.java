package dev.tartan.agent.backend.vxlan;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.agent.backend.BackendConfigException;
import java.util.Locale;
import java.util.Map;

/**
 * The VXLAN keys of the network config's {@code Backend} object (docs/flannel-compat.md §1.2). Keys match
 * case-insensitively, unknown keys ({@code MacPrefix}, {@code Name}, ...) are ignored, JSON
 * {@code null} keeps the default, as with flannel's Go decoder.
 *
 * @param vni           {@code VNI}, default 1
 * @param port          {@code Port}, default 0 = the kernel default 8472 (see {@link #effectivePort()})
 * @param mtu           {@code MTU} of the underlay to assume, default 0 = the external interface's
 *                      MTU; the overlay MTU is this minus {@link #OVERHEAD}
 * @param gbp           {@code GBP}
 * @param learning      {@code Learning}
 * @param directRouting {@code DirectRouting} (parsed; not implemented by Tartan's data path yet)
 */
public record VxlanBackendConfig(int vni, int port, int mtu, boolean gbp, boolean learning,
    boolean directRouting) {

  /** IPv4 VXLAN encapsulation overhead: outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
  public static final int OVERHEAD = 50;
  /** The kernel's (and flannel's) default VXLAN UDP port. */
  public static final int DEFAULT_PORT = 8472;
  public static final int MAX_VNI = (1 << 24) - 1;
  /** The smallest IPv4 MTU (RFC 791) the overlay may end up with. */
  public static final int MIN_OVERLAY_MTU = 68;

  private static final ObjectMapper JSON = new ObjectMapper();

  public VxlanBackendConfig {
    if (vni < 0 || vni > MAX_VNI) {
      throw new IllegalArgumentException("Backend.VNI must be 0.." + MAX_VNI + ", got " + vni);
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("Backend.Port must be 0..65535, got " + port);
    }
    if (mtu != 0 && (mtu - OVERHEAD < MIN_OVERLAY_MTU || mtu > 65535)) {
      throw new IllegalArgumentException("Backend.MTU must be 0 (use the interface MTU) or "
          + (MIN_OVERLAY_MTU + OVERHEAD) + "..65535, got " + mtu);
    }
  }

  /** Flannel's defaults: VNI 1, kernel port, interface MTU, everything off. */
  public static VxlanBackendConfig defaults() {
    return new VxlanBackendConfig(1, 0, 0, false, false, false);
  }

  /**
   * Parses the raw {@code Backend} JSON object (as kept in {@code NetworkConfig.backendJson()}).
   * A null or blank text gives the defaults.
   *
   * @throws BackendConfigException naming the key, e.g. {@code Backend.VNI must be an integer
   *     0..16777215, got "x"}
   */
  public static VxlanBackendConfig parse(String backendJson) throws BackendConfigException {
    if (backendJson == null || backendJson.isBlank()) {
      return defaults();
    }
    JsonNode root;
    try {
      root = JSON.readTree(backendJson);
    } catch (JsonProcessingException e) {
      throw new BackendConfigException("Backend is not valid JSON: " + e.getOriginalMessage());
    }
    if (root == null || root.isNull() || root.isMissingNode()) {
      return defaults();
    }
    if (!root.isObject()) {
      throw new BackendConfigException("Backend must be a JSON object, got " + shown(root));
    }
    int vni = 1;
    int port = 0;
    int mtu = 0;
    boolean gbp = false;
    boolean learning = false;
    boolean directRouting = false;
    for (Map.Entry<String, JsonNode> field : root.properties()) {
      JsonNode v = field.getValue();
      if (v.isNull()) {
        continue;
      }
      switch (field.getKey().toLowerCase(Locale.ROOT)) {
        case "type" -> {
          if (!v.isTextual() || !v.asText().equalsIgnoreCase("vxlan")) {
            throw new BackendConfigException(
                "Backend.Type must be \"vxlan\" for the vxlan backend's settings, got " + shown(v));
          }
        }
        case "vni" -> vni = integer(v, "VNI", 0, MAX_VNI);
        case "port" -> port = integer(v, "Port", 0, 65535);
        case "mtu" -> {
          mtu = integer(v, "MTU", 0, 65535);
          if (mtu != 0 && mtu - OVERHEAD < MIN_OVERLAY_MTU) {
            throw new BackendConfigException("Backend.MTU must be 0 (use the interface MTU) or at least "
                + (MIN_OVERLAY_MTU + OVERHEAD) + " (the overlay gets MTU - " + OVERHEAD + "), got " + shown(v));
          }
        }
        case "gbp" -> gbp = bool(v, "GBP");
        case "learning" -> learning = bool(v, "Learning");
        case "directrouting" -> directRouting = bool(v, "DirectRouting");
        default -> {
          // flannel ignores unknown keys (MacPrefix and Name are Windows-only)
        }
      }
    }
    return new VxlanBackendConfig(vni, port, mtu, gbp, learning, directRouting);
  }

  private static int integer(JsonNode v, String key, int min, int max) throws BackendConfigException {
    if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
      throw new BackendConfigException(
          "Backend." + key + " must be an integer " + min + ".." + max + ", got " + shown(v));
    }
    return v.asInt();
  }

  private static boolean bool(JsonNode v, String key) throws BackendConfigException {
    if (!v.isBoolean()) {
      throw new BackendConfigException("Backend." + key + " must be true or false, got " + shown(v));
    }
    return v.asBoolean();
  }

  /** The UDP port the device really uses: {@code Port}, or 8472 when 0. */
  public int effectivePort() {
    return port == 0 ? DEFAULT_PORT : port;
  }

  /** The device name, {@code flannel.<VNI>}. */
  public String deviceName() {
    return "flannel." + vni;
  }

  /** The IPv6 device's name (dual stack), {@code flannel-v6.<VNI>}. */
  public String deviceName6() {
    return "flannel-v6." + vni;
  }

  /**
   * The overlay MTU: ({@code Backend.MTU}, or the external interface's MTU when 0) − 50. This is
   * the vxlan device's MTU, cni0's MTU and {@code FLANNEL_MTU}.
   */
  public int overlayMtu(int interfaceMtu) {
    int base = mtu != 0 ? mtu : interfaceMtu;
    if (base - OVERHEAD < MIN_OVERLAY_MTU) {
      throw new IllegalArgumentException("interface MTU " + interfaceMtu + " leaves no room for VXLAN"
          + " (overlay MTU would be " + (base - OVERHEAD) + ")");
    }
    return base - OVERHEAD;
  }

  /** A value for a message: JSON text (strings quoted), at most 64 characters (values come from etcd). */
  static String shown(Object value) {
    String t = value instanceof String ? "\"" + value + "\"" : String.valueOf(value);
    return t.length() <= 64 ? t : t.substring(0, 60) + "... (" + t.length() + " characters)";
  }
}
