/* Contact addresses (docs/AGENT.md, "Contact addresses"): the owner's
 * contact queue and link; a requester's own one-time invitation sent to
 * that queue in an invitation envelope (per-queue encryption only, with a
 * one-time key), its queue and the sending run by the stored command
 * CJOIN; the owner's REQ, kept in the store until the owner accepts it
 * (joining the requester's invitation, so that the roles swap and the fast
 * handshake follows) or rejects it (the request is only forgotten). */
#include "agent/agent_int.h"
#include "agent/agent_cmds.h"

#include <stdlib.h>
#include <string.h>

#include "agent/version.h"
#include "core/error.h"
#include "crypto/util.h"

/* The address text of a link's router, for a queue of ours on it. */
static sx_status server_text(const sx_agent_server *srv, char out[SX_SMP_SERVER_TEXT_MAX])
{
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)out, SX_SMP_SERVER_TEXT_MAX - 1);
    if (!sx_agent_server_write_text(&w, srv, false))
        return sx_error_set(SX_E_PROTOCOL, NULL, "agent: the link's router is too long");
    out[w.len] = '\0';
    return SX_OK;
}

/* ---- the owner: the address ---- */

static sx_status create_locked(sx_agent *a, const char *server, sx_agent_id *id, char **link)
{
    /* The address holds no ratchet: each accepted request makes its own
     * connection. */
    SX_TRY(sx_agent_conn_new(a, SX_AGENT_MODE_CONTACT, a->agent_vr.max, false, id));
    int64_t qid = 0;
    sx_agent_connreq cr;
    memset(&cr, 0, sizeof cr);
    SX_TRY(sx_agent_new_rcv_queue(a, id, server, 'C', 0, &qid, &cr.queues[0].q));
    SX_TRY(sx_agent_store_conn_set_state(a->store, id, SX_AGENT_CONN_CONTACT));
    cr.mode = SX_CONN_CONTACT;
    cr.agent_vr = a->agent_vr;
    cr.queue_count = 1;
    cr.queues[0].vr = sx_smpc_vrange();
    return sx_agent_connreq_text(&cr, "contact link", link);
}

sx_status sx_agent_create_contact(sx_agent *a, const char *server,
                                  char conn_id[SX_AGENT_CONN_ID_TEXT], char **link)
{
    SX_ENSURE(a && server && conn_id && link, SX_E_USAGE);
    *link = NULL;
    sx_agent_id id;
    pthread_mutex_lock(&a->mu);
    sx_status st = create_locked(a, server, &id, link);
    pthread_mutex_unlock(&a->mu);
    if (st == SX_OK)
        sx_agent_id_text(&id, conn_id);
    return st;
}

/* ---- the requester: joining an address ---- */

/* SEND of the invitation envelope to the address's queue (router srv,
 * sender id sid, key dh): unsigned (anyone may send to a contact queue),
 * encrypted once to its key. */
static sx_status send_invitation(sx_agent *a, const char *srv, const uint8_t *sid,
                                 const uint8_t *dh, uint16_t smpc_v, uint16_t agent_v,
                                 const char *inv_link, sx_slice info)
{
    sx_agent_env env;
    memset(&env, 0, sizeof env);
    env.agent_version = agent_v;
    env.type = SX_AGENT_ENV_INVITATION;
    env.conn_req = sx_slice_str(inv_link);
    env.body = info;
    sx_writer cm, out;
    sx_writer_init_dynamic(&cm, SX_AGENT_E2E_CONF_PADDED);
    sx_writer_init_dynamic(&out, SX_AGENT_ENVELOPE_MAX);
    sx_status st = SX_OK;
    if (!sx_write_u8(&cm, '_') || !sx_agent_env_write(&cm, &env))
        st = sx_writer_status(&cm);
    if (st == SX_OK && !sx_agent_cb_encrypt_once(&out, smpc_v, dh, sx_writer_slice(&cm)))
        st = sx_error_set(sx_writer_status(&out), NULL,
                          "agent: the request does not fit a message (info too long)");
    sx_smp_queue *q = NULL;
    if (st == SX_OK)
        st = sx_smp_queue_sender_new(srv, sid, &q);
    if (st == SX_OK)
        st = sx_smp_tpool_send_notify(a->pool, q, out.buf, out.len);
    sx_smp_queue_free(q);
    sx_writer_cleanup(&cm);
    sx_writer_cleanup(&out);
    return st;
}

