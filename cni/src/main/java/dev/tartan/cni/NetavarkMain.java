package dev.tartan.cni;

import java.util.function.Function;

/** Entry point of the netavark plugin {@code tartan} (the launcher {@code tartan-netavark} runs this class). */
public final class NetavarkMain {
  private NetavarkMain() {}

  public static void main(String[] args) {
    System.exit(new NetavarkPlugin(new SystemEnv(), args, System.in, System.out, System.err).run());
  }

  /** {@code System::getenv} as a plain class (no lambda bootstrap on every call, as in {@link CniMain}). */
  private static final class SystemEnv implements Function<String, String> {
    @Override
    public String apply(String name) {
      return System.getenv(name);
    }
  }
}
