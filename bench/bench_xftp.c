/* Benchmark: a file through the XFTP router against plain HTTP/2 over TLS.
 *
 * Baseline: a child process serving HTTP/2 over TLS (nghttp2 on sx_tls, the
 * same certificates) that swallows request bodies and answers with bodies
 * from memory, driven by a client in this process with requests of the
 * shape XFTP uses for 4 MiB chunks: uploads of 16384 + chunk bytes answered
 * by one 16384-byte block, downloads of one block answered by 16384 + chunk
 * + 16 bytes. No crypto beyond TLS, no disk.
 * XFTP: the real xftp-server program (a child process, its files in a
 * temporary folder), driven by the client library: FNEW + FPUT of every
 * chunk, then FGET of every chunk (decrypted and its digest checked).
 * The router's resident memory is sampled from /proc while it works.
 *
 * Usage: bench_xftp [--mb N] (default 1024 MiB) [--server PATH] [--cmds N]
 * Figures: MB/s up and down for both, their ratio, the router's CPU per GiB
 * beside its floor measured in this process (xftp_floor.h) with the goal of
 * at most 1.15 times it, router RSS (start, peak, end) for the whole file and
 * for a 1/16 file (flatness). With
 * --cmds, also N small commands (FNEW and FDEL in turn, no data) from
 * CMD_THREADS connections at once: commands per second and the latency
 * of one command, where the store log's cost shows (every one of them
 * logs a record, and its answer waits for it). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "crypto/util.h"
#include "crypto/x509.h"

#include <openssl/x509.h>
#include "transport/net.h"
#include "transport/tls.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "xftp_client/client.h"
#include "xftp/description.h"
#include "xftp_floor.h"

#define WAIT_MS 30000
#define BLOCK 16384
#define CHUNK (4u * 1024u * 1024u)
#define TAG 16
#define FLOOR_MIB 64 /* bytes the floor is measured over */
#define FLOOR_RUNS 3 /* floor measures before the router's work, and as many after */

static const char *const alpn_h2[] = {"h2", NULL};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, sx_status st)
{
    fprintf(stderr, "bench_xftp: %s: %s\n", what, sx_status_str(st));
    exit(1);
}

/* Full path of a test data file (tests/data, or the folder the environment
 * variable SX_TEST_DATA_DIR names); exits naming the file if it is missing. */
static void data_file(const char *rel, char *out, size_t size)
{
    const char *dir = getenv("SX_TEST_DATA_DIR");
    if (!dir || !*dir)
        dir = SX_TEST_DATA_DIR;
    snprintf(out, size, "%s/%s", dir, rel);
    if (access(out, R_OK) != 0) {
        fprintf(stderr, "bench_xftp: test data file %s: %s\n", out, strerror(errno));
        exit(1);
    }
}

/* ---- HTTP/2 over sx_tls: one session pumped on a non-blocking socket ---- */

typedef struct h2 {
    sx_tls_conn *tls;
    int fd;
    nghttp2_session *s;
    uint8_t out_pending[1];
} h2;

/* Sends everything nghttp2 has to send, waiting for the socket as needed. */
static sx_status h2_flush(h2 *c)
{
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->s, &data);
        if (n < 0)
            return SX_E_PROTOCOL;
        if (n == 0)
            return SX_OK;
        sx_status st = sx_tls_write_full(c->tls, data, (size_t)n, WAIT_MS);
        if (st != SX_OK)
            return st;
    }
}

/* Reads what has arrived (waiting up to WAIT_MS for something) and feeds it. */
static sx_status h2_read_some(h2 *c)
{
    static __thread uint8_t buf[256 * 1024];
    if (!sx_tls_has_pending(c->tls)) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int r = poll(&p, 1, WAIT_MS);
        if (r == 0)
            return SX_E_IO;
        if (r < 0 && errno != EINTR)
            return SX_E_IO;
    }
    size_t done = 0;
    sx_status st = sx_tls_read(c->tls, buf, sizeof buf, &done);
    if (st != SX_OK && st != SX_E_WOULD_BLOCK)
        return st;
    if (done > 0 && nghttp2_session_mem_recv(c->s, buf, done) < 0)
        return SX_E_PROTOCOL;
    return SX_OK;
}

