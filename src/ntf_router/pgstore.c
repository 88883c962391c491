/* The NTF router's PostgreSQL store (see pgstore.h). Values go as binary
 * parameters: text as its bytes, BIGINT as 8 big-endian bytes, BOOLEAN as
 * one byte. The columns hold what the reference puts there: the push
 * provider's name, the device token's text, statuses in their protocol
 * text, keys in DER, the SMP router's hosts (comma-separated), port text
 * and key hash in base64url text. */
#include "ntf_router/pgstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/reader.h"
#include "core/writer.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "kit/say.h"

enum {
    NP_T_INSERT,
    NP_T_STATUS,
    NP_T_UPDATE,
    NP_T_CRON,
    NP_T_DELETE,
    NP_T_TIME,
    NP_S_INSERT,
    NP_S_STATUS,
    NP_S_DELETE,
    NP_SERVICE,
    NP_T_ALL,
    NP_S_ALL,
    NP_SV_ALL,
    NP_L_INSERT,
    NP_L_ALL,
    NP_L_TRIM,
    NP_SV_UPSERT,
    NP_SV_CREDS,
    NP_SV_SET_CREDS,
    NP_SV_ID,
    NP_SV_SET_ID,
    NP_SV_DROP,
    NP_SV_UNASSOC,
};

#define SERVER_UPSERT                                                                           \
    "INSERT INTO smp_servers (smp_host, smp_port, smp_keyhash) VALUES ($1, $2, $3) "            \
    "ON CONFLICT (smp_host, smp_port, smp_keyhash) DO UPDATE SET smp_host = EXCLUDED.smp_host " \
    "RETURNING smp_server_id"

static const sx_pgstmt T_INSERT = {NP_T_INSERT,
                                   "INSERT INTO tokens (token_id, push_provider, push_provider_token, status, "
                                   "verify_key, dh_priv_key, dh_secret, reg_code, cron_interval, cron_sent_at, "
                                   "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"};
static const sx_pgstmt T_STATUS = {NP_T_STATUS, "UPDATE tokens SET status = $2 WHERE token_id = $1"};
static const sx_pgstmt T_UPDATE = {NP_T_UPDATE, "UPDATE tokens SET push_provider = $2, push_provider_token = $3, "
                                                "reg_code = $4 WHERE token_id = $1"};
static const sx_pgstmt T_CRON = {NP_T_CRON, "UPDATE tokens SET cron_interval = $2 WHERE token_id = $1"};
static const sx_pgstmt T_DELETE = {NP_T_DELETE, "DELETE FROM tokens WHERE token_id = $1"};
static const sx_pgstmt T_TIME = {NP_T_TIME, "UPDATE tokens SET updated_at = $2 WHERE token_id = $1"};
static const sx_pgstmt S_INSERT = {
    NP_S_INSERT, "WITH srv AS (" SERVER_UPSERT ") "
                 "INSERT INTO subscriptions (subscription_id, token_id, smp_server_id, smp_notifier_id, "
                 "smp_notifier_key, status, ntf_service_assoc) SELECT $4, $5, smp_server_id, $6, $7, $8, $9 FROM srv"};
static const sx_pgstmt S_STATUS = {NP_S_STATUS, "UPDATE subscriptions SET status = $2, ntf_service_assoc = $3 "
                                                "WHERE subscription_id = $1"};
static const sx_pgstmt S_DELETE = {NP_S_DELETE, "DELETE FROM subscriptions WHERE subscription_id = $1"};
static const sx_pgstmt SERVICE = {NP_SERVICE, "WITH srv AS (" SERVER_UPSERT ") "
                                              "UPDATE smp_servers s SET ntf_service_id = $4 FROM srv "
                                              "WHERE s.smp_server_id = srv.smp_server_id"};
static const sx_pgstmt T_ALL = {NP_T_ALL, "SELECT token_id, push_provider, push_provider_token, status, verify_key, "
                                          "dh_priv_key, dh_secret, reg_code, cron_interval, cron_sent_at, "
                                          "updated_at FROM tokens"};
static const sx_pgstmt S_ALL = {NP_S_ALL,
                                "SELECT s.subscription_id, s.token_id, v.smp_host, v.smp_port, v.smp_keyhash, "
                                "s.smp_notifier_id, s.smp_notifier_key, s.status, s.ntf_service_assoc "
                                "FROM subscriptions s JOIN smp_servers v ON v.smp_server_id = s.smp_server_id"};
