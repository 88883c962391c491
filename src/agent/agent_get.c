/* Taking one message from a connection's receiving queue with GET
 * (docs/AGENT.md, "Polling"; the reference's getConnectionMessages, for
 * queues made without a subscription, SMOnlyCreate): for an agent opened
 * with no_subscribe, whose queues are not subscribed, the message is then
 * processed as a subscribed one would be (its events: CONF, INFO, CON,
 * MSG, ...) and acknowledged to the router with the GET's own ACK. */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/util.h"

/* The connection's receiving queue for GET: kept as a polled queue (not
 * subscribed) from its store row the first time. NULL with *st set. */
static sx_agent_rq *polled_rq(sx_agent *a, const sx_agent_id *id, sx_status *st)
{
    *st = SX_OK;
    for (size_t i = 0; i < a->n_rqs; i++) {
        sx_agent_rq *rq = &a->rqs[i];
        if (rq->gone || memcmp(rq->conn.b, id->b, sizeof id->b) != 0)
            continue;
        if (!rq->polled) {
            *st = sx_error_set(SX_E_USAGE, NULL,
                               "agent: the connection's queue is subscribed: its messages come as events");
            return NULL;
        }
        return rq;
    }
    sx_agent_rcv_queue *rows = NULL;
    size_t nr = 0;
    *st = sx_agent_store_rcv_queue_list(a->store, id, &rows, &nr);
    if (*st == SX_OK && nr == 0)
        *st = sx_error_set(SX_E_USAGE, NULL, "agent: the connection has no receiving queue");
    size_t pick = 0;
    for (size_t i = 0; *st == SX_OK && i < nr; i++)
        if (rows[i].primary)
            pick = i;
    sx_smp_queue *q = NULL;
    if (*st == SX_OK)
        *st = sx_agent_rq_object(a, &rows[pick], &q);
    int64_t qid = *st == SX_OK ? rows[pick].queue_id : 0;
    if (rows)
        sx_wipe(rows, nr * sizeof *rows);
    free(rows);
    if (*st == SX_OK)
        *st = sx_agent_rq_add_polled(a, qid, id, q); /* takes q */
    if (*st != SX_OK)
        return NULL;
    return &a->rqs[a->n_rqs - 1];
}

/* The GET pool's own notes (its connections coming and going) are not
 * the agent's events: dropped. */
static void drain(sx_smp_tpool *tp)
{
    for (;;) {
        sx_smp_pool_note n;
        memset(&n, 0, sizeof n);
        if (sx_smp_tpool_next(tp, 0, &n) != SX_OK || n.kind == 0)
            return;
        sx_smp_pool_note_clear(&n);
    }
}

sx_status sx_agent_rq_subscribe_polled(sx_agent *a, sx_agent_rq *rq)
{
    SX_TRY(sx_smp_tpool_subscribe(a->pool, rq->q));
    rq->polled = false;
    rq->sub_wanted = false;
    return SX_OK;
}

static sx_status get_locked(sx_agent *a, const sx_agent_id *id, bool *got)
{
    sx_status st;
    sx_agent_rq *rq = polled_rq(a, id, &st);
    if (rq == NULL)
        return st;
    SX_ENSURE(!rq->has_pending,
              sx_error_set(SX_E_USAGE, NULL, "agent: acknowledge the last message first"));
    sx_smp_pool_note n;
    memset(&n, 0, sizeof n);
    if (a->gpool == NULL)
        SX_TRY(sx_agent_pool_new(a, &a->gpool));
    sx_status gst = sx_smp_tpool_get(a->gpool, rq->q, &n.ev);
    drain(a->gpool);
    SX_TRY(gst);
    if (n.ev.kind == SX_SMP_EVENT_NONE) {
        sx_smp_pool_note_clear(&n);
        return SX_OK;
    }
    *got = true;
    n.kind = SX_SMP_POOL_MESSAGE;
    n.queue = rq->q;
    n.ev.queue = rq->q;
    /* rq stays valid: nothing below adds queues to a->rqs before it is
     * used (the processing may add others, after its last use of rq). */
    sx_agent_on_rq_note(a, rq, &n);
    sx_smp_pool_note_clear(&n);
    return SX_OK;
}

sx_status sx_agent_get_message(sx_agent *a, const char *conn_id, bool *got)
{
    SX_ENSURE(a && got, SX_E_USAGE);
    *got = false;
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    pthread_mutex_lock(&a->mu);
    sx_status st = get_locked(a, &id, got);
    pthread_mutex_unlock(&a->mu);
    return st;
}