/* Pumps until *flag turns true (or the session has nothing more to do). */
static sx_status h2_run_until(h2 *c, const bool *flag)
{
    while (!flag || !*flag) {
        sx_status st = h2_flush(c);
        if (st != SX_OK)
            return st;
        if (flag && *flag)
            break;
        if (!nghttp2_session_want_read(c->s) && !nghttp2_session_want_write(c->s))
            return flag ? SX_E_CLOSED : SX_OK;
        st = h2_read_some(c);
        if (st != SX_OK)
            return st;
    }
    return h2_flush(c);
}

static void h2_settings(nghttp2_session *s)
{
    /* Generous windows so that flow control is not the bottleneck. */
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
    };
    if (nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0, 16 << 20) != 0) {
        fprintf(stderr, "bench_xftp: nghttp2 settings refused\n");
        exit(1);
    }
}

/* A body source of `left` bytes of a constant pattern. */
typedef struct body_src {
    uint64_t left;
} body_src;

static uint8_t pattern[64 * 1024];

static ssize_t body_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    body_src *b = src->ptr;
    size_t n = len < b->left ? len : (size_t)b->left;
    if (n > sizeof pattern)
        n = sizeof pattern;
    memcpy(buf, pattern, n);
    b->left -= n;
    if (b->left == 0)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* CPU seconds (user + system) a process has used, from /proc. */
static double cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    unsigned long ut = 0, st = 0;
    /* Fields after the command: state is 3rd; utime and stime are 14th and 15th. */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds of a process's threads by role, from /proc/<pid>/task: the
 * connection threads ("worker N"), the file I/O threads ("file io N") and
 * the rest (start-up, log writer, control port). */
typedef struct thread_cpu {
    double conn, io, other;
} thread_cpu;

static thread_cpu cpu_by_thread(pid_t pid)
{
    thread_cpu t = {0};
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return t;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[340], buf[1024];
        snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *open = strchr(buf, '('), *p = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        if (!open || !p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
            continue;
        double s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        if (strncmp(open + 1, "worker", 6) == 0)
            t.conn += s;
        else if (strncmp(open + 1, "file io", 7) == 0)
            t.io += s;
        else
            t.other += s;
    }
    closedir(d);
    return t;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- baseline server (child process) ---- */

typedef struct srv_stream {
    uint64_t received;
    body_src reply;
} srv_stream;

static int srv_on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    srv_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st);
    return 0;
}

static int srv_on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                       size_t len, void *ud)
{
    srv_stream *st = nghttp2_session_get_stream_user_data(s, sid);
    if (st)
        st->received += len;
    return 0;
}

static int srv_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    if ((f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    srv_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!st)
        return 0;
    /* An upload (block + chunk) gets a block back; a download request (one
     * block) gets block + chunk + tag, as FPUT / FGET do. */
    st->reply.left = st->received > BLOCK ? BLOCK : (uint64_t)BLOCK + CHUNK + TAG;
    nghttp2_nv hdr[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE}};
    nghttp2_data_provider prd = {.source.ptr = &st->reply, .read_callback = body_read};
    if (nghttp2_submit_response(s, f->hd.stream_id, hdr, 1, &prd) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int srv_on_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
    free(nghttp2_session_get_stream_user_data(s, sid));
    return 0;
}

static void baseline_server(int lfd, const char *crt, const char *ca, const char *key)
{
    sx_tls_server_config cfg = {.creds = {.cert_file = crt, .ca_file = ca, .key_file = key}, .alpn = alpn_h2, .no_client_cert_request = true};
    sx_tls_ctx *ctx;
    sx_status st = sx_tls_server_ctx_new(&cfg, &ctx);
    if (st != SX_OK)
        die("baseline server ctx", st);
    int fd;
    st = sx_net_accept(lfd, WAIT_MS, &fd);
    if (st != SX_OK)
        die("baseline accept", st);
    h2 c = {.fd = fd};
    st = sx_tls_conn_new_server(ctx, fd, &c.tls);
    if (st == SX_OK)
        st = sx_tls_handshake_blocking(c.tls, WAIT_MS);
    if (st != SX_OK)
        die("baseline server TLS", st);
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        exit(1);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, srv_on_begin_headers);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, srv_on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, srv_on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, srv_on_close);
    if (nghttp2_session_server_new(&c.s, cb, NULL) != 0)
        exit(1);
    nghttp2_session_callbacks_del(cb);
    h2_settings(c.s);
    st = h2_run_until(&c, NULL);
    nghttp2_session_del(c.s);
    sx_tls_conn_free(c.tls);
    sx_net_close(fd);
    sx_tls_ctx_free(ctx);
    _exit(st == SX_OK || st == SX_E_CLOSED ? 0 : 2);
}

