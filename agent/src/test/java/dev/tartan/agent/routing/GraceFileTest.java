package dev.tartan.agent.routing;

import static dev.tartan.agent.routing.TestLeases.ip;
import static dev.tartan.agent.routing.TestLeases.net;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GraceFileTest {
  @TempDir
  Path dir;

  @Test
  void writtenReadAndDeletedWhenEmpty() throws Exception {
    Path f = GraceFile.beside(dir.resolve("subnet.env"));
    List<GraceFile.Held> held = List.of(new GraceFile.Held(net("10.244.3.0/24"), ip("198.51.100.3"),
        "0e:00:00:00:00:03", Instant.parse("2026-12-01T00:01:00Z")));

    GraceFile.write(f, held);
    assertThat(GraceFile.read(f)).isEqualTo(held);

    GraceFile.write(f, List.of());
    assertThat(Files.exists(f)).isFalse();
    assertThat(GraceFile.read(f)).isEmpty();
  }

  @Test
  void damagedLinesAreSkipped() throws Exception {
    Path f = dir.resolve(GraceFile.NAME);
    Files.writeString(f, "# comment\ngarbage\n10.244.3.0/24 host.example 0e:00:00:00:00:03 2026-12-01T00:01:00Z\n"
        + "10.244.4.0/24 198.51.100.4 0e:00:00:00:00:04 2026-12-01T00:01:00Z\n");
    assertThat(GraceFile.read(f)).extracting(GraceFile.Held::subnet).containsExactly(net("10.244.4.0/24"));
  }
}
