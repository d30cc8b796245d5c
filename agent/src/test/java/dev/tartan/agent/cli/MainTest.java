package dev.tartan.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.agent.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The command tree and its usage errors; nothing here reaches etcd (the endpoint is never dialled). */
class MainTest {
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    CommandLine cmd = Main.commandLine(Map.<String, String>of()::get);
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    return cmd.execute(args);
  }

  @Test
  void versionNamesTheProgram() {
    assertThat(run("--version")).isZero();
    assertThat(out.toString()).startsWith("tartan ").hasLineCount(1);
  }

  @Test
  void helpListsTheCommands() {
    assertThat(run("--help")).isZero();
    assertThat(out.toString()).contains("network", "leases");
    assertThat(run("leases", "--help")).isZero();
    assertThat(out.toString()).contains("list", "reserve", "release");
    assertThat(run("network", "init", "--help")).isZero();
    assertThat(out.toString()).contains("--network=CIDR", "--subnet-len", "--force", "--etcd-endpoints", "--etcd-password");
  }

  @Test
  void missingCommandIsAUsageError() {
    assertThat(run()).isEqualTo(2);
    assertThat(err.toString()).startsWith("tartan: missing command").hasLineCount(1);
    assertThat(run("leases")).isEqualTo(2);
    assertThat(err.toString()).contains("tartan leases: missing command: list, reserve or release");
  }

  @Test
  void unknownOptionIsOneLineAndExitTwo() {
    assertThat(run("leases", "list", "--bogus")).isEqualTo(2);
    assertThat(err.toString()).isEqualTo(
        "tartan leases list: Unknown option: '--bogus' (see 'tartan leases list --help')" + System.lineSeparator());
  }

  @Test
  void initNeedsANetwork() {
    assertThat(run("network", "init")).isEqualTo(2);
    assertThat(err.toString()).contains("tartan network init: Missing required option: '--network=CIDR'").hasLineCount(1);
  }

  @Test
  void initRejectsBadIpv6SettingsInOneLineBeforeTouchingEtcd() {
    String[][] cases = {
        {"--ipv6-subnet-len", "64"}, {"--ipv6-network", "fd00:5::1/48"}, {"--ipv6-network", "fd00:5::"},
        {"--ipv6-network", "10.6.0.0/16"}, {"--ipv6-network", "fd00:5::/126"},
        {"--ipv6-network", "fd00:5::/48", "--ipv6-subnet-len", "127"},
        {"--ipv6-network", "fd00:5::/48", "--ipv6-subnet-min", "fd00:6::"},
        {"--ipv6-network", "fd00:5::/48", "--ipv6-subnet-max", "fd00:5::zz"}};
    String[] expected = {
        "tartan network init: --ipv6-subnet-len, --ipv6-subnet-min and --ipv6-subnet-max need --ipv6-network CIDR",
        "'fd00:5::1/48' has host bits set; did you mean fd00:5::/48?",
        "'fd00:5::' is not an IPv6 CIDR network (expected e.g. fd00:10:244::/48)",
        "'10.6.0.0/16' is not an IPv6 CIDR network",
        "invalid network config: invalid IPv6 settings: IPv6Network is too small. Minimum useful network prefix is /124",
        "invalid network config: invalid IPv6 settings: SubnetLen must be less than /127",
        "invalid network config: invalid IPv6 settings: IPv6SubnetMin is not in the range of the IPv6Network",
        "'fd00:5::zz' is not an IPv6 address"};
    for (int i = 0; i < cases.length; i++) {
      err.getBuffer().setLength(0);
      java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("network", "init", "--network",
          "10.5.0.0/16", "--etcd-endpoints", "http://127.0.0.1:1")); // port 1: reaching it would fail with exit 1
      args.addAll(java.util.List.of(cases[i]));
      assertThat(run(args.toArray(String[]::new))).as(String.join(" ", cases[i])).isEqualTo(2);
      assertThat(err.toString()).as(String.join(" ", cases[i])).contains(expected[i]).hasLineCount(1);
    }
    assertThat(run("network", "init", "--help")).isZero();
    assertThat(out.toString()).contains("--ipv6-network=CIDR", "--ipv6-subnet-len=N", "--ipv6-subnet-min=IP",
        "--ipv6-subnet-max=IP");
  }

  @Test
  void initRejectsAConfigFlannelWouldRejectBeforeTouchingEtcd() {
    // Port 1 is never an etcd: reaching it would fail differently (exit 1).
    assertThat(run("network", "init", "--network", "10.0.0.0/29", "--etcd-endpoints", "http://127.0.0.1:1")).isEqualTo(2);
    assertThat(err.toString()).contains("network is too small. Minimum useful network prefix is /28").hasLineCount(1);

    err.getBuffer().setLength(0);
    assertThat(run("network", "init", "--network", "10.0.0.0/16", "--subnet-len", "31", "--etcd-endpoints", "http://127.0.0.1:1"))
        .isEqualTo(2);
    assertThat(err.toString()).contains("SubnetLen must be less than /31").hasLineCount(1);

    err.getBuffer().setLength(0);
    assertThat(run("network", "init", "--network", "10.0.0.0/16", "--backend", "udp")).isEqualTo(2);
    assertThat(err.toString()).contains("unsupported --backend 'udp'");

    err.getBuffer().setLength(0);
    assertThat(run("network", "init", "--network", "10.0.0.0/16", "--backend", "wireguard")).isEqualTo(2);
    assertThat(err.toString()).contains("unsupported --backend 'wireguard': Tartan has no WireGuard backend")
        .contains("supported: vxlan").hasLineCount(1);
  }

  @Test
  void directRoutingIsAVxlanSettingAndHostGwTakesNone() {
    assertThat(NetworkCommand.withDirectRouting("{\"Network\":\"10.0.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":2}}"))
        .isEqualTo("{\"Network\":\"10.0.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":2,\"DirectRouting\":true}}");
    assertThat(run("network", "init", "--network", "10.0.0.0/16", "--backend", "host-gw", "--direct-routing",
        "--etcd-endpoints", "http://127.0.0.1:1")).isEqualTo(2);
    assertThat(err.toString()).contains("--direct-routing, --vni and --port are VXLAN settings").hasLineCount(1);
  }

  @Test
  void enableNftablesLandsInTheConfigBeforeTheBackend() {
    assertThat(NetworkCommand.withNfTables("{\"Network\":\"10.0.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}"))
        .isEqualTo("{\"Network\":\"10.0.0.0/16\",\"EnableNFTables\":true,\"Backend\":{\"Type\":\"vxlan\"}}");
    assertThat(run("network", "init", "--help")).isZero();
    assertThat(out.toString()).contains("--enable-nftables");
  }

  @Test
  void addressesAndSubnetsAreCheckedStrictly() {
    assertThat(run("network", "init", "--network", "10.244.0.0")).isEqualTo(2);
    assertThat(err.toString()).contains("'10.244.0.0' is not a CIDR network");

    err.getBuffer().setLength(0);
    assertThat(run("leases", "reserve", "10.244.3.5/24", "--public-ip", "198.51.100.7")).isEqualTo(2);
    assertThat(err.toString()).contains("has host bits set; did you mean 10.244.3.0/24?");

    err.getBuffer().setLength(0);
    assertThat(run("leases", "reserve", "10.244.3.0/24", "--public-ip", "host.example")).isEqualTo(2);
    assertThat(err.toString()).contains("'host.example' is not an IPv4 address");

    err.getBuffer().setLength(0);
    assertThat(run("leases", "release")).isEqualTo(2);
    assertThat(err.toString()).contains("Missing required parameter: 'SUBNET'");
  }

  @Test
  void outputFormatIsValidated() {
    assertThat(run("leases", "list", "-o", "yaml")).isEqualTo(2);
    assertThat(err.toString()).contains("-o").contains("yaml");
  }

  @Test
  void subnetsMayBeGivenInKeyForm() {
    assertThat(Args.subnet("10.244.3.0-24").toString()).isEqualTo("10.244.3.0/24");
    assertThat(Args.subnet("10.244.3.0/24").toString()).isEqualTo("10.244.3.0/24");
  }
}
