/* Messages of the agent core: enqueueing (ids, integrity chain, ratchet
 * header encrypted and the message stored in one transaction), the
 * deliveries with retries and back-off, receiving (decrypt, integrity,
 * duplicates) and the router's ACK after the application's. */
#include "agent/agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/version.h"
#include "core/error.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/util.h"

#define RETRY_INCREASE_AFTER_MS 10000
#define RETRY_MAX_MS 120000
/* The stored type of a HELLO (the reference's storage code), beside the
 * agent message kinds I, D and M. */
#define MSG_TYPE_HELLO 'H'
/* A store write whose failure only costs a repeat (the delivery is made
 * again, the state set again on the next event). */
#define BEST_EFFORT(x)          \
    do {                        \
        sx_status be_st_ = (x); \
        (void)be_st_;           \
    } while (0)

typedef struct enq_ctx {
    const sx_agent_msg *m;
    const sx_e2e_params *e2e;
    uint16_t agent_v;
    uint16_t e2e_max; /* the highest e2e version we speak, announced in the header */
    bool notification;
    sx_pq_enc pq;   /* the per-message PQ switch (agent_pq.c) */
    bool pq_used;   /* out: the message goes with PQ */
    sx_writer body; /* stored body: flag, maybe(large e2e), agent message */
} enq_ctx;

static sx_status enq_cb(void *vctx, const sx_agent_snd_ids *ids, sx_ratchet *r, sx_agent_snd_msg *msg)
{
    enq_ctx *c = vctx;
    sx_agent_msg m = *c->m;
    if (m.kind == SX_AGENT_MSG_MESSAGE) {
        m.snd_msg_id = ids->internal_snd_id;
        m.prev_msg_hash = sx_slice_of(ids->prev_hash, ids->prev_hash_len);
    }
    sx_writer_init_dynamic(&c->body, 70000);
    uint8_t e2eb[4096];
    sx_writer ew;
    sx_writer_init_fixed(&ew, e2eb, sizeof e2eb);
    if (c->e2e && !sx_e2e_params_write(&ew, c->e2e))
        return sx_writer_status(&ew);
    if (!sx_write_u8(&c->body, c->e2e ? 1 : 0) ||
        (c->e2e && !sx_write_large(&c->body, sx_writer_slice(&ew))))
        return sx_writer_status(&c->body);
    size_t off = c->body.len;
    if (!sx_agent_msg_write(&c->body, &m))
        return sx_writer_status(&c->body);
    sx_slice am = sx_slice_of(c->body.buf + off, c->body.len - off);
    /* Asking for PQ takes the PQ envelope at once (as the reference's
     * connection PQ support), before the KEM steps make it PQ. */
    bool support = r->support_kem || c->pq == SX_PQ_ON;
    size_t padded = m.kind == SX_AGENT_MSG_MESSAGE ? sx_agent_msg_padded_len(c->agent_v, support)
                                                   : sx_agent_conn_info_padded_len(c->agent_v, support);
    if (!sx_ratchet_can_pad(am.len, padded))
        return sx_error_set(SX_E_LIMIT, NULL, "agent: the message is too long");
    SX_TRY(sx_ratchet_encrypt_header(r, c->pq, c->e2e_max, &msg->mek));
    c->pq_used = r->snd_kem;
    SX_TRY(sx_sha256(am, msg->internal_hash));
    msg->msg_type = (uint8_t)m.kind;
    if (m.kind == SX_AGENT_MSG_MESSAGE)
        switch (m.msg.type) {
        case SX_AMSG_EREADY: msg->msg_type = SX_AGENT_SND_EREADY; break;
        case SX_AMSG_HELLO: msg->msg_type = MSG_TYPE_HELLO; break;
        case SX_AMSG_QADD: msg->msg_type = SX_AGENT_SND_QADD; break;
        case SX_AMSG_QKEY: msg->msg_type = SX_AGENT_SND_QKEY; break;
        case SX_AMSG_QUSE: msg->msg_type = SX_AGENT_SND_QUSE; break;
        case SX_AMSG_QTEST: msg->msg_type = SX_AGENT_SND_QTEST; break;
        default: break;
        }
    msg->notification = c->notification;
    msg->pq_encryption = r->snd_kem;
    msg->body = sx_writer_slice(&c->body);
    msg->padded_len = (uint32_t)padded;
    return SX_OK;
}

/* Stores message m with one delivery on each send queue of ids, with the
 * ratchet's PQ choice pq; *pq_used (may be NULL): it goes with PQ. */
static sx_status enqueue_on(sx_agent *a, const sx_agent_id *conn, const sx_agent_msg *m,
                            const sx_e2e_params *e2e, bool notification, sx_pq_enc pq,
                            const int64_t *ids, size_t n, int64_t *internal_id, bool *pq_used)
{
    sx_agent_conn cn;
    SX_TRY(sx_agent_store_conn_get(a->store, conn, &cn));
    SX_ENSURE(n > 0, sx_error_set(SX_E_USAGE, NULL, "agent: the connection cannot send yet"));
    enq_ctx c;
    memset(&c, 0, sizeof c);
    c.m = m;
    c.e2e = e2e;
    c.agent_v = cn.agent_version;
    c.e2e_max = a->e2e_vr.max;
    c.notification = notification;
    c.pq = pq;
    sx_agent_snd_ids sid;
    sx_status st = sx_agent_store_snd_msg_create(a->store, conn, ids, n, enq_cb, &c, &sid);
    sx_writer_cleanup(&c.body);
    SX_TRY(st);
    *internal_id = sid.internal_id;
    if (pq_used)
        *pq_used = c.pq_used;
    for (size_t i = 0; i < n; i++)
        SX_TRY(sx_agent_sq_add(a, ids[i], conn));
    return SX_OK;
}

