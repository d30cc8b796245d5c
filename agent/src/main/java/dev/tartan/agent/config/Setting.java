package dev.tartan.agent.config;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/** Every agent setting: its key (= flag name without "--"), the env name and how it is typed. */
enum Setting {
  ETCD_ENDPOINTS("etcd-endpoints", Kind.LIST_COMMA),
  ETCD_PREFIX("etcd-prefix", Kind.STRING),
  ETCD_CAFILE("etcd-cafile", Kind.STRING),
  ETCD_CERTFILE("etcd-certfile", Kind.STRING),
  ETCD_KEYFILE("etcd-keyfile", Kind.STRING),
  ETCD_USERNAME("etcd-username", Kind.STRING),
  ETCD_PASSWORD("etcd-password", Kind.STRING),
  IFACE("iface", Kind.LIST),
  IFACE_REGEX("iface-regex", Kind.LIST),
  IFACE_CAN_REACH("iface-can-reach", Kind.STRING),
  PUBLIC_IP("public-ip", Kind.STRING),
  SUBNET_FILE("subnet-file", Kind.STRING),
  SUBNET_LEASE_RENEW_MARGIN("subnet-lease-renew-margin", Kind.STRING),
  IP_MASQ("ip-masq", Kind.STRING),
  IP_MASQ_FULLY_RANDOM_DISABLE("ip-masq-fully-random-disable", Kind.STRING),
  IPTABLES_FORWARD_RULES("iptables-forward-rules", Kind.STRING),
  IPTABLES_RESYNC("iptables-resync", Kind.STRING),
  HEALTHZ_IP("healthz-ip", Kind.STRING),
  HEALTHZ_PORT("healthz-port", Kind.STRING),
  LEASE_TTL("lease-ttl", Kind.STRING),
  RESYNC_INTERVAL("resync-interval", Kind.STRING),
  VXLAN_PEER_FILTER("vxlan-peer-filter", Kind.STRING),
  PEER_EXPIRY_GRACE("peer-expiry-grace", Kind.STRING),
  ATTACH_SOCKET("attach-socket", Kind.STRING),
  PUBLIC_IPV6("public-ipv6", Kind.STRING);

  /**
   * How raw values are shaped. STRING: one value. LIST: repeatable flag, one value from env, a list
   * or a single string in the file. LIST_COMMA: one comma-separated string (flag, env) or a list.
   */
  enum Kind { STRING, LIST, LIST_COMMA }

  /** The env prefix flanneld uses. */
  static final String ENV_PREFIX = "FLANNELD_";

  /** The env name of {@code --config}. */
  static final String CONFIG_ENV = envName("config");

  /**
   * flanneld flags Tartan does not have (Kubernetes mode, IPv6, blackhole route, klog): their
   * FLANNELD_ variables are ignored with a warning instead of failing the start.
   */
  static final java.util.Set<String> FLANNEL_ONLY_ENV = java.util.Set.of(
      envName("kube-subnet-mgr"), envName("kube-api-url"), envName("kube-annotation-prefix"),
      envName("kubeconfig-file"), envName("net-config-path"),
      envName("set-node-network-unavailable"),
      envName("ip-blackhole-route"), envName("version"), envName("v"), envName("vmodule"),
      envName("log_backtrace_at"), envName("charon-executable-path"), envName("charon-viciurl"));

  private static final Map<String, Setting> BY_KEY =
      Arrays.stream(values()).collect(Collectors.toUnmodifiableMap(s -> s.key, Function.identity()));

  final String key;
  final Kind kind;

  Setting(String key, Kind kind) {
    this.key = key;
    this.kind = kind;
  }

  String flag() {
    return "--" + key;
  }

  String env() {
    return envName(key);
  }

  static String envName(String flagName) {
    return ENV_PREFIX + flagName.replace('-', '_').replace('.', '_').toUpperCase(Locale.ROOT);
  }

  static Optional<Setting> byKey(String key) {
    return Optional.ofNullable(BY_KEY.get(key));
  }

  static Optional<Setting> byEnv(String envName) {
    return Arrays.stream(values()).filter(s -> s.env().equals(envName)).findFirst();
  }
}
