package dev.tartan.cni.delegate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.cni.CniException;
import dev.tartan.cni.json.Json;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** flannel-compat.md §5.3 and §7 item 8: the saved delegate config, byte for byte. */
class DelegateConfTest {
  private static final String IPV4 = "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\n"
      + "FLANNEL_IPMASQ=true\n";
  private static final String INPUT = "{\"name\":\"cni-flannel\",\"type\":\"flannel\",\"subnetFile\":\"/x/subnet.env\","
      + "\"dataDir\":\"/x/data\"";

  private static String build(String subnetEnv, String netconf) throws Exception {
    Map<String, Object> conf = Json.parseObject(netconf);
    String before = Json.write(conf);
    byte[] out = DelegateConf.serialize(DelegateConf.build(conf, SubnetEnv.parse("subnet.env", subnetEnv)));
    assertThat(Json.write(conf)).as("input left unchanged").isEqualTo(before);
    return new String(out, StandardCharsets.UTF_8);
  }

  @Test
  void flannelVectorIpv4() throws Exception {
    assertThat(build(IPV4, INPUT + "}")).isEqualTo("{\"ipMasq\":false,\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],"
        + "\"routes\":[{\"dst\":\"10.1.0.0/16\"}],\"type\":\"host-local\"},\"isGateway\":true,\"mtu\":1472,"
        + "\"name\":\"cni-flannel\",\"type\":\"bridge\"}");
  }

  @Test
  void flannelVectorTwoNetworks() throws Exception {
    String env = IPV4.replace("FLANNEL_NETWORK=10.1.0.0/16", "FLANNEL_NETWORK=10.1.0.0/16,192.168.0.0/16");
    assertThat(build(env, INPUT + "}")).isEqualTo("{\"ipMasq\":false,\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],"
        + "\"routes\":[{\"dst\":\"10.1.0.0/16\"},{\"dst\":\"192.168.0.0/16\"}],\"type\":\"host-local\"},"
        + "\"isGateway\":true,\"mtu\":1472,\"name\":\"cni-flannel\",\"type\":\"bridge\"}");
  }

  @Test
  void flannelVectorInputIpamKeepsTypeExtraKeysAndRoutes() throws Exception {
    String netconf = INPUT + ",\"ipam\":{\"type\":\"my-ipam\",\"unknown-param\":\"unknown-value\",\"routes\":["
        + "{\"dst\":\"10.96.0.0/12\"},{\"dst\":\"192.168.244.0/24\",\"gw\":\"10.1.17.20\"}]}}";
    assertThat(build(IPV4, netconf)).isEqualTo("{\"ipMasq\":false,\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],"
        + "\"routes\":[{\"dst\":\"10.96.0.0/12\"},{\"dst\":\"192.168.244.0/24\",\"gw\":\"10.1.17.20\"},"
        + "{\"dst\":\"10.1.0.0/16\"}],\"type\":\"my-ipam\",\"unknown-param\":\"unknown-value\"},\"isGateway\":true,"
        + "\"mtu\":1472,\"name\":\"cni-flannel\",\"type\":\"bridge\"}");
  }

  @Test
  void flannelVectorInputIpamWithoutTypeGetsHostLocal() throws Exception {
    String netconf = INPUT + ",\"ipam\":{\"unknown-param\":\"unknown-value\",\"routes\":[{\"dst\":\"10.96.0.0/12\"}]}}";
    assertThat(build(IPV4, netconf)).contains("\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],"
        + "\"routes\":[{\"dst\":\"10.96.0.0/12\"},{\"dst\":\"10.1.0.0/16\"}],\"type\":\"host-local\","
        + "\"unknown-param\":\"unknown-value\"}");
  }

  @Test
  void flannelVectorIpv6Only() throws Exception {
    String env = "FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n";
    assertThat(build(env, INPUT + "}")).isEqualTo("{\"ipMasq\":false,\"ipam\":{\"ranges\":[[{\"subnet\":\"fc00::/64\"}]],"
        + "\"routes\":[{\"dst\":\"fc00::/48\"}],\"type\":\"host-local\"},\"isGateway\":true,\"mtu\":1472,"
        + "\"name\":\"cni-flannel\",\"type\":\"bridge\"}");
  }

  @Test
  void flannelVectorDualStack() throws Exception {
    String env = "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_IPV6_NETWORK=fc00::/48\n"
        + "FLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n";
    assertThat(build(env, INPUT + "}")).isEqualTo("{\"ipMasq\":false,\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}],"
        + "[{\"subnet\":\"fc00::/64\"}]],\"routes\":[{\"dst\":\"10.1.0.0/16\"},{\"dst\":\"fc00::/48\"}],"
        + "\"type\":\"host-local\"},\"isGateway\":true,\"mtu\":1472,\"name\":\"cni-flannel\",\"type\":\"bridge\"}");
  }

  @Test
  void kubeFlannelConflistEntry() throws Exception {
    String netconf = "{\"cniVersion\":\"0.3.1\",\"name\":\"cbr0\",\"type\":\"flannel\",\"delegate\":{\"hairpinMode\":true,"
        + "\"isDefaultGateway\":true}}";
    assertThat(build(IPV4.replace("IPMASQ=true", "IPMASQ=false"), netconf)).isEqualTo("{\"cniVersion\":\"0.3.1\","
        + "\"hairpinMode\":true,\"ipMasq\":true,\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],"
        + "\"routes\":[{\"dst\":\"10.1.0.0/16\"}],\"type\":\"host-local\"},\"isDefaultGateway\":true,"
        + "\"isGateway\":true,\"mtu\":1472,\"name\":\"cbr0\",\"type\":\"bridge\"}");
  }

