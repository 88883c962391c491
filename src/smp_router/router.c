/* The SMP router as its program runs it: the server (workers, ports,
 * store, store log; server.c) and, when configured, the control port
 * (control.c) on top of it. Kept apart so that the server knows nothing of
 * the control port, which reaches the server through server_int.h. */
#include "smp_router/server.h"

#include "smp_router/control.h"
#include "smp_router/server_int.h"

sx_status sx_router_start(const sx_router_opts *opts, sx_router **out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    *out = NULL;
    sx_router *r;
    SX_TRY(sx_server_start(opts, &r));
    if (opts->maintenance) {
        *out = r;
        return SX_OK;
    }
    sx_status ost = sx_expiry_start(r);
    if (ost != SX_OK) {
        (void)sx_server_stop(r);
        return ost;
    }
    ost = sx_ops_start(r);
    if (ost != SX_OK) {
        sx_expiry_stop(r);
        (void)sx_server_stop(r);
        return ost;
    }
    if (opts->has_control_port) {
        /* PROTOCOL-NOTES E32: on 127.0.0.1; it posts to the running workers. */
        sx_status st = sx_control_start(r, &r->control);
        if (st != SX_OK) {
            sx_ops_stop(r);
            sx_expiry_stop(r);
            (void)sx_server_stop(r);
            return st;
        }
    }
    *out = r;
    return SX_OK;
}

sx_status sx_router_stop(sx_router *r)
{
    if (!r)
        return SX_OK;
    /* The control port first: it posts to the workers and uses the log writer. */
    sx_control_stop(r->control);
    r->control = NULL;
    sx_ops_stop(r);
    sx_expiry_stop(r);
    return sx_server_stop(r);
}

uint16_t sx_router_control_port(const sx_router *r)
{
    return sx_control_port(r->control);
}
