package dev.tartan.agent.attach;

import dev.tartan.agent.metrics.AgentMetrics;
import dev.tartan.cni.attach.AttachCalls;
import dev.tartan.cni.attach.AttachServer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's side of {@code --attach-socket}: the CNI module's {@link AttachServer} with the agent's logger,
 * serving CNI calls ({@code tartan-cni}) and netavark plugin calls ({@code /usr/libexec/netavark/tartan}); the
 * calls run are counted in {@code tartan_attach_calls_total}.
 * A socket that cannot be served is one WARN, never a failed start: the front end then runs the standalone
 * plugin, as it does whenever the agent is down.
 */
public final class AttachSocket {
  private static final Logger log = LoggerFactory.getLogger(AttachSocket.class);

  private AttachSocket() {}

  /** Starts serving {@code socket}; empty when it cannot (logged). */
  public static Optional<AutoCloseable> start(Path socket, AgentMetrics metrics) {
    AttachCalls calls = new AttachCalls();
    try {
      AttachServer server = AttachServer.start(socket, calls, new AttachServer.Log() {
        @Override
        public void info(String line) {
          log.info(line);
        }

        @Override
        public void warn(String line) {
          log.warn(line);
        }
      });
      metrics.attach(calls::cni, calls::netavark);
      log.info("attach socket {}: CNI and netavark plugin calls run in the agent", socket);
      return Optional.of(server);
    } catch (IOException | RuntimeException e) {
      log.warn("attach socket {} is not served ({}); the front ends run the standalone plugins instead", socket,
          e.getMessage());
      return Optional.empty();
    }
  }
}