static const sx_pgstmt SV_ALL = {NP_SV_ALL, "SELECT smp_host, smp_port, smp_keyhash, ntf_service_id "
                                            "FROM smp_servers WHERE ntf_service_id IS NOT NULL"};

/* sent_at from whole seconds; the subscription found by token, SMP router
 * and notifier id */
static const sx_pgstmt L_INSERT = {
    NP_L_INSERT, "INSERT INTO last_notifications (token_id, subscription_id, sent_at, nmsg_nonce, nmsg_data) "
                 "SELECT $4, s.subscription_id, to_timestamp(0) + $6::bigint * interval '1 second', $7, $8 "
                 "FROM subscriptions s JOIN smp_servers v ON v.smp_server_id = s.smp_server_id "
                 "WHERE s.token_id = $4 AND s.smp_notifier_id = $5 AND v.smp_host = $1 AND v.smp_port = $2 "
                 "AND v.smp_keyhash = $3 "
                 "ON CONFLICT (token_id, subscription_id) DO UPDATE SET sent_at = EXCLUDED.sent_at, "
                 "nmsg_nonce = EXCLUDED.nmsg_nonce, nmsg_data = EXCLUDED.nmsg_data"};
static const sx_pgstmt L_ALL = {NP_L_ALL,
                                "SELECT l.token_id, v.smp_host, v.smp_port, v.smp_keyhash, s.smp_notifier_id, "
                                "floor(extract(epoch FROM l.sent_at))::bigint, l.nmsg_nonce, l.nmsg_data "
                                "FROM last_notifications l "
                                "JOIN subscriptions s ON s.subscription_id = l.subscription_id "
                                "JOIN smp_servers v ON v.smp_server_id = s.smp_server_id "
                                "ORDER BY l.sent_at, l.token_ntf_id"};

/* A token's last notifications cut to the newest SX_NTF_LAST_NTFS_MAX by
 * time, as the reference cuts them (rows as old as the oldest kept stay). */
static const sx_pgstmt L_TRIM = {NP_L_TRIM,
                                 "DELETE FROM last_notifications WHERE token_id = $1 AND sent_at < "
                                 "(SELECT min(k.sent_at) FROM (SELECT sent_at FROM last_notifications "
                                 "WHERE token_id = $1 ORDER BY sent_at DESC LIMIT $2::bigint) k)"};

/* ---- parameters ---- */

#define MAXP 11
typedef struct params {
    int n;
    const char *vals[MAXP];
    int lens[MAXP];
    uint8_t ints[MAXP][8];
    bool flags[MAXP];
    char text[3][320]; /* status, key hash */
} params;

static void p_bytes(params *p, const void *b, size_t len)
{
    p->vals[p->n] = len ? (const char *)b : "";
    p->lens[p->n] = (int)len;
    p->n++;
}
static void p_slice(params *p, sx_slice s)
{
    p_bytes(p, s.ptr, s.len);
}
static void p_str(params *p, const char *s)
{
    p_bytes(p, s, strlen(s));
}
static void p_null(params *p)
{
    p->vals[p->n] = NULL;
    p->lens[p->n] = 0;
    p->n++;
}
static void p_i64(params *p, int64_t v)
{
    sx_pgdb_put_i64(p->ints[p->n], v);
    p_bytes(p, p->ints[p->n], 8);
}
static void p_bool(params *p, bool v)
{
    p->flags[p->n] = v;
    p_bytes(p, &p->flags[p->n], 1);
}

/* The token status text into p->text[i]. */
static bool p_tkn_state(params *p, int i, const sx_ntf_tkn_state *s)
{
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)p->text[i], sizeof p->text[i]);
    if (!sx_ntf_tkn_state_write(&w, s))
        return false;
    p_bytes(p, p->text[i], w.len);
    return true;
}

static bool p_sub_state(params *p, int i, sx_ntf_sub_status status, const sx_ntf_sl_bytes *err)
{
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)p->text[i], sizeof p->text[i]);
    sx_ntf_sub_state s = {status, sx_ntf_sl_slice(err)};
    if (!sx_ntf_sub_state_write(&w, &s))
        return false;
    p_bytes(p, p->text[i], w.len);
    return true;
}

