/* XFTP client connection (PROTOCOL-NOTES F.1-F.4; reference
 * FileTransfer/Client.hs, Transport/HTTP2/Client.hs at 152c30ca68): one
 * blocking connection to one router — TCP, TLS 1.3 with ALPN "xftp/1" and
 * no SNI, an nghttp2 client session driven with poll(2), the three-request
 * handshake, then one command per HTTP/2 request.
 *
 * Every wait is bounded by a timeout. A connection is used by one thread at
 * a time and runs one request at a time. Commands return SX_OK or an error
 * class; the XFTP error behind it (router ERR, or a client-side check such as
 * DIGEST / CRYPTO / SIZE / TIMEOUT) is sx_xftp_client_error(). */
#ifndef SX_XFTP_CLIENT_H
#define SX_XFTP_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "crypto/keys.h"
#include "simplex/status.h"
#include "xftp/description.h"
#include "xftp/protocol.h"

#define SX_XFTP_CLIENT_DEFAULT_TIMEOUT_MS 15000
#define SX_XFTP_CLIENT_DEFAULT_PER_KB_MS 45 /* extra per KiB of a chunk, as tcpTimeoutPerKb */
#define SX_XFTP_ID_MAX 255                  /* ids are shortStrings */
#define SX_XFTP_CLIENT_MAX_RECIPIENTS 255   /* one NonEmpty list */

typedef struct sx_xftp_client sx_xftp_client;

typedef struct sx_xftp_client_opts {
    int timeout_ms;        /* connect, handshake, each response; 0: default */
    int timeout_per_kb_ms; /* added per KiB of a chunk body; 0: default */
    const char *host;      /* connect here instead of the address's host (tests); NULL: no */
    uint16_t port;         /* with host: the port to use instead */
    /* NULL, or a flag that stops every wait once it is non-zero (checked
     * at least every SX_XFTP_CLIENT_SLICE_MS): the call fails with
     * SX_E_IO and sx_xftp_client_cancelled() is true. */
    const volatile sig_atomic_t *cancel;
} sx_xftp_client_opts;

#define SX_XFTP_CLIENT_SLICE_MS 200

typedef struct sx_xftp_id {
    uint8_t bytes[SX_XFTP_ID_MAX];
    size_t len;
} sx_xftp_id;

/* Connects to the router at server (its first non-onion host and port, 443
 * when none), runs TLS (the chain must be exactly [leaf, ca] with
 * SHA-256(ca) = the address's key hash) and the handshake when "xftp/1" was
 * negotiated (without ALPN: version 1, no handshake, as the reference).
 * opts may be NULL. Errors: SX_E_IO (connect, timeout), SX_E_AUTH (identity
 * or signed session key check failed), SX_E_PROTOCOL (bad hello, session id
 * mismatch, no common version, HTTP/2 failure), SX_E_CLOSED, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xftp_client_connect(const sx_xftp_fd_server *server,
                                               const sx_xftp_client_opts *opts,
                                               sx_xftp_client **out);
/* The step a failed connection attempt stopped at, for a message that
 * names the cause. */
typedef enum sx_xftp_connect_step {
    SX_XFTP_STEP_NONE = 0,
    SX_XFTP_STEP_ADDRESS,   /* no host this client can reach (only .onion), a bad port */
    SX_XFTP_STEP_RESOLVE,   /* the host name did not resolve */
    SX_XFTP_STEP_TCP,       /* refused, unreachable or timed out (sys_errno) */
    SX_XFTP_STEP_TLS,       /* TLS failed: not a TLS server, or it closed */
    SX_XFTP_STEP_IDENTITY,  /* the certificates do not match the address's key hash */
    SX_XFTP_STEP_ALPN,      /* the server refused ALPN xftp/1: a server of another protocol */
    SX_XFTP_STEP_HANDSHAKE, /* HTTP/2 or the XFTP handshake failed */
    SX_XFTP_STEP_CANCELLED, /* the cancel flag was set */
} sx_xftp_connect_step;

typedef struct sx_xftp_connect_fail {
    sx_xftp_connect_step step;
    int sys_errno; /* SX_XFTP_STEP_TCP: the system's error (ETIMEDOUT for the timeout) */
} sx_xftp_connect_fail;

/* sx_xftp_client_connect that also says where a failure stopped (why may
 * be NULL; it is zeroed on success). */
SX_MUST_CHECK sx_status sx_xftp_client_connect_ex(const sx_xftp_fd_server *server,
                                                  const sx_xftp_client_opts *opts,
                                                  sx_xftp_client **out, sx_xftp_connect_fail *why);