/* The send queues a message of conn goes on: the first (primary) one, and
 * while a switch runs the new queue once the peer told us to use it
 * (secured or active), as the reference does; a new queue still waiting
 * for its key gets nothing. */
static sx_status send_queues(sx_agent *a, const sx_agent_id *conn, int64_t ids[8], size_t *n)
{
    sx_agent_snd_queue *sqs = NULL;
    size_t ns = 0;
    SX_TRY(sx_agent_store_snd_queue_list(a->store, conn, &sqs, &ns));
    *n = 0;
    for (size_t i = 0; i < ns && *n < 8; i++)
        if (i == 0 || sqs[i].status == SX_AGENT_Q_SECURED || sqs[i].status == SX_AGENT_Q_ACTIVE)
            ids[(*n)++] = sqs[i].queue_id;
    free(sqs);
    return SX_OK;
}

sx_status sx_agent_enqueue(sx_agent *a, const sx_agent_id *conn, const sx_agent_msg *m,
                           const sx_e2e_params *e2e, bool notification, int64_t *internal_id)
{
    return sx_agent_enqueue_pq(a, conn, m, e2e, notification, SX_PQ_KEEP, internal_id, NULL);
}

sx_status sx_agent_enqueue_pq(sx_agent *a, const sx_agent_id *conn, const sx_agent_msg *m,
                              const sx_e2e_params *e2e, bool notification, sx_pq_enc pq,
                              int64_t *internal_id, bool *pq_used)
{
    int64_t ids[8];
    size_t n = 0;
    SX_TRY(send_queues(a, conn, ids, &n));
    return enqueue_on(a, conn, m, e2e, notification, pq, ids, n, internal_id, pq_used);
}

sx_status sx_agent_enqueue_on(sx_agent *a, const sx_agent_id *conn, const sx_agent_msg *m,
                              const int64_t *queue_ids, size_t n, int64_t *internal_id)
{
    return enqueue_on(a, conn, m, NULL, false, SX_PQ_KEEP, queue_ids, n, internal_id, NULL);
}

/* Queues one A_MSG of an established connection with the PQ choice rpq
 * (a->mu held); *pq_used (may be NULL): whether it goes with PQ. */
static sx_status send_locked(sx_agent *a, const char *conn_id, sx_pq_enc rpq, const void *body,
                             size_t len, int64_t *msg_id, bool *pq_used)
{
    SX_ENSURE(body || len == 0, SX_E_USAGE);
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    sx_agent_msg m;
    memset(&m, 0, sizeof m);
    m.kind = SX_AGENT_MSG_MESSAGE;
    m.msg.type = SX_AMSG_A_MSG;
    m.msg.body = sx_slice_of(body, len);
    sx_agent_conn cn;
    SX_TRY(sx_agent_store_conn_get(a->store, &id, &cn));
    SX_ENSURE(cn.state == SX_AGENT_CONN_DUPLEX,
              sx_error_set(SX_E_USAGE, NULL, "agent: the connection is not established"));
    SX_ENSURE(!sx_agent_rsync_send_prohibited(cn.rsync),
              sx_error_set(SX_E_USAGE, "PROHIBITED",
                           "agent: the ratchet is not synchronised (%s): send prohibited",
                           sx_agent_rsync_name(cn.rsync)));
    if (rpq == SX_PQ_ON)
        SX_TRY(sx_agent_pq_support_on(a, &cn));
    bool used = false;
    SX_TRY(sx_agent_enqueue_pq(a, &id, &m, NULL, true, rpq, msg_id, &used));
    if (pq_used)
        *pq_used = used;
    return SX_OK;
}

