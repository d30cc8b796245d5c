package dev.tartan.cni;

import dev.tartan.cni.delegate.Cidr;
import dev.tartan.cni.delegate.SubnetEnv;
import dev.tartan.cni.json.Json;
import dev.tartan.cni.json.JsonException;
import dev.tartan.cni.json.JsonStruct;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The netavark plugin {@code tartan} (netavark's plugin-API.md, API 1.0.0): podman 5 networks through the
 * same {@code cni0} bridge and the same host-local allocations as the CNI plugin.
 *
 * <ul>
 *   <li>{@code create}: fills podman's network from the host's subnet.env (subnet, gateway {@code .1} on
 *       {@code cni0}, MTU) and sets the IPAM driver to {@code none}, so podman hands out no addresses itself.
 *   <li>{@code setup <netns>}: the CNI plugin's ADD, in-process, with the CNI network name and dataDir of the
 *       installed conflist: bridge {@code cni0} + host-local over the subnet in the CURRENT subnet.env. So both
 *       paths share one allocator, and a host whose subnet changed since {@code create} never hands out an
 *       address outside its current subnet. Answers netavark's status block.
 *   <li>{@code teardown <netns>}: the CNI plugin's DEL (veth and allocation released; a failed setup has
 *       already been undone by ADD itself).
 *   <li>{@code info}: plugin and API version.
 * </ul>
 *
 * Errors are printed as {@code {"error": "..."}} on stdout, exit status 1. Environment (for tests and
 * unusual layouts): {@code TARTAN_SUBNET_FILE}, {@code TARTAN_CNI_DATA_DIR}, {@code TARTAN_CNI_PATH} (default
 * {@code /usr/lib/cni:/opt/cni/bin}), {@code TARTAN_CNI_NETWORK} (the conflist's network name, default
 * {@code tartan}).
 */
public final class NetavarkPlugin {
  static final String API_VERSION = "1.0.0";
  static final String DEFAULT_CNI_PATH = "/usr/lib/cni:/opt/cni/bin";
  static final String DEFAULT_CNI_NETWORK = "tartan";
  static final String BRIDGE = "cni0";
  private static final int MAX_STDIN = Json.MAX_LENGTH;

  private final Function<String, String> getenv;
  private final String[] args;
  private final InputStream in;
  private final PrintStream out;
  private final PrintStream err;

  public NetavarkPlugin(Function<String, String> getenv, String[] args, InputStream in, PrintStream out,
      PrintStream err) {
    this.getenv = getenv;
    this.args = args.clone();
    this.in = in;
    this.out = out;
    this.err = err;
  }

  /** A failure reported to netavark as {@code {"error": message}}. */
  static final class PluginError extends Exception {
    private static final long serialVersionUID = 1L;

    PluginError(String message) {
      super(message);
    }
  }

  /** Runs one call; returns the exit status (0 success, 1 error JSON printed). */
  public int run() {
    try {
      String result = dispatch();
      if (result != null) {
        write(result);
      }
      return 0;
    } catch (PluginError e) {
      write(errorJson(e.getMessage()));
      return 1;
    } catch (RuntimeException e) {
      err.println("tartan: internal error: " + e);
      e.printStackTrace(err);
      write(errorJson("internal error in the tartan netavark plugin: " + e));
      return 1;
    }
  }

