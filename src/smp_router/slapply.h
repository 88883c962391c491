/* SMP store-log records (router/slrec.h) and the queue store with the
 * services beside it: applying a record as the reference's replay does
 * (PROTOCOL-NOTES E26; what replay does with each line), and the CREATE
 * record of a live queue (what compaction and the router write). */
#ifndef SX_ROUTER_SLAPPLY_H
#define SX_ROUTER_SLAPPLY_H

#include "kit/logfile.h"
#include "smp_router/slrec.h"
#include "smp_router/slservices.h"
#include "smp_router/store.h"
#include "simplex/status.h"

/* Applies one record to st/svc as the reference's replay does (PROTOCOL-NOTES
 * E26). A record that does not apply is reported through opts and changes
 * nothing: SX_E_AUTH for an unknown or deleted queue, an id clash or a refused
 * change (another sender key, other fixed link data, a taken notifier id, a
 * service conflict), SX_E_LIMIT over our bounds; SX_E_NOMEM. svc may be
 * NULL (services ignored). Single-threaded use (startup). */
SX_MUST_CHECK sx_status sx_slrec_apply(sx_store *st, sx_slservices *svc, const sx_slrec *r,
                                       const sx_kit_log_opts *opts);
/* A new queue (in no store) from a CREATE record, without its services.
 * SX_E_USAGE, SX_E_LIMIT, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_slrec_new_queue(const sx_slrec *r, sx_queue **out);
/* The CREATE record of a live queue's current state; the caller holds
 * the queue lock and keeps q locked while out is used (its slices point into
 * q and svc). svc may be NULL. */
void sx_slrec_from_queue(const sx_queue *q, const sx_slservices *svc, sx_slrec *out);

#endif