sx_status sx_agent_send_many(sx_agent *a, sx_agent_outmsg *msgs, size_t n)
{
    SX_ENSURE(a && (msgs || n == 0), SX_E_USAGE);
    for (size_t i = 0; i < n; i++) {
        msgs[i].msg_id = 0;
        msgs[i].status = SX_E_USAGE;
    }
    pthread_mutex_lock(&a->mu);
    /* One transaction: each message's own savepoint inside it undoes only
     * that message when it fails. */
    sx_status st = sx_agent_store_begin(a->store);
    sx_status first = SX_OK;
    for (size_t i = 0; i < n && st == SX_OK; i++) {
        msgs[i].status = send_locked(a, msgs[i].conn_id, SX_PQ_KEEP, msgs[i].body, msgs[i].len,
                                     &msgs[i].msg_id, NULL);
        if (msgs[i].status != SX_OK) {
            msgs[i].msg_id = 0;
            if (first == SX_OK)
                first = msgs[i].status;
        }
    }
    if (st == SX_OK)
        st = sx_agent_store_commit(a->store);
    if (st != SX_OK) {
        sx_agent_store_rollback(a->store);
        for (size_t i = 0; i < n; i++) {
            msgs[i].msg_id = 0;
            msgs[i].status = st;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return st != SX_OK ? st : first;
}

sx_status sx_agent_send(sx_agent *a, const char *conn_id, const void *body, size_t len,
                        int64_t *msg_id)
{
    return sx_agent_send_pq(a, conn_id, SX_AGENT_PQ_KEEP, body, len, msg_id, NULL);
}

sx_status sx_agent_send_pq(sx_agent *a, const char *conn_id, sx_agent_pq pq, const void *body,
                           size_t len, int64_t *msg_id, bool *pq_used)
{
    SX_ENSURE(a && (body || len == 0), SX_E_USAGE);
    sx_pq_enc rpq;
    SX_TRY(sx_agent_pq_choice(pq, &rpq));
    int64_t iid = 0;
    bool used = false;
    pthread_mutex_lock(&a->mu);
    sx_status st = send_locked(a, conn_id, rpq, body, len, &iid, &used);
    pthread_mutex_unlock(&a->mu);
    if (st == SX_OK && msg_id)
        *msg_id = iid;
    if (st == SX_OK && pq_used)
        *pq_used = used;
    return st;
}

size_t sx_agent_max_body(void)
{
    /* The PQ budget less the message header (tag, ids, hash). */
    return SX_AGENT_MSG_PADDED_PQ - 2 - 1 - 8 - 1 - 32 - 1 - 64;
}

/* ---- deliveries ---- */

/* Encodes the SEND body of delivery d on send queue row. */
static sx_status build_send(sx_agent *a, const sx_agent_delivery *d, const sx_agent_snd_queue *row,
                            uint16_t agent_v, bool legacy_conf, sx_writer *out)
{
    if (d->msg_type == SX_AGENT_MSG_RATCHET_INFO)
        return sx_agent_sync_key_body(d, row, out);
    sx_reader rd;
    sx_reader_init(&rd, d->body.ptr, d->body.len);
    uint8_t flag = 0;
    sx_slice e2eb = {0};
    if (!sx_read_u8(&rd, &flag) || (flag && !sx_read_large(&rd, &e2eb)))
        return sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored message does not decode");
    sx_slice am;
    if (!sx_read_tail(&rd, &am))
        return sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored message does not decode");
    bool conf = d->msg_type == SX_AGENT_MSG_CONN_INFO || d->msg_type == SX_AGENT_MSG_CONN_INFO_REPLY;
    /* The legacy handshake's confirmation: 'K' and our sender key. */
    uint8_t kbuf[SX_KEY_SPKI_MAX];
    sx_smp_pubkey sk;
    memset(&sk, 0, sizeof sk);
    if (legacy_conf) {
        sx_key *k = NULL;
        SX_TRY(sx_key_private_from_text((const char *)row->snd_priv_key, row->snd_priv_key_len,
                                        SX_KEY_AUTH_ALGS, &k));
        sx_status kst = sx_smp_pubkey_of(k, kbuf, &sk);
        sx_key_free(k);
        SX_TRY(kst);
    }
    sx_agent_env env;
    memset(&env, 0, sizeof env);
    /* Confirmations carry the connection's agent version, messages the
     * highest we speak (the peer's agent may raise the connection's). */
    env.agent_version = conf ? agent_v : a->agent_vr.max;
    env.type = conf ? SX_AGENT_ENV_CONFIRMATION : SX_AGENT_ENV_MESSAGE;
    if (flag) {
        env.has_e2e = true;
        SX_TRY(sx_e2e_params_decode(e2eb, &env.e2e));
    }
    size_t elen = sx_ratchet_msg_len(&d->mek, d->padded_len);
    uint8_t *enc = malloc(elen);
    if (!enc)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    size_t olen = 0;
    sx_status st = sx_ratchet_encrypt_msg(&d->mek, d->padded_len, am, enc, elen, &olen);
    sx_writer cw;
    sx_writer_init_dynamic(&cw, 20000);
    if (st == SX_OK) {
        env.body = sx_slice_of(enc, olen);
        sx_client_msg cm;
        memset(&cm, 0, sizeof cm);
        cm.confirmation = legacy_conf;
        cm.auth_key = sk;
        /* '_' (or 'K' and the key) then the agent envelope */
        sx_writer ew;
        sx_writer_init_dynamic(&ew, 20000);
        if (!sx_agent_env_write(&ew, &env))
            st = sx_writer_status(&ew);
        cm.body = sx_writer_slice(&ew);
        if (st == SX_OK && !sx_client_msg_write(&cw, &cm))
            st = sx_writer_status(&cw);
        sx_writer_cleanup(&ew);
    }
    uint8_t der[SX_X25519_SPKI_LEN];
    if (st == SX_OK && conf) {
        sx_key *k = NULL;
        st = sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(row->e2e_pub_key, 32), &k);
        sx_writer dw;
        sx_writer_init_fixed(&dw, der, sizeof der);
        if (st == SX_OK && !sx_key_write_public(&dw, k))
            st = SX_E_INTERNAL;
        sx_key_free(k);
    }
    if (st == SX_OK &&
        !sx_agent_cb_encrypt(out, row->e2e_dh_secret, row->smp_client_version, conf ? der : NULL,
                             NULL, sx_writer_slice(&cw)))
        st = sx_writer_status(out);
    sx_writer_cleanup(&cw);
    free(enc);
    return st;
}

static bool retryable(sx_status st)
{
    return st == SX_E_IO || st == SX_E_CLOSED || st == SX_E_WOULD_BLOCK;
}

bool sx_agent_is_a_msg(sx_slice agent_msg)
{
    /* 'M' sndMsgId(8) shortString(hash) then the AMessage's tag: "M" is
     * A_MSG (no other AMessage tag starts with 'M'). */
    if (agent_msg.len < 11 || agent_msg.ptr[0] != SX_AGENT_MSG_MESSAGE)
        return false;
    size_t hl = agent_msg.ptr[9];
    return agent_msg.len > 10 + hl && agent_msg.ptr[10 + hl] == 'M';
}

sx_slice sx_agent_stored_msg(sx_slice body)
{
    sx_reader rd;
    sx_reader_init(&rd, body.ptr, body.len);
    uint8_t flag = 0;
    sx_slice e2eb = {0}, am = {0};
    if (!sx_read_u8(&rd, &flag) || (flag && !sx_read_large(&rd, &e2eb)) || !sx_read_tail(&rd, &am))
        return sx_slice_of(NULL, 0);
    return am;
}

static void emit_con(sx_agent *a, const sx_agent_id *conn, bool pq)
{
    BEST_EFFORT(sx_agent_store_conn_set_state(a->store, conn, SX_AGENT_CONN_DUPLEX));
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SX_AGENT_EV_CON;
    sx_agent_id_text(conn, ev.conn);
    ev.pq = pq;
    sx_agent_emit_ev(a, &ev);
}

/* The primary receiving queue's status (-1: none). */
static int rq_status(sx_agent *a, const sx_agent_id *conn)
{
    sx_agent_rcv_queue *rqs = NULL;
    size_t n = 0;
    if (sx_agent_store_rcv_queue_list(a->store, conn, &rqs, &n) != SX_OK)
        return -1;
    int st = n > 0 ? (int)rqs[0].status : -1;
    sx_wipe(rqs, n * sizeof *rqs);
    free(rqs);
    return st;
}

/* Our HELLO reached the router: the inviter, who had the joiner's HELLO
 * already (its receiving queue active), is connected; pq: the HELLO went
 * with PQ encryption. */
static void hello_sent(sx_agent *a, const sx_agent_id *conn, bool pq)
{
    if (rq_status(a, conn) == SX_AGENT_Q_ACTIVE)
        emit_con(a, conn, pq);
}

/* The peer's HELLO arrived: the joiner (who sent its own first) is
 * connected; the inviter answers with its HELLO and is connected when the
 * router took it. */
static void on_hello(sx_agent *a, sx_agent_rq *rq, bool pq)
{
    sx_agent_conn cn;
    sx_agent_snd_queue *sqs = NULL;
    size_t n = 0;
    if (sx_agent_store_conn_get(a->store, &rq->conn, &cn) != SX_OK ||
        sx_agent_store_snd_queue_list(a->store, &rq->conn, &sqs, &n) != SX_OK)
        return;
    int sst = n > 0 ? (int)sqs[0].status : -1;
    sx_wipe(sqs, n * sizeof *sqs);
    free(sqs);
    if (n == 0 || cn.state == SX_AGENT_CONN_DUPLEX) {
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, &rq->conn, 0,
                          sx_error_set(SX_E_PROTOCOL, "A_PROHIBITED", "agent: HELLO out of place"),
                          "hello");
        return;
    }
    BEST_EFFORT(sx_agent_store_rcv_queue_set_status(a->store, rq->queue_id, SX_AGENT_Q_ACTIVE));
    if (sst == SX_AGENT_Q_ACTIVE) {
        emit_con(a, &rq->conn, pq);
        return;
    }
    sx_agent_msg h;
    memset(&h, 0, sizeof h);
    h.kind = SX_AGENT_MSG_MESSAGE;
    h.msg.type = SX_AMSG_HELLO;
    int64_t hid = 0;
    sx_status st = sx_agent_enqueue(a, &rq->conn, &h, NULL, true, &hid);
    if (st != SX_OK)
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, &rq->conn, 0, st, "hello");
}

