package dev.tartan.cni.delegate;

import dev.tartan.cni.CniException;
import dev.tartan.cni.Names;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The per-container delegate configs, one file {@code <dataDir>/<containerID>} each (flannel's layout, so a
 * host can switch between flannel's plugin and this one): the directory is created 0700, files are 0600,
 * written to a temporary file and renamed into place, so readers see the old file or the new one, never a
 * partial one. Temporary files start with a dot, which no container ID does.
 *
 * <p>No fsync: on the project's VMs it cost 10-30 ms per ADD and 10 ms per DEL, more than the delegate
 * itself, and flannel's plugin and host-local do not sync either. A file lost in a crash is harmless: DEL
 * then rebuilds the delegate config from subnet.env, and host-local releases by container ID.
 */
public final class ScratchStore {
  private static final Set<PosixFilePermission> DIR_MODE = EnumSet.of(PosixFilePermission.OWNER_READ,
      PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE);
  private static final Set<PosixFilePermission> FILE_MODE = EnumSet.of(PosixFilePermission.OWNER_READ,
      PosixFilePermission.OWNER_WRITE);

  private final Path dataDir;

  public ScratchStore(Path dataDir) {
    this.dataDir = dataDir;
  }

  public Path dataDir() {
    return dataDir;
  }

  /** The file for a container; {@code containerId} must already be validated (no '/', not "." or ".."). */
  public Path pathFor(String containerId) {
    return dataDir.resolve(containerId);
  }

  /** Atomically writes the container's delegate config. */
  public void save(String containerId, byte[] conf) throws CniException {
    Path target = pathFor(containerId);
    Path tmp = dataDir.resolve("." + containerId + "." + Long.toHexString(System.nanoTime()) + ".tmp");
    try {
      if (!Files.isDirectory(dataDir)) {
        Files.createDirectories(dataDir, PosixFilePermissions.asFileAttribute(DIR_MODE));
      }
      try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
          PosixFilePermissions.asFileAttribute(FILE_MODE))) {
        ByteBuffer buf = ByteBuffer.wrap(conf);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // the rename failed or the write did; the temporary file is all that can be left
      }
      throw new CniException(CniException.IO_FAILURE, "failed to save delegate config " + target + ": " + e, "");
    }
  }

  /** The saved config, or empty when there is none. */
  public Optional<byte[]> load(String containerId) throws CniException {
    Path file = pathFor(containerId);
    try {
      return Optional.of(Files.readAllBytes(file));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw new CniException(CniException.IO_FAILURE, "failed to read delegate config " + file + ": " + e, "");
    }
  }

  /** Removes the container's file; true if there was one. */
  public boolean delete(String containerId) throws CniException {
    Path file = pathFor(containerId);
    try {
      return Files.deleteIfExists(file);
    } catch (IOException e) {
      throw new CniException(CniException.IO_FAILURE, "failed to remove delegate config " + file + ": " + e, "");
    }
  }

  /** The container IDs that have a saved config (regular files whose name is a valid container ID). */
  public List<String> containerIds() throws CniException {
    List<String> ids = new ArrayList<>();
    try (DirectoryStream<Path> dir = Files.newDirectoryStream(dataDir)) {
      for (Path p : dir) {
        String name = p.getFileName().toString();
        if (Names.validId(name) && Files.isRegularFile(p)) {
          ids.add(name);
        }
      }
    } catch (NoSuchFileException e) {
      return ids;
    } catch (IOException e) {
      throw new CniException(CniException.IO_FAILURE, "failed to list " + dataDir + ": " + e, "");
    }
    return ids;
  }
}
