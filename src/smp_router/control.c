/* The control port of the SMP router (PROTOCOL-NOTES E32): one thread with
 * its own event loop serves a few operator connections on 127.0.0.1, one
 * command per line, answers in the reference's words.
 *
 * Queue changes follow the command handlers' rules: the store-log record is
 * submitted under the queue lock together with the change, the answer waits
 * until the record is durable (PROTOCOL-NOTES E25), and the queue's subscriber
 * hears of it on its own worker (ERR BLOCKED, DELD) through sx_sub_post. */
#include "smp_router/control.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/base64.h"
#include "core/loop.h"
#include "crypto/util.h"
#include "smp_router/server_int.h"
#include "smp/error.h"
#include "transport/net.h"

#define CTL_LINE_MAX 4096        /* longer lines end the connection */
#define CTL_OUT_MAX (256 * 1024) /* unread output beyond this ends it too */
#define CTL_MAX_CONNS 16
#define CTL_INFO_MAX 128         /* canonical BlockingInfo text */

typedef enum ctl_role {
    CTL_ROLE_NONE,
    CTL_ROLE_USER,
    CTL_ROLE_ADMIN,
} ctl_role;

typedef struct ctl_conn {
    sx_control *ctl;
    struct ctl_conn *prev, *next;
    int fd;
    sx_loop_io io;
    ctl_role role;
    bool closing; /* quit, or an over-long line: close once output is out */
    char in[CTL_LINE_MAX];
    size_t in_len;
    char *out;
    size_t out_len, out_off, out_cap;
} ctl_conn;

struct sx_control {
    sx_router *r;
    sx_loop *loop;
    pthread_t thread;
    int listen_fd;
    uint16_t port;
    sx_loop_io listen_io;
    ctl_conn *conns;
    size_t n_conns;
    /* Blocks made today (UTC), for daily_block_queue_quota. */
    int64_t blocked_day;
    int64_t blocked_today;
};

/* ---- connections ---- */

static void conn_close(ctl_conn *c)
{
    sx_control *ctl = c->ctl;
    sx_loop_io_stop(ctl->loop, &c->io);
    sx_net_close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        ctl->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ctl->n_conns--;
    free(c->out);
    free(c);
}

static void out_printf(ctl_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends one formatted line (and its '\n') to c's output. */
static void out_printf(ctl_conn *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    line[len++] = '\n';
    if (c->out_len + len > CTL_OUT_MAX) {
        c->closing = true; /* the operator does not read: give up */
        return;
    }
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p) {
            c->closing = true;
            return;
        }
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, line, len);
    c->out_len += len;
}

/* Writes what it can; false when the connection was closed. */
static bool conn_flush(ctl_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            conn_close(c);
            return false;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        if (c->closing) {
            conn_close(c);
            return false;
        }
    }
    unsigned ev = c->out_len ? SX_EV_WRITE : 0;
    if (!c->closing)
        ev |= SX_EV_READ;
    if (sx_loop_io_start(c->ctl->loop, &c->io, ev) != SX_OK) {
        conn_close(c);
        return false;
    }
    return true;
}

/* ---- text of the reference's Show instances ---- */

static void show_blocking_info(const sx_smp_blocking_info *b, char *out, size_t cap)
{
    const char *reason = b->reason == SX_SMP_BLOCK_CONTENT ? "BRContent" : "BRSpam";
    char notice[96];
    if (!b->has_notice)
        snprintf(notice, sizeof notice, "Nothing");
    else if (!b->has_ttl)
        snprintf(notice, sizeof notice, "Just (ClientNotice {ttl = Nothing})");
    else if (b->ttl < 0)
        snprintf(notice, sizeof notice, "Just (ClientNotice {ttl = Just (%lld)})", (long long)b->ttl);
    else
        snprintf(notice, sizeof notice, "Just (ClientNotice {ttl = Just %lld})", (long long)b->ttl);
    snprintf(out, cap, "BlockingInfo {reason = %s, notice = %s}", reason, notice);
}

/* The stored "reason=...[,notice=...]" text, or spam when unreadable. */
static sx_smp_blocking_info parse_info_text(const char *text)
{
    sx_smp_blocking_info b = {.reason = SX_SMP_BLOCK_SPAM};
    if (text) {
        sx_reader rd;
        sx_reader_init(&rd, (const uint8_t *)text, strlen(text));
        if (!sx_smp_blocking_info_read(&rd, &b)) {
            memset(&b, 0, sizeof b);
            b.reason = SX_SMP_BLOCK_SPAM;
        }
    }
    return b;
}