/* One delivery of sq: 1 done (try the next), 0 nothing left, -1 wait. */
static int deliver_one(sx_agent *a, sx_agent_sq *sq)
{
    sx_agent_delivery d;
    bool found = false;
    if (sx_agent_store_delivery_next(a->store, sq->queue_id, &d, &found) != SX_OK || !found)
        return 0;
    sx_agent_snd_queue row;
    sx_agent_conn cn;
    sx_smp_queue *q = NULL;
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_AGENT_ENVELOPE_MAX);
    sx_status st = sx_agent_store_snd_queue_get(a->store, sq->queue_id, &row);
    if (st == SX_OK)
        st = sx_agent_store_conn_get(a->store, &d.conn_id, &cn);
    /* A confirmation to a queue its sender cannot secure goes unsigned
     * with our key inside, for the recipient's KEY. */
    bool conf = d.msg_type == SX_AGENT_MSG_CONN_INFO || d.msg_type == SX_AGENT_MSG_CONN_INFO_REPLY;
    bool legacy_conf = st == SX_OK && conf && row.queue_mode != 'M';
    if (st == SX_OK)
        st = build_send(a, &d, &row, cn.agent_version, legacy_conf, &w);
    if (st == SX_OK)
        st = sx_agent_sq_object(a, &row, !legacy_conf, &q);
    if (st == SX_OK)
        st = d.notification ? sx_smp_tpool_send_notify(a->pool, q, w.buf, w.len)
                            : sx_smp_tpool_send(a->pool, q, w.buf, w.len);
    /* A proxy that cannot use the destination's hosts, with the fallback
     * forbidding a direct send: retried, with a warning (agent_proxy.c). */
    bool host_err = st != SX_OK && sx_agent_proxy_host_error(sx_error_code());
    sx_smp_queue_free(q);
    sx_writer_cleanup(&w);
    /* SENT and MERR are for the application's messages (A_MSG) only. */
    bool a_msg = d.msg_type == SX_AGENT_MSG_MESSAGE &&
                 sx_agent_is_a_msg(sx_agent_stored_msg(sx_slice_of(d.body.ptr, d.body.len)));
    /* A HELLO has its own timeout (the reference's helloTimeout). */
    unsigned timeout_s =
        d.msg_type == MSG_TYPE_HELLO ? a->opts.hello_timeout_s : a->opts.message_timeout_s;
    int r = 1;
    if (st == SX_OK) {
        sq->delay_ms = 0;
        sq->first_fail_ms = 0;
        sq->quota = false;
        sq->slow_ms = 0;
        sq->slow_first_ms = 0;
        /* An A_MSG is kept (without its body) for its delivery receipt. */
        BEST_EFFORT(sx_agent_store_delivery_done(a->store, &d.conn_id, sq->queue_id, d.internal_id,
                                                 a_msg));
        sx_agent_queue_status ns = legacy_conf ? SX_AGENT_Q_CONFIRMED : SX_AGENT_Q_ACTIVE;
        if (row.status != ns)
            BEST_EFFORT(sx_agent_store_snd_queue_set_status(a->store, sq->queue_id, ns));
        if (a_msg) {
            sx_agent_emit(a, SX_AGENT_EV_SENT, &d.conn_id, d.internal_id, sx_slice_of(NULL, 0));
        } else if (d.msg_type == MSG_TYPE_HELLO) {
            hello_sent(a, &d.conn_id, d.pq_encryption);
        } else if (d.msg_type == SX_AGENT_MSG_CONN_INFO && !legacy_conf) {
            /* The initiator's info reached a queue its sender secured: CON. */
            BEST_EFFORT(sx_agent_store_conn_set_state(a->store, &d.conn_id, SX_AGENT_CONN_DUPLEX));
            sx_agent_event ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = SX_AGENT_EV_CON;
            sx_agent_id_text(&d.conn_id, ev.conn);
            ev.pq = d.pq_encryption; /* whether the info went with PQ */
            sx_agent_emit_ev(a, &ev);
        } else if (d.msg_type == SX_AGENT_SND_QKEY || d.msg_type == SX_AGENT_SND_QTEST) {
            sx_agent_switch_on_sent(a, &d.conn_id, sq->queue_id, d.msg_type);
        }
    } else if (st == SX_E_LIMIT && strcmp(sx_error_code(), "QUOTA") == 0 &&
               d.msg_type == SX_AGENT_MSG_MESSAGE) {
        if (sx_agent_expired(&d, a->opts.quota_timeout_s)) {
            sx_agent_expire(a, sq, &d, a->opts.quota_timeout_s, st, sx_error_message());
        } else {
            sx_agent_quota_wait(a, sq, &d);
            r = -1;
        }
    } else if ((retryable(st) || host_err) && sx_agent_expired(&d, timeout_s)) {
        sx_agent_expire(a, sq, &d, timeout_s, st, sx_error_message());
    } else if (retryable(st) || host_err) {
        if (host_err)
            sx_agent_emit_err(a, SX_AGENT_EV_MWARN, &d.conn_id, d.internal_id, st, "send");
        int64_t now = sx_agent_now_ms();
        if (sq->delay_ms == 0 && d.retry_fast_ms > 0) {
            /* A back-off stored by an earlier process: go on from its
             * interval, growing from the next failure on. */
            sq->delay_ms = d.retry_fast_ms > RETRY_MAX_MS ? RETRY_MAX_MS : d.retry_fast_ms;
            sq->first_fail_ms = now - RETRY_INCREASE_AFTER_MS;
        } else if (sq->delay_ms == 0) {
            sq->delay_ms = a->opts.send_retry_ms;
            sq->first_fail_ms = now;
        } else if (now - sq->first_fail_ms >= RETRY_INCREASE_AFTER_MS) {
            unsigned nd = sq->delay_ms * 3 / 2;
            sq->delay_ms = nd > RETRY_MAX_MS ? RETRY_MAX_MS : nd;
        }
        sq->next_try_ms = now + sq->delay_ms;
        BEST_EFFORT(sx_agent_store_delivery_retry_set(a->store, &d.conn_id, d.internal_id,
                                                      sq->slow_ms, sq->delay_ms));
        r = -1;
    } else {
        bool merr = a_msg || d.msg_type == SX_AGENT_SND_EREADY;
        sx_agent_emit_err(a, merr ? SX_AGENT_EV_MERR : SX_AGENT_EV_ERR,
                          &d.conn_id, d.internal_id, st, "send");
        BEST_EFFORT(sx_agent_store_delivery_done(a->store, &d.conn_id, sq->queue_id, d.internal_id,
                                                 false));
    }
    sx_agent_delivery_cleanup(&d);
    sx_wipe(&row, sizeof row);
    return r;
}

