/*
 * tartan-cni: the CNI executable runtimes call (also installed as "flannel"). A thin front end: it hands the
 * call (CNI_* variables, the config on stdin) to the running Tartan agent over its attach socket
 * (docs/attach-protocol.md) and prints the agent's stdout and stderr, exiting with its status. The agent
 * runs the same plugin code in its warm JVM, so a call costs the delegates plus a few milliseconds.
 *
 * When the agent cannot take the call -- no socket, nobody listening, no permission, busy, an older protocol,
 * or no acceptance within TARTAN_ATTACH_TIMEOUT_MS (default 1000 ms) -- it runs the standalone plugin
 * instead: tartan-cni-java beside the real path of this executable (the JVM launcher), with the same
 * environment and the same stdin. Both share the plugin's saved configs and host-local's store, so a DEL
 * works whichever path did the ADD. Once the agent has accepted a call, its answer is final: if the agent
 * dies before answering, this prints error 104 (retry, or DEL) rather than running the call a second time.
 *
 * The socket is "attachSocket" of the network config, else /run/tartan/attach.sock; "attachSocket": ""
 * always runs the standalone plugin. With arguments (e.g. --create-cds) it runs the standalone launcher.
 *
 * The same program is podman 5's netavark plugin (/usr/libexec/netavark/tartan links to it): a first argument
 * that is not an option is a netavark subcommand. "setup NETNS", "teardown NETNS", "create" and "info" go to
 * the agent as argument frames with the config on stdin (read only for the first three) and the TARTAN_*
 * variables the plugin reads; the agent runs dev.tartan.cni.NetavarkPlugin in its JVM. The socket is
 * $TARTAN_ATTACH_SOCKET, else the default ("" = always standalone); the fallback is tartan-netavark-java beside
 * the real path of this executable, with the same arguments. This program's own errors are then netavark's
 * {"error": "..."} instead of CNI's error JSON.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/tartan/attach.sock"
#define STANDALONE "tartan-cni-java"
#define STANDALONE_NETAVARK "tartan-netavark-java"
#define VERSION 1
#define MAX_STDIN ((4u << 20) + 1u) /* the plugin's limit plus one byte: it reports an oversized config */
#define MAX_STDOUT (16u << 20)
#define MAX_STDERR (1u << 20)
#define MAX_ENV 64
#define MAX_ENV_ENTRY (64u << 10)
#define MAX_ARGS 16
#define MAX_ARG 4096
#define ANSWER_TIMEOUT_MS (300 * 1000) /* after acceptance: the agent bounds each delegate run itself */

extern char **environ;

struct buf {
  unsigned char *p;
  size_t len, cap;
};

static void die_oom(void) {
  fputs("tartan-cni: out of memory\n", stderr);
  _exit(1);
}

static void buf_add(struct buf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    unsigned char *q = realloc(b->p, cap);
    if (!q) die_oom();
    b->p = q;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
}

static void put_frame(struct buf *b, char type, const void *p, size_t n) {
  unsigned char h[5] = {(unsigned char)type, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                        (unsigned char)(n >> 8), (unsigned char)n};
  buf_add(b, h, 5);
  buf_add(b, p, n);
}

/* ------------------------------------------------------------------ the network config (stdin) */

#define BAD ((size_t)-1) /* a parse error: no index */

/* Skips JSON whitespace. */
static size_t ws(const unsigned char *s, size_t n, size_t i) {
  if (i == BAD) return BAD;
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

/* Skips a JSON string starting at s[i] == '"'; returns the index after its closing quote, or BAD. */
static size_t skip_string(const unsigned char *s, size_t n, size_t i) {
  for (i++; i < n; i++) {
    if (s[i] == '\\') i++;
    else if (s[i] == '"') return i + 1;
  }
  return BAD;
}

/* Skips any JSON value at s[i]; returns the index after it, or BAD. Nesting is bounded. */
static size_t skip_value(const unsigned char *s, size_t n, size_t i, int depth) {
  i = ws(s, n, i);
  if (i == BAD || i >= n || depth > 64) return BAD;
  if (s[i] == '"') return skip_string(s, n, i);
  if (s[i] == '{' || s[i] == '[') {
    unsigned char close = s[i] == '{' ? '}' : ']';
    i = ws(s, n, i + 1);
    if (i < n && s[i] == close) return i + 1;
    while (i < n) {
      if (close == '}') {
        if (s[i] != '"') return BAD;
        i = ws(s, n, skip_string(s, n, i));
        if (i == BAD || i >= n || s[i] != ':') return BAD;
        i++;
      }
      i = ws(s, n, skip_value(s, n, i, depth + 1));
      if (i == BAD || i >= n) return BAD;
      if (s[i] == close) return i + 1;
      if (s[i] != ',') return BAD;
      i = ws(s, n, i + 1);
    }
    return BAD;
  }
  size_t start = i;
  while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' && s[i] != '\t'
         && s[i] != '\r')
    i++;
  return i == start ? BAD : i;
}

