package dev.tartan.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.store.etcd.EtcdOptions;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

class EtcdFlagsTest {

  @Command(name = "probe", mixinStandardHelpOptions = true)
  static final class Probe implements Callable<Integer> {
    @Mixin
    EtcdFlags etcd;

    @Option(names = "--network")
    String network;

    EtcdOptions options;

    @Override
    public Integer call() {
      options = etcd.toOptions();
      return 0;
    }
  }

  @Command(name = "agentish")
  static final class AllFlags implements Callable<Integer>, FlannelEnvDefaults.AllOptions {
    @Mixin
    EtcdFlags etcd;

    @Option(names = "--public-ip")
    String publicIp;

    @Override
    public Integer call() {
      return 0;
    }
  }

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private CommandLine cli(Object command, Map<String, String> env) {
    CommandLine cmd = Cli.configure(new CommandLine(command), env::get);
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    return cmd;
  }

  private EtcdOptions run(Map<String, String> env, String... args) {
    Probe probe = new Probe();
    int exit = cli(probe, env).execute(args);
    assertThat(exit).as("exit code, stderr: %s", err).isZero();
    return probe.options;
  }

  @Test
  void defaultsMatchFlannelsEtcdV3Setup() {
    EtcdOptions o = run(Map.of());
    assertThat(o.endpoints()).containsExactly(URI.create("http://127.0.0.1:2379"));
    assertThat(o.prefix()).isEqualTo("/coreos.com/network");
    assertThat(o.caFile()).isNull();
    assertThat(o.certFile()).isNull();
    assertThat(o.keyFile()).isNull();
    assertThat(o.username()).isNull();
    assertThat(o.password()).isNull();
    assertThat(o.leaseTtl()).isEqualTo(EtcdFlags.DEFAULT_LEASE_TTL);
  }

  @Test
  void flagsAreParsed() {
    EtcdOptions o = run(Map.of(),
        "--etcd-endpoints", "https://10.0.0.1:2379,https://10.0.0.2:2379",
        "--etcd-prefix=/tartan/net1",
        "--etcd-cafile", "/etc/tartan/ca.pem",
        "--etcd-certfile", "/etc/tartan/client.pem",
        "--etcd-keyfile", "/etc/tartan/client-key.pem",
        "--etcd-username", "flannel",
        "--etcd-password", "s3cret");
    assertThat(o.endpoints()).containsExactly(URI.create("https://10.0.0.1:2379"), URI.create("https://10.0.0.2:2379"));
    assertThat(o.prefix()).isEqualTo("/tartan/net1");
    assertThat(o.caFile()).isEqualTo(Path.of("/etc/tartan/ca.pem"));
    assertThat(o.certFile()).isEqualTo(Path.of("/etc/tartan/client.pem"));
    assertThat(o.keyFile()).isEqualTo(Path.of("/etc/tartan/client-key.pem"));
    assertThat(o.username()).isEqualTo("flannel");
    assertThat(o.password()).isEqualTo("s3cret");
  }

  @Test
  void absentFlagsFallBackToFlanneldEnvironment() {
    EtcdOptions o = run(Map.of(
        "FLANNELD_ETCD_ENDPOINTS", "https://192.0.2.10:2379,https://192.0.2.11",
        "FLANNELD_ETCD_PREFIX", "/env/prefix",
        "FLANNELD_ETCD_CAFILE", "/env/ca.pem",
        "FLANNELD_ETCD_CERTFILE", "/env/cert.pem",
        "FLANNELD_ETCD_KEYFILE", "/env/key.pem",
        "FLANNELD_ETCD_USERNAME", "envuser",
        "FLANNELD_ETCD_PASSWORD", "envpass"));
    assertThat(o.endpoints()).containsExactly(URI.create("https://192.0.2.10:2379"), URI.create("https://192.0.2.11:2379"));
    assertThat(o.prefix()).isEqualTo("/env/prefix");
    assertThat(o.caFile()).isEqualTo(Path.of("/env/ca.pem"));
    assertThat(o.certFile()).isEqualTo(Path.of("/env/cert.pem"));
    assertThat(o.keyFile()).isEqualTo(Path.of("/env/key.pem"));
    assertThat(o.username()).isEqualTo("envuser");
    assertThat(o.password()).isEqualTo("envpass");
  }

