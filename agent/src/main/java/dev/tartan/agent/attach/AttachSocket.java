package dev.tartan.agent.attach;

import dev.tartan.cni.attach.AttachServer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's side of {@code --attach-socket}: the CNI module's {@link AttachServer} with the agent's logger.
 * A socket that cannot be served is one WARN, never a failed start: the front end then runs the standalone
 * plugin, as it does whenever the agent is down.
 */
public final class AttachSocket {
  private static final Logger log = LoggerFactory.getLogger(AttachSocket.class);

  private AttachSocket() {}

  /** Starts serving {@code socket}; empty when it cannot (logged). */
  public static Optional<AutoCloseable> start(Path socket) {
    try {
      AttachServer server = AttachServer.start(socket, new AttachServer.Log() {
        @Override
        public void info(String line) {
          log.info(line);
        }

        @Override
        public void warn(String line) {
          log.warn(line);
        }
      });
      log.info("attach socket {}: CNI calls from tartan-cni run in the agent", socket);
      return Optional.of(server);
    } catch (IOException | RuntimeException e) {
      log.warn("attach socket {} is not served ({}); tartan-cni runs the standalone plugin instead", socket,
          e.getMessage());
      return Optional.empty();
    }
  }
}
