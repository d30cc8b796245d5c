package dev.tartan.store.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.net.Ipv6Text;
import dev.tartan.store.LeaseAttrs;
import java.net.Inet4Address;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LeaseJsonTest {

  private static final String FLANNEL_VXLAN = "{\"PublicIP\":\"192.168.64.3\",\"PublicIPv6\":null,"
      + "\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}";

  private static Inet4Address ip(String s) throws Exception {
    return (Inet4Address) InetAddress.getByName(s);
  }

  @Test
  void publicIpOnlyIsExactlyFlannelsForm() throws Exception {
    assertThat(LeaseJson.encode(LeaseAttrs.ipv4(ip("1.2.3.4"), null, null)))
        .isEqualTo("{\"PublicIP\":\"1.2.3.4\",\"PublicIPv6\":null}");
    assertThat(LeaseJson.encode(LeaseAttrs.ipv4(ip("1.2.3.4"), "", "")))
        .isEqualTo("{\"PublicIP\":\"1.2.3.4\",\"PublicIPv6\":null}");
  }

  @Test
  void vxlanLeaseIsExactlyFlannelsForm() throws Exception {
    LeaseAttrs a = LeaseAttrs.ipv4(ip("192.168.64.3"), "vxlan", "{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}");
    assertThat(LeaseJson.encode(a)).isEqualTo(FLANNEL_VXLAN);
  }

  @Test
  void backendDataIsReEmittedCompactly() throws Exception {
    LeaseAttrs a = LeaseAttrs.ipv4(ip("10.0.0.1"), "vxlan", "{ \"VNI\" : 1,\n \"VtepMAC\": \"aa:bb:cc:dd:ee:ff\" }");
    assertThat(LeaseJson.encode(a)).isEqualTo("{\"PublicIP\":\"10.0.0.1\",\"PublicIPv6\":null,"
        + "\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"aa:bb:cc:dd:ee:ff\"}}");
  }

  @Test
  void dualStackForm() throws Exception {
    LeaseAttrs a = new LeaseAttrs(ip("10.0.0.1"), Ipv6Text.parse("2001:db8:0:0::1"), "vxlan",
        "{\"VNI\":1,\"VtepMAC\":\"aa:bb:cc:dd:ee:ff\"}", "{\"VNI\":1,\"VtepMAC\":\"aa:bb:cc:dd:ee:00\"}");
    assertThat(LeaseJson.encode(a)).isEqualTo("{\"PublicIP\":\"10.0.0.1\",\"PublicIPv6\":\"2001:db8::1\","
        + "\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"aa:bb:cc:dd:ee:ff\"},"
        + "\"BackendV6Data\":{\"VNI\":1,\"VtepMAC\":\"aa:bb:cc:dd:ee:00\"}}");
  }

  @Test
  void decodesFlannelsDualStackFormAndRoundTrips() throws Exception {
    // a dual-stack flanneld's value (docs/flannel-compat.md §1.4): PublicIPv6 and BackendV6Data of flannel-v6.1
    String flannel = "{\"PublicIP\":\"192.168.64.3\",\"PublicIPv6\":\"fd00:64::3\",\"BackendType\":\"vxlan\","
        + "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"},"
        + "\"BackendV6Data\":{\"VNI\":1,\"VtepMAC\":\"6e:0c:1d:9b:3a:10\"}}";
    LeaseAttrs a = LeaseJson.decode(flannel);
    assertThat(a.publicIpv6()).isEqualTo(Ipv6Text.parse("fd00:64::3"));
    assertThat(a.backendDataJson()).isEqualTo("{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}");
    assertThat(a.backendV6DataJson()).isEqualTo("{\"VNI\":1,\"VtepMAC\":\"6e:0c:1d:9b:3a:10\"}");
    assertThat(LeaseJson.encode(a)).isEqualTo(flannel);
    // other writers: other case, order and address spelling; we re-emit flannel's exact form
    LeaseAttrs b = LeaseJson.decode("{\"backendv6data\": {\"VNI\": 1, \"VtepMAC\": \"6e:0c:1d:9b:3a:10\"},"
        + " \"publicipv6\": \"FD00:64:0:0:0:0:0:3\", \"backendtype\": \"vxlan\", \"publicip\": \"192.168.64.3\","
        + " \"backenddata\": {\"VNI\": 1, \"VtepMAC\": \"c6:d2:32:6f:8f:44\"}}");
    assertThat(b).isEqualTo(a);
    assertThat(LeaseJson.encode(b)).isEqualTo(flannel);
    // IPv6 pods over an IPv4-only underlay: PublicIPv6 stays null
    String noV6Underlay = "{\"PublicIP\":\"192.168.64.3\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","
        + "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}";
    assertThat(LeaseJson.encode(LeaseJson.decode(noV6Underlay))).isEqualTo(noV6Underlay);
  }

  @Test
  void decodesFlannelsFormAndRoundTrips() throws Exception {
    LeaseAttrs a = LeaseJson.decode(FLANNEL_VXLAN);
    assertThat(a.publicIp()).isEqualTo(ip("192.168.64.3"));
    assertThat(a.publicIpv6()).isNull();
    assertThat(a.backendType()).isEqualTo("vxlan");
    assertThat(a.backendDataJson()).isEqualTo("{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}");
    assertThat(a.backendV6DataJson()).isNull();
    assertThat(LeaseJson.encode(a)).isEqualTo(FLANNEL_VXLAN);
  }

  @Test
  void decodingIsCaseAndOrderInsensitiveAndIgnoresUnknownFields() throws Exception {
    LeaseAttrs a = LeaseJson.decode("{ \"backenddata\": {\"vni\": 7, \"vtepmac\": \"aa:bb:cc:dd:ee:ff\"},\n"
        + "  \"extra\": {\"x\": [1, {\"y\": 2}]}, \"BACKENDTYPE\": \"vxlan\", \"publicip\": \"10.1.2.3\" }");
    assertThat(a.publicIp()).isEqualTo(ip("10.1.2.3"));
    assertThat(a.backendType()).isEqualTo("vxlan");
    assertThat(a.backendDataJson()).isEqualTo("{\"vni\":7,\"vtepmac\":\"aa:bb:cc:dd:ee:ff\"}");
  }

  @Test
  void missingPublicIpIsGosZeroValue() throws Exception {
    assertThat(LeaseJson.decode("{}").publicIp()).isEqualTo(ip("0.0.0.0"));
    assertThat(LeaseJson.encode(LeaseJson.decode("{}"))).isEqualTo("{\"PublicIP\":\"0.0.0.0\",\"PublicIPv6\":null}");
  }

  @Test
  void rawBackendDataKeepsNumberTextAndEscapesLikeGo() throws Exception {
    LeaseAttrs a = LeaseJson.decode("{\"PublicIP\":\"1.2.3.4\",\"BackendData\":{\"a\": 1.50, \"b\": \"x<y & \\\"z\\\"\"}}");
    assertThat(a.backendDataJson()).isEqualTo("{\"a\":1.50,\"b\":\"x\\u003cy \\u0026 \\\"z\\\"\"}");
    assertThat(LeaseJson.decode("{\"PublicIP\":\"1.2.3.4\",\"BackendData\":5}").backendDataJson()).isEqualTo("5");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "   ", "garbage", "[]", "\"1.2.3.4\"", "{\"PublicIP\":\"1.2.3\"}",
      "{\"PublicIP\":1234}", "{\"PublicIP\":\"::1\"}", "{\"PublicIP\":\"1.2.3.4\",\"PublicIPv6\":\"1.2.3.4\"}",
      "{\"PublicIP\":\"1.2.3.4\",\"BackendType\":5}", "{\"PublicIP\":\"1.2.3.4\"", "{\"PublicIP\":\"1.2.3.4\"} {}",
      "{\"PublicIP\":\"example.com\"}"})
  void garbageIsATypedError(String value) {
    assertThatThrownBy(() -> LeaseJson.decode(value)).isInstanceOf(MalformedLeaseException.class);
  }

  @Test
  void invalidRawBackendDataIsRefusedOnEncode() throws Exception {
    LeaseAttrs a = LeaseAttrs.ipv4(ip("1.2.3.4"), "vxlan", "{\"VNI\":");
    assertThatThrownBy(() -> LeaseJson.encode(a)).isInstanceOf(IllegalArgumentException.class);
  }
}
