#include "agent/version.h"

sx_version_range sx_agent_vrange(void) { return (sx_version_range){SX_AGENT_V_MIN, SX_AGENT_V_MAX}; }

sx_version_range sx_smpc_vrange(void) { return (sx_version_range){SX_SMPC_V_MIN, SX_SMPC_V_MAX}; }

sx_version_range sx_e2e_vrange(void) { return (sx_version_range){SX_E2E_V_MIN, SX_E2E_V_MAX}; }

bool sx_vrange_valid(sx_version_range r) { return r.min > 0 && r.min <= r.max; }

bool sx_vrange_intersect(sx_version_range a, sx_version_range b, sx_version_range *out)
{
    if (!sx_vrange_valid(a) || !sx_vrange_valid(b))
        return false;
    uint16_t lo = a.min > b.min ? a.min : b.min;
    uint16_t hi = a.max < b.max ? a.max : b.max;
    if (lo > hi)
        return false;
    if (out)
        *out = (sx_version_range){lo, hi};
    return true;
}

bool sx_vrange_common_max(sx_version_range a, sx_version_range b, uint16_t *v)
{
    sx_version_range r;
    if (!sx_vrange_intersect(a, b, &r))
        return false;
    if (v)
        *v = r.max;
    return true;
}
