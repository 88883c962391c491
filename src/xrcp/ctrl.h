/* XRCP controller (PROTOCOL-NOTES X7-X10): one session offered to a host.
 *
 * sx_xrcp_ctrl_new makes the session's keys, a TLS server with a fresh leaf
 * signed by the pairing's CA listening on a port, and the signed invitation.
 * The application shows the invitation (first session) or announces it by
 * multicast to the paired host (later sessions), then calls
 * sx_xrcp_ctrl_accept (one TLS connection whose client chain must be
 * [leaf, CA] with the paired fingerprint) which gives the session code
 * (tls-unique) for the user to compare, then sx_xrcp_ctrl_answer_hello (the host
 * HELLO checked and answered). After a valid HELLO the listener is closed
 * and the announcements stop; the pairing is updated (the host's
 * fingerprint on the first session, its new DH key always) and the caller
 * should store it.
 *
 * A controller belongs to one thread; the announcer it may start runs on its
 * own thread and is stopped by sx_xrcp_ctrl_answer_hello or sx_xrcp_ctrl_free. The
 * pairing passed to sx_xrcp_ctrl_new must outlive the controller. */
#ifndef SX_XRCP_CTRL_H
#define SX_XRCP_CTRL_H
#include "transport/tls.h"
#include "xrcp/bodystream.h"
#include "xrcp/pairing.h"

#define SX_XRCP_ANNOUNCE_COUNT 60         /* as the reference: 60 packets */
#define SX_XRCP_ANNOUNCE_INTERVAL_MS 1000 /* one a second */

typedef struct sx_xrcp_ctrl_config {
    const char *address; /* IPv4 address the invitation names (required) */
    const char *bind;    /* address to listen on; NULL: address */
    uint16_t port;       /* 0: the system picks one */
    const char *app;     /* app JSON for the invitation; NULL: {} */
    int64_t ts;          /* session time in the invitation; 0: now */
} sx_xrcp_ctrl_config;

typedef struct sx_xrcp_ctrl sx_xrcp_ctrl;

SX_MUST_CHECK sx_status sx_xrcp_ctrl_new(sx_xrcp_ctrl_pairing *pairing, const sx_xrcp_ctrl_config *cfg,
                                         sx_xrcp_ctrl **out);
void sx_xrcp_ctrl_free(sx_xrcp_ctrl *c);

/* The signed invitation URI (NUL-terminated, owned by c) and its fields. */
const char *sx_xrcp_ctrl_invitation(const sx_xrcp_ctrl *c);
const sx_xrcp_signed_invitation *sx_xrcp_ctrl_signed(const sx_xrcp_ctrl *c);
uint16_t sx_xrcp_ctrl_port(const sx_xrcp_ctrl *c);

/* One announcement packet (SX_XRCP_ANNOUNCE_LEN bytes, a fresh nonce) boxed
 * to the paired host's last DH key. SX_E_USAGE (NEW_CONTROLLER) when the
 * pairing has no host yet. */
SX_MUST_CHECK sx_status sx_xrcp_ctrl_announcement(sx_xrcp_ctrl *c, uint8_t *out);

/* Starts a thread sending count announcements (each with a fresh nonce),
 * interval_ms apart, to group:port from the interface iface (NULL: the
 * system's choice). */
SX_MUST_CHECK sx_status sx_xrcp_ctrl_announce_start(sx_xrcp_ctrl *c, const char *group, uint16_t port,
                                                    const char *iface, unsigned count, int interval_ms);
/* Packets sent so far by the announcer. */
unsigned sx_xrcp_ctrl_announced(sx_xrcp_ctrl *c);

/* Accepts one connection and runs its TLS handshake. On success the session
 * code is sx_xrcp_ctrl_code. SX_E_AUTH (IDENTITY) for a client chain that is
 * not 2 certificates or whose CA is not the paired host's; SX_E_IO for a
 * timeout or a failed handshake. After a failure the caller may call it
 * again (the listener stays open). */
SX_MUST_CHECK sx_status sx_xrcp_ctrl_accept(sx_xrcp_ctrl *c, int timeout_ms);
sx_slice sx_xrcp_ctrl_code(const sx_xrcp_ctrl *c);
/* The connected host's CA fingerprint (after a successful accept). */
const uint8_t *sx_xrcp_ctrl_host_fp(const sx_xrcp_ctrl *c);

/* Reads the host's HELLO, checks it (DECRYPT, SYNTAX, VERSION, IDENTITY: its
 * CA must be the TLS chain's), answers with the KEM ciphertext, derives the
 * chains, updates the pairing, stops listening and announcing. A HELLO that
 * opened but failed a check is answered with an ERROR block naming the
 * error. The host's app JSON is sx_xrcp_ctrl_host_app afterwards. */
SX_MUST_CHECK sx_status sx_xrcp_ctrl_answer_hello(sx_xrcp_ctrl *c, int timeout_ms);
sx_slice sx_xrcp_ctrl_host_app(const sx_xrcp_ctrl *c);

/* The reference's error kind of the last failure. */
sx_xrcp_err sx_xrcp_ctrl_error(const sx_xrcp_ctrl *c);

/* After a successful HELLO: sends one command (json, and an attachment
 * when attachment.ptr is not NULL) as an HTTP/2 request, signed with the
 * session and identity keys, and reads the host's response: *buf (heap,
 * the caller frees) holds its JSON (*json) and attachment (*has_att,
 * *att). SX_E_AUTH / SX_E_PROTOCOL for a response refused (*why), SX_E_IO on
 * timeout, SX_E_CLOSED when the host has gone. */
SX_MUST_CHECK sx_status sx_xrcp_ctrl_command(sx_xrcp_ctrl *c, sx_slice json, sx_slice attachment, int timeout_ms,
                                             uint8_t **buf, sx_slice *rjson, bool *has_att, sx_slice *att,
                                             sx_xrcp_body_err *why);

/* The same with the attachments streamed: when has_att, att_len bytes
 * taken from read as they go out (no more than SX_XRCP_STREAM_MAX); the
 * response's attachment, when it has one, goes to write as it comes
 * (*ratt_len bytes; what write received is to be discarded when the call
 * fails). A write NULL refuses a response with an attachment. */
SX_MUST_CHECK sx_status sx_xrcp_ctrl_command_stream(sx_xrcp_ctrl *c, sx_slice json, bool has_att, uint64_t att_len,
                                                    sx_xrcp_att_reader read, void *read_arg,
                                                    sx_xrcp_att_writer write, void *write_arg, int timeout_ms,
                                                    uint8_t **buf, sx_slice *rjson, bool *rhas_att,
                                                    uint64_t *ratt_len, sx_xrcp_body_err *why);

/* For tests: instead of the next command, the previous one's bytes go
 * again (a replay; when it was at most 64 KiB), or the next command goes
 * with one byte under its signatures flipped. */
void sx_xrcp_ctrl_test_repeat_counter(sx_xrcp_ctrl *c);
void sx_xrcp_ctrl_test_tamper(sx_xrcp_ctrl *c);

#endif