/* ServerEntityStatus; the queue lock held. */
static void show_status(const sx_queue *q, char *out, size_t cap)
{
    if (q->status == SX_QUEUE_ACTIVE) {
        snprintf(out, cap, "EntityActive");
    } else if (q->status == SX_QUEUE_OFF) {
        snprintf(out, cap, "EntityOff");
    } else {
        sx_smp_blocking_info b = parse_info_text(q->block_info);
        char info[256];
        show_blocking_info(&b, info, sizeof info);
        snprintf(out, cap, "EntityBlocked (%s)", info);
    }
}

/* ---- parsing a command line (the reference's ControlProtocol grammar) ---- */

typedef struct line {
    const char *s;
    size_t len, pos;
} line;

static bool at_end(const line *l)
{
    return l->pos == l->len;
}

static bool take_space(line *l)
{
    if (l->pos < l->len && (l->s[l->pos] == ' ' || l->s[l->pos] == '\t')) {
        l->pos++;
        return true;
    }
    return false;
}

static bool b64url_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_';
}

/* " <base64url id>": the id is decoded into id[SX_ID_LEN]; *ok false when
 * it does not decode to SX_ID_LEN bytes (no such queue). False with *err on
 * a syntax error. */
static bool take_id(line *l, uint8_t id[SX_ID_LEN], bool *ok, const char **err)
{
    if (!take_space(l)) {
        *err = "space";
        return false;
    }
    size_t start = l->pos;
    while (l->pos < l->len && b64url_char(l->s[l->pos]))
        l->pos++;
    if (l->pos == start) {
        *err = "Failed reading: takeWhile1";
        return false;
    }
    while (l->pos < l->len && l->s[l->pos] == '=')
        l->pos++;
    uint8_t buf[3 * CTL_LINE_MAX / 4 + 3];
    size_t n = 0;
    sx_status st = sx_b64_decode(l->s + start, l->pos - start, SX_B64_URL, buf, sizeof buf, &n);
    if (st != SX_OK) {
        *err = "Failed reading: invalid base64url";
        return false;
    }
    *ok = n == SX_ID_LEN;
    if (*ok)
        memcpy(id, buf, SX_ID_LEN);
    return true;
}

/* ---- queue lookups and store-log waits ---- */

/* A queue by its sender id, or else by its link id, retained. */
static sx_queue *find_queue(sx_router *r, const uint8_t id[SX_ID_LEN])
{
    sx_slice s = sx_slice_of(id, SX_ID_LEN);
    sx_queue *q = sx_store_find(r->store, SX_PARTY_SENDER, s);
    return q ? q : sx_store_find(r->store, SX_PARTY_LINK, s);
}

/* Submits rec (the queue lock held); *seq 0 without a store log. False when
 * the log refuses it. */
static bool submit(sx_router *r, const sx_slrec *rec, uint64_t *seq)
{
    *seq = 0;
    if (!r->lw)
        return true;
    *seq = sx_storelog_submit(r->lw, rec);
    return *seq != 0;
}

/* PROTOCOL-NOTES E25: the answer waits until the record is in the file. This
 * thread is the operator's alone, so it may wait; no worker does. */
