package dev.tartan.cni;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * The workload recorded into the class-data sharing archive: the plugin's own code paths (config and
 * subnet.env parsing, delegate config, scratch file, delegate process, result conversion, errors), run
 * in-process against a temporary directory with {@code true} standing in as the delegate binary, so that
 * archiving touches nothing outside it.
 */
final class CdsArchiveWorkload {
  private CdsArchiveWorkload() {}

  static void run() {
    Path tmp = null;
    try {
      tmp = Files.createTempDirectory("tartan-cds");
      Path bin = Files.createDirectory(tmp.resolve("bin"));
      Path trueBin = findTrue();
      if (trueBin != null) {
        Files.createSymbolicLink(bin.resolve("bridge"), trueBin);
      }
      Path subnetEnv = tmp.resolve("subnet.env");
      Files.writeString(subnetEnv, "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\n"
          + "FLANNEL_IPMASQ=true\n");
      String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"tartan\",\"type\":\"tartan\",\"subnetFile\":\""
          + subnetEnv + "\",\"dataDir\":\"" + tmp.resolve("data") + "\",\"delegate\":{\"hairpinMode\":true},"
          + "\"ipam\":{\"routes\":[{\"dst\":\"10.96.0.0/12\",\"gw\":\"10.244.7.20\"}]}}";
      String prev = "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:ff\","
          + "\"sandbox\":\"/run/netns/x\"}],\"ips\":[{\"interface\":0,\"address\":\"10.244.7.2/24\","
          + "\"gateway\":\"10.244.7.1\"}],\"routes\":[{\"dst\":\"10.244.0.0/16\"}],\"dns\":{}}";
      for (String command : new String[] {"VERSION", "ADD", "DEL", "CHECK", ""}) {
        call(command, conf, bin);
      }
      for (String v : CniVersions.SUPPORTED) {
        Results.convert(dev.tartan.cni.json.Json.parseObject(prev), v);
      }
      NetnsProbe.parse("[{\"ifname\":\"eth0\",\"addr_info\":[{\"family\":\"inet\",\"local\":\"10.244.7.2\","
          + "\"prefixlen\":24}]}]");
    } catch (Exception e) {
      System.err.println("tartan: class-data archive workload failed: " + e);
    } finally {
      if (tmp != null) {
        try (Stream<Path> walk = Files.walk(tmp)) {
          walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
          System.err.println("tartan: could not remove " + tmp + ": " + e);
        }
      }
    }
  }

  private static void call(String command, String conf, Path bin) {
    Map<String, String> env = new HashMap<>();
    env.put("CNI_COMMAND", command);
    env.put("CNI_CONTAINERID", "cds-training");
    env.put("CNI_NETNS", "/proc/self/ns/net");
    env.put("CNI_IFNAME", "eth0");
    env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=training");
    env.put("CNI_PATH", bin.toString());
    Function<String, String> getenv = env::get;
    PrintStream sink = new PrintStream(OutputStream.nullOutputStream());
    new CniPlugin(getenv, new ByteArrayInputStream(conf.getBytes(StandardCharsets.UTF_8)), sink, sink).run();
  }

  private static Path findTrue() {
    for (String p : new String[] {"/usr/bin/true", "/bin/true"}) {
      if (Files.isExecutable(Path.of(p))) {
        return Path.of(p);
      }
    }
    return null;
  }
}
