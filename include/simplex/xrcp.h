/* XRCP remote control: one device (the controller, a desktop) drives the
 * application of another (the host, a phone) over the local network.
 *
 * Each side keeps a pairing file between sessions (its long-term TLS CA and
 * keys, and what it learnt of the other side); the file is created on the
 * first session and rewritten after each. The first session starts from the
 * invitation the controller shows (an xrcp:/ link, usually as a QR code);
 * later ones may start from the controller's encrypted multicast
 * announcement, which only the paired host can open.
 *
 *   controller                               host
 *   sx_rc_ctrl_start(file, &o, &c)
 *   show sx_rc_ctrl_invitation(c)   ----->   sx_rc_host_join(file, link, &o, ms, code, &h)
 *   sx_rc_ctrl_accept(c, ms, code)           (or sx_rc_host_discover(file, &o, ms, code, &h))
 *   the users compare the two codes
 *   sx_rc_ctrl_confirm(c, ms)       <---->   sx_rc_host_confirm(h, ms)
 *   sx_rc_ctrl_command(c, json, ...) ---->   sx_rc_host_next(h, ms, &req)
 *                                   <-----   sx_rc_host_reply(h, req, json, ...)
 *   sx_rc_ctrl_free(c)                       sx_rc_host_free(h)
 *
 * Commands and responses are JSON texts of the application's choice, each
 * with an optional attachment; the library signs and encrypts them and
 * refuses replayed or altered ones. An attachment is either bytes in memory
 * (at most 64 MiB: sx_rc_ctrl_command, sx_rc_host_next, sx_rc_host_reply)
 * or streamed (the *_stream calls: read from a source and written to a
 * sink piece by piece as it goes over the network, up to 4 GiB - 17 bytes,
 * in a fixed amount of memory).
 *
 * Threads: a controller or a host is used by one thread at a time (the
 * controller's announcer runs on a thread of its own, ended by
 * sx_rc_ctrl_confirm or sx_rc_ctrl_free); different objects may live on
 * different threads. Ownership: strings and messages returned belong to the
 * object or to the caller as each function says; nothing is kept of the
 * caller's arguments after a call returns. Errors: the status class, with
 * sx_error_message() saying what failed and sx_error_code() the reference's
 * error word ("IDENTITY", "INVITATION", "CTRL_AUTH", "DECRYPT", "VERSION",
 * "NOT_DISCOVERED", ...). */
#ifndef SIMPLEX_XRCP_H
#define SIMPLEX_XRCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simplex/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The session code as text, as the reference application shows it: the TLS
 * channel binding (tls-unique) read as one big-endian number, in decimal,
 * groups of five digits separated by spaces, and the NUL. */
#define SX_RC_CODE_TEXT 192

/* The multicast group and port of the reference application. */
#define SX_RC_MCAST_GROUP "224.0.0.251"
#define SX_RC_MCAST_PORT 5227

/* An IPv4 address of this machine and its interface's name. */
typedef struct sx_rc_address {
    char address[16]; /* dotted, NUL-terminated */
    char iface[32];
} sx_rc_address;

/* This machine's IPv4 addresses a host may reach a controller on, in the
 * reference application's order: none of 0.0.0.0, 255.255.255.255 and
 * 169.254/16; the 127/8 ones last; then prefer (the address used last;
 * NULL: none) moved to the front when one has its address, else when one
 * is on its interface. Writes at most cap into out and returns how many
 * there are (0 when none or the interfaces cannot be listed). The first
 * one is the natural sx_rc_ctrl_opts.address. */
SX_API size_t sx_rc_local_addresses(const sx_rc_address *prefer, sx_rc_address *out, size_t cap);

