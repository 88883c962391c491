/* The duplex handshake through a one-time invitation (docs/AGENT.md,
 * "The agent core"): the initiator's queue and link, the joiner's SKEY,
 * reply queue and confirmation, the initiator's CONF and allow, its
 * connection info, and INFO / CON on both sides; for queues their sender
 * cannot secure, the legacy form (keys in the confirmations, the
 * recipient's KEY, then HELLO both ways in agent_msgflow.c). Keys are committed before
 * the command that sends them; confirmations go out through the same
 * stored deliveries as messages (ratchet advance and row in one
 * transaction). */
#include "agent/agent_int.h"
#include "agent/agent_cmds.h"

#include <stdlib.h>
#include <string.h>

#include "agent/version.h"
#include "core/error.h"
#include "crypto/hash.h"
#include "crypto/util.h"

sx_status sx_agent_conn_new(sx_agent *a, sx_agent_conn_mode mode, uint16_t agent_v, bool pq,
                            sx_agent_id *id)
{
    sx_agent_conn c;
    memset(&c, 0, sizeof c);
    c.user_id = sx_agent_conn_user(a);
    c.mode = mode;
    c.state = SX_AGENT_CONN_NEW;
    c.agent_version = agent_v;
    c.pq_support = pq;
    c.duplex_handshake = true;
    return sx_agent_store_conn_create(a->store, &c, id);
}

sx_status sx_agent_invitation_new(sx_agent *a, const char *server, bool pq, sx_agent_id *id,
                                  char **link)
{
    /* No KEM proposal from an agent that cannot do PQ (e2e v2). */
    pq = pq && a->e2e_vr.max >= SX_E2E_V_PQ;
    SX_TRY(sx_agent_conn_new(a, SX_AGENT_MODE_INVITATION, a->agent_vr.max, pq, id));
    sx_e2e_private priv;
    sx_e2e_params pub;
    SX_TRY(sx_e2e_generate(a->e2e_vr.max, pq ? SX_USE_KEM_PROPOSE : SX_USE_KEM_NO, NULL, NULL,
                           &priv, &pub));
    sx_status st = sx_agent_store_x3dh_save(a->store, id, a->e2e_vr.max, &priv);
    sx_e2e_private_wipe(&priv);
    SX_TRY(st);
    int64_t qid = 0;
    sx_agent_queue q;
    SX_TRY(sx_agent_new_rcv_queue(a, id, server, sx_agent_inv_queue_mode(a), 0, &qid, &q));
    SX_TRY(sx_agent_store_conn_set_state(a->store, id, SX_AGENT_CONN_RCV));
    return sx_agent_invitation_link(a, &q, &pub, link);
}

sx_status sx_agent_invitation_link(const sx_agent *a, const sx_agent_queue *q, const sx_e2e_params *pub, char **link)
{
    sx_agent_connreq cr;
    memset(&cr, 0, sizeof cr);
    cr.mode = SX_CONN_INVITATION;
    cr.agent_vr = a->agent_vr;
    cr.queue_count = 1;
    cr.queues[0].vr = sx_smpc_vrange();
    cr.queues[0].q = *q;
    cr.e2e = *pub;
    cr.e2e.range = a->e2e_vr;
    return sx_agent_connreq_text(&cr, "invitation link", link);
}

sx_status sx_agent_connreq_text(const sx_agent_connreq *c, const char *what, char **out)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_AGENT_LINK_TEXT_MAX);
    if (!sx_agent_connreq_write_text(&w, c) || !sx_write_u8(&w, 0)) {
        sx_status st = sx_writer_status(&w);
        sx_writer_cleanup(&w);
        return sx_error_set(st, NULL, "agent: cannot write the %s", what);
    }
    size_t n = 0;
    *out = (char *)sx_writer_take(&w, &n);
    return SX_OK;
}

sx_status sx_agent_create_invitation(sx_agent *a, const char *server,
                                     char conn_id[SX_AGENT_CONN_ID_TEXT], char **link)
{
    SX_ENSURE(a && server && conn_id && link, SX_E_USAGE);
    *link = NULL;
    sx_agent_id id;
    pthread_mutex_lock(&a->mu);
    sx_status st = sx_agent_invitation_new(a, server, !a->opts.pq_off, &id, link);
    pthread_mutex_unlock(&a->mu);
    if (st == SX_OK)
        sx_agent_id_text(&id, conn_id);
    return st;
}

