/* NTF router network server (see server.h). A connection lives on one
 * worker: TLS (sx_kit_tls_step), then the server hello block, the client
 * hello block, then request blocks, each answered with one block per
 * response. */
#include "ntf_router/server.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/loop.h"
#include "crypto/box.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "kit/prom.h"
#include "kit/say.h"
#include "kit/workers.h"
#include "ntf/protocol.h"
#include "ntf_router/control.h"
#include "ntf_router/metrics.h"
#include "ntf_router/pgschema.h"
#include "ntf_router/pgstore.h"
#include "ntf_router/setup.h"
#include "ntf_router/smpsub.h"
#include "ntf_router/subs.h"
#include "ntf_router/tokens.h"
#include "transport/net.h"
#include "transport/tls.h"
#include "simplex/version.h"

static const char *const ns_alpn[] = {SX_NTF_ALPN, "h2", "http/1.1", NULL};

typedef enum ns_state { NS_TLS = 1,
                        NS_HELLO,
                        NS_READY } ns_state;

typedef struct ns_conn ns_conn;
typedef struct ns_worker ns_worker;

struct ns_conn {
    ns_worker *w;
    int fd;
    sx_kit_peer peer;
    sx_loop_io io;
    sx_loop_task task;
    sx_tls_conn *tls;
    ns_state state;
    uint16_t v;
    sx_version_range range;
    uint8_t session[64];
    size_t session_len;
    sx_key *hs_key; /* the X25519 key of the hello (authenticators) */
    uint8_t rbuf[SX_NTF_BLOCK_SIZE];
    size_t rlen;
    uint8_t *wbuf; /* blocks to send */
    size_t wlen, wdone, wcap;
    bool closing;
    ns_conn *prev, *next;
};

struct ns_worker {
    sx_ntf_server *s;
    sx_loop *loop;
    ns_conn *conns;
};

struct sx_ntf_server {
    sx_ntf_server_opts opts;
    sx_tls_ctx *tls;
    sx_key *sign_key;
    sx_kit_workers *ws;
    ns_worker *workers;
    unsigned n_workers;
    sx_ntf_tokens *tokens;
    FILE *log;
    sx_pgdb *db; /* the database store, or NULL */
    pthread_mutex_t log_mu;
    uint64_t pushes;
    sx_ntf_pusher *pusher; /* NULL without APNS */
    sx_ntf_subs *subs;
    sx_ntf_smpsub *smpsub;
    sx_ntf_svccreds *svc; /* the notifier service's certificates, or NULL */
    sx_ntf_stats stats;
    sx_ntf_stats_log *stats_log;
    sx_ntf_control *control;
};

/* ---- store log ---- */

static void log_line(void *arg, sx_slice line)
{
    sx_ntf_server *s = arg;
    pthread_mutex_lock(&s->log_mu);
    if (s->log && (fwrite(line.ptr, 1, line.len, s->log) != line.len || fputc('\n', s->log) == EOF ||
                   fflush(s->log) != 0))
        SX_SAY(SX_SAY_WARN, "store log: write failed: %s", strerror(errno));
    pthread_mutex_unlock(&s->log_mu);
}

static void file_line(void *arg, sx_slice line)
{
    FILE *f = arg;
    (void)!fwrite(line.ptr, 1, line.len, f);
    (void)!fputc('\n', f);
}

/* Replays the log (lines that do not parse are reported and skipped, as
 * the reference does), writes the compacted log and opens it to append. */
static sx_status open_store_log(sx_ntf_server *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f) {
        static sx_ntf_sl_rec rec;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) >= 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                n--;
            if (n == 0)
                continue;
            if (sx_ntf_sl_parse(sx_slice_of(line, (size_t)n), &rec) != SX_OK) {
                SX_SAY(SX_SAY_WARN, "store log: cannot read line: %.100s", line);
                continue;
            }
            sx_status st = sx_ntf_tokens_apply(s->tokens, &rec);
            if (st == SX_OK)
                st = sx_ntf_subs_apply(s->subs, &rec);
            if (st == SX_E_NOMEM) {
                free(line);
                fclose(f);
                return st;
            }
        }
        free(line);
        fclose(f);
    } else if (errno != ENOENT) {
        return SX_E_IO;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    SX_ENSURE(tmp != NULL, SX_E_NOMEM);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".start", 7);
    FILE *out = fopen(tmp, "w");
    sx_status st = out ? SX_OK : SX_E_IO;
    if (st == SX_OK) {
        st = sx_ntf_tokens_write_all(s->tokens, file_line, out);
        if (st == SX_OK)
            st = sx_ntf_subs_write_all(s->subs, file_line, out);
        if (fflush(out) != 0 || fsync(fileno(out)) != 0)
            st = SX_E_IO;
        fclose(out);
        if (st == SX_OK && rename(tmp, path) != 0)
            st = SX_E_IO;
    }
    free(tmp);
    SX_TRY(st);
    s->log = fopen(path, "a");
    SX_ENSURE(s->log != NULL, SX_E_IO);
    sx_ntf_tokens_set_log(s->tokens, log_line, s);
    sx_ntf_subs_set_log(s->subs, log_line, s);
    return SX_OK;
}

/* The database store: the schema migrated, every row read, and each
 * change written there in place of the store log. */
