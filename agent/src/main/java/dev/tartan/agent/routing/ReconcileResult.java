package dev.tartan.agent.routing;

import java.time.Duration;
import java.util.Objects;

/**
 * What one {@link Reconciler#reconcile} pass did.
 *
 * @param neighbours   counts for permanent neighbour entries
 * @param fdb          counts for FDB entries
 * @param routes       counts for {@code proto tartan} routes (one per peer)
 * @param peersAdded   peer subnets newly programmed (route added)
 * @param peersRemoved peer subnets whose route was removed
 * @param duration     wall time of the pass (read, diff, one batch)
 */
public record ReconcileResult(Counts neighbours, Counts fdb, Counts routes, int peersAdded,
    int peersRemoved, Duration duration) {

  public ReconcileResult {
    Objects.requireNonNull(neighbours, "neighbours");
    Objects.requireNonNull(fdb, "fdb");
    Objects.requireNonNull(routes, "routes");
    Objects.requireNonNull(duration, "duration");
  }

  /** Requests sent to the kernel (0 when the kernel already matched). */
  public int writes() {
    return neighbours.writes() + fdb.writes() + routes.writes();
  }

  /** Requests the kernel refused. */
  public int failures() {
    return neighbours.failed() + fdb.failed() + routes.failed();
  }

  /**
   * Per kind of entry.
   *
   * @param expected entries the desired state has
   * @param present  desired entries in the kernel after the pass (already there or written OK)
   * @param added    entries written (added, or replaced because they differed)
   * @param removed  stale entries deleted
   * @param failed   requests of this kind the kernel refused
   */
  public record Counts(int expected, int present, int added, int removed, int failed) {
    public int writes() {
      return added + removed;
    }
  }
}
