package dev.tartan.store.testing;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Last line of defence: one JVM shutdown hook that SIGKILLs every etcd process still registered and
 * removes the registered temp directories, so a crashed or interrupted test run leaves nothing behind.
 */
final class ProcessReaper {
  private static final Set<Process> PROCESSES = new LinkedHashSet<>();
  private static final Set<Path> DIRECTORIES = new LinkedHashSet<>();
  private static boolean hookInstalled;

  private ProcessReaper() {}

  static synchronized void register(Process p) {
    installHook();
    PROCESSES.add(p);
  }

  static synchronized void unregister(Process p) {
    PROCESSES.remove(p);
  }

  static synchronized void registerDirectory(Path dir) {
    installHook();
    DIRECTORIES.add(dir);
  }

  static synchronized void unregisterDirectory(Path dir) {
    DIRECTORIES.remove(dir);
  }

  private static void installHook() {
    if (!hookInstalled) {
      Runtime.getRuntime().addShutdownHook(new Thread(ProcessReaper::reapAll, "etcd-reaper"));
      hookInstalled = true;
    }
  }

  private static void reapAll() {
    Set<Process> processes;
    Set<Path> dirs;
    synchronized (ProcessReaper.class) {
      processes = new LinkedHashSet<>(PROCESSES);
      dirs = new LinkedHashSet<>(DIRECTORIES);
    }
    for (Process p : processes) {
      p.destroyForcibly();
    }
    for (Process p : processes) {
      try {
        p.waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    for (Path d : dirs) {
      deleteRecursively(d);
    }
  }

  /** Deletes a directory tree; missing files are fine, other errors are reported on stderr. */
  static void deleteRecursively(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try {
      Files.walkFileTree(root, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
          Files.deleteIfExists(file);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
          if (exc instanceof NoSuchFileException) {
            return FileVisitResult.CONTINUE;
          }
          throw exc;
        }

        @Override
        public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
          Files.deleteIfExists(dir);
          return FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException e) {
      System.err.println("could not remove etcd temp dir " + root + ": " + e);
    }
  }
}