static sx_status open_db(sx_ntf_server *s, const sx_ntf_server_opts *o)
{
    sx_pgdb_cfg c = {
        .conninfo = o->db_connection,
        .schema = o->db_schema ? o->db_schema : SX_NTF_DEFAULT_DB_SCHEMA,
        .pool_size = o->db_pool_size > 0 ? o->db_pool_size : SX_NTF_DEFAULT_DB_POOL_SIZE,
        .migrate = true,
    };
    sx_ntf_pg_cfg(&c);
    char err[700];
    sx_status st = sx_pgdb_open(&c, &s->db, err, sizeof err);
    if (st != SX_OK) {
        SX_SAY(SX_SAY_ERROR, "Error: %s", err);
        return st;
    }
    size_t nt = 0, ns = 0;
    SX_TRY(sx_ntf_pg_load(s->db, s->tokens, s->subs, &nt, &ns));
    SX_SAY(SX_SAY_NOTE, "Database: %zu tokens, %zu subscriptions", nt, ns);
    sx_ntf_tokens_set_log(s->tokens, sx_ntf_pg_log_line, s->db);
    sx_ntf_subs_set_log(s->subs, sx_ntf_pg_log_line, s->db);
    return SX_OK;
}

/* ---- connections ---- */

static void conn_close(ns_conn *c, const char *why);

static void free_conn_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    ns_conn *c = t->data;
    free(c->wbuf);
    free(c);
}

static void conn_close(ns_conn *c, const char *why)
{
    if (c->fd < 0)
        return;
    ns_worker *w = c->w;
    SX_SAY(SX_SAY_DEBUG, "ntf client closed (%s)", why);
    sx_loop_io_stop(w->loop, &c->io);
    sx_key_free(c->hs_key);
    c->hs_key = NULL;
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
    c->task.cb = free_conn_cb;
    c->task.data = c;
    sx_loop_post(w->loop, &c->task);
}

static void conn_interest(ns_conn *c)
{
    unsigned ev = SX_EV_READ;
    if (c->state == NS_TLS)
        ev = sx_tls_conn_want(c->tls) == SX_TLS_WANT_WRITE ? SX_EV_WRITE : SX_EV_READ;
    else if (c->wlen > c->wdone || sx_tls_conn_want(c->tls) == SX_TLS_WANT_WRITE)
        ev |= SX_EV_WRITE;
    if (sx_loop_io_start(c->w->loop, &c->io, ev) != SX_OK)
        conn_close(c, "internal error");
}

/* Queues one block with the given content. */
static bool send_block(ns_conn *c, sx_slice content)
{
    if (c->wlen + SX_NTF_BLOCK_SIZE > c->wcap) {
        if (c->wdone > 0) {
            memmove(c->wbuf, c->wbuf + c->wdone, c->wlen - c->wdone);
            c->wlen -= c->wdone;
            c->wdone = 0;
        }
        if (c->wlen + SX_NTF_BLOCK_SIZE > c->wcap) {
            size_t cap = c->wcap ? c->wcap * 2 : 4 * SX_NTF_BLOCK_SIZE;
            uint8_t *b = realloc(c->wbuf, cap);
            if (!b)
                return false;
            c->wbuf = b;
            c->wcap = cap;
        }
    }
    if (sx_ntf_block_encode(content, c->wbuf + c->wlen) != SX_OK)
        return false;
    c->wlen += SX_NTF_BLOCK_SIZE;
    return true;
}

static void conn_flush(ns_conn *c)
{
    while (c->fd >= 0 && c->wdone < c->wlen) {
        size_t done = 0;
        sx_status st = sx_tls_write(c->tls, c->wbuf + c->wdone, c->wlen - c->wdone, &done);
        c->wdone += done;
        if (st == SX_E_WOULD_BLOCK)
            break;
        if (st != SX_OK) {
            conn_close(c, sx_kit_io_why(st));
            return;
        }
    }
    if (c->fd < 0)
        return;
    if (c->wdone == c->wlen)
        c->wlen = c->wdone = 0;
    if (c->closing && c->wlen == 0) {
        conn_close(c, "protocol error");
        return;
    }
    conn_interest(c);
}

static void send_hello(ns_conn *c)
{
    sx_slice alpn = sx_tls_alpn(c->tls);
    bool ntf = sx_slice_eq(alpn, sx_slice_str(SX_NTF_ALPN)) || sx_slice_eq(alpn, sx_slice_str("h2")) ||
               sx_slice_eq(alpn, sx_slice_str("http/1.1"));
    c->range.min = SX_NTF_VERSION_MIN;
    c->range.max = ntf ? SX_NTF_VERSION_MAX : SX_NTF_VERSION_MIN;
    sx_slice sid = sx_tls_unique(c->tls);
    if (sid.len == 0 || sid.len > sizeof c->session) {
        conn_close(c, "no tls-unique");
        return;
    }
    memcpy(c->session, sid.ptr, sid.len);
    c->session_len = sid.len;
    uint8_t skbuf[256];
    sx_ntf_server_hello h = {c->range, sx_slice_of(c->session, c->session_len), false, {0}};
    if (c->range.max >= SX_NTF_V_AUTH_BATCH) {
        sx_writer sw;
        sx_writer_init_fixed(&sw, skbuf, sizeof skbuf);
        if (sx_key_generate(SX_KEY_X25519, &c->hs_key) != SX_OK ||
            !sx_x509_write_signed_key(&sw, c->w->s->sign_key, c->hs_key)) {
            conn_close(c, "internal error");
            return;
        }
        h.has_signed_key = true;
        h.signed_key = sx_writer_slice(&sw);
    }
    uint8_t content[SX_NTF_MAX_CONTENT];
    sx_writer w;
    sx_writer_init_fixed(&w, content, sizeof content);
    if (!sx_ntf_server_hello_write(&w, &h) || !send_block(c, sx_writer_slice(&w))) {
        conn_close(c, "internal error");
        return;
    }
    c->state = NS_HELLO;
}

