package dev.tartan.agent;

import dev.tartan.agent.cli.Cli;
import dev.tartan.agent.cli.DoctorCommand;
import dev.tartan.agent.cli.LeasesCommand;
import dev.tartan.agent.cli.NetworkCommand;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The {@code tartan} command ({@code java -jar tartan.jar <command>}). Each subcommand is one entry
 * in {@code subcommands} below.
 */
@Command(
    name = "tartan",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Flannel-compatible VXLAN overlay network for plain Linux hosts.",
    synopsisSubcommandLabel = "COMMAND",
    subcommands = {
        AgentCommand.class,
        NetworkCommand.class,
        LeasesCommand.class,
        DoctorCommand.class,
    })
public final class Main implements Runnable {
  @Spec
  private CommandSpec spec;

  public static void main(String[] args) {
    // grpc-java and netty log through java.util.logging: send it to the same SLF4J output
    org.slf4j.bridge.SLF4JBridgeHandler.removeHandlersForRootLogger();
    org.slf4j.bridge.SLF4JBridgeHandler.install();
    CommandLine cmd = commandLine(System::getenv);
    cmd.setExecutionStrategy(Cli::executeQuietly);
    int exit = cmd.execute(args);
    cmd.getOut().flush();
    cmd.getErr().flush();
    System.exit(exit);
  }

  /**
   * The configured command line (error handlers, {@code FLANNELD_*} fallback read through {@code env}).
   * Tests call this with their own environment and {@code setOut}/{@code setErr}.
   */
  public static CommandLine commandLine(Function<String, String> env) {
    return Cli.configure(new CommandLine(new Main()), env);
  }

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "missing command (try --help)");
  }

  /** {@code tartan <Implementation-Version>} from the jar manifest ("dev" when run from classes). */
  static final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"tartan " + (v == null ? "dev" : v)};
    }
  }
}
