package dev.tartan.agent.cli;

import dev.tartan.store.LeaseStoreException;
import java.util.List;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;

/**
 * Wiring shared by every {@code tartan} command: the {@code FLANNELD_*} environment fallback and
 * error handling. Every error is one line on stderr, {@code <command>: <problem>}, never a stack
 * trace: exit code 2 for usage errors (bad or missing flags), 1 for everything that fails at run time.
 */
public final class Cli {
  public static final int EXIT_FAILURE = 1;
  public static final int EXIT_USAGE = 2;

  private Cli() {}

  /** Applies the handlers and the env fallback to {@code cmd} and all its subcommands. */
  public static CommandLine configure(CommandLine cmd, Function<String, String> env) {
    cmd.setDefaultValueProvider(new FlannelEnvDefaults(env));
    cmd.setCaseInsensitiveEnumValuesAllowed(true);
    cmd.setParameterExceptionHandler(USAGE_ERRORS);
    cmd.setExecutionExceptionHandler(RUNTIME_ERRORS);
    return cmd;
  }

  private static final IParameterExceptionHandler USAGE_ERRORS = (ex, args) -> {
    CommandLine cmd = ex.getCommandLine();
    String name = cmd.getCommandSpec().qualifiedName();
    cmd.getErr().println(name + ": " + ex.getMessage() + " (see '" + name + " --help')");
    cmd.getErr().flush();
    return EXIT_USAGE;
  };

  private static final IExecutionExceptionHandler RUNTIME_ERRORS = (ex, cmd, parseResult) -> {
    cmd.getErr().println(cmd.getCommandSpec().qualifiedName() + ": " + describe(ex));
    cmd.getErr().flush();
    return EXIT_FAILURE;
  };

  /**
   * Marker for commands whose printed result is all the operator wants: library INFO logs (jetcd,
   * grpc, the store's state-change lines) are turned down to WARN for them.
   */
  interface QuietLogs {}

  /**
   * The execution strategy of the real {@code main}: lowers the log level for {@link QuietLogs}
   * commands (unless {@code -Dorg.slf4j.simpleLogger.defaultLogLevel} is given), then runs the
   * command. Must run before the first logger is created, which no parsing step does.
   */
  public static int executeQuietly(CommandLine.ParseResult parseResult) {
    List<CommandLine> chain = parseResult.asCommandLineList();
    Object leaf = chain.get(chain.size() - 1).getCommand();
    if (leaf instanceof QuietLogs && System.getProperty(SIMPLE_LOGGER_LEVEL) == null) {
      System.setProperty(SIMPLE_LOGGER_LEVEL, "warn");
      java.util.logging.Logger.getLogger("").setLevel(java.util.logging.Level.WARNING);
    }
    return new CommandLine.RunLast().execute(parseResult);
  }

  private static final String SIMPLE_LOGGER_LEVEL = "org.slf4j.simpleLogger.defaultLogLevel";

  /** The one-line text for an exception: its message when it is an expected failure. */
  static String describe(Throwable ex) {
    if (ex instanceof CliException || ex instanceof LeaseStoreException) {
      return ex.getMessage();
    }
    String msg = ex.getMessage();
    return "unexpected error: " + ex.getClass().getSimpleName() + (msg == null ? "" : ": " + msg.lines().findFirst().orElse(""));
  }
}
