/* The SMP router's queue records in PostgreSQL (see pgqueues.h). */
#include "smp_router/pgqueues.h"

#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/reader.h"
#include "core/writer.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "kit/say.h"
#include "smp_router/slapply.h"

#define QUEUE_COLS SX_PGQ_QUEUE_COLS

static const sx_pgstmt Q_INSERT = {SX_PGS_Q_INSERT, "INSERT INTO msg_queues (" QUEUE_COLS ") VALUES "
                                                    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
                                                    "$15, $16)"};
#define LIVE " WHERE recipient_id = $1 AND deleted_at IS NULL"
static const sx_pgstmt Q_LINK = {SX_PGS_Q_LINK,
                                 "UPDATE msg_queues SET fixed_data = $2, user_data = $3, link_id = $4" LIVE};
static const sx_pgstmt Q_LDELETE = {SX_PGS_Q_LDELETE,
                                    "UPDATE msg_queues SET link_id = NULL, fixed_data = NULL, user_data = NULL" LIVE};
static const sx_pgstmt Q_SECURE = {SX_PGS_Q_SECURE, "UPDATE msg_queues SET sender_key = $2" LIVE};
static const sx_pgstmt Q_KEYS = {SX_PGS_Q_KEYS, "UPDATE msg_queues SET recipient_keys = $2" LIVE};
static const sx_pgstmt Q_NOTIFIER = {SX_PGS_Q_NOTIFIER, "UPDATE msg_queues SET notifier_id = $2, notifier_key = $3, "
                                                        "rcv_ntf_dh_secret = $4, ntf_service_id = $5" LIVE};
static const sx_pgstmt Q_STATUS = {SX_PGS_Q_STATUS, "UPDATE msg_queues SET status = $2" LIVE};
static const sx_pgstmt Q_DELETE = {SX_PGS_Q_DELETE, "UPDATE msg_queues SET deleted_at = $2" LIVE};
static const sx_pgstmt Q_NDELETE = {SX_PGS_Q_NDELETE, "UPDATE msg_queues SET notifier_id = NULL, notifier_key = NULL, "
                                                      "rcv_ntf_dh_secret = NULL, ntf_service_id = NULL" LIVE};
static const sx_pgstmt Q_TIME = {SX_PGS_Q_TIME, "UPDATE msg_queues SET updated_at = $2" LIVE};
static const sx_pgstmt Q_RSERVICE = {SX_PGS_Q_RSERVICE, "UPDATE msg_queues SET rcv_service_id = $2" LIVE};
static const sx_pgstmt Q_NSERVICE = {SX_PGS_Q_NSERVICE,
                                     "UPDATE msg_queues SET ntf_service_id = $2" LIVE " AND notifier_id IS NOT NULL"};
static const sx_pgstmt S_INSERT = {SX_PGS_S_INSERT,
                                   "INSERT INTO services (service_id, service_role, service_cert, service_cert_hash, "
                                   "created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"};

/* ---- column encodings ---------------------------------------------------- */

