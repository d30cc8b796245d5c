package dev.tartan.agent.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.store.testing.Fuzz;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * Issue 8, hostile input: the agent's HOCON config file ({@code --config}, HOCON includes,
 * substitutions and all) under fixed-seed fuzz input; the only failure is AgentConfigException.
 */
@Timeout(60)
class ConfigFileFuzzTest {
  @Command(name = "agent")
  static class Cmd {
    @Mixin AgentOptions options;
  }

  @TempDir Path dir;

  @Test
  void configFileFailsOnlyWithAgentConfigException() {
    Path file = dir.resolve("agent.conf");
    Cmd c = new Cmd();
    new CommandLine(c).parseArgs("--config", file.toString());
    List<String> seeds = List.of(
        "agent {\n  etcd-endpoints = \"http://10.0.0.5:2379,http://10.0.0.6:2379\"\n  iface = [ eth1 ]\n"
            + "  ip-masq = true\n  lease-ttl = 24h\n  vxlan-peer-filter = true\n}\n",
        "agent.etcd-prefix = /coreos.com/network\nagent.subnet-lease-renew-margin = 60\n"
            + "agent.iptables-resync = 5\nagent.healthz-port = 8471\nagent.iface-regex = [ \"^eth[0-9]+$\" ]\n",
        "agent { healthz-ip = \"::1\", public-ip = \"198.51.100.7\", resync-interval = 500ms }\n");
    int ok = Fuzz.run("agent config file", seeds, 200, text -> {
      Files.write(file, text.getBytes(java.nio.charset.StandardCharsets.UTF_8)); // lone surrogates become '?'
      AgentConfig.resolve(c.options, Map.of());
    }, AgentConfigException.class);
    assertThat(ok).isGreaterThan(0);
  }
}
