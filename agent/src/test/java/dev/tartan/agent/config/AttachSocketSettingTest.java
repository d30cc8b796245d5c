package dev.tartan.agent.config;

import static dev.tartan.agent.config.VxlanPeerFilterSettingTest.resolve;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code attach-socket}: default /run/tartan/attach.sock, "" turns it off, flag, env and HOCON key. */
class AttachSocketSettingTest {
  @TempDir Path dir;

  @Test
  void onByDefaultAndOffWithAnEmptyValue() throws Exception {
    assertThat(AgentConfig.defaults().attachSocket()).isEqualTo(Path.of("/run/tartan/attach.sock"));
    assertThat(resolve(Map.of(), "--attach-socket", "").attachSocket()).isNull();
    Path f = Files.writeString(dir.resolve("agent.conf"), "agent { attach-socket = \"\" }\n");
    assertThat(resolve(Map.of(), "--config", f.toString()).attachSocket()).isNull();
  }

  @Test
  void flagEnvAndFile() throws Exception {
    assertThat(resolve(Map.of(), "--attach-socket", "/run/x/a.sock").attachSocket()).isEqualTo(Path.of("/run/x/a.sock"));
    assertThat(resolve(Map.of("FLANNELD_ATTACH_SOCKET", "/run/y.sock")).attachSocket()).isEqualTo(Path.of("/run/y.sock"));
    Path f = Files.writeString(dir.resolve("agent.conf"), "agent { attach-socket = \"/run/z.sock\" }\n");
    assertThat(resolve(Map.of(), "--config", f.toString()).attachSocket()).isEqualTo(Path.of("/run/z.sock"));
  }

  @Test
  void aRelativeOrOverlongPathNamesTheSettingAndTheFix() {
    assertThatThrownBy(() -> resolve(Map.of(), "--attach-socket", "attach.sock"))
        .hasMessage("attach-socket 'attach.sock' must be an absolute file path such as /run/tartan/attach.sock,"
            + " or \"\" to turn it off (from flag --attach-socket)");
    assertThatThrownBy(() -> resolve(Map.of(), "--attach-socket", "/run/" + "x".repeat(120)))
        .hasMessageStartingWith("attach-socket '/run/xxx").hasMessageContaining("too long for a UNIX socket address");
  }
}