/* An SMP router's three key columns: hosts as written, the port text and
 * the key hash in base64url (the reference's text of each). */
static bool p_server(params *p, int i, const sx_server_address *a)
{
    if (a->host_count == 0 || a->key_hash_len == 0)
        return false;
    size_t last = a->host_count - 1;
    size_t from = a->host_off[0], to = a->host_off[last] + a->host_len[last];
    p_bytes(p, a->text + from, to - from);
    p_bytes(p, a->text + a->port_off, a->port_len);
    if (sx_b64_encode(sx_slice_of(a->key_hash, a->key_hash_len), SX_B64_URL, p->text[i], sizeof p->text[i]) !=
        SX_OK)
        return false;
    p_str(p, p->text[i]);
    return true;
}

/* ---- writing ---- */

static const sx_pgstmt *rec_params(const sx_ntf_sl_rec *r, params *p)
{
    switch (r->kind) {
    case SX_NTF_SL_TCREATE: {
        const sx_ntf_tkn_rec *t = &r->tkn;
        const char *pp = sx_ntf_provider_text(t->token.provider);
        if (!pp)
            return NULL;
        p_slice(p, sx_ntf_sl_slice(&t->id));
        p_str(p, pp);
        p_slice(p, sx_ntf_sl_slice(&t->token.token));
        if (!p_tkn_state(p, 0, &t->status))
            return NULL;
        p_bytes(p, t->verify_key, t->verify_key_len);
        p_bytes(p, t->dh_priv, t->dh_priv_len);
        p_bytes(p, t->dh_secret, sizeof t->dh_secret);
        p_slice(p, sx_ntf_sl_slice(&t->reg_code));
        p_i64(p, t->cron);
        if (t->cron_sent_at)
            p_i64(p, t->cron_sent_at);
        else
            p_null(p);
        if (t->has_updated_at)
            p_i64(p, t->updated_at);
        else
            p_null(p);
        return &T_INSERT;
    }
    case SX_NTF_SL_TSTATUS:
        p_slice(p, sx_ntf_sl_slice(&r->id));
        return p_tkn_state(p, 0, &r->tkn_status) ? &T_STATUS : NULL;
    case SX_NTF_SL_TUPDATE: {
        const char *pp = sx_ntf_provider_text(r->update.token.provider);
        if (!pp)
            return NULL;
        p_slice(p, sx_ntf_sl_slice(&r->id));
        p_str(p, pp);
        p_slice(p, sx_ntf_sl_slice(&r->update.token.token));
        p_slice(p, sx_ntf_sl_slice(&r->update.reg_code));
        return &T_UPDATE;
    }
    case SX_NTF_SL_TCRON:
        p_slice(p, sx_ntf_sl_slice(&r->id));
        p_i64(p, r->cron);
        return &T_CRON;
    case SX_NTF_SL_TDELETE:
        p_slice(p, sx_ntf_sl_slice(&r->id));
        return &T_DELETE;
    case SX_NTF_SL_TTIME:
        p_slice(p, sx_ntf_sl_slice(&r->id));
        p_i64(p, r->time);
        return &T_TIME;
    case SX_NTF_SL_SCREATE: {
        const sx_ntf_sub_rec *s = &r->sub;
        if (!p_server(p, 0, &s->server))
            return NULL;
        p_slice(p, sx_ntf_sl_slice(&s->id));
        p_slice(p, sx_ntf_sl_slice(&s->token_id));
        p_slice(p, sx_ntf_sl_slice(&s->notifier_id));
        p_bytes(p, s->notifier_key, s->notifier_key_len);
        if (!p_sub_state(p, 1, s->status, &s->status_err))
            return NULL;
        p_bool(p, s->service_assoc);
        return &S_INSERT;
    }
    case SX_NTF_SL_SSTATUS:
        p_slice(p, sx_ntf_sl_slice(&r->id));
        if (!p_sub_state(p, 0, r->sub_status.status, &r->sub_status.err))
            return NULL;
        p_bool(p, r->sub_status.service_assoc);
        return &S_STATUS;
    case SX_NTF_SL_SDELETE:
        p_slice(p, sx_ntf_sl_slice(&r->id));
        return &S_DELETE;
    case SX_NTF_SL_SERVICE:
        if (!p_server(p, 0, &r->service.server))
            return NULL;
        if (r->service.has_service_id)
            p_slice(p, sx_ntf_sl_slice(&r->service.service_id));
        else
            p_null(p);
        return &SERVICE;
    }
    return NULL;
}

