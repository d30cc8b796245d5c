package dev.tartan.cni.attach;

import dev.tartan.cni.attach.AttachProtocol.Answer;
import dev.tartan.cni.attach.AttachProtocol.Request;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The agent's handler: keyed on the request's subcommand. No argument is a CNI call ({@link CniAttach}); a
 * netavark subcommand ({@link NetavarkAttach#SUBCOMMANDS}) is a netavark plugin call ({@link NetavarkAttach});
 * anything else is sent back to the standalone executable. Counts the calls it ran, by kind.
 */
public final class AttachCalls implements AttachServer.Handler {
  private final AtomicLong cni = new AtomicLong();
  private final AtomicLong netavark = new AtomicLong();

  @Override
  public Answer handle(Request request) {
    if (request.args().isEmpty()) {
      cni.incrementAndGet();
      return CniAttach.handle(request);
    }
    if (NetavarkAttach.SUBCOMMANDS.contains(request.args().get(0))) {
      netavark.incrementAndGet();
      return NetavarkAttach.handle(request);
    }
    return Answer.fallBack(fallBackReason(request));
  }

  @Override
  public String fallBackReason(Request request) {
    if (request.args().isEmpty() || NetavarkAttach.SUBCOMMANDS.contains(request.args().get(0))) {
      return null;
    }
    return "the agent has no handler for the subcommand '" + request.args().get(0) + "'";
  }

  /** CNI calls run (any outcome). */
  public long cni() {
    return cni.get();
  }

  /** Netavark plugin calls run (any outcome). */
  public long netavark() {
    return netavark.get();
  }
}