  @Test
  void delegateValuesWinAndOnlyBridgeGetsIsGateway() throws Exception {
    String netconf = INPUT + ",\"delegate\":{\"type\":\"macvlan\",\"master\":\"eth0\",\"ipMasq\":true,\"mtu\":9000}}";
    assertThat(build(IPV4, netconf)).isEqualTo("{\"ipMasq\":true,\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],"
        + "\"routes\":[{\"dst\":\"10.1.0.0/16\"}],\"type\":\"host-local\"},\"master\":\"eth0\",\"mtu\":9000,"
        + "\"name\":\"cni-flannel\",\"type\":\"macvlan\"}");
    String bridge = INPUT + ",\"delegate\":{\"isGateway\":false,\"bridge\":\"tartan0\"}}";
    assertThat(build(IPV4, bridge)).contains("\"bridge\":\"tartan0\"").contains("\"isGateway\":false")
        .doesNotContain("\"isGateway\":true");
  }

  @Test
  void addsNoBridgeNameAndNoHairpinUnlessGiven() throws Exception {
    assertThat(build(IPV4, INPUT + "}")).doesNotContain("\"bridge\":").doesNotContain("hairpinMode");
  }

  @Test
  void runtimeConfigIsCopiedForChainedPlugins() throws Exception {
    String netconf = INPUT + ",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,"
        + "\"protocol\":\"tcp\"}]}}";
    assertThat(build(IPV4, netconf)).contains("\"runtimeConfig\":{\"portMappings\":[{\"containerPort\":80,"
        + "\"hostPort\":8080,\"protocol\":\"tcp\"}]}");
  }

  @Test
  void cniVersionIsCopiedWhenSet() throws Exception {
    assertThat(build(IPV4, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}")).startsWith("{\"cniVersion\":\"1.0.0\",");
    assertThat(build(IPV4, "{\"cniVersion\":\"\",\"name\":\"n\"}")).doesNotContain("cniVersion");
  }

  @Test
  void routesAreReadAsGoTypesRoute() throws Exception {
    String netconf = INPUT + ",\"ipam\":{\"routes\":[{\"dst\":\"10.96.1.1/12\",\"gw\":\"10.1.17.20\",\"mtu\":1400,"
        + "\"foo\":\"bar\",\"table\":0,\"advmss\":0},{\"gw\":\"fc00:0:0::1\",\"dst\":\"fc00:0::/64\"}]}}";
    assertThat(build(IPV4, netconf)).contains("\"routes\":[{\"dst\":\"10.96.1.1/12\",\"gw\":\"10.1.17.20\",\"mtu\":1400,"
        + "\"table\":0},{\"dst\":\"fc00::/64\",\"gw\":\"fc00::1\"},{\"dst\":\"10.1.0.0/16\"}]");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "\"delegate\":{\"name\":\"x\"}|'delegate' dictionary must not have 'name' field, it'll be set by the plugin",
      "\"delegate\":{\"ipam\":{}}|'delegate' dictionary must not have 'ipam' field, it'll be set by the plugin",
      "\"delegate\":{\"type\":5}|'delegate' dictionary, if present, must have (string) 'type' field",
      "\"delegate\":\"bridge\"|'delegate' must be an object, got a string",
      "\"ipam\":[]|'ipam' must be an object, got an array",
      "\"runtimeConfig\":1|'runtimeConfig' must be an object, got a number",
      "\"ipam\":{\"routes\":{}}|failed to read IPAM routes: ipam.routes must be an array, got an object",
      "\"ipam\":{\"routes\":[1]}|failed to read IPAM routes: ipam.routes[0] must be an object",
      "\"ipam\":{\"routes\":[{\"gw\":\"10.1.17.20\"}]}|failed to read IPAM routes: ipam.routes[0].dst must be a CIDR string",
      "\"ipam\":{\"routes\":[{\"dst\":\"10.0.0.0\"}]}|failed to read IPAM routes: ipam.routes[0].dst \"10.0.0.0\" is not in CIDR notation (missing /prefix)",
      "\"ipam\":{\"routes\":[{\"dst\":\"10.0.0.0/8\",\"gw\":\"x\"}]}|failed to read IPAM routes: ipam.routes[0].gw must be an IP address",
      "\"ipam\":{\"routes\":[{\"dst\":\"10.0.0.0/8\",\"mtu\":\"1400\"}]}|failed to read IPAM routes: ipam.routes[0].mtu must be an integer",
  })
  void invalidConfigsAreCode7WithFlannelsMessages(String field, String message) {
    assertThatThrownBy(() -> build(IPV4, INPUT + "," + field + "}"))
        .isInstanceOfSatisfying(CniException.class, e -> assertThat(e.code()).isEqualTo(7))
        .hasMessage(message);
  }

  @Test
  void nullDelegateAndIpamCountAsAbsent() throws Exception {
    assertThat(build(IPV4, INPUT + ",\"delegate\":null,\"ipam\":null,\"runtimeConfig\":null}"))
        .isEqualTo(build(IPV4, INPUT + "}"));
  }
}
