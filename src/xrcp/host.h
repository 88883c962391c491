/* XRCP host (PROTOCOL-NOTES X7-X10): joins a controller's session.
 *
 * The host checks an invitation (sx_xrcp_host_check: signatures, time, and
 * for a paired controller the same CA fingerprint and identity key), or
 * finds one in an announcement (sx_xrcp_host_discover), then
 * sx_xrcp_host_connect makes the TLS connection (the server's CA must be the
 * invitation's fingerprint; the host presents a fresh leaf signed by the
 * pairing's CA) and gives the session code. When the user has compared the
 * codes, sx_xrcp_host_send_hello sends the HELLO with a new DH key and a new KEM
 * key, reads the controller's reply and derives the session's chains; then
 * the pairing is updated (controller identity on the first session, the
 * host DH keys shifted) and the caller should store it.
 *
 * A host belongs to one thread; the pairing passed to sx_xrcp_host_connect
 * must outlive it. */
#ifndef SX_XRCP_HOST_H
#define SX_XRCP_HOST_H
#include "transport/tls.h"
#include "xrcp/bodystream.h"
#include "xrcp/pairing.h"

/* How far the invitation's time may be from now: older than max_age seconds
 * or more than SX_XRCP_CLOCK_SKEW ahead is refused (our policy; the
 * reference's library leaves the check to the application). */
#define SX_XRCP_MAX_AGE 900
#define SX_XRCP_CLOCK_SKEW 300

/* Checks a decoded invitation for this pairing at time now (seconds):
 * both signatures, its time, and when the pairing is paired its CA
 * fingerprint and identity key. SX_E_AUTH with *err INVITATION or
 * IDENTITY. err may be NULL. */
SX_MUST_CHECK sx_status sx_xrcp_host_check(const sx_xrcp_signed_invitation *s, const sx_xrcp_host_pairing *p,
                                           int64_t now, int64_t max_age, sx_xrcp_err *err);

/* Waits up to timeout_ms on the multicast listener fd for an announcement
 * that one of the n pairings opens (current key, then previous), that
 * verifies, names the packet's source address and passes
 * sx_xrcp_host_check; other packets are skipped. *which is the pairing's
 * index. SX_E_IO (NOT_DISCOVERED) on timeout. */
SX_MUST_CHECK sx_status sx_xrcp_host_discover(int fd, sx_xrcp_host_pairing *const *pairings, size_t n,
                                              int64_t max_age, int timeout_ms, sx_xrcp_signed_invitation *out,
                                              size_t *which, sx_xrcp_err *err);

typedef struct sx_xrcp_host sx_xrcp_host;

/* Connects to the invitation's controller (already checked). app: the
 * host's app JSON for its HELLO (NULL: {}). On failure *err (may be NULL)
 * tells the kind: IDENTITY for a server chain that is not the invitation's
 * CA, EXCEPTION for network failures. */
SX_MUST_CHECK sx_status sx_xrcp_host_connect(sx_xrcp_host_pairing *p, const sx_xrcp_signed_invitation *s,
                                             const char *app, int timeout_ms, sx_xrcp_host **out, sx_xrcp_err *err);
void sx_xrcp_host_free(sx_xrcp_host *h);

/* Discovery and connection together, for a listener that may hold packets
 * of sessions that have ended (a socket kept open across sessions): waits
 * for an announcement as sx_xrcp_host_discover, connects to it, and when
 * the connection fails goes on listening, skipping every later packet of
 * that session (the same invitation DH key), until a connection succeeds
 * or timeout_ms is spent in all. On timeout SX_E_IO with NOT_DISCOVERED,
 * or the last connection's error when an announcement was found. */
SX_MUST_CHECK sx_status sx_xrcp_host_discover_connect(int fd, sx_xrcp_host_pairing *const *pairings, size_t n,
                                                      int64_t max_age, const char *app, int timeout_ms,
                                                      sx_xrcp_host **out, size_t *which, sx_xrcp_err *err);

sx_slice sx_xrcp_host_code(const sx_xrcp_host *h);

/* Sends the HELLO, reads the reply, derives the chains, updates the
 * pairing. A controller's ERROR reply: SX_E_AUTH with CTRL_ERROR and its text
 * in sx_xrcp_host_ctrl_message. */
SX_MUST_CHECK sx_status sx_xrcp_host_send_hello(sx_xrcp_host *h, int timeout_ms);
const char *sx_xrcp_host_ctrl_message(const sx_xrcp_host *h);

sx_xrcp_err sx_xrcp_host_error(const sx_xrcp_host *h);
/* The invitation this host joined (owned by h). */
const sx_xrcp_signed_invitation *sx_xrcp_host_signed(const sx_xrcp_host *h);

/* After a successful HELLO: waits for the controller's next command (an
 * HTTP/2 request): *buf (heap, the caller frees) holds its JSON and
 * attachment, *stream is to be answered with sx_xrcp_host_reply. A command
 * refused (counter, signature, session code, malformed: *why) is answered
 * here with {"type":"protocolError","error":"<why>"} and returned as
 * SX_E_AUTH / SX_E_PROTOCOL. SX_E_CLOSED when the controller has gone,
 * SX_E_IO on timeout. */
SX_MUST_CHECK sx_status sx_xrcp_host_next_command(sx_xrcp_host *h, int timeout_ms, int32_t *stream, uint8_t **buf,
                                                  sx_slice *json, bool *has_att, sx_slice *att,
                                                  sx_xrcp_body_err *why);

/* Answers a command with json and an optional attachment. */
SX_MUST_CHECK sx_status sx_xrcp_host_reply(sx_xrcp_host *h, int32_t stream, sx_slice json, sx_slice attachment,
                                           int timeout_ms);

/* The same with the attachments streamed: the command's attachment, when
 * it has one, goes to write as it comes (*att_len bytes; what write
 * received is to be discarded when the call fails; write NULL refuses a
 * command with an attachment). */
SX_MUST_CHECK sx_status sx_xrcp_host_next_command_stream(sx_xrcp_host *h, int timeout_ms, sx_xrcp_att_writer write,
                                                         void *arg, int32_t *stream, uint8_t **buf, sx_slice *json,
                                                         bool *has_att, uint64_t *att_len, sx_xrcp_body_err *why);

/* Answers with json and, when has_att, att_len bytes taken from read as
 * they go out. */
SX_MUST_CHECK sx_status sx_xrcp_host_reply_stream(sx_xrcp_host *h, int32_t stream, sx_slice json, bool has_att,
                                                  uint64_t att_len, sx_xrcp_att_reader read, void *arg,
                                                  int timeout_ms);

/* For tests: the HELLO names a CA that is not the TLS chain's. */
void sx_xrcp_host_test_lie_ca(sx_xrcp_host *h);

#endif