/* Closes the connection (GOAWAY, close_notify) and frees. Accepts NULL. */
void sx_xftp_client_free(sx_xftp_client *c);

/* The agreed protocol version, the session id (tls-unique). */
uint16_t sx_xftp_client_version(const sx_xftp_client *c);
sx_slice sx_xftp_client_session_id(const sx_xftp_client *c);
/* The XFTP error of the last failed call (type 0 when there was none or it
 * was a local failure with no XFTP equivalent). */
sx_xftp_error sx_xftp_client_error(const sx_xftp_client *c);
/* False once the connection failed at the transport or HTTP/2 level. */
bool sx_xftp_client_usable(const sx_xftp_client *c);
/* Whether the last call failed because the cancel flag was set. */
bool sx_xftp_client_cancelled(const sx_xftp_client *c);
/* Whether TLS negotiated "xftp/1" (without it the peer may not be an XFTP
 * router at all: there is no handshake to tell). */
bool sx_xftp_client_negotiated(const sx_xftp_client *c);

/* FNEW: creates a chunk of `size` bytes with SHA-256 `digest`, authorized by
 * snd_key (private Ed25519/Ed448; its public half is the file's sender key)
 * for n recipient public keys (1..255). basic_auth: NULL for none. Fills
 * *sender_id and rcv_ids[0..n). Errors: SX_E_USAGE, router errors (see
 * sx_xftp_client_error): SX_E_AUTH (AUTH), SX_E_LIMIT (SIZE, QUOTA),
 * SX_E_PROTOCOL (others, unexpected response); transport errors. */
SX_MUST_CHECK sx_status sx_xftp_client_fnew(sx_xftp_client *c, const sx_key *snd_key,
                                            uint32_t size, sx_slice digest,
                                            const sx_key *const *rcv_keys, size_t n,
                                            const char *basic_auth, sx_xftp_id *sender_id,
                                            sx_xftp_id *rcv_ids);
/* FADD: n more recipient keys for an existing chunk; ids into rcv_ids. */
SX_MUST_CHECK sx_status sx_xftp_client_fadd(sx_xftp_client *c, const sx_key *snd_key,
                                            sx_slice sender_id, const sx_key *const *rcv_keys,
                                            size_t n, sx_xftp_id *rcv_ids);
/* FPUT: uploads `size` bytes of fd starting at `offset` (read with pread in
 * small pieces while HTTP/2 flow control allows). The fd stays the
 * caller's. */
SX_MUST_CHECK sx_status sx_xftp_client_fput(sx_xftp_client *c, const sx_key *snd_key,
                                            sx_slice sender_id, int fd, int64_t offset,
                                            uint32_t size);
/* FGET: downloads the chunk of `size` bytes with a fresh X25519 key,
 * decrypting the stream with the per-request DH secret into out_fd (written
 * from its current position; the caller truncates on failure), checks the
 * tail tag (CRYPTO, SX_E_AUTH), the length (SIZE, SX_E_PROTOCOL) and the
 * SHA-256 of the plaintext against `digest` (DIGEST, SX_E_AUTH). */
SX_MUST_CHECK sx_status sx_xftp_client_fget(sx_xftp_client *c, const sx_key *rcv_key,
                                            sx_slice rcv_id, uint32_t size, sx_slice digest,
                                            int out_fd);
/* FACK (recipient) / FDEL (sender): expects OK. */
SX_MUST_CHECK sx_status sx_xftp_client_fack(sx_xftp_client *c, const sx_key *rcv_key,
                                            sx_slice rcv_id);
SX_MUST_CHECK sx_status sx_xftp_client_fdel(sx_xftp_client *c, const sx_key *snd_key,
                                            sx_slice sender_id);
/* PING: expects PONG. */
SX_MUST_CHECK sx_status sx_xftp_client_ping(sx_xftp_client *c);

/* Maps an XFTP error to the status the calls above return. */
sx_status sx_xftp_error_status(const sx_xftp_error *e);

/* PROTOCOL-NOTES F8 checks of a decoded server hello, separated for tests and
 * fuzzing: session id equal to session_id, version ranges intersecting
 * (*version = the highest common one), chain exactly 2 certificates with
 * SHA-256 of the second equal to key_hash, signed X25519 key verifying with the
 * leaf's key (*server_key, freed by the caller; may be NULL). Errors:
 * SX_E_PROTOCOL (session, version), SX_E_AUTH (chain, key), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xftp_client_check_hello(const sx_xftp_server_hello *h,
                                                   sx_slice session_id, sx_slice key_hash,
                                                   uint16_t *version, sx_key **server_key);

#endif
