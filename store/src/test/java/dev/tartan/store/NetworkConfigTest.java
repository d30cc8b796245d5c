package dev.tartan.store;

import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import dev.tartan.net.Ipv4Subnet;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class NetworkConfigTest {

  private static final String VXLAN = "\"Backend\": {\"Type\": \"vxlan\"}";

  private static NetworkConfig parse(String json) throws NetworkConfigException {
    return NetworkConfig.parse(json);
  }

  private static String withBackend(String body) {
    return "{ " + body + ", " + VXLAN + " }";
  }

  private static void assertError(String json, String message) {
    assertThatThrownBy(() -> parse(json)).isInstanceOf(NetworkConfigException.class).hasMessage(message);
  }

  // --- docs/flannel-compat.md §7.1 ---------------------------------------------------------------------------

  @Test
  void lowerCaseNetworkKeyGetsFlannelDefaults() throws Exception {
    NetworkConfig c = parse(withBackend("\"network\": \"10.3.0.0/16\""));
    assertThat(c.network()).isEqualTo(Ipv4Subnet.parse("10.3.0.0/16"));
    assertThat(c.subnetLen()).isEqualTo(24);
    assertThat(c.subnetMin().getHostAddress()).isEqualTo("10.3.1.0");
    assertThat(c.subnetMax().getHostAddress()).isEqualTo("10.3.255.0");
    assertThat(c.enableIPv4()).isTrue();
    assertThat(c.enableIPv6()).isFalse();
    assertThat(c.enableNFTables()).isFalse();
    assertThat(c.backendType()).isEqualTo("vxlan");
  }

  @Test
  void theVerbatimSpecVectorWithoutBackendIsRejectedByTartan() {
    assertError("{ \"network\": \"10.3.0.0/16\" }",
        "Backend is missing in the network config: add \"Backend\": {\"Type\": \"vxlan\"}");
  }

  @Test
  void explicitValuesAreKept() throws Exception {
    NetworkConfig c = parse(withBackend(
        "\"Network\": \"10.3.0.0/16\", \"SubnetMin\": \"10.3.5.0\", \"SubnetMax\": \"10.3.8.0\", \"SubnetLen\": 28"));
    assertThat(c.network().toString()).isEqualTo("10.3.0.0/16");
    assertThat(c.subnetMin().getHostAddress()).isEqualTo("10.3.5.0");
    assertThat(c.subnetMax().getHostAddress()).isEqualTo("10.3.8.0");
    assertThat(c.subnetLen()).isEqualTo(28);
  }

  // --- docs/flannel-compat.md §7.7 ---------------------------------------------------------------------------

  @ParameterizedTest
  @CsvSource({
      "10.0.0.0/8, 24, 10.0.1.0, 10.255.255.0",
      "10.3.0.0/22, 24, 10.3.1.0, 10.3.3.0",
      "10.3.0.0/23, 25, 10.3.0.128, 10.3.1.128",
      "10.3.0.0/24, 26, 10.3.0.64, 10.3.0.192",
      "10.3.0.0/28, 30, 10.3.0.4, 10.3.0.12"})
  void derivedDefaults(String network, int len, String min, String max) throws Exception {
    NetworkConfig c = parse(withBackend("\"Network\": \"" + network + "\""));
    assertThat(c.subnetLen()).isEqualTo(len);
    assertThat(c.subnetMin().getHostAddress()).isEqualTo(min);
    assertThat(c.subnetMax().getHostAddress()).isEqualTo(max);
  }

  @Test
  void network29IsTooSmall() {
    assertError(withBackend("\"Network\": \"10.3.0.0/29\""),
        "network is too small. Minimum useful network prefix is /28");
  }

  @Test
  void subnetLen31IsRejected() {
    assertError(withBackend("\"Network\": \"10.3.0.0/16\", \"SubnetLen\": 31"), "SubnetLen must be less than /31");
  }

  @Test
  void subnetLenMustLeaveFourSubnets() {
    assertError(withBackend("\"Network\": \"10.3.0.0/16\", \"SubnetLen\": 17"),
        "network must be able to accommodate at least four subnets");
  }

  @Test
  void subnetLenEighteenInSixteenIsTheSmallestAllowed() throws Exception {
    NetworkConfig c = parse(withBackend("\"Network\": \"10.3.0.0/16\", \"SubnetLen\": 18"));
    assertThat(c.subnetMin().getHostAddress()).isEqualTo("10.3.64.0");
    assertThat(c.subnetMax().getHostAddress()).isEqualTo("10.3.192.0");
  }

  // --- the other errors of docs/flannel-compat.md §1.2 -------------------------------------------------------

  @ParameterizedTest
  @ValueSource(strings = {"\"Network\": \"0.0.0.0/0\"", "\"SubnetLen\": 24", "\"Network\": null"})
  void missingOrEmptyNetwork(String body) {
    assertError(withBackend(body), "please define a correct Network parameter in the flannel config");
  }

  @Test
  void subnetMinOutsideNetwork() {
    assertError(withBackend("\"Network\": \"10.3.0.0/16\", \"SubnetMin\": \"10.4.0.0\""),
        "SubnetMin is not in the range of the Network");
  }

  @Test
  void subnetMaxOutsideNetwork() {
    assertError(withBackend("\"Network\": \"10.3.0.0/16\", \"SubnetMax\": \"10.2.255.0\""),
        "SubnetMax is not in the range of the Network");
  }

  @Test
  void subnetMinNotAligned() {
    assertError(withBackend("\"Network\": \"10.3.0.0/16\", \"SubnetMin\": \"10.3.1.7\""),
        "SubnetMin is not on a SubnetLen boundary: 10.3.1.7");
  }

  @Test
  void subnetMaxNotAligned() {
    assertError(withBackend("\"Network\": \"10.3.0.0/16\", \"SubnetLen\": 25, \"SubnetMax\": \"10.3.9.64\""),
        "SubnetMax is not on a SubnetLen boundary: 10.3.9.64");
  }

  @Test
  void zeroSubnetMinMeansUnset() throws Exception {
    NetworkConfig c = parse(withBackend("\"Network\": \"10.3.0.0/16\", \"SubnetMin\": \"0.0.0.0\""));
    assertThat(c.subnetMin().getHostAddress()).isEqualTo("10.3.1.0");
  }

  // --- key matching, types, backend --------------------------------------------------------

  @Test
  void keysAreCaseInsensitiveAndUnknownKeysIgnored() throws Exception {
    NetworkConfig c = parse("{\"NETWORK\":\"10.5.0.0/16\",\"subnetlen\":26,\"SUBNETmin\":\"10.5.0.64\","
        + "\"whatever\":[1,2],\"enablenftables\":true,\"backend\":{\"TYPE\":\"VXLAN\",\"vni\":4096}}");
    assertThat(c.network().toString()).isEqualTo("10.5.0.0/16");
    assertThat(c.subnetLen()).isEqualTo(26);
    assertThat(c.subnetMin().getHostAddress()).isEqualTo("10.5.0.64");
    assertThat(c.subnetMax().getHostAddress()).isEqualTo("10.5.255.192");
    assertThat(c.enableNFTables()).isTrue();
    assertThat(c.backendType()).isEqualTo("vxlan");
    assertThat(c.backendJson()).isEqualTo("{\"TYPE\":\"VXLAN\",\"vni\":4096}");
  }

  @Test
  void hostBitsOfNetworkAreMasked() throws Exception {
    assertThat(parse(withBackend("\"Network\": \"10.3.7.9/16\"")).network().toString()).isEqualTo("10.3.0.0/16");
  }

  @Test
  void backendWithoutType() {
    assertError("{\"Network\":\"10.3.0.0/16\",\"Backend\":{\"VNI\":1}}",
        "Backend.Type is missing in the network config: add \"Type\": \"vxlan\" to \"Backend\"");
  }

  @Test
  void backendNotAnObject() {
    assertThatThrownBy(() -> parse("{\"Network\":\"10.3.0.0/16\",\"Backend\":\"vxlan\"}"))
        .isInstanceOf(NetworkConfigException.class)
        .hasMessageStartingWith("error decoding Backend property of config:");
  }

  @Test
  void otherBackendTypesAreParsedForTheAgentToJudge() throws Exception {
    assertThat(parse("{\"Network\":\"10.3.0.0/16\",\"Backend\":{\"Type\":\"Host-GW\"}}").backendType())
        .isEqualTo("host-gw");
  }

  @Test
  void garbageIsReportedAsNotJson() {
    assertThatThrownBy(() -> parse("{\"Network\": \"10.3.0.0/16\""))
        .isInstanceOf(NetworkConfigException.class).hasMessageStartingWith("network config is not valid JSON");
    assertThatThrownBy(() -> parse("{} trailing"))
        .isInstanceOf(NetworkConfigException.class).hasMessageStartingWith("network config is not valid JSON");
    assertThatThrownBy(() -> parse("[1]"))
        .isInstanceOf(NetworkConfigException.class).hasMessageStartingWith("network config must be a JSON object");
    assertThatThrownBy(() -> parse(""))
        .isInstanceOf(NetworkConfigException.class).hasMessage("network config is empty");
  }

  @Test
  void wrongTypesNameTheField() {
    assertError(withBackend("\"Network\": \"10.3.0.0/16\", \"SubnetLen\": \"24\""),
        "invalid SubnetLen in the network config: must be a non-negative integer, got \"24\"");
    assertError(withBackend("\"Network\": \"10.3.0.0/16\", \"SubnetLen\": -1"),
        "invalid SubnetLen in the network config: must be a non-negative integer, got -1");
    assertError(withBackend("\"Network\": \"10.3.0.0/16\", \"EnableIPv6\": \"yes\""),
        "invalid EnableIPv6 in the network config: must be true or false, got \"yes\"");
    assertError(withBackend("\"Network\": \"10.3.0.0\""),
        "invalid Network in the network config: invalid CIDR address: 10.3.0.0");
    assertError(withBackend("\"Network\": \"10.3.0.0/16\", \"SubnetMin\": \"10.3.300.0\""),
        "invalid SubnetMin in the network config: invalid IPv4 address format: 10.3.300.0");
  }

  // --- IPv6 (docs/flannel-compat.md §7.2) -----------------------------------------

  @Test
  void ipv6OnlyIsNotSupported() {
    assertError(withBackend("\"enableIPv6\": true, \"ipv6Network\": \"fc00::/48\", \"enableIPv4\": false"),
        "EnableIPv4 false (an IPv6-only network) is not supported in etcd mode: remove \"EnableIPv4\": false");
  }

  @Test
  void ipv6DefaultsFollowFlannel() throws Exception {
    NetworkConfig p = NetworkConfigParser.parse(
        withBackend("\"Network\": \"10.3.0.0/16\", \"enableIPv6\": true, \"ipv6Network\": \"fc00::/48\""));
    assertThat(p.enableIPv6()).isTrue();
    assertThat(p.ipv6Network()).hasToString("fc00::/48");
    assertThat(p.ipv6SubnetLen()).isEqualTo(64);
    assertThat(Ipv6Text.format(p.ipv6SubnetMin())).isEqualTo("fc00:0:0:1::");
    assertThat(Ipv6Text.format(p.ipv6SubnetMax())).isEqualTo("fc00:0:0:ffff::");
  }

  @Test
  void acceptsV6OnlyTheIpv6SubnetLenWithinTheIpv6Range() throws Exception {
    NetworkConfig c = NetworkConfigParser.parse(withBackend("\"Network\": \"10.3.0.0/16\", \"EnableIPv6\": true,"
        + " \"IPv6Network\": \"fc00::/48\", \"IPv6SubnetMin\": \"fc00:0:0:2::\", \"IPv6SubnetMax\": \"fc00:0:0:4::\""));
    assertThat(c.acceptsV6(Ipv6Subnet.parse("fc00:0:0:2::/64"))).isTrue();
    assertThat(c.acceptsV6(Ipv6Subnet.parse("fc00:0:0:4::/64"))).isTrue();
    assertThat(c.acceptsV6(Ipv6Subnet.parse("fc00:0:0:1::/64"))).isFalse();
    assertThat(c.acceptsV6(Ipv6Subnet.parse("fc00:0:0:5::/64"))).isFalse();
    assertThat(c.acceptsV6(Ipv6Subnet.parse("fc00:0:0:3::/63"))).isFalse();
    assertThat(c.acceptsV6(Ipv6Subnet.parse("fc00:0:0:3::/65"))).isFalse();
    assertThat(c.acceptsV6(null)).isFalse();
    NetworkConfig v4 = NetworkConfigParser.parse(withBackend("\"Network\": \"10.3.0.0/16\""));
    assertThat(v4.acceptsV6(Ipv6Subnet.parse("fc00:0:0:2::/64"))).isFalse();
    assertThat(v4.ipv6SubnetLen()).isZero();
    assertThat(v4.ipv6SubnetMin()).isNull();
  }

  @Test
  void ipv6ExplicitLength124IsAccepted() throws Exception {
    NetworkConfig p = NetworkConfigParser.parse(withBackend("\"Network\": \"10.3.0.0/16\","
        + " \"EnableIPv6\": true, \"IPv6Network\": \"fc00::/48\", \"IPv6SubnetLen\": 124,"
        + " \"IPv6SubnetMin\": \"fc00:0:0:1::\", \"IPv6SubnetMax\": \"fc00:0:0:f::\""));
    assertThat(p.ipv6SubnetLen()).isEqualTo(124);
    assertThat(Ipv6Text.format(p.ipv6SubnetMin())).isEqualTo("fc00:0:0:1::");
    assertThat(Ipv6Text.format(p.ipv6SubnetMax())).isEqualTo("fc00:0:0:f::");
  }

  @Test
  void ipv6Errors() {
    String v4 = "\"Network\": \"10.3.0.0/16\", \"EnableIPv6\": true";
    assertError(withBackend(v4), "please define a correct IPv6Network parameter in the flannel config");
    assertError(withBackend(v4 + ", \"IPv6Network\": \"fc00::/126\""),
        "IPv6Network is too small. Minimum useful network prefix is /124");
    assertError(withBackend(v4 + ", \"IPv6Network\": \"fc00::/48\", \"IPv6SubnetLen\": 127"),
        "SubnetLen must be less than /127");
    assertError(withBackend(v4 + ", \"IPv6Network\": \"fc00::/48\", \"IPv6SubnetLen\": 49"),
        "network must be able to accommodate at least four subnets");
    assertError(withBackend(v4 + ", \"IPv6Network\": \"fc00::/48\", \"IPv6SubnetMin\": \"fd00::\""),
        "IPv6SubnetMin is not in the range of the IPv6Network");
    assertError(withBackend(v4 + ", \"IPv6Network\": \"fc00::/48\", \"IPv6SubnetMax\": \"fc00:0:0:1::5\""),
        "IPv6SubnetMax is not on a SubnetLen boundary: fc00:0:0:1::5");
  }

  @Test
  void ipv6IsIgnoredWhenDisabled() throws Exception {
    NetworkConfig c = parse(withBackend("\"Network\": \"10.3.0.0/16\", \"IPv6Network\": \"fc00::/126\""));
    assertThat(c.enableIPv6()).isFalse();
    assertThat(c.ipv6Network()).isNull();
  }

  // --- acceptance and the init JSON --------------------------------------------------------

  @Test
  void acceptsOnlyConfiguredLengthWithinRange() throws Exception {
    NetworkConfig c = parse(withBackend(
        "\"Network\": \"10.3.0.0/16\", \"SubnetMin\": \"10.3.1.0\", \"SubnetMax\": \"10.3.25.0\""));
    assertThat(c.accepts(Ipv4Subnet.parse("10.3.1.0/24"))).isTrue();
    assertThat(c.accepts(Ipv4Subnet.parse("10.3.25.0/24"))).isTrue();
    assertThat(c.accepts(Ipv4Subnet.parse("10.3.0.0/24"))).isFalse();
    assertThat(c.accepts(Ipv4Subnet.parse("10.3.26.0/24"))).isFalse();
    assertThat(c.accepts(Ipv4Subnet.parse("10.3.2.0/25"))).isFalse();
  }

  @Test
  void initJsonUsesFlannelNamesAndParsesBack() throws Exception {
    String json = NetworkConfigJson.build(Ipv4Subnet.parse("10.244.0.0/16"), 24,
        (java.net.Inet4Address) InetAddress.getByName("10.244.1.0"), null, "VXLAN", 1, 8472);
    assertThat(json).isEqualTo("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":24,\"SubnetMin\":\"10.244.1.0\","
        + "\"Backend\":{\"Type\":\"vxlan\",\"VNI\":1,\"Port\":8472}}");
    NetworkConfig c = parse(json);
    assertThat(c.subnetMax().getHostAddress()).isEqualTo("10.244.255.0");
    assertThat(NetworkConfigJson.build(Ipv4Subnet.parse("10.5.0.0/16"), null, null, null, null, null, null))
        .isEqualTo("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
  }

  @Test
  void initJsonWithIpv6UsesFlannelNamesBeforeTheBackend() throws Exception {
    String v4 = NetworkConfigJson.build(Ipv4Subnet.parse("10.5.0.0/16"), null, null, null, null, null, null);
    String json = NetworkConfigJson.withIpv6(v4, Ipv6Subnet.parse("fd00:5::/48"), 56, Ipv6Text.parse("fd00:5:0:100::"),
        null);
    assertThat(json).isEqualTo("{\"Network\":\"10.5.0.0/16\",\"EnableIPv6\":true,\"IPv6Network\":\"fd00:5::/48\","
        + "\"IPv6SubnetLen\":56,\"IPv6SubnetMin\":\"fd00:5:0:100::\",\"Backend\":{\"Type\":\"vxlan\"}}");
    NetworkConfig c = NetworkConfig.parse(json);
    assertThat(c.ipv6SubnetLen()).isEqualTo(56);
    assertThat(Ipv6Text.format(c.ipv6SubnetMax())).isEqualTo("fd00:5:0:ff00::");
    assertThat(NetworkConfigJson.withIpv6(v4, Ipv6Subnet.parse("fd00:5::/48"), null, null, null))
        .isEqualTo("{\"Network\":\"10.5.0.0/16\",\"EnableIPv6\":true,\"IPv6Network\":\"fd00:5::/48\","
            + "\"Backend\":{\"Type\":\"vxlan\"}}");
    assertThatThrownBy(() -> NetworkConfigJson.withIpv6(v4, Ipv6Subnet.parse("fd00:5::/126"), null, null, null))
        .isInstanceOf(NetworkConfigException.class)
        .hasMessage("invalid IPv6 settings: IPv6Network is too small. Minimum useful network prefix is /124");
    assertThatThrownBy(() -> NetworkConfigJson.withIpv6(v4, Ipv6Subnet.parse("fd00:5::/48"), 64,
        Ipv6Text.parse("fd00:6::"), null)).isInstanceOf(NetworkConfigException.class)
        .hasMessage("invalid IPv6 settings: IPv6SubnetMin is not in the range of the IPv6Network");
  }

  @Test
  void initJsonIsValidated() {
    assertThatThrownBy(() -> NetworkConfigJson.build(Ipv4Subnet.parse("10.5.0.0/16"), 31, null, null, null, null,
        null)).isInstanceOf(NetworkConfigException.class).hasMessage("SubnetLen must be less than /31");
    assertThatThrownBy(() -> NetworkConfigJson.build(Ipv4Subnet.parse("10.5.0.0/16"), null, null, null, null,
        1 << 24, null)).isInstanceOf(NetworkConfigException.class).hasMessage("VNI must be 0..16777215, got 16777216");
  }
}
