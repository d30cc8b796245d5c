package dev.tartan.cni;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.cni.PluginHost.Call;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The real launcher with Debian's bridge and host-local, run as a runtime runs it ({@code ip netns exec <host>
 * env CNI_...=... tartan-cni}) inside a test host namespace, for containers in namespaces of their own.
 */
@Timeout(300)
class CniPluginIT {

  @BeforeEach
  void requirements() {
    PluginHost.assumeUsable();
  }

  @ParameterizedTest
  @ValueSource(strings = {"0.3.1", "0.4.0", "1.0.0", "1.1.0"})
  void addGivesAnAddressAndTheOverlayRouteAndDelRemovesEverything(String version) throws Exception {
    try (PluginHost host = new PluginHost()) {
      String ctr = host.container();
      Call add = host.plugin("ADD", "c1", ctr, "eth0", host.conf(version, ""));
      assertThat(add.status()).as(add.toString()).isZero();
      Map<String, Object> result = add.json();
      assertThat(result.get("cniVersion")).isEqualTo(version);
      Map<?, ?> ip = (Map<?, ?>) ((List<?>) result.get("ips")).get(0);
      String address = (String) ip.get("address");
      assertThat(address).startsWith("10.244.7.").endsWith("/24");
      assertThat(ip.get("gateway")).isEqualTo("10.244.7.1");
      assertThat(ip.containsKey("version")).isEqualTo(version.startsWith("0."));

      assertThat(containerAddresses(host, ctr)).containsExactly(address);
      Map<?, ?> route = overlayRoute(host, ctr);
      assertThat(route).as("route to the overlay network").isNotNull();
      assertThat(route.get("gateway")).isEqualTo("10.244.7.1");
      assertThat(host.savedConfigs()).containsExactly("c1");
      assertThat(Files.readString(host.dataDir.resolve("c1"))).contains("\"isGateway\":true").contains("\"mtu\":1450")
          .contains("\"ipMasq\":false").contains("\"ranges\":[[{\"subnet\":\"10.244.7.0/24\"}]]");
      assertThat(host.allocatedIps()).containsExactly(address.substring(0, address.indexOf('/')));
      assertThat(host.hostVeths()).hasSize(1);

      Files.delete(host.subnetFile); // DEL works from the saved config alone
      Call del = host.plugin("DEL", "c1", ctr, "eth0", host.conf(version, ",\"prevResult\":" + add.stdout()));
      assertThat(del.status()).as(del.toString()).isZero();
      assertThat(del.stdout()).isEmpty();
      assertThat(host.savedConfigs()).isEmpty();
      assertThat(host.allocatedIps()).isEmpty();
      assertThat(host.hostVeths()).isEmpty();
      assertThat(containerAddresses(host, ctr)).isEmpty();

      Call again = host.plugin("DEL", "c1", ctr, "eth0", host.conf(version, ""));
      assertThat(again.status()).as(again.toString()).isZero();
      Files.writeString(host.subnetFile, PluginHost.SUBNET_ENV); // and with subnet.env: rebuilt config, delegate DEL
      Call third = host.plugin("DEL", "c1", ctr, "eth0", host.conf(version, ""));
      assertThat(third.status()).as(third.toString()).isZero();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"0.4.0", "1.0.0", "1.1.0"})
  void checkPassesThenFailsOnceTheAddressIsGone(String version) throws Exception {
    try (PluginHost host = new PluginHost()) {
      String ctr = host.container();
      Call add = host.plugin("ADD", "chk", ctr, "eth0", host.conf(version, ""));
      assertThat(add.status()).as(add.toString()).isZero();
      String withPrev = host.conf(version, ",\"prevResult\":" + add.stdout());

      Call ok = host.plugin("CHECK", "chk", ctr, "eth0", withPrev);
      assertThat(ok.status()).as(ok.toString()).isZero();
      assertThat(ok.stdout()).isEmpty();

      host.ip("-n", ctr, "addr", "flush", "dev", "eth0");
      Call bad = host.plugin("CHECK", "chk", ctr, "eth0", withPrev);
      assertThat(bad.status()).isEqualTo(1);
      assertThat(bad.json().get("code")).isEqualTo(102L);
      assertThat((String) bad.json().get("msg")).contains("does not hold 10.244.7.");

      assertThat(host.plugin("DEL", "chk", ctr, "eth0", withPrev).status()).isZero();
      Call gone = host.plugin("CHECK", "chk", ctr, "eth0", withPrev);
      assertThat(gone.json().get("code")).isEqualTo(3L);
    }
  }

