package dev.tartan.cni;

/** Entry point of the netavark plugin {@code tartan} (the launcher {@code tartan-netavark} runs this class). */
public final class NetavarkMain {
  private NetavarkMain() {}

  public static void main(String[] args) {
    System.exit(new NetavarkPlugin(new CniMain.SystemEnv(), args, System.in, System.out, System.err).run());
  }
}