/* The CJOIN command's body: its format's version, the versions agreed with
 * the address, the router of our queue, our X3DH parameters, the
 * address's queue (router, sender id, key) and our info. */
#define CJOIN_V 1

static sx_status contact_store(sx_agent *a, const sx_agent_id *id, uint16_t smpc_v,
                               uint16_t agent_v, const char *server, const sx_e2e_params *pub,
                               const sx_agent_queue *qa, sx_slice info, int64_t *cmd)
{
    char addr_srv[SX_SMP_SERVER_TEXT_MAX];
    SX_TRY(server_text(&qa->server, addr_srv));
    uint8_t e2eb[4096];
    sx_writer ew;
    sx_writer_init_fixed(&ew, e2eb, sizeof e2eb);
    if (!sx_e2e_params_write(&ew, pub))
        return sx_writer_status(&ew);
    sx_writer w;
    sx_writer_init_dynamic(&w, 70000);
    if (sx_write_u8(&w, CJOIN_V) && sx_write_u16(&w, smpc_v) && sx_write_u16(&w, agent_v) &&
        sx_write_large(&w, sx_slice_str(server)) && sx_write_large(&w, sx_writer_slice(&ew)) &&
        sx_write_large(&w, sx_slice_str(addr_srv)) &&
        sx_write_large(&w, sx_slice_of(qa->sender_id, qa->sender_id_len)) &&
        sx_write_large(&w, sx_slice_of(qa->dh, sizeof qa->dh)))
        (void)sx_write_large(&w, info);
    return sx_agent_cmd_store(a, id, SX_AGENT_CMD_CONTACT, &w, cmd);
}

/* A router address of a command body as a C string. */
static bool body_text(sx_slice in, char out[SX_SMP_SERVER_TEXT_MAX])
{
    if (in.len == 0 || in.len >= SX_SMP_SERVER_TEXT_MAX || memchr(in.ptr, 0, in.len) != NULL)
        return false;
    memcpy(out, in.ptr, in.len);
    out[in.len] = '\0';
    return true;
}

/* A CJOIN body's fields (slices of the body). */
typedef struct cjoin_body {
    uint16_t smpc_v, agent_v;
    sx_slice own, e2eb, asrv, sid, dh, info;
} cjoin_body;

static bool cjoin_decode(sx_slice body, cjoin_body *b)
{
    memset(b, 0, sizeof *b);
    sx_reader rd;
    sx_reader_init(&rd, body.ptr, body.len);
    uint8_t v = 0;
    return sx_read_u8(&rd, &v) && v == CJOIN_V && sx_read_u16(&rd, &b->smpc_v) &&
           sx_read_u16(&rd, &b->agent_v) && sx_read_large(&rd, &b->own) &&
           sx_read_large(&rd, &b->e2eb) && sx_read_large(&rd, &b->asrv) &&
           sx_read_large(&rd, &b->sid) && sx_read_large(&rd, &b->dh) &&
           sx_read_large(&rd, &b->info) && rd.off == rd.len;
}

