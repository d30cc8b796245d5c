package dev.tartan.store.etcd;

import static dev.tartan.store.etcd.LeaseReader.bs;
import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.NetworkConfig;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.alloc.SubnetKey;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.PutOption;
import java.io.IOException;
import java.net.Inet4Address;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The operator's operations ({@link dev.tartan.store.LeaseAdmin}) on etcd: config, reservations, release. */
final class EtcdLeaseAdmin {
  private static final Logger LOG = LoggerFactory.getLogger(EtcdLeaseAdmin.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final EtcdConnection conn;
  private final LeaseReader reader;

  EtcdLeaseAdmin(EtcdConnection conn, LeaseReader reader) {
    this.conn = conn;
    this.reader = reader;
  }

  /**
   * Writes {@code <prefix>/config}. The JSON is validated first ({@link NetworkConfig#parse}). An
   * identical config (same JSON, whitespace aside) is left as it is; a different one is only
   * replaced with {@code force}.
   */
  void putConfig(String json, boolean force) throws LeaseStoreException {
    NetworkConfig.parse(json);
    for (int attempt = 0; attempt < 5; attempt++) {
      KeyValue existing = reader.getKey(reader.configKey());
      Cmp cmp;
      if (existing == null) {
        cmp = new Cmp(bs(reader.configKey()), Cmp.Op.EQUAL, CmpTarget.version(0));
      } else {
        String old = existing.getValue().toString(UTF_8);
        if (sameJson(old, json)) {
          LOG.info("network config at {} is unchanged", reader.configKey());
          return;
        }
        if (!force) {
          throw new LeaseStoreException(
              "a different network config already exists at " + reader.configKey() + "; use --force to replace it");
        }
        cmp = new Cmp(bs(reader.configKey()), Cmp.Op.EQUAL, CmpTarget.modRevision(existing.getModRevision()));
      }
      TxnResponse t = conn.await(c -> c.getKVClient().txn().If(cmp)
          .Then(Op.put(bs(reader.configKey()), bs(json), PutOption.DEFAULT)).commit(), "write " + reader.configKey());
      if (t.isSucceeded()) {
        LOG.info("network config {} at {}: {}", existing == null ? "created" : "replaced", reader.configKey(), json);
        return;
      }
    }
    throw new LeaseStoreException("could not write " + reader.configKey() + ": it kept changing under us");
  }

  static boolean sameJson(String a, String b) {
    try {
      JsonNode x = JSON.readTree(a);
      JsonNode y = JSON.readTree(b);
      return x != null && x.equals(y);
    } catch (IOException e) {
      return a.equals(b);
    }
  }

  /**
   * Pins {@code subnet} to the host {@code publicIp} with a key that has no etcd lease (flannel's
   * reservation). An existing lease of that host for exactly this subnet is turned into a reservation;
   * a subnet overlapping another host's lease is refused, as is one the network config would not let
   * the host keep.
   */
  SubnetLease reserve(Ipv4Subnet subnet, Inet4Address publicIp) throws LeaseStoreException {
    Objects.requireNonNull(subnet, "subnet");
    Objects.requireNonNull(publicIp, "publicIp");
    Optional<String> raw = reader.rawConfig();
    if (raw.isPresent()) {
      NetworkConfig cfg = NetworkConfig.parse(raw.get());
      if (!cfg.accepts(subnet)) {
        throw new LeaseStoreException("cannot reserve " + subnet + ": the network config only leases /"
            + cfg.subnetLen() + " subnets between " + cfg.subnetMin().getHostAddress() + " and "
            + cfg.subnetMax().getHostAddress());
      }
    }
    for (int attempt = 0; attempt < 5; attempt++) {
      LeaseReader.Snapshot snap = reader.read(false);
      SubnetLease same = null;
      for (SubnetLease l : snap.leases()) {
        if (!l.subnet().overlaps(subnet)) {
          continue;
        }
        if (l.subnet().equals(subnet) && l.attrs().publicIp().equals(publicIp)) {
          same = l;
        } else {
          throw new LeaseStoreException("cannot reserve " + subnet + " for " + publicIp.getHostAddress()
              + ": it overlaps the lease " + l.subnet() + " of host " + l.attrs().publicIp().getHostAddress()
              + " (release that first: tartan leases release " + l.subnet() + ")");
        }
      }
      TxnResponse t;
      SubnetLease result;
      if (same != null) {
        String key = reader.keyOf(same);
        String value = LeaseJson.encode(same.attrs());
        long rev = same.modRevision();
        t = conn.await(c -> c.getKVClient().txn()
            .If(new Cmp(bs(key), Cmp.Op.EQUAL, CmpTarget.modRevision(rev)))
            .Then(Op.put(bs(key), bs(value), PutOption.DEFAULT)).commit(), "reserve " + key);
        result = new SubnetLease(subnet, same.ipv6Subnet(), same.attrs(), null, 0, t.getHeader().getRevision());
        if (t.isSucceeded() && same.etcdLeaseId() != 0) {
          conn.revokeQuietly(same.etcdLeaseId());
        }
      } else {
        String key = reader.keyOf(subnet, null);
        LeaseAttrs attrs = LeaseAttrs.ipv4(publicIp, null, null);
        t = conn.await(c -> c.getKVClient().txn()
            .If(new Cmp(bs(key), Cmp.Op.EQUAL, CmpTarget.version(0)))
            .Then(Op.put(bs(key), bs(LeaseJson.encode(attrs)), PutOption.DEFAULT)).commit(), "reserve " + key);
        result = new SubnetLease(subnet, null, attrs, null, 0, t.getHeader().getRevision());
      }
      if (t.isSucceeded()) {
        LOG.info("subnet {} reserved for {} (no TTL)", subnet, publicIp.getHostAddress());
        return result;
      }
    }
    throw new LeaseStoreException("could not reserve " + subnet + ": the key kept changing under us");
  }

  /**
   * Deletes the key of {@code subnet} whoever owns it (an operator's {@code tartan leases release}).
   *
   * @return whether a key existed
   */
  boolean releaseSubnet(Ipv4Subnet subnet) throws LeaseStoreException {
    Objects.requireNonNull(subnet, "subnet");
    boolean deleted = false;
    for (KeyValue kv : reader.listPrefix(true).items()) {
      String key = kv.getKey().toString(UTF_8);
      Optional<SubnetKey> k = reader.parseKey(key);
      if (k.isPresent() && k.get().subnet().equals(subnet)) {
        long n = conn.await(c -> c.getKVClient().delete(bs(key), DeleteOption.DEFAULT), "delete " + key).getDeleted();
        if (n > 0) {
          deleted = true;
          LOG.info("subnet {} released (deleted {})", subnet, key);
        }
      }
    }
    return deleted;
  }

}