/* A send queue to the peer's queue qa: our e2e key, the secret, the sender
 * key made and stored before it is used (SKEY next, or for a queue its
 * sender cannot secure, the key goes in our confirmation for the peer's
 * KEY). */
static sx_status new_snd_queue(sx_agent *a, const sx_agent_id *conn, const sx_agent_queue *qa,
                               uint16_t smpc_v, int64_t replaces, const sx_smp_queue *secured,
                               int64_t *queue_id, sx_smp_queue **obj)
{
    char srv[SX_SMP_SERVER_TEXT_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)srv, sizeof srv - 1);
    if (!sx_agent_server_write_text(&w, &qa->server, false))
        return sx_error_set(SX_E_PROTOCOL, NULL, "agent: the peer's router address is too long");
    srv[w.len] = '\0';
    SX_ENSURE(qa->sender_id_len == SX_SMP_QUEUE_ID_LEN,
              sx_error_set(SX_E_PROTOCOL, NULL, "agent: the peer's queue id has a bad length"));
    sx_agent_snd_queue row;
    memset(&row, 0, sizeof row);
    row.conn_id = *conn;
    SX_TRY(sx_agent_server_id(a, &qa->server, &row.server_id));
    uint8_t priv[32], der[SX_X25519_SPKI_LEN];
    sx_status st = sx_agent_e2e_new(priv, der, qa->dh, row.e2e_dh_secret);
    sx_wipe(priv, sizeof priv);
    SX_TRY(st);
    memcpy(row.e2e_pub_key, der + SX_X25519_SPKI_LEN - 32, 32);
    sx_smp_queue *q = NULL;
    if (secured) {
        /* LKEY secured it with this key already (a short link). */
        st = sx_agent_sq_fill(secured, &row);
    } else {
        SX_TRY(sx_smp_queue_sender_new(srv, qa->sender_id, &q));
        st = sx_smp_queue_make_sender_key(q, NULL);
        if (st == SX_OK)
            st = sx_agent_sq_fill(q, &row);
    }
    row.status = SX_AGENT_Q_NEW;
    row.smp_client_version = smpc_v;
    row.primary = replaces == 0;
    row.replace_queue_id = replaces;
    row.queue_mode = qa->mode == SX_QUEUE_MODE_MESSAGING ? 'M' : 0;
    if (st == SX_OK)
        st = sx_agent_store_snd_queue_create(a->store, &row, queue_id);
    sx_wipe(&row, sizeof row);
    if (st != SX_OK) {
        sx_smp_queue_free(q);
        return st;
    }
    *obj = q;
    return SX_OK;
}

sx_status sx_agent_new_snd_queue(sx_agent *a, const sx_agent_id *conn, const sx_agent_queue *qa,
                                 uint16_t smpc_v, int64_t replaces, int64_t *queue_id,
                                 sx_smp_queue **obj)
{
    return new_snd_queue(a, conn, qa, smpc_v, replaces, NULL, queue_id, obj);
}

/* A link joined before (we have a send queue to its queue): the
 * application's retry after an error, as the reference's repeated
 * joinConnection. The first join's keys and ratchet are used again (the
 * inviter's queue may be secured with that key already: a new key would be
 * refused, and the inviter's CONF must decrypt with the ratchet the first
 * attempt began): its JOIN command is run now, or stored again when it had
 * failed for good. A join that went through gives the same connection
 * again; an established or deleted one is refused. *again false: a new
 * link. */
static sx_status join_again(sx_agent *a, const sx_agent_queue *qa, const char *server,
                            sx_slice info, sx_agent_id *id, bool *again)
{
    *again = false;
    int64_t server_id = 0;
    SX_TRY(sx_agent_server_id(a, &qa->server, &server_id));
    bool found = false;
    SX_TRY(sx_agent_store_snd_queue_conn(a->store, server_id, qa->sender_id, qa->sender_id_len,
                                         id, &found));
    if (!found)
        return SX_OK;
    *again = true;
    sx_agent_conn c;
    SX_TRY(sx_agent_store_conn_get(a->store, id, &c));
    if (c.mode != SX_AGENT_MODE_INVITATION ||
        (c.state != SX_AGENT_CONN_NEW && c.state != SX_AGENT_CONN_SND))
        return sx_error_set(SX_E_USAGE, "PROHIBITED",
                            "agent: the link was joined by a connection past its handshake");
    bool had = false;
    SX_TRY(sx_agent_cmd_join_again(a, id, server, info, &had));
    if (!had && c.state != SX_AGENT_CONN_SND)
        return sx_error_set(SX_E_USAGE, "PROHIBITED",
                            "agent: the link's earlier join cannot be taken up");
    return SX_OK;
}

