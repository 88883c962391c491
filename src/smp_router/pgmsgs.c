/* The queue store's messages in PostgreSQL (see pgmsgs.h). The queue lock
 * is held by the callers of store.h around each call; each call takes a
 * connection of the pool for one statement (the schema's functions lock
 * the queue's row, so two routers' writes would not interleave either). */
#include "smp_router/pgmsgs.h"

#include <stdlib.h>
#include <string.h>

#include "kit/say.h"
#include "smp_router/msglog.h"

#define MSG_COLS "msg_id, msg_ts, msg_quota, msg_ntf_flag, msg_body"

static const sx_pgstmt M_WRITE = {SX_PGS_M_WRITE,
                                  "SELECT quota_written, was_empty FROM write_message($1::bytea, $2::bytea, "
                                  "$3::bigint, $4::boolean, $5::boolean, $6::bytea, $7::int)"};
static const sx_pgstmt M_PEEK = {SX_PGS_M_PEEK, "SELECT " MSG_COLS " FROM messages WHERE recipient_id = $1 "
                                                "ORDER BY message_id ASC LIMIT 1"};
static const sx_pgstmt M_DEL = {SX_PGS_M_DEL, "SELECT r_msg_id FROM try_del_msg($1::bytea, $2::bytea)"};
static const sx_pgstmt M_EXPIRE = {SX_PGS_M_EXPIRE, "SELECT delete_expired_msgs($1::bytea, $2::bigint)"};
static const sx_pgstmt M_DROP = {SX_PGS_M_DROP, "DELETE FROM messages WHERE recipient_id = $1"};
static const sx_pgstmt M_SIZE = {SX_PGS_M_SIZE, "SELECT msg_queue_size FROM msg_queues "
                                                "WHERE recipient_id = $1 AND deleted_at IS NULL"};
static const sx_pgstmt M_INSERT = {SX_PGS_M_INSERT,
                                   "INSERT INTO messages (recipient_id, " MSG_COLS ") VALUES ($1, $2, $3, $4, $5, $6)"};

/* the head a caller reads until its next call */
static _Thread_local union {
    sx_msg m;
    uint8_t bytes[sizeof(sx_msg) + SX_MSG_BODY_MAX];
} tl_head;

static void put_i32(uint8_t out[4], int32_t v)
{
    uint32_t u = (uint32_t)v;
    out[0] = (uint8_t)(u >> 24);
    out[1] = (uint8_t)(u >> 16);
    out[2] = (uint8_t)(u >> 8);
    out[3] = (uint8_t)u;
}

static uint16_t clamp16(int64_t v) { return v < 0 ? 0 : v > UINT16_MAX ? UINT16_MAX
                                                                       : (uint16_t)v; }

static sx_status pm_push(void *ctx, sx_queue *q, const uint8_t id[SX_ID_LEN], int64_t ts, bool notify, sx_slice body,
                         sx_push_result *res, bool *was_empty)
{
    sx_pgdb *db = ctx;
    *res = SX_PUSH_QUOTA;
    *was_empty = false;
    if (body.len > SX_MSG_BODY_MAX)
        return SX_E_LIMIT;
    uint8_t tsb[8], quota[4];
    sx_pgdb_put_i64(tsb, ts);
    put_i32(quota, SX_QUEUE_QUOTA);
    uint8_t f = 0, t = notify ? 1 : 0;
    const char *vals[7] = {(const char *)q->rid, (const char *)id, (const char *)tsb, (const char *)&f,
                           (const char *)&t, body.len ? (const char *)body.ptr : "", (const char *)quota};
    int lens[7] = {SX_ID_LEN, SX_ID_LEN, 8, 1, 1, (int)body.len, 4};
    sx_pgconn *c = sx_pgdb_acquire(db);
    PGresult *r = sx_pgdb_run(c, &M_WRITE, 7, vals, lens, "write_message");
    sx_pgdb_release(db, c);
    if (!r)
        return SX_E_IO;
    sx_status st = SX_OK;
    if (PQntuples(r) == 1) {
        bool marker = false, empty = false;
        if (sx_pgdb_bool(r, 0, 0, &marker) && sx_pgdb_bool(r, 0, 1, &empty)) {
            *res = marker ? SX_PUSH_QUOTA : SX_PUSH_OK;
            *was_empty = empty;
            q->n_msgs = empty ? 1 : clamp16((int64_t)q->n_msgs + 1);
        } else {
            st = SX_E_PROTOCOL;
        }
    }
    PQclear(r);
    return st;
}

