/* Message expiry (docs/AGENT.md, "Expiry"): a delivery retried past its
 * timeout (the reference's messageTimeout after network errors,
 * quotaExceededTimeout while the peer's queue stays full) fails with MERR,
 * and every older message still waiting on the same send queue fails with
 * it in one MERRS; their deliveries go and so do the messages (no receipt
 * is waited for). And the periodic cleanup of what is kept only for a while
 * (the reference's cleanup manager, for the agent's messages): sent
 * messages past the receipt window and the hashes kept against
 * re-deliveries. */
#include "agent/agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

bool sx_agent_expired(const sx_agent_delivery *d, unsigned timeout_s)
{
    return d->created_at < (int64_t)time(NULL) - (int64_t)timeout_s;
}

void sx_agent_expire(sx_agent *a, sx_agent_sq *sq, const sx_agent_delivery *d, unsigned timeout_s,
                     sx_status st, const char *why)
{
    char detail[sizeof((sx_agent_event *)0)->detail];
    snprintf(detail, sizeof detail, "expired: %s", why);
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SX_AGENT_EV_MERR;
    sx_agent_id_text(&d->conn_id, ev.conn);
    ev.msg_id = d->internal_id;
    ev.status = st;
    memcpy(ev.detail, detail, sizeof detail);
    sx_status dst = sx_agent_store_delivery_done(a->store, &d->conn_id, sq->queue_id,
                                                 d->internal_id, false);
    sx_agent_emit_ev(a, &ev);
    int64_t *ids = NULL;
    size_t n = 0;
    if (sx_agent_store_delivery_expired(a->store, sq->queue_id,
                                        (int64_t)time(NULL) - (int64_t)timeout_s, &ids,
                                        &n) != SX_OK ||
        n == 0) {
        free(ids);
        (void)dst;
        return;
    }
    /* The deliveries of this queue are of one connection. */
    for (size_t i = 0; i < n; i++)
        dst = sx_agent_store_delivery_done(a->store, &d->conn_id, sq->queue_id, ids[i], false);
    (void)dst;
    memset(&ev, 0, sizeof ev);
    ev.kind = SX_AGENT_EV_MERRS;
    sx_agent_id_text(&d->conn_id, ev.conn);
    ev.msg_id = d->internal_id;
    ev.status = st;
    memcpy(ev.detail, detail, sizeof detail);
    ev.msg_ids = ids;
    ev.n_msg_ids = n;
    sx_agent_emit_ev(a, &ev);
}

/* Rows of each kind one pass deletes at most (the reference's
 * cleanupBatchSize). */
#define CLEANUP_BATCH 10000

int sx_agent_cleanup_due(sx_agent *a)
{
    int64_t now = sx_agent_now_ms();
    if (now < a->next_cleanup_ms) {
        int64_t w = a->next_cleanup_ms - now;
        return w > 1000000 ? 1000000 : (int)w;
    }
    a->next_cleanup_ms = now + a->opts.cleanup_interval_ms;
    /* Not while suspended: the store is left alone then. */
    if (a->run_state == SX_AGENT_RUN_FOREGROUND) {
        sx_agent_cleanup_counts c;
        sx_status st = sx_agent_store_cleanup(
            a->store, (int64_t)time(NULL) - (int64_t)a->opts.stored_msg_ttl_s, CLEANUP_BATCH, &c);
        if (st != SX_OK)
            sx_agent_emit_err(a, SX_AGENT_EV_ERR, NULL, 0, st, "cleanup");
    }
    return (int)(a->opts.cleanup_interval_ms > 1000000 ? 1000000 : a->opts.cleanup_interval_ms);
}
