/* XRCP session transport (PROTOCOL-NOTES X11): HTTP/2 over the session's
 * TLS connection with the roles reversed, as the reference application
 * does: the host (TLS client) is the HTTP/2 server and the controller (TLS
 * server) the HTTP/2 client. Each command is a POST / whose body is a
 * command body (body.h); the response's body is the host's response body.
 *
 * Blocking calls with timeouts, one request in flight at a time on the
 * client side. Bodies are not held here: what is sent is taken piece by
 * piece from a source as the peer's flow-control window opens (nghttp2's
 * data provider), and what is received is passed to a sink as each DATA
 * frame comes, so a body of any size passes through a fixed amount of
 * memory. An sx_xrcp_h2 borrows the connection and belongs to one
 * thread. */
#ifndef SX_XRCP_H2_H
#define SX_XRCP_H2_H
#include "core/bytes.h"
#include "simplex/status.h"
#include "transport/tls.h"

/* Fills buf with up to cap next bytes of a body (*got), *eof after the
 * last one; a source must give at least one byte or eof. Anything but
 * SX_OK resets the stream and ends the call with that status. */
typedef sx_status (*sx_xrcp_h2_src)(void *arg, uint8_t *buf, size_t cap, size_t *got, bool *eof);
/* Takes the next bytes of stream's body; anything but SX_OK makes the
 * stream fail with that status (its later bytes are dropped). */
typedef sx_status (*sx_xrcp_h2_sink)(void *arg, int32_t stream, sx_slice data);

typedef struct sx_xrcp_h2 sx_xrcp_h2;

/* conn is the session's TLS connection over the socket fd. */
SX_MUST_CHECK sx_status sx_xrcp_h2_new(sx_tls_conn *conn, int fd, bool server, sx_xrcp_h2 **out);
void sx_xrcp_h2_free(sx_xrcp_h2 *h);

/* Client: sends POST / with the body src gives and waits for the whole
 * response, whose body goes to sink. SX_E_PROTOCOL for a status other than
 * 200 or a broken session, SX_E_CLOSED when the peer has gone, SX_E_IO on
 * timeout, or the source's or the sink's status. */
SX_MUST_CHECK sx_status sx_xrcp_h2_request(sx_xrcp_h2 *h, sx_xrcp_h2_src src, void *src_arg, sx_xrcp_h2_sink sink,
                                           void *sink_arg, int timeout_ms);

/* Server: where the bodies of requests go (set before the first request;
 * without one a request with a body fails). */
void sx_xrcp_h2_set_sink(sx_xrcp_h2 *h, sx_xrcp_h2_sink sink, void *arg);

/* Server: waits for the next request whose body has ended (all of it given
 * to the sink): its stream in *stream. A request whose sink failed comes
 * with that status (and is reset); one the peer reset before its end comes
 * with SX_E_PROTOCOL, and until it has come the headers and body of a
 * newer request are held back (not given to the sink). SX_E_CLOSED when the peer has gone,
 * SX_E_IO on timeout. */
SX_MUST_CHECK sx_status sx_xrcp_h2_next(sx_xrcp_h2 *h, int timeout_ms, int32_t *stream);

/* Server: answers stream with status 200 and the body src gives, and waits
 * until it is sent. */
SX_MUST_CHECK sx_status sx_xrcp_h2_respond(sx_xrcp_h2 *h, int32_t stream, sx_xrcp_h2_src src, void *src_arg,
                                           int timeout_ms);

/* Ends the HTTP/2 session (GOAWAY) and sends what is pending, before the
 * TLS connection is closed. */
SX_MUST_CHECK sx_status sx_xrcp_h2_close(sx_xrcp_h2 *h, int timeout_ms);

#endif
