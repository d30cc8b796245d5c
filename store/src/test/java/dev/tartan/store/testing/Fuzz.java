package dev.tartan.store.testing;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * A small fixed-seed fuzz harness for text parsers (JUnit-integrated, no extra dependency): each
 * run feeds the seeds, then {@code tries} mutants of them (1 to 3 stacked edits aimed at parsers:
 * structural characters, numbers at type limits, control characters, lone surrogates, truncation,
 * duplication, deep nesting, growth), then random strings; and a few 1 MiB and deeply nested inputs. A parser may return or throw
 * one of its documented exception types; anything else (another exception, an Error such as
 * StackOverflowError or OutOfMemoryError) fails with the input that caused it. Hangs are caught
 * by the caller's {@code @Timeout}. The same seed gives the same inputs on every run.
 */
public final class Fuzz {
  /** The seed every parser test uses unless it says otherwise. */
  public static final long SEED = 0x7a27a2_0008L;

  static final String[] TOKENS = {
      "{", "}", "[", "]", "\"", "\\", ":", ",", "null", "true", "false", "-0", "0", "1e999", "-1e-999",
      "99999999999999999999", "4294967296", "2147483648", "-2147483649", "65536", "NaN", "Infinity", "0x10",
      "/", "//", "/33", "/-1", "..", "256.0.0.1", "0.0.0.0", "255.255.255.255", "10.244.1.0/24", "\u0000",
      "\\u0000", "\\ud800", "\ud800", "\uffff", "\u2028", "é", "\uD83D\uDCA5", " ", "\t", "\n", "\r\n", "=", "#",
      "export ", "'", "${x}", "%s", "-", "+", "e", "E", ".", "::", "fe80::1", "\"PublicIP\"", "\"Network\"",
      "\"Backend\"", "\"VtepMAC\"", "\"VNI\"", "FLANNEL_SUBNET=", "FLANNEL_NETWORK=", "FLANNEL_MTU=",
      "FLANNEL_IPMASQ=", "\"cniVersion\"", "\"1.1.0\"", "\"delegate\"", "\"ipam\""};

  private final Random rnd;

  public Fuzz(long seed) {
    this.rnd = new Random(seed);
  }

  /** What a parser under test does with one input. */
  @FunctionalInterface
  public interface Target {
    void accept(String input) throws Exception;
  }

  /**
   * Runs {@code target} on the seeds, {@code tries} mutants and {@code tries / 4} random strings.
   *
   * @param expected the exception types the parser documents (and their subclasses)
   * @return how many inputs were accepted without an exception (for a sanity check by the caller)
   */
  @SafeVarargs
  public static int run(String name, List<String> seeds, int tries, Target target,
      Class<? extends Throwable>... expected) {
    Fuzz f = new Fuzz(SEED ^ name.hashCode());
    int accepted = 0;
    List<String> inputs = new ArrayList<>(seeds);
    inputs.addAll(hostileShapes());
    for (String s : inputs) {
      accepted += f.check(name, s, target, expected) ? 1 : 0;
    }
    for (int i = 0; i < tries; i++) {
      String s = seeds.get(f.rnd.nextInt(seeds.size()));
      for (int k = 0, n = 1 + f.rnd.nextInt(3); k < n; k++) {
        s = f.mutate(s);
      }
      accepted += f.check(name, s, target, expected) ? 1 : 0;
    }
    for (int i = 0; i < tries / 4; i++) {
      accepted += f.check(name, f.randomText(f.rnd.nextInt(120)), target, expected) ? 1 : 0;
    }
    return accepted;
  }

  /** Inputs no mutation reaches quickly: empty, huge, deeply nested. */
  public static List<String> hostileShapes() {
    return List.of("", " ", "\n", "\u0000", "[".repeat(100_000), "{\"a\":".repeat(50_000),
        "[{\"a\":".repeat(20_000), "\"" + "x".repeat(1 << 20) + "\"", "9".repeat(100_000),
        "{\"BackendData\":" + "[".repeat(10_000) + "]".repeat(10_000) + "}",
        "FLANNEL_SUBNET=" + "1".repeat(1 << 20) + "\n", "=\n".repeat(100_000));
  }