/*
 * The string value of a top-level key of the config, unescaped (\" \\ \/ only; any other escape, a NUL, or a
 * value that is not a string counts as absent). Returns 1 and a malloc'd value when found. The runtime has
 * validated the config; a broken one is left to the plugin to report.
 */
static int top_level_string(const unsigned char *s, size_t n, const char *key, char **value) {
  size_t klen = strlen(key);
  size_t i = ws(s, n, 0);
  if (i >= n || s[i] != '{') return 0;
  i = ws(s, n, i + 1);
  while (i < n && s[i] == '"') {
    size_t kstart = i + 1, kend = skip_string(s, n, i);
    if (kend == BAD) return 0;
    int match = kend - 1 - kstart == klen && memcmp(s + kstart, key, klen) == 0;
    i = ws(s, n, kend);
    if (i >= n || s[i] != ':') return 0;
    i = ws(s, n, i + 1);
    if (match && i < n && s[i] == '"') {
      size_t vend = skip_string(s, n, i);
      if (vend == BAD) return 0;
      char *v = malloc(vend - i);
      if (!v) die_oom();
      size_t k = 0;
      for (size_t j = i + 1; j < vend - 1; j++) {
        if (s[j] == '\\') {
          j++;
          if (s[j] != '"' && s[j] != '\\' && s[j] != '/') {
            free(v);
            return 0;
          }
        }
        if (s[j] == 0) {
          free(v);
          return 0;
        }
        v[k++] = (char)s[j];
      }
      v[k] = 0;
      *value = v;
      return 1;
    }
    i = ws(s, n, skip_value(s, n, i, 0));
    if (i == BAD || i >= n || s[i] != ',') return 0;
    i = ws(s, n, i + 1);
  }
  return 0;
}

/* ------------------------------------------------------------------ errors and the standalone path */

static char cni_version[32] = "1.1.0";
static int netavark;              /* called as netavark's plugin (a subcommand argument) */
static const char *me = "tartan-cni"; /* the prefix of this program's own messages */

/*
 * Prints an error on stdout and exits 1: the CNI spec's error JSON, or netavark's {"error": "..."} (msg must
 * need no JSON escaping beyond what is done).
 */
static void fail(int code, const char *msg) {
  if (netavark) printf("{\"error\": \"");
  else printf("{\n    \"cniVersion\": \"%s\",\n    \"code\": %d,\n    \"msg\": \"", cni_version, code);
  for (const char *c = msg; *c; c++) {
    if (*c == '"' || *c == '\\') printf("\\%c", *c);
    else if ((unsigned char)*c < 0x20) printf("\\u%04x", *c);
    else putchar(*c);
  }
  printf(netavark ? "\"}\n" : "\"\n}\n");
  fflush(stdout);
  _exit(1);
}

/* Runs tartan-cni-java (or tartan-netavark-java) beside this executable's real path, stdin replayed from memory. */
static void standalone(char **argv, const struct buf *in, int replay) {
  char self[PATH_MAX], path[PATH_MAX + 32];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) fail(50, "tartan: cannot find its own path in /proc/self/exe to run the standalone plugin");
  self[n] = 0;
  char *slash = strrchr(self, '/');
  if (slash) *slash = 0;
  snprintf(path, sizeof path, "%s/%s", slash ? self : ".", netavark ? STANDALONE_NETAVARK : STANDALONE);
  if (replay) {
    int fd = memfd_create("tartan-cni-stdin", 0);
    if (fd < 0) fail(50, "tartan: memfd_create failed; cannot hand the config to the standalone plugin");
    size_t off = 0;
    while (off < in->len) {
      ssize_t w = write(fd, in->p + off, in->len - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail(50, "tartan: cannot buffer the config for the standalone plugin");
      off += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, 0) < 0) fail(50, "tartan: cannot replay stdin");
    close(fd);
  }
  argv[0] = path;
  execv(path, argv);
  char msg[PATH_MAX + 128];
  snprintf(msg, sizeof msg, "%s: the agent is not reachable and the standalone plugin %s cannot run: %s", me,
           path, strerror(errno));
  fail(50, msg);
}

