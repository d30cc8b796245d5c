package dev.tartan.store.etcd;

import static dev.tartan.store.etcd.LeaseReader.bs;
import static java.nio.charset.StandardCharsets.UTF_8;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.LeaseLostException;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.NetworkConfigMissingException;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.Subscription;
import dev.tartan.store.alloc.SubnetAllocator;
import dev.tartan.store.alloc.SubnetAllocator.Allocation;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.lease.LeaseGrantResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.PutOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link dev.tartan.store.LeaseStore} operations on etcd v3 (jetcd), in flannel's layout and
 * value format, with owner-checked writes: every rewrite or delete of a subnet key is a transaction
 * that compares the key's mod revision with the one we last saw, so another host's lease is never
 * overwritten. Thread-safe; a watch runs on its own thread and reconnects by itself.
 */
final class EtcdLeaseStore {
  private static final Logger LOG = LoggerFactory.getLogger(EtcdLeaseStore.class);

  /** How often acquire re-lists and retries after losing a creation race (flannel: 10). */
  static final int RACE_ATTEMPTS = 10;
  /** How many consecutive etcd outages acquire rides out (with backoff 100 ms .. 2 s) before failing. */
  static final int TRANSIENT_ATTEMPTS = 8;

  private final EtcdConnection conn;
  private final LeaseReader reader;
  private final EtcdCounters counters;
  private final Duration ttl;
  private final Clock clock;
  private final Random random;
  private final Set<LeaseWatch> watches = ConcurrentHashMap.newKeySet();

  EtcdLeaseStore(EtcdConnection conn, LeaseReader reader, EtcdCounters counters, Duration ttl, Clock clock,
      Random random) {
    this.conn = conn;
    this.reader = reader;
    this.counters = counters;
    this.ttl = Objects.requireNonNull(ttl, "ttl");
    if (ttl.toSeconds() < 1) {
      throw new IllegalArgumentException("lease TTL must be at least 1 s, got " + ttl);
    }
    this.clock = Objects.requireNonNull(clock, "clock");
    this.random = Objects.requireNonNull(random, "random");
  }

  Duration leaseTtl() {
    return ttl;
  }

  public NetworkConfig networkConfig() throws LeaseStoreException {
    Optional<String> raw = reader.rawConfig();
    if (raw.isEmpty()) {
      throw new NetworkConfigMissingException("flannel config not found in etcd store. Did you create your"
          + " config using etcdv3 API? (key " + reader.configKey() + "; create it with: tartan network init)");
    }
    return NetworkConfig.parse(raw.get());
  }

  public SubnetLease acquire(LeaseAttrs attrs, Optional<Ipv4Subnet> previous, Optional<Ipv6Subnet> previousV6)
      throws LeaseStoreException {
    Objects.requireNonNull(attrs, "attrs");
    Objects.requireNonNull(previous, "previous");
    Objects.requireNonNull(previousV6, "previousV6");
    String value = LeaseJson.encode(attrs);
    int races = 0;
    int outages = 0;
    long backoffMillis = 100;
    Optional<Ipv4Subnet> prev = previous;
    Optional<Ipv6Subnet> prev6 = previousV6;
    while (true) {
      try {
        NetworkConfig cfg = networkConfig();
        LeaseReader.Snapshot snap = reader.read(false);
        Allocation a = SubnetAllocator.allocate(cfg, snap.leases(), attrs.publicIp(), prev, prev6, random);
        boolean staleGone = true;
        for (SubnetLease stale : a.incompatible()) {
          LOG.info("deleting lease {} of this host ({}): {}", reader.keyOf(stale), attrs.publicIp().getHostAddress(),
              whyIncompatible(cfg, stale));
          staleGone &= deleteIfUnchanged(stale);
        }
        Optional<SubnetLease> got = !staleGone ? Optional.empty()
            : a.source() == SubnetAllocator.Source.REUSE
            ? rewrite(a.existing(), attrs, value, Deadline.NONE)
            : create(a.subnet(), a.ipv6Subnet(), attrs, value, a.reservation());
        if (got.isPresent()) {
          SubnetLease l = got.get();
          LOG.info("lease acquired: {} for {} ({}{})", l.subnet(), attrs.publicIp().getHostAddress(),
              describe(a), l.reserved() ? ", reservation without TTL" : ", expires " + l.expiresAt());
          return l;
        }
        races++;
        if (races >= RACE_ATTEMPTS) {
          throw new LeaseStoreException("could not acquire a subnet: another host changed the chosen key "
              + races + " times in a row (last " + a.key() + "); try again");
        }
        LOG.info("subnet {} was taken or changed by another host meanwhile; re-listing", a.key());
        if (a.source() == SubnetAllocator.Source.PREVIOUS) {
          prev = Optional.empty();
        }
        if (a.ipv6Source() == SubnetAllocator.Source.PREVIOUS) {
          prev6 = Optional.empty();
        }
      } catch (TransientEtcdException e) {
        outages++;
        if (outages > TRANSIENT_ATTEMPTS) {
          throw e;
        }
        LOG.warn("etcd unavailable while acquiring a lease ({}); retrying in {} ms", e.getMessage(), backoffMillis);
        sleep(backoffMillis);
        backoffMillis = Math.min(backoffMillis * 2, 2000);
      }
    }
  }

