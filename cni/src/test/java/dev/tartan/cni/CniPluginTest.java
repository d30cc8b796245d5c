package dev.tartan.cni;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.cni.json.Json;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CNI protocol in-process: environment, stdin, stdout and stderr injected. Paths that need a delegate
 * plugin run with an empty CNI_PATH directory, so the delegate is missing; the real bridge + host-local are
 * exercised by {@code CniPluginIT} and {@code HostLocalDelegateIT}.
 */
class CniPluginTest {
  private static final String SUBNET_ENV = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\n"
      + "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";

  @TempDir
  Path tmp;
  Path subnetFile;
  Path dataDir;
  Path emptyBin;
  Map<String, String> env;

  record Outcome(int status, String stdout, String stderr) {
    Map<String, Object> json() throws Exception {
      return Json.parseObject(stdout);
    }

    long code() throws Exception {
      return (Long) json().get("code");
    }

    String msg() throws Exception {
      return (String) json().get("msg");
    }
  }

  @BeforeEach
  void setUp() throws Exception {
    subnetFile = Files.writeString(tmp.resolve("subnet.env"), SUBNET_ENV);
    dataDir = tmp.resolve("data");
    emptyBin = Files.createDirectory(tmp.resolve("bin"));
    env = new HashMap<>();
    env.put("CNI_COMMAND", "ADD");
    env.put("CNI_CONTAINERID", "ctr1");
    env.put("CNI_NETNS", "/run/netns/test");
    env.put("CNI_IFNAME", "eth0");
    env.put("CNI_PATH", emptyBin.toString());
  }

  private String conf(String version, String extra) {
    return "{\"cniVersion\":\"" + version + "\",\"name\":\"tartan\",\"type\":\"tartan\",\"subnetFile\":\"" + subnetFile
        + "\",\"dataDir\":\"" + dataDir + "\"" + extra + "}";
  }

  private String conf() {
    return conf("1.0.0", "");
  }

