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
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The jetcd client of one store: built from {@link EtcdOptions} (endpoints, TLS, auth, timeouts,
 * gRPC keepalive), and every request waited for with a time limit, its failure classified
 * ({@link EtcdErrors}).
 *
 * <p>A request that times out closes the client and dials a fresh one (a new gRPC channel) before
 * the next request: a connection stalled after a network cut (etcd's side still in TCP
 * retransmission backoff) is never reused. Callers always take the current client; the watch is told
 * ({@link #onRedial}) and re-attaches on the new one.
 */
final class EtcdConnection implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EtcdConnection.class);

  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
  /**
   * gRPC keepalive while calls are open (the agent always has its watch open): a ping after 6 s
   * without data, the connection closed when no answer comes within 4 s more. etcd refuses pings
   * more often than every 5 s ({@code --grpc-keepalive-min-time}) and, by default, pings on an idle
   * connection, hence no keepalive without calls.
   */
  static final Duration KEEPALIVE_TIME = Duration.ofSeconds(6);
  static final Duration KEEPALIVE_TIMEOUT = Duration.ofSeconds(4);

  private final ClientBuilder builder; // null: the caller's client, never re-dialled
  private final String endpoints;
  private final List<Runnable> redialListeners = new CopyOnWriteArrayList<>();
  private final AtomicLong redials = new AtomicLong();
  private volatile Client client;
  private volatile boolean closed;

  private EtcdConnection(Client client, ClientBuilder builder, String endpoints) {
    this.client = Objects.requireNonNull(client, "client");
    this.builder = builder;
    this.endpoints = endpoints;
  }

  /** A connection on a client the caller owns (and closes after the store); it is never re-dialled. */
  static EtcdConnection onClient(Client client) {
    return new EtcdConnection(client, null, "(caller's client)");
  }

  /**
   * Connects with {@code opts} and checks that etcd answers (a count-only read of {@code probeKey}).
   *
   * @throws LeaseStoreException naming the endpoints tried when etcd cannot be reached, the TLS files
   *     cannot be loaded or authentication fails
   */
  static EtcdConnection open(EtcdOptions opts, String probeKey) throws LeaseStoreException {
    String tried = opts.endpoints().stream().map(URI::toString).collect(Collectors.joining(", "));
    ClientBuilder builder = clientBuilder(opts);
    Client client = builder.copy().build();
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
    return new EtcdConnection(client, builder, tried);
  }

  /** The jetcd client configuration for {@code opts}: endpoints, TLS, auth, timeouts. */
  static ClientBuilder clientBuilder(EtcdOptions opts) throws LeaseStoreException {
    // Not waitForReady: with every endpoint down a request fails at once with the reason (refused,
    // TLS handshake, ...) instead of hanging until its timeout; the owning loops retry with backoff.
    ClientBuilder b = Client.builder().endpoints(opts.endpoints()).connectTimeout(CONNECT_TIMEOUT)
        .waitForReady(false)
        .keepaliveTime(KEEPALIVE_TIME).keepaliveTimeout(KEEPALIVE_TIMEOUT).keepaliveWithoutCalls(false);
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

  /** How often the connection was re-dialled after a request timed out. */
  long redials() {
    return redials.get();
  }

  /** Runs {@code listener} after every re-dial (on the thread that re-dialled); returns its removal. */
  Runnable onRedial(Runnable listener) {
    redialListeners.add(listener);
    return () -> redialListeners.remove(listener);
  }

  /**
   * Closes {@code stalled} and swaps in a freshly dialled client, unless another caller already did
   * (the current client is no longer {@code stalled}) or the client is the caller's.
   */
  void redial(Client stalled, String why) {
    if (builder == null || closed) {
      return;
    }
    synchronized (this) {
      if (client != stalled || closed) {
        return;
      }
      LOG.warn("etcd at {} did not answer ({}); closing the connection and dialling a new one", endpoints, why);
      client = builder.copy().build();
      redials.incrementAndGet();
    }
    for (Runnable l : redialListeners) {
      try {
        l.run();
      } catch (RuntimeException e) {
        LOG.error("re-dial listener failed", e);
      }
    }
    Thread closer = new Thread(() -> closeQuietly(stalled), "tartan-etcd-close");
    closer.setDaemon(true);
    closer.start(); // closing waits for the stalled channel: not on the caller's time
  }

  private static void closeQuietly(Client c) {
    try {
      c.close();
    } catch (RuntimeException e) {
      LOG.debug("closing the replaced etcd client failed: {}", EtcdErrors.rootMessage(e));
    }
  }

  /** Waits up to {@link #REQUEST_TIMEOUT} for one request; failures name {@code what}. */
  <T> T await(Function<Client, CompletableFuture<T>> request, String what) throws LeaseStoreException {
    return await(request, what, REQUEST_TIMEOUT);
  }

  /** Waits up to {@code timeout} for one request; failures become LeaseStoreExceptions naming {@code what}. */
  <T> T await(Function<Client, CompletableFuture<T>> request, String what, Duration timeout)
      throws LeaseStoreException {
    CompletableFuture<T> f;
    Client used = client;
    try {
      f = request.apply(used);
    } catch (RuntimeException e) { // e.g. the client was closed
      String msg = "etcd request failed (" + what + "): " + EtcdErrors.rootMessage(e);
      if (used != client) {
        throw new TransientEtcdException(msg + " (the connection was being re-dialled)", e);
      }
      throw new LeaseStoreException(msg, e);
    }
    try {
      return f.get(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      f.cancel(true);
      String msg = "etcd did not answer (" + what + ") within " + seconds(timeout) + " at " + endpoints;
      redial(used, what + ": no answer within " + seconds(timeout));
      throw new TransientEtcdException(msg, e);
    } catch (ExecutionException e) {
      LeaseStoreException failure = EtcdErrors.failure(e.getCause(), what);
      if (used != client && !(failure instanceof TransientEtcdException)) { // cut off by a re-dial
        throw new TransientEtcdException(failure.getMessage() + " (the connection was re-dialled)", e.getCause());
      }
      throw failure;
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
    synchronized (this) {
      closed = true;
    }
    if (builder != null) {
      client.close();
    }
  }
}
