package dev.tartan.cni;

import java.util.function.Function;

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
      CdsArchiveWorkload.run();
      return;
    }
    System.exit(new CniPlugin(new SystemEnv(), System.in, System.out, System.err).run());
  }

  /**
   * {@code System::getenv} as a plain class: a method reference costs a lambda bootstrap of about 5 ms on
   * every call of the plugin, even with the class-data sharing archive.
   */
  static final class SystemEnv implements Function<String, String> {
    @Override
    public String apply(String name) {
      return System.getenv(name);
    }
  }
}
