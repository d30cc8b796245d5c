package dev.tartan.cni;

import dev.tartan.cni.delegate.DelegateConf;
import dev.tartan.cni.delegate.HostLocalLeases;
import dev.tartan.cni.delegate.PluginRunner;
import dev.tartan.cni.delegate.ScratchStore;
import dev.tartan.cni.delegate.SubnetEnv;
import dev.tartan.cni.json.Json;
import dev.tartan.cni.json.JsonException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * The Tartan CNI plugin: a flannel-compatible meta plugin. It reads the host's {@code subnet.env}, builds a
 * {@code bridge} + {@code host-local} config from it ({@link DelegateConf}), saves that per container
 * ({@link ScratchStore}) and hands the work to the delegate ({@link PluginRunner}).
 *
 * <p>Environment, stdin, stdout and stderr are injected (the CNI library's dispatcher shape), so the whole
 * protocol runs in-process in tests. {@link #run} returns the exit status; errors are printed as the spec's
 * error JSON on stdout.
 *
 * <ul>
 *   <li>ADD: result of the delegate's ADD in the requested version. If the delegate fails, its DEL runs with
 *       the same config and the saved config is removed, so nothing is left half-created.
 *   <li>DEL: the saved config (or, if it is gone, one rebuilt from subnet.env) goes to the delegate's DEL;
 *       success when nothing is left to remove or subnet.env is missing.
 *   <li>CHECK: the saved config exists, the container interface holds the ADD result's addresses, and the
 *       delegate's CHECK passes.
 *   <li>GC: saved configs of this network's containers that are not in {@code cni.dev/valid-attachments} are
 *       released through the delegate's DEL and removed; GC is passed on to delegates that speak CNI 1.1.0.
 *   <li>STATUS: error 50 unless subnet.env exists and parses (the agent writes it once it holds a lease).
 * </ul>
 */
public final class CniPlugin {
  private static final int MAX_STDIN = Json.MAX_LENGTH;
  private static final String[] ENV_NAMES = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS",
      "CNI_PATH", "CNI_NETNS_OVERRIDE"};
  /** Interface name assumed when host-local's files do not say. */
  private static final String DEFAULT_IFNAME = "eth0";
  private static final String VALID_ATTACHMENTS = "cni.dev/valid-attachments";

  private final Function<String, String> getenv;
  private final InputStream in;
  private final PrintStream out;
  private final PrintStream err;
  private final long delegateTimeoutMillis;
  private String errorVersion = CniVersions.LATEST;

  public CniPlugin(Function<String, String> getenv, InputStream in, PrintStream out, PrintStream err) {
    this(getenv, in, out, err, PluginRunner.DEFAULT_TIMEOUT_MILLIS);
  }

  CniPlugin(Function<String, String> getenv, InputStream in, PrintStream out, PrintStream err,
      long delegateTimeoutMillis) {
    this.getenv = getenv;
    this.in = in;
    this.out = out;
    this.err = err;
    this.delegateTimeoutMillis = delegateTimeoutMillis;
  }

  /** Runs one CNI call; returns the process exit status (0 success, 1 error JSON printed). */
  public int run() {
    try {
      String result = dispatch();
      if (result != null) {
        write(result);
      }
      return 0;
    } catch (CniException e) {
      write(e.toJson(errorVersion));
      return 1;
    } catch (RuntimeException e) {
      err.println("tartan: internal error: " + e);
      e.printStackTrace(err);
      write(new CniException(CniException.INTERNAL, "internal error in the tartan CNI plugin: " + e, "")
          .toJson(errorVersion));
      return 1;
    }
  }

  private void write(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.write(b, 0, b.length);
    out.flush();
  }

  private String env(String name) {
    String v = getenv.apply(name);
    return v == null ? "" : v;
  }

  private String dispatch() throws CniException {
    String command = env("CNI_COMMAND");
    if (command.isEmpty()) {
      err.println(about());
      err.println("CNI protocol versions supported: " + String.join(", ", CniVersions.SUPPORTED));
      return null;
    }
    switch (command) {
      case "ADD": case "DEL": case "CHECK": case "GC": case "STATUS": case "VERSION":
        break;
      default:
        throw new CniException(CniException.INVALID_ENVIRONMENT, "unknown CNI_COMMAND: " + command, "");
    }
    requireEnv(command);
    if (command.equals("VERSION")) {
      return versionJson();
    }
    Request r = readRequest(command);
    switch (command) {
      case "ADD":
        return add(r);
      case "DEL":
        return del(r);
      case "CHECK":
        return check(r);
      case "GC":
        return gc(r);
      default:
        return status(r);
    }
  }

  /** The CNI library's required variables (flannel-compat.md §6.1), reported together in its words. */
  private void requireEnv(String command) throws CniException {
    List<String> missing = new ArrayList<>();
    for (String name : ENV_NAMES) {
      if (env(name).isEmpty() && required(command, name)) {
        missing.add(name);
      }
    }
    if (!missing.isEmpty()) {
      throw new CniException(CniException.INVALID_ENVIRONMENT, "required env variables [" + String.join(",", missing)
          + "] missing", "");
    }
  }

  private static boolean required(String command, String name) {
    switch (name) {
      case "CNI_CONTAINERID":
      case "CNI_IFNAME":
        return command.equals("ADD") || command.equals("CHECK") || command.equals("DEL");
      case "CNI_NETNS":
        return command.equals("ADD") || command.equals("CHECK");
      case "CNI_PATH":
        return !command.equals("VERSION");
      default:
        return false;
    }
  }

  private Request readRequest(String command) throws CniException {
    byte[] stdin;
    try {
      stdin = in.readNBytes(MAX_STDIN + 1);
    } catch (IOException e) {
      throw new CniException(CniException.IO_FAILURE, "error reading from stdin: " + e.getMessage(), "");
    }
    if (stdin.length > MAX_STDIN) {
      throw new CniException(CniException.DECODING_FAILURE, "network config on stdin is larger than " + MAX_STDIN
          + " bytes", "");
    }
    Map<String, Object> conf;
    try {
      conf = Json.parseObject(new String(stdin, StandardCharsets.UTF_8));
    } catch (JsonException e) {
      throw new CniException(CniException.DECODING_FAILURE, "error parsing network config from stdin: "
          + e.getMessage(), "");
    }
    Object name = conf.get("name");
    if (name != null && !(name instanceof String)) {
      throw new CniException(CniException.DECODING_FAILURE, "network config field 'name' must be a string, got "
          + Json.typeName(name), "");
    }
    if (name == null || ((String) name).isEmpty()) {
      throw new CniException(CniException.INVALID_NETWORK_CONFIG, "missing network name", "");
    }
    if (!Names.validId((String) name)) {
      throw new CniException(CniException.INVALID_NETWORK_CONFIG, "invalid characters found in network name", (String) name);
    }
    String containerId = env("CNI_CONTAINERID");
    String ifname = env("CNI_IFNAME");
    if (command.equals("ADD") || command.equals("DEL") || command.equals("CHECK")) {
      if (!Names.validId(containerId)) {
        throw new CniException(CniException.INVALID_ENVIRONMENT, "invalid characters in containerID", containerId);
      }
      String problem = Names.ifnameProblem(ifname);
      if (problem != null) {
        throw new CniException(CniException.INVALID_ENVIRONMENT, problem, ifname);
      }
    }
    String version = version(conf);
    if (command.equals("CHECK") && CniVersions.compare(version, "0.4.0") < 0) {
      throw new CniException(CniException.INCOMPATIBLE_VERSION, "config version does not allow CHECK", "");
    }
    if ((command.equals("GC") || command.equals("STATUS")) && CniVersions.compare(version, "1.1.0") < 0) {
      throw new CniException(CniException.INCOMPATIBLE_VERSION, "config version does not allow " + command, "");
    }
    Map<String, String> cniEnv = new HashMap<>();
    for (String n : ENV_NAMES) {
      if (!env(n).isEmpty()) {
        cniEnv.put(n, env(n));
      }
    }
    PluginRunner runner = new PluginRunner(env("CNI_PATH"), cniEnv, delegateTimeoutMillis);
    return new Request(command, containerId, env("CNI_NETNS"), ifname, CniArgs.parse(env("CNI_ARGS")),
        NetConf.from(version, conf), runner);
  }

  private String version(Map<String, Object> conf) throws CniException {
    Object v = conf.get("cniVersion");
    if (v != null && !(v instanceof String)) {
      throw new CniException(CniException.DECODING_FAILURE, "network config field 'cniVersion' must be a string, got "
          + Json.typeName(v), "");
    }
    String version = v == null || ((String) v).isEmpty() ? "0.1.0" : (String) v;
    if (!CniVersions.supported(version)) {
      StringBuilder supported = new StringBuilder();
      for (String s : CniVersions.SUPPORTED) {
        supported.append(supported.length() == 0 ? "" : " ").append('"').append(s).append('"');
      }
      throw new CniException(CniException.INCOMPATIBLE_VERSION, "incompatible CNI versions",
          "config is \"" + version + "\", plugin supports [" + supported + "]");
    }
    errorVersion = version;
    return version;
  }

  // ---------------------------------------------------------------- ADD

  private String add(Request r) throws CniException {
    NetConf nc = r.conf();
    SubnetEnv subnetEnv = SubnetEnv.load(nc.subnetFile());
    Map<String, Object> delegate = DelegateConf.build(nc.raw(), subnetEnv);
    String type = delegateType(delegate, nc);
    String delegateVersion = negotiate(r.runner(), type, nc.cniVersion());
    if (!delegateVersion.equals(nc.cniVersion())) {
      delegate.put("cniVersion", delegateVersion);
    }
    byte[] bytes = DelegateConf.serialize(delegate);
    ScratchStore store = new ScratchStore(nc.dataDir());
    store.save(r.containerId(), bytes);
    try {
      String output = r.runner().exec(type, "ADD", null, bytes);
      Map<String, Object> result;
      try {
        result = Results.convert(Json.parseObject(output.strip()), nc.cniVersion());
      } catch (JsonException | IllegalArgumentException e) {
        throw new CniException(CniException.DELEGATE_FAILED, "delegate " + type + " ADD printed an unusable result: "
            + e.getMessage(), "");
      }
      return Json.writeIndented(result);
    } catch (CniException e) {
      undoAdd(r, type, bytes, store);
      throw e;
    }
  }

  /** After a failed ADD: the delegate's DEL with the same config (best effort), then forget the container. */
  private void undoAdd(Request r, String type, byte[] bytes, ScratchStore store) {
    try {
      r.runner().exec(type, "DEL", null, bytes);
    } catch (CniException e) {
      err.println("tartan: ADD of " + who(r) + " failed; the cleanup DEL also failed: " + e.getMessage());
    }
    try {
      store.delete(r.containerId());
    } catch (CniException e) {
      err.println("tartan: " + e.getMessage());
    }
  }

  // ---------------------------------------------------------------- DEL

  private String del(Request r) throws CniException {
    NetConf nc = r.conf();
    ScratchStore store = new ScratchStore(nc.dataDir());
    Optional<byte[]> saved = store.load(r.containerId());
    String savedType = saved.isPresent() ? savedType(saved.get()) : null;
    if (savedType != null) {
      r.runner().exec(savedType, "DEL", null, saved.get()); // on failure the file stays for the runtime's retry
      store.delete(r.containerId());
      return null;
    }
    if (saved.isPresent()) {
      err.println("tartan: saved delegate config " + store.pathFor(r.containerId())
          + " is unreadable; deleting through a config rebuilt from subnet.env instead");
    }
    // Nothing usable saved: released already, never added, or the file was lost or cut short in a crash.
    // Rebuilding the config lets the delegate release what may be left (host-local frees by container ID and
    // interface, whatever the ranges).
    Map<String, Object> delegate;
    String type;
    try {
      delegate = DelegateConf.build(nc.raw(), SubnetEnv.load(nc.subnetFile()));
      type = delegateType(delegate, nc);
    } catch (CniException e) {
      // Without subnet.env (or with a config ADD would refuse) there is nothing to hand the delegate.
      store.delete(r.containerId());
      return null;
    }
    String delegateVersion = negotiate(r.runner(), type, nc.cniVersion());
    delegate.put("cniVersion", delegateVersion);
    r.runner().exec(type, "DEL", null, DelegateConf.serialize(delegate));
    store.delete(r.containerId());
    return null;
  }

  // ---------------------------------------------------------------- CHECK

  @SuppressWarnings("unchecked")
  private String check(Request r) throws CniException {
    NetConf nc = r.conf();
    Object prev = nc.raw().get("prevResult");
    if (!(prev instanceof Map)) {
      throw new CniException(CniException.INVALID_NETWORK_CONFIG, "required prevResult missing", "");
    }
    Map<String, Object> prevResult = (Map<String, Object>) prev;
    ScratchStore store = new ScratchStore(nc.dataDir());
    Optional<byte[]> saved = store.load(r.containerId());
    if (saved.isEmpty()) {
      throw new CniException(CniException.UNKNOWN_CONTAINER, "no saved delegate config "
          + store.pathFor(r.containerId()) + ": container " + r.containerId()
          + " was not added through this plugin, or its state was lost", "");
    }
    Map<String, Object> savedConf;
    try {
      savedConf = Json.parseObject(new String(saved.get(), StandardCharsets.UTF_8));
    } catch (JsonException e) {
      throw new CniException(CniException.INVALID_NETWORK_CONFIG, "saved delegate config "
          + store.pathFor(r.containerId()) + " is not valid JSON: " + e.getMessage(), "");
    }
    Object type = savedConf.get("type");
    if (!(type instanceof String)) {
      throw new CniException(CniException.INVALID_NETWORK_CONFIG, "saved delegate config "
          + store.pathFor(r.containerId()) + " has no plugin type", "");
    }
    Object savedVersion = savedConf.get("cniVersion");
    String delegateVersion = savedVersion instanceof String ? (String) savedVersion : nc.cniVersion();

    List<String> expected;
    Map<String, Object> delegatePrev;
    try {
      expected = Results.addressesOf(prevResult, r.ifname());
      delegatePrev = Results.withRouteGateways(Results.convert(prevResult, delegateVersion));
    } catch (IllegalArgumentException e) {
      throw new CniException(CniException.INVALID_NETWORK_CONFIG, "invalid prevResult: " + e.getMessage(), "");
    }
    if (expected.isEmpty()) {
      throw new CniException(CniException.CHECK_FAILED, "prevResult gives interface " + r.ifname()
          + " no address; nothing to check", "");
    }
    List<String> actual = NetnsProbe.addresses(r.netns(), r.ifname());
    for (String address : expected) {
      if (!actual.contains(address)) {
        throw new CniException(CniException.CHECK_FAILED, "interface " + r.ifname() + " in " + r.netns()
            + " does not hold " + address + " from the ADD result (it holds " + (actual.isEmpty() ? "no address"
            : String.join(", ", actual)) + ")", "");
      }
    }
    Map<String, Object> checkConf = new LinkedHashMap<>(savedConf);
    checkConf.put("prevResult", delegatePrev);
    r.runner().exec((String) type, "CHECK", null, DelegateConf.serialize(checkConf));
    return null;
  }

  // ---------------------------------------------------------------- GC

  private String gc(Request r) throws CniException {
    NetConf nc = r.conf();
    Object attachments = nc.raw().get(VALID_ATTACHMENTS);
    if (!(attachments instanceof List)) {
      throw new CniException(CniException.INVALID_NETWORK_CONFIG, "GC needs '" + VALID_ATTACHMENTS
          + "' (a list of {containerID, ifname}); refusing to guess which containers are gone", "");
    }
    Set<String> valid = new HashSet<>();
    for (Object a : (List<?>) attachments) {
      Object id = a instanceof Map ? ((Map<?, ?>) a).get("containerID") : null;
      if (!(id instanceof String)) {
        throw new CniException(CniException.INVALID_NETWORK_CONFIG, VALID_ATTACHMENTS
            + " entries must be objects with a string containerID", "");
      }
      valid.add((String) id);
    }
    List<CniException> failures = new ArrayList<>();
    ScratchStore store = new ScratchStore(nc.dataDir());
    for (String id : store.containerIds()) {
      if (!valid.contains(id)) {
        try {
          releaseStale(r, store, id);
        } catch (CniException e) {
          err.println("tartan: GC could not release container " + id + ": " + e.getMessage());
          failures.add(e);
        }
      }
    }
    try {
      SubnetEnv subnetEnv = SubnetEnv.load(nc.subnetFile());
      Map<String, Object> delegate = DelegateConf.build(nc.raw(), subnetEnv);
      String type = delegateType(delegate, nc);
      if (r.runner().supportedVersions(type).contains("1.1.0")) {
        delegate.put("cniVersion", "1.1.0");
        delegate.put(VALID_ATTACHMENTS, attachments);
        r.runner().exec(type, "GC", null, DelegateConf.serialize(delegate));
      }
    } catch (CniException e) {
      if (e.code() != CniException.TRY_AGAIN_LATER) { // no subnet.env: no delegate config to pass GC on with
        err.println("tartan: GC in the delegate failed: " + e.getMessage());
        failures.add(e);
      }
    }
    if (!failures.isEmpty()) {
      CniException first = failures.get(0);
      throw new CniException(first.code(), "GC finished with " + failures.size() + " error(s); first: "
          + first.msg(), first.details());
    }
    return null;
  }

  /**
   * Releases a container the runtime no longer knows, if it is on this network: the delegate's DEL per
   * interface, then the file.
   */
  private void releaseStale(Request r, ScratchStore store, String id) throws CniException {
    Optional<byte[]> saved = store.load(id);
    if (saved.isEmpty()) {
      return;
    }
    Map<String, Object> conf;
    try {
      conf = Json.parseObject(new String(saved.get(), StandardCharsets.UTF_8));
    } catch (JsonException e) {
      store.delete(id);
      return;
    }
    if (!r.conf().name().equals(conf.get("name"))) {
      return; // another network's container (networks may share a dataDir, as flannel's default one)
    }
    Object type = conf.get("type");
    if (!(type instanceof String)) {
      store.delete(id);
      return;
    }
    Object ipam = conf.get("ipam");
    boolean hostLocal = ipam instanceof Map && "host-local".equals(((Map<?, ?>) ipam).get("type"));
    List<String> ifnames = hostLocal ? HostLocalLeases.ifnames(conf, id) : List.of(DEFAULT_IFNAME);
    for (String ifname : ifnames) {
      Map<String, String> env = new HashMap<>();
      env.put("CNI_CONTAINERID", id);
      env.put("CNI_IFNAME", ifname.isEmpty() ? DEFAULT_IFNAME : ifname);
      env.put("CNI_NETNS", null); // the container is gone; the delegate releases its IPAM without a netns
      r.runner().exec((String) type, "DEL", env, saved.get());
    }
    store.delete(id);
  }

  // ---------------------------------------------------------------- STATUS

  private String status(Request r) throws CniException {
    NetConf nc = r.conf();
    SubnetEnv subnetEnv;
    try {
      subnetEnv = SubnetEnv.load(nc.subnetFile());
    } catch (CniException e) {
      throw new CniException(CniException.NOT_AVAILABLE, "tartan is not ready: " + e.getMessage(), "");
    }
    Map<String, Object> delegate = DelegateConf.build(nc.raw(), subnetEnv);
    String type = delegateType(delegate, nc);
    List<String> versions;
    try {
      versions = r.runner().supportedVersions(type);
    } catch (CniException e) {
      throw new CniException(CniException.NOT_AVAILABLE, "delegate plugin " + type + " is not available: "
          + e.getMessage(), "");
    }
    if (versions.contains("1.1.0")) {
      delegate.put("cniVersion", "1.1.0");
      r.runner().exec(type, "STATUS", null, DelegateConf.serialize(delegate));
    }
    return null;
  }

  // ---------------------------------------------------------------- helpers

  private static String delegateType(Map<String, Object> delegate, NetConf nc) throws CniException {
    String type = (String) delegate.get("type");
    if (type.equals("tartan") || type.equals("flannel") || type.equals(nc.type())) {
      throw new CniException(CniException.INVALID_NETWORK_CONFIG, "delegate type \"" + type
          + "\" would call this plugin again; use bridge (the default) or another plugin", "");
    }
    return type;
  }

  /**
   * The CNI version to speak to the delegate: the requested one, except that for versions newer than 1.0.0
   * (which many installed plugins lack, Debian 12's 1.1.1 among them) the delegate is asked first and the
   * newest version both sides support is used; its result is converted back.
   */
  private static String negotiate(PluginRunner runner, String type, String requested) throws CniException {
    if (CniVersions.compare(requested, "1.0.0") <= 0) {
      return requested;
    }
    List<String> theirs = runner.supportedVersions(type);
    String best = null;
    for (String v : theirs) {
      if (CniVersions.supported(v) && CniVersions.compare(v, requested) <= 0
          && (best == null || CniVersions.compare(v, best) > 0)) {
        best = v;
      }
    }
    if (best == null) {
      throw new CniException(CniException.INCOMPATIBLE_VERSION, "delegate plugin " + type
          + " supports none of the CNI versions " + CniVersions.SUPPORTED, "it supports " + theirs);
    }
    return best;
  }

  private static String savedType(byte[] saved) {
    try {
      Object type = Json.parseObject(new String(saved, StandardCharsets.UTF_8)).get("type");
      return type instanceof String && !((String) type).isEmpty() ? (String) type : null;
    } catch (JsonException e) {
      return null;
    }
  }

  private static String who(Request r) {
    String pod = CniArgs.podOf(r.args());
    return "container " + r.containerId() + (pod.isEmpty() ? "" : " (" + pod + ")");
  }

  private static String versionJson() {
    StringBuilder sb = new StringBuilder("{\"cniVersion\":\"").append(CniVersions.LATEST)
        .append("\",\"supportedVersions\":[");
    for (int i = 0; i < CniVersions.SUPPORTED.size(); i++) {
      sb.append(i == 0 ? "\"" : ",\"").append(CniVersions.SUPPORTED.get(i)).append('"');
    }
    return sb.append("]}\n").toString();
  }

  static String about() {
    String v = CniPlugin.class.getPackage().getImplementationVersion();
    return "CNI plugin tartan " + (v == null ? "(development build)" : v)
        + ": flannel-compatible, delegates to bridge + host-local";
  }

  /** One call's inputs after validation. */
  private record Request(String command, String containerId, String netns, String ifname, Map<String, String> args,
      NetConf conf, PluginRunner runner) {}
}