/* ------------------------------------------------------------------ socket I/O */

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes; 1 ready, 0 timed out. */
static int wait_fd(int fd, short events, long long deadline) {
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0) return 0;
    struct pollfd p = {fd, events, 0};
    int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
    if (r > 0) return 1;
    if (r < 0 && errno != EINTR) return 1; /* the read or write reports the error */
  }
}

/* Writes all of b; 0 on success, -1 on error or timeout. */
static int send_all(int fd, const unsigned char *p, size_t n, long long deadline) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_fd(fd, POLLOUT, deadline)) return -1;
    } else {
      return -1;
    }
  }
  return 0;
}

/* Reads exactly n bytes; 1 done, 0 end of stream before n, -1 error, -2 timeout. */
static int recv_all(int fd, unsigned char *p, size_t n, long long deadline) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r > 0) {
      p += r;
      n -= (size_t)r;
    } else if (r == 0) {
      return 0;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_fd(fd, POLLIN, deadline)) return -2;
    } else {
      return -1;
    }
  }
  return 1;
}

/* ------------------------------------------------------------------ the answer */

struct answer {
  struct buf out, err;
  int have_out, have_err, have_exit;
  int exit_code;
};

enum { A_DONE, A_FALL_BACK, A_NOT_TAKEN, A_LOST, A_BAD, A_TIMEOUT };

/* What a failed read means: before acceptance nothing ran (fall back); after it, the outcome is unknown. */
static int cut(int accepted, int r) {
  if (accepted) return A_LOST;
  return r == -2 ? A_TIMEOUT : A_NOT_TAKEN;
}

/*
 * Reads the answer until its 'Z' frame. On 'K' (accepted) it sends the go-ahead 'G' and waits with the long
 * deadline. Returns A_DONE (complete), A_FALL_BACK ('F' before acceptance), A_NOT_TAKEN or A_TIMEOUT (cut
 * short or silent before acceptance: nothing ran), A_LOST (cut short after acceptance) or A_BAD (a protocol
 * violation; *why says which).
 */
