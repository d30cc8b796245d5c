package dev.tartan.store;

import dev.tartan.net.Ipv4Subnet;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.store.alloc.SubnetKey;
import dev.tartan.store.alloc.SubnetKeys;
import dev.tartan.store.etcd.EtcdOptions;
import dev.tartan.store.etcd.LeaseJson;
import dev.tartan.store.etcd.MalformedLeaseException;
import dev.tartan.store.testing.Fuzz;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 8, hostile input: the store's parsers of what comes out of etcd (network config, lease
 * JSON, subnet keys) and of the endpoint flag, fed fixed-seed fuzz input ({@link Fuzz}) with a
 * fixed budget. Expected errors are the typed exceptions; anything else is a defect. Plus
 * round-trip properties on random valid values. The netlink parser has its own fuzz test
 * ({@code agent.netlink.rtnl.NetlinkParserFuzzTest}); subnet.env and the CNI stdin are fuzzed in
 * their modules.
 */
@Timeout(60)
class HostileInputFuzzTest {
  static final int TRIES = 2000;

  static final List<String> CONFIGS = List.of(
      "{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}",
      "{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":26,\"SubnetMin\":\"10.5.1.0\",\"SubnetMax\":\"10.5.20.0\","
          + "\"Backend\":{\"Type\":\"vxlan\",\"VNI\":4096,\"Port\":4789,\"GBP\":false,\"DirectRouting\":false}}",
      "{\"network\":\"172.16.0.0/12\",\"subnetlen\":20,\"backend\":{\"type\":\"vxlan\",\"MTU\":1400}}",
      "{\"Network\":\"10.0.0.0/8\",\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\",\"IPv6SubnetLen\":64,"
          + "\"Backend\":{\"Type\":\"vxlan\"}}",
      "{\"Network\":\"10.1.0.0/20\",\"EnableNFTables\":false,\"Backend\":{\"Type\":\"host-gw\"}}");

  static final List<String> LEASES = List.of(
      "{\"PublicIP\":\"192.168.64.3\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,"
          + "\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}",
      "{\"PublicIP\":\"198.51.100.7\",\"PublicIPv6\":\"2001:db8::7\",\"BackendType\":\"vxlan\","
          + "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"02:00:00:00:00:07\"},\"BackendV6Data\":{\"VNI\":1,"
          + "\"VtepMAC\":\"02:00:00:00:00:08\"}}",
      "{\"publicip\":\"10.0.0.1\",\"backendtype\":\"host-gw\",\"Extra\":[1,2,{\"x\":null}]}",
      "{\"PublicIP\":\"203.0.113.9\",\"BackendType\":\"vxlan\",\"BackendData\":\"<&>\"}");

  static final List<String> KEYS = List.of("10.244.3.0-24", "10.5.72.0-26", "10.244.3.0-24&fd00:0:0:1::-64",
      "0.0.0.0-0", "255.255.255.252-30");

  @Test
  void networkConfigParserFailsOnlyWithNetworkConfigException() {
    int ok = Fuzz.run("NetworkConfig.parse", CONFIGS, 1500, NetworkConfig::parse, NetworkConfigException.class);
    assertThat(ok).as("some mutants still parse").isGreaterThan(CONFIGS.size());
  }

  @Test
  void leaseJsonFailsOnlyWithMalformedLeaseException() {
    int ok = Fuzz.run("LeaseJson.decode", LEASES, TRIES, s -> {
      LeaseAttrs a = LeaseJson.decode(s);
      LeaseJson.encode(a); // what we decoded we can write back
    }, MalformedLeaseException.class);
    assertThat(ok).isGreaterThan(LEASES.size());
  }

  @Test
  void subnetKeysNeverThrow() {
    int ok = Fuzz.run("SubnetKeys.parse", KEYS, TRIES, s -> {
      Optional<SubnetKey> k = SubnetKeys.parse(s);
      k.ifPresent(key -> assertThat(SubnetKeys.parse(SubnetKeys.format(key.subnet(), key.ipv6Subnet())))
          .as("re-parse of %s", s).contains(key));
    });
    assertThat(ok).isGreaterThan(KEYS.size());
  }

  @Test
  void subnetTextAndEndpointsFailOnlyWithIllegalArgument() {
    Fuzz.run("Ipv4Subnet.parse", List.of("10.244.0.0/16", "0.0.0.0/0", "198.51.100.7/32"), TRIES,
        Ipv4Subnet::parse, IllegalArgumentException.class);
    Fuzz.run("EtcdOptions.parseEndpoints", List.of("http://127.0.0.1:2379,https://10.0.0.5:2379", "10.0.0.5:4001",
        "https://[fd00::1]:2379"), TRIES, EtcdOptions::parseEndpoints, IllegalArgumentException.class);
  }

  // ---- round trips on random valid values

  static Ipv4Subnet randomSubnet(Random r) {
    int len = r.nextInt(32); // keys go up to /31
    return Ipv4Subnet.of(Ipv4Subnet.toInet(r.nextInt()), len);
  }

  @Test
  void subnetKeysRoundTrip() {
    Random r = new Random(Fuzz.SEED);
    for (int i = 0; i < 2000; i++) {
      Ipv4Subnet s = randomSubnet(r);
      assertThat(SubnetKeys.parse(SubnetKeys.format(s))).as("%s", s).map(SubnetKey::subnet).contains(s);
    }
  }

  @Test
  void leaseJsonRoundTrips() throws Exception {
    Random r = new Random(Fuzz.SEED + 1);
    for (int i = 0; i < 2000; i++) {
      String mac = String.format("%02x:%02x:%02x:%02x:%02x:%02x", r.nextInt(256) & 0xfe, r.nextInt(256),
          r.nextInt(256), r.nextInt(256), r.nextInt(256), r.nextInt(256));
      String data = r.nextBoolean() ? null
          : "{\"VNI\":" + (1 + r.nextInt((1 << 24) - 1)) + ",\"VtepMAC\":\"" + mac + "\"}";
      LeaseAttrs a = LeaseAttrs.ipv4(Ipv4Subnet.toInet(r.nextInt()), r.nextBoolean() ? "vxlan" : "host-gw", data);
      assertThat(LeaseJson.decode(LeaseJson.encode(a))).as("%s", a).isEqualTo(a);
    }
  }

  @Test
  void validNetworkConfigsParseToWhatTheySay() throws Exception {
    Random r = new Random(Fuzz.SEED + 2);
    for (int i = 0; i < 1000; i++) {
      int prefix = 8 + r.nextInt(15); // /8 .. /22
      Ipv4Subnet net = Ipv4Subnet.of(Ipv4Subnet.toInet(r.nextInt()), prefix);
      int subnetLen = prefix + 2 + r.nextInt(Math.min(30, prefix + 8) - prefix - 1);
      String json = "{\"Network\":\"" + net + "\",\"SubnetLen\":" + subnetLen + ",\"Backend\":{\"Type\":\"vxlan\"}}";
      NetworkConfig c = NetworkConfig.parse(json);
      assertThat(c.network()).as(json).isEqualTo(net);
      assertThat(c.subnetLen()).as(json).isEqualTo(subnetLen);
      assertThat(net.contains(c.subnetMin())).as(json).isTrue();
      assertThat(net.contains(c.subnetMax())).as(json).isTrue();
    }
  }
}
