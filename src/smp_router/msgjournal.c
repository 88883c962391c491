/* The SMP router's message journal (see msgjournal.h): its records, replay,
 * the start-up sequence and the compaction while running. */
#include "smp_router/msgjournal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/deadline.h"
#include "core/fileio.h"
#include "crypto/util.h"
#include "kit/lines.h"
#include "kit/paths.h"
#include "smp_router/sltext.h"
#include "kit/say.h"

static void jreport(const sx_msglog_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void jreport(const sx_msglog_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sx_kit_vreport(o ? o->warn : NULL, o ? o->warn_arg : NULL, fmt, ap);
    va_end(ap);
}

/* ---- records ---- */

static bool parse_ids(sx_reader *r, sx_slmsg *m, bool with_msg_id)
{
    sx_slt_read_fixed(r, m->rid, SX_ID_LEN);
    if (with_msg_id) {
        sx_slt_expect(r, " ");
        sx_slt_read_fixed(r, m->msg_id, SX_ID_LEN);
    }
    return sx_reader_ok(r);
}

sx_status sx_mjrec_parse(sx_slice line, sx_mjrec *out)
{
    memset(out, 0, sizeof *out);
    if (line.len >= 3 && memcmp(line.ptr, "v3 ", 3) == 0) {
        out->type = SX_MJ_MSG;
        return sx_slmsg_parse(line, &out->msg);
    }
    sx_slt_parser p;
    SX_TRY(sx_slt_init(&p, line));
    sx_reader *r = &p.r;
    bool ok;
    if (sx_slt_try_lit(r, "ack ")) {
        out->type = SX_MJ_ACK;
        ok = parse_ids(r, &out->msg, true);
    } else if (sx_slt_try_lit(r, "reset ")) {
        out->type = SX_MJ_RESET;
        ok = parse_ids(r, &out->msg, false);
    } else if (sx_slt_try_lit(r, "snapshot")) {
        out->type = SX_MJ_SNAPSHOT;
        ok = true;
    } else {
        ok = false;
    }
    sx_status st = sx_slt_finish(&p, ok);
    free(p.arena); /* these records decode nothing into it */
    if (st != SX_OK)
        memset(out, 0, sizeof *out);
    return st;
}

void sx_mjrec_cleanup(sx_mjrec *r)
{
    if (!r)
        return;
    sx_slmsg_cleanup(&r->msg);
    memset(r, 0, sizeof *r);
}

bool sx_mjrec_encode(sx_writer *w, const sx_mjrec *r)
{
    switch (r->type) {
    case SX_MJ_MSG: return sx_slmsg_encode(w, &r->msg);
    case SX_MJ_ACK:
        sx_write_str(w, "ack ");
        sx_slt_put_id(w, r->msg.rid);
        sx_write_str(w, " ");
        return sx_slt_put_id(w, r->msg.msg_id);
    case SX_MJ_RESET:
        sx_write_str(w, "reset ");
        return sx_slt_put_id(w, r->msg.rid);
    case SX_MJ_SNAPSHOT: return sx_write_str(w, "snapshot");
    }
    return sx_writer_fail(w, SX_E_USAGE);
}

static bool encode_rec(sx_writer *w, const void *rec)
{
    return sx_mjrec_encode(w, rec);
}

uint64_t sx_msgjournal_submit(sx_kit_logwriter *w, const sx_mjrec *r)
{
    if (r->type == SX_MJ_ACK)
        return sx_kit_logwriter_submit_always(w, encode_rec, r);
    return sx_kit_logwriter_submit(w, encode_rec, r);
}

/* ---- replay ---- */

static void clear_queue(sx_queue *q, void *arg)
{
    (void)arg;
    sx_queue_lock(q);
    sx_queue_clear_msgs(q);
    sx_queue_unlock(q);
}

/* One record applied; false with *err only when the store failed. */
static void apply(sx_store *st, sx_queue **qp, const sx_mjrec *rec, const sx_msglog_opts *o,
                  sx_msgjournal_stats *s, sx_status *err)
{
    *err = SX_OK;
    if (rec->type == SX_MJ_SNAPSHOT) {
        if (sx_store_each(st, clear_queue, NULL) != SX_OK)
            *err = SX_E_NOMEM;
        return;
    }
    sx_queue *q = *qp;
    if (!q || memcmp(q->rid, rec->msg.rid, SX_ID_LEN) != 0) {
        sx_queue_release(st, q);
        q = *qp = sx_store_find(st, SX_PARTY_RECIPIENT, sx_slice_of(rec->msg.rid, SX_ID_LEN));
    }
    if (!q) {
        s->unknown++;
        return;
    }
    sx_queue_lock(q);
    switch (rec->type) {
    case SX_MJ_MSG: {
        sx_msglog_stats ms = {0};
        sx_msglog_opts quiet = o ? *o : (sx_msglog_opts){0};
        sx_msglog_restore_one(q, &rec->msg, &quiet, &ms, err);
        s->stored += ms.stored;
        s->expired += ms.expired;
        s->dropped += ms.dropped;
        break;
    }
    case SX_MJ_ACK: s->acked += sx_queue_remove_head(st, q, rec->msg.msg_id); break;
    case SX_MJ_RESET: sx_queue_clear_msgs(q); break;
    case SX_MJ_SNAPSHOT: break;
    }
    sx_queue_unlock(q);
}

sx_status sx_msgjournal_replay(const char *path, sx_store *st, const sx_msglog_opts *o, sx_msgjournal_stats *stats)
{
    sx_msgjournal_stats s = {0};
    sx_kit_linereader lr;
    bool missing;
    sx_status res = sx_kit_linereader_open(&lr, path, &missing);
    if (res != SX_OK) {
        if (stats)
            *stats = s;
        return missing ? SX_OK : res;
    }
    sx_queue *q = NULL;
    for (;;) {
        bool got, too_long;
        res = sx_kit_linereader_next(&lr, &got, &too_long);
        if (res != SX_OK || !got)
            break;
        s.lines++;
        sx_slice line = sx_slice_of(lr.line, lr.len);
        sx_mjrec rec;
        sx_status pst = too_long ? SX_E_LIMIT : sx_mjrec_parse(line, &rec);
        if (pst == SX_E_NOMEM) {
            res = pst;
            break;
        }
        if (pst != SX_OK) {
            char ex[SX_KIT_EXCERPT_SIZE];
            jreport(o, "message journal %s, line %zu skipped (%s): %s", path, s.lines, sx_status_str(pst),
                    sx_kit_line_excerpt(line, ex));
            s.bad_lines++;
            continue;
        }
        sx_status err;
        apply(st, &q, &rec, o, &s, &err);
        sx_mjrec_cleanup(&rec);
        if (err != SX_OK) {
            res = err;
            break;
        }
    }
    sx_queue_release(st, q);
    sx_kit_linereader_close(&lr);
    if (stats)
        *stats = s;
    return res;
}

/* ---- start-up ---- */

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* A queue's messages as records: reset first when with_reset. */
typedef struct snap_ctx {
    sx_kit_linebuf *b;
    bool with_reset;
} snap_ctx;

static void put_rec(sx_kit_linebuf *b, const sx_mjrec *r)
{
    size_t start = b->w.len;
    sx_kit_linebuf_end_line(b, start, sx_mjrec_encode(&b->w, r));
}

static void msg_rec(const sx_queue *q, const sx_msg *m, sx_mjrec *r)
{
    memset(r, 0, sizeof *r);
    r->type = SX_MJ_MSG;
    memcpy(r->msg.rid, q->rid, SX_ID_LEN);
    memcpy(r->msg.msg_id, m->id, SX_ID_LEN);
    r->msg.ts = m->ts;
    r->msg.quota = m->quota;
    r->msg.notify = m->notify;
    r->msg.body = sx_slice_of(m->body, m->len);
}

static void snap_queue(sx_queue *q, void *arg)
{
    sx_kit_linebuf *b = arg;
    if (b->err != SX_OK)
        return;
    sx_queue_lock(q);
    for (const sx_msg *m = q->head; m && b->err == SX_OK; m = m->next) {
        sx_mjrec r;
        msg_rec(q, m, &r);
        put_rec(b, &r);
    }
    sx_queue_unlock(q);
}

static void fill_snapshot(sx_kit_linebuf *b, void *arg)
{
    sx_mjrec hdr = {.type = SX_MJ_SNAPSHOT};
    put_rec(b, &hdr);
    if (b->err == SX_OK && sx_store_each(arg, snap_queue, b) != SX_OK)
        b->err = SX_E_NOMEM;
}

/* Renames path to "<path><suffix>" if it exists. */
static sx_status move_aside(const char *path, const char *suffix)
{
    if (!exists(path))
        return SX_OK;
    char *to = sx_kit_path_with(path, suffix);
    if (!to)
        return SX_E_NOMEM;
    sx_status st = rename(path, to) == 0 ? SX_OK : SX_E_IO;
    free(to);
    return st;
}

sx_status sx_msgjournal_start(const sx_msgjournal_paths *paths, sx_store *st, const sx_msglog_opts *mopts,
                              const sx_kit_log_opts *log_opts, sx_msglog_stats *restored,
                              sx_msgjournal_stats *replayed, sx_kit_log **out)
{
    *out = NULL;
    if (restored)
        memset(restored, 0, sizeof *restored);
    if (replayed)
        memset(replayed, 0, sizeof *replayed);
    char *next = sx_kit_path_with(paths->journal, ".next");
    if (!next)
        return SX_E_NOMEM;
    sx_status res = SX_OK;
    bool from_msgs_log = paths->msgs_log && exists(paths->msgs_log);
    if (from_msgs_log) {
        /* A clean stop wrote every message there: the journal is older. */
        sx_msglog_opts o = mopts ? *mopts : (sx_msglog_opts){0};
        o.keep = true;
        res = sx_msglog_restore(paths->msgs_log, st, &o, restored);
        if (res == SX_OK && (exists(paths->journal) || exists(next))) {
            jreport(mopts, "message journal %s is older than %s: kept as %s.bak, not replayed", paths->journal,
                    paths->msgs_log, paths->journal);
            res = move_aside(paths->journal, ".bak");
            if (res == SX_OK)
                res = move_aside(next, ".bak");
        }
    } else {
        sx_msgjournal_stats a = {0}, b = {0};
        res = sx_msgjournal_replay(paths->journal, st, mopts, &a);
        if (res == SX_OK)
            res = sx_msgjournal_replay(next, st, mopts, &b);
        if (replayed) {
            replayed->lines = a.lines + b.lines;
            replayed->bad_lines = a.bad_lines + b.bad_lines;
            replayed->stored = a.stored + b.stored;
            replayed->acked = a.acked + b.acked;
            replayed->expired = a.expired + b.expired;
            replayed->unknown = a.unknown + b.unknown;
            replayed->dropped = a.dropped + b.dropped;
        }
    }
    /* The compacted journal: to .next (through .next.tmp), then over the
     * journal, then smp-server-messages.log aside. */
    if (res == SX_OK)
        res = sx_kit_save_lines(next, fill_snapshot, st, NULL);
    if (res == SX_OK && rename(next, paths->journal) != 0)
        res = SX_E_IO;
    if (res == SX_OK)
        sx_fs_sync_parent(paths->journal);
    if (res == SX_OK && from_msgs_log)
        res = move_aside(paths->msgs_log, ".bak");
    free(next);
    if (res != SX_OK)
        return res;
    return sx_kit_log_open(paths->journal, false, log_opts, out);
}

void sx_msgjournal_remove(const char *journal)
{
    char *next = sx_kit_path_with(journal, ".next");
    unlink(journal);
    if (next)
        unlink(next);
    free(next);
    sx_fs_sync_parent(journal);
}

/* ---- compaction while running ---- */

struct sx_msgjournal_compactor {
    sx_msgjournal_compact_opts o;
    char *journal, *next;
    sx_store *st;
    sx_kit_logwriter *w;
    sx_kit_log **log;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool given_up;
    uint64_t last_size;   /* the journal's size after the last compaction */
    uint64_t compactions; /* atomic */
};

typedef struct copy_ctx {
    sx_kit_logwriter *w;
    uint64_t last_seq;
    bool refused;
} copy_ctx;

/* Copies q's messages through the writer, under q's lock: the copy lands
 * in the new file between the changes made before and after it. */
static void copy_queue(sx_queue *q, void *arg)
{
    copy_ctx *c = arg;
    if (c->refused)
        return;
    sx_queue_lock(q);
    if (q->head) {
        sx_mjrec r = {.type = SX_MJ_RESET};
        memcpy(r.msg.rid, q->rid, SX_ID_LEN);
        uint64_t seq = sx_msgjournal_submit(c->w, &r);
        for (const sx_msg *m = q->head; m && seq; m = m->next) {
            msg_rec(q, m, &r);
            seq = sx_msgjournal_submit(c->w, &r);
        }
        if (seq)
            c->last_seq = seq;
        else
            c->refused = true;
    }
    sx_queue_unlock(q);
}

static bool stopping(sx_msgjournal_compactor *c)
{
    pthread_mutex_lock(&c->mu);
    bool s = c->stop;
    pthread_mutex_unlock(&c->mu);
    return s;
}

/* Waits ms, or less when stopped; the mutex not held. */
static void nap(sx_msgjournal_compactor *c, int ms)
{
    struct timespec ts = sx_deadline_after_ms(ms);
    pthread_mutex_lock(&c->mu);
    while (!c->stop && pthread_cond_timedwait(&c->cv, &c->mu, &ts) == 0) {
    }
    pthread_mutex_unlock(&c->mu);
}

/* One compaction: false when it had to stop halfway (the journal and .next
 * then both stay, and no further compaction may reuse .next). */
static bool compact(sx_msgjournal_compactor *c)
{
    sx_kit_log *nlog;
    if (sx_kit_log_open(c->next, true, &c->o.log_opts, &nlog) != SX_OK) {
        unlink(c->next);
        return true; /* nothing changed: try again later */
    }
    sx_kit_log *old = sx_kit_logwriter_switch(c->w, nlog);
    *c->log = nlog;
    sx_kit_log_close(old);
    copy_ctx cc = {.w = c->w};
    if (sx_store_each(c->st, copy_queue, &cc) != SX_OK || cc.refused)
        return false;
    while (sx_kit_logwriter_durable(c->w) < cc.last_seq) {
        if (sx_kit_logwriter_dead(c->w) || (stopping(c) && sx_kit_logwriter_failed(c->w)))
            return false;
        nap(c, 5);
    }
    if (rename(c->next, c->journal) != 0)
        return false;
    sx_fs_sync_parent(c->journal);
    __atomic_store_n(&c->last_size, sx_kit_log_size(nlog), __ATOMIC_RELAXED);
    __atomic_add_fetch(&c->compactions, 1, __ATOMIC_RELAXED);
    return true;
}

static void *compactor_main(void *arg)
{
    sx_msgjournal_compactor *c = arg;
    prctl(PR_SET_NAME, "journal compact", 0, 0, 0);
    while (!stopping(c)) {
        nap(c, c->o.check_ms);
        if (stopping(c))
            break;
        uint64_t size = sx_kit_log_size(*c->log);
        uint64_t grown = c->last_size * (c->o.growth ? c->o.growth : 2);
        if (size < c->o.min_bytes || size < grown || sx_kit_logwriter_failed(c->w))
            continue;
        if (!compact(c)) {
            SX_SAY(SX_SAY_WARN,
                   "the message journal could not be compacted; it is kept with %s and both are replayed at the "
                   "next start",
                   c->next);
            break;
        }
    }
    return NULL;
}

sx_status sx_msgjournal_compactor_start(const sx_msgjournal_compact_opts *opts, sx_store *st, sx_kit_logwriter *w,
                                        sx_kit_log **log, sx_msgjournal_compactor **out)
{
    *out = NULL;
    sx_msgjournal_compactor *c = calloc(1, sizeof *c);
    if (!c)
        return SX_E_NOMEM;
    c->o = *opts;
    if (c->o.check_ms <= 0)
        c->o.check_ms = 1000;
    c->journal = strdup(opts->journal);
    c->next = sx_kit_path_with(opts->journal, ".next");
    c->st = st;
    c->w = w;
    c->log = log;
    c->last_size = sx_kit_log_size(*log);
    if (!c->journal || !c->next || pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->journal);
        free(c->next);
        free(c);
        return SX_E_NOMEM;
    }
    if (pthread_cond_init(&c->cv, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        free(c->journal);
        free(c->next);
        free(c);
        return SX_E_INTERNAL;
    }
    c->o.journal = c->journal;
    if (pthread_create(&c->thread, NULL, compactor_main, c) != 0) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c->journal);
        free(c->next);
        free(c);
        return SX_E_INTERNAL;
    }
    *out = c;
    return SX_OK;
}

void sx_msgjournal_compactor_stop(sx_msgjournal_compactor *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c->journal);
    free(c->next);
    free(c);
}

uint64_t sx_msgjournal_compactions(const sx_msgjournal_compactor *c)
{
    return c ? __atomic_load_n(&c->compactions, __ATOMIC_RELAXED) : 0;
}

uint64_t sx_msgjournal_compacted_size(const sx_msgjournal_compactor *c)
{
    return c ? __atomic_load_n(&c->last_size, __ATOMIC_RELAXED) : 0;
}
