package dev.tartan.agent.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import dev.tartan.store.etcd.EtcdOptions;
import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

class AgentConfigTest {

  @Command(name = "agent")
  static class Cmd {
    @Mixin AgentOptions options;
  }

  @TempDir Path dir;

  static AgentOptions flags(String... args) {
    Cmd c = new Cmd();
    new CommandLine(c).parseArgs(args);
    return c.options;
  }

  static AgentConfig resolve(Map<String, String> env, String... args) throws AgentConfigException {
    return AgentConfig.resolve(flags(args), env);
  }

  static String failure(Map<String, String> env, String... args) {
    try {
      AgentConfig c = resolve(env, args);
      throw new AssertionError("expected a failure, got " + c);
    } catch (AgentConfigException e) {
      assertThat(e.getMessage()).doesNotContain("\n");
      return e.getMessage();
    }
  }

  Path file(String hocon) throws IOException {
    Path p = dir.resolve("agent.conf");
    Files.writeString(p, hocon);
    return p;
  }

  @Test
  void defaultsAreFlannels() throws Exception {
    AgentConfig c = resolve(Map.of());
    assertThat(c).isEqualTo(AgentConfig.defaults());
    assertThat(c.etcdEndpoints()).containsExactly(
        URI.create("http://127.0.0.1:4001"), URI.create("http://127.0.0.1:2379"));
    assertThat(c.etcdPrefix()).isEqualTo("/coreos.com/network");
    assertThat(c.etcdCaFile()).isNull();
    assertThat(c.etcdCertFile()).isNull();
    assertThat(c.etcdKeyFile()).isNull();
    assertThat(c.etcdUsername()).isNull();
    assertThat(c.etcdPassword()).isNull();
    assertThat(c.iface()).isEmpty();
    assertThat(c.ifaceRegex()).isEmpty();
    assertThat(c.ifaceCanReach()).isNull();
    assertThat(c.publicIp()).isNull();
    assertThat(c.subnetFile()).isEqualTo(Path.of("/run/flannel/subnet.env"));
    assertThat(c.subnetLeaseRenewMargin()).isEqualTo(Duration.ofMinutes(60));
    assertThat(c.ipMasq()).isFalse();
    assertThat(c.ipMasqFullyRandomDisable()).isFalse();
    assertThat(c.iptablesForwardRules()).isTrue();
    assertThat(c.iptablesResync()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.healthzIp()).isEqualTo(InetAddress.getByName("0.0.0.0"));
    assertThat(c.healthzPort()).isZero();
    assertThat(c.healthzEnabled()).isFalse();
    assertThat(c.leaseTtl()).isEqualTo(Duration.ofHours(24));
    assertThat(c.resyncInterval()).isEqualTo(Duration.ofSeconds(10));
    assertThat(c.configFile()).isNull();
  }

  @Test
  void flagBeatsEnvBeatsFileBeatsDefault() throws Exception {
    Path f = file("agent { etcd-prefix = /from/file\n subnet-file = /tmp/file.env\n"
        + " healthz-port = 9001\n lease-ttl = 12h }");
    Map<String, String> env = Map.of("FLANNELD_ETCD_PREFIX", "/from/env",
        "FLANNELD_SUBNET_FILE", "/tmp/env.env");

    AgentConfig c = resolve(env, "--config", f.toString(), "--etcd-prefix", "/from/flag");
    assertThat(c.etcdPrefix()).isEqualTo("/from/flag");
    assertThat(c.subnetFile()).isEqualTo(Path.of("/tmp/env.env"));
    assertThat(c.healthzPort()).isEqualTo(9001);
    assertThat(c.leaseTtl()).isEqualTo(Duration.ofHours(12));
    assertThat(c.resyncInterval()).isEqualTo(Duration.ofSeconds(10));
    assertThat(c.configFile()).isEqualTo(f);

    assertThat(resolve(env, "--config", f.toString()).etcdPrefix()).isEqualTo("/from/env");
    assertThat(resolve(Map.of(), "--config", f.toString()).etcdPrefix()).isEqualTo("/from/file");
  }

