/* Store log and messages log <-> PostgreSQL (see pgmigrate.h). Each goes
 * through a memory store: the files' rules (replay, compaction, restore)
 * are the router's own, and the database side is pgqueues.h and pgmsgs.h. */
#include "smp_router/pgmigrate.h"

#include <stdlib.h>

#include "kit/say.h"
#include "smp_router/pgmsgs.h"
#include "smp_router/storelog.h"

sx_status sx_pgmigrate_import_queues(const char *store_log, sx_pgdb *db, const sx_kit_log_opts *o,
                                     sx_pgq_stats *stats)
{
    sx_store *st = NULL;
    sx_slservices *svc = NULL;
    sx_slreplay_stats rs = {0};
    sx_status res = sx_store_new(&st);
    if (res == SX_OK)
        res = sx_slservices_new(&svc);
    if (res == SX_OK)
        res = sx_storelog_replay(store_log, st, svc, o, &rs);
    if (res == SX_OK)
        res = sx_pgq_write_all(db, st, svc, stats);
    sx_slservices_free(svc);
    sx_store_free(st);
    return res;
}

typedef struct ins_ctx {
    sx_pgconn *c;
    sx_status st;
    size_t n;
} ins_ctx;

static void insert_queue_msgs(sx_queue *q, void *arg)
{
    ins_ctx *x = arg;
    sx_queue_lock(q);
    for (sx_msg *m = q->head; m && x->st == SX_OK; m = m->next) {
        x->st = sx_pgmsgs_insert(x->c, q->rid, m);
        if (x->st == SX_OK)
            x->n++;
    }
    sx_queue_unlock(q);
}

/* A memory store with db's queues (no messages back-end: messages stay in
 * the queues' lists). */
static sx_status load_queues(sx_pgdb *db, sx_store **st, sx_slservices **svc, sx_pgq_stats *stats)
{
    *st = NULL;
    *svc = NULL;
    sx_status res = sx_store_new(st);
    if (res == SX_OK)
        res = sx_slservices_new(svc);
    if (res == SX_OK)
        res = sx_pgq_load(db, *st, *svc, NULL, stats);
    return res;
}

sx_status sx_pgmigrate_import_msgs(const char *msgs_log, sx_pgdb *db, bool replace, const sx_msglog_opts *opts,
                                   sx_msglog_stats *stats, size_t *inserted)
{
    sx_store *st;
    sx_slservices *svc;
    sx_status res = load_queues(db, &st, &svc, NULL);
    if (res == SX_OK)
        res = sx_msglog_restore(msgs_log, st, opts, stats);
    ins_ctx x = {.st = res};
    if (res == SX_OK) {
        x.c = sx_pgdb_acquire(db);
        x.st = sx_pgdb_exec(x.c, "BEGIN", "begin");
        if (x.st == SX_OK && replace)
            x.st = sx_pgdb_exec(x.c, "DELETE FROM messages", "delete messages");
        if (x.st == SX_OK) {
            sx_status e = sx_store_each(st, insert_queue_msgs, &x);
            if (e != SX_OK)
                x.st = e;
        }
        if (x.st == SX_OK)
            x.st = sx_pgmsgs_fix_counts(x.c);
        if (x.st == SX_OK)
            x.st = sx_pgdb_exec(x.c, "COMMIT", "commit");
        else
            PQclear(PQexec(x.c->pg, "ROLLBACK"));
        sx_pgdb_release(db, x.c);
    }
    if (inserted)
        *inserted = x.n;
    sx_slservices_free(svc);
    sx_store_free(st);
    return x.st;
}

sx_status sx_pgmigrate_export_queues(sx_pgdb *db, const char *store_log, sx_pgq_stats *stats)
{
    sx_store *st;
    sx_slservices *svc;
    sx_status res = load_queues(db, &st, &svc, stats);
    sx_kit_log *log = NULL;
    if (res == SX_OK)
        res = sx_kit_log_open(store_log, true, NULL, &log);
    if (res == SX_OK)
        res = sx_storelog_write_snapshot(log, st, svc);
    sx_kit_log_close(log);
    sx_slservices_free(svc);
    sx_store_free(st);
    return res;
}

typedef struct exp_ctx {
    sx_store *st;
    sx_status res;
} exp_ctx;

static bool add_msg(void *arg, const uint8_t rid[SX_ID_LEN], const sx_msg *m)
{
    exp_ctx *x = arg;
    sx_queue *q = sx_store_find(x->st, SX_PARTY_RECIPIENT, sx_slice_of(rid, SX_ID_LEN));
    if (!q)
        return true; /* the join only returns live queues: cannot happen */
    sx_queue_lock(q);
    x->res = sx_queue_append_restored(q, m->id, m->ts, m->notify, m->quota, sx_slice_of(m->body, m->len));
    sx_queue_unlock(q);
    sx_queue_release(x->st, q);
    return x->res == SX_OK;
}

sx_status sx_pgmigrate_export_msgs(sx_pgdb *db, const char *msgs_log, size_t *saved, size_t *bad)
{
    sx_store *st;
    sx_slservices *svc;
    sx_status res = load_queues(db, &st, &svc, NULL);
    exp_ctx x = {.st = st, .res = SX_OK};
    if (res == SX_OK)
        res = sx_pgmsgs_each(db, add_msg, &x, bad);
    if (res == SX_E_USAGE)
        res = x.res;
    if (res == SX_OK)
        res = sx_msglog_save(msgs_log, st, saved);
    sx_slservices_free(svc);
    sx_store_free(st);
    return res;
}

sx_status sx_pgmigrate_count_msgs(sx_pgdb *db, int64_t *n)
{
    *n = 0;
    sx_pgconn *c = sx_pgdb_acquire(db);
    PGresult *r = PQexecParams(c->pg, "SELECT count(*) FROM messages", 0, NULL, NULL, NULL, NULL, 1);
    bool ok = sx_pgdb_ok(r) && PQntuples(r) == 1 && sx_pgdb_i64(r, 0, 0, n);
    PQclear(r);
    sx_pgdb_release(db, c);
    return ok ? SX_OK : SX_E_IO;
}
