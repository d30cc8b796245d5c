package dev.tartan.agent.testbed;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** One `tartan agent` JVM running inside a testbed host. */
public final class AgentProcess {
  private final Testbed bed;
  private final int host;
  private final Process process;
  private final Path log;

  AgentProcess(Testbed bed, int host, Process process, Path log) {
    this.bed = bed;
    this.host = host;
    this.process = process;
    this.log = log;
  }

  public int host() {
    return host;
  }

  public long pid() {
    return process.pid();
  }

  public boolean alive() {
    return process.isAlive();
  }

  /** SIGKILL, as a crash would. */
  public void kill() {
    process.destroyForcibly();
    Testbed.waitFor(process);
    bed.forget(this);
  }

  /** SIGTERM and wait: the agent's graceful stop. Returns the exit code. */
  public int stop() {
    process.destroy();
    Testbed.waitFor(process);
    bed.forget(this);
    return process.exitValue();
  }

  public String log() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Path logFile() {
    return log;
  }
}
