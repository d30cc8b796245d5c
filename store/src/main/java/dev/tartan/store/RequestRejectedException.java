package dev.tartan.store;

/**
 * etcd (or the gRPC layer in front of it) rejected a request with a status that will not pass by
 * itself: an answer over the message size limit, an invalid or too large request, a failed
 * precondition, a call this etcd does not implement. Unlike "etcd unavailable" it is not worth
 * retrying with the same settings; the message is one line naming the cause and the fix.
 */
public final class RequestRejectedException extends LeaseStoreException {
  private final String status;

  public RequestRejectedException(String status, String message, Throwable cause) {
    super(message, cause);
    this.status = status;
  }

  /** The gRPC status code, e.g. {@code RESOURCE_EXHAUSTED}. */
  public String status() {
    return status;
  }
}
