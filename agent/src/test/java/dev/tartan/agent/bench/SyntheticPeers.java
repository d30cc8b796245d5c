package dev.tartan.agent.bench;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.alloc.SubnetKeys;
import dev.tartan.store.etcd.LeaseJson;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.PutOption;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Leases of hosts that do not exist, written straight to etcd (jetcd, values in flannel's exact form
 * through {@link LeaseJson}) so that an agent sees thousands of peers without thousands of agents.
 *
 * <p>Peer {@code i} has the subnet number {@code i} of {@code network} (a /24 each), the public IP
 * {@code 198.18.0.0 + 1 + i} (198.18.0.0/15, the benchmarking range: nothing answers there, and it
 * is only ever an FDB destination inside a test namespace) and the VTEP MAC {@code 0e:b0:00:00:hh:ll}.
 * Every key is attached to one etcd lease with a one-hour TTL, as an agent's lease would be.
 */
final class SyntheticPeers implements AutoCloseable {
  /** One synthetic host. */
  record Peer(int index, Ipv4Subnet subnet, String publicIp, String vtepMac) {}

  private static final int WINDOW = 256;

  private final Client client;
  private final String prefix;
  private final Ipv4Subnet network;
  private final long leaseId;

  private SyntheticPeers(Client client, String prefix, Ipv4Subnet network, long leaseId) {
    this.client = client;
    this.prefix = prefix;
    this.network = network;
    this.leaseId = leaseId;
  }

  /**
   * Connects, writes {@code <prefix>/config} for {@code network} with /24 subnets and the vxlan
   * backend, and grants the etcd lease the peers' keys hang on.
   */
  static SyntheticPeers create(List<URI> endpoints, String prefix, Ipv4Subnet network) throws Exception {
    // The harness itself reads whole prefixes (deleteLeasesOf): no 4 MiB cap for it at 65,535 leases.
    Client c = Client.builder().endpoints(endpoints).maxInboundMessageSize(256 << 20).build();
    try {
      String config = "{\"Network\":\"" + network + "\",\"SubnetLen\":24,\"Backend\":{\"Type\":\"vxlan\"}}";
      c.getKVClient().put(bs(prefix + "/config"), bs(config)).get(10, TimeUnit.SECONDS);
      long lease = c.getLeaseClient().grant(3600).get(10, TimeUnit.SECONDS).getID();
      return new SyntheticPeers(c, prefix, network, lease);
    } catch (Exception e) {
      c.close();
      throw e;
    }
  }

  Peer peer(int i) {
    if (i < 1 || ((long) i << 8) >= network.size()) {
      throw new IllegalArgumentException("peer " + i + " is outside " + network);
    }
    Ipv4Subnet subnet = new Ipv4Subnet(network.address() + (i << 8), 24);
    String ip = Ipv4Subnet.format(Ipv4Subnet.parseAddress("198.18.0.0") + 1 + i);
    String mac = String.format(Locale.ROOT, "0e:b0:00:%02x:%02x:%02x", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
    return new Peer(i, subnet, ip, mac);
  }

  String key(Peer p) {
    return prefix + "/subnets/" + SubnetKeys.format(p.subnet());
  }

  static String value(Peer p) {
    LeaseAttrs attrs = LeaseAttrs.ipv4(Ipv4Subnet.toInet(Ipv4Subnet.parseAddress(p.publicIp())), "vxlan",
        "{\"VNI\":1,\"VtepMAC\":\"" + p.vtepMac() + "\"}");
    return LeaseJson.encode(attrs);
  }

  /** Writes peers {@code from} (inclusive) to {@code to} (exclusive), {@value #WINDOW} requests in flight. */
  void putRange(int from, int to) throws Exception {
    List<CompletableFuture<?>> inFlight = new ArrayList<>(WINDOW);
    PutOption opt = PutOption.builder().withLeaseId(leaseId).build();
    for (int i = from; i < to; i++) {
      Peer p = peer(i);
      inFlight.add(client.getKVClient().put(bs(key(p)), bs(value(p)), opt));
      if (inFlight.size() == WINDOW) {
        CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        inFlight.clear();
      }
    }
    CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
  }

  /**
   * Writes peers {@code from} (inclusive) to {@code to} (exclusive) in transactions of 100 puts, 8
   * transactions in flight: tens of thousands of leases in seconds.
   */
  void putRangeTxn(int from, int to) throws Exception {
    List<CompletableFuture<?>> inFlight = new ArrayList<>(8);
    PutOption opt = PutOption.builder().withLeaseId(leaseId).build();
    for (int i = from; i < to; i += 100) {
      List<io.etcd.jetcd.op.Op> ops = new ArrayList<>(100);
      for (int j = i; j < Math.min(to, i + 100); j++) {
        Peer p = peer(j);
        ops.add(io.etcd.jetcd.op.Op.put(bs(key(p)), bs(value(p)), opt));
      }
      inFlight.add(client.getKVClient().txn().Then(ops.toArray(io.etcd.jetcd.op.Op[]::new)).commit());
      if (inFlight.size() == 8) {
        CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        inFlight.clear();
      }
    }
    CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
  }

  /** One PUT, waiting for etcd's answer. */
  void put(Peer p) throws Exception {
    client.getKVClient().put(bs(key(p)), bs(value(p)), PutOption.builder().withLeaseId(leaseId).build())
        .get(10, TimeUnit.SECONDS);
  }

  /** One DELETE, waiting for etcd's answer. */
  void delete(Peer p) throws Exception {
    client.getKVClient().delete(bs(key(p))).get(10, TimeUnit.SECONDS);
  }

  /** Deletes every lease whose PublicIP is {@code publicIp} (a bench host's own); returns how many. */
  int deleteLeasesOf(String publicIp) throws Exception {
    String subnets = prefix + "/subnets/";
    var resp = client.getKVClient().get(bs(subnets), io.etcd.jetcd.options.GetOption.builder()
        .isPrefix(true).build()).get(30, TimeUnit.SECONDS);
    int n = 0;
    for (var kv : resp.getKvs()) {
      if (LeaseJson.decode(kv.getValue().toString(UTF_8)).publicIp().getHostAddress().equals(publicIp)) {
        client.getKVClient().delete(kv.getKey()).get(10, TimeUnit.SECONDS);
        n++;
      }
    }
    return n;
  }

  static ByteSequence bs(String s) {
    return ByteSequence.from(s, UTF_8);
  }

  @Override
  public void close() {
    client.close();
  }
}