  /** Why {@code lease} of ours does not fit {@code cfg}, for the one log line of its deletion. */
  static String whyIncompatible(NetworkConfig cfg, SubnetLease lease) {
    if (!cfg.accepts(lease.subnet())) {
      return "it does not fit the network config " + cfg.network() + " (/" + cfg.subnetLen() + " in "
          + cfg.subnetMin().getHostAddress() + " .. " + cfg.subnetMax().getHostAddress() + ")";
    }
    if (!cfg.enableIPv6()) {
      return "it has an IPv6 part but EnableIPv6 is off";
    }
    if (lease.ipv6Subnet() == null) {
      return "it has no IPv6 part but EnableIPv6 is on; replacing it with a dual-stack lease";
    }
    return "its IPv6 part does not fit IPv6Network " + cfg.ipv6Network() + " (" + cfg.ipv6RangeText() + ")";
  }

  /** "new" or, dual stack, "new; IPv6 fc00:0:0:7::/64 previous subnet from the subnet file". */
  static String describe(Allocation a) {
    String v4 = describe(a.source());
    if (a.ipv6Subnet() == null) {
      return v4;
    }
    return v4 + "; IPv6 " + a.ipv6Subnet() + " " + describe(a.ipv6Source());
  }

  private static String describe(SubnetAllocator.Source s) {
    switch (s) {
      case REUSE:
        return "reused the lease of this public IP";
      case KEPT:
        return "kept from the replaced lease of this public IP";
      case PREVIOUS:
        return "previous subnet from the subnet file";
      default:
        return "new";
    }
  }

  public SubnetLease renew(SubnetLease lease) throws LeaseStoreException {
    return renew(lease, Deadline.NONE);
  }

  /**
   * One renewal attempt (lease grant + owner-checked transaction, and a re-read when the key changed)
   * bounded by {@code timeout} as a whole; a request that runs out of time re-dials the connection.
   */
  public SubnetLease renew(SubnetLease lease, Duration timeout) throws LeaseStoreException {
    Objects.requireNonNull(timeout, "timeout");
    return renew(lease, Deadline.in(timeout));
  }

  private SubnetLease renew(SubnetLease lease, Deadline deadline) throws LeaseStoreException {
    Objects.requireNonNull(lease, "lease");
    String value = LeaseJson.encode(lease.attrs());
    SubnetLease current = lease;
    for (int attempt = 0; attempt < 3; attempt++) {
      Optional<SubnetLease> renewed = rewrite(current, lease.attrs(), value, deadline);
      if (renewed.isPresent()) {
        SubnetLease l = renewed.get();
        LOG.debug("lease renewed: {} ({})", l.subnet(), // the lease keeper logs the one INFO line
            l.reserved() ? "reservation, no TTL" : "expires " + l.expiresAt());
        return l;
      }
      current = reread(current, "renew", deadline);
    }
    throw new LeaseStoreException("could not renew " + lease.subnet() + ": the key kept changing under us");
  }