int sx_agent_deliver_due(sx_agent *a)
{
    int64_t now = sx_agent_now_ms();
    int64_t next = -1;
    for (size_t i = 0; i < a->n_sqs;) {
        sx_agent_sq *sq = &a->sqs[i];
        if (sq->next_try_ms > now) {
            int64_t w = sq->next_try_ms - now;
            if (next < 0 || w < next)
                next = w;
            i++;
            continue;
        }
        int r = deliver_one(a, sq);
        if (r == 0) {
            sx_agent_sq_remove_at(a, i);
            continue;
        }
        if (r > 0) {
            next = 0; /* more may wait: come back at once */
        }
        i++;
    }
    return next > 1000000 ? 1000000 : (int)next;
}

/* ---- receiving ---- */

void sx_agent_ack_router(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n)
{
    /* a lost ACK: the router sends the message again */
    if (rq->polled) {
        if (a->gpool)
            BEST_EFFORT(sx_smp_tpool_ack_got(a->gpool, rq->q, &n->ev));
        if (rq->sub_wanted && !rq->gone)
            BEST_EFFORT(sx_agent_rq_subscribe_polled(a, rq));
    } else
        BEST_EFFORT(sx_smp_tpool_ack(a->pool, n));
}

typedef struct rcv_ctx {
    sx_slice enc; /* the encrypted agent message */
    const sx_smp_pool_note *n;
    int64_t queue_id;
    uint8_t *plainbuf;
    size_t cap;
    sx_agent_msg m;
    sx_ratchet_error rerr;
    char integrity[64];
    bool pq;
    bool prev_had_snd; /* the ratchet had a sending chain before this message */
} rcv_ctx;

