/* The agent's queues: between the store's rows (keys as text, router as a
 * server row) and the SMP client's queue objects, the per-queue e2e keys,
 * new receiving queues, and the in-memory lists of subscribed receiving
 * queues and of sending queues with deliveries. */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "smp_client/smp_api_int.h"

sx_status sx_agent_server_of(sx_agent *a, int64_t server_id, sx_agent_server *srv)
{
    char hosts[SX_AGENT_HOSTS_MAX * (SX_AGENT_HOST_MAX + 1)];
    memset(srv, 0, sizeof *srv);
    uint8_t kh[64];
    size_t khl = 0;
    SX_TRY(sx_agent_store_server_get(a->store, server_id, hosts, sizeof hosts, srv->port,
                                     sizeof srv->port, kh, &khl));
    SX_ENSURE(khl <= sizeof srv->key_hash, SX_E_PROTOCOL);
    memcpy(srv->key_hash, kh, khl);
    srv->key_hash_len = khl;
    const char *p = hosts;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        SX_TRY(sx_agent_server_add_host(srv, sx_slice_of(p, n)));
        p += n + (e ? 1 : 0);
    }
    return SX_OK;
}

sx_status sx_agent_server_text(sx_agent *a, int64_t server_id, char *out, size_t cap)
{
    sx_agent_server srv;
    SX_TRY(sx_agent_server_of(a, server_id, &srv));
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)out, cap - 1);
    if (!sx_agent_server_write_text(&w, &srv, false))
        return sx_error_set(SX_E_INTERNAL, NULL, "agent: cannot write a router address");
    out[w.len] = '\0';
    return SX_OK;
}

sx_status sx_agent_server_id(sx_agent *a, const sx_agent_server *srv, int64_t *server_id)
{
    char hosts[SX_AGENT_HOSTS_MAX * (SX_AGENT_HOST_MAX + 1)];
    size_t n = 0;
    hosts[0] = '\0';
    for (size_t i = 0; i < srv->host_count; i++) {
        size_t l = strlen(srv->host[i]);
        if (i > 0)
            hosts[n++] = ',';
        memcpy(hosts + n, srv->host[i], l);
        n += l;
        hosts[n] = '\0';
    }
    return sx_agent_store_server_get_or_create(a->store, hosts, srv->port,
                                               sx_slice_of(srv->key_hash, srv->key_hash_len),
                                               server_id);
}

