package dev.tartan.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.agent.Main;
import dev.tartan.store.testing.EtcdClusterExtension;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The admin commands, run in-process against a real etcd; every test uses its own key prefix. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AdminCommandsIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String FLANNEL_LEASE =
      "{\"PublicIP\":\"198.51.100.5\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","
          + "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}";

  @RegisterExtension
  static final EtcdClusterExtension etcd = EtcdClusterExtension.builder().build();

  private String prefix;

  record Result(int exit, String out, String err) {}

  @BeforeEach
  void prefix(TestInfo test) {
    prefix = "/it-" + test.getTestMethod().orElseThrow().getName() + "/network";
  }

  /** Runs {@code tartan <args> --etcd-endpoints <cluster> --etcd-prefix <test prefix>} in this JVM. */
  private Result tartan(String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--etcd-endpoints", etcd.endpointsCsv(), "--etcd-prefix", prefix));
    return tartanRaw(Map.of(), all.toArray(String[]::new));
  }

  private static Result tartanRaw(Map<String, String> env, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    var cmd = Main.commandLine(env::get);
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    int exit = cmd.execute(args);
    return new Result(exit, out.toString(), err.toString());
  }

  private String get(String key) {
    return etcd.etcdctl("get", key, "--print-value-only").strip();
  }

  @Test
  void initThenShow() {
    Result init = tartan("network", "init", "--network", "10.244.0.0/16", "--vni", "7");
    assertThat(init.exit()).as(init.err()).isZero();
    assertThat(init.out()).startsWith("wrote " + prefix + "/config");
    assertThat(get(prefix + "/config"))
        .isEqualTo("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":7}}");

    Result show = tartan("network", "show");
    assertThat(show.exit()).as(show.err()).isZero();
    assertThat(show.out()).contains(
        "{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":7}}",
        "Network:    10.244.0.0/16",
        "SubnetLen:  24",
        "SubnetMin:  10.244.1.0",
        "SubnetMax:  10.244.255.0",
        "Subnets:    255 host subnets of /24",
        "Backend:    vxlan (VNI 7, UDP port 8472, device flannel.7)");
  }

  @Test
  void showReadsAConfigWrittenByHandAndDerivesFlannelsDefaults() {
    etcd.etcdctl("put", prefix + "/config",
        "{\"network\":\"10.3.0.0/16\",\"SubnetMin\":\"10.3.5.0\",\"SubnetMax\":\"10.3.8.0\",\"SubnetLen\":28,"
            + "\"Backend\":{\"type\":\"VXLAN\",\"port\":4789}}");
    Result show = tartan("network", "show");
    assertThat(show.exit()).as(show.err()).isZero();
    assertThat(show.out()).contains("SubnetLen:  28", "SubnetMin:  10.3.5.0", "SubnetMax:  10.3.8.0",
        "Subnets:    49 host subnets of /28", "Backend:    vxlan (VNI 1, UDP port 4789, device flannel.1)");
  }

  @Test
  void showWithoutConfigSaysHowToCreateOne() {
    Result show = tartan("network", "show");
    assertThat(show.exit()).isEqualTo(1);
    assertThat(show.err()).isEqualTo("tartan network show: no network config at " + prefix
        + "/config; create one with 'tartan network init --network CIDR'" + System.lineSeparator());
  }

  @Test
  void showOfAnInvalidStoredConfigPrintsItAndTheProblem() {
    etcd.etcdctl("put", prefix + "/config", "{\"Network\":\"10.3.0.0/16\",\"SubnetLen\":31,\"Backend\":{\"Type\":\"vxlan\"}}");
    Result show = tartan("network", "show");
    assertThat(show.exit()).isEqualTo(1);
    assertThat(show.out()).contains("\"SubnetLen\":31");
    assertThat(show.err()).contains("the stored config is invalid: SubnetLen must be less than /31").hasLineCount(1);
  }

  @Test
  void initRefusesToReplaceADifferentConfigWithoutForce() {
    assertThat(tartan("network", "init", "--network", "10.244.0.0/16").exit()).isZero();
    String original = get(prefix + "/config");

    Result same = tartan("network", "init", "--network", "10.244.0.0/16");
    assertThat(same.exit()).as(same.err()).isZero();
    assertThat(same.out()).contains("already holds this config; nothing changed");

    Result different = tartan("network", "init", "--network", "10.245.0.0/16", "--subnet-len", "26");
    assertThat(different.exit()).isEqualTo(1);
    assertThat(different.err()).hasLineCount(1).contains(
        "a different network config already exists at " + prefix + "/config", "10.244.0.0/16", "--force");
    assertThat(get(prefix + "/config")).isEqualTo(original);

    Result forced = tartan("network", "init", "--network", "10.245.0.0/16", "--subnet-len", "26", "--force");
    assertThat(forced.exit()).as(forced.err()).isZero();
    assertThat(forced.out()).startsWith("replaced " + prefix + "/config").contains("previous: " + original);
    assertThat(get(prefix + "/config")).isEqualTo("{\"Network\":\"10.245.0.0/16\",\"SubnetLen\":26,\"Backend\":{\"Type\":\"vxlan\"}}");
  }

  @Test
  void listShowsLeasesWrittenByFlannel() {
    assertThat(tartan("network", "init", "--network", "10.244.0.0/16").exit()).isZero();
    long leaseId = grant(600);
    etcd.etcdctl("put", "--lease=" + Long.toHexString(leaseId), prefix + "/subnets/10.244.5.0-24", FLANNEL_LEASE);
    etcd.etcdctl("put", prefix + "/subnets/10.244.17.0-24", "{\"PublicIP\":\"198.51.100.17\",\"PublicIPv6\":null}");

    Result list = tartan("leases", "list");
    assertThat(list.exit()).as(list.err()).isZero();
    List<String> lines = list.out().lines().toList();
    assertThat(lines).hasSize(3);
    assertThat(lines.get(0).split("\\s+")).containsExactly("SUBNET", "PUBLIC-IP", "BACKEND", "VTEP-MAC", "TTL-LEFT", "RESERVED");
    assertThat(lines.get(1)).matches(
        "10\\.244\\.5\\.0/24\\s+198\\.51\\.100\\.5\\s+vxlan\\s+c6:d2:32:6f:8f:44\\s+(9m[0-5]\\d|10m00)s\\s+no");
    assertThat(lines.get(2)).matches("10\\.244\\.17\\.0/24\\s+198\\.51\\.100\\.17\\s+-\\s+-\\s+-\\s+yes");
  }

  @Test
  void dualStackInitShowListAndRelease() throws Exception {
    Result init = tartan("network", "init", "--network", "10.244.0.0/16", "--ipv6-network", "fd00:10:244::/48",
        "--ipv6-subnet-len", "64");
    assertThat(init.exit()).as(init.err()).isZero();
    assertThat(get(prefix + "/config")).isEqualTo("{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true,"
        + "\"IPv6Network\":\"fd00:10:244::/48\",\"IPv6SubnetLen\":64,\"Backend\":{\"Type\":\"vxlan\"}}");
    Result show = tartan("network", "show");
    assertThat(show.exit()).as(show.err()).isZero();
    assertThat(show.out()).contains("IPv6Network:    fd00:10:244::/48", "IPv6SubnetLen:  64",
        "IPv6SubnetMin:  fd00:10:244:1::", "IPv6SubnetMax:  fd00:10:244:ffff::",
        "IPv6 subnets:   65535 host subnets of /64").doesNotContain("not programmed");

    // a dual-stack flanneld's lease (docs/flannel-compat.md §1.3, §1.4)
    String key = prefix + "/subnets/10.244.5.0-24&fd00:10:244:5::-64";
    etcd.etcdctl("put", "--lease=" + Long.toHexString(grant(600)), key,
        "{\"PublicIP\":\"198.51.100.5\",\"PublicIPv6\":\"2001:db8::5\",\"BackendType\":\"vxlan\","
            + "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"},"
            + "\"BackendV6Data\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:66\"}}");
    Result list = tartan("leases", "list");
    assertThat(list.exit()).as(list.err()).isZero();
    List<String> lines = list.out().lines().toList();
    assertThat(lines.get(0).split("\\s+")).containsExactly("SUBNET", "IPV6-SUBNET", "PUBLIC-IP", "PUBLIC-IPV6",
        "BACKEND", "VTEP-MAC", "TTL-LEFT", "RESERVED");
    assertThat(lines.get(1)).matches("10\\.244\\.5\\.0/24\\s+fd00:10:244:5::/64\\s+198\\.51\\.100\\.5\\s+"
        + "2001:db8::5\\s+vxlan\\s+c6:d2:32:6f:8f:44\\s+(9m[0-5]\\d|10m00)s\\s+no");
    JsonNode json = JSON.readTree(tartan("leases", "list", "-o", "json").out()).get(0);
    assertThat(json.get("ipv6Subnet").asText()).isEqualTo("fd00:10:244:5::/64");
    assertThat(json.get("publicIpv6").asText()).isEqualTo("2001:db8::5");

    Result release = tartan("leases", "release", "10.244.5.0/24");
    assertThat(release.exit()).as(release.err()).isZero();
    assertThat(get(key)).isEmpty();
  }

  @Test
  void listAsJsonParses() throws Exception {
    assertThat(tartan("network", "init", "--network", "10.244.0.0/16").exit()).isZero();
    long leaseId = grant(600);
    etcd.etcdctl("put", "--lease=" + Long.toHexString(leaseId), prefix + "/subnets/10.244.5.0-24", FLANNEL_LEASE);

    Result list = tartan("leases", "list", "-o", "json");
    assertThat(list.exit()).as(list.err()).isZero();
    JsonNode array = JSON.readTree(list.out());
    assertThat(array.isArray()).isTrue();
    assertThat(array).hasSize(1);
    JsonNode l = array.get(0);
    assertThat(l.get("subnet").asText()).isEqualTo("10.244.5.0/24");
    assertThat(l.get("publicIp").asText()).isEqualTo("198.51.100.5");
    assertThat(l.get("backend").asText()).isEqualTo("vxlan");
    assertThat(l.get("vtepMac").asText()).isEqualTo("c6:d2:32:6f:8f:44");
    assertThat(l.get("ttlLeftSeconds").asLong()).isBetween(540L, 600L);
    assertThat(l.get("reserved").asBoolean()).isFalse();

    Result empty = tartanRaw(Map.of(), "leases", "list", "-o", "JSON", "--etcd-endpoints", etcd.endpointsCsv(),
        "--etcd-prefix", prefix + "-empty");
    assertThat(empty.exit()).as(empty.err()).isZero();
    assertThat(JSON.readTree(empty.out())).isEmpty();
  }

  @Test
  void reserveAndRelease() throws Exception {
    assertThat(tartan("network", "init", "--network", "10.244.0.0/16").exit()).isZero();
    String key = prefix + "/subnets/10.244.9.0-24";

    Result reserve = tartan("leases", "reserve", "10.244.9.0/24", "--public-ip", "198.51.100.9");
    assertThat(reserve.exit()).as(reserve.err()).isZero();
    assertThat(reserve.out()).startsWith("reserved 10.244.9.0/24 for 198.51.100.9");
    assertThat(get(key)).isEqualTo("{\"PublicIP\":\"198.51.100.9\",\"PublicIPv6\":null}");
    JsonNode kv = JSON.readTree(etcd.etcdctl("get", key, "-w", "json")).get("kvs").get(0);
    assertThat(kv.path("lease").asLong(0)).as("a reservation has no etcd lease").isZero();
    assertThat(tartan("leases", "list").out()).containsPattern("10\\.244\\.9\\.0/24\\s+198\\.51\\.100\\.9\\s.*\\syes");

    Result taken = tartan("leases", "reserve", "10.244.9.0-24", "--public-ip", "198.51.100.10");
    assertThat(taken.exit()).isEqualTo(1);
    assertThat(taken.err()).hasLineCount(1).contains("10.244.9.0/24");
    assertThat(get(key)).contains("198.51.100.9");

    Result release = tartan("leases", "release", "10.244.9.0/24");
    assertThat(release.exit()).as(release.err()).isZero();
    assertThat(release.out()).isEqualTo("released 10.244.9.0/24" + System.lineSeparator());
    assertThat(get(key)).isEmpty();

    Result again = tartan("leases", "release", "10.244.9.0/24");
    assertThat(again.exit()).isZero();
    assertThat(again.out()).contains("nothing to release: 10.244.9.0/24 is not leased");
  }

  @Test
  void releaseRemovesALeaseWrittenByFlannel() {
    long leaseId = grant(600);
    etcd.etcdctl("put", "--lease=" + Long.toHexString(leaseId), prefix + "/subnets/10.244.5.0-24", FLANNEL_LEASE);
    Result release = tartan("leases", "release", "10.244.5.0-24");
    assertThat(release.exit()).as(release.err()).isZero();
    assertThat(get(prefix + "/subnets/10.244.5.0-24")).isEmpty();
  }

  @Test
  void unreachableEtcdNamesTheEndpointsTried() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    String endpoints = "http://127.0.0.1:" + port;
    Result list = tartanRaw(Map.of(), "leases", "list", "--etcd-endpoints", endpoints);
    assertThat(list.exit()).isEqualTo(1);
    assertThat(list.err()).hasLineCount(1).startsWith("tartan leases list: ").contains("127.0.0.1:" + port);
    assertThat(list.out()).isEmpty();

    // The same through flannel's environment variable.
    Result show = tartanRaw(Map.of("FLANNELD_ETCD_ENDPOINTS", endpoints), "network", "show");
    assertThat(show.exit()).isEqualTo(1);
    assertThat(show.err()).hasLineCount(1).contains("127.0.0.1:" + port);
  }

  /** The real {@code java -jar tartan.jar}: output flushed before exit, no log noise, exit codes. */
  @Test
  void shadedJarRunsTheCommands() throws Exception {
    Path jar = Path.of(System.getProperty("basedir", "."), "target", "tartan.jar");
    Assumptions.assumeTrue(Files.isRegularFile(jar), "no " + jar + " (built by mvn package before the ITs)");
    etcd.etcdctl("put", prefix + "/subnets/10.244.17.0-24", "{\"PublicIP\":\"198.51.100.17\",\"PublicIPv6\":null}");

    Result list = java(jar, "leases", "list", "--etcd-prefix", prefix);
    assertThat(list.exit()).as(list.err()).isZero();
    assertThat(list.err()).isEmpty();
    assertThat(list.out().lines().toList()).hasSize(2);
    assertThat(list.out()).containsPattern("10\\.244\\.17\\.0/24\\s+198\\.51\\.100\\.17\\s.*yes");

    Result show = java(jar, "network", "show", "--etcd-prefix", prefix);
    assertThat(show.exit()).isEqualTo(1);
    assertThat(show.out()).isEmpty();
    assertThat(show.err()).isEqualTo("tartan network show: no network config at " + prefix
        + "/config; create one with 'tartan network init --network CIDR'\n");

    Result version = java(jar, "--version");
    assertThat(version.exit()).isZero();
    assertThat(version.out()).matches("tartan \\d+\\.\\d+\\.\\d+.*\n");
  }

  /** Runs the jar with the cluster in FLANNELD_ETCD_ENDPOINTS (flannel's environment fallback). */
  private static Result java(Path jar, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(
        ProcessHandle.current().info().command().orElse("java"), "-jar", jar.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("FLANNELD_ETCD_ENDPOINTS", etcd.endpointsCsv());
    Process p = pb.start();
    p.getOutputStream().close();
    var out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
    var err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("tartan " + String.join(" ", args) + " did not finish");
    }
    return new Result(p.exitValue(), out.get(), err.get());
  }

  private static String readAll(java.io.InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private long grant(int ttlSeconds) {
    // "lease 694d8a3c2f1e0b07 granted with TTL(600s)"
    Matcher m = Pattern.compile("lease ([0-9a-f]+) granted").matcher(etcd.etcdctl("lease", "grant", Integer.toString(ttlSeconds)));
    assertThat(m.find()).isTrue();
    return Long.parseUnsignedLong(m.group(1), 16);
  }
}