static sx_status rcv_cb(void *vctx, const sx_agent_rcv_prev *prev, sx_ratchet *r,
                        sx_agent_rcv_msg *msg)
{
    rcv_ctx *c = vctx;
    sx_slice plain;
    c->prev_had_snd = r->has_snd;
    SX_TRY(sx_ratchet_decrypt(r, c->enc, c->plainbuf, c->cap, &plain, &c->rerr));
    SX_TRY(sx_agent_msg_decode(plain, &c->m));
    SX_ENSURE(c->m.kind == SX_AGENT_MSG_MESSAGE,
              sx_error_set(SX_E_PROTOCOL, "A_PROHIBITED", "agent: not a message"));
    int64_t from = 0, to = 0;
    sx_msg_integrity in = sx_agent_msg_integrity(
        prev->last_external_snd_id, c->m.snd_msg_id,
        sx_slice_of(prev->last_rcv_hash, prev->last_rcv_hash_len), c->m.prev_msg_hash, &from, &to);
    switch (in) {
    case SX_MSG_OK: snprintf(c->integrity, sizeof c->integrity, "OK"); break;
    case SX_MSG_BAD_ID: snprintf(c->integrity, sizeof c->integrity, "ERR BAD_ID"); break;
    case SX_MSG_DUPLICATE: snprintf(c->integrity, sizeof c->integrity, "ERR DUPLICATE"); break;
    case SX_MSG_SKIPPED:
        snprintf(c->integrity, sizeof c->integrity, "ERR SKIPPED %lld %lld", (long long)from,
                 (long long)to);
        break;
    case SX_MSG_BAD_HASH: snprintf(c->integrity, sizeof c->integrity, "ERR BAD_HASH"); break;
    }
    msg->rcv_queue_id = c->queue_id;
    memcpy(msg->broker_id, c->n->ev.msg_id, c->n->ev.msg_id_len);
    msg->broker_id_len = c->n->ev.msg_id_len;
    msg->broker_ts = c->n->ev.timestamp;
    msg->external_snd_id = c->m.snd_msg_id;
    msg->msg_type = c->m.msg.type == SX_AMSG_HELLO ? MSG_TYPE_HELLO : SX_AGENT_MSG_MESSAGE;
    msg->notification = c->n->ev.notification;
    /* Whether this message came with PQ (the reference's rcRcvKEM). */
    msg->pq_encryption = r->rcv_kem;
    c->pq = r->rcv_kem;
    msg->body = plain;
    SX_TRY(sx_sha256(plain, msg->internal_hash));
    SX_ENSURE(c->m.prev_msg_hash.len <= SX_AGENT_HASH_LEN, SX_E_PROTOCOL);
    memcpy(msg->prev_hash, c->m.prev_msg_hash.ptr, c->m.prev_msg_hash.len);
    msg->prev_hash_len = c->m.prev_msg_hash.len;
    SX_TRY(sx_sha256(c->enc, msg->encrypted_hash));
    msg->integrity = sx_slice_str(c->integrity);
    return SX_OK;
}

