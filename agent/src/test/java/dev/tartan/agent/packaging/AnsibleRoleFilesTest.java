package dev.tartan.agent.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Every tartan_* variable the role reads is defined in defaults (or derived in vars) and documented. */
class AnsibleRoleFilesTest {
  static final Path ROLE = Path.of("..", "ansible", "roles", "tartan");
  /** Registered results and task-local vars: set by the role itself, not by users. */
  static final Set<String> INTERNAL = Set.of("tartan_systemd_analyze", "tartan_network_init_result",
      "tartan_readyz", "tartan_network_init_argv");
  private static final Pattern VAR = Pattern.compile("\\btartan_[a-z0-9_]+\\b");
  private static final Pattern DEFINED = Pattern.compile("(?m)^(tartan_[a-z0-9_]+):");

  @Test
  void everyVariableUsedIsDefinedAndEveryDefaultIsDocumented() throws IOException {
    Set<String> defaults = defined(ROLE.resolve("defaults/main.yml"));
    Set<String> derived = defined(ROLE.resolve("vars/main.yml"));
    Set<String> used = new TreeSet<>();
    try (Stream<Path> files = Files.walk(ROLE)) {
      for (Path f : files.filter(Files::isRegularFile).filter(p -> !p.toString().endsWith(".md")).toList()) {
        Matcher m = VAR.matcher(Files.readString(f));
        while (m.find()) {
          used.add(m.group());
        }
      }
    }
    used.removeAll(INTERNAL);
    used.removeAll(derived);
    assertThat(defaults).as("defaults/main.yml").containsAll(used);
    String readme = Files.readString(ROLE.resolve("README.md"));
    assertThat(defaults).allSatisfy(v -> assertThat(readme).as("role README mentions %s", v).contains(v));
    assertThat(derived).doesNotContainAnyElementsOf(defaults);
  }

  @Test
  void siteRunsTheRoleOnTheTartanGroupOneHostAtATimeByDefault() throws IOException {
    String site = Files.readString(Path.of("..", "ansible", "site.yml"));
    assertThat(site).contains("hosts: tartan").contains("serial: \"{{ tartan_serial | default(1) }}\"")
        .contains("role: tartan");
    assertThat(Files.readString(Path.of("..", "ansible", "inventory", "hosts.ini"))).contains("[tartan]");
  }

  @Test
  void serviceTasksAndHandlersAreGuardedBySystemdBeingThere() throws IOException {
    String defaults = Files.readString(ROLE.resolve("defaults/main.yml"));
    assertThat(defaults).contains("tartan_manage_service: \"{{ ansible_service_mgr == 'systemd' }}\"");
    for (String file : new String[] {"tasks/main.yml", "handlers/main.yml"}) {
      String text = Files.readString(ROLE.resolve(file));
      for (String block : text.split("\n(?=- name: )")) {
        if (block.contains("ansible.builtin.systemd:") || block.contains("ansible.builtin.uri:")) {
          assertThat(block).as(file + ":\n" + block).contains("when: tartan_manage_service | bool");
        }
      }
    }
  }

  private static Set<String> defined(Path file) throws IOException {
    Set<String> names = new TreeSet<>();
    Matcher m = DEFINED.matcher(Files.readString(file));
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }
}
