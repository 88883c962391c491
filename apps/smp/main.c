/* smp: a command-line SMP client for scripts and small devices. It creates
 * a queue on a router and keeps each side's keys in a queue file, then
 * secures, sends, receives, polls and deletes with one connection per
 * invocation. Argument parsing and printing only: the work is done by the
 * public library API (include/simplex/smp.h). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "simplex/smp.h"

#ifndef SX_VERSION
#define SX_VERSION "0.0.0"
#endif
#ifndef SX_GIT_COMMIT
#define SX_GIT_COMMIT "unknown"
#endif

static const char version_line[] = "smp v" SX_VERSION " / " SX_GIT_COMMIT;

/* Exit codes. */
enum {
    EXIT_OKAY = 0,
    EXIT_FAIL = 1,  /* network, router or file error */
    EXIT_USAGE = 2, /* bad command line */
    EXIT_EMPTY = 3, /* recv / get: no message */
};

/* The library PINGs a connection idle this long while the tool waits for
 * messages (sx_smp_receive). */
#define KEEPALIVE_MS 60000
#define BODY_READ_MAX 16088 /* the largest body any SMP version accepts */

static void usage(FILE *f)
{
    fprintf(f,
            "%s\n\n"
            "Usage: smp COMMAND [ARGUMENTS]\n\n"
            "  smp create SERVER --out RECIPIENT_FILE [--sender-out SENDER_FILE]\n"
            "      Create a queue on SERVER (smp://fingerprint[:password]@host[:port]).\n"
            "      Writes the recipient file (mode 0600) and the sender file, or prints\n"
            "      the sender file on standard output when --sender-out is not given.\n"
            "  smp secure [--proxy SERVER] SENDER_FILE\n"
            "      Generate the sender key, store it in SENDER_FILE and secure the queue\n"
            "      with it (run again to retry with the stored key).\n"
            "  smp send [--proxy SERVER [--proxy-mode MODE] [--known-router HOST]...\n"
            "           [--proxy-fallback FALLBACK]] SENDER_FILE [MESSAGE | -]\n"
            "      Send MESSAGE, or standard input as it is (- or no argument).\n"
            "      --proxy sends through the router SERVER, which forwards it to the\n"
            "      queue's router: that router does not learn this machine's address.\n"
            "      --proxy-mode decides when, as SimpleX clients do: always (default),\n"
            "      unknown (only to routers whose host is not a --known-router, a host\n"
            "      or an smp:// address), unprotected (as unknown; this program has no\n"
            "      address protection of its own) or never. --proxy-fallback: when the\n"
            "      proxy cannot use the queue router's hosts or versions, send directly\n"
            "      (allow, default; allow-protected and prohibit do not).\n"
            "  smp recv RECIPIENT_FILE [--count N] [--timeout SECONDS] [--no-ack] [--raw]\n"
            "      Subscribe and write each message to standard output, acknowledging it\n"
            "      once written. Stops after N messages or SECONDS (default: neither).\n"
            "      --no-ack stops after the first message and leaves it on the router.\n"
            "  smp get RECIPIENT_FILE [--no-ack] [--raw]\n"
            "      Fetch one message, if there is one, and acknowledge it.\n"
            "  smp suspend RECIPIENT_FILE\n"
            "      Stop the queue taking messages; those waiting can still be received.\n"
            "  smp notify-on RECIPIENT_FILE\n"
            "      Give the queue a notifier (a new one replaces the old) and print its\n"
            "      credentials for a notification server: notifier_id, notifier_key\n"
            "      (private), server_dh_key and dh_secret (opens the notifications'\n"
            "      metadata), as key: value lines of base64url.\n"
            "  smp notify-off RECIPIENT_FILE\n"
            "      Remove the queue's notifier.\n"
            "  smp delete RECIPIENT_FILE\n"
            "      Delete the queue and its messages from the router.\n\n"
            "Messages are written followed by a newline, or with --raw each preceded by\n"
            "its length (4 bytes, big-endian) and nothing after it.\n"
            "Options: -h, --help   -v, --version\n"
            "Environment: SMP_SOCKS_PROXY=[user:password@]host:port connects through that\n"
            "SOCKS5 proxy (numeric host; each router's connections isolated by a username\n"
            "unless credentials or \"@\" are given), SMP_SOCKS_MODE=onion only to .onion hosts.\n"
            "Of a router's several hosts: the first .onion one with a SOCKS proxy, else the\n"
            "first other one (SMP_HOST_MODE=onion, the default), or always the first other\n"
            "(SMP_HOST_MODE=public); SMP_REQUIRED_HOST_MODE=on fails when there is none.\n"
            "Exit codes: 0 success, 1 failure, 2 usage error, 3 no message (recv, get).\n",
            version_line);
}

