/* XRCP session transport (PROTOCOL-NOTES X11): HTTP/2 over the session's
 * TLS connection with the roles reversed, as the reference application
 * does: the host (TLS client) is the HTTP/2 server and the controller (TLS
 * server) the HTTP/2 client. Each command is a POST / whose body is a
 * command body (body.h); the response's body is the host's response body.
 *
 * Blocking calls with timeouts, one request in flight at a time on the
 * client side; bodies are held in memory up to SX_XRCP_BODY_MAX. An
 * sx_xrcp_h2 borrows the connection and belongs to one thread. */
#ifndef SX_XRCP_H2_H
#define SX_XRCP_H2_H
#include "core/bytes.h"
#include "simplex/status.h"
#include "transport/tls.h"

typedef struct sx_xrcp_h2 sx_xrcp_h2;

/* conn is the session's TLS connection over the socket fd. */
SX_MUST_CHECK sx_status sx_xrcp_h2_new(sx_tls_conn *conn, int fd, bool server, sx_xrcp_h2 **out);
void sx_xrcp_h2_free(sx_xrcp_h2 *h);

/* Client: sends POST / with body and waits for the whole response: its
 * body in *resp (heap, the caller frees). SX_E_PROTOCOL for a status other
 * than 200 or a broken session, SX_E_LIMIT for a response over the bound,
 * SX_E_CLOSED when the peer has gone, SX_E_IO on timeout. */
SX_MUST_CHECK sx_status sx_xrcp_h2_request(sx_xrcp_h2 *h, sx_slice body, int timeout_ms, uint8_t **resp,
                                           size_t *resp_len);

/* Server: waits for the next complete request: its stream in *stream, its
 * body in *body (heap, the caller frees). SX_E_CLOSED when the peer has
 * gone, SX_E_IO on timeout. */
SX_MUST_CHECK sx_status sx_xrcp_h2_next(sx_xrcp_h2 *h, int timeout_ms, int32_t *stream, uint8_t **body,
                                        size_t *len);

/* Server: answers stream with status 200 and body, and waits until it is
 * sent. */
SX_MUST_CHECK sx_status sx_xrcp_h2_respond(sx_xrcp_h2 *h, int32_t stream, sx_slice body, int timeout_ms);

/* Ends the HTTP/2 session (GOAWAY) and sends what is pending, before the
 * TLS connection is closed. */
SX_MUST_CHECK sx_status sx_xrcp_h2_close(sx_xrcp_h2 *h, int timeout_ms);

#endif
