package dev.tartan.agent.cli;

import dev.tartan.store.etcd.EtcdOptions;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The etcd connection flags shared by every command ({@code @Mixin EtcdFlags etcd;}), named as
 * flanneld's. A flag absent from the command line is read from {@code FLANNELD_<NAME>} (see {@link
 * FlannelEnvDefaults}), then falls back to the default shown.
 */
public final class EtcdFlags {
  public static final String DEFAULT_ENDPOINTS = EtcdOptions.DEFAULT_ENDPOINTS;
  public static final String DEFAULT_PREFIX = EtcdOptions.DEFAULT_PREFIX;
  /** flannel's lease duration; admin commands grant no leases. */
  public static final Duration DEFAULT_LEASE_TTL = EtcdOptions.DEFAULT_LEASE_TTL;

  @Spec(Spec.Target.MIXEE)
  private CommandSpec mixee;

  @Option(names = "--etcd-endpoints", paramLabel = "URLS", defaultValue = DEFAULT_ENDPOINTS,
      description = "Comma-separated etcd client URLs (env FLANNELD_ETCD_ENDPOINTS; default ${DEFAULT-VALUE}).")
  private String endpoints;  // http://host:port, https://host:port or host:port

  @Option(names = "--etcd-prefix", paramLabel = "PATH", defaultValue = DEFAULT_PREFIX,
      description = "etcd key prefix of the network (env FLANNELD_ETCD_PREFIX; default ${DEFAULT-VALUE}).")
  private String prefix;

  @Option(names = "--etcd-cafile", paramLabel = "FILE",
      description = "CA bundle that signed etcd's server certificates; needed for https:// endpoints (env FLANNELD_ETCD_CAFILE).")
  private Path caFile;

  @Option(names = "--etcd-certfile", paramLabel = "FILE",
      description = "Client certificate for etcd TLS, with --etcd-keyfile (env FLANNELD_ETCD_CERTFILE).")
  private Path certFile;

  @Option(names = "--etcd-keyfile", paramLabel = "FILE",
      description = "Client private key for etcd TLS, with --etcd-certfile (env FLANNELD_ETCD_KEYFILE).")
  private Path keyFile;

  @Option(names = "--etcd-username", paramLabel = "NAME",
      description = "etcd user name (env FLANNELD_ETCD_USERNAME).")
  private String username;

  // Never echoed: no ${DEFAULT-VALUE} here (it would print the value taken from the environment).
  @Option(names = "--etcd-password", paramLabel = "PASSWORD",
      description = "etcd password; prefer the env FLANNELD_ETCD_PASSWORD (command lines are visible in ps).")
  private String password;

  /** The options for the store, with flannel's 24 h lease TTL. */
  public EtcdOptions toOptions() {
    return toOptions(DEFAULT_LEASE_TTL);
  }

  /**
   * The options for the store.
   *
   * @throws ParameterException (exit code 2) when a flag value is invalid
   */
  public EtcdOptions toOptions(Duration leaseTtl) {
    List<URI> uris;
    try {
      uris = EtcdOptions.parseEndpoints(endpoints);
    } catch (IllegalArgumentException e) {
      throw usage("invalid --etcd-endpoints '" + endpoints + "': " + e.getMessage());
    }
    try {
      return new EtcdOptions(uris, prefix, caFile, certFile, keyFile, username, password, leaseTtl);
    } catch (IllegalArgumentException e) {
      throw usage(e.getMessage()); // names the flag to fix
    }
  }

  /** The endpoints exactly as given (for messages). */
  public String endpoints() {
    return endpoints;
  }

  public String prefix() {
    return prefix;
  }

  private ParameterException usage(String message) {
    return new ParameterException(mixee.commandLine(), message);
  }

  /** Names the endpoints and prefix; never the password. */
  @Override
  public String toString() {
    return "EtcdFlags[endpoints=" + endpoints + ", prefix=" + prefix
        + (username != null ? ", user=" + username : "")
        + (password != null ? ", password=****" : "")
        + (certFile != null ? ", tls" : "") + "]";
  }
}
