package dev.tartan.store.alloc;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.SubnetLease;
import java.math.BigInteger;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

/**
 * Flannel's subnet choice at startup (docs/flannel-compat.md §1.6), as a pure function of the config, the current
 * leases, our public IP, the previous subnets from {@code subnet.env} and a random source:
 *
 * <ol>
 *   <li>reuse a lease whose PublicIP is ours and that fits the config (a reservation is preferred,
 *       then the first in key order); our leases that no longer fit are to be deleted. With
 *       {@code EnableIPv6} a lease fits only with an IPv6 part in the IPv6 range; without it only
 *       with none;
 *   <li>else, for IPv4 and (with {@code EnableIPv6}) IPv6 independently: the part of our replaced lease
 *       that still fits (so turning IPv6 on or off does not renumber the other family's pods), else
 *       the previous subnet if it fits the config and overlaps no other lease;
 *   <li>else a uniformly random pick among the first {@value #CANDIDATES} free subnets from
 *       SubnetMin (IPv6SubnetMin) upwards. A candidate overlapping any lease (also one outside the
 *       range) is not free.
 * </ol>
 */
public final class SubnetAllocator {

  /** Flannel collects at most this many free candidates before picking one at random. */
  public static final int CANDIDATES = 100;

  /** Where a chosen subnet came from. */
  public enum Source { REUSE, KEPT, PREVIOUS, RANDOM }

  /**
   * The decision.
   *
   * @param source       how the IPv4 subnet was chosen
   * @param subnet       the IPv4 subnet to take
   * @param ipv6Source   how the IPv6 subnet was chosen; null when there is none
   * @param ipv6Subnet   the IPv6 subnet of the dual-stack key, or null (IPv6 disabled; or a reused
   *                     lease's part, which is null exactly when IPv6 is disabled)
   * @param existing     for {@link Source#REUSE}, the lease to rewrite (owner-checked); else null
   * @param incompatible our own leases that do not fit the config; delete them first
   * @param reservation  the new key is written without an etcd lease: it replaces a reservation of
   *                     ours (an operator's pin stays a pin when the key gains or loses its IPv6 part)
   */
  public record Allocation(Source source, Ipv4Subnet subnet, Source ipv6Source, Ipv6Subnet ipv6Subnet,
      SubnetLease existing, List<SubnetLease> incompatible, boolean reservation) {
    public Allocation {
      Objects.requireNonNull(source, "source");
      Objects.requireNonNull(subnet, "subnet");
      incompatible = List.copyOf(incompatible);
      if ((source == Source.REUSE) != (existing != null)) {
        throw new IllegalArgumentException("existing lease is set exactly for REUSE");
      }
      if ((ipv6Source == null) != (ipv6Subnet == null)) {
        throw new IllegalArgumentException("ipv6Source is set exactly with ipv6Subnet");
      }
    }

    /** The key this allocation writes: {@code 10.5.3.0-24} or {@code 10.5.3.0-24&fc00:0:0:7::-64}. */
    public SubnetKey key() {
      return new SubnetKey(subnet, ipv6Subnet);
    }
  }

  private SubnetAllocator() {}

  /** {@link #allocate(NetworkConfig, Collection, Inet4Address, Optional, Optional, Random)} without a previous IPv6 subnet. */
  public static Allocation allocate(NetworkConfig config, Collection<SubnetLease> leases, Inet4Address publicIp,
      Optional<Ipv4Subnet> previous, Random random) throws OutOfSubnetsException {
    return allocate(config, leases, publicIp, previous, Optional.empty(), random);
  }

