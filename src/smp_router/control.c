/* The control port of the SMP router (PROTOCOL-NOTES E32): its commands,
 * in the reference's grammar and words, on the kit's line server
 * (kit/ctlport.h), which owns the connections, the thread and the roles.
 *
 * Queue changes follow the command handlers' rules: the store-log record is
 * submitted under the queue lock together with the change, the answer waits
 * until the record is durable (PROTOCOL-NOTES E25), and the queue's subscriber
 * hears of it on its own worker (ERR BLOCKED, DELD) through sx_sub_post. */
#include "smp_router/control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kit/ctlline.h"
#include "kit/ctlport.h"
#include "smp_router/commands_int.h"
#include "smp_router/control_info.h"
#include "smp_router/server_int.h"
#include "smp/error.h"

#define CTL_INFO_MAX 128 /* canonical BlockingInfo text */

struct sx_control {
    sx_router *r;
    sx_kit_ctl *port;
    /* Blocks made today (UTC), for daily_block_queue_quota. */
    int64_t blocked_day;
    int64_t blocked_today;
};

static sx_control *ctl_of(sx_kit_ctl_conn *c)
{
    return sx_kit_ctl_arg(c);
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
        sx_smp_blocking_info b = parse_info_text(sx_queue_block_info(q));
        char info[256];
        show_blocking_info(&b, info, sizeof info);
        snprintf(out, cap, "EntityBlocked (%s)", info);
    }
}

/* ---- parsing a command line (the reference's ControlProtocol grammar) ---- */

/* " <base64url id>": *ok false when it does not decode to SX_ID_LEN bytes
 * (no such queue). False with *err on a syntax error. */
static bool take_id(sx_kit_line *l, uint8_t id[SX_ID_LEN], bool *ok, const char **err)
{
    uint8_t buf[3 * SX_KIT_CTL_LINE_MAX / 4 + 3];
    size_t n = 0;
    *err = sx_kit_line_b64url_arg(l, buf, sizeof buf, &n);
    if (*err)
        return false;
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

/* The reference's `clients`: a CSV header and one line per connection. */
static void cmd_clients(sx_kit_ctl_conn *c)
{
    char *csv = NULL;
    size_t len = 0;
    sx_status st = sx_router_clients_csv(ctl_of(c)->r, 2000, &csv, &len);
    if (st != SX_OK) {
        sx_kit_ctl_say(c, "error: %s", sx_status_str(st));
        return;
    }
    sx_kit_ctl_say(c, "clientId,sessionId,connected,createdAt,rcvActiveAt,sndActiveAt,age,subscriptions");
    char *p = csv;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        sx_kit_ctl_say(c, "%s", p);
        p = nl ? nl + 1 : NULL;
    }
    free(csv);
}

/* The reference's per-port socket counters. Every closed socket is counted
 * as it closes, so none is ever "leaked" (accepted, neither active nor
 * closed). */
static void cmd_sockets(sx_kit_ctl_conn *c)
{
    sx_router *r = ctl_of(c)->r;
    for (size_t i = 0; i < sx_kit_workers_n_ports(r->ws); i++) {
        uint64_t acc = sx_kit_workers_accepted(r->ws, i);
        uint64_t clo = sx_kit_workers_closed(r->ws, i);
        sx_kit_ctl_say(c, "Sockets for port %u:", (unsigned)sx_kit_workers_port(r->ws, i));
        sx_kit_ctl_say(c, "accepted: %llu", (unsigned long long)acc);
        sx_kit_ctl_say(c, "closed: %llu", (unsigned long long)clo);
        sx_kit_ctl_say(c, "active: %llu", (unsigned long long)(acc >= clo ? acc - clo : 0));
        sx_kit_ctl_say(c, "leaked: 0");
    }
}

static void cmd_stats(sx_kit_ctl_conn *c)
{
    sx_ctl_cmd_stats(c, ctl_of(c)->r);
}

static void cmd_stats_rts(sx_kit_ctl_conn *c)
{
    sx_ctl_cmd_stats_rts(c, ctl_of(c)->r);
}

static void cmd_threads(sx_kit_ctl_conn *c)
{
    sx_ctl_cmd_threads(c, ctl_of(c)->r);
}

static void cmd_socket_threads(sx_kit_ctl_conn *c)
{
    sx_ctl_cmd_socket_threads(c, ctl_of(c)->r);
}

static void cmd_save(sx_kit_ctl_conn *c)
{
    sx_ctl_cmd_save(c, ctl_of(c)->r);
}

