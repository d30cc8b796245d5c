package dev.tartan.cni.attach;

import dev.tartan.cni.CniException;
import dev.tartan.cni.attach.AttachProtocol.Answer;
import dev.tartan.cni.attach.AttachProtocol.ProtocolException;
import dev.tartan.cni.attach.AttachProtocol.Request;
import dev.tartan.cni.attach.AttachProtocol.UnsupportedVersionException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * The agent's attach socket: a root-only UNIX stream socket on which the {@code tartan-cni} front end hands
 * over a CNI call or a netavark plugin call ({@link AttachProtocol}) and the warm JVM runs it
 * ({@link AttachCalls}).
 *
 * <ul>
 *   <li>The socket file is bound under a temporary name, made 0600 and only then renamed into place; a
 *       missing parent directory is created 0700. A stale socket (nobody answers) is replaced; a live one
 *       (another agent) or a file that is not a socket is left alone and {@link #start} fails.
 *   <li>Each peer's credentials are read with {@code SO_PEERCRED}; a caller that is not root gets an error
 *       answer and nothing runs.
 *   <li>At most {@code workers} calls run at once and {@code queue} more wait; beyond that the caller is told
 *       to fall back to the standalone plugin. Reading a request (and the go-ahead) is bounded by
 *       {@link #READ_TIMEOUT_MILLIS}; a malformed request gets an error answer.
 * </ul>
 */
public final class AttachServer implements AutoCloseable {
  /** The default socket path ({@code --attach-socket}). */
  public static final String DEFAULT_SOCKET = "/run/tartan/attach.sock";
  /** How long a caller may take to send its request, and then its go-ahead. */
  static final long READ_TIMEOUT_MILLIS = 10_000;
  public static final int DEFAULT_WORKERS = 4;
  public static final int DEFAULT_QUEUE = 32;

  /** Where the server's few log lines go (the agent passes its logger; the cni module has no logging library). */
  public interface Log {
    void info(String line);

    void warn(String line);
  }

  private final Path socket;
  private final ServerSocketChannel server;
  private final Path boundPath;
  private final Object fileKey;
  private final UserPrincipal allowed;
  private final Handler handler;
  private final Log log;
  private final ThreadPoolExecutor workers;
  private final ScheduledThreadPoolExecutor timer;
  private final Thread acceptor;
  private final AtomicLong served = new AtomicLong();
  private volatile boolean closed;

  /** Runs one request; never throws (a failure is an answer). */
  public interface Handler {
    Answer handle(Request request);

    /**
     * Why the request goes back to the caller's standalone executable (a subcommand without a handler), or null
     * to accept it; asked before the acceptance frame, so the caller falls back without a broken answer.
     */
    default String fallBackReason(Request request) {
      return null;
    }
  }

  private AttachServer(Path socket, ServerSocketChannel server, Path boundPath, Object fileKey, UserPrincipal allowed,
      Handler handler, Log log, int workers, int queue) {
    this.socket = socket;
    this.server = server;
    this.boundPath = boundPath;
    this.fileKey = fileKey;
    this.allowed = allowed;
    this.handler = handler;
    this.log = log;
    this.workers = new ThreadPoolExecutor(workers, workers, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(queue),
        threads("tartan-attach-"));
    this.workers.allowCoreThreadTimeOut(true);
    this.timer = new ScheduledThreadPoolExecutor(1, threads("tartan-attach-timer-"));
    this.timer.setKeepAliveTime(30, TimeUnit.SECONDS);
    this.timer.allowCoreThreadTimeOut(true);
    this.timer.setRemoveOnCancelPolicy(true);
    this.acceptor = threads("tartan-attach-accept-").newThread(this::acceptLoop);
  }

  /** Serves CNI and netavark plugin calls ({@link AttachCalls}) for root callers on {@code socket}. */
  public static AttachServer start(Path socket, Log log) throws IOException {
    return start(socket, new AttachCalls(), log);
  }

  /** Serves {@code calls} for root callers on {@code socket}. */
  public static AttachServer start(Path socket, AttachCalls calls, Log log) throws IOException {
    return start(socket, calls, log, DEFAULT_WORKERS, DEFAULT_QUEUE, "root");
  }

  /**
   * Binds {@code socket} and starts accepting.
   *
   * @param allowedUser the only user allowed to call ({@code "root"} outside tests)
   * @throws IOException when the socket cannot be bound, or another process serves it
   */
  public static AttachServer start(Path socket, Handler handler, Log log, int workers, int queue, String allowedUser)
      throws IOException {
    Objects.requireNonNull(handler, "handler");
    Objects.requireNonNull(log, "log");
    socket = socket.toAbsolutePath();
    UserPrincipal allowed = socket.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(allowedUser);
    Path dir = socket.getParent();
    if (!Files.isDirectory(dir)) {
      try {
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      } catch (FileAlreadyExistsException raced) {
        // made by someone else meanwhile: use it as it is
      }
    }
    if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
      if (!Files.readAttributes(socket, java.nio.file.attribute.BasicFileAttributes.class,
          LinkOption.NOFOLLOW_LINKS).isOther()) {
        throw new IOException(socket + " exists and is not a socket; remove it or choose another --attach-socket");
      }
      if (answers(socket)) {
        throw new IOException(socket + " is served by another process (another agent?); stop it or choose another"
            + " --attach-socket");
      }
      Files.deleteIfExists(socket); // left by an agent that stopped
    }
    // Bound under a temporary name and made 0600 before it appears under its real one: no window in which
    // another user could connect.
    Path tmp = dir.resolve("." + socket.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
    Files.deleteIfExists(tmp);
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      server.bind(UnixDomainSocketAddress.of(tmp), 64);
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
      Files.move(tmp, socket, StandardCopyOption.ATOMIC_MOVE);
      Object key = Files.readAttributes(socket, java.nio.file.attribute.BasicFileAttributes.class,
          LinkOption.NOFOLLOW_LINKS).fileKey();
      AttachServer s = new AttachServer(socket, server, tmp, key, allowed, handler, log, workers, queue);
      s.acceptor.start();
      return s;
    } catch (IOException | RuntimeException e) {
      server.close();
      Files.deleteIfExists(tmp);
      throw e;
    }
  }

  /**
   * {@code java -cp tartan-cni.jar dev.tartan.cni.attach.AttachServer SOCKET}: serves CNI and netavark calls on
   * SOCKET until killed, without an agent (benchmarks and trials; the agent serves {@code --attach-socket} itself).
   */
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: java -cp tartan-cni.jar dev.tartan.cni.attach.AttachServer SOCKET");
      System.exit(2);
    }
    Log stderr = new Log() {
      @Override
      public void info(String line) {
        System.err.println(line);
      }

      @Override
      public void warn(String line) {
        System.err.println(line);
      }
    };
    AttachServer s = start(Path.of(args[0]), stderr);
    Runtime.getRuntime().addShutdownHook(new Thread(s::close));
    System.err.println("serving CNI calls on " + s.socket());
    Thread.currentThread().join();
  }

  public Path socket() {
    return socket;
  }

  /** Requests answered so far (any outcome). */
  public long served() {
    return served.get();
  }

  private static boolean answers(Path socket) {
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private void acceptLoop() {
    boolean failing = false;
    while (!closed) {
      SocketChannel ch;
      try {
        ch = server.accept();
        if (failing) {
          log.info("attach socket " + socket + ": accepting calls again");
          failing = false;
        }
      } catch (java.nio.channels.ClosedChannelException e) {
        return;
      } catch (IOException e) {
        if (closed) {
          return;
        }
        if (!failing) { // e.g. out of file descriptors: callers time out and fall back meanwhile
          log.warn("attach socket " + socket + ": accept failed, retrying: " + e.getMessage());
          failing = true;
        }
        try {
          Thread.sleep(100);
        } catch (InterruptedException stop) {
          return;
        }
        continue;
      }
      String refusal = refusal(ch);
      try {
        workers.execute(() -> serve(ch, refusal));
      } catch (RejectedExecutionException e) {
        reply(ch, Answer.fallBack(closed ? "the agent is stopping" : "the agent is busy ("
            + workers.getActiveCount() + " calls running, " + workers.getQueue().size() + " waiting)"));
        served.incrementAndGet();
      }
    }
  }

  /** Null when the peer may call, else why not (SO_PEERCRED). */
  private String refusal(SocketChannel ch) {
    UnixDomainPrincipal peer;
    try {
      peer = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
    } catch (IOException | UnsupportedOperationException e) {
      return "the caller's credentials cannot be read (" + e + "): refused";
    }
    if (peer == null || !allowed.equals(peer.user())) {
      String who = peer == null ? "unknown" : peer.user().getName();
      log.warn("attach socket " + socket + ": refused a call from user " + who + " (only " + allowed.getName()
          + " may attach)");
      return "the tartan agent's attach socket serves " + allowed.getName() + " only; this caller runs as user "
          + who;
    }
    return null;
  }

  /** Reads the request (also a refused caller's: it reads the answer only after writing), answers it. */
  private void serve(SocketChannel ch, String refusal) {
    Answer answer;
    // buffered: a request is ~20 small frames, each header and payload otherwise one read(2) of its own; every
    // read of this call (request, go-ahead, drain) goes through this one stream, so nothing read ahead is lost
    InputStream in = new BufferedInputStream(Channels.newInputStream(ch), 8192);
    ScheduledFuture<?> deadline;
    try {
      deadline = timer.schedule(() -> closeQuietly(ch), READ_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException stopping) { // closed meanwhile: the caller reports the agent stopped
      closeQuietly(ch);
      served.incrementAndGet();
      return;
    }
    try {
      Request request;
      try {
        request = AttachProtocol.readRequest(in);
      } catch (UnsupportedVersionException e) {
        replyAndDrain(ch, in, Answer.fallBack(e.getMessage()));
        return;
      } catch (ProtocolException e) {
        replyAndDrain(ch, in, error(CniException.ATTACH_REFUSED, refusal != null ? refusal
            : "malformed attach request: " + e.getMessage()));
        return;
      } catch (IOException e) {
        closeQuietly(ch); // cut short, or too slow: nobody is waiting for an answer
        return;
      }
      if (refusal != null) {
        reply(ch, error(request, CniException.ATTACH_REFUSED, refusal));
        return;
      }
      String elsewhere = handler.fallBackReason(request);
      if (elsewhere != null) {
        reply(ch, Answer.fallBack(elsewhere));
        return;
      }
      try {
        write(ch, concat(AttachProtocol.answerHeader(), AttachProtocol.frame(AttachProtocol.ACCEPTED, new byte[0])));
        AttachProtocol.readGo(in);
      } catch (IOException e) {
        closeQuietly(ch); // the front end gave up waiting and runs the standalone plugin
        return;
      }
      deadline.cancel(false);
      try {
        answer = handler.handle(request);
      } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
        log.warn("attach socket " + socket + ": a call failed inside the agent: " + e);
        answer = error(request, CniException.INTERNAL, "internal error in the tartan agent while handling the call: "
            + e);
      }
      try {
        write(ch, AttachProtocol.answerBody(answer));
      } catch (IOException e) {
        log.warn("attach socket " + socket + ": the caller left before the answer (" + e.getMessage() + ")");
      }
      closeQuietly(ch);
    } finally {
      deadline.cancel(false);
      served.incrementAndGet();
    }
  }

  /** A complete answer (header and body) to a request that was not accepted; the channel is closed after. */
  private void reply(SocketChannel ch, Answer a) {
    try {
      write(ch, concat(AttachProtocol.answerHeader(), AttachProtocol.answerBody(a)));
    } catch (IOException e) {
      // the caller is gone
    } finally {
      closeQuietly(ch);
    }
  }

  /**
   * Answers a request that was not read to its end, then reads (and drops) the rest until the caller closes or
   * the read deadline passes: closing with unread input would reset the connection, and the caller could lose
   * the answer.
   */
  private void replyAndDrain(SocketChannel ch, InputStream in, Answer a) {
    try {
      write(ch, concat(AttachProtocol.answerHeader(), AttachProtocol.answerBody(a)));
      ch.shutdownOutput();
      byte[] sink = new byte[8192];
      long budget = 2L * AttachProtocol.MAX_STDIN;
      for (int n; budget > 0 && (n = in.read(sink)) >= 0; ) {
        budget -= n;
      }
    } catch (IOException e) {
      // the caller is gone, or the deadline closed the channel
    } finally {
      closeQuietly(ch);
    }
  }

  /** An error in the shape the caller's runtime reads: netavark's for a netavark call, else CNI's. */
  static Answer error(Request request, int code, String msg) {
    if (!request.args().isEmpty()) {
      byte[] json = (dev.tartan.cni.json.Json.write(java.util.Map.of("error", "tartan: " + msg)) + "\n")
          .getBytes(StandardCharsets.UTF_8);
      return Answer.exit(1, json, new byte[0]);
    }
    return error(code, msg);
  }

  static Answer error(int code, String msg) {
    byte[] json = new CniException(code, msg, "").toJson("1.1.0")
        .getBytes(StandardCharsets.UTF_8);
    return Answer.exit(1, json, new byte[0]);
  }

  private static void write(SocketChannel ch, byte[] b) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(b);
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  private static void closeQuietly(SocketChannel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      // nothing left to do
    }
  }

  private static ThreadFactory threads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(null, r, prefix + n.incrementAndGet(), 512 << 10);
      t.setDaemon(true);
      return t;
    };
  }

  /**
   * Stops accepting and removes the socket file (if it is still this server's); calls running finish in the
   * background, callers waiting in the queue are dropped (their front end reports the agent stopped).
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      server.close();
    } catch (IOException e) {
      // closing anyway
    }
    try {
      Object key = Files.readAttributes(socket, java.nio.file.attribute.BasicFileAttributes.class,
          LinkOption.NOFOLLOW_LINKS).fileKey();
      if (Objects.equals(key, fileKey)) {
        Files.deleteIfExists(socket);
      }
    } catch (IOException e) {
      // gone already
    }
    try {
      Files.deleteIfExists(boundPath);
    } catch (IOException e) {
      // never there after the rename
    }
    workers.shutdown();
    timer.shutdownNow();
  }
}
