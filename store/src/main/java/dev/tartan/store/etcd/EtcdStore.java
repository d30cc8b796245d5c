package dev.tartan.store.etcd;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.Store;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.Subscription;
import io.etcd.jetcd.Client;
import java.net.Inet4Address;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Random;

/**
 * {@link Store} on etcd: one connection and its parts — the lease operations ({@link EtcdLeaseStore}),
 * the admin operations ({@link EtcdLeaseAdmin}), the counters ({@link EtcdCounters}), the read side
 * they share ({@link LeaseReader}) — behind the faces the agent and the CLI use. Created by
 * {@link EtcdStores#connect}.
 */
final class EtcdStore implements Store {
  private final EtcdConnection conn;
  private final EtcdCounters counters = new EtcdCounters();
  private final LeaseReader reader;
  private final EtcdLeaseStore leases;
  private final EtcdLeaseAdmin admin;

  EtcdStore(EtcdConnection conn, String prefix, Duration ttl, Clock clock, Random random, int pageSize) {
    this.conn = conn;
    this.reader = new LeaseReader(conn, counters, clock, prefix, pageSize);
    this.leases = new EtcdLeaseStore(conn, reader, counters, ttl, clock, random);
    this.admin = new EtcdLeaseAdmin(conn, reader);
  }

  /** A store on a client the caller owns (and closes after the store); tests and benchmarks. */
  EtcdStore(Client client, String prefix, Duration ttl, Clock clock, Random random) {
    this(EtcdConnection.onClient(client), prefix, ttl, clock, random, EtcdOptions.DEFAULT_PAGE_SIZE);
  }

  /** Connects with {@code opts} and checks that etcd answers; the store owns the connection. */
  static EtcdStore connect(EtcdOptions opts) throws LeaseStoreException {
    EtcdConnection conn = EtcdConnection.open(opts, opts.configKey());
    return new EtcdStore(conn, opts.prefix(), opts.leaseTtl(), Clock.systemUTC(), new Random(), opts.pageSize());
  }

  /** The connection (tests: how often it was re-dialled). */
  EtcdConnection connection() {
    return conn;
  }

  /** Every parsable lease and the revision it was read at (paged); for tests. */
  LeaseReader.Snapshot read(boolean withTtl) throws LeaseStoreException {
    return reader.read(withTtl);
  }

  // LeaseStore

  @Override
  public NetworkConfig networkConfig() throws LeaseStoreException {
    return leases.networkConfig();
  }

  @Override
  public SubnetLease acquire(LeaseAttrs attrs, Optional<Ipv4Subnet> previous, Optional<Ipv6Subnet> previousV6)
      throws LeaseStoreException {
    return leases.acquire(attrs, previous, previousV6);
  }

  @Override
  public SubnetLease renew(SubnetLease lease) throws LeaseStoreException {
    return leases.renew(lease);
  }

  @Override
  public SubnetLease renew(SubnetLease lease, Duration timeout) throws LeaseStoreException {
    return leases.renew(lease, timeout);
  }

  @Override
  public void release(SubnetLease lease) throws LeaseStoreException {
    leases.release(lease);
  }

  @Override
  public List<SubnetLease> list() throws LeaseStoreException {
    return reader.read(true).leases();
  }

  @Override
  public Subscription watch(LeaseListener listener) {
    return leases.watch(listener);
  }

  // LeaseAdmin

  @Override
  public Optional<String> rawConfig() throws LeaseStoreException {
    return reader.rawConfig();
  }

  @Override
  public void putConfig(String json, boolean force) throws LeaseStoreException {
    admin.putConfig(json, force);
  }

  @Override
  public SubnetLease reserve(Ipv4Subnet subnet, Inet4Address publicIp) throws LeaseStoreException {
    return admin.reserve(subnet, publicIp);
  }

  @Override
  public boolean releaseSubnet(Ipv4Subnet subnet) throws LeaseStoreException {
    return admin.releaseSubnet(subnet);
  }

  @Override
  public String configKey() {
    return reader.configKey();
  }

  @Override
  public String subnetsPrefix() {
    return reader.subnetsPrefix();
  }

  // StoreStats

  @Override
  public long badKeysSkipped() {
    return counters.badKeysSkipped();
  }

  @Override
  public long watchReconnects() {
    return counters.watchReconnects();
  }

  @Override
  public long compactionsSeen() {
    return counters.compactionsSeen();
  }

  @Override
  public Duration leaseTtl() {
    return leases.leaseTtl();
  }

  @Override
  public void close() {
    leases.closeWatches();
    conn.close();
  }
}