static void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("smp: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Prints what the library said about the failure it just returned. */
static int lib_failed(sx_status st)
{
    errorf("%s", sx_error_message());
    return st == SX_E_USAGE ? EXIT_USAGE : EXIT_FAIL;
}

/* SMP_SOCKS_PROXY and SMP_SOCKS_MODE: connect through a SOCKS5 proxy;
 * SMP_HOST_MODE (public | onion, the reference's host_mode words) and
 * SMP_REQUIRED_HOST_MODE=on: which of a router's hosts. */
static void socks_opts(sx_smp_conn_opts *o)
{
    o->socks_proxy = getenv("SMP_SOCKS_PROXY");
    const char *m = getenv("SMP_SOCKS_MODE");
    o->socks_mode = m && strcmp(m, "onion") == 0 ? SX_SMP_SOCKS_ONION : SX_SMP_SOCKS_ALWAYS;
    const char *h = getenv("SMP_HOST_MODE");
    o->host_mode = h && strcmp(h, "public") == 0 ? SX_SMP_HOSTS_PUBLIC : SX_SMP_HOSTS_ONION_VIA_SOCKS;
    const char *r = getenv("SMP_REQUIRED_HOST_MODE");
    o->required_host_mode = r && strcmp(r, "on") == 0;
}

static int open_conn(const char *server, sx_smp_conn **c)
{
    sx_smp_conn_opts o = {.timeout_ms = 15000, .keepalive_ms = KEEPALIVE_MS};
    socks_opts(&o);
    sx_status st = sx_smp_connect(server, &o, c);
    return st == SX_OK ? EXIT_OKAY : lib_failed(st);
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int load(const char *path, sx_smp_role role, sx_smp_queue **q)
{
    sx_status st = sx_smp_queue_load(path, q);
    if (st != SX_OK)
        return lib_failed(st == SX_E_USAGE ? SX_E_IO : st);
    sx_smp_role got = sx_smp_queue_role(*q);
    struct stat sb;
    bool secret = got == SX_SMP_ROLE_RECIPIENT || sx_smp_queue_has_sender_key(*q);
    if (secret && stat(path, &sb) == 0 && (sb.st_mode & (S_IRWXG | S_IRWXO)))
        errorf("warning: %s holds a private key and other users can read it (chmod 600 %s)", path, path);
    if (got != role) {
        errorf("%s: this is a %s file; this command needs the %s file", path,
               got == SX_SMP_ROLE_RECIPIENT ? "recipient" : "sender",
               role == SX_SMP_ROLE_RECIPIENT ? "recipient" : "sender");
        sx_smp_queue_free(*q);
        *q = NULL;
        return EXIT_USAGE;
    }
    return EXIT_OKAY;
}

/* ---- create ---- */

static int cmd_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"sender-out", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *sender_out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "o:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 's': sender_out = optarg; break;
        case 'h': usage(stdout); return EXIT_OKAY;
        default: return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !out) {
        errorf("usage: smp create SERVER --out RECIPIENT_FILE [--sender-out SENDER_FILE]");
        return EXIT_USAGE;
    }
    const char *server = argv[optind];
    /* Refuse early what would fail after the queue exists. */
    if (access(out, F_OK) == 0 || (sender_out && access(sender_out, F_OK) == 0)) {
        errorf("%s: file exists (not overwritten)", access(out, F_OK) == 0 ? out : sender_out);
        return EXIT_USAGE;
    }
    if (sender_out && strcmp(out, sender_out) == 0) {
        errorf("--out and --sender-out must be different files");
        return EXIT_USAGE;
    }
    sx_smp_conn *conn = NULL;
    sx_smp_queue *q = NULL, *sq = NULL;
    int rc = open_conn(server, &conn);
    if (rc != EXIT_OKAY)
        return rc;
    rc = EXIT_FAIL;
    sx_status st = sx_smp_queue_create(conn, &q);
    if (st != SX_OK) {
        rc = lib_failed(st);
        goto done;
    }
    if (sx_smp_queue_save(q, out, false) != SX_OK) {
        errorf("%s", sx_error_message());
        /* Nobody could use the queue: remove it rather than leave it. */
        if (sx_smp_queue_delete(conn, q) != SX_OK)
            errorf("the queue could not be removed from the router: %s", sx_error_message());
        goto done;
    }
    if (sx_smp_queue_sender(q, &sq) != SX_OK) {
        errorf("cannot make the sender file: %s", sx_error_message());
        goto done;
    }
    if (sender_out) {
        if (sx_smp_queue_save(sq, sender_out, false) != SX_OK) {
            errorf("%s", sx_error_message());
            errorf("the queue was created; here is its sender file:");
        } else {
            printf("%s\n", sender_out);
            rc = EXIT_OKAY;
            goto done;
        }
    }
    char *text = NULL;
    size_t len = 0;
    if (sx_smp_queue_format(sq, &text, &len) != SX_OK) {
        errorf("cannot make the sender file: %s", sx_error_message());
        goto done;
    }
    fwrite(text, 1, len, stdout);
    sx_smp_text_free(text, len);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        errorf("cannot write the sender file to standard output");
        goto done;
    }
    rc = sender_out ? EXIT_FAIL : EXIT_OKAY;
