package dev.tartan.agent.packaging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The shipped unit (systemd/tartan.service) has the shape issue 6 and STYLE §7 ask for. */
class ServiceUnitTest {
  static final Path SOURCE = Path.of("..", "systemd", "tartan.service");

  @Test
  void startsTheLauncherAsANotifyServiceWithAWatchdog() {
    ServiceUnit unit = ServiceUnit.read(SOURCE);
    assertThat(unit.get("Type")).contains("notify");
    assertThat(unit.execStart()).containsExactly("/usr/bin/tartan", "agent", "--config", "/etc/tartan/agent.conf");
    assertThat(unit.environmentFiles()).containsExactly(Map.entry(Path.of("/etc/default/tartan"), true));
    assertThat(unit.watchdog()).hasValueSatisfying(d -> assertThat(d).isBetween(Duration.ofSeconds(10), Duration.ofMinutes(2)));
    assertThat(unit.get("Restart")).contains("on-failure");
    assertThat(unit.get("RuntimeDirectory")).contains("flannel tartan");
    assertThat(unit.get("StateDirectory")).as("the attach socket's delegates write /var/lib/cni").contains("cni");
    assertThat(unit.get("RuntimeDirectoryPreserve")).contains("yes");
    assertThat(unit.get("SuccessExitStatus")).contains("143");
  }

  @Test
  void setprivPrefixAppliesTheBoundingSetAndNoNewPrivileges() {
    assertThat(ServiceUnit.read(SOURCE).setprivPrefix()).containsExactly(
        "setpriv", "--bounding-set", "-all,+net_admin,+net_raw,+sys_admin", "--inh-caps", "-all", "--no-new-privs");
    assertThat(ServiceUnit.parse("[Service]\nExecStart=/bin/x\n").setprivPrefix()).containsExactly("setpriv");
  }

  @Test
  void sandboxScriptModelsPrivateTmpRuntimeDirectoryProtectHomeAndProtectSystem() {
    String script = ServiceUnit.read(SOURCE).sandboxScript();
    assertThat(script.lines()).contains(
        "mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp",
        "mkdir -p /run/flannel",
        "mkdir -p /run/tartan",
        "mkdir -p /var/lib/cni",
        "mount --bind /var/lib/cni /var/lib/cni",
        ": > /run/xtables.lock",
        "  mount -o remount,bind,ro \"$mp\"",
        "mount -o remount,bind,ro /run",
        "mount --bind /run/flannel /run/flannel",
        "mount --bind /run/xtables.lock /run/xtables.lock",
        "exec \"$@\"");
    assertThatThrownBy(() -> ServiceUnit.parse("[Service]\nProtectSystem=full\n").sandboxScript())
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> ServiceUnit.parse("[Service]\nReadWritePaths=/var/lib/x\n").sandboxScript())
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void isHardenedAsFarAsTheJvmAndNetlinkAllow() {
    ServiceUnit unit = ServiceUnit.read(SOURCE);
    assertThat(unit.get("CapabilityBoundingSet")).as("CAP_SYS_ADMIN: the attach socket's bridge enters netns")
        .contains("CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_ADMIN");
    assertThat(unit.get("RestrictNamespaces")).as("setns into network namespaces only").contains("net");
    assertThat(unit.get("NoNewPrivileges")).contains("yes");
    assertThat(unit.get("ProtectSystem")).contains("strict");
    assertThat(unit.get("ProtectHome")).contains("yes");
    assertThat(unit.get("PrivateTmp")).as("jffi unpacks its stub to /tmp; ProtectSystem=strict makes / read-only")
        .contains("yes");
    assertThat(unit.get("RestrictAddressFamilies").orElseThrow().split(" "))
        .contains("AF_NETLINK", "AF_UNIX", "AF_INET");
    assertThat(unit.get("MemoryDenyWriteExecute")).as("the JIT needs W+X pages").isEmpty();
    assertThat(unit.get("ProtectKernelTunables")).as("the agent writes net sysctls").isEmpty();
    assertThat(unit.service().get("SystemCallFilter")).as("issue 14: measured under systemd 252 and 257")
        .containsExactly("@system-service", "~@resources");
    assertThat(unit.get("SystemCallErrorNumber")).contains("EPERM");
    assertThat(unit.get("ProtectKernelModules")).contains("yes");
    assertThat(unit.get("ProtectProc")).contains("invisible");
  }

  @Test
  void ordersItselfBeforeTheContainerRuntimes() throws Exception {
    String text = java.nio.file.Files.readString(SOURCE);
    String before = text.lines().filter(l -> l.startsWith("Before=")).findFirst().orElseThrow();
    assertThat(before.substring("Before=".length()).split(" "))
        .contains("containerd.service", "docker.service", "podman.socket");
    assertThat(text).contains("After=network-online.target").contains("Wants=network-online.target")
        .contains("WantedBy=multi-user.target");
  }

  @Test
  void parsesEnvironmentFilesLikeSystemd() {
    Map<String, String> env = ServiceUnit.parseEnvironmentFile(String.join("\n",
        "# comment", "; also a comment", "", "A=plain value  ", "B=\"q \\\"x\\\" \\$y \\\\ \\`z\\`\"",
        "C='single \"quoted\" $x'", "D="));
    assertThat(env).containsExactly(Map.entry("A", "plain value"), Map.entry("B", "q \"x\" $y \\ `z`"),
        Map.entry("C", "single \"quoted\" $x"), Map.entry("D", ""));
    assertThatThrownBy(() -> ServiceUnit.parseEnvironmentFile("no equals sign"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void readsOnlyTheServiceSectionAndRefusesExecStartFormsItDoesNotModel() {
    ServiceUnit unit = ServiceUnit.parse("[Unit]\nType=simple\n[Service]\nType=notify\nExecStart=/bin/x  a b\n");
    assertThat(unit.get("Type")).contains("notify");
    assertThat(unit.execStart()).isEqualTo(List.of("/bin/x", "a", "b"));
    assertThatThrownBy(() -> ServiceUnit.parse("[Service]\nExecStart=/bin/x \"a b\"\n").execStart())
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> ServiceUnit.parse("[Service]\nExecStart=-/bin/x\n").execStart())
        .isInstanceOf(IllegalStateException.class);
    assertThat(ServiceUnit.timespan("30s")).isEqualTo(Duration.ofSeconds(30));
    assertThat(ServiceUnit.timespan("2min")).isEqualTo(Duration.ofMinutes(2));
    assertThat(ServiceUnit.timespan("45")).isEqualTo(Duration.ofSeconds(45));
  }
}
