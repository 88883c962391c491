/* The XFTP router as its program runs it: the server (store, HTTP/2
 * workers, statistics; server.c) and, when configured, the control port
 * (server_control.c) on top of it. Kept apart so that the server knows
 * nothing of the control port, which reaches it through server_int.h. */
#include "xftp_router/server.h"

#include "xftp_router/server_control.h"
#include "xftp_router/server_int.h"

sx_status sx_xftp_server_start(const sx_xftp_server_opts *opts, sx_xftp_server **out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    *out = NULL;
    sx_xftp_server *s;
    SX_TRY(xs_server_start(opts, &s));
    if (opts->has_control_port) {
        sx_status st = xs_control_start(s, s->store, &s->opts, &s->control);
        if (st != SX_OK) {
            xs_server_stop(s);
            return st;
        }
    }
    *out = s;
    return SX_OK;
}

void sx_xftp_server_stop(sx_xftp_server *s)
{
    if (!s)
        return;
    xs_control_stop(s->control);
    s->control = NULL;
    xs_server_stop(s);
}

uint16_t sx_xftp_server_control_port(const sx_xftp_server *s)
{
    return s ? xs_control_port(s->control) : 0;
}
