package dev.tartan.store.etcd;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.tartan.store.AccessDeniedException;
import dev.tartan.store.LeaseStoreException;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.ClientBuilder;
import io.etcd.jetcd.options.GetOption;
import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The jetcd client of one store: built from {@link EtcdOptions} (endpoints, TLS, auth, timeouts),
 * and every request waited for with a time limit, its failure classified ({@link EtcdErrors}).
 */
final class EtcdConnection implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EtcdConnection.class);

  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

  private final Client client;
  private final boolean ownsClient;
  private final String endpoints;

  private EtcdConnection(Client client, boolean ownsClient, String endpoints) {
    this.client = Objects.requireNonNull(client, "client");
    this.ownsClient = ownsClient;
    this.endpoints = endpoints;
  }

  /** A connection on a client the caller owns (and closes after the store). */
  static EtcdConnection onClient(Client client) {
    return new EtcdConnection(client, false, "(caller's client)");
  }

  /**
   * Connects with {@code opts} and checks that etcd answers (a count-only read of {@code probeKey}).
   *
   * @throws LeaseStoreException naming the endpoints tried when etcd cannot be reached, the TLS files
   *     cannot be loaded or authentication fails
   */
  static EtcdConnection open(EtcdOptions opts, String probeKey) throws LeaseStoreException {
    String tried = opts.endpoints().stream().map(URI::toString).collect(Collectors.joining(", "));
    Client client = clientBuilder(opts).build();
    try {
      client.getKVClient().get(ByteSequence.from(probeKey, UTF_8), GetOption.builder().withCountOnly(true).build())
          .get(CONNECT_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      client.close();
      throw new LeaseStoreException("cannot reach etcd at " + tried + ": no answer within "
          + CONNECT_TIMEOUT.toSeconds() + " s; check --etcd-endpoints and that etcd is running");
    } catch (ExecutionException e) {
      client.close();
      String denied = EtcdErrors.accessDenied(e.getCause(), opts);
      if (denied != null) {
        throw new AccessDeniedException("cannot reach etcd at " + tried + ": " + denied, e.getCause());
      }
      throw new LeaseStoreException("cannot reach etcd at " + tried + ": " + EtcdErrors.rootMessage(e.getCause()),
          e.getCause());
    } catch (InterruptedException e) {
      client.close();
      Thread.currentThread().interrupt();
      throw new LeaseStoreException("interrupted while connecting to etcd at " + tried);
    }
    LOG.debug("connected to etcd at {} (prefix {})", tried, opts.prefix());
    return new EtcdConnection(client, true, tried);
  }

  /** The jetcd client configuration for {@code opts}: endpoints, TLS, auth, timeouts. */
  static ClientBuilder clientBuilder(EtcdOptions opts) throws LeaseStoreException {
    // Not waitForReady: with every endpoint down a request fails at once with the reason (refused,
    // TLS handshake, ...) instead of hanging until its timeout; the owning loops retry with backoff.
    ClientBuilder b = Client.builder().endpoints(opts.endpoints()).connectTimeout(CONNECT_TIMEOUT)
        .waitForReady(false);
    if (opts.caFile() != null) {
      try {
        SslContextBuilder ssl = GrpcSslContexts.forClient().trustManager(opts.caFile().toFile());
        if (opts.certFile() != null) {
          ssl.keyManager(opts.certFile().toFile(), opts.keyFile().toFile());
        }
        b.sslContext(ssl.build());
      } catch (IOException | RuntimeException e) {
        throw new LeaseStoreException("cannot load the etcd TLS files (--etcd-cafile " + opts.caFile()
            + (opts.certFile() == null ? "" : ", --etcd-certfile " + opts.certFile() + ", --etcd-keyfile "
                + opts.keyFile())
            + "): " + EtcdErrors.rootMessage(e) + " (PEM files; the key must be unencrypted PKCS#8: "
            + "openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem)", e);
      }
    }
    if (opts.username() != null) {
      b.user(ByteSequence.from(opts.username(), UTF_8)).password(ByteSequence.from(opts.password(), UTF_8));
    }
    return b;
  }

  /** The current client (for the watch, which manages its own stream). */
  Client client() {
    return client;
  }

  /** Waits up to {@link #REQUEST_TIMEOUT} for one request; failures name {@code what}. */
  <T> T await(Function<Client, CompletableFuture<T>> request, String what) throws LeaseStoreException {
    return await(request, what, REQUEST_TIMEOUT);
  }

  /** Waits up to {@code timeout} for one request; failures become LeaseStoreExceptions naming {@code what}. */
  <T> T await(Function<Client, CompletableFuture<T>> request, String what, Duration timeout)
      throws LeaseStoreException {
    CompletableFuture<T> f;
    try {
      f = request.apply(client);
    } catch (RuntimeException e) { // e.g. the client was closed
      throw new LeaseStoreException("etcd request failed (" + what + "): " + EtcdErrors.rootMessage(e), e);
    }
    try {
      return f.get(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      f.cancel(true);
      throw new TransientEtcdException("etcd did not answer (" + what + ") within " + seconds(timeout) + " at "
          + endpoints, e);
    } catch (ExecutionException e) {
      throw EtcdErrors.failure(e.getCause(), what);
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
      throw new LeaseStoreException("interrupted while waiting for etcd (" + what + ")", e);
    }
  }

  static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : String.format("%.1f s", d.toMillis() / 1000.0);
  }

  /** Revokes an etcd lease in the background; a failure only means it runs out by itself. */
  void revokeQuietly(long leaseId) {
    if (leaseId == 0) {
      return;
    }
    try {
      client.getLeaseClient().revoke(leaseId).whenComplete((r, e) -> {
        if (e != null) {
          LOG.debug("revoking etcd lease {} failed (it runs out by itself): {}", Long.toHexString(leaseId),
              EtcdErrors.rootMessage(e));
        }
      });
    } catch (RuntimeException e) {
      LOG.debug("revoking etcd lease {} failed (it runs out by itself): {}", Long.toHexString(leaseId),
          EtcdErrors.rootMessage(e));
    }
  }

  @Override
  public void close() {
    if (ownsClient) {
      client.close();
    }
  }
}