static void recv_hello(ns_conn *c, sx_slice content)
{
    sx_ntf_client_hello h;
    if (sx_ntf_client_hello_decode(content, &h) != SX_OK) {
        conn_close(c, "handshake: parse");
        return;
    }
    if (!sx_slice_eq(h.key_hash, sx_slice_of(c->w->s->opts.key_hash, SX_FINGERPRINT_LEN))) {
        conn_close(c, "handshake: identity");
        return;
    }
    if (h.version < c->range.min || h.version > c->range.max) {
        conn_close(c, "handshake: version");
        return;
    }
    c->v = h.version;
    c->state = NS_READY;
    sx_kit_workers_handshake_done(c->w->s->ws, &c->peer);
}

/* Whether auth is a valid authorization of the signed bytes by the key
 * with this DER. */
static bool authorized(ns_conn *c, const sx_ntf_request *q, sx_slice key_der)
{
    uint8_t ab[SX_NTF_BLOCK_SIZE + 64];
    sx_writer w;
    sx_writer_init_fixed(&w, ab, sizeof ab);
    if (!sx_ntf_auth_bytes(&w, sx_slice_of(c->session, c->session_len), q->t.corr_id, q->t.entity_id,
                           q->t.command))
        return false;
    sx_key *k = NULL;
    if (sx_key_decode_public(key_der, SX_KEY_AUTH_ALGS, &k) != SX_OK)
        return false;
    bool ok = false;
    if (q->auth_kind == SX_SMP_AUTH_AUTHENTICATOR) {
        uint8_t secret[32];
        size_t len = 0;
        ok = c->v >= SX_NTF_V_AUTH_BATCH && c->hs_key && q->t.corr_id.len == SX_CB_NONCE_LEN &&
             sx_key_dh(c->hs_key, k, secret, sizeof secret, &len) == SX_OK && len == sizeof secret &&
             sx_cb_verify(secret, q->t.corr_id.ptr, q->t.auth, sx_writer_slice(&w)) == SX_OK;
        sx_wipe(secret, sizeof secret);
    } else if (q->auth_kind == SX_SMP_AUTH_ED25519 || q->auth_kind == SX_SMP_AUTH_ED448) {
        ok = sx_key_verify(k, sx_writer_slice(&w), q->t.auth) == SX_OK;
    }
    sx_key_free(k);
    return ok;
}

static void reply(ns_conn *c, sx_slice corr, sx_slice entity, const sx_ntf_resp *r)
{
    uint8_t cmd[SX_NTF_MAX_CONTENT], tbuf[SX_NTF_MAX_CONTENT], content[SX_NTF_MAX_CONTENT];
    sx_writer w;
    sx_writer_init_fixed(&w, cmd, sizeof cmd);
    bool ok = sx_ntf_resp_write(&w, c->v, r);
    sx_smp_transmission t = {0};
    t.session_id = sx_slice_of(c->session, c->session_len);
    t.corr_id = corr;
    t.entity_id = entity;
    t.command = sx_writer_slice(&w);
    sx_writer tw;
    sx_writer_init_fixed(&tw, tbuf, sizeof tbuf);
    ok = ok && sx_ntf_transmission_write(&tw, c->v, &t);
    sx_slice item = sx_writer_slice(&tw);
    sx_writer cw;
    sx_writer_init_fixed(&cw, content, sizeof content);
    ok = ok && sx_ntf_batch_write(&cw, c->v, &item, 1);
    if (!ok || !send_block(c, sx_writer_slice(&cw)))
        conn_close(c, "internal error");
}

static void reply_err(ns_conn *c, sx_slice corr, sx_slice entity, sx_smp_error e)
{
    sx_ntf_resp r = {0};
    r.tag = SX_NTF_R_ERR;
    r.err = e;
    reply(c, corr, entity, &r);
}

static void after_token_cmd(ns_conn *c, const sx_ntf_tkn_result *res)
{
    if (!res->push_verification || res->token.token.provider == SX_NTF_PP_APNS_NULL)
        return;
    sx_ntf_server *s = c->w->s;
    if (s->pusher) {
        if (!sx_ntf_pusher_verify(s->pusher, &res->token))
            SX_SAY(SX_SAY_WARN, "verification push not queued");
        return;
    }
    __atomic_add_fetch(&s->pushes, 1, __ATOMIC_RELAXED);
    SX_SAY(SX_SAY_WARN, "verification push to a %s token not sent: APNS is not configured",
           sx_ntf_provider_text(res->token.token.provider));
}

