package dev.tartan.agent;

import dev.tartan.agent.cli.CliException;
import dev.tartan.agent.config.AgentConfig;
import dev.tartan.agent.config.AgentConfigException;
import dev.tartan.agent.config.AgentOptions;
import dev.tartan.agent.systemd.SdNotify;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import sun.misc.Signal;

/**
 * {@code tartan agent}: runs the agent in the foreground until SIGTERM or SIGINT, then stops and
 * exits 0 leaving the lease and the kernel state in place (as flanneld). A start-up failure is one
 * line on stderr and exit 1.
 */
@Command(name = "agent", mixinStandardHelpOptions = true,
    description = "Run the Tartan agent on this host (flanneld-compatible flags; FLANNELD_* env; --config FILE).")
public final class AgentCommand implements Callable<Integer> {
  @Mixin
  private AgentOptions options;

  @Override
  public Integer call() throws Exception {
    AgentConfig cfg;
    try {
      cfg = AgentConfig.resolve(options, System.getenv());
    } catch (AgentConfigException e) {
      throw new CliException(e.getMessage());
    }
    Logger log = LoggerFactory.getLogger(AgentCommand.class);
    Agent agent = new Agent(cfg, SdNotify.fromEnvironment());
    for (String sig : new String[] {"TERM", "INT"}) {
      Signal.handle(new Signal(sig), s -> {
        log.info("SIG{} received", s.getName());
        agent.close();
      });
    }
    try {
      agent.start();
    } catch (InterruptedException e) {
      return 0; // stopped by a signal during start-up
    } catch (AgentException e) {
      agent.close();
      throw new CliException(e.getMessage());
    } catch (Exception e) {
      agent.close();
      throw new CliException(describe(e));
    }
    agent.awaitStop();
    return 0;
  }

  private static String describe(Exception e) {
    String m = e.getMessage();
    return m == null ? e.getClass().getSimpleName() : m.lines().findFirst().orElse(m);
  }
}
