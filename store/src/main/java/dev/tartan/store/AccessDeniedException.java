package dev.tartan.store;


/**
 * etcd answered but refused this client: the TLS handshake failed (the server certificate is not
 * signed by {@code --etcd-cafile}, or the client certificate was not accepted) or the user name
 * and password were rejected. Retrying with the same settings cannot help; the message names the
 * setting to fix.
 */
public final class AccessDeniedException extends LeaseStoreException {
  public AccessDeniedException(String message, Throwable cause) {
    super(message, cause);
  }
}
