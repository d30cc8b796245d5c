package dev.tartan.agent.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tartan.agent.backend.BackendConfigException;
import dev.tartan.agent.backend.vxlan.VxlanBackendConfig;
import dev.tartan.agent.doctor.Diagnosis;
import dev.tartan.agent.doctor.Finding;
import dev.tartan.agent.doctor.KernelState;
import dev.tartan.agent.doctor.Report;
import dev.tartan.agent.firewall.Iptables;
import dev.tartan.agent.firewall.Nft;
import dev.tartan.agent.firewall.NftTable;
import dev.tartan.agent.firewall.Rule;
import dev.tartan.agent.firewall.RuleSet;
import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.rtnl.RtNetlinkClient;
import dev.tartan.agent.routing.GraceFile;
import dev.tartan.agent.subnetenv.SubnetEnv;
import dev.tartan.agent.subnetenv.SubnetEnvFile;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.NetworkConfigException;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.Store;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.Inet4Address;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tartan doctor}: compares the leases in etcd with this host's kernel state and files, and
 * prints every discrepancy with its fix (see {@link Diagnosis}). Exit 0 when consistent, 1 when
 * something differs (or cannot be read), 2 for usage errors.
 */
@Command(
    name = "doctor",
    description = {
        "Check this host against the leases in etcd: the VXLAN device, each peer's",
        "neighbour, FDB entry and route (host-gw and DirectRouting: its direct route),",
        "cni0, the subnet file and the masquerade rules",
        "(iptables, or nftables with EnableNFTables);",
        "and the leases themselves (overlapping, out of range, wrong length).",
        "Run it as root on the host, inside its network namespace. Prints each",
        "discrepancy with its fix. Exit code 0 only when everything is consistent."},
    mixinStandardHelpOptions = true,
    sortOptions = false)
public final class DoctorCommand implements Callable<Integer>, Cli.QuietLogs {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  static final List<String> COLUMNS = List.of("CHECK", "WHERE", "PROBLEM", "FIX");
  static final String DEFAULT_SUBNET_FILE = "/run/flannel/subnet.env";

  @Spec
  private CommandSpec spec;

