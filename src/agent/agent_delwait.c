/* Deleting a connection after its pending deliveries (docs/AGENT.md,
 * "Deleting after delivery"; the reference's deleteConnectionsAsync with
 * waitDelivery; AGENT-STORE.md rule 9): the receiving queues go at once
 * (DEL on their routers, DEL_RCVQ for each; one whose router cannot be
 * reached is tried again, agent_qdel.c, and the connection stays until it
 * is gone), the connection is marked
 * deleted with the time, the messages already queued are still delivered
 * (SENT, MERR as usual), and once none is left, or the wait's limit has
 * passed, the connection and whatever is left of it go: DEL_CONN. */
#include "agent/agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "crypto/util.h"

static void emit_del_conn(sx_agent *a, const sx_agent_id *id)
{
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SX_AGENT_EV_DEL_CONN;
    sx_agent_id_text(id, ev.conn);
    sx_agent_emit_ev(a, &ev);
}

/* The connection goes now, with its send queues and deliveries left. */
static sx_status finish(sx_agent *a, const sx_agent_id *id)
{
    for (size_t i = 0; i < a->n_sqs;)
        if (memcmp(a->sqs[i].conn.b, id->b, sizeof id->b) == 0)
            sx_agent_sq_remove_at(a, i);
        else
            i++;
    sx_status st = sx_agent_store_conn_delete(a->store, id);
    if (st == SX_OK)
        emit_del_conn(a, id);
    return st;
}

static void forget_at(sx_agent *a, size_t i)
{
    a->delw[i] = a->delw[--a->n_delw];
}

void sx_agent_delwait_forget(sx_agent *a, const sx_agent_id *id)
{
    for (size_t i = 0; i < a->n_delw; i++)
        if (memcmp(a->delw[i].conn.b, id->b, sizeof id->b) == 0) {
            forget_at(a, i);
            return;
        }
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static sx_status remember(sx_agent *a, const sx_agent_id *id, int64_t deleted_at_ms)
{
    if (a->n_delw == a->cap_delw) {
        size_t nc = a->cap_delw ? a->cap_delw * 2 : 4;
        sx_agent_delw *v = realloc(a->delw, nc * sizeof *v);
        if (v == NULL)
            return sx_error_set(SX_E_NOMEM, NULL, NULL);
        a->delw = v;
        a->cap_delw = nc;
    }
    a->delw[a->n_delw].conn = *id;
    a->delw[a->n_delw].deadline_ms = deleted_at_ms + (int64_t)a->opts.delete_wait_s * 1000;
    a->n_delw++;
    return SX_OK;
}

static sx_status delete_wait_locked(sx_agent *a, const sx_agent_id *id)
{
    sx_agent_conn c;
    SX_TRY(sx_agent_store_conn_get(a->store, id, &c));
    SX_ENSURE(c.state != SX_AGENT_CONN_DELETED,
              sx_error_set(SX_E_USAGE, NULL, "agent: the connection is deleted already"));
    bool any_kept = false;
    SX_TRY(sx_agent_conn_rqs_delete(a, id, true, &any_kept));
    int64_t now = wall_ms();
    size_t pending = 0;
    SX_TRY(sx_agent_store_conn_deliveries(a->store, id, &pending));
    if (pending == 0 && !any_kept)
        return finish(a, id);
    SX_TRY(sx_agent_store_conn_set_deleted(a->store, id, now / 1000));
    SX_TRY(remember(a, id, now));
    pthread_cond_broadcast(&a->wake);
    return SX_OK;
}

sx_status sx_agent_delete_wait(sx_agent *a, const char *conn_id)
{
    SX_ENSURE(a, SX_E_USAGE);
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    pthread_mutex_lock(&a->mu);
    sx_status st = delete_wait_locked(a, &id);
    pthread_mutex_unlock(&a->mu);
    return st;
}

sx_status sx_agent_delwait_load(sx_agent *a)
{
    sx_agent_id *ids = NULL;
    int64_t *ats = NULL;
    size_t n = 0;
    SX_TRY(sx_agent_store_conn_deleted_list(a->store, &ids, &ats, &n));
    sx_status st = SX_OK;
    for (size_t i = 0; i < n && st == SX_OK; i++)
        st = remember(a, &ids[i], ats[i] * 1000);
    free(ids);
    free(ats);
    return st;
}

static sx_status rcv_left(sx_agent *a, const sx_agent_id *id, size_t *n)
{
    sx_agent_rcv_queue *rqs = NULL;
    SX_TRY(sx_agent_store_rcv_queue_list(a->store, id, &rqs, n));
    if (rqs)
        sx_wipe(rqs, *n * sizeof *rqs);
    free(rqs);
    return SX_OK;
}

int sx_agent_delwait_due(sx_agent *a)
{
    int64_t next = -1;
    int64_t now = wall_ms();
    for (size_t i = 0; i < a->n_delw;) {
        sx_agent_id id = a->delw[i].conn;
        size_t pending = 0;
        sx_status st = sx_agent_store_conn_deliveries(a->store, &id, &pending);
        /* a queue whose DEL is tried again (agent_qdel.c) keeps it */
        size_t rq_left = 0;
        if (st == SX_OK)
            st = rcv_left(a, &id, &rq_left);
        bool waiting = pending > 0 && now < a->delw[i].deadline_ms;
        if (st == SX_OK && (rq_left > 0 || waiting)) {
            int64_t w = a->delw[i].deadline_ms - now;
            if (waiting && (next < 0 || w < next))
                next = w; /* otherwise looked at again with the sender's next pass */
            i++;
            continue;
        }
        if (st == SX_OK)
            st = finish(a, &id);
        if (st != SX_OK)
            sx_agent_emit_err(a, SX_AGENT_EV_ERR, &id, 0, st, "delete");
        forget_at(a, i);
    }
    return next > 1000000 ? 1000000 : (int)next;
}
