package dev.tartan.cni;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.cni.json.Json;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The netavark plugin API in-process (arguments, environment, stdin and stdout injected). The delegate is a
 * small sh script in place of {@code bridge} that records its config and answers a CNI result; the real
 * bridge + host-local under podman 5 are exercised by the Debian 13 ITs in the agent module.
 */
class NetavarkPluginTest {
  private static final String SUBNET_ENV = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\n"
      + "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";
  private static final String ID = "752947ff91f961eb3cb47ffe9315016979f3ffbec09e4d96a4fae3fb03391697";

  @TempDir
  Path tmp;
  Path subnetFile;
  Path dataDir;
  Path bin;
  Path log;
  Map<String, String> env;

  record Outcome(int status, String stdout, String stderr) {
    Map<String, Object> json() throws Exception {
      return Json.parseObject(stdout);
    }

    String error() throws Exception {
      return (String) json().get("error");
    }
  }

  @BeforeEach
  void setUp() throws Exception {
    subnetFile = Files.writeString(tmp.resolve("subnet.env"), SUBNET_ENV);
    dataDir = tmp.resolve("data");
    bin = Files.createDirectory(tmp.resolve("bin"));
    log = tmp.resolve("delegate.log");
    env = new HashMap<>();
    env.put("TARTAN_SUBNET_FILE", subnetFile.toString());
    env.put("TARTAN_CNI_DATA_DIR", dataDir.toString());
    env.put("TARTAN_CNI_PATH", bin.toString());
  }

