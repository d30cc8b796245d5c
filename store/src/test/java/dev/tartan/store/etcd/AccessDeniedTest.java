package dev.tartan.store.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/** Which connect failures are final (fail the start) and which may pass (retry). */
class AccessDeniedTest {
  static final EtcdOptions TLS = new EtcdOptions(List.of(URI.create("https://198.51.100.254:2379")), "/coreos.com/network",
      Path.of("/etc/tartan/ca.pem"), null, null, "tartan", "pw", Duration.ofHours(24));

  @Test
  void aFailedHandshakeNamesTheCaFile() {
    SSLHandshakeException tls = new SSLHandshakeException("PKIX path building failed");
    String why = EtcdErrors.accessDenied(new RuntimeException("UNAVAILABLE: io exception", tls), TLS);
    assertThat(why).startsWith("the TLS handshake failed (PKIX path building failed)")
        .contains("--etcd-cafile /etc/tartan/ca.pem").contains("--etcd-certfile").doesNotContain("\n");
  }

  @Test
  void rejectedMissingOrUnprivilegedCredentialsAreFinal() {
    assertThat(EtcdErrors.accessDenied(new RuntimeException("UNAUTHENTICATED",
        new RuntimeException("INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password")), TLS))
        .contains("check --etcd-username and --etcd-password");
    assertThat(EtcdErrors.accessDenied(new RuntimeException("INVALID_ARGUMENT: etcdserver: user name is empty"),
        TLS)).startsWith("etcd requires authentication");
    assertThat(EtcdErrors.accessDenied(new RuntimeException("PERMISSION_DENIED: etcdserver: permission denied"),
        TLS)).contains("grant user tartan read and write access to /coreos.com/network/");
  }

  @Test
  void refusalsAreNotRetriedAsIfEtcdWereDown() {
    assertThat(EtcdErrors.isTransient(new RuntimeException(new io.grpc.StatusRuntimeException(
        io.grpc.Status.PERMISSION_DENIED.withDescription("etcdserver: permission denied"))))).isFalse();
    assertThat(EtcdErrors.isTransient(new io.grpc.StatusRuntimeException(io.grpc.Status.UNAUTHENTICATED))).isFalse();
    assertThat(EtcdErrors.isTransient(new io.grpc.StatusException(io.grpc.Status.INVALID_ARGUMENT))).isFalse();
    assertThat(EtcdErrors.isTransient(new io.grpc.StatusRuntimeException(io.grpc.Status.UNAVAILABLE))).isTrue();
    assertThat(EtcdErrors.isTransient(new io.grpc.StatusRuntimeException(io.grpc.Status.DEADLINE_EXCEEDED)))
        .isTrue();
    assertThat(EtcdErrors.isTransient(new RuntimeException(new IOException("Connection reset")))).isTrue();
    assertThat(EtcdErrors.isTransient(new RuntimeException("no cause"))).isFalse();
  }

  @Test
  void outagesAreNotFinal() {
    assertThat(EtcdErrors.accessDenied(new RuntimeException("UNAVAILABLE: io exception",
        new IOException("Connection refused")), TLS)).isNull();
    assertThat(EtcdErrors.accessDenied(new RuntimeException("UNAVAILABLE: Connection closed while performing TLS "
        + "negotiation"), TLS)).isNull();
    assertThat(EtcdErrors.accessDenied(new RuntimeException("DEADLINE_EXCEEDED"), TLS)).isNull();
    assertThat(EtcdErrors.accessDenied(null, TLS)).isNull();
  }
}
