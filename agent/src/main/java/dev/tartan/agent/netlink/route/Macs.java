package dev.tartan.agent.netlink.route;

/** MAC address text (lowercase aa:bb:cc:dd:ee:ff) to and from bytes. */
final class Macs {
  private Macs() {}

  static byte[] parse(String mac) {
    String[] parts = mac.split(":", -1);
    if (parts.length != 6) {
      throw new IllegalArgumentException("not a MAC address (want aa:bb:cc:dd:ee:ff): " + mac);
    }
    byte[] b = new byte[6];
    for (int i = 0; i < 6; i++) {
      String p = parts[i];
      if (p.length() != 2 || Character.digit(p.charAt(0), 16) < 0 || Character.digit(p.charAt(1), 16) < 0) {
        throw new IllegalArgumentException("not a MAC address (want aa:bb:cc:dd:ee:ff): " + mac);
      }
      b[i] = (byte) Integer.parseInt(p, 16);
    }
    return b;
  }

  static String format(byte[] b) {
    if (b == null || b.length == 0) {
      return "";
    }
    StringBuilder sb = new StringBuilder(b.length * 3);
    for (int i = 0; i < b.length; i++) {
      if (i > 0) {
        sb.append(':');
      }
      sb.append(Character.forDigit((b[i] >> 4) & 0xf, 16)).append(Character.forDigit(b[i] & 0xf, 16));
    }
    return sb.toString();
  }

  /** Normalises to lowercase; throws IllegalArgumentException when malformed. */
  static String normalise(String mac) {
    return format(parse(mac));
  }

  static boolean isUnicast(String mac) {
    byte[] b = parse(mac);
    boolean zero = true;
    for (byte x : b) {
      zero &= x == 0;
    }
    return !zero && (b[0] & 1) == 0;
  }
}