  @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "table",
      description = "table or json (default ${DEFAULT-VALUE}).")
  private LeasesCommand.Format format;

  @Option(names = "--subnet-file", paramLabel = "FILE", defaultValue = DEFAULT_SUBNET_FILE,
      description = "The agent's subnet file (default ${DEFAULT-VALUE}).")
  private Path subnetFile;

  @Option(names = "--public-ip", paramLabel = "IP", converter = Args.Ipv4.class,
      description = "This host's PublicIP in etcd (default: the lease whose PublicIP is an address of this host).")
  private Inet4Address publicIp;

  @Option(names = "--iface", paramLabel = "NAME",
      description = "The interface the agent uses (its address identifies the lease unless --public-ip is given).")
  private String iface;

  @Mixin
  private EtcdFlags etcd;

  @Override
  public Integer call() throws LeaseStoreException, CliException {
    Report report;
    try (Progress progress = Progress.start(spec.commandLine().getErr(),
        "reading the network config and the leases from etcd")) {
      NetworkConfig cfg;
      List<SubnetLease> leases;
      String subnetsPrefix;
      try (Store store = Stores.open(etcd)) {
        String key = store.configKey();
        String raw = store.rawConfig().orElseThrow(() -> new CliException("no network config at " + key
            + "; create one with 'tartan network init --network CIDR'"));
        try {
          cfg = NetworkConfig.parse(raw);
        } catch (NetworkConfigException e) {
          throw new CliException("the network config at " + key + " is invalid: " + e.getMessage()
              + "; fix it with 'tartan network init --force'");
        }
        leases = store.list();
        subnetsPrefix = store.subnetsPrefix();
      }
      String device;
      String device6;
      try {
        device = VxlanBackendConfig.parse(cfg.backendJson()).deviceName();
        device6 = VxlanBackendConfig.parse(cfg.backendJson()).deviceName6();
      } catch (BackendConfigException e) {
        device = VxlanBackendConfig.defaults().deviceName(); // the diagnosis reports the config
        device6 = VxlanBackendConfig.defaults().deviceName6();
      }

      progress.step("reading the kernel state (" + leases.size() + " leases)");
      KernelState kernel;
      try (RtNetlinkClient nl = RtNetlinkClient.open()) {
        kernel = cfg.enableIPv6() ? KernelState.read(nl, device, device6) : KernelState.read(nl, device);
      } catch (NetlinkException e) {
        throw new CliException("cannot read this host's kernel state: " + e.getMessage()
            + " (run 'tartan doctor' as root on the host, inside its network namespace)");
      }

      progress.step("reading " + subnetFile);
      Diagnosis.SubnetFile file = readSubnetFile(subnetFile);

      List<GraceFile.Held> held = readHeld(subnetFile, Clock.systemUTC().instant());

      progress.step("comparing " + leases.size() + " leases with this host");
      report = Diagnosis.examine(new Diagnosis.Inputs(cfg, subnetsPrefix, leases, kernel,
          new Diagnosis.Identity(publicIp, iface), file, new LazyIptables(), Diagnosis.defaultBridge(), held));
    }
    PrintWriter out = spec.commandLine().getOut();
    if (format == LeasesCommand.Format.json) {
      out.println(json(report, Clock.systemUTC().instant()));
    } else {
      out.print(text(report));
    }
    out.flush();
    return report.consistent() ? 0 : Cli.EXIT_FAILURE;
  }

  /** The peers the agent lists as held in grace (beside the subnet file) whose grace has not ended. */
  static List<GraceFile.Held> readHeld(Path subnetFile, Instant now) {
    try {
      return GraceFile.read(GraceFile.beside(subnetFile)).stream().filter(h -> h.until().isAfter(now)).toList();
    } catch (IOException e) {
      return List.of(); // unreadable: their entries show up as stale, which is what they would be
    }
  }

  static Diagnosis.SubnetFile readSubnetFile(Path path) {
    try {
      Optional<SubnetEnv> env = SubnetEnvFile.read(path);
      return env.map(e -> new Diagnosis.SubnetFile(path, e, null)).orElseGet(() -> Diagnosis.SubnetFile.missing(path));
    } catch (IOException e) {
      return new Diagnosis.SubnetFile(path, null, e.toString());
    } catch (IllegalArgumentException e) {
      return new Diagnosis.SubnetFile(path, null, e.getMessage());
    }
  }

  /** iptables-save and nft are looked up only when the masquerade rules are checked. */
  private static final class LazyIptables implements Diagnosis.MasqProbe {
    private Iptables iptables;
    private Iptables ip6tables;
    private Nft nft;

    @Override
    public Optional<NftTable> nftTable(String family, String name) throws dev.tartan.agent.firewall.IptablesException {
      if (nft == null) {
        nft = Nft.locate();
      }
      return nft.list(family, name);
    }

    @Override
    public List<Rule> missing(RuleSet set) throws dev.tartan.agent.firewall.IptablesException {
      if (iptables == null) {
        iptables = Iptables.locate();
      }
      return iptables.missing(set);
    }

    @Override
    public List<Rule> missing6(RuleSet set) throws dev.tartan.agent.firewall.IptablesException {
      if (ip6tables == null) {
        ip6tables = Iptables.locate6(List.of());
      }
      return ip6tables.missing(set);
    }
  }

  // ---------------------------------------------------------------- rendering (pure)

  /** A summary line, then the findings as a table (or "consistent"), then how repairs happen. */
  static String text(Report r) {
    StringBuilder sb = new StringBuilder();
    sb.append(summary(r)).append('\n');
    if (!r.held().isEmpty()) {
      sb.append(r.held().size()).append(r.held().size() == 1 ? " peer" : " peers")
          .append(" held in grace (lease expired; kept programmed until renewed, leased again or the grace ends):");
      int shown = 0;
      for (GraceFile.Held h : r.held()) {
        if (shown++ == 10) {
          sb.append(" and ").append(r.held().size() - 10).append(" more");
          break;
        }
        sb.append(shown == 1 ? " " : ", ").append(h.subnet()).append(" (").append(h.publicIp().getHostAddress())
            .append(") until ").append(h.until());
      }
      sb.append('\n');
    }
    if (r.consistent()) {
      sb.append("consistent: no discrepancies\n");
      return sb.toString();
    }
    List<List<String>> rows = new ArrayList<>();
    rows.add(COLUMNS);
    for (Finding f : r.findings()) {
      rows.add(List.of(f.check(), f.where(), f.problem(), f.fix()));
    }
    int[] width = new int[COLUMNS.size()];
    for (List<String> row : rows) {
      for (int i = 0; i < row.size(); i++) {
        width[i] = Math.max(width[i], row.get(i).length());
      }
    }
    for (List<String> row : rows) {
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < row.size(); i++) {
        line.append(row.get(i));
        if (i < row.size() - 1) {
          line.append(" ".repeat(width[i] - row.get(i).length() + 2));
        }
      }
      sb.append(line.toString().stripTrailing()).append('\n');
    }
    int n = r.findings().size();
    sb.append(n).append(n == 1 ? " discrepancy" : " discrepancies")
        .append(". A running agent repairs kernel entries within its resync interval;")
        .append(" '").append("systemctl restart tartan").append("' re-applies everything.\n");
    return sb.toString();
  }

  static String summary(Report r) {
    Report.Host h = r.host();
    if (h == null) {
      return "host: not identified; " + r.leases() + " leases in etcd";
    }
    return "host " + h.publicIp().getHostAddress() + (h.iface() == null ? "" : " (" + h.iface() + ")")
        + ": lease " + h.lease().subnet() + ", device " + h.device() + "; " + r.leases() + " leases in etcd, "
        + r.peers() + " peers checked";
  }

  /**
   * {@code {"consistent": bool, "host": {publicIp, iface, subnet, device, leaseTtlSeconds} | null,
   * "leases": n, "peers": n, "findings": [{check, where, problem, fix}]}}.
   */
  static String json(Report r, Instant now) {
    ObjectNode root = JSON.createObjectNode();
    root.put("consistent", r.consistent());
    ArrayNode held = root.putArray("peersInGrace");
    for (GraceFile.Held h : r.held()) {
      held.addObject().put("subnet", h.subnet().toString()).put("publicIp", h.publicIp().getHostAddress())
          .put("until", h.until().toString());
    }
    Report.Host h = r.host();
    if (h == null) {
      root.putNull("host");
    } else {
      ObjectNode host = root.putObject("host");
      host.put("publicIp", h.publicIp().getHostAddress());
      host.put("iface", h.iface());
      host.put("subnet", h.lease().subnet().toString());
      host.put("device", h.device());
      if (h.lease().reserved() || h.lease().expiresAt() == null) {
        host.putNull("leaseTtlSeconds");
      } else {
        host.put("leaseTtlSeconds", LeasesCommand.ttlLeft(h.lease(), now).toSeconds());
      }
    }
    root.put("leases", r.leases());
    root.put("peers", r.peers());
    ArrayNode findings = root.putArray("findings");
    for (Finding f : r.findings()) {
      ObjectNode o = findings.addObject();
      o.put("check", f.check());
      o.put("where", f.where());
      o.put("problem", f.problem());
      o.put("fix", f.fix());
    }
    try {
      return JSON.writeValueAsString(root);
    } catch (JsonProcessingException e) {
      throw new AssertionError(e);
    }
  }
}
