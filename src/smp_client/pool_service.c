/* The connection pool as a service (sx_smp_pool_opts.conn.service): each
 * connection presents the service's certificate (PROTOCOL-NOTES B6, B21)
 * with a fresh Ed25519 key, a per-queue SUB / NSUB signed as the service
 * associates the queue with it (SOK with the ServiceId, PROTOCOL-NOTES C9),
 * and after a reconnect one SUBS (messaging) or NSUBS (notifier) with the
 * count and ids hash the pool expects subscribes every associated queue at
 * once (PROTOCOL-NOTES D8, D29). Queues not associated yet go on with
 * per-queue SUBs, which associate them; a router below v19 (no bulk
 * subscription; the messaging role does not even exist before it) gets an
 * ordinary connection and per-queue SUBs for everything, and its plain SOK
 * tells the pool the queue is no longer associated.
 *
 * Drift (docs/PROTOCOL-NOTES.md, "the pool as a service"): the SOKS figures
 * are reported with the expected ones in SERVICE_SUBSCRIBED. As in the
 * reference's client agent, a router that has none of the queues the pool
 * expected, a ServiceId that changed, or a refused SUBS make the pool
 * forget the associations and subscribe each queue again (SERVICE_UNAVAILABLE
 * first), which associates them anew; a count or hash that differs
 * otherwise is only reported. ENDS (another connection of the same service
 * took the queues) parks the queues until the pool's next connection to
 * that router. */
#include <stdlib.h>
#include <string.h>

#include "smp_client/pool_int.h"
#include "core/error.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "smp/version.h"

/* ---- options ---- */

