package dev.tartan.cni;

/** The CNI library's checks on container IDs, network names and interface names (flannel-compat.md §6.1). */
public final class Names {
  /** Longest Linux interface name. */
  public static final int MAX_IFNAME = 15;

  private Names() {}

  /** {@code ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$}: container IDs and network names. */
  public static boolean validId(String s) {
    if (s == null || s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) {
        return false;
      }
    }
    return true;
  }

  /** Null when {@code ifname} is a valid interface name, else what is wrong with it (the library's words). */
  public static String ifnameProblem(String ifname) {
    if (ifname == null || ifname.isEmpty()) {
      return "interface name is empty";
    }
    if (ifname.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_IFNAME) {
      return "interface name is too long";
    }
    if (ifname.equals(".") || ifname.equals("..")) {
      return "interface name is . or ..";
    }
    for (int i = 0; i < ifname.length(); i++) {
      char c = ifname.charAt(i);
      if (c == '/' || c == ':' || Character.isWhitespace(c)) {
        return "interface name contains / or : or whitespace characters";
      }
    }
    return null;
  }
}
