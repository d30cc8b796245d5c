package dev.tartan.agent.routing;

import dev.tartan.net.Ipv4Subnet;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The peers the agent holds in grace, for {@code tartan doctor}: a small text file beside {@code
 * subnet.env} ({@value #NAME}), one line per peer, {@code SUBNET PUBLICIP VTEPMAC UNTIL}; absent
 * when no peer is held. Written whole (temp file + rename) by the agent after a change.
 */
public final class GraceFile {
  /** The file's name, in the directory of the subnet file. */
  public static final String NAME = "tartan-peers-in-grace";

  /** One held peer; {@code vtepMac} null for a peer reached by a direct route. */
  public record Held(Ipv4Subnet subnet, Inet4Address publicIp, String vtepMac, Instant until) {}

  private GraceFile() {}

  /** The file beside {@code subnetFile}. */
  public static Path beside(Path subnetFile) {
    return subnetFile.toAbsolutePath().resolveSibling(NAME);
  }

  /** Writes {@code held} to {@code file}, or deletes it when there is none. */
  public static void write(Path file, List<Held> held) throws IOException {
    if (held.isEmpty()) {
      Files.deleteIfExists(file);
      return;
    }
    StringBuilder sb = new StringBuilder("# peers whose lease expired, kept programmed until the time given "
        + "(tartan agent --peer-expiry-grace)\n");
    for (Held h : held) {
      sb.append(h.subnet()).append(' ').append(h.publicIp().getHostAddress()).append(' ')
          .append(h.vtepMac() == null ? "-" : h.vtepMac())
          .append(' ').append(h.until()).append('\n');
    }
    Path dir = file.toAbsolutePath().getParent();
    Path tmp = Files.createTempFile(dir, "." + NAME + ".", ".tmp");
    try {
      Files.writeString(tmp, sb, StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** The held peers in {@code file}; empty when it is absent. Lines that do not parse are skipped. */
  public static List<Held> read(Path file) throws IOException {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return List.of();
    }
    List<Held> out = new ArrayList<>();
    for (String l : lines) {
      String[] f = l.strip().split("\\s+");
      if (l.startsWith("#") || f.length != 4) {
        continue;
      }
      try {
        InetAddress ip = InetAddress.getByName(f[1].matches("[0-9.]+") ? f[1] : "invalid..");
        if (ip instanceof Inet4Address v4) {
          out.add(new Held(Ipv4Subnet.parse(f[0]), v4, f[2].equals("-") ? null : f[2], Instant.parse(f[3])));
        }
      } catch (IOException | RuntimeException e) {
        // not ours or damaged: skipped
      }
    }
    return out;
  }
}
