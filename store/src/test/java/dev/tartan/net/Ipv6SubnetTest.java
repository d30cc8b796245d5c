package dev.tartan.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Ipv6SubnetTest {

  @Test
  void parsesMasksAndFormatsInGosForm() {
    assertThat(Ipv6Subnet.parse("fd00:12:13::/56")).hasToString("fd00:12:13::/56");
    assertThat(Ipv6Subnet.parse("FD00:0012:0013:00ff::1/56")).hasToString("fd00:12:13::/56");
    assertThat(Ipv6Subnet.parse("2001:db8::1/128")).hasToString("2001:db8::1/128");
    assertThat(Ipv6Subnet.parse("2001:db8:1:2:ff03:4:5:6/72")).hasToString("2001:db8:1:2:ff00::/72");
    assertThat(Ipv6Subnet.parse("::/0")).hasToString("::/0");
    assertThat(Ipv6Subnet.parse("fd00::/64")).isEqualTo(Ipv6Subnet.parse("fd00::ffff/64"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"fd00::", "fd00::/129", "fd00::/-1", "fd00::/x", "10.0.0.0/8", "fd00::/", "g::/64",
      "fd00::/0064"})
  void rejectsBadText(String s) {
    assertThatThrownBy(() -> Ipv6Subnet.parse(s)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void compactConstructorValidatesAndMasks() {
    assertThatThrownBy(() -> new Ipv6Subnet(0, 0, 129)).isInstanceOf(IllegalArgumentException.class);
    assertThat(new Ipv6Subnet(-1L, -1L, 65)).isEqualTo(new Ipv6Subnet(-1L, Long.MIN_VALUE, 65));
    assertThat(new Ipv6Subnet(-1L, -1L, 0)).isEqualTo(new Ipv6Subnet(0, 0, 0));
  }

  @Test
  void containsOverlapsAndOrder() {
    Ipv6Subnet net = Ipv6Subnet.parse("fd00:12::/32");
    Ipv6Subnet a = Ipv6Subnet.parse("fd00:12:13::/56");
    Ipv6Subnet b = Ipv6Subnet.parse("fd00:12:14::/56");
    assertThat(net.contains(a)).isTrue();
    assertThat(a.contains(net)).isFalse();
    assertThat(a.overlaps(net)).isTrue();
    assertThat(net.overlaps(a)).isTrue();
    assertThat(a.overlaps(b)).isFalse();
    assertThat(a.contains(Ipv6Text.parse("fd00:12:13:ff::1"))).isTrue();
    assertThat(a.contains(Ipv6Text.parse("fd00:12:14::1"))).isFalse();
    assertThat(a.compareTo(b)).isNegative();
    assertThat(Ipv6Subnet.parse("ff00::/8").compareTo(Ipv6Subnet.parse("fd00::/8"))).isPositive(); // unsigned
    assertThat(Ipv6Subnet.parse("fd00::/8").compareTo(Ipv6Subnet.parse("fd00::/16"))).isNegative();
    assertThat(Ipv6Subnet.parse("::1/128").compareTo(Ipv6Subnet.parse("::8000:0:0:0/128"))).isNegative();
  }
}
