package dev.tartan.agent.subnetenv;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.net.Ipv4Subnet;
import org.junit.jupiter.api.Test;

class SubnetEnvTest {

  @Test
  void rendersFlannelsVariablesInOrder() {
    SubnetEnv env = SubnetEnv.of(Ipv4Subnet.parse("10.5.0.0/16"), Ipv4Subnet.parse("10.5.72.0/24"),
        1450, false);
    assertThat(env.render()).isEqualTo("""
        FLANNEL_NETWORK=10.5.0.0/16
        FLANNEL_SUBNET=10.5.72.1/24
        FLANNEL_MTU=1450
        FLANNEL_IPMASQ=false
        """);
    assertThat(env.gateway().getHostAddress()).isEqualTo("10.5.72.1");
  }

  @Test
  void rendersDualStackInFlannelsOrder() {
    SubnetEnv env = new SubnetEnv(Ipv4Subnet.parse("10.5.0.0/16"),
        Ipv4Subnet.parse("10.5.72.0/24"), 1450, true, "2001:cafe:42::/56", "2001:cafe:42::/64");
    assertThat(env.render()).isEqualTo("""
        FLANNEL_NETWORK=10.5.0.0/16
        FLANNEL_SUBNET=10.5.72.1/24
        FLANNEL_IPV6_NETWORK=2001:cafe:42::/56
        FLANNEL_IPV6_SUBNET=2001:cafe:42::1/64
        FLANNEL_MTU=1450
        FLANNEL_IPMASQ=true
        """);
  }

  @Test
  void parsesWhatItRendersAndMasksSubnets() {
    SubnetEnv env = new SubnetEnv(Ipv4Subnet.parse("10.244.0.0/16"),
        Ipv4Subnet.parse("10.244.3.0/24"), 8950, true, "fd00:12::/48", "fd00:12:13::/64");
    assertThat(SubnetEnv.parse(env.render())).isEqualTo(env);
    SubnetEnv parsed = SubnetEnv.parse("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n"
        + "FLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n");
    assertThat(parsed.subnet()).isEqualTo(Ipv4Subnet.parse("10.1.17.0/24"));
    assertThat(parsed.network()).isEqualTo(Ipv4Subnet.parse("10.1.0.0/16"));
    assertThat(parsed.mtu()).isEqualTo(1472);
    assertThat(parsed.ipMasq()).isTrue();
    assertThat(parsed.ipv6Network()).isNull();
  }

  @Test
  void parseToleratesCommentsQuotesExportAndCrLf() {
    SubnetEnv parsed = SubnetEnv.parse("# written by hand\r\n\r\nexport FLANNEL_NETWORK=\"10.1.0.0/16\"\r\n"
        + "FLANNEL_SUBNET='10.1.17.1/24'\r\nFLANNEL_MTU = 1450\r\nFLANNEL_IPMASQ=false\r\n");
    assertThat(parsed.render()).isEqualTo("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n"
        + "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n");
  }

  @Test
  void parseNamesWhatIsMissingOrWrong() {
    assertThatThrownBy(() -> SubnetEnv.parse("FLANNEL_SUBNET=10.1.17.1/24\n"))
        .hasMessage("subnet.env is missing FLANNEL_NETWORK, FLANNEL_MTU, FLANNEL_IPMASQ");
    assertThatThrownBy(() -> SubnetEnv.parse("FLANNEL_NETWORK=10.1.0.0/16,192.168.0.0/16\n"
        + "FLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n"))
        .hasMessage("FLANNEL_NETWORK holds several values (10.1.0.0/16,192.168.0.0/16), expected one");
    assertThatThrownBy(() -> SubnetEnv.parse("FLANNEL_NETWORK=10.1.0.0/16\n"
        + "FLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=big\nFLANNEL_IPMASQ=false\n"))
        .hasMessage("FLANNEL_MTU is not a number: big");
    assertThatThrownBy(() -> SubnetEnv.parse("FLANNEL_NETWORK=10.1.0.0/16\n"
        + "FLANNEL_SUBNET=10.2.17.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n"))
        .hasMessage("subnet.env is inconsistent: subnet 10.2.17.0/24 is not inside network 10.1.0.0/16");
    assertThatThrownBy(() -> SubnetEnv.parse("FLANNEL_NETWORK=10.1.0.0/16\n"
        + "FLANNEL_SUBNET=10.1.17.1\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n"))
        .hasMessage("FLANNEL_SUBNET is not an IPv4 CIDR: 10.1.17.1");
  }

  @Test
  void recordChecksItsValues() {
    Ipv4Subnet net = Ipv4Subnet.parse("10.5.0.0/16");
    assertThatThrownBy(() -> SubnetEnv.of(net, Ipv4Subnet.parse("10.6.1.0/24"), 1450, false))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> SubnetEnv.of(net, Ipv4Subnet.parse("10.5.1.0/24"), 0, false))
        .hasMessage("MTU must be 68..65535, got 0");
    assertThatThrownBy(() -> new SubnetEnv(net, Ipv4Subnet.parse("10.5.1.0/24"), 1450, false,
        "fd00::/48", null)).hasMessage("ipv6Network and ipv6Subnet must be set together");
  }
}
