package dev.tartan.agent.backend;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** Which {@code Backend.Type} values Tartan runs, and the one-line refusal for the others. Pure. */
public final class BackendTypes {
  /** The backend types Tartan implements, lower case (flannel lower-cases Backend.Type too). */
  public static final List<String> SUPPORTED = List.of("vxlan", "host-gw");

  private BackendTypes() {}

  /**
   * Empty when {@code type} is supported, else one line naming the problem and the fix.
   *
   * @param type  {@code Backend.Type} of the network config
   * @param where where the config lives ({@code /coreos.com/network/config}), named in the fix
   */
  public static Optional<String> refusal(String type, String where) {
    return unsupported(type).map(why -> "the network config asks for backend \"" + type + "\": " + why
        + "; set \"Backend\": {\"Type\": \"vxlan\"} in " + where);
  }

  /** Empty when {@code type} is supported, else why not and what is: {@code "...; supported: vxlan"}. */
  public static Optional<String> unsupported(String type) {
    String t = type == null ? "" : type.toLowerCase(Locale.ROOT);
    if (SUPPORTED.contains(t)) {
      return Optional.empty();
    }
    String why = switch (t) {
      case "wireguard" -> "Tartan has no WireGuard backend (it would need the wireguard kernel module and "
          + "flannel's key exchange through the leases)";
      case "" -> "Tartan needs a backend type";
      default -> "Tartan does not implement it";
    };
    return Optional.of(why + "; supported: " + String.join(", ", SUPPORTED));
  }
}
