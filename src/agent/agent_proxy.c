/* Private message routing of the agent's sends (docs/AGENT.md "Private
 * routing"): the agent's options mapped onto its pool's (the pool decides
 * per send, as the reference's sendOrProxySMPCommand), the warning of a
 * send that a proxy could not forward, and the send counters. */
#include <string.h>

#include "agent/agent_int.h"
#include "core/error.h"

sx_status sx_agent_proxy_pool_opts(const sx_agent_opts *o, sx_smp_pool_opts *po)
{
    switch (o->proxy_mode) {
    case SX_AGENT_PROXY_NEVER: po->proxy_mode = SX_SMP_PROXY_NEVER; break;
    case SX_AGENT_PROXY_ALWAYS: po->proxy_mode = SX_SMP_PROXY_ALWAYS; break;
    case SX_AGENT_PROXY_UNKNOWN: po->proxy_mode = SX_SMP_PROXY_UNKNOWN; break;
    case SX_AGENT_PROXY_UNPROTECTED: po->proxy_mode = SX_SMP_PROXY_UNPROTECTED; break;
    default: return sx_error_set(SX_E_USAGE, NULL, "agent: unknown proxy_mode");
    }
    switch (o->proxy_fallback) {
    case SX_AGENT_FALLBACK_ALLOW: po->proxy_fallback = SX_SMP_FALLBACK_ALLOW; break;
    case SX_AGENT_FALLBACK_ALLOW_PROTECTED: po->proxy_fallback = SX_SMP_FALLBACK_ALLOW_PROTECTED; break;
    case SX_AGENT_FALLBACK_PROHIBIT: po->proxy_fallback = SX_SMP_FALLBACK_PROHIBIT; break;
    default: return sx_error_set(SX_E_USAGE, NULL, "agent: unknown proxy_fallback");
    }
    if (o->n_routers > 0 && !o->routers)
        return sx_error_set(SX_E_USAGE, NULL, "agent: n_routers without routers");
    for (size_t i = 0; i < o->n_routers; i++)
        if (!o->routers[i])
            return sx_error_set(SX_E_USAGE, NULL, "agent: a NULL router address");
    if (o->proxy_mode != SX_AGENT_PROXY_NEVER && o->n_routers == 0)
        return sx_error_set(SX_E_USAGE, NULL, "agent: a proxy mode needs the user's routers");
    /* As the reference: the proxies are chosen among the user's routers,
     * and those routers are the known ones of the "unknown" modes. The
     * pool copies both lists. */
    po->proxies = o->n_routers ? o->routers : NULL;
    po->n_proxies = o->n_routers;
    po->known_routers = po->proxies;
    po->n_known_routers = o->n_routers;
    po->address_protected = o->address_protected;
    return SX_OK;
}

bool sx_agent_proxy_host_error(const char *code)
{
    /* The reference's serverHostError of a proxy's answer, as the pool
     * reports it: a retry with a warning rather than a failure. */
    return strcmp(code, "PROXY BROKER HOST") == 0 || strcmp(code, "PROXY BROKER TRANSPORT VERSION") == 0;
}

void sx_agent_get_stats(sx_agent *a, sx_agent_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!a)
        return;
    sx_smp_pool_stats ps;
    sx_smp_tpool_get_stats(a->pool, &ps);
    out->sent_direct = ps.sent_direct;
    out->sent_proxied = ps.sent_proxied;
    out->proxy_fallbacks = ps.proxy_fallbacks;
}
