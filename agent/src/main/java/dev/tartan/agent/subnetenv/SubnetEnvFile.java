package dev.tartan.agent.subnetenv;

import dev.tartan.net.Ipv4Subnet;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Reads and atomically writes {@code subnet.env} (flanneld's {@code --subnet-file}). */
public final class SubnetEnvFile {
  private static final Logger log = LoggerFactory.getLogger(SubnetEnvFile.class);
  private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-r--r--");
  private static final Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwxr-xr-x");

  private SubnetEnvFile() {}

  /**
   * Writes {@code env} to {@code file} atomically: a temp file in the same directory, fsync, mode
   * 0644 (whatever the umask), rename over the old file, fsync of the directory. Missing parent
   * directories are created with mode 0755. Readers see the old or the new content, never a mix.
   */
  public static void write(Path file, SubnetEnv env) throws IOException {
    Path target = file.toAbsolutePath();
    Path dir = target.getParent();
    createDirectories(dir);
    Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer buf = ByteBuffer.wrap(env.render().getBytes(StandardCharsets.UTF_8));
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      Files.setPosixFilePermissions(tmp, FILE_MODE);
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
    syncDirectory(dir);
  }

  /** Reads and parses the whole file; empty when it does not exist. */
  public static Optional<SubnetEnv> read(Path file) throws IOException {
    try {
      return Optional.of(SubnetEnv.parse(Files.readString(file, StandardCharsets.UTF_8)));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  /**
   * The subnet of the previous run, to ask etcd for the same one again (flannel's
   * ReadCIDRFromSubnetFile): {@code FLANNEL_SUBNET} network-masked ({@code 10.5.72.1/24} gives
   * {@code 10.5.72.0/24}). Empty when the file does not exist; empty with a WARN when the variable
   * is absent, unparsable or holds several values.
   */
  public static Optional<Ipv4Subnet> readPrevious(Path file) {
    return readCidr(file, SubnetEnv.SUBNET);
  }

  /**
   * {@code FLANNEL_NETWORK} of the previous run (network-masked), to delete the masquerade rules
   * built from it when the network changed. Same rules as {@link #readPrevious}.
   */
  public static Optional<Ipv4Subnet> readPreviousNetwork(Path file) {
    return readCidr(file, SubnetEnv.NETWORK);
  }

  /**
   * {@code FLANNEL_IPV6_SUBNET} of the previous run, network-masked, to ask etcd for the same IPv6
   * subnet again (dual stack). Empty without a WARN when the file or the variable is absent (an
   * IPv4-only run wrote none); empty with a WARN when it is unparsable or holds several values.
   */
  public static Optional<dev.tartan.net.Ipv6Subnet> readPreviousV6(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      log.warn("cannot read previous {} from {}: {}", SubnetEnv.IPV6_SUBNET, file, e.toString());
      return Optional.empty();
    }
    String value = SubnetEnv.variables(text).get(SubnetEnv.IPV6_SUBNET);
    if (value == null || value.isEmpty()) {
      return Optional.empty();
    }
    if (value.contains(",")) {
      log.warn("ignoring previous {} in {}: more than one value ({})", SubnetEnv.IPV6_SUBNET, file, value);
      return Optional.empty();
    }
    try {
      return Optional.of(dev.tartan.net.Ipv6Subnet.parse(value.trim()));
    } catch (IllegalArgumentException e) {
      log.warn("ignoring previous {} in {}: {}", SubnetEnv.IPV6_SUBNET, file, e.getMessage());
      return Optional.empty();
    }
  }

  private static Optional<Ipv4Subnet> readCidr(Path file, String key) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      log.warn("cannot read previous {} from {}: {}", key, file, e.toString());
      return Optional.empty();
    }
    String value = SubnetEnv.variables(text).get(key);
    if (value == null || value.isEmpty()) {
      log.warn("no previous {} in {}", key, file);
      return Optional.empty();
    }
    if (value.contains(",")) {
      log.warn("ignoring previous {} in {}: more than one value ({})", key, file, value);
      return Optional.empty();
    }
    try {
      return Optional.of(Ipv4Subnet.parse(value.trim()));
    } catch (IllegalArgumentException e) {
      log.warn("ignoring previous {} in {}: {}", key, file, e.getMessage());
      return Optional.empty();
    }
  }

  private static void createDirectories(Path dir) throws IOException {
    Deque<Path> missing = new ArrayDeque<>();
    for (Path p = dir; p != null && !Files.isDirectory(p); p = p.getParent()) {
      missing.push(p);
    }
    while (!missing.isEmpty()) {
      Path p = missing.pop();
      try {
        Files.createDirectory(p);
        Files.setPosixFilePermissions(p, DIR_MODE);
      } catch (FileAlreadyExistsException e) {
        if (!Files.isDirectory(p)) {
          throw e;
        }
      }
    }
  }

  private static void syncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      log.debug("fsync of directory {} failed: {}", dir, e.toString());
    }
  }
}
