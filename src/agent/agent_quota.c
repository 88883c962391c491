/* A full queue (docs/AGENT.md, "Queue full: QUOTA and QCONT"). The sender's
 * router answers QUOTA when the peer's queue holds its quota of messages:
 * the delivery waits on the slow interval (MWARN for the app). The
 * router then gives the recipient, after the messages it holds, a quota
 * marker: once the recipient reaches it the queue is drained, and its
 * agent sends A_QCONT (the queue's sending address) to the sender, whose
 * agent ends the wait at once (QCONT for the app). */
#include "agent/agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/util.h"

#define SLOW_INCREASE_AFTER_MS 60000
#define SLOW_MAX_MS 21600000u /* 6 hours */

/* A_QCONT with rq's sending address, stored to go to the peer. */
static sx_status send_qcont(sx_agent *a, sx_agent_rq *rq)
{
    sx_agent_rcv_queue row;
    SX_TRY(sx_agent_store_rcv_queue_get(a->store, rq->queue_id, &row));
    sx_agent_msg *m = calloc(1, sizeof *m);
    if (!m) {
        sx_wipe(&row, sizeof row);
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    m->kind = SX_AGENT_MSG_MESSAGE;
    m->msg.type = SX_AMSG_A_QCONT;
    m->msg.count = 1;
    sx_status st = sx_agent_server_of(a, row.server_id, &m->msg.u.qcont.server);
    if (st == SX_OK && row.snd_id_len > sizeof m->msg.u.qcont.sender_id)
        st = sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored sender id is too long");
    if (st == SX_OK) {
        memcpy(m->msg.u.qcont.sender_id, row.snd_id, row.snd_id_len);
        m->msg.u.qcont.sender_id_len = row.snd_id_len;
    }
    sx_wipe(&row, sizeof row);
    int64_t iid = 0;
    if (st == SX_OK)
        st = sx_agent_enqueue(a, &rq->conn, m, NULL, false, &iid);
    free(m);
    return st;
}

void sx_agent_on_quota_marker(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n)
{
    /* Stored before the ACK; it goes out after it (the deliveries run
     * once this note is done), when the queue is empty. Without a send
     * queue (not duplex) there is no way to tell the sender. */
    sx_agent_conn cn;
    if (sx_agent_store_conn_get(a->store, &rq->conn, &cn) == SX_OK &&
        cn.state == SX_AGENT_CONN_DUPLEX) {
        sx_status st = send_qcont(a, rq);
        if (st != SX_OK)
            sx_agent_emit_err(a, SX_AGENT_EV_ERR, &rq->conn, 0, st, "QCONT");
    }
    sx_agent_ack_router(a, rq, n);
}

/* Whether our send queue row is the one addr names: the same sender id on
 * the same port of a host of its router (as the reference, the key hash is
 * not compared). */
static bool same_addr(sx_agent *a, const sx_agent_snd_queue *sq, const sx_agent_qaddr *addr)
{
    if (sq->snd_id_len != addr->sender_id_len ||
        memcmp(sq->snd_id, addr->sender_id, addr->sender_id_len) != 0 ||
        addr->server.host_count == 0)
        return false;
    sx_agent_server srv;
    if (sx_agent_server_of(a, sq->server_id, &srv) != SX_OK ||
        strcmp(srv.port, addr->server.port) != 0)
        return false;
    for (size_t i = 0; i < srv.host_count; i++)
        if (strcmp(srv.host[i], addr->server.host[0]) == 0)
            return true;
    return false;
}

void sx_agent_on_qcont(sx_agent *a, sx_agent_rq *rq, sx_smp_pool_note *n, int64_t iid,
                       const sx_agent_qaddr *addr)
{
    sx_agent_snd_queue *sqs = NULL;
    size_t ns = 0;
    int64_t queue_id = 0;
    if (sx_agent_store_snd_queue_list(a->store, &rq->conn, &sqs, &ns) == SX_OK)
        for (size_t i = 0; i < ns && queue_id == 0; i++)
            if (same_addr(a, &sqs[i], addr))
                queue_id = sqs[i].queue_id;
    if (sqs)
        sx_wipe(sqs, ns * sizeof *sqs);
    free(sqs);
    /* The message is done with: ACK and forget it. */
    sx_agent_ack_router(a, rq, n);
    sx_status dst = sx_agent_store_msg_delete(a->store, &rq->conn, iid);
    (void)dst;
    if (queue_id == 0) {
        sx_agent_emit_err(a, SX_AGENT_EV_ERR, &rq->conn, 0,
                          sx_error_set(SX_E_PROTOCOL, "A_QUEUE", "no such send queue"), "QCONT");
        return;
    }
    bool found = false;
    for (size_t i = 0; i < a->n_sqs; i++)
        if (a->sqs[i].queue_id == queue_id) {
            a->sqs[i].next_try_ms = 0; /* the slow back-off state is kept */
            a->sqs[i].quota = false;
            found = true;
        }
    if (!found)
        if (sx_agent_sq_add(a, queue_id, &rq->conn) != SX_OK)
            return;
    pthread_cond_signal(&a->wake);
    sx_agent_emit(a, SX_AGENT_EV_QCONT, &rq->conn, 0, sx_slice_of(NULL, 0));
}

void sx_agent_quota_wait(sx_agent *a, sx_agent_sq *sq, const sx_agent_delivery *d)
{
    int64_t now = sx_agent_now_ms();
    if (sq->slow_ms == 0 && d->retry_slow_ms > 0) {
        /* The slow interval stored by an earlier process: go on from it,
         * growing from the next QUOTA on (as the fast one, agent_msgflow.c). */
        sq->slow_ms = d->retry_slow_ms > SLOW_MAX_MS ? SLOW_MAX_MS : d->retry_slow_ms;
        sq->slow_first_ms = now - SLOW_INCREASE_AFTER_MS;
    } else if (sq->slow_ms == 0) {
        sq->slow_ms = a->opts.quota_retry_ms;
        sq->slow_first_ms = now;
    } else if (now - sq->slow_first_ms >= SLOW_INCREASE_AFTER_MS && sq->slow_ms < SLOW_MAX_MS) {
        uint64_t nd = (uint64_t)sq->slow_ms * 3 / 2;
        sq->slow_ms = nd > SLOW_MAX_MS ? SLOW_MAX_MS : (unsigned)nd;
    }
    sq->quota = true;
    sq->next_try_ms = now + sq->slow_ms;
    /* Both intervals kept with the message (the reference's RI2State). */
    sx_status rst = sx_agent_store_delivery_retry_set(a->store, &d->conn_id, d->internal_id,
                                                      sq->slow_ms, sq->delay_ms);
    (void)rst;
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SX_AGENT_EV_MWARN;
    sx_agent_id_text(&d->conn_id, ev.conn);
    ev.msg_id = d->internal_id;
    ev.status = SX_E_LIMIT;
    snprintf(ev.detail, sizeof ev.detail, "QUOTA: the peer's queue is full");
    sx_agent_emit_ev(a, &ev);
}