static void show_msg(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n, int64_t iid, sx_slice body,
                     const char *integrity, bool pq)
{
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SX_AGENT_EV_MSG;
    sx_agent_id_text(&rq->conn, ev.conn);
    ev.msg_id = iid;
    ev.broker_ts = n->ev.timestamp;
    ev.pq = pq;
    snprintf(ev.integrity, sizeof ev.integrity, "%s", integrity);
    if (body.len > 0 && (ev.body = malloc(body.len)) != NULL) {
        memcpy(ev.body, body.ptr, body.len);
        ev.body_len = body.len;
    }
    sx_agent_rq_hold(rq, n, iid);
    sx_agent_emit_ev(a, &ev);
}

void sx_agent_rq_hold(sx_agent_rq *rq, sx_smp_pool_note *n, int64_t iid)
{
    rq->has_pending = true;
    rq->pending_msg_id = iid;
    rq->pending = *n;
    rq->pending.ev.body = NULL;
    rq->pending.ev.body_len = 0;
    rq->pending.meta = NULL;
}

/* A message the ratchet has seen (or one from before its last one, err
 * EARLIER): the router sent it again, or the ratchet is out of step. */
static void duplicate(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n, sx_slice enc,
                      const sx_ratchet_error *err)
{
    sx_agent_rcv_stored s;
    bool found = false;
    if (sx_agent_store_rcv_msg_find(a->store, &rq->conn,
                                    sx_slice_of(n->ev.msg_id, n->ev.msg_id_len), &s,
                                    &found) == SX_OK &&
        found) {
        if (!s.user_ack) {
            sx_agent_msg m;
            if (sx_agent_msg_decode(sx_slice_of(s.body.ptr, s.body.len), &m) == SX_OK &&
                m.msg.type == SX_AMSG_A_MSG) {
                show_msg(a, rq, n, s.internal_id, m.msg.body, "OK", false);
                sx_agent_blob_free(&s.body);
                return;
            }
        }
        sx_agent_blob_free(&s.body);
        sx_agent_ack_router(a, rq, n);
        return;
    }
    uint8_t h[32];
    bool seen = false;
    if (sx_sha256(enc, h) == SX_OK &&
        sx_agent_store_rcv_hash_seen(a->store, &rq->conn, h, &seen) == SX_OK && seen) {
        sx_agent_ack_router(a, rq, n);
        return;
    }
    if (!sx_agent_sync_on_decrypt_error(a, &rq->conn, err, enc))
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, &rq->conn, 0, SX_E_PROTOCOL, "duplicate message");
    sx_agent_ack_router(a, rq, n);
}