sx_status sx_agent_contact_body_again(sx_slice body, const char *server, sx_slice info,
                                      sx_writer *w)
{
    cjoin_body b;
    if (!cjoin_decode(body, &b))
        return sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored command does not decode");
    sx_slice own = server ? sx_slice_str(server) : b.own;
    SX_ENSURE(own.len > 0 && own.len < SX_SMP_SERVER_TEXT_MAX,
              sx_error_set(SX_E_LIMIT, NULL, "agent: router address too long"));
    if (sx_write_u8(w, CJOIN_V) && sx_write_u16(w, b.smpc_v) && sx_write_u16(w, b.agent_v) &&
        sx_write_large(w, own) && sx_write_large(w, b.e2eb) && sx_write_large(w, b.asrv) &&
        sx_write_large(w, b.sid) && sx_write_large(w, b.dh))
        (void)sx_write_large(w, info);
    return sx_writer_status(w);
}

sx_status sx_agent_contact_run(sx_agent *a, const sx_agent_command *c)
{
    cjoin_body b;
    char own_srv[SX_SMP_SERVER_TEXT_MAX], addr_srv[SX_SMP_SERVER_TEXT_MAX];
    if (!cjoin_decode(sx_slice_of(c->body.ptr, c->body.len), &b) || !body_text(b.own, own_srv) ||
        !body_text(b.asrv, addr_srv) || b.sid.len != SX_SMP_QUEUE_ID_LEN ||
        b.dh.len != SX_X25519_SPKI_LEN)
        return sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored command does not decode");
    uint16_t smpc_v = b.smpc_v, agent_v = b.agent_v;
    sx_slice e2eb = b.e2eb, sid = b.sid, dh = b.dh, info = b.info;
    sx_e2e_params pub;
    SX_TRY(sx_e2e_params_decode(e2eb, &pub));

    /* Our queue: made once (found after a crash once NEW's answer was
     * stored). */
    sx_agent_rcv_queue *rqs = NULL;
    size_t nr = 0;
    SX_TRY(sx_agent_store_rcv_queue_list(a->store, &c->conn_id, &rqs, &nr));
    sx_status st = SX_OK;
    if (nr == 0) {
        int64_t qid = 0;
        st = sx_agent_new_rcv_queue(a, &c->conn_id, own_srv, sx_agent_inv_queue_mode(a), 0, &qid,
                                    NULL);
        if (st == SX_OK)
            sx_agent_crash_point("contact-queue");
        free(rqs);
        rqs = NULL;
        if (st == SX_OK)
            st = sx_agent_store_rcv_queue_list(a->store, &c->conn_id, &rqs, &nr);
        if (st == SX_OK && nr == 0)
            st = sx_error_set(SX_E_INTERNAL, NULL, "agent: the new queue is not stored");
    }
    sx_agent_queue q;
    if (st == SX_OK)
        st = sx_agent_rq_address(a, &rqs[0], &q);
    if (rqs)
        sx_wipe(rqs, nr * sizeof *rqs);
    free(rqs);
    SX_TRY(st);
    SX_TRY(sx_agent_store_conn_set_state(a->store, &c->conn_id, SX_AGENT_CONN_RCV));
    char *link = NULL;
    SX_TRY(sx_agent_invitation_link(a, &q, &pub, &link));
    st = send_invitation(a, addr_srv, sid.ptr, dh.ptr, smpc_v, agent_v, link, info);
    sx_agent_free_text(link);
    SX_TRY(st);
    sx_agent_crash_point("contact-sent");
    SX_TRY(sx_agent_store_cmd_complete(a->store, c->command_id));
    sx_agent_crash_point("contact-done");
    return SX_OK;
}

/* Looking for an earlier join of the same address (its queue's router and
 * sender id) whose CJOIN is still stored. */
typedef struct addr_find {
    const char *srv;
    const uint8_t *sid;
    sx_agent_id conn;
    bool found;
} addr_find;

static bool addr_match(void *ctx, const sx_agent_id *conn, sx_slice body)
{
    addr_find *f = ctx;
    cjoin_body b;
    if (!cjoin_decode(body, &b) || b.sid.len != SX_SMP_QUEUE_ID_LEN ||
        b.asrv.len != strlen(f->srv) || memcmp(b.asrv.ptr, f->srv, b.asrv.len) != 0 ||
        memcmp(b.sid.ptr, f->sid, SX_SMP_QUEUE_ID_LEN) != 0)
        return false;
    f->conn = *conn;
    f->found = true;
    return true;
}

