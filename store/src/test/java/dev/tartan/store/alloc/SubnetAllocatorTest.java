package dev.tartan.store.alloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.alloc.SubnetAllocator.Allocation;
import dev.tartan.store.alloc.SubnetAllocator.Source;
import java.net.Inet4Address;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SubnetAllocatorTest {

  private static final Inet4Address OTHER = Ipv4Subnet.toInet(Ipv4Subnet.parseAddress("1.1.1.1"));
  private static final Inet4Address US = Ipv4Subnet.toInet(Ipv4Subnet.parseAddress("1.2.3.4"));

  private static NetworkConfig config(String body) throws Exception {
    return NetworkConfig.parse("{" + body + ",\"Backend\":{\"Type\":\"vxlan\"}}");
  }

  private static SubnetLease lease(String cidr, Inet4Address owner) {
    return new SubnetLease(Ipv4Subnet.parse(cidr), null, LeaseAttrs.ipv4(owner, "vxlan", null),
        Instant.EPOCH.plusSeconds(86400), 7, 1);
  }

  private static SubnetLease reservation(String cidr, Inet4Address owner) {
    return new SubnetLease(Ipv4Subnet.parse(cidr), null, LeaseAttrs.ipv4(owner, "vxlan", null), null, 0, 1);
  }

  private static Optional<Ipv4Subnet> none() {
    return Optional.empty();
  }

  // --- docs/flannel-compat.md §7.6: flannel's allocation fixture ---------------------------------------------

  private static NetworkConfig fixtureConfig() throws Exception {
    return config("\"Network\":\"10.3.0.0/16\",\"SubnetMin\":\"10.3.1.0\",\"SubnetMax\":\"10.3.25.0\"");
  }

  private static List<SubnetLease> fixtureLeases() {
    List<SubnetLease> l = new ArrayList<>();
    for (String s : new String[] {"10.3.1.0/24", "10.3.2.0/24", "10.3.4.0/24", "10.3.5.0/24", "10.3.31.0/24"}) {
      l.add(lease(s, OTHER));
    }
    return l;
  }

  @Test
  void fixtureNewNodeGetsAFreeSubnetInRangeAndReusesItAfterwards() throws Exception {
    NetworkConfig cfg = fixtureConfig();
    List<SubnetLease> leases = fixtureLeases();
    for (long seed = 0; seed < 50; seed++) {
      Allocation a = SubnetAllocator.allocate(cfg, leases, US, none(), new Random(seed));
      assertThat(a.source()).isEqualTo(Source.RANDOM);
      assertThat(cfg.accepts(a.subnet())).isTrue();
      assertThat(leases).noneMatch(l -> l.subnet().overlaps(a.subnet()));
      assertThat(a.incompatible()).isEmpty();

      List<SubnetLease> after = new ArrayList<>(leases);
      after.add(lease(a.subnet().toString(), US));
      Allocation again = SubnetAllocator.allocate(cfg, after, US, none(), new Random(seed + 1000));
      assertThat(again.source()).isEqualTo(Source.REUSE);
      assertThat(again.subnet()).isEqualTo(a.subnet());
      assertThat(again.existing().attrs().publicIp()).isEqualTo(US);
    }
  }

  @Test
  void fixturePreviousSubnetIsTakenExactly() throws Exception {
    Allocation a = SubnetAllocator.allocate(fixtureConfig(), fixtureLeases(), US,
        Optional.of(Ipv4Subnet.parse("10.3.6.0/24")), new Random(1));
    assertThat(a.source()).isEqualTo(Source.PREVIOUS);
    assertThat(a.subnet()).isEqualTo(Ipv4Subnet.parse("10.3.6.0/24"));
  }

  @Test
  void fixturePreviousSubnetOutsideTheNetworkIsNotReused() throws Exception {
    for (long seed = 0; seed < 20; seed++) {
      Allocation a = SubnetAllocator.allocate(fixtureConfig(), fixtureLeases(), US,
          Optional.of(Ipv4Subnet.parse("10.4.1.0/24")), new Random(seed));
      assertThat(a.source()).isEqualTo(Source.RANDOM);
      assertThat(a.subnet()).isNotEqualTo(Ipv4Subnet.parse("10.4.1.0/24"));
      assertThat(Ipv4Subnet.parse("10.3.0.0/16").contains(a.subnet())).isTrue();
    }
  }

  @Test
  void fixtureConfigChangeDeletesTheOldLeaseAndTakesOneInTheNewNetwork() throws Exception {
    List<SubnetLease> leases = fixtureLeases();
    SubnetLease ours = lease("10.3.7.0/24", US);
    leases.add(ours);
    NetworkConfig changed = config("\"Network\":\"10.4.0.0/16\"");
    Allocation a = SubnetAllocator.allocate(changed, leases, US, Optional.of(Ipv4Subnet.parse("10.3.7.0/24")),
        new Random(3));
    assertThat(a.incompatible()).containsExactly(ours);
    assertThat(a.source()).isEqualTo(Source.RANDOM);
    assertThat(Ipv4Subnet.parse("10.4.0.0/16").contains(a.subnet())).isTrue();
    assertThat(changed.accepts(a.subnet())).isTrue();
  }

  // --- the other rules ---------------------------------------------------------------------

  @Test
  void previousSubnetOverlappingAnotherLeaseIsNotTaken() throws Exception {
    Allocation a = SubnetAllocator.allocate(fixtureConfig(), fixtureLeases(), US,
        Optional.of(Ipv4Subnet.parse("10.3.4.0/24")), new Random(1));
    assertThat(a.source()).isEqualTo(Source.RANDOM);
    assertThat(a.subnet()).isNotEqualTo(Ipv4Subnet.parse("10.3.4.0/24"));
  }

  @Test
  void previousSubnetOfTheWrongLengthIsNotTaken() throws Exception {
    Allocation a = SubnetAllocator.allocate(fixtureConfig(), fixtureLeases(), US,
        Optional.of(Ipv4Subnet.parse("10.3.6.0/25")), new Random(1));
    assertThat(a.source()).isEqualTo(Source.RANDOM);
  }

  @Test
  void anOverlappingLeaseOfAnotherLengthOrOutsideTheRangeExcludesCandidates() throws Exception {
    NetworkConfig cfg = fixtureConfig(); // 10.3.1.0 .. 10.3.25.0
    List<SubnetLease> leases = List.of(lease("10.3.0.0/20", OTHER), lease("10.3.16.0/21", OTHER));
    List<Ipv4Subnet> free = SubnetAllocator.freeCandidates(cfg, leases, 100);
    assertThat(free).extracting(Ipv4Subnet::toString)
        .containsExactly("10.3.24.0/24", "10.3.25.0/24");
  }

  @Test
  void randomPickIsUniformAmongTheFirstHundredFree() throws Exception {
    NetworkConfig cfg = config("\"Network\":\"10.0.0.0/8\"");
    List<SubnetLease> leases = List.of(lease("10.0.1.0/24", OTHER), lease("10.0.3.0/24", OTHER));
    List<Ipv4Subnet> first100 = SubnetAllocator.freeCandidates(cfg, leases, 100);
    assertThat(first100).hasSize(100);
    assertThat(first100.get(0).toString()).isEqualTo("10.0.2.0/24");
    assertThat(first100.get(99).toString()).isEqualTo("10.0.102.0/24");
    Set<Ipv4Subnet> seen = new HashSet<>();
    Random r = new Random(42);
    for (int i = 0; i < 2000; i++) {
      Ipv4Subnet s = SubnetAllocator.allocate(cfg, leases, US, none(), r).subnet();
      assertThat(first100).contains(s);
      seen.add(s);
    }
    assertThat(seen).hasSizeGreaterThan(90); // 2000 draws over 100 slots miss none with overwhelming odds
  }

  @Test
  void outOfSubnetsNamesTheRange() throws Exception {
    NetworkConfig cfg = config("\"Network\":\"10.3.0.0/16\",\"SubnetMin\":\"10.3.1.0\",\"SubnetMax\":\"10.3.2.0\"");
    List<SubnetLease> leases = List.of(lease("10.3.1.0/24", OTHER), lease("10.3.2.0/24", OTHER));
    assertThatThrownBy(() -> SubnetAllocator.allocate(cfg, leases, US, none(), new Random()))
        .isInstanceOf(OutOfSubnetsException.class)
        .hasMessage("out of subnets: every /24 between 10.3.1.0 and 10.3.2.0 in network 10.3.0.0/16 is leased"
            + " (2 leases); release unused leases (tartan leases release SUBNET) or widen SubnetMin/SubnetMax");
  }

  @Test
  void reuseIsByPublicIpAndPrefersAReservation() throws Exception {
    NetworkConfig cfg = fixtureConfig();
    SubnetLease leased = lease("10.3.10.0/24", US);
    SubnetLease reserved = reservation("10.3.20.0/24", US);
    Allocation a = SubnetAllocator.allocate(cfg, List.of(lease("10.3.9.0/24", OTHER), leased, reserved), US,
        Optional.of(Ipv4Subnet.parse("10.3.6.0/24")), new Random());
    assertThat(a.source()).isEqualTo(Source.REUSE);
    assertThat(a.existing()).isEqualTo(reserved);
    assertThat(a.subnet()).isEqualTo(Ipv4Subnet.parse("10.3.20.0/24"));
  }

  @Test
  void reuseTakesTheFirstInEtcdKeyOrder() throws Exception {
    NetworkConfig cfg = fixtureConfig();
    // "10.3.10.0-24" sorts before "10.3.9.0-24" as etcd keys
    Allocation a = SubnetAllocator.allocate(cfg, List.of(lease("10.3.9.0/24", US), lease("10.3.10.0/24", US)), US,
        none(), new Random());
    assertThat(a.subnet()).isEqualTo(Ipv4Subnet.parse("10.3.10.0/24"));
  }

  @Test
  void dualStackLeaseIsIncompatibleWhenIpv6IsOff() throws Exception {
    SubnetLease dual = new SubnetLease(Ipv4Subnet.parse("10.3.8.0/24"),
        dev.tartan.net.Ipv6Subnet.parse("fd00:12:13::/56"),
        LeaseAttrs.ipv4(US, "vxlan", null), Instant.EPOCH, 5, 1);
    Allocation a = SubnetAllocator.allocate(fixtureConfig(), List.of(dual), US, none(), new Random(1));
    assertThat(a.incompatible()).containsExactly(dual);
    assertThat(a.source()).isEqualTo(Source.RANDOM);
    assertThat(a.subnet()).isNotEqualTo(Ipv4Subnet.parse("10.3.8.0/24")); // still overlaps until deleted
  }
}
