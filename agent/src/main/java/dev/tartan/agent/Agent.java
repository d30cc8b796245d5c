package dev.tartan.agent;

import dev.tartan.agent.backend.BackendTypes;
import dev.tartan.agent.attach.AttachSocket;
import dev.tartan.agent.backend.BackendNetwork;
import dev.tartan.agent.backend.Bridge;
import dev.tartan.agent.backend.hostgw.HostGwNetwork;
import dev.tartan.agent.backend.hostgw.HostGwPeers;
import dev.tartan.agent.backend.vxlan.Vxlan6Network;
import dev.tartan.agent.backend.vxlan.VxlanBackendConfig;
import dev.tartan.agent.backend.vxlan.VxlanNetwork;
import dev.tartan.agent.config.AgentConfig;
import dev.tartan.agent.health.HealthServer;
import dev.tartan.agent.health.HealthServer.Check;
import dev.tartan.agent.iface.ExternalInterface;
import dev.tartan.agent.iface.ExternalInterfaceSelector;
import dev.tartan.agent.iface.InterfaceSelectionException;
import dev.tartan.agent.iface.Ipv6Underlay;
import dev.tartan.agent.iface.NetworkOverlap;
import dev.tartan.agent.lease.LeaseKeeper;
import dev.tartan.agent.lease.OwnLeaseGuard;
import dev.tartan.agent.firewall.IptablesException;
import dev.tartan.agent.firewall.Sysctl;
import dev.tartan.agent.firewall.TrafficRules;
import dev.tartan.agent.firewall.VxlanPeerFilter;
import dev.tartan.agent.metrics.AgentMetrics;
import dev.tartan.agent.netlink.rtnl.NetlinkEvent;
import dev.tartan.agent.netlink.rtnl.Link;
import dev.tartan.agent.netlink.rtnl.NetlinkMonitor;
import dev.tartan.agent.netlink.rtnl.RtNetlink;
import dev.tartan.agent.netlink.rtnl.RtNetlinkClient;
import dev.tartan.agent.routing.DriftWatcher;
import dev.tartan.agent.routing.DualStackPeers;
import dev.tartan.agent.routing.GraceFile;
import dev.tartan.agent.routing.PeerCapacity;
import dev.tartan.agent.routing.PeerLog;
import dev.tartan.agent.routing.PeerSync;
import dev.tartan.agent.routing.Reconciler;
import dev.tartan.agent.subnetenv.SubnetEnv;
import dev.tartan.agent.subnetenv.SubnetEnvFile;
import dev.tartan.agent.systemd.SdNotify;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.net.Ipv6Subnet;
import dev.tartan.net.Ipv6Text;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.NetworkConfigMissingException;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.Subscription;
import dev.tartan.store.AccessDeniedException;
import dev.tartan.store.RequestRejectedException;
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
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent: flanneld for plain hosts. {@link #start()} runs the start-up sequence (network config,
 * external interface, VXLAN device, lease, device and bridge addresses, ip_forward, iptables rules,
 * subnet file, first peer sync) and then reports ready; from then on the watch, the reconcile loop,
 * the netlink drift monitor, the lease keeper and the iptables resync keep the host converged.
 * {@link #close()} stops the loops and leaves the lease and all kernel state in place, so a restart
 * disrupts no traffic (as flanneld).
 */
public final class Agent implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Agent.class);
  private static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);

  private final AgentConfig cfg;
  private final SdNotify notify;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final List<AutoCloseable> closers = Collections.synchronizedList(new ArrayList<>());
  private final ScheduledExecutorService leaseExec = Executors.newSingleThreadScheduledExecutor(daemon("tartan-lease"));
  private final ScheduledExecutorService houseExec = Executors.newSingleThreadScheduledExecutor(daemon("tartan-housekeeping"));
  private final AgentMetrics metrics = new AgentMetrics();

  private volatile boolean closing;
  private volatile Subscription watch;
  private volatile String notReady = "starting";
  private volatile boolean rulesInPlace = true;
  private volatile VxlanPeerFilter peerFilter; // --vxlan-peer-filter, else null
  private final AtomicBoolean peerFilterPending = new AtomicBoolean();

  private Store store;
  private NetworkConfig network;
  private ExternalInterface external;
  private BackendNetwork net;
  private TrafficRules traffic;
  private PeerSync peers;
  // dual stack ("EnableIPv6"): the IPv6 side, else null
  private Ipv6Underlay external6;
  private Vxlan6Network vxlan6;
  private PeerSync peers6;
  private volatile LeaseKeeper keeper;
  /** Why etcd refused our lease for good (the keeper stopped), else null. */
  private volatile String leaseRefused;

  public Agent(AgentConfig cfg, SdNotify notify) {
    this.cfg = Objects.requireNonNull(cfg, "cfg");
    this.notify = Objects.requireNonNull(notify, "notify");
  }

  /** Runs the start-up sequence; returns once the agent is ready. */
  public void start() throws Exception {
    log.info("starting: etcd {} prefix {}, subnet file {}", cfg.etcdEndpoints(), cfg.etcdPrefix(), cfg.subnetFile());
    // Connecting to etcd (the client's classes, its first answer) is the longest step of the start: it
    // runs on the lease thread (idle until the lease is held) while this one opens the health endpoints,
    // the attach socket and the netlink socket.
    notReady = "waiting for etcd";
    Future<Store> connecting = leaseExec.submit(this::connect);
    Optional<HealthServer> health = HealthServer.fromConfig(cfg, this::liveness, this::readiness);
    metrics.lease(this::lease, this::leaseHeld);
    if (health.isPresent()) {
      health.get().endpoint(AgentMetrics.PATH, metrics.endpoint());
      health.get().start();
      closers.add(health.get());
      log.info("health endpoints on http://{}:{}/healthz and /readyz", cfg.healthzIp().getHostAddress(),
          health.get().boundPort());
    }
    if (cfg.attachSocket() != null) {
      AttachSocket.start(cfg.attachSocket(), metrics).ifPresent(closers::add);
    }

    RtNetlink nl = metrics.countErrors(RtNetlinkClient.open());
    closers.add(nl);
    ExternalInterfaceSelector selector = new ExternalInterfaceSelector(nl);
    external = selector.select(cfg);
    log.info("external interface {}", external);

    store = awaitStore(connecting);
    metrics.etcd(store::watchReconnects, store::compactionsSeen, store::badKeysSkipped);
    notReady = "waiting for the network config";
    network = retry("read the network config", store::networkConfig);
    Optional<String> refused = BackendTypes.refusal(network.backendType(), store.configKey());
    if (refused.isPresent()) {
      throw new AgentException(refused.get());
    }
    Optional<String> tooSmall = PeerCapacity.check(network, Runtime.getRuntime().maxMemory());
    if (tooSmall.isPresent()) {
      throw new AgentException(tooSmall.get());
    }
    boolean hostGw = HostGwPeers.TYPE.equalsIgnoreCase(network.backendType());
    VxlanBackendConfig backend = hostGw ? null : VxlanBackendConfig.parse(network.backendJson());
    traffic = TrafficRules.create(cfg.ipMasq(), cfg.ipMasqFullyRandomDisable(), cfg.iptablesForwardRules(),
        network.enableNFTables());
    log.info("network {} (subnets /{} from {} to {}), backend {}", network.network(),
        network.subnetLen(), network.subnetMin().getHostAddress(), network.subnetMax().getHostAddress(),
        hostGw ? "host-gw" : "vxlan VNI " + backend.vni() + " port " + backend.effectivePort()
            + (backend.directRouting() ? " DirectRouting" : ""));

    notReady = hostGw ? "setting up the bridge" : "setting up the VXLAN device";
    Sysctl sysctl = Sysctl.system();
    if (hostGw) {
      if (!external.publicIpLocal() || !external.publicIp().equals(external.address())) {
        throw new AgentException("the public IP " + external.publicIp().getHostAddress() + " is not the address of "
            + external.name() + " (" + external.address().getHostAddress() + "): host-gw cannot work behind NAT; "
            + "drop --public-ip or use the vxlan backend");
      }
      net = new HostGwNetwork(nl, network.network(), external.index(), external.name(), external.mtu(),
          Bridge.DEFAULT_NAME);
    } else {
      net = new VxlanNetwork(nl, backend, network.network(), external.vxlanLocal(), external.index(),
          external.mtu(), Bridge.DEFAULT_NAME);
    }
    if (network.enableIPv6()) {
      if (hostGw) {
        throw new AgentException("the network config at " + store.configKey() + " has EnableIPv6 with the host-gw "
            + "backend: Tartan runs dual stack over vxlan only; use \"Backend\": {\"Type\": \"vxlan\"} or drop "
            + "EnableIPv6");
      }
      try {
        external6 = selector.selectIpv6(external, cfg.publicIpv6());
      } catch (InterfaceSelectionException e) {
        throw new AgentException(e.getMessage());
      }
      vxlan6 = new Vxlan6Network(nl, backend, network.ipv6Network(), external6.vxlanLocal(), external.index(),
          external.mtu(), Bridge.DEFAULT_NAME);
    }
    try {
      Set<String> ours = new java.util.HashSet<>();
      ours.add(net.bridgeName());
      if (net.deviceName() != null) {
        ours.add(net.deviceName());
      }
      NetworkOverlap.check(nl, network.network(), ours);
    } catch (InterfaceSelectionException e) {
      throw new AgentException(e.getMessage());
    }
    net.prepare();
    log.info("{}", net.describe());
    if (vxlan6 != null) {
      Link device6 = vxlan6.ensureDevice();
      sysctl.disableAcceptRa(device6.name());
      log.info("vxlan device {} (ifindex {}, VtepMAC {}, local {})", device6.name(), device6.index(), device6.mac(),
          Ipv6Text.format(external6.vxlanLocal()));
    }

    notReady = "acquiring a subnet lease";
    Optional<Ipv4Subnet> previous = SubnetEnvFile.readPrevious(cfg.subnetFile());
    Optional<Ipv4Subnet> previousNetwork = SubnetEnvFile.readPreviousNetwork(cfg.subnetFile());
    keeper = new LeaseKeeper(store, this::attrs, cfg.subnetLeaseRenewMargin(), Clock.systemUTC(), leaseExec,
        new LeaseEvents());
    Optional<Ipv6Subnet> previousV6 = vxlan6 == null ? Optional.empty() : SubnetEnvFile.readPreviousV6(cfg.subnetFile());
    SubnetLease acquired = awaitLease(keeper.acquire(previous, previousV6));
    if (vxlan6 != null && acquired.ipv6Subnet() == null) {
      throw new AgentException("the network config has EnableIPv6 but the lease " + acquired.subnet()
          + " got no IPv6 subnet from the store");
    }

    notReady = "configuring the device, the bridge and the firewall";
    net.setUp(acquired.subnet());
    sysctl.enableIpForward();
    if (vxlan6 != null) {
      vxlan6.configure(acquired.subnet(), acquired.ipv6Subnet());
      sysctl.enableIpv6Forward();
    }
    sysctl.checkBrNetfilter();
    traffic.install(network.network(), acquired.subnet(), vxlan6 == null ? null : network.ipv6Network(),
        vxlan6 == null ? null : acquired.ipv6Subnet(), previousNetwork, previous);
    writeSubnetFile(acquired);

    notReady = "syncing peers";
    PeerLog peerLog = new PeerLog();
    peers = new PeerSync(net, new Reconciler(nl, peerLog), peerLog, acquired.subnet(), cfg.resyncInterval(),
        cfg.peerExpiryGrace(), Clock.systemUTC(), metrics::timed);
    closers.add(peers);
    peers.graceFile(GraceFile.beside(cfg.subnetFile()));
    peers.onChange(this::peersChanged);
    metrics.peers(peers::size, peers::inGrace);
    if (vxlan6 != null) {
      PeerLog peerLog6 = new PeerLog(vxlan6.deviceName());
      peers6 = new PeerSync(vxlan6, new Reconciler(nl, peerLog6, true), peerLog6, acquired.subnet(),
          cfg.resyncInterval(), cfg.peerExpiryGrace(), Clock.systemUTC(), UnaryOperator.identity());
      closers.add(peers6);
      metrics.ipv6Peers(peers6::programmedPeers);
    }
    watch = store.watch(new OwnLeaseGuard(keeper, peerListener(), peers::snapshotSeen));
    closers.add(watch);
    awaitFirstSnapshot();
    if (cfg.vxlanPeerFilter() && hostGw) {
      log.warn("--vxlan-peer-filter has no effect with the host-gw backend (there is no VXLAN port to filter)");
    }
    if (cfg.vxlanPeerFilter() && !hostGw) {
      // set first: later changes re-sync it
      peerFilter = VxlanPeerFilter.create(backend.effectivePort(), network.enableNFTables());
      peerFilter.update(VxlanPeerFilter.peerAddresses(peers.remotes()));
    } else {
      try {
        VxlanPeerFilter.removeLeftovers();
      } catch (IptablesException e) {
        log.warn("cannot check for vxlan peer filter rules an earlier run left: {}", e.getMessage());
      }
    }
    peers.start();
    DriftWatcher drift = new DriftWatcher(peers.programmed(), net.deviceName(), net.bridgeName(),
        peers::repair, name -> { }); // the watcher logs it; the next pass recreates the device
    metrics.drift(drift::counts);
    BackendNetwork backendNet = net;
    java.util.function.Consumer<NetlinkEvent> monitored = event -> {
      backendNet.kernelChanged(event); // first: a pass the drift asks for must not use stale on-link answers
      drift.accept(event);
    };
    if (peers6 != null) {
      peers6.start();
      DriftWatcher drift6 = new DriftWatcher(peers6.programmed(), vxlan6.deviceName(), Bridge.DEFAULT_NAME,
          peers6::repair, name -> { });
      monitored = monitored.andThen(drift6);
    }
    NetlinkMonitor monitor = RtNetlinkClient.monitor(null, monitored);
    closers.add(monitor);
    backendNet.kernelChanged(new NetlinkEvent.Overrun()); // what changed before the monitor ran is unknown
    while (!peers.awaitKernelSynced(Duration.ofSeconds(30))) {
      log.warn("first peer sync not done after 30 s: {}", peers.lastError());
    }
    while (peers6 != null && !peers6.awaitKernelSynced(Duration.ofSeconds(30))) {
      log.warn("first IPv6 peer sync not done after 30 s: {}", peers6.lastError());
    }

    keeper.startRenewing();
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
    String status = "subnet " + acquired.subnet() + (acquired.ipv6Subnet() == null ? "" : " and " + acquired.ipv6Subnet())
        + ", " + peers.size() + " peers";
    notify.ready(status);
    log.info("ready: {} on {} ({}), {}", net.deviceName() != null ? net.deviceName() : net.backendType(),
        external.name(), external.publicIp().getHostAddress(), status);
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
    SubnetLease lease = lease();
    log.info("stopping: the lease{} and all kernel state stay in place",
        lease == null ? "" : " " + lease.subnet());
    LeaseKeeper k = keeper;
    if (k != null) {
      k.close();
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
    PeerSync l = peers;
    if (l != null && !l.alive()) {
      return Check.failing("the reconcile loop stopped");
    }
    PeerSync l6 = peers6;
    if (l6 != null && !l6.alive()) {
      return Check.failing("the IPv6 reconcile loop stopped");
    }
    return Check.passing();
  }

  /** Ready when the lease is held, the device is up, the rules are in place and the file written. */
  Check readiness() {
    String why = notReady;
    if (why != null) {
      return Check.failing(why);
    }
    if (!leaseHeld()) {
      String refused = leaseRefused;
      return Check.failing(refused != null ? "etcd refused the subnet lease: " + refused
          : "the subnet lease was lost; re-acquiring");
    }
    if (!rulesInPlace) {
      return Check.failing("iptables rules are missing; re-applying");
    }
    String down = net.notReady();
    if (down != null) {
      return Check.failing(down);
    }
    if (!peers.kernelSynced()) {
      return Check.failing("peers not synced yet");
    }
    if (vxlan6 != null) {
      Link d6 = vxlan6.device();
      if (d6 == null || !d6.up()) {
        return Check.failing(vxlan6.deviceName() + " is not up");
      }
      if (!peers6.kernelSynced()) {
        return Check.failing("IPv6 peers not synced yet");
      }
    }
    return Check.passing();
  }

  // ---- lease life

  private LeaseAttrs attrs() {
    if (vxlan6 != null) {
      return new LeaseAttrs(external.publicIp(), external6.publicIpv6(), net.backendType(), net.backendData(),
          vxlan6.leaseData().toJson());
    }
    return LeaseAttrs.ipv4(external.publicIp(), net.backendType(), net.backendData());
  }

  /** The watch's listener: the IPv4 peer sync, and the IPv6 one too on a dual-stack network. */
  private LeaseListener peerListener() {
    return peers6 == null ? peers : new DualStackPeers(peers, peers6);
  }

  private SubnetLease lease() {
    LeaseKeeper k = keeper;
    return k == null ? null : k.lease();
  }

  private boolean leaseHeld() {
    LeaseKeeper k = keeper;
    return k != null && k.held();
  }

  /** Waits for the first lease; etcd refusing us (TLS, credentials, permissions) ends the start at once. */
  private SubnetLease awaitLease(java.util.concurrent.Future<SubnetLease> acquiring)
      throws InterruptedException, AgentException {
    try {
      return acquiring.get();
    } catch (CancellationException e) {
      throw new InterruptedException("stopped while trying to acquire a subnet lease");
    } catch (ExecutionException e) {
      throw new AgentException(e.getCause().getMessage()); // wrong CA, certificate or password: retrying cannot help
    }
  }

  /** What the lease keeper reports: counters, the subnet put in place after a change, the peer hold. */
  private final class LeaseEvents implements LeaseKeeper.Listener {
    @Override
    public void renewed(SubnetLease lease) {
      metrics.leaseRenewed();
    }

    @Override
    public void renewFailed(String reason, Duration retryIn) {
      metrics.leaseRenewFailed();
    }

    @Override
    public void reacquired(SubnetLease old, SubnetLease l) throws IptablesException, IOException {
      metrics.leaseReacquired();
      boolean v6Changed = vxlan6 != null && !Objects.equals(l.ipv6Subnet(), old.ipv6Subnet());
      if (v6Changed) {
        if (l.ipv6Subnet() == null) {
          throw new IOException("the re-acquired lease " + l.subnet() + " has no IPv6 subnet");
        }
        vxlan6.ownSubnet6(l.ipv6Subnet());
      }
      boolean v4Changed = !l.subnet().equals(old.subnet());
      if (v4Changed) {
        peers.ownSubnet(l.subnet());
      }
      if (v4Changed || v6Changed) {
        traffic.install(network.network(), l.subnet(), vxlan6 == null ? null : network.ipv6Network(),
            vxlan6 == null ? null : l.ipv6Subnet(), Optional.of(network.network()), Optional.of(old.subnet()));
        if (peers6 != null) {
          peers6.ownSubnet(l.subnet());
        }
        writeSubnetFile(l);
      }
      peers.trigger();
      if (peers6 != null) {
        peers6.trigger();
      }
    }

    @Override
    public void holding(SubnetLease lease) {
      log.warn("etcd has neither the network config nor our lease {} (its data was lost or deleted): keeping "
          + "the {} peers programmed as they are until the config is back (tartan network init)", lease.subnet(),
          peers.size());
    }

    @Override
    public void holdEnded(SubnetLease lease) {
      resyncPeers();
    }

    @Override
    public void stopped(SubnetLease lease, String reason) {
      leaseRefused = reason;
    }
  }

  /**
   * Ends a hold: the config is back and our lease too; once the other hosts have had time to
   * re-acquire theirs, a fresh watch (and snapshot) drops the peers that did not come back.
   */
  private void resyncPeers() {
    if (closing) {
      return;
    }
    Subscription old = watch;
    old.close(); // first: an event of the old watch applied after the new snapshot could be stale
    Subscription fresh = store.watch(new OwnLeaseGuard(keeper, peerListener(), peers::snapshotSeen));
    watch = fresh;
    synchronized (closers) {
      int i = closers.indexOf(old);
      if (i >= 0) {
        closers.set(i, fresh);
      } else {
        closers.add(fresh);
      }
    }
  }

  // ---- start-up helpers

  /** On the lease thread: the store, connected with retries; closed again if the agent stopped meanwhile. */
  private Store connect() throws InterruptedException, AgentException {
    Store s = retry("connect to etcd", () -> EtcdStores.connect(cfg.etcdOptions()));
    closers.add(s);
    if (closing) {
      s.close();
      throw new InterruptedException("stopped while connecting to etcd");
    }
    return s;
  }

  private static Store awaitStore(Future<Store> connecting) throws Exception {
    try {
      return connecting.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Exception cause) {
        throw cause;
      }
      throw e;
    } catch (CancellationException e) {
      throw new InterruptedException("stopped while connecting to etcd");
    }
  }

  private void awaitFirstSnapshot() throws InterruptedException {
    long waited = 0;
    while (!peers.snapshotSeen()) {
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

  private void writeSubnetFile(SubnetLease lease) throws IOException {
    Ipv4Subnet subnet = lease.subnet();
    Ipv6Subnet subnet6 = vxlan6 == null ? null : lease.ipv6Subnet();
    SubnetEnv env = subnet6 == null ? SubnetEnv.of(network.network(), subnet, net.mtu(), cfg.ipMasq())
        : new SubnetEnv(network.network(), subnet, net.mtu(), cfg.ipMasq(), network.ipv6Network().toString(),
            subnet6.toString());
    SubnetEnvFile.write(cfg.subnetFile(), env);
    log.info("wrote {}: FLANNEL_SUBNET={}/{}{}", cfg.subnetFile(), env.gateway().getHostAddress(),
        subnet.prefixLength(), subnet6 == null ? "" : ", FLANNEL_IPV6_SUBNET="
            + Ipv6Text.format(subnet6.host(1)) + "/" + subnet6.prefixLength());
  }

  /** The peers changed: re-sync the VXLAN peer filter (coalesced, off the watch thread). */
  private void peersChanged() {
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
      } catch (AccessDeniedException | RequestRejectedException e) {
        // wrong CA, certificate or password, or a request etcd will never accept: retrying cannot help
        throw new AgentException(e.getMessage());
      } catch (NetworkConfigMissingException e) {
        if (!e.getMessage().equals(lastLogged)) {
          log.info("waiting for the network config: {} (create it with `tartan network init --network CIDR`)",
              e.getMessage());
          lastLogged = e.getMessage();
        }
      } catch (LeaseStoreException e) {
        if (!e.getMessage().equals(lastLogged)) {
          log.warn("cannot {} yet: {}; retrying", what, e.getMessage());
          lastLogged = e.getMessage();
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
