/* The SMP router's store log (see storelog.h): replay (PROTOCOL-NOTES E26),
 * appends, the compacted log, and the queue store as the owner of a router
 * kit log. The file machinery is the kit's (src/kit/), applying a record is
 * slapply.c. */
#include "smp_router/storelog.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/util.h"
#include "kit/lines.h"
#include "kit/logstart.h"

/* ---- replay ---- */

/* Whether the log being replayed is already compact: every line is the one
 * the snapshot (below) writes for the service or queue it made, the
 * services first, nothing else, and every line was checked against the
 * sum file. The snapshot would then write the same lines, in the order of
 * the store's maps. */
typedef struct compact_check {
    bool ok;
    bool queues;     /* a CREATE was seen: no NEW_SERVICE after it */
    size_t services; /* NEW_SERVICE lines */
    sx_writer w;     /* the line the snapshot writes */
} compact_check;

static bool same_line(compact_check *c, sx_slice line)
{
    bool same = sx_writer_status(&c->w) == SX_OK && sx_slice_eq(sx_writer_slice(&c->w), line);
    c->w.len = 0;
    return same;
}

/* After rec (from line) was applied. */
static void check_line(compact_check *c, sx_store *st, const sx_slservices *svc, const sx_slrec *rec,
                       sx_slice line)
{
    if (rec->type == SX_SLREC_NEW_SERVICE) {
        const sx_slservice *made = svc ? sx_slservices_at(svc, c->services) : NULL;
        c->services++;
        if (c->queues || !made) {
            c->ok = false;
            return;
        }
        sx_slrec r;
        memset(&r, 0, sizeof r);
        r.type = SX_SLREC_NEW_SERVICE;
        r.svc = *made;
        c->ok = sx_slrec_encode(&c->w, &r) && same_line(c, line);
        return;
    }
    sx_queue *q = rec->type == SX_SLREC_CREATE
                      ? sx_store_find_cached(st, SX_PARTY_RECIPIENT, sx_slice_of(rec->rid, SX_ID_LEN))
                      : NULL;
    c->queues = true;
    if (!q) {
        c->ok = false;
        return;
    }
    sx_slrec r;
    sx_queue_lock(q);
    sx_slrec_from_queue(q, svc, &r);
    bool enc = sx_slrec_encode(&c->w, &r);
    sx_queue_unlock(q);
    sx_wipe(&r, sizeof r);
    sx_queue_release(st, q);
    c->ok = enc && same_line(c, line);
}

static sx_status replay(const char *path, sx_store *st, sx_slservices *svc, const sx_kit_log_opts *o,
                        sx_slreplay_stats *stats, compact_check *cc)
{
    sx_slreplay_stats s = {0};
    if (stats)
        *stats = s;
    sx_kit_linereader lr;
    bool missing;
    sx_status res = sx_kit_linereader_open_log(&lr, path, o ? o->warn : NULL, o ? o->warn_arg : NULL, &missing);
    if (res != SX_OK)
        return missing ? SX_OK : res;
    /* A CREATE line takes about 230 bytes (200 at the least): size the maps
     * once, for no more queues than the log can hold. */
    struct stat sb;
    if (fstat(lr.fd, &sb) == 0 && sb.st_size > 0 && sx_store_reserve(st, (size_t)sb.st_size / 200) != SX_OK) {
    }
    for (;;) {
        bool got, too_long;
        res = sx_kit_linereader_next(&lr, &got, &too_long);
        if (res != SX_OK || !got)
            break;
        s.lines++;
        sx_slice line = sx_slice_of(lr.line, lr.len);
        char ex[SX_KIT_EXCERPT_SIZE];
        sx_slrec rec;
        sx_status pst = too_long ? SX_E_LIMIT : sx_slrec_parse(line, &rec);
        if (pst == SX_E_NOMEM) {
            res = pst;
            break;
        }
        if (pst != SX_OK) {
            if (cc)
                cc->ok = false;
            sx_kit_log_report(o, SX_SAY_ERROR,
                              "Error parsing log: %s - %s", sx_status_str(pst), sx_kit_line_excerpt(line, ex));
            s.bad_lines++;
            continue;
        }
        sx_status ast = sx_slrec_apply(st, svc, &rec, o);
        if (cc && cc->ok) {
            if (ast == SX_OK)
                check_line(cc, st, svc, &rec, line);
            else
                cc->ok = false;
        }
        sx_slrec_cleanup(&rec);
        if (ast == SX_E_NOMEM) {
            res = ast;
            break;
        }
        if (ast == SX_OK)
            s.applied++;
        else
            s.skipped++;
    }
    if (cc)
        cc->ok = cc->ok && res == SX_OK && s.lines > 0 && lr.sum && lr.n_unchecked == 0 && lr.n_damaged == 0 &&
                 cc->services == (svc ? sx_slservices_count(svc) : 0);
    sx_kit_linereader_close(&lr);
    if (stats)
        *stats = s;
    return res;
}

