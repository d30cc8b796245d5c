package dev.tartan.agent.systemd;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.UnixDatagram;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real AF_UNIX datagram sockets: the test binds the receiver systemd would have. */
class SdNotifyTest {
  @TempDir Path dir;

  /** A datagram receiver bound to a path or abstract name, with a 5 s receive timeout. */
  static final class Receiver implements AutoCloseable {
    final UnixDatagram sock;

    Receiver(String address) throws NetlinkException {
      sock = UnixDatagram.bind(address, Duration.ofSeconds(5));
    }

    String receive() throws NetlinkException {
      return sock.receiveText();
    }

    @Override
    public void close() {
      sock.close();
    }
  }

  @Test
  void sendsToAPathSocket() throws Exception {
    String path = dir.resolve("notify.sock").toString();
    try (Receiver r = new Receiver(path)) {
      SdNotify sd = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", path));
      assertThat(sd.enabled()).isTrue();
      assertThat(sd.ready("subnet 10.5.72.0/24\non flannel.1")).isTrue();
      assertThat(r.receive()).isEqualTo("READY=1\nSTATUS=subnet 10.5.72.0/24 on flannel.1");
      assertThat(sd.status("renewed lease 10.5.72.0/24")).isTrue();
      assertThat(r.receive()).isEqualTo("STATUS=renewed lease 10.5.72.0/24");
      assertThat(sd.watchdog()).isTrue();
      assertThat(r.receive()).isEqualTo("WATCHDOG=1");
      assertThat(sd.stopping()).isTrue();
      assertThat(r.receive()).isEqualTo("STOPPING=1");
    }
  }

  @Test
  void sendsToAnAbstractSocket() throws Exception {
    String name = "@tartan-sdnotify-test-" + ProcessHandle.current().pid() + "-"
        + ThreadLocalRandom.current().nextInt(1_000_000);
    try (Receiver r = new Receiver(name)) {
      SdNotify sd = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", name));
      assertThat(sd.ready("ready")).isTrue();
      assertThat(r.receive()).isEqualTo("READY=1\nSTATUS=ready");
    }
  }

  @Test
  void doesNothingWithoutNotifySocket() throws Exception {
    SdNotify sd = SdNotify.fromEnvironment(Map.of());
    assertThat(sd.enabled()).isFalse();
    assertThat(sd.ready("x")).isFalse();
    assertThat(sd.watchdog()).isFalse();
    assertThat(SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", "")).enabled()).isFalse();
    assertThat(SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", "relative/path")).enabled()).isFalse();
  }

  @Test
  void aMissingReceiverIsReportedNotThrown() throws Exception {
    SdNotify sd = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", dir.resolve("gone.sock").toString()));
    assertThat(sd.enabled()).isTrue();
    assertThat(sd.ready("x")).isFalse();
    assertThat(sd.watchdog()).isFalse();
  }

  @Test
  void watchdogIntervalIsHalfTheTimeoutForThisProcessOnly() throws Exception {
    String me = Long.toString(ProcessHandle.current().pid());
    assertThat(SdNotify.fromEnvironment(Map.of("WATCHDOG_USEC", "10000000")).watchdogInterval())
        .contains(Duration.ofSeconds(5));
    assertThat(SdNotify.fromEnvironment(Map.of("WATCHDOG_USEC", "3000000", "WATCHDOG_PID", me))
        .watchdogInterval()).contains(Duration.ofMillis(1500));
    assertThat(SdNotify.fromEnvironment(Map.of("WATCHDOG_USEC", "3000000", "WATCHDOG_PID", "1"))
        .watchdogInterval()).isEmpty();
    assertThat(SdNotify.fromEnvironment(Map.of("WATCHDOG_USEC", "0")).watchdogInterval()).isEmpty();
    assertThat(SdNotify.fromEnvironment(Map.of("WATCHDOG_USEC", "soon")).watchdogInterval()).isEmpty();
    assertThat(SdNotify.fromEnvironment(Map.of()).watchdogInterval()).isEmpty();
  }

  @Test
  void sockaddrLayout() throws Exception {
    byte[] path = UnixDatagram.sockaddr("/run/systemd/notify");
    assertThat(path).hasSize(2 + "/run/systemd/notify".length() + 1);
    assertThat(ByteBuffer.wrap(path).order(ByteOrder.nativeOrder()).getShort()).isEqualTo((short) 1);
    assertThat(path[path.length - 1]).isZero();
    byte[] abs = UnixDatagram.sockaddr("@sd");
    assertThat(abs).containsExactly(ByteBuffer.allocate(5).order(ByteOrder.nativeOrder())
        .putShort((short) 1).put((byte) 0).put((byte) 's').put((byte) 'd').array());
    assertThatThrownBy(() -> UnixDatagram.sockaddr("/" + "x".repeat(107)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