static bool wait_logged(sx_router *r, uint64_t seq)
{
    if (!r->lw || seq == 0)
        return true;
    while (sx_kit_logwriter_durable(r->lw) < seq) {
        if (sx_kit_logwriter_failed(r->lw))
            return false;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return true;
}

/* ---- commands ---- */

static bool has_role(ctl_conn *c, ctl_role need)
{
    if (c->role >= need)
        return true;
    if (!c->ctl->r->opts.quiet)
        fprintf(stderr, "Unauthorized control port command\n");
    out_printf(c, "AUTH");
    return false;
}

static const char *role_name(ctl_role r)
{
    switch (r) {
    case CTL_ROLE_USER: return "CPRUser";
    case CTL_ROLE_ADMIN: return "CPRAdmin";
    case CTL_ROLE_NONE:
    default: return "CPRNone";
    }
}

static bool password_is(const char *configured, sx_slice given)
{
    return configured && sx_ct_equal(sx_slice_str(configured), given);
}

static void cmd_auth(ctl_conn *c, sx_slice pw)
{
    const sx_router_opts *o = &c->ctl->r->opts;
    ctl_role role = password_is(o->control_admin_password, pw)  ? CTL_ROLE_ADMIN
                    : password_is(o->control_user_password, pw) ? CTL_ROLE_USER
                                                                : CTL_ROLE_NONE;
    if (c->role == CTL_ROLE_NONE) {
        c->role = role;
        out_printf(c, "Current role is %s", role_name(role));
    } else {
        out_printf(c, "Current role is %s%s", role_name(c->role),
                   c->role == role ? "" : ", start new session to change.");
    }
}

static size_t client_count(sx_router *r)
{
    size_t n = 0;
    for (unsigned i = 0; i < r->n_workers; i++)
        n += __atomic_load_n(&r->workers[i].n_conns, __ATOMIC_RELAXED);
    return n;
}

/* The reference's `clients`: a CSV header and one line per connection. */
static void cmd_clients(ctl_conn *c)
{
    char *csv = NULL;
    size_t len = 0;
    sx_status st = sx_router_clients_csv(c->ctl->r, 2000, &csv, &len);
    if (st != SX_OK) {
        out_printf(c, "error: %s", sx_status_str(st));
        return;
    }
    out_printf(c, "clientId,sessionId,connected,createdAt,rcvActiveAt,sndActiveAt,age,subscriptions");
    char *p = csv;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        out_printf(c, "%s", p);
        p = nl ? nl + 1 : NULL;
    }
    free(csv);
}

/* The reference's per-port socket counters. Every closed socket is counted
 * as it closes, so none is ever "leaked" (accepted, neither active nor
 * closed). */
static void cmd_sockets(ctl_conn *c)
{
    sx_router *r = c->ctl->r;
    for (size_t i = 0; i < r->n_listen; i++) {
        uint64_t acc = __atomic_load_n(&r->sockets_accepted[i], __ATOMIC_RELAXED);
        uint64_t clo = __atomic_load_n(&r->sockets_closed[i], __ATOMIC_RELAXED);
        out_printf(c, "Sockets for port %u:", (unsigned)r->ports[i]);
        out_printf(c, "accepted: %llu", (unsigned long long)acc);
        out_printf(c, "closed: %llu", (unsigned long long)clo);
        out_printf(c, "active: %llu", (unsigned long long)(acc >= clo ? acc - clo : 0));
        out_printf(c, "leaked: 0");
    }
}

static void cmd_stats(ctl_conn *c)
{
    sx_router *r = c->ctl->r;
    sx_queue **qs;
    size_t n;
    if (sx_store_snapshot(r->store, &qs, &n) != SX_OK) {
        out_printf(c, "error: out of memory");
        return;
    }
    size_t queues = 0, notifiers = 0, msgs = 0;
    for (size_t i = 0; i < n; i++) {
        sx_queue_lock(qs[i]);
        if (!qs[i]->deleted) {
            queues++;
            notifiers += qs[i]->notifier != NULL;
            msgs += qs[i]->n_msgs;
        }
        sx_queue_unlock(qs[i]);
        sx_queue_release(r->store, qs[i]);
    }
    free(qs);
    out_printf(c, "qCount 2: %zu", queues);
    out_printf(c, "notifiers: %zu", notifiers);
    out_printf(c, "msgCount: %zu", msgs);
    out_printf(c, "Clients: %zu", client_count(r));
}

static void cmd_status(ctl_conn *c, const uint8_t id[SX_ID_LEN], bool id_ok)
{
    sx_queue *q = id_ok ? find_queue(c->ctl->r, id) : NULL;
    if (!q) {
        out_printf(c, "error: AUTH");
        return;
    }
    char status[320], updated[96];
    sx_queue_lock(q);
    show_status(q, status, sizeof status);
    if (q->updated_at)
        snprintf(updated, sizeof updated, "Just (RoundedSystemTime {roundedSeconds = %lld})",
                 (long long)q->updated_at);
    else
        snprintf(updated, sizeof updated, "Nothing");
    const char *mode = q->mode == 'M' ? "Just QMMessaging" : q->mode == 'C' ? "Just QMContact" : "Nothing";
    bool deleted = q->deleted;
    sx_queue_unlock(q);
    sx_queue_release(c->ctl->r->store, q);
    if (deleted)
        out_printf(c, "error: AUTH");
    else
        out_printf(c, "status: %s, updatedAt: %s, queueMode: %s", status, updated, mode);
}