static const char *kind_name(sx_ntf_sl_kind k)
{
    static const char *const names[] = {"", "token create", "token status", "token update", "token cron",
                                        "token delete", "token time", "subscription create",
                                        "subscription status", "subscription delete", "service"};
    return (size_t)k < sizeof names / sizeof names[0] ? names[k] : "record";
}

sx_status sx_ntf_pg_apply(sx_pgdb *db, const sx_ntf_sl_rec *r)
{
    static _Thread_local params p;
    memset(&p, 0, sizeof p);
    const sx_pgstmt *s = rec_params(r, &p);
    SX_ENSURE(s != NULL, SX_E_USAGE);
    sx_pgconn *c = sx_pgdb_acquire(db);
    PGresult *res = sx_pgdb_run(c, s, p.n, p.vals, p.lens, kind_name(r->kind));
    sx_status st = res ? SX_OK : SX_E_IO;
    PQclear(res);
    sx_pgdb_release(db, c);
    return st;
}

void sx_ntf_pg_log_line(void *arg, sx_slice line)
{
    static _Thread_local sx_ntf_sl_rec rec;
    sx_status st = sx_ntf_sl_parse(line, &rec);
    if (st == SX_OK)
        st = sx_ntf_pg_apply(arg, &rec);
    if (st != SX_OK)
        SX_SAY(SX_SAY_ERROR, "database: a change was not written (%s)", sx_status_str(st));
}

/* ---- reading ---- */

static bool col_bytes(const PGresult *res, int row, int col, sx_ntf_sl_bytes *out)
{
    return sx_ntf_sl_bytes_set(out, sx_pgdb_bytes(res, row, col)) == SX_OK;
}

static bool col_buf(const PGresult *res, int row, int col, uint8_t *buf, size_t cap, size_t *len)
{
    sx_slice v = sx_pgdb_bytes(res, row, col);
    if (v.len > cap)
        return false;
    if (v.len)
        memcpy(buf, v.ptr, v.len);
    *len = v.len;
    return true;
}

static bool row_token(const PGresult *res, int i, sx_ntf_tkn_rec *t)
{
    memset(t, 0, sizeof *t);
    size_t secret_len = 0;
    int64_t cron = 0;
    sx_slice status = sx_pgdb_bytes(res, i, 3);
    sx_reader sr;
    sx_reader_init_slice(&sr, status);
    t->token.provider = sx_ntf_provider_from_text(sx_pgdb_bytes(res, i, 1));
    if (!col_bytes(res, i, 0, &t->id) || !t->token.provider || !col_bytes(res, i, 2, &t->token.token) ||
        !sx_ntf_tkn_state_read(&sr, &t->status) ||
        !col_buf(res, i, 4, t->verify_key, sizeof t->verify_key, &t->verify_key_len) ||
        !col_buf(res, i, 5, t->dh_priv, sizeof t->dh_priv, &t->dh_priv_len) ||
        !col_buf(res, i, 6, t->dh_secret, sizeof t->dh_secret, &secret_len) || secret_len != sizeof t->dh_secret ||
        !col_bytes(res, i, 7, &t->reg_code) || !sx_pgdb_i64(res, i, 8, &cron) || cron < 0 || cron > UINT16_MAX)
        return false;
    t->cron = (uint16_t)cron;
    if (!PQgetisnull(res, i, 9) && !sx_pgdb_i64(res, i, 9, &t->cron_sent_at))
        return false;
    if (!PQgetisnull(res, i, 10)) {
        if (!sx_pgdb_i64(res, i, 10, &t->updated_at))
            return false;
        t->has_updated_at = true;
    }
    /* the public DH key, which the table does not keep, from the private */
    sx_key *k = NULL;
    if (sx_key_decode_private(sx_slice_of(t->dh_priv, t->dh_priv_len), SX_KEY_BIT(SX_KEY_X25519), &k) != SX_OK)
        return false;
    sx_writer w;
    sx_writer_init_fixed(&w, t->dh_pub, sizeof t->dh_pub);
    bool ok = sx_key_write_public(&w, k);
    t->dh_pub_len = w.len;
    sx_key_free(k);
    return ok;
}