/* ---- baseline client ---- */

typedef struct cli_state {
    bool done;
    int status;
    uint64_t received;
} cli_state;

static int cli_on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                       size_t len, void *ud)
{
    ((cli_state *)ud)->received += len;
    return 0;
}

static int cli_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                         size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                         void *ud)
{
    if (namelen == 7 && memcmp(name, ":status", 7) == 0)
        ((cli_state *)ud)->status = atoi((const char *)value);
    return 0;
}

static int cli_on_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
    ((cli_state *)ud)->done = true;
    return 0;
}

/* One POST of `body` bytes; returns the response body length. */
static uint64_t cli_request(h2 *c, cli_state *cs, uint64_t body)
{
    body_src src = {.left = body};
    nghttp2_nv hdr[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":authority", (uint8_t *)"localhost", 10, 9, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":path", (uint8_t *)"/", 5, 1, NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_data_provider prd = {.source.ptr = &src, .read_callback = body_read};
    cs->done = false;
    cs->received = 0;
    cs->status = 0;
    if (nghttp2_submit_request(c->s, NULL, hdr, 4, &prd, NULL) < 0) {
        fprintf(stderr, "bench_xftp: submit refused\n");
        exit(1);
    }
    sx_status st = h2_run_until(c, &cs->done);
    if (st != SX_OK)
        die("baseline request", st);
    if (cs->status != 200) {
        fprintf(stderr, "bench_xftp: baseline status %d\n", cs->status);
        exit(1);
    }
    return cs->received;
}

typedef struct result {
    double up_mbs, down_mbs;
    double cpu_up, cpu_down; /* server + client CPU seconds */
} result;

/* PROTOCOL-NOTES B10: the SHA-256 of the DER of ca.crt. */
static uint8_t identity[SX_TLS_KEY_HASH_LEN];

static void run_baseline(const char *crt, const char *ca, const char *key, size_t chunks,
                         result *out)
{
    int lfd;
    uint16_t port;
    sx_status st = sx_net_listen("127.0.0.1", 0, 16, &lfd, &port);
    if (st != SX_OK)
        die("baseline listen", st);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0)
        baseline_server(lfd, crt, ca, key);
    sx_net_close(lfd);

    sx_tls_client_config ccfg = {.alpn = alpn_h2};
    sx_tls_ctx *ctx;
    st = sx_tls_client_ctx_new(&ccfg, &ctx);
    if (st != SX_OK)
        die("baseline client ctx", st);
    h2 c = {0};
    st = sx_net_connect("127.0.0.1", port, WAIT_MS, &c.fd);
    if (st == SX_OK)
        st = sx_tls_conn_new_client(ctx, c.fd, identity, &c.tls);
    if (st == SX_OK)
        st = sx_tls_handshake_blocking(c.tls, WAIT_MS);
    if (st != SX_OK)
        die("baseline client TLS", st);
    cli_state cs = {0};
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        exit(1);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, cli_on_data);
    nghttp2_session_callbacks_set_on_header_callback(cb, cli_on_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, cli_on_close);
    if (nghttp2_session_client_new(&c.s, cb, &cs) != 0)
        exit(1);
    nghttp2_session_callbacks_del(cb);
    h2_settings(c.s);

    double c0 = cpu_s(pid) + self_cpu_s();
    double t0 = now_s();
    for (size_t i = 0; i < chunks; i++)
        if (cli_request(&c, &cs, (uint64_t)BLOCK + CHUNK) != BLOCK) {
            fprintf(stderr, "bench_xftp: baseline upload reply size\n");
            exit(1);
        }
    double t1 = now_s();
    double c1 = cpu_s(pid) + self_cpu_s();
    for (size_t i = 0; i < chunks; i++)
        if (cli_request(&c, &cs, BLOCK) != (uint64_t)BLOCK + CHUNK + TAG) {
            fprintf(stderr, "bench_xftp: baseline download reply size\n");
            exit(1);
        }
    double t2 = now_s();
    double c2 = cpu_s(pid) + self_cpu_s();
    out->cpu_up = c1 - c0;
    out->cpu_down = c2 - c1;
    double mb = (double)chunks * CHUNK / (1024.0 * 1024.0);
    out->up_mbs = mb / (t1 - t0);
    out->down_mbs = mb / (t2 - t1);

    if (nghttp2_session_terminate_session(c.s, NGHTTP2_NO_ERROR) == 0)
        (void)!h2_flush(&c);
    nghttp2_session_del(c.s);
    sx_status sd = sx_tls_shutdown_blocking(c.tls, 1000);
    (void)sd;
    sx_tls_conn_free(c.tls);
    sx_net_close(c.fd);
    sx_tls_ctx_free(ctx);
    int wst;
    waitpid(pid, &wst, 0);
}