static int read_answer(int fd, struct answer *a, long long accept_deadline, const char **why) {
  int accepted = 0;
  long long deadline = accept_deadline;
  unsigned char hdr[5];
  int r = recv_all(fd, hdr, 5, deadline);
  if (r != 1) return cut(0, r);
  if (memcmp(hdr, "TCNA", 4) != 0) {
    *why = "the attach socket answered something that is not an attach answer";
    return A_BAD;
  }
  if (hdr[4] != VERSION) {
    *why = "the agent answered in another attach protocol version";
    return A_BAD;
  }
  for (;;) {
    unsigned char fh[5];
    r = recv_all(fd, fh, 5, deadline);
    if (r != 1) return cut(accepted, r);
    uint32_t len = (uint32_t)fh[1] << 24 | (uint32_t)fh[2] << 16 | (uint32_t)fh[3] << 8 | fh[4];
    struct buf *target = NULL;
    size_t limit = 0;
    switch (fh[0]) {
      case 'K':
        if (accepted || a->have_out || a->have_err || a->have_exit || len != 0) {
          *why = "unexpected acceptance frame";
          return A_BAD;
        }
        {
          static const unsigned char go[5] = {'G', 0, 0, 0, 0};
          if (send_all(fd, go, 5, now_ms() + 1000) != 0) return A_NOT_TAKEN; /* it cannot have started */
        }
        accepted = 1;
        deadline = now_ms() + ANSWER_TIMEOUT_MS;
        continue;
      case 'F':
        /* also after 'K': an agent that accepted a call it has no handler for (attach protocol 1 before the
           netavark subcommands) ran nothing, so the standalone plugin may */
        if (a->have_out || a->have_err || a->have_exit || len > 4096) {
          *why = "unexpected fall-back frame";
          return A_BAD;
        }
        {
          unsigned char reason[4096 + 1];
          r = recv_all(fd, reason, len, deadline);
          if (r != 1) return cut(accepted, r);
          /* the end frame: without it a cut-short answer after 'K' leaves the outcome unknown */
          unsigned char z[5];
          if (accepted && (recv_all(fd, z, 5, deadline) != 1 || z[0] != 'Z')) return A_LOST;
          reason[len] = 0;
          for (uint32_t i = 0; i < len; i++)
            if (reason[i] < 0x20) reason[i] = ' ';
          fprintf(stderr, "%s: running the standalone plugin: %s\n", me, reason);
        }
        return A_FALL_BACK;
      case 'O':
        if (a->have_out || a->have_exit) break;
        a->have_out = 1;
        target = &a->out;
        limit = MAX_STDOUT;
        break;
      case 'E':
        if (a->have_err || a->have_exit) break;
        a->have_err = 1;
        target = &a->err;
        limit = MAX_STDERR;
        break;
      case 'X':
        if (a->have_exit || len != 4) break;
        {
          unsigned char c[4];
          r = recv_all(fd, c, 4, deadline);
          if (r != 1) return cut(accepted, r);
          uint32_t v = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
          if (v > 125) { /* 126 and up mean "cannot run" and signals: never a plugin's own status */
            *why = "exit status out of range";
            return A_BAD;
          }
          a->exit_code = (int)v;
          a->have_exit = 1;
        }
        continue;
      case 'Z':
        if (len != 0 || !a->have_exit) {
          *why = "answer ended without an exit status";
          return A_BAD;
        }
        return A_DONE;
      default:
        break;
    }
    if (!target) {
      *why = "unexpected or repeated frame in the answer";
      return A_BAD;
    }
    if (len > limit) {
      *why = "answer frame over its size limit";
      return A_BAD;
    }
    if (len) {
      if (target->cap < len) {
        unsigned char *q = realloc(target->p, len);
        if (!q) die_oom();
        target->p = q;
        target->cap = len;
      }
      r = recv_all(fd, target->p, len, deadline);
      if (r != 1) return cut(accepted, r);
      target->len = len;
    }
  }
}

