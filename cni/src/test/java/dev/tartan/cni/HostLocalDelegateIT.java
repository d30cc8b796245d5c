package dev.tartan.cni;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tartan.cni.PluginHost.Call;
import dev.tartan.cni.json.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher with host-local itself as the delegate: no namespaces or root needed, so this runs wherever
 * the plugins are installed. Covers IPAM-shaped results and GC's release of interfaces other than eth0.
 */
@Timeout(120)
class HostLocalDelegateIT {
  @TempDir
  Path tmp;
  Path subnetFile;

  @BeforeEach
  void setUp() throws Exception {
    assumeTrue(Files.isExecutable(PluginHost.PLUGINS.resolve("host-local")), "needs /usr/lib/cni/host-local");
    assumeTrue(Files.isExecutable(PluginHost.LAUNCHER), "needs the packaged launcher " + PluginHost.LAUNCHER);
    subnetFile = Files.writeString(tmp.resolve("subnet.env"), PluginHost.SUBNET_ENV);
  }

  private String conf(String version, String extra) {
    return "{\"cniVersion\":\"" + version + "\",\"name\":\"hl\",\"type\":\"tartan\",\"subnetFile\":\"" + subnetFile
        + "\",\"dataDir\":\"" + tmp.resolve("data") + "\",\"delegate\":{\"type\":\"host-local\"},"
        + "\"ipam\":{\"dataDir\":\"" + tmp.resolve("ipam") + "\"}" + extra + "}";
  }

  private Call plugin(String command, String id, String ifname, String stdin) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("env", "CNI_COMMAND=" + command, "CNI_PATH=" + PluginHost.PLUGINS,
        "CNI_NETNS=/proc/self/ns/net"));
    if (id != null) {
      cmd.add("CNI_CONTAINERID=" + id);
      cmd.add("CNI_IFNAME=" + ifname);
    }
    cmd.add(PluginHost.LAUNCHER.toString());
    return PluginHost.run(cmd, stdin);
  }

  private List<String> ips() throws Exception {
    Path dir = tmp.resolve("ipam/hl");
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("10.")).sorted().toList();
    }
  }

  @Test
  void ipamResultIsConvertedToTheRequestedVersion() throws Exception {
    Call add = plugin("ADD", "h1", "eth0", conf("0.3.1", ""));
    assertThat(add.status()).as(add.toString()).isZero();
    Map<String, Object> r = Json.parseObject(add.stdout());
    assertThat(r.get("cniVersion")).isEqualTo("0.3.1");
    assertThat(r).doesNotContainKey("interfaces");
    Map<?, ?> ip = (Map<?, ?>) ((List<?>) r.get("ips")).get(0);
    assertThat(ip.get("version")).isEqualTo("4");
    assertThat(ips()).containsExactly(((String) ip.get("address")).replace("/24", ""));

    Call add110 = plugin("ADD", "h2", "eth0", conf("1.1.0", ""));
    assertThat(add110.status()).as(add110.toString()).isZero();
    assertThat(Json.parseObject(add110.stdout()).get("cniVersion")).isEqualTo("1.1.0");
    assertThat(Files.readString(tmp.resolve("data/h2"))).as("negotiated down for host-local 1.1.1")
        .startsWith("{\"cniVersion\":\"1.0.0\"");

    assertThat(plugin("DEL", "h1", "eth0", conf("0.3.1", "")).status()).isZero();
    assertThat(plugin("DEL", "h2", "eth0", conf("1.1.0", "")).status()).isZero();
    assertThat(ips()).isEmpty();
  }

  @Test
  void gcReleasesAddressesOfAnyInterfaceName() throws Exception {
    assertThat(plugin("ADD", "g1", "net1", conf("1.1.0", "")).status()).isZero();
    assertThat(plugin("ADD", "g2", "eth0", conf("1.1.0", "")).status()).isZero();
    assertThat(ips()).hasSize(2);
    Call gc = plugin("GC", null, null, conf("1.1.0", ",\"cni.dev/valid-attachments\":[{\"containerID\":\"g2\","
        + "\"ifname\":\"eth0\"}]"));
    assertThat(gc.status()).as(gc.toString()).isZero();
    assertThat(ips()).hasSize(1);
    try (Stream<Path> s = Files.list(tmp.resolve("data"))) {
      assertThat(s.map(p -> p.getFileName().toString())).containsExactly("g2");
    }
    assertThat(plugin("DEL", "g2", "eth0", conf("1.1.0", "")).status()).isZero();
    assertThat(ips()).isEmpty();
  }
}