sx_status sx_agent_join_invitation(sx_agent *a, const sx_agent_connreq *cr, const char *server,
                                   sx_slice info, sx_agent_id *id)
{
    return sx_agent_join_invitation_ex(a, cr, server, info, NULL, id);
}

static sx_status join_invitation(sx_agent *a, const sx_agent_connreq *cr, const char *server,
                                 sx_slice info, const sx_smp_queue *secured,
                                 const sx_agent_id *accept_inv, bool prepared, sx_agent_id *id);

sx_status sx_agent_join_invitation_ex(sx_agent *a, const sx_agent_connreq *cr, const char *server,
                                      sx_slice info, const sx_smp_queue *secured, sx_agent_id *id)
{
    return join_invitation(a, cr, server, info, secured, NULL, false, id);
}

sx_status sx_agent_accept_invitation(sx_agent *a, const sx_agent_connreq *cr, const char *server,
                                     sx_slice info, const sx_agent_id *inv_id, sx_agent_id *id)
{
    return join_invitation(a, cr, server, info, NULL, inv_id, false, id);
}

sx_status sx_agent_join_invitation_prepared(sx_agent *a, const sx_agent_connreq *cr,
                                            const char *server, sx_slice info,
                                            const sx_agent_id *id)
{
    sx_agent_id in = *id;
    return join_invitation(a, cr, server, info, NULL, NULL, true, &in);
}

/* accept_inv: the contact request whose invitation this is, marked
 * accepted with the JOIN command (a second accept is refused, also after
 * a crash). prepared: *id is a connection of sx_agent_prepare_join, taken
 * for this join, rather than a new one. */
