package dev.tartan.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The import rules of docs/architecture.md ("What each room may import"), checked on the import
 * lines of the main sources of agent/ and store/ (the working directory is agent/ under Maven).
 * A failure lists every offending import as {@code file:line package imports name}.
 *
 * <p>Only import statements are read: a fully qualified name written in the code itself is not
 * seen. The module boundaries (store cannot see agent, cni sees nothing) are enforced by Maven.
 */
class ArchitectureTest {
  static final List<Path> ROOTS = List.of(Path.of("src", "main", "java"), Path.of("..", "store", "src", "main", "java"));
  static final Pattern PACKAGE = Pattern.compile("^package\\s+([\\w.]+)\\s*;");
  static final Pattern IMPORT = Pattern.compile("^import\\s+(?:static\\s+)?([\\w.]+)(?:\\.\\*)?\\s*;");

  record Import(Path file, int line, String pkg, String name) {
    @Override
    public String toString() {
      return file + ":" + line + " " + pkg + " imports " + name;
    }
  }

  static List<Import> imports;

  @BeforeAll
  static void scan() throws IOException {
    List<Import> all = new ArrayList<>();
    for (Path root : ROOTS) {
      try (Stream<Path> files = Files.walk(root)) {
        files.filter(f -> f.toString().endsWith(".java")).sorted().forEach(f -> all.addAll(read(f)));
      }
    }
    imports = List.copyOf(all);
  }

  static List<Import> read(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String pkg = "";
    List<Import> found = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      Matcher p = PACKAGE.matcher(line);
      if (p.find()) {
        pkg = p.group(1);
      }
      Matcher m = IMPORT.matcher(line);
      if (m.find()) {
        found.add(new Import(file, i + 1, pkg, m.group(1)));
      }
    }
    return found;
  }

  static boolean in(String pkg, String room) {
    return pkg.equals(room) || pkg.startsWith(room + ".");
  }

  /** Every import for which {@code forbidden(package, imported name)} holds. */
  static List<String> violations(BiPredicate<String, String> forbidden) {
    return imports.stream().filter(i -> forbidden.test(i.pkg(), i.name())).map(Import::toString).toList();
  }

  @Test
  void theScanSeesBothModules() {
    assertThat(imports).extracting(Import::pkg)
        .contains("dev.tartan.agent.netlink", "dev.tartan.agent.netlink.rtnl", "dev.tartan.store.etcd", "dev.tartan.net");
    assertThat(imports).extracting(Import::name).contains("jnr.ffi.LibraryLoader", "io.etcd.jetcd.Client");
  }

  @Test
  void onlyAgentNetlinkImportsJnr() {
    assertThat(violations((pkg, name) -> (in(name, "jnr") || in(name, "com.kenai.jffi"))
        && !pkg.equals("dev.tartan.agent.netlink")))
        .as("jnr-ffi outside dev.tartan.agent.netlink").isEmpty();
  }

  @Test
  void onlyStoreEtcdImportsJetcdOrGrpc() {
    assertThat(violations((pkg, name) -> (in(name, "io.etcd") || in(name, "io.grpc") || in(name, "com.google.protobuf"))
        && !pkg.equals("dev.tartan.store.etcd")))
        .as("jetcd/gRPC outside dev.tartan.store.etcd").isEmpty();
  }

  @Test
  void netlinkImportsNothingFromStoreNorFromTheRestOfTheAgent() {
    assertThat(violations((pkg, name) -> in(pkg, "dev.tartan.agent.netlink")
        && (in(name, "dev.tartan.store") || in(name, "dev.tartan.agent") && !in(name, "dev.tartan.agent.netlink"))))
        .as("dev.tartan.agent.netlink.* importing store or other agent packages").isEmpty();
  }

  @Test
  void netImportsOnlyTheJdk() {
    assertThat(violations((pkg, name) -> in(pkg, "dev.tartan.net") && !in(name, "java")))
        .as("the leaf dev.tartan.net importing anything but java.*").isEmpty();
  }

  @Test
  void theCodecIsPure() {
    assertThat(violations((pkg, name) -> in(pkg, "dev.tartan.agent.netlink.codec")
        && !in(name, "java") && !in(name, "dev.tartan.agent.netlink.codec")))
        .as("dev.tartan.agent.netlink.codec importing anything but java.* and itself").isEmpty();
  }
}