/* Like DEL (PROTOCOL-NOTES E17): the queue leaves the store, its subscribers
 * get DELD. */
static void cmd_delete(ctl_conn *c, const uint8_t id[SX_ID_LEN], bool id_ok)
{
    sx_router *r = c->ctl->r;
    sx_queue *q = id_ok ? find_queue(r, id) : NULL;
    if (!q) {
        out_printf(c, "error: AUTH");
        return;
    }
    sx_queue_lock(q);
    if (q->deleted) {
        sx_queue_unlock(q);
        sx_queue_release(r->store, q);
        out_printf(c, "error: AUTH");
        return;
    }
    sx_slrec rec;
    memset(&rec, 0, sizeof rec);
    rec.type = SX_SLREC_DELETE;
    memcpy(rec.rid, q->rid, SX_ID_LEN);
    uint64_t seq;
    if (!submit(r, &rec, &seq)) {
        sx_queue_unlock(q);
        sx_queue_release(r->store, q);
        out_printf(c, "error: INTERNAL");
        return;
    }
    /* Lock order: the queue lock, then the map lock inside. */
    sx_store_delete(r->store, q);
    unsigned msgs = q->n_msgs;
    sx_sub *sub = q->sub, *nsub = q->nsub;
    q->sub = q->nsub = NULL;
    sx_queue_unlock(q);
    bool logged = wait_logged(r, seq);
    /* The queue's references pass to the posts. */
    sx_sub_post_release(r, sub, SX_SUB_DELD, NULL);
    sx_sub_post_release(r, nsub, SX_SUB_DELD, NULL);
    sx_queue_release(r->store, q);
    if (logged)
        out_printf(c, "ok, %u messages deleted", msgs);
    else
        out_printf(c, "error: INTERNAL");
}

static bool quota_reached(sx_control *ctl)
{
    int64_t quota = ctl->r->opts.daily_block_queue_quota;
    int64_t day = (int64_t)time(NULL) / 86400;
    if (day != ctl->blocked_day) {
        ctl->blocked_day = day;
        ctl->blocked_today = 0;
    }
    /* As the reference: a negative quota refuses every block. */
    return quota != 0 && ctl->blocked_today >= quota;
}

static void cmd_block(ctl_conn *c, const uint8_t id[SX_ID_LEN], bool id_ok, const sx_smp_blocking_info *info)
{
    sx_control *ctl = c->ctl;
    sx_router *r = ctl->r;
    if (quota_reached(ctl)) {
        out_printf(c, "error: reached limit of %lld queues blocked daily", (long long)r->opts.daily_block_queue_quota);
        return;
    }
    char text[CTL_INFO_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)text, sizeof text - 1);
    if (!sx_smp_blocking_info_write(&w, info)) {
        out_printf(c, "error: INTERNAL");
        return;
    }
    sx_slice enc = sx_writer_slice(&w);
    text[enc.len] = '\0';
    char shown[256];
    show_blocking_info(info, shown, sizeof shown);

    sx_queue *q = id_ok ? find_queue(r, id) : NULL;
    if (!q) {
        out_printf(c, "error: AUTH");
        return;
    }
    sx_queue_lock(q);
    if (q->deleted) {
        sx_queue_unlock(q);
        sx_queue_release(r->store, q);
        out_printf(c, "error: AUTH");
        return;
    }
    uint8_t was = q->status;
    bool same = was == SX_QUEUE_BLOCKED && q->block_info && strcmp(q->block_info, text) == 0;
    uint64_t seq = 0;
    sx_sub *sub = NULL;
    bool failed = false;
    if (!same) {
        char *copy = strdup(text);
        sx_slrec rec;
        memset(&rec, 0, sizeof rec);
        rec.type = SX_SLREC_BLOCK;
        memcpy(rec.rid, q->rid, SX_ID_LEN);
        rec.q.block_info = sx_slice_str(copy ? copy : "");
        if (!copy || !submit(r, &rec, &seq)) {
            free(copy);
            failed = true;
        } else {
            free(q->block_info);
            q->block_info = copy;
            q->status = SX_QUEUE_BLOCKED;
            sub = q->sub;
            if (sub)
                sx_sub_retain(sub);
        }
    }
    sx_queue_unlock(q);
    sx_queue_release(r->store, q);
    if (failed || !wait_logged(r, seq)) {
        if (sub)
            sx_sub_release(r, sub);
        out_printf(c, "error: INTERNAL");
        return;
    }
    /* The subscriber learns it on its own worker: ERR BLOCKED. */
    sx_sub_post_release(r, sub, SX_SUB_BLOCKED, NULL);
    if (was == SX_QUEUE_ACTIVE) {
        ctl->blocked_today++;
        out_printf(c, "ok, queue blocked: EntityBlocked (%s)", shown);
    } else {
        out_printf(c, "ok, already inactive: EntityBlocked (%s)", shown);
    }
}