  @Test
  void configFileFromEnvAndEmptyEnvValuesAreIgnored() throws Exception {
    Path f = file("agent { ip-masq = true }");
    Map<String, String> env = Map.of("FLANNELD_CONFIG", f.toString(), "FLANNELD_IP_MASQ", "",
        "FLANNELD_ETCD_PREFIX", "");
    AgentConfig c = resolve(env);
    assertThat(c.ipMasq()).isTrue();
    assertThat(c.etcdPrefix()).isEqualTo("/coreos.com/network");
    assertThat(c.configFile()).isEqualTo(f);
  }

  @Test
  void booleanFlagsTakeNoValueOrAnExplicitOne() throws Exception {
    assertThat(resolve(Map.of(), "--ip-masq").ipMasq()).isTrue();
    assertThat(resolve(Map.of(), "--ip-masq=true").ipMasq()).isTrue();
    assertThat(resolve(Map.of(), "--ip-masq=false").ipMasq()).isFalse();
    assertThat(resolve(Map.of("FLANNELD_IP_MASQ", "true"), "--ip-masq=false").ipMasq()).isFalse();
    assertThat(resolve(Map.of(), "--iptables-forward-rules=false").iptablesForwardRules()).isFalse();
    assertThat(resolve(Map.of(), "--ip-masq-fully-random-disable").ipMasqFullyRandomDisable())
        .isTrue();
    // Go's strconv.ParseBool forms, as flanneld reads FLANNELD_* values
    assertThat(resolve(Map.of("FLANNELD_IP_MASQ", "1")).ipMasq()).isTrue();
    assertThat(resolve(Map.of("FLANNELD_IP_MASQ", "T")).ipMasq()).isTrue();
    assertThat(resolve(Map.of("FLANNELD_IPTABLES_FORWARD_RULES", "0")).iptablesForwardRules())
        .isFalse();
    assertThat(failure(Map.of("FLANNELD_IP_MASQ", "yes")))
        .isEqualTo("ip-masq must be true or false, got 'yes' (from env FLANNELD_IP_MASQ)");
  }

  @Test
  void repeatableFlagsKeepOrderAndEnvGivesOneValue() throws Exception {
    AgentConfig c = resolve(Map.of(), "--iface", "eth1", "--iface=198.51.100.7", "--iface-regex",
        "^en", "--iface-regex", "^eth[0-9]+$");
    assertThat(c.iface()).containsExactly("eth1", "198.51.100.7");
    assertThat(c.ifaceRegex()).containsExactly("^en", "^eth[0-9]+$");
    assertThat(c.ifaceRegexPatterns()).hasSize(2);

    AgentConfig e = resolve(Map.of("FLANNELD_IFACE", "eth0,eth1", "FLANNELD_IFACE_REGEX", "^e"));
    assertThat(e.iface()).containsExactly("eth0,eth1");
    assertThat(e.ifaceRegex()).containsExactly("^e");
    // the flag replaces the env value, it does not add to it
    assertThat(resolve(Map.of("FLANNELD_IFACE", "eth0"), "--iface", "eth9").iface())
        .containsExactly("eth9");
  }