/* "smp://<key hash>@<hosts>[:<port>]" from the three columns from col. */
static bool row_server(const PGresult *res, int i, int col, sx_server_address *a)
{
    sx_slice host = sx_pgdb_bytes(res, i, col), port = sx_pgdb_bytes(res, i, col + 1),
             kh = sx_pgdb_bytes(res, i, col + 2);
    char text[SX_SERVER_ADDRESS_MAX + 1];
    int n = snprintf(text, sizeof text, "smp://%.*s@%.*s%s%.*s", (int)kh.len, (const char *)kh.ptr, (int)host.len,
                     (const char *)host.ptr, port.len ? ":" : "", (int)port.len, (const char *)port.ptr);
    return n > 0 && (size_t)n < sizeof text && sx_server_address_parse(text, (size_t)n, a) == SX_OK;
}

static bool row_sub(const PGresult *res, int i, sx_ntf_sub_rec *s)
{
    memset(s, 0, sizeof *s);
    sx_slice status = sx_pgdb_bytes(res, i, 7);
    sx_reader sr;
    sx_reader_init_slice(&sr, status);
    sx_ntf_sub_state st;
    if (!col_bytes(res, i, 0, &s->id) || !col_bytes(res, i, 1, &s->token_id) || !row_server(res, i, 2, &s->server) ||
        !col_bytes(res, i, 5, &s->notifier_id) ||
        !col_buf(res, i, 6, s->notifier_key, sizeof s->notifier_key, &s->notifier_key_len) ||
        !sx_ntf_sub_state_read(&sr, &st) || sx_ntf_sl_bytes_set(&s->status_err, st.err) != SX_OK ||
        !sx_pgdb_bool(res, i, 8, &s->service_assoc))
        return false;
    s->status = st.status;
    return true;
}

static PGresult *select_all(sx_pgdb *db, const sx_pgstmt *s, const char *what)
{
    sx_pgconn *c = sx_pgdb_acquire(db);
    PGresult *res = sx_pgdb_run(c, s, 0, NULL, NULL, what);
    sx_pgdb_release(db, c);
    return res;
}

sx_status sx_ntf_pg_load(sx_pgdb *db, sx_ntf_tokens *t, sx_ntf_subs *s, size_t *tokens, size_t *subs)
{
    static sx_ntf_sl_rec rec;
    size_t nt = 0, ns = 0;
    PGresult *res = select_all(db, &T_ALL, "read tokens");
    SX_ENSURE(res != NULL, SX_E_IO);
    sx_status st = SX_OK;
    for (int i = 0; i < PQntuples(res) && st == SX_OK; i++) {
        memset(&rec, 0, sizeof rec);
        rec.kind = SX_NTF_SL_TCREATE;
        if (!row_token(res, i, &rec.tkn)) {
            SX_SAY(SX_SAY_WARN, "database: a token row does not decode, skipped");
            continue;
        }
        st = sx_ntf_tokens_apply(t, &rec);
        nt += st == SX_OK;
    }
    PQclear(res);
    SX_TRY(st);
    res = select_all(db, &S_ALL, "read subscriptions");
    SX_ENSURE(res != NULL, SX_E_IO);
    for (int i = 0; i < PQntuples(res) && st == SX_OK; i++) {
        memset(&rec, 0, sizeof rec);
        rec.kind = SX_NTF_SL_SCREATE;
        if (!row_sub(res, i, &rec.sub)) {
            SX_SAY(SX_SAY_WARN, "database: a subscription row does not decode, skipped");
            continue;
        }
        st = sx_ntf_subs_apply(s, &rec);
        ns += st == SX_OK;
    }
    PQclear(res);
    SX_TRY(st);
    res = select_all(db, &SV_ALL, "read notifier services");
    SX_ENSURE(res != NULL, SX_E_IO);
    for (int i = 0; i < PQntuples(res) && st == SX_OK; i++) {
        memset(&rec, 0, sizeof rec);
        rec.kind = SX_NTF_SL_SERVICE;
        rec.service.has_service_id = true;
        if (!row_server(res, i, 0, &rec.service.server) || !col_bytes(res, i, 3, &rec.service.service_id)) {
            SX_SAY(SX_SAY_WARN, "database: an SMP router row does not decode, skipped");
            continue;
        }
        st = sx_ntf_subs_apply(s, &rec);
    }
    PQclear(res);
    if (tokens)
        *tokens = nt;
    if (subs)
        *subs = ns;
    return st;
}