  /**
   * Decides which subnet(s) this host takes.
   *
   * @param leases     every lease currently stored (any order)
   * @param previous   {@code FLANNEL_SUBNET} of the subnet file, network-masked
   * @param previousV6 {@code FLANNEL_IPV6_SUBNET} of the subnet file, network-masked (ignored when
   *                   IPv6 is disabled)
   * @throws OutOfSubnetsException when no IPv4 subnet in [SubnetMin, SubnetMax] is free, or (with
   *     {@code EnableIPv6}) no IPv6 subnet in [IPv6SubnetMin, IPv6SubnetMax]
   */
  public static Allocation allocate(NetworkConfig config, Collection<SubnetLease> leases, Inet4Address publicIp,
      Optional<Ipv4Subnet> previous, Optional<Ipv6Subnet> previousV6, Random random) throws OutOfSubnetsException {
    Objects.requireNonNull(previous, "previous");
    Objects.requireNonNull(previousV6, "previousV6");
    List<SubnetLease> ordered = inKeyOrder(leases);
    SubnetLease reuse = null;
    List<SubnetLease> incompatible = new ArrayList<>();
    for (SubnetLease l : ordered) {
      if (!l.attrs().publicIp().equals(publicIp)) {
        continue;
      }
      if (!compatible(config, l)) {
        incompatible.add(l);
      } else if (reuse == null || (l.reserved() && !reuse.reserved())) {
        reuse = l;
      }
    }
    if (reuse != null) {
      return new Allocation(Source.REUSE, reuse.subnet(), reuse.ipv6Subnet() == null ? null : Source.REUSE,
          reuse.ipv6Subnet(), reuse, incompatible, false);
    }
    // Our replaced leases are deleted before the new key is written: their space is ours to keep.
    Set<SubnetLease> replaced = Collections.newSetFromMap(new IdentityHashMap<>());
    replaced.addAll(incompatible);
    List<SubnetLease> others = ordered.stream().filter(l -> !replaced.contains(l)).toList();

    Ipv4Subnet v4 = null;
    Source s4 = null;
    boolean reservation = false;
    for (SubnetLease l : incompatible) {
      if (config.accepts(l.subnet()) && free(others, l.subnet())) {
        v4 = l.subnet();
        s4 = Source.KEPT;
        reservation = l.reserved();
        break;
      }
    }
    if (v4 == null && previous.isPresent() && config.accepts(previous.get()) && free(others, previous.get())) {
      v4 = previous.get();
      s4 = Source.PREVIOUS;
    }
    if (v4 == null) {
      List<Ipv4Subnet> candidates = freeCandidates(config, leases, CANDIDATES);
      if (candidates.isEmpty()) {
        throw new OutOfSubnetsException(String.format(
            "out of subnets: every /%d between %s and %s in network %s is leased (%d leases); "
                + "release unused leases (tartan leases release SUBNET) or widen SubnetMin/SubnetMax",
            config.subnetLen(), config.subnetMin().getHostAddress(), config.subnetMax().getHostAddress(),
            config.network(), leases.size()));
      }
      v4 = candidates.get(random.nextInt(candidates.size()));
      s4 = Source.RANDOM;
    }

    Ipv6Subnet v6 = null;
    Source s6 = null;
    if (config.enableIPv6()) {
      for (SubnetLease l : incompatible) {
        if (config.acceptsV6(l.ipv6Subnet()) && freeV6(others, l.ipv6Subnet())) {
          v6 = l.ipv6Subnet();
          s6 = Source.KEPT;
          break;
        }
      }
      if (v6 == null && previousV6.isPresent() && config.acceptsV6(previousV6.get())
          && freeV6(others, previousV6.get())) {
        v6 = previousV6.get();
        s6 = Source.PREVIOUS;
      }
      if (v6 == null) {
        List<Ipv6Subnet> candidates = freeV6Candidates(config, leases, CANDIDATES);
        if (candidates.isEmpty()) {
          throw new OutOfSubnetsException(String.format(
              "out of IPv6 subnets: every %s in IPv6Network %s is leased (%d leases); "
                  + "release unused leases (tartan leases release SUBNET) or widen IPv6SubnetMin/IPv6SubnetMax",
              config.ipv6RangeText(), config.ipv6Network(), leases.size()));
        }
        v6 = candidates.get(random.nextInt(candidates.size()));
        s6 = Source.RANDOM;
      }
    }
    return new Allocation(s4, v4, s6, v6, null, incompatible, reservation);
  }

  /** {@code leases} in etcd's key order, as flannel lists them (each key text built once). */
  private static List<SubnetLease> inKeyOrder(Collection<SubnetLease> leases) {
    List<Map.Entry<String, SubnetLease>> keyed = new ArrayList<>(leases.size());
    for (SubnetLease l : leases) {
      keyed.add(Map.entry(SubnetKeys.format(l.subnet(), l.ipv6Subnet()), l));
    }
    keyed.sort(Map.Entry.comparingByKey());
    List<SubnetLease> out = new ArrayList<>(keyed.size());
    keyed.forEach(e -> out.add(e.getValue()));
    return out;
  }

  /**
   * True when {@code lease} may be kept under {@code config}: its IPv4 subnet has SubnetLen and lies in
   * [SubnetMin, SubnetMax]; with IPv6 enabled its IPv6 part has IPv6SubnetLen and lies in
   * [IPv6SubnetMin, IPv6SubnetMax]; with IPv6 disabled it has no IPv6 part (flannel's
   * {@code isSubnetConfigCompat} and {@code isIPv6SubnetConfigCompat}).
   */
  public static boolean compatible(NetworkConfig config, SubnetLease lease) {
    if (!config.accepts(lease.subnet())) {
      return false;
    }
    return config.enableIPv6() ? config.acceptsV6(lease.ipv6Subnet()) : lease.ipv6Subnet() == null;
  }

