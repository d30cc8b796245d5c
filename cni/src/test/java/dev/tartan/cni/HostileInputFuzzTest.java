package dev.tartan.cni;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.cni.delegate.DelegateConf;
import dev.tartan.cni.delegate.SubnetEnv;
import dev.tartan.cni.json.Json;
import dev.tartan.cni.json.JsonException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8, hostile input, CNI side: the stdin JSON parser, the plugin's handling of the network
 * config (STATUS: parse, check, build the delegate config; no delegate runs, CNI_PATH is empty),
 * subnet.env and CNI_ARGS, under fixed-seed fuzz input (the same mutation kinds as the store's
 * {@code testing.Fuzz}, kept local: this module has no dependencies). Expected failures are the
 * typed ones (JsonException, CniException, error JSON with exit 1); an internal error (code 999),
 * another exception or an Error is a defect.
 */
@Timeout(60)
class HostileInputFuzzTest {
  static final long SEED = 0x7a27a2_0008L;
  static final String SUBNET_ENV = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\n"
      + "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";
  static final String[] TOKENS = {"{", "}", "[", "]", "\"", "\\", ":", ",", "null", "true", "false", "-0", "1e999",
      "99999999999999999999", "4294967296", "-1", "0x10", "/", "..", "\u0000", "\\u0000", "\\ud800", "\ud800", "é",
      "\uD83D\uDCA5", " ", "\n", "\r\n", "=", ";", "#", "'", "\"cniVersion\"", "\"1.1.0\"", "\"0.4.0\"", "\"name\"",
      "\"type\"", "\"delegate\"", "\"ipam\"", "\"subnetFile\"", "\"dataDir\"", "\"mtu\"", "\"isGateway\"",
      "\"routes\"", "\"ranges\"", "\"10.244.0.0/16\"", "FLANNEL_SUBNET=", "FLANNEL_MTU=", "K8S_POD_NAME="};

  @TempDir Path tmp;

  final Random rnd = new Random(SEED);

  @FunctionalInterface
  interface Target {
    void accept(String input) throws Exception;
  }

  String mutate(String s) {
    int n = s.length();
    String t = TOKENS[rnd.nextInt(TOKENS.length)];
    switch (rnd.nextInt(7)) {
      case 0: {
        int i = rnd.nextInt(n + 1);
        return s.substring(0, i) + t + s.substring(Math.min(n, i + 1));
      }
      case 1: {
        int i = rnd.nextInt(n + 1);
        return s.substring(0, i) + s.substring(Math.min(n, i + 1 + rnd.nextInt(8)));
      }
      case 2: {
        int i = rnd.nextInt(n + 1);
        int j = Math.min(n, i + 1 + rnd.nextInt(16));
        return s.substring(0, j) + s.substring(i, j) + s.substring(j);
      }
      case 3: {
        int i = rnd.nextInt(n + 1);
        return s.substring(0, i) + t + s.substring(i);
      }
      case 4:
        return s.substring(0, rnd.nextInt(n + 1));
      case 5: {
        int depth = 1 + rnd.nextInt(rnd.nextInt(10) == 0 ? 3000 : 4);
        return "[".repeat(depth) + s + "]".repeat(depth);
      }
      default:
        return n > (1 << 15) ? s : s.repeat(1 + rnd.nextInt(8));
    }
  }

  static List<String> hostileShapes() {
    return List.of("", " ", "\u0000", "[".repeat(100_000), "{\"a\":".repeat(50_000), "\"" + "x".repeat(1 << 20) + "\"",
        "9".repeat(100_000), "FLANNEL_SUBNET=" + "1".repeat(1 << 20) + "\n", "=\n".repeat(100_000), ";".repeat(100_000));
  }

  @SafeVarargs
  final int fuzz(String name, List<String> seeds, int tries, Target target, Class<? extends Throwable>... expected) {
    List<String> inputs = new ArrayList<>(seeds);
    inputs.addAll(hostileShapes());
    for (int i = 0; i < tries; i++) {
      String s = seeds.get(rnd.nextInt(seeds.size()));
      for (int k = 0, m = 1 + rnd.nextInt(3); k < m; k++) {
        s = mutate(s);
      }
      inputs.add(s);
    }
    int accepted = 0;
    for (String s : inputs) {
      try {
        target.accept(s);
        accepted++;
      } catch (Throwable t) {
        boolean ok = false;
        for (Class<? extends Throwable> c : expected) {
          ok |= c.isInstance(t);
        }
        if (!ok) {
          String shown = s.length() > 300 ? s.substring(0, 300) + "... (" + s.length() + " chars)" : s;
          throw new AssertionError(name + " failed with " + t + " on input " + Json.write(shown), t);
        }
      }
    }
    return accepted;
  }

  @Test
  void jsonParserFailsOnlyWithJsonException() {
    int ok = fuzz("Json.parse", List.of("{\"cniVersion\":\"1.0.0\",\"name\":\"tt\",\"type\":\"tartan\",\"delegate\":"
        + "{\"isDefaultGateway\":true,\"mtu\":1400},\"ipam\":{\"ranges\":[[{\"subnet\":\"10.244.7.0/24\"}]]}}",
        "[1,-2.5e3,true,false,null,\"\\u00e9\\n\",{}]", "\"\\ud83d\\udca5\""), 3000, Json::parse, JsonException.class);
    assertThat(ok).isGreaterThan(3);
  }