done:
    sx_smp_close(conn);
    sx_smp_queue_free(q);
    sx_smp_queue_free(sq);
    return rc;
}

/* ---- secure ---- */

#define KNOWN_MAX 32

/* --proxy and the pool's choice of when to use it (send only). */
typedef struct proxy_args {
    const char *proxy;
    bool pool; /* --proxy-mode, --proxy-fallback or --known-router given */
    sx_smp_proxy_mode mode;
    sx_smp_proxy_fallback fallback;
    const char *known[KNOWN_MAX];
    size_t n_known;
} proxy_args;

static bool parse_mode(const char *s, sx_smp_proxy_mode *m)
{
    static const struct {
        const char *name;
        sx_smp_proxy_mode m;
    } names[] = {{"always", SX_SMP_PROXY_ALWAYS},
                 {"unknown", SX_SMP_PROXY_UNKNOWN},
                 {"unprotected", SX_SMP_PROXY_UNPROTECTED},
                 {"never", SX_SMP_PROXY_NEVER}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *m = names[i].m;
            return true;
        }
    return false;
}

static bool parse_fallback(const char *s, sx_smp_proxy_fallback *f)
{
    if (strcmp(s, "allow") == 0)
        *f = SX_SMP_FALLBACK_ALLOW;
    else if (strcmp(s, "allow-protected") == 0)
        *f = SX_SMP_FALLBACK_ALLOW_PROTECTED;
    else if (strcmp(s, "prohibit") == 0)
        *f = SX_SMP_FALLBACK_PROHIBIT;
    else
        return false;
    return true;
}

/* The options before the other arguments (a message may start with '-'):
 * *first is the index of the first of those. */