  /**
   * Re-reads our key after an owner-checked write failed: our copy with the stored revision and etcd
   * lease when the key still carries our PublicIP, else {@link LeaseLostException}.
   */
  private SubnetLease reread(SubnetLease ours, String op, Deadline deadline) throws LeaseStoreException {
    String key = reader.keyOf(ours);
    KeyValue kv = reader.getKey(key, deadline.forRequest());
    if (kv == null) {
      throw new LeaseLostException("lease " + ours.subnet() + " is gone (expired or deleted): " + key);
    }
    LeaseAttrs stored;
    try {
      stored = LeaseJson.decode(kv.getValue().toString(UTF_8));
    } catch (MalformedLeaseException e) {
      throw new LeaseLostException("lease " + ours.subnet() + " was overwritten with a value that is not a lease ("
          + e.getMessage() + "): " + key);
    }
    if (!stored.publicIp().equals(ours.attrs().publicIp())) {
      throw new LeaseLostException("lease " + ours.subnet() + " now belongs to host "
          + stored.publicIp().getHostAddress() + ", not " + ours.attrs().publicIp().getHostAddress() + "; not "
          + (op.equals("release") ? "deleting" : "overwriting") + " it");
    }
    LOG.debug("{} of {}: key was rewritten with our PublicIP meanwhile (revision {} -> {})", op, ours.subnet(),
        ours.modRevision(), kv.getModRevision());
    return new SubnetLease(ours.subnet(), ours.ipv6Subnet(), ours.attrs(), ours.expiresAt(), kv.getLease(),
        kv.getModRevision());
  }

  public void release(SubnetLease lease) throws LeaseStoreException {
    Objects.requireNonNull(lease, "lease");
    SubnetLease current = lease;
    for (int attempt = 0; attempt < 3; attempt++) {
      if (deleteIfUnchanged(current)) {
        LOG.info("lease released: {}", lease.subnet());
        return;
      }
      try {
        current = reread(current, "release", Deadline.NONE);
      } catch (LeaseLostException e) {
        if (reader.getKey(reader.keyOf(current)) == null) {
          LOG.info("lease {} was already gone", lease.subnet());
          return;
        }
        throw e;
      }
    }
    throw new LeaseStoreException("could not release " + lease.subnet() + ": the key kept changing under us");
  }

  public Subscription watch(LeaseListener listener) {
    Objects.requireNonNull(listener, "listener");
    LeaseWatch w = new LeaseWatch(conn, reader, counters, watches::remove, listener);
    watches.add(w);
    w.start();
    return w;
  }