  @Test
  void commandLineWinsOverEnvironment() {
    EtcdOptions o = run(Map.of("FLANNELD_ETCD_ENDPOINTS", "http://192.0.2.10:2379", "FLANNELD_ETCD_PREFIX", "/env"),
        "--etcd-endpoints", "http://127.0.0.1:3379");
    assertThat(o.endpoints()).containsExactly(URI.create("http://127.0.0.1:3379"));
    assertThat(o.prefix()).isEqualTo("/env");
  }

  @Test
  void emptyEnvironmentValuesAreIgnored() {
    EtcdOptions o = run(Map.of("FLANNELD_ETCD_ENDPOINTS", "", "FLANNELD_ETCD_PREFIX", ""));
    assertThat(o.endpoints()).containsExactly(URI.create("http://127.0.0.1:2379"));
    assertThat(o.prefix()).isEqualTo("/coreos.com/network");
  }

  @Test
  void onlyEtcdFlagsReadTheEnvironmentOfAnAdminCommand() {
    Probe probe = new Probe();
    cli(probe, Map.of("FLANNELD_NETWORK", "10.9.0.0/16")).execute();
    assertThat(probe.network).isNull();
    assertThat(probe.options.prefix()).isEqualTo("/coreos.com/network");
  }

  @Test
  void commandsMarkedAllOptionsReadEveryFlagFromTheEnvironment() {
    AllFlags cmd = new AllFlags();
    assertThat(cli(cmd, Map.of("FLANNELD_PUBLIC_IP", "198.51.100.7")).execute()).isZero();
    assertThat(cmd.publicIp).isEqualTo("198.51.100.7");
  }

  @Test
  void envNameFollowsFlannelsMapping() {
    assertThat(FlannelEnvDefaults.envName("--etcd-endpoints")).isEqualTo("FLANNELD_ETCD_ENDPOINTS");
    assertThat(FlannelEnvDefaults.envName("--subnet-lease-renew-margin")).isEqualTo("FLANNELD_SUBNET_LEASE_RENEW_MARGIN");
    assertThat(FlannelEnvDefaults.envName("--log.level")).isEqualTo("FLANNELD_LOG_LEVEL");
  }

  @Test
  void certWithoutKeyIsAUsageError() {
    int exit = cli(new Probe(), Map.of()).execute("--etcd-endpoints", "https://127.0.0.1:2379",
        "--etcd-cafile", "/ca.pem", "--etcd-certfile", "/c.pem");
    assertThat(exit).isEqualTo(2);
    assertThat(err.toString()).isEqualTo(
        "probe: --etcd-certfile and --etcd-keyfile must be given together (see 'probe --help')" + System.lineSeparator());
  }

  @Test
  void badEndpointIsAUsageErrorNamingTheFlag() {
    int exit = cli(new Probe(), Map.of()).execute("--etcd-endpoints", "ftp://127.0.0.1:2379");
    assertThat(exit).isEqualTo(2);
    assertThat(err.toString()).startsWith("probe: invalid --etcd-endpoints 'ftp://127.0.0.1:2379'").hasLineCount(1);
  }

  @Test
  void bareHostPortEndpointsGetHttpAndPortDefaults() {
    EtcdOptions o = run(Map.of(), "--etcd-endpoints", "127.0.0.1:3379, 127.0.0.2");
    assertThat(o.endpoints()).containsExactly(URI.create("http://127.0.0.1:3379"), URI.create("http://127.0.0.2:2379"));
  }

  @Test
  void tlsFilesWithPlainEndpointsAreRejected() {
    int exit = cli(new Probe(), Map.of()).execute("--etcd-cafile", "/ca.pem");
    assertThat(exit).isEqualTo(2);
    assertThat(err.toString()).contains("use https:// endpoints").hasLineCount(1);
  }

  @Test
  void passwordIsNeverPrinted() {
    Map<String, String> env = Map.of("FLANNELD_ETCD_PASSWORD", "hunter2", "FLANNELD_ETCD_USERNAME", "u");
    Probe probe = new Probe();
    CommandLine cmd = cli(probe, env);
    cmd.execute("--help");
    assertThat(out.toString()).contains("--etcd-password").doesNotContain("hunter2");
    cmd.execute();
    assertThat(probe.etcd.toString()).doesNotContain("hunter2").contains("****");
    assertThat(err.toString()).doesNotContain("hunter2");
  }
}
