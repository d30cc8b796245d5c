package dev.tartan.agent.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code vxlan-peer-filter}: flag, FLANNELD_ env, HOCON key, default off. */
class VxlanPeerFilterSettingTest {
  @Command(name = "agent")
  static class Cmd {
    @Mixin AgentOptions options;
  }

  @TempDir Path dir;

  static AgentConfig resolve(Map<String, String> env, String... args) throws AgentConfigException {
    Cmd c = new Cmd();
    new CommandLine(c).parseArgs(args);
    return AgentConfig.resolve(c.options, env);
  }

  @Test
  void offByDefault() throws Exception {
    assertThat(resolve(Map.of()).vxlanPeerFilter()).isFalse();
    assertThat(AgentConfig.defaults().vxlanPeerFilter()).isFalse();
  }

  @Test
  void flagEnvAndFileTurnItOnInTheirOrder() throws Exception {
    assertThat(resolve(Map.of(), "--vxlan-peer-filter").vxlanPeerFilter()).isTrue();
    assertThat(resolve(Map.of(), "--vxlan-peer-filter=false").vxlanPeerFilter()).isFalse();
    assertThat(resolve(Map.of("FLANNELD_VXLAN_PEER_FILTER", "true")).vxlanPeerFilter()).isTrue();
    Path f = dir.resolve("agent.conf");
    Files.writeString(f, "agent { vxlan-peer-filter = true }\n");
    assertThat(resolve(Map.of(), "--config", f.toString()).vxlanPeerFilter()).isTrue();
    assertThat(resolve(Map.of("FLANNELD_VXLAN_PEER_FILTER", "0"), "--config", f.toString()).vxlanPeerFilter())
        .isFalse();
    assertThat(resolve(Map.of("FLANNELD_VXLAN_PEER_FILTER", "0"), "--config", f.toString(), "--vxlan-peer-filter")
        .vxlanPeerFilter()).isTrue();
    assertThat(resolve(Map.of(), "--vxlan-peer-filter").toString()).contains("vxlanPeerFilter=true");
  }

  @Test
  void aBadValueNamesTheSettingAndTheSource() {
    try {
      resolve(Map.of("FLANNELD_VXLAN_PEER_FILTER", "maybe"));
      throw new AssertionError("accepted 'maybe'");
    } catch (AgentConfigException e) {
      assertThat(e.getMessage()).isEqualTo(
          "vxlan-peer-filter must be true or false, got 'maybe' (from env FLANNELD_VXLAN_PEER_FILTER)");
    }
  }
}