static sx_status join_invitation(sx_agent *a, const sx_agent_connreq *cr, const char *server,
                                 sx_slice info, const sx_smp_queue *secured,
                                 const sx_agent_id *accept_inv, bool prepared, sx_agent_id *id)
{
    SX_ENSURE(cr->mode == SX_CONN_INVITATION && cr->queue_count >= 1,
              sx_error_set(SX_E_USAGE, NULL, "agent: not an invitation link"));
    uint16_t agent_v = 0, smpc_v = 0, e2e_v = 0;
    if (!sx_vrange_common_max(cr->agent_vr, a->agent_vr, &agent_v) ||
        !sx_vrange_common_max(cr->queues[0].vr, sx_smpc_vrange(), &smpc_v) ||
        !sx_vrange_common_max(cr->e2e.range, a->e2e_vr, &e2e_v))
        return sx_error_set(SX_E_PROTOCOL, "A_VERSION", "agent: the link's versions are not ours");
    const sx_agent_queue *qa = &cr->queues[0].q;
    SX_ENSURE(qa->mode != SX_QUEUE_MODE_CONTACT,
              sx_error_set(SX_E_PROTOCOL, NULL, "agent: an invitation with a contact queue"));
    /* A queue its sender cannot secure: the legacy handshake (the inviter
     * KEYs it with the key our confirmation carries). */
    bool fast = qa->mode == SX_QUEUE_MODE_MESSAGING;
    bool pq = !a->opts.pq_off && agent_v >= SX_AGENT_V_PQ && e2e_v >= SX_E2E_V_PQ;
    if (!prepared) {
        bool again = false;
        SX_TRY(join_again(a, qa, server, info, id, &again));
        if (again)
            return SX_OK;
    }

    /* The ratchet: X3DH with the link's parameters. */
    sx_e2e_params peer = cr->e2e;
    peer.version = e2e_v;
    sx_use_kem use = sx_e2e_reply_kem(e2e_v, &peer.kem, pq);
    sx_e2e_private priv;
    sx_e2e_params pub;
    sx_x3dh_result res;
    sx_ratchet r;
    memset(&r, 0, sizeof r);
    sx_status st = sx_e2e_generate(e2e_v, use, peer.kem.state == SX_KEM_PROPOSED ? peer.kem.pk : NULL,
                                   NULL, &priv, &pub);
    SX_TRY(st);
    pub.version = e2e_v;
    st = sx_x3dh_snd(&priv, &peer, &res);
    sx_e2e_private_wipe(&priv);
    if (st == SX_OK)
        st = sx_ratchet_init_snd(&r, e2e_v, a->e2e_vr.max, peer.k2, NULL, &res, NULL);
    sx_x3dh_result_wipe(&res);

    /* The router of our reply queue: `server`, or the link's. */
    char own[SX_SMP_SERVER_TEXT_MAX];
    if (!server) {
        sx_writer w;
        sx_writer_init_fixed(&w, (uint8_t *)own, sizeof own - 1);
        if (!sx_agent_server_write_text(&w, &qa->server, false))
            st = sx_error_set(SX_E_PROTOCOL, NULL, "agent: the link's router is too long");
        own[w.len] = '\0';
        server = own;
    }

    /* Keys committed before SKEY, with the command that takes the
     * handshake on from here (agent_cmds.c): SKEY, the reply queue, the
     * confirmation. The connection row too: a crash before the commit
     * leaves nothing of the join (no connection without its command). */
    int64_t sqid = 0, cmd = 0;
    sx_smp_queue *sq = NULL;
    if (st == SX_OK)
        st = sx_agent_store_begin(a->store);
    if (st == SX_OK) {
        st = prepared ? sx_agent_prepared_take(a, id, agent_v, pq)
                      : sx_agent_conn_new(a, SX_AGENT_MODE_INVITATION, agent_v, pq, id);
        if (st == SX_OK)
            st = new_snd_queue(a, id, qa, smpc_v, 0, secured, &sqid, &sq);
        /* LKEY secured it already (a short link): the command skips SKEY. */
        if (st == SX_OK && secured)
            st = sx_agent_store_snd_queue_set_status(a->store, sqid, SX_AGENT_Q_SECURED);
        if (st == SX_OK)
            st = sx_agent_store_ratchet_save(a->store, id, &r);
        if (st == SX_OK)
            st = sx_agent_cmd_join_store(a, id, sqid, smpc_v, fast, server, &pub, info, &cmd);
        if (st == SX_OK && accept_inv)
            st = sx_agent_store_invitation_accept(a->store, accept_inv, info);
        if (st == SX_OK)
            sx_agent_crash_point("join-uncommitted");
        st = sx_agent_cmd_tx_end(a, st, cmd);
    }
    sx_smp_queue_free(sq);
    sx_ratchet_cleanup(&r);
    if (st != SX_OK) {
        /* rolled back: no connection was made (the caller gets no id), or
         * the prepared one is as it was */
        if (!prepared)
            memset(id, 0, sizeof *id);
        return st;
    }
    sx_agent_crash_point("join-stored");
    return sx_agent_cmd_run_now(a, cmd);
}

sx_status sx_agent_join(sx_agent *a, const char *link, const char *server, const void *info,
                        size_t info_len, char conn_id[SX_AGENT_CONN_ID_TEXT])
{
    SX_ENSURE(a && link && conn_id && (info || info_len == 0), SX_E_USAGE);
    SX_ENSURE(info_len <= SX_AGENT_INFO_MAX, sx_error_set(SX_E_LIMIT, NULL, "agent: info too long"));
    sx_agent_connreq cr;
    memset(&cr, 0, sizeof cr);
    bool short_link = sx_agent_is_short_link(link);
    sx_status st = short_link ? SX_OK : sx_agent_connreq_parse(link, strlen(link), &cr);
    if (st != SX_OK) {
        sx_agent_connreq_free(&cr);
        return st;
    }
    sx_agent_id id;
    pthread_mutex_lock(&a->mu);
    if (short_link)
        st = sx_agent_join_short(a, link, server, sx_slice_of(info, info_len), &id);
    else if (cr.mode == SX_CONN_CONTACT)
        st = sx_agent_join_contact(a, &cr, server, sx_slice_of(info, info_len), &id);
    else
        st = sx_agent_join_invitation(a, &cr, server, sx_slice_of(info, info_len), &id);
    pthread_mutex_unlock(&a->mu);
    sx_agent_connreq_free(&cr);
    if (st == SX_OK)
        sx_agent_id_text(&id, conn_id);
    return st;
}