  private static boolean free(List<SubnetLease> leases, Ipv4Subnet s) {
    return leases.stream().noneMatch(l -> l.subnet().overlaps(s));
  }

  private static boolean freeV6(List<SubnetLease> leases, Ipv6Subnet s) {
    return leases.stream().noneMatch(l -> l.ipv6Subnet() != null && l.ipv6Subnet().overlaps(s));
  }

  /** The first {@code limit} subnets from SubnetMin upwards that overlap no lease. */
  public static List<Ipv4Subnet> freeCandidates(NetworkConfig config, Collection<SubnetLease> leases, int limit) {
    // Subnets are CIDR blocks: a lease overlaps candidate C when it starts inside C, or when it is
    // a shorter block containing C. The first is one ceiling look-up in the sorted starts, the
    // second one hash look-up per prefix length in use: O(log n) per candidate, not O(n).
    TreeSet<Ipv4Subnet> starts = new TreeSet<>();
    Set<Ipv4Subnet> blocks = new HashSet<>();
    TreeSet<Integer> lengths = new TreeSet<>();
    for (SubnetLease l : leases) {
      starts.add(new Ipv4Subnet(l.subnet().address(), 32));
      blocks.add(l.subnet());
      lengths.add(l.subnet().prefixLength());
    }
    List<Ipv4Subnet> free = new ArrayList<>();
    int len = config.subnetLen();
    long size = 1L << (32 - len);
    long max = Integer.toUnsignedLong(Ipv4Subnet.toInt(config.subnetMax()));
    for (long ip = Integer.toUnsignedLong(Ipv4Subnet.toInt(config.subnetMin()));
        ip <= max && free.size() < limit; ip += size) {
      Ipv4Subnet candidate = new Ipv4Subnet((int) ip, len);
      Ipv4Subnet firstInside = starts.ceiling(new Ipv4Subnet((int) ip, 32));
      boolean overlaps = firstInside != null && candidate.contains(firstInside);
      for (Integer l : lengths.headSet(len)) {
        if (overlaps) {
          break;
        }
        overlaps = blocks.contains(new Ipv4Subnet((int) ip, l));
      }
      if (!overlaps) {
        free.add(candidate);
      }
    }
    return free;
  }

  /**
   * The first {@code limit} IPv6 subnets from IPv6SubnetMin upwards that overlap no lease's IPv6
   * part; empty when IPv6 is disabled.
   */
  public static List<Ipv6Subnet> freeV6Candidates(NetworkConfig config, Collection<SubnetLease> leases, int limit) {
    List<Ipv6Subnet> free = new ArrayList<>();
    if (!config.enableIPv6()) {
      return free;
    }
    TreeSet<Ipv6Subnet> starts = new TreeSet<>();
    Set<Ipv6Subnet> blocks = new HashSet<>();
    TreeSet<Integer> lengths = new TreeSet<>();
    for (SubnetLease l : leases) {
      Ipv6Subnet s = l.ipv6Subnet();
      if (s != null) {
        starts.add(new Ipv6Subnet(s.high(), s.low(), 128));
        blocks.add(s);
        lengths.add(s.prefixLength());
      }
    }
    int len = config.ipv6SubnetLen();
    BigInteger size = BigInteger.ONE.shiftLeft(128 - len);
    BigInteger max = Ipv6Text.toBigInteger(config.ipv6SubnetMax());
    for (BigInteger ip = Ipv6Text.toBigInteger(config.ipv6SubnetMin());
        ip.compareTo(max) <= 0 && free.size() < limit; ip = ip.add(size)) {
      long high = ip.shiftRight(64).longValue();
      long low = ip.longValue();
      Ipv6Subnet candidate = new Ipv6Subnet(high, low, len);
      Ipv6Subnet firstInside = starts.ceiling(new Ipv6Subnet(high, low, 128));
      boolean overlaps = firstInside != null && candidate.contains(firstInside);
      for (Integer l : lengths.headSet(len)) {
        if (overlaps) {
          break;
        }
        overlaps = blocks.contains(new Ipv6Subnet(high, low, l));
      }
      if (!overlaps) {
        free.add(candidate);
      }
    }
    return free;
  }
}