static void cmd_unblock(ctl_conn *c, const uint8_t id[SX_ID_LEN], bool id_ok)
{
    sx_router *r = c->ctl->r;
    sx_queue *q = id_ok ? find_queue(r, id) : NULL;
    if (!q) {
        out_printf(c, "error: AUTH");
        return;
    }
    sx_queue_lock(q);
    uint8_t was = q->status;
    bool deleted = q->deleted;
    sx_smp_blocking_info info = parse_info_text(q->block_info);
    uint64_t seq = 0;
    bool failed = false;
    if (!deleted && was == SX_QUEUE_BLOCKED) {
        sx_slrec rec;
        memset(&rec, 0, sizeof rec);
        rec.type = SX_SLREC_UNBLOCK;
        memcpy(rec.rid, q->rid, SX_ID_LEN);
        if (submit(r, &rec, &seq)) {
            free(q->block_info);
            q->block_info = NULL;
            q->status = SX_QUEUE_ACTIVE;
        } else {
            failed = true;
        }
    }
    sx_queue_unlock(q);
    sx_queue_release(r->store, q);
    if (deleted) {
        out_printf(c, "error: AUTH");
    } else if (was == SX_QUEUE_BLOCKED) {
        if (failed || !wait_logged(r, seq)) {
            out_printf(c, "error: INTERNAL");
            return;
        }
        char shown[256];
        show_blocking_info(&info, shown, sizeof shown);
        out_printf(c, "ok, queue unblocked, reason to block was: %s", shown);
    } else if (was == SX_QUEUE_ACTIVE) {
        out_printf(c, "ok, queue was active");
    } else {
        out_printf(c, "error, queue is inactive");
    }
}

static void cmd_help(ctl_conn *c)
{
    out_printf(c, "commands: stats, stats-rts, clients, sockets, socket-threads, threads, server-info, delete, "
                  "save, help, quit");
}

/* Commands taking a queue id. */
typedef enum id_cmd {
    ID_DELETE,
    ID_STATUS,
    ID_BLOCK,
    ID_UNBLOCK,
} id_cmd;

static void run_id_cmd(ctl_conn *c, id_cmd which, line *l)
{
    uint8_t id[SX_ID_LEN];
    bool id_ok = false;
    const char *err = NULL;
    sx_smp_blocking_info info = {0};
    if (!take_id(l, id, &id_ok, &err)) {
        out_printf(c, "error: %s", err);
        return;
    }
    if (which == ID_BLOCK) {
        if (!take_space(l)) {
            out_printf(c, "error: space");
            return;
        }
        sx_reader rd;
        sx_reader_init(&rd, (const uint8_t *)l->s + l->pos, l->len - l->pos);
        if (!sx_smp_blocking_info_read(&rd, &info)) {
            out_printf(c, "error: Failed reading: bad BlockingInfo");
            return;
        }
        l->pos = l->len;
    }
    if (!at_end(l)) {
        out_printf(c, "error: endOfInput");
        return;
    }
    switch (which) {
    case ID_DELETE:
        if (has_role(c, CTL_ROLE_ADMIN))
            cmd_delete(c, id, id_ok);
        break;
    case ID_STATUS:
        if (has_role(c, CTL_ROLE_USER))
            cmd_status(c, id, id_ok);
        break;
    case ID_BLOCK:
        if (has_role(c, CTL_ROLE_USER))
            cmd_block(c, id, id_ok, &info);
        break;
    case ID_UNBLOCK:
        if (has_role(c, CTL_ROLE_USER))
            cmd_unblock(c, id, id_ok);
        break;
    default:
        break;
    }
}