typedef struct sx_rc_ctrl_opts {
    const char *address; /* IPv4 address the host connects to (required) */
    uint16_t port;       /* TCP port; 0: the system picks one */
    const char *app;     /* app JSON in the invitation; NULL: {} */
    /* Announcing the session to a paired host: when mcast_port is not 0 and
     * the pairing has a host, the announcement is sent announce_count times
     * (0: 60) every announce_interval_ms (0: 1000) to mcast_group (NULL:
     * SX_RC_MCAST_GROUP) from the interface mcast_iface (an IPv4 address;
     * NULL: the system's choice). */
    const char *mcast_group;
    uint16_t mcast_port;
    const char *mcast_iface;
    int announce_count;
    int announce_interval_ms;
    int64_t ts; /* the invitation's time, seconds since the epoch; 0: now */
} sx_rc_ctrl_opts;

typedef struct sx_rc_host_opts {
    const char *app;         /* app JSON in the host's HELLO; NULL: {} */
    int max_age;             /* oldest invitation accepted, seconds; 0: 900 */
    const char *mcast_group; /* discovery: NULL: SX_RC_MCAST_GROUP */
    uint16_t mcast_port;     /* discovery: 0: SX_RC_MCAST_PORT */
    const char *mcast_iface; /* discovery: the interface's IPv4 address; NULL: any */
} sx_rc_host_opts;

/* A command or a response as received: owned by the caller, freed with
 * sx_rc_message_free. json is NUL-terminated. A streamed attachment went to
 * the caller's sink: attachment is NULL and attachment_len its size. */
typedef struct sx_rc_message {
    const char *json;
    size_t json_len;
    bool has_attachment;
    const uint8_t *attachment;
    size_t attachment_len;
    int32_t stream; /* host: what sx_rc_host_reply answers */
    void *priv;
} sx_rc_message;

SX_API void sx_rc_message_free(sx_rc_message *m);

/* ---- streamed attachments ---- */

/* Fills buf with up to cap next bytes of an attachment being sent (*got;
 * fewer is fine, 0 only once all len bytes are given). Anything but SX_OK
 * ends the command or reply with that status. */
typedef sx_status (*sx_rc_read_fn)(void *arg, void *buf, size_t cap, size_t *got);
/* Takes the next len bytes of an attachment being received. They are
 * authenticated only at the end: when the call receiving them fails, what
 * the sink took is to be discarded. Anything but SX_OK refuses the
 * message. */
typedef sx_status (*sx_rc_write_fn)(void *arg, const void *data, size_t len);

typedef struct sx_rc_source {
    uint64_t len; /* exactly this many bytes are read */
    sx_rc_read_fn read;
    void *arg;
} sx_rc_source;

typedef struct sx_rc_sink {
    sx_rc_write_fn write;
    void *arg;
} sx_rc_sink;

/* A source and a sink over file descriptors: arg points at an int fd.
 * sx_rc_read_fd reads (a file that ends early fails the call, SX_E_IO);
 * sx_rc_write_fd writes all bytes, retrying after EINTR. */
SX_API sx_status sx_rc_read_fd(void *arg, void *buf, size_t cap, size_t *got);
SX_API sx_status sx_rc_write_fd(void *arg, const void *data, size_t len);

/* ---- controller ---- */

typedef struct sx_rc_ctrl sx_rc_ctrl;

/* Loads the pairing file (creating a new identity when it does not exist),
 * starts listening and signs the invitation; announces it when the options
 * ask and the pairing has a host. */
SX_API sx_status sx_rc_ctrl_start(const char *pairing_file, const sx_rc_ctrl_opts *o, sx_rc_ctrl **out);

/* The invitation link (owned by c). */
SX_API const char *sx_rc_ctrl_invitation(const sx_rc_ctrl *c);

/* True when the pairing file already names a host. */
SX_API bool sx_rc_ctrl_paired(const sx_rc_ctrl *c);

/* Waits for the host's TLS connection and writes the session code. A host
 * that is not the paired one is refused (IDENTITY); the caller may call
 * again. */
SX_API sx_status sx_rc_ctrl_accept(sx_rc_ctrl *c, int timeout_ms, char code[SX_RC_CODE_TEXT]);

/* After the user has confirmed the code: reads and answers the host's
 * HELLO and saves the pairing file. */
SX_API sx_status sx_rc_ctrl_confirm(sx_rc_ctrl *c, int timeout_ms);