/* ---- last notifications ---- */

typedef struct save_ctx {
    sx_pgconn *c;
    sx_status st;
    size_t n;
} save_ctx;

/* The parameters of L_INSERT for l; false when its server does not fit. */
static bool last_params(const sx_ntf_sl_last *l, params *p)
{
    memset(p, 0, sizeof *p);
    if (!p_server(p, 0, &l->server))
        return false;
    p_slice(p, sx_ntf_sl_slice(&l->token_id));
    p_slice(p, sx_ntf_sl_slice(&l->notifier_id));
    p_i64(p, l->ts);
    p_bytes(p, l->nonce, sizeof l->nonce);
    p_bytes(p, l->meta, l->meta_len);
    return true;
}

static void save_line(void *arg, sx_slice line)
{
    save_ctx *x = arg;
    static _Thread_local sx_ntf_sl_last l;
    static _Thread_local params p;
    if (x->st != SX_OK)
        return;
    if (sx_ntf_sl_last_parse(line, &l) != SX_OK || !last_params(&l, &p)) {
        SX_SAY(SX_SAY_WARN, "database: a last notification not saved");
        return;
    }
    PGresult *res = sx_pgdb_run(x->c, &L_INSERT, p.n, p.vals, p.lens, "save a last notification");
    if (!res)
        x->st = SX_E_IO;
    else
        x->n += strcmp(PQcmdTuples(res), "1") == 0; /* 0 when the subscription is gone */
    PQclear(res);
}

sx_status sx_ntf_pg_add_last(sx_pgdb *db, const sx_ntf_sl_last *l)
{
    SX_ENSURE(db != NULL && l != NULL, SX_E_USAGE);
    static _Thread_local params p;
    SX_ENSURE(last_params(l, &p), SX_E_USAGE);
    sx_pgconn *c = sx_pgdb_acquire(db);
    PGresult *res = sx_pgdb_run(c, &L_INSERT, p.n, p.vals, p.lens, "save a last notification");
    sx_status st = res ? SX_OK : SX_E_IO;
    PQclear(res);
    if (st == SX_OK) {
        memset(&p, 0, sizeof p);
        p_slice(&p, sx_ntf_sl_slice(&l->token_id));
        p_i64(&p, SX_NTF_LAST_NTFS_MAX);
        res = sx_pgdb_run(c, &L_TRIM, p.n, p.vals, p.lens, "cut a token's last notifications");
        st = res ? SX_OK : SX_E_IO;
        PQclear(res);
    }
    sx_pgdb_release(db, c);
    return st;
}

void sx_ntf_pg_last_hook(void *arg, const sx_ntf_sl_last *l)
{
    if (sx_ntf_pg_add_last(arg, l) != SX_OK)
        SX_SAY(SX_SAY_WARN, "database: a last notification not saved");
}

sx_status sx_ntf_pg_save_last(sx_pgdb *db, sx_ntf_subs *s, size_t *n)
{
    save_ctx x = {sx_pgdb_acquire(db), SX_OK, 0};
    x.st = sx_pgdb_exec(x.c, "BEGIN", "begin");
    if (x.st == SX_OK)
        x.st = sx_pgdb_exec(x.c, "DELETE FROM last_notifications", "clear last notifications");
    if (x.st == SX_OK) {
        sx_status st = sx_ntf_subs_write_last(s, save_line, &x);
        if (st != SX_OK)
            x.st = st;
    }
    if (x.st == SX_OK)
        x.st = sx_pgdb_exec(x.c, "COMMIT", "commit");
    else
        PQclear(PQexec(x.c->pg, "ROLLBACK"));
    sx_pgdb_release(db, x.c);
    if (n)
        *n = x.n;
    return x.st;
}