/* ---- subscriptions ---- */

typedef struct id_list {
    sx_ntf_sl_bytes *ids;
    size_t n, cap;
} id_list;

static void collect_id(void *arg, const sx_ntf_sub_rec *r)
{
    id_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        sx_ntf_sl_bytes *ids = realloc(l->ids, cap * sizeof *ids);
        if (!ids)
            return;
        l->ids = ids;
        l->cap = cap;
    }
    l->ids[l->n++] = r->id;
}

/* TDEL: the token's subscriptions go, and their SMP subscriptions. */
static void drop_token_subs(sx_ntf_server *s, sx_slice token_id)
{
    id_list l = {0};
    (void)sx_ntf_subs_delete_token(s->subs, token_id, collect_id, &l);
    for (size_t i = 0; i < l.n; i++)
        sx_ntf_smpsub_unsubscribe(s->smpsub, sx_ntf_sl_slice(&l.ids[i]));
    free(l.ids);
}

/* SNEW (its token in the command), SCHK and SDEL (the token of the
 * subscription): the token must exist, have authorized the command and
 * allow subscriptions (PROTOCOL-NOTES G13, G14). */
static void handle_sub(ns_conn *c, const sx_ntf_request *q)
{
    static __thread sx_ntf_tkn_rec tkn;
    static __thread sx_ntf_sub_result res;
    sx_ntf_server *s = c->w->s;
    sx_slice corr = q->t.corr_id, entity = q->t.entity_id;
    sx_ntf_sl_bytes tid;
    bool known;
    if (q->cmd.tag == SX_NTF_C_SNEW) {
        known = sx_ntf_sl_bytes_set(&tid, q->cmd.snew.token_id) == SX_OK;
    } else {
        known = sx_ntf_subs_token_of(s->subs, entity, &tid);
    }
    if (!known || !sx_ntf_tokens_get(s->tokens, sx_ntf_sl_slice(&tid), &tkn) ||
        !authorized(c, q, sx_slice_of(tkn.verify_key, tkn.verify_key_len)) ||
        !sx_ntf_tkn_allows_subs(tkn.status.status)) {
        sx_wipe(&tkn, sizeof tkn);
        reply_err(c, corr, entity, sx_smp_error_of(SX_SMP_ERR_AUTH));
        return;
    }
    sx_wipe(&tkn, sizeof tkn);
    sx_status st = q->cmd.tag == SX_NTF_C_SNEW ? sx_ntf_subs_snew(s->subs, sx_ntf_sl_slice(&tid), &q->cmd, &res)
                                               : sx_ntf_subs_cmd(s->subs, entity, &q->cmd, &res);
    if (st != SX_OK) {
        reply_err(c, corr, entity, sx_smp_error_of(SX_SMP_ERR_INTERNAL));
        return;
    }
    reply(c, corr, entity, &res.resp);
    if (res.subscribe) {
        sx_ntf_stats_inc(&s->stats, SX_NTF_STAT_SUB_CREATED);
        sx_ntf_smpsub_subscribe(s->smpsub, &res.sub);
    }
    if (res.unsubscribe) {
        sx_ntf_stats_inc(&s->stats, SX_NTF_STAT_SUB_DELETED);
        sx_ntf_smpsub_unsubscribe(s->smpsub, entity);
    }
    sx_wipe(&res.sub, sizeof res.sub);
}

static void handle(ns_conn *c, sx_slice transmission)
{
    static __thread sx_ntf_request q;
    static __thread sx_ntf_tkn_result res;
    sx_slice none = sx_slice_of(NULL, 0);
    sx_status st = sx_ntf_request_decode(transmission, c->v, sx_slice_of(c->session, c->session_len), &q);
    if (st != SX_OK) {
        if (st == SX_E_NOMEM)
            reply_err(c, none, none, sx_smp_error_of(SX_SMP_ERR_INTERNAL));
        else
            reply_err(c, q.reply_corr_id, q.reply_entity_id, q.err);
        return;
    }
    sx_slice corr = q.t.corr_id, entity = q.t.entity_id;
    sx_ntf_tokens *tokens = c->w->s->tokens;
    switch (q.cmd.tag) {
    case SX_NTF_C_PING: {
        sx_ntf_resp r = {0};
        r.tag = SX_NTF_R_PONG;
        reply(c, corr, entity, &r);
        return;
    }
    case SX_NTF_C_TNEW:
        if (!authorized(c, &q, q.cmd.tnew.verify_key.der)) {
            reply_err(c, corr, entity, sx_smp_error_of(SX_SMP_ERR_AUTH));
            return;
        }
        if (sx_ntf_tokens_tnew(tokens, &q.cmd, (int64_t)time(NULL) / 86400 * 86400, &res) != SX_OK) {
            reply_err(c, corr, entity, sx_smp_error_of(SX_SMP_ERR_INTERNAL));
            return;
        }
        reply(c, corr, entity, &res.resp);
        if (res.created)
            sx_ntf_stats_inc(&c->w->s->stats, SX_NTF_STAT_TKN_CREATED);
        after_token_cmd(c, &res);
        return;
    case SX_NTF_C_TVFY:
    case SX_NTF_C_TCHK:
    case SX_NTF_C_TRPL:
    case SX_NTF_C_TDEL:
    case SX_NTF_C_TCRN: {
        uint8_t key[SX_KEY_SPKI_MAX];
        size_t klen = 0;
        if (!sx_ntf_tokens_verify_key(tokens, entity, key, sizeof key, &klen) ||
            !authorized(c, &q, sx_slice_of(key, klen))) {
            reply_err(c, corr, entity, sx_smp_error_of(SX_SMP_ERR_AUTH));
            return;
        }
        if (sx_ntf_tokens_cmd(tokens, entity, &q.cmd, &res) != SX_OK) {
            reply_err(c, corr, entity, sx_smp_error_of(SX_SMP_ERR_INTERNAL));
            return;
        }
        reply(c, corr, entity, &res.resp);
        if (res.resp.tag == SX_NTF_R_OK) {
            sx_ntf_stat k = q.cmd.tag == SX_NTF_C_TVFY   ? SX_NTF_STAT_TKN_VERIFIED
                            : q.cmd.tag == SX_NTF_C_TDEL ? SX_NTF_STAT_TKN_DELETED
                            : q.cmd.tag == SX_NTF_C_TRPL ? SX_NTF_STAT_TKN_REPLACED
                                                         : SX_NTF_STAT_COUNT;
            sx_ntf_stats_inc(&c->w->s->stats, k); /* COUNT: none */
        }
        after_token_cmd(c, &res);
        if (q.cmd.tag == SX_NTF_C_TDEL && res.resp.tag == SX_NTF_R_OK)
            drop_token_subs(c->w->s, entity);
        return;
    }
    case SX_NTF_C_SNEW:
    case SX_NTF_C_SCHK:
    case SX_NTF_C_SDEL: handle_sub(c, &q); return;
    default: reply_err(c, corr, entity, sx_smp_error_of(SX_SMP_ERR_INTERNAL)); return;
    }
}

