package dev.tartan.agent.config;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The flags of {@code tartan agent}, flanneld's names (use as a picocli {@code @Mixin}).
 *
 * <p>Every field stays null when its flag is not given: {@link AgentConfig#resolve} then falls back
 * to the environment, the {@code --config} file and the defaults in {@code reference.conf}. Values
 * are kept as text here and checked in one place, so a bad flag, env value or file key all fail
 * with the same message.
 */
public final class AgentOptions {

  @Option(names = "--config", paramLabel = "FILE",
      description = "HOCON file with the settings below as keys inside an agent { } block "
          + "(flags and FLANNELD_* env win over it).")
  String config;

  @Option(names = "--etcd-endpoints", paramLabel = "URLS",
      description = "Comma-separated etcd endpoints (default http://127.0.0.1:4001,http://127.0.0.1:2379).")
  String etcdEndpoints;

  @Option(names = "--etcd-prefix", paramLabel = "PREFIX",
      description = "etcd key prefix of the network (default /coreos.com/network).")
  String etcdPrefix;

  @Option(names = "--etcd-cafile", paramLabel = "FILE",
      description = "CA certificate that signed the etcd server certificates.")
  String etcdCafile;

  @Option(names = "--etcd-certfile", paramLabel = "FILE",
      description = "Client certificate for etcd (together with --etcd-keyfile).")
  String etcdCertfile;

  @Option(names = "--etcd-keyfile", paramLabel = "FILE",
      description = "Client key for etcd (together with --etcd-certfile).")
  String etcdKeyfile;

  @Option(names = "--etcd-username", paramLabel = "USER", description = "etcd user name.")
  String etcdUsername;

  @Option(names = "--etcd-password", paramLabel = "PASSWORD",
      description = "etcd password (prefer FLANNELD_ETCD_PASSWORD or the config file: "
          + "command lines are visible to every user).")
  String etcdPassword;

  @Option(names = "--iface", paramLabel = "NAME|IP",
      description = "External interface by name or address; repeat to try several in order.")
  List<String> iface;

  @Option(names = "--iface-regex", paramLabel = "REGEX",
      description = "Regex matched against interface addresses, then names; repeatable; "
          + "tried after --iface.")
  List<String> ifaceRegex;

  @Option(names = "--iface-can-reach", paramLabel = "IP",
      description = "Use the interface of the route to this address.")
  String ifaceCanReach;

  @Option(names = "--public-ip", paramLabel = "IP",
      description = "Address other hosts reach this one at (default: the interface address).")
  String publicIp;

  @Option(names = "--public-ipv6", paramLabel = "IP",
      description = "IPv6 address other hosts reach this one at, for a dual-stack network "
          + "(default: the interface's first global IPv6 address).")
  String publicIpv6;

  @Option(names = "--subnet-file", paramLabel = "FILE",
      description = "Where subnet.env is written (default /run/flannel/subnet.env).")
  String subnetFile;

  @Option(names = "--subnet-lease-renew-margin", paramLabel = "MINUTES",
      description = "Renew the lease this many minutes before expiry, 1..1439 (default 60).")
  String subnetLeaseRenewMargin;

  @Option(names = "--ip-masq", paramLabel = "BOOL", arity = "0..1", fallbackValue = "true",
      description = "Masquerade pod traffic leaving the overlay (default false).")
  String ipMasq;

  @Option(names = "--ip-masq-fully-random-disable", paramLabel = "BOOL", arity = "0..1",
      fallbackValue = "true", description = "Leave out --random-fully on MASQUERADE (default false).")
  String ipMasqFullyRandomDisable;

  @Option(names = "--iptables-forward-rules", paramLabel = "BOOL", arity = "0..1",
      fallbackValue = "true",
      description = "Accept forwarded traffic from/to the pod network (default true).")
  String iptablesForwardRules;

  @Option(names = "--iptables-resync", paramLabel = "DURATION",
      description = "Check interval of the iptables (or, with EnableNFTables, nftables) rules; "
          + "a bare number is seconds (default 5s).")
  String iptablesResync;

  @Option(names = "--healthz-ip", paramLabel = "IP",
      description = "Address of the /healthz and /readyz server (default 0.0.0.0).")
  String healthzIp;

  @Option(names = "--healthz-port", paramLabel = "PORT",
      description = "Port of the /healthz and /readyz server; 0 disables it (default 0).")
  String healthzPort;

  @Option(names = "--lease-ttl", paramLabel = "DURATION",
      description = "TTL of the subnet lease in etcd (default 24h).")
  String leaseTtl;

  @Option(names = "--resync-interval", paramLabel = "DURATION",
      description = "Full resync of routes, neighbours and FDB entries (default 10s).")
  String resyncInterval;

  @Option(names = "--vxlan-peer-filter", paramLabel = "BOOL", arity = "0..1", fallbackValue = "true",
      description = "Accept VXLAN packets (UDP to the VXLAN port) only from the public IPs of the "
          + "network's hosts: iptables chain TARTAN-VXLAN, with an ipset when ipset is installed; "
          + "with EnableNFTables the nft table ip tartan-vxlan and its set peers (default false).")
  String vxlanPeerFilter;

  @Option(names = "--peer-expiry-grace", paramLabel = "DURATION",
      description = "Keep a peer's routes this long after its lease expired (not after a release), "
          + "until it renews or another host takes the subnet; 0 removes at once (default 60s).")
  String peerExpiryGrace;

  @Option(names = "--attach-socket", paramLabel = "PATH",
      description = "Root-only UNIX socket on which the agent runs CNI calls for the tartan-cni front end; "
          + "\"\" turns it off (default /run/tartan/attach.sock).")
  String attachSocket;

  /** The value of {@code --config}, or null. */
  String config() {
    return config;
  }

  /** The flags that were given, as text (String) or repeated text (List of String). */
  Map<Setting, Object> given() {
    Map<Setting, Object> m = new EnumMap<>(Setting.class);
    put(m, Setting.ETCD_ENDPOINTS, etcdEndpoints);
    put(m, Setting.ETCD_PREFIX, etcdPrefix);
    put(m, Setting.ETCD_CAFILE, etcdCafile);
    put(m, Setting.ETCD_CERTFILE, etcdCertfile);
    put(m, Setting.ETCD_KEYFILE, etcdKeyfile);
    put(m, Setting.ETCD_USERNAME, etcdUsername);
    put(m, Setting.ETCD_PASSWORD, etcdPassword);
    put(m, Setting.IFACE, iface);
    put(m, Setting.IFACE_REGEX, ifaceRegex);
    put(m, Setting.IFACE_CAN_REACH, ifaceCanReach);
    put(m, Setting.PUBLIC_IP, publicIp);
    put(m, Setting.PUBLIC_IPV6, publicIpv6);
    put(m, Setting.SUBNET_FILE, subnetFile);
    put(m, Setting.SUBNET_LEASE_RENEW_MARGIN, subnetLeaseRenewMargin);
    put(m, Setting.IP_MASQ, ipMasq);
    put(m, Setting.IP_MASQ_FULLY_RANDOM_DISABLE, ipMasqFullyRandomDisable);
    put(m, Setting.IPTABLES_FORWARD_RULES, iptablesForwardRules);
    put(m, Setting.IPTABLES_RESYNC, iptablesResync);
    put(m, Setting.HEALTHZ_IP, healthzIp);
    put(m, Setting.HEALTHZ_PORT, healthzPort);
    put(m, Setting.LEASE_TTL, leaseTtl);
    put(m, Setting.RESYNC_INTERVAL, resyncInterval);
    put(m, Setting.VXLAN_PEER_FILTER, vxlanPeerFilter);
    put(m, Setting.PEER_EXPIRY_GRACE, peerExpiryGrace);
    put(m, Setting.ATTACH_SOCKET, attachSocket);
    return m;
  }

  private static void put(Map<Setting, Object> m, Setting s, Object v) {
    if (v != null) {
      m.put(s, v);
    }
  }

  @Override
  public String toString() {
    Map<Setting, Object> g = given();
    if (g.containsKey(Setting.ETCD_PASSWORD)) {
      g.put(Setting.ETCD_PASSWORD, "***");
    }
    return "AgentOptions" + (config == null ? "" : "[config=" + config + "]") + g;
  }
}
