package dev.tartan.agent.iface;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.netlink.rtnl.Address;
import dev.tartan.net.Ipv4Subnet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class NetworkOverlapTest {
  static final Map<Integer, String> NAMES = Map.of(1, "lo", 2, "eth0", 3, "flannel.1", 4, "cni0", 5, "docker0");
  static final Set<String> OWN = Set.of("flannel.1", "cni0");
  static final List<Address> HOST = List.of(
      addr(1, "127.0.0.1", 8), addr(2, "198.51.100.7", 24), addr(3, "10.244.7.0", 32), addr(4, "10.244.7.1", 24),
      addr(5, "172.17.0.1", 16));

  static Address addr(int link, String ip, int len) {
    return new Address(link, Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(ip)), len);
  }

  @Test
  void theOverlaysOwnDevicesDoNotCount() {
    assertThat(NetworkOverlap.find(Ipv4Subnet.parse("10.244.0.0/16"), HOST, NAMES, OWN)).isEmpty();
  }

  @Test
  void aNetworkContainingTheUnderlayIsRefusedNamingBoth() {
    Ipv4Subnet net = Ipv4Subnet.parse("198.51.0.0/16");
    var c = NetworkOverlap.find(net, HOST, NAMES, OWN).orElseThrow();
    assertThat(c.link()).isEqualTo("eth0");
    assertThat(c.hostNetwork()).isEqualTo(Ipv4Subnet.parse("198.51.100.0/24"));
    assertThat(NetworkOverlap.message(net, c)).isEqualTo("the network config's Network 198.51.0.0/16 overlaps "
        + "198.51.100.0/24 of interface eth0 (address 198.51.100.7/24) on this host: choose a Network that contains "
        + "none of the host's own networks (tartan network init --network CIDR on a fresh prefix)");
  }

  @Test
  void aNetworkInsideAHostNetworkIsRefusedToo() {
    var c = NetworkOverlap.find(Ipv4Subnet.parse("172.17.128.0/20"), HOST, NAMES, OWN).orElseThrow();
    assertThat(c.link()).isEqualTo("docker0");
  }

  @Test
  void unknownLinksAreNamedByIndexAndTheFirstByNameWins() {
    List<Address> two = List.of(addr(9, "10.1.2.3", 24), addr(2, "10.1.0.1", 16));
    var c = NetworkOverlap.find(Ipv4Subnet.parse("10.0.0.0/8"), two, NAMES, OWN).orElseThrow();
    assertThat(c.link()).isEqualTo("eth0");
    assertThat(NetworkOverlap.find(Ipv4Subnet.parse("10.1.2.0/24"), List.of(addr(9, "10.1.2.3", 24)), NAMES, OWN)
        .orElseThrow().link()).isEqualTo("ifindex 9");
  }
}