/* A printable password without spaces, '@', ':' or '/' (BasicAuth). */
static void run_auth(ctl_conn *c, line *l)
{
    if (!take_space(l)) {
        out_printf(c, "error: space");
        return;
    }
    size_t start = l->pos;
    while (l->pos < l->len && l->s[l->pos] != '@')
        l->pos++;
    if (l->pos == start) {
        out_printf(c, "error: Failed reading: takeWhile1");
        return;
    }
    for (size_t i = start; i < l->pos; i++) {
        unsigned char ch = (unsigned char)l->s[i];
        if (ch <= ' ' || ch >= 0x7f || ch == ':' || ch == '/') {
            out_printf(c, "error: Failed reading: invalid character in BasicAuth");
            return;
        }
    }
    if (!at_end(l)) {
        out_printf(c, "error: endOfInput");
        return;
    }
    cmd_auth(c, sx_slice_of(l->s + start, l->pos - start));
}

typedef enum simple_cmd {
    S_STATS,
    S_STATS_RTS,
    S_CLIENTS,
    S_THREADS,
    S_SOCKETS,
    S_SOCKET_THREADS,
    S_SERVER_INFO,
    S_SUSPEND,
    S_RESUME,
    S_SAVE,
    S_HELP,
    S_QUIT,
    S_SKIP,
} simple_cmd;

static const struct {
    const char *word;
    simple_cmd cmd;
} simple_cmds[] = {
    {"stats", S_STATS},     {"stats-rts", S_STATS_RTS},           {"clients", S_CLIENTS},
    {"threads", S_THREADS}, {"sockets", S_SOCKETS},               {"socket-threads", S_SOCKET_THREADS},
    {"suspend", S_SUSPEND}, {"server-info", S_SERVER_INFO},       {"resume", S_RESUME},
    {"save", S_SAVE},       {"help", S_HELP},                     {"quit", S_QUIT},
    {"", S_SKIP},
};

static void run_simple(ctl_conn *c, simple_cmd cmd)
{
    switch (cmd) {
    case S_STATS:
        if (has_role(c, CTL_ROLE_USER))
            cmd_stats(c);
        break;
    case S_STATS_RTS: /* the reference prints its runtime's statistics */
        out_printf(c, "stats-rts not available");
        break;
    case S_CLIENTS:
        if (has_role(c, CTL_ROLE_ADMIN))
            cmd_clients(c);
        break;
    case S_THREADS:
        if (has_role(c, CTL_ROLE_ADMIN))
            out_printf(c, "threads not implemented");
        break;
    case S_SOCKETS:
        if (has_role(c, CTL_ROLE_USER))
            cmd_sockets(c);
        break;
    case S_SOCKET_THREADS:
        if (has_role(c, CTL_ROLE_ADMIN))
            out_printf(c, "socket-threads not implemented");
        break;
    case S_SERVER_INFO:
        if (has_role(c, CTL_ROLE_USER))
            out_printf(c, "Clients: %zu", client_count(c->ctl->r));
        break;
    case S_SUSPEND:
        if (has_role(c, CTL_ROLE_ADMIN))
            out_printf(c, "suspend not implemented");
        break;
    case S_RESUME:
        if (has_role(c, CTL_ROLE_ADMIN))
            out_printf(c, "resume not implemented");
        break;
    case S_SAVE:
        /* Queue changes are in the store log as they happen; messages are
         * saved when the router stops. */
        if (has_role(c, CTL_ROLE_ADMIN))
            out_printf(c, "save not implemented");
        break;
    case S_HELP: cmd_help(c); break;
    case S_QUIT: c->closing = true; break;
    case S_SKIP:
    default: break;
    }
}

static bool word_is(const char *w, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(w, s, n) == 0;
}

/* One line without its terminator. */
static void run_line(ctl_conn *c, const char *s, size_t len)
{
    line l = {s, len, 0};
    while (l.pos < len && s[l.pos] != ' ')
        l.pos++;
    const char *w = s;
    size_t wn = l.pos;
    bool loggable = !(word_is(w, wn, "auth") || word_is(w, wn, "help") || word_is(w, wn, "quit") || wn == 0);
    if (loggable && !c->ctl->r->opts.quiet)
        fprintf(stderr, "ControlPort: %.*s\n", (int)len, s);
    if (word_is(w, wn, "auth")) {
        run_auth(c, &l);
        return;
    }
    static const struct {
        const char *word;
        id_cmd cmd;
    } id_cmds[] = {{"delete", ID_DELETE}, {"status", ID_STATUS}, {"block", ID_BLOCK}, {"unblock", ID_UNBLOCK}};
    for (size_t i = 0; i < sizeof id_cmds / sizeof id_cmds[0]; i++) {
        if (word_is(w, wn, id_cmds[i].word)) {
            run_id_cmd(c, id_cmds[i].cmd, &l);
            return;
        }
    }
    for (size_t i = 0; i < sizeof simple_cmds / sizeof simple_cmds[0]; i++) {
        if (word_is(w, wn, simple_cmds[i].word)) {
            if (!at_end(&l))
                out_printf(c, "error: endOfInput");
            else
                run_simple(c, simple_cmds[i].cmd);
            return;
        }
    }
    out_printf(c, "error: Failed reading: bad ControlProtocol command");
}

