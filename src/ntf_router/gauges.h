/* The NTF router's SMP subscription and connection gauges split between
 * the operator's own SMP routers ([SUBSCRIBER] own_server_domains) and the
 * others, as the reference's real-time metrics (getNtfRealTimeMetrics in
 * Notifications/Server.hs at 152c30ca68) split them for its Prometheus
 * file and the control port's server-info. Pure functions over a list of
 * per-router figures read from the client pool.
 *
 * Subscription groups: an own router's count is merged by host (routers of
 * one host on several ports are one entry), and a router in the group is
 * listed even with no subscriptions; other routers count only with some,
 * and their server count is of distinct hosts. Connection groups (one
 * subscriber, client and subscription worker per router): each own router
 * is listed by its host, and other routers are counted one by one. */
#ifndef SX_NTF_ROUTER_GAUGES_H
#define SX_NTF_ROUTER_GAUGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SX_NTF_HOST_MAX 256

/* One SMP router's figures. */
typedef struct sx_ntf_router_fig {
    char host[SX_NTF_HOST_MAX];
    bool own;
    bool connected;
    int64_t active;  /* confirmed subscriptions, service ones included */
    int64_t pending; /* waiting or in flight */
    int64_t service; /* queues associated with the router's notifier service */
} sx_ntf_router_fig;

typedef enum sx_ntf_gauge_group {
    SX_NTF_G_SERVICE_ACTIVE,  /* connected, with service subscriptions */
    SX_NTF_G_QUEUE_ACTIVE,    /* connected: its queue (not service) subscriptions */
    SX_NTF_G_SERVICE_PENDING, /* none: a service subscription is sent at once */
    SX_NTF_G_QUEUE_PENDING,   /* with subscriptions waiting */
    SX_NTF_G_SUBSCRIBERS,     /* every router */
    SX_NTF_G_CLIENTS,         /* connected */
    SX_NTF_G_SUB_WORKERS,     /* every router */
    SX_NTF_G_COUNT
} sx_ntf_gauge_group;

/* Connection groups list routers; the others count subscriptions. */
bool sx_ntf_gauge_is_workers(sx_ntf_gauge_group g);

/* Whether r is in group g, and its count there (1 in connection groups). */
bool sx_ntf_gauge_of(const sx_ntf_router_fig *r, sx_ntf_gauge_group g, int64_t *count);

/* The next own entry of group g from *i on (start with *i = 0): its host
 * (borrowed from f) and count; false at the end. */
bool sx_ntf_gauge_own_next(const sx_ntf_router_fig *f, size_t n, sx_ntf_gauge_group g, size_t *i,
                           const char **host, int64_t *count);

/* The own entries' number and summed count, and the other routers' server
 * count and summed count. */
typedef struct sx_ntf_gauge_split {
    int64_t own_entries, own_count;
    int64_t other_servers, other_count;
} sx_ntf_gauge_split;
void sx_ntf_gauge_split_of(const sx_ntf_router_fig *f, size_t n, sx_ntf_gauge_group g, sx_ntf_gauge_split *out);

#endif
