package dev.tartan.store.etcd;

import dev.tartan.store.Store;
import dev.tartan.store.testing.EtcdClusterExtension;
import dev.tartan.store.testing.LeaseStoreContract;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The store contract on one real etcd member: every test on a prefix of its own. */
class EtcdLeaseStoreContractIT extends LeaseStoreContract {

  @RegisterExtension
  static final EtcdClusterExtension etcd = EtcdClusterExtension.builder().build();

  private static final AtomicInteger PREFIXES = new AtomicInteger();
  private String prefix;

  @BeforeEach
  void freshPrefix(TestInfo info) {
    prefix = "/contract" + PREFIXES.incrementAndGet() + "-" + info.getTestMethod().orElseThrow().getName() + "/network";
  }

  @Override
  protected Store connect() throws Exception {
    return EtcdStores.connect(EtcdOptions.of(etcd.clientEndpoints()).withPrefix(prefix)
        .withLeaseTtl(Duration.ofMinutes(10)));
  }
}
