package dev.tartan.store.etcd;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.alloc.SubnetKey;
import dev.tartan.store.alloc.SubnetKeys;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.lease.LeaseTimeToLiveResponse;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.LeaseOption;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The read side shared by the lease operations, the admin operations and the watch: flannel's key
 * layout under the prefix, parsing stored keys into leases, paged listings and TTL look-ups.
 */
final class LeaseReader {
  private static final Logger LOG = LoggerFactory.getLogger(LeaseReader.class);
  private static final int TTL_LOOKUPS_IN_FLIGHT = 256;

  /** Every parsable lease (sorted by subnet) and the revision of the read. */
  record Snapshot(List<SubnetLease> leases, long revision) {}

  private final EtcdConnection conn;
  private final EtcdCounters counters;
  private final Clock clock;
  private final String configKey;
  private final String subnetsPrefix;
  private final int pageSize;

  LeaseReader(EtcdConnection conn, EtcdCounters counters, Clock clock, String prefix, int pageSize) {
    this.conn = conn;
    this.counters = counters;
    this.clock = clock;
    String p = EtcdOptions.normalizePrefix(prefix);
    this.configKey = join(p, "config");
    this.subnetsPrefix = join(p, "subnets") + "/";
    this.pageSize = pageSize;
  }

  private static String join(String prefix, String name) {
    return prefix.equals("/") ? "/" + name : prefix + "/" + name;
  }

  static ByteSequence bs(String s) {
    return ByteSequence.from(s, UTF_8);
  }

  String configKey() {
    return configKey;
  }

  String subnetsPrefix() {
    return subnetsPrefix;
  }

  Clock clock() {
    return clock;
  }

  String keyOf(SubnetLease lease) {
    return keyOf(lease.subnet(), lease.ipv6Subnet());
  }

  String keyOf(Ipv4Subnet subnet, Ipv6Subnet ipv6Subnet) {
    return subnetsPrefix + SubnetKeys.format(subnet, ipv6Subnet);
  }

  /** The stored {@code <prefix>/config} text, if any. */
  Optional<String> rawConfig() throws LeaseStoreException {
    KeyValue kv = getKey(configKey);
    return kv == null ? Optional.empty() : Optional.of(kv.getValue().toString(UTF_8));
  }

  KeyValue getKey(String key) throws LeaseStoreException {
    return getKey(key, EtcdConnection.REQUEST_TIMEOUT);
  }

  KeyValue getKey(String key, java.time.Duration timeout) throws LeaseStoreException {
    GetResponse r = conn.await(c -> c.getKVClient().get(bs(key)), "read " + key, timeout);
    return r.getKvs().isEmpty() ? null : r.getKvs().get(0);
  }

  /**
   * Lists {@code subnets/}; with {@code withTtl} the remaining TTL of each etcd lease is looked up,
   * all lookups in flight together (in chunks), so thousands of leases cost a few round trips.
   */
  Snapshot read(boolean withTtl) throws LeaseStoreException {
    PagedRange.Listing<KeyValue> r = listPrefix(false);
    Map<Long, Instant> expiries = withTtl ? expiries(r.items()) : null;
    List<SubnetLease> out = new ArrayList<>(r.items().size());
    for (KeyValue kv : r.items()) {
      SubnetLease l = toLease(kv, expiries);
      if (l != null) {
        out.add(l);
      }
    }
    out.sort(Comparator.comparing(SubnetLease::subnet));
    if (r.pages() > 1) {
      LOG.debug("listed {} keys under {} in {} pages at revision {}", r.items().size(), subnetsPrefix, r.pages(),
          r.revision());
    }
    return new Snapshot(List.copyOf(out), r.revision());
  }

  /** Every key under {@code subnets/}, read in pages of {@code pageSize} keys at one revision. */
  PagedRange.Listing<KeyValue> listPrefix(boolean keysOnly) throws LeaseStoreException {
    ByteSequence end = PagedRange.prefixEnd(bs(subnetsPrefix));
    return PagedRange.list(bs(subnetsPrefix), pageSize, (from, revision, limit) -> {
      GetOption.Builder o = GetOption.builder().withRange(end).withLimit(limit).withKeysOnly(keysOnly)
          .withSortField(GetOption.SortTarget.KEY).withSortOrder(GetOption.SortOrder.ASCEND);
      if (revision > 0) {
        o.withRevision(revision);
      }
      GetOption opt = o.build();
      GetResponse g = conn.await(c -> c.getKVClient().get(from, opt), "list " + subnetsPrefix
          + (revision > 0 ? " from " + from.toString(UTF_8) + " at revision " + revision : ""));
      return new PagedRange.Page<>(g.getKvs(), g.isMore(), g.getHeader().getRevision());
    }, KeyValue::getKey, subnetsPrefix);
  }