void sx_agent_on_message(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n)
{
    sx_client_env env;
    sx_agent_rcv_queue row;
    sx_status st = sx_client_env_decode(sx_slice_of(n->ev.body, n->ev.body_len), &env);
    if (st == SX_OK)
        st = sx_agent_store_rcv_queue_get(a->store, rq->queue_id, &row);
    if (st != SX_OK) {
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, &rq->conn, 0, st, "message");
        sx_agent_ack_router(a, rq, n);
        return;
    }
    bool has_secret = row.has_e2e_dh_secret;
    bool contact = row.queue_mode == 'C';
    uint8_t secret[32];
    memcpy(secret, row.e2e_dh_secret, 32);
    sx_wipe(&row, sizeof row);
    if (contact) {
        /* Every request comes with its sender's one-time key. */
        if (env.has_dh) {
            sx_agent_on_invitation(a, rq, n, &env);
        } else {
            sx_agent_emit_err(a, SX_AGENT_EV_ERR, &rq->conn, 0, SX_E_PROTOCOL,
                              "a contact request without its sender's key");
            sx_agent_ack_router(a, rq, n);
        }
        return;
    }
    if (!has_secret) {
        if (env.has_dh) {
            sx_agent_on_confirmation(a, rq, n, &env);
        } else {
            sx_agent_emit_err(a, SX_AGENT_EV_ERR, &rq->conn, 0, SX_E_PROTOCOL,
                              "a message before the confirmation");
            sx_agent_ack_router(a, rq, n);
        }
        return;
    }
    if (env.has_dh) { /* a confirmation again: its first ACK was lost */
        sx_agent_ack_router(a, rq, n);
        return;
    }
    size_t cap = env.enc_body.len;
    uint8_t *buf = malloc(cap + 1);
    rcv_ctx c;
    memset(&c, 0, sizeof c);
    c.plainbuf = malloc(cap + 1);
    c.cap = cap;
    c.n = n;
    c.queue_id = rq->queue_id;
    sx_slice cmb;
    sx_client_msg cm;
    sx_agent_env aenv;
    if (!buf || !c.plainbuf)
        st = sx_error_set(SX_E_NOMEM, NULL, NULL);
    if (st == SX_OK)
        st = sx_agent_cb_decrypt(secret, &env, buf, cap, &cmb);
    sx_wipe(secret, sizeof secret);
    if (st == SX_OK)
        st = sx_client_msg_decode(cmb, &cm);
    if (st == SX_OK)
        st = sx_agent_env_decode(cm.body, &aenv, NULL);
    if (st == SX_OK && aenv.type == SX_AGENT_ENV_RATCHET_KEY) {
        sx_agent_version_on_msg(a, &rq->conn, aenv.agent_version);
        sx_agent_sync_on_key(a, &rq->conn, &aenv);
        sx_agent_ack_router(a, rq, n);
        goto out;
    }
    if (st == SX_OK && aenv.type != SX_AGENT_ENV_MESSAGE)
        st = sx_error_set(SX_E_PROTOCOL, "A_PROHIBITED", "agent: unexpected envelope");
    int64_t iid = 0;
    if (st == SX_OK) {
        c.enc = aenv.body;
        st = sx_agent_store_rcv_msg_record(a->store, &rq->conn, rcv_cb, &c, &iid);
        if (st != SX_OK && (c.rerr.code == SX_RATCHET_ERR_DUPLICATE ||
                            c.rerr.code == SX_RATCHET_ERR_EARLIER)) {
            duplicate(a, rq, n, aenv.body, &c.rerr);
            goto out;
        }
        /* The errors that say the ratchet is out of step (RSYNC). */
        if (st != SX_OK && sx_agent_sync_on_decrypt_error(a, &rq->conn, &c.rerr, aenv.body)) {
            sx_agent_ack_router(a, rq, n);
            goto out;
        }
    }
    if (st == SX_OK) {
        sx_agent_sync_on_decrypted(a, &rq->conn);
        sx_agent_switch_on_rcv(a, rq);
    }
    if (st == SX_OK)
        sx_agent_version_on_msg(a, &rq->conn, aenv.agent_version);
    if (st != SX_OK) {
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, &rq->conn, 0, st, "message");
        sx_agent_ack_router(a, rq, n);
    } else if (c.m.msg.type == SX_AMSG_A_MSG) {
        show_msg(a, rq, n, iid, c.m.msg.body, c.integrity, c.pq);
    } else if (c.m.msg.type == SX_AMSG_EREADY) {
        sx_agent_sync_on_eready(a, &rq->conn, c.prev_had_snd);
        sx_agent_ack_router(a, rq, n);
    } else if (c.m.msg.type == SX_AMSG_HELLO) {
        sx_agent_ack_router(a, rq, n);
        BEST_EFFORT(sx_agent_store_msg_delete(a->store, &rq->conn, iid));
        on_hello(a, rq, c.pq);
    } else if (c.m.msg.type == SX_AMSG_A_RCVD) {
        sx_agent_on_rcvd(a, rq, n, iid, &c.m.msg);
    } else if (c.m.msg.type == SX_AMSG_A_QCONT) {
        sx_agent_on_qcont(a, rq, n, iid, &c.m.msg.u.qcont);
    } else if (c.m.msg.type == SX_AMSG_QADD || c.m.msg.type == SX_AMSG_QKEY ||
               c.m.msg.type == SX_AMSG_QUSE) {
        sx_agent_switch_on_msg(a, rq, &c.m.msg);
        sx_agent_ack_router(a, rq, n);
    } else {
        sx_agent_ack_router(a, rq, n);
    }
out:
    free(buf);
    if (c.plainbuf)
        sx_wipe(c.plainbuf, cap);
    free(c.plainbuf);
}

sx_status sx_agent_ack_locked(sx_agent *a, const sx_agent_id *id, int64_t msg_id)
{
    /* The user's ack and, for a receipt, the sent messages it confirmed,
     * in one transaction before the router's ACK (rule 4). */
    SX_TRY(sx_agent_store_begin(a->store));
    sx_status st = sx_agent_store_rcv_msg_ack(a->store, id, msg_id);
    if (st == SX_OK)
        st = sx_agent_store_rcpt_acked(a->store, id, msg_id, NULL);
    if (st == SX_OK)
        st = sx_agent_store_commit(a->store);
    if (st != SX_OK) {
        sx_agent_store_rollback(a->store);
        return st;
    }
    for (size_t k = sx_agent_rq_conn_last(a, id); k; k = a->rqs[k - 1].conn_prev) {
        sx_agent_rq *rq = &a->rqs[k - 1];
        if (rq->has_pending && rq->pending_msg_id == msg_id &&
            memcmp(rq->conn.b, id->b, sizeof id->b) == 0) {
            rq->has_pending = false;
            sx_agent_ack_router(a, rq, &rq->pending);
        }
    }
    return SX_OK;
}

sx_status sx_agent_ack(sx_agent *a, const char *conn_id, int64_t msg_id)
{
    SX_ENSURE(a, SX_E_USAGE);
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    pthread_mutex_lock(&a->mu);
    sx_status st = sx_agent_ack_locked(a, &id, msg_id);
    pthread_mutex_unlock(&a->mu);
    return st;
}
