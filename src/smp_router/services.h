/* The router's services (PROTOCOL-NOTES B21, E25): the service a client
 * presents in its hello found by its certificate fingerprint or registered
 * with a new id, in the table of the store log (slservices.h). One lock
 * guards every use of that table while the router runs; it is taken after
 * a queue lock, never before one. The commands of a service session are in
 * commands_svc.c. Not a public header. */
#ifndef SX_ROUTER_SERVICES_H
#define SX_ROUTER_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#include "kit/logwriter.h"
#include "smp_router/slservices.h"
#include "smp_router/storelog.h"
#include "transport/smp_handshake.h"

/* Creates the table if there is none (a router without a store log keeps
 * services in memory only). Call with the lock held once the router runs. */
SX_MUST_CHECK sx_status sx_router_services_init(sx_slservices **svc);

/* The handshake's service (s->has_service, verified by the handshake): the
 * id of the service with the same certificate fingerprint, or a new random
 * 24-byte id registered in *table (created if needed) and submitted to lw
 * (NULL: no store log) as NEW_SERVICE. Refused (SX_E_AUTH: the client is
 * told HANDSHAKE BAD_SERVICE) when the fingerprint is known with another
 * role, and for the role this router does not serve yet (proxy). SX_E_NOMEM, SX_E_IO (log). *log_seq: the store-log position the
 * answer must wait for (0: none). */
SX_MUST_CHECK sx_status sx_router_service_assign(sx_slservices **table, sx_kit_logwriter *lw,
                                                 const sx_smp_session *s, uint8_t *id, size_t *id_len,
                                                 uint64_t *log_seq);

/* The lock of the table. */
void sx_router_services_lock(void);
void sx_router_services_unlock(void);

#endif
