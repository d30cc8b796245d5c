package dev.tartan.agent.config;

import static java.util.Objects.requireNonNull;

import dev.tartan.store.etcd.EtcdOptions;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Every setting of {@code tartan agent}, typed and checked. Build it with {@link #resolve}, which
 * applies flag &gt; {@code FLANNELD_*} env &gt; {@code --config} file &gt; {@code reference.conf}.
 *
 * @param etcdEndpoints          {@code --etcd-endpoints}, at least one http(s) URI
 * @param etcdPrefix             {@code --etcd-prefix}
 * @param etcdCaFile             {@code --etcd-cafile}, or null
 * @param etcdCertFile           {@code --etcd-certfile}, or null (set together with the key)
 * @param etcdKeyFile            {@code --etcd-keyfile}, or null
 * @param etcdUsername           {@code --etcd-username}, or null (set together with the password)
 * @param etcdPassword           {@code --etcd-password}, or null; never printed
 * @param iface                  {@code --iface} values (names or IPs) in order, maybe empty
 * @param ifaceRegex             {@code --iface-regex} values in order (valid Java regexes)
 * @param ifaceCanReach          {@code --iface-can-reach}, or null
 * @param publicIp               {@code --public-ip}, or null
 * @param subnetFile             {@code --subnet-file}
 * @param subnetLeaseRenewMargin {@code --subnet-lease-renew-margin}, whole minutes 1..1439
 * @param ipMasq                 {@code --ip-masq}
 * @param ipMasqFullyRandomDisable {@code --ip-masq-fully-random-disable}
 * @param iptablesForwardRules   {@code --iptables-forward-rules}
 * @param iptablesResync         {@code --iptables-resync}, positive
 * @param healthzIp              {@code --healthz-ip}
 * @param healthzPort            {@code --healthz-port}, 0..65535, 0 = no health server
 * @param leaseTtl               {@code --lease-ttl}, whole seconds, at least 1 s
 * @param resyncInterval         {@code --resync-interval}, positive
 * @param configFile             the {@code --config} file that was read, or null
 * @param vxlanPeerFilter        {@code --vxlan-peer-filter}: accept VXLAN packets only from the
 *                               public IPs of the network's hosts
 * @param peerExpiryGrace        {@code --peer-expiry-grace}: how long a peer whose lease expired
 *                               keeps its entries; zero or more
 * @param attachSocket           {@code --attach-socket}, or null (off)
 * @param publicIpv6             {@code --public-ipv6}, or null (dual stack: the interface's first global IPv6 address)
 */
public record AgentConfig(
    List<URI> etcdEndpoints,
    String etcdPrefix,
    Path etcdCaFile,
    Path etcdCertFile,
    Path etcdKeyFile,
    String etcdUsername,
    String etcdPassword,
    List<String> iface,
    List<String> ifaceRegex,
    Inet4Address ifaceCanReach,
    Inet4Address publicIp,
    Path subnetFile,
    Duration subnetLeaseRenewMargin,
    boolean ipMasq,
    boolean ipMasqFullyRandomDisable,
    boolean iptablesForwardRules,
    Duration iptablesResync,
    InetAddress healthzIp,
    int healthzPort,
    Duration leaseTtl,
    Duration resyncInterval,
    Path configFile,
    boolean vxlanPeerFilter,
    Duration peerExpiryGrace,
    Path attachSocket,
    Inet6Address publicIpv6) {

  /** Default of {@code --peer-expiry-grace}. */
  public static final Duration DEFAULT_PEER_EXPIRY_GRACE = Duration.ofSeconds(60);

  /** Smallest and largest {@code --subnet-lease-renew-margin}, in minutes (flannel's range). */
  public static final int MIN_RENEW_MARGIN_MINUTES = 1;
  public static final int MAX_RENEW_MARGIN_MINUTES = 1439;

  public AgentConfig {
    etcdEndpoints = List.copyOf(requireNonNull(etcdEndpoints, "etcdEndpoints"));
    if (etcdEndpoints.isEmpty()) {
      throw new IllegalArgumentException("etcd-endpoints must name at least one endpoint");
    }
    requireNonNull(etcdPrefix, "etcdPrefix");
    if ((etcdCertFile == null) != (etcdKeyFile == null)) {
      throw new IllegalArgumentException("etcd-certfile and etcd-keyfile must be set together");
    }
    if ((etcdUsername == null) != (etcdPassword == null)) {
      throw new IllegalArgumentException("etcd-username and etcd-password must be set together");
    }
    iface = List.copyOf(requireNonNull(iface, "iface"));
    ifaceRegex = List.copyOf(requireNonNull(ifaceRegex, "ifaceRegex"));
    ifaceRegex.forEach(Pattern::compile);
    requireNonNull(subnetFile, "subnetFile");
    requireNonNull(subnetLeaseRenewMargin, "subnetLeaseRenewMargin");
    long margin = subnetLeaseRenewMargin.toMinutes();
    if (!subnetLeaseRenewMargin.equals(Duration.ofMinutes(margin))
        || margin < MIN_RENEW_MARGIN_MINUTES || margin > MAX_RENEW_MARGIN_MINUTES) {
      throw new IllegalArgumentException(
          "subnet-lease-renew-margin must be 1..1439 whole minutes, got " + subnetLeaseRenewMargin);
    }
    requirePositive(requireNonNull(iptablesResync, "iptablesResync"), "iptables-resync");
    requireNonNull(healthzIp, "healthzIp");
    if (healthzPort < 0 || healthzPort > 65535) {
      throw new IllegalArgumentException("healthz-port must be 0..65535, got " + healthzPort);
    }
    requireNonNull(leaseTtl, "leaseTtl");
    if (leaseTtl.compareTo(Duration.ofSeconds(1)) < 0 || leaseTtl.toNanosPart() != 0) {
      throw new IllegalArgumentException("lease-ttl must be whole seconds, at least 1s, got " + leaseTtl);
    }
    requirePositive(requireNonNull(resyncInterval, "resyncInterval"), "resync-interval");
    requireNonNull(peerExpiryGrace, "peerExpiryGrace");
    if (peerExpiryGrace.isNegative()) {
      throw new IllegalArgumentException("peer-expiry-grace must not be negative, got " + peerExpiryGrace);
    }
  }

  /** Without the settings added later: {@code vxlanPeerFilter} off, the default grace, no attach socket, no {@code publicIpv6}. */
  public AgentConfig(List<URI> etcdEndpoints, String etcdPrefix, Path etcdCaFile, Path etcdCertFile,
      Path etcdKeyFile, String etcdUsername, String etcdPassword, List<String> iface,
      List<String> ifaceRegex, Inet4Address ifaceCanReach, Inet4Address publicIp, Path subnetFile,
      Duration subnetLeaseRenewMargin, boolean ipMasq, boolean ipMasqFullyRandomDisable,
      boolean iptablesForwardRules, Duration iptablesResync, InetAddress healthzIp, int healthzPort,
      Duration leaseTtl, Duration resyncInterval, Path configFile) {
    this(etcdEndpoints, etcdPrefix, etcdCaFile, etcdCertFile, etcdKeyFile, etcdUsername, etcdPassword,
        iface, ifaceRegex, ifaceCanReach, publicIp, subnetFile, subnetLeaseRenewMargin, ipMasq,
        ipMasqFullyRandomDisable, iptablesForwardRules, iptablesResync, healthzIp, healthzPort,
        leaseTtl, resyncInterval, configFile, false, DEFAULT_PEER_EXPIRY_GRACE, null, null);
  }

  private static void requirePositive(Duration d, String name) {
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(name + " must be positive, got " + d);
    }
  }

  /**
   * Resolves every setting: flag &gt; env ({@code FLANNELD_<FLAG>}, empty values ignored) &gt; the
   * HOCON file of {@code --config} (or {@code FLANNELD_CONFIG}) &gt; {@code reference.conf}.
   * {@code FLANNELD_*} variables of flanneld-only flags (Kubernetes mode, IPv6, ...) are ignored with
   * a WARN; any other unknown {@code FLANNELD_*} variable or file key fails.
   *
   * @param flags the parsed command line ({@code new AgentOptions()} for none)
   * @param env   the process environment ({@code System.getenv()})
   * @throws AgentConfigException with a one-line message naming the setting and the fix
   */
  public static AgentConfig resolve(AgentOptions flags, Map<String, String> env)
      throws AgentConfigException {
    return new ConfigResolver(flags, env).resolve();
  }

  /** The defaults of {@code reference.conf} alone (no flags, no env, no file). */
  public static AgentConfig defaults() {
    try {
      return resolve(new AgentOptions(), Map.of());
    } catch (AgentConfigException e) {
      throw new IllegalStateException("reference.conf is invalid: " + e.getMessage(), e);
    }
  }

  /**
   * The etcd client settings for the store ({@code Store}).
   *
   * @throws IllegalArgumentException when they do not fit together (never after {@link #resolve},
   *     which checks this)
   */
  public EtcdOptions etcdOptions() {
    return new EtcdOptions(etcdEndpoints, etcdPrefix, etcdCaFile, etcdCertFile, etcdKeyFile,
        etcdUsername, etcdPassword, leaseTtl);
  }

  /** True when TLS client authentication to etcd is configured. */
  public boolean etcdTls() {
    return etcdCertFile != null;
  }

  /** Whether the health server runs ({@code --healthz-port} not 0). */
  public boolean healthzEnabled() {
    return healthzPort != 0;
  }

  /** {@code --healthz-ip}:{@code --healthz-port}. */
  public InetSocketAddress healthzAddress() {
    return new InetSocketAddress(healthzIp, healthzPort);
  }

  /** {@code --iface-regex} compiled. */
  public List<Pattern> ifaceRegexPatterns() {
    return ifaceRegex.stream().map(Pattern::compile).toList();
  }

  /** Like the record's, with the password masked. */
  @Override
  public String toString() {
    return "AgentConfig[etcdEndpoints=" + etcdEndpoints + ", etcdPrefix=" + etcdPrefix
        + ", etcdCaFile=" + etcdCaFile + ", etcdCertFile=" + etcdCertFile + ", etcdKeyFile="
        + etcdKeyFile + ", etcdUsername=" + etcdUsername + ", etcdPassword="
        + (etcdPassword == null ? "null" : "***") + ", iface=" + iface + ", ifaceRegex=" + ifaceRegex
        + ", ifaceCanReach=" + text(ifaceCanReach) + ", publicIp=" + text(publicIp)
        + ", subnetFile=" + subnetFile + ", subnetLeaseRenewMargin=" + subnetLeaseRenewMargin
        + ", ipMasq=" + ipMasq + ", ipMasqFullyRandomDisable=" + ipMasqFullyRandomDisable
        + ", iptablesForwardRules=" + iptablesForwardRules + ", iptablesResync=" + iptablesResync
        + ", healthzIp=" + text(healthzIp) + ", healthzPort=" + healthzPort + ", leaseTtl=" + leaseTtl
        + ", resyncInterval=" + resyncInterval + ", peerExpiryGrace=" + peerExpiryGrace
        + ", configFile=" + configFile
        + ", vxlanPeerFilter=" + vxlanPeerFilter + ", attachSocket=" + attachSocket
        + ", publicIpv6=" + (publicIpv6 == null ? "" : dev.tartan.net.Ipv6Text.format(publicIpv6)) + "]";
  }

  private static String text(InetAddress a) {
    return a == null ? "null" : a.getHostAddress();
  }
}
