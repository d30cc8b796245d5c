package dev.tartan.agent.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.agent.config.AgentConfig;
import dev.tartan.agent.config.AgentOptions;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

class HealthServerTest {
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  final AtomicReference<HealthServer.Check> live = new AtomicReference<>(HealthServer.Check.passing());
  final AtomicReference<HealthServer.Check> ready =
      new AtomicReference<>(HealthServer.Check.failing("no lease yet"));
  HealthServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  HealthServer started() throws IOException {
    server = new HealthServer(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), live::get,
        ready::get);
    server.start();
    return server;
  }

  HttpResponse<String> get(String path) throws Exception {
    return send(HttpRequest.newBuilder(uri(path)).GET());
  }

  HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
    return http.send(b.timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
  }

  URI uri(String path) {
    return URI.create("http://127.0.0.1:" + server.boundPort() + path);
  }

  @Test
  void healthzAndReadyzFollowTheirChecks() throws Exception {
    started();
    assertThat(server.boundPort()).isPositive();

    HttpResponse<String> h = get("/healthz");
    assertThat(h.statusCode()).isEqualTo(200);
    assertThat(h.body()).isEqualTo("tartan is running");
    assertThat(h.headers().firstValue("content-type")).contains("text/plain; charset=utf-8");

    HttpResponse<String> r = get("/readyz");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).isEqualTo("tartan is not ready yet: no lease yet");

    ready.set(HealthServer.Check.passing());
    r = get("/readyz?verbose=1");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("tartan is ready");

    live.set(HealthServer.Check.failing("resync loop stopped"));
    h = get("/healthz");
    assertThat(h.statusCode()).isEqualTo(503);
    assertThat(h.body()).isEqualTo("tartan is not running: resync loop stopped");
  }

  @Test
  void unknownPathsMethodsAndFailingChecks() throws Exception {
    started();
    assertThat(get("/").statusCode()).isEqualTo(404);
    assertThat(get("/metrics").statusCode()).isEqualTo(404);
    HttpResponse<String> post = send(HttpRequest.newBuilder(uri("/healthz"))
        .POST(HttpRequest.BodyPublishers.ofString("x")));
    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(post.headers().firstValue("allow")).contains("GET, HEAD");
    HttpResponse<String> head = send(HttpRequest.newBuilder(uri("/healthz"))
        .method("HEAD", HttpRequest.BodyPublishers.noBody()));
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.body()).isEmpty();

    ready.set(null); // a broken check answers 503, it does not break the server
    HttpResponse<String> r = get("/readyz");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).startsWith("tartan is not ready yet: check failed: ");
    assertThat(get("/healthz").statusCode()).isEqualTo(200);
  }

  @Test
  void moreEndpointsCanBeAdded() throws Exception {
    started();
    server.endpoint("/metrics", () -> new HealthServer.Response(200, "text/plain; version=0.0.4",
        "lease_renewals 3\n"));
    HttpResponse<String> m = get("/metrics");
    assertThat(m.statusCode()).isEqualTo(200);
    assertThat(m.body()).isEqualTo("lease_renewals 3\n");
    assertThat(m.headers().firstValue("content-type")).contains("text/plain; version=0.0.4");
    server.endpoint("/boom", () -> {
      throw new IllegalStateException("boom");
    });
    assertThat(get("/boom").statusCode()).isEqualTo(500);
  }

  @Test
  void aPortInUseFailsStartWithTheFix() throws Exception {
    started();
    HealthServer second = new HealthServer(
        new InetSocketAddress(InetAddress.getLoopbackAddress(), server.boundPort()), live::get, ready::get);
    assertThatThrownBy(second::start).isInstanceOf(IOException.class)
        .hasMessageContaining("cannot serve /healthz on 127.0.0.1:" + server.boundPort())
        .hasMessageEndingWith("(choose another --healthz-ip/--healthz-port)");
    second.close();
    server.close();
    server.close();
  }

  @Command(name = "agent")
  static class Cmd {
    @Mixin AgentOptions options;
  }

  @Test
  void portZeroInTheConfigMeansNoServer() throws Exception {
    assertThat(HealthServer.fromConfig(AgentConfig.defaults(), live::get, ready::get)).isEmpty();
    Cmd c = new Cmd();
    new CommandLine(c).parseArgs("--healthz-ip", "127.0.0.1", "--healthz-port", "8471");
    AgentConfig cfg = AgentConfig.resolve(c.options, Map.of());
    assertThat(HealthServer.fromConfig(cfg, live::get, ready::get)).isPresent();
  }
}
