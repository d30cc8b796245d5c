package dev.tartan.agent.cli;

import java.lang.reflect.Field;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * flanneld's environment fallback: an option that is absent from the command line takes its value
 * from {@code FLANNELD_<NAME>} ({@code --etcd-endpoints} ↔ {@code FLANNELD_ETCD_ENDPOINTS}); empty
 * values are ignored and the command line always wins.
 *
 * <p>Applies to the options of {@link EtcdFlags}, and to every long option of a command that
 * implements {@link AllOptions}. Other options ({@code --network}, {@code --force}, ...) are never
 * read from the environment; commands with their own layered config (the agent's
 * {@code AgentOptions}) are left alone.
 */
public final class FlannelEnvDefaults implements IDefaultValueProvider {
  /** Marker for commands whose long options all fall back to {@code FLANNELD_<NAME>}. */
  public interface AllOptions {}

  public static final String ENV_PREFIX = "FLANNELD_";

  private final Function<String, String> env;

  /** @param env environment lookup, {@code System::getenv} in production */
  public FlannelEnvDefaults(Function<String, String> env) {
    this.env = Objects.requireNonNull(env, "env");
  }

  /** {@code --etcd-endpoints} → {@code FLANNELD_ETCD_ENDPOINTS} (upper case, {@code -} and {@code .} → {@code _}). */
  public static String envName(String longOption) {
    String name = longOption.replaceFirst("^-+", "");
    return ENV_PREFIX + name.toUpperCase(Locale.ROOT).replace('-', '_').replace('.', '_');
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (!(arg instanceof OptionSpec option)) {
      return null;
    }
    String longest = option.longestName();
    if (!longest.startsWith("--")) {
      return null;
    }
    boolean applies = (arg.userObject() instanceof Field field && field.getDeclaringClass() == EtcdFlags.class)
        || (arg.command() != null && arg.command().userObject() instanceof AllOptions);
    if (!applies) {
      return null;
    }
    String value = env.apply(envName(longest));
    return value == null || value.isEmpty() ? null : value;
  }
}
