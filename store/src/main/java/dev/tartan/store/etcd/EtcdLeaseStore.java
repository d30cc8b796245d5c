package dev.tartan.store.etcd;

import dev.tartan.store.AccessDeniedException;
import dev.tartan.store.Store;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.LeaseLostException;
import dev.tartan.store.LeaseStore;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.NetworkConfigMissingException;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.Subscription;
import dev.tartan.store.alloc.SubnetAllocator;
import dev.tartan.store.alloc.SubnetAllocator.Allocation;
import dev.tartan.store.alloc.SubnetKey;
import dev.tartan.store.alloc.SubnetKeys;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.ClientBuilder;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.common.exception.EtcdException;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.lease.LeaseGrantResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.LeaseOption;
import io.etcd.jetcd.options.PutOption;
import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link LeaseStore} on etcd v3 (jetcd), in flannel's layout and value format (spec §1), with
 * owner-checked writes: every rewrite or delete of a subnet key is a transaction that compares the
 * key's mod revision with the one we last saw, so another host's lease is never overwritten.
 *
 * <p>Thread-safe. Requests time out after {@value #REQUEST_TIMEOUT_SECONDS} s each; a watch runs on
 * its own thread and reconnects by itself.
 */
public final class EtcdLeaseStore implements Store {
  private static final int TTL_LOOKUPS_IN_FLIGHT = 256;

  private static final Logger LOG = LoggerFactory.getLogger(EtcdLeaseStore.class);

  /** How often acquire re-lists and retries after losing a creation race (flannel: 10). */
  static final int RACE_ATTEMPTS = 10;
  /** How many consecutive etcd outages acquire rides out (with backoff 100 ms .. 2 s) before failing. */
  static final int TRANSIENT_ATTEMPTS = 8;
  static final long REQUEST_TIMEOUT_SECONDS = 10;
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Client client;
  private final boolean ownsClient;
  private final String prefix;
  private final String configKey;
  private final String subnetsPrefix;
  private final Duration ttl;
  private final Clock clock;
  private final Random random;
  private final String endpointsText;
  private final int pageSize;

  private final AtomicLong badKeysSkipped = new AtomicLong();
  private final AtomicLong watchReconnects = new AtomicLong();
  private final AtomicLong compactionsSeen = new AtomicLong();
  private final Set<String> warnedKeys = ConcurrentHashMap.newKeySet();
  private final Set<LeaseWatch> watches = ConcurrentHashMap.newKeySet();

  /**
   * A store on a client the caller owns (and closes after the store).
   *
   * @param prefix flannel's {@code --etcd-prefix}, e.g. {@code /coreos.com/network}
   * @param ttl    TTL of the etcd lease attached to every subnet key we write (whole seconds)
   */
  public EtcdLeaseStore(Client client, String prefix, Duration ttl, Clock clock, Random random) {
    this(client, false, prefix, ttl, clock, random, "(caller's client)", EtcdOptions.DEFAULT_PAGE_SIZE);
  }

  private EtcdLeaseStore(Client client, boolean ownsClient, String prefix, Duration ttl, Clock clock,
      Random random, String endpointsText, int pageSize) {
    this.client = Objects.requireNonNull(client, "client");
    this.ownsClient = ownsClient;
    this.prefix = EtcdOptions.normalizePrefix(prefix);
    this.configKey = join(this.prefix, "config");
    this.subnetsPrefix = join(this.prefix, "subnets") + "/";
    this.ttl = Objects.requireNonNull(ttl, "ttl");
    if (ttl.toSeconds() < 1) {
      throw new IllegalArgumentException("lease TTL must be at least 1 s, got " + ttl);
    }
    this.clock = Objects.requireNonNull(clock, "clock");
    this.random = Objects.requireNonNull(random, "random");
    this.endpointsText = endpointsText;
    this.pageSize = pageSize;
  }

  private static String join(String prefix, String name) {
    return prefix.equals("/") ? "/" + name : prefix + "/" + name;
  }

  /**
   * Connects to etcd with the given options and checks that it answers (reading the config key). The
   * returned store owns the client and closes it in {@link #close()}.
   *
   * @throws LeaseStoreException naming the endpoints tried when etcd cannot be reached, the TLS files
   *     cannot be loaded or authentication fails
   */
  public static EtcdLeaseStore connect(EtcdOptions opts) throws LeaseStoreException {
    String tried = opts.endpoints().stream().map(URI::toString).collect(Collectors.joining(", "));
    ClientBuilder b = clientBuilder(opts);
    Client client = b.build();
    EtcdLeaseStore store = new EtcdLeaseStore(client, true, opts.prefix(), opts.leaseTtl(), Clock.systemUTC(),
        new Random(), tried, opts.pageSize());
    try {
      CompletableFuture<GetResponse> f = client.getKVClient()
          .get(bs(store.configKey), GetOption.builder().withCountOnly(true).build());
      f.get(CONNECT_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      client.close();
      throw new LeaseStoreException("cannot reach etcd at " + tried + ": no answer within "
          + CONNECT_TIMEOUT.toSeconds() + " s; check --etcd-endpoints and that etcd is running");
    } catch (ExecutionException e) {
      client.close();
      String denied = accessDenied(e.getCause(), opts);
      if (denied != null) {
        throw new AccessDeniedException("cannot reach etcd at " + tried + ": " + denied, e.getCause());
      }
      throw new LeaseStoreException("cannot reach etcd at " + tried + ": " + rootMessage(e.getCause()), e.getCause());
    } catch (InterruptedException e) {
      client.close();
      Thread.currentThread().interrupt();
      throw new LeaseStoreException("interrupted while connecting to etcd at " + tried);
    }
    LOG.debug("connected to etcd at {} (prefix {})", tried, store.prefix);
    return store;
  }

  /**
   * Why etcd refused this client for good (a failed TLS handshake, rejected or missing credentials,
   * no permission on the prefix), as one line naming the setting to fix; null when {@code failure}
   * may be transient (etcd down, restarting, no leader).
   */
  static String accessDenied(Throwable failure, EtcdOptions opts) {
    for (Throwable c = failure; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof javax.net.ssl.SSLHandshakeException) {
        return "the TLS handshake failed (" + rootMessage(c) + "): check that --etcd-cafile " + opts.caFile()
            + " signed etcd's server certificate"
            + (opts.certFile() == null ? " and whether etcd requires a client certificate (--etcd-certfile, "
                + "--etcd-keyfile)" : " and that etcd accepts --etcd-certfile " + opts.certFile());
      }
      String m = c.getMessage() == null ? "" : c.getMessage();
      if (m.contains("etcdserver: authentication failed")) {
        return "etcd rejected the user name or password (authentication failed, invalid user ID or "
            + "password): check --etcd-username and --etcd-password";
      }
      if (m.contains("etcdserver: user name is empty")) {
        return "etcd requires authentication (user name is empty): set --etcd-username and --etcd-password";
      }
      if (m.contains("etcdserver: permission denied")) {
        return "etcd denied access (permission denied): grant " + (opts.username() == null ? "the client"
            : "user " + opts.username()) + " read and write access to " + opts.prefix() + "/";
      }
    }
    return null;
  }

  /** The jetcd client configuration for {@code opts}: endpoints, TLS, auth, timeouts. */
  static ClientBuilder clientBuilder(EtcdOptions opts) throws LeaseStoreException {
    // Not waitForReady: with every endpoint down a request fails at once with the reason (refused,
    // TLS handshake, ...) instead of hanging until its timeout; the owning loops retry with backoff.
    ClientBuilder b = Client.builder().endpoints(opts.endpoints()).connectTimeout(CONNECT_TIMEOUT)
        .waitForReady(false);
    if (opts.caFile() != null) {
      try {
        SslContextBuilder ssl = GrpcSslContexts.forClient().trustManager(opts.caFile().toFile());
        if (opts.certFile() != null) {
          ssl.keyManager(opts.certFile().toFile(), opts.keyFile().toFile());
        }
        b.sslContext(ssl.build());
      } catch (IOException | RuntimeException e) {
        throw new LeaseStoreException("cannot load the etcd TLS files (--etcd-cafile " + opts.caFile()
            + (opts.certFile() == null ? "" : ", --etcd-certfile " + opts.certFile() + ", --etcd-keyfile "
                + opts.keyFile())
            + "): " + rootMessage(e) + " (PEM files; the key must be unencrypted PKCS#8: "
            + "openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem)", e);
      }
    }
    if (opts.username() != null) {
      b.user(ByteSequence.from(opts.username(), UTF_8)).password(ByteSequence.from(opts.password(), UTF_8));
    }
    return b;
  }

  // ---------------------------------------------------------------------------------------------
  // LeaseStore

  @Override
  public NetworkConfig networkConfig() throws LeaseStoreException {
    Optional<String> raw = rawConfig();
    if (raw.isEmpty()) {
      throw new NetworkConfigMissingException("flannel config not found in etcd store. Did you create your"
          + " config using etcdv3 API? (key " + configKey + "; create it with: tartan network init)");
    }
    return NetworkConfig.parse(raw.get());
  }

  @Override
  public SubnetLease acquire(LeaseAttrs attrs, Optional<Ipv4Subnet> previous) throws LeaseStoreException {
    Objects.requireNonNull(attrs, "attrs");
    Objects.requireNonNull(previous, "previous");
    String value = LeaseJson.encode(attrs);
    int races = 0;
    int outages = 0;
    long backoffMillis = 100;
    Optional<Ipv4Subnet> prev = previous;
    while (true) {
      try {
        NetworkConfig cfg = networkConfig();
        Snapshot snap = read(false);
        Allocation a = SubnetAllocator.allocate(cfg, snap.leases(), attrs.publicIp(), prev, random);
        for (SubnetLease stale : a.incompatible()) {
          LOG.info("deleting lease {} of this host ({}): it does not fit the network config {} (/{} in {} .. {})",
              stale.subnet(), attrs.publicIp().getHostAddress(), cfg.network(), cfg.subnetLen(),
              cfg.subnetMin().getHostAddress(), cfg.subnetMax().getHostAddress());
          deleteIfUnchanged(stale);
        }
        Optional<SubnetLease> got = a.source() == SubnetAllocator.Source.REUSE
            ? rewrite(a.existing(), attrs, value)
            : create(a.subnet(), attrs, value);
        if (got.isPresent()) {
          SubnetLease l = got.get();
          LOG.info("lease acquired: {} for {} ({}{})", l.subnet(), attrs.publicIp().getHostAddress(),
              describe(a.source()), l.reserved() ? ", reservation without TTL" : ", expires " + l.expiresAt());
          return l;
        }
        races++;
        if (races >= RACE_ATTEMPTS) {
          throw new LeaseStoreException("could not acquire a subnet: another host changed the chosen key "
              + races + " times in a row (last " + a.subnet() + "); try again");
        }
        LOG.info("subnet {} was taken or changed by another host meanwhile; re-listing", a.subnet());
        if (a.source() == SubnetAllocator.Source.PREVIOUS) {
          prev = Optional.empty();
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

  private static String describe(SubnetAllocator.Source s) {
    switch (s) {
      case REUSE:
        return "reused the lease of this public IP";
      case PREVIOUS:
        return "previous subnet from the subnet file";
      default:
        return "new";
    }
  }

  @Override
  public SubnetLease renew(SubnetLease lease) throws LeaseStoreException {
    Objects.requireNonNull(lease, "lease");
    String value = LeaseJson.encode(lease.attrs());
    SubnetLease current = lease;
    for (int attempt = 0; attempt < 3; attempt++) {
      Optional<SubnetLease> renewed = rewrite(current, lease.attrs(), value);
      if (renewed.isPresent()) {
        SubnetLease l = renewed.get();
        LOG.info("lease renewed: {} ({})", l.subnet(),
            l.reserved() ? "reservation, no TTL" : "expires " + l.expiresAt());
        return l;
      }
      current = reread(current, "renew");
    }
    throw new LeaseStoreException("could not renew " + lease.subnet() + ": the key kept changing under us");
  }

  /**
   * Re-reads our key after an owner-checked write failed: our copy with the stored revision and etcd
   * lease when the key still carries our PublicIP, else {@link LeaseLostException}.
   */
  private SubnetLease reread(SubnetLease ours, String op) throws LeaseStoreException {
    String key = keyOf(ours);
    KeyValue kv = getKey(key);
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

  @Override
  public void release(SubnetLease lease) throws LeaseStoreException {
    Objects.requireNonNull(lease, "lease");
    SubnetLease current = lease;
    for (int attempt = 0; attempt < 3; attempt++) {
      if (deleteIfUnchanged(current)) {
        LOG.info("lease released: {}", lease.subnet());
        return;
      }
      try {
        current = reread(current, "release");
      } catch (LeaseLostException e) {
        if (getKey(keyOf(current)) == null) {
          LOG.info("lease {} was already gone", lease.subnet());
          return;
        }
        throw e;
      }
    }
    throw new LeaseStoreException("could not release " + lease.subnet() + ": the key kept changing under us");
  }

  @Override
  public List<SubnetLease> list() throws LeaseStoreException {
    return read(true).leases();
  }

  @Override
  public Subscription watch(LeaseListener listener) {
    LeaseWatch w = new LeaseWatch(this, Objects.requireNonNull(listener, "listener"));
    watches.add(w);
    w.start();
    return w;
  }

  @Override
  public void close() {
    for (LeaseWatch w : List.copyOf(watches)) {
      w.close();
    }
    if (ownsClient) {
      client.close();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Admin operations (tartan network / tartan leases)

  /** The stored {@code <prefix>/config} text, if any. */
  public Optional<String> rawConfig() throws LeaseStoreException {
    KeyValue kv = getKey(configKey);
    return kv == null ? Optional.empty() : Optional.of(kv.getValue().toString(UTF_8));
  }

  /**
   * Writes {@code <prefix>/config}. The JSON is validated first ({@link NetworkConfig#parse}). An
   * identical config (same JSON, whitespace aside) is left as it is; a different one is only
   * replaced with {@code force}.
   */
  public void putConfig(String json, boolean force) throws LeaseStoreException {
    NetworkConfig.parse(json);
    for (int attempt = 0; attempt < 5; attempt++) {
      KeyValue existing = getKey(configKey);
      Cmp cmp;
      if (existing == null) {
        cmp = new Cmp(bs(configKey), Cmp.Op.EQUAL, CmpTarget.version(0));
      } else {
        String old = existing.getValue().toString(UTF_8);
        if (sameJson(old, json)) {
          LOG.info("network config at {} is unchanged", configKey);
          return;
        }
        if (!force) {
          throw new LeaseStoreException(
              "a different network config already exists at " + configKey + "; use --force to replace it");
        }
        cmp = new Cmp(bs(configKey), Cmp.Op.EQUAL, CmpTarget.modRevision(existing.getModRevision()));
      }
      TxnResponse t = await(() -> client.getKVClient().txn().If(cmp)
          .Then(Op.put(bs(configKey), bs(json), PutOption.DEFAULT)).commit(), "write " + configKey);
      if (t.isSucceeded()) {
        LOG.info("network config {} at {}: {}", existing == null ? "created" : "replaced", configKey, json);
        return;
      }
    }
    throw new LeaseStoreException("could not write " + configKey + ": it kept changing under us");
  }

  private static boolean sameJson(String a, String b) {
    try {
      JsonNode x = JSON.readTree(a);
      JsonNode y = JSON.readTree(b);
      return x != null && x.equals(y);
    } catch (IOException e) {
      return a.equals(b);
    }
  }

  /**
   * Pins {@code subnet} to the host {@code publicIp} with a key that has no etcd lease (flannel's
   * reservation). An existing lease of that host for exactly this subnet is turned into a reservation;
   * a subnet overlapping another host's lease is refused, as is one the network config would not let
   * the host keep.
   */
  public SubnetLease reserve(Ipv4Subnet subnet, Inet4Address publicIp) throws LeaseStoreException {
    Objects.requireNonNull(subnet, "subnet");
    Objects.requireNonNull(publicIp, "publicIp");
    Optional<String> raw = rawConfig();
    if (raw.isPresent()) {
      NetworkConfig cfg = NetworkConfig.parse(raw.get());
      if (!cfg.accepts(subnet)) {
        throw new LeaseStoreException("cannot reserve " + subnet + ": the network config only leases /"
            + cfg.subnetLen() + " subnets between " + cfg.subnetMin().getHostAddress() + " and "
            + cfg.subnetMax().getHostAddress());
      }
    }
    for (int attempt = 0; attempt < 5; attempt++) {
      Snapshot snap = read(false);
      SubnetLease same = null;
      for (SubnetLease l : snap.leases()) {
        if (!l.subnet().overlaps(subnet)) {
          continue;
        }
        if (l.subnet().equals(subnet) && l.attrs().publicIp().equals(publicIp)) {
          same = l;
        } else {
          throw new LeaseStoreException("cannot reserve " + subnet + " for " + publicIp.getHostAddress()
              + ": it overlaps the lease " + l.subnet() + " of host " + l.attrs().publicIp().getHostAddress()
              + " (release that first: tartan leases release " + l.subnet() + ")");
        }
      }
      TxnResponse t;
      SubnetLease result;
      if (same != null) {
        String key = keyOf(same);
        String value = LeaseJson.encode(same.attrs());
        long rev = same.modRevision();
        t = await(() -> client.getKVClient().txn()
            .If(new Cmp(bs(key), Cmp.Op.EQUAL, CmpTarget.modRevision(rev)))
            .Then(Op.put(bs(key), bs(value), PutOption.DEFAULT)).commit(), "reserve " + key);
        result = new SubnetLease(subnet, same.ipv6Subnet(), same.attrs(), null, 0, revisionOf(t));
        if (t.isSucceeded() && same.etcdLeaseId() != 0) {
          revokeQuietly(same.etcdLeaseId());
        }
      } else {
        String key = keyOf(subnet, null);
        LeaseAttrs attrs = LeaseAttrs.ipv4(publicIp, null, null);
        t = await(() -> client.getKVClient().txn()
            .If(new Cmp(bs(key), Cmp.Op.EQUAL, CmpTarget.version(0)))
            .Then(Op.put(bs(key), bs(LeaseJson.encode(attrs)), PutOption.DEFAULT)).commit(), "reserve " + key);
        result = new SubnetLease(subnet, null, attrs, null, 0, revisionOf(t));
      }
      if (t.isSucceeded()) {
        LOG.info("subnet {} reserved for {} (no TTL)", subnet, publicIp.getHostAddress());
        return result;
      }
    }
    throw new LeaseStoreException("could not reserve " + subnet + ": the key kept changing under us");
  }

  /**
   * Deletes the key of {@code subnet} whoever owns it (an operator's {@code tartan leases release}).
   *
   * @return whether a key existed
   */
  public boolean releaseSubnet(Ipv4Subnet subnet) throws LeaseStoreException {
    Objects.requireNonNull(subnet, "subnet");
    boolean deleted = false;
    for (KeyValue kv : listPrefix(true).items()) {
      String key = kv.getKey().toString(UTF_8);
      Optional<SubnetKey> k = parseKey(key);
      if (k.isPresent() && k.get().subnet().equals(subnet)) {
        long n = await(() -> client.getKVClient().delete(bs(key), DeleteOption.DEFAULT), "delete " + key).getDeleted();
        if (n > 0) {
          deleted = true;
          LOG.info("subnet {} released (deleted {})", subnet, key);
        }
      }
    }
    return deleted;
  }

  // ---------------------------------------------------------------------------------------------
  // Counters (for metrics)

  /** Keys or values under {@code subnets/} skipped because they do not parse. */
  public long badKeysSkipped() {
    return badKeysSkipped.get();
  }

  /** Watch outages (each followed by a reconnect attempt). */
  public long watchReconnects() {
    return watchReconnects.get();
  }

  /** Compactions a watch ran into (each followed by a re-list). */
  public long compactionsSeen() {
    return compactionsSeen.get();
  }

  /** {@code <prefix>/config}. */
  public String configKey() {
    return configKey;
  }

  /** {@code <prefix>/subnets/}. */
  public String subnetsPrefix() {
    return subnetsPrefix;
  }

  /** The TTL given to the etcd lease of every subnet key written. */
  public Duration leaseTtl() {
    return ttl;
  }

  // ---------------------------------------------------------------------------------------------
  // internals shared with LeaseWatch

  /** Every parsable lease (sorted by subnet) and the revision of the read. */
  record Snapshot(List<SubnetLease> leases, long revision) {}

  Client client() {
    return client;
  }

  Clock clock() {
    return clock;
  }

  void countReconnect() {
    watchReconnects.incrementAndGet();
  }

  void countCompaction() {
    compactionsSeen.incrementAndGet();
  }

  void forget(LeaseWatch w) {
    watches.remove(w);
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

  /** Every key under {@code subnets/}, read in pages of {@link #pageSize} keys at one revision. */
  private PagedRange.Listing<KeyValue> listPrefix(boolean keysOnly) throws LeaseStoreException {
    ByteSequence end = PagedRange.prefixEnd(bs(subnetsPrefix));
    return PagedRange.list(bs(subnetsPrefix), pageSize, (from, revision, limit) -> {
      GetOption.Builder o = GetOption.builder().withRange(end).withLimit(limit).withKeysOnly(keysOnly)
          .withSortField(GetOption.SortTarget.KEY).withSortOrder(GetOption.SortOrder.ASCEND);
      if (revision > 0) {
        o.withRevision(revision);
      }
      GetOption opt = o.build();
      GetResponse g = await(() -> client.getKVClient().get(from, opt), "list " + subnetsPrefix
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
      skipBad(key, "not a subnet key");
      return null;
    }
    LeaseAttrs attrs;
    try {
      attrs = LeaseJson.decode(kv.getValue().toString(UTF_8));
    } catch (MalformedLeaseException e) {
      skipBad(key, e.getMessage());
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

  /** Parses a full key directly under {@code subnets/}. */
  Optional<SubnetKey> parseKey(String key) {
    if (!key.startsWith(subnetsPrefix) || key.indexOf('/', subnetsPrefix.length()) >= 0) {
      return Optional.empty();
    }
    return SubnetKeys.parse(key.substring(subnetsPrefix.length()));
  }

  void skipBad(String key, String why) {
    badKeysSkipped.incrementAndGet();
    if (warnedKeys.size() < 10_000 && warnedKeys.add(key)) {
      LOG.warn("skipping {}: {} (flannel and Tartan ignore it; delete it with etcdctl del {})", key, why, key);
    }
  }

  /** The expiry of every etcd lease behind {@code kvs}, looked up TTL_LOOKUPS_IN_FLIGHT at a time. */
  private Map<Long, Instant> expiries(List<KeyValue> kvs) throws LeaseStoreException {
    List<Long> ids = kvs.stream().map(KeyValue::getLease).filter(id -> id != 0).distinct().toList();
    Map<Long, Instant> out = new HashMap<>(ids.size() * 2);
    for (int from = 0; from < ids.size(); from += TTL_LOOKUPS_IN_FLIGHT) {
      List<Long> chunk = ids.subList(from, Math.min(ids.size(), from + TTL_LOOKUPS_IN_FLIGHT));
      Instant now = clock.instant();
      List<CompletableFuture<io.etcd.jetcd.lease.LeaseTimeToLiveResponse>> calls = new ArrayList<>(chunk.size());
      for (long id : chunk) {
        calls.add(client.getLeaseClient().timeToLive(id, LeaseOption.DEFAULT));
      }
      for (int i = 0; i < chunk.size(); i++) {
        int at = i;
        long ttl = await(() -> calls.get(at), "look up the TTL of etcd lease " + Long.toHexString(chunk.get(at))).getTTL();
        out.put(chunk.get(i), ttl < 0 ? now : now.plusSeconds(ttl));
      }
    }
    return out;
  }

  /** now + remaining TTL of an etcd lease (now when it has expired). */
  Instant expiryOf(long leaseId) throws LeaseStoreException {
    Instant now = clock.instant();
    long ttlSeconds = await(() -> client.getLeaseClient().timeToLive(leaseId, LeaseOption.DEFAULT),
        "look up the TTL of etcd lease " + Long.toHexString(leaseId)).getTTL();
    return ttlSeconds < 0 ? now : now.plusSeconds(ttlSeconds);
  }

  String subnetsKeyPrefix() {
    return subnetsPrefix;
  }

  // ---------------------------------------------------------------------------------------------
  // owner-checked writes

  /** Creates {@code subnet}'s key if it does not exist, attached to a fresh etcd lease. */
  private Optional<SubnetLease> create(Ipv4Subnet subnet, LeaseAttrs attrs, String value)
      throws LeaseStoreException {
    String key = keyOf(subnet, null);
    Instant start = clock.instant();
    LeaseGrantResponse g = grant();
    TxnResponse t;
    try {
      t = await(() -> client.getKVClient().txn()
          .If(new Cmp(bs(key), Cmp.Op.EQUAL, CmpTarget.version(0)))
          .Then(Op.put(bs(key), bs(value), PutOption.builder().withLeaseId(g.getID()).build()))
          .commit(), "create " + key);
    } catch (LeaseStoreException e) {
      // Outcome unknown: revoking removes the key too if it was created, so nothing leaks.
      revokeQuietly(g.getID());
      throw e;
    }
    if (!t.isSucceeded()) {
      revokeQuietly(g.getID());
      return Optional.empty();
    }
    return Optional.of(new SubnetLease(subnet, null, attrs, start.plusSeconds(g.getTTL()), g.getID(),
        revisionOf(t)));
  }

  /**
   * Rewrites our key if its mod revision is still the one in {@code existing}: with a fresh etcd lease,
   * or without one when the stored key is a reservation. The old etcd lease is revoked afterwards.
   */
  private Optional<SubnetLease> rewrite(SubnetLease existing, LeaseAttrs attrs, String value)
      throws LeaseStoreException {
    String key = keyOf(existing);
    boolean reservation = existing.etcdLeaseId() == 0;
    Instant start = clock.instant();
    LeaseGrantResponse g = reservation ? null : grant();
    PutOption put = reservation ? PutOption.DEFAULT : PutOption.builder().withLeaseId(g.getID()).build();
    TxnResponse t;
    try {
      t = await(() -> client.getKVClient().txn()
          .If(new Cmp(bs(key), Cmp.Op.EQUAL, CmpTarget.modRevision(existing.modRevision())))
          .Then(Op.put(bs(key), bs(value), put))
          .commit(), "rewrite " + key);
    } catch (LeaseStoreException e) {
      if (g != null) {
        revokeQuietly(g.getID());
      }
      throw e;
    }
    if (!t.isSucceeded()) {
      if (g != null) {
        revokeQuietly(g.getID());
      }
      return Optional.empty();
    }
    if (!reservation) {
      revokeQuietly(existing.etcdLeaseId()); // holds no key any more; flannel lets it run out instead
    }
    return Optional.of(new SubnetLease(existing.subnet(), existing.ipv6Subnet(), attrs,
        reservation ? null : start.plusSeconds(g.getTTL()), reservation ? 0 : g.getID(), revisionOf(t)));
  }

  /** Deletes our key if its mod revision is unchanged; true when deleted. */
  private boolean deleteIfUnchanged(SubnetLease lease) throws LeaseStoreException {
    String key = keyOf(lease);
    TxnResponse t = await(() -> client.getKVClient().txn()
        .If(new Cmp(bs(key), Cmp.Op.EQUAL, CmpTarget.modRevision(lease.modRevision())))
        .Then(Op.delete(bs(key), DeleteOption.DEFAULT))
        .commit(), "delete " + key);
    if (t.isSucceeded() && lease.etcdLeaseId() != 0) {
      revokeQuietly(lease.etcdLeaseId());
    }
    return t.isSucceeded();
  }

  private LeaseGrantResponse grant() throws LeaseStoreException {
    return await(() -> client.getLeaseClient().grant(ttl.toSeconds()), "grant an etcd lease");
  }

  private void revokeQuietly(long leaseId) {
    if (leaseId == 0) {
      return;
    }
    client.getLeaseClient().revoke(leaseId).whenComplete((r, e) -> {
      if (e != null) {
        LOG.debug("revoking etcd lease {} failed (it runs out by itself): {}", Long.toHexString(leaseId),
            rootMessage(e));
      }
    });
  }

  private KeyValue getKey(String key) throws LeaseStoreException {
    GetResponse r = await(() -> client.getKVClient().get(bs(key)), "read " + key);
    return r.getKvs().isEmpty() ? null : r.getKvs().get(0);
  }

  private String keyOf(SubnetLease lease) {
    return keyOf(lease.subnet(), lease.ipv6Subnet());
  }

  private String keyOf(Ipv4Subnet subnet, String ipv6Subnet) {
    return subnetsPrefix + SubnetKeys.format(subnet, ipv6Subnet);
  }

  private static long revisionOf(TxnResponse t) {
    return t.getHeader().getRevision();
  }

  static ByteSequence bs(String s) {
    return ByteSequence.from(s, UTF_8);
  }

  /** Waits for one etcd request; failures become LeaseStoreExceptions naming {@code what}. */
  <T> T await(Supplier<CompletableFuture<T>> request, String what) throws LeaseStoreException {
    CompletableFuture<T> f;
    try {
      f = request.get();
    } catch (RuntimeException e) { // e.g. the client was closed
      throw new LeaseStoreException("etcd request failed (" + what + "): " + rootMessage(e), e);
    }
    try {
      return f.get(REQUEST_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      f.cancel(true);
      throw new TransientEtcdException("etcd did not answer (" + what + ") within " + REQUEST_TIMEOUT_SECONDS
          + " s at " + endpointsText, e);
    } catch (ExecutionException e) {
      throw EtcdErrors.failure(e.getCause(), what);
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
      throw new LeaseStoreException("interrupted while waiting for etcd (" + what + ")", e);
    }
  }

  static boolean isTransient(Throwable t) {
    return EtcdErrors.isTransient(t);
  }

  static String rootMessage(Throwable t) {
    return EtcdErrors.rootMessage(t);
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