sx_status sx_storelog_replay(const char *path, sx_store *st, sx_slservices *svc, const sx_kit_log_opts *o,
                             sx_slreplay_stats *stats)
{
    return replay(path, st, svc, o, stats, NULL);
}

/* ---- appends ---- */

sx_status sx_storelog_append(sx_kit_log *log, const sx_slrec *r)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_KIT_LINE_MAX);
    sx_status st = sx_slrec_encode(&w, r) ? SX_OK : sx_writer_status(&w);
    if (st == SX_OK)
        st = sx_kit_log_append_line(log, sx_writer_slice(&w));
    sx_writer_cleanup(&w);
    return st;
}

static bool encode_rec(sx_writer *w, const void *rec) { return sx_slrec_encode(w, rec); }

uint64_t sx_storelog_submit(sx_kit_logwriter *lw, const sx_slrec *r)
{
    return sx_kit_logwriter_submit(lw, encode_rec, r);
}

/* ---- snapshot (compaction) ---- */

typedef struct snap_ctx {
    sx_store *st;
    const sx_slservices *svc;
    sx_kit_linebuf *b;
} snap_ctx;

static void snap_queue(sx_queue *q, void *arg)
{
    snap_ctx *c = arg;
    if (c->b->err != SX_OK)
        return;
    sx_queue_lock(q);
    sx_slrec rec;
    sx_slrec_from_queue(q, c->svc, &rec);
    size_t start = c->b->w.len;
    bool ok = sx_slrec_encode(&c->b->w, &rec);
    sx_queue_unlock(q);
    sx_wipe(&rec, sizeof rec);
    sx_kit_linebuf_end_line(c->b, start, ok);
}

/* The services' records, then one CREATE per live queue. */
static void fill_snapshot(sx_kit_linebuf *b, void *arg)
{
    snap_ctx *c = arg;
    c->b = b;
    for (size_t i = 0; i < sx_slservices_count(c->svc) && b->err == SX_OK; i++) {
        sx_slrec rec;
        memset(&rec, 0, sizeof rec);
        rec.type = SX_SLREC_NEW_SERVICE;
        rec.svc = *sx_slservices_at(c->svc, i);
        size_t start = b->w.len;
        sx_kit_linebuf_end_line(b, start, sx_slrec_encode(&b->w, &rec));
    }
    if (b->err == SX_OK && sx_store_each(c->st, snap_queue, c) != SX_OK)
        b->err = SX_E_NOMEM;
}

sx_status sx_storelog_write_snapshot(sx_kit_log *log, sx_store *st, const sx_slservices *svc)
{
    snap_ctx c = {.st = st, .svc = svc};
    return sx_kit_log_write_snapshot(log, fill_snapshot, &c);
}

/* The queue store as a log owner. */
typedef struct queue_owner {
    sx_store *st;
    sx_slservices *svc;
    const sx_kit_log_opts *o;
    sx_slreplay_stats *stats;
    compact_check cc;
} queue_owner;

static sx_status queue_replay(void *ctx, const char *path)
{
    queue_owner *q = ctx;
    return replay(path, q->st, q->svc, q->o, q->stats, &q->cc);
}

static bool queue_compact(void *ctx)
{
    queue_owner *q = ctx;
    return q->cc.ok;
}

static sx_status queue_snapshot(void *ctx, sx_kit_log *log)
{
    queue_owner *q = ctx;
    return sx_storelog_write_snapshot(log, q->st, q->svc);
}

sx_status sx_storelog_start(const char *path, sx_store *st, sx_slservices *svc, const sx_kit_log_opts *o,
                            sx_slreplay_stats *stats, sx_kit_log **out)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    queue_owner q = {.st = st, .svc = svc, .o = o, .stats = stats, .cc = {.ok = true}};
    sx_writer_init_dynamic(&q.cc.w, SX_KIT_LINE_MAX);
    sx_kit_log_owner owner = {.ctx = &q, .replay = queue_replay, .snapshot = queue_snapshot, .compact = queue_compact};
    sx_status res = sx_kit_log_start(path, o, &owner, out);
    sx_writer_cleanup(&q.cc.w);
    return res;
}
