package dev.tartan.store.etcd;

import dev.tartan.store.AccessDeniedException;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.net.Ipv4Subnet;
import dev.tartan.store.LeaseAttrs;
import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.SubnetLease;
import dev.tartan.store.testing.EtcdClusterExtension;
import io.etcd.jetcd.Auth;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** TLS (server and client certificates, made with openssl) and user/password auth on real etcd. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EtcdSecurityIT {

  private static Path certs;
  private static EtcdClusterExtension tls;

  @RegisterExtension
  static final EtcdClusterExtension plain = EtcdClusterExtension.builder().build();

  private static final LeaseAttrs HOST = LeaseAttrs.ipv4(Ipv4Subnet.toInet(Ipv4Subnet.parseAddress("198.51.100.50")),
      "vxlan", "{\"VNI\":1,\"VtepMAC\":\"0a:00:00:00:00:50\"}");

  @BeforeAll
  static void startTlsCluster() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")), "openssl not installed: apt-get install openssl");
    certs = Files.createTempDirectory("tartan-certs-");
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
        "-subj", "/CN=tartan-test-ca", "-keyout", "ca-key.pem", "-out", "ca.pem");
    issue("server", "/CN=etcd", "subjectAltName=IP:127.0.0.1");
    issue("client", "/CN=root", "extendedKeyUsage=clientAuth");
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
        "-subj", "/CN=someone-else", "-keyout", "other-ca-key.pem", "-out", "other-ca.pem");
    tls = EtcdClusterExtension.builder()
        .clientScheme("https")
        .extraArgs("--cert-file=" + certs.resolve("server.pem"), "--key-file=" + certs.resolve("server-key.pem"),
            "--trusted-ca-file=" + certs.resolve("ca.pem"), "--client-cert-auth")
        .etcdctlArgs("--cacert=" + certs.resolve("ca.pem"), "--cert=" + certs.resolve("client.pem"),
            "--key=" + certs.resolve("client-key.pem"))
        .build();
    tls.start();
  }

  @AfterAll
  static void stopTlsCluster() throws IOException {
    if (tls != null) {
      tls.close();
    }
    if (certs != null) {
      try (var files = Files.list(certs)) {
        for (Path f : (Iterable<Path>) files::iterator) {
          Files.delete(f);
        }
      }
      Files.delete(certs);
    }
  }

  private static void issue(String name, String subject, String ext) throws Exception {
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
        "-keyout", name + "-key.pem", "-out", name + ".csr");
    Path extFile = certs.resolve(name + ".ext");
    Files.writeString(extFile, ext + "\n");
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
        "-days", "1", "-extfile", extFile.toString(), "-out", name + ".pem");
  }

  private static void openssl(String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add("openssl");
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(certs.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("openssl " + String.join(" ", args) + " failed: " + out);
    }
  }

  private static EtcdOptions tlsOptions(Path ca, Path cert, Path key) {
    return new EtcdOptions(tls.clientEndpoints(), "/tls/network", ca, cert, key, null, null, Duration.ofSeconds(30));
  }

  @Test
  void tlsWithAClientCertificateWorks() throws Exception {
    assertThat(tls.clientEndpoints()).allMatch(u -> u.getScheme().equals("https"));
    tls.etcdctl("put", "/tls/network/config", "{\"Network\":\"10.40.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
    try (EtcdStore store = EtcdStore.connect(tlsOptions(certs.resolve("ca.pem"),
        certs.resolve("client.pem"), certs.resolve("client-key.pem")))) {
      SubnetLease l = store.acquire(HOST, Optional.empty());
      assertThat(store.list()).singleElement().satisfies(x -> {
        assertThat(x.subnet()).isEqualTo(l.subnet());
        assertThat(x.attrs()).isEqualTo(HOST);
        assertThat(x.etcdLeaseId()).isEqualTo(l.etcdLeaseId());
      });
      assertThat(tls.etcdctl("get", "/tls/network/subnets/", "--prefix", "--keys-only")).contains("10.40.");
    }
  }

  @Test
  void tlsWithoutTheRequiredClientCertificateFailsNamingTheEndpoint() {
    URI endpoint = tls.clientEndpoints().get(0);
    assertThatThrownBy(() -> EtcdStore.connect(tlsOptions(certs.resolve("ca.pem"), null, null)))
        .isInstanceOf(AccessDeniedException.class)
        .hasMessageStartingWith("cannot reach etcd at " + endpoint);
  }

  @Test
  void aServerCertificateFromAnotherCaIsRefused() {
    assertThatThrownBy(() -> EtcdStore.connect(tlsOptions(certs.resolve("other-ca.pem"),
        certs.resolve("client.pem"), certs.resolve("client-key.pem"))))
        .isInstanceOf(AccessDeniedException.class)
        .hasMessageStartingWith("cannot reach etcd at " + tls.clientEndpoints().get(0))
        .hasMessageContaining("--etcd-cafile " + certs.resolve("other-ca.pem"))
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
  }

  @Test
  void unreadableTlsFilesAreReportedAtOnce() {
    assertThatThrownBy(() -> EtcdStore.connect(tlsOptions(certs.resolve("missing-ca.pem"), null, null)))
        .isInstanceOf(LeaseStoreException.class)
        .hasMessageStartingWith("cannot load the etcd TLS files (--etcd-cafile " + certs.resolve("missing-ca.pem"));
    assertThatThrownBy(() -> EtcdStore.connect(tlsOptions(certs.resolve("ca.pem"), certs.resolve("client.pem"),
        certs.resolve("client.csr"))))
        .isInstanceOf(LeaseStoreException.class)
        .hasMessageContaining("--etcd-keyfile " + certs.resolve("client.csr"));
  }

  @Test
  void usernameAndPasswordAuthentication() throws Exception {
    try (Client admin = Client.builder().endpoints(plain.clientEndpoints()).build()) {
      Auth auth = admin.getAuthClient();
      ByteSequence root = ByteSequence.from("root", UTF_8);
      auth.userAdd(root, ByteSequence.from("s3cret", UTF_8)).get(10, TimeUnit.SECONDS);
      auth.roleAdd(root).get(10, TimeUnit.SECONDS);
      auth.userGrantRole(root, root).get(10, TimeUnit.SECONDS);
      admin.getKVClient().put(ByteSequence.from("/auth/network/config", UTF_8),
          ByteSequence.from("{\"Network\":\"10.41.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}", UTF_8))
          .get(10, TimeUnit.SECONDS);
      auth.authEnable().get(10, TimeUnit.SECONDS);
    }
    EtcdOptions ok = new EtcdOptions(plain.clientEndpoints(), "/auth/network", null, null, null, "root", "s3cret",
        Duration.ofSeconds(30));
    try (EtcdStore store = EtcdStore.connect(ok)) {
      assertThat(store.acquire(HOST, Optional.empty()).subnet().toString()).startsWith("10.41.");
    }
    EtcdOptions wrong = new EtcdOptions(plain.clientEndpoints(), "/auth/network", null, null, null, "root", "nope",
        Duration.ofSeconds(30));
    assertThatThrownBy(() -> EtcdStore.connect(wrong)).isInstanceOf(AccessDeniedException.class)
        .hasMessageStartingWith("cannot reach etcd at " + plain.clientEndpoints().get(0))
        .hasMessageContaining("authentication failed")
        .hasMessageContaining("--etcd-password")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("nope"));
    EtcdOptions none = new EtcdOptions(plain.clientEndpoints(), "/auth/network", null, null, null, null, null,
        Duration.ofSeconds(30));
    assertThatThrownBy(() -> EtcdStore.connect(none)).isInstanceOf(AccessDeniedException.class)
        .hasMessageContaining("etcd requires authentication");
    // a user without a role: etcd says "permission denied" for the prefix
    try (Client admin = Client.builder().endpoints(plain.clientEndpoints()).user(ByteSequence.from("root", UTF_8))
        .password(ByteSequence.from("s3cret", UTF_8)).build()) {
      admin.getAuthClient().userAdd(ByteSequence.from("nobody", UTF_8), ByteSequence.from("pw", UTF_8))
          .get(10, TimeUnit.SECONDS);
    }
    EtcdOptions roleless = new EtcdOptions(plain.clientEndpoints(), "/auth/network", null, null, null, "nobody",
        "pw", Duration.ofSeconds(30));
    assertThatThrownBy(() -> EtcdStore.connect(roleless)).isInstanceOf(AccessDeniedException.class)
        .hasMessageContaining("grant user nobody read and write access to /auth/network/");
  }
}
