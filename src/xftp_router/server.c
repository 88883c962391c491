/* XFTP router network server: its connections (non-blocking TLS, then one
 * nghttp2 session each, server_http.c), on the kit's listener and worker
 * threads (kit/workers.h), the timers (expiry, the daily statistics line,
 * idle connections and stalled uploads), and start and stop. Requests are
 * in server_http.c, commands in server_cmd.c.
 *
 * A connection lives on one worker for its whole life. nghttp2 is driven
 * with mem_recv (bytes from TLS) and mem_send (bytes to TLS); a frame that
 * TLS could not take whole stays pending until the socket is writable. */
#include "xftp_router/server_int.h"

#include "kit/say.h"
#include "kit/stats.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "core/pad.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "transport/net.h"

#define XS_TICK_MS 1000
#define XS_TLS_TIMEOUT_MS 60000
#define XS_READ_CHUNK (64 * 1024) /* plaintext per read call: about what a read-ahead recv brings */

static const char *const xs_alpn[] = {"xftp/1", "h2", "http/1.1", NULL};

static void conn_close(xs_conn *c);
static void conn_flush(xs_conn *c);
static void conn_io_cb(sx_loop *loop, sx_loop_io *io, unsigned events);

void xs_conn_close(xs_conn *c)
{
    conn_close(c);
}

void xs_conn_why(xs_conn *c, const char *why)
{
    if (!c->why)
        c->why = why;
}

/* ---- connections ---- */

static void conn_update_interest(xs_conn *c)
{
    unsigned ev = SX_EV_READ;
    if (c->state == XS_CONN_TLS)
        ev = sx_tls_conn_want(c->tls) == SX_TLS_WANT_WRITE ? SX_EV_WRITE : SX_EV_READ;
    else if (c->wpend_len > 0 || sx_tls_conn_want(c->tls) == SX_TLS_WANT_WRITE)
        ev |= SX_EV_WRITE;
    if (sx_loop_io_start(c->w->loop, &c->io, ev) != SX_OK) {
        xs_conn_why(c, "internal error");
        conn_close(c);
    }
}

static void free_conn_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    free(t->data);
}

static void conn_close(xs_conn *c)
{
    if (c->fd < 0)
        return;
    xs_worker *w = c->w;
    SX_SAY(SX_SAY_DEBUG, "client %llu: closed (%s)", (unsigned long long)c->id, c->why ? c->why : "by the router");
    sx_loop_io_stop(w->loop, &c->io);
    while (c->streams) {
        if (c->h2)
            nghttp2_session_set_stream_user_data(c->h2, c->streams->id, NULL);
        xs_stream_free(c->streams);
    }
    if (c->h2)
        nghttp2_session_del(c->h2);
    c->h2 = NULL;
    sx_key_free(c->hs_key);
    c->hs_key = NULL;
    sx_wipe(c->hs_priv, sizeof c->hs_priv);
    sx_tls_conn_free(c->tls);
    c->tls = NULL;
    sx_net_close(c->fd);
    c->fd = -1;
    sx_kit_workers_handshake_done(w->s->ws, &c->peer);
    sx_kit_workers_socket_closed(w->s->ws, 0);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    /* Callers up the stack may still look at c (they check c->fd). */
    c->task.cb = free_conn_cb;
    c->task.data = c;
    sx_loop_post(w->loop, &c->task);
}

static void conn_flush(xs_conn *c)
{
    while (c->fd >= 0 && c->h2) {
        if (c->wpend_len == 0) {
            const uint8_t *p = NULL;
            ssize_t n = nghttp2_session_mem_send(c->h2, &p);
            if (n < 0) {
                xs_conn_why(c, "HTTP/2 error");
                conn_close(c);
                return;
            }
            if (n == 0)
                break;
            c->wpend = p;
            c->wpend_len = (size_t)n;
            c->wdone = 0;
        }
        sx_status st = sx_tls_write(c->tls, c->wpend, c->wpend_len, &c->wdone);
        if (st == SX_E_WOULD_BLOCK)
            break;
        if (st != SX_OK) {
            xs_conn_why(c, sx_kit_io_why(st));
            conn_close(c);
            return;
        }
        c->wpend_len = 0;
        c->wdone = 0;
    }
    if (c->fd < 0)
        return;
    if (c->wpend_len == 0 &&
        (c->closing || (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)))) {
        xs_conn_why(c, c->closing ? "protocol error" : "HTTP/2 session ended");
        conn_close(c);
        return;
    }
    conn_update_interest(c);
}