  @Test
  void fileTakesListsOrSingleValues() throws Exception {
    Path ca = Files.writeString(dir.resolve("ca.pem"), "x");
    Path f = file("""
        agent {
          etcd-endpoints = ["https://198.51.100.1:2379", "https://198.51.100.2:2379"]
          iface = eth1
          iface-regex = ["^en", "^wl"]
          public-ip = 203.0.113.9
          iface-can-reach = "198.51.100.1"
          iptables-resync = 30
          resync-interval = 2.5s
          subnet-lease-renew-margin = 30
          healthz-ip = "::1"
          healthz-port = 8471
          ip-masq = true
          iptables-forward-rules = false
        }
        """);
    AgentConfig c = resolve(Map.of("FLANNELD_ETCD_CAFILE", ca.toString()), "--config=" + f);
    assertThat(c.etcdEndpoints()).containsExactly(
        URI.create("https://198.51.100.1:2379"), URI.create("https://198.51.100.2:2379"));
    assertThat(c.iface()).containsExactly("eth1");
    assertThat(c.ifaceRegex()).containsExactly("^en", "^wl");
    assertThat(c.publicIp().getHostAddress()).isEqualTo("203.0.113.9");
    assertThat(c.ifaceCanReach().getHostAddress()).isEqualTo("198.51.100.1");
    assertThat(c.iptablesResync()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.resyncInterval()).isEqualTo(Duration.ofMillis(2500));
    assertThat(c.subnetLeaseRenewMargin()).isEqualTo(Duration.ofMinutes(30));
    assertThat(c.healthzAddress().getAddress()).isEqualTo(InetAddress.getByName("::1"));
    assertThat(c.healthzAddress().getPort()).isEqualTo(8471);
    assertThat(c.ipMasq()).isTrue();
    assertThat(c.iptablesForwardRules()).isFalse();
  }

  @Test
  void endpointsSplitOnCommasLikeFlannel() throws Exception {
    AgentConfig c = resolve(Map.of(), "--etcd-endpoints",
        "http://127.0.0.1:23790, http://etcd-1.example:2379,198.51.100.3:2379,");
    assertThat(c.etcdEndpoints()).containsExactly(URI.create("http://127.0.0.1:23790"),
        URI.create("http://etcd-1.example:2379"), URI.create("http://198.51.100.3:2379"));
    assertThat(failure(Map.of(), "--etcd-endpoints", "ftp://198.51.100.3:2379")).isEqualTo(
        "etcd-endpoints: invalid etcd endpoint \"ftp://198.51.100.3:2379\": scheme must be http or "
            + "https, e.g. http://10.0.0.5:2379,http://10.0.0.6:2379 (from flag --etcd-endpoints)");
    assertThat(failure(Map.of(), "--etcd-endpoints", " , ")).startsWith(
        "etcd-endpoints: no etcd endpoints given");
  }

  @Test
  void etcdOptionsCarryTheEtcdSettings() throws Exception {
    Path ca = Files.writeString(dir.resolve("ca.pem"), "x");
    AgentConfig c = resolve(Map.of("FLANNELD_ETCD_USERNAME", "flannel",
        "FLANNELD_ETCD_PASSWORD", "pw"), "--etcd-endpoints", "https://198.51.100.3:2379",
        "--etcd-cafile", ca.toString(), "--etcd-prefix", "/tartan/net", "--lease-ttl", "1h");
    EtcdOptions o = c.etcdOptions();
    assertThat(o.endpoints()).containsExactly(URI.create("https://198.51.100.3:2379"));
    assertThat(o.prefix()).isEqualTo("/tartan/net");
    assertThat(o.caFile()).isEqualTo(ca);
    assertThat(o.certFile()).isNull();
    assertThat(o.username()).isEqualTo("flannel");
    assertThat(o.password()).isEqualTo("pw");
    assertThat(o.leaseTtl()).isEqualTo(Duration.ofHours(1));
    assertThat(AgentConfig.defaults().etcdOptions().prefix()).isEqualTo("/coreos.com/network");
    // checked at resolve time, naming where the values came from
    assertThat(failure(Map.of(), "--etcd-endpoints", "https://198.51.100.3:2379")).isEqualTo(
        "etcd settings do not fit together: https etcd endpoints need --etcd-cafile "
            + "(etcd-endpoints from flag --etcd-endpoints)");
  }

