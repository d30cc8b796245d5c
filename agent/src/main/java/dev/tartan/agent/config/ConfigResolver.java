package dev.tartan.agent.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.etcd.EtcdOptions;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Turns flags, env, the config file and reference.conf into one checked {@link AgentConfig}. */
final class ConfigResolver {
  private static final Logger log = LoggerFactory.getLogger(ConfigResolver.class);
  private static final String BLOCK = "agent";

  /** One raw value: a String or a List of String, and where it came from (for messages). */
  private record Raw(Object value, String source) {}

  private final AgentOptions flags;
  private final Map<String, String> env;

  ConfigResolver(AgentOptions flags, Map<String, String> env) {
    this.flags = flags;
    this.env = env;
  }

  AgentConfig resolve() throws AgentConfigException {
    Map<Setting, Raw> raw = new EnumMap<>(Setting.class);
    defaults().forEach(raw::put);
    Path configFile = configFile();
    if (configFile != null) {
      fromFile(configFile).forEach(raw::put);
    }
    fromEnv().forEach(raw::put);
    flags.given().forEach((s, v) -> raw.put(s, new Raw(v, "flag " + s.flag())));
    return build(raw, configFile);
  }

  // ---- sources

  private Path configFile() throws AgentConfigException {
    String value;
    String source;
    if (flags.config() != null) {
      value = flags.config();
      source = "flag --config";
    } else if (!env.getOrDefault(Setting.CONFIG_ENV, "").isEmpty()) {
      value = env.get(Setting.CONFIG_ENV);
      source = "env " + Setting.CONFIG_ENV;
    } else {
      return null;
    }
    if (value.isEmpty()) {
      return null;
    }
    Path p = path("config", value, source);
    if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
      throw new AgentConfigException("config file " + p + " does not exist or is not readable (from "
          + source + "): create it or fix the path");
    }
    return p;
  }

  private static Map<Setting, Raw> defaults() throws AgentConfigException {
    Config ref = ConfigFactory.defaultReference();
    if (!ref.hasPath(BLOCK)) {
      throw new IllegalStateException("reference.conf has no agent { } block");
    }
    return fromBlock(ref.getObject(BLOCK), "default in reference.conf");
  }

  private static Map<Setting, Raw> fromFile(Path file) throws AgentConfigException {
    Config parsed;
    try {
      parsed = ConfigFactory.parseFile(file.toFile(),
          ConfigParseOptions.defaults().setAllowMissing(false)).resolve();
    } catch (ConfigException e) {
      throw new AgentConfigException("cannot read config file " + file + ": "
          + oneLine(e.getMessage()));
    } catch (StackOverflowError e) {
      // the HOCON parser recurses once per nested { or [ (found by ConfigFileFuzzTest)
      throw new AgentConfigException("cannot read config file " + file + ": blocks or lists nest "
          + "too deeply; the settings go in one flat agent { } block");
    }
    for (Map.Entry<String, ConfigValue> e : parsed.root().entrySet()) {
      if (!e.getKey().equals(BLOCK)) {
        String hint = Setting.byKey(e.getKey()).isPresent()
            ? " (settings go inside an agent { } block)" : "";
        throw new AgentConfigException("unknown key '" + e.getKey() + "' in " + where(e.getValue())
            + ": the file may only hold an agent { } block" + hint);
      }
    }
    if (!parsed.root().containsKey(BLOCK)) {
      log.warn("config file {} has no agent {{ }} block: nothing in it is used", file);
      return Map.of();
    }
    ConfigValue block = parsed.root().get(BLOCK);
    if (block.valueType() != ConfigValueType.OBJECT) {
      throw new AgentConfigException("agent in " + where(block) + " must be a block: agent { ... }");
    }
    return fromBlock((ConfigObject) block, null);
  }

  /** Reads an {@code agent { }} block; {@code source} null means "name the file and line". */
  private static Map<Setting, Raw> fromBlock(ConfigObject block, String source)
      throws AgentConfigException {
    Map<Setting, Raw> out = new EnumMap<>(Setting.class);
    for (Map.Entry<String, ConfigValue> e : block.entrySet()) {
      String key = e.getKey();
      ConfigValue v = e.getValue();
      String src = source != null ? source : "key " + BLOCK + "." + key + " in " + where(v);
      Optional<Setting> setting = Setting.byKey(key);
      if (setting.isEmpty()) {
        throw new AgentConfigException("unknown key '" + BLOCK + "." + key + "' in " + where(v)
            + suggestion(key, Arrays.stream(Setting.values()).map(s -> s.key).toList(), "")
            + "; see reference.conf or tartan agent --help for the settings");
      }
      Setting s = setting.get();
      switch (v.valueType()) {
        case NULL:
          break;
        case OBJECT:
          throw new AgentConfigException(s.key + " must be a value, not a block (from " + src + ")");
        case LIST:
          if (s.kind == Setting.Kind.STRING) {
            throw new AgentConfigException(s.key + " takes one value, not a list (from " + src + ")");
          }
          List<String> items = new ArrayList<>();
          for (Object o : (List<?>) v.unwrapped()) {
            if (o == null || o instanceof Map || o instanceof List) {
              throw new AgentConfigException(
                  s.key + " must be a list of plain values (from " + src + ")");
            }
            items.add(o.toString());
          }
          out.put(s, new Raw(items, src));
          break;
        default:
          Object scalar = v.unwrapped().toString();
          if (s.kind == Setting.Kind.LIST) {
            scalar = ((String) scalar).isEmpty() ? List.of() : List.of(scalar);
          }
          out.put(s, new Raw(scalar, src));
      }
    }
    return out;
  }

  private Map<Setting, Raw> fromEnv() throws AgentConfigException {
    Map<Setting, Raw> out = new EnumMap<>(Setting.class);
    for (Map.Entry<String, String> e : new TreeMap<>(env).entrySet()) {
      String name = e.getKey();
      String value = e.getValue();
      if (!name.startsWith(Setting.ENV_PREFIX) || value == null || value.isEmpty()
          || name.equals(Setting.CONFIG_ENV)) {
        continue;
      }
      Optional<Setting> s = Setting.byEnv(name);
      if (s.isPresent()) {
        Object v = s.get().kind == Setting.Kind.LIST ? List.of(value) : value;
        out.put(s.get(), new Raw(v, "env " + name));
      } else if (Setting.FLANNEL_ONLY_ENV.contains(name)) {
        log.warn("ignoring {}: flanneld's setting has no meaning for tartan", name);
      } else {
        List<String> known = new ArrayList<>();
        for (Setting x : Setting.values()) {
          known.add(x.env());
        }
        known.add(Setting.CONFIG_ENV);
        throw new AgentConfigException("unknown environment variable " + name
            + suggestion(name, known, "") + ": unset it (tartan agent --help lists the settings; "
            + "each is also FLANNELD_<FLAG>)");
      }
    }
    return out;
  }

  // ---- typing and validation

  private static AgentConfig build(Map<Setting, Raw> raw, Path configFile)
      throws AgentConfigException {
    List<URI> endpoints = endpoints(raw.get(Setting.ETCD_ENDPOINTS));
    String prefix = required(Setting.ETCD_PREFIX, raw);
    Path ca = optionalFile(Setting.ETCD_CAFILE, raw);
    Path cert = optionalFile(Setting.ETCD_CERTFILE, raw);
    Path key = optionalFile(Setting.ETCD_KEYFILE, raw);
    if ((cert == null) != (key == null)) {
      Setting given = cert != null ? Setting.ETCD_CERTFILE : Setting.ETCD_KEYFILE;
      Setting missing = cert != null ? Setting.ETCD_KEYFILE : Setting.ETCD_CERTFILE;
      throw new AgentConfigException(given.key + " is set (from " + raw.get(given).source
          + ") but " + missing.key + " is not: give both for TLS client authentication (flag "
          + missing.flag() + ", env " + missing.env() + " or key " + BLOCK + "." + missing.key + ")");
    }
    String user = optional(Setting.ETCD_USERNAME, raw);
    String password = optional(Setting.ETCD_PASSWORD, raw);
    if ((user == null) != (password == null)) {
      Setting given = user != null ? Setting.ETCD_USERNAME : Setting.ETCD_PASSWORD;
      Setting missing = user != null ? Setting.ETCD_PASSWORD : Setting.ETCD_USERNAME;
      throw new AgentConfigException(given.key + " is set (from " + raw.get(given).source
          + ") but " + missing.key + " is not: etcd authentication needs both (flag "
          + missing.flag() + ", env " + missing.env() + " or key " + BLOCK + "." + missing.key + ")");
    }
    List<String> iface = list(raw.get(Setting.IFACE));
    List<String> ifaceRegex = list(raw.get(Setting.IFACE_REGEX));
    for (String re : ifaceRegex) {
      try {
        Pattern.compile(re);
      } catch (PatternSyntaxException e) {
        throw new AgentConfigException("iface-regex '" + re + "' is not a valid regular expression: "
            + oneLine(e.getDescription()) + " (from " + raw.get(Setting.IFACE_REGEX).source + ")");
      }
    }
    Inet4Address canReach = optionalIpv4(Setting.IFACE_CAN_REACH, raw);
    Inet4Address publicIp = optionalIpv4(Setting.PUBLIC_IP, raw);
    java.net.Inet6Address publicIpv6 = optionalIpv6(Setting.PUBLIC_IPV6, raw);
    Path subnetFile = path(Setting.SUBNET_FILE.key, required(Setting.SUBNET_FILE, raw),
        raw.get(Setting.SUBNET_FILE).source);
    if (Files.isDirectory(subnetFile)) {
      throw new AgentConfigException("subnet-file " + subnetFile + " is a directory (from "
          + raw.get(Setting.SUBNET_FILE).source + "): give a file name such as /run/flannel/subnet.env");
    }
    int margin = integer(Setting.SUBNET_LEASE_RENEW_MARGIN, raw);
    if (margin < AgentConfig.MIN_RENEW_MARGIN_MINUTES
        || margin > AgentConfig.MAX_RENEW_MARGIN_MINUTES) {
      throw new AgentConfigException("subnet-lease-renew-margin must be between 1 and 1439 minutes, got "
          + margin + " (from " + raw.get(Setting.SUBNET_LEASE_RENEW_MARGIN).source + ")");
    }
    boolean ipMasq = bool(Setting.IP_MASQ, raw);
    boolean randomFullyDisable = bool(Setting.IP_MASQ_FULLY_RANDOM_DISABLE, raw);
    boolean forwardRules = bool(Setting.IPTABLES_FORWARD_RULES, raw);
    Duration iptablesResync = positiveDuration(Setting.IPTABLES_RESYNC, raw);
    InetAddress healthzIp = ipLiteral(Setting.HEALTHZ_IP, raw);
    int healthzPort = integer(Setting.HEALTHZ_PORT, raw);
    if (healthzPort < 0 || healthzPort > 65535) {
      throw new AgentConfigException("healthz-port must be between 0 (off) and 65535, got "
          + healthzPort + " (from " + raw.get(Setting.HEALTHZ_PORT).source + ")");
    }
    Duration leaseTtl = positiveDuration(Setting.LEASE_TTL, raw);
    if (leaseTtl.compareTo(Duration.ofSeconds(1)) < 0 || leaseTtl.toNanosPart() != 0) {
      throw new AgentConfigException("lease-ttl must be whole seconds, at least 1s (etcd lease TTLs "
          + "are seconds), got '" + raw.get(Setting.LEASE_TTL).value + "' (from "
          + raw.get(Setting.LEASE_TTL).source + ")");
    }
    Duration resync = positiveDuration(Setting.RESYNC_INTERVAL, raw);
    boolean vxlanPeerFilter = bool(Setting.VXLAN_PEER_FILTER, raw);
    Duration peerExpiryGrace = nonNegativeDuration(Setting.PEER_EXPIRY_GRACE, raw);
    Path attachSocket = attachSocket(raw);
    AgentConfig config = new AgentConfig(endpoints, prefix, ca, cert, key, user, password, iface,
        ifaceRegex, canReach, publicIp, subnetFile, Duration.ofMinutes(margin), ipMasq,
        randomFullyDisable, forwardRules, iptablesResync, healthzIp, healthzPort, leaseTtl, resync,
        configFile, vxlanPeerFilter, peerExpiryGrace, attachSocket, publicIpv6);
    try {
      config.etcdOptions();
    } catch (IllegalArgumentException e) {
      String from = sources(raw, Setting.ETCD_ENDPOINTS, Setting.ETCD_CAFILE,
          Setting.ETCD_CERTFILE, Setting.ETCD_KEYFILE);
      throw new AgentConfigException("etcd settings do not fit together: " + oneLine(e.getMessage())
          + " (" + from + ")");
    }
    return config;
  }

  /** {@code --attach-socket}: an absolute path that fits a UNIX socket address, or null ("" = off). */
  private static Path attachSocket(Map<Setting, Raw> raw) throws AgentConfigException {
    String v = optional(Setting.ATTACH_SOCKET, raw);
    if (v == null) {
      return null;
    }
    String source = raw.get(Setting.ATTACH_SOCKET).source;
    Path p = path(Setting.ATTACH_SOCKET.key, v, source);
    if (!p.isAbsolute() || p.getFileName() == null) {
      throw new AgentConfigException("attach-socket '" + v + "' must be an absolute file path such as "
          + "/run/tartan/attach.sock, or \"\" to turn it off (from " + source + ")");
    }
    if (v.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 100) {
      throw new AgentConfigException("attach-socket '" + v + "' is longer than 100 bytes, too long for a UNIX "
          + "socket address: choose a shorter path (from " + source + ")");
    }
    return p;
  }

  private static String text(Setting s, Map<Setting, Raw> raw) throws AgentConfigException {
    Raw r = raw.get(s);
    if (r == null) {
      throw new IllegalStateException("reference.conf has no default for " + s.key);
    }
    if (r.value instanceof List) {
      throw new AgentConfigException(s.key + " takes one value, not a list (from " + r.source + ")");
    }
    return ((String) r.value).trim();
  }

  private static String required(Setting s, Map<Setting, Raw> raw) throws AgentConfigException {
    String v = text(s, raw);
    if (v.isEmpty()) {
      throw new AgentConfigException(s.key + " must not be empty (from " + raw.get(s).source + ")");
    }
    return v;
  }

  private static String optional(Setting s, Map<Setting, Raw> raw) throws AgentConfigException {
    String v = text(s, raw);
    return v.isEmpty() ? null : v;
  }

  private static List<String> list(Raw r) {
    if (r == null) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    if (r.value instanceof List<?> l) {
      l.forEach(o -> out.add(o.toString().trim()));
    } else {
      out.add(r.value.toString().trim());
    }
    out.removeIf(String::isEmpty);
    return out;
  }

  /** flannel's comma list (or a HOCON list), parsed as the store does: bare host:port = http. */
  private static List<URI> endpoints(Raw r) throws AgentConfigException {
    String commaList = r.value instanceof List<?> l
        ? String.join(",", l.stream().map(Object::toString).toList()) : (String) r.value;
    try {
      return EtcdOptions.parseEndpoints(commaList);
    } catch (IllegalArgumentException e) {
      throw new AgentConfigException("etcd-endpoints: " + oneLine(e.getMessage())
          + ", e.g. http://10.0.0.5:2379,http://10.0.0.6:2379 (from " + r.source + ")");
    }
  }

  private static Path optionalFile(Setting s, Map<Setting, Raw> raw) throws AgentConfigException {
    String v = optional(s, raw);
    if (v == null) {
      return null;
    }
    Path p = path(s.key, v, raw.get(s).source);
    if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
      throw new AgentConfigException(s.key + " " + p + " is not a readable file (from "
          + raw.get(s).source + "): fix the path or the file's permissions");
    }
    return p;
  }

  private static Path path(String key, String value, String source) throws AgentConfigException {
    try {
      return Path.of(value);
    } catch (InvalidPathException e) {
      throw new AgentConfigException(key + " '" + value + "' is not a valid path (from " + source + ")");
    }
  }

  private static java.net.Inet6Address optionalIpv6(Setting s, Map<Setting, Raw> raw)
      throws AgentConfigException {
    String v = optional(s, raw);
    if (v == null) {
      return null;
    }
    try {
      return dev.tartan.net.Ipv6Text.parse(v);
    } catch (IllegalArgumentException e) {
      throw new AgentConfigException(s.key + " must be an IPv6 address like 2001:db8::7, got '" + v
          + "' (from " + raw.get(s).source + ")");
    }
  }

  private static Inet4Address optionalIpv4(Setting s, Map<Setting, Raw> raw)
      throws AgentConfigException {
    String v = optional(s, raw);
    if (v == null) {
      return null;
    }
    try {
      return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(v));
    } catch (IllegalArgumentException e) {
      throw new AgentConfigException(s.key + " must be an IPv4 address like 198.51.100.7, got '" + v
          + "' (from " + raw.get(s).source + ")");
    }
  }

  private static InetAddress ipLiteral(Setting s, Map<Setting, Raw> raw) throws AgentConfigException {
    String v = required(s, raw);
    try {
      if (v.indexOf(':') < 0) {
        return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(v));
      }
      String inner = v.startsWith("[") && v.endsWith("]") ? v.substring(1, v.length() - 1) : v;
      if (!inner.matches("[0-9a-fA-F:.%a-zA-Z]+")) {
        throw new IllegalArgumentException();
      }
      return InetAddress.getByName(inner); // an IPv6 literal: no name lookup happens
    } catch (IllegalArgumentException | UnknownHostException e) {
      throw new AgentConfigException(s.key + " must be an IP address like 0.0.0.0 or 127.0.0.1, got '"
          + v + "' (from " + raw.get(s).source + ")");
    }
  }

  private static int integer(Setting s, Map<Setting, Raw> raw) throws AgentConfigException {
    String v = text(s, raw);
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new AgentConfigException(s.key + " must be a whole number, got '" + v + "' (from "
          + raw.get(s).source + ")");
    }
  }

  /** Go's strconv.ParseBool, which flanneld uses for flags and FLANNELD_* values. */
  private static boolean bool(Setting s, Map<Setting, Raw> raw) throws AgentConfigException {
    String v = text(s, raw);
    switch (v) {
      case "1": case "t": case "T": case "true": case "TRUE": case "True":
        return true;
      case "0": case "f": case "F": case "false": case "FALSE": case "False":
        return false;
      default:
        throw new AgentConfigException(s.key + " must be true or false, got '" + v + "' (from "
            + raw.get(s).source + ")");
    }
  }

  /** A bare number is seconds (flannel's --iptables-resync); else HOCON units: 500ms, 10s, 24h. */
  private static Duration positiveDuration(Setting s, Map<Setting, Raw> raw)
      throws AgentConfigException {
    Duration d = duration(s, raw);
    if (d == null || d.isZero()) {
      throw new AgentConfigException(s.key + " must be a positive duration like 10s, 5m or 24h "
          + "(a bare number is seconds), got '" + text(s, raw) + "' (from " + raw.get(s).source + ")");
    }
    return d;
  }

  private static Duration nonNegativeDuration(Setting s, Map<Setting, Raw> raw)
      throws AgentConfigException {
    Duration d = duration(s, raw);
    if (d == null) {
      throw new AgentConfigException(s.key + " must be a duration like 60s or 2m, or 0 for none "
          + "(a bare number is seconds), got '" + text(s, raw) + "' (from " + raw.get(s).source + ")");
    }
    return d;
  }

  /** The value as a duration; null when it is none or negative. */
  private static Duration duration(Setting s, Map<Setting, Raw> raw) throws AgentConfigException {
    String v = text(s, raw);
    Duration d = null;
    if (v.matches("\\d{1,12}")) {
      d = Duration.ofSeconds(Long.parseLong(v));
    } else if (!v.isEmpty()) {
      try {
        d = ConfigFactory.parseMap(Map.of("d", v)).getDuration("d");
      } catch (ConfigException e) {
        d = null;
      }
    }
    return d == null || d.isNegative() ? null : d;
  }

  // ---- message helpers

  /** "etcd-endpoints from flag --etcd-endpoints, etcd-cafile from ..." for the settings not at default. */
  private static String sources(Map<Setting, Raw> raw, Setting... settings) {
    List<String> parts = new ArrayList<>();
    for (Setting s : settings) {
      Raw r = raw.get(s);
      if (r != null && !r.source.startsWith("default")) {
        parts.add(s.key + " from " + r.source);
      }
    }
    return parts.isEmpty() ? "defaults" : String.join(", ", parts);
  }

  private static String where(ConfigValue v) {
    ConfigOrigin o = v.origin();
    String file = o.filename() != null ? o.filename() : o.description();
    return o.lineNumber() > 0 ? file + ":" + o.lineNumber() : file;
  }

  static String oneLine(String s) {
    return s == null ? "" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
  }

  /** ", did you mean 'x'?" for a close name (edit distance at most 3), else suffix. */
  static String suggestion(String name, List<String> known, String otherwise) {
    String best = null;
    int bestDistance = 4;
    for (String k : known) {
      int d = distance(name.toLowerCase(Locale.ROOT), k.toLowerCase(Locale.ROOT));
      if (d < bestDistance) {
        bestDistance = d;
        best = k;
      }
    }
    return best == null ? otherwise : " (did you mean " + best + "?)";
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
