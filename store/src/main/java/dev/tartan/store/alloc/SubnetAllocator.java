package dev.tartan.store.alloc;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.SubnetLease;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;

/**
 * Flannel's subnet choice at startup (docs/flannel-compat.md §1.6), as a pure function of the config, the current
 * leases, our public IP, the previous subnet from {@code subnet.env} and a random source:
 *
 * <ol>
 *   <li>reuse a lease whose PublicIP is ours and that fits the config (a reservation is preferred,
 *       then the first in key order); our leases that no longer fit are to be deleted;
 *   <li>else the previous subnet, if it fits the config and overlaps no lease;
 *   <li>else a uniformly random pick among the first {@value #CANDIDATES} free subnets from
 *       SubnetMin upwards. A candidate overlapping any lease (also one outside the range) is not free.
 * </ol>
 */
public final class SubnetAllocator {

  /** Flannel collects at most this many free candidates before picking one at random. */
  public static final int CANDIDATES = 100;

  /** Where the chosen subnet came from. */
  public enum Source { REUSE, PREVIOUS, RANDOM }

  /**
   * The decision.
   *
   * @param source       how the subnet was chosen
   * @param subnet       the subnet to take
   * @param existing     for {@link Source#REUSE}, the lease to rewrite (owner-checked); else null
   * @param incompatible our own leases that do not fit the config; delete them first
   */
  public record Allocation(Source source, Ipv4Subnet subnet, SubnetLease existing, List<SubnetLease> incompatible) {
    public Allocation {
      Objects.requireNonNull(source, "source");
      Objects.requireNonNull(subnet, "subnet");
      incompatible = List.copyOf(incompatible);
      if ((source == Source.REUSE) != (existing != null)) {
        throw new IllegalArgumentException("existing lease is set exactly for REUSE");
      }
    }
  }

  private SubnetAllocator() {}

  /**
   * Decides which subnet this host takes.
   *
   * @param leases every lease currently stored (any order)
   * @throws OutOfSubnetsException when no subnet in [SubnetMin, SubnetMax] is free
   */
  public static Allocation allocate(NetworkConfig config, Collection<SubnetLease> leases, Inet4Address publicIp,
      Optional<Ipv4Subnet> previous, Random random) throws OutOfSubnetsException {
    List<SubnetLease> ordered = new ArrayList<>(leases);
    ordered.sort((a, b) -> SubnetKeys.format(a.subnet(), a.ipv6Subnet())
        .compareTo(SubnetKeys.format(b.subnet(), b.ipv6Subnet()))); // etcd's key order, as flannel lists
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
      return new Allocation(Source.REUSE, reuse.subnet(), reuse, incompatible);
    }
    if (previous.isPresent()) {
      Ipv4Subnet prev = previous.get();
      if (config.accepts(prev) && leases.stream().noneMatch(l -> l.subnet().overlaps(prev))) {
        return new Allocation(Source.PREVIOUS, prev, null, incompatible);
      }
    }
    List<Ipv4Subnet> free = freeCandidates(config, leases, CANDIDATES);
    if (free.isEmpty()) {
      throw new OutOfSubnetsException(String.format(
          "out of subnets: every /%d between %s and %s in network %s is leased (%d leases); "
              + "release unused leases (tartan leases release SUBNET) or widen SubnetMin/SubnetMax",
          config.subnetLen(), config.subnetMin().getHostAddress(), config.subnetMax().getHostAddress(),
          config.network(), leases.size()));
    }
    return new Allocation(Source.RANDOM, free.get(random.nextInt(free.size())), null, incompatible);
  }

  /**
   * True when {@code lease} may be kept under {@code config}: its IPv4 subnet has SubnetLen and lies in
   * [SubnetMin, SubnetMax], and it has no IPv6 part unless IPv6 is enabled.
   */
  public static boolean compatible(NetworkConfig config, SubnetLease lease) {
    return config.accepts(lease.subnet()) && (lease.ipv6Subnet() == null || config.enableIPv6());
  }

  /** The first {@code limit} subnets from SubnetMin upwards that overlap no lease. */
  public static List<Ipv4Subnet> freeCandidates(NetworkConfig config, Collection<SubnetLease> leases, int limit) {
    List<Ipv4Subnet> taken = new ArrayList<>(leases.size());
    for (SubnetLease l : leases) {
      taken.add(l.subnet());
    }
    List<Ipv4Subnet> free = new ArrayList<>();
    long size = 1L << (32 - config.subnetLen());
    long max = Integer.toUnsignedLong(Ipv4Subnet.toInt(config.subnetMax()));
    for (long ip = Integer.toUnsignedLong(Ipv4Subnet.toInt(config.subnetMin()));
        ip <= max && free.size() < limit; ip += size) {
      Ipv4Subnet candidate = new Ipv4Subnet((int) ip, config.subnetLen());
      boolean overlaps = false;
      for (Ipv4Subnet t : taken) {
        if (t.overlaps(candidate)) {
          overlaps = true;
          break;
        }
      }
      if (!overlaps) {
        free.add(candidate);
      }
    }
    return free;
  }
}