/* An address joined before, its request not sent yet (the application's
 * retry after an error, as the reference's repeated joinConnection of a
 * contact address): the first attempt's connection, keys and invitation
 * (its queue, once made) are used again; its CJOIN command is run now, or
 * stored again when it had failed for good. *again false: not joined
 * before, or the request went already (a new request is made). */
static sx_status contact_again(sx_agent *a, const sx_agent_queue *qa, const char *server,
                               sx_slice info, sx_agent_id *id, bool *again)
{
    *again = false;
    char addr_srv[SX_SMP_SERVER_TEXT_MAX];
    SX_TRY(server_text(&qa->server, addr_srv));
    addr_find f;
    memset(&f, 0, sizeof f);
    f.srv = addr_srv;
    f.sid = qa->sender_id;
    SX_TRY(sx_agent_store_cmd_each(a->store, SX_AGENT_CMD_CONTACT, addr_match, &f));
    if (!f.found)
        return SX_OK;
    *id = f.conn;
    *again = true;
    bool had = false;
    return sx_agent_cmd_contact_again(a, id, server, info, &had);
}

sx_status sx_agent_join_contact(sx_agent *a, const sx_agent_connreq *cr, const char *server,
                                sx_slice info, sx_agent_id *id)
{
    SX_ENSURE(cr->mode == SX_CONN_CONTACT && cr->queue_count >= 1,
              sx_error_set(SX_E_USAGE, NULL, "agent: not a contact link"));
    uint16_t agent_v = 0, smpc_v = 0;
    if (!sx_vrange_common_max(cr->agent_vr, a->agent_vr, &agent_v) ||
        !sx_vrange_common_max(cr->queues[0].vr, sx_smpc_vrange(), &smpc_v))
        return sx_error_set(SX_E_PROTOCOL, "A_VERSION", "agent: the link's versions are not ours");
    const sx_agent_queue *qa = &cr->queues[0].q;
    SX_ENSURE(qa->mode != SX_QUEUE_MODE_MESSAGING,
              sx_error_set(SX_E_PROTOCOL, NULL, "agent: a contact link with a messaging queue"));
    SX_ENSURE(qa->sender_id_len == SX_SMP_QUEUE_ID_LEN,
              sx_error_set(SX_E_PROTOCOL, NULL, "agent: the address's queue id has a bad length"));
    bool again = false;
    SX_TRY(contact_again(a, qa, server, info, id, &again));
    if (again)
        return SX_OK;
    char own[SX_SMP_SERVER_TEXT_MAX];
    if (!server) {
        SX_TRY(server_text(&qa->server, own));
        server = own;
    }
    /* Our invitation carries a KEM key when both agents can use it. Its
     * connection, X3DH keys and the command that makes its queue and sends
     * it (CJOIN, run by agent_cmds.c; retried while a router cannot be
     * reached, resumed after a crash) in one transaction. */
    bool pq = !a->opts.pq_off && agent_v >= SX_AGENT_V_PQ && a->e2e_vr.max >= SX_E2E_V_PQ;
    sx_e2e_private priv;
    sx_e2e_params pub;
    SX_TRY(sx_e2e_generate(a->e2e_vr.max, pq ? SX_USE_KEM_PROPOSE : SX_USE_KEM_NO, NULL, NULL, &priv,
                           &pub));
    int64_t cmd = 0;
    sx_status st = sx_agent_store_begin(a->store);
    if (st == SX_OK) {
        st = sx_agent_conn_new(a, SX_AGENT_MODE_INVITATION, a->agent_vr.max, pq, id);
        if (st == SX_OK)
            st = sx_agent_store_x3dh_save(a->store, id, a->e2e_vr.max, &priv);
        if (st == SX_OK)
            st = contact_store(a, id, smpc_v, agent_v, server, &pub, qa, info, &cmd);
        st = sx_agent_cmd_tx_end(a, st, cmd);
    }
    sx_e2e_private_wipe(&priv);
    SX_TRY(st);
    sx_agent_crash_point("contact-stored");
    return sx_agent_cmd_run_now(a, cmd);
}