void xs_conn_flush(xs_conn *c)
{
    if (c->fd >= 0)
        conn_flush(c);
}

/* [INACTIVE_CLIENTS] check_interval in ms, bounded so that adding it to a
 * clock reading cannot overflow (0: every tick). */
static int64_t idle_check_ms(const sx_xftp_server_opts *o)
{
    int64_t s = o->inactive_check_interval;
    return s <= 0 ? 0 : s > ((int64_t)1 << 32) ? ((int64_t)1 << 42)
                                               : s * 1000;
}

static void conn_read(xs_conn *c)
{
    uint8_t buf[XS_READ_CHUNK];
    for (;;) {
        size_t done = 0;
        sx_status st = sx_tls_read(c->tls, buf, sizeof buf, &done);
        if (done > 0) {
            c->last_active_ms = sx_loop_now_ms();
            ssize_t r = nghttp2_session_mem_recv(c->h2, buf, done);
            if (r < 0 || c->closing) {
                c->closing = true;
                return;
            }
        }
        if (st == SX_E_WOULD_BLOCK) {
            /* Nothing more to read now: queue the partly filled upload
             * buffers once they hold enough together (XS_UPLOAD_HOLD_MAX). */
            size_t held = 0;
            for (xs_stream *s2 = c->streams; s2; s2 = s2->next)
                held += xs_upload_held(s2);
            if (held >= XS_UPLOAD_HOLD_MAX)
                for (xs_stream *s2 = c->streams; s2; s2 = s2->next)
                    xs_upload_flush(s2);
            return;
        }
        if (st != SX_OK) {
            xs_conn_why(c, sx_kit_io_why(st));
            conn_close(c);
            return;
        }
    }
}

static void conn_tls_step(xs_conn *c)
{
    sx_status st = sx_kit_tls_step(c->w->s->tls, c->fd, &c->tls, c->w->s->opts.log_tls_errors);
    if (st == SX_E_WOULD_BLOCK) {
        conn_update_interest(c);
        return;
    }
    if (st != SX_OK) {
        xs_conn_why(c, st == SX_E_CLOSED ? "peer closed" : "TLS error");
        conn_close(c);
        return;
    }
    SX_SAY(SX_SAY_DEBUG, "client %llu: TLS done", (unsigned long long)c->id);
    xs_conn_start_h2(c);
}

static void conn_io_cb(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)loop;
    xs_conn *c = io->data;
    if (c->state == XS_CONN_TLS) {
        conn_tls_step(c);
        if (c->fd < 0 || c->state == XS_CONN_TLS)
            return;
        events |= SX_EV_READ; /* data may already be buffered in TLS */
    }
    if (c->wpend_len > 0 && (events & (SX_EV_WRITE | SX_EV_ERROR)))
        conn_flush(c);
    if (c->fd >= 0 && (events & (SX_EV_READ | SX_EV_ERROR)))
        conn_read(c);
    if (c->fd >= 0)
        conn_flush(c);
}

/* On worker `worker` (the kit's adopt): a new socket starts its TLS
 * handshake. */
static void adopt(void *arg, unsigned worker, int fd, unsigned port_index, const sx_kit_peer *peer)
{
    xs_server *s = arg;
    xs_worker *w = &s->workers[worker];
    xs_conn *c = calloc(1, sizeof *c);
    if (!c) {
        sx_kit_workers_refuse(s->ws, fd, port_index, peer);
        return;
    }
    c->fd = fd;
    c->peer = *peer;
    c->w = w;
    c->id = __atomic_add_fetch(&s->next_conn_id, 1, __ATOMIC_RELAXED);
    SX_SAY(SX_SAY_DEBUG, "client %llu: accepted, worker %u", (unsigned long long)c->id, worker);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    c->last_active_ms = c->accepted_ms = sx_loop_now_ms();
    c->next_idle_check_ms = c->accepted_ms + idle_check_ms(&s->opts);
    sx_loop_io_init(&c->io, c->fd, conn_io_cb, c);
    /* TLS starts when the client's hello has come (sx_kit_tls_step). */
    if (sx_loop_io_start(w->loop, &c->io, SX_EV_READ) != SX_OK) {
        xs_conn_why(c, "internal error");
        conn_close(c);
    }
}