  static String errorJson(String message) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("error", "tartan: " + message);
    return Json.write(m) + "\n";
  }

  private void write(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.write(b, 0, b.length);
    out.flush();
  }

  private String dispatch() throws PluginError {
    String usage = "usage: tartan info | create | setup NETNS | teardown NETNS (JSON on stdin; netavark calls this)";
    if (args.length == 0) {
      throw new PluginError("no subcommand; " + usage);
    }
    switch (args[0]) {
      case "info":
        return info();
      case "create":
        requireArgs(1, usage);
        return create(readObject("network config"));
      case "setup":
        requireArgs(2, usage);
        return setup(args[1], readObject("setup input"));
      case "teardown":
        requireArgs(2, usage);
        teardown(args[1], readObject("teardown input"));
        return null;
      default:
        throw new PluginError("unknown subcommand \"" + args[0] + "\"; " + usage);
    }
  }

  private void requireArgs(int n, String usage) throws PluginError {
    if (args.length != n) {
      throw new PluginError(args[0] + " takes " + (n - 1) + " argument(s), got " + (args.length - 1) + "; " + usage);
    }
  }

  private String env(String name, String dflt) {
    String v = getenv.apply(name);
    return v == null || v.isEmpty() ? dflt : v;
  }

  private Path subnetFile() {
    return Path.of(env("TARTAN_SUBNET_FILE", NetConf.DEFAULT_SUBNET_FILE));
  }

  // ---------------------------------------------------------------- info

  private static String info() {
    Map<String, Object> m = new LinkedHashMap<>();
    String v = NetavarkPlugin.class.getPackage().getImplementationVersion();
    m.put("version", v == null ? "0.0.0-dev" : v);
    m.put("api_version", API_VERSION);
    m.put("description", "Tartan: flannel-compatible VXLAN overlay; bridge cni0 + host-local from subnet.env");
    return Json.writeIndented(m) + "\n";
  }

  // ---------------------------------------------------------------- create

  private String create(Map<String, Object> net) throws PluginError {
    for (String key : new String[] {"name", "id", "driver"}) {
      if (!(net.get(key) instanceof String)) {
        throw new PluginError("network config field '" + key + "' must be a string");
      }
    }
    Object options = net.get("options");
    if (options != null && !(options instanceof Map)) {
      throw new PluginError("network config field 'options' must be an object");
    }
    if (options != null && !((Map<?, ?>) options).isEmpty()) {
      throw new PluginError("unknown option(s) " + ((Map<?, ?>) options).keySet() + ": a tartan network takes no"
          + " options (subnet, gateway and MTU come from " + subnetFile() + "); create it without -o/--opt");
    }
    if (Boolean.TRUE.equals(net.get("internal"))) {
      throw new PluginError("internal networks are not supported: a tartan network reaches every host of the"
          + " overlay; create it without --internal");
    }
    Object ipam = net.get("ipam_options");
    Object ipamDriver = ipam instanceof Map ? ((Map<?, ?>) ipam).get("driver") : null;
    if (ipamDriver != null && !"".equals(ipamDriver) && !"none".equals(ipamDriver)) {
      throw new PluginError("IPAM driver \"" + ipamDriver + "\" is not supported: tartan allocates addresses"
          + " from the host's subnet itself; create the network without --ipam-driver");
    }
    SubnetEnv subnetEnv = loadSubnetEnv();
    List<Object> subnets = new ArrayList<>();
    List<String> ours = new ArrayList<>();
    for (Cidr c : hostSubnets(subnetEnv)) {
      JsonStruct s = new JsonStruct();
      s.put("subnet", c.toString());
      s.put("gateway", gateway(c));
      subnets.add(s);
      ours.add(c.toString());
    }
    Object given = net.get("subnets");
    if (given != null) {
      if (!(given instanceof List)) {
        throw new PluginError("network config field 'subnets' must be an array");
      }
      for (Object s : (List<?>) given) {
        Object subnet = s instanceof Map ? ((Map<?, ?>) s).get("subnet") : null;
        String text;
        try {
          text = subnet instanceof String ? Cidr.parse((String) subnet).toString() : null;
        } catch (IllegalArgumentException e) {
          text = null;
        }
        if (text == null || !ours.contains(text)) {
          throw new PluginError("subnet " + subnet + " does not match this host's subnet " + String.join(", ", ours)
              + " (from " + subnetFile() + "); create the network without --subnet, the subnet comes from the"
              + " agent's lease");
        }
      }
    }
    Map<String, Object> result = new LinkedHashMap<>(net);
    result.put("network_interface", BRIDGE);
    result.put("subnets", subnets);
    result.put("ipv6_enabled", subnetEnv.ipv6Subnet() != null);
    result.put("internal", Boolean.FALSE);
    result.put("dns_enabled", Boolean.FALSE);
    Map<String, Object> ipamOut = new LinkedHashMap<>();
    ipamOut.put("driver", "none");
    result.put("ipam_options", ipamOut);
    Map<String, Object> opts = new LinkedHashMap<>();
    opts.put("mtu", Long.toString(subnetEnv.mtu()));
    result.put("options", opts);
    return Json.writeIndented(result) + "\n";
  }

  private static List<Cidr> hostSubnets(SubnetEnv env) {
    List<Cidr> out = new ArrayList<>();
    if (env.subnet() != null) {
      out.add(env.subnet());
    }
    if (env.ipv6Subnet() != null) {
      out.add(env.ipv6Subnet());
    }
    return out;
  }

  /** The first address of the subnet: the bridge's gateway address, as host-local picks it. */
  static String gateway(Cidr subnet) {
    byte[] ip = Cidr.parseIp(subnet.address());
    for (int i = ip.length - 1; i >= 0; i--) {
      ip[i]++;
      if (ip[i] != 0) {
        break;
      }
    }
    return Cidr.format(ip);
  }

  private SubnetEnv loadSubnetEnv() throws PluginError {
    try {
      return SubnetEnv.load(subnetFile());
    } catch (CniException e) {
      throw new PluginError(e.getMessage());
    }
  }

  // ---------------------------------------------------------------- setup / teardown

  /** The parts of netavark's NetworkPluginExec this plugin uses. */
  private record Exec(String containerId, String containerName, String ifname) {}

  private Exec exec(Map<String, Object> in, boolean setup) throws PluginError {
    Object id = in.get("container_id");
    if (!(id instanceof String) || ((String) id).isEmpty()) {
      throw new PluginError("input field 'container_id' must be a non-empty string");
    }
    if (!(in.get("network") instanceof Map)) {
      throw new PluginError("input field 'network' must be an object");
    }
    Object netOpts = in.get("network_options");
    if (!(netOpts instanceof Map)) {
      throw new PluginError("input field 'network_options' must be an object");
    }
    Map<?, ?> opts = (Map<?, ?>) netOpts;
    Object ifname = opts.get("interface_name");
    if (!(ifname instanceof String) || ((String) ifname).isEmpty()) {
      throw new PluginError("input field 'network_options.interface_name' must be a non-empty string");
    }
    if (setup) {
      Map<?, ?> network = (Map<?, ?>) in.get("network");
      Object options = network.get("options");
      if (options instanceof Map) {
        for (Object key : ((Map<?, ?>) options).keySet()) {
          if (!"mtu".equals(key)) {
            throw new PluginError("unknown network option \"" + key + "\" in network " + network.get("name")
                + ": a tartan network takes none; re-create it with podman network create -d tartan NAME");
          }
        }
      }
      if (nonEmptyList(opts.get("static_ips"))) {
        throw new PluginError("static IPs " + opts.get("static_ips") + " are not supported: the address comes from"
            + " the host's subnet; run the container without --ip (or re-create the network with"
            + " podman network create -d tartan NAME, which sets the IPAM driver to none)");
      }
      if (opts.get("static_mac") instanceof String && !((String) opts.get("static_mac")).isEmpty()) {
        throw new PluginError("a static MAC address is not supported on a tartan network; run the container"
            + " without --mac-address");
      }
      if (nonEmptyList(in.get("port_mappings"))) {
        throw new PluginError("port mappings are not supported on a tartan network; run the container without"
            + " -p/--publish (containers are reachable at their own address from every host of the overlay)");
      }
    }
    Object name = in.get("container_name");
    return new Exec((String) id, name instanceof String ? (String) name : "", (String) ifname);
  }

  private static boolean nonEmptyList(Object o) {
    return o instanceof List && !((List<?>) o).isEmpty();
  }

  private String setup(String netns, Map<String, Object> input) throws PluginError {
    Exec e = exec(input, true);
    Map<String, Object> result = cni("ADD", e, netns);
    return statusBlock(result, e.ifname());
  }

  private void teardown(String netns, Map<String, Object> input) throws PluginError {
    Exec e = exec(input, false);
    cni("DEL", e, netns);
  }

  /**
   * One CNI call of the Tartan CNI plugin, in-process, with the conflist's network name and defaults: the
   * allocations land where the CNI path puts them.
   */
  private Map<String, Object> cni(String command, Exec e, String netns) throws PluginError {
    Map<String, Object> conf = new LinkedHashMap<>();
    conf.put("cniVersion", "1.0.0");
    conf.put("name", env("TARTAN_CNI_NETWORK", DEFAULT_CNI_NETWORK));
    conf.put("type", "tartan");
    conf.put("subnetFile", subnetFile().toString());
    conf.put("dataDir", env("TARTAN_CNI_DATA_DIR", NetConf.DEFAULT_DATA_DIR));
    Map<String, Object> delegate = new LinkedHashMap<>();
    delegate.put("bridge", BRIDGE);
    delegate.put("hairpinMode", Boolean.TRUE);
    delegate.put("isDefaultGateway", Boolean.TRUE);
    conf.put("delegate", delegate);
    Map<String, String> cniEnv = new HashMap<>();
    cniEnv.put("CNI_COMMAND", command);
    cniEnv.put("CNI_CONTAINERID", e.containerId());
    cniEnv.put("CNI_NETNS", netns);
    cniEnv.put("CNI_IFNAME", e.ifname());
    cniEnv.put("CNI_PATH", env("TARTAN_CNI_PATH", DEFAULT_CNI_PATH));
    if (!e.containerName().isEmpty() && Names.validId(e.containerName())) {
      cniEnv.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=" + e.containerName());
    }
    ByteArrayOutputStream cniOut = new ByteArrayOutputStream();
    int status = new CniPlugin(cniEnv::get, new ByteArrayInputStream(Json.write(conf).getBytes(StandardCharsets.UTF_8)),
        new PrintStream(cniOut, true, StandardCharsets.UTF_8), err).run();
    String text = cniOut.toString(StandardCharsets.UTF_8).strip();
    Map<String, Object> json = Map.of();
    if (!text.isEmpty()) {
      try {
        json = Json.parseObject(text);
      } catch (JsonException ex) {
        throw new PluginError(command + " printed unusable output: " + ex.getMessage());
      }
    }
    if (status != 0) {
      Object msg = json.get("msg");
      Object details = json.get("details");
      throw new PluginError((command.equals("ADD") ? "setup" : "teardown") + " of container " + e.containerId()
          + " failed: " + msg + (details instanceof String && !((String) details).isEmpty() ? " (" + details + ")" : ""));
    }
    return json;
  }

  /** netavark's StatusBlock for the container interface, from the CNI 1.0.0 result. */
  private static String statusBlock(Map<String, Object> result, String ifname) throws PluginError {
    Object ifaces = result.get("interfaces");
    Object ips = result.get("ips");
    if (!(ifaces instanceof List) || !(ips instanceof List)) {
      throw new PluginError("the CNI result has no interfaces or ips: " + Json.write(result));
    }
    List<?> ifList = (List<?>) ifaces;
    int index = -1;
    String mac = "";
    for (int i = 0; i < ifList.size(); i++) {
      Object o = ifList.get(i);
      if (o instanceof Map && ifname.equals(((Map<?, ?>) o).get("name")) && ((Map<?, ?>) o).get("sandbox") != null) {
        index = i;
        Object m = ((Map<?, ?>) o).get("mac");
        mac = m instanceof String ? (String) m : "";
      }
    }
    List<Object> subnets = new ArrayList<>();
    for (Object o : (List<?>) ips) {
      if (!(o instanceof Map)) {
        continue;
      }
      Map<?, ?> ip = (Map<?, ?>) o;
      Object iface = ip.get("interface");
      if (iface instanceof Long && ((Long) iface).intValue() != index) {
        continue;
      }
      JsonStruct s = new JsonStruct();
      s.put("ipnet", ip.get("address"));
      if (ip.get("gateway") != null) {
        s.put("gateway", ip.get("gateway"));
      }
      subnets.add(s);
    }
    if (subnets.isEmpty()) {
      throw new PluginError("the CNI result gives interface " + ifname + " no address: " + Json.write(result));
    }
    JsonStruct iface = new JsonStruct();
    iface.put("mac_address", mac);
    iface.put("subnets", subnets);
    Map<String, Object> interfaces = new LinkedHashMap<>();
    interfaces.put(ifname, iface);
    JsonStruct block = new JsonStruct();
    block.put("dns_search_domains", List.of());
    block.put("dns_server_ips", List.of());
    block.put("interfaces", interfaces);
    return Json.writeIndented(block) + "\n";
  }

  private Map<String, Object> readObject(String what) throws PluginError {
    byte[] stdin;
    try {
      stdin = in.readNBytes(MAX_STDIN + 1);
    } catch (IOException e) {
      throw new PluginError("error reading the " + what + " from stdin: " + e.getMessage());
    }
    if (stdin.length > MAX_STDIN) {
      throw new PluginError("the " + what + " on stdin is larger than " + MAX_STDIN + " bytes");
    }
    try {
      return Json.parseObject(new String(stdin, StandardCharsets.UTF_8));
    } catch (JsonException e) {
      throw new PluginError("the " + what + " on stdin is not valid JSON: " + e.getMessage()
          + " (netavark pipes it; to call the plugin by hand, pass a JSON object on stdin)");
    }
  }
}