static int parse_proxy(int argc, char **argv, proxy_args *pa, int *first)
{
    static const struct option opts[] = {
        {"proxy", required_argument, NULL, 'p'},
        {"proxy-mode", required_argument, NULL, 'm'},
        {"proxy-fallback", required_argument, NULL, 'f'},
        {"known-router", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(pa, 0, sizeof *pa);
    pa->mode = SX_SMP_PROXY_ALWAYS;
    int c;
    while ((c = getopt_long(argc, argv, "+p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': pa->proxy = optarg; break;
        case 'm':
            pa->pool = true;
            if (!parse_mode(optarg, &pa->mode)) {
                errorf("--proxy-mode: expected always, unknown, unprotected or never, got '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'f':
            pa->pool = true;
            if (!parse_fallback(optarg, &pa->fallback)) {
                errorf("--proxy-fallback: expected allow, allow-protected or prohibit, got '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'k':
            pa->pool = true;
            if (pa->n_known == KNOWN_MAX) {
                errorf("--known-router: at most %d", KNOWN_MAX);
                return EXIT_USAGE;
            }
            pa->known[pa->n_known++] = optarg;
            break;
        case 'h': usage(stdout); return EXIT_OKAY;
        default: return EXIT_USAGE;
        }
    }
    if (pa->pool && !pa->proxy) {
        errorf("--proxy-mode, --proxy-fallback and --known-router need --proxy");
        return EXIT_USAGE;
    }
    *first = optind;
    return -1;
}

/* A send through the library's pool, which chooses the way by pa. */
static int pool_send(const proxy_args *pa, const sx_smp_queue *q, const void *body, size_t len)
{
    sx_smp_pool_opts o = {.conn = {.timeout_ms = 15000, .keepalive_ms = KEEPALIVE_MS}};
    socks_opts(&o.conn);
    o.proxy_mode = pa->mode;
    o.proxy_fallback = pa->fallback;
    o.proxies = &pa->proxy;
    o.n_proxies = 1;
    o.known_routers = pa->known;
    o.n_known_routers = pa->n_known;
    sx_smp_tpool *tp = NULL;
    sx_status st = sx_smp_tpool_new(&o, &tp);
    if (st == SX_OK)
        st = sx_smp_tpool_send(tp, q, body, len);
    int rc = st == SX_OK ? EXIT_OKAY : lib_failed(st);
    sx_smp_tpool_free(tp);
    return rc;
}

static int cmd_secure(int argc, char **argv)
{
    proxy_args pa;
    int first;
    int prc = parse_proxy(argc, argv, &pa, &first);
    if (prc >= 0)
        return prc;
    const char *proxy = pa.proxy;
    if (pa.pool) {
        errorf("secure: --proxy-mode, --proxy-fallback and --known-router are for send");
        return EXIT_USAGE;
    }
    if (argc - first != 1) {
        errorf("usage: smp secure [--proxy SERVER] SENDER_FILE");
        return EXIT_USAGE;
    }
    const char *path = argv[first];
    sx_smp_queue *q = NULL;
    int rc = load(path, SX_SMP_ROLE_SENDER, &q);
    if (rc != EXIT_OKAY)
        return rc;
    sx_smp_conn *conn = NULL;
    rc = open_conn(proxy ? proxy : sx_smp_queue_server(q), &conn);
    if (rc != EXIT_OKAY)
        goto done;
    rc = EXIT_FAIL;
    /* Through a proxy the destination's version is checked by the library. */
    if (!proxy && sx_smp_conn_version(conn) < 9) {
        errorf("secure: the router speaks SMP v%u; securing by the sender needs v9", sx_smp_conn_version(conn));
        goto done;
    }
    /* The key is saved before SKEY: if the command's outcome is lost,
     * running secure again sends the same key, which the router accepts. */
    bool created = false;
    if (sx_smp_queue_make_sender_key(q, &created) != SX_OK) {
        errorf("%s", sx_error_message());
        goto done;
    }
    if (created && sx_smp_queue_save(q, path, true) != SX_OK) {
        errorf("%s", sx_error_message());
        goto done;
    }
    sx_status st = proxy ? sx_smp_queue_secure_proxied(conn, q) : sx_smp_queue_secure(conn, q);
    rc = st == SX_OK ? EXIT_OKAY : lib_failed(st);
done:
    sx_smp_close(conn);
    sx_smp_queue_free(q);
    return rc;
}

/* ---- send ---- */

/* Reads all of standard input, at most max bytes (*too_long beyond). */
static bool read_stdin(uint8_t *buf, size_t max, size_t *len, bool *too_long)
{
    *len = 0;
    *too_long = false;
    for (;;) {
        uint8_t extra;
        uint8_t *p = *len < max ? buf + *len : &extra;
        size_t room = *len < max ? max - *len : 1;
        ssize_t k = read(STDIN_FILENO, p, room);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return false;
        if (k == 0)
            return true;
        if (p == &extra) {
            *too_long = true;
            return true;
        }
        *len += (size_t)k;
    }
}

static int cmd_send(int argc, char **argv)
{
    proxy_args pa;
    int first;
    int prc = parse_proxy(argc, argv, &pa, &first);
    if (prc >= 0)
        return prc;
    const char *proxy = pa.proxy;
    argc -= first - 1;
    argv += first - 1;
    if (argc != 2 && argc != 3) {
        errorf("usage: smp send [--proxy SERVER] SENDER_FILE [MESSAGE | -]");
        return EXIT_USAGE;
    }
    const char *path = argv[1];
    bool from_stdin = argc == 2 || strcmp(argv[2], "-") == 0;
    sx_smp_queue *q = NULL;
    int rc = load(path, SX_SMP_ROLE_SENDER, &q);
    if (rc != EXIT_OKAY)
        return rc;
    rc = EXIT_FAIL;
    sx_smp_conn *conn = NULL;
    uint8_t *buf = NULL;
    const void *body;
    size_t len = 0;
    if (from_stdin) {
        /* Read before connecting, so that a slow producer does not hold an
         * idle connection. */
        buf = malloc(BODY_READ_MAX);
        bool too_long = false;
        if (!buf || !read_stdin(buf, BODY_READ_MAX, &len, &too_long)) {
            errorf("send: cannot read standard input");
            goto done;
        }
        if (too_long) {
            errorf("send: the message is longer than %d bytes", BODY_READ_MAX);
            goto done;
        }
        body = buf;
    } else {
        body = argv[2];
        len = strlen(argv[2]);
    }
    if (pa.pool) {
        rc = pool_send(&pa, q, body, len);
        goto done;
    }
    rc = open_conn(proxy ? proxy : sx_smp_queue_server(q), &conn);
    if (rc != EXIT_OKAY)
        goto done;
    sx_status st = proxy ? sx_smp_send_proxied(conn, q, body, len) : sx_smp_send(conn, q, body, len);
    rc = st == SX_OK ? EXIT_OKAY : lib_failed(st);
done:
    sx_smp_close(conn);
    sx_smp_queue_free(q);
    if (buf) {
        memset(buf, 0, BODY_READ_MAX);
        free(buf);
    }
    return rc;
}

/* ---- recv / get ---- */

typedef struct rx {
    sx_smp_conn *conn;
    sx_smp_queue *q;
    bool raw;
    bool no_ack;
    long got;
} rx;

static bool write_body(const rx *x, const sx_smp_event *ev)
{
    if (x->raw) {
        size_t n = ev->body_len;
        uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
        fwrite(len, 1, sizeof len, stdout);
        fwrite(ev->body, 1, n, stdout);
    } else {
        fwrite(ev->body, 1, ev->body_len, stdout);
        fputc('\n', stdout);
    }
    /* Written (and flushed) before the ACK: a message is never lost, at
     * worst printed twice after a failure. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        errorf("cannot write to standard output: %s", strerror(errno));
        return false;
    }
    return true;
}

typedef enum deliver_result {
    D_PRINTED, /* printed (and acknowledged unless no_ack) */
    D_SKIPPED, /* quota marker or unreadable message, acknowledged */
    D_FAILED,  /* reported */
} deliver_result;

/* Handles one message-kind event: prints it, then acknowledges it. */
static deliver_result deliver(rx *x, const sx_smp_event *ev)
{
    deliver_result res = D_SKIPPED;
    if (ev->kind == SX_SMP_EVENT_UNREADABLE) {
        errorf("warning: a message could not be decrypted; acknowledging it to go on");
    } else if (ev->kind == SX_SMP_EVENT_MESSAGE) {
        if (!write_body(x, ev))
            return D_FAILED;
        res = D_PRINTED;
    } /* SX_SMP_EVENT_QUOTA: the router's "queue was full" marker, not a message */
    if (res == D_PRINTED && x->no_ack)
        return res;
    if (sx_smp_ack(x->conn, x->q, ev) != SX_OK) {
        errorf("%s", sx_error_message());
        return D_FAILED;
    }
    return res;
}

static int parse_rx_opts(int argc, char **argv, bool with_wait, long *count, long *timeout_ms, rx *x)
{
    static const struct option opts[] = {
        {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},
        {"no-ack", no_argument, NULL, 'k'},
        {"raw", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, with_wait ? "n:t:h" : "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!with_wait || !parse_long(optarg, 1, LONG_MAX, count)) {
                errorf(with_wait ? "--count needs a positive number" : "get takes no --count");
                return EXIT_USAGE;
            }
            break;
        case 't': {
            char *end = NULL;
            double s = with_wait ? strtod(optarg, &end) : -1;
            if (!with_wait || !end || end == optarg || *end || !(s >= 0 && s <= 31536000)) {
                errorf(with_wait ? "--timeout needs a number of seconds" : "get takes no --timeout");
                return EXIT_USAGE;
            }
            *timeout_ms = (long)(s * 1000);
            break;
        }
        case 'k': x->no_ack = true; break;
        case 'r': x->raw = true; break;
        case 'h': usage(stdout); return -1;
        default: return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        errorf(with_wait ? "usage: smp recv RECIPIENT_FILE [--count N] [--timeout SECONDS] [--no-ack] [--raw]"
                         : "usage: smp get RECIPIENT_FILE [--no-ack] [--raw]");
        return EXIT_USAGE;
    }
    return EXIT_OKAY;
}

static int cmd_recv(int argc, char **argv)
{
    rx x = {0};
    long count = 0, timeout_ms = -1;
    int rc = parse_rx_opts(argc, argv, true, &count, &timeout_ms, &x);
    if (rc != EXIT_OKAY)
        return rc < 0 ? EXIT_OKAY : rc;
    rc = load(argv[optind], SX_SMP_ROLE_RECIPIENT, &x.q);
    if (rc != EXIT_OKAY)
        return rc;
    if (x.no_ack)
        count = 1; /* nothing more is delivered until the first is acknowledged */
    int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
    sx_smp_event ev = {0};
    rc = open_conn(sx_smp_queue_server(x.q), &x.conn);
    if (rc != EXIT_OKAY)
        goto done;
    rc = EXIT_FAIL;
    if (sx_smp_subscribe(x.conn, x.q) != SX_OK) {
        errorf("%s", sx_error_message());
        goto done;
    }
    while (count == 0 || x.got < count) {
        int64_t wait = -1;
        if (deadline >= 0) {
            wait = deadline - now_ms();
            if (wait <= 0)
                break;
            if (wait > 0x7fffffff)
                wait = 0x7fffffff;
        }
        /* The library keeps the connection alive while it waits. */
        if (sx_smp_receive(x.conn, (int)wait, &ev) != SX_OK) {
            errorf("%s", sx_error_message());
            goto done;
        }
        switch (ev.kind) {
        case SX_SMP_EVENT_NONE: break;
        case SX_SMP_EVENT_END: errorf("receive: another client subscribed to this queue (END)"); goto done;
        case SX_SMP_EVENT_DELETED: errorf("receive: the queue was deleted (DELD)"); goto done;
        default: {
            deliver_result d = deliver(&x, &ev);
            if (d == D_FAILED)
                goto done;
            if (d == D_PRINTED)
                x.got++;
            break;
        }
        }
        sx_smp_event_clear(&ev);
    }
    if (x.got > 0) {
        rc = EXIT_OKAY;
    } else {
        errorf("no message arrived within %.3g seconds", (double)timeout_ms / 1000);
        rc = EXIT_EMPTY;
    }
done:
    sx_smp_event_clear(&ev);
    sx_smp_close(x.conn);
    sx_smp_queue_free(x.q);
    return rc;
}

static int cmd_get(int argc, char **argv)
{
    rx x = {0};
    long count = 0, timeout_ms = -1;
    int rc = parse_rx_opts(argc, argv, false, &count, &timeout_ms, &x);
    if (rc != EXIT_OKAY)
        return rc < 0 ? EXIT_OKAY : rc;
    rc = load(argv[optind], SX_SMP_ROLE_RECIPIENT, &x.q);
    if (rc != EXIT_OKAY)
        return rc;
    sx_smp_event ev = {0};
    rc = open_conn(sx_smp_queue_server(x.q), &x.conn);
    if (rc != EXIT_OKAY)
        goto done;
    rc = EXIT_FAIL;
    /* A quota marker or an unreadable message is acknowledged and skipped;
     * the queue holds at most a few of those in a row. */
    for (int tries = 0; tries < 4; tries++) {
        if (sx_smp_get(x.conn, x.q, &ev) != SX_OK) {
            errorf("%s", sx_error_message());
            goto done;
        }
        if (ev.kind == SX_SMP_EVENT_NONE) {
            errorf("no message");
            rc = EXIT_EMPTY;
            goto done;
        }
        deliver_result d = deliver(&x, &ev);
        sx_smp_event_clear(&ev);
        if (d == D_FAILED)
            goto done;
        if (d == D_PRINTED) {
            rc = EXIT_OKAY;
            goto done;
        }
    }
    errorf("get: only unreadable messages or quota markers");
done:
    sx_smp_event_clear(&ev);
    sx_smp_close(x.conn);
    sx_smp_queue_free(x.q);
    return rc;
}

/* ---- delete, suspend, notify-on, notify-off ---- */

typedef enum rcv_cmd { RCV_DELETE, RCV_SUSPEND, RCV_NOTIFY_ON, RCV_NOTIFY_OFF } rcv_cmd;

static const char *const rcv_cmd_names[] = {"delete", "suspend", "notify-on", "notify-off"};

/* base64url with padding, as in the queue files. */
static void print_b64(const char *key, const uint8_t *b, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    printf("%s: ", key);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)b[i + 1] << 8;
        if (i + 2 < n)
            v |= b[i + 2];
        putchar(abc[(v >> 18) & 63]);
        putchar(abc[(v >> 12) & 63]);
        putchar(i + 1 < n ? abc[(v >> 6) & 63] : '=');
        putchar(i + 2 < n ? abc[v & 63] : '=');
    }
    putchar('\n');
}

/* NKEY, and the credentials on standard output. */
static int notify_on(sx_smp_conn *conn, sx_smp_queue *q)
{
    sx_smp_ntf_creds nc;
    sx_status st = sx_smp_queue_notify_on(conn, q, &nc);
    if (st != SX_OK)
        return lib_failed(st);
    print_b64("notifier_id", nc.notifier_id, sizeof nc.notifier_id);
    printf("notifier_key: %s\n", nc.notifier_key);
    print_b64("server_dh_key", nc.srv_dh_key, nc.srv_dh_key_len);
    print_b64("dh_secret", nc.dh_secret, sizeof nc.dh_secret);
    memset(&nc, 0, sizeof nc);
    if (fflush(stdout) != 0) {
        errorf("cannot write the credentials to standard output");
        return EXIT_FAIL;
    }
    return EXIT_OKAY;
}

static int cmd_rcv(rcv_cmd which, int argc, char **argv)
{
    if (argc != 2) {
        errorf("usage: smp %s RECIPIENT_FILE", rcv_cmd_names[which]);
        return EXIT_USAGE;
    }
    sx_smp_queue *q = NULL;
    int rc = load(argv[1], SX_SMP_ROLE_RECIPIENT, &q);
    if (rc != EXIT_OKAY)
        return rc;
    sx_smp_conn *conn = NULL;
    rc = open_conn(sx_smp_queue_server(q), &conn);
    if (rc == EXIT_OKAY && which == RCV_NOTIFY_ON) {
        rc = notify_on(conn, q);
    } else if (rc == EXIT_OKAY) {
        sx_status st;
        switch (which) {
        case RCV_SUSPEND: st = sx_smp_queue_suspend(conn, q); break;
        case RCV_NOTIFY_OFF: st = sx_smp_queue_notify_off(conn, q); break;
        default: st = sx_smp_queue_delete(conn, q); break;
        }
        rc = st == SX_OK ? EXIT_OKAY : lib_failed(st);
    }
    sx_smp_close(conn);
    sx_smp_queue_free(q);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EXIT_OKAY;
    }
    if (strcmp(cmd, "-v") == 0 || strcmp(cmd, "--version") == 0) {
        printf("%s\n", version_line);
        return EXIT_OKAY;
    }
    /* Each command parses argv[1..]: its own name is argv[0] for getopt. */
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    if (strcmp(cmd, "create") == 0)
        return cmd_create(sub_argc, sub_argv);
    if (strcmp(cmd, "secure") == 0)
        return cmd_secure(sub_argc, sub_argv);
    if (strcmp(cmd, "send") == 0)
        return cmd_send(sub_argc, sub_argv);
    if (strcmp(cmd, "recv") == 0)
        return cmd_recv(sub_argc, sub_argv);
    if (strcmp(cmd, "get") == 0)
        return cmd_get(sub_argc, sub_argv);
    for (int i = 0; i < (int)(sizeof rcv_cmd_names / sizeof rcv_cmd_names[0]); i++)
        if (strcmp(cmd, rcv_cmd_names[i]) == 0)
            return cmd_rcv((rcv_cmd)i, sub_argc, sub_argv);
    errorf("unknown command '%s' (see smp --help)", cmd);
    return EXIT_USAGE;
}
