package dev.tartan.cni.attach;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.cni.attach.AttachProtocol.Request;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which calls the agent sends back to the standalone plugin before accepting them. */
class AttachCallsTest {
  @TempDir Path dir;

  @Test
  void aNamespaceTheAgentCanOpenStaysInTheAgent() {
    assertThat(AttachCalls.unopenable("/proc/self/ns/net")).isNull();
    assertThat(new AttachCalls().fallBackReason(new Request(List.of(),
        Map.of("CNI_COMMAND", "ADD", "CNI_NETNS", "/proc/self/ns/net"), new byte[0]))).isNull();
  }

  @Test
  void aProcNamespaceTheAgentCannotSeeGoesToTheStandalonePlugin() {
    String gone = "/proc/2147483647/ns/net";
    assertThat(AttachCalls.unopenable(gone)).contains("cannot see the network namespace " + gone);
    assertThat(new AttachCalls().fallBackReason(new Request(List.of("setup", gone), Map.of(), new byte[0])))
        .contains("standalone plugin");
  }

  @Test
  void aMissingOrOddPathIsLeftToThePluginToReport() throws Exception {
    assertThat(AttachCalls.unopenable(dir.resolve("absent").toString())).isNull();
    assertThat(AttachCalls.unopenable(dir.toString())).isNull(); // a directory: not opened
    assertThat(AttachCalls.unopenable("")).isNull();
    assertThat(AttachCalls.unopenable(null)).isNull();
    Path regular = Files.writeString(dir.resolve("file"), "x");
    assertThat(AttachCalls.unopenable(regular.toString())).isNull();
  }

  @Test
  void anUnknownSubcommandIsSentBack() {
    assertThat(new AttachCalls().fallBackReason(new Request(List.of("frobnicate"), Map.of(), new byte[0])))
        .contains("no handler for the subcommand 'frobnicate'");
  }
}