/* ---- the owner: requests ---- */

typedef struct req_result {
    bool again; /* the same request again: acknowledged, not shown */
    sx_agent_id inv_id;
    bool pq;
    uint8_t *info;
    size_t info_len;
} req_result;

static sx_status request(sx_agent *a, sx_agent_rq *rq, const sx_client_env *env, req_result *out)
{
    sx_agent_conn conn;
    SX_TRY(sx_agent_store_conn_get(a->store, &rq->conn, &conn));
    SX_ENSURE(conn.mode == SX_AGENT_MODE_CONTACT,
              sx_error_set(SX_E_PROTOCOL, "A_PROHIBITED", "agent: a request to a connection"));
    sx_agent_rcv_queue row;
    SX_TRY(sx_agent_store_rcv_queue_get(a->store, rq->queue_id, &row));
    uint8_t secret[32];
    sx_status st = sx_agent_e2e_dh(row.e2e_priv_key, env->dh, secret);
    sx_wipe(&row, sizeof row);
    SX_TRY(st);
    size_t cap = env->enc_body.len;
    uint8_t *buf = malloc(cap + 1);
    sx_slice cmb;
    sx_client_msg cm;
    sx_agent_env aenv;
    sx_agent_connreq inv;
    memset(&inv, 0, sizeof inv);
    if (!buf)
        st = sx_error_set(SX_E_NOMEM, NULL, NULL);
    if (st == SX_OK)
        st = sx_agent_cb_decrypt(secret, env, buf, cap, &cmb);
    sx_wipe(secret, sizeof secret);
    if (st == SX_OK)
        st = sx_client_msg_decode(cmb, &cm);
    if (st == SX_OK && cm.confirmation)
        st = sx_error_set(SX_E_PROTOCOL, "A_PROHIBITED", "agent: a confirmation to an address");
    if (st == SX_OK)
        st = sx_agent_env_decode(cm.body, &aenv, &inv);
    if (st == SX_OK && aenv.type != SX_AGENT_ENV_INVITATION)
        st = sx_error_set(SX_E_PROTOCOL, "A_PROHIBITED", "agent: not a contact request");
    if (st == SX_OK && aenv.body.len > SX_AGENT_INFO_MAX)
        st = sx_error_set(SX_E_LIMIT, NULL, "agent: the request's info is too long");
    if (st == SX_OK) {
        /* Shown even when we could not join it; post-quantum only when
         * both versions allow it (as the reference's REQ says). */
        uint16_t av = 0, ev = 0;
        out->pq = sx_vrange_common_max(inv.agent_vr, a->agent_vr, &av) &&
                  sx_vrange_common_max(inv.e2e.range, a->e2e_vr, &ev) &&
                  av >= SX_AGENT_V_PQ && ev >= SX_E2E_V_PQ;
        st = sx_agent_store_invitation_find(a->store, &rq->conn, aenv.conn_req, &out->again);
        if (st == SX_OK && !out->again)
            st = sx_agent_store_invitation_create(a->store, &rq->conn, aenv.conn_req, aenv.body,
                                                  &out->inv_id);
    }
    if (st == SX_OK && !out->again && aenv.body.len > 0) {
        out->info = malloc(aenv.body.len);
        if (out->info) {
            memcpy(out->info, aenv.body.ptr, aenv.body.len);
            out->info_len = aenv.body.len;
        }
    }
    sx_agent_connreq_free(&inv);
    if (buf)
        sx_wipe(buf, cap);
    free(buf);
    return st;
}

