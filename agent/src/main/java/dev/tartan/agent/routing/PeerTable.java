package dev.tartan.agent.routing;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.SubnetLease;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leases a watch has seen, by subnet: a snapshot replaces them, {@code Added} puts, {@code
 * Removed} takes out (flannel's lease tracker, without its event diffing: the desired state is a
 * function of the whole table). After every change it calls the trigger given at construction
 * (normally {@link ReconcileLoop#trigger()}, which may also be set later with {@link
 * #onChange(Runnable)}); the trigger must not block.
 *
 * <p>Our own subnet is kept out of {@link #remotes()}; it can change when the lease is
 * re-acquired ({@link #ownSubnet(Ipv4Subnet)}). Thread-safe.
 */
public final class PeerTable implements LeaseListener {
  private static final Logger log = LoggerFactory.getLogger(PeerTable.class);

  private volatile Runnable onChange;
  private final Map<Ipv4Subnet, SubnetLease> leases = new HashMap<>();
  private Ipv4Subnet own;
  private boolean synced;

  /**
   * @param ownSubnet our own subnet (never a peer), or null while none is held
   * @param onChange  called after each change, on the caller's thread
   */
  public PeerTable(Ipv4Subnet ownSubnet, Runnable onChange) {
    this.own = ownSubnet;
    this.onChange = Objects.requireNonNull(onChange, "onChange");
  }

  /** A table whose trigger is set later with {@link #onChange(Runnable)} (changes before are kept). */
  public PeerTable(Ipv4Subnet ownSubnet) {
    this(ownSubnet, () -> { });
  }

  /** Sets what to call after each change (e.g. {@code loop::trigger}) and calls it once. */
  public void onChange(Runnable trigger) {
    this.onChange = Objects.requireNonNull(trigger, "trigger");
    trigger.run();
  }

  @Override
  public void onSnapshot(List<SubnetLease> all) {
    synchronized (this) {
      leases.clear();
      for (SubnetLease l : all) {
        leases.put(l.subnet(), l);
      }
      synced = true;
    }
    log.debug("lease snapshot: {} leases", all.size());
    onChange.run();
  }

  @Override
  public void onEvents(List<LeaseEvent> batch) {
    synchronized (this) {
      for (LeaseEvent e : batch) {
        SubnetLease l = e.lease();
        if (e instanceof LeaseEvent.Added) {
          leases.put(l.subnet(), l);
        } else {
          leases.remove(l.subnet());
        }
      }
    }
    onChange.run();
  }

  @Override
  public void onDisconnected(String reason) {
    log.debug("lease watch disconnected ({}); keeping {} peers programmed", reason, size());
  }

  /** Changes our own subnet (lease re-acquired) and asks for a reconcile. */
  public void ownSubnet(Ipv4Subnet subnet) {
    synchronized (this) {
      own = subnet;
    }
    onChange.run();
  }

  public synchronized Ipv4Subnet ownSubnet() {
    return own;
  }

  /** Every lease but ours, in no particular order (a copy). */
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

  /** Number of remote leases. */
  public synchronized int size() {
    return leases.size() - (own != null && leases.containsKey(own) ? 1 : 0);
  }

  /** True once the first snapshot has arrived (before it the table is not authoritative). */
  public synchronized boolean synced() {
    return synced;
  }
}
