/* Router kit: the control port's line server (PROTOCOL-NOTES E32, F29a).
 * Every router offers operators a plain-text TCP port bound to 127.0.0.1:
 * a greeting, then one command per line and its answer in lines. This
 * server owns what all routers share: the listener, a thread with its own
 * event loop, at most a few connections, reading lines ('\n' or "\r\n"),
 * buffered answers, the session's role set by "auth", and the command log.
 * The router owns the grammar and the commands: it gets each complete line
 * through on_line, on the control thread, which it may block (waiting for
 * the store log, say) since only operators wait on it. */
#ifndef SX_KIT_CTLPORT_H
#define SX_KIT_CTLPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "simplex/status.h"

#define SX_KIT_CTL_LINE_MAX 4096 /* a longer line ends the connection */

typedef struct sx_kit_ctl sx_kit_ctl;
typedef struct sx_kit_ctl_conn sx_kit_ctl_conn;

/* A session's role, from the password given to "auth". */
typedef enum sx_kit_ctl_role {
    SX_KIT_CTL_NONE = 0,
    SX_KIT_CTL_USER,
    SX_KIT_CTL_ADMIN,
} sx_kit_ctl_role;

/* One complete line without its terminator (len bytes, not NUL-terminated,
 * valid during the call). Runs on the control thread. */
typedef void (*sx_kit_ctl_line_fn)(void *arg, sx_kit_ctl_conn *c, const char *line, size_t len);

typedef struct sx_kit_ctl_opts {
    const char *greeting;       /* first line of every session, e.g. "SMP server control port" */
    uint16_t port;              /* on 127.0.0.1; 0 picks an ephemeral port */
    const char *user_password;  /* NULL: no user role */
    const char *admin_password; /* NULL: no admin role */
    bool quiet;                 /* no command log on stderr */
    sx_kit_ctl_line_fn on_line;
    void *arg;
} sx_kit_ctl_opts;

/* Binds the port and starts the thread. The strings in o are borrowed until
 * sx_kit_ctl_stop. SX_E_IO when the port cannot be bound, SX_E_NOMEM,
 * SX_E_INTERNAL when the thread cannot be created. */
SX_MUST_CHECK sx_status sx_kit_ctl_start(const sx_kit_ctl_opts *o, sx_kit_ctl **out);
/* The port actually bound (0 for NULL). */
uint16_t sx_kit_ctl_port(const sx_kit_ctl *ctl);
/* Closes every connection, joins the thread and frees ctl. NULL ok. */
void sx_kit_ctl_stop(sx_kit_ctl *ctl);

/* ---- for on_line, on the control thread ---- */

/* Queues one answer line (a '\n' is added; longer than 1 KiB is cut). An
 * operator who stops reading while answers pile up is disconnected. */
void sx_kit_ctl_say(sx_kit_ctl_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "auth <password>": the first auth of a session sets its role (none when
 * the password matches neither); later ones only report it. Answers
 * "Current role is CPR...", as the reference does. */
void sx_kit_ctl_auth(sx_kit_ctl_conn *c, sx_slice password);
/* True when the session has at least role need; otherwise logs
 * "Unauthorized control port command" and answers "AUTH". */
bool sx_kit_ctl_allow(sx_kit_ctl_conn *c, sx_kit_ctl_role need);
/* The session's role. */
sx_kit_ctl_role sx_kit_ctl_role_of(const sx_kit_ctl_conn *c);
/* Logs a parsed command (not auth, help or quit) on stderr unless quiet. */
void sx_kit_ctl_log(sx_kit_ctl_conn *c, const char *line, size_t len);
/* The arg given in sx_kit_ctl_opts. */
void *sx_kit_ctl_arg(const sx_kit_ctl_conn *c);
/* Ends the session once its answers are out ("quit"). */
void sx_kit_ctl_quit(sx_kit_ctl_conn *c);

#endif
