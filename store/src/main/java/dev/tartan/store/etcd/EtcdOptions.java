package dev.tartan.store.etcd;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How to reach etcd: flannel's {@code --etcd-*} flags plus the lease TTL.
 *
 * <p>TLS is used when the endpoints are {@code https://} (then {@code caFile} is required, and a
 * client certificate is optional: {@code certFile} and {@code keyFile} together). Invalid
 * combinations throw {@link IllegalArgumentException} with a message naming the flag to fix.
 *
 * @param endpoints client URLs, all {@code http://} or all {@code https://}
 * @param prefix    key prefix; default {@value #DEFAULT_PREFIX}; a trailing slash is harmless
 * @param caFile    PEM CA bundle that signs the etcd server certificates, or null
 * @param certFile  PEM client certificate, or null
 * @param keyFile   PEM PKCS#8 private key of the client certificate, or null
 * @param username  etcd user, or null
 * @param password  etcd password (never printed), or null
 * @param leaseTtl  TTL of subnet leases (whole seconds, at least 1 s); default 24 h as in flannel
 * @param pageSize  how many keys one read of a prefix asks for at most (1 .. 10,000; default
 *                  {@value #DEFAULT_PAGE_SIZE}): a listing is read in pages, all at one revision, so no
 *                  answer comes near gRPC's 4 MiB message limit however large the network is
 */
public record EtcdOptions(List<URI> endpoints, String prefix, Path caFile, Path certFile, Path keyFile,
    String username, String password, Duration leaseTtl, int pageSize) {

  public static final String DEFAULT_PREFIX = "/coreos.com/network";
  public static final Duration DEFAULT_LEASE_TTL = Duration.ofHours(24);
  public static final String DEFAULT_ENDPOINTS = "http://127.0.0.1:2379";
  /** 500 keys of at most ~1 KiB each: an answer of well under 1 MiB. */
  public static final int DEFAULT_PAGE_SIZE = 500;
  public static final int MAX_PAGE_SIZE = 10_000;

  public EtcdOptions {
    if (endpoints == null || endpoints.isEmpty()) {
      throw new IllegalArgumentException("no etcd endpoints given: set --etcd-endpoints");
    }
    endpoints = List.copyOf(endpoints);
    long https = endpoints.stream().filter(u -> "https".equals(u.getScheme())).count();
    for (URI u : endpoints) {
      if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme())) {
        throw new IllegalArgumentException("etcd endpoint " + u + " must start with http:// or https://");
      }
    }
    if (https != 0 && https != endpoints.size()) {
      throw new IllegalArgumentException("etcd endpoints must be all http:// or all https://: " + endpoints);
    }
    if (https > 0 && caFile == null) {
      throw new IllegalArgumentException("https etcd endpoints need --etcd-cafile");
    }
    if ((certFile == null) != (keyFile == null)) {
      throw new IllegalArgumentException("--etcd-certfile and --etcd-keyfile must be given together");
    }
    if (https == 0 && (caFile != null || certFile != null)) {
      throw new IllegalArgumentException(
          "TLS files are given but the etcd endpoints are http://: use https:// endpoints");
    }
    if (username != null && username.isEmpty()) {
      username = null;
    }
    if (password != null && password.isEmpty()) {
      password = null;
    }
    if (username != null && password == null) {
      throw new IllegalArgumentException("--etcd-username needs --etcd-password");
    }
    if (username == null && password != null) {
      throw new IllegalArgumentException("--etcd-password needs --etcd-username");
    }
    prefix = normalizePrefix(prefix);
    if (leaseTtl == null) {
      leaseTtl = DEFAULT_LEASE_TTL;
    }
    if (leaseTtl.compareTo(Duration.ofSeconds(1)) < 0) {
      throw new IllegalArgumentException("lease TTL must be at least 1 s, got " + leaseTtl);
    }
    if (pageSize == 0) {
      pageSize = DEFAULT_PAGE_SIZE;
    }
    if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      throw new IllegalArgumentException("etcd page size must be 1.." + MAX_PAGE_SIZE + ", got " + pageSize);
    }
  }

  /** Options with the default page size. */
  public EtcdOptions(List<URI> endpoints, String prefix, Path caFile, Path certFile, Path keyFile,
      String username, String password, Duration leaseTtl) {
    this(endpoints, prefix, caFile, certFile, keyFile, username, password, leaseTtl, DEFAULT_PAGE_SIZE);
  }

  /** Plain-text endpoints, default prefix and TTL, no TLS or auth. */
  public static EtcdOptions of(List<URI> endpoints) {
    return new EtcdOptions(endpoints, DEFAULT_PREFIX, null, null, null, null, null, DEFAULT_LEASE_TTL);
  }

  /** The same options with another lease TTL. */
  public EtcdOptions withLeaseTtl(Duration ttl) {
    return new EtcdOptions(endpoints, prefix, caFile, certFile, keyFile, username, password, ttl, pageSize);
  }

  /** The same options with another prefix. */
  public EtcdOptions withPrefix(String newPrefix) {
    return new EtcdOptions(endpoints, newPrefix, caFile, certFile, keyFile, username, password, leaseTtl,
        pageSize);
  }

  /** The same options with another page size for prefix reads. */
  public EtcdOptions withPageSize(int keys) {
    return new EtcdOptions(endpoints, prefix, caFile, certFile, keyFile, username, password, leaseTtl, keys);
  }

  /**
   * Parses flannel's {@code --etcd-endpoints}: a comma list of {@code http://host:port},
   * {@code https://host:port} or bare {@code host:port} (= http). The port defaults to 2379.
   */
  public static List<URI> parseEndpoints(String commaList) {
    List<URI> out = new ArrayList<>();
    if (commaList != null) {
      for (String raw : commaList.split(",")) {
        String s = raw.trim();
        if (s.isEmpty()) {
          continue;
        }
        String withScheme = s.contains("://") ? s : "http://" + s;
        URI u;
        try {
          u = new URI(withScheme);
        } catch (URISyntaxException e) {
          throw new IllegalArgumentException("invalid etcd endpoint \"" + s + "\": " + e.getReason());
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
          throw new IllegalArgumentException("invalid etcd endpoint \"" + s + "\": scheme must be http or https");
        }
        if (u.getHost() == null) {
          throw new IllegalArgumentException("invalid etcd endpoint \"" + s + "\": expected [http[s]://]host:port");
        }
        if (u.getPath() != null && !u.getPath().isEmpty() && !u.getPath().equals("/")
            || u.getQuery() != null || u.getUserInfo() != null) {
          throw new IllegalArgumentException("invalid etcd endpoint \"" + s + "\": expected [http[s]://]host:port");
        }
        int port = u.getPort() < 0 ? 2379 : u.getPort();
        try {
          out.add(new URI(scheme, null, u.getHost(), port, null, null, null));
        } catch (URISyntaxException e) {
          throw new IllegalArgumentException("invalid etcd endpoint \"" + s + "\": " + e.getReason());
        }
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("no etcd endpoints given: set --etcd-endpoints");
    }
    return out;
  }

  /** Path-join semantics as in flannel: duplicate and trailing slashes do not matter. */
  static String normalizePrefix(String prefix) {
    if (prefix == null || prefix.isBlank()) {
      return DEFAULT_PREFIX;
    }
    String p = prefix.trim().replaceAll("/{2,}", "/");
    while (p.length() > 1 && p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    return p;
  }

  /** {@code <prefix>/config}. */
  public String configKey() {
    return join("config");
  }

  /** {@code <prefix>/subnets/} (with the trailing slash: the range that is listed and watched). */
  public String subnetsPrefix() {
    return join("subnets") + "/";
  }

  private String join(String name) {
    return prefix.equals("/") ? "/" + name : prefix + "/" + name;
  }

  @Override
  public String toString() {
    return "EtcdOptions[endpoints=" + endpoints + ", prefix=" + prefix + ", caFile=" + caFile
        + ", certFile=" + certFile + ", keyFile=" + keyFile + ", username=" + username
        + ", password=" + (password == null ? "null" : "(hidden)") + ", leaseTtl=" + leaseTtl
        + ", pageSize=" + pageSize + "]";
  }
}
