/* Per-message post-quantum switching (docs/AGENT.md "Per-message PQ"): the
 * API's choice as the ratchet's switch, and the connection's PQ support
 * turned on when PQ is asked for (the reference's sendMessage with
 * PQEncryption on a connection made without PQ). The ratchet's KEM steps
 * do the rest (crypto/ratchet.c). */
#include "agent/agent_int.h"
#include "core/error.h"

sx_status sx_agent_pq_choice(sx_agent_pq pq, sx_pq_enc *out)
{
    switch (pq) {
    case SX_AGENT_PQ_KEEP: *out = SX_PQ_KEEP; return SX_OK;
    case SX_AGENT_PQ_ON: *out = SX_PQ_ON; return SX_OK;
    case SX_AGENT_PQ_OFF: *out = SX_PQ_OFF; return SX_OK;
    default: return sx_error_set(SX_E_USAGE, NULL, "agent: unknown PQ choice");
    }
}

sx_status sx_agent_pq_support_on(sx_agent *a, sx_agent_conn *cn)
{
    if (cn->pq_support)
        return SX_OK;
    cn->pq_support = true;
    return sx_agent_store_conn_update(a->store, cn);
}
