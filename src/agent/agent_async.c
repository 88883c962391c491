/* Asynchronous calls (docs/AGENT.md, "Asynchronous calls"; the reference's
 * createConnectionAsync, joinConnectionAsync, allowConnectionAsync and
 * acceptContactAsync, and prepareConnectionToJoin). An asynchronous call
 * does the store part of its synchronous twin and leaves the network steps
 * to the stored command (agent_cmds.c) with the caller's correlation id
 * beside it; the sending thread runs it, and its end is an event with that
 * id (INV, JOINED, OK, or ERR), also when the agent was closed or crashed
 * before and an agent opened on the store completes it.
 *
 * An invitation made this way keeps its X3DH keys from the call and its
 * link's public half in the NEWI command; the command makes the queue
 * (once: after a crash past NEW's answer the stored queue is used), marks
 * the connection as waiting for the joiner and is deleted in one
 * transaction, then reports INV with the link. */
#include "agent/agent_cmds.h"
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/util.h"

#define NEW_BODY_V 1

_Static_assert(SX_AGENT_CORR_ID_MAX == SX_AGENT_STORE_CORR_MAX,
               "the event's and the store's correlation ids have one size");

sx_status sx_agent_corr_check(const char *corr_id)
{
    SX_ENSURE(corr_id != NULL, SX_E_USAGE);
    size_t n = strnlen(corr_id, SX_AGENT_CORR_ID_MAX + 1);
    SX_ENSURE(n > 0 && n <= SX_AGENT_CORR_ID_MAX,
              sx_error_set(SX_E_USAGE, NULL, "agent: a correlation id is 1 to %d bytes",
                           SX_AGENT_CORR_ID_MAX));
    return SX_OK;
}

/* ---- creating an invitation ---- */

static sx_status create_async_locked(sx_agent *a, const char *server, sx_agent_id *id)
{
    size_t slen = strlen(server);
    SX_ENSURE(slen > 0 && slen < SX_SMP_SERVER_TEXT_MAX,
              sx_error_set(SX_E_USAGE, NULL, "agent: a router address of a bad length"));
    bool pq = !a->opts.pq_off && a->e2e_vr.max >= SX_E2E_V_PQ;
    sx_e2e_private priv;
    sx_e2e_params pub;
    SX_TRY(sx_e2e_generate(a->e2e_vr.max, pq ? SX_USE_KEM_PROPOSE : SX_USE_KEM_NO, NULL, NULL,
                           &priv, &pub));
    uint8_t e2eb[4096];
    sx_writer ew;
    sx_writer_init_fixed(&ew, e2eb, sizeof e2eb);
    sx_status st = sx_e2e_params_write(&ew, &pub) ? SX_OK : sx_writer_status(&ew);
    int64_t cmd = 0;
    if (st == SX_OK)
        st = sx_agent_store_begin(a->store);
    if (st == SX_OK) {
        st = sx_agent_conn_new(a, SX_AGENT_MODE_INVITATION, a->agent_vr.max, pq, id);
        if (st == SX_OK)
            st = sx_agent_store_x3dh_save(a->store, id, a->e2e_vr.max, &priv);
        if (st == SX_OK) {
            sx_writer w;
            sx_writer_init_dynamic(&w, 8192);
            if (sx_write_u8(&w, NEW_BODY_V) &&
                sx_write_large(&w, sx_slice_of((const uint8_t *)server, slen)))
                (void)sx_write_large(&w, sx_writer_slice(&ew));
            st = sx_agent_cmd_store(a, id, SX_AGENT_CMD_NEW, &w, &cmd);
        }
        st = sx_agent_cmd_tx_end(a, st, cmd);
    }
    sx_e2e_private_wipe(&priv);
    SX_TRY(st);
    return sx_agent_cmd_run_now(a, cmd); /* leaves it to the sending thread */
}

sx_status sx_agent_create_invitation_async(sx_agent *a, const char *corr_id, const char *server,
                                           char conn_id[SX_AGENT_CONN_ID_TEXT])
{
    SX_ENSURE(a && server && conn_id, SX_E_USAGE);
    SX_TRY(sx_agent_corr_check(corr_id));
    sx_agent_id id;
    pthread_mutex_lock(&a->mu);
    a->async_corr = corr_id;
    sx_status st = create_async_locked(a, server, &id);
    a->async_corr = NULL;
    pthread_mutex_unlock(&a->mu);
    if (st == SX_OK)
        sx_agent_id_text(&id, conn_id);
    return st;
}

