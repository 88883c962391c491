/* The NTF router's counters and control port (reference
 * Notifications/Server/Stats.hs and Control.hs, runCPServer in
 * Notifications/Server.hs at 152c30ca68): the counters the reference's
 * `stats` lists, and the port over the router kit's line server
 * (kit/ctlport.h): greeting "Ntf server control port", `auth`, `stats`
 * (user), `stats-rts` (our process's figures where the reference prints
 * its runtime's), `server-info` (any role: SMP sessions, subscriptions,
 * push queue), `help`, `quit`. Not yet: the stats file, the daily stats
 * log and the daily active tokens and subscriptions. */
#ifndef SX_NTF_ROUTER_CONTROL_H
#define SX_NTF_ROUTER_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "simplex/status.h"

typedef enum sx_ntf_stat {
    SX_NTF_STAT_TKN_CREATED,
    SX_NTF_STAT_TKN_VERIFIED,
    SX_NTF_STAT_TKN_DELETED,
    SX_NTF_STAT_TKN_REPLACED,
    SX_NTF_STAT_SUB_CREATED,
    SX_NTF_STAT_SUB_DELETED,
    SX_NTF_STAT_NTF_RECEIVED,
    SX_NTF_STAT_NTF_DELIVERED,
    SX_NTF_STAT_NTF_FAILED,
    SX_NTF_STAT_NTF_CRON_DELIVERED,
    SX_NTF_STAT_NTF_CRON_FAILED,
    SX_NTF_STAT_NTF_VRF_QUEUED,
    SX_NTF_STAT_NTF_VRF_DELIVERED,
    SX_NTF_STAT_NTF_VRF_FAILED,
    SX_NTF_STAT_NTF_VRF_INVALID_TKN,
    SX_NTF_STAT_COUNT
} sx_ntf_stat;

/* Counters any thread increments (atomically). */
typedef struct sx_ntf_stats {
    int64_t from_time; /* seconds since the epoch */
    uint64_t c[SX_NTF_STAT_COUNT];
} sx_ntf_stats;

void sx_ntf_stats_inc(sx_ntf_stats *s, sx_ntf_stat k);
uint64_t sx_ntf_stats_get(const sx_ntf_stats *s, sx_ntf_stat k);
/* The reference's name ("tknCreated", ...). */
const char *sx_ntf_stat_name(sx_ntf_stat k);

/* What server-info shows, read when asked. */
typedef struct sx_ntf_ctl_info {
    uint64_t smp_sessions, active_subs, pending_subs, service_assoc, push_queue;
} sx_ntf_ctl_info;
typedef void (*sx_ntf_ctl_info_fn)(void *arg, sx_ntf_ctl_info *out);

typedef struct sx_ntf_control sx_ntf_control;

typedef struct sx_ntf_control_opts {
    uint16_t port;                              /* 0: an ephemeral port */
    const char *user_password, *admin_password; /* copied; NULL: no such role */
    const sx_ntf_stats *stats;
    sx_ntf_ctl_info_fn info;
    void *info_arg;
} sx_ntf_control_opts;

/* SX_E_IO (the port), SX_E_NOMEM, SX_E_INTERNAL. */
SX_MUST_CHECK sx_status sx_ntf_control_start(const sx_ntf_control_opts *o, sx_ntf_control **out);
uint16_t sx_ntf_control_port(const sx_ntf_control *c);
void sx_ntf_control_stop(sx_ntf_control *c);

#endif
