package dev.tartan.cni.delegate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class CidrTest {

  @ParameterizedTest
  @CsvSource({
      "10.1.17.1/24, 10.1.17.0/24, false",
      "10.244.0.0/16, 10.244.0.0/16, false",
      "10.1.17.200/30, 10.1.17.200/30, false",
      "10.1.17.201/30, 10.1.17.200/30, false",
      "255.255.255.255/0, 0.0.0.0/0, false",
      "1.2.3.4/32, 1.2.3.4/32, false",
      "fc00::1/64, fc00::/64, true",
      "fc00::/48, fc00::/48, true",
      "2001:cafe:42::1/64, 2001:cafe:42::/64, true",
      "2001:DB8:0:0:1:0:0:1/128, 2001:db8::1:0:0:1/128, true",
      "2001:db8:0:1:0:0:0:1/128, 2001:db8:0:1::1/128, true",
      "0:0:0:0:0:0:0:0/0, ::/0, true",
      "1:0:0:2:0:0:0:3/128, 1:0:0:2::3/128, true",
      "1:0:0:2:0:0:3:4/128, 1::2:0:0:3:4/128, true",
  })
  void parsesMasksAndFormatsLikeGo(String text, String expected, boolean ipv6) {
    Cidr c = Cidr.parse(text);
    assertThat(c.toString()).isEqualTo(expected);
    assertThat(c.ipv6()).isEqualTo(ipv6);
  }

  @Test
  void unmaskedKeepsHostBits() {
    assertThat(Cidr.parse("10.96.1.1/12", false).toString()).isEqualTo("10.96.1.1/12");
    assertThat(Cidr.parse("10.96.1.1/12").toString()).isEqualTo("10.96.0.0/12");
  }

  @ParameterizedTest
  @ValueSource(strings = {"10.1.17.0", "10.1.17.0/33", "10.1.17/24", "10.1.17.256/24", "10.01.17.0/24",
      "10.1.17.0/024", "10.1.17.0/", "/24", "10.1.17.0/-1", "1.2.3.4.5/8", "fc00:::1/64", "fc00::1::2/64",
      "fc00:12345::/64", "fc00::/129", "1:2:3:4:5:6:7:8:9/64", "1:2:3:4:5:6:7:8::/64", ":1::/64", "1::2:/64",
      "fc00::%eth0/64", "[fc00::]/64", " 10.1.17.0/24", "10.1.17.0/24 ", "abc/8"})
  void rejectsWhatGoRejects(String text) {
    assertThatThrownBy(() -> Cidr.parse(text)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void recordValidates() {
    assertThatThrownBy(() -> new Cidr("", 8, false)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Cidr("1.2.3.4", 33, false)).isInstanceOf(IllegalArgumentException.class);
  }
}