static void write_all(int fd, const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

/* ------------------------------------------------------------------ main */

/* A netavark subcommand the agent serves: 1 reads stdin, 0 does not, -1 not one (the standalone plugin reports it). */
static int netavark_call(int argc, char **argv) {
  if (argc > MAX_ARGS + 1) return -1;
  for (int i = 1; i < argc; i++)
    if (strlen(argv[i]) > MAX_ARG) return -1;
  if (strcmp(argv[1], "info") == 0 && argc == 2) return 0;
  if (strcmp(argv[1], "create") == 0 && argc == 2) return 1;
  if ((strcmp(argv[1], "setup") == 0 || strcmp(argv[1], "teardown") == 0) && argc == 3) return 1;
  return -1;
}

/* The variables NetavarkPlugin reads besides its arguments (the agent ignores any others). */
static const char *const NETAVARK_ENV[] = {"TARTAN_SUBNET_FILE=", "TARTAN_CNI_DATA_DIR=", "TARTAN_CNI_PATH=",
                                           "TARTAN_CNI_NETWORK="};

static int forwarded(const char *e) {
  if (!netavark) return strncmp(e, "CNI_", 4) == 0 && strchr(e, '=') != NULL;
  for (size_t i = 0; i < sizeof NETAVARK_ENV / sizeof NETAVARK_ENV[0]; i++)
    if (strncmp(e, NETAVARK_ENV[i], strlen(NETAVARK_ENV[i])) == 0) return 1;
  return 0;
}

int main(int argc, char **argv) {
  int read_stdin = 1;
  if (argc > 1) {
    if (argv[1][0] == '-') standalone(argv, NULL, 0); /* --create-cds, --cds-training and the like */
    netavark = 1;
    me = "tartan";
    read_stdin = netavark_call(argc, argv);
    if (read_stdin < 0) standalone(argv, NULL, 0); /* a usage error: the standalone plugin says which */
  }

  struct buf in = {0};
  for (; read_stdin;) {
    if (in.cap - in.len < 65536) {
      size_t want = in.len + 65536;
      if (want > MAX_STDIN) want = MAX_STDIN;
      if (want > in.cap) {
        unsigned char *q = realloc(in.p, want);
        if (!q) die_oom();
        in.p = q;
        in.cap = want;
      }
    }
    if (in.len >= MAX_STDIN) break;
    ssize_t r = read(0, in.p + in.len, in.cap - in.len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(5, "tartan: error reading the network config from stdin");
    if (r == 0) break;
    in.len += (size_t)r;
  }

  char *version = NULL;
  if (!netavark && top_level_string(in.p, in.len, "cniVersion", &version)) {
    /* only a plain version ("1.0.0") goes into the error JSON this program may print */
    if (*version && strlen(version) < sizeof cni_version && strspn(version, "0123456789.") == strlen(version))
      strcpy(cni_version, version);
    free(version);
  }
  char *sock_path = NULL;
  if (netavark) {
    const char *s = getenv("TARTAN_ATTACH_SOCKET");
    sock_path = strdup(s ? s : DEFAULT_SOCKET);
  } else if (!top_level_string(in.p, in.len, "attachSocket", &sock_path)) {
    sock_path = strdup(DEFAULT_SOCKET);
  }
  if (!sock_path) die_oom();
  if (!*sock_path) standalone(argv, &in, read_stdin);

  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(sock_path) >= sizeof addr.sun_path) {
    fprintf(stderr, "%s: attach socket %s is longer than a UNIX socket path may be\n", me, sock_path);
    standalone(argv, &in, read_stdin);
  }
  strcpy(addr.sun_path, sock_path);

  long timeout = 1000;
  const char *t = getenv("TARTAN_ATTACH_TIMEOUT_MS");
  if (t && *t) {
    char *end;
    long v = strtol(t, &end, 10);
    if (*end == 0 && v > 0 && v <= 600000) timeout = v;
  }
  long long accept_deadline = now_ms() + timeout;

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    /* no socket, nobody listening, not permitted, backlog full: the agent cannot take the call */
    if (fd >= 0) close(fd);
    standalone(argv, &in, read_stdin);
  }

  struct buf req = {0};
  buf_add(&req, "TCNI", 4);
  unsigned char v = VERSION;
  buf_add(&req, &v, 1);
  for (int i = 1; netavark && i < argc; i++) put_frame(&req, 'A', argv[i], strlen(argv[i]));
  int nenv = 0;
  for (char **e = environ; *e; e++) {
    if (!forwarded(*e)) continue;
    size_t n = strlen(*e);
    if (n > MAX_ENV_ENTRY || nenv >= MAX_ENV) fail(4, "tartan: too many or too long CNI_ or TARTAN_ variables");
    put_frame(&req, 'V', *e, n);
    nenv++;
  }
  put_frame(&req, 'I', in.p, in.len);
  put_frame(&req, 'Z', NULL, 0);
  /* A failed send is not the end: an agent that refuses the caller answers without reading the request. */
  (void)send_all(fd, req.p, req.len, accept_deadline);

  struct answer a = {0};
  const char *why = "";
  int outcome = read_answer(fd, &a, accept_deadline, &why);
  close(fd);
  switch (outcome) {
    case A_DONE:
      write_all(2, a.err.p, a.err.len);
      write_all(1, a.out.p, a.out.len);
      return a.exit_code;
    case A_FALL_BACK:
    case A_NOT_TAKEN:
      standalone(argv, &in, read_stdin);
      break;
    case A_TIMEOUT:
      fprintf(stderr, "%s: the agent did not accept the call within %ld ms; running the standalone plugin\n", me,
              timeout);
      standalone(argv, &in, read_stdin);
      break;
    case A_BAD: {
      char msg[512];
      snprintf(msg, sizeof msg, "%s: bad answer from the agent on %s: %s", me, sock_path, why);
      fail(104, msg);
      break;
    }
    default: {
      char msg[512];
      snprintf(msg, sizeof msg,
               "%s: the agent on %s stopped while handling the call; its outcome is unknown: retry it"
               " (%s cleans up whatever it left)",
               me, sock_path, netavark ? "a teardown" : "a DEL");
      fail(104, msg);
    }
  }
  return 1;
}