/* ---- timers ---- */

static void expire_files(xs_server *s, int64_t now)
{
    if (s->file_ttl < 0)
        return;
    size_t n = 0;
    /* Nobody waits for these records: the sweep only queues them. */
    sx_status st = sx_xftp_fstore_expire(s->store, now, s->file_ttl, &n, NULL);
    sx_xftp_stats_add(&s->stats, SX_XFTP_STAT_FILES_EXPIRED, (int64_t)n);
    if (st != SX_OK)
        SX_SAY(SX_SAY_ERROR, "File expiration failed: %s", sx_status_str(st));
    else if (!s->opts.quiet && n > 0)
        SX_SAY(SX_SAY_NOTE, "Expired %zu files", n);
}

#define XS_STATS_INTERVAL 86400 /* the reference's logStatsInterval */
#define XS_STATS_START 0        /* logStatsStartTime: seconds after 00:00 UTC */

static sx_status log_stats(xs_server *s, int64_t now)
{
    char line[512];
    SX_TRY(sx_xftp_stats_daily_line(&s->stats, now, line, sizeof line));
    return sx_kit_stats_append_line(s->opts.stats_log_path, line);
}

static void tick(void *arg, unsigned worker)
{
    xs_server *s = arg;
    xs_worker *w = &s->workers[worker];
    int64_t now = sx_loop_now_ms();
    if (w->index == 0 && now >= s->next_expire_ms) {
        s->next_expire_ms = now + s->expire_interval * 1000;
        expire_files(s, (int64_t)time(NULL));
    }
    if (w->index == 0 && s->opts.stats_log_path) {
        int64_t t = (int64_t)time(NULL);
        if (t >= s->next_stats_log) {
            s->next_stats_log += XS_STATS_INTERVAL;
            if (s->next_stats_log <= t)
                s->next_stats_log = t + XS_STATS_INTERVAL;
            if (log_stats(s, t) != SX_OK)
                SX_SAY(SX_SAY_ERROR, "Cannot write server stats to %s", s->opts.stats_log_path);
        }
    }
    const sx_xftp_server_opts *o = &s->opts;
    xs_conn *c = w->conns;
    while (c) {
        xs_conn *next = c->next;
        if (c->state == XS_CONN_TLS) {
            if (now - c->accepted_ms > XS_TLS_TIMEOUT_MS) {
                xs_conn_why(c, "timeout: TLS handshake");
                conn_close(c);
            }
            c = next;
            continue;
        }
        bool busy = false;
        for (xs_stream *st = c->streams; st; st = st->next) {
            busy = true;
            if (st->phase == XS_UPLOAD && !st->responded && now > st->deadline_ms) {
                xs_upload_abort(st);
                st->phase = XS_DISCARD;
                xs_respond_err(st, c->version, sx_slice_of(st->corr, st->corr_len),
                               sx_slice_of(st->ent, st->ent_len), SX_XFTP_ERR_TIMEOUT);
            }
        }
        /* as the reference, every check_interval from the connection's
         * start; a connection with a request in progress is left alone */
        bool check = o->inactive_disconnect && o->inactive_ttl > 0 && now >= c->next_idle_check_ms;
        if (check)
            c->next_idle_check_ms = now + idle_check_ms(o);
        if (check && !busy && now - c->last_active_ms > o->inactive_ttl * 1000) {
            xs_conn_why(c, "timeout: inactive");
            conn_close(c);
        } else {
            conn_flush(c);
        }
        c = next;
    }
}

/* On each worker's thread, before its loop runs: its file I/O thread. */
static void thread_start(void *arg, unsigned worker)
{
    xs_server *s = arg;
    xs_io_start(&s->workers[worker]);
}

