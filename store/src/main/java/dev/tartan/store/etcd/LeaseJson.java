package dev.tartan.store.etcd;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Text;
import dev.tartan.store.LeaseAttrs;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.util.Locale;

/**
 * The lease value in flannel's exact form: compact JSON, fields in the order {@code PublicIP},
 * {@code PublicIPv6} (always present, JSON null when absent), {@code BackendType}, {@code BackendData},
 * {@code BackendV6Data} (each omitted when empty), e.g.
 * {@code {"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}}.
 *
 * <p>Backend data stays raw JSON, re-emitted compactly as Go's {@code json.RawMessage} is (including
 * its escaping of {@code < > &}). Decoding is case-insensitive on field names and ignores unknown
 * fields, like Go's encoding/json. Pure.
 */
public final class LeaseJson {

  private static final JsonFactory FACTORY =
      JsonFactory.builder().enable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION).build();

  private LeaseJson() {}

  /** Encodes {@code attrs} byte-for-byte as flanneld would. */
  public static String encode(LeaseAttrs attrs) {
    StringBuilder sb = new StringBuilder(160);
    sb.append("{\"PublicIP\":\"").append(attrs.publicIp().getHostAddress()).append('"');
    sb.append(",\"PublicIPv6\":");
    if (attrs.publicIpv6() == null) {
      sb.append("null");
    } else {
      sb.append('"').append(Ipv6Text.format(attrs.publicIpv6())).append('"');
    }
    if (attrs.backendType() != null && !attrs.backendType().isEmpty()) {
      sb.append(",\"BackendType\":");
      appendString(sb, attrs.backendType());
    }
    appendRaw(sb, "BackendData", attrs.backendDataJson());
    appendRaw(sb, "BackendV6Data", attrs.backendV6DataJson());
    return sb.append('}').toString();
  }

  /** Decodes a lease value written by flanneld, Tartan or an operator. */
  public static LeaseAttrs decode(String json) throws MalformedLeaseException {
    if (json == null || json.isBlank()) {
      throw new MalformedLeaseException("lease value is empty");
    }
    Inet4Address publicIp = Ipv4Subnet.toInet(0); // Go's zero value when PublicIP is absent
    Inet6Address publicIpv6 = null;
    String backendType = null;
    String backendData = null;
    String backendV6Data = null;
    try (JsonParser p = FACTORY.createParser(json)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new MalformedLeaseException("lease value is not a JSON object: " + abbreviate(json));
      }
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName().toLowerCase(Locale.ROOT);
        JsonToken v = p.nextToken();
        switch (name) {
          case "publicip":
            publicIp = ipv4(p, v);
            break;
          case "publicipv6":
            publicIpv6 = v == JsonToken.VALUE_NULL ? null : ipv6(p, v);
            break;
          case "backendtype":
            if (v != JsonToken.VALUE_NULL && v != JsonToken.VALUE_STRING) {
              throw new MalformedLeaseException("BackendType must be a string, got " + v);
            }
            backendType = v == JsonToken.VALUE_NULL ? null : p.getText();
            break;
          case "backenddata":
            backendData = raw(json, p, v);
            break;
          case "backendv6data":
            backendV6Data = raw(json, p, v);
            break;
          default:
            p.skipChildren(); // unknown fields are ignored, as Go does
        }
      }
      if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
        throw new MalformedLeaseException("lease value is not a single JSON object: " + abbreviate(json));
      }
    } catch (IOException e) {
      throw new MalformedLeaseException("lease value is not valid JSON: " + abbreviate(json));
    }
    if (backendType != null && backendType.isEmpty()) {
      backendType = null;
    }
    return new LeaseAttrs(publicIp, publicIpv6, backendType, backendData, backendV6Data);
  }

  /** The raw text of the current value (null for JSON null), compacted; skips over it. */
  private static String raw(String json, JsonParser p, JsonToken v) throws IOException {
    switch (v) {
      case VALUE_NULL:
        return null;
      case START_OBJECT:
      case START_ARRAY:
        int start = (int) p.currentTokenLocation().getCharOffset();
        p.skipChildren();
        int end = (int) p.currentLocation().getCharOffset();
        return compact(json.substring(start, end));
      case VALUE_STRING:
        StringBuilder sb = new StringBuilder();
        appendString(sb, p.getText());
        return sb.toString();
      default:
        return p.getText(); // numbers keep their original text; true/false
    }
  }

  private static Inet4Address ipv4(JsonParser p, JsonToken v) throws IOException, MalformedLeaseException {
    if (v != JsonToken.VALUE_STRING) {
      throw new MalformedLeaseException("PublicIP must be an IPv4 address string, got " + v);
    }
    try {
      return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(p.getText()));
    } catch (IllegalArgumentException e) {
      throw new MalformedLeaseException("PublicIP is not an IPv4 address: " + abbreviate(p.getText()));
    }
  }

  private static Inet6Address ipv6(JsonParser p, JsonToken v) throws IOException, MalformedLeaseException {
    if (v != JsonToken.VALUE_STRING) {
      throw new MalformedLeaseException("PublicIPv6 must be an IPv6 address string or null, got " + v);
    }
    try {
      return Ipv6Text.parse(p.getText());
    } catch (IllegalArgumentException e) {
      throw new MalformedLeaseException("PublicIPv6 is not an IPv6 address: " + abbreviate(p.getText()));
    }
  }

  private static void appendRaw(StringBuilder sb, String name, String raw) {
    if (raw == null || raw.isEmpty()) {
      return;
    }
    try (JsonParser p = FACTORY.createParser(raw)) {
      // validate: exactly one JSON value
      JsonToken t = p.nextToken();
      if (t == null) {
        throw new IllegalArgumentException(name + " is not JSON: " + abbreviate(raw));
      }
      p.skipChildren();
      if (p.nextToken() != null) {
        throw new IllegalArgumentException(name + " is not a single JSON value: " + abbreviate(raw));
      }
    } catch (IOException e) {
      throw new IllegalArgumentException(name + " is not valid JSON: " + abbreviate(raw), e);
    }
    sb.append(",\"").append(name).append("\":").append(compact(raw));
  }

  /**
   * Go's {@code json.Compact} with HTML escaping, as {@code json.Marshal} applies to a RawMessage:
   * whitespace outside strings dropped, {@code < > &} and U+2028/U+2029 inside strings escaped.
   * The input must be valid JSON.
   */
  static String compact(String json) {
    StringBuilder sb = new StringBuilder(json.length());
    boolean inString = false;
    for (int i = 0; i < json.length(); i++) {
      char c = json.charAt(i);
      if (inString) {
        if (c == '\\') {
          sb.append(c).append(json.charAt(++i));
          continue;
        }
        if (c == '"') {
          inString = false;
          sb.append(c);
        } else if (c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029') {
          sb.append(String.format("\\u%04x", (int) c));
        } else {
          sb.append(c);
        }
      } else if (c == '"') {
        inString = true;
        sb.append(c);
      } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        sb.append(c);
      }
    }
    return sb.toString();
  }

  private static void appendString(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': sb.append("\\\""); break;
        case '\\': sb.append("\\\\"); break;
        case '\n': sb.append("\\n"); break;
        case '\r': sb.append("\\r"); break;
        case '\t': sb.append("\\t"); break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029') {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
      }
    }
    sb.append('"');
  }

  private static String abbreviate(String s) {
    String one = s.replace('\n', ' ');
    return one.length() > 80 ? one.substring(0, 77) + "..." : one;
  }
}
