package dev.tartan.store.etcd;

import dev.tartan.store.LeaseStoreException;
import dev.tartan.store.RequestRejectedException;
import io.etcd.jetcd.common.exception.EtcdException;
import java.io.IOException;
import java.util.Locale;

/**
 * Classifies jetcd/gRPC failures: transient ones (etcd down, restarting, no leader, timed out) that
 * the owning loop retries; a compacted revision; and statuses that will not pass by themselves,
 * each as one line naming the cause and the fix ({@link RequestRejectedException}).
 */
final class EtcdErrors {
  private EtcdErrors() {}

  /** The exception for a failed request {@code what}. */
  static LeaseStoreException failure(Throwable cause, String what) {
    String status = status(cause);
    String root = rootMessage(cause);
    String msg = "etcd request failed (" + what + "): " + root;
    if (status == null) {
      return hasIoCause(cause) ? new TransientEtcdException(msg, cause) : new LeaseStoreException(msg, cause);
    }
    if (status.equals("OUT_OF_RANGE") && root.contains("compacted")) {
      return new CompactedRevisionException(msg, cause);
    }
    if (transientStatus(status, root)) {
      return new TransientEtcdException(msg, cause);
    }
    String fix = fix(status, root);
    if (fix == null) {
      return new LeaseStoreException(msg, cause); // PERMISSION_DENIED, UNAUTHENTICATED, NOT_FOUND ...: as they are
    }
    return new RequestRejectedException(status, "etcd rejected a request (" + what + "): " + root + " ("
        + status + "); " + fix, cause);
  }

  /** What to do about a status that retrying cannot fix; null for statuses reported as they are. */
  static String fix(String status, String message) {
    String m = message.toLowerCase(Locale.ROOT);
    switch (status) {
      case "RESOURCE_EXHAUSTED":
        return "an answer or request was larger than gRPC's message limit (4 MiB): lower the etcd page size "
            + "(EtcdOptions.pageSize) or delete oversized keys under the prefix";
      case "INVALID_ARGUMENT":
        return m.contains("too large")
            ? "the request exceeds etcd's --max-request-bytes: raise it on the etcd members or write smaller values"
            : "etcd does not accept this request: check that etcd is v3.4 or newer and the key prefix is valid";
      case "FAILED_PRECONDITION":
        return "etcd refused the request in its current state: check the etcd cluster's health "
            + "(etcdctl endpoint status) and its version (v3.4 or newer)";
      case "OUT_OF_RANGE":
        return "the requested revision is not available on this etcd member: check that all --etcd-endpoints "
            + "belong to one cluster";
      case "UNIMPLEMENTED":
        return "this endpoint does not implement the etcd v3 API call: point --etcd-endpoints at etcd v3.4 or "
            + "newer (not a v2-only proxy or another gRPC service)";
      case "DATA_LOSS":
        return "etcd reports corrupted data: check the etcd members' logs and restore from a backup";
      default:
        return null;
    }
  }

  /**
   * Why etcd refused this client for good (a failed TLS handshake, rejected or missing credentials,
   * no permission on the prefix), as one line naming the setting to fix; null when {@code failure}
   * may be transient (etcd down, restarting, no leader).
   */
  static String accessDenied(Throwable failure, EtcdOptions opts) {
    for (Throwable c = failure; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof javax.net.ssl.SSLHandshakeException) {
        return "the TLS handshake failed (" + rootMessage(c) + "): check that --etcd-cafile " + opts.caFile()
            + " signed etcd's server certificate"
            + (opts.certFile() == null ? " and whether etcd requires a client certificate (--etcd-certfile, "
                + "--etcd-keyfile)" : " and that etcd accepts --etcd-certfile " + opts.certFile());
      }
      String m = c.getMessage() == null ? "" : c.getMessage();
      if (m.contains("etcdserver: authentication failed")) {
        return "etcd rejected the user name or password (authentication failed, invalid user ID or "
            + "password): check --etcd-username and --etcd-password";
      }
      if (m.contains("etcdserver: user name is empty")) {
        return "etcd requires authentication (user name is empty): set --etcd-username and --etcd-password";
      }
      if (m.contains("etcdserver: permission denied")) {
        return "etcd denied access (permission denied): grant " + (opts.username() == null ? "the client"
            : "user " + opts.username()) + " read and write access to " + opts.prefix() + "/";
      }
    }
    return null;
  }

  static boolean isTransient(Throwable t) {
    String status = status(t);
    return status == null ? hasIoCause(t) : transientStatus(status, rootMessage(t));
  }

  private static boolean hasIoCause(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof IOException) {
        return true;
      }
    }
    return false;
  }

  /** The gRPC status code name of the first jetcd/gRPC exception in the chain, or null. */
  static String status(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof EtcdException) {
        return ((EtcdException) c).getErrorCode().name();
      }
      if (c instanceof io.grpc.StatusRuntimeException) {
        return ((io.grpc.StatusRuntimeException) c).getStatus().getCode().name();
      }
      if (c instanceof io.grpc.StatusException) {
        return ((io.grpc.StatusException) c).getStatus().getCode().name();
      }
      if (c instanceof IOException) {
        return null;
      }
    }
    return null;
  }

  /**
   * Statuses that pass by themselves. {@code RESOURCE_EXHAUSTED} only as etcd's "too many requests"
   * (a rate limit); gRPC's message-size limit under the same status never passes.
   */
  static boolean transientStatus(String status, String message) {
    switch (status) {
      case "UNAVAILABLE":
      case "CANCELLED":
      case "DEADLINE_EXCEEDED":
      case "ABORTED":
      case "INTERNAL":
      case "UNKNOWN":
        return true;
      case "RESOURCE_EXHAUSTED":
        return message != null && message.contains("too many requests");
      default:
        return false;
    }
  }

  static String rootMessage(Throwable t) {
    Throwable c = t;
    String msg = null;
    while (c != null) {
      if (c.getMessage() != null && !c.getMessage().isBlank()) {
        msg = c.getMessage();
      }
      if (c.getCause() == null || c.getCause() == c) {
        break;
      }
      c = c.getCause();
    }
    return msg != null ? msg : String.valueOf(t);
  }
}
