/* The NTF router's push thread (PROTOCOL-NOTES G21, G23, G24; reference
 * Notifications/Server.hs ntfPush and periodicNtfsThread at 152c30ca68): one
 * queue of pushes served by one thread through the APNS client in batches
 * of up to SX_NTF_APNS_BATCH_MAX pushes in flight at once (concurrent HTTP/2
 * streams), at most one per token in a batch so that each token's pushes
 * arrive in the order they were queued; and every periodic interval the
 * periodic ("checkMessages") pushes of the ACTIVE tokens whose cron interval
 * has passed. What each answer does to the token: a delivered verification
 * makes it CONFIRMED, a delivered periodic push records when, an
 * invalid-token answer makes it INVALID,<reason>; a connection failure or an
 * answer asking for it is tried once more on a new connection. */
#ifndef SX_NTF_ROUTER_PUSH_H
#define SX_NTF_ROUTER_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "ntf_router/apns_client.h"
#include "ntf_router/control.h"
#include "ntf_router/tokens.h"

#define SX_NTF_PERIODIC_INTERVAL 300 /* seconds: the reference's periodicNtfsInterval */
#define SX_NTF_PUSH_QUEUE_MAX 65536  /* pushes waiting; more are dropped, reported */

typedef struct sx_ntf_pusher sx_ntf_pusher;

/* Starts the thread; the pusher owns client from here (also on failure).
 * periodic_s 0: SX_NTF_PERIODIC_INTERVAL. SX_E_NOMEM / SX_E_INTERNAL. */
SX_MUST_CHECK sx_status sx_ntf_pusher_start(sx_ntf_tokens *tokens, sx_ntf_apns_client *client,
                                            unsigned periodic_s, sx_ntf_pusher **out);
/* Stops the thread; what is still queued is not sent. */
void sx_ntf_pusher_stop(sx_ntf_pusher *p);

/* Queues the verification push of token r (with its registration code), or
 * a message push with this payload (PROTOCOL-NOTES G22), sent only if the
 * token is ACTIVE when its turn comes. false when the queue is full or for
 * an apns_null token (never pushed). */
bool sx_ntf_pusher_verify(sx_ntf_pusher *p, const sx_ntf_tkn_rec *r);
/* own: the host of the notification's SMP router when it is one of the
 * operator's own (its delivered / failed line, stats.h), or NULL / "". */
bool sx_ntf_pusher_message(sx_ntf_pusher *p, const sx_ntf_tkn_rec *r, sx_slice payload, const char *own);

typedef struct sx_ntf_push_stats {
    uint64_t delivered, failed, retried, dropped;
} sx_ntf_push_stats;

void sx_ntf_pusher_stats(sx_ntf_pusher *p, sx_ntf_push_stats *out);
/* The router's counters (control.h) the pushes' outcomes go to (NULL:
 * none); set before the first push. Pushes waiting in the queue. */
void sx_ntf_pusher_set_counters(sx_ntf_pusher *p, sx_ntf_stats *counters);
size_t sx_ntf_pusher_queued(sx_ntf_pusher *p);

#endif