  /** A stand-in for the bridge plugin: logs command and config; ADD answers eth0 with 10.244.7.2 (or fails). */
  private void fakeBridge(boolean failAdd) throws Exception {
    String script = "#!/bin/sh\n"
        + "conf=$(cat)\n"
        + "echo \"$CNI_COMMAND $CNI_CONTAINERID $CNI_IFNAME $CNI_NETNS $conf\" >> " + log + "\n"
        + "case $CNI_COMMAND in\n"
        + "ADD)\n"
        + (failAdd ? "  echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"no room in cni0\"}'; exit 1;;\n"
            : "  echo '{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"cni0\",\"mac\":\"0a:00:00:00:00:01\"},"
            + "{\"name\":\"veth1\",\"mac\":\"0a:00:00:00:00:02\"},{\"name\":\"'$CNI_IFNAME'\",\"mac\":\"0a:00:00:00:00:03\","
            + "\"sandbox\":\"'$CNI_NETNS'\"}],\"ips\":[{\"interface\":2,\"address\":\"10.244.7.2/24\","
            + "\"gateway\":\"10.244.7.1\"}],\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}';;\n")
        + "esac\n";
    Path p = Files.writeString(bin.resolve("bridge"), script);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  private Outcome call(String stdin, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = new NetavarkPlugin(env::get, args, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
        new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)).run();
    return new Outcome(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private static String network(String extra) {
    return "{\"name\":\"tartan\",\"id\":\"2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9\","
        + "\"driver\":\"tartan\",\"ipv6_enabled\":false,\"internal\":false,\"dns_enabled\":true,"
        + "\"ipam_options\":{}" + extra + "}";
  }

  private static String exec(String networkOptionsExtra, String extra) {
    return "{\"container_id\":\"" + ID + "\",\"container_name\":\"web1\",\"network\":" + network(",\"options\":{\"mtu\":\"1450\"}")
        + ",\"network_options\":{\"aliases\":[\"752947ff91f9\"],\"interface_name\":\"eth0\"" + networkOptionsExtra + "}"
        + extra + "}";
  }

  // ------------------------------------------------------------ info, protocol errors

  @Test
  void infoReportsVersionAndApiVersion() throws Exception {
    Outcome o = call("", "info");
    assertThat(o.status()).isZero();
    assertThat(o.json()).containsEntry("api_version", "1.0.0").containsKey("version");
  }

  @Test
  void unknownOrMissingSubcommandIsAnErrorJson() throws Exception {
    assertThat(call("", "frob").error()).startsWith("tartan: unknown subcommand \"frob\"; usage: tartan info");
    assertThat(call("").error()).startsWith("tartan: no subcommand");
    assertThat(call("{}", "setup").error()).contains("setup takes 1 argument(s), got 0");
  }

  @Test
  void badJsonIsAnErrorNamingIt() throws Exception {
    Outcome o = call("{\"name\":", "create");
    assertThat(o.status()).isEqualTo(1);
    assertThat(o.stdout()).endsWith("\n");
    assertThat(o.error()).startsWith("tartan: the network config on stdin is not valid JSON: ");
  }

  // ------------------------------------------------------------ create

  @Test
  void createFillsSubnetGatewayAndMtuFromSubnetEnvAndTurnsPodmanIpamOff() throws Exception {
    Outcome o = call(network(""), "create");
    assertThat(o.status()).as(o.stdout()).isZero();
    Map<String, Object> net = o.json();
    assertThat(net).containsEntry("name", "tartan").containsEntry("driver", "tartan")
        .containsEntry("id", "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9")
        .containsEntry("network_interface", "cni0").containsEntry("dns_enabled", false)
        .containsEntry("ipam_options", Map.of("driver", "none"))
        .containsEntry("options", Map.of("mtu", "1450"));
    assertThat(net.get("subnets")).isEqualTo(List.of(Map.of("subnet", "10.244.7.0/24", "gateway", "10.244.7.1")));
  }

  @Test
  void createAcceptsTheHostsOwnSubnetAndRefusesAnother() throws Exception {
    assertThat(call(network(",\"subnets\":[{\"subnet\":\"10.244.7.0/24\"}]"), "create").status()).isZero();
    Outcome o = call(network(",\"subnets\":[{\"subnet\":\"10.88.0.0/16\"}]"), "create");
    assertThat(o.error()).isEqualTo("tartan: subnet 10.88.0.0/16 does not match this host's subnet 10.244.7.0/24 (from "
        + subnetFile + "); create the network without --subnet, the subnet comes from the agent's lease");
  }

  @Test
  void createRefusesOptionsInternalAndOtherIpamDrivers() throws Exception {
    assertThat(call(network(",\"options\":{\"vlan\":\"5\"}"), "create").error())
        .startsWith("tartan: unknown option(s) [vlan]: a tartan network takes no options").endsWith("without -o/--opt");
    assertThat(call(network(",\"internal\":true").replace("\"internal\":false,", ""), "create").error())
        .startsWith("tartan: internal networks are not supported");
    assertThat(call(network("").replace("\"ipam_options\":{}", "\"ipam_options\":{\"driver\":\"dhcp\"}"), "create")
        .error()).startsWith("tartan: IPAM driver \"dhcp\" is not supported");
  }

  @Test
  void createWithoutSubnetEnvNamesTheAgent() throws Exception {
    Files.delete(subnetFile);
    assertThat(call(network(""), "create").error()).isEqualTo("tartan: failed to load subnet file " + subnetFile
        + ": no such file; check that the tartan agent is running (it writes this file once it holds a subnet lease)");
  }

  // ------------------------------------------------------------ setup / teardown

  @Test
  void setupRunsTheCniPathsDelegateAndAnswersTheStatusBlock() throws Exception {
    fakeBridge(false);
    Outcome o = call(exec("", ""), "setup", "/run/netns/netns-1");
    assertThat(o.status()).as(o.stdout() + o.stderr()).isZero();
    assertThat(o.json()).isEqualTo(Map.of("dns_search_domains", List.of(), "dns_server_ips", List.of(),
        "interfaces", Map.of("eth0", Map.of("mac_address", "0a:00:00:00:00:03",
            "subnets", List.of(Map.of("ipnet", "10.244.7.2/24", "gateway", "10.244.7.1"))))));
    String logged = Files.readString(log);
    assertThat(logged).startsWith("ADD " + ID + " eth0 /run/netns/netns-1 {")
        .contains("\"bridge\":\"cni0\"", "\"name\":\"tartan\"", "\"mtu\":1450", "\"ipMasq\":false",
            "\"ranges\":[[{\"subnet\":\"10.244.7.0/24\"}]]", "\"routes\":[{\"dst\":\"10.244.0.0/16\"}]",
            "\"type\":\"host-local\"");
    assertThat(dataDir.resolve(ID)).exists(); // the CNI path's saved config: teardown finds it
  }

  @Test
  void setupUsesTheSameDelegateConfigAsTheCniPluginSoBothShareOneHostLocalAllocator() throws Exception {
    fakeBridge(false);
    call(exec("", ""), "setup", "/run/netns/netns-1");
    String netavark = Files.readString(dataDir.resolve(ID));
    Map<String, String> cniEnv = Map.of("CNI_COMMAND", "ADD", "CNI_CONTAINERID", "ctr1", "CNI_NETNS", "/run/netns/x",
        "CNI_IFNAME", "eth0", "CNI_PATH", bin.toString());
    String conflistEntry = "{\"cniVersion\":\"1.0.0\",\"name\":\"tartan\",\"type\":\"tartan\",\"subnetFile\":\""
        + subnetFile + "\",\"dataDir\":\"" + dataDir + "\",\"delegate\":{\"hairpinMode\":true,\"isDefaultGateway\":true}}";
    int status = new CniPlugin(cniEnv::get, new ByteArrayInputStream(conflistEntry.getBytes(StandardCharsets.UTF_8)),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), System.err).run();
    assertThat(status).isZero();
    Map<String, Object> viaNetavark = Json.parseObject(netavark);
    Map<String, Object> viaCni = Json.parseObject(Files.readString(dataDir.resolve("ctr1")));
    viaNetavark.remove("bridge"); // explicit in the netavark path; the bridge plugin's default name otherwise
    assertThat(viaNetavark).isEqualTo(viaCni);
  }

  @Test
  void setupFollowsTheCurrentSubnetEnvNotTheOneAtCreate() throws Exception {
    fakeBridge(false);
    Files.writeString(subnetFile, SUBNET_ENV.replace("10.244.7.1/24", "10.244.9.1/24"));
    assertThat(call(exec("", ""), "setup", "/run/netns/netns-1").status()).isZero();
    assertThat(Files.readString(log)).contains("\"ranges\":[[{\"subnet\":\"10.244.9.0/24\"}]]")
        .doesNotContain("10.244.7.0");
  }

  @Test
  void failedSetupIsUndoneAndReported() throws Exception {
    fakeBridge(true);
    Outcome o = call(exec("", ""), "setup", "/run/netns/netns-1");
    assertThat(o.error()).isEqualTo("tartan: setup of container " + ID + " failed: no room in cni0");
    assertThat(Files.readString(log).lines().map(l -> l.split(" ")[0])).containsExactly("ADD", "DEL");
    assertThat(dataDir.resolve(ID)).doesNotExist();
  }

  @Test
  void teardownRunsDelWithTheSavedConfigAndForgetsTheContainer() throws Exception {
    fakeBridge(false);
    call(exec("", ""), "setup", "/run/netns/netns-1");
    Outcome o = call(exec("", ""), "teardown", "/run/netns/netns-1");
    assertThat(o.status()).as(o.stdout()).isZero();
    assertThat(o.stdout()).isEmpty();
    List<String> lines = Files.readString(log).lines().toList();
    assertThat(lines).hasSize(2);
    assertThat(lines.get(1)).startsWith("DEL " + ID + " eth0 /run/netns/netns-1 ");
    assertThat(dataDir.resolve(ID)).doesNotExist();
  }

  @Test
  void teardownWithoutSubnetEnvOrSavedStateSucceeds() throws Exception {
    Files.delete(subnetFile);
    assertThat(call(exec("", ""), "teardown", "/run/netns/netns-1").status()).isZero();
  }

  @Test
  void setupRefusesWhatItCannotHonour() throws Exception {
    fakeBridge(false);
    assertThat(call(exec(",\"static_ips\":[\"10.244.7.50\"]", ""), "setup", "/n").error())
        .startsWith("tartan: static IPs [10.244.7.50] are not supported");
    assertThat(call(exec("", ",\"port_mappings\":[{\"container_port\":80}]"), "setup", "/n").error())
        .startsWith("tartan: port mappings are not supported");
    assertThat(call(exec("", "").replace("{\"mtu\":\"1450\"}", "{\"vlan\":\"3\"}"), "setup", "/n").error())
        .startsWith("tartan: unknown network option \"vlan\" in network tartan");
    assertThat(call("{\"network\":{}}", "setup", "/n").error())
        .isEqualTo("tartan: input field 'container_id' must be a non-empty string");
    assertThat(Files.exists(log)).isFalse();
  }

  // ------------------------------------------------------------ hostile input

  @Test
  void hostileInputAlwaysGetsAnErrorJsonNeverAnInternalError() throws Exception {
    HostileInputFuzzTest fuzz = new HostileInputFuzzTest(); // its fixed-seed mutations
    String[][] seeds = {{"create", network("")}, {"setup", exec("", "")}, {"teardown", exec("", "")}};
    for (int i = 0; i < 1500; i++) {
      String[] seed = seeds[i % seeds.length];
      String input = seed[1];
      for (int m = 1 + i % 3; m > 0; m--) {
        input = fuzz.mutate(input);
      }
      String[] args = seed[0].equals("create") ? new String[] {"create"} : new String[] {seed[0], "/run/netns/x"};
      Outcome o = call(input, args);
      if (o.status() == 0 && o.stdout().isEmpty()) {
        continue; // a teardown that succeeded prints nothing
      }
      Map<String, Object> json = o.json(); // otherwise exactly one JSON object on stdout
      if (o.status() != 0) {
        assertThat(json.get("error")).as("input %s", input).isInstanceOf(String.class);
        assertThat((String) json.get("error")).as("input %s", input).startsWith("tartan: ")
            .doesNotStartWith("tartan: internal error");
      }
    }
  }
}
