package dev.tartan.agent.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.AccessDeniedException;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.etcd.LeaseJson;
import dev.tartan.store.testing.FakeLeaseStore;
import dev.tartan.store.testing.ManualClock;
import dev.tartan.store.testing.ManualScheduler;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every path of the lease lifecycle on the in-memory store with a manual clock and scheduler: no
 * sleeps, no threads. The watch delivers synchronously (or, for the stale-deletion case, when the test
 * releases it), and the keeper's work runs when the test plays the scheduler forward.
 */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class LeaseKeeperTest {

  private static final String PREFIX = "/coreos.com/network";
  private static final String CONFIG = "{\"Network\": \"10.244.0.0/16\", \"Backend\": {\"Type\": \"vxlan\"}}";
  private static final Duration TTL = Duration.ofSeconds(30);
  private static final Duration MARGIN = Duration.ofSeconds(10);
  private static final LeaseAttrs MINE = LeaseAttrs.ipv4(ip("198.18.0.1"), "vxlan", "{\"VNI\":1}");
  private static final LeaseAttrs THEIRS = LeaseAttrs.ipv4(ip("198.18.0.2"), "vxlan", "{\"VNI\":1}");

  private final ManualClock clock = new ManualClock();
  private final FakeLeaseStore.Data data = new FakeLeaseStore.Data(clock);
  private final FakeLeaseStore store = new FakeLeaseStore(data, PREFIX, TTL);
  private final ManualScheduler scheduler = new ManualScheduler(clock);
  private final Recorder events = new Recorder();
  private final LeaseKeeper keeper = new LeaseKeeper(store, () -> MINE, MARGIN, clock, scheduler, events);
  private final Guard guard = new Guard();

  /** What the keeper reported, in order, as short strings. */
  static final class Recorder implements LeaseKeeper.Listener {
    final List<String> seen = new ArrayList<>();
    final List<SubnetLease> reacquired = new ArrayList<>();
    int failUntilPlacedTimes;

    @Override
    public void acquired(SubnetLease lease) {
      seen.add("acquired " + lease.subnet());
    }

    @Override
    public void renewed(SubnetLease lease) {
      seen.add("renewed " + lease.subnet());
    }

    @Override
    public void renewFailed(String reason, Duration retryIn) {
      seen.add("renew failed");
    }

    @Override
    public void lost(SubnetLease lease, String reason) {
      seen.add("lost " + lease.subnet() + ": " + reason);
    }

    @Override
    public void reacquired(SubnetLease old, SubnetLease lease) throws Exception {
      if (failUntilPlacedTimes > 0) {
        failUntilPlacedTimes--;
        throw new java.io.IOException("cannot write the subnet file");
      }
      reacquired.add(lease);
      seen.add("reacquired " + old.subnet() + " -> " + lease.subnet());
    }

    @Override
    public void holding(SubnetLease lease) {
      seen.add("holding " + lease.subnet());
    }

    @Override
    public void holdEnded(SubnetLease lease) {
      seen.add("hold ended " + lease.subnet());
    }

    @Override
    public void stopped(SubnetLease lease, String reason) {
      seen.add("stopped " + lease.subnet());
    }

    long count(String prefix) {
      return seen.stream().filter(s -> s.startsWith(prefix)).count();
    }
  }

  /** The agent's watch wiring in small: snapshots pass to the "peers" only when the keeper agrees. */
  final class Guard implements LeaseListener {
    final List<List<SubnetLease>> applied = new ArrayList<>();

    @Override
    public void onSnapshot(List<SubnetLease> all) {
      if (keeper.onSnapshot(all, !applied.isEmpty())) {
        applied.add(all);
      }
    }

    @Override
    public void onEvents(List<LeaseEvent> batch) {
      keeper.onEvents(batch);
    }
  }

  @BeforeEach
  void config() throws Exception {
    store.putConfig(CONFIG, false);
  }

  private SubnetLease start() throws Exception {
    CompletableFuture<SubnetLease> f = keeper.acquire(Optional.empty());
    scheduler.runDue();
    assertThat(f).isDone();
    keeper.startRenewing();
    scheduler.runDue();
    store.watch(guard);
    scheduler.runDue();
    return f.get();
  }

  /** Plays the scheduler forward task by task (expiring keys as etcd would) until {@code done} or 50 tasks. */
  private void runUntil(java.util.function.BooleanSupplier done) {
    for (int i = 0; i < 50 && !done.getAsBoolean(); i++) {
      data.tick();
      if (!scheduler.runNext()) {
        break;
      }
    }
    assertThat(done.getAsBoolean()).as("reached; events %s", events.seen).isTrue();
  }

  @Test
  void acquiresWithRetryThroughTransientFailures() throws Exception {
    data.failNext(2);
    Instant t0 = clock.instant();
    CompletableFuture<SubnetLease> f = keeper.acquire(Optional.of(Ipv4Subnet.parse("10.244.7.0/24")));
    scheduler.runDue();
    assertThat(f).isNotDone();
    assertThat(scheduler.single().delay()).isEqualTo(Duration.ofSeconds(1));
    scheduler.runNext();
    assertThat(scheduler.single().delay()).isEqualTo(Duration.ofSeconds(2)); // backoff doubles
    scheduler.runNext();

    assertThat(f.get().subnet()).isEqualTo(Ipv4Subnet.parse("10.244.7.0/24")); // the previous subnet
    assertThat(Duration.between(t0, clock.instant())).isEqualTo(Duration.ofSeconds(3));
    assertThat(keeper.held()).isTrue();
    assertThat(events.seen).containsExactly("acquired 10.244.7.0/24");
    assertThat(scheduler.pending()).isEmpty(); // renewals begin with startRenewing()
  }

  @Test
  void aRefusedFirstAcquisitionFailsTheStart() {
    data.denyNext(1);
    CompletableFuture<SubnetLease> f = keeper.acquire(Optional.empty());
    scheduler.runDue();
    assertThatThrownBy(f::get).isInstanceOf(ExecutionException.class).hasCauseInstanceOf(AccessDeniedException.class);
    assertThat(scheduler.pending()).isEmpty();
  }

  @Test
  void renewsOnSchedule() throws Exception {
    SubnetLease first = start();
    ManualScheduler.Task renewal = scheduler.single();
    assertThat(renewal.due()).isEqualTo(first.expiresAt().minus(MARGIN));

    runUntil(() -> events.count("renewed") == 3);
    assertThat(events.seen).containsExactly("acquired " + first.subnet(), "renewed " + first.subnet(),
        "renewed " + first.subnet(), "renewed " + first.subnet());
    SubnetLease now = keeper.lease();
    assertThat(now.subnet()).isEqualTo(first.subnet());
    assertThat(now.modRevision()).isGreaterThan(first.modRevision());
    assertThat(now.expiresAt()).isEqualTo(clock.instant().plus(TTL));
    // with 10 s left an attempt may take half of the 9 s usable; a renewal never waits past expiry
    assertThat(data.requestTimeouts()).containsOnly(Duration.ofMillis(4500));
    assertThat(store.list()).singleElement().satisfies(l -> assertThat(l.expiresAt()).isAfter(clock.instant()));
  }

  @Test
  void aLongLeaseRenewsAnHourAheadWithTheFullRequestTimeout() throws Exception {
    FakeLeaseStore day = new FakeLeaseStore(data, "/day/network", Duration.ofHours(24));
    day.putConfig(CONFIG, false);
    LeaseKeeper k = new LeaseKeeper(day, () -> MINE, Duration.ofMinutes(60), clock, scheduler, events);
    CompletableFuture<SubnetLease> f = k.acquire(Optional.empty());
    scheduler.runDue();
    k.startRenewing();
    scheduler.runDue();
    assertThat(scheduler.single().delay()).isEqualTo(Duration.ofHours(23));
    scheduler.runNext();
    assertThat(data.requestTimeouts()).containsExactly(RenewalSchedule.REQUEST_TIMEOUT);
    assertThat(k.lease().expiresAt()).isEqualTo(clock.instant().plus(Duration.ofHours(24)));
    assertThat(f.get().subnet()).isEqualTo(k.lease().subnet());
  }

  @Test
  void renewsThroughAPartitionThatHealsBeforeExpiry() throws Exception {
    SubnetLease first = start();
    data.hangNext(3); // three attempts hang on a stalled connection until their deadline
    Instant expiry = first.expiresAt();

    runUntil(() -> events.count("renewed") == 1);

    assertThat(events.count("lost")).isZero();
    assertThat(events.count("renew failed")).isEqualTo(3);
    assertThat(keeper.held()).isTrue();
    assertThat(keeper.lease().subnet()).isEqualTo(first.subnet());
    assertThat(keeper.lease().etcdLeaseId()).isNotEqualTo(first.etcdLeaseId());
    List<Duration> bounds = data.requestTimeouts();
    assertThat(bounds).hasSize(4);
    for (int i = 1; i < bounds.size(); i++) {
      assertThat(bounds.get(i)).as("attempt %d bound %s", i, bounds).isLessThan(bounds.get(i - 1));
    }
    assertThat(clock.instant()).isBefore(expiry); // the last attempt went through before the old lease ran out
    assertThat(store.list()).singleElement().satisfies(l -> assertThat(l.subnet()).isEqualTo(first.subnet()));
  }

  @Test
  void aLeaseThatLapsesWhileEtcdIsUnreachableIsReacquiredWithTheSameSubnet() throws Exception {
    SubnetLease first = start();
    data.failNext(1000);

    runUntil(() -> events.count("lost") == 1);

    assertThat(events.seen).filteredOn(s -> s.startsWith("lost")).singleElement().asString()
        .matches("lost " + java.util.regex.Pattern.quote(first.subnet().toString())
            + ": it expired: [1-9][0-9]* renewal attempts could not reach etcd in time");
    assertThat(keeper.held()).isFalse();
    // every attempt was bounded by the time the lease had left
    assertThat(data.requestTimeouts()).allSatisfy(d -> assertThat(d).isLessThanOrEqualTo(Duration.ofMillis(4500)));
    assertThat(data.requestTimeouts().size()).isGreaterThanOrEqualTo(5); // retries spread over the last 10 s

    data.clearFaults();
    runUntil(() -> events.count("reacquired") == 1);
    assertThat(events.seen).contains("reacquired " + first.subnet() + " -> " + first.subnet());
    assertThat(keeper.held()).isTrue();
    scheduler.runDue();
    assertThat(scheduler.single().due()).isEqualTo(keeper.lease().expiresAt().minus(MARGIN));
  }

  @Test
  void aDeletedLeaseIsReacquiredWithTheSameSubnet() throws Exception {
    SubnetLease first = start();
    data.delete(store.keyOf(first.subnet()));
    scheduler.runDue();

    assertThat(events.seen).containsExactly("acquired " + first.subnet(),
        "lost " + first.subnet() + ": its key was deleted",
        "reacquired " + first.subnet() + " -> " + first.subnet());
    assertThat(keeper.held()).isTrue();
    assertThat(keeper.lease().modRevision()).isGreaterThan(first.modRevision());
    assertThat(scheduler.single().due()).isEqualTo(keeper.lease().expiresAt().minus(MARGIN));
  }

  @Test
  void anExpiredLeaseIsReacquiredWithTheSameSubnet() throws Exception {
    CompletableFuture<SubnetLease> f = keeper.acquire(Optional.empty()); // not renewing: the agent is stalled
    scheduler.runDue();
    store.watch(guard);
    SubnetLease first = f.get();

    clock.advance(TTL);
    assertThat(data.tick()).isEqualTo(1);
    scheduler.runDue();

    assertThat(events.seen).containsExactly("acquired " + first.subnet(), "lost " + first.subnet()
        + ": its key expired", "reacquired " + first.subnet() + " -> " + first.subnet());
  }

  @Test
  void aLeaseTakenByAnotherHostIsReplacedByAnotherSubnet() throws Exception {
    SubnetLease first = start();
    data.put(store.keyOf(first.subnet()), LeaseJson.encode(THEIRS)); // another host wrote over our key
    scheduler.runDue();

    assertThat(events.seen).contains("lost " + first.subnet() + ": it now belongs to 198.18.0.2");
    assertThat(events.reacquired).singleElement().satisfies(l -> {
      assertThat(l.subnet()).isNotEqualTo(first.subnet());
      assertThat(l.attrs().publicIp()).isEqualTo(MINE.publicIp());
    });
    assertThat(store.list()).extracting(l -> l.attrs().publicIp().getHostAddress())
        .containsExactlyInAnyOrder("198.18.0.1", "198.18.0.2");
    assertThat(events.count("lost")).isOne();
  }

  @Test
  void aSubnetThatCannotBePutInPlaceIsRetriedAndReused() throws Exception {
    SubnetLease first = start();
    events.failUntilPlacedTimes = 1;
    data.put(store.keyOf(first.subnet()), LeaseJson.encode(THEIRS));
    scheduler.runDue();
    assertThat(events.reacquired).isEmpty();
    assertThat(keeper.held()).isFalse();
    scheduler.runNext(); // 1 s later: acquire reuses the lease it got, the listener puts it in place
    assertThat(events.reacquired).hasSize(1);
    assertThat(store.list()).hasSize(2); // no second new subnet
    assertThat(keeper.held()).isTrue();
  }

  @Test
  void theStaleDeletionOfOurReplacedKeyIsNotASecondLoss() throws Exception {
    Queue<Runnable> watchQueue = new ArrayDeque<>();
    data.deliverOn(watchQueue::add); // the watch lags: its results wait until the test releases them
    SubnetLease first = start();
    drain(watchQueue);
    scheduler.runDue();

    data.delete(store.keyOf(first.subnet())); // the watch has not told us yet
    scheduler.runNext(); // the renewal finds the key gone: lost, re-acquired at once
    assertThat(events.count("lost")).isOne();
    assertThat(events.count("reacquired")).isOne();
    long acquisitions = data.requests();

    drain(watchQueue); // now the watch delivers the deletion of the old key, then our new key
    scheduler.runDue();

    assertThat(events.count("lost")).isOne();
    assertThat(events.count("reacquired")).isOne();
    assertThat(data.requests()).isEqualTo(acquisitions); // no second acquisition
    assertThat(keeper.held()).isTrue();
  }

  @Test
  void etcdEmptiedHoldsThePeersUntilTheConfigAndLeaseAreBack() throws Exception {
    SubnetLease first = start();
    assertThat(guard.applied).hasSize(1);

    data.wipe(); // etcd lost its data: the watch delivers an empty snapshot
    scheduler.runDue();
    assertThat(guard.applied).as("the empty snapshot is held back").hasSize(1);
    assertThat(keeper.holding()).isTrue();
    assertThat(events.seen).containsSubsequence("holding " + first.subnet(), "lost " + first.subnet() + ": it is no "
        + "longer in etcd");

    scheduler.advance(Duration.ofSeconds(30)); // re-acquiring waits for the config
    assertThat(events.count("reacquired")).isZero();
    assertThat(events.count("lost")).isOne();

    store.putConfig(CONFIG, false); // tartan network init
    runUntil(() -> events.count("reacquired") == 1);
    assertThat(events.reacquired).singleElement().satisfies(l -> assertThat(l.subnet()).isEqualTo(first.subnet()));
    assertThat(keeper.holding()).isTrue(); // the other hosts get their grace to come back

    runUntil(() -> events.count("hold ended") == 1);
    assertThat(keeper.holding()).isFalse();
    assertThat(events.count("holding")).isOne();
  }

  @Test
  void permissionDeniedStopsTheKeeper() throws Exception {
    SubnetLease first = start();
    data.denyNext(1);
    scheduler.runNext();

    assertThat(events.seen).containsExactly("acquired " + first.subnet(), "stopped " + first.subnet());
    assertThat(keeper.held()).isFalse();
    assertThat(scheduler.pending()).isEmpty();
  }

  @Test
  void closeStopsAllWork() throws Exception {
    start();
    keeper.close();
    scheduler.runDue();
    assertThat(scheduler.pending()).isEmpty();
    data.delete(data.keys().get(data.keys().size() - 1));
    scheduler.runDue();
    assertThat(events.count("lost")).isZero();
  }

  @Test
  void aReservationIsNeverRenewedButStillWatched() throws Exception {
    Ipv4Subnet reserved = Ipv4Subnet.parse("10.244.40.0/24");
    store.reserve(reserved, MINE.publicIp());
    SubnetLease l = start();
    assertThat(l.subnet()).isEqualTo(reserved);
    assertThat(l.reserved()).isTrue();
    assertThat(scheduler.pending()).isEmpty();
    data.delete(store.keyOf(reserved));
    scheduler.runDue();
    assertThat(events.seen).containsExactly("acquired " + reserved, "lost " + reserved + ": its key was deleted",
        "reacquired " + reserved + " -> " + reserved);
    assertThat(keeper.lease().reserved()).isFalse(); // a plain lease now, renewed from here on
    assertThat(scheduler.single().due()).isEqualTo(keeper.lease().expiresAt().minus(MARGIN));
  }

  @Test
  void aFailingListenerDoesNotDisturbTheRenewals() throws Exception {
    List<SubnetLease> renewed = new ArrayList<>();
    LeaseKeeper k = new LeaseKeeper(store, () -> MINE, MARGIN, clock, scheduler, new LeaseKeeper.Listener() {
      @Override
      public void renewed(SubnetLease lease) {
        renewed.add(lease);
        throw new IllegalStateException("bug in the listener");
      }
    });
    k.acquire(Optional.empty());
    k.startRenewing();
    scheduler.runDue();
    scheduler.runNext();
    scheduler.runNext();
    assertThat(renewed).hasSize(2);
    assertThat(data.requestTimeouts()).hasSize(2); // no retry: a renewal that worked is not a failure
    assertThat(k.held()).isTrue();
  }

  private static void drain(Queue<Runnable> q) {
    Runnable r;
    while ((r = q.poll()) != null) {
      r.run();
    }
  }

  private static Inet4Address ip(String s) {
    try {
      return (Inet4Address) InetAddress.getByName(s);
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }
}
