package dev.tartan.agent.backend.vxlan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.agent.backend.BackendConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class VxlanBackendConfigTest {

  @Test
  void defaultsMatchFlannel() throws Exception {
    for (String json : new String[] {null, "", "  ", "{}", "null", "{\"Type\":\"vxlan\"}"}) {
      VxlanBackendConfig c = VxlanBackendConfig.parse(json);
      assertThat(c).isEqualTo(new VxlanBackendConfig(1, 0, 0, false, false, false));
      assertThat(c.effectivePort()).isEqualTo(8472);
      assertThat(c.deviceName()).isEqualTo("flannel.1");
      assertThat(c.overlayMtu(1500)).isEqualTo(1450);
    }
  }

  @Test
  void keysAreCaseInsensitiveAndUnknownKeysIgnored() throws Exception {
    VxlanBackendConfig c = VxlanBackendConfig.parse("{\"TYPE\":\"VXLAN\",\"vni\":4096,\"pOrT\":4789,"
        + "\"mtu\":9000,\"gbp\":true,\"LEARNING\":true,\"directrouting\":true,"
        + "\"MacPrefix\":\"0E-2A\",\"Name\":\"x\"}");
    assertThat(c).isEqualTo(new VxlanBackendConfig(4096, 4789, 9000, true, true, true));
    assertThat(c.effectivePort()).isEqualTo(4789);
    assertThat(c.deviceName()).isEqualTo("flannel.4096");
    // Backend.MTU replaces the interface MTU before the 50-byte overhead is taken off
    assertThat(c.overlayMtu(1500)).isEqualTo(8950);
  }

  @Test
  void nullValuesKeepTheDefaults() throws Exception {
    assertThat(VxlanBackendConfig.parse("{\"VNI\":null,\"Port\":null,\"GBP\":null}"))
        .isEqualTo(VxlanBackendConfig.defaults());
  }

  @Test
  void vniZeroIsAllowedAsInFlannel() throws Exception {
    assertThat(VxlanBackendConfig.parse("{\"VNI\":0}").deviceName()).isEqualTo("flannel.0");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "{\"VNI\":\"1\"}           | Backend.VNI must be an integer 0..16777215, got \"1\"",
      "{\"VNI\":-1}              | Backend.VNI must be an integer 0..16777215, got -1",
      "{\"VNI\":16777216}        | Backend.VNI must be an integer 0..16777215, got 16777216",
      "{\"VNI\":1.5}             | Backend.VNI must be an integer",
      "{\"Port\":65536}          | Backend.Port must be an integer 0..65535, got 65536",
      "{\"MTU\":100}             | Backend.MTU must be 0 (use the interface MTU) or at least 118",
      "{\"MTU\":\"1500\"}        | Backend.MTU must be an integer",
      "{\"GBP\":\"true\"}        | Backend.GBP must be true or false, got \"true\"",
      "{\"Learning\":1}          | Backend.Learning must be true or false, got 1",
      "{\"DirectRouting\":0}     | Backend.DirectRouting must be true or false",
      "{\"Type\":\"udp\"}        | Backend.Type must be \"vxlan\"",
      "{\"Type\":1}              | Backend.Type must be \"vxlan\"",
      "[1,2]                     | Backend must be a JSON object",
      "{\"VNI\":                 | Backend is not valid JSON",
  })
  void badValuesNameTheKey(String json, String message) {
    assertThatThrownBy(() -> VxlanBackendConfig.parse(json.trim()))
        .isInstanceOf(BackendConfigException.class)
        .hasMessageContaining(message.trim());
  }

  @Test
  void overlayMtuRefusesTinyInterfaces() {
    assertThatThrownBy(() -> VxlanBackendConfig.defaults().overlayMtu(100))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("interface MTU 100");
  }
}
