package dev.tartan.agent.routing;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.NetworkConfig;
import java.util.Optional;

/**
 * Whether this JVM's heap carries a peer for every host the network has room for (pure). Sized
 * from a measurement (20,000 peers: 25 MiB live after a full GC, a full pass at most doubling it,
 * through the launcher's flags): {@value #BASE_MIB} MiB plus {@value #BYTES_PER_PEER} bytes a peer.
 * Checked at start so that a network too large for the heap stops the agent with one line naming
 * the setting to raise, instead of an OutOfMemoryError once the network has grown.
 */
public final class PeerCapacity {
  static final long BASE_MIB = 16;
  static final long BYTES_PER_PEER = 2560;

  private PeerCapacity() {}

  /** Hosts the network has room for: subnets of SubnetLen between SubnetMin and SubnetMax. */
  public static long hosts(NetworkConfig cfg) {
    long size = 1L << (32 - cfg.subnetLen());
    long min = Integer.toUnsignedLong(Ipv4Subnet.toInt(cfg.subnetMin()));
    long max = Integer.toUnsignedLong(Ipv4Subnet.toInt(cfg.subnetMax()));
    return max < min ? 0 : (max - min) / size + 1;
  }

  /** Heap, in MiB, to carry {@code peers} peers. */
  public static long heapMib(long peers) {
    return BASE_MIB + (peers * BYTES_PER_PEER + (1 << 20) - 1) / (1 << 20);
  }

  /**
   * One line saying what to raise when a heap of {@code maxHeapBytes} cannot carry every host of
   * {@code cfg}, else empty.
   */
  public static Optional<String> check(NetworkConfig cfg, long maxHeapBytes) {
    long hosts = hosts(cfg);
    long need = heapMib(hosts);
    long have = maxHeapBytes / (1 << 20);
    if (maxHeapBytes == Long.MAX_VALUE || have >= need) {
      return Optional.empty();
    }
    return Optional.of("the network " + cfg.network() + " has room for " + hosts + " hosts (/" + cfg.subnetLen()
        + " subnets from " + cfg.subnetMin().getHostAddress() + " to " + cfg.subnetMax().getHostAddress()
        + "); carrying that many peers needs a Java heap of about " + need + " MiB and this one has " + have
        + " MiB: raise it with TARTAN_JAVA_OPTS=-Xmx" + need + "m (environment or /etc/default/tartan), or "
        + "narrow SubnetMin/SubnetMax in the network config");
  }
}