/* A message row (MSG_COLS from column c) into the thread's head buffer;
 * NULL when a value is not of its size. */
static sx_msg *row_to_head(const PGresult *r, int row, int c)
{
    sx_msg *h = &tl_head.m;
    sx_slice id = sx_pgdb_bytes(r, row, c), body = sx_pgdb_bytes(r, row, c + 4);
    bool quota = false, notify = false;
    int64_t ts = 0;
    if (!id.ptr || id.len != SX_ID_LEN || !body.ptr || body.len > SX_MSG_BODY_MAX ||
        !sx_pgdb_i64(r, row, c + 1, &ts) || !sx_pgdb_bool(r, row, c + 2, &quota) ||
        !sx_pgdb_bool(r, row, c + 3, &notify))
        return NULL;
    h->next = NULL;
    memcpy(h->id, id.ptr, SX_ID_LEN);
    h->ts = ts;
    h->quota = quota;
    h->notify = notify;
    h->len = (uint16_t)body.len;
    if (body.len)
        memcpy(h->body, body.ptr, body.len);
    return h;
}

static sx_msg *pm_head(void *ctx, const sx_queue *q)
{
    sx_pgdb *db = ctx;
    const char *vals[1] = {(const char *)q->rid};
    int lens[1] = {SX_ID_LEN};
    sx_pgconn *c = sx_pgdb_acquire(db);
    PGresult *r = sx_pgdb_run(c, &M_PEEK, 1, vals, lens, "read message");
    sx_msg *h = NULL;
    bool size_known = false;
    int64_t size = 0;
    if (r && PQntuples(r) == 1) {
        h = row_to_head(r, 0, 0);
        if (!h)
            SX_SAY(SX_SAY_ERROR, "STORE: database: a message row does not decode");
        PGresult *s = sx_pgdb_run(c, &M_SIZE, 1, vals, lens, "queue size");
        size_known = s && PQntuples(s) == 1 && sx_pgdb_i64(s, 0, 0, &size);
        PQclear(s);
    } else if (r) {
        size_known = true; /* empty */
    }
    PQclear(r);
    sx_pgdb_release(db, c);
    /* the caller holds the queue lock; q is const only in the interface */
    if (size_known)
        ((sx_queue *)q)->n_msgs = clamp16(size);
    return h;
}

static bool pm_remove_head(void *ctx, sx_queue *q, const uint8_t id[SX_ID_LEN])
{
    sx_pgdb *db = ctx;
    const char *vals[2] = {(const char *)q->rid, (const char *)id};
    int lens[2] = {SX_ID_LEN, SX_ID_LEN};
    sx_pgconn *c = sx_pgdb_acquire(db);
    PGresult *r = sx_pgdb_run(c, &M_DEL, 2, vals, lens, "try_del_msg");
    sx_pgdb_release(db, c);
    bool deleted = r && PQntuples(r) == 1;
    PQclear(r);
    if (deleted && q->n_msgs)
        q->n_msgs--;
    return deleted;
}

static size_t pm_expire(void *ctx, sx_queue *q, int64_t cutoff)
{
    sx_pgdb *db = ctx;
    if (q->n_msgs == 0)
        return 0; /* known empty (loaded with its size, then followed) */
    uint8_t tb[8];
    sx_pgdb_put_i64(tb, cutoff);
    const char *vals[2] = {(const char *)q->rid, (const char *)tb};
    int lens[2] = {SX_ID_LEN, 8};
    sx_pgconn *c = sx_pgdb_acquire(db);
    PGresult *r = sx_pgdb_run(c, &M_EXPIRE, 2, vals, lens, "delete_expired_msgs");
    sx_pgdb_release(db, c);
    int64_t n = 0;
    if (r && PQntuples(r) == 1 && !sx_pgdb_i64(r, 0, 0, &n))
        n = 0;
    PQclear(r);
    if (n > 0)
        q->n_msgs = clamp16((int64_t)q->n_msgs - n);
    return n > 0 ? (size_t)n : 0;
}

static void pm_deleted(void *ctx, sx_queue *q)
{
    sx_pgdb *db = ctx;
    const char *vals[1] = {(const char *)q->rid};
    int lens[1] = {SX_ID_LEN};
    sx_pgconn *c = sx_pgdb_acquire(db);
    PGresult *r = sx_pgdb_run(c, &M_DROP, 1, vals, lens, "delete messages");
    sx_pgdb_release(db, c);
    PQclear(r);
    q->n_msgs = 0;
}

