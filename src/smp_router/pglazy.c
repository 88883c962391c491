/* Queues read from PostgreSQL on demand (see pglazy.h). */
#include "smp_router/pglazy.h"

#include <stdlib.h>
#include <string.h>

#include "kit/say.h"
#include "smp_router/slapply.h"

#define SELECT_QUEUE "SELECT " SX_PGQ_QUEUE_COLS ", msg_queue_size FROM msg_queues WHERE "
#define NCOLS 17 /* the queue's columns and msg_queue_size */
#define PAGE 500 /* the LIMIT of the page queries */

static const sx_pgstmt L_BY[4] = {
    [SX_PARTY_RECIPIENT] = {SX_PGS_L_BY_RID, SELECT_QUEUE "recipient_id = $1 AND deleted_at IS NULL"},
    [SX_PARTY_SENDER] = {SX_PGS_L_BY_SID, SELECT_QUEUE "sender_id = $1 AND deleted_at IS NULL"},
    [SX_PARTY_NOTIFIER] = {SX_PGS_L_BY_NID, SELECT_QUEUE "notifier_id = $1 AND deleted_at IS NULL"},
    [SX_PARTY_LINK] = {SX_PGS_L_BY_LID, SELECT_QUEUE "link_id = $1 AND deleted_at IS NULL"},
};
static const sx_pgstmt L_SERVICES = {SX_PGS_L_SERVICES,
                                     "SELECT recipient_id, rcv_service_id, ntf_service_id FROM msg_queues "
                                     "WHERE deleted_at IS NULL AND (rcv_service_id IS NOT NULL OR "
                                     "(ntf_service_id IS NOT NULL AND notifier_id IS NOT NULL))"};
/* keyset pages in recipient id order; $1 the last id of the page before */
static const sx_pgstmt L_PAGE = {SX_PGS_L_PAGE, SELECT_QUEUE "recipient_id > $1 AND deleted_at IS NULL "
                                                             "ORDER BY recipient_id LIMIT 500"};
static const sx_pgstmt L_PAGE_MSGS = {SX_PGS_L_PAGE_MSGS,
                                      SELECT_QUEUE "recipient_id > $1 AND deleted_at IS NULL AND msg_queue_size > 0 "
                                                   "ORDER BY recipient_id LIMIT 500"};
static const sx_pgstmt L_COUNTS = {
    SX_PGS_L_COUNTS,
    "SELECT count(*), count(notifier_id), coalesce(sum(msg_queue_size), 0)::bigint FROM msg_queues "
    "WHERE deleted_at IS NULL"};

/* Row i of r as a new queue with its message count. */
static sx_status queue_of_row(const PGresult *r, int i, sx_queue **out)
{
    *out = NULL;
    sx_slrec rec;
    if (PQnfields(r) != NCOLS || !sx_pgq_row_to_rec(r, i, &rec)) {
        sx_pgq_row_warn(NULL, "a queue row does not decode:", sx_pgdb_bytes(r, i, 0));
        return SX_E_PROTOCOL;
    }
    SX_TRY(sx_slrec_new_queue(&rec, out));
    int64_t size = 0;
    if (sx_pgdb_i64(r, i, 16, &size) && size > 0)
        (*out)->n_msgs = size > UINT16_MAX ? UINT16_MAX : (uint16_t)size;
    return SX_OK;
}

sx_status sx_pglazy_read(sx_pgdb *db, sx_party party, const uint8_t id[SX_ID_LEN], sx_queue **out)
{
    *out = NULL;
    if ((unsigned)party > SX_PARTY_LINK)
        return SX_E_USAGE;
    const char *vals[1] = {(const char *)id};
    int lens[1] = {SX_ID_LEN};
    sx_pgconn *c = sx_pgdb_acquire(db);
    PGresult *r = sx_pgdb_run(c, &L_BY[party], 1, vals, lens, "read a queue");
    sx_pgdb_release(db, c);
    if (!r)
        return SX_E_IO;
    sx_status st = PQntuples(r) == 1 ? queue_of_row(r, 0, out) : SX_OK;
    PQclear(r);
    return st;
}

static sx_status load(void *ctx, sx_party party, const uint8_t id[SX_ID_LEN], sx_queue **out)
{
    return sx_pglazy_read(ctx, party, id, out);
}

