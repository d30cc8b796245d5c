package dev.tartan.cni.attach;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The attach protocol, version 1 (docs/attach-protocol.md): what the front end ({@code tartan-cni}, a C
 * program) and the agent's {@link AttachServer} exchange over the UNIX socket. Pure: streams in, records out.
 *
 * <pre>
 *   request  = "TCNI" version(1 byte) frame* 'Z'-frame          then, after the server's 'K': a 'G'-frame
 *   answer   = "TCNA" version(1 byte) ( 'K' | 'F' | 'O'? 'E'? 'X' ) ... 'Z'-frame
 *   frame    = type(1 byte) length(u32, big-endian) payload(length bytes)
 * </pre>
 */
public final class AttachProtocol {
  public static final byte[] REQUEST_MAGIC = {'T', 'C', 'N', 'I'};
  public static final byte[] ANSWER_MAGIC = {'T', 'C', 'N', 'A'};
  public static final int VERSION = 1;

  /** Request frames: an argument (a subcommand, for front ends that have one), {@code NAME=VALUE}, stdin, end. */
  public static final byte ARG = 'A';
  public static final byte ENV = 'V';
  public static final byte STDIN = 'I';
  public static final byte END = 'Z';
  /** Sent by the front end after {@link #ACCEPTED}: it will wait for the answer and not fall back. */
  public static final byte GO = 'G';

  /** Answer frames. */
  public static final byte ACCEPTED = 'K';
  public static final byte FALL_BACK = 'F';
  public static final byte STDOUT = 'O';
  public static final byte STDERR = 'E';
  public static final byte EXIT = 'X';

  public static final int MAX_ARGS = 16;
  public static final int MAX_ARG = 4 << 10;
  public static final int MAX_ENV = 64;
  public static final int MAX_ENV_ENTRY = 64 << 10;
  /** The plugin's own stdin limit (4 MiB) plus one byte, so that an oversized config gets the plugin's error. */
  public static final int MAX_STDIN = dev.tartan.cni.json.Json.MAX_LENGTH + 1;
  public static final int MAX_STDOUT = 16 << 20;
  public static final int MAX_STDERR = 1 << 20;

  private AttachProtocol() {}