/* Runs every complete line in the input buffer. */
static void run_lines(ctl_conn *c)
{
    size_t start = 0;
    for (size_t i = 0; i < c->in_len && !c->closing; i++) {
        if (c->in[i] != '\n')
            continue;
        size_t end = i;
        if (end > start && c->in[end - 1] == '\r')
            end--;
        run_line(c, c->in + start, end - start);
        start = i + 1;
    }
    if (c->closing)
        start = c->in_len;
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
}

static void conn_io_cb(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)loop;
    ctl_conn *c = io->data;
    if (!c->closing && (events & (SX_EV_READ | SX_EV_ERROR))) {
        for (;;) {
            ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n <= 0) {
                conn_close(c);
                return;
            }
            c->in_len += (size_t)n;
            run_lines(c);
            if (c->closing)
                break;
            if (c->in_len == sizeof c->in) {
                out_printf(c, "error: line too long");
                c->closing = true;
                break;
            }
        }
    }
    (void)conn_flush(c);
}

static void accept_cb(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)events;
    sx_control *ctl = io->data;
    for (;;) {
        int fd;
        if (sx_net_accept(io->fd, 0, &fd) != SX_OK)
            return;
        ctl_conn *c = ctl->n_conns < CTL_MAX_CONNS ? calloc(1, sizeof *c) : NULL;
        if (!c) {
            sx_net_close(fd);
            continue;
        }
        c->ctl = ctl;
        c->fd = fd;
        c->next = ctl->conns;
        if (ctl->conns)
            ctl->conns->prev = c;
        ctl->conns = c;
        ctl->n_conns++;
        sx_loop_io_init(&c->io, fd, conn_io_cb, c);
        out_printf(c, "SMP server control port");
        out_printf(c, "'help' for supported commands");
        if (sx_loop_io_start(loop, &c->io, SX_EV_READ) != SX_OK) {
            conn_close(c);
            continue;
        }
        (void)conn_flush(c);
    }
}

static void *control_main(void *arg)
{
    sx_control *ctl = arg;
    if (sx_loop_run(ctl->loop) != SX_OK)
        fprintf(stderr, "control port: event loop failed\n");
    while (ctl->conns)
        conn_close(ctl->conns);
    sx_loop_io_stop(ctl->loop, &ctl->listen_io);
    return NULL;
}

sx_status sx_control_start(sx_router *r, sx_control **out)
{
    *out = NULL;
    sx_control *ctl = calloc(1, sizeof *ctl);
    if (!ctl)
        return SX_E_NOMEM;
    ctl->r = r;
    ctl->listen_fd = -1;
    sx_status st = sx_loop_new(&ctl->loop);
    if (st == SX_OK)
        st = sx_net_listen("127.0.0.1", r->opts.control_port, 16, &ctl->listen_fd, &ctl->port);
    if (st == SX_OK) {
        sx_loop_io_init(&ctl->listen_io, ctl->listen_fd, accept_cb, ctl);
        st = sx_loop_io_start(ctl->loop, &ctl->listen_io, SX_EV_READ);
    }
    if (st == SX_OK && pthread_create(&ctl->thread, NULL, control_main, ctl) != 0)
        st = SX_E_INTERNAL;
    if (st != SX_OK) {
        if (ctl->loop) {
            sx_loop_io_stop(ctl->loop, &ctl->listen_io);
            sx_loop_free(ctl->loop);
        }
        sx_net_close(ctl->listen_fd);
        free(ctl);
        return st;
    }
    *out = ctl;
    return SX_OK;
}

uint16_t sx_control_port(const sx_control *c)
{
    return c ? c->port : 0;
}

void sx_control_stop(sx_control *c)
{
    if (!c)
        return;
    sx_loop_stop(c->loop);
    pthread_join(c->thread, NULL);
    sx_loop_free(c->loop);
    sx_net_close(c->listen_fd);
    free(c);
}
