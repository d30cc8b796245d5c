package dev.tartan.cni;

import java.util.List;

/** The CNI spec versions this plugin speaks, and version comparison. */
final class CniVersions {
  static final List<String> SUPPORTED = List.of("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0");
  static final String LATEST = "1.1.0";

  private CniVersions() {}

  static boolean supported(String version) {
    return SUPPORTED.contains(version);
  }

  /** Compares dotted numeric versions ("0.4.0" < "1.0.0"); a non-numeric part counts as -1. */
  static int compare(String a, String b) {
    String[] x = a.split("\\.");
    String[] y = b.split("\\.");
    for (int i = 0; i < Math.max(x.length, y.length); i++) {
      int c = Integer.compare(part(x, i), part(y, i));
      if (c != 0) {
        return c;
      }
    }
    return 0;
  }

  private static int part(String[] parts, int i) {
    if (i >= parts.length) {
      return 0;
    }
    String p = parts[i];
    if (p.isEmpty() || p.length() > 6) {
      return -1;
    }
    int v = 0;
    for (int k = 0; k < p.length(); k++) {
      char c = p.charAt(k);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v;
  }
}
