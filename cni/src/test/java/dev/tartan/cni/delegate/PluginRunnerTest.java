package dev.tartan.cni.delegate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tartan.cni.CniException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The delegate runner's process plumbing, with {@code sh} and {@code cat} found on a CNI_PATH of their own
 * (a shell reads its script from stdin, the way a plugin reads its config).
 */
class PluginRunnerTest {
  @TempDir
  Path bin;
  PluginRunner runner;

  @BeforeEach
  void setUp() throws Exception {
    for (String tool : new String[] {"sh", "cat"}) {
      Path real = Path.of("/bin", tool);
      assumeTrue(Files.isExecutable(real), "needs /bin/" + tool);
      Path wrapper = Files.writeString(bin.resolve(tool), "#!/bin/sh\nexec " + real + " \"$@\"\n");
      assertThat(wrapper.toFile().setExecutable(true)).isTrue();
    }
    Map<String, String> env = new HashMap<>();
    env.put("CNI_COMMAND", "ADD");
    env.put("CNI_CONTAINERID", "c1");
    env.put("CNI_NETNS", "/run/netns/x");
    env.put("CNI_PATH", "/nonexistent:" + bin);
    runner = new PluginRunner("/nonexistent:" + bin, env, 5_000);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void stdinGoesInAndStdoutComesBack() throws Exception {
    assertThat(runner.exec("cat", "ADD", null, bytes("{\"small\":1}"))).isEqualTo("{\"small\":1}");
  }

  @Test
  void aLargeConfigDoesNotDeadlockAgainstADelegateThatWritesWhileReading() throws Exception {
    String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"x\":\"" + "y".repeat(200_000) + "\"}";
    assertThat(runner.exec("cat", "ADD", null, bytes(conf))).isEqualTo(conf);
  }

  @Test
  void environmentCarriesTheCommandAndOverrides() throws Exception {
    Map<String, String> overrides = new HashMap<>();
    overrides.put("CNI_CONTAINERID", "other");
    overrides.put("CNI_NETNS", null);
    String out = runner.exec("sh", "DEL", overrides,
        bytes("echo \"$CNI_COMMAND|$CNI_CONTAINERID|${CNI_NETNS-unset}|$CNI_PATH\""));
    assertThat(out).isEqualTo("DEL|other|unset|/nonexistent:" + bin + "\n");
  }

  @Test
  void theDelegatesErrorIsPassedOnUnchanged() {
    assertThatThrownBy(() -> runner.exec("sh", "ADD", null,
        bytes("echo '{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"bad config\",\"details\":\"d\"}'; exit 1")))
        .isInstanceOfSatisfying(CniException.class, e -> {
          assertThat(e.code()).isEqualTo(7);
          assertThat(e.msg()).isEqualTo("bad config");
          assertThat(e.details()).isEqualTo("d");
        });
  }

  @Test
  void aFailureWithoutACniErrorIsCode101WithTheOutput() {
    assertThatThrownBy(() -> runner.exec("sh", "ADD", null, bytes("echo oops; exit 3")))
        .isInstanceOfSatisfying(CniException.class, e -> {
          assertThat(e.code()).isEqualTo(101);
          assertThat(e.msg()).isEqualTo("delegate sh ADD failed with exit status 3 and printed no CNI error");
          assertThat(e.details()).isEqualTo("oops");
        });
  }

  @Test
  void aHangingDelegateIsKilled() {
    PluginRunner quick = new PluginRunner(bin.toString(), Map.of(), 300);
    long start = System.nanoTime();
    // sleep is the shell's child and holds the delegate's stdout: the whole tree must go
    assertThatThrownBy(() -> quick.exec("sh", "ADD", null, bytes("sleep 30; echo late")))
        .isInstanceOfSatisfying(CniException.class, e -> assertThat(e.code()).isEqualTo(101))
        .hasMessage("delegate sh ADD timed out after 300 ms and was killed");
    assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(20_000);
  }

  @Test
  void versionsFromTheVersionCommand() throws Exception {
    Path fake = Files.writeString(bin.resolve("versions.sh"),
        "#!/bin/sh\necho '{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\"]}'\n");
    fake.toFile().setExecutable(true);
    assertThat(runner.supportedVersions("versions.sh")).containsExactly("0.4.0", "1.0.0");
  }

  @Test
  void lookupSkipsNonExecutablesAndRefusesPaths() throws Exception {
    Files.writeString(bin.resolve("plain"), "not executable");
    assertThatThrownBy(() -> runner.find("plain")).isInstanceOfSatisfying(CniException.class,
        e -> assertThat(e.code()).isEqualTo(101));
    assertThatThrownBy(() -> runner.find("../sh")).isInstanceOfSatisfying(CniException.class,
        e -> assertThat(e.code()).isEqualTo(7));
    assertThat(runner.find("sh")).isEqualTo(bin.resolve("sh"));
    assertThat(runner.find("cat")).isEqualTo(bin.resolve("cat"));
  }
}
