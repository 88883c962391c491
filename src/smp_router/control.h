/* The SMP router's control port (PROTOCOL-NOTES E32): a line protocol on
 * plain TCP bound to 127.0.0.1, for operators to read counters and to
 * inspect, block, unblock and delete queues.
 *
 * Runs on a thread of its own with its own event loop; it reaches queues
 * through the store's locks, the store log through the log writer, and
 * subscribers by posting to their workers (sx_sub_post). Not a public
 * header: the router starts and stops it (server.c). */
#ifndef SX_ROUTER_CONTROL_H
#define SX_ROUTER_CONTROL_H

#include <stdint.h>

#include "simplex/status.h"

typedef struct sx_router sx_router;
typedef struct sx_control sx_control;

/* Binds 127.0.0.1:r->opts.control_port (0 = ephemeral) and starts serving
 * on a new thread. r must outlive the control port, and its store, log
 * writer and worker loops must exist. SX_E_IO when the port cannot be bound,
 * SX_E_NOMEM, SX_E_INTERNAL when the thread cannot be created. */
SX_MUST_CHECK sx_status sx_control_start(sx_router *r, sx_control **out);
/* The port actually bound. */
uint16_t sx_control_port(const sx_control *c);
/* Closes every control connection, joins the thread and frees c. NULL ok.
 * Call before the router's workers and log writer stop. */
void sx_control_stop(sx_control *c);

#endif
