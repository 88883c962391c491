/* Ratchet re-synchronisation (docs/AGENT.md, "Ratchet
 * re-synchronisation"): which decryption errors allow or require a new
 * ratchet, the exchange of new X3DH keys in R envelopes (per-queue
 * encryption only), the choice of which side starts with the receiving
 * ratchet, EREADY on the new ratchet, and the RSYNC events. Every state
 * change is stored in the same transaction as the keys and messages it
 * goes with, then reported. */
#include "agent/agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/hash.h"
#include "crypto/util.h"

#define MAX_SQS 8

const char *sx_agent_rsync_name(sx_agent_rsync s)
{
    static const char *const names[] = {"ok", "allowed", "required", "started", "agreed"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

bool sx_agent_rsync_send_prohibited(sx_agent_rsync s)
{
    return s == SX_AGENT_RSYNC_REQUIRED || s == SX_AGENT_RSYNC_STARTED ||
           s == SX_AGENT_RSYNC_AGREED;
}

static void emit_rsync(sx_agent *a, const sx_agent_id *conn, sx_agent_rsync s, const char *err)
{
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SX_AGENT_EV_RSYNC;
    sx_agent_id_text(conn, ev.conn);
    snprintf(ev.rsync, sizeof ev.rsync, "%s", sx_agent_rsync_name(s));
    snprintf(ev.detail, sizeof ev.detail, "%s", err ? err : "");
    sx_agent_emit_ev(a, &ev);
}

static sx_status set_rsync(sx_agent *a, const sx_agent_id *conn, sx_agent_rsync s)
{
    sx_agent_conn cn;
    SX_TRY(sx_agent_store_conn_get(a->store, conn, &cn));
    cn.rsync = s;
    return sx_agent_store_conn_update(a->store, &cn);
}

/* The value both sides compare: SHA-256 of the raw k1 and k2. */
static sx_status rk_hash(const uint8_t k1[SX_X448_LEN], const uint8_t k2[SX_X448_LEN],
                         uint8_t out[32])
{
    uint8_t b[2 * SX_X448_LEN];
    memcpy(b, k1, SX_X448_LEN);
    memcpy(b + SX_X448_LEN, k2, SX_X448_LEN);
    return sx_sha256(sx_slice_of(b, sizeof b), out);
}

/* The connection's send queues in use. */
static sx_status send_queues(sx_agent *a, const sx_agent_id *conn, int64_t ids[MAX_SQS], size_t *n)
{
    sx_agent_snd_queue *sqs = NULL;
    size_t ns = 0;
    SX_TRY(sx_agent_store_snd_queue_list(a->store, conn, &sqs, &ns));
    *n = 0;
    for (size_t i = 0; i < ns && *n < MAX_SQS; i++)
        if (sqs[i].status != SX_AGENT_Q_DISABLED)
            ids[(*n)++] = sqs[i].queue_id;
    sx_wipe(sqs, ns * sizeof *sqs);
    free(sqs);
    SX_ENSURE(*n > 0, sx_error_set(SX_E_USAGE, NULL, "agent: the connection has no send queue"));
    return SX_OK;
}

/* Stores our R envelope with e2e (a message of its own in the sender's
 * chain, its agent message the empty ratchet info "R") for every queue;
 * inside the caller's transaction. */
static sx_status enqueue_key(sx_agent *a, const sx_agent_id *conn, const sx_e2e_params *e2e,
                             const int64_t *qids, size_t nq)
{
    static const uint8_t info[] = {SX_AGENT_MSG_RATCHET_INFO};
    sx_agent_env *env = calloc(1, sizeof *env);
    sx_agent_snd_msg *msg = calloc(1, sizeof *msg);
    sx_writer w;
    sx_writer_init_dynamic(&w, 4096);
    sx_status st = env && msg ? SX_OK : sx_error_set(SX_E_NOMEM, NULL, NULL);
    if (st == SX_OK) {
        env->agent_version = a->agent_vr.max;
        env->type = SX_AGENT_ENV_RATCHET_KEY;
        env->has_e2e = true;
        env->e2e = *e2e;
        env->body = sx_slice_of(info, sizeof info);
        if (!sx_agent_env_write(&w, env))
            st = sx_writer_status(&w);
    }
    sx_agent_snd_ids ids;
    if (st == SX_OK)
        st = sx_agent_store_snd_ids_next(a->store, conn, &ids);
    if (st == SX_OK) {
        msg->msg_type = SX_AGENT_MSG_RATCHET_INFO;
        msg->notification = true;
        msg->body = sx_writer_slice(&w);
        st = sx_sha256(sx_slice_of(info, sizeof info), msg->internal_hash);
    }
    if (st == SX_OK)
        st = sx_agent_store_snd_msg_insert(a->store, conn, &ids, msg, NULL, qids, nq);
    sx_writer_cleanup(&w);
    free(env);
    free(msg);
    return st;
}

/* EREADY with the last message id we received from the peer. */
static sx_status enqueue_eready(sx_agent *a, const sx_agent_id *conn)
{
    sx_agent_conn cn;
    SX_TRY(sx_agent_store_conn_get(a->store, conn, &cn));
    sx_agent_msg m;
    memset(&m, 0, sizeof m);
    m.kind = SX_AGENT_MSG_MESSAGE;
    m.msg.type = SX_AMSG_EREADY;
    m.msg.last_snd_id = cn.last_external_snd_msg_id;
    int64_t iid = 0;
    return sx_agent_enqueue(a, conn, &m, NULL, true, &iid);
}

sx_status sx_agent_sync_key_body(const sx_agent_delivery *d, const sx_agent_snd_queue *row,
                                 sx_writer *out)
{
    sx_writer cw;
    sx_writer_init_dynamic(&cw, d->body.len + 1);
    sx_status st = SX_OK;
    if (!sx_write_u8(&cw, '_') || !sx_write_bytes(&cw, d->body.ptr, d->body.len))
        st = sx_writer_status(&cw);
    else if (!sx_agent_cb_encrypt(out, row->e2e_dh_secret, row->smp_client_version, NULL, NULL,
                                  sx_writer_slice(&cw)))
        st = sx_writer_status(out);
    sx_writer_cleanup(&cw);
    return st;
}

static void wake_queues(sx_agent *a, const sx_agent_id *conn, const int64_t *qids, size_t nq)
{
    for (size_t i = 0; i < nq; i++)
        if (sx_agent_sq_add(a, qids[i], conn) != SX_OK)
            return; /* out of memory: the next open takes the deliveries up */
}

sx_status sx_agent_synchronize_ratchet(sx_agent *a, const char *conn_id, bool force)
{
    SX_ENSURE(a, SX_E_USAGE);
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    sx_e2e_private *priv = calloc(1, sizeof *priv);
    sx_e2e_params *pub = calloc(1, sizeof *pub);
    if (!priv || !pub) {
        free(priv);
        free(pub);
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    int64_t qids[MAX_SQS];
    size_t nq = 0;
    pthread_mutex_lock(&a->mu);
    sx_agent_conn cn;
    sx_status st = sx_agent_store_conn_get(a->store, &id, &cn);
    if (st == SX_OK && cn.state != SX_AGENT_CONN_DUPLEX)
        st = sx_error_set(SX_E_USAGE, "PROHIBITED", "agent: synchronizeRatchet: not duplex");
    else if (st == SX_OK && cn.agent_version < SX_AGENT_V_RATCHET_SYNC)
        st = sx_error_set(SX_E_USAGE, "PROHIBITED",
                          "agent: synchronizeRatchet: the peer's agent is too old");
    else if (st == SX_OK && !force && cn.rsync != SX_AGENT_RSYNC_ALLOWED &&
             cn.rsync != SX_AGENT_RSYNC_REQUIRED)
        st = sx_error_set(SX_E_USAGE, "PROHIBITED", "agent: synchronizeRatchet: not allowed");
    if (st == SX_OK)
        st = sx_e2e_generate(a->e2e_vr.max, cn.pq_support ? SX_USE_KEM_PROPOSE : SX_USE_KEM_NO,
                             NULL, NULL, priv, pub);
    if (st == SX_OK)
        st = sx_agent_store_begin(a->store);
    if (st == SX_OK) {
        /* Keys first, with the messages that carry them (one commit). */
        st = sx_agent_store_sync_keys_save(a->store, &id, a->e2e_vr.max, priv);
        if (st == SX_OK)
            st = send_queues(a, &id, qids, &nq);
        if (st == SX_OK)
            st = enqueue_key(a, &id, pub, qids, nq);
        if (st == SX_OK)
            st = set_rsync(a, &id, SX_AGENT_RSYNC_STARTED);
        if (st == SX_OK)
            st = sx_agent_store_commit(a->store);
        if (st != SX_OK)
            sx_agent_store_rollback(a->store);
    }
    if (st == SX_OK)
        wake_queues(a, &id, qids, nq);
    pthread_mutex_unlock(&a->mu);
    sx_e2e_private_wipe(priv);
    free(priv);
    free(pub);
    return st;
}

bool sx_agent_sync_on_decrypt_error(sx_agent *a, const sx_agent_id *conn,
                                    const sx_ratchet_error *err, sx_slice enc)
{
    sx_agent_rsync to;
    char what[48];
    switch (err->code) {
    case SX_RATCHET_ERR_HEADER:
        to = SX_AGENT_RSYNC_REQUIRED;
        snprintf(what, sizeof what, "RATCHET_HEADER");
        break;
    case SX_RATCHET_ERR_TOO_MANY_SKIPPED:
        to = SX_AGENT_RSYNC_REQUIRED;
        snprintf(what, sizeof what, "RATCHET_SKIPPED %u", (unsigned)err->n);
        break;
    case SX_RATCHET_ERR_EARLIER:
        to = SX_AGENT_RSYNC_ALLOWED;
        snprintf(what, sizeof what, "RATCHET_EARLIER %u", (unsigned)err->n);
        break;
    case SX_RATCHET_ERR_BODY:
        to = SX_AGENT_RSYNC_ALLOWED;
        snprintf(what, sizeof what, "DECRYPT_AES");
        break;
    default: return false;
    }
    /* A message received before (its hash is known) says nothing about
     * the ratchet: the router sent it again. */
    uint8_t h[32];
    bool seen = false;
    if (sx_sha256(enc, h) == SX_OK &&
        sx_agent_store_rcv_hash_seen(a->store, conn, h, &seen) == SX_OK && seen)
        return true;
    sx_agent_conn cn;
    if (sx_agent_store_conn_get(a->store, conn, &cn) != SX_OK ||
        cn.state != SX_AGENT_CONN_DUPLEX)
        return false;
    /* Once started or agreed, the exchange decides; errors of messages
     * still on the old ratchet change nothing. */
    if (cn.rsync != SX_AGENT_RSYNC_OK && cn.rsync != SX_AGENT_RSYNC_ALLOWED &&
        cn.rsync != SX_AGENT_RSYNC_REQUIRED)
        return true;
    if (set_rsync(a, conn, to) == SX_OK)
        emit_rsync(a, conn, to, what);
    return true;
}

void sx_agent_sync_on_decrypted(sx_agent *a, const sx_agent_id *conn)
{
    sx_agent_conn cn;
    if (sx_agent_store_conn_get(a->store, conn, &cn) != SX_OK || cn.rsync == SX_AGENT_RSYNC_OK ||
        cn.rsync == SX_AGENT_RSYNC_STARTED)
        return;
    if (set_rsync(a, conn, SX_AGENT_RSYNC_OK) == SX_OK)
        emit_rsync(a, conn, SX_AGENT_RSYNC_OK, NULL);
}

void sx_agent_sync_on_eready(sx_agent *a, const sx_agent_id *conn, bool prev_had_snd)
{
    /* Our ratchet started as the receiving one: the peer's EREADY gave it
     * a sending chain, and ours tells the peer its side works too. */
    if (prev_had_snd)
        return;
    sx_status st = enqueue_eready(a, conn);
    if (st != SX_OK)
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, conn, 0, st, "EREADY");
}

/* The new ratchet from our keys (own, with our hash) and the peer's. */
static sx_status new_ratchet(uint16_t e2e_max, const sx_e2e_private *own, const sx_e2e_params *peer,
                             const uint8_t own_hash[32], const uint8_t peer_hash[32],
                             bool pq_support, sx_ratchet *r, bool *receiving)
{
    sx_x3dh_result *res = calloc(1, sizeof *res);
    if (!res)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    /* The side whose keys hash lower (or equal) starts receiving; the
     * other one sends first (EREADY). */
    *receiving = memcmp(own_hash, peer_hash, 32) <= 0;
    sx_status st;
    if (*receiving) {
        st = sx_x3dh_rcv(own, peer, res);
        if (st == SX_OK)
            st = sx_ratchet_init_rcv(r, peer->version, e2e_max, own->k2, res, pq_support,
                                     NULL);
    } else {
        st = sx_x3dh_snd(own, peer, res);
        if (st == SX_OK)
            st = sx_ratchet_init_snd(r, peer->version, e2e_max, peer->k2, NULL, res, NULL);
    }
    sx_x3dh_result_wipe(res);
    free(res);
    return st;
}

/* The body of sx_agent_sync_on_key inside its transaction. *agreed: the
 * state became agreed; *required: it fell back to required (a key after
 * agreeing); qids gets the queues with new deliveries. */
static sx_status on_key_tx(sx_agent *a, const sx_agent_id *conn, const sx_agent_env *env,
                           sx_e2e_private *own, sx_e2e_params *mine, bool *agreed,
                           bool *required, int64_t qids[MAX_SQS], size_t *nq)
{
    sx_agent_conn cn;
    SX_TRY(sx_agent_store_conn_get(a->store, conn, &cn));
    SX_ENSURE(cn.state == SX_AGENT_CONN_DUPLEX,
              sx_error_set(SX_E_PROTOCOL, "A_QUEUE",
                           "agent: AgentRatchetKey: message must be sent to duplex connection"));
    const sx_e2e_params *peer = &env->e2e;
    uint8_t peer_hash[32], own_hash[32];
    SX_TRY(rk_hash(peer->k1, peer->k2, peer_hash));
    bool seen = false;
    SX_TRY(sx_agent_store_rkey_hash_add(a->store, conn, peer_hash, &seen));
    if (seen)
        return SX_OK; /* the router sent it again */
    SX_ENSURE(peer->version >= a->e2e_vr.min && peer->version <= a->e2e_vr.max,
              sx_error_set(SX_E_PROTOCOL, "A_VERSION", "agent: ratchet key of an unknown version"));
    SX_TRY(send_queues(a, conn, qids, nq));
    switch (cn.rsync) {
    case SX_AGENT_RSYNC_OK:
    case SX_AGENT_RSYNC_ALLOWED:
    case SX_AGENT_RSYNC_REQUIRED:
        /* We did not start: answer with our own keys. */
        SX_TRY(sx_e2e_generate(peer->version, cn.pq_support ? SX_USE_KEM_PROPOSE : SX_USE_KEM_NO,
                               NULL, NULL, own, mine));
        SX_TRY(enqueue_key(a, conn, mine, qids, *nq));
        break;
    case SX_AGENT_RSYNC_STARTED: {
        uint16_t v = 0;
        SX_TRY(sx_agent_store_sync_keys_get(a->store, conn, &v, own));
        break;
    }
    case SX_AGENT_RSYNC_AGREED:
    default:
        /* A second key after agreeing: the two sides are out of step. */
        SX_TRY(set_rsync(a, conn, SX_AGENT_RSYNC_REQUIRED));
        *required = true;
        return SX_OK;
    }
    uint8_t pub1[SX_X448_LEN], pub2[SX_X448_LEN];
    SX_TRY(sx_x448_public(own->k1, pub1));
    SX_TRY(sx_x448_public(own->k2, pub2));
    SX_TRY(rk_hash(pub1, pub2, own_hash));
    sx_ratchet r;
    memset(&r, 0, sizeof r);
    bool receiving = false;
    sx_status st = new_ratchet(a->e2e_vr.max, own, peer, own_hash, peer_hash, cn.pq_support, &r, &receiving);
    /* The old ratchet, its skipped keys and our sync keys go. */
    if (st == SX_OK)
        st = sx_agent_store_ratchet_save(a->store, conn, &r);
    sx_ratchet_cleanup(&r);
    if (st == SX_OK)
        st = sx_agent_store_sync_keys_clear(a->store, conn);
    if (st == SX_OK)
        st = set_rsync(a, conn, SX_AGENT_RSYNC_AGREED);
    if (st == SX_OK && !receiving)
        st = enqueue_eready(a, conn);
    if (st == SX_OK)
        *agreed = true;
    return st;
}

void sx_agent_sync_on_key(sx_agent *a, const sx_agent_id *conn, const sx_agent_env *env)
{
    sx_e2e_private *own = calloc(1, sizeof *own);
    sx_e2e_params *mine = calloc(1, sizeof *mine);
    bool agreed = false, required = false;
    int64_t qids[MAX_SQS];
    size_t nq = 0;
    sx_status st = own && mine ? SX_OK : sx_error_set(SX_E_NOMEM, NULL, NULL);
    if (st == SX_OK && !env->has_e2e)
        st = sx_error_set(SX_E_PROTOCOL, "A_MESSAGE", "agent: ratchet key without keys");
    if (st == SX_OK)
        st = sx_agent_store_begin(a->store);
    if (st == SX_OK) {
        st = on_key_tx(a, conn, env, own, mine, &agreed, &required, qids, &nq);
        if (st == SX_OK)
            st = sx_agent_store_commit(a->store);
        if (st != SX_OK) {
            sx_agent_store_rollback(a->store);
            agreed = required = false;
        }
    }
    if (own)
        sx_e2e_private_wipe(own);
    free(own);
    free(mine);
    if (required) {
        emit_rsync(a, conn, SX_AGENT_RSYNC_REQUIRED, "RATCHET_SYNC");
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, conn, 0,
                          sx_error_set(SX_E_PROTOCOL, "RATCHET_SYNC",
                                       "agent: a ratchet key after the ratchet was agreed"),
                          "ratchet key");
        return;
    }
    if (st != SX_OK) {
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, conn, 0, st, "ratchet key");
        return;
    }
    if (agreed) {
        wake_queues(a, conn, qids, nq);
        emit_rsync(a, conn, SX_AGENT_RSYNC_AGREED, NULL);
    }
}
