package dev.tartan.agent.testbed;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A continuous `ping` from a namespace; {@link #stop()} ends it and reports sent/received. */
public final class Pinger {
  private static final Pattern SUMMARY =
      Pattern.compile("(\\d+) packets transmitted, (\\d+) (?:packets )?received");
  private final Process process;

  private Pinger(Process process) {
    this.process = process;
  }

  static Pinger start(String ns, String ip, int intervalMs) {
    return start(List.of(Cmd.inNs(ns)), ip, intervalMs);
  }

  /** A ping run through {@code prefix} (e.g. nsenter into a booted machine plus `ip netns exec C`). */
  public static Pinger start(List<String> prefix, String ip, int intervalMs) {
    String interval = String.format(java.util.Locale.ROOT, "%.3f", intervalMs / 1000.0);
    List<String> argv = new java.util.ArrayList<>(prefix);
    argv.addAll(List.of("ping", "-i", interval, "-W", "1", ip));
    try {
      return new Pinger(new ProcessBuilder(argv).redirectErrorStream(true).start());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** What ping counted. */
  public record Result(int sent, int received, String output) {
    public int lost() {
      return sent - received;
    }
  }

  /** Sends SIGINT (ping prints its summary), waits and parses the counts. */
  public Result stop() {
    try {
      new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).start().waitFor();
      Testbed.waitFor(process);
      String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      Matcher m = SUMMARY.matcher(out);
      if (!m.find()) {
        throw new IllegalStateException("no ping summary in: " + out);
      }
      return new Result(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
