package dev.tartan.agent.routing;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.SubnetLease;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The leases the watch has seen, by subnet (flannel's lease tracker), with the peers held in
 * grace: a lease whose key expired (its host could not renew: stopped, partitioned, or etcd
 * stalled) stays here, and so stay its kernel entries, until the grace ends, the subnet is leased
 * again (by the same host or another), or the key is deleted on purpose. Our own subnet is kept
 * out of {@link #remotes()}. Thread-safe; no logging, no clock of its own.
 */
public final class PeerTable {
  /** What an event did to its subnet. */
  public enum Effect {
    /** The lease is new or was rewritten (it is no longer held, if it was). */
    PUT,
    /** The lease is gone. */
    REMOVED,
    /** The lease expired and is held until the grace ends. */
    HELD,
    /** Nothing changed (a removal of a subnet not known, or already held). */
    NONE
  }

  private final TreeMap<Ipv4Subnet, SubnetLease> leases = new TreeMap<>();
  private final Map<Ipv4Subnet, Instant> held = new HashMap<>();
  private Ipv4Subnet own;
  private boolean synced;

  /** @param ownSubnet our own subnet (never a peer), or null while none is held */
  public PeerTable(Ipv4Subnet ownSubnet) {
    this.own = ownSubnet;
  }

  /**
   * Replaces every lease with {@code all} (a snapshot or re-list). Peers held in grace that the
   * snapshot lacks stay held until their grace ends; those it has are back.
   */
  public synchronized void snapshot(List<SubnetLease> all) {
    Map<Ipv4Subnet, SubnetLease> keep = new HashMap<>();
    for (Ipv4Subnet s : held.keySet()) {
      keep.put(s, leases.get(s));
    }
    leases.clear();
    for (SubnetLease l : all) {
      leases.put(l.subnet(), l);
    }
    for (Iterator<Map.Entry<Ipv4Subnet, Instant>> it = held.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Ipv4Subnet, Instant> h = it.next();
      if (leases.containsKey(h.getKey())) {
        it.remove();
      } else if (keep.get(h.getKey()) != null) {
        leases.put(h.getKey(), keep.get(h.getKey()));
      }
    }
    synced = true;
  }

  /**
   * Applies one event. A removal whose cause is {@link LeaseEvent.Cause#EXPIRED} of a peer's
   * subnet is held until {@code now + grace} (a grace of zero removes at once); a deletion removes
   * at once; an {@code Added} replaces whatever was there, held or not.
   */
  public synchronized Effect apply(LeaseEvent e, Instant now, Duration grace) {
    SubnetLease l = e.lease();
    Ipv4Subnet s = l.subnet();
    if (e instanceof LeaseEvent.Added) {
      leases.put(s, l);
      held.remove(s);
      return Effect.PUT;
    }
    LeaseEvent.Removed r = (LeaseEvent.Removed) e;
    if (!leases.containsKey(s)) {
      return Effect.NONE;
    }
    if (r.cause() == LeaseEvent.Cause.EXPIRED && !s.equals(own) && !grace.isZero() && !grace.isNegative()) {
      if (held.containsKey(s)) {
        return Effect.NONE; // the first expiry's deadline stands
      }
      held.put(s, now.plus(grace));
      return Effect.HELD;
    }
    leases.remove(s);
    held.remove(s);
    return Effect.REMOVED;
  }

  /** Removes the peers whose grace ended at or before {@code now}; returns their subnets. */
  public synchronized List<Ipv4Subnet> expire(Instant now) {
    List<Ipv4Subnet> out = new ArrayList<>();
    for (Iterator<Map.Entry<Ipv4Subnet, Instant>> it = held.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Ipv4Subnet, Instant> h = it.next();
      if (!h.getValue().isAfter(now)) {
        it.remove();
        leases.remove(h.getKey());
        out.add(h.getKey());
      }
    }
    return out;
  }

  /** When the next grace ends, or null when none is held. */
  public synchronized Instant nextGraceEnd() {
    Instant min = null;
    for (Instant i : held.values()) {
      if (min == null || i.isBefore(min)) {
        min = i;
      }
    }
    return min;
  }

  /** Peers held in grace now. */
  public synchronized int inGrace() {
    return held.size();
  }

  /** The subnets held in grace with the end of each grace (a copy). */
  public synchronized Map<Ipv4Subnet, Instant> held() {
    return Map.copyOf(held);
  }

  /** The lease of {@code subnet} (held or not), or null; null for our own subnet. */
  public synchronized SubnetLease get(Ipv4Subnet subnet) {
    return subnet.equals(own) ? null : leases.get(subnet);
  }

  /** True when {@code subnet} overlaps another known lease or our own subnet. */
  public synchronized boolean overlapsAnother(Ipv4Subnet subnet) {
    if (own != null && !own.equals(subnet) && own.overlaps(subnet)) {
      return true;
    }
    Ipv4Subnet lower = leases.lowerKey(subnet);
    Ipv4Subnet higher = leases.higherKey(subnet);
    return (lower != null && !lower.equals(own) && lower.overlaps(subnet))
        || (higher != null && !higher.equals(own) && higher.overlaps(subnet));
  }

  /** Changes our own subnet (lease re-acquired elsewhere). */
  public synchronized void ownSubnet(Ipv4Subnet subnet) {
    own = subnet;
  }

  public synchronized Ipv4Subnet ownSubnet() {
    return own;
  }

  /** Every lease but ours, held ones included, in subnet order (a copy). */
  public synchronized List<SubnetLease> remotes() {
    List<SubnetLease> out = new ArrayList<>(leases.size());
    for (SubnetLease l : leases.values()) {
      if (!l.subnet().equals(own)) {
        out.add(l);
      }
    }
    return out;
  }

  /** Our own lease as the watch last saw it, or null. */
  public synchronized SubnetLease ownLease() {
    return own == null ? null : leases.get(own);
  }

  /** Number of remote leases (held ones included). */
  public synchronized int size() {
    return leases.size() - (own != null && leases.containsKey(own) ? 1 : 0);
  }

  /** True once the first snapshot has arrived (before it the table is not authoritative). */
  public synchronized boolean synced() {
    return synced;
  }

  @Override
  public synchronized String toString() {
    return "PeerTable[" + size() + " peers, " + held.size() + " in grace, own " + Objects.toString(own) + "]";
  }
}
