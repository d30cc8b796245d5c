package dev.tartan.agent;

import dev.tartan.agent.attach.AttachSocket;
import dev.tartan.agent.backend.Bridge;
import dev.tartan.agent.backend.vxlan.VxlanBackendConfig;
import dev.tartan.agent.backend.vxlan.VxlanNetwork;
import dev.tartan.agent.config.AgentConfig;
import dev.tartan.agent.health.HealthServer;
import dev.tartan.agent.health.HealthServer.Check;
import dev.tartan.agent.iface.ExternalInterface;
import dev.tartan.agent.iface.ExternalInterfaceSelector;
import dev.tartan.agent.iface.InterfaceSelectionException;
import dev.tartan.agent.iface.NetworkOverlap;
import dev.tartan.agent.firewall.IptablesException;
import dev.tartan.agent.firewall.Sysctl;
import dev.tartan.agent.firewall.TrafficRules;
import dev.tartan.agent.firewall.VxlanPeerFilter;
import dev.tartan.agent.metrics.AgentMetrics;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.NetlinkMonitor;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.agent.netlink.rtnl.RtNetlinkClient;
import dev.tartan.agent.routing.DriftWatcher;
import dev.tartan.agent.routing.PeerTable;
import dev.tartan.agent.routing.ReconcileLoop;
import dev.tartan.agent.routing.Reconciler;
import dev.tartan.agent.subnetenv.SubnetEnv;
import dev.tartan.agent.subnetenv.SubnetEnvFile;
import dev.tartan.agent.systemd.SdNotify;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.LeaseRenewer;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.NetworkConfigMissingException;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.Subscription;
import dev.tartan.store.AccessDeniedException;
import dev.tartan.store.Store;
import dev.tartan.store.etcd.EtcdStores;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent: flanneld for plain hosts. {@link #start()} runs the start-up sequence (network config,
 * external interface, VXLAN device, lease, device and bridge addresses, ip_forward, iptables rules,
 * subnet file, first peer sync) and then reports ready; from then on the watch, the reconcile loop,
 * the netlink drift monitor, the lease renewer and the iptables resync keep the host converged.
 * {@link #close()} stops the loops and leaves the lease and all kernel state in place, so a restart
 * disrupts no traffic (as flanneld).
 */
public final class Agent implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Agent.class);
  private static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);
  /** After a hold, how long the other hosts get to re-acquire their leases before we re-read them all. */
  private static final Duration PEER_RESYNC_GRACE = MAX_BACKOFF.plusSeconds(2);

  private final AgentConfig cfg;
  private final SdNotify notify;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final List<AutoCloseable> closers = Collections.synchronizedList(new ArrayList<>());
  private final ScheduledExecutorService leaseExec = Executors.newSingleThreadScheduledExecutor(daemon("tartan-lease"));
  private final ScheduledExecutorService houseExec = Executors.newSingleThreadScheduledExecutor(daemon("tartan-housekeeping"));
  private final AgentMetrics metrics = new AgentMetrics();

  private volatile boolean closing;
  /** etcd came back without the network config: the peers stay programmed as they were (see OwnLeaseGuard). */
  private volatile boolean peersHeld;
  private volatile Subscription watch;
  private volatile String notReady = "starting";
  private volatile boolean rulesInPlace = true;
  private volatile VxlanPeerFilter peerFilter; // --vxlan-peer-filter, else null
  private final AtomicBoolean peerFilterPending = new AtomicBoolean();
  private volatile boolean leaseHeld;

  private Store store;
  private NetworkConfig network;
  private ExternalInterface external;
  private VxlanNetwork vxlan;
  private TrafficRules traffic;
  private PeerTable peers;
  private ReconcileLoop loop;
  private volatile SubnetLease lease;
  private volatile LeaseRenewer renewer;
  private boolean reacquiring;

  public Agent(AgentConfig cfg, SdNotify notify) {
    this.cfg = Objects.requireNonNull(cfg, "cfg");
    this.notify = Objects.requireNonNull(notify, "notify");
  }

  /** Runs the start-up sequence; returns once the agent is ready. */
  public void start() throws Exception {
    log.info("starting: etcd {} prefix {}, subnet file {}", cfg.etcdEndpoints(), cfg.etcdPrefix(), cfg.subnetFile());
    Optional<HealthServer> health = HealthServer.fromConfig(cfg, this::liveness, this::readiness);
    metrics.lease(() -> lease, () -> leaseHeld);
    if (health.isPresent()) {
      health.get().endpoint(AgentMetrics.PATH, metrics.endpoint());
      health.get().start();
      closers.add(health.get());
      log.info("health endpoints on http://{}:{}/healthz and /readyz", cfg.healthzIp().getHostAddress(),
          health.get().boundPort());
    }
    if (cfg.attachSocket() != null) {
      AttachSocket.start(cfg.attachSocket()).ifPresent(closers::add);
    }

    notReady = "waiting for etcd";
    store = retry("connect to etcd", () -> EtcdStores.connect(cfg.etcdOptions()));
    closers.add(store);
    metrics.etcd(store::watchReconnects, store::compactionsSeen, store::badKeysSkipped);
    notReady = "waiting for the network config";
    network = retry("read the network config", store::networkConfig);
    if (!"vxlan".equals(network.backendType())) {
      throw new AgentException("the network config asks for backend \"" + network.backendType()
          + "\", but Tartan implements vxlan only: set \"Backend\": {\"Type\": \"vxlan\"} in "
          + store.configKey());
    }
    VxlanBackendConfig backend = VxlanBackendConfig.parse(network.backendJson());
    traffic = TrafficRules.create(cfg.ipMasq(), cfg.ipMasqFullyRandomDisable(), cfg.iptablesForwardRules(),
        network.enableNFTables());
    log.info("network {} (subnets /{} from {} to {}), backend vxlan VNI {} port {}", network.network(),
        network.subnetLen(), network.subnetMin().getHostAddress(), network.subnetMax().getHostAddress(),
        backend.vni(), backend.effectivePort());

    notReady = "setting up the VXLAN device";
    RtNetlink nl = metrics.countErrors(RtNetlinkClient.open());
    closers.add(nl);
    external = new ExternalInterfaceSelector(nl).select(cfg);
    log.info("external interface {}", external);
    vxlan = new VxlanNetwork(nl, backend, network.network(), external.vxlanLocal(), external.index(),
        external.mtu(), Bridge.DEFAULT_NAME);
    try {
      NetworkOverlap.check(nl, network.network(), Set.of(vxlan.deviceName(), vxlan.bridgeName()));
    } catch (InterfaceSelectionException e) {
      throw new AgentException(e.getMessage());
    }
    Link device = vxlan.ensureDevice();
    log.info("vxlan device {} (ifindex {}, VtepMAC {}, mtu {})", device.name(), device.index(), device.mac(),
        vxlan.mtu());

    notReady = "acquiring a subnet lease";
    Optional<Ipv4Subnet> previous = SubnetEnvFile.readPrevious(cfg.subnetFile());
    Optional<Ipv4Subnet> previousNetwork = SubnetEnvFile.readPreviousNetwork(cfg.subnetFile());
    SubnetLease acquired = retry("acquire a subnet lease", () -> store.acquire(attrs(), previous));
    adopt(acquired, previous);

    notReady = "configuring the device, the bridge and the firewall";
    vxlan.configure(acquired.subnet());
    Sysctl sysctl = Sysctl.system();
    sysctl.enableIpForward();
    sysctl.checkBrNetfilter();
    traffic.install(network.network(), acquired.subnet(), previousNetwork, previous);
    writeSubnetFile(acquired.subnet());

    notReady = "syncing peers";
    Reconciler reconciler = new Reconciler(nl);
    loop = new ReconcileLoop("tartan-reconcile", cfg.resyncInterval(),
        metrics.timed(vxlan.pass(reconciler, this::remotes)));
    closers.add(loop);
    peers = new PeerTable(acquired.subnet(), this::peersChanged);
    metrics.peers(peers::size);
    watch = store.watch(new OwnLeaseGuard(peers));
    closers.add(watch);
    awaitFirstSnapshot();
    if (cfg.vxlanPeerFilter()) {
      peerFilter = VxlanPeerFilter.create(backend.effectivePort()); // set first: later changes re-sync it
      peerFilter.update(VxlanPeerFilter.peerAddresses(peers.remotes()));
    } else {
      try {
        VxlanPeerFilter.removeLeftovers();
      } catch (IptablesException e) {
        log.warn("cannot check for vxlan peer filter rules an earlier run left: {}", e.getMessage());
      }
    }
    loop.start(); // only now: a pass before the first snapshot would remove every peer
    DriftWatcher drift = new DriftWatcher(reconciler::lastApplied, vxlan.deviceName(), vxlan.bridgeName(),
        loop::trigger, name -> { }); // the watcher logs it; the loop's next pass recreates the device
    metrics.drift(drift::counts);
    NetlinkMonitor monitor = RtNetlinkClient.monitor(null, drift);
    closers.add(monitor);
    while (!loop.awaitSynced(Duration.ofSeconds(30))) {
      log.warn("first peer sync not done after 30 s: {}", loop.lastError());
    }

    renewer = startRenewer(acquired);
    if (traffic.enabled() || peerFilter != null) {
      long every = cfg.iptablesResync().toMillis();
      houseExec.scheduleWithFixedDelay(this::resyncRules, every, every, TimeUnit.MILLISECONDS);
    }
    notify.watchdogInterval().ifPresent(every -> houseExec.scheduleAtFixedRate(() -> {
      if (liveness().ok()) {
        notify.watchdog();
      }
    }, 0, every.toMillis(), TimeUnit.MILLISECONDS));

    notReady = null;
    String status = "subnet " + acquired.subnet() + ", " + peers.size() + " peers";
    notify.ready(status);
    log.info("ready: {} on {} ({}), {}", vxlan.deviceName(), external.name(), external.publicIp().getHostAddress(),
        status);
  }

  /** Blocks until {@link #close()}. */
  public void awaitStop() throws InterruptedException {
    stopped.await();
  }

  /** Stops every loop and leaves the lease and the kernel state as they are. Idempotent. */
  @Override
  public void close() {
    if (closing) {
      return;
    }
    closing = true;
    notify.stopping();
    log.info("stopping: the lease{} and all kernel state stay in place",
        lease == null ? "" : " " + lease.subnet());
    LeaseRenewer r = renewer;
    if (r != null) {
      r.close();
    }
    leaseExec.shutdownNow();
    houseExec.shutdownNow();
    List<AutoCloseable> all = new ArrayList<>(closers);
    Collections.reverse(all);
    for (AutoCloseable c : all) {
      try {
        c.close();
      } catch (Exception e) {
        log.debug("closing {}: {}", c, e.toString());
      }
    }
    stopped.countDown();
  }

  // ---- health

  /** Alive while the loops run (the process itself answering proves the rest). */
  Check liveness() {
    if (closing) {
      return Check.failing("stopping");
    }
    ReconcileLoop l = loop;
    if (l != null && !l.alive()) {
      return Check.failing("the reconcile loop stopped");
    }
    return Check.passing();
  }

  /** Ready when the lease is held, the device is up, the rules are in place and the file written. */
  Check readiness() {
    String why = notReady;
    if (why != null) {
      return Check.failing(why);
    }
    if (!leaseHeld) {
      return Check.failing("the subnet lease was lost; re-acquiring");
    }
    if (!rulesInPlace) {
      return Check.failing("iptables rules are missing; re-applying");
    }
    Link d = vxlan.device();
    if (d == null || !d.up()) {
      return Check.failing(vxlan.deviceName() + " is not up");
    }
    if (!loop.synced()) {
      return Check.failing("peers not synced yet");
    }
    return Check.passing();
  }

  // ---- lease life

  private LeaseAttrs attrs() {
    return LeaseAttrs.ipv4(external.publicIp(), "vxlan", vxlan.leaseData().toJson());
  }

  private List<SubnetLease> remotes() {
    return peers.remotes();
  }

  private void adopt(SubnetLease acquired, Optional<Ipv4Subnet> previous) {
    lease = acquired;
    leaseHeld = true;
    if (previous.isPresent() && !previous.get().equals(acquired.subnet())) {
      log.warn("subnet changed: {} -> {} (the previous subnet from {} was taken by another host or is "
          + "outside the network config); containers on the old subnet must be restarted",
          previous.get(), acquired.subnet(), cfg.subnetFile());
    } else {
      log.info("lease acquired: {} ({})", acquired.subnet(), acquired.reserved() ? "reserved, no TTL"
          : "expires " + acquired.expiresAt());
    }
  }

  private LeaseRenewer startRenewer(SubnetLease l) {
    LeaseRenewer r = new LeaseRenewer(store, l, cfg.subnetLeaseRenewMargin(), Clock.systemUTC(), leaseExec,
        new LeaseRenewer.Listener() {
          @Override
          public void onRenewed(SubnetLease renewed) {
            lease = renewed;
            metrics.leaseRenewed();
            log.info("lease renewed: {} until {}", renewed.subnet(), renewed.expiresAt());
          }

          @Override
          public void onRenewFailed(Exception e, Duration retryIn) {
            // the renewer logs the failure itself
            metrics.leaseRenewFailed();
          }

          @Override
          public void onLost(SubnetLease lost, String reason) {
            leaseLost(lost.subnet(), reason);
          }
        });
    r.start();
    return r;
  }

  /** Our lease was deleted, expired or taken: get one again (the same subnet when still free). */
  private void leaseLost(Ipv4Subnet subnet, String reason) {
    leaseExec.execute(() -> {
      if (closing || reacquiring || lease == null || !lease.subnet().equals(subnet)) {
        return;
      }
      reacquiring = true;
      leaseHeld = false;
      LeaseRenewer r = renewer;
      if (r != null) {
        r.close();
      }
      log.warn("lease {} lost ({}): re-acquiring it", subnet, reason);
      reacquire(subnet, FIRST_BACKOFF);
    });
  }

  private void reacquire(Ipv4Subnet old, Duration backoff) {
    if (closing) {
      return;
    }
    try {
      SubnetLease l = store.acquire(attrs(), Optional.of(old));
      adopt(l, Optional.of(old));
      metrics.leaseReacquired();
      if (!l.subnet().equals(old)) {
        vxlan.ownSubnet(l.subnet());
        peers.ownSubnet(l.subnet());
        traffic.install(network.network(), l.subnet(), Optional.of(network.network()), Optional.of(old));
        writeSubnetFile(l.subnet());
      }
      loop.trigger();
      renewer = startRenewer(l);
      reacquiring = false;
      if (peersHeld) {
        leaseExec.schedule(this::resyncPeers, PEER_RESYNC_GRACE.toMillis(), TimeUnit.MILLISECONDS);
      }
    } catch (LeaseStoreException | IptablesException | IOException e) {
      Duration next = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
      log.warn("re-acquiring the lease failed: {}; retrying in {} s", e.getMessage(), backoff.toSeconds());
      leaseExec.schedule(() -> reacquire(old, next), backoff.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /**
   * Ends a hold: the config is back and our lease too; once the other hosts have had time to
   * re-acquire theirs, a fresh watch (and snapshot) drops the peers that did not come back.
   */
  private void resyncPeers() {
    if (closing || !peersHeld) {
      return;
    }
    peersHeld = false;
    Subscription old = watch;
    old.close(); // first: an event of the old watch applied after the new snapshot could be stale
    Subscription fresh = store.watch(new OwnLeaseGuard(peers));
    watch = fresh;
    synchronized (closers) {
      int i = closers.indexOf(old);
      if (i >= 0) {
        closers.set(i, fresh);
      } else {
        closers.add(fresh);
      }
    }
    log.info("network config and lease are back: re-reading every lease to drop the peers that did not return");
  }

  private boolean networkConfigMissing() {
    try {
      store.networkConfig();
      return false;
    } catch (NetworkConfigMissingException e) {
      return true;
    } catch (LeaseStoreException e) {
      return false;
    }
  }

  /**
   * Watches our own key as it passes by: deleted, missing from a snapshot, or taken by another host.
   * A snapshot without our lease from an etcd that has no network config either (its data was lost,
   * or the prefix deleted) is not passed on: its empty peer set says nothing about the hosts, which
   * keep forwarding; the peers are held as they are until the config and our lease are back.
   */
  private final class OwnLeaseGuard implements LeaseListener {
    private final PeerTable delegate;

    OwnLeaseGuard(PeerTable delegate) {
      this.delegate = delegate;
    }

    @Override
    public void onSnapshot(List<SubnetLease> all) {
      SubnetLease mine = lease;
      if (mine != null && delegate.synced() && all.stream().noneMatch(l -> l.subnet().equals(mine.subnet()))
          && networkConfigMissing()) {
        if (!peersHeld) {
          peersHeld = true;
          log.warn("etcd has neither the network config nor our lease {} (its data was lost or deleted): keeping "
              + "the {} peers programmed as they are until the config is back (tartan network init)", mine.subnet(),
              delegate.size());
        }
        leaseLost(mine.subnet(), "it is no longer in etcd");
        return;
      }
      delegate.onSnapshot(all);
      if (mine != null && !reacquiring) {
        Optional<SubnetLease> seen = all.stream().filter(l -> l.subnet().equals(mine.subnet())).findFirst();
        if (seen.isEmpty()) {
          leaseLost(mine.subnet(), "it is no longer in etcd");
        } else if (!seen.get().attrs().publicIp().equals(mine.attrs().publicIp())) {
          leaseLost(mine.subnet(), "it now belongs to " + seen.get().attrs().publicIp().getHostAddress());
        }
      }
    }

    @Override
    public void onEvents(List<LeaseEvent> batch) {
      delegate.onEvents(batch);
      SubnetLease mine = lease;
      if (mine == null) {
        return;
      }
      for (LeaseEvent e : batch) {
        if (!e.lease().subnet().equals(mine.subnet())) {
          continue;
        }
        if (e instanceof LeaseEvent.Removed) {
          leaseLost(mine.subnet(), "its key was deleted or expired");
        } else if (!e.lease().attrs().publicIp().equals(mine.attrs().publicIp())) {
          leaseLost(mine.subnet(), "it now belongs to " + e.lease().attrs().publicIp().getHostAddress());
        }
      }
    }

    @Override
    public void onDisconnected(String reason) {
      delegate.onDisconnected(reason); // the store's watch logs the outage and the reconnect
    }

    @Override
    public void onReconnected() {
      delegate.onReconnected();
    }
  }

  // ---- start-up helpers

  private void awaitFirstSnapshot() throws InterruptedException {
    long waited = 0;
    while (!peers.synced()) {
      if (closing) {
        throw new InterruptedException("stopped while waiting for the first lease snapshot");
      }
      Thread.sleep(20);
      waited += 20;
      if (waited % 30_000 == 0) {
        log.warn("still waiting for the first lease snapshot from etcd ({} s)", waited / 1000);
      }
    }
  }

  private void writeSubnetFile(Ipv4Subnet subnet) throws IOException {
    SubnetEnv env = SubnetEnv.of(network.network(), subnet, vxlan.mtu(), cfg.ipMasq());
    SubnetEnvFile.write(cfg.subnetFile(), env);
    log.info("wrote {}: FLANNEL_SUBNET={}/{}", cfg.subnetFile(), env.gateway().getHostAddress(),
        subnet.prefixLength());
  }

  /** The peers changed: reconcile, and re-sync the VXLAN peer filter (coalesced, off the watch thread). */
  private void peersChanged() {
    loop.trigger();
    if (peerFilter != null && !closing && peerFilterPending.compareAndSet(false, true)) {
      try {
        houseExec.execute(this::syncPeerFilter);
      } catch (java.util.concurrent.RejectedExecutionException stopping) {
        // close() shut the executor down meanwhile: the filter stays as it is, like all kernel state
      }
    }
  }

  private void syncPeerFilter() {
    peerFilterPending.set(false);
    try {
      peerFilter.update(VxlanPeerFilter.peerAddresses(peers.remotes()));
    } catch (IptablesException e) {
      log.warn("updating the vxlan peer filter failed: {}; retrying on the next iptables resync", e.getMessage());
      rulesInPlace = false;
    }
  }

  private void resyncRules() {
    try {
      traffic.resync();
      VxlanPeerFilter f = peerFilter;
      if (f != null) {
        f.resync(VxlanPeerFilter.peerAddresses(peers.remotes()));
      }
      rulesInPlace = true;
    } catch (IptablesException e) {
      if (rulesInPlace) {
        log.warn("iptables resync failed: {}", e.getMessage());
      }
      rulesInPlace = false;
    }
  }

  @FunctionalInterface
  private interface StoreCall<T> {
    T call() throws LeaseStoreException;
  }

  /**
   * Runs a store call until it succeeds, with backoff (1 s doubling to 10 s). Each distinct failure
   * is logged once; a missing network config says how to create it. etcd refusing this client (TLS,
   * credentials, permissions) ends the start at once: retrying with the same settings cannot help.
   */
  private <T> T retry(String what, StoreCall<T> call) throws InterruptedException, AgentException {
    Duration backoff = FIRST_BACKOFF;
    String lastLogged = null;
    while (true) {
      try {
        return call.call();
      } catch (AccessDeniedException e) {
        throw new AgentException(e.getMessage()); // wrong CA, certificate or password: retrying cannot help
      } catch (NetworkConfigMissingException e) {
        if (!e.getMessage().equals(lastLogged)) {
          log.info("waiting for the network config: {} (create it with `tartan network init --network CIDR`)",
              e.getMessage());
          lastLogged = e.getMessage();
        }
      } catch (LeaseStoreException e) {
        // the same failure for another randomly chosen subnet key is the same failure
        String key = e.getMessage().replaceAll("/subnets/[0-9.]+-[0-9]+", "/subnets/*");
        if (!key.equals(lastLogged)) {
          log.warn("cannot {} yet: {}; retrying", what, e.getMessage());
          lastLogged = key;
        }
      }
      if (closing) {
        throw new InterruptedException("stopped while trying to " + what);
      }
      Thread.sleep(backoff.toMillis());
      backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
    }
  }

  private static ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }
}