static void cmd_status(sx_kit_ctl_conn *c, const uint8_t id[SX_ID_LEN], bool id_ok)
{
    sx_queue *q = id_ok ? find_queue(ctl_of(c)->r, id) : NULL;
    if (!q) {
        sx_kit_ctl_say(c, "error: AUTH");
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
    sx_queue_release(ctl_of(c)->r->store, q);
    if (deleted)
        sx_kit_ctl_say(c, "error: AUTH");
    else
        sx_kit_ctl_say(c, "status: %s, updatedAt: %s, queueMode: %s", status, updated, mode);
}


/* Like DEL (PROTOCOL-NOTES E17): the queue leaves the store, its subscribers
 * get DELD. */
static void cmd_delete(sx_kit_ctl_conn *c, const uint8_t id[SX_ID_LEN], bool id_ok)
{
    sx_router *r = ctl_of(c)->r;
    sx_queue *q = id_ok ? find_queue(r, id) : NULL;
    if (!q) {
        sx_kit_ctl_say(c, "error: AUTH");
        return;
    }
    sx_queue_lock(q);
    if (q->deleted) {
        sx_queue_unlock(q);
        sx_queue_release(r->store, q);
        sx_kit_ctl_say(c, "error: AUTH");
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
        sx_kit_ctl_say(c, "error: INTERNAL");
        return;
    }
    /* Lock order: the queue lock, then the map lock inside. */
    sx_store_delete(r->store, q);
    sx_cmd_count_deleted(r, q);
    unsigned msgs = q->n_msgs;
    sx_sub *sub = q->sub, *nsub = sx_queue_nsub(q);
    q->sub = NULL;
    sx_queue_set_nsub(q, NULL);
    sx_queue_unlock(q);
    bool logged = wait_logged(r, seq);
    /* The queue's references pass to the posts. */
    sx_sub_post_release(r, sub, SX_SUB_DELD, NULL);
    sx_sub_post_release(r, nsub, SX_SUB_DELD, NULL);
    sx_queue_release(r->store, q);
    if (logged)
        sx_kit_ctl_say(c, "ok, %u messages deleted", msgs);
    else
        sx_kit_ctl_say(c, "error: INTERNAL");
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

static void cmd_block(sx_kit_ctl_conn *c, const uint8_t id[SX_ID_LEN], bool id_ok, const sx_smp_blocking_info *info)
{
    sx_control *ctl = ctl_of(c);
    sx_router *r = ctl->r;
    if (quota_reached(ctl)) {
        sx_kit_ctl_say(c, "error: reached limit of %lld queues blocked daily", (long long)r->opts.daily_block_queue_quota);
        return;
    }
    char text[CTL_INFO_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)text, sizeof text - 1);
    if (!sx_smp_blocking_info_write(&w, info)) {
        sx_kit_ctl_say(c, "error: INTERNAL");
        return;
    }
    sx_slice enc = sx_writer_slice(&w);
    text[enc.len] = '\0';
    char shown[256];
    show_blocking_info(info, shown, sizeof shown);

    sx_queue *q = id_ok ? find_queue(r, id) : NULL;
    if (!q) {
        sx_kit_ctl_say(c, "error: AUTH");
        return;
    }
    sx_queue_lock(q);
    if (q->deleted) {
        sx_queue_unlock(q);
        sx_queue_release(r->store, q);
        sx_kit_ctl_say(c, "error: AUTH");
        return;
    }
    uint8_t was = q->status;
    bool same = was == SX_QUEUE_BLOCKED && sx_queue_block_info(q) && strcmp(sx_queue_block_info(q), text) == 0;
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
        /* the side record the text goes to is made before the record is logged */
        if (!copy || !sx_queue_side_get(q) || !submit(r, &rec, &seq)) {
            free(copy);
            failed = true;
        } else if (sx_queue_set_block_info(q, copy) != SX_OK) {
            failed = true; /* cannot happen: the side record is there */
        } else {
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
        sx_kit_ctl_say(c, "error: INTERNAL");
        return;
    }
    /* The subscriber learns it on its own worker: ERR BLOCKED. */
    sx_sub_post_release(r, sub, SX_SUB_BLOCKED, NULL);
    if (was == SX_QUEUE_ACTIVE) {
        ctl->blocked_today++;
        sx_smp_stats_inc(&r->stats, SX_SMP_STAT_Q_BLOCKED);
        sx_kit_ctl_say(c, "ok, queue blocked: EntityBlocked (%s)", shown);
    } else {
        sx_kit_ctl_say(c, "ok, already inactive: EntityBlocked (%s)", shown);
    }
}

static void cmd_unblock(sx_kit_ctl_conn *c, const uint8_t id[SX_ID_LEN], bool id_ok)
{
    sx_router *r = ctl_of(c)->r;
    sx_queue *q = id_ok ? find_queue(r, id) : NULL;
    if (!q) {
        sx_kit_ctl_say(c, "error: AUTH");
        return;
    }
    sx_queue_lock(q);
    uint8_t was = q->status;
    bool deleted = q->deleted;
    sx_smp_blocking_info info = parse_info_text(sx_queue_block_info(q));
    uint64_t seq = 0;
    bool failed = false;
    if (!deleted && was == SX_QUEUE_BLOCKED) {
        sx_slrec rec;
        memset(&rec, 0, sizeof rec);
        rec.type = SX_SLREC_UNBLOCK;
        memcpy(rec.rid, q->rid, SX_ID_LEN);
        if (submit(r, &rec, &seq) && sx_queue_set_block_info(q, NULL) == SX_OK) {
            q->status = SX_QUEUE_ACTIVE;
        } else {
            failed = true;
        }
    }
    sx_queue_unlock(q);
    sx_queue_release(r->store, q);
    if (deleted) {
        sx_kit_ctl_say(c, "error: AUTH");
    } else if (was == SX_QUEUE_BLOCKED) {
        if (failed || !wait_logged(r, seq)) {
            sx_kit_ctl_say(c, "error: INTERNAL");
            return;
        }
        char shown[256];
        show_blocking_info(&info, shown, sizeof shown);
        sx_kit_ctl_say(c, "ok, queue unblocked, reason to block was: %s", shown);
    } else if (was == SX_QUEUE_ACTIVE) {
        sx_kit_ctl_say(c, "ok, queue was active");
    } else {
        sx_kit_ctl_say(c, "error, queue is inactive");
    }
}

static void cmd_help(sx_kit_ctl_conn *c)
{
    sx_kit_ctl_say(c, "commands: stats, stats-rts, clients, sockets, socket-threads, threads, server-info, delete, "
                  "save, help, quit");
}

/* Commands taking a queue id. */
typedef enum id_cmd {
    ID_DELETE,
    ID_STATUS,
    ID_BLOCK,
    ID_UNBLOCK,
} id_cmd;

static void run_id_cmd(sx_kit_ctl_conn *c, id_cmd which, sx_kit_line *l, const char *s, size_t len)
{
    uint8_t id[SX_ID_LEN];
    bool id_ok = false;
    const char *err = NULL;
    sx_smp_blocking_info info = {0};
    if (!take_id(l, id, &id_ok, &err)) {
        sx_kit_ctl_say(c, "error: %s", err);
        return;
    }
    if (which == ID_BLOCK) {
        if (!sx_kit_line_space(l)) {
            sx_kit_ctl_say(c, "error: space");
            return;
        }
        sx_reader rd;
        sx_reader_init(&rd, (const uint8_t *)l->s + l->pos, l->len - l->pos);
        if (!sx_smp_blocking_info_read(&rd, &info)) {
            sx_kit_ctl_say(c, "error: Failed reading: bad BlockingInfo");
            return;
        }
        l->pos = l->len;
    }
    if (!sx_kit_line_at_end(l)) {
        sx_kit_ctl_say(c, "error: endOfInput");
        return;
    }
    sx_kit_ctl_log(c, s, len);
    switch (which) {
    case ID_DELETE:
        if (sx_kit_ctl_allow(c, SX_KIT_CTL_ADMIN))
            cmd_delete(c, id, id_ok);
        break;
    case ID_STATUS:
        if (sx_kit_ctl_allow(c, SX_KIT_CTL_USER))
            cmd_status(c, id, id_ok);
        break;
    case ID_BLOCK:
        if (sx_kit_ctl_allow(c, SX_KIT_CTL_USER))
            cmd_block(c, id, id_ok, &info);
        break;
    case ID_UNBLOCK:
        if (sx_kit_ctl_allow(c, SX_KIT_CTL_USER))
            cmd_unblock(c, id, id_ok);
        break;
    default:
        break;
    }
}

static void run_auth(sx_kit_ctl_conn *c, sx_kit_line *l)
{
    sx_slice pw;
    const char *err = sx_kit_line_auth_arg(l, &pw);
    if (!err && !sx_kit_line_at_end(l))
        err = "endOfInput";
    if (err)
        sx_kit_ctl_say(c, "error: %s", err);
    else
        sx_kit_ctl_auth(c, pw);
}

static void cmd_server_info(sx_kit_ctl_conn *c)
{
    sx_ctl_cmd_server_info(c, ctl_of(c)->r);
}

/* Commands without arguments: the role they need (NONE: anyone), then what
 * runs, or the fixed answer of one not implemented here. help, quit and the
 * empty line are not logged. */
static const struct {
    const char *word;
    sx_kit_ctl_role role;
    void (*run)(sx_kit_ctl_conn *c);
    const char *answer;
    bool logged;
} simple_cmds[] = {
    {"stats", SX_KIT_CTL_USER, cmd_stats, NULL, true},
    /* the reference prints its runtime's statistics */
    /* the reference prints its runtime's statistics; ours are the process's */
    {"stats-rts", SX_KIT_CTL_NONE, cmd_stats_rts, NULL, true},
    {"clients", SX_KIT_CTL_ADMIN, cmd_clients, NULL, true},
    {"threads", SX_KIT_CTL_ADMIN, cmd_threads, NULL, true},
    {"sockets", SX_KIT_CTL_USER, cmd_sockets, NULL, true},
    {"socket-threads", SX_KIT_CTL_ADMIN, cmd_socket_threads, NULL, true},
    {"server-info", SX_KIT_CTL_USER, cmd_server_info, NULL, true},
    {"suspend", SX_KIT_CTL_ADMIN, NULL, "suspend not implemented", true},
    {"resume", SX_KIT_CTL_ADMIN, NULL, "resume not implemented", true},
    {"save", SX_KIT_CTL_ADMIN, cmd_save, NULL, true},
    {"help", SX_KIT_CTL_NONE, cmd_help, NULL, false},
    {"quit", SX_KIT_CTL_NONE, sx_kit_ctl_quit, NULL, false},
    {"", SX_KIT_CTL_NONE, NULL, NULL, false},
};

/* One line without its terminator (the kit's on_line). Parsed commands
 * other than auth, help, quit and an empty line are logged, as the
 * reference logs them. */
static void run_line(void *arg, sx_kit_ctl_conn *c, const char *s, size_t len)
{
    (void)arg;
    sx_kit_line l;
    sx_kit_line_init(&l, s, len);
    sx_slice w = sx_kit_line_word(&l);
    if (sx_kit_line_word_is(w, "auth")) {
        run_auth(c, &l);
        return;
    }
    static const struct {
        const char *word;
        id_cmd cmd;
    } id_cmds[] = {{"delete", ID_DELETE}, {"status", ID_STATUS}, {"block", ID_BLOCK}, {"unblock", ID_UNBLOCK}};
    for (size_t i = 0; i < sizeof id_cmds / sizeof id_cmds[0]; i++) {
        if (sx_kit_line_word_is(w, id_cmds[i].word)) {
            run_id_cmd(c, id_cmds[i].cmd, &l, s, len);
            return;
        }
    }
    for (size_t i = 0; i < sizeof simple_cmds / sizeof simple_cmds[0]; i++) {
        if (sx_kit_line_word_is(w, simple_cmds[i].word)) {
            if (!sx_kit_line_at_end(&l)) {
                sx_kit_ctl_say(c, "error: endOfInput");
                return;
            }
            if (simple_cmds[i].logged)
                sx_kit_ctl_log(c, s, len);
            if (!sx_kit_ctl_allow(c, simple_cmds[i].role)) /* NONE: always */
                return;
            if (simple_cmds[i].run)
                simple_cmds[i].run(c);
            else if (simple_cmds[i].answer)
                sx_kit_ctl_say(c, "%s", simple_cmds[i].answer);
            return;
        }
    }
    sx_kit_ctl_say(c, "error: Failed reading: bad ControlProtocol command");
}

sx_status sx_control_start(sx_router *r, sx_control **out)
{
    *out = NULL;
    sx_control *ctl = calloc(1, sizeof *ctl);
    if (!ctl)
        return SX_E_NOMEM;
    ctl->r = r;
    sx_kit_ctl_opts o = {
        .greeting = "SMP server control port",
        .port = r->opts.control_port,
        .user_password = r->opts.control_user_password,
        .admin_password = r->opts.control_admin_password,
        .quiet = r->opts.quiet,
        .on_line = run_line,
        .arg = ctl,
    };
    sx_status st = sx_kit_ctl_start(&o, &ctl->port);
    if (st != SX_OK) {
        free(ctl);
        return st;
    }
    *out = ctl;
    return SX_OK;
}

uint16_t sx_control_port(const sx_control *c)
{
    return c ? sx_kit_ctl_port(c->port) : 0;
}

void sx_control_stop(sx_control *c)
{
    if (!c)
        return;
    sx_kit_ctl_stop(c->port);
    free(c);
}
