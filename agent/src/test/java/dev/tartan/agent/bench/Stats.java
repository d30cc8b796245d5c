package dev.tartan.agent.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.StringJoiner;

/** Order statistics of a sample (milliseconds, usually); percentiles by the nearest-rank method. */
final class Stats {
  private final double[] sorted;
  private final double[] raw;

  private Stats(double[] raw) {
    if (raw.length == 0) {
      throw new IllegalArgumentException("no samples");
    }
    this.raw = raw.clone();
    this.sorted = raw.clone();
    Arrays.sort(sorted);
  }

  static Stats of(List<Double> values) {
    return new Stats(values.stream().mapToDouble(Double::doubleValue).toArray());
  }

  int n() {
    return sorted.length;
  }

  /** Nearest rank: the smallest sample with at least p % of the samples at or below it. */
  double pct(double p) {
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  /** The middle sample (mean of the two middle ones for an even count). */
  double median() {
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  double min() {
    return sorted[0];
  }

  double max() {
    return sorted[sorted.length - 1];
  }

  double mean() {
    return Arrays.stream(sorted).average().orElse(Double.NaN);
  }

  /** The samples in the order they were taken, with {@code decimals} digits. */
  String rawList(int decimals) {
    StringJoiner j = new StringJoiner(" ");
    for (double v : raw) {
      j.add(String.format(Locale.ROOT, "%." + decimals + "f", v));
    }
    return j.toString();
  }

  static String fmt(double v) {
    return String.format(Locale.ROOT, v >= 100 ? "%.0f" : "%.1f", v);
  }
}