sx_status sx_ntf_pg_load_last(sx_pgdb *db, sx_ntf_subs *s, size_t *n)
{
    static sx_ntf_sl_last l;
    size_t taken = 0;
    PGresult *res = select_all(db, &L_ALL, "read last notifications");
    SX_ENSURE(res != NULL, SX_E_IO);
    for (int i = 0; i < PQntuples(res); i++) {
        memset(&l, 0, sizeof l);
        size_t nonce_len = 0;
        if (!col_bytes(res, i, 0, &l.token_id) || !row_server(res, i, 1, &l.server) ||
            !col_bytes(res, i, 4, &l.notifier_id) || !sx_pgdb_i64(res, i, 5, &l.ts) ||
            !col_buf(res, i, 6, l.nonce, sizeof l.nonce, &nonce_len) || nonce_len != sizeof l.nonce ||
            !col_buf(res, i, 7, l.meta, sizeof l.meta, &l.meta_len)) {
            SX_SAY(SX_SAY_WARN, "database: a last notification row does not decode, skipped");
            continue;
        }
        taken += sx_ntf_subs_restore_last(s, &l);
    }
    PQclear(res);
    if (n)
        *n = taken;
    return SX_OK;
}

/* ---- the notifier service's credentials per SMP router ---- */

static const sx_pgstmt SV_UPSERT = {NP_SV_UPSERT, SERVER_UPSERT};
static const sx_pgstmt SV_CREDS = {NP_SV_CREDS,
                                   "SELECT smp_server_id, ntf_service_cert_hash, ntf_service_cert, "
                                   "ntf_service_priv_key "
                                   "FROM smp_servers WHERE smp_host = $1 AND smp_port = $2 AND smp_keyhash = $3 "
                                   "FOR UPDATE"};
static const sx_pgstmt SV_SET_CREDS = {NP_SV_SET_CREDS, "UPDATE smp_servers SET ntf_service_cert_hash = $2, "
                                                        "ntf_service_cert = $3, ntf_service_priv_key = $4 "
                                                        "WHERE smp_server_id = $1"};
static const sx_pgstmt SV_ID = {NP_SV_ID, "SELECT smp_server_id, ntf_service_id FROM smp_servers "
                                          "WHERE smp_host = $1 AND smp_port = $2 AND smp_keyhash = $3 FOR UPDATE"};
static const sx_pgstmt SV_SET_ID = {NP_SV_SET_ID, "UPDATE smp_servers SET ntf_service_id = $2, "
                                                  "smp_notifier_count = 0, smp_notifier_ids_hash = DEFAULT "
                                                  "WHERE smp_server_id = $1"};
static const sx_pgstmt SV_DROP = {NP_SV_DROP, "UPDATE smp_servers SET ntf_service_id = NULL, "
                                              "ntf_service_cert = NULL, ntf_service_cert_hash = NULL, "
                                              "ntf_service_priv_key = NULL, smp_notifier_count = 0, "
                                              "smp_notifier_ids_hash = DEFAULT WHERE smp_server_id = $1"};
static const sx_pgstmt SV_UNASSOC = {NP_SV_UNASSOC, "UPDATE subscriptions SET status = 'INACTIVE', "
                                                    "ntf_service_assoc = FALSE WHERE smp_server_id = $1 "
                                                    "AND (status != 'INACTIVE' OR ntf_service_assoc != FALSE)"};

static sx_status run_one(sx_pgconn *c, const sx_pgstmt *s, const params *p, const char *what, PGresult **out)
{
    PGresult *res = sx_pgdb_run(c, s, p->n, p->vals, p->lens, what);
    if (!res)
        return SX_E_IO;
    if (out)
        *out = res;
    else
        PQclear(res);
    return SX_OK;
}

static bool copy_col(const PGresult *res, int col, uint8_t **out, size_t *len)
{
    sx_slice v = sx_pgdb_bytes(res, 0, col);
    if (!v.ptr || !v.len)
        return false;
    *out = malloc(v.len);
    if (!*out)
        return false;
    memcpy(*out, v.ptr, v.len);
    *len = v.len;
    return true;
}