static sx_status allow_locked(sx_agent *a, const sx_agent_id *id, const sx_agent_id *conf,
                              sx_slice info)
{
    sx_agent_confirmation c;
    bool accepted = false;
    sx_agent_blob storage = {0};
    SX_TRY(sx_agent_store_confirmation_get(a->store, conf, &c, &accepted, &storage));
    sx_agent_queue_info qi;
    sx_status st = SX_OK;
    if (memcmp(c.conn_id.b, id->b, sizeof id->b) != 0)
        st = sx_error_set(SX_E_USAGE, NULL, "agent: the confirmation is not of this connection");
    /* Once allowed, the stored command finishes the step (after a crash
     * too): a second allow would make the send queue's keys again. */
    if (st == SX_OK && accepted)
        st = sx_error_set(SX_E_USAGE, NULL, "agent: the confirmation is allowed already");
    if (st == SX_OK)
        st = sx_agent_queue_info_decode(c.reply_queues, &qi);
    uint8_t skey[SX_KEY_SPKI_MAX];
    size_t skey_len = c.sender_key.len;
    if (st == SX_OK && skey_len > sizeof skey)
        st = sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored sender key is too long");
    if (st == SX_OK && skey_len > 0)
        memcpy(skey, c.sender_key.ptr, skey_len);
    sx_agent_blob_free(&storage);
    SX_TRY(st);
    /* The send queue's keys, the confirmation accepted and the command
     * that goes on from here (agent_cmds.c: KEY for the legacy handshake,
     * SKEY, our info) in one transaction. */
    bool fast = qi.q.mode == SX_QUEUE_MODE_MESSAGING;
    int64_t sqid = 0, cmd = 0;
    sx_smp_queue *sq = NULL;
    SX_TRY(sx_agent_store_begin(a->store));
    st = sx_agent_new_snd_queue(a, id, &qi.q, qi.version, 0, &sqid, &sq);
    if (st == SX_OK)
        st = sx_agent_store_confirmation_accept(a->store, conf, info);
    if (st == SX_OK)
        st = sx_agent_cmd_allow_store(a, id, sqid, fast, sx_slice_of(skey, skey_len), info, &cmd);
    st = sx_agent_cmd_tx_end(a, st, cmd);
    sx_smp_queue_free(sq);
    SX_TRY(st);
    sx_agent_crash_point("allow-stored");
    return sx_agent_cmd_run_now(a, cmd);
}

static sx_status allow_call(sx_agent *a, const char *corr_id, const char *conn_id,
                            const char *conf_id, const void *info, size_t info_len)
{
    SX_ENSURE(a && (info || info_len == 0), SX_E_USAGE);
    SX_ENSURE(info_len <= SX_AGENT_INFO_MAX, sx_error_set(SX_E_LIMIT, NULL, "agent: info too long"));
    sx_agent_id id, conf;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    SX_TRY(sx_agent_id_parse(conf_id, &conf));
    pthread_mutex_lock(&a->mu);
    a->async_corr = corr_id;
    sx_status st = allow_locked(a, &id, &conf, sx_slice_of(info, info_len));
    a->async_corr = NULL;
    pthread_mutex_unlock(&a->mu);
    return st;
}

sx_status sx_agent_allow(sx_agent *a, const char *conn_id, const char *conf_id, const void *info,
                         size_t info_len)
{
    return allow_call(a, NULL, conn_id, conf_id, info, info_len);
}

sx_status sx_agent_allow_async(sx_agent *a, const char *corr_id, const char *conn_id,
                               const char *conf_id, const void *info, size_t info_len)
{
    SX_TRY(sx_agent_corr_check(corr_id));
    return allow_call(a, corr_id, conn_id, conf_id, info, info_len);
}

/* ---- receiving a confirmation ---- */

