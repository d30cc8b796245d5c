package dev.tartan.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.SubnetLease;
import java.net.Inet4Address;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class LeasesRenderingTest {
  private static final Instant NOW = Instant.parse("2026-11-27T10:00:00Z");

  private static Inet4Address ip(String s) {
    return Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(s));
  }

  private static final SubnetLease LEASED = new SubnetLease(Ipv4Subnet.parse("10.244.1.0/24"), null,
      LeaseAttrs.ipv4(ip("198.51.100.1"), "vxlan", "{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}"),
      NOW.plus(Duration.ofHours(23).plusMinutes(59).plusSeconds(30)), 7587891234L, 12);
  private static final SubnetLease RESERVED = new SubnetLease(Ipv4Subnet.parse("10.244.17.0/24"), null,
      LeaseAttrs.ipv4(ip("198.51.100.17"), null, null), null, 0, 13);
  private static final SubnetLease LOWERCASE_KEYS = new SubnetLease(Ipv4Subnet.parse("10.244.2.0/24"), null,
      LeaseAttrs.ipv4(ip("198.51.100.2"), "vxlan", "{\"vni\":1,\"vtepmac\":\"aa:bb:cc:dd:ee:ff\"}"),
      NOW.plusSeconds(42), 99, 14);

  @Test
  void tableHasTheColumnsAligned() {
    String table = LeasesCommand.table(List.of(LEASED, LOWERCASE_KEYS, RESERVED), NOW);
    assertThat(table).isEqualTo(String.join("\n",
        "SUBNET          PUBLIC-IP      BACKEND  VTEP-MAC           TTL-LEFT  RESERVED",
        "10.244.1.0/24   198.51.100.1   vxlan    c6:d2:32:6f:8f:44  23h59m    no",
        "10.244.2.0/24   198.51.100.2   vxlan    aa:bb:cc:dd:ee:ff  42s       no",
        "10.244.17.0/24  198.51.100.17  -        -                  -         yes",
        ""));
  }

  private static final SubnetLease DUAL = new SubnetLease(Ipv4Subnet.parse("10.244.3.0/24"),
      Ipv6Subnet.parse("fd00:10:244:3::/64"), new LeaseAttrs(ip("198.51.100.3"), Ipv6Text.parse("2001:db8::3"),
          "vxlan", "{\"VNI\":1,\"VtepMAC\":\"0a:00:00:00:00:03\"}", "{\"VNI\":1,\"VtepMAC\":\"0a:00:00:00:06:03\"}"),
      NOW.plusSeconds(3600), 5, 15);

  @Test
  void dualStackLeasesShowTheirIpv6SubnetAndPublicIpv6() {
    String table = LeasesCommand.table(List.of(LEASED, DUAL, RESERVED), NOW);
    assertThat(table).isEqualTo(String.join("\n",
        "SUBNET          IPV6-SUBNET         PUBLIC-IP      PUBLIC-IPV6  BACKEND  VTEP-MAC           TTL-LEFT  RESERVED",
        "10.244.1.0/24   -                   198.51.100.1   -            vxlan    c6:d2:32:6f:8f:44  23h59m    no",
        "10.244.3.0/24   fd00:10:244:3::/64  198.51.100.3   2001:db8::3  vxlan    0a:00:00:00:00:03  1h00m     no",
        "10.244.17.0/24  -                   198.51.100.17  -            -        -                  -         yes",
        ""));
  }

  @Test
  void jsonCarriesTheIpv6SubnetAndPublicIpv6() throws Exception {
    JsonNode array = new ObjectMapper().readTree(LeasesCommand.json(List.of(LEASED, DUAL), NOW));
    assertThat(array.get(0).get("ipv6Subnet").isNull()).isTrue();
    assertThat(array.get(0).get("publicIpv6").isNull()).isTrue();
    assertThat(array.get(1).get("ipv6Subnet").asText()).isEqualTo("fd00:10:244:3::/64");
    assertThat(array.get(1).get("publicIpv6").asText()).isEqualTo("2001:db8::3");
  }

  @Test
  void networkShowPrintsTheIpv6RangeWithFlannelsDefaults() throws Exception {
    NetworkConfig dual = NetworkConfig.parse("{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true,"
        + "\"IPv6Network\":\"fd00:10:244::/48\",\"Backend\":{\"Type\":\"vxlan\"}}");
    assertThat(NetworkCommand.ipv6Lines(dual)).isEqualTo(String.join(System.lineSeparator(),
        "IPv6Network:    fd00:10:244::/48",
        "IPv6SubnetLen:  64",
        "IPv6SubnetMin:  fd00:10:244:1::",
        "IPv6SubnetMax:  fd00:10:244:ffff::",
        "IPv6 subnets:   65535 host subnets of /64",
        ""));
    NetworkConfig v4 = NetworkConfig.parse("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    assertThat(NetworkCommand.ipv6Lines(v4)).isEmpty();
  }

  @Test
  void emptyListIsJustTheHeader() {
    assertThat(LeasesCommand.table(List.of(), NOW)).isEqualTo("SUBNET  PUBLIC-IP  BACKEND  VTEP-MAC  TTL-LEFT  RESERVED\n");
    assertThat(LeasesCommand.json(List.of(), NOW)).isEqualTo("[ ]");
  }

  @Test
  void jsonHasOneObjectPerLease() throws Exception {
    JsonNode array = new ObjectMapper().readTree(LeasesCommand.json(List.of(LEASED, RESERVED), NOW));
    assertThat(array).hasSize(2);
    JsonNode first = array.get(0);
    assertThat(first.get("subnet").asText()).isEqualTo("10.244.1.0/24");
    assertThat(first.get("publicIp").asText()).isEqualTo("198.51.100.1");
    assertThat(first.get("backend").asText()).isEqualTo("vxlan");
    assertThat(first.get("vtepMac").asText()).isEqualTo("c6:d2:32:6f:8f:44");
    assertThat(first.get("ttlLeftSeconds").asLong()).isEqualTo(86370);
    assertThat(first.get("reserved").asBoolean()).isFalse();
    JsonNode second = array.get(1);
    assertThat(second.get("backend").isNull()).isTrue();
    assertThat(second.get("vtepMac").isNull()).isTrue();
    assertThat(second.get("ttlLeftSeconds").isNull()).isTrue();
    assertThat(second.get("reserved").asBoolean()).isTrue();
  }

  @Test
  void ttlFormatting() {
    assertThat(LeasesCommand.formatTtl(Duration.ofHours(24))).isEqualTo("24h00m");
    assertThat(LeasesCommand.formatTtl(Duration.ofSeconds(245))).isEqualTo("4m05s");
    assertThat(LeasesCommand.formatTtl(Duration.ZERO)).isEqualTo("0s");
    assertThat(LeasesCommand.ttlLeft(LEASED, NOW.plus(Duration.ofDays(2)))).isEqualTo(Duration.ZERO);
  }
}
