/* The NTF router as an SMP client (PROTOCOL-NOTES G16, G17; reference
 * Notifications/Server.hs ntfSubscriber at 152c30ca68): each subscription's
 * queue notifier subscribed with NSUB through the thread-safe SMP client
 * pool (sx_smp_tpool_*: one connection per SMP router, reconnection and
 * resubscription are the pool's), and a thread taking the pool's notes:
 * SUBSCRIBED -> ACTIVE, a refused NSUB -> AUTH (or ERR <code>), END / DELETED,
 * a disconnection -> INACTIVE, and an NMSG -> the message push of the
 * subscription's token (when it is ACTIVE) with the token's last
 * notifications (subs.h). */
#ifndef SX_NTF_ROUTER_SMPSUB_H
#define SX_NTF_ROUTER_SMPSUB_H

#include "ntf_router/push.h"
#include "ntf_router/subs.h"
#include "ntf_router/svccreds.h"
#include "ntf_router/tokens.h"
#include "simplex/smp.h"

typedef struct sx_ntf_smpsub sx_ntf_smpsub;

/* pusher may be NULL (no APNS: notifications are counted, not pushed).
 * service: NULL, or the certificates (one per SMP router, svccreds.h) with
 * which the pool is a notifier service (PROTOCOL-NOTES G18; NSUB associates
 * each queue, and after a reconnection one NSUBS resubscribes them; routers
 * without services get per-queue NSUB); borrowed, it must outlive the
 * subscriber. The ServiceId of each connection is recorded through it.
 * SX_E_NOMEM / SX_E_INTERNAL. */
SX_MUST_CHECK sx_status sx_ntf_smpsub_start(sx_ntf_subs *subs, sx_ntf_tokens *tokens, sx_ntf_pusher *pusher,
                                            sx_ntf_svccreds *service, sx_ntf_smpsub **out);
/* The pool connects nothing until this is called, once the subscriptions
 * restored at start are all in (so that a service's first NSUBS to each
 * SMP router counts every queue associated before). */
void sx_ntf_smpsub_release(sx_ntf_smpsub *x);
/* Stops the thread and the pool (before subs, tokens and pusher go). */
void sx_ntf_smpsub_stop(sx_ntf_smpsub *x);
/* Subscribes the subscription's notifier (status PENDING); the statuses
 * that allow it at start: NEW, PENDING, ACTIVE, INACTIVE, SERVICE. */
void sx_ntf_smpsub_subscribe(sx_ntf_smpsub *x, const sx_ntf_sub_rec *r);
bool sx_ntf_smpsub_wants(sx_ntf_sub_status st);
/* Lets go of subscription id's notifier (SDEL, TDEL). */
void sx_ntf_smpsub_unsubscribe(sx_ntf_smpsub *x, sx_slice id);
/* NMSG received so far; NSUBS answered (service subscriptions). */
uint64_t sx_ntf_smpsub_received(sx_ntf_smpsub *x);
uint64_t sx_ntf_smpsub_service_subs(sx_ntf_smpsub *x);
/* The router's counters (control.h) NMSG go to. */
void sx_ntf_smpsub_set_counters(sx_ntf_smpsub *x, sx_ntf_stats *counters);
/* The pool's figures (zeros for NULL). */
void sx_ntf_smpsub_pool_stats(sx_ntf_smpsub *x, sx_smp_pool_stats *out);
/* fn for each SMP router of the pool, on its thread (nothing for NULL). */
void sx_ntf_smpsub_routers(sx_ntf_smpsub *x, sx_smp_pool_router_fn fn, void *arg);

#endif