static sx_status confirmation(sx_agent *a, sx_agent_rq *rq, const sx_client_env *env,
                              sx_agent_event *ev1, sx_agent_event *ev2, int64_t *hello_cmd)
{
    sx_agent_rcv_queue row;
    SX_TRY(sx_agent_store_rcv_queue_get(a->store, rq->queue_id, &row));
    uint8_t secret[32];
    sx_status st = sx_agent_e2e_dh(row.e2e_priv_key, env->dh, secret);
    /* A queue its sender could not secure: the confirmation carries the
     * sender's key for our KEY (the legacy handshake). */
    bool legacy_rq = row.queue_mode != 'M';
    sx_wipe(&row, sizeof row);
    SX_TRY(st);
    size_t cap = env->enc_body.len;
    uint8_t *buf = malloc(cap + 1);
    uint8_t *plainbuf = malloc(cap + 1);
    sx_slice cmb, plain;
    sx_client_msg cm;
    sx_agent_env aenv;
    sx_agent_msg m;
    sx_agent_conn conn;
    sx_ratchet r;
    memset(&r, 0, sizeof r);
    if (!buf || !plainbuf)
        st = sx_error_set(SX_E_NOMEM, NULL, NULL);
    if (st == SX_OK)
        st = sx_agent_cb_decrypt(secret, env, buf, cap, &cmb);
    if (st == SX_OK)
        st = sx_client_msg_decode(cmb, &cm);
    if (st == SX_OK && cm.confirmation && !legacy_rq)
        st = sx_error_set(SX_E_PROTOCOL, "A_PROHIBITED",
                          "agent: a legacy confirmation on a queue its sender secures");
    bool legacy = st == SX_OK && cm.confirmation;
    if (st == SX_OK)
        st = sx_agent_env_decode(cm.body, &aenv, NULL);
    if (st == SX_OK && aenv.type != SX_AGENT_ENV_CONFIRMATION)
        st = sx_error_set(SX_E_PROTOCOL, "A_PROHIBITED", "agent: not a confirmation");
    if (st == SX_OK)
        st = sx_agent_store_conn_get(a->store, &rq->conn, &conn);
    /* The peer's agent version: one we speak, or not above the one agreed
     * (an agent that was downgraded since). */
    if (st == SX_OK && !(aenv.agent_version >= a->agent_vr.min && aenv.agent_version <= a->agent_vr.max) &&
        aenv.agent_version > conn.agent_version)
        st = sx_error_set(SX_E_PROTOCOL, "A_VERSION", "agent: the confirmation's version");
    bool initiator = st == SX_OK && aenv.has_e2e;
    /* The initiator's PQ: on only when we had it and both versions allow it,
     * whatever the joiner proposed. */
    bool pq = conn.pq_support;
    if (st == SX_OK && initiator) {
        if (aenv.e2e.version < a->e2e_vr.min || aenv.e2e.version > a->e2e_vr.max)
            st = sx_error_set(SX_E_PROTOCOL, "A_VERSION", "agent: the confirmation's e2e version");
        pq = pq && aenv.agent_version >= SX_AGENT_V_PQ && aenv.e2e.version >= SX_E2E_V_PQ;
    }
    if (st == SX_OK && initiator) {
        uint16_t ev = 0;
        sx_e2e_private priv;
        sx_x3dh_result res;
        st = sx_agent_store_x3dh_get(a->store, &rq->conn, &ev, &priv);
        if (st == SX_OK)
            st = sx_x3dh_rcv(&priv, &aenv.e2e, &res);
        if (st == SX_OK)
            st = sx_ratchet_init_rcv(&r, aenv.e2e.version, a->e2e_vr.max, priv.k2, &res, pq,
                                     NULL);
        sx_e2e_private_wipe(&priv);
        sx_x3dh_result_wipe(&res);
    } else if (st == SX_OK) {
        st = sx_agent_store_ratchet_get(a->store, &rq->conn, &r);
    }
    sx_ratchet_error rerr;
    if (st == SX_OK)
        st = sx_ratchet_decrypt(&r, aenv.body, plainbuf, cap, &plain, &rerr);
    if (st == SX_OK)
        st = sx_agent_msg_decode(plain, &m);
    if (st == SX_OK && m.kind != (initiator ? SX_AGENT_MSG_CONN_INFO_REPLY : SX_AGENT_MSG_CONN_INFO))
        st = sx_error_set(SX_E_PROTOCOL, "A_PROHIBITED", "agent: unexpected confirmation");
    uint8_t hash[32];
    if (st == SX_OK)
        st = sx_sha256(plain, hash);
    if (st == SX_OK)
        st = sx_agent_store_begin(a->store);
    sx_agent_id conf_id;
    if (st == SX_OK) {
        st = sx_agent_store_ratchet_save(a->store, &rq->conn, &r);
        if (st == SX_OK)
            st = sx_agent_store_rcv_queue_set_e2e(a->store, rq->queue_id, secret);
        if (st == SX_OK)
            st = sx_agent_store_rcv_prev_set(a->store, &rq->conn, 1, hash);
        if (st == SX_OK)
            st = sx_agent_store_rcv_queue_set_status(a->store, rq->queue_id,
                                                     initiator || legacy ? SX_AGENT_Q_CONFIRMED
                                                                         : SX_AGENT_Q_ACTIVE);
        if (st == SX_OK && initiator) {
            uint8_t qbuf[1024];
            sx_writer w;
            sx_writer_init_fixed(&w, qbuf, sizeof qbuf);
            if (!sx_agent_queue_info_write(&w, &m.reply[0]))
                st = sx_writer_status(&w);
            sx_agent_confirmation c;
            memset(&c, 0, sizeof c);
            c.conn_id = rq->conn;
            memcpy(c.e2e_snd_pub_key, env->dh + SX_X25519_SPKI_LEN - 32, 32);
            c.sender_conn_info = m.info;
            c.reply_queues = sx_writer_slice(&w);
            if (legacy)
                c.sender_key = cm.auth_key.der;
            c.smp_client_version = env->version;
            if (st == SX_OK)
                st = sx_agent_store_confirmation_create(a->store, &c, &conf_id);
            conn.agent_version = aenv.agent_version;
            conn.pq_support = pq;
            conn.state = SX_AGENT_CONN_RCV;
        } else if (st == SX_OK && !legacy) {
            conn.state = SX_AGENT_CONN_DUPLEX;
        }
        if (st == SX_OK)
            st = sx_agent_store_conn_update(a->store, &conn);
        /* The legacy joiner: KEY with the inviter's key, then HELLO, as a
         * stored command (agent_cmds.c) run once the confirmation is
         * acknowledged; CON comes with the inviter's HELLO. */
        if (st == SX_OK && legacy && !initiator)
            st = sx_agent_cmd_hello_store(a, &rq->conn, rq->queue_id, cm.auth_key.der, hello_cmd);
        if (st == SX_OK)
            st = sx_agent_store_commit(a->store);
        else
            sx_agent_store_rollback(a->store);
        if (st != SX_OK && *hello_cmd != 0) {
            sx_agent_cmd_drop(a, *hello_cmd);
            *hello_cmd = 0;
        }
    }
    if (st == SX_OK) {
        ev1->kind = initiator ? SX_AGENT_EV_CONF : SX_AGENT_EV_INFO;
        sx_agent_id_text(&rq->conn, ev1->conn);
        if (initiator)
            sx_agent_id_text(&conf_id, ev1->conf_id);
        /* CONF: PQ support as now agreed; INFO: ours. */
        ev1->pq = conn.pq_support;
        if (m.info.len > 0 && (ev1->body = malloc(m.info.len)) != NULL) {
            memcpy(ev1->body, m.info.ptr, m.info.len);
            ev1->body_len = m.info.len;
        }
        if (!initiator && !legacy) {
            ev2->kind = SX_AGENT_EV_CON;
            sx_agent_id_text(&rq->conn, ev2->conn);
            /* CON: whether the peer's info came with PQ encryption. */
            ev2->pq = r.rcv_kem;
        }
    }
    sx_ratchet_cleanup(&r);
    sx_wipe(secret, sizeof secret);
    free(buf);
    if (plainbuf)
        sx_wipe(plainbuf, cap);
    free(plainbuf);
    return st;
}

void sx_agent_on_confirmation(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n,
                              const sx_client_env *env)
{
    sx_agent_event ev1, ev2;
    memset(&ev1, 0, sizeof ev1);
    memset(&ev2, 0, sizeof ev2);
    int64_t hello_cmd = 0;
    sx_agent_id conn = rq->conn;
    sx_status st = confirmation(a, rq, env, &ev1, &ev2, &hello_cmd);
    if (st != SX_OK)
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, &rq->conn, 0, st, "confirmation");
    /* A confirmation is acknowledged to the router at once, good or bad, so
     * that a bad one cannot block the queue. */
    sx_agent_ack_router(a, rq, n);
    if (ev1.kind)
        sx_agent_emit_ev(a, &ev1);
    if (ev2.kind)
        sx_agent_emit_ev(a, &ev2);
    if (hello_cmd != 0) {
        sx_agent_crash_point("hello-stored");
        st = sx_agent_cmd_run_now(a, hello_cmd);
        if (st != SX_OK)
            sx_agent_emit_err(a, SX_AGENT_EV_ERR, &conn, 0, st, "secure");
    }
}
