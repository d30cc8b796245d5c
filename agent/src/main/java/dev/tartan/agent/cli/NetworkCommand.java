package dev.tartan.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.agent.backend.BackendTypes;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.NetworkConfigException;
import dev.tartan.store.NetworkConfigJson;
import dev.tartan.store.Store;
import java.io.IOException;
import java.io.PrintWriter;
import java.math.BigInteger;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code tartan network init|show}: the network config at {@code <prefix>/config}. */
@Command(
    name = "network",
    description = "Create or show the network config (<prefix>/config).",
    mixinStandardHelpOptions = true,
    synopsisSubcommandLabel = "COMMAND",
    subcommands = {NetworkCommand.Init.class, NetworkCommand.Show.class})
public final class NetworkCommand implements Runnable {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec
  private CommandSpec spec;

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "missing command: init or show");
  }

  @Command(
      name = "init",
      description = {
          "Write the network config that every host reads at start.",
          "Writing the same config again changes nothing; replacing a different one needs --force."},
      mixinStandardHelpOptions = true,
      sortOptions = false)
  static final class Init implements Callable<Integer>, Cli.QuietLogs {
    @Spec
    private CommandSpec spec;

    @Option(names = "--network", required = true, paramLabel = "CIDR", converter = Args.Network.class,
        description = "The overlay network, e.g. 10.244.0.0/16 (Network).")
    private Ipv4Subnet network;

    @Option(names = "--subnet-len", paramLabel = "N",
        description = "Prefix length of each host's subnet (SubnetLen; default 24, or network+2 for networks smaller than /22).")
    private Integer subnetLen;

    @Option(names = "--subnet-min", paramLabel = "IP", converter = Args.Ipv4.class,
        description = "First subnet that may be leased (SubnetMin; default: the second subnet).")
    private Inet4Address subnetMin;

    @Option(names = "--subnet-max", paramLabel = "IP", converter = Args.Ipv4.class,
        description = "Last subnet that may be leased (SubnetMax; default: the last subnet).")
    private Inet4Address subnetMax;

    @Option(names = "--backend", paramLabel = "TYPE", defaultValue = "vxlan",
        description = "Backend type (Backend.Type): vxlan or host-gw (all hosts on one L2); "
            + "default ${DEFAULT-VALUE}.")
    private String backend;

    @Option(names = "--direct-routing",
        description = "VXLAN only: peers on the same L2 get a direct route instead of VXLAN (Backend.DirectRouting).")
    private boolean directRouting;

    @Option(names = "--vni", paramLabel = "N", description = "VXLAN network identifier (Backend.VNI; default 1).")
    private Integer vni;

    @Option(names = "--port", paramLabel = "N", description = "VXLAN UDP port (Backend.Port; default: kernel's 8472).")
    private Integer port;

    @Option(names = "--ipv6-network", paramLabel = "CIDR", converter = Args.Ipv6Network.class,
        description = "Dual stack: the IPv6 overlay network, e.g. fd00:10:244::/48 (EnableIPv6, IPv6Network).")
    private Ipv6Subnet ipv6Network;

    @Option(names = "--ipv6-subnet-len", paramLabel = "N",
        description = "Prefix length of each host's IPv6 subnet (IPv6SubnetLen; default 64, or network+2 for networks smaller than /62).")
    private Integer ipv6SubnetLen;

    @Option(names = "--ipv6-subnet-min", paramLabel = "IP", converter = Args.Ipv6.class,
        description = "First IPv6 subnet that may be leased (IPv6SubnetMin; default: the second subnet).")
    private Inet6Address ipv6SubnetMin;

    @Option(names = "--ipv6-subnet-max", paramLabel = "IP", converter = Args.Ipv6.class,
        description = "Last IPv6 subnet that may be leased (IPv6SubnetMax; default: the last subnet).")
    private Inet6Address ipv6SubnetMax;

    @Option(names = "--enable-nftables",
        description = "Masquerade and forward rules in nftables (tables flannel-ipv4/flannel-ipv6) "
            + "instead of iptables (EnableNFTables).")
    private boolean enableNFTables;

    @Option(names = "--force", description = "Replace an existing, different config.")
    private boolean force;

    @Mixin
    private EtcdFlags etcd;

    @Override
    public Integer call() throws LeaseStoreException, CliException {
      Optional<String> refused = BackendTypes.unsupported(backend);
      if (refused.isPresent()) {
        throw new ParameterException(spec.commandLine(), "unsupported --backend '" + backend + "': " + refused.get());
      }
      if (ipv6Network == null && (ipv6SubnetLen != null || ipv6SubnetMin != null || ipv6SubnetMax != null)) {
        throw new ParameterException(spec.commandLine(),
            "--ipv6-subnet-len, --ipv6-subnet-min and --ipv6-subnet-max need --ipv6-network CIDR");
      }
      boolean hostGw = "host-gw".equalsIgnoreCase(backend);
      if (hostGw && (directRouting || vni != null || port != null)) {
        throw new ParameterException(spec.commandLine(), "--direct-routing, --vni and --port are VXLAN settings; "
            + "host-gw routes every peer directly and has none: drop them or use --backend vxlan");
      }
      String json;
      try {
        // Builds the JSON and validates it with NetworkConfig.parse (flannel's rules and messages).
        json = NetworkConfigJson.build(network, subnetLen, subnetMin, subnetMax, backend, vni, port);
        if (ipv6Network != null) {
          json = NetworkConfigJson.withIpv6(json, ipv6Network, ipv6SubnetLen, ipv6SubnetMin, ipv6SubnetMax);
        }
        if (enableNFTables) {
          json = withNfTables(json);
        }
        if (directRouting) {
          json = withDirectRouting(json);
        }
      } catch (NetworkConfigException e) {
        throw new ParameterException(spec.commandLine(), "invalid network config: " + e.getMessage());
      }
      PrintWriter out = spec.commandLine().getOut();
      try (Store store = Stores.open(etcd)) {
        String key = store.configKey();
        Optional<String> existing = store.rawConfig();
        if (existing.isPresent() && sameJson(existing.get(), json)) {
          out.println(key + " already holds this config; nothing changed");
          out.println(json);
          return 0;
        }
        if (existing.isPresent() && !force) {
          throw new CliException("a different network config already exists at " + key + ": "
              + oneLine(existing.get()) + "; run 'tartan network show' to see it, add --force to replace it");
        }
        store.putConfig(json, force);
        out.println((existing.isPresent() ? "replaced " : "wrote ") + key);
        out.println(json);
        if (existing.isPresent()) {
          out.println("previous: " + oneLine(existing.get()));
        }
      }
      return 0;
    }
  }

  @Command(
      name = "show",
      description = "Print the stored network config and the values derived from it.",
      mixinStandardHelpOptions = true)
  static final class Show implements Callable<Integer>, Cli.QuietLogs {
    @Spec
    private CommandSpec spec;

    @Mixin
    private EtcdFlags etcd;

    @Override
    public Integer call() throws LeaseStoreException, CliException {
      String key;
      String raw;
      try (Store store = Stores.open(etcd)) {
        key = store.configKey();
        raw = store.rawConfig().orElseThrow(() -> new CliException("no network config at " + key
            + "; create one with 'tartan network init --network CIDR'"));
      }
      PrintWriter out = spec.commandLine().getOut();
      out.println(key + ":");
      out.println(raw.strip());
      out.flush();
      NetworkConfig cfg;
      try {
        cfg = NetworkConfig.parse(raw);
      } catch (NetworkConfigException e) {
        throw new CliException("the stored config is invalid: " + e.getMessage());
      }
      long size = 1L << (32 - cfg.subnetLen());
      long count = ((Ipv4Subnet.toInt(cfg.subnetMax()) & 0xffffffffL) - (Ipv4Subnet.toInt(cfg.subnetMin()) & 0xffffffffL)) / size + 1;
      out.println();
      out.printf("Network:    %s%n", cfg.network());
      out.printf("SubnetLen:  %d%n", cfg.subnetLen());
      out.printf("SubnetMin:  %s%n", cfg.subnetMin().getHostAddress());
      out.printf("SubnetMax:  %s%n", cfg.subnetMax().getHostAddress());
      out.printf("Subnets:    %d host subnets of /%d%n", count, cfg.subnetLen());
      out.printf("Backend:    %s%n", describeBackend(cfg));
      out.printf("Firewall:   %s%n", cfg.enableNFTables()
          ? "nftables (EnableNFTables: tables ip flannel-ipv4, ip6 flannel-ipv6)"
          : "iptables (chains FLANNEL-POSTRTG, FLANNEL-FWD)");
      out.print(ipv6Lines(cfg));
      return 0;
    }
  }

  /** The IPv6 half of {@code network show}: the range with flannel's defaults applied; "" without IPv6. */
  static String ipv6Lines(NetworkConfig cfg) {
    if (!cfg.enableIPv6()) {
      return "";
    }
    BigInteger size = BigInteger.ONE.shiftLeft(128 - cfg.ipv6SubnetLen());
    BigInteger count = Ipv6Text.toBigInteger(cfg.ipv6SubnetMax()).subtract(Ipv6Text.toBigInteger(cfg.ipv6SubnetMin()))
        .divide(size).add(BigInteger.ONE);
    return String.format("IPv6Network:    %s%n", cfg.ipv6Network())
        + String.format("IPv6SubnetLen:  %d%n", cfg.ipv6SubnetLen())
        + String.format("IPv6SubnetMin:  %s%n", Ipv6Text.format(cfg.ipv6SubnetMin()))
        + String.format("IPv6SubnetMax:  %s%n", Ipv6Text.format(cfg.ipv6SubnetMax()))
        + String.format("IPv6 subnets:   %s host subnets of /%d%n", count, cfg.ipv6SubnetLen());
  }

  /** {@code json} with {@code "DirectRouting": true} last in {@code Backend}. */
  static String withDirectRouting(String json) {
    try {
      com.fasterxml.jackson.databind.node.ObjectNode root =
          (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(json);
      ((com.fasterxml.jackson.databind.node.ObjectNode) root.get("Backend")).put("DirectRouting", true);
      return JSON.writeValueAsString(root);
    } catch (IOException e) {
      throw new IllegalStateException("not JSON: " + json, e);
    }
  }

  /** {@code json} with {@code "EnableNFTables": true} after {@code Network}'s siblings. */
  static String withNfTables(String json) {
    try {
      com.fasterxml.jackson.databind.node.ObjectNode root =
          (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(json);
      com.fasterxml.jackson.databind.node.ObjectNode out = JSON.createObjectNode();
      root.fields().forEachRemaining(e -> {
        if (e.getKey().equals("Backend")) {
          out.put("EnableNFTables", true);
        }
        out.set(e.getKey(), e.getValue());
      });
      return JSON.writeValueAsString(out);
    } catch (IOException e) {
      throw new IllegalStateException("not JSON: " + json, e);
    }
  }

  /** {@code vxlan (VNI 1, port 8472)}, read case-insensitively like flannel. */
  static String describeBackend(NetworkConfig cfg) {
    JsonNode backend;
    try {
      backend = JSON.readTree(cfg.backendJson());
    } catch (IOException e) {
      return cfg.backendType();
    }
    if ("host-gw".equals(cfg.backendType())) {
      return "host-gw (a route to each peer's subnet via its public IP; all hosts on one L2)";
    }
    if (!"vxlan".equals(cfg.backendType())) {
      return cfg.backendType();
    }
    long vni = field(backend, "VNI").map(JsonNode::asLong).orElse(1L);
    long port = field(backend, "Port").map(JsonNode::asLong).filter(p -> p != 0).orElse(8472L);
    boolean direct = field(backend, "DirectRouting").map(JsonNode::asBoolean).orElse(false);
    return "vxlan (VNI " + vni + ", UDP port " + port + ", device flannel." + vni + ")"
        + (direct ? ", DirectRouting (direct routes to peers on the same L2)" : "");
  }

  static Optional<JsonNode> field(JsonNode obj, String name) {
    var it = obj.fields();
    while (it.hasNext()) {
      var e = it.next();
      if (e.getKey().equalsIgnoreCase(name)) {
        return Optional.of(e.getValue());
      }
    }
    return Optional.empty();
  }

  static boolean sameJson(String a, String b) {
    try {
      return JSON.readTree(a).equals(JSON.readTree(b));
    } catch (IOException e) {
      return false;
    }
  }

  private static String oneLine(String json) {
    try {
      return JSON.writeValueAsString(JSON.readTree(json));
    } catch (IOException e) {
      return json.replaceAll("\\s+", " ").strip();
    }
  }
}