static char *dup_or_null(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

sx_status sx_pool_svc_init(sx_smp_pool *p, const sx_smp_pool_opts *o)
{
    if (o && o->service_creds) {
        p->svc.creds_fn = o->service_creds;
        p->svc.creds_arg = o->service_creds_arg;
        p->svc.on = true;
        p->svc.role = o->notifier_service ? SX_SMP_SERVICE_NOTIFIER : SX_SMP_SERVICE_MESSAGING;
        return SX_OK;
    }
    const sx_smp_service_creds *c = o ? o->conn.service : NULL;
    if (!c)
        return SX_OK;
    if (!c->cert_file || !c->key_file)
        return sx_error_set(SX_E_USAGE, NULL, "pool: the service needs a certificate and a key file");
    bool ok = true;
    p->svc.cert_file = dup_or_null(c->cert_file, &ok);
    p->svc.ca_file = dup_or_null(c->ca_file, &ok);
    p->svc.key_file = dup_or_null(c->key_file, &ok);
    if (!ok) {
        sx_pool_svc_cleanup(p);
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    p->svc.on = true;
    p->svc.role = o->notifier_service ? SX_SMP_SERVICE_NOTIFIER : SX_SMP_SERVICE_MESSAGING;
    return SX_OK;
}

void sx_pool_svc_cleanup(sx_smp_pool *p)
{
    free(p->svc.cert_file);
    free(p->svc.ca_file);
    free(p->svc.key_file);
    memset(&p->svc, 0, sizeof p->svc);
}

static void srv_creds_free(pool_svc_srv *v)
{
    free(v->cert_file);
    free(v->ca_file);
    free(v->key_file);
    free(v->cert_der);
    sx_key_free(v->cert_key);
    v->cert_file = v->ca_file = v->key_file = NULL;
    v->cert_der = NULL;
    v->der_chain = sx_slice_of(NULL, 0);
    v->cert_key = NULL;
}

void sx_pool_svc_srv_cleanup(psrv *s)
{
    sx_key_free(s->svc.key);
    s->svc.key = NULL;
    srv_creds_free(&s->svc);
}

/* The router's own credentials from the pool's callback, copied into v and
 * set in tc (files, or the certificate and key in memory). */
static sx_status srv_creds(psrv *s, sx_tls_credentials *tc)
{
    const pool_svc_cfg *c = &s->pool->svc;
    pool_svc_srv *v = &s->svc;
    srv_creds_free(v);
    sx_smp_service_creds out = {0};
    sx_status st = c->creds_fn(c->creds_arg, s->shown, &out);
    if (st != SX_OK)
        return st;
    if (out.cert_file) {
        bool ok = true;
        if (!out.key_file)
            return sx_error_set(SX_E_USAGE, NULL, "pool: the service needs a certificate and a key file");
        v->cert_file = dup_or_null(out.cert_file, &ok);
        v->ca_file = dup_or_null(out.ca_file, &ok);
        v->key_file = dup_or_null(out.key_file, &ok);
        if (!ok) {
            srv_creds_free(v);
            return sx_error_set(SX_E_NOMEM, NULL, NULL);
        }
        *tc = (sx_tls_credentials){.cert_file = v->cert_file, .ca_file = v->ca_file, .key_file = v->key_file};
        return SX_OK;
    }
    if (!out.cert_der || !out.cert_der_len || !out.key_der || !out.key_der_len)
        return sx_error_set(SX_E_USAGE, NULL, "pool: the service needs a certificate and a key");
    v->cert_der = malloc(out.cert_der_len);
    if (!v->cert_der)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    memcpy(v->cert_der, out.cert_der, out.cert_der_len);
    v->der_chain = sx_slice_of(v->cert_der, out.cert_der_len);
    st = sx_key_decode_private(sx_slice_of(out.key_der, out.key_der_len), SX_KEY_SIGN_ALGS, &v->cert_key);
    if (st != SX_OK) {
        srv_creds_free(v);
        return sx_error_set(st, NULL, "pool: the service key does not decode");
    }
    *tc = (sx_tls_credentials){.der_chain = &v->der_chain, .der_chain_len = 1, .key = v->cert_key};
    return SX_OK;
}

sx_status sx_pool_svc_connect_opts(psrv *s, sx_smp_aclient_opts *o)
{
    const pool_svc_cfg *c = &s->pool->svc;
    if (!c->on)
        return SX_OK;
    /* The previous connection has made its final callback: its key is free. */
    sx_key_free(s->svc.key);
    s->svc.key = NULL;
    sx_tls_credentials tc = {.cert_file = c->cert_file, .ca_file = c->ca_file, .key_file = c->key_file};
    if (c->creds_fn)
        SX_TRY(srv_creds(s, &tc));
    SX_TRY(sx_key_generate(SX_KEY_ED25519, &s->svc.key));
    s->svc.so = (sx_smp_client_service_opts){
        .creds = tc,
        .role = c->role,
        .service_key = s->svc.key,
    };
    o->service = &s->svc.so;
    return SX_OK;
}

/* ---- associations ---- */

static void hash_toggle(pool_svc_srv *v, const uint8_t id[SX_QUEUE_ID_LEN])
{
    uint8_t md[SX_MD5_LEN];
    if (sx_md5(sx_slice_of(id, SX_QUEUE_ID_LEN), md) != SX_OK)
        return; /* MD5 of 24 bytes cannot fail once the library is up */
    for (size_t i = 0; i < SX_MD5_LEN; i++)
        v->hash[i] ^= md[i];
}

void sx_pool_svc_forget(psrv *s, pq *e)
{
    if (!e->assoc)
        return;
    e->assoc = false;
    s->svc.n_assoc--;
    hash_toggle(&s->svc, e->id);
}

static bool role_matches(const psrv *s, const pq *e)
{
    return e->ntf == (s->pool->svc.role == SX_SMP_SERVICE_NOTIFIER);
}

void sx_pool_svc_preassoc(psrv *s, pq *e)
{
    if (!s->pool->svc.on || e->assoc || !role_matches(s, e))
        return;
    e->assoc = true;
    s->svc.n_assoc++;
    hash_toggle(&s->svc, e->id);
}

/* The current session is the service's, with bulk subscriptions. */
static const sx_smp_session *service_session(const psrv *s)
{
    if (!s->pool->svc.on || !s->cl)
        return NULL;
    const sx_smp_session *ss = sx_smp_aclient_session(s->cl);
    return ss->has_service && ss->version >= SX_SMP_V_RCV_SERVICE ? ss : NULL;
}

void sx_pool_svc_sub_ok(psrv *s, pq *e, const sx_smp_client_reply *r)
{
    if (!s->pool->svc.on)
        return;
    const sx_smp_session *ss = service_session(s);
    bool assoc = false;
    if (ss && role_matches(s, e)) {
        if (r->reply.resp.tag == SX_SMP_R_SOK)
            assoc = r->reply.resp.sok.has_service_id && r->reply.resp.sok.service_id.len == ss->service_id_len &&
                    memcmp(r->reply.resp.sok.service_id.ptr, ss->service_id, ss->service_id_len) == 0;
        else
            assoc = r->reply.resp.tag == SX_SMP_R_MSG; /* signed as the service: associated as well */
    }
    if (assoc && !e->assoc) {
        e->assoc = true;
        s->svc.n_assoc++;
        hash_toggle(&s->svc, e->id);
    } else if (!assoc) {
        sx_pool_svc_forget(s, e);
    }
}

/* ---- events ---- */

static void emit_svc(psrv *s, sx_smp_pool_event_kind kind, sx_status st, int64_t expected,
                     const uint8_t *expected_hash, int64_t count, const uint8_t *hash)
{
    sx_smp_pool_event e = {.kind = kind, .session = s->session, .status = st};
    e.service_expected = expected;
    e.service_count = count;
    if (expected_hash)
        memcpy(e.service_expected_hash, expected_hash, SX_MD5_LEN);
    if (hash)
        memcpy(e.service_hash, hash, SX_MD5_LEN);
    sx_pool_emit(s, &e);
}

/* Every queue of the SUBS (or all associated ones) back to per-queue
 * subscription, without their associations: the next SUB / NSUB signed as
 * the service associates them again. */
static void reassociate(psrv *s, bool all)
{
    for (size_t i = 0; i < s->tab_cap; i++) {
        for (pq *e = s->tab[i]; e; e = e->hnext) {
            if (e->in_subs) {
                e->in_subs = false;
                if (e->st == Q_ACTIVE)
                    s->active--;
                if (e->st != Q_PENDING)
                    sx_pool_fifo_push(s, e);
                sx_pool_svc_forget(s, e);
            } else if (all) {
                sx_pool_svc_forget(s, e);
            }
        }
    }
}

static void subs_reply_cb(sx_smp_aclient *cl, sx_status status, sx_smp_client_reply *r, void *arg)
{
    psrv *s = arg;
    sx_smp_pool *p = s->pool;
    if (p->freeing)
        return;
    if (status != SX_OK || cl != s->cl) {
        /* The session ended: the queues wait for the next one. */
        for (size_t i = 0; i < s->tab_cap; i++)
            for (pq *e = s->tab[i]; e; e = e->hnext)
                if (e->in_subs) {
                    e->in_subs = false;
                    if (e->st == Q_SENT)
                        sx_pool_fifo_push(s, e);
                }
        return;
    }
    int64_t expected = s->svc.exp_count;
    uint8_t exp_hash[SX_MD5_LEN];
    memcpy(exp_hash, s->svc.exp_hash, SX_MD5_LEN);
    if (r->ok && r->reply.resp.tag == SX_SMP_R_SOKS) {
        int64_t count = r->reply.resp.subs.count;
        uint8_t hash[SX_MD5_LEN] = {0};
        if (r->reply.resp.subs.ids_hash.len == SX_MD5_LEN)
            memcpy(hash, r->reply.resp.subs.ids_hash.ptr, SX_MD5_LEN);
        for (size_t i = 0; i < s->tab_cap; i++)
            for (pq *e = s->tab[i]; e; e = e->hnext)
                if (e->in_subs && e->st == Q_SENT) {
                    e->st = Q_ACTIVE;
                    s->active++;
                }
        p->stats.service_subs_ok++;
        sx_error_clear();
        emit_svc(s, SX_SMP_POOL_SERVICE_SUBSCRIBED, SX_OK, expected, exp_hash, count, hash);
        if (cl != s->cl)
            return;
        if (expected > 0 && count == 0) {
            /* The router has none of them (the reference's agent does the
             * same): associate them again, one by one. */
            sx_error_set(SX_E_PROTOCOL, "SERVICE", "service subscribe: the router has no queue of the service");
            emit_svc(s, SX_SMP_POOL_SERVICE_UNAVAILABLE, SX_E_PROTOCOL, expected, exp_hash, count, hash);
            if (cl == s->cl) {
                reassociate(s, false);
                sx_pool_pump(s);
            }
        }
        return;
    }
    sx_status st = sx_smpapi_expect("service subscribe", r, SX_SMP_R_SOKS);
    emit_svc(s, SX_SMP_POOL_SERVICE_UNAVAILABLE, st, expected, exp_hash, 0, NULL);
    if (cl == s->cl) {
        reassociate(s, true);
        sx_pool_pump(s);
    }
}

void sx_pool_svc_connected(psrv *s)
{
    pool_svc_srv *v = &s->svc;
    if (!s->pool->svc.on)
        return;
    const sx_smp_session *ss = service_session(s);
    if (!ss)
        return; /* an older router: per-queue SUBs, whose plain SOKs end the associations */
    bool same = v->id_len == ss->service_id_len && memcmp(v->id, ss->service_id, v->id_len) == 0;
    if (v->id_len && !same && v->n_assoc) {
        /* Another ServiceId for the same certificate: the router forgot
         * the service and its associations. */
        int64_t n = (int64_t)v->n_assoc;
        uint8_t h[SX_MD5_LEN];
        memcpy(h, v->hash, SX_MD5_LEN);
        reassociate(s, true);
        sx_error_set(SX_E_PROTOCOL, "SERVICE", "service: the router gave another ServiceId");
        emit_svc(s, SX_SMP_POOL_SERVICE_UNAVAILABLE, SX_E_PROTOCOL, n, h, 0, NULL);
    }
    memcpy(v->id, ss->service_id, ss->service_id_len);
    v->id_len = ss->service_id_len;
    if (!v->n_assoc)
        return;
    for (size_t i = 0; i < s->tab_cap; i++)
        for (pq *e = s->tab[i]; e; e = e->hnext)
            if (e->assoc && e->st == Q_PENDING) {
                sx_pool_fifo_unlink(s, e);
                e->st = Q_SENT;
                e->in_subs = true;
            }
    v->exp_count = (int64_t)v->n_assoc;
    memcpy(v->exp_hash, v->hash, SX_MD5_LEN);
    sx_smp_cmd cmd = {.tag = s->pool->svc.role == SX_SMP_SERVICE_NOTIFIER ? SX_SMP_C_NSUBS : SX_SMP_C_SUBS};
    cmd.subs.count = v->exp_count;
    cmd.subs.ids_hash = sx_slice_of(v->exp_hash, SX_MD5_LEN);
    sx_status st = sx_smp_aclient_send(s->cl, sx_slice_of(v->id, v->id_len), &cmd, v->key, subs_reply_cb, s);
    if (st != SX_OK) {
        /* Cannot be sent: per queue then (the connection may be ending). */
        for (size_t i = 0; i < s->tab_cap; i++)
            for (pq *e = s->tab[i]; e; e = e->hnext)
                if (e->in_subs) {
                    e->in_subs = false;
                    sx_pool_fifo_push(s, e);
                }
        return;
    }
    s->pool->stats.service_subs_sent++;
}

bool sx_pool_svc_event(psrv *s, const sx_smp_client_reply *r)
{
    if (!s->pool->svc.on)
        return false;
    sx_smp_resp_tag tag = r->reply.resp.tag;
    if (tag == SX_SMP_R_ALLS) {
        sx_error_clear();
        emit_svc(s, SX_SMP_POOL_SERVICE_ALL, SX_OK, 0, NULL, 0, NULL);
        return true;
    }
    if (tag != SX_SMP_R_ENDS)
        return false;
    /* Another connection of the service took its queues: they stay in the
     * pool, subscribed again on its next connection to this router. */
    for (size_t i = 0; i < s->tab_cap; i++)
        for (pq *e = s->tab[i]; e; e = e->hnext)
            if (e->in_subs && e->st == Q_ACTIVE) {
                e->in_subs = false;
                e->st = Q_PARKED;
                s->active--;
            }
    uint8_t hash[SX_MD5_LEN] = {0};
    if (r->reply.resp.subs.ids_hash.len == SX_MD5_LEN)
        memcpy(hash, r->reply.resp.subs.ids_hash.ptr, SX_MD5_LEN);
    sx_error_clear();
    emit_svc(s, SX_SMP_POOL_SERVICE_END, SX_OK, 0, NULL, r->reply.resp.subs.count, hash);
    return true;
}

/* ---- API ---- */

const uint8_t *sx_smp_pool_service_id(const sx_smp_pool *p, const char *server, size_t *len)
{
    if (len)
        *len = 0;
    if (!p || !server)
        return NULL;
    sx_smp_address a;
    if (sx_smp_address_parse(server, &a) != SX_OK)
        return NULL;
    const uint8_t *id = NULL;
    for (const psrv *s = p->srvs; s && !id; s = s->next) {
        if (s->addr.port == a.port && strcmp(s->addr.host, a.host) == 0 &&
            memcmp(s->addr.key_hash, a.key_hash, SX_FINGERPRINT_LEN) == 0 && s->svc.id_len) {
            id = s->svc.id;
            if (len)
                *len = s->svc.id_len;
        }
    }
    sx_wipe(&a, sizeof a);
    return id;
}