  private boolean check(String name, String input, Target target, Class<? extends Throwable>[] expected) {
    try {
      target.accept(input);
      return true;
    } catch (Throwable t) {
      for (Class<? extends Throwable> c : expected) {
        if (c.isInstance(t)) {
          return false;
        }
      }
      throw new AssertionError(name + " failed with " + t.getClass().getName() + " (expected "
          + Arrays.stream(expected).map(Class::getSimpleName).toList() + ") on input " + show(input), t);
    }
  }

  /** The input as a Java string literal, shortened. */
  public static String show(String s) {
    StringBuilder b = new StringBuilder("\"");
    String head = s.length() > 300 ? s.substring(0, 300) : s;
    for (char c : head.toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20 || c > 0x7e) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    b.append('"');
    if (s.length() > 300) {
      b.append("... (").append(s.length()).append(" chars)");
    }
    return b.toString();
  }

  /** One random edit of {@code s}. */
  public String mutate(String s) {
    int n = s.length();
    switch (rnd.nextInt(9)) {
      case 0: { // replace a char
        if (n == 0) {
          return token();
        }
        int i = rnd.nextInt(n);
        return s.substring(0, i) + token().charAt(0) + s.substring(i + 1);
      }
      case 1: { // delete a range
        if (n == 0) {
          return s;
        }
        int i = rnd.nextInt(n);
        int j = Math.min(n, i + 1 + rnd.nextInt(8));
        return s.substring(0, i) + s.substring(j);
      }
      case 2: { // duplicate a range
        if (n == 0) {
          return s;
        }
        int i = rnd.nextInt(n);
        int j = Math.min(n, i + 1 + rnd.nextInt(16));
        return s.substring(0, j) + s.substring(i, j) + s.substring(j);
      }
      case 3: { // insert a token
        int i = rnd.nextInt(n + 1);
        return s.substring(0, i) + token() + s.substring(i);
      }
      case 4: // truncate
        return s.substring(0, rnd.nextInt(n + 1));
      case 5: { // replace the number or word around a random position by a token
        if (n == 0) {
          return token();
        }
        int from = rnd.nextInt(n);
        int to = from;
        while (from > 0 && wordChar(s.charAt(from - 1))) {
          from--;
        }
        while (to < n && wordChar(s.charAt(to))) {
          to++;
        }
        return s.substring(0, from) + token() + s.substring(Math.max(to, from + 1));
      }
      case 6: { // nest
        int depth = 1 + rnd.nextInt(rnd.nextInt(10) == 0 ? 2000 : 4);
        return rnd.nextBoolean() ? "[".repeat(depth) + s + "]".repeat(depth)
            : "{\"a\":".repeat(depth) + s + "}".repeat(depth);
      }
      case 7: { // flip the case of a char
        if (n == 0) {
          return s;
        }
        int i = rnd.nextInt(n);
        char c = s.charAt(i);
        char d = Character.isUpperCase(c) ? Character.toLowerCase(c) : Character.toUpperCase(c);
        return s.substring(0, i) + d + s.substring(i + 1);
      }
      default: { // grow: repeat the input (capped near 64 KiB; hostileShapes has 1 MiB ones)
        if (n == 0 || n > (1 << 15)) {
          return s;
        }
        return s.repeat(1 + rnd.nextInt(Math.max(1, Math.min(64, (1 << 16) / n))));
      }
    }
  }

  private static boolean wordChar(char c) {
    return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.';
  }

  private String token() {
    return TOKENS[rnd.nextInt(TOKENS.length)];
  }

  /** Random text of structural characters, digits, letters and the tokens. */
  public String randomText(int parts) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < parts; i++) {
      if (rnd.nextInt(3) == 0) {
        b.append(token());
      } else {
        b.append((char) (rnd.nextInt(4) == 0 ? rnd.nextInt(0x3000) : 0x20 + rnd.nextInt(0x5f)));
      }
    }
    return b.toString();
  }

  public Random random() {
    return rnd;
  }
}
