/* The agent's version ranges (the supported ones, capped by the options
 * for tests of older peers), the connection's agent version raised by the
 * peer's messages, and what the API shows of a connection's versions and
 * of its ratchet's associated data (docs/AGENT.md, "Versions"). */
#include "agent/agent_int.h"

#include <string.h>

#include "core/error.h"
#include "crypto/hash.h"

static sx_status capped(sx_version_range supported, uint16_t cap, const char *what,
                        sx_version_range *out)
{
    *out = supported;
    if (cap == 0)
        return SX_OK;
    if (cap < supported.min || cap > supported.max)
        return sx_error_set(SX_E_USAGE, NULL, "agent: %s out of the supported range", what);
    out->max = cap;
    return SX_OK;
}

sx_status sx_agent_versions_init(sx_agent *a)
{
    SX_TRY(capped(sx_agent_vrange(), a->opts.agent_version_max,
                  "agent_version_max", &a->agent_vr));
    return capped(sx_e2e_vrange(), a->opts.e2e_version_max,
                  "e2e_version_max", &a->e2e_vr);
}

void sx_agent_version_on_msg(sx_agent *a, const sx_agent_id *conn, uint16_t msg_v)
{
    /* The peer speaks every version from our lowest up to the one it
     * announced: the highest common one is the lower of that and ours. A
     * peer below our range has nothing in common with us: no change. */
    if (msg_v < a->agent_vr.min)
        return;
    uint16_t v = msg_v < a->agent_vr.max ? msg_v : a->agent_vr.max;
    bool raised = false;
    sx_status st = sx_agent_store_conn_raise_version(a->store, conn, v, &raised);
    (void)raised;
    if (st != SX_OK)
        sx_error_clear();
}

static sx_status conn_ratchet(sx_agent *a, const char *conn_id, sx_agent_conn *cn, sx_ratchet *r,
                              bool *has_ratchet)
{
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    pthread_mutex_lock(&a->mu);
    sx_status st = sx_agent_store_conn_get(a->store, &id, cn);
    *has_ratchet = false;
    if (st == SX_OK) {
        sx_status rs = sx_agent_store_ratchet_get(a->store, &id, r);
        if (rs == SX_OK)
            *has_ratchet = true;
        else if (rs != SX_E_USAGE)
            st = rs;
        else
            sx_error_clear();
    }
    pthread_mutex_unlock(&a->mu);
    return st;
}

sx_status sx_agent_connection_versions(sx_agent *a, const char *conn_id,
                                       sx_agent_conn_versions *out)
{
    SX_ENSURE(a && conn_id && out, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_agent_conn cn;
    sx_ratchet r;
    memset(&r, 0, sizeof r);
    bool has = false;
    sx_status st = conn_ratchet(a, conn_id, &cn, &r, &has);
    if (st == SX_OK) {
        out->agent = cn.agent_version;
        if (has) {
            out->e2e = r.current;
            out->e2e_max = r.max_supported;
        }
    }
    sx_ratchet_cleanup(&r);
    return st;
}

sx_status sx_agent_ratchet_ad_hash(sx_agent *a, const char *conn_id,
                                   uint8_t out[SX_AGENT_AD_HASH_LEN])
{
    SX_ENSURE(a && conn_id && out, SX_E_USAGE);
    sx_agent_conn cn;
    sx_ratchet r;
    memset(&r, 0, sizeof r);
    bool has = false;
    sx_status st = conn_ratchet(a, conn_id, &cn, &r, &has);
    if (st == SX_OK && !has)
        st = sx_error_set(SX_E_USAGE, NULL, "agent: the connection has no ratchet yet");
    if (st == SX_OK)
        st = sx_sha256(sx_slice_of(r.ad, sizeof r.ad), out);
    sx_ratchet_cleanup(&r);
    return st;
}
