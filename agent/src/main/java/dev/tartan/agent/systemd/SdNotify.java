package dev.tartan.agent.systemd;

import dev.tartan.agent.netlink.NetlinkException;
import dev.tartan.agent.netlink.UnixDatagram;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * systemd's notification protocol ({@code sd_notify(3)}), written directly: one AF_UNIX datagram to
 * {@code $NOTIFY_SOCKET} per message, path or abstract ({@code @name}) socket. Without
 * {@code NOTIFY_SOCKET} (not started by systemd with {@code Type=notify}) every call does nothing
 * and returns false. Failures are logged, never thrown: notification is best effort.
 */
public final class SdNotify {
  private static final Logger log = LoggerFactory.getLogger(SdNotify.class);

  private final String socket;
  private final byte[] address;
  private final Optional<Duration> watchdogInterval;
  private volatile boolean failing;

  private SdNotify(String socket, byte[] address, Optional<Duration> watchdogInterval) {
    this.socket = socket;
    this.address = address;
    this.watchdogInterval = watchdogInterval;
  }

  /** From the process environment. */
  public static SdNotify fromEnvironment() {
    return fromEnvironment(System.getenv());
  }

  /** From {@code NOTIFY_SOCKET}, {@code WATCHDOG_USEC} and {@code WATCHDOG_PID} in {@code env}. */
  public static SdNotify fromEnvironment(Map<String, String> env) {
    String socket = env.get("NOTIFY_SOCKET");
    byte[] address = null;
    if (socket != null && !socket.isEmpty()) {
      try {
        address = UnixDatagram.sockaddr(socket);
      } catch (IllegalArgumentException e) {
        log.warn("ignoring NOTIFY_SOCKET: {}", e.getMessage());
        socket = null;
      }
    } else {
      socket = null;
    }
    return new SdNotify(socket, address, watchdog(env));
  }

  private static Optional<Duration> watchdog(Map<String, String> env) {
    String usec = env.get("WATCHDOG_USEC");
    if (usec == null || usec.isEmpty()) {
      return Optional.empty();
    }
    String pid = env.get("WATCHDOG_PID");
    if (pid != null && !pid.isEmpty()) {
      try {
        if (Long.parseLong(pid.trim()) != ProcessHandle.current().pid()) {
          return Optional.empty(); // meant for another process (we were forked or exec'd by it)
        }
      } catch (NumberFormatException e) {
        log.warn("ignoring the watchdog: WATCHDOG_PID is not a number: {}", pid);
        return Optional.empty();
      }
    }
    try {
      long micros = Long.parseLong(usec.trim());
      if (micros <= 0) {
        return Optional.empty();
      }
      return Optional.of(Duration.ofNanos(micros * 1000 / 2));
    } catch (NumberFormatException | ArithmeticException e) {
      log.warn("ignoring the watchdog: WATCHDOG_USEC is not a number: {}", usec);
      return Optional.empty();
    }
  }

  /** Whether NOTIFY_SOCKET is set (messages are sent). */
  public boolean enabled() {
    return socket != null;
  }

  /**
   * How often to call {@link #watchdog()}: half of {@code WATCHDOG_USEC}, as sd_watchdog_enabled(3)
   * recommends; empty when the watchdog is off or {@code WATCHDOG_PID} names another process.
   */
  public Optional<Duration> watchdogInterval() {
    return watchdogInterval;
  }

  /** {@code READY=1} with a {@code STATUS=} line: start-up is complete. */
  public boolean ready(String status) {
    return notify("READY=1\nSTATUS=" + oneLine(status));
  }

  /** {@code STATUS=text}, shown by {@code systemctl status}. */
  public boolean status(String text) {
    return notify("STATUS=" + oneLine(text));
  }

  /** {@code WATCHDOG=1}: the service is alive. */
  public boolean watchdog() {
    return notify("WATCHDOG=1");
  }

  /** {@code STOPPING=1}: shutdown has begun. */
  public boolean stopping() {
    return notify("STOPPING=1");
  }

  /**
   * Sends {@code state} (newline-separated {@code KEY=VALUE} assignments) as one datagram.
   *
   * @return true when sent; false when NOTIFY_SOCKET is unset or sending failed (logged)
   */
  public boolean notify(String state) {
    if (socket == null) {
      return false;
    }
    byte[] msg = state.getBytes(StandardCharsets.UTF_8);
    String error = send(msg);
    if (error == null) {
      if (failing) {
        failing = false;
        log.info("sd_notify works again on {}", socket);
      }
      return true;
    }
    if (!failing) {
      failing = true;
      log.warn("sd_notify to {} failed: {}", socket, error);
    } else {
      log.debug("sd_notify to {} failed: {}", socket, error);
    }
    return false;
  }

  /** One datagram; the error text, or null when sent. */
  private String send(byte[] msg) {
    try (UnixDatagram sock = UnixDatagram.open()) {
      sock.sendTo(address, msg);
      return null;
    } catch (NetlinkException e) {
      return e.getMessage();
    }
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.replace('\n', ' ').replace('\r', ' ');
  }

  @Override
  public String toString() {
    return "SdNotify[" + (socket == null ? "off" : socket) + ", watchdog="
        + watchdogInterval.map(Duration::toString).orElse("off") + "]";
  }
}
