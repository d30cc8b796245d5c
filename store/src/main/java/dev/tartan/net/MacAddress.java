package dev.tartan.net;

import java.util.HexFormat;
import java.util.Locale;
import java.util.random.RandomGenerator;

/** 6-byte Ethernet MAC addresses as the kernel and flannel's lease JSON spell them (lowercase, colons). */
public final class MacAddress {
  private MacAddress() {}

  /**
   * Parses a 6-byte MAC in {@code aa:bb:cc:dd:ee:ff}, {@code aa-bb-cc-dd-ee-ff} or
   * {@code aabb.ccdd.eeff} form, any case.
   *
   * @throws IllegalArgumentException when malformed
   */
  public static byte[] parse(String text) {
    String hex;
    if (text.length() == 17 && (text.charAt(2) == ':' || text.charAt(2) == '-')) {
      char sep = text.charAt(2);
      StringBuilder sb = new StringBuilder(12);
      for (int i = 0; i < 17; i++) {
        if (i % 3 == 2) {
          if (text.charAt(i) != sep) {
            throw new IllegalArgumentException("not a MAC address (want aa:bb:cc:dd:ee:ff): " + text);
          }
        } else {
          sb.append(text.charAt(i));
        }
      }
      hex = sb.toString();
    } else if (text.length() == 14 && text.charAt(4) == '.' && text.charAt(9) == '.') {
      hex = text.substring(0, 4) + text.substring(5, 9) + text.substring(10);
    } else {
      throw new IllegalArgumentException("not a MAC address (want aa:bb:cc:dd:ee:ff): " + text);
    }
    for (int i = 0; i < hex.length(); i++) {
      if (Character.digit(hex.charAt(i), 16) < 0) {
        throw new IllegalArgumentException("not a MAC address (want aa:bb:cc:dd:ee:ff): " + text);
      }
    }
    return HexFormat.of().parseHex(hex.toLowerCase(Locale.ROOT));
  }

  /** Lowercase, colon-separated; the empty string for a missing or empty address. */
  public static String format(byte[] mac) {
    if (mac == null || mac.length == 0) {
      return "";
    }
    return HexFormat.ofDelimiter(":").formatHex(mac);
  }

  /** Lowercase colon form; throws IllegalArgumentException when malformed. */
  public static String normalise(String text) {
    return format(parse(text));
  }

  /** Not multicast (bit 0 of the first octet clear) and not all zeros. */
  public static boolean isUnicast(byte[] mac) {
    boolean zero = true;
    for (byte b : mac) {
      zero &= b == 0;
    }
    return !zero && (mac[0] & 1) == 0;
  }

  /** {@link #isUnicast(byte[])} of the parsed text; throws IllegalArgumentException when malformed. */
  public static boolean isUnicast(String mac) {
    return isUnicast(parse(mac));
  }

  /** A random locally administered unicast MAC (first octet: bit 0 clear, bit 1 set), as flannel. */
  public static String randomLocalUnicast(RandomGenerator random) {
    byte[] mac = new byte[6];
    for (int i = 0; i < 6; i++) {
      mac[i] = (byte) random.nextInt(256);
    }
    mac[0] = (byte) ((mac[0] & 0xfe) | 0x02);
    return format(mac);
  }
}
