package dev.tartan.agent.firewall;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The real iptables-restore / iptables-save inside a network namespace this test creates (never
 * the root namespace's tables). Needs root, {@code ip} and the iptables package.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class IptablesIT {
  static final Ipv4Subnet C = Ipv4Subnet.parse("10.5.0.0/16");
  static final Ipv4Subnet P = Ipv4Subnet.parse("10.5.72.0/24");
  static final Ipv4Subnet P2 = Ipv4Subnet.parse("10.5.9.0/24");
  static final Ipv6Subnet C6 = Ipv6Subnet.parse("fd00:5::/48");
  static final Ipv6Subnet P6 = Ipv6Subnet.parse("fd00:5:0:48::/64");

  /** flannel's ip6tables rules for IPv6Network C6 and the IPv6 subnet P6 (docs/flannel-compat.md §3.2–§3.3). */
  static final List<String> FLANNEL_IP6_NAT = List.of(
      ":FLANNEL-POSTRTG - [0:0]",
      "-A POSTROUTING -m comment --comment \"flanneld masq\" -j FLANNEL-POSTRTG",
      "-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment \"flanneld masq\" -j RETURN",
      "-A FLANNEL-POSTRTG -s fd00:5:0:48::/64 -d fd00:5::/48 -m comment --comment \"flanneld masq\" -j RETURN",
      "-A FLANNEL-POSTRTG -s fd00:5::/48 -d fd00:5:0:48::/64 -m comment --comment \"flanneld masq\" -j RETURN",
      "-A FLANNEL-POSTRTG ! -s fd00:5::/48 -d fd00:5:0:48::/64 -m comment --comment \"flanneld masq\" -j RETURN",
      "-A FLANNEL-POSTRTG -s fd00:5::/48 ! -d ff00::/8 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully",
      "-A FLANNEL-POSTRTG ! -s fd00:5::/48 -d fd00:5::/48 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully");
  static final List<String> FLANNEL_IP6_FILTER = List.of(
      ":FLANNEL-FWD - [0:0]",
      "-A FORWARD -m comment --comment \"flanneld forward\" -j FLANNEL-FWD",
      "-A FLANNEL-FWD -s fd00:5::/48 -m comment --comment \"flanneld forward\" -j ACCEPT",
      "-A FLANNEL-FWD -d fd00:5::/48 -m comment --comment \"flanneld forward\" -j ACCEPT");

  String ns;
  Iptables ipt;

  @BeforeEach
  void namespace() throws Exception {
    assumeTrue(isRoot(), "needs root to create a network namespace");
    assumeTrue(onPath("ip") && onPath("iptables-restore") && onPath("iptables-save")
        && onPath("iptables"), "needs ip and the iptables package (apt-get install iptables iproute2)");
    ns = "tmasq" + ProcessHandle.current().pid() % 100000 + "x"
        + ThreadLocalRandom.current().nextInt(1000);
    sh("ip", "netns", "add", ns);
    ipt = Iptables.locate(List.of("ip", "netns", "exec", ns));
  }

  @AfterEach
  void cleanup() throws Exception {
    if (ns != null) {
      sh("ip", "netns", "del", ns);
    }
  }

  @Test
  void installsExactlyFlannelsRulesAndASecondRunChangesNothing() throws Exception {
    String rootBefore = rootRules();
    assertThat(ipt.supportsRandomFully()).as("iptables 1.8 takes --random-fully").isTrue();
    TrafficRules rules = TrafficRules.create(ipt, true, false, true);
    rules.install(C, P, Optional.empty(), Optional.empty());

    assertThat(ruleLines("nat")).containsExactly(
        ":FLANNEL-POSTRTG - [0:0]",
        "-A POSTROUTING -m comment --comment \"flanneld masq\" -j FLANNEL-POSTRTG",
        "-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment \"flanneld masq\" -j RETURN",
        "-A FLANNEL-POSTRTG -s 10.5.72.0/24 -d 10.5.0.0/16 -m comment --comment \"flanneld masq\" -j RETURN",
        "-A FLANNEL-POSTRTG -s 10.5.0.0/16 -d 10.5.72.0/24 -m comment --comment \"flanneld masq\" -j RETURN",
        "-A FLANNEL-POSTRTG ! -s 10.5.0.0/16 -d 10.5.72.0/24 -m comment --comment \"flanneld masq\" -j RETURN",
        "-A FLANNEL-POSTRTG -s 10.5.0.0/16 ! -d 224.0.0.0/4 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully",
        "-A FLANNEL-POSTRTG ! -s 10.5.0.0/16 -d 10.5.0.0/16 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully");
    assertThat(ruleLines("filter")).containsExactly(
        ":FLANNEL-FWD - [0:0]",
        "-A FORWARD -m comment --comment \"flanneld forward\" -j FLANNEL-FWD",
        "-A FLANNEL-FWD -s 10.5.0.0/16 -m comment --comment \"flanneld forward\" -j ACCEPT",
        "-A FLANNEL-FWD -d 10.5.0.0/16 -m comment --comment \"flanneld forward\" -j ACCEPT");
    assertThat(rules.inPlace()).isTrue();
    for (RuleSet s : rules.installed()) {
      assertThat(ipt.missing(s)).isEmpty();
    }

    List<String> nat = ruleLines("nat");
    List<String> filter = ruleLines("filter");
    assertThat(rules.resync()).as("nothing missing: resync does nothing").isFalse();
    rules.install(C, P, Optional.of(C), Optional.of(P));
    assertThat(ruleLines("nat")).isEqualTo(nat);
    assertThat(ruleLines("filter")).isEqualTo(filter);
    assertThat(rootRules()).as("the root namespace is untouched").isEqualTo(rootBefore);
  }

  @Test
  void aDeletedRuleOrJumpIsMissingAndResyncPutsItBack() throws Exception {
    TrafficRules rules = TrafficRules.create(ipt, true, false, true);
    rules.install(C, P, Optional.empty(), Optional.empty());
    List<String> nat = ruleLines("nat");
    RuleSet masq = rules.installed().get(0);
    Rule victim = masq.rules().get(2);

    List<String> del = new ArrayList<>(List.of("ip", "netns", "exec", ns, "iptables", "-t", "nat",
        "-D", victim.chain()));
    del.addAll(victim.args());
    sh(del.toArray(String[]::new));
    assertThat(ipt.missing(masq)).containsExactly(victim);
    assertThat(rules.inPlace()).isFalse();
    assertThat(rules.resync()).isTrue();
    assertThat(ruleLines("nat")).isEqualTo(nat);

    sh("ip", "netns", "exec", ns, "iptables", "-t", "filter", "-D", "FORWARD", "-m", "comment",
        "--comment", "flanneld forward", "-j", "FLANNEL-FWD");
    assertThat(ipt.missing(rules.installed().get(1))).containsExactly(rules.installed().get(1).jump());
    assertThat(rules.resync()).isTrue();
    assertThat(rules.resync()).isFalse();
    assertThat(rules.inPlace()).isTrue();

    sh("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-F", "FLANNEL-POSTRTG");
    sh("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-F", "POSTROUTING");
    sh("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-X", "FLANNEL-POSTRTG");
    assertThat(ipt.missing(masq)).isEqualTo(masq.all());
    assertThat(rules.resync()).isTrue();
    assertThat(ruleLines("nat")).isEqualTo(nat);
  }

  @Test
  void aChangedSubnetReplacesTheOldRulesAndKeepsForeignOnes() throws Exception {
    // someone else's rule in POSTROUTING before ours stays where it is
    sh("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-A", "POSTROUTING", "-s",
        "192.168.7.0/24", "-j", "MASQUERADE");
    TrafficRules first = TrafficRules.create(ipt, true, true, false);
    first.install(C, P, Optional.empty(), Optional.empty());
    assertThat(String.join("\n", ruleLines("nat"))).contains("10.5.72.0/24")
        .doesNotContain("random-fully");

    TrafficRules second = TrafficRules.create(ipt, true, true, false);
    second.install(C, P2, Optional.of(C), Optional.of(P));
    List<String> nat = ruleLines("nat");
    assertThat(String.join("\n", nat)).doesNotContain("10.5.72.0/24");
    List<String> expected = new ArrayList<>();
    expected.add(":FLANNEL-POSTRTG - [0:0]");
    expected.add("-A POSTROUTING -s 192.168.7.0/24 -j MASQUERADE");
    MasqRules.masquerade(C, P2, false).all().forEach(r -> expected.add(r.text()));
    assertThat(nat).containsExactlyElementsOf(expected);
    assertThat(ruleLines("filter")).isEmpty();
  }

  @Test
  void dualStackInstallsFlannelsIp6tablesRulesRepairsThemAndRemovesThemWhenIpv6IsOff() throws Exception {
    assumeTrue(onPath("ip6tables-restore") && onPath("ip6tables-save") && onPath("ip6tables"),
        "needs ip6tables (apt-get install iptables)");
    String rootBefore = rootRules() + rootRules6();
    Iptables ip6 = Iptables.locate6(List.of("ip", "netns", "exec", ns));
    TrafficRules rules = TrafficRules.create(ipt, true, false, true);
    rules.install(C, P, C6, P6, Optional.empty(), Optional.empty());

    assertThat(ruleLines(ip6, "nat")).containsExactlyElementsOf(FLANNEL_IP6_NAT);
    assertThat(ruleLines(ip6, "filter")).containsExactlyElementsOf(FLANNEL_IP6_FILTER);
    List<String> v4 = new ArrayList<>();
    MasqRules.masquerade(C, P, true).all().forEach(r -> v4.add(r.text()));
    assertThat(ruleLines("nat")).as("the IPv4 rules as before").containsSubsequence(v4);
    assertThat(rules.installedV6()).extracting(RuleSet::table).containsExactly("nat", "filter");
    assertThat(rules.inPlace()).isTrue();
    assertThat(rules.resync()).isFalse();

    // an IPv6 rule deleted by hand: not in place, resync puts it back
    Rule victim = rules.installedV6().get(0).rules().get(4);
    List<String> del = new ArrayList<>(List.of("ip", "netns", "exec", ns, "ip6tables", "-t", "nat", "-D",
        victim.chain()));
    del.addAll(victim.args());
    sh(del.toArray(String[]::new));
    assertThat(ruleLines(ip6, "nat")).doesNotContain(victim.text());
    assertThat(rules.inPlace()).isFalse();
    assertThat(rules.resync()).isTrue();
    assertThat(ruleLines(ip6, "nat")).containsExactlyElementsOf(FLANNEL_IP6_NAT);
    sh("ip", "netns", "exec", ns, "ip6tables", "-t", "filter", "-F", "FLANNEL-FWD");
    assertThat(rules.resync()).isTrue();
    assertThat(ruleLines(ip6, "filter")).containsExactlyElementsOf(FLANNEL_IP6_FILTER);
    assertThat(rules.resync()).isFalse();

    // a second run keeps everything as it is
    rules.install(C, P, C6, P6, Optional.of(C), Optional.of(P));
    assertThat(ruleLines(ip6, "nat")).containsExactlyElementsOf(FLANNEL_IP6_NAT);

    // IPv6 turned off: our ip6tables chains go, the IPv4 rules stay
    TrafficRules v4Only = TrafficRules.create(ipt, true, false, true);
    v4Only.install(C, P, Optional.of(C), Optional.of(P));
    assertThat(ruleLines(ip6, "nat")).isEmpty();
    assertThat(ruleLines(ip6, "filter")).isEmpty();
    assertThat(v4Only.installedV6()).isEmpty();
    assertThat(ruleLines("nat")).containsSubsequence(v4);
    assertThat(rootRules() + rootRules6()).as("the root namespace is untouched").isEqualTo(rootBefore);
  }

  // ---- helpers

  /** The chain declarations of non-built-in chains and every rule, without comments/counters. */
  List<String> ruleLines(String table) throws IptablesException {
    return ruleLines(ipt, table);
  }

  static List<String> ruleLines(Iptables tables, String table) throws IptablesException {
    List<String> out = new ArrayList<>();
    for (String l : tables.save(table).split("\n")) {
      if (l.startsWith("-A ") || l.startsWith(":") && l.contains(" - [")) {
        out.add(l);
      }
    }
    return out;
  }

  static String rootRules() throws Exception {
    // read-only look at the root namespace's tables, to prove they stay as they were
    StringBuilder b = new StringBuilder();
    for (String t : List.of("nat", "filter")) {
      for (String l : run("iptables-save", "-t", t).split("\n")) {
        if (!l.startsWith("#")) {
          b.append(l).append('\n');
        }
      }
    }
    return b.toString();
  }

  static String rootRules6() throws Exception {
    if (!onPath("ip6tables-save")) {
      return "";
    }
    StringBuilder b = new StringBuilder();
    for (String t : List.of("nat", "filter")) {
      for (String l : run("ip6tables-save", "-t", t).split("\n")) {
        if (!l.startsWith("#")) {
          b.append(l).append('\n');
        }
      }
    }
    return b.toString();
  }

  static boolean isRoot() {
    try {
      return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    }
  }

  static boolean onPath(String name) {
    try {
      Iptables.which(name);
      return true;
    } catch (IptablesException e) {
      return false;
    }
  }

  static void sh(String... cmd) throws Exception {
    run(cmd);
  }

  static String run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError(String.join(" ", cmd) + " failed: " + out);
    }
    return out;
  }
}
