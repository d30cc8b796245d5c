package dev.tartan.cni;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Names, CNI_ARGS, versions and the `ip -j addr` reader. */
class SmallPartsTest {

  @ParameterizedTest
  @ValueSource(strings = {"a", "0", "abc-DEF_1.2", "5f0d4c2b9e1a", "cds-training"})
  void validIds(String id) {
    assertThat(Names.validId(id)).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "-a", "_a", ".a", "a/b", "a b", "a:b", "1234%%%", "..", "ü"})
  void invalidIds(String id) {
    assertThat(Names.validId(id)).isFalse();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "``|interface name is empty",
      "eth0123456789012|interface name is too long",
      ".|interface name is . or ..",
      "..|interface name is . or ..",
      "eth0:1|interface name contains / or : or whitespace characters",
      "a/b|interface name contains / or : or whitespace characters",
      "`a b`|interface name contains / or : or whitespace characters",
  })
  void invalidIfnames(String ifname, String problem) {
    assertThat(Names.ifnameProblem(ifname)).isEqualTo(problem);
  }

  @Test
  void validIfnames() {
    assertThat(Names.ifnameProblem("eth0")).isNull();
    assertThat(Names.ifnameProblem("eth012345678901")).isNull();
  }

  @Test
  void cniArgsToleratesPodmanAndKubeletKeys() {
    Map<String, String> a = CniArgs.parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;"
        + "K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1;garbage;=x;IP=10.1.1.1");
    assertThat(a).containsEntry("IgnoreUnknown", "1").containsEntry("K8S_POD_NAME", "web-0")
        .containsEntry("K8S_POD_NAMESPACE", "default").containsEntry("IP", "10.1.1.1").hasSize(6);
    assertThat(CniArgs.podOf(a)).isEqualTo("pod default/web-0");
    assertThat(CniArgs.podOf(CniArgs.parse("IgnoreUnknown=1;K8S_POD_NAME=busy"))).isEqualTo("pod busy");
    assertThat(CniArgs.podOf(CniArgs.parse(""))).isEmpty();
    assertThat(CniArgs.parse(null)).isEmpty();
  }

  @Test
  void versionOrder() {
    assertThat(CniVersions.compare("0.4.0", "1.0.0")).isNegative();
    assertThat(CniVersions.compare("1.1.0", "1.0.0")).isPositive();
    assertThat(CniVersions.compare("0.3.1", "0.3.1")).isZero();
    assertThat(CniVersions.compare("0.10.0", "0.9.0")).isPositive();
    assertThat(CniVersions.compare("1.0", "1.0.0")).isZero();
    assertThat(CniVersions.compare("x", "0.0.0")).isNegative();
    assertThat(CniVersions.SUPPORTED).containsExactly("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0");
  }

  @Test
  void readsIpJsonAddrOutput() throws Exception {
    String out = "[{\"ifindex\":2,\"link_index\":3,\"ifname\":\"eth0\",\"flags\":[\"BROADCAST\",\"UP\"],\"mtu\":1450,"
        + "\"addr_info\":[{\"family\":\"inet\",\"local\":\"10.244.7.2\",\"prefixlen\":24,\"broadcast\":\"10.244.7.255\","
        + "\"scope\":\"global\",\"label\":\"eth0\",\"valid_life_time\":4294967295,\"preferred_life_time\":4294967295},"
        + "{\"family\":\"inet6\",\"local\":\"fe80::a467:fff:fe7a:6e76\",\"prefixlen\":64,\"scope\":\"link\"}]}]\n";
    assertThat(NetnsProbe.parse(out)).containsExactly("10.244.7.2/24", "fe80::a467:fff:fe7a:6e76/64");
    assertThat(NetnsProbe.parse("[{\"ifname\":\"eth0\",\"addr_info\":[]}]")).isEmpty();
    assertThat(NetnsProbe.parse("")).isEmpty();
  }

  @Test
  void aHungProbeIsKilledAfterItsTimeout() throws Exception {
    long t0 = System.nanoTime();
    NetnsProbe.Probe r = NetnsProbe.run(java.util.List.of("sh", "-c", "echo started; sleep 30; echo never"), 300);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(r.timedOut()).isTrue();
    assertThat(r.output()).contains("started").doesNotContain("never");
    assertThat(ms).isLessThan(20_000); // far below the 30 s the command would take
    NetnsProbe.Probe ok = NetnsProbe.run(java.util.List.of("sh", "-c", "echo fine"), 10_000);
    assertThat(ok.timedOut()).isFalse();
    assertThat(ok.status()).isZero();
    assertThat(ok.output()).isEqualTo("fine\n");
  }
}