static sx_status creds_txn(sx_pgconn *c, const sx_server_address *a, sx_ntf_pg_make_creds_fn make, void *arg,
                           sx_ntf_pg_creds *out)
{
    static _Thread_local params p;
    memset(&p, 0, sizeof p);
    if (!p_server(&p, 0, a))
        return SX_E_USAGE;
    /* the router's row exists once a subscription named it; made here
     * otherwise (a connection only follows a subscription) */
    SX_TRY(run_one(c, &SV_UPSERT, &p, "add an SMP router", NULL));
    PGresult *res = NULL;
    SX_TRY(run_one(c, &SV_CREDS, &p, "read the service credentials", &res));
    sx_status st = PQntuples(res) == 1 ? SX_OK : SX_E_IO;
    int64_t srv_id = 0;
    if (st == SX_OK && !sx_pgdb_i64(res, 0, 0, &srv_id))
        st = SX_E_IO;
    if (st == SX_OK && copy_col(res, 1, &out->cert_hash, &out->cert_hash_len) &&
        copy_col(res, 2, &out->cert, &out->cert_len) && copy_col(res, 3, &out->key, &out->key_len)) {
        PQclear(res);
        return SX_OK;
    }
    PQclear(res);
    SX_TRY(st);
    sx_ntf_pg_creds_free(out);
    SX_TRY(make(arg, out));
    out->made = true;
    memset(&p, 0, sizeof p);
    p_i64(&p, srv_id);
    p_bytes(&p, out->cert_hash, out->cert_hash_len);
    p_bytes(&p, out->cert, out->cert_len);
    p_bytes(&p, out->key, out->key_len);
    return run_one(c, &SV_SET_CREDS, &p, "save the service credentials", NULL);
}

sx_status sx_ntf_pg_service_creds(sx_pgdb *db, const sx_server_address *a, sx_ntf_pg_make_creds_fn make, void *arg,
                                  sx_ntf_pg_creds *out)
{
    SX_ENSURE(db != NULL && a != NULL && make != NULL && out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_pgconn *c = sx_pgdb_acquire(db);
    sx_status st = sx_pgdb_exec(c, "BEGIN", "service credentials");
    if (st == SX_OK) {
        st = creds_txn(c, a, make, arg, out);
        sx_status end = sx_pgdb_exec(c, st == SX_OK ? "COMMIT" : "ROLLBACK", "service credentials");
        if (st == SX_OK)
            st = end;
    }
    sx_pgdb_release(db, c);
    if (st != SX_OK)
        sx_ntf_pg_creds_free(out);
    return st;
}

void sx_ntf_pg_creds_free(sx_ntf_pg_creds *c)
{
    if (!c)
        return;
    free(c->cert_hash);
    free(c->cert);
    if (c->key)
        sx_wipe(c->key, c->key_len);
    free(c->key);
    memset(c, 0, sizeof *c);
}

static sx_status service_id_txn(sx_pgconn *c, const sx_server_address *a, sx_slice id, int *changed)
{
    static _Thread_local params p;
    memset(&p, 0, sizeof p);
    if (!p_server(&p, 0, a))
        return SX_E_USAGE;
    PGresult *res = NULL;
    SX_TRY(run_one(c, &SV_ID, &p, "read the service id", &res));
    if (PQntuples(res) != 1) {
        PQclear(res);
        return SX_OK; /* a router the store does not know: nothing to record */
    }
    int64_t srv_id = 0;
    bool ok = sx_pgdb_i64(res, 0, 0, &srv_id);
    sx_slice cur = sx_pgdb_bytes(res, 0, 1);
    bool had = cur.ptr != NULL;
    bool same = had ? id.len == cur.len && memcmp(id.ptr, cur.ptr, id.len) == 0 : id.len == 0;
    PQclear(res);
    if (!ok)
        return SX_E_IO;
    if (same)
        return SX_OK;
    memset(&p, 0, sizeof p);
    p_i64(&p, srv_id);
    if (had) {
        /* another service at that router: the associations were with the old one */
        SX_TRY(run_one(c, &SV_UNASSOC, &p, "end the service associations", NULL));
        *changed = 1;
    }
    if (!id.len)
        return run_one(c, &SV_DROP, &p, "drop the service", NULL);
    p_slice(&p, id);
    return run_one(c, &SV_SET_ID, &p, "record the service id", NULL);
}

sx_status sx_ntf_pg_service_id(sx_pgdb *db, const sx_server_address *a, sx_slice id, bool *changed)
{
    SX_ENSURE(db != NULL && a != NULL, SX_E_USAGE);
    int ch = 0;
    sx_pgconn *c = sx_pgdb_acquire(db);
    sx_status st = sx_pgdb_exec(c, "BEGIN", "service id");
    if (st == SX_OK) {
        st = service_id_txn(c, a, id, &ch);
        sx_status end = sx_pgdb_exec(c, st == SX_OK ? "COMMIT" : "ROLLBACK", "service id");
        if (st == SX_OK)
            st = end;
    }
    sx_pgdb_release(db, c);
    if (changed)
        *changed = st == SX_OK && ch;
    return st;
}