  @Test
  void durationsAcceptHoconUnitsAndBareSeconds() throws Exception {
    AgentConfig c = resolve(Map.of("FLANNELD_IPTABLES_RESYNC", "7"), "--lease-ttl", "90m",
        "--resync-interval=500ms");
    assertThat(c.iptablesResync()).isEqualTo(Duration.ofSeconds(7));
    assertThat(c.leaseTtl()).isEqualTo(Duration.ofMinutes(90));
    assertThat(c.resyncInterval()).isEqualTo(Duration.ofMillis(500));
    assertThat(resolve(Map.of(), "--lease-ttl", "30 seconds").leaseTtl())
        .isEqualTo(Duration.ofSeconds(30));
    assertThat(failure(Map.of(), "--resync-interval", "soon")).isEqualTo(
        "resync-interval must be a positive duration like 10s, 5m or 24h (a bare number is seconds), "
            + "got 'soon' (from flag --resync-interval)");
    assertThat(failure(Map.of(), "--iptables-resync", "0")).startsWith(
        "iptables-resync must be a positive duration");
    assertThat(failure(Map.of(), "--lease-ttl", "1500ms")).isEqualTo(
        "lease-ttl must be whole seconds, at least 1s (etcd lease TTLs are seconds), got '1500ms' "
            + "(from flag --lease-ttl)");
  }

  @Test
  void renewMarginIsCheckedWithFlannelsRange() throws Exception {
    assertThat(failure(Map.of("FLANNELD_SUBNET_LEASE_RENEW_MARGIN", "0"))).isEqualTo(
        "subnet-lease-renew-margin must be between 1 and 1439 minutes, got 0 "
            + "(from env FLANNELD_SUBNET_LEASE_RENEW_MARGIN)");
    assertThat(failure(Map.of(), "--subnet-lease-renew-margin", "1440")).isEqualTo(
        "subnet-lease-renew-margin must be between 1 and 1439 minutes, got 1440 "
            + "(from flag --subnet-lease-renew-margin)");
    assertThat(failure(Map.of(), "--subnet-lease-renew-margin", "1h")).isEqualTo(
        "subnet-lease-renew-margin must be a whole number, got '1h' "
            + "(from flag --subnet-lease-renew-margin)");
    assertThat(resolve(Map.of(), "--subnet-lease-renew-margin", "1439").subnetLeaseRenewMargin())
        .isEqualTo(Duration.ofMinutes(1439));
  }

  @Test
  void badValuesInTheFileNameFileAndLine() throws Exception {
    Path f = file("agent {\n  ip-masq = true\n  subnet-lease-renew-margin = 0\n}\n");
    assertThat(failure(Map.of(), "--config", f.toString())).isEqualTo(
        "subnet-lease-renew-margin must be between 1 and 1439 minutes, got 0 "
            + "(from key agent.subnet-lease-renew-margin in " + f + ":3)");
  }

  @Test
  void unknownFileKeysFail() throws Exception {
    Path f = file("agent {\n  ip-masq = true\n  ip-masqq = true\n}\n");
    assertThat(failure(Map.of(), "--config", f.toString())).isEqualTo(
        "unknown key 'agent.ip-masqq' in " + f + ":3 (did you mean ip-masq?); see reference.conf "
            + "or tartan agent --help for the settings");
    Path top = file("ip-masq = true\n");
    assertThat(failure(Map.of(), "--config", top.toString())).isEqualTo(
        "unknown key 'ip-masq' in " + top + ":1: the file may only hold an agent { } block "
            + "(settings go inside an agent { } block)");
    Path nested = file("agent { iface { name = eth0 } }\n");
    assertThat(failure(Map.of(), "--config", nested.toString()))
        .startsWith("iface must be a value, not a block (from key agent.iface in ");
    Path listForScalar = file("agent { public-ip = [198.51.100.1] }\n");
    assertThat(failure(Map.of(), "--config", listForScalar.toString()))
        .startsWith("public-ip takes one value, not a list (from key agent.public-ip in ");
  }

  @Test
  void unreadableOrBrokenFilesFail() throws Exception {
    Path missing = dir.resolve("nope.conf");
    assertThat(failure(Map.of(), "--config", missing.toString())).isEqualTo(
        "config file " + missing + " does not exist or is not readable (from flag --config): "
            + "create it or fix the path");
    Path broken = file("agent { ip-masq = \n");
    assertThat(failure(Map.of(), "--config", broken.toString()))
        .startsWith("cannot read config file " + broken + ": ");
  }