  private Outcome call(String stdin) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = new CniPlugin(env::get, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
        new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)).run();
    return new Outcome(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private Outcome call(String command, String stdin) {
    env.put("CNI_COMMAND", command);
    return call(stdin);
  }

  // ------------------------------------------------------------ protocol basics

  @Test
  void noCommandPrintsAboutOnStderrAndSucceeds() {
    env.clear();
    Outcome o = call("");
    assertThat(o.status()).isZero();
    assertThat(o.stdout()).isEmpty();
    assertThat(o.stderr()).startsWith("CNI plugin tartan ")
        .contains("CNI protocol versions supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0");
  }

  @Test
  void versionIgnoresStdinAndOtherVariables() {
    env.clear();
    env.put("CNI_COMMAND", "VERSION");
    Outcome o = call("not json at all");
    assertThat(o.status()).isZero();
    assertThat(o.stdout())
        .isEqualTo("{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");
  }

  @Test
  void errorJsonIsIndentedAndCarriesTheConfigVersion() throws Exception {
    Files.delete(subnetFile);
    Outcome o = call(conf("0.4.0", ""));
    assertThat(o.status()).isEqualTo(1);
    assertThat(o.stdout()).isEqualTo("{\n    \"cniVersion\": \"0.4.0\",\n    \"code\": 11,\n    \"msg\": \"failed to load "
        + "subnet file " + subnetFile + ": no such file; check that the tartan agent is running (it writes this file "
        + "once it holds a subnet lease)\"\n}");
  }

  @Test
  void unknownCommand() throws Exception {
    Outcome o = call("FROB", conf());
    assertThat(o.status()).isEqualTo(1);
    assertThat(o.code()).isEqualTo(4);
    assertThat(o.msg()).isEqualTo("unknown CNI_COMMAND: FROB");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "ADD|CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH",
      "CHECK|CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH",
      "DEL|CNI_CONTAINERID,CNI_IFNAME,CNI_PATH",
      "GC|CNI_PATH",
      "STATUS|CNI_PATH",
  })
  void missingVariablesAreListedTogether(String command, String missing) throws Exception {
    env.clear();
    env.put("CNI_COMMAND", command);
    env.put("CNI_NETNS", ""); // empty counts as missing
    Outcome o = call(conf("1.1.0", ""));
    assertThat(o.code()).isEqualTo(4);
    assertThat(o.msg()).isEqualTo("required env variables [" + missing + "] missing");
  }

  @Test
  void delDoesNotNeedANetns() throws Exception {
    env.remove("CNI_NETNS");
    Files.delete(subnetFile);
    Outcome o = call("DEL", conf());
    assertThat(o.status()).as(o.stdout()).isZero();
  }

  @ParameterizedTest
  @ValueSource(strings = {"-abc", "a/b", "../x", "a b", "ctr%1"})
  void invalidContainerId(String id) throws Exception {
    env.put("CNI_CONTAINERID", id);
    Outcome o = call(conf());
    assertThat(o.code()).isEqualTo(4);
    assertThat(o.msg()).isEqualTo("invalid characters in containerID");
    assertThat(o.json().get("details")).isEqualTo(id);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "eth0123456789012|interface name is too long",
      "..|interface name is . or ..",
      "eth0:1|interface name contains / or : or whitespace characters",
  })
  void invalidIfname(String ifname, String msg) throws Exception {
    env.put("CNI_IFNAME", ifname);
    Outcome o = call("DEL", conf());
    assertThat(o.code()).isEqualTo(4);
    assertThat(o.msg()).isEqualTo(msg);
  }

  @Test
  void invalidJsonIsADecodingFailureWithPosition() throws Exception {
    Outcome o = call("{\"cniVersion\":\"1.0.0\",\n \"name\": \"x\",}");
    assertThat(o.code()).isEqualTo(6);
    assertThat(o.msg()).isEqualTo("error parsing network config from stdin: unexpected character '}', expected a string "
        + "key at line 2 column 14 (offset 36)");
    assertThat(call("[]").code()).isEqualTo(6);
    assertThat(call("").code()).isEqualTo(6);
    assertThat(call("{\"cniVersion\":\"1.0.0\",\"name\":7}").code()).isEqualTo(6);
    assertThat(call("{\"cniVersion\":1,\"name\":\"x\"}").code()).isEqualTo(6);
  }

  @Test
  void oversizedStdinIsRefused() throws Exception {
    Outcome o = call("{\"name\":\"" + "x".repeat(4 << 20) + "\"}");
    assertThat(o.code()).isEqualTo(6);
    assertThat(o.msg()).contains("larger than");
  }

  @Test
  void networkName() throws Exception {
    Outcome missing = call("{\"cniVersion\":\"1.0.0\",\"type\":\"tartan\"}");
    assertThat(missing.code()).isEqualTo(7);
    assertThat(missing.msg()).isEqualTo("missing network name");
    Outcome invalid = call("{\"cniVersion\":\"1.0.0\",\"name\":\"bad name\"}");
    assertThat(invalid.code()).isEqualTo(7);
    assertThat(invalid.msg()).isEqualTo("invalid characters found in network name");
  }

  @Test
  void wrongFieldTypesAreInvalidConfig() throws Exception {
    Outcome o = call(conf("1.0.0", ",\"dataDir\":5"));
    assertThat(o.code()).isEqualTo(7);
    assertThat(o.msg()).isEqualTo("network config field 'dataDir' must be a string, got a number");
  }

  @ParameterizedTest
  @ValueSource(strings = {"0.1.0", "0.2.0", "2.0.0", "1.0"})
  void unsupportedVersions(String version) throws Exception {
    Outcome o = call(conf(version, ""));
    assertThat(o.code()).isEqualTo(1);
    assertThat(o.msg()).isEqualTo("incompatible CNI versions");
    assertThat(o.json().get("details")).isEqualTo("config is \"" + version
        + "\", plugin supports [\"0.3.0\" \"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]");
    assertThat(o.json().get("cniVersion")).isEqualTo("1.1.0");
  }

  @Test
  void noVersionMeansTheOldest() throws Exception {
    Outcome o = call("{\"name\":\"n\"}");
    assertThat(o.code()).isEqualTo(1);
    assertThat((String) o.json().get("details")).startsWith("config is \"0.1.0\"");
  }

  @Test
  void commandsNeedRecentEnoughVersions() throws Exception {
    assertThat(call("CHECK", conf("0.3.1", "")).msg()).isEqualTo("config version does not allow CHECK");
    assertThat(call("GC", conf("1.0.0", "")).msg()).isEqualTo("config version does not allow GC");
    Outcome status = call("STATUS", conf("0.4.0", ""));
    assertThat(status.code()).isEqualTo(1);
    assertThat(status.msg()).isEqualTo("config version does not allow STATUS");
  }

  // ------------------------------------------------------------ ADD

  @Test
  void addWithoutSubnetEnvSaysTryAgainLaterAndLeavesNothing() throws Exception {
    Files.delete(subnetFile);
    Outcome o = call(conf());
    assertThat(o.code()).isEqualTo(11);
    assertThat(o.msg()).contains(subnetFile.toString()).contains("tartan agent is running");
    assertThat(dataDir).doesNotExist();
  }

  @Test
  void addWithIncompleteSubnetEnvIsCode100() throws Exception {
    Files.writeString(subnetFile, "FLANNEL_NETWORK=10.244.0.0/16\n");
    Outcome o = call(conf());
    assertThat(o.code()).isEqualTo(100);
    assertThat(o.msg()).isEqualTo(subnetFile + " is missing FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ");
  }

  @Test
  void failedAddLeavesNoSavedConfig() throws Exception {
    Outcome o = call(conf());
    assertThat(o.status()).isEqualTo(1);
    assertThat(o.code()).isEqualTo(101);
    assertThat(o.msg()).isEqualTo("failed to find delegate plugin \"bridge\" in CNI_PATH [" + emptyBin
        + "]; install it (Debian: containernetworking-plugins, in /usr/lib/cni) or fix the runtime's CNI plugin directories");
    assertThat(dataDir).isEmptyDirectory();
    assertThat(o.stderr()).contains("the cleanup DEL also failed");
  }

  @Test
  void addToleratesForeignCniArgs() throws Exception {
    env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=ctr1;"
        + "K8S_POD_UID=1234;SOMETHING");
    Outcome o = call(conf());
    assertThat(o.code()).as("got past argument parsing to the delegate").isEqualTo(101);
    assertThat(o.stderr()).contains("ADD of container ctr1 (pod default/web-0) failed");
  }

  @Test
  void delegateConfigErrorsAreCode7() throws Exception {
    Outcome o = call(conf("1.0.0", ",\"delegate\":{\"name\":\"x\"}"));
    assertThat(o.code()).isEqualTo(7);
    assertThat(o.msg()).isEqualTo("'delegate' dictionary must not have 'name' field, it'll be set by the plugin");
    assertThat(dataDir).doesNotExist();
  }

  @ParameterizedTest
  @ValueSource(strings = {"tartan", "flannel", "my-tartan"})
  void delegateThatWouldCallThisPluginIsRefused(String type) throws Exception {
    Outcome o = call(conf("1.0.0", ",\"type\":\"my-tartan\",\"delegate\":{\"type\":\"" + type + "\"}")
        .replace("\"type\":\"tartan\",", ""));
    assertThat(o.code()).isEqualTo(7);
    assertThat(o.msg()).startsWith("delegate type \"" + type + "\" would call this plugin again");
  }

  @Test
  void delegateTypeMustBeAPlainName() throws Exception {
    Outcome o = call(conf("1.0.0", ",\"delegate\":{\"type\":\"../../bin/sh\"}"));
    assertThat(o.code()).isEqualTo(7);
    assertThat(o.msg()).startsWith("invalid delegate plugin type \"../../bin/sh\"");
  }

  // ------------------------------------------------------------ DEL

  @Test
  void delWithNothingSavedAndNoSubnetEnvSucceedsQuietly() throws Exception {
    Files.delete(subnetFile);
    Outcome o = call("DEL", conf());
    assertThat(o.status()).isZero();
    assertThat(o.stdout()).isEmpty();
  }

  @Test
  void delWithSavedConfigNeedsItsDelegateAndKeepsTheFileForTheRetry() throws Exception {
    Files.createDirectories(dataDir);
    Files.writeString(dataDir.resolve("ctr1"), "{\"cniVersion\":\"1.0.0\",\"name\":\"tartan\",\"type\":\"bridge\"}");
    Files.delete(subnetFile); // DEL does not need it when the config was saved
    Outcome o = call("DEL", conf());
    assertThat(o.code()).isEqualTo(101);
    assertThat(dataDir.resolve("ctr1")).exists();
  }

  @Test
  void delWithUnreadableSavedConfigAndNoSubnetEnvRemovesIt() throws Exception {
    Files.createDirectories(dataDir);
    Files.writeString(dataDir.resolve("ctr1"), "");
    Files.delete(subnetFile);
    Outcome o = call("DEL", conf());
    assertThat(o.status()).isZero();
    assertThat(dataDir.resolve("ctr1")).doesNotExist();
    assertThat(o.stderr()).contains("is unreadable");
  }

  @Test
  void delWithNothingSavedRebuildsTheConfigForTheDelegate() throws Exception {
    Outcome o = call("DEL", conf());
    assertThat(o.code()).as("the rebuilt config went to the (missing) delegate").isEqualTo(101);
  }

  // ------------------------------------------------------------ CHECK

  private static final String PREV = ",\"prevResult\":" + ResultsTest.BRIDGE_100;

  @Test
  void checkNeedsPrevResult() throws Exception {
    Outcome o = call("CHECK", conf());
    assertThat(o.code()).isEqualTo(7);
    assertThat(o.msg()).isEqualTo("required prevResult missing");
  }

  @Test
  void checkOfAnUnknownContainer() throws Exception {
    Outcome o = call("CHECK", conf("1.0.0", PREV));
    assertThat(o.code()).isEqualTo(3);
    assertThat(o.msg()).isEqualTo("no saved delegate config " + dataDir.resolve("ctr1")
        + ": container ctr1 was not added through this plugin, or its state was lost");
  }

  @Test
  void checkWithAMissingNetns() throws Exception {
    Files.createDirectories(dataDir);
    Files.writeString(dataDir.resolve("ctr1"), "{\"cniVersion\":\"1.0.0\",\"name\":\"tartan\",\"type\":\"bridge\"}");
    env.put("CNI_NETNS", tmp.resolve("no-such-netns").toString());
    Outcome o = call("CHECK", conf("1.0.0", PREV));
    assertThat(o.code()).isEqualTo(8);
    assertThat(o.msg()).isEqualTo("network namespace " + tmp.resolve("no-such-netns") + " does not exist");
  }

  @Test
  void checkWithPrevResultWithoutOurInterface() throws Exception {
    Files.createDirectories(dataDir);
    Files.writeString(dataDir.resolve("ctr1"), "{\"cniVersion\":\"1.0.0\",\"name\":\"tartan\",\"type\":\"bridge\"}");
    env.put("CNI_IFNAME", "eth1");
    Outcome o = call("CHECK", conf("1.0.0", PREV));
    assertThat(o.code()).isEqualTo(102);
    assertThat(o.msg()).isEqualTo("prevResult gives interface eth1 no address; nothing to check");
  }

  @Test
  void checkWithCorruptSavedConfig() throws Exception {
    Files.createDirectories(dataDir);
    Files.writeString(dataDir.resolve("ctr1"), "{\"type\":");
    Outcome o = call("CHECK", conf("1.0.0", PREV));
    assertThat(o.code()).isEqualTo(7);
    assertThat(o.msg()).startsWith("saved delegate config " + dataDir.resolve("ctr1") + " is not valid JSON");
  }

  // ------------------------------------------------------------ GC

  private void save(String id) throws Exception {
    Files.createDirectories(dataDir);
    Files.writeString(dataDir.resolve(id), "{\"cniVersion\":\"1.0.0\",\"name\":\"tartan\",\"type\":\"bridge\","
        + "\"ipam\":{\"type\":\"static\"}}");
  }

  @Test
  void gcNeedsTheValidAttachments() throws Exception {
    Outcome o = call("GC", conf("1.1.0", ""));
    assertThat(o.code()).isEqualTo(7);
    assertThat(o.msg()).startsWith("GC needs 'cni.dev/valid-attachments'");
    assertThat(call("GC", conf("1.1.0", ",\"cni.dev/valid-attachments\":[{\"ifname\":\"eth0\"}]")).code()).isEqualTo(7);
  }

  @Test
  void gcKeepsValidAttachmentsAndReportsStaleOnesItCouldNotRelease() throws Exception {
    save("keep");
    save("stale1");
    save("stale2");
    Files.writeString(dataDir.resolve("broken"), "not json");
    Outcome o = call("GC", conf("1.1.0", ",\"cni.dev/valid-attachments\":[{\"containerID\":\"keep\",\"ifname\":\"eth0\"}]"));
    assertThat(o.code()).as("both stale entries need the missing delegate").isEqualTo(101);
    assertThat(o.msg()).startsWith("GC finished with 3 error(s); first: failed to find delegate plugin");
    assertThat(dataDir.resolve("keep")).exists();
    assertThat(dataDir.resolve("stale1")).as("kept for the next GC").exists();
    assertThat(dataDir.resolve("broken")).as("unreadable: nothing to release, removed").doesNotExist();
    assertThat(o.stderr()).contains("GC could not release container stale1").contains("GC in the delegate failed");
  }

  @Test
  void gcLeavesOtherNetworksContainersAlone() throws Exception {
    Files.createDirectories(dataDir);
    Files.writeString(dataDir.resolve("other1"), "{\"cniVersion\":\"1.0.0\",\"name\":\"othernet\",\"type\":\"bridge\"}");
    Files.delete(subnetFile);
    Outcome o = call("GC", conf("1.1.0", ",\"cni.dev/valid-attachments\":[]"));
    assertThat(o.status()).as(o.stdout()).isZero();
    assertThat(dataDir.resolve("other1")).exists();
  }

  @Test
  void gcWithEverythingValidAndNoSubnetEnvDoesNothing() throws Exception {
    save("a");
    Files.delete(subnetFile);
    Outcome o = call("GC", conf("1.1.0", ",\"cni.dev/valid-attachments\":[{\"containerID\":\"a\",\"ifname\":\"eth0\"}]"));
    assertThat(o.status()).as(o.stdout()).isZero();
    assertThat(o.stdout()).isEmpty();
    assertThat(dataDir.resolve("a")).exists();
  }

  // ------------------------------------------------------------ STATUS

  @Test
  void statusWithoutSubnetEnvIsUnavailable() throws Exception {
    Files.delete(subnetFile);
    Outcome o = call("STATUS", conf("1.1.0", ""));
    assertThat(o.code()).isEqualTo(50);
    assertThat(o.msg()).startsWith("tartan is not ready: failed to load subnet file " + subnetFile);
  }

  @Test
  void statusWithInvalidSubnetEnvIsUnavailable() throws Exception {
    Files.writeString(subnetFile, "FLANNEL_MTU=x\n");
    Outcome o = call("STATUS", conf("1.1.0", ""));
    assertThat(o.code()).isEqualTo(50);
    assertThat(o.msg()).isEqualTo("tartan is not ready: " + subnetFile + " line 1: FLANNEL_MTU \"x\" is not an unsigned "
        + "32-bit integer");
  }

  @Test
  void statusWithoutTheDelegateIsUnavailable() throws Exception {
    Outcome o = call("STATUS", conf("1.1.0", ""));
    assertThat(o.code()).isEqualTo(50);
    assertThat(o.msg()).startsWith("delegate plugin bridge is not available: failed to find delegate plugin");
  }

  // ------------------------------------------------------------ defaults

  @Test
  void defaultsAreFlannels() throws Exception {
    NetConf nc = NetConf.from("1.0.0", Json.parseObject("{\"name\":\"n\",\"type\":\"flannel\",\"subnetFile\":\"\"}"));
    assertThat(nc.subnetFile()).hasToString("/run/flannel/subnet.env");
    assertThat(nc.dataDir()).hasToString("/var/lib/cni/flannel");
  }
}
