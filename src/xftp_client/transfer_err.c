/* Whole-file XFTP transfers: what a failure means for the person running
 * it. One table turns the router's XFTP errors into sentences that name the
 * cause and what to do, by the step that got them (an AUTH answer to an
 * upload means a missing password, to a download a used or deleted file);
 * connection failures are told by the step they stopped at. The messages
 * keep the error's name in parentheses, so that scripts can still look for
 * it. */
#include "xftp_client/transfer_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "smp/address.h"

typedef struct hint {
    sx_xftp_err_type type;
    unsigned ops; /* bit (1 << op) for each step it applies to; 0: every step */
    const char *text;
} hint;

#define OP(x) (1u << (x))
#define SENDING OP(XT_OP_UPLOAD)
#define RECEIVING (OP(XT_OP_DOWNLOAD) | OP(XT_OP_ACK))

/* The first entry that matches the error and the step is taken. */
static const hint HINTS[] = {
    {SX_XFTP_ERR_AUTH, SENDING,
     "the router refused the upload (AUTH): it needs a password in the server address "
     "(xftp://fingerprint:password@host), or the one given is wrong, or it takes no new files"},
    {SX_XFTP_ERR_AUTH, RECEIVING,
     "the router does not have this file (AUTH): the description was used already (each one can be "
     "received once), or the sender deleted the file, or it expired"},
    {SX_XFTP_ERR_AUTH, OP(XT_OP_DELETE),
     "the router does not have this file (AUTH): it was deleted already, or it expired"},
    {SX_XFTP_ERR_BLOCKED, 0, "the file was blocked by the router's operator (BLOCKED)"},
    {SX_XFTP_ERR_QUOTA, 0,
     "the router has no room for the file (QUOTA): send it through another router, or ask the router's "
     "operator for more storage"},
    {SX_XFTP_ERR_SIZE, SENDING, "the router does not take chunks of this size (SIZE)"},
    {SX_XFTP_ERR_SIZE, 0, "a chunk is not of the size the description gives (SIZE): the description is damaged"},
    {SX_XFTP_ERR_DIGEST, SENDING, "the chunk arrived damaged at the router (DIGEST): try again"},
    {SX_XFTP_ERR_DIGEST, 0,
     "a chunk does not match its digest (DIGEST): the router sent other data than was uploaded"},
    {SX_XFTP_ERR_CRYPTO, 0,
     "a chunk could not be decrypted (CRYPTO): the description or the router's copy is damaged"},
    {SX_XFTP_ERR_NO_FILE, 0, "the file is not on the router yet (NO_FILE): its upload did not finish"},
    {SX_XFTP_ERR_FILE_IO, 0,
     "the router could not use its storage (FILE_IO): try again later, or tell the router's operator"},
    {SX_XFTP_ERR_TIMEOUT, 0,
     "the router did not answer in time (TIMEOUT): the network is slow or the router is busy; try again, "
     "or with more attempts"},
    {SX_XFTP_ERR_INTERNAL, 0, "the router failed (INTERNAL): try again later, or tell the router's operator"},
    {SX_XFTP_ERR_HANDSHAKE, 0,
     "the XFTP handshake failed (HANDSHAKE): the server is not an XFTP router, or has no protocol version "
     "in common with this client"},
    {SX_XFTP_ERR_SESSION, 0, "the router answered for another session (SESSION): try again"},
    {SX_XFTP_ERR_BLOCK, 0, "the router's answer could not be read (BLOCK): is it an XFTP router?"},
    {SX_XFTP_ERR_CMD, 0,
     "the router did not take the command (CMD): it may run a version this client does not work with"},
    {SX_XFTP_ERR_HAS_FILE, 0, "the router has this chunk already (HAS_FILE)"},
};

const char *xt_error_hint(xt_op op, sx_xftp_err_type t)
{
    for (size_t i = 0; i < sizeof HINTS / sizeof HINTS[0]; i++)
        if (HINTS[i].type == t && (HINTS[i].ops == 0 || (HINTS[i].ops & OP(op))))
            return HINTS[i].text;
    return NULL;
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
        const char *h = xt_error_hint(op, t);
        if (h)
            snprintf(out, cap, "%s", h);
        else
            snprintf(out, cap, "the router answered %s", sx_xftp_err_name(t));
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
