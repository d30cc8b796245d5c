package dev.tartan.agent.backend.vxlan;

import dev.tartan.net.MacAddress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.agent.backend.BackendDataException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class VxlanLeaseDataTest {

  @Test
  void encodesExactlyFlannelsForm() {
    assertThat(new VxlanLeaseData(1, "c6:d2:32:6f:8f:44").toJson())
        .isEqualTo("{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}");
    assertThat(new VxlanLeaseData(4096, "C6:D2:32:6F:8F:44").toJson())
        .isEqualTo("{\"VNI\":4096,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}");
  }

  @Test
  void decodesFlannelsJson() throws Exception {
    assertThat(VxlanLeaseData.parse("{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}"))
        .isEqualTo(new VxlanLeaseData(1, "c6:d2:32:6f:8f:44"));
  }

  @Test
  void decodesCaseInsensitivelyAndNormalisesTheMac() throws Exception {
    assertThat(VxlanLeaseData.parse("{\"vtepmac\":\"C6-D2-32-6F-8F-44\",\"vni\":7,\"extra\":[1]}"))
        .isEqualTo(new VxlanLeaseData(7, "c6:d2:32:6f:8f:44"));
    assertThat(VxlanLeaseData.parse("{\"VTEPMAC\":\"c6d2.326f.8f44\"}"))
        .isEqualTo(new VxlanLeaseData(0, "c6:d2:32:6f:8f:44"));
  }

  @Test
  void roundTrips() throws Exception {
    VxlanLeaseData d = new VxlanLeaseData(42, "5a:00:00:00:00:01");
    assertThat(VxlanLeaseData.parse(d.toJson())).isEqualTo(d);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "{\"VNI\":1}                              | BackendData.VtepMAC is missing",
      "{\"VtepMAC\":\"zz:d2:32:6f:8f:44\"}       | BackendData.VtepMAC is not a MAC address",
      "{\"VtepMAC\":\"c6:d2:32:6f:8f\"}          | BackendData.VtepMAC is not a MAC address",
      "{\"VtepMAC\":\"01:00:5e:00:00:01\"}       | BackendData.VtepMAC must be a unicast MAC",
      "{\"VtepMAC\":\"00:00:00:00:00:00\"}       | BackendData.VtepMAC must be a unicast MAC",
      "{\"VtepMAC\":5}                          | BackendData.VtepMAC must be a MAC string",
      "{\"VNI\":\"1\",\"VtepMAC\":\"c6:d2:32:6f:8f:44\"} | BackendData.VNI must be an integer",
      "[]                                      | BackendData must be a JSON object",
      "{                                       | BackendData is not valid JSON",
  })
  void badDataIsATypedError(String json, String message) {
    assertThatThrownBy(() -> VxlanLeaseData.parse(json.trim()))
        .isInstanceOf(BackendDataException.class)
        .hasMessageContaining(message.trim());
  }

  @Test
  void missingDataIsATypedError() {
    assertThatThrownBy(() -> VxlanLeaseData.parse(null)).isInstanceOf(BackendDataException.class);
    assertThatThrownBy(() -> VxlanLeaseData.parse("")).isInstanceOf(BackendDataException.class);
  }

  @Test
  void randomMacsAreLocallyAdministeredUnicast() {
    java.util.Random r = new java.util.Random(1);
    for (int i = 0; i < 1000; i++) {
      byte[] mac = MacAddress.parse(MacAddress.randomLocalUnicast(r));
      assertThat(mac[0] & 1).isZero();
      assertThat(mac[0] & 2).isEqualTo(2);
    }
  }
}
