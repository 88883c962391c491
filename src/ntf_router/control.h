/* The NTF router's counters and control port (reference
 * Notifications/Server/Stats.hs and Control.hs, runCPServer in
 * Notifications/Server.hs at 152c30ca68): the counters the reference's
 * `stats` lists, and the port over the router kit's line server
 * (kit/ctlport.h): greeting "Ntf server control port", `auth`, `stats`
 * (user), `stats-rts` (our process's figures where the reference prints
 * its runtime's), `server-info` (any role: SMP connections and
 * subscriptions on own and other routers, the own routers' hosts for the
 * admin role only, the push queue), `help`, `quit`. The statistics themselves are in stats.h. */
#ifndef SX_NTF_ROUTER_CONTROL_H
#define SX_NTF_ROUTER_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "ntf_router/gauges.h"
#include "ntf_router/stats.h"
#include "simplex/status.h"

/* What server-info shows, read when asked. routers (n_routers of them) is
 * malloc'd by the info function and freed by the control port. */
typedef struct sx_ntf_ctl_info {
    uint64_t smp_sessions, push_queue;
    sx_ntf_router_fig *routers;
    size_t n_routers;
} sx_ntf_ctl_info;
typedef void (*sx_ntf_ctl_info_fn)(void *arg, sx_ntf_ctl_info *out);

typedef struct sx_ntf_control sx_ntf_control;

typedef struct sx_ntf_control_opts {
    uint16_t port;                              /* 0: an ephemeral port */
    const char *user_password, *admin_password; /* copied; NULL: no such role */
    sx_ntf_stats *stats;
    sx_ntf_ctl_info_fn info;
    void *info_arg;
} sx_ntf_control_opts;

/* SX_E_IO (the port), SX_E_NOMEM, SX_E_INTERNAL. */
SX_MUST_CHECK sx_status sx_ntf_control_start(const sx_ntf_control_opts *o, sx_ntf_control **out);
uint16_t sx_ntf_control_port(const sx_ntf_control *c);
void sx_ntf_control_stop(sx_ntf_control *c);

#endif