  /** Stops every watch (the connection is closed by its owner). */
  void closeWatches() {
    for (LeaseWatch w : List.copyOf(watches)) {
      w.close();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // owner-checked writes

  /**
   * Creates the key of {@code subnet} (and {@code ipv6Subnet}, or null) if it does not exist, attached
   * to a fresh etcd lease, or without one for a {@code reservation}.
   */
  private Optional<SubnetLease> create(Ipv4Subnet subnet, Ipv6Subnet ipv6Subnet, LeaseAttrs attrs, String value,
      boolean reservation) throws LeaseStoreException {
    String key = reader.keyOf(subnet, ipv6Subnet);
    Instant start = clock.instant();
    LeaseGrantResponse g = reservation ? null : grant(Deadline.NONE);
    PutOption put = reservation ? PutOption.DEFAULT : PutOption.builder().withLeaseId(g.getID()).build();
    TxnResponse t;
    try {
      t = conn.await(c -> c.getKVClient().txn()
          .If(new Cmp(bs(key), Cmp.Op.EQUAL, CmpTarget.version(0)))
          .Then(Op.put(bs(key), bs(value), put))
          .commit(), "create " + key);
    } catch (LeaseStoreException e) {
      // Outcome unknown: revoking removes the key too if it was created, so nothing leaks.
      if (g != null) {
        conn.revokeQuietly(g.getID());
      }
      throw e;
    }
    if (!t.isSucceeded()) {
      if (g != null) {
        conn.revokeQuietly(g.getID());
      }
      return Optional.empty();
    }
    return Optional.of(new SubnetLease(subnet, ipv6Subnet, attrs, reservation ? null : start.plusSeconds(g.getTTL()),
        reservation ? 0 : g.getID(), revisionOf(t)));
  }

  /**
   * Rewrites our key if its mod revision is still the one in {@code existing}: with a fresh etcd lease,
   * or without one when the stored key is a reservation. The old etcd lease is revoked afterwards.
   */
  private Optional<SubnetLease> rewrite(SubnetLease existing, LeaseAttrs attrs, String value, Deadline deadline)
      throws LeaseStoreException {
    String key = reader.keyOf(existing);
    boolean reservation = existing.etcdLeaseId() == 0;
    Instant start = clock.instant();
    LeaseGrantResponse g = reservation ? null : grant(deadline);
    PutOption put = reservation ? PutOption.DEFAULT : PutOption.builder().withLeaseId(g.getID()).build();
    TxnResponse t;
    try {
      t = conn.await(c -> c.getKVClient().txn()
          .If(new Cmp(bs(key), Cmp.Op.EQUAL, CmpTarget.modRevision(existing.modRevision())))
          .Then(Op.put(bs(key), bs(value), put))
          .commit(), "rewrite " + key, deadline.forRequest());
    } catch (LeaseStoreException e) {
      if (g != null) {
        conn.revokeQuietly(g.getID());
      }
      throw e;
    }
    if (!t.isSucceeded()) {
      if (g != null) {
        conn.revokeQuietly(g.getID());
      }
      return Optional.empty();
    }
    if (!reservation) {
      conn.revokeQuietly(existing.etcdLeaseId()); // holds no key any more; flannel lets it run out instead
    }
    return Optional.of(new SubnetLease(existing.subnet(), existing.ipv6Subnet(), attrs,
        reservation ? null : start.plusSeconds(g.getTTL()), reservation ? 0 : g.getID(), revisionOf(t)));
  }

  /** Deletes our key if its mod revision is unchanged; true when deleted. */
  private boolean deleteIfUnchanged(SubnetLease lease) throws LeaseStoreException {
    String key = reader.keyOf(lease);
    TxnResponse t = conn.await(c -> c.getKVClient().txn()
        .If(new Cmp(bs(key), Cmp.Op.EQUAL, CmpTarget.modRevision(lease.modRevision())))
        .Then(Op.delete(bs(key), DeleteOption.DEFAULT))
        .commit(), "delete " + key);
    // The etcd lease is left to run out by itself (it holds no key now): a watch tells a deleted key
    // (its lease still alive) from an expired one (lease gone) by looking the lease up.
    return t.isSucceeded();
  }

  private LeaseGrantResponse grant(Deadline deadline) throws LeaseStoreException {
    return conn.await(c -> c.getLeaseClient().grant(ttl.toSeconds()), "grant an etcd lease", deadline.forRequest());
  }

  /** The time an attempt has left; {@link #NONE}: each request gets the usual time limit. */
  private record Deadline(long nanos, Duration total) {
    static final Deadline NONE = new Deadline(0, null);

    static Deadline in(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("renewal timeout must be positive, got " + timeout);
      }
      return new Deadline(System.nanoTime() + timeout.toNanos(), timeout);
    }

    /** The time limit of the next request: what is left, at most the usual limit. */
    Duration forRequest() throws TransientEtcdException {
      if (total == null) {
        return EtcdConnection.REQUEST_TIMEOUT;
      }
      long left = nanos - System.nanoTime();
      if (left <= 0) {
        throw new TransientEtcdException("the renewal ran out of its " + EtcdConnection.seconds(total), null);
      }
      return Duration.ofNanos(Math.min(left, EtcdConnection.REQUEST_TIMEOUT.toNanos()));
    }
  }



  private static long revisionOf(TxnResponse t) {
    return t.getHeader().getRevision();
  }

  private static void sleep(long millis) throws LeaseStoreException {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LeaseStoreException("interrupted while waiting to retry");
    }
  }
}
