package dev.tartan.store.alloc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.net.Ipv4Subnet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SubnetKeysTest {

  @Test
  void ipv4Key() {
    SubnetKey k = SubnetKeys.parse("10.12.13.0-24").orElseThrow();
    assertThat(k.subnet()).isEqualTo(Ipv4Subnet.parse("10.12.13.0/24"));
    assertThat(k.ipv6Subnet()).isNull();
    assertThat(k.toString()).isEqualTo("10.12.13.0-24");
    assertThat(SubnetKeys.format(Ipv4Subnet.parse("10.12.13.0/24"))).isEqualTo("10.12.13.0-24");
  }

  @Test
  void dualStackKeyReserialisesIdentically() {
    SubnetKey k = SubnetKeys.parse("10.12.13.0-24&fd00:12:13::-56").orElseThrow();
    assertThat(k.subnet()).isEqualTo(Ipv4Subnet.parse("10.12.13.0/24"));
    assertThat(k.ipv6Subnet()).hasToString("fd00:12:13::/56");
    assertThat(k.toString()).isEqualTo("10.12.13.0-24&fd00:12:13::-56");
  }

  @Test
  void parsesFromTheEndOfAFullEtcdKey() {
    assertThat(SubnetKeys.parse("/coreos.com/network/subnets/10.1.5.0-24").orElseThrow().subnet())
        .isEqualTo(Ipv4Subnet.parse("10.1.5.0/24"));
    assertThat(SubnetKeys.parse("/coreos.com/network/subnets/10.12.13.0-24&fd00:12:13::-56").orElseThrow()
        .ipv6Subnet()).hasToString("fd00:12:13::/56");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      // docs/flannel-compat.md §7.3 (flannel's own reject list)
      "10", "10.12.13.0", "10.12.13-24", "10.12.13.300-24", "10.12.13.0-24hi", "&2001::-56",
      "10.12.13.0-24&:12:13:-56", "10.12.13.0-24&20011::-56", "10.12.13.0-24&2001-56", "10.12.13.0-24&2001::",
      "10.12.13.0-24&2001::-56hi",
      // Tartan: only what re-serialises identically
      "", "10.12.13.0-32", "10.12.13.0-", "10.12.13.0-024", "10.12.13.5-24", "010.12.13.0-24", "10.12.13.0-+24",
      "10.12.13.0-24&FD00::-56", "10.12.13.0-24&fd00:0:0::-56", "10.12.13.0-24&fd00::1-56",
      "10.12.13.0-24&fd00::-128", "10.12.13.0-24&fd00::-56&fd01::-56", "/coreos.com/network/subnets/",
      "10.12.13.0-24 ", "x10.12.13.0-24"})
  void rejects(String key) {
    assertThat(SubnetKeys.parse(key)).isEmpty();
  }

  @Test
  void prefixZeroToThirtyOneIsAccepted() {
    assertThat(SubnetKeys.parse("0.0.0.0-0")).isPresent();
    assertThat(SubnetKeys.parse("10.12.13.6-31")).isPresent();
  }
}
