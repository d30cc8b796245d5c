package dev.tartan.store.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.RequestRejectedException;
import io.grpc.Status;
import java.io.IOException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Which jetcd/gRPC failures are "etcd unavailable" and which are rejected for good. */
class EtcdErrorsTest {

  private static Throwable grpc(Status.Code code, String message) {
    return new CompletionException(Status.fromCode(code).withDescription(message).asRuntimeException());
  }

  @ParameterizedTest
  @ValueSource(strings = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "ABORTED", "INTERNAL", "UNKNOWN"})
  void passingStatusesAreTransient(String code) {
    Throwable t = grpc(Status.Code.valueOf(code), "etcdserver: no leader");
    assertThat(EtcdErrors.isTransient(t)).isTrue();
    assertThat(EtcdErrors.failure(t, "list x")).isInstanceOf(TransientEtcdException.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"RESOURCE_EXHAUSTED", "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "DATA_LOSS"})
  void statusesThatDoNotPassAreRejectedWithOneLineNamingTheFix(String code) {
    Throwable t = grpc(Status.Code.valueOf(code), "gRPC message exceeds maximum size 4194304: 8912345");
    assertThat(EtcdErrors.isTransient(t)).isFalse();
    LeaseStoreException e = EtcdErrors.failure(t, "list /coreos.com/network/subnets/");
    assertThat(e).isInstanceOf(RequestRejectedException.class);
    assertThat(((RequestRejectedException) e).status()).isEqualTo(code);
    assertThat(e.getMessage()).doesNotContain("\n").contains(code).contains("list /coreos.com/network/subnets/")
        .contains(": ");
  }

  @Test
  void messageSizeLimitNamesThePageSize() {
    LeaseStoreException e = EtcdErrors.failure(grpc(Status.Code.RESOURCE_EXHAUSTED,
        "gRPC message exceeds maximum size 4194304: 8912345"), "list p");
    assertThat(e.getMessage()).contains("4 MiB").contains("page size");
  }

  @Test
  void etcdRateLimitIsTransient() {
    Throwable t = grpc(Status.Code.RESOURCE_EXHAUSTED, "etcdserver: too many requests");
    assertThat(EtcdErrors.failure(t, "x")).isInstanceOf(TransientEtcdException.class);
  }

  @Test
  void compactedRevisionIsItsOwnException() {
    Throwable t = grpc(Status.Code.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted");
    assertThat(EtcdErrors.failure(t, "x")).isInstanceOf(CompactedRevisionException.class);
  }

  @Test
  void ioErrorsAreTransientAndAccessErrorsStayAsTheyWere() {
    assertThat(EtcdErrors.failure(new IOException("Connection refused"), "x"))
        .isInstanceOf(TransientEtcdException.class);
    LeaseStoreException denied = EtcdErrors.failure(grpc(Status.Code.PERMISSION_DENIED,
        "etcdserver: permission denied"), "x");
    assertThat(denied).isNotInstanceOf(TransientEtcdException.class).isNotInstanceOf(RequestRejectedException.class);
  }
}
