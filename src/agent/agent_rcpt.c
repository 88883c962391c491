/* Delivery receipts (docs/AGENT.md, "Delivery receipts"; agent version 4
 * and up). The recipient acknowledges an A_MSG with a receipt: A_RCVD
 * with the sender's id of the message and its hash goes back to the
 * sender. The sender's agent checks the hash against the message it kept,
 * records the outcome and reports RCVD (ok / bad hash) with the ids of its
 * sent messages; once the application acknowledges the RCVD, the messages
 * confirmed ok are deleted (sx_agent_ack_locked). */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* What an A_RCVD of one receipt adds to an A_MSG of the same length:
 * count, sender's id, shortString hash, Large length (the 'M' tag of the
 * A_MSG and the 'V' of the A_RCVD are one byte each). */
#define RCPT_OVERHEAD (1 + 8 + 1 + SX_AGENT_HASH_LEN + 2)

size_t sx_agent_max_rcpt_info(void)
{
    return sx_agent_max_body() - RCPT_OVERHEAD;
}

sx_status sx_agent_ack_receipt(sx_agent *a, const char *conn_id, int64_t msg_id,
                               const void *rcpt_info, size_t rcpt_info_len)
{
    SX_ENSURE(a && (rcpt_info || rcpt_info_len == 0), SX_E_USAGE);
    SX_ENSURE(rcpt_info_len <= sx_agent_max_rcpt_info(),
              sx_error_set(SX_E_LIMIT, NULL, "agent: the receipt info is too long"));
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    pthread_mutex_lock(&a->mu);
    sx_agent_conn cn;
    sx_agent_rcv_info ri;
    memset(&ri, 0, sizeof ri);
    sx_status st = sx_agent_store_conn_get(a->store, &id, &cn);
    if (st == SX_OK && cn.state != SX_AGENT_CONN_DUPLEX)
        st = sx_error_set(SX_E_USAGE, NULL, "agent: the connection is not established");
    if (st == SX_OK)
        st = sx_agent_store_rcv_msg_get(a->store, &id, msg_id, &ri);
    if (st == SX_OK && !sx_agent_is_a_msg(sx_slice_of(ri.body.ptr, ri.body.len)))
        st = sx_error_set(SX_E_USAGE, "PROHIBITED", "agent: a receipt is only for a message");
    if (st == SX_OK)
        st = sx_agent_ack_locked(a, &id, msg_id);
    /* A peer below version 4 would not understand A_RCVD: no receipt. */
    if (st == SX_OK && cn.agent_version >= SX_AGENT_V_RECEIPTS) {
        sx_agent_msg *m = calloc(1, sizeof *m);
        if (!m) {
            st = sx_error_set(SX_E_NOMEM, NULL, NULL);
        } else {
            m->kind = SX_AGENT_MSG_MESSAGE;
            m->msg.type = SX_AMSG_A_RCVD;
            m->msg.count = 1;
            m->msg.u.rcvd[0].agent_msg_id = ri.external_snd_id;
            m->msg.u.rcvd[0].msg_hash = sx_slice_of(ri.internal_hash, SX_AGENT_HASH_LEN);
            m->msg.u.rcvd[0].rcpt_info = sx_slice_of(rcpt_info, rcpt_info_len);
            int64_t iid = 0;
            st = sx_agent_enqueue(a, &id, m, NULL, false, &iid);
            free(m);
        }
    }
    pthread_mutex_unlock(&a->mu);
    sx_agent_blob_free(&ri.body);
    return st;
}

/* One receipt: its outcome for the RCVD event, or false (an error was
 * reported, or its ok receipt was reported before). */
static bool one_receipt(sx_agent *a, const sx_agent_id *conn, int64_t iid,
                        const sx_amsg_receipt *r, sx_agent_receipt *out)
{
    sx_agent_snd_rcpt sm;
    bool found = false;
    sx_status st = sx_agent_store_snd_msg_for_rcpt(a->store, conn, r->agent_msg_id, &sm, &found);
    if (st == SX_OK && !found)
        st = sx_error_set(SX_E_USAGE, "A_MESSAGE", "no such sent message");
    /* Kept after delivery its body is empty; still waiting it is there. */
    if (st == SX_OK && sm.body.len > 0 &&
        !sx_agent_is_a_msg(sx_agent_stored_msg(sx_slice_of(sm.body.ptr, sm.body.len))))
        st = sx_error_set(SX_E_PROTOCOL, "PROHIBITED", "not a message");
    bool report = false;
    if (st == SX_OK && sm.status != SX_AGENT_RCPT_OK) {
        bool ok = r->msg_hash.len == SX_AGENT_HASH_LEN &&
                  memcmp(r->msg_hash.ptr, sm.internal_hash, SX_AGENT_HASH_LEN) == 0;
        st = sx_agent_store_snd_msg_rcpt_set(a->store, conn, r->agent_msg_id, iid,
                                             ok ? SX_AGENT_RCPT_OK : SX_AGENT_RCPT_BAD_HASH);
        if (st == SX_OK) {
            out->msg_id = sm.internal_id;
            out->ok = ok;
            report = true;
        }
    }
    if (st != SX_OK)
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, conn, 0, st, "receipt");
    if (found)
        sx_agent_blob_free(&sm.body);
    return report;
}

void sx_agent_on_rcvd(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n, int64_t iid,
                      const sx_amessage *m)
{
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.receipts = calloc(m->count ? m->count : 1, sizeof *ev.receipts);
    for (size_t i = 0; i < m->count && ev.receipts; i++)
        if (one_receipt(a, &rq->conn, iid, &m->u.rcvd[i], &ev.receipts[ev.n_receipts]))
            ev.n_receipts++;
    if (ev.n_receipts == 0) {
        free(ev.receipts);
        sx_agent_ack_router(a, rq, n);
        return;
    }
    ev.kind = SX_AGENT_EV_RCVD;
    sx_agent_id_text(&rq->conn, ev.conn);
    ev.msg_id = iid;
    ev.broker_ts = n->ev.timestamp;
    sx_agent_rq_hold(rq, n, iid);
    sx_agent_emit_ev(a, &ev);
}