sx_status sx_pgq_encode_rkeys(const sx_qkey *keys, size_t n, uint8_t *out, size_t cap, size_t *len)
{
    sx_writer w;
    sx_writer_init_fixed(&w, out, cap);
    if (n == 0 || n > SX_MAX_RCV_KEYS)
        return SX_E_USAGE;
    sx_write_u8(&w, (uint8_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t der[SX_KEY_SPKI_MAX];
        size_t dn;
        SX_TRY(sx_qkey_to_spki(&keys[i], der, &dn));
        sx_write_u8(&w, (uint8_t)dn);
        sx_write_bytes(&w, der, dn);
    }
    *len = w.len;
    return sx_writer_status(&w);
}

sx_status sx_pgq_decode_rkeys(sx_slice b, sx_qkey keys[SX_MAX_RCV_KEYS], uint8_t *n)
{
    sx_reader r;
    sx_reader_init_slice(&r, b);
    uint8_t count = 0;
    if (!sx_read_u8(&r, &count) || count == 0)
        return SX_E_PROTOCOL;
    if (count > SX_MAX_RCV_KEYS)
        return SX_E_LIMIT;
    for (uint8_t i = 0; i < count; i++) {
        uint8_t kl = 0;
        sx_slice der;
        if (!sx_read_u8(&r, &kl) || !sx_read_bytes(&r, kl, &der))
            return SX_E_PROTOCOL;
        SX_TRY(sx_qkey_from_spki(der, &keys[i]));
    }
    if (sx_reader_remaining(&r) != 0)
        return SX_E_PROTOCOL;
    *n = count;
    return SX_OK;
}

sx_status sx_pgq_encode_certs(const sx_slice *certs, size_t n, uint8_t *out, size_t cap, size_t *len)
{
    sx_writer w;
    sx_writer_init_fixed(&w, out, cap);
    if (n == 0 || n > SX_SL_CERTS_MAX)
        return SX_E_USAGE;
    sx_write_u8(&w, (uint8_t)n);
    for (size_t i = 0; i < n; i++) {
        if (certs[i].len > UINT16_MAX)
            return SX_E_LIMIT;
        sx_write_u16(&w, (uint16_t)certs[i].len);
        sx_write_slice(&w, certs[i]);
    }
    *len = w.len;
    return sx_writer_status(&w);
}

sx_status sx_pgq_decode_certs(sx_slice b, sx_slice certs[SX_SL_CERTS_MAX], uint8_t *n)
{
    sx_reader r;
    sx_reader_init_slice(&r, b);
    uint8_t count = 0;
    if (!sx_read_u8(&r, &count) || count == 0)
        return SX_E_PROTOCOL;
    if (count > SX_SL_CERTS_MAX)
        return SX_E_LIMIT;
    for (uint8_t i = 0; i < count; i++) {
        uint16_t cl = 0;
        if (!sx_read_u16(&r, &cl) || !sx_read_bytes(&r, cl, &certs[i]))
            return SX_E_PROTOCOL;
        X509 *x = NULL;
        if (sx_x509_from_der(certs[i], &x) != SX_OK)
            return SX_E_PROTOCOL;
        X509_free(x);
    }
    if (sx_reader_remaining(&r) != 0)
        return SX_E_PROTOCOL;
    *n = count;
    return SX_OK;
}

/* ---- records to statements ----------------------------------------------- */

/* Parameters being built: values point into the record or into buf. */
typedef struct params {
    int n;
    const char *vals[16];
    int lens[16];
    uint8_t buf[2048];
    size_t used;
} params;

static void p_bytes(params *p, const void *ptr, size_t len)
{
    p->vals[p->n] = ptr ? (const char *)ptr : "";
    p->lens[p->n] = (int)len;
    p->n++;
}

static void p_null(params *p)
{
    p->vals[p->n] = NULL;
    p->lens[p->n] = 0;
    p->n++;
}

static void p_opt(params *p, sx_slice s)
{
    if (s.len)
        p_bytes(p, s.ptr, s.len);
    else
        p_null(p);
}

/* A copy in p->buf (false when it does not fit). */
static bool p_copy(params *p, const void *ptr, size_t len)
{
    if (len > sizeof p->buf - p->used)
        return false;
    memcpy(p->buf + p->used, ptr, len);
    p_bytes(p, p->buf + p->used, len);
    p->used += len;
    return true;
}

static bool p_i64(params *p, int64_t v)
{
    uint8_t b[8];
    sx_pgdb_put_i64(b, v);
    return p_copy(p, b, 8);
}

static bool p_key(params *p, const sx_qkey *k)
{
    if (k->len == 0) {
        p_null(p);
        return true;
    }
    uint8_t der[SX_KEY_SPKI_MAX];
    size_t n;
    return sx_qkey_to_spki(k, der, &n) == SX_OK && p_copy(p, der, n);
}

static bool p_status(params *p, uint8_t status, sx_slice info)
{
    switch (status) {
    case SX_QUEUE_ACTIVE: p_bytes(p, "active", 6); return true;
    case SX_QUEUE_OFF: p_bytes(p, "off", 3); return true;
    case SX_QUEUE_BLOCKED:
        if (info.len == 0 || info.len > sizeof p->buf - p->used - 8)
            return false;
        memcpy(p->buf + p->used, "blocked,", 8);
        memcpy(p->buf + p->used + 8, info.ptr, info.len);
        p_bytes(p, p->buf + p->used, 8 + info.len);
        p->used += 8 + info.len;
        return true;
    default: return false;
    }
}

/* The 16 values of a CREATE (the order of QUEUE_COLS). */
static bool create_params(params *p, const sx_slrec *r)
{
    const sx_slqueue *q = &r->q;
    uint8_t keys[1 + SX_MAX_RCV_KEYS * (1 + SX_KEY_SPKI_MAX)];
    size_t kl;
    if (sx_pgq_encode_rkeys(q->rkeys, q->n_rkeys, keys, sizeof keys, &kl) != SX_OK)
        return false;
    p_bytes(p, r->rid, SX_ID_LEN);
    if (!p_copy(p, keys, kl))
        return false;
    p_bytes(p, q->dh_secret, SX_SL_DH_LEN);
    p_bytes(p, q->sid, SX_ID_LEN);
    if (!p_key(p, &q->skey))
        return false;
    if (q->mode == 'M' || q->mode == 'C')
        p_bytes(p, q->mode == 'M' ? "M" : "C", 1);
    else
        p_null(p);
    if (q->has_notifier) {
        p_bytes(p, q->ntf.id, SX_ID_LEN);
        if (!p_key(p, &q->ntf.key))
            return false;
        p_bytes(p, q->ntf.dh_secret, SX_SL_DH_LEN);
        p_opt(p, q->ntf.service);
    } else {
        p_null(p);
        p_null(p);
        p_null(p);
        p_null(p);
    }
    if (!p_status(p, q->status, q->block_info))
        return false;
    if (q->has_updated_at) {
        if (!p_i64(p, q->updated_at))
            return false;
    } else {
        p_null(p);
    }
    if (q->has_link)
        p_bytes(p, q->link_id, SX_ID_LEN);
    else
        p_null(p);
    p_opt(p, q->rcv_service);
    if (q->has_link) {
        p_bytes(p, q->link_fixed.ptr, q->link_fixed.len);
        p_bytes(p, q->link_user.ptr, q->link_user.len);
    } else {
        p_null(p);
        p_null(p);
    }
    return true;
}

static bool service_params(params *p, const sx_slservice *s, uint8_t *certs, size_t cap)
{
    size_t cl;
    if (sx_pgq_encode_certs(s->certs, s->n_certs, certs, cap, &cl) != SX_OK)
        return false;
    p_bytes(p, s->id.ptr, s->id.len);
    if (!p_copy(p, &s->role, 1))
        return false;
    p_bytes(p, certs, cl);
    p_bytes(p, s->cert_hash.ptr, s->cert_hash.len);
    return p_i64(p, s->created_at);
}

static size_t certs_size(const sx_slservice *s)
{
    size_t n = 1;
    for (size_t i = 0; i < s->n_certs; i++)
        n += 2 + s->certs[i].len;
    return n;
}

sx_status sx_pgq_apply(sx_pgconn *c, const sx_slrec *r)
{
    params p = {0};
    const sx_pgstmt *s = NULL;
    uint8_t *certs = NULL;
    bool ok = true;
    if (r->type != SX_SLREC_NEW_SERVICE)
        p_bytes(&p, r->rid, SX_ID_LEN);
    switch (r->type) {
    case SX_SLREC_CREATE:
        p.n = 0;
        s = &Q_INSERT;
        ok = create_params(&p, r);
        break;
    case SX_SLREC_LINK:
        s = &Q_LINK;
        p_bytes(&p, r->q.link_fixed.ptr, r->q.link_fixed.len);
        p_bytes(&p, r->q.link_user.ptr, r->q.link_user.len);
        p_bytes(&p, r->q.link_id, SX_ID_LEN);
        break;
    case SX_SLREC_LDELETE: s = &Q_LDELETE; break;
    case SX_SLREC_SECURE:
        s = &Q_SECURE;
        ok = r->q.skey.len && p_key(&p, &r->q.skey);
        break;
    case SX_SLREC_KEYS: {
        s = &Q_KEYS;
        uint8_t keys[1 + SX_MAX_RCV_KEYS * (1 + SX_KEY_SPKI_MAX)];
        size_t kl;
        ok = sx_pgq_encode_rkeys(r->q.rkeys, r->q.n_rkeys, keys, sizeof keys, &kl) == SX_OK && p_copy(&p, keys, kl);
        break;
    }
    case SX_SLREC_NOTIFIER:
        s = &Q_NOTIFIER;
        p_bytes(&p, r->q.ntf.id, SX_ID_LEN);
        ok = p_key(&p, &r->q.ntf.key);
        p_bytes(&p, r->q.ntf.dh_secret, SX_SL_DH_LEN);
        p_opt(&p, r->q.ntf.service);
        break;
    case SX_SLREC_SUSPEND:
        s = &Q_STATUS;
        ok = p_status(&p, SX_QUEUE_OFF, sx_slice_of(NULL, 0));
        break;
    case SX_SLREC_BLOCK:
        s = &Q_STATUS;
        ok = p_status(&p, SX_QUEUE_BLOCKED, r->q.block_info);
        break;
    case SX_SLREC_UNBLOCK:
        s = &Q_STATUS;
        ok = p_status(&p, SX_QUEUE_ACTIVE, sx_slice_of(NULL, 0));
        break;
    case SX_SLREC_DELETE: {
        s = &Q_DELETE;
        int64_t now = (int64_t)time(NULL);
        ok = p_i64(&p, now - now % 86400);
        break;
    }
    case SX_SLREC_NDELETE: s = &Q_NDELETE; break;
    case SX_SLREC_TIME:
        s = &Q_TIME;
        ok = p_i64(&p, r->q.updated_at);
        break;
    case SX_SLREC_QUEUE_SERVICE:
        s = r->party == 'N' ? &Q_NSERVICE : &Q_RSERVICE;
        p_opt(&p, r->service);
        break;
    case SX_SLREC_NEW_SERVICE: {
        s = &S_INSERT;
        size_t cap = certs_size(&r->svc);
        certs = malloc(cap);
        ok = certs && service_params(&p, &r->svc, certs, cap);
        break;
    }
    default: ok = false; break;
    }
    if (!ok || !s) {
        free(certs);
        SX_SAY(SX_SAY_ERROR, "STORE: database: a %s record cannot be written", sx_slrec_tag(r->type));
        return SX_E_USAGE;
    }
    PGresult *res = sx_pgdb_run(c, s, p.n, p.vals, p.lens, sx_slrec_tag(r->type));
    sx_wipe(p.buf, sizeof p.buf);
    free(certs);
    if (!res)
        return SX_E_IO;
    PQclear(res);
    return SX_OK;
}

/* ---- the writer thread's sink -------------------------------------------- */

/* Each line of the batch applied on c; false at the first failure. */
static sx_status apply_lines(sx_pgconn *c, sx_slice lines, bool skip_failed)
{
    size_t at = 0;
    while (at < lines.len) {
        const uint8_t *nl = memchr(lines.ptr + at, '\n', lines.len - at);
        size_t end = nl ? (size_t)(nl - lines.ptr) : lines.len;
        sx_slrec rec;
        sx_status st = sx_slrec_parse(sx_slice_of(lines.ptr + at, end - at), &rec);
        at = end + 1;
        if (st != SX_OK) {
            SX_SAY(SX_SAY_ERROR, "STORE: database: a record of ours does not parse (%s), skipped", sx_status_str(st));
            continue;
        }
        st = sx_pgq_apply(c, &rec);
        sx_slrec_cleanup(&rec);
        if (st == SX_E_USAGE)
            continue; /* cannot ever be written: said */
        if (st != SX_OK) {
            if (!skip_failed || PQstatus(c->pg) != CONNECTION_OK)
                return SX_E_IO;
            SX_SAY(SX_SAY_ERROR, "STORE: database: a record was refused, skipped");
        }
    }
    return SX_OK;
}

sx_status sx_pgq_sink(void *arg, sx_slice lines, size_t n)
{
    sx_pgdb *db = arg;
    (void)n;
    sx_pgconn *c = sx_pgdb_acquire(db);
    sx_status st = sx_pgdb_exec(c, "BEGIN", "begin");
    if (st == SX_OK)
        st = apply_lines(c, lines, false);
    if (st == SX_OK)
        st = sx_pgdb_exec(c, "COMMIT", "commit");
    if (st != SX_OK && PQstatus(c->pg) == CONNECTION_OK) {
        /* a record the database refused (the memory store took it): the
         * others go one by one, the refused ones are skipped */
        PGresult *rb = PQexec(c->pg, "ROLLBACK");
        PQclear(rb);
        st = apply_lines(c, lines, true);
    }
    sx_pgdb_release(db, c);
    return st;
}

/* ---- loading ------------------------------------------------------------- */

void sx_pgq_row_warn(const sx_kit_log_opts *opts, const char *what, sx_slice rid)
{
    char hex[17] = {0};
    for (size_t i = 0; i < rid.len && i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", rid.ptr[i]);
    sx_kit_log_report(opts, SX_SAY_ERROR, "STORE: database: %s %s... skipped", what, hex);
}

static bool fixed(sx_slice b, uint8_t *out, size_t len)
{
    if (!b.ptr || b.len != len)
        return false;
    memcpy(out, b.ptr, len);
    return true;
}

static bool opt_key(sx_slice b, sx_qkey *k)
{
    memset(k, 0, sizeof *k);
    return !b.ptr || sx_qkey_from_spki(b, k) == SX_OK;
}

static bool service_id_ok(sx_slice b)
{
    return !b.ptr || (b.len > 0 && b.len <= SX_SL_SERVICE_ID_MAX);
}

/* A BLOCK record's info, checked by the store log's own parser. */
static bool block_info_ok(sx_slice info)
{
    static const char prefix[] = "BLOCK AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ";
    size_t pl = sizeof prefix - 1;
    if (info.len == 0 || info.len > 8192)
        return false;
    uint8_t *line = malloc(pl + info.len);
    if (!line)
        return false;
    memcpy(line, prefix, pl);
    memcpy(line + pl, info.ptr, info.len);
    sx_slrec r;
    bool ok = sx_slrec_parse(sx_slice_of(line, pl + info.len), &r) == SX_OK;
    if (ok) {
        ok = r.q.block_info.len == info.len;
        sx_slrec_cleanup(&r);
    }
    free(line);
    return ok;
}

/* A queue row (QUEUE_COLS) as a CREATE record pointing into res. */
bool sx_pgq_row_to_rec(const PGresult *res, int i, sx_slrec *r)
{
    memset(r, 0, sizeof *r);
    r->type = SX_SLREC_CREATE;
    sx_slqueue *q = &r->q;
    if (!fixed(sx_pgdb_bytes(res, i, 0), r->rid, SX_ID_LEN) ||
        sx_pgq_decode_rkeys(sx_pgdb_bytes(res, i, 1), q->rkeys, &q->n_rkeys) != SX_OK ||
        !fixed(sx_pgdb_bytes(res, i, 2), q->dh_secret, SX_SL_DH_LEN) ||
        !fixed(sx_pgdb_bytes(res, i, 3), q->sid, SX_ID_LEN) || !opt_key(sx_pgdb_bytes(res, i, 4), &q->skey))
        return false;
    sx_slice mode = sx_pgdb_bytes(res, i, 5);
    if (mode.ptr) {
        if (mode.len != 1 || (mode.ptr[0] != 'M' && mode.ptr[0] != 'C'))
            return false;
        q->mode = mode.ptr[0];
    }
    sx_slice nid = sx_pgdb_bytes(res, i, 6);
    if (nid.ptr) {
        q->has_notifier = true;
        sx_slice nkey = sx_pgdb_bytes(res, i, 7);
        if (!fixed(nid, q->ntf.id, SX_ID_LEN) || !nkey.ptr || !opt_key(nkey, &q->ntf.key) ||
            !fixed(sx_pgdb_bytes(res, i, 8), q->ntf.dh_secret, SX_SL_DH_LEN))
            return false;
        q->ntf.service = sx_pgdb_bytes(res, i, 9);
        if (!service_id_ok(q->ntf.service))
            return false;
    }
    sx_slice status = sx_pgdb_bytes(res, i, 10);
    if (sx_slice_eq(status, sx_slice_str("active")))
        q->status = SX_QUEUE_ACTIVE;
    else if (sx_slice_eq(status, sx_slice_str("off")))
        q->status = SX_QUEUE_OFF;
    else if (status.len > 8 && memcmp(status.ptr, "blocked,", 8) == 0) {
        q->status = SX_QUEUE_BLOCKED;
        q->block_info = sx_slice_of(status.ptr + 8, status.len - 8);
        if (!block_info_ok(q->block_info))
            return false;
    } else
        return false;
    if (!PQgetisnull(res, i, 11)) {
        if (!sx_pgdb_i64(res, i, 11, &q->updated_at))
            return false;
        q->has_updated_at = true;
    }
    sx_slice lid = sx_pgdb_bytes(res, i, 12);
    if (lid.ptr) {
        q->has_link = true;
        q->link_fixed = sx_pgdb_bytes(res, i, 14);
        q->link_user = sx_pgdb_bytes(res, i, 15);
        if (!fixed(lid, q->link_id, SX_ID_LEN) || !q->link_fixed.ptr || !q->link_user.ptr ||
            q->link_fixed.len > SX_LINK_DATA_MAX || q->link_user.len > SX_LINK_DATA_MAX)
            return false;
    }
    q->rcv_service = sx_pgdb_bytes(res, i, 13);
    return service_id_ok(q->rcv_service);
}

static bool row_to_service(const PGresult *res, int i, sx_slrec *r)
{
    memset(r, 0, sizeof *r);
    r->type = SX_SLREC_NEW_SERVICE;
    sx_slservice *s = &r->svc;
    s->id = sx_pgdb_bytes(res, i, 0);
    sx_slice role = sx_pgdb_bytes(res, i, 1);
    if (!s->id.ptr || !service_id_ok(s->id) || role.len != 1 || !memchr("MNP", role.ptr[0], 3))
        return false;
    s->role = role.ptr[0];
    s->cert_hash = sx_pgdb_bytes(res, i, 3);
    return sx_pgq_decode_certs(sx_pgdb_bytes(res, i, 2), s->certs, &s->n_certs) == SX_OK && s->cert_hash.ptr &&
           s->cert_hash.len > 0 && s->cert_hash.len <= 64 && sx_pgdb_i64(res, i, 4, &s->created_at);
}

sx_status sx_pgq_load_services(sx_pgconn *c, sx_slservices *svc, const sx_kit_log_opts *opts, sx_pgq_stats *stats)
{
    PGresult *res = PQexecParams(c->pg,
                                 "SELECT service_id, service_role, service_cert, service_cert_hash, created_at "
                                 "FROM services",
                                 0, NULL, NULL, NULL, NULL, 1);
    if (!sx_pgdb_ok(res) || PQnfields(res) != 5) {
        SX_SAY(SX_SAY_ERROR, "STORE: database: cannot read services: %s", PQerrorMessage(c->pg));
        PQclear(res);
        return SX_E_IO;
    }
    sx_status st = SX_OK;
    for (int i = 0; i < PQntuples(res) && st == SX_OK; i++) {
        sx_slrec r;
        if (!row_to_service(res, i, &r)) {
            sx_pgq_row_warn(opts, "a service row does not decode:", sx_pgdb_bytes(res, i, 0));
            stats->bad_rows++;
            continue;
        }
        st = sx_slrec_apply(NULL, svc, &r, opts);
        if (st == SX_OK)
            stats->services++;
        else if (st != SX_E_NOMEM) {
            stats->bad_rows++;
            st = SX_OK;
        }
    }
    PQclear(res);
    return st;
}

/* The queue's message count from msg_queue_size (column 16), so that
 * queues known to be empty cost no query (expiry). Journal messages keep
 * it 0, as the journal store counts. */
static void set_size(sx_store *st, const uint8_t rid[SX_ID_LEN], const PGresult *r)
{
    int64_t size = 0;
    if (!sx_pgdb_i64(r, 0, 16, &size) || size <= 0)
        return;
    sx_queue *q = sx_store_find(st, SX_PARTY_RECIPIENT, sx_slice_of(rid, SX_ID_LEN));
    if (!q)
        return;
    sx_queue_lock(q);
    q->n_msgs = size > UINT16_MAX ? UINT16_MAX : (uint16_t)size;
    sx_queue_unlock(q);
    sx_queue_release(st, q);
}

sx_status sx_pgq_load(sx_pgdb *db, sx_store *st, sx_slservices *svc, const sx_kit_log_opts *opts, sx_pgq_stats *stats)
{
    sx_pgq_stats local = {0};
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    sx_pgconn *c = sx_pgdb_acquire(db);
    sx_status res = svc ? sx_pgq_load_services(c, svc, opts, stats) : SX_OK;
    if (res == SX_OK) {
        PGresult *cnt = PQexecParams(c->pg, "SELECT count(*) FROM msg_queues WHERE deleted_at IS NULL", 0, NULL,
                                     NULL, NULL, NULL, 1);
        int64_t n = 0;
        if (sx_pgdb_ok(cnt) && PQntuples(cnt) == 1 && sx_pgdb_i64(cnt, 0, 0, &n) && n > 0 &&
            sx_store_reserve(st, (size_t)n) != SX_OK)
            n = 0; /* a hint only */
        PQclear(cnt);
    }
    /* one row at a time: a million queues are not held twice */
    if (res == SX_OK &&
        (!PQsendQueryParams(c->pg, "SELECT " QUEUE_COLS ", msg_queue_size FROM msg_queues WHERE deleted_at IS NULL",
                            0, NULL, NULL,
                            NULL, NULL, 1) ||
         !PQsetSingleRowMode(c->pg))) {
        SX_SAY(SX_SAY_ERROR, "STORE: database: cannot read queues: %s", PQerrorMessage(c->pg));
        res = SX_E_IO;
    }
    PGresult *r;
    bool failed = false;
    while (res == SX_OK && (r = PQgetResult(c->pg)) != NULL) {
        ExecStatusType es = PQresultStatus(r);
        if (es == PGRES_SINGLE_TUPLE && PQnfields(r) == 17 && !failed) {
            sx_slrec rec;
            if (!sx_pgq_row_to_rec(r, 0, &rec)) {
                sx_pgq_row_warn(opts, "a queue row does not decode:", sx_pgdb_bytes(r, 0, 0));
                stats->bad_rows++;
            } else {
                sx_status a = sx_slrec_apply(st, svc, &rec, opts);
                if (a == SX_OK) {
                    stats->queues++;
                    set_size(st, rec.rid, r);
                } else if (a == SX_E_NOMEM)
                    failed = true;
                else
                    stats->bad_rows++;
            }
        } else if (es != PGRES_TUPLES_OK && es != PGRES_SINGLE_TUPLE) {
            SX_SAY(SX_SAY_ERROR, "STORE: database: reading queues failed: %s", PQerrorMessage(c->pg));
            failed = true;
        }
        PQclear(r);
    }
    if (failed)
        res = SX_E_IO;
    sx_pgdb_release(db, c);
    return res;
}

/* ---- import and purge ---------------------------------------------------- */

typedef struct write_ctx {
    sx_pgconn *c;
    const sx_slservices *svc;
    sx_status st;
    size_t n;
} write_ctx;

static void write_queue(sx_queue *q, void *arg)
{
    write_ctx *w = arg;
    if (w->st != SX_OK)
        return;
    sx_queue_lock(q);
    sx_slrec r;
    sx_slrec_from_queue(q, w->svc, &r);
    w->st = sx_pgq_apply(w->c, &r);
    sx_queue_unlock(q);
    sx_wipe(&r, sizeof r);
    if (w->st == SX_OK)
        w->n++;
}

sx_status sx_pgq_write_all(sx_pgdb *db, sx_store *st, const sx_slservices *svc, sx_pgq_stats *stats)
{
    sx_pgq_stats local = {0};
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    sx_pgconn *c = sx_pgdb_acquire(db);
    write_ctx w = {.c = c, .svc = svc, .st = sx_pgdb_exec(c, "BEGIN", "begin")};
    for (size_t i = 0; svc && w.st == SX_OK && i < sx_slservices_count(svc); i++) {
        sx_slrec r = {.type = SX_SLREC_NEW_SERVICE, .svc = *sx_slservices_at(svc, i)};
        w.st = sx_pgq_apply(c, &r);
        if (w.st == SX_OK)
            stats->services++;
    }
    if (w.st == SX_OK) {
        sx_status e = sx_store_each(st, write_queue, &w);
        if (e != SX_OK)
            w.st = e;
    }
    stats->queues = w.n;
    if (w.st == SX_OK)
        w.st = sx_pgdb_exec(c, "COMMIT", "commit");
    if (w.st != SX_OK) {
        PGresult *rb = PQexec(c->pg, "ROLLBACK");
        PQclear(rb);
    }
    sx_pgdb_release(db, c);
    return w.st;
}

sx_status sx_pgq_purge_deleted(sx_pgdb *db, int64_t before, int64_t *removed)
{
    *removed = 0;
    sx_pgconn *c = sx_pgdb_acquire(db);
    uint8_t b[8];
    sx_pgdb_put_i64(b, before);
    const char *vals[1] = {(const char *)b};
    int lens[1] = {8}, fmts[1] = {1};
    PGresult *r = PQexecParams(c->pg,
                               "WITH gone AS (DELETE FROM msg_queues WHERE deleted_at < $1 RETURNING 1) "
                               "SELECT count(*) FROM gone",
                               1, NULL, vals, lens, fmts, 1);
    sx_status st = SX_OK;
    if (!sx_pgdb_ok(r) || PQntuples(r) != 1 || !sx_pgdb_i64(r, 0, 0, removed)) {
        SX_SAY(SX_SAY_ERROR, "STORE: database: cannot remove deleted queues: %s", PQerrorMessage(c->pg));
        st = SX_E_IO;
    }
    PQclear(r);
    sx_pgdb_release(db, c);
    return st;
}
