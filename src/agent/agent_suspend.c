/* Suspending the agent and bringing it back (docs/AGENT.md "Suspend";
 * the reference's suspendAgent and foregroundAgent): while suspending,
 * nothing more is received and the pending deliveries go on until none is
 * left or the deadline passes; then sending stops too and SUSPENDED is
 * reported. A suspension without delay stops both at once, with no event,
 * as in the reference. Operations in flight (a message being processed, a
 * send waiting for the router) finish either way: both threads look at
 * the state only between them, under a->mu. */
#include "agent/agent_int.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

bool sx_agent_receiving_allowed(const sx_agent *a)
{
    return a->run_state == SX_AGENT_RUN_FOREGROUND;
}

bool sx_agent_sending_allowed(sx_agent *a)
{
    if (a->run_state == SX_AGENT_RUN_FOREGROUND)
        return true;
    if (a->run_state == SX_AGENT_RUN_SUSPENDED)
        return false;
    if (a->n_sqs > 0 && sx_agent_now_ms() < a->suspend_deadline_ms)
        return true;
    a->run_state = SX_AGENT_RUN_SUSPENDED;
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SX_AGENT_EV_SUSPENDED;
    sx_agent_emit_ev(a, &ev);
    return false;
}

int sx_agent_suspend_wait_ms(const sx_agent *a, int ms)
{
    if (a->run_state != SX_AGENT_RUN_SUSPENDING)
        return ms;
    int64_t left = a->suspend_deadline_ms - sx_agent_now_ms();
    if (left < 1)
        return 1;
    return left < ms ? (int)left : ms;
}

sx_status sx_agent_suspend(sx_agent *a, int max_delay_ms)
{
    SX_ENSURE(a && max_delay_ms >= 0, SX_E_USAGE);
    pthread_mutex_lock(&a->mu);
    if (max_delay_ms == 0) {
        a->run_state = SX_AGENT_RUN_SUSPENDED;
    } else if (a->run_state == SX_AGENT_RUN_FOREGROUND) {
        a->run_state = SX_AGENT_RUN_SUSPENDING;
        a->suspend_deadline_ms = sx_agent_now_ms() + max_delay_ms;
    }
    pthread_cond_broadcast(&a->wake);
    pthread_mutex_unlock(&a->mu);
    return SX_OK;
}

sx_status sx_agent_foreground(sx_agent *a)
{
    SX_ENSURE(a, SX_E_USAGE);
    pthread_mutex_lock(&a->mu);
    a->run_state = SX_AGENT_RUN_FOREGROUND;
    pthread_cond_broadcast(&a->wake);
    pthread_cond_broadcast(&a->resume);
    pthread_mutex_unlock(&a->mu);
    return SX_OK;
}

/* The reference's suspendConnection: OFF on each receiving queue of the
 * connection, nothing stored. The router then refuses the peer's sends
 * (AUTH: its MERR) and delivers no more; the queues stay. */
sx_status sx_agent_suspend_connection(sx_agent *a, const char *conn_id)
{
    SX_ENSURE(a, SX_E_USAGE);
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    pthread_mutex_lock(&a->mu);
    sx_agent_conn cn;
    sx_agent_rcv_queue *rqs = NULL;
    size_t nr = 0;
    sx_status st = sx_agent_store_conn_get(a->store, &id, &cn);
    if (st == SX_OK && (cn.state == SX_AGENT_CONN_NEW || cn.state == SX_AGENT_CONN_DELETED))
        st = sx_error_set(SX_E_USAGE, "PROHIBITED", "agent: the connection has no queue to suspend");
    else if (st == SX_OK && cn.state == SX_AGENT_CONN_SND)
        st = sx_error_set(SX_E_USAGE, "SIMPLEX", "agent: the connection has only a sending queue");
    if (st == SX_OK)
        st = sx_agent_store_rcv_queue_list(a->store, &id, &rqs, &nr);
    for (size_t i = 0; i < nr && st == SX_OK; i++) {
        sx_smp_queue *q = NULL;
        st = sx_agent_rq_object(a, &rqs[i], &q);
        if (st == SX_OK) {
            st = sx_smp_tpool_suspend(a->pool, q);
            sx_smp_queue_free(q);
        }
    }
    free(rqs);
    pthread_mutex_unlock(&a->mu);
    return st;
}