/* On each worker's thread once its loop stopped. */
static void thread_end(void *arg, unsigned worker)
{
    xs_server *s = arg;
    xs_worker *w = &s->workers[worker];
    while (w->conns) {
        xs_conn_why(w->conns, "router stopping");
        conn_close(w->conns);
    }
    /* Buffers still queued post back to the loop; sx_kit_workers_stop
     * drains it, which frees the detached uploads. */
    xs_io_stop(w);
}

/* ---- start / stop ---- */

static void store_warn(void *arg, const char *msg)
{
    const xs_server *s = arg;
    if (!s->opts.quiet)
        SX_SAY(SX_SAY_WARN, "%s", msg);
}

static void store_note(void *arg, const char *msg)
{
    const xs_server *s = arg;
    if (!s->opts.quiet)
        SX_SAY(SX_SAY_NOTE, "%s", msg);
}

static sx_status load_identity(xs_server *s)
{
    X509 *ca = NULL;
    SX_TRY(sx_x509_read_cert_file(s->opts.ca_file, &ca));
    sx_status st = sx_x509_fingerprint(ca, s->identity);
    X509_free(ca);
    return st;
}

static void server_free(xs_server *s)
{
    /* The writer thread posts to the loops no more once this returns. */
    if (s->store)
        sx_xftp_fstore_set_durable_cb(s->store, NULL, NULL);
    sx_kit_workers_free(s->ws);
    free(s->workers);
    sx_xftp_fstore_close(s->store);
    sx_xftp_stats_cleanup(&s->stats);
    sx_key_free(s->sign_key);
    sx_tls_ctx_free(s->tls);
    sx_tls_ctx_free(s->web_tls);
    free(s);
}

/* As the reference's restoreServerStats: the backup's counters, with the
 * file count and size taken from the store; the file is renamed to .bak. */
static sx_status restore_stats(xs_server *s)
{
    const char *path = s->opts.stats_backup_path;
    if (!path || access(path, F_OK) != 0)
        return SX_OK;
    if (!s->opts.quiet)
        SX_SAY(SX_SAY_NOTE, "restoring server stats from file %s", path);
    sx_xftp_stats_data d;
    size_t line = 0;
    sx_status st = sx_xftp_stats_load(path, &d, &line);
    if (st != SX_OK) {
        SX_SAY(SX_SAY_ERROR, "error restoring server stats from %s (line %zu): %s", path, line, sx_status_str(st));
        return st == SX_E_NOMEM ? st : SX_E_PROTOCOL;
    }
    sx_xftp_fstore_stats fs;
    sx_xftp_fstore_stats_get(s->store, &fs);
    int64_t stats_count = d.c[SX_XFTP_STAT_FILES_COUNT], stats_size = d.c[SX_XFTP_STAT_FILES_SIZE];
    d.c[SX_XFTP_STAT_FILES_COUNT] = (int64_t)fs.files;
    d.c[SX_XFTP_STAT_FILES_SIZE] = fs.used;
    sx_xftp_stats_restore(&s->stats, &d);
    sx_xftp_stats_data_cleanup(&d);
    size_t plen = strlen(path);
    char *bak = malloc(plen + 5);
    if (!bak)
        return SX_E_NOMEM;
    memcpy(bak, path, plen);
    memcpy(bak + plen, ".bak", 5);
    if (rename(path, bak) != 0)
        SX_SAY(SX_SAY_WARN, "cannot rename %s to %s", path, bak);
    free(bak);
    if (!s->opts.quiet) {
        SX_SAY(SX_SAY_NOTE, "server stats restored");
        if (stats_count != (int64_t)fs.files)
            SX_SAY(SX_SAY_WARN, "Files count differs: stats: %lld, store: %zu", (long long)stats_count, fs.files);
        if (stats_size != fs.used)
            SX_SAY(SX_SAY_WARN, "Files size differs: stats: %lld, store: %lld", (long long)stats_size,
                   (long long)fs.used);
        SX_SAY(SX_SAY_NOTE, "Restored %lld MBs in %zu files", (long long)(fs.used / 1048576), fs.files);
    }
    return SX_OK;
}

