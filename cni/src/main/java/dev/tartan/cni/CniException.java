package dev.tartan.cni;

import dev.tartan.cni.json.Json;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A CNI error: printed by {@link CniPlugin} as the spec's error JSON on stdout, exit status 1.
 *
 * <p>Codes 1-99 are the CNI spec's (flannel-compat.md §6.5); 100 and up are this plugin's own.
 */
public final class CniException extends Exception {
  private static final long serialVersionUID = 1L;

  public static final int INCOMPATIBLE_VERSION = 1;
  public static final int UNSUPPORTED_FIELD = 2;
  public static final int UNKNOWN_CONTAINER = 3;
  public static final int INVALID_ENVIRONMENT = 4;
  public static final int IO_FAILURE = 5;
  public static final int DECODING_FAILURE = 6;
  public static final int INVALID_NETWORK_CONFIG = 7;
  public static final int INVALID_NETNS = 8;
  public static final int TRY_AGAIN_LATER = 11;
  public static final int NOT_AVAILABLE = 50;
  /** subnet.env exists but its content is wrong or incomplete. */
  public static final int SUBNET_ENV_INVALID = 100;
  /** The delegate plugin could not be found or run, timed out, or printed no usable output. */
  public static final int DELEGATE_FAILED = 101;
  /** CHECK: the container interface does not hold what the ADD result says. */
  public static final int CHECK_FAILED = 102;
  /** The agent's attach socket refused the call: the caller is not root, or it broke the attach protocol. */
  public static final int ATTACH_REFUSED = 103;
  /** The front end lost the agent while it handled the call (the call's outcome is unknown: retry or DEL). */
  public static final int ATTACH_LOST = 104;
  /** An unexpected failure inside this plugin (the Go library's catch-all code). */
  public static final int INTERNAL = 999;

  private final int code;
  private final String details;

  public CniException(int code, String msg, String details) {
    super(msg);
    this.code = code;
    this.details = details == null ? "" : details;
  }

  public int code() {
    return code;
  }

  public String msg() {
    return getMessage();
  }

  public String details() {
    return details;
  }

  /** The error JSON (4-space indented, as the Go library prints it), {@code details} omitted when empty. */
  public String toJson(String cniVersion) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("cniVersion", cniVersion);
    m.put("code", (long) code);
    m.put("msg", getMessage());
    if (!details.isEmpty()) {
      m.put("details", details);
    }
    return Json.writeIndented(m);
  }
}