  @Test
  void failedAddLeavesNoSavedConfigNoAddressAndNoVeth() throws Exception {
    try (PluginHost host = new PluginHost()) {
      String ctr = host.container();
      host.ip("-n", ctr, "link", "add", "eth0", "type", "veth", "peer", "name", "blocker");
      Call add = host.plugin("ADD", "fail1", ctr, "eth0", host.conf("1.0.0", ""));
      assertThat(add.status()).as(add.toString()).isEqualTo(1);
      assertThat((String) add.json().get("msg")).as("the delegate's own error, passed on").contains("eth0");
      assertThat(host.savedConfigs()).isEmpty();
      assertThat(host.allocatedIps()).isEmpty();
      assertThat(host.hostVeths()).isEmpty();
    }
  }

  @Test
  void gcReleasesContainersTheRuntimeNoLongerKnows() throws Exception {
    try (PluginHost host = new PluginHost()) {
      String live = host.container();
      String dead = host.container();
      assertThat(host.plugin("ADD", "live1", live, "eth0", host.conf("1.1.0", "")).status()).isZero();
      Call staleAdd = host.plugin("ADD", "stale1", dead, "eth0", host.conf("1.1.0", ""));
      assertThat(staleAdd.status()).isZero();
      assertThat(host.allocatedIps()).hasSize(2);
      host.deleteNamespace(dead); // the container went away without a DEL

      Call gc = host.plugin("GC", null, null, null,
          host.conf("1.1.0", ",\"cni.dev/valid-attachments\":[{\"containerID\":\"live1\",\"ifname\":\"eth0\"}]"));
      assertThat(gc.status()).as(gc.toString()).isZero();
      assertThat(gc.stdout()).isEmpty();
      assertThat(host.savedConfigs()).containsExactly("live1");
      assertThat(host.allocatedIps()).hasSize(1);
      assertThat(host.hostVeths()).hasSize(1);
      assertThat(containerAddresses(host, live)).hasSize(1);

      assertThat(host.plugin("DEL", "live1", live, "eth0", host.conf("1.1.0", "")).status()).isZero();
      assertThat(host.allocatedIps()).isEmpty();
    }
  }

  @Test
  void statusFollowsSubnetEnv() throws Exception {
    try (PluginHost host = new PluginHost()) {
      String conf = host.conf("1.1.0", "");
      Call ready = host.plugin("STATUS", null, null, null, conf);
      assertThat(ready.status()).as(ready.toString()).isZero();
      assertThat(ready.stdout()).isEmpty();

      Path moved = Files.move(host.subnetFile, host.dir.resolve("subnet.env.away"));
      Call down = host.plugin("STATUS", null, null, null, conf);
      assertThat(down.status()).isEqualTo(1);
      assertThat(down.json().get("code")).isEqualTo(50L);

      Files.move(moved, host.subnetFile);
      assertThat(host.plugin("STATUS", null, null, null, conf).status()).isZero();
    }
  }

  @Test
  void fiftyAddDelCyclesLeakNothing() throws Exception {
    try (PluginHost host = new PluginHost()) {
      String ctr = host.container();
      String conf = host.conf("1.0.0", "");
      for (int i = 0; i < 50; i++) {
        String id = "cycle" + i;
        Call add = host.plugin("ADD", id, ctr, "eth0", conf);
        assertThat(add.status()).as("ADD %d: %s", i, add).isZero();
        Call del = host.plugin("DEL", id, ctr, "eth0", conf);
        assertThat(del.status()).as("DEL %d: %s", i, del).isZero();
      }
      assertThat(host.hostVeths()).isEmpty();
      assertThat(host.savedConfigs()).isEmpty();
      assertThat(host.allocatedIps()).isEmpty();
      assertThat(containerAddresses(host, ctr)).isEmpty();
    }
  }

  private static List<String> containerAddresses(PluginHost host, String ctr) throws Exception {
    List<?> links = host.ipJson("-n", ctr, "-4", "addr", "show");
    List<String> out = new java.util.ArrayList<>();
    for (Object link : links) {
      if (!"eth0".equals(((Map<?, ?>) link).get("ifname"))) {
        continue;
      }
      for (Object info : (List<?>) ((Map<?, ?>) link).get("addr_info")) {
        Map<?, ?> a = (Map<?, ?>) info;
        out.add(a.get("local") + "/" + a.get("prefixlen"));
      }
    }
    return out;
  }

  private static Map<?, ?> overlayRoute(PluginHost host, String ctr) throws Exception {
    for (Object r : host.ipJson("-n", ctr, "-4", "route", "show")) {
      if ("10.244.0.0/16".equals(((Map<?, ?>) r).get("dst"))) {
        return (Map<?, ?>) r;
      }
    }
    return null;
  }
}
