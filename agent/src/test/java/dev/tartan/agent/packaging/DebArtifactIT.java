package dev.tartan.agent.packaging;

import dev.tartan.agent.testbed.Cmd;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The built target/tartan_VERSION_ARCH.deb as an artifact: control fields, contents, lintian. */
class DebArtifactIT {
  @BeforeEach
  void needsTheDeb() {
    assumeTrue(Files.isRegularFile(java.nio.file.Path.of("target", "tartan.jar")),
        "agent/target/tartan.jar is missing: run `mvn package` first");
    assumeTrue(Files.isRegularFile(Deb.file()), Deb.file() + " is missing: run `mvn package` first");
    assumeTrue(Cmd.exec(Duration.ofSeconds(10), List.of("sh", "-c", "command -v dpkg-deb")).ok(),
        "needs dpkg-deb (a Debian system)");
  }

  @Test
  void controlFieldsNameThePackageItsVersionAndDependencies() {
    String deb = Deb.file().toString();
    assertThat(Cmd.run("dpkg-deb", "-f", deb, "Package").strip()).isEqualTo("tartan");
    assertThat(Cmd.run("dpkg-deb", "-f", deb, "Version").strip()).isEqualTo(Deb.version());
    assertThat(Cmd.run("dpkg-deb", "-f", deb, "Architecture").strip()).isEqualTo(Deb.arch());
    assertThat(Cmd.run("dpkg-deb", "-f", deb, "Depends").strip()).isEqualTo(
        "libc6, default-jre-headless (>= 2:1.17) | java17-runtime-headless, iproute2, iptables, containernetworking-plugins");
    assertThat(Cmd.run("dpkg-deb", "-I", deb, "conffiles").lines().toList())
        .containsExactlyInAnyOrder("/etc/tartan/agent.conf", "/etc/default/tartan");
    assertThat(Cmd.run("dpkg-deb", "-I", deb, "triggers")).contains("interest-noawait /usr/lib/jvm");
  }

  @Test
  void containsTheLauncherJarsPluginLinksUnitConfigAndDocs() {
    // "mode owner size date time path [-> target]" per line of dpkg-deb -c
    Map<String, String> entries = new TreeMap<>();
    for (String line : Cmd.run("dpkg-deb", "-c", Deb.file().toString()).split("\n")) {
      String[] f = line.trim().split("\\s+", 6);
      String path = f[5].startsWith("./") ? f[5].substring(1) : f[5];
      entries.put(path.replaceFirst("/$", ""), f[0] + " " + f[1]);
    }
    assertThat(entries).containsEntry("/usr/bin/tartan", "-rwxr-xr-x root/root")
        .containsEntry("/usr/share/tartan/tartan.jar", "-rw-r--r-- root/root")
        .containsEntry("/usr/share/tartan/tartan-cni.jar", "-rw-r--r-- root/root")
        .containsEntry("/usr/share/tartan/tartan-cni", "-rwxr-xr-x root/root")
        .containsEntry("/usr/lib/tartan/tartan-cni", "-rwxr-xr-x root/root")
        .containsEntry("/usr/lib/tartan/tartan-cni-java -> ../../share/tartan/tartan-cni", "lrw-r--r-- root/root")
        .containsEntry("/usr/lib/cni/tartan -> ../tartan/tartan-cni", "lrw-r--r-- root/root")
        .containsEntry("/opt/cni/bin/tartan -> /usr/lib/tartan/tartan-cni", "lrw-r--r-- root/root")
        .containsEntry("/usr/share/tartan/tartan-netavark", "-rwxr-xr-x root/root")
        .containsEntry("/usr/lib/tartan/tartan-netavark-java -> ../../share/tartan/tartan-netavark",
            "lrw-r--r-- root/root")
        .containsEntry("/usr/libexec/netavark/tartan -> ../../lib/tartan/tartan-cni", "lrw-r--r-- root/root")
        .containsEntry("/lib/systemd/system/tartan.service", "-rw-r--r-- root/root")
        .containsEntry("/etc/tartan/agent.conf", "-rw------- root/root")
        .containsEntry("/etc/default/tartan", "-rw------- root/root")
        .containsEntry("/usr/share/doc/tartan/10-tartan.conflist", "-rw-r--r-- root/root")
        .containsEntry("/usr/share/doc/tartan/copyright", "-rw-r--r-- root/root")
        .containsEntry("/usr/share/doc/tartan/changelog.gz", "-rw-r--r-- root/root")
        .containsEntry("/usr/share/man/man1/tartan.1.gz", "-rw-r--r-- root/root");
    // No flannel names in the package: postinst adds them only where no flannel plugin exists.
    assertThat(entries.keySet()).noneMatch(p -> p.contains("/flannel"));
  }

  @Test
  void changelogTopEntryIsThisVersion() {
    String changelog = Cmd.run("sh", "-c", "dpkg-deb --fsys-tarfile '" + Deb.file()
        + "' | tar -xOf - ./usr/share/doc/tartan/changelog.gz | gzip -dc");
    assertThat(changelog.lines().findFirst().orElse("")).startsWith("tartan (" + Deb.version() + ") ");
  }

  /**
   * Every Java package tree bundled in tartan.jar (two levels, three under com.google) is named in
   * /usr/share/doc/tartan/copyright, under its license: a new dependency needs its entry there.
   */
  @Test
  void copyrightNamesEveryBundledLibrary() throws Exception {
    java.util.Set<String> packages = new java.util.TreeSet<>();
    try (java.util.jar.JarFile jar = new java.util.jar.JarFile(java.nio.file.Path.of("target", "tartan.jar").toFile())) {
      jar.stream().map(java.util.jar.JarEntry::getName)
          .filter(n -> n.endsWith(".class") && !n.startsWith("META-INF/") && n.indexOf('/') > 0)
          .map(n -> {
            String[] p = n.split("/");
            int depth = n.startsWith("com/google/") ? 3 : 2;
            return String.join(".", Arrays.copyOf(p, Math.min(depth, p.length - 1)));
          })
          .filter(p -> !p.startsWith("dev.tartan"))
          .forEach(packages::add);
    }
    String copyright = java.nio.file.Files.readString(java.nio.file.Path.of("src", "deb", "doc", "copyright"));
    assertThat(packages).isNotEmpty()
        .allSatisfy(p -> assertThat(copyright).as("agent/src/deb/doc/copyright names %s", p)
            .containsPattern("(?<![\\w.])" + java.util.regex.Pattern.quote(p) + "(?![\\w.])"));
  }

  @Test
  void lintianReportsNoErrors() {
    assumeTrue(Cmd.exec(Duration.ofSeconds(10), List.of("sh", "-c", "command -v lintian")).ok(),
        "lintian not installed (sudo scripts/install-deps.sh)");
    Cmd.Result r = Cmd.exec(Duration.ofMinutes(5),
        // Overridden tags (agent/src/deb/lintian-overrides) are not shown: with --show-overrides
        // lintian 2.116 exits 2 even when no tag fails.
        List.of("lintian", "--fail-on", "error", "--display-level", ">=pedantic", Deb.file().toString()));
    System.out.println("lintian " + Deb.file().getFileName() + ":\n" + r.out() + r.err());
    List<String> errors = Arrays.stream(r.out().split("\n")).filter(l -> l.startsWith("E: ")).toList();
    assertThat(errors).as(r.describe()).isEmpty();
    assertThat(r.exit()).as(r.describe()).isZero();
  }
}
