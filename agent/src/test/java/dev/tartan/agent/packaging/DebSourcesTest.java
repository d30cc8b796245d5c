package dev.tartan.agent.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The hand-written package files name the project's version, so a version bump cannot forget them. */
class DebSourcesTest {
  static final Path DEB = Path.of("src", "deb");

  static String projectVersion() throws IOException {
    Matcher m = Pattern.compile("<artifactId>tartan-parent</artifactId>\\s*<version>([^<]+)</version>")
        .matcher(Files.readString(Path.of("..", "pom.xml")));
    assertThat(m.find()).as("version in ../pom.xml").isTrue();
    return m.group(1);
  }

  @Test
  void changelogAndManPageNameTheProjectVersion() throws IOException {
    String version = projectVersion();
    assertThat(Files.readString(DEB.resolve("doc/changelog")).lines().findFirst().orElse(""))
        .as("add a changelog entry for %s", version).startsWith("tartan (" + version + ") ");
    assertThat(Files.readString(DEB.resolve("man/tartan.1")).lines().findFirst().orElse(""))
        .contains("\"tartan " + version + "\"");
  }

  @Test
  void maintainerScriptsAreStrictPosixShellAndHandleEveryDpkgAction() throws IOException {
    for (String script : new String[] {"postinst", "prerm", "postrm"}) {
      String text = Files.readString(DEB.resolve("control").resolve(script));
      assertThat(text).as(script).startsWith("#!/bin/sh\n").contains("\nset -e\n").contains("exit 0\n")
          .contains("*)\n    echo \"" + script + " called with unknown argument");
      String code = text.lines().filter(l -> !l.strip().startsWith("#")).reduce("", (a, b) -> a + b + "\n");
      assertThat(code).as(script + ": leases and kernel state are left alone")
          .doesNotContain("tartan leases").doesNotContain("ip link").doesNotContain("iptables");
    }
    String postinst = Files.readString(DEB.resolve("control/postinst"));
    assertThat(postinst).contains("if [ -d /run/systemd/system ]; then\n      systemctl --system daemon-reload");
    assertThat(Files.readString(DEB.resolve("control/control"))).contains("Version: [[version]]");
  }
}