  @Test
  void unknownEnvFailsAndFlannelOnlyEnvIsIgnored() throws Exception {
    assertThat(resolve(Map.of("FLANNELD_KUBE_SUBNET_MGR", "true", "FLANNELD_PUBLIC_IPV6", "fd00::1",
        "FLANNELD_IP_BLACKHOLE_ROUTE", "true", "PATH", "/usr/bin")).ipMasq()).isFalse();
    assertThat(failure(Map.of("FLANNELD_IP_MASQQ", "true"))).isEqualTo(
        "unknown environment variable FLANNELD_IP_MASQQ (did you mean FLANNELD_IP_MASQ?): unset it "
            + "(tartan agent --help lists the settings; each is also FLANNELD_<FLAG>)");
    // empty values are ignored, known or not (flanneld does the same)
    assertThat(resolve(Map.of("FLANNELD_WHATEVER", "")).ipMasq()).isFalse();
  }

  @Test
  void invalidAddressesAndRegexesAreNamed() {
    assertThat(failure(Map.of(), "--public-ip", "my-host")).isEqualTo(
        "public-ip must be an IPv4 address like 198.51.100.7, got 'my-host' (from flag --public-ip)");
    assertThat(failure(Map.of("FLANNELD_IFACE_CAN_REACH", "10.0.0.256"))).isEqualTo(
        "iface-can-reach must be an IPv4 address like 198.51.100.7, got '10.0.0.256' "
            + "(from env FLANNELD_IFACE_CAN_REACH)");
    assertThat(failure(Map.of(), "--healthz-ip", "localhost")).isEqualTo(
        "healthz-ip must be an IP address like 0.0.0.0 or 127.0.0.1, got 'localhost' "
            + "(from flag --healthz-ip)");
    assertThat(failure(Map.of(), "--healthz-port", "70000")).isEqualTo(
        "healthz-port must be between 0 (off) and 65535, got 70000 (from flag --healthz-port)");
    assertThat(failure(Map.of(), "--iface-regex", "eth[")).startsWith(
        "iface-regex 'eth[' is not a valid regular expression: ");
    assertThat(failure(Map.of(), "--iface-regex", "eth[")).endsWith("(from flag --iface-regex)");
  }

  @Test
  void tlsFilesMustExistAndComeInPairs() throws Exception {
    Path cert = Files.writeString(dir.resolve("c.pem"), "x");
    Path key = Files.writeString(dir.resolve("k.pem"), "x");
    Path ca = Files.writeString(dir.resolve("ca.pem"), "x");
    AgentConfig c = resolve(Map.of("FLANNELD_ETCD_CAFILE", ca.toString()), "--etcd-certfile",
        cert.toString(), "--etcd-keyfile", key.toString(), "--etcd-endpoints=https://127.0.0.1:2379");
    assertThat(c.etcdTls()).isTrue();
    assertThat(c.etcdCaFile()).isEqualTo(ca);
    assertThat(failure(Map.of(), "--etcd-certfile", cert.toString())).isEqualTo(
        "etcd-certfile is set (from flag --etcd-certfile) but etcd-keyfile is not: give both for TLS "
            + "client authentication (flag --etcd-keyfile, env FLANNELD_ETCD_KEYFILE or key "
            + "agent.etcd-keyfile)");
    Path none = dir.resolve("missing.pem");
    assertThat(failure(Map.of(), "--etcd-cafile", none.toString())).isEqualTo(
        "etcd-cafile " + none + " is not a readable file (from flag --etcd-cafile): fix the path or "
            + "the file's permissions");
  }

