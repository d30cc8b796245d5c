package dev.tartan.agent.it;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Throw-away certificates for etcd TLS tests, made with the openssl binary in a temp directory
 * (never committed): a CA, a server certificate for the given IPs, a client certificate (CN=root,
 * clientAuth) and a second, unrelated CA. EC P-256 keys, PKCS#8 PEM (what netty reads), mode 0600.
 */
final class TestCerts implements AutoCloseable {
  final Path dir;

  private TestCerts(Path dir) {
    this.dir = dir;
  }

  static boolean opensslAvailable() {
    return Files.isExecutable(Path.of("/usr/bin/openssl"));
  }

  /** Creates every file; {@code serverIps} go into the server certificate's subjectAltName. */
  static TestCerts create(String... serverIps) {
    TestCerts c;
    try {
      c = new TestCerts(Files.createTempDirectory("tartan-certs-"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try {
      c.selfSigned("ca", "/CN=tartan-test-ca");
      c.selfSigned("other-ca", "/CN=someone-else");
      List<String> san = new ArrayList<>();
      for (String ip : serverIps) {
        san.add("IP:" + ip);
      }
      c.issue("server", "/CN=etcd", "subjectAltName=" + String.join(",", san) + "\nextendedKeyUsage=serverAuth");
      c.issue("client", "/CN=root", "extendedKeyUsage=clientAuth");
      try (Stream<Path> files = Files.list(c.dir)) {
        for (Path f : (Iterable<Path>) files::iterator) {
          Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        }
      }
      return c;
    } catch (IOException | RuntimeException e) {
      c.close();
      throw new IllegalStateException("cannot create test certificates: " + e.getMessage(), e);
    }
  }

  Path ca() {
    return dir.resolve("ca.pem");
  }

  Path otherCa() {
    return dir.resolve("other-ca.pem");
  }

  Path serverCert() {
    return dir.resolve("server.pem");
  }

  Path serverKey() {
    return dir.resolve("server-key.pem");
  }

  Path clientCert() {
    return dir.resolve("client.pem");
  }

  Path clientKey() {
    return dir.resolve("client-key.pem");
  }

  /** etcd flags: server certificate, client certificates required and checked against the CA. */
  String[] etcdServerArgs() {
    return new String[] {"--cert-file=" + serverCert(), "--key-file=" + serverKey(), "--trusted-ca-file=" + ca(),
        "--client-cert-auth"};
  }

  /** etcdctl flags for the client certificate. */
  String[] etcdctlArgs() {
    return new String[] {"--cacert=" + ca(), "--cert=" + clientCert(), "--key=" + clientKey()};
  }

  /** {@code tartan} flags (agent and CLI) for the client certificate. */
  List<String> tartanFlags() {
    return List.of("--etcd-cafile", ca().toString(), "--etcd-certfile", clientCert().toString(), "--etcd-keyfile",
        clientKey().toString());
  }

  private void selfSigned(String name, String subject) {
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
        subject, "-keyout", name + "-key.pem", "-out", name + ".pem");
  }

  private void issue(String name, String subject, String ext) throws IOException {
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject, "-keyout",
        name + "-key.pem", "-out", name + ".csr");
    Files.writeString(dir.resolve(name + ".ext"), ext + "\n");
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-days",
        "1", "-extfile", name + ".ext", "-out", name + ".pem");
  }

  private void openssl(String... args) {
    List<String> cmd = new ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException("openssl " + String.join(" ", args) + " failed: " + out);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    try (Stream<Path> all = Files.walk(dir)) {
      all.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException ignored) {
      // best effort
    }
  }
}
