/* The SMP router's Prometheus metrics file (the reference's
 * Server/Prometheus.hs at 152c30ca68): its metric names, labels, HELP and
 * TYPE lines, made from a copy of the statistics and figures of the
 * running router. Plain text from plain data: no router internals here. */
#ifndef SX_SMP_ROUTER_METRICS_H
#define SX_SMP_ROUTER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "smp_router/stats.h"
#include "simplex/status.h"

#define SX_SMP_METRICS_PORTS 8

/* Figures of the running router (the reference's RealTimeMetrics). */
typedef struct sx_smp_metrics_rt {
    size_t n_ports;
    uint16_t port[SX_SMP_METRICS_PORTS];
    uint64_t accepted[SX_SMP_METRICS_PORTS], closed[SX_SMP_METRICS_PORTS], active[SX_SMP_METRICS_PORTS],
        leaked[SX_SMP_METRICS_PORTS];
    int64_t threads, clients;
    /* subscriptions with a message delivered and not yet acknowledged, and
     * their clients; the age of those deliveries per period (0-60, 60-300,
     * 300-1200, 1200-3600, 3600+ seconds) and the oldest */
    int64_t delivered_subs, delivered_clients;
    int64_t pending[5], pending_max;
    int64_t smp_subs, smp_sub_clients, ntf_subs, ntf_sub_clients;
    int64_t loaded_queues, loaded_notifiers;
} sx_smp_metrics_rt;

typedef struct sx_smp_metrics_in {
    const sx_smp_stats_data *d; /* a snapshot */
    size_t active[3], active_ntf[3];
    sx_smp_entity_counts ent;
    sx_smp_metrics_rt rt;
    const int64_t *ack; /* SX_SMP_ACK_BUCKETS counts */
    int64_t ack_sum;
    const char *version;
    int64_t now_ms; /* unix milliseconds: the samples' timestamp */
} sx_smp_metrics_in;

/* The file's text. *out is NUL-terminated; the caller frees it. SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_smp_metrics_text(const sx_smp_metrics_in *in, char **out, size_t *out_len);

#endif
