package dev.tartan.cni.json;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small, strict JSON reader and writer for the CNI plugin, which must start fast and so carries no
 * library (Jackson alone costs 200-280 ms of cold start, see java-stack.md §5).
 *
 * <p>{@link #parse} maps objects to {@link LinkedHashMap} (key order kept; a repeated key keeps its first
 * position and its last value, as Go's decoder keeps the last), arrays to {@link ArrayList}, strings to
 * {@link String}, integers that fit to {@link Long}, other numbers to {@link Double}, {@code true}/{@code
 * false} to {@link Boolean} and {@code null} to {@code null}. It accepts RFC 8259 only: no comments, no
 * trailing commas, no leading zeros, no control characters in strings, nothing after the value.
 *
 * <p>The writers emit what Go's {@code encoding/json} emits for the same values, so files and results
 * read the same as flannel's: {@code <}, {@code >}, {@code &}, U+2028 and U+2029 escaped, floats in Go's
 * shortest form ({@code 1472}, {@code 0.5}, {@code 1e+21}).
 */
public final class Json {
  /** Deepest nesting {@link #parse} accepts. CNI configs and results nest about 5 levels. */
  public static final int MAX_DEPTH = 64;
  /** Longest text {@link #parse} accepts, in chars. */
  public static final int MAX_LENGTH = 4 << 20;

  private Json() {}

  /** Parses one JSON value; see the class comment for the Java types. */
  public static Object parse(String text) throws JsonException {
    if (text.length() > MAX_LENGTH) {
      throw new JsonException("JSON text is " + text.length() + " chars long, more than the limit of "
          + MAX_LENGTH, MAX_LENGTH);
    }
    Reader r = new Reader(text);
    r.skipSpace();
    Object value = r.value(0);
    r.skipSpace();
    if (r.pos < text.length()) {
      throw r.error("unexpected " + r.describe(r.pos) + " after the JSON value");
    }
    return value;
  }

  /** Parses a JSON object. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> parseObject(String text) throws JsonException {
    Object value = parse(text);
    if (!(value instanceof Map)) {
      throw new JsonException("expected a JSON object, got " + typeName(value), 0);
    }
    return (Map<String, Object>) value;
  }

  /** Compact JSON with object keys in their map's iteration order. */
  public static String write(Object value) {
    StringBuilder sb = new StringBuilder(256);
    new Writer(sb, false, null).value(value, 0);
    return sb.toString();
  }

  /**
   * Compact JSON with the keys of every map sorted by code point, as Go marshals a {@code
   * map[string]interface{}}; {@link JsonStruct} objects keep their order, as Go structs do.
   */
  public static String writeSorted(Object value) {
    StringBuilder sb = new StringBuilder(256);
    new Writer(sb, true, null).value(value, 0);
    return sb.toString();
  }

  /** JSON indented by four spaces with keys in iteration order, as Go's {@code MarshalIndent(v, "", "    ")}. */
  public static String writeIndented(Object value) {
    StringBuilder sb = new StringBuilder(512);
    new Writer(sb, false, "    ").value(value, 0);
    return sb.toString();
  }

  /** A short name of a parsed value's JSON type, for error messages. */
  public static String typeName(Object value) {
    if (value == null) {
      return "null";
    } else if (value instanceof String) {
      return "a string";
    } else if (value instanceof Boolean) {
      return "a boolean";
    } else if (value instanceof Number) {
      return "a number";
    } else if (value instanceof Map) {
      return "an object";
    } else if (value instanceof List) {
      return "an array";
    }
    return value.getClass().getSimpleName();
  }

  /** Formats a double the way Go's encoding/json does (shortest repr, 'e' form outside [1e-6, 1e21)). */
  static String goFloat(double d) {
    if (Double.isNaN(d) || Double.isInfinite(d)) {
      throw new IllegalArgumentException("JSON has no representation for " + d);
    }
    if (d == 0) {
      return (1 / d < 0) ? "-0" : "0";
    }
    BigDecimal bd = new BigDecimal(Double.toString(d)).stripTrailingZeros();
    double abs = Math.abs(d);
    if (abs >= 1e-6 && abs < 1e21) {
      return bd.toPlainString();
    }
    String digits = bd.unscaledValue().abs().toString();
    int exponent = digits.length() - 1 - bd.scale();
    StringBuilder sb = new StringBuilder(24);
    if (d < 0) {
      sb.append('-');
    }
    sb.append(digits.charAt(0));
    if (digits.length() > 1) {
      sb.append('.').append(digits, 1, digits.length());
    }
    sb.append('e').append(exponent < 0 ? '-' : '+');
    sb.append(Math.abs(exponent)); // Go pads to two digits, then trims "e-07" to "e-7"; |exponent| >= 7 here
    return sb.toString();
  }

  private static final class Reader {
    final String s;
    int pos;

    Reader(String s) {
      this.s = s;
    }

    void skipSpace() {
      while (pos < s.length()) {
        char c = s.charAt(pos);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
          pos++;
        } else {
          return;
        }
      }
    }

    Object value(int depth) throws JsonException {
      if (pos >= s.length()) {
        throw error("unexpected end of JSON input");
      }
      char c = s.charAt(pos);
      switch (c) {
        case '{':
          return object(depth + 1);
        case '[':
          return array(depth + 1);
        case '"':
          return string();
        case 't':
          literal("true");
          return Boolean.TRUE;
        case 'f':
          literal("false");
          return Boolean.FALSE;
        case 'n':
          literal("null");
          return null;
        default:
          if (c == '-' || (c >= '0' && c <= '9')) {
            return number();
          }
          throw error("unexpected " + describe(pos) + ", expected a JSON value");
      }
    }

    private Map<String, Object> object(int depth) throws JsonException {
      checkDepth(depth);
      pos++;
      Map<String, Object> map = new LinkedHashMap<>();
      skipSpace();
      if (peek() == '}') {
        pos++;
        return map;
      }
      while (true) {
        skipSpace();
        if (peek() != '"') {
          throw error("unexpected " + describe(pos) + ", expected a string key");
        }
        String key = string();
        skipSpace();
        if (peek() != ':') {
          throw error("unexpected " + describe(pos) + ", expected ':' after key \"" + key + "\"");
        }
        pos++;
        skipSpace();
        map.put(key, value(depth));
        skipSpace();
        char c = peek();
        pos++;
        if (c == '}') {
          return map;
        } else if (c != ',') {
          pos--;
          throw error("unexpected " + describe(pos) + ", expected ',' or '}' in object");
        }
      }
    }

    private List<Object> array(int depth) throws JsonException {
      checkDepth(depth);
      pos++;
      List<Object> list = new ArrayList<>();
      skipSpace();
      if (peek() == ']') {
        pos++;
        return list;
      }
      while (true) {
        skipSpace();
        list.add(value(depth));
        skipSpace();
        char c = peek();
        pos++;
        if (c == ']') {
          return list;
        } else if (c != ',') {
          pos--;
          throw error("unexpected " + describe(pos) + ", expected ',' or ']' in array");
        }
      }
    }

    private void checkDepth(int depth) throws JsonException {
      if (depth > MAX_DEPTH) {
        throw error("JSON nests deeper than " + MAX_DEPTH + " levels");
      }
    }

    private String string() throws JsonException {
      int start = ++pos;
      StringBuilder sb = null;
      while (true) {
        if (pos >= s.length()) {
          pos = start - 1;
          throw error("unterminated string");
        }
        char c = s.charAt(pos);
        if (c == '"') {
          String out = sb == null ? s.substring(start, pos) : sb.append(s, start, pos).toString();
          pos++;
          return out;
        } else if (c < 0x20) {
          throw error("control character " + hex4(c) + " in string; it must be escaped");
        } else if (c == '\\') {
          if (sb == null) {
            sb = new StringBuilder(pos - start + 16);
          }
          sb.append(s, start, pos);
          sb.append(escape());
          start = pos;
        } else {
          pos++;
        }
      }
    }

    private char escape() throws JsonException {
      int at = pos;
      pos++;
      if (pos >= s.length()) {
        pos = at;
        throw error("unterminated escape sequence");
      }
      char e = s.charAt(pos++);
      switch (e) {
        case '"':
          return '"';
        case '\\':
          return '\\';
        case '/':
          return '/';
        case 'b':
          return '\b';
        case 'f':
          return '\f';
        case 'n':
          return '\n';
        case 'r':
          return '\r';
        case 't':
          return '\t';
        case 'u':
          if (pos + 4 > s.length()) {
            pos = at;
            throw error("incomplete \\u escape");
          }
          int v = 0;
          for (int i = 0; i < 4; i++) {
            int d = Character.digit(s.charAt(pos + i), 16);
            if (d < 0) {
              pos = at;
              throw error("invalid \\u escape \"" + s.substring(at, at + 6) + "\"");
            }
            v = v * 16 + d;
          }
          pos += 4;
          return (char) v;
        default:
          pos = at;
          throw error("invalid escape \"\\" + e + "\" in string");
      }
    }

    private Object number() throws JsonException {
      int start = pos;
      boolean integral = true;
      if (peek() == '-') {
        pos++;
      }
      if (peek() == '0') {
        pos++;
        if (isDigit(peek())) {
          throw error("number with a leading zero");
        }
      } else if (isDigit(peek())) {
        while (isDigit(peek())) {
          pos++;
        }
      } else {
        throw error("unexpected " + describe(pos) + " in number");
      }
      if (peek() == '.') {
        integral = false;
        pos++;
        if (!isDigit(peek())) {
          throw error("unexpected " + describe(pos) + " after decimal point in number");
        }
        while (isDigit(peek())) {
          pos++;
        }
      }
      if (peek() == 'e' || peek() == 'E') {
        integral = false;
        pos++;
        if (peek() == '+' || peek() == '-') {
          pos++;
        }
        if (!isDigit(peek())) {
          throw error("unexpected " + describe(pos) + " in exponent of number");
        }
        while (isDigit(peek())) {
          pos++;
        }
      }
      String text = s.substring(start, pos);
      if (integral && !text.equals("-0")) {
        try {
          return Long.parseLong(text);
        } catch (NumberFormatException tooBig) {
          // falls through to double, as Go's float64
        }
      }
      double d = Double.parseDouble(text);
      if (Double.isInfinite(d)) {
        pos = start;
        throw error("number " + text + " is out of range");
      }
      return d;
    }

    private void literal(String word) throws JsonException {
      if (!s.startsWith(word, pos)) {
        throw error("unexpected " + describe(pos) + ", expected a JSON value");
      }
      pos += word.length();
    }

    private char peek() {
      return pos < s.length() ? s.charAt(pos) : '\uffff';
    }

    private static boolean isDigit(char c) {
      return c >= '0' && c <= '9';
    }

    String describe(int at) {
      if (at >= s.length()) {
        return "end of input";
      }
      char c = s.charAt(at);
      if (c < 0x20 || c > 0x7e) {
        return "character " + hex4(c);
      }
      return "character '" + c + "'";
    }

    JsonException error(String what) {
      int line = 1;
      int col = 1;
      for (int i = 0; i < pos && i < s.length(); i++) {
        if (s.charAt(i) == '\n') {
          line++;
          col = 1;
        } else {
          col++;
        }
      }
      return new JsonException(what + " at line " + line + " column " + col + " (offset " + pos + ")", pos);
    }
  }

  private static String hex4(char c) {
    String h = Integer.toHexString(c);
    return "U+" + "0000".substring(h.length()) + h.toUpperCase(java.util.Locale.ROOT);
  }

  private static final class Writer {
    private static final char[] HEX = "0123456789abcdef".toCharArray();
    final StringBuilder sb;
    final boolean sorted;
    final String indent;

    Writer(StringBuilder sb, boolean sorted, String indent) {
      this.sb = sb;
      this.sorted = sorted;
      this.indent = indent;
    }

    void value(Object v, int level) {
      if (v == null) {
        sb.append("null");
      } else if (v instanceof String) {
        string((String) v);
      } else if (v instanceof Boolean) {
        sb.append(((Boolean) v).booleanValue() ? "true" : "false");
      } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
        sb.append(((Number) v).longValue());
      } else if (v instanceof Double || v instanceof Float) {
        sb.append(goFloat(((Number) v).doubleValue()));
      } else if (v instanceof Map) {
        object((Map<?, ?>) v, level);
      } else if (v instanceof List) {
        array((List<?>) v, level);
      } else if (v instanceof Object[]) {
        array(Arrays.asList((Object[]) v), level);
      } else {
        throw new IllegalArgumentException("cannot write " + v.getClass().getName() + " as JSON");
      }
    }

    private void object(Map<?, ?> map, int level) {
      if (map.isEmpty()) {
        sb.append("{}");
        return;
      }
      Object[] keys = map.keySet().toArray();
      if (sorted && !(map instanceof JsonStruct)) {
        sortByCodePoint(keys);
      }
      sb.append('{');
      for (int i = 0; i < keys.length; i++) {
        if (i > 0) {
          sb.append(',');
        }
        newline(level + 1);
        string((String) keys[i]);
        sb.append(indent == null ? ":" : ": ");
        value(map.get(keys[i]), level + 1);
      }
      newline(level);
      sb.append('}');
    }

    private void array(List<?> list, int level) {
      if (list.isEmpty()) {
        sb.append("[]");
        return;
      }
      sb.append('[');
      for (int i = 0; i < list.size(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        newline(level + 1);
        value(list.get(i), level + 1);
      }
      newline(level);
      sb.append(']');
    }

    private void newline(int level) {
      if (indent != null) {
        sb.append('\n');
        for (int i = 0; i < level; i++) {
          sb.append(indent);
        }
      }
    }

    private void string(String s) {
      sb.append('"');
      int n = s.length();
      for (int i = 0; i < n; i++) {
        char c = s.charAt(i);
        switch (c) {
          case '"':
            sb.append("\\\"");
            break;
          case '\\':
            sb.append("\\\\");
            break;
          case '\n':
            sb.append("\\n");
            break;
          case '\r':
            sb.append("\\r");
            break;
          case '\t':
            sb.append("\\t");
            break;
          case '\b':
            sb.append("\\b");
            break;
          case '\f':
            sb.append("\\f");
            break;
          case '<':
          case '>':
          case '&':
          case '\u2028':
          case '\u2029':
            unicodeEscape(c);
            break;
          default:
            if (c < 0x20) {
              unicodeEscape(c);
            } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
              sb.append(c).append(s.charAt(++i));
            } else if (Character.isSurrogate(c)) {
              sb.append("\\ufffd"); // a lone surrogate is invalid UTF-8; Go writes U+FFFD
            } else {
              sb.append(c);
            }
        }
      }
      sb.append('"');
    }

    private void unicodeEscape(char c) {
      sb.append("\\u").append(HEX[(c >> 12) & 15]).append(HEX[(c >> 8) & 15]).append(HEX[(c >> 4) & 15])
          .append(HEX[c & 15]);
    }

    /** Insertion sort by code point (= UTF-8 byte order, Go's map key order); maps are small. */
    private static void sortByCodePoint(Object[] keys) {
      for (int i = 1; i < keys.length; i++) {
        Object k = keys[i];
        int j = i - 1;
        while (j >= 0 && compareCodePoints((String) keys[j], (String) k) > 0) {
          keys[j + 1] = keys[j];
          j--;
        }
        keys[j + 1] = k;
      }
    }
  }

  static int compareCodePoints(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      int ca = a.codePointAt(i);
      int cb = b.codePointAt(j);
      if (ca != cb) {
        return Integer.compare(ca, cb);
      }
      i += Character.charCount(ca);
      j += Character.charCount(cb);
    }
    return Integer.compare(a.length() - i, b.length() - j);
  }
}