static void save_stats(xs_server *s)
{
    const char *path = s->opts.stats_backup_path;
    if (!path)
        return;
    if (!s->opts.quiet)
        SX_SAY(SX_SAY_NOTE, "saving server stats to file %s", path);
    sx_status st = sx_xftp_stats_save(&s->stats, path);
    if (st != SX_OK)
        SX_SAY(SX_SAY_ERROR, "cannot save server stats to %s: %s", path, sx_status_str(st));
    else if (!s->opts.quiet)
        SX_SAY(SX_SAY_NOTE, "server stats saved");
}

/* Creates <files>/.part for uploads in progress and removes what a crash
 * left there. SX_E_IO when the folder cannot be made. */
static sx_status prepare_part_dir(const char *files_dir, bool quiet)
{
    char dir[XS_PATH_MAX], path[XS_PATH_MAX];
    int k = snprintf(dir, sizeof dir, "%s/" XS_PART_DIR, files_dir);
    if (k < 0 || (size_t)k >= sizeof dir)
        return SX_E_IO;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return SX_E_IO;
    DIR *d = opendir(dir);
    if (!d)
        return SX_E_IO;
    struct dirent *e;
    size_t n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        k = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (k > 0 && (size_t)k < sizeof path && unlink(path) == 0)
            n++;
    }
    closedir(d);
    if (n && !quiet)
        SX_SAY(SX_SAY_NOTE, "removed %zu incomplete upload(s) from %s", n, dir);
    return SX_OK;
}

sx_status xs_server_start(const sx_xftp_server_opts *opts, sx_xftp_server **out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    *out = NULL;
    SX_ENSURE(opts && opts->cert_file && opts->ca_file && opts->key_file && opts->files_dir, SX_E_USAGE);
    SX_TRY(sx_crypto_init());
    xs_server *s = calloc(1, sizeof *s);
    if (!s)
        return SX_E_NOMEM;
    s->opts = *opts;
    sx_xftp_stats_init(&s->stats, (int64_t)time(NULL));
    s->file_ttl = opts->file_ttl == 0 ? SX_XFTP_DEFAULT_FILE_TTL : opts->file_ttl;
    s->expire_interval = opts->expire_interval > 0 ? opts->expire_interval : SX_XFTP_DEFAULT_EXPIRE_INTERVAL;
    s->file_timeout_ms = opts->file_timeout_ms > 0 ? opts->file_timeout_ms : SX_XFTP_DEFAULT_FILE_TIMEOUT_MS;
    sx_status st;
    sx_tls_server_config tcfg = {0};
    tcfg.creds.cert_file = opts->cert_file;
    tcfg.creds.ca_file = opts->ca_file;
    tcfg.creds.key_file = opts->key_file;
    tcfg.alpn = xs_alpn;
    tcfg.no_client_cert_request = true;
    tcfg.https_compat = opts->web_cert_file && opts->web_key_file; /* PROTOCOL-NOTES B3 */
    st = sx_tls_server_ctx_new(&tcfg, &s->tls);
    if (st == SX_OK)
        st = sx_tls_ctx_private_key(s->tls, &s->sign_key);
    if (st == SX_OK)
        st = load_identity(s);
    if (st != SX_OK) {
        server_free(s);
        return st == SX_E_IO ? SX_E_IO : SX_E_PROTOCOL;
    }
    if (opts->web_cert_file && opts->web_key_file) {
        sx_tls_server_config wcfg = {0};
        wcfg.creds.cert_file = opts->web_cert_file;
        wcfg.creds.key_file = opts->web_key_file;
        wcfg.alpn = xs_alpn;
        wcfg.no_client_cert_request = true;
        wcfg.https_compat = true;
        st = sx_tls_server_ctx_new(&wcfg, &s->web_tls);
        if (st == SX_OK)
            st = sx_tls_server_ctx_set_sni(s->tls, s->web_tls);
        if (st != SX_OK) {
            server_free(s);
            return st == SX_E_IO ? SX_E_IO : SX_E_PROTOCOL;
        }
    }
    if (opts->web_static_path) {
        char canon[PATH_MAX];
        if (realpath(opts->web_static_path, canon) && strlen(canon) < sizeof s->web_root)
            memcpy(s->web_root, canon, strlen(canon) + 1);
        else if (!opts->quiet)
            fprintf(stderr, "Web static path %s is not usable\n", opts->web_static_path);
    }
    sx_xftp_fstore_opts so = {0};
    so.files_dir = opts->files_dir;
    so.log_path = opts->store_log_path;
    so.quota = opts->quota;
    so.warn = store_warn;
    so.note = store_note;
    so.warn_arg = s;
    st = sx_xftp_fstore_open(&so, &s->store);
    if (st != SX_OK) {
        server_free(s);
        return st == SX_E_NOMEM ? st : SX_E_IO;
    }
    if (prepare_part_dir(opts->files_dir, opts->quiet) != SX_OK) {
        server_free(s);
        return SX_E_IO;
    }
    /* PROTOCOL-NOTES F28: one sweep at start, then the statistics backup. */
    expire_files(s, (int64_t)time(NULL));
    st = restore_stats(s);
    if (st != SX_OK) {
        server_free(s);
        return st;
    }
    if (opts->stats_log_path) {
        int64_t t = (int64_t)time(NULL);
        int64_t delay = XS_STATS_START - t % 86400;
        s->next_stats_log = t + (delay < 0 ? delay + 86400 : delay);
        if (!opts->quiet)
            SX_SAY(SX_SAY_NOTE, "server stats log enabled: %s", opts->stats_log_path);
    }
    sx_kit_workers_opts wo = {
        .n_workers = opts->workers,
        .tick_ms = XS_TICK_MS,
        .host = opts->host,
        .ports = &opts->port,
        .n_ports = 1,
        .max_pending_per_addr = opts->max_pending_per_addr,
        .limit_loopback = opts->limit_loopback,
        .adopt = adopt,
        .tick = tick,
        .thread_start = thread_start,
        .thread_end = thread_end,
        .arg = s,
    };
    st = sx_kit_workers_new(&wo, &s->ws);
    if (st != SX_OK) {
        server_free(s);
        return st == SX_E_NOMEM ? st : SX_E_IO;
    }
    s->n_workers = sx_kit_workers_count(s->ws);
    s->workers = calloc(s->n_workers, sizeof *s->workers);
    if (!s->workers) {
        server_free(s);
        return SX_E_NOMEM;
    }
    for (unsigned i = 0; i < s->n_workers; i++) {
        s->workers[i].s = s;
        s->workers[i].index = i;
        s->workers[i].loop = sx_kit_workers_loop(s->ws, i);
    }
    /* Every loop exists: the writer thread may post to them from now on. */
    sx_xftp_fstore_set_durable_cb(s->store, xs_log_durable_cb, s);
    s->next_expire_ms = sx_loop_now_ms() + s->expire_interval * 1000;
    st = sx_kit_workers_start(s->ws);
    if (st != SX_OK) {
        server_free(s);
        return st;
    }
    *out = s;
    return SX_OK;
}

