package dev.tartan.cni;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.cni.json.Json;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Result shapes of flannel-compat.md §6.4. */
class ResultsTest {
  /** What Debian's bridge 1.1.1 prints for a 1.0.0 config (environment.md §4). */
  static final String BRIDGE_100 = "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"cni0\",\"mac\":\"aa:47:96:b9:0a:2b\"},"
      + "{\"name\":\"vethff64b324\",\"mac\":\"1a:bc:d7:eb:ed:a9\"},{\"name\":\"eth0\",\"mac\":\"a6:67:0f:7a:6e:76\","
      + "\"sandbox\":\"/run/netns/c1\"}],\"ips\":[{\"interface\":2,\"address\":\"10.244.7.2/24\","
      + "\"gateway\":\"10.244.7.1\"}],\"routes\":[{\"dst\":\"10.244.0.0/16\"}],\"dns\":{}}";
  static final String RESULT_110 = "{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"a6:67:0f:7a:6e:76\","
      + "\"mtu\":1450,\"sandbox\":\"/run/netns/c1\",\"socketPath\":\"/s\",\"pciID\":\"0000:00:01.0\"}],"
      + "\"ips\":[{\"interface\":0,\"address\":\"10.244.7.2/24\",\"gateway\":\"10.244.7.1\"},"
      + "{\"interface\":0,\"address\":\"fc00::2/64\"}],\"routes\":[{\"dst\":\"10.244.0.0/16\",\"gw\":\"10.244.7.1\","
      + "\"mtu\":1400,\"advmss\":1360,\"priority\":5,\"table\":100,\"scope\":0}],"
      + "\"dns\":{\"nameservers\":[\"10.96.0.10\"],\"domain\":\"cluster.local\",\"search\":[\"a\"],\"options\":[\"ndots:5\"]}}";

  private static String convert(String result, String to) throws Exception {
    return Json.write(Results.convert(Json.parseObject(result), to));
  }

  @Test
  void v100ToV110OnlyChangesTheVersion() throws Exception {
    assertThat(convert(BRIDGE_100, "1.1.0")).isEqualTo(BRIDGE_100.replace("\"1.0.0\"", "\"1.1.0\""));
  }

  @Test
  void v110ToV100KeepsTheSharedOneDotXFields() throws Exception {
    assertThat(convert(RESULT_110, "1.0.0")).isEqualTo(RESULT_110.replace("\"1.1.0\"", "\"1.0.0\""));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0.3.0", "0.3.1", "0.4.0"})
  void toLegacyAddsIpVersionAndDropsNewFields(String to) throws Exception {
    assertThat(convert(RESULT_110, to)).isEqualTo("{\"cniVersion\":\"" + to + "\",\"interfaces\":[{\"name\":\"eth0\","
        + "\"mac\":\"a6:67:0f:7a:6e:76\",\"sandbox\":\"/run/netns/c1\"}],\"ips\":[{\"version\":\"4\",\"interface\":0,"
        + "\"address\":\"10.244.7.2/24\",\"gateway\":\"10.244.7.1\"},{\"version\":\"6\",\"interface\":0,"
        + "\"address\":\"fc00::2/64\"}],\"routes\":[{\"dst\":\"10.244.0.0/16\",\"gw\":\"10.244.7.1\"}],"
        + "\"dns\":{\"nameservers\":[\"10.96.0.10\"],\"domain\":\"cluster.local\",\"search\":[\"a\"],\"options\":[\"ndots:5\"]}}");
  }

  @Test
  void legacyToV100DropsIpVersion() throws Exception {
    String legacy = "{\"cniVersion\":\"0.3.1\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/x\"}],"
        + "\"ips\":[{\"version\":\"4\",\"interface\":0,\"address\":\"10.1.17.2/24\",\"gateway\":\"10.1.17.1\"}],"
        + "\"routes\":[{\"dst\":\"10.1.0.0/16\"}],\"dns\":{}}";
    assertThat(convert(legacy, "1.0.0")).isEqualTo("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\","
        + "\"sandbox\":\"/x\"}],\"ips\":[{\"interface\":0,\"address\":\"10.1.17.2/24\",\"gateway\":\"10.1.17.1\"}],"
        + "\"routes\":[{\"dst\":\"10.1.0.0/16\"}],\"dns\":{}}");
    assertThat(convert(legacy, "0.4.0")).isEqualTo(legacy.replace("0.3.1", "0.4.0"));
  }

  @Test
  void ipamOnlyResultAndUnknownTopLevelKeys() throws Exception {
    String ipam = "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.1.17.2/24\",\"gateway\":\"10.1.17.1\"}],"
        + "\"extra\":1}";
    assertThat(convert(ipam, "0.4.0")).isEqualTo("{\"cniVersion\":\"0.4.0\",\"ips\":[{\"version\":\"4\","
        + "\"address\":\"10.1.17.2/24\",\"gateway\":\"10.1.17.1\"}]}");
  }

  @Test
  void rejectsUnsupportedOrMalformedResults() {
    assertThatThrownBy(() -> convert("{\"cniVersion\":\"0.2.0\",\"ip4\":{}}", "1.0.0"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0.2.0");
    assertThatThrownBy(() -> convert("{\"ips\":[]}", "1.0.0")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> convert("{\"cniVersion\":\"1.0.0\",\"ips\":{}}", "1.0.0"))
        .hasMessage("result field ips must be an array");
    assertThatThrownBy(() -> convert("{\"cniVersion\":\"1.0.0\",\"ips\":[{}]}", "0.4.0"))
        .hasMessage("ips[] entry without an address");
  }

  @Test
  void addressesOfTheContainerInterface() throws Exception {
    Map<String, Object> r = Json.parseObject(BRIDGE_100);
    assertThat(Results.addressesOf(r, "eth0")).containsExactly("10.244.7.2/24");
    assertThat(Results.addressesOf(r, "eth1")).isEmpty();
    assertThat(Results.addressesOf(Json.parseObject(RESULT_110), "eth0")).containsExactly("10.244.7.2/24", "fc00::2/64");
    assertThat(Results.addressesOf(Json.parseObject("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.1.1.2/24\"}]}"),
        "eth0")).containsExactly("10.1.1.2/24");
  }

  @Test
  void routeGatewaysFilledForBridgesCheck() throws Exception {
    String r = "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"fc00::2/64\",\"gateway\":\"fc00::1\"},"
        + "{\"address\":\"10.1.17.2/24\",\"gateway\":\"10.1.17.1\"}],\"routes\":[{\"dst\":\"10.1.0.0/16\"},"
        + "{\"dst\":\"fc00::/48\",\"mtu\":1400},{\"dst\":\"10.96.0.0/12\",\"gw\":\"10.1.17.20\"}]}";
    assertThat(Json.write(Results.withRouteGateways(Json.parseObject(r)))).isEqualTo("{\"cniVersion\":\"1.0.0\","
        + "\"ips\":[{\"address\":\"fc00::2/64\",\"gateway\":\"fc00::1\"},{\"address\":\"10.1.17.2/24\","
        + "\"gateway\":\"10.1.17.1\"}],\"routes\":[{\"dst\":\"10.1.0.0/16\",\"gw\":\"10.1.17.1\"},"
        + "{\"dst\":\"fc00::/48\",\"gw\":\"fc00::1\",\"mtu\":1400},{\"dst\":\"10.96.0.0/12\",\"gw\":\"10.1.17.20\"}]}");
  }
}
