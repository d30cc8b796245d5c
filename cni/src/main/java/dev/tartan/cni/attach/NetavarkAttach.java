package dev.tartan.cni.attach;

import dev.tartan.cni.NetavarkPlugin;
import dev.tartan.cni.attach.AttachProtocol.Answer;
import dev.tartan.cni.attach.AttachProtocol.Request;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * One netavark plugin call from the attach socket ({@code tartan setup NETNS} and the like), run by the same
 * {@link NetavarkPlugin} the standalone launcher runs: the request's arguments are its arguments, its
 * {@code TARTAN_*} variables ({@link #VARIABLES}, nothing else of the caller's) its environment, its stdin its
 * stdin, and what it prints is the answer.
 */
public final class NetavarkAttach {
  /** The subcommands served; the first argument of a request names one. */
  public static final Set<String> SUBCOMMANDS = Set.of("info", "create", "setup", "teardown");
  /** The variables {@link NetavarkPlugin} reads, which the front end forwards. */
  public static final Set<String> VARIABLES =
      Set.of("TARTAN_SUBNET_FILE", "TARTAN_CNI_DATA_DIR", "TARTAN_CNI_PATH", "TARTAN_CNI_NETWORK");

  private NetavarkAttach() {}

  public static Answer handle(Request request) {
    if (request.args().isEmpty() || !SUBCOMMANDS.contains(request.args().get(0))) {
      return Answer.fallBack("the agent serves the netavark subcommands " + SUBCOMMANDS + " only");
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status;
    try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
      status = new NetavarkPlugin(new Variables(request.env()), request.args().toArray(String[]::new),
          new ByteArrayInputStream(request.stdin()), o, e).run();
    }
    return Answer.exit(status, out.toByteArray(), err.toByteArray());
  }

  private static final class Variables implements Function<String, String> {
    private final Map<String, String> env;

    Variables(Map<String, String> env) {
      this.env = env;
    }

    @Override
    public String apply(String name) {
      return VARIABLES.contains(name) ? env.get(name) : null;
    }
  }
}