uint16_t sx_xftp_server_port(const sx_xftp_server *s)
{
    return s ? sx_kit_workers_port(s->ws, 0) : 0;
}

sx_status sx_xftp_server_expire_now(sx_xftp_server *s, int64_t now, size_t *n_deleted)
{
    SX_ENSURE(s && n_deleted, SX_E_USAGE);
    *n_deleted = 0;
    if (s->file_ttl < 0)
        return SX_OK;
    uint64_t seq = 0;
    sx_status st = sx_xftp_fstore_expire(s->store, now, s->file_ttl, n_deleted, &seq);
    sx_xftp_stats_add(&s->stats, SX_XFTP_STAT_FILES_EXPIRED, (int64_t)*n_deleted);
    /* The caller's thread (tests) may wait: the records are in the log when
     * this returns. */
    sx_status ls = sx_xftp_fstore_wait_durable(s->store, seq);
    return st != SX_OK ? st : ls;
}

sx_status sx_xftp_server_log_stats_now(sx_xftp_server *s, int64_t now)
{
    SX_ENSURE(s && s->opts.stats_log_path, SX_E_USAGE);
    return log_stats(s, now);
}

void xs_server_stop(sx_xftp_server *s)
{
    if (!s)
        return;
    /* Workers stop, each closing its connections and its I/O thread; what
     * was posted to them meanwhile runs; the listener closes. */
    sx_kit_workers_stop(s->ws);
    save_stats(s);
    server_free(s);
}
