/* Whole-file XFTP transfers: what a failure means for the person running
 * it. The router's XFTP errors are told by the library's shared table
 * (sx_error_explain, src/core/errhint.c), by the step that got them (an AUTH
 * answer to an upload means a missing password, to a download a used or
 * deleted file); connection failures are told here by the step they
 * stopped at. The messages keep the error's name in parentheses, so that
 * scripts can still look for it. */
#include "xftp_client/transfer_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "smp/address.h"

/* The step of the shared error table (sx_error_explain) for a transfer's step. */
static sx_error_step table_step(xt_op op)
{
    switch (op) {
    case XT_OP_UPLOAD: return SX_STEP_XFTP_SEND;
    case XT_OP_DOWNLOAD:
    case XT_OP_ACK: return SX_STEP_XFTP_RECV;
    case XT_OP_DELETE: return SX_STEP_XFTP_DELETE;
    }
    return SX_STEP_ANY;
}

void xt_connect_reason(const sx_xftp_connect_fail *f, const char *host, unsigned port, char *out, size_t cap)
{
    switch (f->step) {
    case SX_XFTP_STEP_ADDRESS:
        snprintf(out, cap, "the address has no host this client can connect to (.onion hosts need a proxy)");
        break;
    case SX_XFTP_STEP_RESOLVE:
        snprintf(out, cap, "cannot find the host %s: check its name and the network", host);
        break;
    case SX_XFTP_STEP_TCP:
        snprintf(out, cap, "cannot connect to %s:%u: %s: is the router running, and is this its port?", host, port,
                 f->sys_errno == ETIMEDOUT ? "timed out" : strerror(f->sys_errno ? f->sys_errno : ECONNREFUSED));
        break;
    case SX_XFTP_STEP_IDENTITY:
        snprintf(out, cap,
                 "the server at %s:%u is not the router of this address: its identity does not match the "
                 "fingerprint (a wrong fingerprint, or the port of another server, such as an SMP router)",
                 host, port);
        break;
    case SX_XFTP_STEP_TLS:
        snprintf(out, cap, "TLS with %s:%u failed: is this an XFTP router's port?", host, port);
        break;
    case SX_XFTP_STEP_ALPN:
        snprintf(out, cap,
                 "the server at %s:%u does not answer as an XFTP router: it refused the protocol xftp/1 in TLS "
                 "(the port of another server, such as an SMP router?)",
                 host, port);
        break;
    case SX_XFTP_STEP_CANCELLED: snprintf(out, cap, "interrupted"); break;
    case SX_XFTP_STEP_HANDSHAKE:
        snprintf(out, cap, "%s:%u does not answer as an XFTP router: is this an XFTP router's port?", host, port);
        break;
    default: snprintf(out, cap, "cannot connect to %s:%u", host, port); break;
    }
}

/* The host and port a connection to s goes to: its first host that is not
 * an onion address. */
static void target(const sx_xftp_fd_server *s, char *host, size_t cap, unsigned *port)
{
    host[0] = '\0';
    *port = s->port;
    for (size_t i = 0; i < s->host_count; i++)
        if (s->host_kind[i] != SX_SMP_HOST_ONION) {
            if (sx_server_address_host(s, i, host, cap) != SX_OK)
                host[0] = '\0';
            return;
        }
}

void xt_fail_reason(const sx_xftp_transfer_opts *o, const conn_pool *pool, size_t server, xt_op op,
                    sx_xftp_client *c, sx_status st, char *out, size_t cap)
{
    char host[SX_XFTP_FD_SERVER_MAX + 1];
    unsigned port = 0;
    if (pool && server < pool->n)
        target(&pool->servers[server], host, sizeof host, &port);
    else
        snprintf(host, sizeof host, "?");
    if ((c && sx_xftp_client_cancelled(c)) || xt_cancelled(o)) {
        snprintf(out, cap, "interrupted");
        return;
    }
    if (!c && pool && pool->connect_failed) {
        xt_connect_reason(&pool->fail, host, port, out, cap);
        return;
    }
    sx_xftp_err_type t = c ? sx_xftp_client_error(c).type : 0;
    if (t != 0) {
        xt_set_code(o, sx_xftp_err_name(t));
        sx_error_explain(table_step(op), sx_xftp_err_name(t), out, cap);
        return;
    }
    bool xftp = c && sx_xftp_client_negotiated(c);
    switch (st) {
    case SX_E_CLOSED:
    case SX_E_PROTOCOL:
        if (c && !xftp)
            snprintf(out, cap,
                     "the server at %s:%u does not answer as an XFTP router (it did not negotiate xftp/1): is this "
                     "an XFTP router's port?",
                     host, port);
        else if (st == SX_E_CLOSED)
            snprintf(out, cap, "the router at %s:%u closed the connection: try again", host, port);
        else
            snprintf(out, cap, "the router at %s:%u answered something this client cannot read", host, port);
        break;
    case SX_E_IO: snprintf(out, cap, "the connection to %s:%u failed: try again", host, port); break;
    default: snprintf(out, cap, "%s", sx_strerror(st)); break;
    }
}

void xt_retry_reason(const conn_pool *pool, size_t server, sx_xftp_client *c, sx_status st, char *out, size_t cap)
{
    char host[SX_XFTP_FD_SERVER_MAX + 1] = "?";
    unsigned port = 0;
    if (pool && server < pool->n)
        target(&pool->servers[server], host, sizeof host, &port);
    if (!c && pool && pool->connect_failed) {
        xt_connect_reason(&pool->fail, host, port, out, cap);
        return;
    }
    sx_xftp_err_type t = c ? sx_xftp_client_error(c).type : 0;
    if (t != 0)
        snprintf(out, cap, "the router answered %s", sx_xftp_err_name(t));
    else
        snprintf(out, cap, "%s", st == SX_E_CLOSED ? "the connection was closed" : sx_strerror(st));
}

const char *xt_local_reason(sx_status st)
{
    switch (st) {
    case SX_E_IO: return "a file could not be read or written (is the disk full?)";
    case SX_E_LIMIT: return "it is too large";
    case SX_E_NOMEM: return "out of memory";
    case SX_E_PROTOCOL: return "the data is damaged";
    case SX_E_AUTH: return "the data does not check out";
    default: return sx_strerror(st);
    }
}
