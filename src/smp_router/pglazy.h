/* store_queues: database, read on demand as the reference does: the router
 * starts with the services and the queues' service associations only, and
 * reads a queue from msg_queues the first time one of its ids is used
 * (sx_store_set_loader); the queues read and created since the start stay in
 * memory. Figures over all queues (counts, expiry) come from the database. */
#ifndef SX_ROUTER_PGLAZY_H
#define SX_ROUTER_PGLAZY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kit/pgdb.h"
#include "smp_router/pgschema.h"
#include "smp_router/pgqueues.h"
#include "smp_router/slservices.h"
#include "smp_router/store.h"

/* Reads every service and the services of the live queues that have one
 * into svc, and makes st read its queues from db on demand. opts as for
 * sx_slrec_apply. SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_pglazy_start(sx_pgdb *db, sx_store *st, sx_slservices *svc, const sx_kit_log_opts *opts,
                                        sx_pgq_stats *stats);
/* The live queue whose party id is id, as a new queue with its message
 * count (msg_queue_size); *out NULL when there is none. SX_E_IO, SX_E_NOMEM,
 * SX_E_PROTOCOL (a row that does not decode, reported). */
SX_MUST_CHECK sx_status sx_pglazy_read(sx_pgdb *db, sx_party party, const uint8_t id[SX_ID_LEN], sx_queue **out);

/* Live queues, notifiers and stored messages (the sum of msg_queue_size). */
SX_MUST_CHECK sx_status sx_pglazy_counts(sx_pgdb *db, int64_t *queues, int64_t *notifiers, int64_t *msgs);

/* Calls fn for every live queue (only those with messages when with_msgs)
 * that st does not hold in memory, each a new queue in no store, freed after
 * fn; in pages of a few hundred rows, no connection held while fn runs.
 * SX_E_IO, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_pglazy_each_unloaded(sx_pgdb *db, sx_store *st, bool with_msgs,
                                                void (*fn)(sx_queue *q, void *arg), void *arg);

#endif
