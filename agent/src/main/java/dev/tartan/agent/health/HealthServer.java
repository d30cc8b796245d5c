package dev.tartan.agent.health;

import static java.util.Objects.requireNonNull;

import dev.tartan.agent.config.AgentConfig;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's HTTP endpoints on {@code --healthz-ip:--healthz-port} (netty, one NIO thread):
 *
 * <ul>
 *   <li>{@code GET /healthz}: 200 "tartan is running" while the liveness check passes (the loops
 *       run), else 503 "tartan is not running: REASON";
 *   <li>{@code GET /readyz}: 200 "tartan is ready" once the readiness check passes (lease held,
 *       device up, rules in place, subnet file written, first sync done), else 503 "tartan is not
 *       ready yet: REASON".
 * </ul>
 *
 * More paths ({@code /metrics}) are added with {@link #endpoint}. Unknown paths get 404, methods
 * other than GET and HEAD 405. Checks run on the server thread: keep them cheap (read a flag).
 */
public final class HealthServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HealthServer.class);

  /** The result of a liveness or readiness check. */
  public record Check(boolean ok, String reason) {
    public Check {
      requireNonNull(reason, "reason");
    }

    public static Check passing() {
      return new Check(true, "");
    }

    public static Check failing(String reason) {
      return new Check(false, reason);
    }
  }

  /** An HTTP answer. */
  public record Response(int status, String contentType, String body) {
    public Response {
      requireNonNull(contentType, "contentType");
      requireNonNull(body, "body");
    }

    /** {@code text/plain; charset=utf-8}. */
    public static Response text(int status, String body) {
      return new Response(status, "text/plain; charset=utf-8", body);
    }
  }

  /** Serves one path; called on the server thread for GET and HEAD. */
  @FunctionalInterface
  public interface Endpoint {
    Response handle();
  }

  private final InetSocketAddress bindAddress;
  private final Map<String, Endpoint> endpoints = new ConcurrentHashMap<>();
  private EventLoopGroup group;
  private Channel channel;

  /**
   * @param bindAddress where to listen; port 0 picks a free port (see {@link #boundPort()})
   * @param liveness    whether the agent's loops are running
   * @param readiness   whether the agent is ready (and why not)
   */
  public HealthServer(InetSocketAddress bindAddress, Supplier<Check> liveness,
      Supplier<Check> readiness) {
    this.bindAddress = requireNonNull(bindAddress, "bindAddress");
    requireNonNull(liveness, "liveness");
    requireNonNull(readiness, "readiness");
    endpoints.put("/healthz", () -> answer(liveness, "tartan is running", "tartan is not running: "));
    endpoints.put("/readyz", () -> answer(readiness, "tartan is ready", "tartan is not ready yet: "));
  }

  /**
   * The server for {@code --healthz-ip}/{@code --healthz-port}, or empty when the port is 0
   * (disabled, as in flannel). Not started yet.
   */
  public static Optional<HealthServer> fromConfig(AgentConfig config, Supplier<Check> liveness,
      Supplier<Check> readiness) {
    if (!config.healthzEnabled()) {
      return Optional.empty();
    }
    return Optional.of(new HealthServer(config.healthzAddress(), liveness, readiness));
  }

  private static Response answer(Supplier<Check> check, String ok, String notOk) {
    Check c;
    try {
      c = check.get();
      if (c == null) {
        c = Check.failing("check failed: no result");
      }
    } catch (RuntimeException e) {
      c = Check.failing("check failed: " + e);
    }
    return c.ok() ? Response.text(200, ok) : Response.text(503, notOk + c.reason());
  }

  /** Adds or replaces the handler of {@code path} (e.g. "/metrics"); allowed before or after start. */
  public HealthServer endpoint(String path, Endpoint endpoint) {
    if (!path.startsWith("/")) {
      throw new IllegalArgumentException("path must start with /: " + path);
    }
    endpoints.put(path, requireNonNull(endpoint, "endpoint"));
    return this;
  }

  /**
   * Binds and starts serving.
   *
   * @throws IOException when the address cannot be bound (in use, not local, no permission)
   */
  public synchronized void start() throws IOException {
    if (channel != null) {
      throw new IllegalStateException("already started");
    }
    EventLoopGroup g = new MultiThreadIoEventLoopGroup(1,
        new DefaultThreadFactory("healthz", true), NioIoHandler.newFactory());
    ServerBootstrap b = new ServerBootstrap()
        .group(g)
        .channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline()
                .addLast(new HttpServerCodec())
                .addLast(new HttpServerKeepAliveHandler())
                .addLast(new HttpObjectAggregator(8192))
                .addLast(new HealthHandler(endpoints));
          }
        });
    ChannelFuture f = b.bind(bindAddress).awaitUninterruptibly();
    if (!f.isSuccess()) {
      g.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      Throwable cause = f.cause();
      throw new IOException("cannot serve /healthz on " + text(bindAddress) + ": "
          + (cause == null ? "bind failed" : cause.getMessage())
          + " (choose another --healthz-ip/--healthz-port)", cause);
    }
    group = g;
    channel = f.channel();
    log.info("serving /healthz and /readyz on {}", text((InetSocketAddress) channel.localAddress()));
  }

  /** The port actually bound (useful with port 0); -1 before {@link #start()}. */
  public synchronized int boundPort() {
    return channel == null ? -1 : ((InetSocketAddress) channel.localAddress()).getPort();
  }

  /** Stops listening and releases the thread. Safe to call twice. */
  @Override
  public synchronized void close() {
    if (channel != null) {
      channel.close().awaitUninterruptibly();
      channel = null;
    }
    if (group != null) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
      group = null;
    }
  }

  private static String text(InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }
}