static void pm_close(void *ctx) { (void)ctx; }

void sx_store_use_pg_messages(sx_store *s, sx_pgdb *db)
{
    sx_msg_backend b = {
        .push = pm_push,
        .head = pm_head,
        .remove_head = pm_remove_head,
        .expire = pm_expire,
        .deleted = pm_deleted,
        .close = pm_close,
        .ctx = db,
    };
    sx_store_set_msg_backend(s, db ? &b : NULL);
}

/* ---- import and export --------------------------------------------------- */

sx_status sx_pgmsgs_each(sx_pgdb *db, sx_pgmsgs_fn fn, void *arg, size_t *bad)
{
    size_t local = 0;
    if (!bad)
        bad = &local;
    *bad = 0;
    sx_pgconn *c = sx_pgdb_acquire(db);
    sx_status st = SX_OK;
    if (!PQsendQueryParams(c->pg,
                           "SELECT m.recipient_id, m.msg_id, m.msg_ts, m.msg_quota, m.msg_ntf_flag, m.msg_body "
                           "FROM messages m JOIN msg_queues q USING (recipient_id) WHERE q.deleted_at IS NULL "
                           "ORDER BY m.recipient_id ASC, m.message_id ASC",
                           0, NULL, NULL, NULL, NULL, 1) ||
        !PQsetSingleRowMode(c->pg)) {
        SX_SAY(SX_SAY_ERROR, "STORE: database: cannot read messages: %s", PQerrorMessage(c->pg));
        st = SX_E_IO;
    }
    PGresult *r;
    while (st == SX_OK && (r = PQgetResult(c->pg)) != NULL) {
        ExecStatusType es = PQresultStatus(r);
        if (es == PGRES_SINGLE_TUPLE && PQnfields(r) == 6) {
            sx_slice rid = sx_pgdb_bytes(r, 0, 0);
            sx_msg *m = rid.ptr && rid.len == SX_ID_LEN ? row_to_head(r, 0, 1) : NULL;
            if (!m)
                (*bad)++;
            else if (!fn(arg, rid.ptr, m))
                st = SX_E_USAGE;
        } else if (es != PGRES_TUPLES_OK && es != PGRES_SINGLE_TUPLE) {
            SX_SAY(SX_SAY_ERROR, "STORE: database: reading messages failed: %s", PQerrorMessage(c->pg));
            st = SX_E_IO;
        }
        PQclear(r);
    }
    /* a stop half-way: the rest of the results are drained */
    while ((r = PQgetResult(c->pg)) != NULL)
        PQclear(r);
    sx_pgdb_release(db, c);
    return st;
}

sx_status sx_pgmsgs_insert(sx_pgconn *c, const uint8_t rid[SX_ID_LEN], const sx_msg *m)
{
    uint8_t tsb[8];
    sx_pgdb_put_i64(tsb, m->ts);
    uint8_t quota = m->quota ? 1 : 0, notify = m->notify ? 1 : 0;
    const char *vals[6] = {(const char *)rid, (const char *)m->id, (const char *)tsb, (const char *)&quota,
                           (const char *)&notify, m->len ? (const char *)m->body : ""};
    int lens[6] = {SX_ID_LEN, SX_ID_LEN, 8, 1, 1, m->len};
    PGresult *r = sx_pgdb_run(c, &M_INSERT, 6, vals, lens, "insert message");
    if (!r)
        return SX_E_IO;
    PQclear(r);
    return SX_OK;
}

sx_status sx_pgmsgs_fix_counts(sx_pgconn *c)
{
    return sx_pgdb_exec(c,
                        "UPDATE msg_queues q SET msg_queue_size = COALESCE(s.n, 0), "
                        "msg_can_write = COALESCE(s.markers, 0) = 0, "
                        "msg_queue_expire = COALESCE(s.n, 0) > COALESCE(s.markers, 0) "
                        "FROM (SELECT q2.recipient_id, m.n, m.markers FROM msg_queues q2 LEFT JOIN "
                        "(SELECT recipient_id, count(*) AS n, sum(CASE WHEN msg_quota THEN 1 ELSE 0 END) AS markers "
                        "FROM messages GROUP BY recipient_id) m USING (recipient_id)) s "
                        "WHERE q.recipient_id = s.recipient_id",
                        "message counts");
}
