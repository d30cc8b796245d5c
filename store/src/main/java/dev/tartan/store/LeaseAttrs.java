package dev.tartan.store;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.util.Objects;

/**
 * What a host publishes in its lease value (flannel's {@code LeaseAttrs}).
 *
 * @param publicIp        the host's underlay address ({@code PublicIP}); never null
 * @param publicIpv6      {@code PublicIPv6}, or null (written as JSON null)
 * @param backendType     {@code BackendType} ("vxlan"), or null when absent
 * @param backendDataJson raw JSON object of {@code BackendData}, kept opaque, or null
 * @param backendV6DataJson raw JSON object of {@code BackendV6Data}, or null
 */
public record LeaseAttrs(
    Inet4Address publicIp,
    Inet6Address publicIpv6,
    String backendType,
    String backendDataJson,
    String backendV6DataJson) {

  public LeaseAttrs {
    Objects.requireNonNull(publicIp, "publicIp");
  }

  public static LeaseAttrs ipv4(Inet4Address publicIp, String backendType, String backendDataJson) {
    return new LeaseAttrs(publicIp, null, backendType, backendDataJson, null);
  }
}
