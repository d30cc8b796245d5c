package dev.tartan.agent.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a bench harness hands to {@code scripts/bench.sh}: a Markdown fragment with the raw numbers
 * ({@code NAME.md}) and one line per headline figure ({@code NAME.tsv}: figure, measured, target,
 * verdict), which the script merges into BENCHMARKS.md. Both files are rewritten after every
 * section, so a failure later on keeps what was measured.
 */
final class Report {
  private final Path md;
  private final Path tsv;
  private final StringBuilder text = new StringBuilder();
  private final List<String> rows = new ArrayList<>();

  Report(Path dir, String name) {
    this.md = dir.resolve(name + ".md");
    this.tsv = dir.resolve(name + ".tsv");
  }

  Report line(String s) {
    text.append(s).append('\n');
    return this;
  }

  Report linef(String format, Object... args) {
    return line(String.format(Locale.ROOT, format, args));
  }

  /**
   * A headline figure with an upper bound: met when {@code value <= target}; a miss says by how
   * much (value / target).
   */
  void atMost(String figure, double value, double target, String unit, String measuredText) {
    String verdict = value <= target ? "met"
        : String.format(Locale.ROOT, "**missed**: %.2f× the target", value / target);
    rows.add(figure + "\t" + measuredText + "\t≤ " + Stats.fmt(target) + " " + unit + "\t" + verdict);
  }

  /** A headline figure without a target of its own. */
  void reported(String figure, String measuredText, String note) {
    rows.add(figure + "\t" + measuredText + "\t(reported)\t" + note);
  }

  /** A headline figure that must be exactly zero (e.g. duplicate subnets). */
  void mustBeZero(String figure, long value, String measuredText) {
    rows.add(figure + "\t" + measuredText + "\t0\t" + (value == 0 ? "met" : "**missed**: " + value));
  }

  /** A figure that could not be measured, with the reason. */
  void failed(String figure, String target, String reason) {
    rows.add(figure + "\tnot measured\t" + target + "\t**failed**: " + reason.replace('\t', ' ').replace('\n', ' '));
  }

  void flush() throws IOException {
    Files.writeString(md, text.toString());
    Files.write(tsv, rows);
  }
}
