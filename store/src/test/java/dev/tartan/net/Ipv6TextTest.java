package dev.tartan.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class Ipv6TextTest {

  @ParameterizedTest
  @CsvSource({
      "fd00:12:13::, fd00:12:13::",
      "FD00:0012:0013:0000:0000:0000:0000:0000, fd00:12:13::",
      "::, ::",
      "::1, ::1",
      "1::, 1::",
      "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1", // first of two equal runs
      "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1", // a single zero group is not shortened
      "fc00:0:0:1::, fc00:0:0:1::",
      "1:0:0:2:0:0:0:3, 1:0:0:2::3"}) // the longest run wins
  void formatsLikeGo(String in, String out) {
    assertThat(Ipv6Text.format(Ipv6Text.parse(in))).isEqualTo(out);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "1.2.3.4", "::ffff:1.2.3.4", "fe80::1%eth0", "[::1]", "example.com", ":::",
      "20011::", ".:", "1:2:3:4:5:6:7:8:9"})
  void rejectsNonLiterals(String s) {
    assertThatThrownBy(() -> Ipv6Text.parse(s)).isInstanceOf(IllegalArgumentException.class);
  }
}
