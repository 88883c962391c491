/* The SMP router's control-port commands that report on the running
 * router or save its state (control_info.c); control.c parses the lines
 * and checks the roles before calling them. */
#ifndef SX_SMP_ROUTER_CONTROL_INFO_H
#define SX_SMP_ROUTER_CONTROL_INFO_H

#include "kit/ctlport.h"
#include "smp_router/server_int.h"

/* `stats`: the counters as the reference lists them (the admin also gets
 * "ntfCount 2"). */
void sx_ctl_cmd_stats(sx_kit_ctl_conn *c, sx_router *r);
/* `stats-rts`: ours instead of GHC's: uptime, threads, memory, CPU time,
 * open files. */
void sx_ctl_cmd_stats_rts(sx_kit_ctl_conn *c, sx_router *r);
/* `threads`: the count, then "<tid> (<state>) <name>" per thread. */
void sx_ctl_cmd_threads(sx_kit_ctl_conn *c, sx_router *r);
/* `socket-threads`: one line per worker thread (ports, worker, tid, state,
 * name, connections). */
void sx_ctl_cmd_socket_threads(sx_kit_ctl_conn *c, sx_router *r);
/* `server-info`: threads, clients, subscriptions and subscribed clients
 * (the admin also gets each worker's clients). */
void sx_ctl_cmd_server_info(sx_kit_ctl_conn *c, sx_router *r);
/* `save`: the statistics backup now. */
void sx_ctl_cmd_save(sx_kit_ctl_conn *c, sx_router *r);

#endif