  /** A request as read: arguments, environment (in order; a repeated name keeps its last value) and stdin. */
  public record Request(List<String> args, Map<String, String> env, byte[] stdin) {
    public Request {
      args = List.copyOf(args);
      env = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(env));
    }
  }

  /** What a handler answers: fall back (with a reason), or an exit status with stdout and stderr. */
  public record Answer(boolean fallBack, String reason, int exitCode, byte[] stdout, byte[] stderr) {
    public static Answer fallBack(String reason) {
      return new Answer(true, reason, 0, new byte[0], new byte[0]);
    }

    public static Answer exit(int exitCode, byte[] stdout, byte[] stderr) {
      return new Answer(false, "", exitCode, stdout, stderr);
    }
  }

  /** A request that breaks the protocol; the message says how. */
  public static class ProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    public ProtocolException(String message) {
      super(message);
    }
  }

  /** Thrown for a request of another protocol version: the front end is told to fall back. */
  public static final class UnsupportedVersionException extends ProtocolException {
    private static final long serialVersionUID = 1L;

    public UnsupportedVersionException(int version) {
      super("protocol version " + version + " is not supported (this agent speaks " + VERSION + ")");
    }
  }

  /** Reads one request up to and including its end frame. */
  public static Request readRequest(InputStream in) throws IOException {
    byte[] magic = readN(in, 4, "the magic");
    if (!java.util.Arrays.equals(magic, REQUEST_MAGIC)) {
      throw new ProtocolException("not an attach request (magic " + printable(magic) + ", expected TCNI)");
    }
    int version = readN(in, 1, "the version")[0] & 0xff;
    if (version != VERSION) {
      throw new UnsupportedVersionException(version);
    }
    List<String> args = new ArrayList<>();
    Map<String, String> env = new LinkedHashMap<>();
    byte[] stdin = null;
    while (true) {
      int type = readN(in, 1, "a frame type")[0];
      long length = u32(readN(in, 4, "a frame length"));
      switch (type) {
        case ARG:
          if (args.size() >= MAX_ARGS) {
            throw new ProtocolException("more than " + MAX_ARGS + " arguments");
          }
          args.add(text(readPayload(in, length, MAX_ARG, "an argument")));
          break;
        case ENV:
          if (env.size() >= MAX_ENV) {
            throw new ProtocolException("more than " + MAX_ENV + " environment entries");
          }
          String entry = text(readPayload(in, length, MAX_ENV_ENTRY, "an environment entry"));
          int eq = entry.indexOf('=');
          if (eq <= 0 || entry.indexOf('\0') >= 0) {
            throw new ProtocolException("environment entry is not NAME=VALUE");
          }
          env.put(entry.substring(0, eq), entry.substring(eq + 1));
          break;
        case STDIN:
          if (stdin != null) {
            throw new ProtocolException("two stdin frames");
          }
          stdin = readPayload(in, length, MAX_STDIN, "stdin");
          break;
        case END:
          if (length != 0) {
            throw new ProtocolException("end frame with a payload");
          }
          return new Request(args, env, stdin == null ? new byte[0] : stdin);
        default:
          throw new ProtocolException("unknown request frame type " + (type & 0xff));
      }
    }
  }

  /** Reads the front end's go-ahead after {@link #ACCEPTED}. */
  public static void readGo(InputStream in) throws IOException {
    int type = readN(in, 1, "the go-ahead")[0];
    long length = u32(readN(in, 4, "the go-ahead's length"));
    if (type != GO || length != 0) {
      throw new ProtocolException("expected the go-ahead frame G, got type " + (type & 0xff));
    }
  }

  /** The request as the front end writes it (tests and fuzzing use this; the C front end has its own). */
  public static byte[] request(List<String> args, Map<String, String> env, byte[] stdin) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(REQUEST_MAGIC);
    out.write(VERSION);
    for (String a : args) {
      frame(out, ARG, a.getBytes(StandardCharsets.UTF_8));
    }
    for (Map.Entry<String, String> e : env.entrySet()) {
      frame(out, ENV, (e.getKey() + "=" + e.getValue()).getBytes(StandardCharsets.UTF_8));
    }
    frame(out, STDIN, stdin);
    frame(out, END, new byte[0]);
    return out.toByteArray();
  }

  /** The header of every answer. */
  public static byte[] answerHeader() {
    return new byte[] {'T', 'C', 'N', 'A', (byte) VERSION};
  }

  /** One frame. */
  public static byte[] frame(byte type, byte[] payload) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(5 + payload.length);
    frame(out, type, payload);
    return out.toByteArray();
  }

  /** The frames of a final answer after the header: stdout, stderr, exit, end (or fall back, end). */
  public static byte[] answerBody(Answer a) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    if (a.fallBack()) {
      frame(out, FALL_BACK, a.reason().getBytes(StandardCharsets.UTF_8));
    } else {
      frame(out, STDOUT, a.stdout());
      frame(out, STDERR, a.stderr());
      frame(out, EXIT, new byte[] {(byte) (a.exitCode() >>> 24), (byte) (a.exitCode() >>> 16),
          (byte) (a.exitCode() >>> 8), (byte) a.exitCode()});
    }
    frame(out, END, new byte[0]);
    return out.toByteArray();
  }

  private static void frame(ByteArrayOutputStream out, byte type, byte[] payload) {
    out.write(type);
    int n = payload.length;
    out.write(n >>> 24);
    out.write(n >>> 16);
    out.write(n >>> 8);
    out.write(n);
    out.writeBytes(payload);
  }

  private static byte[] readPayload(InputStream in, long length, int max, String what) throws IOException {
    if (length > max) {
      throw new ProtocolException(what + " of " + length + " bytes is over the limit of " + max);
    }
    return readN(in, (int) length, what);
  }

  private static byte[] readN(InputStream in, int n, String what) throws IOException {
    byte[] b = in.readNBytes(n);
    if (b.length < n) {
      throw new EOFException("request cut short in " + what);
    }
    return b;
  }

  private static long u32(byte[] b) {
    return ((b[0] & 0xffL) << 24) | ((b[1] & 0xffL) << 16) | ((b[2] & 0xffL) << 8) | (b[3] & 0xffL);
  }

  private static String text(byte[] b) throws ProtocolException {
    java.nio.charset.CharsetDecoder d = StandardCharsets.UTF_8.newDecoder();
    try {
      return d.decode(java.nio.ByteBuffer.wrap(b)).toString();
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new ProtocolException("argument or environment entry is not UTF-8");
    }
  }

  private static String printable(byte[] b) {
    StringBuilder sb = new StringBuilder();
    for (byte x : b) {
      sb.append(x >= 0x20 && x < 0x7f ? String.valueOf((char) x) : String.format("\\x%02x", x & 0xff));
    }
    return sb.toString();
  }
}