sx_status sx_agent_async_run_new(sx_agent *a, const sx_agent_command *c)
{
    sx_reader rd;
    sx_reader_init(&rd, c->body.ptr, c->body.len);
    uint8_t v = 0;
    sx_slice server = {0}, e2eb = {0};
    if (!sx_read_u8(&rd, &v) || v != NEW_BODY_V || !sx_read_large(&rd, &server) ||
        !sx_read_large(&rd, &e2eb) || rd.off != rd.len || server.len == 0 ||
        server.len >= SX_SMP_SERVER_TEXT_MAX)
        return sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored command does not decode");
    sx_e2e_params pub;
    SX_TRY(sx_e2e_params_decode(e2eb, &pub));
    char srv[SX_SMP_SERVER_TEXT_MAX];
    memcpy(srv, server.ptr, server.len);
    srv[server.len] = '\0';

    /* The queue: made once (a crash after NEW's answer was stored finds
     * it). */
    sx_agent_rcv_queue *rqs = NULL;
    size_t nr = 0;
    SX_TRY(sx_agent_store_rcv_queue_list(a->store, &c->conn_id, &rqs, &nr));
    sx_agent_queue q;
    memset(&q, 0, sizeof q);
    sx_status st = SX_OK;
    if (nr > 0) {
        st = sx_agent_rq_address(a, &rqs[0], &q);
    } else {
        int64_t qid = 0;
        st = sx_agent_new_rcv_queue(a, &c->conn_id, srv, sx_agent_inv_queue_mode(a), 0, &qid,
                                    &q);
        if (st == SX_OK)
            sx_agent_crash_point("new-queue");
    }
    if (rqs)
        sx_wipe(rqs, nr * sizeof *rqs);
    free(rqs);
    SX_TRY(st);
    char *link = NULL;
    SX_TRY(sx_agent_invitation_link(a, &q, &pub, &link));
    st = sx_agent_store_begin(a->store);
    if (st == SX_OK) {
        st = sx_agent_store_conn_set_state(a->store, &c->conn_id, SX_AGENT_CONN_RCV);
        if (st == SX_OK)
            st = sx_agent_store_cmd_complete(a->store, c->command_id);
        if (st == SX_OK)
            st = sx_agent_store_commit(a->store);
        else
            sx_agent_store_rollback(a->store);
    }
    if (st == SX_OK)
        sx_agent_emit_corr(a, SX_AGENT_EV_INV, &c->conn_id, c->corr_id,
                           sx_slice_of(link, strlen(link)), SX_OK);
    free(link);
    return st;
}

/* ---- acknowledging a message ---- */

sx_status sx_agent_ack_async(sx_agent *a, const char *corr_id, const char *conn_id, int64_t msg_id)
{
    SX_ENSURE(a, SX_E_USAGE);
    SX_TRY(sx_agent_corr_check(corr_id));
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    sx_writer w;
    sx_writer_init_dynamic(&w, 16);
    if (sx_write_u8(&w, NEW_BODY_V))
        (void)sx_write_i64(&w, msg_id);
    int64_t cmd = 0;
    pthread_mutex_lock(&a->mu);
    a->async_corr = corr_id;
    sx_status st = sx_agent_store_begin(a->store);
    if (st == SX_OK) {
        st = sx_agent_cmd_store(a, &id, SX_AGENT_CMD_ACK, &w, &cmd);
        st = sx_agent_cmd_tx_end(a, st, cmd);
    } else {
        sx_writer_cleanup(&w);
    }
    if (st == SX_OK)
        st = sx_agent_cmd_run_now(a, cmd); /* leaves it to the sending thread */
    a->async_corr = NULL;
    pthread_mutex_unlock(&a->mu);
    return st;
}

