package dev.tartan.cni.delegate;

import dev.tartan.cni.Names;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads host-local's allocation files (flannel-compat.md §6.6) to learn which interface names a container's
 * addresses were allocated for. GC needs them: host-local releases an address only for the exact (container
 * ID, interface name) pair, and the saved delegate config does not record the interface name.
 */
public final class HostLocalLeases {
  /** host-local's default {@code dataDir}. */
  public static final String DEFAULT_DATA_DIR = "/var/lib/cni/networks";

  private HostLocalLeases() {}

  /**
   * The interface names host-local recorded for {@code containerId} in the network of {@code delegateConf}
   * (an empty name for files in the old ID-only format); empty if the IPAM is not host-local or holds none.
   */
  public static List<String> ifnames(Map<String, Object> delegateConf, String containerId) {
    List<String> out = new ArrayList<>();
    Object ipam = delegateConf.get("ipam");
    Object name = delegateConf.get("name");
    if (!(ipam instanceof Map) || !(name instanceof String) || !"host-local".equals(((Map<?, ?>) ipam).get("type")) || !Names.validId((String) name)) {
      return out;
    }
    Object dataDir = ((Map<?, ?>) ipam).get("dataDir");
    Path dir;
    try {
      dir = Path.of(dataDir instanceof String && !((String) dataDir).isEmpty() ? (String) dataDir
          : DEFAULT_DATA_DIR, (String) name);
    } catch (java.nio.file.InvalidPathException e) {
      return out; // a dataDir no file can have holds no leases
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path f : files) {
        String fn = f.getFileName().toString();
        if (fn.equals("lock") || fn.startsWith("last_reserved_ip") || !Files.isRegularFile(f)
            || Files.size(f) > 4096) {
          continue;
        }
        String content = new String(Files.readAllBytes(f), StandardCharsets.UTF_8);
        int br = content.indexOf("\r\n");
        String id = (br < 0 ? content : content.substring(0, br)).strip();
        String ifname = br < 0 ? "" : content.substring(br + 2).strip();
        if (id.equals(containerId) && !out.contains(ifname)) {
          out.add(ifname);
        }
      }
    } catch (IOException e) {
      // no directory (nothing allocated) or unreadable: nothing to learn
    }
    return out;
  }
}
