package dev.tartan.cni.attach;

import dev.tartan.cni.CniPlugin;
import dev.tartan.cni.attach.AttachProtocol.Answer;
import dev.tartan.cni.attach.AttachProtocol.Request;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.function.Function;

/**
 * One CNI call from the attach socket, run by the same {@link CniPlugin} the standalone executable runs: the
 * request's {@code CNI_*} variables are its environment, the request's stdin its stdin, and what it prints
 * is the answer. Delegates ({@code bridge}, {@code host-local}) run as children of the agent; their stderr
 * goes to the agent's log.
 */
public final class CniAttach {
  private CniAttach() {}

  public static Answer handle(Request request) {
    if (!request.args().isEmpty()) {
      return Answer.fallBack("the agent serves CNI calls only, not '" + request.args().get(0) + "'");
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status;
    try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
      status = new CniPlugin(new MapEnv(request.env()), new ByteArrayInputStream(request.stdin()), o, e).run();
    }
    return Answer.exit(status, out.toByteArray(), err.toByteArray());
  }

  private static final class MapEnv implements Function<String, String> {
    private final Map<String, String> env;

    MapEnv(Map<String, String> env) {
      this.env = env;
    }

    @Override
    public String apply(String name) {
      return name.startsWith("CNI_") ? env.get(name) : null;
    }
  }
}