sx_status sx_agent_rq_object(sx_agent *a, const sx_agent_rcv_queue *row, sx_smp_queue **out)
{
    SX_ENSURE(row->rcv_id_len == SX_QUEUE_ID_LEN && row->snd_id_len == SX_QUEUE_ID_LEN,
              sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored queue id has a bad length"));
    sx_smp_queue *q = sx_smpapi_queue_new();
    if (!q)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    q->f.role = SX_QUEUE_RECIPIENT;
    sx_status st = sx_agent_server_text(a, row->server_id, q->f.server, sizeof q->f.server);
    memcpy(q->f.rcv_id, row->rcv_id, SX_QUEUE_ID_LEN);
    memcpy(q->f.snd_id, row->snd_id, SX_QUEUE_ID_LEN);
    memcpy(q->f.dh_secret, row->rcv_dh_secret, sizeof q->f.dh_secret);
    if (st == SX_OK)
        st = sx_key_private_from_text((const char *)row->rcv_priv_key, row->rcv_priv_key_len,
                                      SX_KEY_AUTH_ALGS, &q->f.rcv_key);
    if (st != SX_OK) {
        sx_smp_queue_free(q);
        return st;
    }
    *out = q;
    return SX_OK;
}

sx_status sx_agent_sq_object(sx_agent *a, const sx_agent_snd_queue *row, bool with_key,
                             sx_smp_queue **out)
{
    SX_ENSURE(row->snd_id_len == SX_QUEUE_ID_LEN,
              sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored queue id has a bad length"));
    sx_smp_queue *q = sx_smpapi_queue_new();
    if (!q)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    q->f.role = SX_QUEUE_SENDER;
    sx_status st = sx_agent_server_text(a, row->server_id, q->f.server, sizeof q->f.server);
    memcpy(q->f.snd_id, row->snd_id, SX_QUEUE_ID_LEN);
    if (st == SX_OK && with_key && row->snd_priv_key_len > 0)
        st = sx_key_private_from_text((const char *)row->snd_priv_key, row->snd_priv_key_len,
                                      SX_KEY_AUTH_ALGS, &q->f.snd_key);
    if (st != SX_OK) {
        sx_smp_queue_free(q);
        return st;
    }
    *out = q;
    return SX_OK;
}

static sx_status key_text(const sx_key *k, uint8_t *out, size_t *len)
{
    char t[SX_KEY_TEXT_MAX];
    SX_TRY(sx_key_private_to_text(k, t, sizeof t));
    size_t n = strlen(t);
    SX_ENSURE(n <= SX_AGENT_KEY_MAX, SX_E_LIMIT);
    memcpy(out, t, n);
    *len = n;
    sx_wipe(t, sizeof t);
    return SX_OK;
}

sx_status sx_agent_rq_fill(const sx_smp_queue *q, sx_agent_rcv_queue *row)
{
    memcpy(row->rcv_id, q->f.rcv_id, SX_QUEUE_ID_LEN);
    row->rcv_id_len = SX_QUEUE_ID_LEN;
    memcpy(row->snd_id, q->f.snd_id, SX_QUEUE_ID_LEN);
    row->snd_id_len = SX_QUEUE_ID_LEN;
    memcpy(row->rcv_dh_secret, q->f.dh_secret, sizeof row->rcv_dh_secret);
    return key_text(q->f.rcv_key, row->rcv_priv_key, &row->rcv_priv_key_len);
}

sx_status sx_agent_sq_fill(const sx_smp_queue *q, sx_agent_snd_queue *row)
{
    memcpy(row->snd_id, q->f.snd_id, SX_QUEUE_ID_LEN);
    row->snd_id_len = SX_QUEUE_ID_LEN;
    row->snd_priv_key_len = 0;
    if (!q->f.snd_key)
        return SX_OK;
    return key_text(q->f.snd_key, row->snd_priv_key, &row->snd_priv_key_len);
}

sx_status sx_agent_e2e_pub_der(const uint8_t priv[32], uint8_t der[SX_X25519_SPKI_LEN])
{
    sx_key *k = NULL;
    SX_TRY(sx_key_from_raw_private(SX_KEY_X25519, sx_slice_of(priv, 32), &k));
    sx_writer w;
    sx_writer_init_fixed(&w, der, SX_X25519_SPKI_LEN);
    bool ok = sx_key_write_public(&w, k) && w.len == SX_X25519_SPKI_LEN;
    sx_key_free(k);
    return ok ? SX_OK : sx_error_set(SX_E_INTERNAL, NULL, "agent: cannot encode a queue key");
}

sx_status sx_agent_e2e_dh(const uint8_t priv[32], const uint8_t peer_der[SX_X25519_SPKI_LEN],
                          uint8_t secret[32])
{
    sx_key *k = NULL;
    SX_TRY(sx_key_from_raw_private(SX_KEY_X25519, sx_slice_of(priv, 32), &k));
    sx_status st = sx_agent_e2e_secret(k, peer_der, secret);
    sx_key_free(k);
    return st;
}

sx_status sx_agent_e2e_new(uint8_t priv[32], uint8_t der[SX_X25519_SPKI_LEN],
                           const uint8_t *peer_der, uint8_t secret[32])
{
    sx_key *k = NULL;
    SX_TRY(sx_key_generate(SX_KEY_X25519, &k));
    size_t n = 0;
    sx_status st = sx_key_raw_private(k, priv, 32, &n);
    sx_key_free(k);
    if (st == SX_OK)
        st = sx_agent_e2e_pub_der(priv, der);
    if (st == SX_OK && peer_der)
        st = sx_agent_e2e_dh(priv, peer_der, secret);
    return st;
}

sx_status sx_agent_new_rcv_queue(sx_agent *a, const sx_agent_id *conn, const char *server,
                                 uint8_t mode, int64_t replaces, int64_t *queue_id,
                                 sx_agent_queue *qaddr)
{
    return sx_agent_new_rcv_queue_ex(a, conn, server, mode, replaces, NULL, NULL, NULL, queue_id,
                                     qaddr);
}

sx_status sx_agent_new_rcv_queue_ex(sx_agent *a, const sx_agent_id *conn, const char *server,
                                    uint8_t mode, int64_t replaces, const uint8_t *e2e_priv,
                                    const sx_smp_new_opts *link, uint8_t *link_id,
                                    int64_t *queue_id, sx_agent_queue *qaddr)
{
    sx_agent_server srv;
    memset(&srv, 0, sizeof srv);
    const char *at = strchr(server, '@');
    /* The store keeps the router without its password: parse the address
     * as the peer will see it. */
    char pub[SX_QUEUE_ADDR_MAX];
    SX_TRY(sx_queue_address_public(server, pub, sizeof pub));
    (void)at;
    SX_TRY(sx_agent_server_parse(pub, strlen(pub), &srv));
    sx_agent_rcv_queue row;
    memset(&row, 0, sizeof row);
    row.conn_id = *conn;
    SX_TRY(sx_agent_server_id(a, &srv, &row.server_id));
    uint8_t der[SX_X25519_SPKI_LEN];
    if (e2e_priv) {
        memcpy(row.e2e_priv_key, e2e_priv, 32);
        SX_TRY(sx_agent_e2e_pub_der(row.e2e_priv_key, der));
    } else {
        SX_TRY(sx_agent_e2e_new(row.e2e_priv_key, der, NULL, NULL));
    }
    sx_smp_created cr;
    memset(&cr, 0, sizeof cr);
    sx_smp_new_opts nopts;
    memset(&nopts, 0, sizeof nopts);
    if (link)
        nopts = *link;
    nopts.contact = mode != 'M'; /* the router: its sender cannot secure it */
    SX_TRY(sx_smp_tpool_create(a->pool, server, &nopts, &cr));
    if (link_id) {
        if (!cr.has_link_id) {
            sx_smp_queue_free(cr.queue);
            return sx_error_set(SX_E_PROTOCOL, NULL, "agent: the router gave no link id (no short links)");
        }
        memcpy(link_id, cr.link_id, SX_QUEUE_ID_LEN);
    }
    sx_status st = sx_agent_rq_fill(cr.queue, &row);
    row.status = SX_AGENT_Q_NEW;
    row.smp_client_version = SX_SMPC_V_MAX;
    row.primary = replaces == 0;
    row.replace_queue_id = replaces;
    row.queue_mode = mode;
    if (st == SX_OK)
        st = sx_agent_store_rcv_queue_create(a->store, &row, queue_id);
    if (st == SX_OK && !a->opts.no_subscribe)
        st = sx_agent_rq_add(a, *queue_id, conn, cr.queue);
    else
        sx_smp_queue_free(cr.queue); /* no_subscribe: another process receives */
    sx_wipe(&row, sizeof row);
    if (st == SX_OK && qaddr) {
        memset(qaddr, 0, sizeof *qaddr);
        qaddr->server = srv;
        memcpy(qaddr->sender_id, cr.snd_id, SX_QUEUE_ID_LEN);
        qaddr->sender_id_len = SX_QUEUE_ID_LEN;
        memcpy(qaddr->dh, der, sizeof der);
        qaddr->mode = mode == 'M'   ? SX_QUEUE_MODE_MESSAGING
                      : mode == 'C' ? SX_QUEUE_MODE_CONTACT
                                    : SX_QUEUE_MODE_NONE;
    }
    return st;
}

/* A connection id (random bytes) folded to the 64-bit key of rq_by_conn. */
static uint64_t conn_key(const sx_agent_id *conn)
{
    uint64_t k = 0;
    for (size_t i = 0; i < sizeof conn->b; i++)
        k = (k << 8 | k >> 56) ^ conn->b[i];
    return k;
}

static sx_status rq_add(sx_agent *a, int64_t queue_id, const sx_agent_id *conn, sx_smp_queue *q,
                        bool subscribe)
{
    if (a->n_rqs == a->cap_rqs) {
        size_t nc = a->cap_rqs ? a->cap_rqs * 2 : 8;
        sx_agent_rq *n = realloc(a->rqs, nc * sizeof *n);
        if (!n) {
            sx_smp_queue_free(q);
            return sx_error_set(SX_E_NOMEM, NULL, NULL);
        }
        a->rqs = n;
        a->cap_rqs = nc;
    }
    /* Room in the indexes first: once subscribed, the queue is added. */
    sx_status st = sx_agent_idmap_reserve(&a->rq_by_id, a->n_rqs + 1);
    if (st == SX_OK)
        st = sx_agent_idmap_reserve(&a->rq_by_q, a->n_rqs + 1);
    if (st == SX_OK)
        st = sx_agent_idmap_reserve(&a->rq_by_conn, a->n_rqs + 1);
    if (st != SX_OK) {
        sx_smp_queue_free(q);
        return st;
    }
    sx_agent_rq *r = &a->rqs[a->n_rqs];
    memset(r, 0, sizeof *r);
    r->queue_id = queue_id;
    r->conn = *conn;
    r->q = q;
    r->polled = !subscribe;
    st = subscribe ? sx_smp_tpool_subscribe(a->pool, q) : SX_OK;
    if (st != SX_OK) {
        sx_smp_queue_free(q);
        return st;
    }
    /* Store ids are not added twice (resume skips the known ones); a
     * queue id keeps its first entry all the same. */
    size_t old;
    if (!sx_agent_idmap_get(&a->rq_by_id, (uint64_t)queue_id, &old))
        sx_agent_idmap_put_reserved(&a->rq_by_id, (uint64_t)queue_id, a->n_rqs);
    sx_agent_idmap_put_reserved(&a->rq_by_q, (uint64_t)(uintptr_t)q, a->n_rqs);
    r->conn_prev = sx_agent_rq_conn_last(a, conn);
    sx_agent_idmap_put_reserved(&a->rq_by_conn, conn_key(conn), a->n_rqs);
    a->n_rqs++;
    return SX_OK;
}

sx_status sx_agent_rq_add(sx_agent *a, int64_t queue_id, const sx_agent_id *conn, sx_smp_queue *q)
{
    return rq_add(a, queue_id, conn, q, true);
}

sx_status sx_agent_rq_add_polled(sx_agent *a, int64_t queue_id, const sx_agent_id *conn,
                                 sx_smp_queue *q)
{
    return rq_add(a, queue_id, conn, q, false);
}

size_t sx_agent_rq_conn_last(const sx_agent *a, const sx_agent_id *conn)
{
    size_t i;
    return sx_agent_idmap_get(&a->rq_by_conn, conn_key(conn), &i) ? i + 1 : 0;
}

sx_agent_rq *sx_agent_rq_held(sx_agent *a, const sx_agent_id *conn, int64_t queue_id)
{
    for (size_t k = sx_agent_rq_conn_last(a, conn); k; k = a->rqs[k - 1].conn_prev) {
        sx_agent_rq *rq = &a->rqs[k - 1];
        if (rq->queue_id == queue_id && !rq->gone && memcmp(rq->conn.b, conn->b, sizeof conn->b) == 0)
            return rq;
    }
    return NULL;
}

void sx_agent_conn_rqs_leave(sx_agent *a, const sx_agent_id *conn, bool unsubscribe)
{
    for (size_t k = sx_agent_rq_conn_last(a, conn); k; k = a->rqs[k - 1].conn_prev) {
        sx_agent_rq *rq = &a->rqs[k - 1];
        if (rq->gone || memcmp(rq->conn.b, conn->b, sizeof conn->b) != 0)
            continue;
        if (unsubscribe && sx_smp_tpool_unsubscribe(a->pool, rq->q) != SX_OK) {
            /* SX_E_USAGE: the pool let go of it already */
        }
        rq->gone = true;
        rq->has_pending = false;
    }
}

void sx_agent_conn_forget(sx_agent *a, const sx_agent_id *conn)
{
    sx_agent_conn_rqs_leave(a, conn, false);
    for (size_t i = 0; i < a->n_sqs;)
        if (memcmp(a->sqs[i].conn.b, conn->b, sizeof conn->b) == 0)
            sx_agent_sq_remove_at(a, i);
        else
            i++;
    sx_agent_delwait_forget(a, conn);
}

/* Each queue object is its own (freed only when the agent closes), so the
 * pointer names one entry. */
sx_agent_rq *sx_agent_rq_by_queue(sx_agent *a, const sx_smp_queue *q)
{
    size_t i;
    if (!sx_agent_idmap_get(&a->rq_by_q, (uint64_t)(uintptr_t)q, &i) || i >= a->n_rqs ||
        a->rqs[i].q != q || a->rqs[i].gone)
        return NULL;
    return &a->rqs[i];
}

sx_status sx_agent_sq_add(sx_agent *a, int64_t queue_id, const sx_agent_id *conn)
{
    size_t at;
    if (sx_agent_idmap_get(&a->sq_by_id, (uint64_t)queue_id, &at)) {
        pthread_cond_signal(&a->wake);
        return SX_OK;
    }
    SX_TRY(sx_agent_idmap_reserve(&a->sq_by_id, a->n_sqs + 1));
    if (a->n_sqs == a->cap_sqs) {
        size_t nc = a->cap_sqs ? a->cap_sqs * 2 : 8;
        sx_agent_sq *n = realloc(a->sqs, nc * sizeof *n);
        if (!n)
            return sx_error_set(SX_E_NOMEM, NULL, NULL);
        a->sqs = n;
        a->cap_sqs = nc;
    }
    sx_agent_idmap_put_reserved(&a->sq_by_id, (uint64_t)queue_id, a->n_sqs);
    sx_agent_sq *s = &a->sqs[a->n_sqs++];
    memset(s, 0, sizeof *s);
    s->queue_id = queue_id;
    s->conn = *conn;
    pthread_cond_signal(&a->wake);
    return SX_OK;
}

void sx_agent_sq_remove_at(sx_agent *a, size_t i)
{
    (void)sx_agent_idmap_remove(&a->sq_by_id, (uint64_t)a->sqs[i].queue_id);
    a->sqs[i] = a->sqs[--a->n_sqs];
    if (i < a->n_sqs)
        sx_agent_idmap_put_reserved(&a->sq_by_id, (uint64_t)a->sqs[i].queue_id, i);
}

uint8_t sx_agent_inv_queue_mode(const sx_agent *a)
{
    return a->opts.legacy_handshake ? 0 : 'M';
}

sx_status sx_agent_rq_secure(sx_agent *a, int64_t queue_id, sx_slice sender_key)
{
    sx_agent_rcv_queue row;
    SX_TRY(sx_agent_store_rcv_queue_get(a->store, queue_id, &row));
    sx_smp_queue *q = NULL;
    sx_status st = sx_agent_rq_object(a, &row, &q);
    sx_wipe(&row, sizeof row);
    if (st == SX_OK)
        st = sx_smp_tpool_secure(a->pool, q, sender_key.ptr, sender_key.len);
    sx_smp_queue_free(q);
    SX_TRY(st);
    return sx_agent_store_rcv_queue_set_status(a->store, queue_id, SX_AGENT_Q_SECURED);
}