  /**
   * Parses one stored key; null (with a WARN the first time per key, and the counter) when the key or
   * the value is not a lease. {@code expiries} (null = don't look up) caches TTLs per etcd lease.
   */
  SubnetLease toLease(KeyValue kv, Map<Long, Instant> expiries) throws LeaseStoreException {
    String key = kv.getKey().toString(UTF_8);
    Optional<SubnetKey> k = parseKey(key);
    if (k.isEmpty()) {
      counters.skipBad(key, "not a subnet key");
      return null;
    }
    LeaseAttrs attrs;
    try {
      attrs = LeaseJson.decode(kv.getValue().toString(UTF_8));
    } catch (MalformedLeaseException e) {
      counters.skipBad(key, e.getMessage());
      return null;
    }
    long leaseId = kv.getLease();
    Instant expiresAt = null;
    if (leaseId != 0 && expiries != null) {
      expiresAt = expiries.get(leaseId);
      if (expiresAt == null) {
        expiresAt = expiryOf(leaseId);
        expiries.put(leaseId, expiresAt);
      }
    }
    return new SubnetLease(k.get().subnet(), k.get().ipv6Subnet(), attrs, expiresAt, leaseId, kv.getModRevision());
  }

  /** {@link #toLease} without a TTL look-up (the watch: peers' expiry is not needed). */
  SubnetLease toLeaseWithoutTtl(KeyValue kv) {
    try {
      return toLease(kv, null);
    } catch (LeaseStoreException e) {
      return null; // cannot happen without a TTL lookup
    }
  }

  /** Parses a full key directly under {@code subnets/}. */
  Optional<SubnetKey> parseKey(String key) {
    if (!key.startsWith(subnetsPrefix) || key.indexOf('/', subnetsPrefix.length()) >= 0) {
      return Optional.empty();
    }
    return SubnetKeys.parse(key.substring(subnetsPrefix.length()));
  }

  void skipBad(String key, String why) {
    counters.skipBad(key, why);
  }

  /** The expiry of every etcd lease behind {@code kvs}, looked up TTL_LOOKUPS_IN_FLIGHT at a time. */
  private Map<Long, Instant> expiries(List<KeyValue> kvs) throws LeaseStoreException {
    List<Long> ids = kvs.stream().map(KeyValue::getLease).filter(id -> id != 0).distinct().toList();
    Map<Long, Instant> out = new HashMap<>(ids.size() * 2);
    for (int from = 0; from < ids.size(); from += TTL_LOOKUPS_IN_FLIGHT) {
      List<Long> chunk = ids.subList(from, Math.min(ids.size(), from + TTL_LOOKUPS_IN_FLIGHT));
      Instant now = clock.instant();
      List<CompletableFuture<LeaseTimeToLiveResponse>> calls = new ArrayList<>(chunk.size());
      for (long id : chunk) {
        calls.add(conn.client().getLeaseClient().timeToLive(id, LeaseOption.DEFAULT));
      }
      for (int i = 0; i < chunk.size(); i++) {
        int at = i;
        long ttl = conn.await(c -> calls.get(at), "look up the TTL of etcd lease "
            + Long.toHexString(chunk.get(at))).getTTL();
        out.put(chunk.get(i), ttl < 0 ? now : now.plusSeconds(ttl));
      }
    }
    return out;
  }

  /** now + remaining TTL of an etcd lease (now when it has expired). */
  Instant expiryOf(long leaseId) throws LeaseStoreException {
    Instant now = clock.instant();
    long ttlSeconds = conn.await(c -> c.getLeaseClient().timeToLive(leaseId, LeaseOption.DEFAULT),
        "look up the TTL of etcd lease " + Long.toHexString(leaseId)).getTTL();
    return ttlSeconds < 0 ? now : now.plusSeconds(ttlSeconds);
  }
}
