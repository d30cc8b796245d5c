package dev.tartan.cni.delegate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tartan.cni.CniException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScratchStoreTest {
  @TempDir
  Path tmp;

  @Test
  void savesWithPrivateModesAndLoadsBack() throws Exception {
    ScratchStore store = new ScratchStore(tmp.resolve("a/b/flannel"));
    store.save("ctr1", "{\"x\":1}".getBytes(StandardCharsets.UTF_8));
    Path file = tmp.resolve("a/b/flannel/ctr1");
    assertThat(file).hasContent("{\"x\":1}");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent()))).isEqualTo("rwx------");
    assertThat(store.load("ctr1")).hasValueSatisfying(b -> assertThat(new String(b, StandardCharsets.UTF_8))
        .isEqualTo("{\"x\":1}"));
    assertThat(store.pathFor("ctr1")).isEqualTo(file);
  }

  @Test
  void overwriteReplacesAndLeavesNoTemporaryFile() throws Exception {
    ScratchStore store = new ScratchStore(tmp);
    store.save("c", "first, longer content".getBytes(StandardCharsets.UTF_8));
    store.save("c", "second".getBytes(StandardCharsets.UTF_8));
    assertThat(tmp.resolve("c")).hasContent("second");
    try (var files = Files.list(tmp)) {
      assertThat(files).extracting(p -> p.getFileName().toString()).containsExactly("c");
    }
  }

  @Test
  void missingIsEmptyAndDeleteIsIdempotent() throws Exception {
    ScratchStore store = new ScratchStore(tmp.resolve("none"));
    assertThat(store.load("c")).isEmpty();
    assertThat(store.delete("c")).isFalse();
    assertThat(store.containerIds()).isEmpty();
    store.save("c", new byte[] {'1'});
    assertThat(store.delete("c")).isTrue();
    assertThat(store.delete("c")).isFalse();
  }

  @Test
  void listsOnlyContainerFiles() throws Exception {
    ScratchStore store = new ScratchStore(tmp);
    store.save("abc", new byte[0]);
    store.save("d-e.f_1", new byte[0]);
    Files.writeString(tmp.resolve(".abc.1234.tmp"), "partial");
    Files.createDirectory(tmp.resolve("subdir"));
    assertThat(store.containerIds()).containsExactlyInAnyOrder("abc", "d-e.f_1");
  }

  @Test
  void unwritableDirectoryIsAnIoFailure() throws Exception {
    Path file = Files.writeString(tmp.resolve("not-a-dir"), "x");
    ScratchStore store = new ScratchStore(file);
    assertThatThrownBy(() -> store.save("c", new byte[0]))
        .isInstanceOfSatisfying(CniException.class, e -> assertThat(e.code()).isEqualTo(5))
        .hasMessageStartingWith("failed to save delegate config " + file.resolve("c"));
  }
}