static void recv_block(ns_conn *c)
{
    sx_slice content;
    if (sx_ntf_block_decode(sx_slice_of(c->rbuf, sizeof c->rbuf), &content) != SX_OK) {
        conn_close(c, "bad block");
        return;
    }
    if (c->state == NS_HELLO) {
        recv_hello(c, content);
        return;
    }
    sx_slice items[SX_NTF_BATCH_MAX];
    size_t n = 0;
    if (sx_ntf_batch_split(content, c->v, items, SX_NTF_BATCH_MAX, &n) != SX_OK) {
        reply_err(c, sx_slice_of(NULL, 0), sx_slice_of(NULL, 0), sx_smp_error_of(SX_SMP_ERR_BLOCK));
        return;
    }
    for (size_t i = 0; i < n && c->fd >= 0; i++)
        handle(c, items[i]);
}

static void conn_read(ns_conn *c)
{
    while (c->fd >= 0 && !c->closing) {
        size_t done = 0;
        sx_status st = sx_tls_read(c->tls, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, &done);
        c->rlen += done;
        if (c->rlen == sizeof c->rbuf) {
            recv_block(c);
            c->rlen = 0;
            continue;
        }
        if (st == SX_E_WOULD_BLOCK)
            return;
        if (st != SX_OK) {
            conn_close(c, sx_kit_io_why(st));
            return;
        }
    }
}

static void conn_io_cb(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)loop;
    ns_conn *c = io->data;
    if (c->state == NS_TLS) {
        sx_status st = sx_kit_tls_step(c->w->s->tls, c->fd, &c->tls, c->w->s->opts.log_tls_errors);
        if (st == SX_E_WOULD_BLOCK) {
            conn_interest(c);
            return;
        }
        if (st != SX_OK) {
            conn_close(c, st == SX_E_CLOSED ? "peer closed" : "TLS error");
            return;
        }
        send_hello(c);
        if (c->fd < 0)
            return;
        events |= SX_EV_READ;
    }
    if (events & (SX_EV_READ | SX_EV_ERROR))
        conn_read(c);
    if (c->fd >= 0)
        conn_flush(c);
}

static void adopt(void *arg, unsigned worker, int fd, unsigned port_index, const sx_kit_peer *peer)
{
    sx_ntf_server *s = arg;
    ns_worker *w = &s->workers[worker];
    ns_conn *c = calloc(1, sizeof *c);
    if (!c) {
        sx_kit_workers_refuse(s->ws, fd, port_index, peer);
        return;
    }
    c->fd = fd;
    c->peer = *peer;
    c->w = w;
    c->state = NS_TLS;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    sx_loop_io_init(&c->io, c->fd, conn_io_cb, c);
    if (sx_loop_io_start(w->loop, &c->io, SX_EV_READ) != SX_OK)
        conn_close(c, "internal error");
}

static void thread_end(void *arg, unsigned worker)
{
    sx_ntf_server *s = arg;
    ns_worker *w = &s->workers[worker];
    while (w->conns)
        conn_close(w->conns, "stopping");
}

/* ---- last notifications (sx_ntf_server_opts.last_ntfs_path) ---- */