/* Sends a command and waits for the response (*resp, the caller's). A
 * command the host refused comes back as a response whose JSON says so. */
SX_API sx_status sx_rc_ctrl_command(sx_rc_ctrl *c, const char *json, const void *attachment, size_t attachment_len,
                                    bool has_attachment, int timeout_ms, sx_rc_message **resp);

/* As sx_rc_ctrl_command with the attachments streamed: att (NULL: none)
 * is read as it goes out; the response's attachment, when it has one, is
 * written to resp_att as it comes (NULL: a response with one is refused). */
SX_API sx_status sx_rc_ctrl_command_stream(sx_rc_ctrl *c, const char *json, const sx_rc_source *att,
                                           const sx_rc_sink *resp_att, int timeout_ms, sx_rc_message **resp);

/* For tests of hosts only: the next command goes out with one byte flipped
 * under its signatures (SX_RC_FAULT_TAMPER), or instead of the next command
 * the previous one's bytes are sent again, a replay with its counter
 * (SX_RC_FAULT_REPEAT; for commands of at most 64 KiB). */
#define SX_RC_FAULT_TAMPER 1
#define SX_RC_FAULT_REPEAT 2
SX_API void sx_rc_ctrl_test_fault(sx_rc_ctrl *c, int fault);

/* Ends the session (the host sees it closed). Accepts NULL. */
SX_API void sx_rc_ctrl_free(sx_rc_ctrl *c);

/* ---- host ---- */

typedef struct sx_rc_host sx_rc_host;

/* Checks the invitation link (signatures, time, and for a paired
 * controller the same identity), connects and writes the session code. The
 * pairing file is created when it does not exist. */
SX_API sx_status sx_rc_host_join(const char *pairing_file, const char *link, const sx_rc_host_opts *o,
                                 int timeout_ms, char code[SX_RC_CODE_TEXT], sx_rc_host **out);

/* Waits for the paired controller's announcement, then as sx_rc_host_join
 * (NOT_DISCOVERED on timeout). An announcement whose session cannot be
 * joined (a packet of a session that has ended) does not end the wait: its
 * later packets are passed over and the next session's is taken, within
 * timeout_ms in all. */
SX_API sx_status sx_rc_host_discover(const char *pairing_file, const sx_rc_host_opts *o, int timeout_ms,
                                     char code[SX_RC_CODE_TEXT], sx_rc_host **out);

/* After the user has confirmed the code: sends the HELLO, reads the
 * controller's answer and saves the pairing file. */
SX_API sx_status sx_rc_host_confirm(sx_rc_host *h, int timeout_ms);

/* Waits for the next command (*cmd, the caller's). A refused command
 * (altered, replayed, not signed by the controller) is answered by the
 * library and returned as SX_E_AUTH or SX_E_PROTOCOL; the session goes on.
 * SX_E_CLOSED when the controller has ended the session. */
SX_API sx_status sx_rc_host_next(sx_rc_host *h, int timeout_ms, sx_rc_message **cmd);

/* Answers cmd (which stays the caller's). */
SX_API sx_status sx_rc_host_reply(sx_rc_host *h, const sx_rc_message *cmd, const char *json, const void *attachment,
                                  size_t attachment_len, bool has_attachment, int timeout_ms);

/* As sx_rc_host_next and sx_rc_host_reply with the attachments streamed:
 * a command's attachment is written to att as it comes (NULL: a command
 * with one is refused); the reply's att (NULL: none) is read as it goes
 * out. */
SX_API sx_status sx_rc_host_next_stream(sx_rc_host *h, int timeout_ms, const sx_rc_sink *att, sx_rc_message **cmd);
SX_API sx_status sx_rc_host_reply_stream(sx_rc_host *h, const sx_rc_message *cmd, const char *json,
                                         const sx_rc_source *att, int timeout_ms);

/* Ends the session. Accepts NULL. */
SX_API void sx_rc_host_free(sx_rc_host *h);

#ifdef __cplusplus
}
#endif

#endif