sx_status sx_pglazy_start(sx_pgdb *db, sx_store *st, sx_slservices *svc, const sx_kit_log_opts *opts,
                          sx_pgq_stats *stats)
{
    sx_pgq_stats local = {0};
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    sx_pgconn *c = sx_pgdb_acquire(db);
    sx_status res = sx_pgq_load_services(c, svc, opts, stats);
    PGresult *r = res == SX_OK ? sx_pgdb_run(c, &L_SERVICES, 0, NULL, NULL, "read the queues' services") : NULL;
    sx_pgdb_release(db, c);
    if (res != SX_OK)
        return res;
    if (!r)
        return SX_E_IO;
    for (int i = 0; i < PQntuples(r) && res == SX_OK; i++) {
        sx_slice rid = sx_pgdb_bytes(r, i, 0), rs = sx_pgdb_bytes(r, i, 1), ns = sx_pgdb_bytes(r, i, 2);
        if (rid.len != SX_ID_LEN) {
            stats->bad_rows++;
            continue;
        }
        sx_status a = rs.len ? sx_slservices_set_queue(svc, rid.ptr, 'R', rs) : SX_OK;
        if (a == SX_OK && ns.len)
            a = sx_slservices_set_queue(svc, rid.ptr, 'N', ns);
        if (a == SX_E_NOMEM)
            res = a;
        else if (a != SX_OK) {
            sx_pgq_row_warn(opts, "a queue's service is unknown:", rid);
            stats->bad_rows++;
        }
    }
    PQclear(r);
    if (res == SX_OK) {
        sx_queue_loader l = {.load = load, .ctx = db};
        sx_store_set_loader(st, &l);
    }
    return res;
}

sx_status sx_pglazy_counts(sx_pgdb *db, int64_t *queues, int64_t *notifiers, int64_t *msgs)
{
    sx_pgconn *c = sx_pgdb_acquire(db);
    PGresult *r = sx_pgdb_run(c, &L_COUNTS, 0, NULL, NULL, "count queues");
    sx_pgdb_release(db, c);
    sx_status st = r && PQntuples(r) == 1 && sx_pgdb_i64(r, 0, 0, queues) && sx_pgdb_i64(r, 0, 1, notifiers) &&
                           sx_pgdb_i64(r, 0, 2, msgs)
                       ? SX_OK
                       : SX_E_IO;
    PQclear(r);
    return st;
}

sx_status sx_pglazy_each_unloaded(sx_pgdb *db, sx_store *st, bool with_msgs, void (*fn)(sx_queue *q, void *arg),
                                  void *arg)
{
    uint8_t last[SX_ID_LEN] = {0};
    bool first = true; /* the first page starts after the empty bytea, before every id */
    sx_queue **page = malloc(PAGE * sizeof *page);
    if (!page)
        return SX_E_NOMEM;
    sx_status res = SX_OK;
    for (;;) {
        const char *vals[1] = {(const char *)last};
        int lens[1] = {first ? 0 : SX_ID_LEN};
        first = false;
        sx_pgconn *c = sx_pgdb_acquire(db);
        PGresult *r = sx_pgdb_run(c, with_msgs ? &L_PAGE_MSGS : &L_PAGE, 1, vals, lens, "read queues");
        sx_pgdb_release(db, c);
        if (!r) {
            res = SX_E_IO;
            break;
        }
        int n = PQntuples(r), k = 0;
        for (int i = 0; i < n && res == SX_OK; i++) {
            sx_slice rid = sx_pgdb_bytes(r, i, 0);
            if (rid.len == SX_ID_LEN)
                memcpy(last, rid.ptr, SX_ID_LEN);
            sx_queue *held = sx_store_find_cached(st, SX_PARTY_RECIPIENT, rid);
            if (held) { /* in memory: the caller's pass over the store has it */
                sx_queue_release(st, held);
                continue;
            }
            sx_queue *q;
            sx_status e = queue_of_row(r, i, &q);
            if (e == SX_OK)
                page[k++] = q;
            else if (e == SX_E_NOMEM)
                res = e;
        }
        PQclear(r); /* the connection and the rows go before fn runs */
        for (int i = 0; i < k; i++) {
            if (res == SX_OK)
                fn(page[i], arg);
            sx_queue_discard(page[i]);
        }
        if (res != SX_OK || n < PAGE)
            break;
    }
    free(page);
    return res;
}
