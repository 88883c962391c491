/* The XFTP router's control port (PROTOCOL-NOTES F29a), internal to the server:
 * a thread serving operator connections on 127.0.0.1 against the file store,
 * and the pure parser of its command lines (fuzzed, unit-tested). */
#ifndef SX_XFTP_SERVER_CONTROL_H
#define SX_XFTP_SERVER_CONTROL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "kit/ctlport.h"
#include "simplex/status.h"
#include "smp/error.h"
#include "xftp_router/fstore.h"
#include "xftp_router/server.h"

typedef struct xs_control xs_control;

#define XS_CP_LINE_MAX SX_KIT_CTL_LINE_MAX /* longest command line, terminator included */

typedef enum xs_cp_kind {
    XS_CP_EMPTY = 0, /* an empty line: no answer */
    XS_CP_ERROR,     /* answered "error: <error>" */
    XS_CP_AUTH,
    XS_CP_STATS_RTS,
    XS_CP_DELETE,
    XS_CP_BLOCK,
    XS_CP_HELP,
    XS_CP_QUIT,
} xs_cp_kind;

/* One parsed command line. */
typedef struct xs_cp_cmd {
    xs_cp_kind kind;
    bool loggable;          /* the server logs the line (not auth, help, quit, empty) */
    const char *error;      /* XS_CP_ERROR: static text after "error: " */
    sx_slice password;      /* XS_CP_AUTH: the rest of the line, borrowed */
    uint8_t id[XS_CP_LINE_MAX * 3 / 4]; /* XS_CP_DELETE / BLOCK: decoded recipient id */
    size_t id_len;
    sx_smp_blocking_info info; /* XS_CP_BLOCK */
} xs_cp_cmd;

/* Parses one line (without its "\n" or "\r\n"; len bytes, need not be
 * NUL-terminated) as the reference's ControlProtocol parser does: `auth
 * <password>`, `stats-rts`, `delete <rId>`, `block <rId> <BlockingInfo>`,
 * `help`, `quit`. Anything else is XS_CP_ERROR with the reference's
 * message. Never fails otherwise; out is fully written. */
void xs_cp_parse(const char *line, size_t len, xs_cp_cmd *out);

/* Binds 127.0.0.1:o->control_port (0 = ephemeral) and starts the thread.
 * store and o are borrowed until xs_control_stop. SX_E_IO when the port
 * cannot be bound, SX_E_NOMEM, SX_E_INTERNAL. */
SX_MUST_CHECK sx_status xs_control_start(sx_xftp_server *s, sx_xftp_fstore *store,
                                         const sx_xftp_server_opts *o, xs_control **out);
uint16_t xs_control_port(const xs_control *cp);
/* Stops the thread and closes every connection. Accepts NULL. */
void xs_control_stop(xs_control *cp);

#endif
