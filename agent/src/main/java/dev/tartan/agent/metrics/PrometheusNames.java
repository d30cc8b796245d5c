package dev.tartan.agent.metrics;

import io.prometheus.client.Collector;
import io.prometheus.client.Collector.MetricFamilySamples.Sample;
import io.prometheus.client.dropwizard.samplebuilder.DefaultSampleBuilder;
import io.prometheus.client.dropwizard.samplebuilder.SampleBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * How dotted dropwizard names become Prometheus names: the agent's own metrics get the {@code
 * tartan_} prefix ({@code lease.ttl_seconds} -> {@code tartan_lease_ttl_seconds}); a metric
 * registered with {@link #label} becomes one series of a labelled family ({@code
 * drift.repairs.route} -> {@code tartan_drift_repairs_total{kind="route"}}); JVM metrics keep
 * their {@code jvm_} names. The exporter calls this for every sample it writes.
 */
final class PrometheusNames implements SampleBuilder {
  static final String PREFIX = "tartan_";

  /** A family name and its labels; the values may change (the lease's subnet does). */
  record Series(String family, List<String> labelNames, Supplier<List<String>> labelValues) {}

  private final DefaultSampleBuilder fallback = new DefaultSampleBuilder();
  private final Map<String, Series> series = new ConcurrentHashMap<>();

  /** Exports {@code dropwizardName} as {@code tartan_<family>{name=value}}. */
  void label(String dropwizardName, String family, String labelName, String labelValue) {
    series.put(dropwizardName, new Series(family, List.of(labelName), () -> List.of(labelValue)));
  }

  /** Exports {@code dropwizardName} as {@code tartan_<family>} (e.g. to add a unit). */
  void rename(String dropwizardName, String family) {
    series.put(dropwizardName, new Series(family, List.of(), List::of));
  }

  /** Exports {@code dropwizardName} as {@code tartan_<family>{names...=values()...}}. */
  void labels(String dropwizardName, String family, List<String> labelNames,
      Supplier<List<String>> values) {
    series.put(dropwizardName, new Series(family, List.copyOf(labelNames), values));
  }

  @Override
  public Sample createSample(String dropwizardName, String nameSuffix, List<String> extraLabelNames,
      List<String> extraLabelValues, double value) {
    if (dropwizardName.startsWith("jvm.")) {
      return fallback.createSample(dropwizardName, nameSuffix, extraLabelNames, extraLabelValues, value);
    }
    String suffix = nameSuffix == null ? "" : nameSuffix;
    List<String> names = new ArrayList<>();
    List<String> values = new ArrayList<>();
    Series s = series.get(dropwizardName);
    String base = s == null ? dropwizardName : s.family();
    if (s != null) {
      names.addAll(s.labelNames());
      values.addAll(s.labelValues().get());
    }
    if (extraLabelNames != null) {
      names.addAll(extraLabelNames);
      values.addAll(extraLabelValues);
    }
    return new Sample(Collector.sanitizeMetricName(PREFIX + base + suffix), names, values, value);
  }
}