void sx_agent_on_invitation(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n,
                            const sx_client_env *env)
{
    req_result r;
    memset(&r, 0, sizeof r);
    sx_status st = request(a, rq, env, &r);
    /* Stored (or refused): the router may drop it. */
    sx_agent_ack_router(a, rq, n);
    if (st != SX_OK) {
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, &rq->conn, 0, st, "contact request");
        return;
    }
    if (r.again)
        return;
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SX_AGENT_EV_REQ;
    sx_agent_id_text(&rq->conn, ev.conn);
    sx_agent_id_text(&r.inv_id, ev.inv_id);
    ev.pq = r.pq;
    ev.body = r.info;
    ev.body_len = r.info_len;
    sx_agent_emit_ev(a, &ev);
}

static sx_status accept_locked(sx_agent *a, const sx_agent_id *inv_id, const char *server,
                               sx_slice info, sx_agent_id *id)
{
    sx_slice link, req_info;
    bool accepted = false;
    sx_agent_blob storage = {0};
    SX_TRY(sx_agent_store_invitation_get(a->store, inv_id, &link, &req_info, &accepted, &storage));
    sx_status st = SX_OK;
    if (accepted)
        st = sx_error_set(SX_E_USAGE, NULL, "agent: the request was accepted already");
    sx_agent_connreq cr;
    memset(&cr, 0, sizeof cr);
    if (st == SX_OK)
        st = sx_agent_connreq_parse((const char *)link.ptr, link.len, &cr);
    sx_agent_blob_free(&storage);
    /* Marked accepted with the JOIN command that goes on from here. */
    if (st == SX_OK)
        st = sx_agent_accept_invitation(a, &cr, server, info, inv_id, id);
    sx_agent_connreq_free(&cr);
    return st;
}

static sx_status accept_call(sx_agent *a, const char *corr_id, const char *inv_id,
                             const char *server, const void *info, size_t info_len,
                             char conn_id[SX_AGENT_CONN_ID_TEXT])
{
    SX_ENSURE(a && conn_id && (info || info_len == 0), SX_E_USAGE);
    SX_ENSURE(info_len <= SX_AGENT_INFO_MAX,
              sx_error_set(SX_E_LIMIT, NULL, "agent: info too long"));
    sx_agent_id inv, id;
    SX_TRY(sx_agent_id_parse(inv_id, &inv));
    pthread_mutex_lock(&a->mu);
    a->async_corr = corr_id;
    sx_status st = accept_locked(a, &inv, server, sx_slice_of(info, info_len), &id);
    a->async_corr = NULL;
    pthread_mutex_unlock(&a->mu);
    if (st == SX_OK)
        sx_agent_id_text(&id, conn_id);
    return st;
}

sx_status sx_agent_accept_contact(sx_agent *a, const char *inv_id, const char *server,
                                  const void *info, size_t info_len,
                                  char conn_id[SX_AGENT_CONN_ID_TEXT])
{
    return accept_call(a, NULL, inv_id, server, info, info_len, conn_id);
}

sx_status sx_agent_accept_contact_async(sx_agent *a, const char *corr_id, const char *inv_id,
                                        const char *server, const void *info, size_t info_len,
                                        char conn_id[SX_AGENT_CONN_ID_TEXT])
{
    SX_TRY(sx_agent_corr_check(corr_id));
    return accept_call(a, corr_id, inv_id, server, info, info_len, conn_id);
}

sx_status sx_agent_reject_contact(sx_agent *a, const char *inv_id)
{
    SX_ENSURE(a, SX_E_USAGE);
    sx_agent_id inv;
    SX_TRY(sx_agent_id_parse(inv_id, &inv));
    pthread_mutex_lock(&a->mu);
    sx_status st = sx_agent_store_invitation_delete(a->store, &inv);
    pthread_mutex_unlock(&a->mu);
    return st;
}
