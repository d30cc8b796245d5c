package dev.tartan.store.etcd;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.Subscription;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.common.exception.CompactedException;
import io.etcd.jetcd.lease.LeaseTimeToLiveResponse;
import io.etcd.jetcd.options.LeaseOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcd.jetcd.watch.WatchResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One watch of {@code <prefix>/subnets/} (flannel's {@code WatchLeases}), run by a dedicated thread
 * that also delivers every callback:
 *
 * <ol>
 *   <li>list the leases and deliver them as a snapshot; watch from the list revision + 1 with prevKV;
 *   <li>map PUT to {@code Added} and DELETE to {@code Removed} carrying the last known copy and its
 *       cause: when the deleted key had an etcd lease, that lease is looked up (all look-ups of a
 *       batch in flight together, the batch delivered in order once they answer): gone means the key
 *       {@code EXPIRED}, alive means it was {@code DELETED} on purpose (a key delete leaves its lease);
 *       a key without a lease (a reservation), or a look-up that fails, is {@code DELETED}. A key or
 *       value that does not parse is skipped (WARN + counter) and changes nothing (flannel flushes
 *       every peer here: its quirk Q3, docs/flannel-compat.md §1.10);
 *   <li>on a broken stream, report {@code onDisconnected} once and reconnect from the resume revision
 *       with backoff 100 ms, x2, capped at 5 s, reset once the watch is created again
 *       ({@code onReconnected});
 *   <li>on compaction, list again and deliver the new full snapshot;
 *   <li>when the store re-dials its connection (a request timed out), re-attach on the new client
 *       from the resume revision, with no outage reported;
 *   <li>when a reconnected watch finds etcd at a revision below the one it had already seen, etcd's
 *       data was lost or restored from a backup (a watch from a future revision would wait silently
 *       for revisions that may never carry our keys): list again and deliver the new snapshot.
 * </ol>
 */
final class LeaseWatch implements Subscription {

  private static final Logger LOG = LoggerFactory.getLogger(LeaseWatch.class);
  private static final AtomicInteger THREADS = new AtomicInteger();
  static final long MIN_BACKOFF_MILLIS = 100;
  static final long MAX_BACKOFF_MILLIS = 5000;

  private interface Signal {
    int generation();
  }

  private record Next(int generation, WatchResponse response) implements Signal {}

  private record Failed(int generation, Throwable error) implements Signal {}

  private record Completed(int generation) implements Signal {}

  /** The connection was re-dialled: whatever generation is running re-attaches. */
  private record Redialled() implements Signal {
    @Override
    public int generation() {
      return -1;
    }
  }

  private enum Outcome { COMPACTED, REWOUND, BROKEN, REDIALLED, CLOSED }

  /** How long a batch with removals waits for the look-ups of their etcd leases. */
  static final long CAUSE_LOOKUP_MILLIS = 3000;

  private final EtcdConnection conn;
  private final LeaseReader reader;
  private final EtcdCounters counters;
  private final Consumer<LeaseWatch> onClose;
  private final LeaseListener listener;
  private final Thread thread;
  private final BlockingQueue<Signal> queue = new LinkedBlockingQueue<>();
  private volatile boolean closed;
  private volatile Runnable stopRedialListener;

  // owned by the watch thread
  private final Map<String, SubnetLease> known = new LinkedHashMap<>();
  private long resumeRevision;
  private int generation;
  private boolean disconnected;
  private long backoffMillis = MIN_BACKOFF_MILLIS;
  private String brokenReason;
  private long rewoundTo;

  LeaseWatch(EtcdConnection conn, LeaseReader reader, EtcdCounters counters, Consumer<LeaseWatch> onClose,
      LeaseListener listener) {
    this.conn = conn;
    this.reader = reader;
    this.counters = counters;
    this.onClose = onClose;
    this.listener = listener;
    this.thread = new Thread(this::run, "tartan-lease-watch-" + THREADS.incrementAndGet());
    this.thread.setDaemon(true);
  }

  void start() {
    stopRedialListener = conn.onRedial(() -> queue.add(new Redialled()));
    thread.start();
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (stopRedialListener != null) {
      stopRedialListener.run();
    }
    thread.interrupt();
    if (Thread.currentThread() != thread) {
      try {
        thread.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    onClose.accept(this);
  }

  private void run() {
    boolean needSnapshot = true;
    while (!closed) {
      try {
        if (needSnapshot) {
          LeaseReader.Snapshot s = reader.read(false); // peers' expiry is not needed: no TTL round trips
          deliverSnapshot(s.leases());
          resumeRevision = s.revision() + 1;
          needSnapshot = false;
        }
        Outcome o = watchUntilBroken();
        if (o == Outcome.COMPACTED) {
          counters.countCompaction();
          LOG.info("watch on {} ran into a compaction at revision {}; re-listing the leases",
              reader.subnetsPrefix(), resumeRevision);
          needSnapshot = true;
        } else if (o == Outcome.REWOUND) {
          LOG.warn("etcd answers at revision {}, behind revision {} this watch had already seen (its data was "
              + "lost or restored from a backup, or the member lags); re-listing the leases", rewoundTo,
              resumeRevision - 1);
          needSnapshot = true;
        } else if (o == Outcome.REDIALLED) {
          LOG.info("watch on {} re-attaching to the re-dialled etcd connection at revision {}",
              reader.subnetsPrefix(), resumeRevision);
        } else if (o == Outcome.BROKEN) {
          outage(brokenReason);
          pause();
        }
      } catch (LeaseStoreException e) {
        if (closed) {
          break;
        }
        outage(e.getMessage());
        try {
          pause();
        } catch (InterruptedException ie) {
          break;
        }
      } catch (InterruptedException e) {
        break;
      } catch (RuntimeException e) {
        if (closed) {
          break;
        }
        LOG.error("lease watch on {} failed unexpectedly; restarting it", reader.subnetsPrefix(), e);
        outage(String.valueOf(e));
        needSnapshot = true;
        try {
          pause();
        } catch (InterruptedException ie) {
          break;
        }
      }
    }
    LOG.debug("lease watch on {} stopped", reader.subnetsPrefix());
  }

  /** Watches from {@link #resumeRevision} until the stream breaks, is compacted away, or we close. */
  private Outcome watchUntilBroken() throws InterruptedException {
    int gen = ++generation;
    WatchOption opt = WatchOption.builder()
        .isPrefix(true)
        .withRevision(resumeRevision)
        .withPrevKV(true)
        .withCreateNotify(true)
        .withRequireLeader(true)
        .build();
    Watch.Watcher watcher = conn.client().getWatchClient().watch(LeaseReader.bs(reader.subnetsPrefix()),
        opt, Watch.listener(
            r -> queue.add(new Next(gen, r)),
            t -> queue.add(new Failed(gen, t)),
            () -> queue.add(new Completed(gen))));
    try {
      while (!closed) {
        Signal s = queue.take();
        if (s instanceof Redialled) {
          return Outcome.REDIALLED;
        }
        if (s.generation() != gen) {
          continue;
        }
        if (s instanceof Next) {
          WatchResponse r = ((Next) s).response();
          if (r.isCreatedNotify()) {
            long current = r.getHeader().getRevision();
            if (current + 1 < resumeRevision) {
              rewoundTo = current;
              return Outcome.REWOUND;
            }
            connected();
          } else if (!r.getEvents().isEmpty()) {
            handle(r.getEvents());
          }
        } else if (s instanceof Failed) {
          Throwable t = ((Failed) s).error();
          if (t instanceof CompactedException) {
            return Outcome.COMPACTED;
          }
          brokenReason = EtcdErrors.rootMessage(t);
          return Outcome.BROKEN;
        } else {
          brokenReason = "watch stream closed by the server";
          return Outcome.BROKEN;
        }
      }
      return Outcome.CLOSED;
    } finally {
      watcher.close();
    }
  }

  private void connected() {
    backoffMillis = MIN_BACKOFF_MILLIS;
    if (disconnected) {
      disconnected = false;
      LOG.info("watch on {} reconnected at revision {}", reader.subnetsPrefix(), resumeRevision);
      try {
        listener.onReconnected();
      } catch (RuntimeException e) {
        LOG.error("lease listener failed in onReconnected", e);
      }
    }
  }

  private void outage(String reason) {
    if (closed || disconnected) {
      return;
    }
    disconnected = true;
    counters.countReconnect();
    LOG.warn("lost the etcd watch on {} ({}); reconnecting", reader.subnetsPrefix(), reason);
    try {
      listener.onDisconnected(reason);
    } catch (RuntimeException e) {
      LOG.error("lease listener failed in onDisconnected", e);
    }
  }

  private void pause() throws InterruptedException {
    Thread.sleep(backoffMillis);
    backoffMillis = Math.min(backoffMillis * 2, MAX_BACKOFF_MILLIS);
  }

  private void deliverSnapshot(List<SubnetLease> leases) {
    known.clear();
    for (SubnetLease l : leases) {
      known.put(reader.keyOf(l), l);
    }
    try {
      listener.onSnapshot(leases);
    } catch (RuntimeException e) {
      LOG.error("lease listener failed in onSnapshot", e);
    }
  }

  private void handle(List<WatchEvent> events) {
    List<LeaseEvent> batch = new ArrayList<>(events.size());
    Map<Integer, CompletableFuture<Long>> lookups = new HashMap<>();
    for (WatchEvent ev : events) {
      KeyValue kv = ev.getKeyValue();
      resumeRevision = Math.max(resumeRevision, kv.getModRevision() + 1);
      String key = kv.getKey().toString(UTF_8);
      switch (ev.getEventType()) {
        case PUT: {
          SubnetLease l = leaseWithoutTtl(kv);
          if (l != null) {
            known.put(key, l);
            batch.add(new LeaseEvent.Added(l));
          }
          break;
        }
        case DELETE: {
          SubnetLease old = known.remove(key);
          if (old == null) {
            if (reader.parseKey(key).isEmpty()) {
              reader.skipBad(key, "not a subnet key (deleted)");
              break;
            }
            KeyValue prev = ev.getPrevKV();
            if (prev != null && !prev.getKey().isEmpty()) {
              old = leaseWithoutTtl(prev); // not known (normally impossible): use etcd's previous value
            }
          }
          if (old != null) {
            batch.add(new LeaseEvent.Removed(old));
            KeyValue prev = ev.getPrevKV();
            long leaseId = prev != null && !prev.getKey().isEmpty() ? prev.getLease() : old.etcdLeaseId();
            if (leaseId != 0) {
              lookups.put(batch.size() - 1, lookUp(leaseId));
            }
          } else {
            LOG.debug("ignoring the deletion of {}: no lease was known there", key);
          }
          break;
        }
        default:
          LOG.debug("ignoring watch event {} on {}", ev.getEventType(), key);
      }
    }
    if (!lookups.isEmpty()) {
      resolveCauses(batch, lookups);
    }
    if (!batch.isEmpty()) {
      try {
        listener.onEvents(batch);
      } catch (RuntimeException e) {
        LOG.error("lease listener failed in onEvents", e);
      }
    }
  }

  /** The remaining TTL of etcd lease {@code id} (-1 when it is gone), or -2 when the look-up fails. */
  private CompletableFuture<Long> lookUp(long id) {
    try {
      return conn.client().getLeaseClient().timeToLive(id, LeaseOption.DEFAULT)
          .thenApply(LeaseTimeToLiveResponse::getTTL).exceptionally(e -> -2L);
    } catch (RuntimeException e) {
      return CompletableFuture.completedFuture(-2L);
    }
  }

  /** Replaces each looked-up removal by one with its cause: lease gone -> EXPIRED, else DELETED. */
  private void resolveCauses(List<LeaseEvent> batch, Map<Integer, CompletableFuture<Long>> lookups) {
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CAUSE_LOOKUP_MILLIS);
    for (Map.Entry<Integer, CompletableFuture<Long>> e : lookups.entrySet()) {
      long ttl;
      try {
        ttl = e.getValue().get(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        ttl = -2;
      } catch (ExecutionException | TimeoutException ex) {
        ttl = -2;
      }
      LeaseEvent.Removed r = (LeaseEvent.Removed) batch.get(e.getKey());
      if (ttl == -1) {
        batch.set(e.getKey(), new LeaseEvent.Removed(r.lease(), LeaseEvent.Cause.EXPIRED));
      } else if (ttl == -2) {
        LOG.debug("could not tell whether {} expired or was deleted (etcd lease look-up failed): deleted",
            r.lease().subnet());
      }
    }
  }

  private SubnetLease leaseWithoutTtl(KeyValue kv) {
    return reader.toLeaseWithoutTtl(kv);
  }
}