static void restore_last(sx_ntf_server *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    static sx_ntf_sl_last rec;
    char *line = NULL;
    size_t cap = 0, n_ok = 0, n_bad = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0)
            continue;
        if (sx_ntf_sl_last_parse(sx_slice_of(line, (size_t)n), &rec) == SX_OK &&
            sx_ntf_subs_restore_last(s->subs, &rec))
            n_ok++;
        else
            n_bad++;
    }
    free(line);
    fclose(f);
    sx_wipe(&rec, sizeof rec);
    char bak[4096];
    if (snprintf(bak, sizeof bak, "%s.bak", path) < (int)sizeof bak && rename(path, bak) != 0)
        SX_SAY(SX_SAY_WARN, "%s: cannot rename to .bak: %s", path, strerror(errno));
    SX_SAY(SX_SAY_NOTE, "last notifications restored: %zu (%zu lines skipped)", n_ok, n_bad);
}

static void save_last(sx_ntf_server *s, const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        SX_SAY(SX_SAY_ERROR, "%s: %s", tmp, strerror(errno));
        return;
    }
    sx_status st = sx_ntf_subs_write_last(s->subs, file_line, f);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        st = SX_E_IO;
    if (fclose(f) != 0)
        st = SX_E_IO;
    if (st == SX_OK && rename(tmp, path) == 0)
        SX_SAY(SX_SAY_NOTE, "last notifications saved to %s", path);
    else
        SX_SAY(SX_SAY_ERROR, "last notifications not saved to %s", path);
}

/* ---- start and stop ---- */

/* The SMP routers' figures (gauges.h), gathered on the pool's thread. */
typedef struct figs {
    sx_ntf_server *s;
    sx_ntf_router_fig *f;
    size_t n, cap;
    bool nomem;
} figs;

static void fig_add(void *arg, const sx_smp_pool_router *r)
{
    figs *g = arg;
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        sx_ntf_router_fig *f = realloc(g->f, cap * sizeof *f);
        if (!f) {
            g->nomem = true;
            return;
        }
        g->f = f;
        g->cap = cap;
    }
    sx_ntf_router_fig *x = &g->f[g->n];
    memset(x, 0, sizeof *x);
    x->own = sx_ntf_stats_own_server(&g->s->stats, r->server, x->host, sizeof x->host);
    if (!x->own && !sx_ntf_server_host(r->server, x->host, sizeof x->host))
        snprintf(x->host, sizeof x->host, "%.*s", (int)(sizeof x->host - 1), r->server);
    x->connected = r->connected;
    x->active = (int64_t)r->active;
    x->pending = (int64_t)r->pending;
    x->service = (int64_t)r->service_assoc;
    g->n++;
}

/* A list the caller frees (NULL, 0 without memory: no routers shown). */
static sx_ntf_router_fig *router_figs(sx_ntf_server *s, size_t *n)
{
    figs g = {.s = s};
    sx_ntf_smpsub_routers(s->smpsub, fig_add, &g);
    if (g.nomem) {
        SX_SAY(SX_SAY_ERROR, "no memory for the SMP routers' figures");
        free(g.f);
        g.f = NULL;
        g.n = 0;
    }
    *n = g.n;
    return g.f;
}

/* What the control port's server-info shows. NMSG received are counted
 * by the SMP side; copied into the counters when asked. */
static void ctl_info(void *arg, sx_ntf_ctl_info *out)
{
    sx_ntf_server *s = arg;
    sx_smp_pool_stats ps;
    sx_ntf_smpsub_pool_stats(s->smpsub, &ps);
    out->smp_sessions = ps.connected;
    out->routers = router_figs(s, &out->n_routers);
    out->push_queue = sx_ntf_pusher_queued(s->pusher);
}

/* The metrics file (metrics.h), on the statistics thread. */
static void metrics_file(void *arg)
{
    sx_ntf_server *s = arg;
    sx_ntf_metrics_in in = {0};
    sx_ntf_metrics_from_stats(&s->stats, &in);
    sx_smp_pool_stats ps;
    sx_ntf_smpsub_pool_stats(s->smpsub, &ps);
    in.token_count = (int64_t)sx_ntf_tokens_count(s->tokens);
    in.sub_count = (int64_t)sx_ntf_subs_count(s->subs);
    in.last_ntf_count = (int64_t)sx_ntf_subs_last_count(s->subs);
    in.threads = sx_kit_proc_threads();
    in.smp_sessions = (int64_t)ps.connected;
    sx_ntf_router_fig *rf = router_figs(s, &in.n_routers);
    in.routers = rf;
    in.push_queue = (int64_t)sx_ntf_pusher_queued(s->pusher);
    in.version = sx_version();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    in.now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char *text = NULL;
    size_t len = 0;
    sx_status st = sx_ntf_metrics_text(&in, &text, &len);
    free(rf);
    if (st == SX_OK)
        st = sx_ntf_metrics_write(s->opts.metrics_path, text, len);
    free(text);
    if (st != SX_OK)
        SX_SAY(SX_SAY_ERROR, "cannot write metrics to %s: %s", s->opts.metrics_path, sx_status_str(st));
}

