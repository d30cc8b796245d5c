package dev.tartan.store.etcd;

import dev.tartan.store.StoreStats;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The store's counters, and the one WARN per bad key that goes with the first of them. */
final class EtcdCounters implements StoreStats {
  private static final Logger LOG = LoggerFactory.getLogger(EtcdCounters.class);
  private static final int MAX_WARNED_KEYS = 10_000;

  private final AtomicLong badKeysSkipped = new AtomicLong();
  private final AtomicLong watchReconnects = new AtomicLong();
  private final AtomicLong compactionsSeen = new AtomicLong();
  private final Set<String> warnedKeys = ConcurrentHashMap.newKeySet();

  @Override
  public long badKeysSkipped() {
    return badKeysSkipped.get();
  }

  @Override
  public long watchReconnects() {
    return watchReconnects.get();
  }

  @Override
  public long compactionsSeen() {
    return compactionsSeen.get();
  }

  void countReconnect() {
    watchReconnects.incrementAndGet();
  }

  void countCompaction() {
    compactionsSeen.incrementAndGet();
  }

  /** Counts a key or value under {@code subnets/} that does not parse; WARN once per key. */
  void skipBad(String key, String why) {
    badKeysSkipped.incrementAndGet();
    if (warnedKeys.size() < MAX_WARNED_KEYS && warnedKeys.add(key)) {
      LOG.warn("skipping {}: {} (flannel and Tartan ignore it; delete it with etcdctl del {})", key, why, key);
    }
  }
}
