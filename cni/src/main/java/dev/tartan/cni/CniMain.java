package dev.tartan.cni;

/**
 * Entry point of the {@code tartan-cni} executable (the launcher script runs this class).
 *
 * <p>{@code --cds-training} runs a representative workload in a temporary directory instead of a CNI call;
 * {@code tartan-cni --create-cds} runs it under {@code -XX:ArchiveClassesAtExit} to build the class-data
 * sharing archive the launcher then uses.
 */
public final class CniMain {
  private CniMain() {}

  public static void main(String[] args) {
    if (args.length == 1 && args[0].equals("--cds-training")) {
      // Then on through the real entry (the launcher clears CNI_COMMAND: the about line, silenced), which puts
      // this call site's lambda into the archive as well; unarchived, it costs a class spin on every call.
      CdsTraining.run();
      System.setErr(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
    }
    System.exit(new CniPlugin(System::getenv, System.in, System.out, System.err).run());
  }
}
