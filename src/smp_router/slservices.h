/* The services of the SMP store log (NEW_SERVICE, QUEUE_SERVICE, rsrv=,
 * nsrv=; PROTOCOL-NOTES E25): the queue store has no service support yet, so
 * they are kept in this table beside it, filled by replay and written back
 * at compaction, services first. Not thread-safe: the owner serialises. */
#ifndef SX_ROUTER_SLSERVICES_H
#define SX_ROUTER_SLSERVICES_H

#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "smp_router/slrec.h"
#include "simplex/status.h"

/* Services and their queues. */
typedef struct sx_slservices sx_slservices;

SX_MUST_CHECK sx_status sx_slservices_new(sx_slservices **out);
void sx_slservices_free(sx_slservices *s);
size_t sx_slservices_count(const sx_slservices *s);
/* Service i in the order added; valid until the table changes. */
const sx_slservice *sx_slservices_at(const sx_slservices *s, size_t i);
/* Registers a service as the reference's replay does: a known certificate
 * hash with the same role keeps the existing service (SX_OK, *existing_id
 * set to its id, which may differ); with another role SX_E_AUTH; a new
 * hash whose id is taken SX_E_AUTH; otherwise the service is copied in.
 * existing_id may be NULL. SX_E_NOMEM, SX_E_LIMIT (id too long). */
SX_MUST_CHECK sx_status sx_slservices_add(sx_slservices *s, const sx_slservice *svc, sx_slice *existing_id);
/* Sets (len > 0) or clears (len 0) the recipient ('R') or notifier ('N')
 * service of queue rid (a hash table: constant time; each distinct service
 * id is stored once). SX_E_USAGE for another party, SX_E_LIMIT for an id over SX_SL_SERVICE_ID_MAX or more than 65535
 * distinct ids, SX_E_NOMEM. Clearing never allocates. */
SX_MUST_CHECK sx_status sx_slservices_set_queue(sx_slservices *s, const uint8_t rid[SX_ID_LEN], uint8_t party,
                                                sx_slice service);
/* The services of queue rid (len 0 when none); valid until the table changes. */
void sx_slservices_queue(const sx_slservices *s, const uint8_t rid[SX_ID_LEN], sx_slice *rsrv, sx_slice *nsrv);
/* The service whose certificate hash is cert_hash, or NULL. */
const sx_slservice *sx_slservices_by_cert(const sx_slservices *s, sx_slice cert_hash);
/* Calls fn for each queue whose party ('R' or 'N') service is service_id, in
 * no particular order; fn must not change the table. */
void sx_slservices_each_queue(const sx_slservices *s, uint8_t party, sx_slice service_id,
                              void (*fn)(void *arg, const uint8_t rid[SX_ID_LEN]), void *arg);
/* Forgets both services of rid (queue deleted). */
void sx_slservices_forget_queue(sx_slservices *s, const uint8_t rid[SX_ID_LEN]);

#endif