static void server_free(sx_ntf_server *s)
{
    if (!s)
        return;
    sx_ntf_control_stop(s->control);
    sx_ntf_stats_log_stop(s->stats_log);
    sx_kit_workers_free(s->ws);
    sx_ntf_smpsub_stop(s->smpsub);
    sx_ntf_svccreds_free(s->svc); /* after the pool that calls it */
    sx_ntf_pusher_stop(s->pusher);
    free(s->workers);
    sx_tls_ctx_free(s->tls);
    sx_key_free(s->sign_key);
    sx_ntf_tokens_free(s->tokens);
    sx_ntf_subs_free(s->subs);
    sx_ntf_stats_destroy(&s->stats);
    if (s->log)
        fclose(s->log);
    sx_pgdb_close(s->db);
    pthread_mutex_destroy(&s->log_mu);
    free(s);
}

/* The reference's restore: a file that exists is read, then renamed .bak;
 * one that does not parse stops the start. */
static sx_status restore_stats(sx_ntf_server *s, const char *path)
{
    if (access(path, F_OK) != 0)
        return SX_OK;
    SX_SAY(SX_SAY_NOTE, "restoring server stats from file %s", path);
    size_t line = 0;
    sx_status st = sx_ntf_stats_load(&s->stats, path, &line);
    if (st != SX_OK) {
        SX_SAY(SX_SAY_ERROR, "error restoring server stats from %s (line %zu): %s", path, line, sx_status_str(st));
        return st == SX_E_NOMEM ? st : SX_E_IO;
    }
    char bak[4200];
    if ((size_t)snprintf(bak, sizeof bak, "%s.bak", path) < sizeof bak && rename(path, bak) != 0)
        SX_SAY(SX_SAY_WARN, "cannot rename %s", path);
    SX_SAY(SX_SAY_NOTE, "server stats restored");
    return SX_OK;
}

static void collect_wanted(void *arg, const sx_ntf_sub_rec *r)
{
    if (sx_ntf_smpsub_wants(r->status))
        collect_id(arg, r);
}

/* At start: every subscription whose status allows it is subscribed again
 * (PROTOCOL-NOTES G17). */
static void resubscribe(sx_ntf_server *s)
{
    id_list l = {0};
    sx_ntf_subs_each(s->subs, collect_wanted, &l);
    sx_ntf_sub_result *res = malloc(sizeof *res);
    static const sx_ntf_cmd schk = {.tag = SX_NTF_C_SCHK};
    for (size_t i = 0; res && i < l.n; i++)
        if (sx_ntf_subs_cmd(s->subs, sx_ntf_sl_slice(&l.ids[i]), &schk, res) == SX_OK &&
            res->resp.tag == SX_NTF_R_SUB)
            sx_ntf_smpsub_subscribe(s->smpsub, &res->sub);
    if (res)
        sx_wipe(res, sizeof *res);
    free(res);
    free(l.ids);
    if (l.n)
        SX_SAY(SX_SAY_NOTE, "resubscribing %zu subscriptions", l.n);
}

