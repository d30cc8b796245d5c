package dev.tartan.agent.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Text;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.alloc.SubnetKeys;
import dev.tartan.store.Store;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.Inet4Address;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code tartan leases list|reserve|release}: the host subnets under {@code <prefix>/subnets/}. */
@Command(
    name = "leases",
    description = "List, reserve and release host subnets (<prefix>/subnets/).",
    mixinStandardHelpOptions = true,
    synopsisSubcommandLabel = "COMMAND",
    subcommands = {LeasesCommand.ListLeases.class, LeasesCommand.Reserve.class, LeasesCommand.Release.class})
public final class LeasesCommand implements Runnable {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** Table columns, in order. */
  static final List<String> COLUMNS = List.of("SUBNET", "PUBLIC-IP", "BACKEND", "VTEP-MAC", "TTL-LEFT", "RESERVED");
  /** The columns when any lease is dual stack: its IPv6 subnet and PublicIPv6 beside the IPv4 ones. */
  static final List<String> DUAL_COLUMNS = List.of("SUBNET", "IPV6-SUBNET", "PUBLIC-IP", "PUBLIC-IPV6", "BACKEND",
      "VTEP-MAC", "TTL-LEFT", "RESERVED");

  @Spec
  private CommandSpec spec;

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "missing command: list, reserve or release");
  }

  enum Format { table, json }

  @Command(
      name = "list",
      description = "List every lease: subnet, public IP (and for dual stack the IPv6 subnet and public IPv6), "
          + "backend, VTEP MAC, time left, reserved.",
      mixinStandardHelpOptions = true)
  static final class ListLeases implements Callable<Integer>, Cli.QuietLogs {
    @Spec
    private CommandSpec spec;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "table",
        description = "table or json (default ${DEFAULT-VALUE}).")
    private Format format;

    @Mixin
    private EtcdFlags etcd;

    @Override
    public Integer call() throws LeaseStoreException {
      List<SubnetLease> leases;
      try (Progress progress = Progress.start(spec.commandLine().getErr(), "reading the leases and their TTLs from etcd");
          Store store = Stores.open(etcd)) {
        leases = store.list();
      }
      PrintWriter out = spec.commandLine().getOut();
      Instant now = Clock.systemUTC().instant();
      if (format == Format.json) {
        out.println(json(leases, now));
      } else {
        out.print(table(leases, now));
      }
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "reserve",
      description = {
          "Pin SUBNET to the host with public IP IP: a lease without TTL that never expires.",
          "When that host starts it keeps the subnet; no other host will take it."},
      mixinStandardHelpOptions = true)
  static final class Reserve implements Callable<Integer>, Cli.QuietLogs {
    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SUBNET", converter = Args.Subnet.class,
        description = "The subnet, e.g. 10.244.7.0/24.")
    private Ipv4Subnet subnet;

    @Option(names = "--public-ip", required = true, paramLabel = "IP", converter = Args.Ipv4.class,
        description = "The underlay address of the host that owns the subnet.")
    private Inet4Address publicIp;

    @Mixin
    private EtcdFlags etcd;

    @Override
    public Integer call() throws LeaseStoreException {
      SubnetLease lease;
      String key;
      try (Store store = Stores.open(etcd)) {
        lease = store.reserve(subnet, publicIp);
        key = store.subnetsPrefix() + SubnetKeys.format(lease.subnet(), lease.ipv6Subnet());
      }
      spec.commandLine().getOut().println("reserved " + lease.subnet() + " for "
          + lease.attrs().publicIp().getHostAddress() + " (" + key + ", no TTL)");
      return 0;
    }
  }

  @Command(
      name = "release",
      description = {
          "Delete the lease or reservation of SUBNET.",
          "A running agent that holds it loses its lease; releasing a subnet that is not leased is not an error."},
      mixinStandardHelpOptions = true)
  static final class Release implements Callable<Integer>, Cli.QuietLogs {
    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SUBNET", converter = Args.Subnet.class,
        description = "The subnet, e.g. 10.244.7.0/24.")
    private Ipv4Subnet subnet;

    @Mixin
    private EtcdFlags etcd;

    @Override
    public Integer call() throws LeaseStoreException {
      boolean deleted;
      try (Store store = Stores.open(etcd)) {
        deleted = store.releaseSubnet(subnet);
      }
      spec.commandLine().getOut().println(deleted
          ? "released " + subnet
          : "nothing to release: " + subnet + " is not leased");
      return 0;
    }
  }

  // ---------------------------------------------------------------- rendering (pure)

  /**
   * Columns separated by two spaces, padded to the widest cell, one lease per line; with
   * {@link #DUAL_COLUMNS} when any lease has an IPv6 subnet or PublicIPv6.
   */
  static String table(List<SubnetLease> leases, Instant now) {
    boolean dual = leases.stream().anyMatch(l -> l.ipv6Subnet() != null || l.attrs().publicIpv6() != null);
    List<String> columns = dual ? DUAL_COLUMNS : COLUMNS;
    List<List<String>> rows = new ArrayList<>();
    rows.add(columns);
    for (SubnetLease l : leases) {
      List<String> row = new ArrayList<>(columns.size());
      row.add(l.subnet().toString());
      if (dual) {
        row.add(l.ipv6Subnet() == null ? "-" : l.ipv6Subnet().toString());
      }
      row.add(l.attrs().publicIp().getHostAddress());
      if (dual) {
        row.add(l.attrs().publicIpv6() == null ? "-" : Ipv6Text.format(l.attrs().publicIpv6()));
      }
      row.add(orDash(l.attrs().backendType()));
      row.add(orDash(vtepMac(l)));
      row.add(l.reserved() ? "-" : formatTtl(ttlLeft(l, now)));
      row.add(l.reserved() ? "yes" : "no");
      rows.add(row);
    }
    int[] width = new int[columns.size()];
    for (List<String> row : rows) {
      for (int i = 0; i < row.size(); i++) {
        width[i] = Math.max(width[i], row.get(i).length());
      }
    }
    StringBuilder sb = new StringBuilder();
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
    return sb.toString();
  }

  /**
   * A JSON array with one object per lease: {@code subnet}, {@code ipv6Subnet} and
   * {@code publicIpv6} (null when absent), {@code publicIp}, {@code backend}, {@code vtepMac} (null when
   * absent), {@code ttlLeftSeconds} (null for a reservation), {@code reserved}.
   */
  static String json(List<SubnetLease> leases, Instant now) {
    ArrayNode array = JSON.createArrayNode();
    for (SubnetLease l : leases) {
      ObjectNode o = array.addObject();
      o.put("subnet", l.subnet().toString());
      o.put("ipv6Subnet", l.ipv6Subnet() == null ? null : l.ipv6Subnet().toString());
      o.put("publicIp", l.attrs().publicIp().getHostAddress());
      o.put("publicIpv6", l.attrs().publicIpv6() == null ? null : Ipv6Text.format(l.attrs().publicIpv6()));
      o.put("backend", l.attrs().backendType());
      o.put("vtepMac", vtepMac(l));
      if (l.reserved()) {
        o.putNull("ttlLeftSeconds");
      } else {
        o.put("ttlLeftSeconds", ttlLeft(l, now).toSeconds());
      }
      o.put("reserved", l.reserved());
    }
    try {
      return JSON.writeValueAsString(array);
    } catch (JsonProcessingException e) {
      throw new AssertionError(e);
    }
  }

  static Duration ttlLeft(SubnetLease l, Instant now) {
    if (l.expiresAt() == null) {
      return Duration.ZERO;
    }
    Duration d = Duration.between(now, l.expiresAt());
    return d.isNegative() ? Duration.ZERO : d;
  }

  /** {@code 23h59m}, {@code 4m05s}, {@code 12s}. */
  static String formatTtl(Duration d) {
    long s = d.toSeconds();
    if (s >= 3600) {
      return String.format("%dh%02dm", s / 3600, (s % 3600) / 60);
    }
    if (s >= 60) {
      return String.format("%dm%02ds", s / 60, s % 60);
    }
    return s + "s";
  }

  /** {@code BackendData.VtepMAC} (key matched case-insensitively, as flannel's readers do), or null. */
  static String vtepMac(SubnetLease l) {
    String data = l.attrs().backendDataJson();
    if (data == null) {
      return null;
    }
    try {
      JsonNode node = JSON.readTree(data);
      return NetworkCommand.field(node, "VtepMAC").filter(JsonNode::isTextual).map(JsonNode::asText).orElse(null);
    } catch (IOException e) {
      return null;
    }
  }

  private static String orDash(String s) {
    return s == null || s.isEmpty() ? "-" : s;
  }
}