sx_status sx_agent_async_run_ack(sx_agent *a, const sx_agent_command *c)
{
    sx_reader rd;
    sx_reader_init(&rd, c->body.ptr, c->body.len);
    uint8_t v = 0;
    int64_t msg_id = 0;
    if (!sx_read_u8(&rd, &v) || v != NEW_BODY_V || !sx_read_i64(&rd, &msg_id) ||
        rd.off != rd.len)
        return sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored command does not decode");
    /* Storing the ack again after a crash changes nothing; the router's ACK
     * is best effort as sx_agent_ack's (a lost one: the message comes
     * again and is known by its hash). */
    SX_TRY(sx_agent_ack_locked(a, &c->conn_id, msg_id));
    return sx_agent_store_cmd_complete(a->store, c->command_id);
}

/* ---- a connection prepared for joining ---- */

sx_status sx_agent_prepare_join(sx_agent *a, char conn_id[SX_AGENT_CONN_ID_TEXT])
{
    SX_ENSURE(a && conn_id, SX_E_USAGE);
    sx_agent_id id;
    pthread_mutex_lock(&a->mu);
    sx_status st = sx_agent_conn_new(a, SX_AGENT_MODE_INVITATION, a->agent_vr.max,
                                     !a->opts.pq_off, &id);
    pthread_mutex_unlock(&a->mu);
    if (st == SX_OK)
        sx_agent_id_text(&id, conn_id);
    return st;
}

sx_status sx_agent_prepared_take(sx_agent *a, const sx_agent_id *id, uint16_t agent_v, bool pq)
{
    sx_agent_conn c;
    SX_TRY(sx_agent_store_conn_get(a->store, id, &c));
    sx_agent_rcv_queue *rqs = NULL;
    sx_agent_snd_queue *sqs = NULL;
    size_t nr = 0, ns = 0;
    sx_status st = sx_agent_store_rcv_queue_list(a->store, id, &rqs, &nr);
    if (st == SX_OK)
        st = sx_agent_store_snd_queue_list(a->store, id, &sqs, &ns);
    if (rqs)
        sx_wipe(rqs, nr * sizeof *rqs);
    if (sqs)
        sx_wipe(sqs, ns * sizeof *sqs);
    free(rqs);
    free(sqs);
    SX_TRY(st);
    SX_ENSURE(c.mode == SX_AGENT_MODE_INVITATION && c.state == SX_AGENT_CONN_NEW && nr == 0 &&
                  ns == 0,
              sx_error_set(SX_E_USAGE, NULL, "agent: not a connection prepared for joining"));
    c.agent_version = agent_v;
    c.pq_support = pq;
    return sx_agent_store_conn_update(a->store, &c);
}

static sx_status join_prepared_call(sx_agent *a, const char *corr_id, const char *conn_id,
                                    const char *link, const char *server, const void *info,
                                    size_t info_len)
{
    SX_ENSURE(a && conn_id && link && (info || info_len == 0), SX_E_USAGE);
    SX_ENSURE(info_len <= SX_AGENT_INFO_MAX, sx_error_set(SX_E_LIMIT, NULL, "agent: info too long"));
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    SX_ENSURE(!sx_agent_is_short_link(link),
              sx_error_set(SX_E_USAGE, NULL, "agent: a prepared connection joins a full link"));
    sx_agent_connreq cr;
    memset(&cr, 0, sizeof cr);
    sx_status st = sx_agent_connreq_parse(link, strlen(link), &cr);
    if (st == SX_OK && cr.mode != SX_CONN_INVITATION)
        st = sx_error_set(SX_E_USAGE, NULL, "agent: a prepared connection joins an invitation");
    if (st == SX_OK) {
        pthread_mutex_lock(&a->mu);
        a->async_corr = corr_id;
        st = sx_agent_join_invitation_prepared(a, &cr, server, sx_slice_of(info, info_len), &id);
        a->async_corr = NULL;
        pthread_mutex_unlock(&a->mu);
    }
    sx_agent_connreq_free(&cr);
    return st;
}

sx_status sx_agent_join_prepared(sx_agent *a, const char *conn_id, const char *link,
                                 const char *server, const void *info, size_t info_len)
{
    return join_prepared_call(a, NULL, conn_id, link, server, info, info_len);
}

sx_status sx_agent_join_async(sx_agent *a, const char *corr_id, const char *conn_id,
                              const char *link, const char *server, const void *info,
                              size_t info_len)
{
    SX_TRY(sx_agent_corr_check(corr_id));
    return join_prepared_call(a, corr_id, conn_id, link, server, info, info_len);
}
