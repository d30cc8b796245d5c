package dev.tartan.agent.cli;

/** etcd key names for messages, joined like flannel's path.Join (a trailing slash on the prefix is harmless). */
final class Keys {
  private Keys() {}

  static String config(String prefix) {
    return trim(prefix) + "/config";
  }

  static String subnets(String prefix) {
    return trim(prefix) + "/subnets/";
  }

  private static String trim(String prefix) {
    String p = prefix;
    while (p.length() > 1 && p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    return p;
  }
}
