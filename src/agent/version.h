#ifndef SX_AGENT_VERSION_H
#define SX_AGENT_VERSION_H

/* The version ranges the agent speaks (docs/AGENT.md "Versions") and the choice of
 * one version from two ranges. Three independent ranges travel in links and
 * handshakes: the agent protocol's, the SMP client's (in queue URIs) and the
 * end-to-end ratchet's. */

#include <stdbool.h>
#include <stdint.h>

#include "core/reader.h"

/* Agent protocol: 2 duplex handshake, 3 ratchet re-synchronisation, 4
 * delivery receipts, 5 post-quantum ratchet, 6 sender's auth key in the
 * confirmation, 7 ratchet initialised on confirmation. */
enum {
    SX_AGENT_V_MIN = 2,
    SX_AGENT_V_RATCHET_SYNC = 3,
    SX_AGENT_V_RECEIPTS = 4,
    SX_AGENT_V_PQ = 5,
    SX_AGENT_V_SND_AUTH_KEY = 6,
    SX_AGENT_V_RATCHET_ON_CONF = 7,
    SX_AGENT_V_MAX = 7,
};

/* SMP client versions in queue URIs: 2 host lists, 3 sender's auth key
 * (k=s), 4 short links and the queue mode (q=m / q=c). */
enum {
    SX_SMPC_V_MIN = 1,
    SX_SMPC_V_HOSTS = 2,
    SX_SMPC_V_SND_AUTH = 3,
    SX_SMPC_V_SHORT_LINKS = 4,
    SX_SMPC_V_MAX = 4,
};

/* End-to-end (ratchet) versions: 2 KDF in X3DH, 3 post-quantum KEM. */
enum {
    SX_E2E_V_MIN = 2,
    SX_E2E_V_PQ = 3,
    SX_E2E_V_MAX = 3,
};

/* The ranges this agent supports. */
sx_version_range sx_agent_vrange(void);
sx_version_range sx_smpc_vrange(void);
sx_version_range sx_e2e_vrange(void);

/* Whether a range is well formed (min <= max, min > 0). */
bool sx_vrange_valid(sx_version_range r);

/* The highest version in both ranges: true and *v set when the ranges meet,
 * false when they do not (or either is malformed). */
bool sx_vrange_common_max(sx_version_range a, sx_version_range b, uint16_t *v);

/* The intersection of two ranges: false when empty. */
bool sx_vrange_intersect(sx_version_range a, sx_version_range b, sx_version_range *out);

#endif
