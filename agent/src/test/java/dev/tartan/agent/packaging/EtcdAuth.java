package dev.tartan.agent.packaging;

import dev.tartan.agent.testbed.Testbed;

/** Turns on etcd authentication in a testbed: a user with read-write on flannel's prefix only. */
final class EtcdAuth {
  static final String ROOT_PASSWORD = "root-" + ProcessHandle.current().pid();

  private EtcdAuth() {}

  static void enable(Testbed tb, String user, String password) {
    tb.etcdctl("user", "add", "root", "--new-user-password=" + ROOT_PASSWORD, "--interactive=false");
    tb.etcdctl("user", "grant-role", "root", "root");
    tb.etcdctl("role", "add", user);
    tb.etcdctl("role", "grant-permission", user, "--prefix=true", "readwrite", "/coreos.com/network/");
    tb.etcdctl("user", "add", user, "--new-user-password=" + password, "--interactive=false");
    tb.etcdctl("user", "grant-role", user, user);
    tb.etcdctl("auth", "enable");
  }

  /** {@code etcdctl get --prefix KEY} as root. */
  static String rootGet(Testbed tb, String prefix) {
    return tb.etcdctl("--user=root", "--password=" + ROOT_PASSWORD, "get", "--prefix", prefix);
  }
}
