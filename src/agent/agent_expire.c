/* Message expiry (docs/AGENT.md, "Expiry"): a delivery retried past its
 * timeout (the reference's messageTimeout after network errors,
 * quotaExceededTimeout while the peer's queue stays full) fails with MERR,
 * and every older message still waiting on the same send queue fails with
 * it in one MERRS; their deliveries go and so do the messages (no receipt
 * is waited for). */
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
