package dev.tartan.cni;

import java.nio.file.Path;
import java.util.Map;

/**
 * The plugin's own fields of the network config on stdin (flannel-compat.md §5.1); everything else stays in
 * {@code raw} for the delegate config.
 *
 * @param cniVersion the requested CNI version (validated by the caller)
 * @param name the network name
 * @param type the plugin type the runtime called ({@code tartan} or {@code flannel})
 * @param subnetFile {@code subnetFile}, default {@code /run/flannel/subnet.env}
 * @param dataDir {@code dataDir}, default {@code /var/lib/cni/flannel}
 * @param raw the whole config as parsed
 */
record NetConf(String cniVersion, String name, String type, Path subnetFile, Path dataDir, Map<String, Object> raw) {
  static final String DEFAULT_SUBNET_FILE = "/run/flannel/subnet.env";
  static final String DEFAULT_DATA_DIR = "/var/lib/cni/flannel";

  NetConf {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("name");
    }
  }

  /** Reads the fields, applying the defaults; an empty path counts as unset. */
  static NetConf from(String cniVersion, Map<String, Object> raw) throws CniException {
    String name = string(raw, "name", "");
    String type = string(raw, "type", "");
    String subnetFile = string(raw, "subnetFile", "");
    String dataDir = string(raw, "dataDir", "");
    return new NetConf(cniVersion, name, type, path("subnetFile", subnetFile.isEmpty() ? DEFAULT_SUBNET_FILE : subnetFile),
        path("dataDir", dataDir.isEmpty() ? DEFAULT_DATA_DIR : dataDir), raw);
  }

  /** A path field; one the JVM cannot encode (e.g. non-ASCII under LANG=C) is a config error, not a crash. */
  private static Path path(String key, String value) throws CniException {
    try {
      return Path.of(value);
    } catch (java.nio.file.InvalidPathException e) {
      throw new CniException(CniException.INVALID_NETWORK_CONFIG, "network config field '" + key
          + "' is not a usable path here: " + e.getReason() + " (file names are encoded as "
          + System.getProperty("sun.jnu.encoding", "?") + "; use ASCII or run with a UTF-8 locale)", "");
    }
  }

  private static String string(Map<String, Object> raw, String key, String dflt) throws CniException {
    Object v = raw.get(key);
    if (v == null) {
      return dflt;
    }
    if (!(v instanceof String)) {
      throw new CniException(CniException.INVALID_NETWORK_CONFIG, "network config field '" + key
          + "' must be a string, got " + dev.tartan.cni.json.Json.typeName(v), "");
    }
    if (((String) v).indexOf('\0') >= 0) {
      throw new CniException(CniException.INVALID_NETWORK_CONFIG, "network config field '" + key
          + "' contains a NUL character", "");
    }
    return (String) v;
  }

  @Override
  public String toString() {
    return "NetConf[name=" + name + ", type=" + type + ", cniVersion=" + cniVersion + "]";
  }
}
