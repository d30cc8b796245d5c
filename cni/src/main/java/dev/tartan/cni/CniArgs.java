package dev.tartan.cni;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code CNI_ARGS} ({@code K=V;K2=V2}), read leniently: this plugin needs none of them, so unknown keys
 * (podman's {@code IgnoreUnknown=1;K8S_POD_NAME=...}, kubelet's {@code K8S_POD_NAMESPACE=...}) and even
 * malformed pairs never fail a call. The delegate gets the variable unchanged.
 */
final class CniArgs {
  private CniArgs() {}

  /** The pairs in order; a pair without '=' is skipped, a repeated key keeps its last value. */
  static Map<String, String> parse(String args) {
    Map<String, String> out = new LinkedHashMap<>();
    if (args == null || args.isEmpty()) {
      return out;
    }
    for (String pair : args.split(";")) {
      int eq = pair.indexOf('=');
      if (eq > 0) {
        out.put(pair.substring(0, eq), pair.substring(eq + 1));
      }
    }
    return out;
  }

  /** "pod ns/name" when the runtime said which Kubernetes pod this is, else "". */
  static String podOf(Map<String, String> args) {
    String name = args.get("K8S_POD_NAME");
    if (name == null || name.isEmpty()) {
      return "";
    }
    String ns = args.get("K8S_POD_NAMESPACE");
    return "pod " + (ns == null || ns.isEmpty() ? "" : ns + "/") + name;
  }
}