  @Test
  void jsonRoundTrips() throws Exception {
    Random r = new Random(SEED);
    for (int i = 0; i < 2000; i++) {
      Object v = randomJson(r, 0);
      assertThat(Json.parse(Json.write(v))).as("%s", v).isEqualTo(v);
    }
  }

  static Object randomJson(Random r, int depth) {
    switch (depth > 3 ? r.nextInt(4) : r.nextInt(6)) {
      case 0:
        return null;
      case 1:
        return r.nextBoolean();
      case 2:
        return (long) r.nextInt();
      case 3: {
        StringBuilder b = new StringBuilder();
        for (int k = r.nextInt(8); k > 0; k--) {
          b.append((char) (r.nextInt(3) == 0 ? r.nextInt(0xd800) : 0x20 + r.nextInt(0x5f)));
        }
        return b.toString();
      }
      case 4: {
        List<Object> l = new ArrayList<>();
        for (int k = r.nextInt(4); k > 0; k--) {
          l.add(randomJson(r, depth + 1));
        }
        return l;
      }
      default: {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int k = r.nextInt(4); k > 0; k--) {
          m.put("k" + r.nextInt(100), randomJson(r, depth + 1));
        }
        return m;
      }
    }
  }

  @Test
  void subnetEnvFailsOnlyWithCniException() {
    int ok = fuzz("SubnetEnv.parse", List.of(SUBNET_ENV, "FLANNEL_NETWORK=10.0.0.0/8,fd00::/56\r\n"
        + "FLANNEL_SUBNET=10.0.3.1/24\r\nFLANNEL_IPV6_NETWORK=fd00::/56\r\nFLANNEL_IPV6_SUBNET=fd00:0:0:3::1/64\r\n"
        + "FLANNEL_MTU=8950\r\nFLANNEL_IPMASQ=false\r\n# comment\r\n"), 2500,
        s -> SubnetEnv.parse("subnet.env", s), CniException.class);
    assertThat(ok).isGreaterThan(2);
  }

  @Test
  void cniArgsNeverThrow() {
    fuzz("CniArgs.parse", List.of("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0",
        "K8S_POD_INFRA_CONTAINER_ID=abc;IP=10.244.7.9"), 2000, s -> CniArgs.podOf(CniArgs.parse(s)));
  }

  @Test
  void theNetworkConfigOnStdinGivesAResultOrAnErrorJsonNeverAnInternalError() throws Exception {
    Path subnetFile = Files.writeString(tmp.resolve("subnet.env"), SUBNET_ENV);
    Path bin = Files.createDirectory(tmp.resolve("bin"));
    Map<String, String> env = Map.of("CNI_COMMAND", "STATUS", "CNI_PATH", bin.toString());
    SubnetEnv parsedEnv = SubnetEnv.parse("subnet.env", SUBNET_ENV);
    String conf = "{\"cniVersion\":\"1.1.0\",\"name\":\"tt\",\"type\":\"tartan\",\"subnetFile\":"
        + Json.write(subnetFile.toString()) + ",\"dataDir\":" + Json.write(tmp.resolve("data").toString())
        + ",\"delegate\":{\"type\":\"bridge\",\"isDefaultGateway\":true,\"hairpinMode\":true,\"mtu\":1400},"
        + "\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"/tmp/x\",\"routes\":[{\"dst\":\"10.0.0.0/8\"}]}}";
    String minimal = "{\"cniVersion\":\"1.1.0\",\"name\":\"tt\",\"type\":\"flannel\",\"subnetFile\":"
        + Json.write(subnetFile.toString()) + "}";
    int[] results = new int[2];
    fuzz("tartan CNI STATUS", List.of(conf, minimal), 2000, stdin -> {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      int status = new CniPlugin(env::get, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
          new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8))
          .run();
      String o = out.toString(StandardCharsets.UTF_8);
      assertThat(status).as("exit status for %s", o).isIn(0, 1);
      assertThat(err.toString(StandardCharsets.UTF_8)).as("stderr").doesNotContain("internal error");
      if (status == 1) {
        Map<String, Object> e = Json.parseObject(o);
        assertThat(e.get("code")).as("error JSON %s", o).isNotEqualTo(999L).isNotNull();
        assertThat(e.get("msg")).isInstanceOf(String.class);
      }
      results[status]++;
      // the delegate config is built from the same untrusted map: typed failures only
      try {
        Object parsed = Json.parse(stdin);
        if (parsed instanceof Map) {
          @SuppressWarnings("unchecked")
          Map<String, Object> m = (Map<String, Object>) parsed;
          DelegateConf.serialize(DelegateConf.build(m, parsedEnv));
        }
      } catch (JsonException | CniException expected) {
        // fine
      }
    });
    assertThat(results[1]).as("errors reported as error JSON").isPositive();
  }
}