/* ---- XFTP: the xftp-server program and the client library ---- */

typedef struct router {
    char dir[256];
    pid_t pid;
    uint16_t port;
    sx_xftp_fd_server addr;
} router;

/* Resident memory of a process from /proc, in KiB (0 if unreadable). */
static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long v = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            v = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Samples the router's RSS every 10 ms; peak since the last reset. */
typedef struct sampler {
    pid_t pid;
    pthread_t th;
    bool stop;
    long peak;
    pthread_mutex_t mu;
} sampler;

static void *sampler_main(void *arg)
{
    sampler *s = arg;
    for (;;) {
        long v = rss_kib(s->pid);
        pthread_mutex_lock(&s->mu);
        if (v > s->peak)
            s->peak = v;
        bool stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            return NULL;
        usleep(10000);
    }
}

static long sampler_take(sampler *s)
{
    pthread_mutex_lock(&s->mu);
    long v = s->peak;
    s->peak = 0;
    pthread_mutex_unlock(&s->mu);
    return v;
}

static int run_cmd(char *const argv[], bool quiet)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (quiet) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint16_t free_port(void)
{
    int fd;
    uint16_t port;
    sx_status st = sx_net_listen("127.0.0.1", 0, 1, &fd, &port);
    if (st != SX_OK)
        die("finding a free port", st);
    sx_net_close(fd);
    return port;
}

static void router_start(router *r, const char *bin)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(r->dir, sizeof r->dir, "%s/bench_xftp.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(r->dir)) {
        perror("mkdtemp");
        exit(1);
    }
    char etc[300], var[300], files[300], ini[320];
    snprintf(etc, sizeof etc, "%s/etc", r->dir);
    snprintf(var, sizeof var, "%s/var", r->dir);
    snprintf(files, sizeof files, "%s/files", r->dir);
    snprintf(ini, sizeof ini, "%s/file-server.ini", etc);
    setenv("XFTP_SERVER_CFG_PATH", etc, 1);
    setenv("XFTP_SERVER_LOG_PATH", var, 1);
    char *init[] = {(char *)bin, "init", "-p", files, "-q", "100gb", "--ip", "127.0.0.1", NULL};
    if (run_cmd(init, true) != 0) {
        fprintf(stderr, "bench_xftp: %s init failed\n", bin);
        exit(1);
    }
    /* The port: a free one instead of 443. */
    r->port = free_port();
    FILE *f = fopen(ini, "r");
    static char text[1 << 16];
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    char *p = strstr(text, "\nport: 443\n");
    if (!p) {
        fprintf(stderr, "bench_xftp: no 'port: 443' in %s\n", ini);
        exit(1);
    }
    f = fopen(ini, "w");
    if (!f) {
        perror(ini);
        exit(1);
    }
    fprintf(f, "%.*s\nport: %u\n%s", (int)(p - text), text, (unsigned)r->port,
            p + strlen("\nport: 443\n"));
    fclose(f);

    r->pid = fork();
    if (r->pid < 0) {
        perror("fork");
        exit(1);
    }
    if (r->pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bin, bin, "start", (char *)NULL);
        _exit(127);
    }
    /* Wait for the port. */
    for (int i = 0; i < 500; i++) {
        int fd;
        if (sx_net_connect("127.0.0.1", r->port, 1000, &fd) == SX_OK) {
            sx_net_close(fd);
            break;
        }
        usleep(10000);
    }
    char fpath[320], fp[128] = {0}, addr[256];
    snprintf(fpath, sizeof fpath, "%s/fingerprint", etc);
    f = fopen(fpath, "r");
    if (!f || !fgets(fp, sizeof fp, f)) {
        fprintf(stderr, "bench_xftp: cannot read %s\n", fpath);
        exit(1);
    }
    fclose(f);
    fp[strcspn(fp, "\r\n")] = '\0';
    snprintf(addr, sizeof addr, "xftp://%s@127.0.0.1:%u", fp, (unsigned)r->port);
    sx_status st = sx_xftp_fd_server_parse(addr, strlen(addr), &r->addr);
    if (st != SX_OK)
        die("router address", st);
}

