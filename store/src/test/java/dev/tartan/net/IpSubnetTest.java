package dev.tartan.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class IpSubnetTest {
  @Test
  void parsesEitherFamilyAndOrdersIpv4First() {
    List<IpSubnet> l = new ArrayList<>(List.of(IpSubnet.parse("fd00:10:0:2::/64"), IpSubnet.parse("10.244.2.0/24"),
        IpSubnet.parse("fd00:10:0:1::/64"), IpSubnet.parse("10.244.1.0/24")));
    l.sort(IpSubnet.ORDER);
    assertThat(l).extracting(Object::toString)
        .containsExactly("10.244.1.0/24", "10.244.2.0/24", "fd00:10:0:1::/64", "fd00:10:0:2::/64");
    assertThat(l.get(0).ipv6()).isFalse();
    assertThat(l.get(3).ipv6()).isTrue();
  }

  @Test
  void containsAddressChecksTheFamily() {
    IpSubnet v4 = IpSubnet.parse("10.244.1.0/24");
    IpSubnet v6 = IpSubnet.parse("fd00:10:0:1::/64");
    assertThat(v4.containsAddress(Ipv4Subnet.toInet(Ipv4Subnet.parseAddress("10.244.1.7")))).isTrue();
    assertThat(v4.containsAddress(Ipv6Text.parse("fd00:10:0:1::7"))).isFalse();
    assertThat(v6.containsAddress(Ipv6Text.parse("fd00:10:0:1::7"))).isTrue();
    assertThat(v6.containsAddress(Ipv6Text.parse("fd00:10:0:2::7"))).isFalse();
    assertThat(IpSubnet.of(Ipv6Text.parse("fd00:10:0:1::9"), 64)).isEqualTo(v6);
    assertThat(IpSubnet.text(Ipv6Text.parse("fd00:10:0:1::9"))).isEqualTo("fd00:10:0:1::9");
  }

  @Test
  void ipv6HostsCountFromTheNetworkAddress() {
    Ipv6Subnet s = Ipv6Subnet.parse("fd00:10:0:1::/64");
    assertThat(Ipv6Text.format(s.host(1))).isEqualTo("fd00:10:0:1::1");
    assertThat(Ipv6Text.format(Ipv6Subnet.parse("fd00:10:0:1:ffff:ffff:ffff:ffff/128").host(1)))
        .isEqualTo("fd00:10:0:2::");
    // an IPv4-mapped network address stays an IPv6 address
    assertThat(new Ipv6Subnet(0, 0x0000ffff0a000000L, 120).networkAddress()).isInstanceOf(java.net.Inet6Address.class);
  }
}