  @Test
  void passwordsNeverShow() throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("FLANNELD_ETCD_PASSWORD", "s3cret-value");
    String msg = failure(env);
    assertThat(msg).doesNotContain("s3cret-value").isEqualTo(
        "etcd-password is set (from env FLANNELD_ETCD_PASSWORD) but etcd-username is not: etcd "
            + "authentication needs both (flag --etcd-username, env FLANNELD_ETCD_USERNAME or key "
            + "agent.etcd-username)");
    env.put("FLANNELD_ETCD_USERNAME", "flannel");
    AgentConfig c = AgentConfig.resolve(flags("--etcd-password", "s3cret-value"), env);
    assertThat(c.etcdPassword()).isEqualTo("s3cret-value");
    assertThat(c.etcdUsername()).isEqualTo("flannel");
    assertThat(c.toString()).doesNotContain("s3cret-value").contains("etcdPassword=***");
    assertThat(flags("--etcd-password", "s3cret-value").toString()).doesNotContain("s3cret-value");
  }

  @Test
  void emptyFlagValueUnsetsAnOptionalSetting() throws Exception {
    Path f = file("agent { public-ip = 203.0.113.5 }");
    assertThat(resolve(Map.of(), "--config", f.toString()).publicIp()).isNotNull();
    assertThat(resolve(Map.of(), "--config", f.toString(), "--public-ip=").publicIp()).isNull();
    assertThat(failure(Map.of(), "--subnet-file=")).isEqualTo(
        "subnet-file must not be empty (from flag --subnet-file)");
  }

  @Test
  void recordChecksItsOwnInvariants() {
    AgentConfig d = AgentConfig.defaults();
    assertThatThrownBy(() -> new AgentConfig(List.of(), d.etcdPrefix(), null, null, null, null, null,
        List.of(), List.of(), null, null, d.subnetFile(), d.subnetLeaseRenewMargin(), false, false,
        true, d.iptablesResync(), d.healthzIp(), 0, d.leaseTtl(), d.resyncInterval(), null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new AgentConfig(d.etcdEndpoints(), d.etcdPrefix(), null, null, null,
        null, null, List.of(), List.of(), null, null, d.subnetFile(), Duration.ofMinutes(1440),
        false, false, true, d.iptablesResync(), d.healthzIp(), 0, d.leaseTtl(), d.resyncInterval(),
        null)).hasMessageContaining("subnet-lease-renew-margin");
  }

  @Test
  void peerExpiryGraceDefaultsToAMinuteAndTakesZero() throws Exception {
    assertThat(resolve(Map.of()).peerExpiryGrace()).isEqualTo(Duration.ofSeconds(60));
    assertThat(resolve(Map.of(), "--peer-expiry-grace", "0").peerExpiryGrace()).isEqualTo(Duration.ZERO);
    assertThat(resolve(Map.of("FLANNELD_PEER_EXPIRY_GRACE", "2m")).peerExpiryGrace()).isEqualTo(Duration.ofMinutes(2));
    assertThat(failure(Map.of(), "--peer-expiry-grace", "-5s")).isEqualTo(
        "peer-expiry-grace must be a duration like 60s or 2m, or 0 for none (a bare number is seconds), "
            + "got '-5s' (from flag --peer-expiry-grace)");
  }

  @Test
  void publicIpv6ComesFromTheFlagOrFlannelsVariable() throws Exception {
    assertThat(resolve(Map.of()).publicIpv6()).isNull();
    assertThat(resolve(Map.of(), "--public-ipv6", "2001:db8::7").publicIpv6())
        .isEqualTo(dev.tartan.net.Ipv6Text.parse("2001:db8::7"));
    assertThat(resolve(Map.of("FLANNELD_PUBLIC_IPV6", "2001:db8::8")).publicIpv6())
        .isEqualTo(dev.tartan.net.Ipv6Text.parse("2001:db8::8"));
    assertThat(failure(Map.of(), "--public-ipv6", "198.51.100.7")).isEqualTo(
        "public-ipv6 must be an IPv6 address like 2001:db8::7, got '198.51.100.7' (from flag --public-ipv6)");
  }
}
