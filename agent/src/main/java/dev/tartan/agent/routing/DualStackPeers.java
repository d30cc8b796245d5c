package dev.tartan.agent.routing;

import dev.tartan.store.LeaseEvent;
import dev.tartan.store.LeaseListener;
import dev.tartan.store.SubnetLease;
import java.util.List;
import java.util.Objects;

/**
 * The watch's listener on a dual-stack host: every call goes to the IPv6 device's {@link PeerSync}
 * and to the IPv4 one, which keep their own tables, passes and kernel entries (docs/flannel-compat.md
 * §2.7). Each only marks the peer dirty and wakes its loop, so the watch's thread never blocks.
 */
public final class DualStackPeers implements LeaseListener {
  private final PeerSync v4;
  private final PeerSync v6;

  public DualStackPeers(PeerSync v4, PeerSync v6) {
    this.v4 = Objects.requireNonNull(v4, "v4");
    this.v6 = Objects.requireNonNull(v6, "v6");
  }

  @Override
  public void onSnapshot(List<SubnetLease> all) {
    v6.onSnapshot(all);
    v4.onSnapshot(all);
  }

  @Override
  public void onEvents(List<LeaseEvent> batch) {
    v6.onEvents(batch);
    v4.onEvents(batch);
  }

  @Override
  public void onDisconnected(String reason) {
    v6.onDisconnected(reason);
    v4.onDisconnected(reason);
  }

  @Override
  public void onReconnected() {
    v6.onReconnected();
    v4.onReconnected();
  }
}
