package dev.tartan.store.etcd;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.SubnetLease;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Records what a watch delivers and keeps the view a listener would (snapshot replaces, events
 * patch), the way the agent diffs a snapshot against what it knows.
 */
final class RecordingListener implements LeaseListener {
  final List<List<SubnetLease>> snapshots = new ArrayList<>();
  final List<LeaseEvent> events = new ArrayList<>();
  final List<String> calls = new ArrayList<>();
  final Map<Ipv4Subnet, SubnetLease> view = new TreeMap<>();
  final List<String> threads = new ArrayList<>();

  @Override
  public synchronized void onSnapshot(List<SubnetLease> all) {
    threads.add(Thread.currentThread().getName());
    calls.add("snapshot(" + all.size() + ")");
    snapshots.add(List.copyOf(all));
    view.clear();
    for (SubnetLease l : all) {
      view.put(l.subnet(), l);
    }
  }

  @Override
  public synchronized void onEvents(List<LeaseEvent> batch) {
    threads.add(Thread.currentThread().getName());
    for (LeaseEvent e : batch) {
      calls.add((e instanceof LeaseEvent.Added ? "added " : "removed ") + e.lease().subnet());
      events.add(e);
      if (e instanceof LeaseEvent.Added) {
        view.put(e.lease().subnet(), e.lease());
      } else {
        view.remove(e.lease().subnet());
      }
    }
  }

  @Override
  public synchronized void onDisconnected(String reason) {
    calls.add("disconnected");
  }

  @Override
  public synchronized void onReconnected() {
    calls.add("reconnected");
  }

  synchronized Map<Ipv4Subnet, SubnetLease> view() {
    return new TreeMap<>(view);
  }

  synchronized List<LeaseEvent> events() {
    return List.copyOf(events);
  }

  synchronized List<String> calls() {
    return List.copyOf(calls);
  }

  synchronized int snapshotCount() {
    return snapshots.size();
  }

  synchronized List<String> threads() {
    return List.copyOf(threads);
  }

  synchronized long count(String call) {
    return calls.stream().filter(call::equals).count();
  }
}