static void router_stop(router *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGINT);
        int st;
        waitpid(r->pid, &st, 0);
    }
    char *rm[] = {"/bin/rm", "-rf", r->dir, NULL};
    if (run_cmd(rm, true) != 0)
        fprintf(stderr, "bench_xftp: could not remove %s\n", r->dir);
}

typedef struct xftp_result {
    double up_mbs, down_mbs;
    double srv_cpu_up, srv_cpu_down, cli_cpu_up, cli_cpu_down; /* seconds */
    thread_cpu thr_up, thr_down;                              /* the router's, by role */
    long rss_idle, rss_up, rss_down;
} xftp_result;

static void run_xftp(router *r, sampler *smp, int chunk_fd, const uint8_t digest[32],
                     size_t chunks, xftp_result *out)
{
    sx_xftp_client *c;
    sx_status st = sx_xftp_client_connect(&r->addr, NULL, &c);
    if (st != SX_OK)
        die("connecting to xftp-server", st);
    sx_key *skey = NULL, *rkey = NULL;
    if (sx_key_generate(SX_KEY_ED25519, &skey) != SX_OK ||
        sx_key_generate(SX_KEY_ED25519, &rkey) != SX_OK)
        die("keys", SX_E_INTERNAL);
    const sx_key *rkeys[1] = {rkey};
    sx_xftp_id *sids = calloc(chunks, sizeof *sids), *rids = calloc(chunks, sizeof *rids);
    if (!sids || !rids)
        die("memory", SX_E_NOMEM);
    int null_fd = open("/dev/null", O_WRONLY);

    out->rss_idle = rss_kib(r->pid);
    (void)sampler_take(smp);
    thread_cpu k0 = cpu_by_thread(r->pid);
    double s0 = cpu_s(r->pid), c0 = self_cpu_s();
    double t0 = now_s();
    for (size_t i = 0; i < chunks; i++) {
        st = sx_xftp_client_fnew(c, skey, CHUNK, sx_slice_of(digest, 32), rkeys, 1, NULL,
                                 &sids[i], &rids[i]);
        if (st == SX_OK)
            st = sx_xftp_client_fput(c, skey, sx_slice_of(sids[i].bytes, sids[i].len), chunk_fd,
                                     0, CHUNK);
        if (st != SX_OK)
            die("upload", st);
    }
    double t1 = now_s();
    double s1 = cpu_s(r->pid), c1 = self_cpu_s();
    thread_cpu k1 = cpu_by_thread(r->pid);
    out->rss_up = sampler_take(smp);
    for (size_t i = 0; i < chunks; i++) {
        st = sx_xftp_client_fget(c, rkey, sx_slice_of(rids[i].bytes, rids[i].len), CHUNK,
                                 sx_slice_of(digest, 32), null_fd);
        if (st != SX_OK)
            die("download", st);
    }
    double t2 = now_s();
    double s2 = cpu_s(r->pid), c2 = self_cpu_s();
    thread_cpu k2 = cpu_by_thread(r->pid);
    out->thr_up = (thread_cpu){k1.conn - k0.conn, k1.io - k0.io, k1.other - k0.other};
    out->thr_down = (thread_cpu){k2.conn - k1.conn, k2.io - k1.io, k2.other - k1.other};
    out->srv_cpu_up = s1 - s0;
    out->srv_cpu_down = s2 - s1;
    out->cli_cpu_up = c1 - c0;
    out->cli_cpu_down = c2 - c1;
    out->rss_down = sampler_take(smp);
    for (size_t i = 0; i < chunks; i++) {
        st = sx_xftp_client_fdel(c, skey, sx_slice_of(sids[i].bytes, sids[i].len));
        if (st != SX_OK)
            die("delete", st);
    }
    double mb = (double)chunks * CHUNK / (1024.0 * 1024.0);
    out->up_mbs = mb / (t1 - t0);
    out->down_mbs = mb / (t2 - t1);
    close(null_fd);
    free(sids);
    free(rids);
    sx_key_free(skey);
    sx_key_free(rkey);
    sx_xftp_client_free(c);
}

