package dev.tartan.agent.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.store.NetworkConfig;
import org.junit.jupiter.api.Test;

class PeerCapacityTest {
  static NetworkConfig config(String json) throws Exception {
    return NetworkConfig.parse(json);
  }

  @Test
  void theLaunchersHeapCarriesASlashEightOfSlashTwentyFours() throws Exception {
    NetworkConfig big = config("{\"Network\":\"10.0.0.0/8\",\"Backend\":{\"Type\":\"vxlan\"}}");
    assertThat(PeerCapacity.hosts(big)).isEqualTo(65_535); // flannel leaves out the first subnet
    assertThat(PeerCapacity.check(big, 192L << 20)).isEmpty();
  }

  @Test
  void aHeapTooSmallForTheNetworkIsOneLineNamingTheFlag() throws Exception {
    NetworkConfig big = config("{\"Network\":\"10.0.0.0/8\",\"Backend\":{\"Type\":\"vxlan\"}}");
    String line = PeerCapacity.check(big, 64L << 20).orElseThrow();
    assertThat(line).contains("65535 hosts", "TARTAN_JAVA_OPTS=-Xmx" + PeerCapacity.heapMib(65_535) + "m")
        .doesNotContain("\n");
  }

  @Test
  void aSmallNetworkFitsTheSmallestHeap() throws Exception {
    NetworkConfig small = config("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    assertThat(PeerCapacity.hosts(small)).isEqualTo(255);
    assertThat(PeerCapacity.check(small, 32L << 20)).isEmpty();
  }
}
