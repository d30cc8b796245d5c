package dev.tartan.store.testing;

import dev.tartan.store.Store;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;

/** The store contract on the in-memory fake: the fake behaves as real etcd does (see EtcdLeaseStoreContractIT). */
class FakeLeaseStoreContractTest extends LeaseStoreContract {
  private FakeLeaseStore.Data data;

  @BeforeEach
  void freshData() {
    data = new FakeLeaseStore.Data(Clock.systemUTC());
  }

  @Override
  protected Store connect() {
    return new FakeLeaseStore(data, "/coreos.com/network", Duration.ofMinutes(10));
  }
}
