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
    String netns;
    if (request.args().isEmpty()) {
      netns = request.env().get("CNI_NETNS");
    } else if (NetavarkAttach.SUBCOMMANDS.contains(request.args().get(0))) {
      netns = request.args().size() > 1 ? request.args().get(1) : null;
    } else {
      return "the agent has no handler for the subcommand '" + request.args().get(0) + "'";
    }
    return unopenable(netns);
  }

  /**
   * Why the agent cannot enter {@code netns}, or null when it can (or there is none). A runtime may name a
   * container's namespace as {@code /proc/PID/ns/net}: opening that needs the ptrace access check, which
   * the agent's service (no CAP_SYS_PTRACE, its own view of /proc) fails; the standalone plugin, run by the
   * runtime with its privileges, does not.
   */
  static String unopenable(String netns) {
    if (netns == null || netns.isEmpty()) {
      return null;
    }
    java.nio.file.Path path;
    try {
      path = java.nio.file.Path.of(netns);
    } catch (RuntimeException e) {
      return null; // not a path at all: the plugin names the problem
    }
    if (!java.nio.file.Files.isRegularFile(path)) { // a namespace file (nsfs) stats as a regular file
      // hidden from the agent's /proc (ProtectProc=invisible) or not there at all; only the former is ours
      return netns.startsWith("/proc/") ? "the agent cannot see the network namespace " + netns
          + ": the standalone plugin runs this call" : null;
    }
    try (java.nio.channels.FileChannel ignored = java.nio.channels.FileChannel.open(path)) {
      return null;
    } catch (java.io.IOException | RuntimeException e) {
      return "the agent cannot open the network namespace " + netns + " (" + e.getClass().getSimpleName()
          + "): the standalone plugin runs this call";
    }
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
