package dev.tartan.store.alloc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
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
        Ipv6Subnet.parse("fd00:12:13::/56"),
        LeaseAttrs.ipv4(US, "vxlan", null), Instant.EPOCH, 5, 1);
    Allocation a = SubnetAllocator.allocate(fixtureConfig(), List.of(dual), US, none(), new Random(1));
    assertThat(a.incompatible()).containsExactly(dual);
    assertThat(a.source()).isEqualTo(Source.KEPT); // the IPv4 part still fits: the pods keep their addresses
    assertThat(a.subnet()).isEqualTo(Ipv4Subnet.parse("10.3.8.0/24"));
    assertThat(a.ipv6Subnet()).isNull();
    assertThat(a.key()).hasToString("10.3.8.0-24");
  }

  // --- dual stack ------------------------------------------------------------------------------

  /** 10.3.1.0 .. 10.3.25.0 and IPv6 fc00:0:0:1::/64 .. fc00:0:0:ffff::/64 (flannel's defaults for a /48). */
  private static NetworkConfig dualConfig() throws Exception {
    return config("\"Network\":\"10.3.0.0/16\",\"SubnetMin\":\"10.3.1.0\",\"SubnetMax\":\"10.3.25.0\","
        + "\"EnableIPv6\":true,\"IPv6Network\":\"fc00::/48\"");
  }

  private static SubnetLease dual(String cidr, String cidr6, Inet4Address owner) {
    return new SubnetLease(Ipv4Subnet.parse(cidr), cidr6 == null ? null : Ipv6Subnet.parse(cidr6),
        LeaseAttrs.ipv4(owner, "vxlan", null), Instant.EPOCH.plusSeconds(86400), 7, 1);
  }

  private static Optional<Ipv6Subnet> v6(String cidr) {
    return Optional.of(Ipv6Subnet.parse(cidr));
  }

  @Test
  void dualStackPicksBothFamiliesAtRandomAmongTheFirst100FreeSubnets() throws Exception {
    NetworkConfig cfg = dualConfig();
    List<SubnetLease> leases = List.of(dual("10.3.1.0/24", "fc00:0:0:1::/64", OTHER),
        dual("10.3.2.0/24", "fc00:0:0:3::/64", OTHER), dual("10.3.3.0/24", "fc00:0:0:ff00::/56", OTHER),
        dual("10.3.31.0/24", "fc00:0:1::/64", OTHER)); // one outside both ranges
    Set<Ipv6Subnet> seen = new HashSet<>();
    for (long seed = 0; seed < 400; seed++) {
      Allocation a = SubnetAllocator.allocate(cfg, leases, US, none(), Optional.empty(), new Random(seed));
      assertThat(a.source()).isEqualTo(Source.RANDOM);
      assertThat(a.ipv6Source()).isEqualTo(Source.RANDOM);
      assertThat(cfg.acceptsV6(a.ipv6Subnet())).isTrue();
      assertThat(leases).noneMatch(l -> l.ipv6Subnet().overlaps(a.ipv6Subnet()));
      assertThat(a.key().toString()).matches("10\\.3\\.\\d+\\.0-24&fc00:0:0:[0-9a-f]+::-64");
      seen.add(a.ipv6Subnet());
    }
    // the first 100 free: fc00:0:0:2:: and fc00:0:0:4:: .. fc00:0:0:66:: (0x66 = 102)
    List<Ipv6Subnet> first100 = SubnetAllocator.freeV6Candidates(cfg, leases, 100);
    assertThat(first100).hasSize(100).startsWith(Ipv6Subnet.parse("fc00:0:0:2::/64"), Ipv6Subnet.parse("fc00:0:0:4::/64"))
        .endsWith(Ipv6Subnet.parse("fc00:0:0:66::/64"));
    assertThat(first100).containsAll(seen);
    assertThat(seen.size()).isGreaterThan(50);
  }

  @Test
  void previousSubnetsAreTakenPerFamilyWhenFreeAndValid() throws Exception {
    NetworkConfig cfg = dualConfig();
    List<SubnetLease> leases = List.of(dual("10.3.1.0/24", "fc00:0:0:1::/64", OTHER));
    Allocation both = SubnetAllocator.allocate(cfg, leases, US, Optional.of(Ipv4Subnet.parse("10.3.6.0/24")),
        v6("fc00:0:0:9::/64"), new Random(1));
    assertThat(both.source()).isEqualTo(Source.PREVIOUS);
    assertThat(both.ipv6Source()).isEqualTo(Source.PREVIOUS);
    assertThat(both.key()).hasToString("10.3.6.0-24&fc00:0:0:9::-64");

    Allocation v6Taken = SubnetAllocator.allocate(cfg, leases, US, Optional.of(Ipv4Subnet.parse("10.3.6.0/24")),
        v6("fc00:0:0:1::/64"), new Random(1));
    assertThat(v6Taken.source()).isEqualTo(Source.PREVIOUS);
    assertThat(v6Taken.ipv6Source()).isEqualTo(Source.RANDOM);
    assertThat(v6Taken.ipv6Subnet()).isNotEqualTo(Ipv6Subnet.parse("fc00:0:0:1::/64"));

    for (String bad : new String[] {"fc00:0:1::/64", "fc00:0:0:9::/60", "fd00:0:0:9::/64"}) {
      Allocation a = SubnetAllocator.allocate(cfg, leases, US, none(), v6(bad), new Random(1));
      assertThat(a.ipv6Source()).as(bad).isEqualTo(Source.RANDOM);
    }

    Allocation v4Taken = SubnetAllocator.allocate(cfg, leases, US, Optional.of(Ipv4Subnet.parse("10.3.1.0/24")),
        v6("fc00:0:0:9::/64"), new Random(1));
    assertThat(v4Taken.source()).isEqualTo(Source.RANDOM);
    assertThat(v4Taken.ipv6Source()).isEqualTo(Source.PREVIOUS);
  }

  @Test
  void withIpv6OffThePreviousIpv6SubnetIsIgnoredAndKeysStayIpv4Only() throws Exception {
    Allocation a = SubnetAllocator.allocate(fixtureConfig(), fixtureLeases(), US, none(), v6("fc00:0:0:9::/64"),
        new Random(1));
    assertThat(a.ipv6Subnet()).isNull();
    assertThat(a.ipv6Source()).isNull();
    assertThat(SubnetAllocator.freeV6Candidates(fixtureConfig(), fixtureLeases(), 100)).isEmpty();
  }

  @Test
  void ourLeaseIsReusedOnlyWithAValidIpv6Part() throws Exception {
    NetworkConfig cfg = dualConfig();
    SubnetLease ok = dual("10.3.8.0/24", "fc00:0:0:8::/64", US);
    Allocation reuse = SubnetAllocator.allocate(cfg, List.of(ok), US, none(), Optional.empty(), new Random(1));
    assertThat(reuse.source()).isEqualTo(Source.REUSE);
    assertThat(reuse.ipv6Source()).isEqualTo(Source.REUSE);
    assertThat(reuse.ipv6Subnet()).isEqualTo(ok.ipv6Subnet());
    assertThat(reuse.existing()).isEqualTo(ok);

    for (String bad : new String[] {null, "fc00:0:0:8::/60", "fc00:0:1::/64", "fd00:0:0:8::/64"}) {
      SubnetLease l = dual("10.3.8.0/24", bad, US);
      Allocation a = SubnetAllocator.allocate(cfg, List.of(l, dual("10.3.1.0/24", "fc00:0:0:1::/64", OTHER)), US,
          none(), v6("fc00:0:0:1::/64") /* taken by OTHER */, new Random(2));
      assertThat(a.incompatible()).as("IPv6 part %s", bad).containsExactly(l);
      assertThat(a.source()).isEqualTo(Source.KEPT);
      assertThat(a.subnet()).isEqualTo(l.subnet());
      assertThat(a.ipv6Source()).isEqualTo(Source.RANDOM);
      assertThat(cfg.acceptsV6(a.ipv6Subnet())).isTrue();
      assertThat(a.ipv6Subnet()).isNotEqualTo(Ipv6Subnet.parse("fc00:0:0:1::/64"));
      assertThat(a.reservation()).isFalse();
    }
  }

  @Test
  void aValidIpv6PartOfOurReplacedLeaseIsKeptWhenItsIpv4PartNoLongerFits() throws Exception {
    SubnetLease old = dual("10.3.40.0/24", "fc00:0:0:8::/64", US); // 10.3.40.0 is above SubnetMax
    Allocation a = SubnetAllocator.allocate(dualConfig(), List.of(old), US, none(), Optional.empty(), new Random(1));
    assertThat(a.incompatible()).containsExactly(old);
    assertThat(a.source()).isEqualTo(Source.RANDOM);
    assertThat(a.ipv6Source()).isEqualTo(Source.KEPT);
    assertThat(a.ipv6Subnet()).isEqualTo(old.ipv6Subnet());
  }

  @Test
  void noFreeIpv6SubnetIsOneClearError() throws Exception {
    NetworkConfig cfg = config("\"Network\":\"10.3.0.0/16\",\"EnableIPv6\":true,\"IPv6Network\":\"fc00::/48\","
        + "\"IPv6SubnetMin\":\"fc00:0:0:1::\",\"IPv6SubnetMax\":\"fc00:0:0:2::\"");
    List<SubnetLease> leases = List.of(dual("10.3.1.0/24", "fc00:0:0:1::/64", OTHER),
        dual("10.3.2.0/24", "fc00:0:0:2::/64", OTHER));
    assertThatThrownBy(() -> SubnetAllocator.allocate(cfg, leases, US, none(), Optional.empty(), new Random(1)))
        .isInstanceOf(OutOfSubnetsException.class)
        .hasMessage("out of IPv6 subnets: every /64 between fc00:0:0:1:: and fc00:0:0:2:: in IPv6Network fc00::/48"
            + " is leased (2 leases); release unused leases (tartan leases release SUBNET) or widen"
            + " IPv6SubnetMin/IPv6SubnetMax");
  }

  @Test
  void freeCandidatesAreExactlyTheSubnetsNoLeaseOverlapsWhateverTheLeaseLengths() throws Exception {
    NetworkConfig cfg = config("\"Network\":\"10.3.0.0/16\",\"SubnetLen\":26,\"EnableIPv6\":true,"
        + "\"IPv6Network\":\"fc00::/56\",\"IPv6SubnetLen\":62");
    Random r = new Random(7);
    for (int round = 0; round < 200; round++) {
      List<SubnetLease> leases = new ArrayList<>();
      for (int i = 0, n = r.nextInt(40); i < n; i++) {
        int len4 = 20 + r.nextInt(13); // /20 .. /32, some containing many candidates, some inside one
        int len6 = 52 + r.nextInt(20);
        Ipv4Subnet s4 = new Ipv4Subnet(0x0a030000 | r.nextInt(1 << 16), len4);
        Ipv6Subnet s6 = new Ipv6Subnet(0xfc00000000000000L | r.nextInt(1 << 12) << 4, 0, len6);
        leases.add(new SubnetLease(s4, s6, LeaseAttrs.ipv4(OTHER, "vxlan", null), null, 0, 1));
      }
      List<Ipv4Subnet> want4 = new ArrayList<>();
      for (long ip = Integer.toUnsignedLong(Ipv4Subnet.toInt(cfg.subnetMin()));
          ip <= Integer.toUnsignedLong(Ipv4Subnet.toInt(cfg.subnetMax())) && want4.size() < 100; ip += 64) {
        Ipv4Subnet c = new Ipv4Subnet((int) ip, 26);
        if (leases.stream().noneMatch(l -> l.subnet().overlaps(c))) {
          want4.add(c);
        }
      }
      assertThat(SubnetAllocator.freeCandidates(cfg, leases, 100)).isEqualTo(want4);
      List<Ipv6Subnet> want6 = new ArrayList<>();
      for (long hi = Ipv6Subnet.of(cfg.ipv6SubnetMin(), 128).high();
          Long.compareUnsigned(hi, Ipv6Subnet.of(cfg.ipv6SubnetMax(), 128).high()) <= 0 && want6.size() < 100; hi += 4) {
        Ipv6Subnet c = new Ipv6Subnet(hi, 0, 62);
        if (leases.stream().noneMatch(l -> l.ipv6Subnet().overlaps(c))) {
          want6.add(c);
        }
      }
      assertThat(SubnetAllocator.freeV6Candidates(cfg, leases, 100)).isEqualTo(want6);
    }
  }
}
