package dev.tartan.agent.firewall;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.net.Ipv4Subnet;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code nft -j list table} output, captured from nft 1.0.6 after applying {@link NftRules}'
 * scripts, read back into tables equal to the ones built; and the differences that drive repair.
 */
class NftJsonTest {
  static final Ipv4Subnet C = Ipv4Subnet.parse("10.5.0.0/16");
  static final Ipv4Subnet P = Ipv4Subnet.parse("10.5.72.0/24");

  static String resource(String name) throws IOException {
    try (InputStream in = NftJsonTest.class.getResourceAsStream("/nft/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void flannelsTableReadBackEqualsTheBuiltOne() throws Exception {
    NftTable read = NftJson.parse(resource("flannel-ipv4-nft-1.0.6.json"));
    NftTable built = NftRules.ipv4(C, P, true, true, true);
    assertThat(read.id()).isEqualTo("ip flannel-ipv4");
    assertThat(read.chain("postrtg").rules()).isEqualTo(built.chain("postrtg").rules());
    assertThat(read.chain("forward").rules()).containsExactly("ip saddr 10.5.0.0/16 accept",
        "ip daddr 10.5.0.0/16 accept");
    assertThat(read.chain("postrtg").prio()).isEqualTo(100);
    assertThat(built.differences(read)).isEmpty();
  }

  @Test
  void theFilterTableReadBackEqualsTheBuiltOne() throws Exception {
    NftTable read = NftJson.parse(resource("tartan-vxlan-nft-1.0.6.json"));
    NftTable built = NftRules.vxlanFilter(8472, List.of(NftRulesTest.ip("203.0.113.9"), NftRulesTest.ip("198.51.100.2")));
    assertThat(read.set("peers").elements()).containsExactly("198.51.100.2", "203.0.113.9");
    assertThat(read.chain("input").rules()).containsExactly("udp dport 8472 ip saddr @peers counter accept",
        "udp dport 8472 counter drop");
    assertThat(built.differences(read)).isEmpty();
    NftTable onePeer = NftRules.vxlanFilter(8472, List.of(NftRulesTest.ip("198.51.100.2")));
    assertThat(onePeer.differences(read)).containsExactly("set peers holds [198.51.100.2, 203.0.113.9], expected [198.51.100.2]");
  }

  @Test
  void driftIsNamed() throws Exception {
    NftTable built = NftRules.ipv4(C, P, true, true, true);
    assertThat(built.differences(null)).containsExactly("table ip flannel-ipv4 is missing");

    NftTable read = NftJson.parse(resource("flannel-ipv4-nft-1.0.6.json"));
    List<String> rules = new ArrayList<>(read.chain("postrtg").rules());
    rules.remove(2);
    rules.add("ip saddr 10.9.0.0/16 [{\"limit\":{}}]");
    NftTable.NftChain c = read.chain("postrtg");
    NftTable.NftChain changed = new NftTable.NftChain(c.name(), c.type(), c.hook(), c.priority(), c.prio(), null, rules);
    NftTable.NftChain foreign = new NftTable.NftChain("extra", "filter", "input", "0", 0, null, List.of("accept"));
    NftTable drifted = new NftTable("ip", "flannel-ipv4", null, List.of(), List.of(changed, foreign));
    assertThat(built.differences(drifted)).containsExactly(
        "chain postrtg lacks: ip saddr 10.5.0.0/16 ip daddr 10.5.72.0/24 return",
        "chain postrtg has a rule that is not ours: ip saddr 10.9.0.0/16 [{\"limit\":{}}]",
        "chain forward is missing",
        "chain extra is not ours (1 rules)");

    List<String> swapped = new ArrayList<>(built.chain("postrtg").rules());
    java.util.Collections.swap(swapped, 0, 1);
    NftTable.NftChain s = built.chain("postrtg");
    NftTable reordered = new NftTable("ip", "flannel-ipv4", null, List.of(), List.of(
        new NftTable.NftChain(s.name(), s.type(), s.hook(), s.priority(), s.prio(), null, swapped),
        built.chain("forward")));
    assertThat(built.differences(reordered)).containsExactly("chain postrtg holds our rules in another order or twice");
  }

  @Test
  void unknownExpressionsNeverLookLikeOurs() {
    String json = "{\"nftables\":[{\"table\":{\"family\":\"ip\",\"name\":\"t\"}},"
        + "{\"chain\":{\"table\":\"t\",\"name\":\"c\",\"type\":\"filter\",\"hook\":\"input\",\"prio\":0}},"
        + "{\"rule\":{\"chain\":\"c\",\"expr\":[{\"match\":{\"op\":\"==\",\"left\":{\"ct\":{\"key\":\"state\"}},"
        + "\"right\":\"established\"}},{\"accept\":null}]}},"
        + "{\"rule\":{\"chain\":\"c\",\"expr\":[{\"match\":{\"op\":\"!=\",\"left\":{\"meta\":{\"key\":\"mark\"}},"
        + "\"right\":16384}},{\"masquerade\":{\"flags\":[\"random\",\"persistent\"]}},{\"jump\":{\"target\":\"x\"}}]}}]}";
    NftTable t = NftJson.parse(json);
    assertThat(t.chain("c").rules()).containsExactly(
        "[{\"match\":{\"op\":\"==\",\"left\":{\"ct\":{\"key\":\"state\"}},\"right\":\"established\"}}] accept",
        "meta mark != 0x00004000 masquerade random,persistent jump x");
    assertThatThrownBy(() -> NftJson.parse("not json")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NftJson.parse("{\"nftables\":[]}")).hasMessageContaining("no table");
  }
}
