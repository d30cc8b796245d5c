package dev.tartan.store.testing;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.store.AccessDeniedException;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.LeaseLostException;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.NetworkConfigMissingException;
import dev.tartan.store.Store;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.Subscription;
import dev.tartan.store.alloc.SubnetAllocator;
import dev.tartan.store.alloc.SubnetKey;
import dev.tartan.store.alloc.SubnetKeys;
import dev.tartan.store.etcd.LeaseJson;
import dev.tartan.store.etcd.MalformedLeaseException;
import java.net.Inet4Address;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An in-memory {@link Store} with flannel's semantics as {@code EtcdLeaseStore} implements them:
 * keys {@code <prefix>/config} and {@code <prefix>/subnets/<key>} with mod revisions, every subnet
 * key written with a fresh "etcd lease" of the TTL, owner-checked rewrites and deletes (compare the
 * mod revision), the real {@link SubnetAllocator} and {@link NetworkConfig} parsing, and a watch that
 * delivers a snapshot, then events, with {@link LeaseEvent.Removed} carrying the last known copy and
 * the cause.
 *
 * <p>{@link Data} is the shared "etcd" (one per test); each {@code FakeLeaseStore} is one host's
 * client on it. Time is {@link Data}'s clock: keys expire only when the test calls
 * {@link Data#tick()}. Faults are injected on {@link Data} and hit the next requests of any client.
 */
public final class FakeLeaseStore implements Store {

  /** The request timeout a plain request (without its own bound) waits for a "hanging" etcd. */
  public static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);

  /** One injected fault, consumed by the next request. */
  private enum Fault { FAIL, HANG, DENY }

  /** The shared "etcd": keys, revisions, etcd leases with expiries, watches and injected faults. */
  public static final class Data {
    private final Clock clock;
    private final TreeMap<String, Entry> keys = new TreeMap<>();
    private final Map<Long, Instant> etcdLeases = new HashMap<>();
    private final Deque<Fault> faults = new ArrayDeque<>();
    private final List<Duration> requestTimeouts = new ArrayList<>();
    private final List<FakeWatch> watches = new CopyOnWriteArrayList<>();
    private long revision;
    private long nextLeaseId = 0x1000;
    private long requests;
    private Executor delivery = Runnable::run;

    private record Entry(String value, long modRevision, long leaseId) {}

    public Data(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
    }

    public Clock clock() {
      return clock;
    }

    /**
     * Where watches deliver their results: by default synchronously, on the thread that made the
     * change (before the change's call returns). Applies to watches started afterwards.
     */
    public synchronized void deliverOn(Executor executor) {
      this.delivery = Objects.requireNonNull(executor, "executor");
    }

    /** etcd's current revision. */
    public synchronized long revision() {
      return revision;
    }

    /** Requests served or failed so far (every store call that talks to "etcd" counts one). */
    public synchronized long requests() {
      return requests;
    }

    /** The timeouts callers gave to {@code renew(lease, timeout)}, in order. */
    public synchronized List<Duration> requestTimeouts() {
      return List.copyOf(requestTimeouts);
    }

    /** The next {@code n} requests fail as if etcd were unreachable (a transient failure). */
    public synchronized void failNext(int n) {
      add(Fault.FAIL, n);
    }

    /**
     * The next {@code n} requests hang until their deadline (the timeout the caller gave, else
     * {@link #REQUEST_TIMEOUT}) and then fail transiently. A {@link ManualClock} is moved forward by
     * the wait; another clock is waited for in real time.
     */
    public synchronized void hangNext(int n) {
      add(Fault.HANG, n);
    }

    /** The next {@code n} requests are refused ({@link AccessDeniedException}, as a permission denied). */
    public synchronized void denyNext(int n) {
      add(Fault.DENY, n);
    }

    /** Drops every fault not yet consumed (etcd is healthy again). */
    public synchronized void clearFaults() {
      faults.clear();
    }

    /** Faults injected and not yet consumed. */
    public synchronized int faultsPending() {
      return faults.size();
    }

    private void add(Fault f, int n) {
      for (int i = 0; i < n; i++) {
        faults.add(f);
      }
    }

    /** Deletes every key whose etcd lease has run out by the clock; returns how many. */
    public int tick() {
      List<FakeWatch> notify;
      int n = 0;
      synchronized (this) {
        Instant now = clock.instant();
        List<Long> expired = new ArrayList<>();
        for (Map.Entry<Long, Instant> e : etcdLeases.entrySet()) {
          if (!e.getValue().isAfter(now)) {
            expired.add(e.getKey());
          }
        }
        for (long id : expired) {
          etcdLeases.remove(id);
          List<String> attached = new ArrayList<>();
          for (Map.Entry<String, Entry> e : keys.entrySet()) {
            if (e.getValue().leaseId() == id) {
              attached.add(e.getKey());
            }
          }
          for (String k : attached) {
            removeKey(k, LeaseEvent.Cause.EXPIRED);
            n++;
          }
        }
        notify = List.copyOf(watches);
      }
      drain(notify);
      return n;
    }

    /** Deletes {@code key} (etcdctl del): watches see {@code Removed(DELETED)}. False when absent. */
    public boolean delete(String key) {
      boolean existed;
      synchronized (this) {
        existed = keys.containsKey(key);
        if (existed) {
          removeKey(key, LeaseEvent.Cause.DELETED);
        }
      }
      drain(List.copyOf(watches));
      return existed;
    }

    /** Writes {@code key} without an etcd lease (etcdctl put): any value, also garbage. */
    public void put(String key, String value) {
      synchronized (this) {
        putKey(key, value, 0);
      }
      drain(List.copyOf(watches));
    }

    /** The stored value of {@code key}, if any. */
    public synchronized Optional<String> get(String key) {
      Entry e = keys.get(key);
      return e == null ? Optional.empty() : Optional.of(e.value());
    }

    /** Every key, sorted. */
    public synchronized List<String> keys() {
      return List.copyOf(keys.keySet());
    }

    /**
     * etcd lost its data (a new empty cluster, or restored from nothing): every key, the config
     * included, and every etcd lease is gone and the revision starts again. Watches notice the rewind
     * and deliver a fresh (empty) snapshot, as the real watch does.
     */
    public void wipe() {
      List<FakeWatch> notify;
      synchronized (this) {
        keys.clear();
        etcdLeases.clear();
        revision = 0;
        notify = List.copyOf(watches);
        for (FakeWatch w : notify) {
          w.enqueueSnapshot(List.of());
        }
      }
      drain(notify);
    }

    // ---- internals (callers hold the lock)

    /** Consumes one fault, if any, before a request; may move the clock or sleep. */
    private void request(Duration timeout) throws LeaseStoreException {
      Fault f;
      synchronized (this) {
        requests++;
        f = faults.poll();
      }
      if (f == null) {
        return;
      }
      switch (f) {
        case FAIL:
          throw new LeaseStoreException("etcd request failed: connection refused (injected fault)");
        case DENY:
          throw new AccessDeniedException("etcd denied access (permission denied, injected fault): grant the "
              + "client read and write access to the prefix", null);
        default:
          if (clock instanceof ManualClock m) {
            m.advance(timeout);
          } else {
            try {
              Thread.sleep(timeout.toMillis());
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              throw new LeaseStoreException("interrupted while waiting for etcd");
            }
          }
          throw new LeaseStoreException("etcd did not answer within " + timeout.toMillis() + " ms (injected fault)");
      }
    }

    private long putKey(String key, String value, long leaseId) {
      revision++;
      keys.put(key, new Entry(value, revision, leaseId));
      for (FakeWatch w : watches) {
        w.onPut(key, value, revision, leaseId);
      }
      return revision;
    }

    private void removeKey(String key, LeaseEvent.Cause cause) {
      Entry e = keys.remove(key);
      if (e == null) {
        return;
      }
      revision++;
      for (FakeWatch w : watches) {
        w.onDelete(key, cause);
      }
    }

    private long grant(Duration ttl) {
      long id = nextLeaseId++;
      etcdLeases.put(id, clock.instant().plus(ttl));
      return id;
    }

    private void revoke(long id) {
      if (id == 0 || etcdLeases.remove(id) == null) {
        return;
      }
      List<String> attached = new ArrayList<>();
      for (Map.Entry<String, Entry> e : keys.entrySet()) {
        if (e.getValue().leaseId() == id) {
          attached.add(e.getKey());
        }
      }
      for (String k : attached) {
        removeKey(k, LeaseEvent.Cause.DELETED);
      }
    }

    private void drain(List<FakeWatch> ws) {
      for (FakeWatch w : ws) {
        w.drain();
      }
    }
  }

  private final Data data;
  private final String prefix;
  private final String configKey;
  private final String subnetsPrefix;
  private final Duration ttl;
  private final Random random = new Random(1);
  private final AtomicLong badKeysSkipped = new AtomicLong();
  private final AtomicLong compactionsSeen = new AtomicLong();
  private final List<FakeWatch> myWatches = new CopyOnWriteArrayList<>();

  /**
   * One host's client.
   *
   * @param prefix flannel's {@code --etcd-prefix}, e.g. {@code /coreos.com/network}
   * @param ttl    TTL of the etcd lease attached to every subnet key written
   */
  public FakeLeaseStore(Data data, String prefix, Duration ttl) {
    this.data = Objects.requireNonNull(data, "data");
    String p = Objects.requireNonNull(prefix, "prefix").replaceAll("/{2,}", "/");
    while (p.length() > 1 && p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    this.prefix = p;
    this.configKey = join(p, "config");
    this.subnetsPrefix = join(p, "subnets") + "/";
    this.ttl = Objects.requireNonNull(ttl, "ttl");
    if (ttl.toSeconds() < 1) {
      throw new IllegalArgumentException("lease TTL must be at least 1 s, got " + ttl);
    }
  }

  private static String join(String prefix, String name) {
    return prefix.equals("/") ? "/" + name : prefix + "/" + name;
  }

  public Data data() {
    return data;
  }

  /** The full key of {@code subnet} under this prefix. */
  public String keyOf(Ipv4Subnet subnet) {
    return subnetsPrefix + SubnetKeys.format(subnet);
  }

  // ---- LeaseStore

  @Override
  public NetworkConfig networkConfig() throws LeaseStoreException {
    data.request(REQUEST_TIMEOUT);
    return config();
  }

  private NetworkConfig config() throws LeaseStoreException {
    Optional<String> raw = data.get(configKey);
    if (raw.isEmpty()) {
      throw new NetworkConfigMissingException("flannel config not found in etcd store. Did you create your"
          + " config using etcdv3 API? (key " + configKey + "; create it with: tartan network init)");
    }
    return NetworkConfig.parse(raw.get());
  }

  @Override
  public SubnetLease acquire(LeaseAttrs attrs, Optional<Ipv4Subnet> previous, Optional<Ipv6Subnet> previousV6)
      throws LeaseStoreException {
    Objects.requireNonNull(attrs, "attrs");
    Objects.requireNonNull(previous, "previous");
    Objects.requireNonNull(previousV6, "previousV6");
    data.request(REQUEST_TIMEOUT);
    String value = LeaseJson.encode(attrs);
    try {
      synchronized (data) {
        NetworkConfig cfg = config();
        SubnetAllocator.Allocation a =
            SubnetAllocator.allocate(cfg, read(false), attrs.publicIp(), previous, previousV6, random);
        for (SubnetLease stale : a.incompatible()) {
          deleteIfUnchanged(stale);
        }
        if (a.source() == SubnetAllocator.Source.REUSE) {
          return rewrite(a.existing(), attrs, value).orElseThrow(); // under the lock nothing can race us
        }
        long lease = a.reservation() ? 0 : data.grant(ttl);
        long rev = data.putKey(subnetsPrefix + a.key(), value, lease);
        return new SubnetLease(a.subnet(), a.ipv6Subnet(), attrs,
            a.reservation() ? null : data.clock.instant().plus(ttl), lease, rev);
      }
    } finally {
      drainIfNeeded();
    }
  }

  @Override
  public SubnetLease renew(SubnetLease lease) throws LeaseStoreException {
    return renew(lease, REQUEST_TIMEOUT);
  }

  @Override
  public SubnetLease renew(SubnetLease lease, Duration timeout) throws LeaseStoreException {
    Objects.requireNonNull(lease, "lease");
    synchronized (data) {
      data.requestTimeouts.add(timeout);
    }
    data.request(timeout);
    try {
      synchronized (data) {
        SubnetLease current = reread(lease, "renew");
        return rewrite(current, lease.attrs(), LeaseJson.encode(lease.attrs())).orElseThrow();
      }
    } finally {
      drainIfNeeded();
    }
  }

  @Override
  public void release(SubnetLease lease) throws LeaseStoreException {
    Objects.requireNonNull(lease, "lease");
    data.request(REQUEST_TIMEOUT);
    try {
      synchronized (data) {
        if (data.keys.get(keyOf(lease)) == null) {
          return;
        }
        deleteIfUnchanged(reread(lease, "release"));
      }
    } finally {
      drainIfNeeded();
    }
  }

  @Override
  public List<SubnetLease> list() throws LeaseStoreException {
    data.request(REQUEST_TIMEOUT);
    synchronized (data) {
      return read(true);
    }
  }

  @Override
  public Subscription watch(LeaseListener listener) {
    FakeWatch w;
    synchronized (data) {
      w = new FakeWatch(this, Objects.requireNonNull(listener, "listener"), data.delivery);
      w.enqueueSnapshot(read(false));
      data.watches.add(w);
      myWatches.add(w);
    }
    w.drain();
    return w;
  }

  @Override
  public void close() {
    for (FakeWatch w : myWatches) {
      w.close();
    }
  }

  // ---- LeaseAdmin

  @Override
  public Optional<String> rawConfig() throws LeaseStoreException {
    data.request(REQUEST_TIMEOUT);
    return data.get(configKey);
  }

  @Override
  public void putConfig(String json, boolean force) throws LeaseStoreException {
    NetworkConfig.parse(json);
    data.request(REQUEST_TIMEOUT);
    try {
      synchronized (data) {
        Optional<String> old = data.get(configKey);
        if (old.isPresent() && sameJson(old.get(), json)) {
          return;
        }
        if (old.isPresent() && !force) {
          throw new LeaseStoreException(
              "a different network config already exists at " + configKey + "; use --force to replace it");
        }
        data.putKey(configKey, json, 0);
      }
    } finally {
      drainIfNeeded();
    }
  }

  /** As etcd's store: the same JSON whitespace aside is the same config. */
  private static boolean sameJson(String a, String b) {
    try {
      var json = new com.fasterxml.jackson.databind.ObjectMapper();
      var x = json.readTree(a);
      return x != null && x.equals(json.readTree(b));
    } catch (java.io.IOException e) {
      return a.equals(b);
    }
  }

  @Override
  public SubnetLease reserve(Ipv4Subnet subnet, Inet4Address publicIp) throws LeaseStoreException {
    Objects.requireNonNull(subnet, "subnet");
    Objects.requireNonNull(publicIp, "publicIp");
    data.request(REQUEST_TIMEOUT);
    try {
      synchronized (data) {
        Optional<String> raw = data.get(configKey);
        if (raw.isPresent()) {
          NetworkConfig cfg = NetworkConfig.parse(raw.get());
          if (!cfg.accepts(subnet)) {
            throw new LeaseStoreException("cannot reserve " + subnet + ": the network config only leases /"
                + cfg.subnetLen() + " subnets between " + cfg.subnetMin().getHostAddress() + " and "
                + cfg.subnetMax().getHostAddress());
          }
        }
        SubnetLease same = null;
        for (SubnetLease l : read(false)) {
          if (!l.subnet().overlaps(subnet)) {
            continue;
          }
          if (l.subnet().equals(subnet) && l.attrs().publicIp().equals(publicIp)) {
            same = l;
          } else {
            throw new LeaseStoreException("cannot reserve " + subnet + " for " + publicIp.getHostAddress()
                + ": " + l.subnet() + " is leased to " + l.attrs().publicIp().getHostAddress()
                + " (release it first: tartan leases release " + l.subnet() + ")");
          }
        }
        LeaseAttrs attrs = same != null ? same.attrs() : LeaseAttrs.ipv4(publicIp, null, null);
        long rev = data.putKey(keyOf(subnet), LeaseJson.encode(attrs), 0);
        if (same != null && same.etcdLeaseId() != 0) {
          data.etcdLeases.remove(same.etcdLeaseId());
        }
        return new SubnetLease(subnet, null, attrs, null, 0, rev);
      }
    } finally {
      drainIfNeeded();
    }
  }

  @Override
  public boolean releaseSubnet(Ipv4Subnet subnet) throws LeaseStoreException {
    Objects.requireNonNull(subnet, "subnet");
    data.request(REQUEST_TIMEOUT);
    boolean deleted = false;
    try {
      synchronized (data) {
        for (String key : List.copyOf(data.keys.keySet())) {
          Optional<SubnetKey> k = parseKey(key);
          if (k.isPresent() && k.get().subnet().equals(subnet)) {
            data.removeKey(key, LeaseEvent.Cause.DELETED);
            deleted = true;
          }
        }
      }
    } finally {
      drainIfNeeded();
    }
    return deleted;
  }

  @Override
  public String configKey() {
    return configKey;
  }

  @Override
  public String subnetsPrefix() {
    return subnetsPrefix;
  }

  // ---- StoreStats, Store

  @Override
  public long badKeysSkipped() {
    return badKeysSkipped.get();
  }

  @Override
  public long watchReconnects() {
    return 0;
  }

  @Override
  public long compactionsSeen() {
    return compactionsSeen.get();
  }

  @Override
  public Duration leaseTtl() {
    return ttl;
  }

  // ---- internals (callers hold data's lock)

  private void drainIfNeeded() {
    data.drain(List.copyOf(data.watches));
  }

  /** Every parsable lease under our prefix, sorted by subnet; with {@code withTtl} their expiries. */
  private List<SubnetLease> read(boolean withTtl) {
    List<SubnetLease> out = new ArrayList<>();
    for (Map.Entry<String, Data.Entry> e : data.keys.subMap(subnetsPrefix, subnetsPrefix + Character.MAX_VALUE)
        .entrySet()) {
      SubnetLease l = toLease(e.getKey(), e.getValue().value(), e.getValue().modRevision(), e.getValue().leaseId(),
          withTtl);
      if (l != null) {
        out.add(l);
      }
    }
    out.sort(Comparator.comparing(SubnetLease::subnet));
    return out;
  }

  private SubnetLease toLease(String key, String value, long modRevision, long leaseId, boolean withTtl) {
    Optional<SubnetKey> k = parseKey(key);
    if (k.isEmpty()) {
      badKeysSkipped.incrementAndGet();
      return null;
    }
    LeaseAttrs attrs;
    try {
      attrs = LeaseJson.decode(value);
    } catch (MalformedLeaseException e) {
      badKeysSkipped.incrementAndGet();
      return null;
    }
    Instant expiresAt = null;
    if (withTtl && leaseId != 0) {
      expiresAt = data.etcdLeases.getOrDefault(leaseId, data.clock.instant());
    }
    return new SubnetLease(k.get().subnet(), k.get().ipv6Subnet(), attrs, expiresAt, leaseId, modRevision);
  }

  private Optional<SubnetKey> parseKey(String key) {
    if (!key.startsWith(subnetsPrefix) || key.indexOf('/', subnetsPrefix.length()) >= 0) {
      return Optional.empty();
    }
    return SubnetKeys.parse(key.substring(subnetsPrefix.length()));
  }

  private String keyOf(SubnetLease l) {
    return subnetsPrefix + SubnetKeys.format(l.subnet(), l.ipv6Subnet());
  }

  /**
   * Our key as stored now: {@code ours} with the stored revision and etcd lease when the key still
   * carries our PublicIP, else {@link LeaseLostException} (the texts of the etcd store).
   */
  private SubnetLease reread(SubnetLease ours, String op) throws LeaseStoreException {
    String key = keyOf(ours);
    Data.Entry e = data.keys.get(key);
    if (e == null) {
      throw new LeaseLostException("lease " + ours.subnet() + " is gone (expired or deleted): " + key);
    }
    LeaseAttrs stored;
    try {
      stored = LeaseJson.decode(e.value());
    } catch (MalformedLeaseException m) {
      throw new LeaseLostException("lease " + ours.subnet() + " was overwritten with a value that is not a lease ("
          + m.getMessage() + "): " + key);
    }
    if (!stored.publicIp().equals(ours.attrs().publicIp())) {
      throw new LeaseLostException("lease " + ours.subnet() + " now belongs to host "
          + stored.publicIp().getHostAddress() + ", not " + ours.attrs().publicIp().getHostAddress() + "; not "
          + (op.equals("release") ? "deleting" : "overwriting") + " it");
    }
    return new SubnetLease(ours.subnet(), ours.ipv6Subnet(), ours.attrs(), ours.expiresAt(), e.leaseId(),
        e.modRevision());
  }

  /** Owner-checked rewrite with a fresh etcd lease (a reservation stays without one). */
  private Optional<SubnetLease> rewrite(SubnetLease existing, LeaseAttrs attrs, String value) {
    String key = keyOf(existing);
    Data.Entry e = data.keys.get(key);
    if (e == null || e.modRevision() != existing.modRevision()) {
      return Optional.empty();
    }
    boolean reservation = e.leaseId() == 0;
    long lease = reservation ? 0 : data.grant(ttl);
    long rev = data.putKey(key, value, lease);
    if (!reservation) {
      data.etcdLeases.remove(e.leaseId()); // revoked: it holds no key any more
    }
    return Optional.of(new SubnetLease(existing.subnet(), existing.ipv6Subnet(), attrs,
        reservation ? null : data.clock.instant().plus(ttl), lease, rev));
  }

  private boolean deleteIfUnchanged(SubnetLease lease) {
    String key = keyOf(lease);
    Data.Entry e = data.keys.get(key);
    if (e == null || e.modRevision() != lease.modRevision()) {
      return false;
    }
    data.removeKey(key, LeaseEvent.Cause.DELETED);
    data.etcdLeases.remove(e.leaseId());
    return true;
  }

  /** One watch: the leases it knows (for Removed's last known copy) and a serial delivery queue. */
  private static final class FakeWatch implements Subscription {
    private final FakeLeaseStore store;
    private final LeaseListener listener;
    private final Executor executor;
    private final Map<String, SubnetLease> known = new HashMap<>();
    private final ConcurrentLinkedQueue<Runnable> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean draining = new AtomicBoolean();
    private final List<LeaseEvent> batch = new ArrayList<>();
    private volatile boolean closed;

    FakeWatch(FakeLeaseStore store, LeaseListener listener, Executor executor) {
      this.store = store;
      this.listener = listener;
      this.executor = executor;
    }

    /** Called with data's lock held. */
    void enqueueSnapshot(List<SubnetLease> leases) {
      flushBatch();
      known.clear();
      for (SubnetLease l : leases) {
        known.put(store.keyOf(l), l);
      }
      List<SubnetLease> copy = List.copyOf(leases);
      queue.add(() -> listener.onSnapshot(copy));
    }

    /** Called with data's lock held. */
    void onPut(String key, String value, long rev, long leaseId) {
      if (!key.startsWith(store.subnetsPrefix)) {
        return;
      }
      SubnetLease l = store.toLease(key, value, rev, leaseId, false);
      if (l != null) {
        known.put(key, l);
        batch.add(new LeaseEvent.Added(l));
      }
    }

    /** Called with data's lock held. */
    void onDelete(String key, LeaseEvent.Cause cause) {
      SubnetLease old = known.remove(key);
      if (old != null) {
        batch.add(new LeaseEvent.Removed(old, cause));
      }
    }

    private void flushBatch() {
      if (!batch.isEmpty()) {
        List<LeaseEvent> events = List.copyOf(batch);
        batch.clear();
        queue.add(() -> listener.onEvents(events));
      }
    }

    /** Delivers what is queued, one caller at a time, in order (on the executor). */
    void drain() {
      synchronized (store.data) {
        flushBatch();
      }
      if (queue.isEmpty()) {
        return;
      }
      executor.execute(this::runQueue);
    }

    private void runQueue() {
      if (!draining.compareAndSet(false, true)) {
        return; // the thread already draining picks the new items up
      }
      try {
        Runnable r;
        while ((r = queue.poll()) != null) {
          if (!closed) {
            r.run();
          }
        }
      } finally {
        draining.set(false);
      }
      if (!queue.isEmpty()) {
        runQueue();
      }
    }

    @Override
    public void close() {
      closed = true;
      synchronized (store.data) {
        store.data.watches.remove(this);
        store.myWatches.remove(this);
      }
    }
  }
}
