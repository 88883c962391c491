/* TCP socket helpers: connect with a timeout, listen, accept, readiness wait.
 * Every socket returned here is non-blocking and close-on-exec, ready for
 * sx_tls_conn_new_*; the caller owns it and closes it with sx_net_close. */
#ifndef SX_TRANSPORT_NET_H
#define SX_TRANSPORT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "simplex/status.h"

/* Resolves host (name or numeric address) and connects to port, trying each
 * address in turn for at most timeout_ms in total (negative: no limit).
 * Sets TCP_NODELAY. Errors: SX_E_USAGE (NULL host or port 0), SX_E_IO (name
 * not resolved, refused, unreachable or timed out). */
SX_MUST_CHECK sx_status sx_net_connect(const char *host, uint16_t port, int timeout_ms, int *fd);

/* Non-blocking connect in steps, for event loops: an address is resolved
 * (sx_net_addr_numeric never blocks; sx_net_resolve may, so it belongs off
 * the loop thread), sx_net_connect_start begins the connect, and once the
 * socket is writable sx_net_connect_finish tells how it went. */
typedef struct sx_net_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} sx_net_addr;

#define SX_NET_MAX_ADDRS 8

/* Fills out from a numeric IPv4 or IPv6 host, without name resolution.
 * SX_E_USAGE when host is not a numeric address or port is 0. */
SX_MUST_CHECK sx_status sx_net_addr_numeric(const char *host, uint16_t port, sx_net_addr *out);

/* Resolves host (name or numeric) into at most max addresses (*n of them).
 * BLOCKS on the system resolver. Errors: SX_E_USAGE, SX_E_IO (not resolved). */
SX_MUST_CHECK sx_status sx_net_resolve(const char *host, uint16_t port, sx_net_addr *out, size_t max, size_t *n);

/* Opens a non-blocking socket and starts connecting it to a; *fd is then the
 * caller's, to be watched for writability. Errors (no socket left):
 * SX_E_IO (socket failed or the connect was refused at once). */
SX_MUST_CHECK sx_status sx_net_connect_start(const sx_net_addr *a, int *fd);

/* After a started connect's socket became writable (or reported an error):
 * SX_OK and TCP_NODELAY set when connected, SX_E_IO when it failed. */
SX_MUST_CHECK sx_status sx_net_connect_finish(int fd);

/* Listens on host:port (host numeric, e.g. "127.0.0.1" or "::1"; port 0
 * picks an ephemeral port) with SO_REUSEADDR. *bound_port (may be NULL)
 * receives the port actually bound. Errors: SX_E_USAGE, SX_E_IO; when bind
 * or listen fails, the error detail (core/error.h) reads "cannot listen on
 * port N: <reason>". */
SX_MUST_CHECK sx_status sx_net_listen(const char *host, uint16_t port, int backlog, int *fd,
                                      uint16_t *bound_port);
/* The errno of bind or listen when this thread's last sx_net_listen failed
 * there (EADDRINUSE, EACCES...), 0 otherwise: the router programs choose the
 * fix they print from it. */
int sx_net_listen_errno(void);

/* Accepts one connection, waiting up to timeout_ms (0: do not wait, then
 * SX_E_WOULD_BLOCK when none is queued; negative: no limit). Sets
 * TCP_NODELAY. Errors: SX_E_WOULD_BLOCK (nothing within the timeout), SX_E_IO. */
SX_MUST_CHECK sx_status sx_net_accept(int listen_fd, int timeout_ms, int *fd);
/* Accepts one connection queued on a non-blocking listener, without
 * waiting, as sx_net_accept, and gives the peer's address as 16 bytes (an
 * IPv4 address in its IPv4-mapped IPv6 form; zeros for other families).
 * SX_E_WOULD_BLOCK when none is queued; SX_E_IO with *err set to accept's
 * errno (EMFILE and ENFILE: out of descriptors). */
SX_MUST_CHECK sx_status sx_net_accept_peer(int listen_fd, int *fd, uint8_t peer[16], int *err);

/* Waits until fd is readable (want_write false) or writable (true) or
 * timeout_ms passes (negative: no limit). SX_OK when ready (also on error or
 * hang-up, so that the next I/O call reports it), SX_E_WOULD_BLOCK on
 * timeout, SX_E_IO when poll fails. */
SX_MUST_CHECK sx_status sx_net_wait(int fd, bool want_write, int timeout_ms);

/* Closes fd if it is not negative. */
void sx_net_close(int fd);

#endif