sx_status sx_ntf_server_start(const sx_ntf_server_opts *o, sx_ntf_server **out)
{
    SX_ENSURE(o != NULL && out != NULL && o->cert_file && o->key_file, SX_E_USAGE);
    *out = NULL;
    sx_ntf_server *s = calloc(1, sizeof *s);
    SX_ENSURE(s != NULL, SX_E_NOMEM);
    pthread_mutex_init(&s->log_mu, NULL);
    sx_ntf_stats_init(&s->stats, (int64_t)time(NULL));
    s->opts = *o;
    s->opts.apns = NULL; /* the caller's; copied into the client */
    sx_status st = sx_ntf_stats_set_own_domains(&s->stats, o->own_server_domains);
    if (st == SX_OK)
        st = sx_ntf_tokens_new(&s->tokens);
    if (st == SX_OK)
        st = sx_ntf_subs_new(&s->subs);
    if (st == SX_OK && o->db_connection)
        st = open_db(s, o);
    else if (st == SX_OK && o->store_log_path)
        st = open_store_log(s, o->store_log_path);
    if (st == SX_OK && s->db) {
        size_t n = 0;
        st = sx_ntf_pg_load_last(s->db, s->subs, &n);
        SX_SAY(SX_SAY_NOTE, "last notifications restored from the database: %zu", n);
        /* from here each notification's row is written as it comes */
        sx_ntf_subs_set_last_hook(s->subs, sx_ntf_pg_last_hook, s->db);
    } else if (st == SX_OK && o->last_ntfs_path) {
        restore_last(s, o->last_ntfs_path);
    }
    if (st == SX_OK && o->stats_backup_path)
        st = restore_stats(s, o->stats_backup_path);
    if (st == SX_OK) {
        sx_tls_server_config cfg = {0};
        cfg.creds.cert_file = o->cert_file;
        cfg.creds.ca_file = o->ca_file;
        cfg.creds.key_file = o->key_file;
        cfg.alpn = ns_alpn;
        cfg.no_client_cert_request = true;
        st = sx_tls_server_ctx_new(&cfg, &s->tls);
        if (st == SX_OK)
            st = sx_tls_ctx_private_key(s->tls, &s->sign_key);
        if (st != SX_OK && st != SX_E_NOMEM && st != SX_E_IO)
            st = SX_E_PROTOCOL;
    }
    if (st == SX_OK && o->apns) {
        sx_ntf_apns_client *ac = NULL;
        st = sx_ntf_apns_client_new(o->apns, &ac);
        if (st == SX_OK)
            st = sx_ntf_pusher_start(s->tokens, ac, o->periodic_s, &s->pusher);
    }
    sx_ntf_pusher_set_counters(s->pusher, &s->stats);
    if (st == SX_OK && o->use_service)
        st = sx_ntf_svccreds_new(s->db, o->service_dir ? o->service_dir : ".", &s->svc);
    if (st == SX_OK)
        st = sx_ntf_smpsub_start(s->subs, s->tokens, s->pusher, s->svc, &s->smpsub);
    if (st == SX_OK)
        sx_ntf_smpsub_set_counters(s->smpsub, &s->stats);
    bool metrics = o->metrics_path && o->metrics_interval > 0;
    if (st == SX_OK && (o->stats_daily_path || metrics)) {
        sx_ntf_stats_log_opts lo = {
            .daily_path = o->stats_daily_path,
            .daily_interval = o->stats_interval,
            .tick_interval = metrics ? o->metrics_interval : 0,
            .tick = metrics_file,
            .tick_arg = s,
        };
        st = sx_ntf_stats_log_start(&s->stats, &lo, &s->stats_log);
        if (st == SX_OK && o->stats_daily_path)
            SX_SAY(SX_SAY_NOTE, "server stats log enabled: %s", o->stats_daily_path);
        if (st == SX_OK && metrics)
            SX_SAY(SX_SAY_NOTE, "Prometheus metrics saved every %lld seconds to %s", (long long)o->metrics_interval,
                   o->metrics_path);
    }
    if (st == SX_OK && o->control) {
        sx_ntf_control_opts co = {
            .port = o->control_port,
            .user_password = o->control_user_password,
            .admin_password = o->control_admin_password,
            .stats = &s->stats,
            .info = ctl_info,
            .info_arg = s,
        };
        st = sx_ntf_control_start(&co, &s->control);
    }
    if (st == SX_OK) {
        sx_kit_workers_opts wo = {
            .n_workers = o->workers,
            .host = o->host,
            .ports = &o->port,
            .n_ports = 1,
            .adopt = adopt,
            .thread_end = thread_end,
            .arg = s,
        };
        st = sx_kit_workers_new(&wo, &s->ws);
        if (st != SX_OK && st != SX_E_NOMEM)
            st = SX_E_IO;
    }
    if (st == SX_OK) {
        s->n_workers = sx_kit_workers_count(s->ws);
        s->workers = calloc(s->n_workers, sizeof *s->workers);
        st = s->workers ? SX_OK : SX_E_NOMEM;
        for (unsigned i = 0; st == SX_OK && i < s->n_workers; i++) {
            s->workers[i].s = s;
            s->workers[i].loop = sx_kit_workers_loop(s->ws, i);
        }
    }
    if (st == SX_OK)
        st = sx_kit_workers_start(s->ws);
    if (st == SX_OK) {
        resubscribe(s);
        sx_ntf_smpsub_release(s->smpsub);
    }
    if (st != SX_OK) {
        server_free(s);
        return st;
    }
    *out = s;
    return SX_OK;
}

uint16_t sx_ntf_server_port(const sx_ntf_server *s)
{
    return s ? sx_kit_workers_port(s->ws, 0) : 0;
}

uint64_t sx_ntf_server_pushes_pending(const sx_ntf_server *s)
{
    return s ? __atomic_load_n(&s->pushes, __ATOMIC_RELAXED) : 0;
}

void sx_ntf_server_push_stats(sx_ntf_server *s, sx_ntf_push_stats *out)
{
    sx_ntf_pusher_stats(s ? s->pusher : NULL, out);
}

uint64_t sx_ntf_server_notifications(sx_ntf_server *s)
{
    return s ? sx_ntf_smpsub_received(s->smpsub) : 0;
}

uint16_t sx_ntf_server_control_port(const sx_ntf_server *s)
{
    return s ? sx_ntf_control_port(s->control) : 0;
}

uint64_t sx_ntf_server_service_subs(sx_ntf_server *s)
{
    return s ? sx_ntf_smpsub_service_subs(s->smpsub) : 0;
}

void sx_ntf_server_stop(sx_ntf_server *s)
{
    if (!s)
        return;
    sx_ntf_control_stop(s->control);
    s->control = NULL;
    /* first: its metrics read the SMP side */
    sx_ntf_stats_log_stop(s->stats_log);
    s->stats_log = NULL;
    sx_kit_workers_stop(s->ws);
    /* no NMSG after this: the SMP side goes first */
    sx_ntf_smpsub_stop(s->smpsub);
    s->smpsub = NULL;
    /* with the database each last notification was written as it came */
    if (!s->db && s->opts.last_ntfs_path)
        save_last(s, s->opts.last_ntfs_path);
    if (s->opts.stats_backup_path) {
        /* after the workers and the SMP side: nothing counts any more */
        SX_SAY(SX_SAY_NOTE, "saving server stats to file %s", s->opts.stats_backup_path);
        sx_status st = sx_ntf_stats_save(&s->stats, s->opts.stats_backup_path);
        if (st == SX_OK)
            SX_SAY(SX_SAY_NOTE, "server stats saved");
        else
            SX_SAY(SX_SAY_ERROR, "cannot save server stats to %s: %s", s->opts.stats_backup_path,
                   sx_status_str(st));
    }
    server_free(s);
}
