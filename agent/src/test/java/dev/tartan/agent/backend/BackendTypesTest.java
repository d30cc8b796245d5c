package dev.tartan.agent.backend;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Backend types: vxlan runs, WireGuard and the rest are refused with one line and the fix. */
class BackendTypesTest {
  @Test
  void vxlanInAnyCaseIsSupported() {
    assertThat(BackendTypes.refusal("vxlan", "/coreos.com/network/config")).isEmpty();
    assertThat(BackendTypes.refusal("VXLAN", "/coreos.com/network/config")).isEmpty();
    assertThat(BackendTypes.refusal("host-gw", "/coreos.com/network/config")).isEmpty();
  }

  @Test
  void wireguardIsRefusedWithOneLineSayingWhatIsSupported() {
    String line = BackendTypes.refusal("wireguard", "/coreos.com/network/config").orElseThrow();
    assertThat(line).isEqualTo("the network config asks for backend \"wireguard\": Tartan has no WireGuard backend "
        + "(it would need the wireguard kernel module and flannel's key exchange through the leases); supported: "
        + "vxlan, host-gw; set \"Backend\": {\"Type\": \"vxlan\"} in /coreos.com/network/config");
    assertThat(line).doesNotContain("\n");
  }

  @Test
  void otherTypesAreRefusedToo() {
    assertThat(BackendTypes.refusal("udp", "/p/config")).hasValue("the network config asks for backend \"udp\": "
        + "Tartan does not implement it; supported: vxlan, host-gw; set \"Backend\": {\"Type\": \"vxlan\"} in /p/config");
    assertThat(BackendTypes.unsupported("ipip")).hasValue("Tartan does not implement it; supported: vxlan, host-gw");
  }
}
