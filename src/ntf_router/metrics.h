/* The NTF router's Prometheus metrics file (the reference's
 * Notifications/Server/Prometheus.hs at 152c30ca68): its metric names, HELP
 * and TYPE lines and section comments, in its order, made from a copy of
 * the statistics and figures of the running router. Plain text from plain
 * data. The four per-router notification series (..._own, labelled
 * {server="<host>"}) are written as the reference's, when their lines
 * (stats.h) have routers; the subscription and connection gauges are
 * split between own and other SMP routers (gauges.h): _own series labelled
 * by host when there are own routers, the _other ones always. */
#ifndef SX_NTF_ROUTER_METRICS_H
#define SX_NTF_ROUTER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ntf_router/gauges.h"
#include "ntf_router/stats.h"
#include "simplex/status.h"

typedef struct sx_ntf_metrics_in {
    int64_t from_time;
    int64_t c[SX_NTF_STAT_COUNT];
    size_t tokens_active[3], subs_active[3]; /* day, week, month */
    int64_t token_count, sub_count, last_ntf_count;
    int64_t threads;
    int64_t smp_sessions;             /* SMP routers connected */
    const sx_ntf_router_fig *routers; /* the SMP routers' figures (borrowed) */
    size_t n_routers;
    int64_t push_queue;
    const char *version;
    char own[SX_NTF_STATS_OWN][SX_NTF_STATS_OWN_MAX]; /* the per-router lines */
    int64_t now_ms;                                   /* unix milliseconds: the samples' timestamp */
} sx_ntf_metrics_in;

/* The file's text. *out is NUL-terminated; the caller frees it. SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntf_metrics_text(const sx_ntf_metrics_in *in, char **out, size_t *out_len);

/* The period counts of s (day, week, month) and its counters, into in. */
void sx_ntf_metrics_from_stats(sx_ntf_stats *s, sx_ntf_metrics_in *in);


/* Writes text to path through "<path>.tmp". SX_E_IO. */
SX_MUST_CHECK sx_status sx_ntf_metrics_write(const char *path, const char *text, size_t len);

#endif
