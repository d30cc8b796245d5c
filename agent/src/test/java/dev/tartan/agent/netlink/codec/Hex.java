package dev.tartan.agent.netlink.codec;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Hex text (whitespace and | ignored) to bytes and back, for golden-byte tests. */
public final class Hex {
  private Hex() {}

  public static byte[] bytes(String hex) {
    String h = hex.replaceAll("[\\s|]", "");
    if (h.length() % 2 != 0) {
      throw new IllegalArgumentException("odd number of hex digits: " + h.length());
    }
    byte[] b = new byte[h.length() / 2];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
    }
    return b;
  }

  public static ByteBuffer buffer(String hex) {
    return ByteBuffer.wrap(bytes(hex)).order(ByteOrder.nativeOrder());
  }

  /** Lowercase hex, a space every 4 bytes, so a failing comparison shows where it differs. */
  public static String of(ByteBuffer b) {
    ByteBuffer d = b.duplicate();
    StringBuilder sb = new StringBuilder();
    int i = 0;
    while (d.hasRemaining()) {
      if (i > 0 && i % 4 == 0) {
        sb.append(' ');
      }
      sb.append(String.format("%02x", d.get() & 0xff));
      i++;
    }
    return sb.toString();
  }

  /** Normalises hex text to the {@link #of} layout. */
  public static String norm(String hex) {
    return of(ByteBuffer.wrap(bytes(hex)));
  }
}
