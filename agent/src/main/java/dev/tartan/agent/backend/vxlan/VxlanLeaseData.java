package dev.tartan.agent.backend.vxlan;

import dev.tartan.net.MacAddress;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.agent.backend.BackendDataException;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * A vxlan lease's {@code BackendData}: {@code {"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}} (docs/flannel-compat.md §1.4).
 *
 * @param vni     the publisher's VNI (informational: peers use their own)
 * @param vtepMac the publisher's vxlan device MAC, lowercase colon form
 */
public record VxlanLeaseData(int vni, String vtepMac) {
  private static final ObjectMapper JSON = new ObjectMapper();

  public VxlanLeaseData {
    Objects.requireNonNull(vtepMac, "vtepMac");
    if (vni < 0 || vni > VxlanBackendConfig.MAX_VNI) {
      throw new IllegalArgumentException("VNI must be 0.." + VxlanBackendConfig.MAX_VNI + ", got " + vni);
    }
    byte[] mac = MacAddress.parse(vtepMac);
    if (!MacAddress.isUnicast(mac)) {
      throw new IllegalArgumentException("VtepMAC must be a unicast MAC, got " + vtepMac);
    }
    vtepMac = MacAddress.format(mac);
  }

  /** Exactly flannel's form: {@code {"VNI":<int>,"VtepMAC":"<mac>"}}, compact, in this order. */
  public String toJson() {
    return "{\"VNI\":" + vni + ",\"VtepMAC\":\"" + vtepMac + "\"}";
  }

  /**
   * Decodes {@code BackendData}; keys are matched case-insensitively and unknown keys ignored, as
   * with flannel's Go decoder. A missing {@code VNI} reads as 0; {@code VtepMAC} is required.
   *
   * @throws BackendDataException when the text is not such an object or a value is invalid
   */
  public static VxlanLeaseData parse(String backendDataJson) throws BackendDataException {
    if (backendDataJson == null || backendDataJson.isBlank()) {
      throw new BackendDataException("BackendData is missing");
    }
    JsonNode root;
    try {
      root = JSON.readTree(backendDataJson);
    } catch (JsonProcessingException e) {
      throw new BackendDataException("BackendData is not valid JSON: " + e.getOriginalMessage());
    }
    if (root == null || !root.isObject()) {
      throw new BackendDataException("BackendData must be a JSON object, got " + shown(root));
    }
    int vni = 0;
    String mac = null;
    for (Map.Entry<String, JsonNode> field : root.properties()) {
      JsonNode v = field.getValue();
      switch (field.getKey().toLowerCase(Locale.ROOT)) {
        case "vni" -> {
          if (v.isNull()) {
            vni = 0;
          } else if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0
              || v.asInt() > VxlanBackendConfig.MAX_VNI) {
            throw new BackendDataException("BackendData.VNI must be an integer 0.."
                + VxlanBackendConfig.MAX_VNI + ", got " + shown(v));
          } else {
            vni = v.asInt();
          }
        }
        case "vtepmac" -> {
          if (!v.isTextual()) {
            throw new BackendDataException("BackendData.VtepMAC must be a MAC string, got " + shown(v));
          }
          mac = v.asText();
        }
        default -> {
          // ignored, as flannel does
        }
      }
    }
    if (mac == null) {
      throw new BackendDataException("BackendData.VtepMAC is missing");
    }
    byte[] bytes;
    try {
      bytes = MacAddress.parse(mac);
    } catch (IllegalArgumentException e) {
      throw new BackendDataException("BackendData.VtepMAC is not a MAC address: " + shown(mac));
    }
    if (!MacAddress.isUnicast(bytes)) {
      throw new BackendDataException("BackendData.VtepMAC must be a unicast MAC, got " + shown(mac));
    }
    return new VxlanLeaseData(vni, MacAddress.format(bytes));
  }

  /** A value for a message: JSON text (strings quoted), at most 64 characters (values come from etcd). */
  static String shown(Object value) {
    String t = value instanceof String ? "\"" + value + "\"" : String.valueOf(value);
    return t.length() <= 64 ? t : t.substring(0, 60) + "... (" + t.length() + " characters)";
  }
}