/* ---- small commands ---- */

#define CMD_THREADS 4

typedef struct cmd_job {
    router *r;
    const uint8_t *digest;
    size_t pairs; /* FNEW + FDEL */
    double *lat;  /* seconds, one per command */
    sx_status st;
} cmd_job;

static void *cmd_thread(void *arg)
{
    cmd_job *j = arg;
    sx_xftp_client *c = NULL;
    sx_key *skey = NULL, *rkey = NULL;
    j->st = sx_xftp_client_connect(&j->r->addr, NULL, &c);
    if (j->st == SX_OK && (sx_key_generate(SX_KEY_ED25519, &skey) != SX_OK ||
                           sx_key_generate(SX_KEY_ED25519, &rkey) != SX_OK))
        j->st = SX_E_INTERNAL;
    const sx_key *rkeys[1] = {rkey};
    for (size_t i = 0; j->st == SX_OK && i < j->pairs; i++) {
        sx_xftp_id sid, rid;
        double t0 = now_s();
        j->st = sx_xftp_client_fnew(c, skey, CHUNK, sx_slice_of(j->digest, 32), rkeys, 1, NULL, &sid, &rid);
        double t1 = now_s();
        if (j->st == SX_OK)
            j->st = sx_xftp_client_fdel(c, skey, sx_slice_of(sid.bytes, sid.len));
        j->lat[2 * i] = t1 - t0;
        j->lat[2 * i + 1] = now_s() - t1;
    }
    sx_key_free(skey);
    sx_key_free(rkey);
    sx_xftp_client_free(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct cmd_result {
    size_t n;
    double per_s, p50_ms, p99_ms, srv_cpu_pct;
} cmd_result;

static void run_cmds(router *r, const uint8_t digest[32], size_t n, cmd_result *out)
{
    size_t pairs = (n / 2 + CMD_THREADS - 1) / CMD_THREADS;
    out->n = pairs * 2 * CMD_THREADS;
    double *lat = calloc(out->n, sizeof *lat);
    if (!lat)
        die("memory", SX_E_NOMEM);
    cmd_job jobs[CMD_THREADS];
    pthread_t th[CMD_THREADS];
    double s0 = cpu_s(r->pid), t0 = now_s();
    for (int i = 0; i < CMD_THREADS; i++) {
        jobs[i] = (cmd_job){r, digest, pairs, lat + (size_t)i * pairs * 2, SX_OK};
        if (pthread_create(&th[i], NULL, cmd_thread, &jobs[i]) != 0)
            die("thread", SX_E_INTERNAL);
    }
    for (int i = 0; i < CMD_THREADS; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].st != SX_OK)
            die("small commands", jobs[i].st);
    }
    double wall = now_s() - t0, srv = cpu_s(r->pid) - s0;
    qsort(lat, out->n, sizeof *lat, cmp_double);
    out->per_s = (double)out->n / wall;
    out->p50_ms = lat[out->n / 2] * 1000;
    out->p99_ms = lat[out->n * 99 / 100] * 1000;
    out->srv_cpu_pct = 100.0 * srv / wall;
    free(lat);
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    size_t mb = 1024, cmds = 0;
    const char *bin = getenv("SX_XFTP_SERVER");
    if (!bin)
        bin = SX_XFTP_SERVER_BIN;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc)
            mb = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            bin = argv[++i];
        else if (strcmp(argv[i], "--cmds") == 0 && i + 1 < argc)
            cmds = (size_t)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_xftp [--mb N] [--server PATH] [--cmds N]\n");
            return 2;
        }
    }
    if (mb < 4)
        mb = 4;
    size_t chunks = mb / 4;
    signal(SIGPIPE, SIG_IGN);
    if (sx_crypto_init() != SX_OK)
        return 1;
    memset(pattern, 0x5a, sizeof pattern);

    char crt[1024], ca[1024], key[1024];
    data_file("fixtures/server.crt", crt, sizeof crt);
    data_file("fixtures/ca.crt", ca, sizeof ca);
    data_file("fixtures/server.key", key, sizeof key);

    {
        X509 *cert;
        sx_status st = sx_x509_read_cert_file(ca, &cert);
        if (st == SX_OK)
            st = sx_x509_fingerprint(cert, identity);
        if (st != SX_OK)
            die("reading fixtures/ca.crt of the test data", st);
        X509_free(cert);
    }
    /* One 4 MiB chunk of random bytes, uploaded as every chunk. */
    char chunk_path[] = "/tmp/bench_xftp_chunk.XXXXXX";
    int chunk_fd = mkstemp(chunk_path);
    if (chunk_fd < 0) {
        perror("mkstemp");
        return 1;
    }
    unlink(chunk_path);
    uint8_t *chunk = malloc(CHUNK), digest[32];
    if (!chunk)
        return 1;
    sx_random_bytes(chunk, CHUNK);
    if (write(chunk_fd, chunk, CHUNK) != (ssize_t)CHUNK || sx_sha256(sx_slice_of(chunk, CHUNK), digest) != SX_OK) {
        fprintf(stderr, "bench_xftp: writing the chunk file failed\n");
        return 1;
    }
    free(chunk);

    size_t small = chunks / 16 ? chunks / 16 : 1;
    result base;
    run_baseline(crt, ca, key, chunks, &base);

    router r = {0};
    router_start(&r, bin);
    sampler smp = {.pid = r.pid};
    pthread_mutex_init(&smp.mu, NULL);
    if (pthread_create(&smp.th, NULL, sampler_main, &smp) != 0)
        return 1;
    /* The floor, in the router's folder (the same file system): measured
     * FLOOR_RUNS times before the router works and as many after it, each
     * part's median kept (the machine's load moves single measures). */
    xftp_floor fls[2 * FLOOR_RUNS], fl;
    char files_dir[300];
    snprintf(files_dir, sizeof files_dir, "%s/files", r.dir);
    for (int i = 0; i < FLOOR_RUNS; i++)
        if (xftp_floor_measure(files_dir, FLOOR_MIB, &fls[i]) != 0)
            die("measuring the floor", SX_E_INTERNAL);
    xftp_result xs, xl;
    run_xftp(&r, &smp, chunk_fd, digest, small, &xs);
    run_xftp(&r, &smp, chunk_fd, digest, chunks, &xl);
    cmd_result cr = {0};
    if (cmds > 0)
        run_cmds(&r, digest, cmds, &cr);
    pthread_mutex_lock(&smp.mu);
    smp.stop = true;
    pthread_mutex_unlock(&smp.mu);
    pthread_join(smp.th, NULL);
    for (int i = FLOOR_RUNS; i < 2 * FLOOR_RUNS; i++)
        if (xftp_floor_measure(files_dir, FLOOR_MIB, &fls[i]) != 0)
            die("measuring the floor", SX_E_INTERNAL);
    xftp_floor_median(fls, 2 * FLOOR_RUNS, &fl);
    router_stop(&r);
    close(chunk_fd);

    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) != 3)
        load[0] = load[1] = load[2] = -1;
    printf("bench_xftp: %zu MiB in %zu chunks of 4 MiB over loopback (router: %s)\n", chunks * 4, chunks,
           bin);
    printf("load average at the end: %.2f %.2f %.2f (1, 5, 15 min; %ld CPUs)\n\n", load[0], load[1], load[2],
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-36s %10s %10s\n", "transfer", "up MB/s", "down MB/s");
    printf("%-36s %10.1f %10.1f\n", "plain HTTP/2 over TLS (baseline)", base.up_mbs,
           base.down_mbs);
    printf("%-36s %10.1f %10.1f\n", "xftp-server + client library", xl.up_mbs, xl.down_mbs);
    printf("%-36s %10.2f %10.2f\n", "ratio", xl.up_mbs / base.up_mbs, xl.down_mbs / base.down_mbs);
    double gib = (double)chunks * CHUNK / (1024.0 * 1024.0 * 1024.0);
    printf("%-36s %10.2f %10.2f\n", "CPU s per GiB, baseline (both ends)", base.cpu_up / gib,
           base.cpu_down / gib);
    printf("%-36s %10.2f %10.2f\n", "CPU s per GiB, XFTP (both ends)",
           (xl.srv_cpu_up + xl.cli_cpu_up) / gib, (xl.srv_cpu_down + xl.cli_cpu_down) / gib);
    printf("%-36s %10.0f %10.0f\n", "  router CPU, % of the wall time",
           100.0 * xl.srv_cpu_up / ((double)chunks * 4 / xl.up_mbs),
           100.0 * xl.srv_cpu_down / ((double)chunks * 4 / xl.down_mbs));
    printf("%-36s %10.0f %10.0f\n", "  client CPU, % of the wall time",
           100.0 * xl.cli_cpu_up / ((double)chunks * 4 / xl.up_mbs),
           100.0 * xl.cli_cpu_down / ((double)chunks * 4 / xl.down_mbs));
    double rup = xl.srv_cpu_up / gib, rdown = xl.srv_cpu_down / gib;
    printf("\nrouter CPU s per GiB beside its floor (this process, %d MiB, CPU time, median of %d; xftp_floor.h)\n",
           FLOOR_MIB, 2 * FLOOR_RUNS);
    printf("%-36s %10s %10s\n", "", "up", "down");
    printf("%-36s %10.3f %10.3f\n", "  TLS records", fl.tls_dec, fl.tls_enc);
    printf("%-36s %10.3f %10.3f\n", "  SHA-256 / XSalsa20-Poly1305", fl.sha256, fl.stream_enc);
    printf("%-36s %10s %10.3f\n", "    (with libsodium's Poly1305)", "", fl.stream_enc_sodium);
    printf("%-36s %10.3f %10.3f\n", "  loopback TCP recv / send", fl.sock_recv, fl.sock_send);
    printf("%-36s %10.3f %10.3f\n", "  file write / read", fl.file_write, fl.file_read);
    printf("%-36s %10.3f %10.3f\n", "floor", fl.up, fl.down);
    printf("%-36s %10.3f %10.3f\n", "xftp-server", rup, rdown);
    printf("%-36s %10.3f %10.3f\n", "  connection threads", xl.thr_up.conn / gib, xl.thr_down.conn / gib);
    printf("%-36s %10.3f %10.3f\n", "    their floor (TLS, socket; down all)", fl.tls_dec + fl.sock_recv, fl.down);
    printf("%-36s %10.3f %10.3f\n", "  file I/O threads", xl.thr_up.io / gib, xl.thr_down.io / gib);
    printf("%-36s %10.3f %10s\n", "    their floor (SHA-256, file write)", fl.sha256 + fl.file_write, "");
    printf("%-36s %10.3f %10.3f\n", "  other threads", xl.thr_up.other / gib, xl.thr_down.other / gib);
    printf("\n%-36s %10s %10s %5s\n", "measure", "value", "goal", "met");
    double q[2] = {fl.up > 0 ? rup / fl.up : 0, fl.down > 0 ? rdown / fl.down : 0};
    for (int k = 0; k < 2; k++)
        printf("%-36s %10.2f %10s %5s\n", k ? "router CPU over floor, download" : "router CPU over floor, upload",
               q[k], "<= 1.15", q[k] > 0 && q[k] <= 1.15 ? "yes" : "NO");
    printf("\nrouter VmRSS (KiB)        %10s %12s %14s\n", "idle", "upload peak", "download peak");
    printf("%6zu MiB file            %10ld %12ld %14ld\n", small * 4, xs.rss_idle, xs.rss_up,
           xs.rss_down);
    printf("%6zu MiB file            %10ld %12ld %14ld\n", chunks * 4, xl.rss_idle, xl.rss_up,
           xl.rss_down);
    printf("peak growth from the small to the large file: %+ld KiB (flat if about 0)\n",
           (xl.rss_up > xl.rss_down ? xl.rss_up : xl.rss_down) -
               (xs.rss_up > xs.rss_down ? xs.rss_up : xs.rss_down));
    if (cmds > 0) {
        printf("\nsmall commands: %zu (FNEW and FDEL in turn) on %d connections at once\n", cr.n,
               CMD_THREADS);
        printf("%-36s %10.0f\n", "commands/s", cr.per_s);
        printf("%-36s %10.3f\n", "latency p50, ms", cr.p50_ms);
        printf("%-36s %10.3f\n", "latency p99, ms", cr.p99_ms);
        printf("%-36s %10.0f\n", "router CPU, % of the wall time", cr.srv_cpu_pct);
    }
    return 0;
}
