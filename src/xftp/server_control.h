/* The XFTP router's control port (F29a), internal to the server: a thread
 * serving operator connections on 127.0.0.1 against the file store. */
#ifndef SX_XFTP_SERVER_CONTROL_H
#define SX_XFTP_SERVER_CONTROL_H

#include <pthread.h>
#include <stdint.h>

#include "simplex/status.h"
#include "xftp/fstore.h"
#include "xftp/server.h"

typedef struct xs_control xs_control;

/* Binds 127.0.0.1:o->control_port (0 = ephemeral) and starts the thread.
 * store and o are borrowed until xs_control_stop. SX_E_IO when the port
 * cannot be bound, SX_E_NOMEM, SX_E_INTERNAL. */
SX_MUST_CHECK sx_status xs_control_start(sx_xftp_server *s, sx_xftp_fstore *store,
                                         const sx_xftp_server_opts *o, xs_control **out);
uint16_t xs_control_port(const xs_control *cp);
/* Stops the thread and closes every connection. Accepts NULL. */
void xs_control_stop(xs_control *cp);

#endif
