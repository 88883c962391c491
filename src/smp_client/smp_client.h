/* SMP client library, blocking flavour: one TLS connection to an SMP router,
 * the SMP handshake, commands sent as batches and their responses matched
 * by corrId; events that arrive meanwhile (MSG, END, DELD, NMSG) are queued
 * for sx_smp_client_next_event. For scripts, tools and tests; an event-loop
 * flavour builds on the same pieces.
 *
 * Keep-alive: a blocking client cannot ping in the background, so it pings
 * while the caller waits for events. When sx_smp_client_next_event has had
 * no block sent or received for ping_interval_ms, it sends PING and waits
 * (up to timeout_ms) for PONG, queueing events that arrive meanwhile, then
 * goes on waiting; no PONG in time is SX_E_IO, as the router is then taken
 * to be gone (the reference keeps pinging in a background thread and gives
 * up after 3 unanswered PINGs; here one wait of timeout_ms stands for that).
 * A program that stays away from the client for longer than the router's
 * idle timeout (not subscribed connections only) is not kept alive.
 *
 * A client belongs to one thread at a time. Replies are heap copies owned by
 * the caller (sx_smp_client_reply_free). */
#ifndef SX_CLIENT_SMP_CLIENT_H
#define SX_CLIENT_SMP_CLIENT_H

#include "crypto/keys.h"
#include "smp/command.h"
#include "smp/response.h"
#include "transport/smp_handshake.h"
#include "transport/socks.h"

typedef struct sx_smp_client sx_smp_client;

/* A router address (PROTOCOL-NOTES A29), the parts a client connects with:
 * smp://<key hash>[:<password>]@<host>[,<host>...][:<port>[,<port>...]].
 * For all hosts and the text as written, see smp/address.h. */
typedef struct sx_smp_address {
    uint8_t key_hash[SX_FINGERPRINT_LEN];
    char host[256];   /* the first host (an IPv6 one without brackets) */
    /* The first .onion host and the first other host ("" when the address
     * has none of that kind), for sx_smp_address_choose_host. */
    char onion_host[256], public_host[256];
    uint16_t port;    /* the first port; 5223 when absent */
    bool has_password;
    char password[256];
} sx_smp_address;

/* Parses a NUL-terminated smp:// address with sx_server_address_parse and
 * requires a 32-byte key hash. Errors: SX_E_PROTOCOL (malformed, another
 * scheme, another key hash length, a password outside PROTOCOL-NOTES A22),
 * SX_E_LIMIT (over SX_SERVER_ADDRESS_MAX bytes or 8 hosts, a host of
 * 256 bytes or more), SX_E_USAGE (NULL). On error *out is zeroed. */
SX_MUST_CHECK sx_status sx_smp_address_parse(const char *text, sx_smp_address *out);

/* The host to connect to, as the reference's chooseTransportHost: by
 * mode (sx_smp_host_mode of simplex/smp.h: onion when a SOCKS proxy is
 * set, onion, public) the first host of that kind; when there is none,
 * the first host, or NULL when required. */
const char *sx_smp_address_choose_host(const sx_smp_address *a, int mode, bool required, bool socks);

/* Connecting as a service (PROTOCOL-NOTES B6, B21): the TLS client
 * certificate chain (1..4 certificates, PEM files) and the Ed25519 key pair
 * whose public half the chain's leaf signs into the hello. The key is
 * borrowed and must outlive the client: it also signs the service's
 * commands (PROTOCOL-NOTES C9, C10). */
typedef struct sx_smp_client_service_opts {
    sx_tls_credentials creds;
    sx_smp_service_role role;
    const sx_key *service_key;
} sx_smp_client_service_opts;

typedef struct sx_smp_client_opts {
    sx_version_range range; /* {0,0}: the default 6..19 */
    bool no_alpn;           /* offer no ALPN (the router then speaks v6) */
    int timeout_ms;         /* per network step; 0: 15000 */
    unsigned ping_interval_ms; /* keep-alive PING after this much silence; 0: 600000 */
    bool no_keepalive;         /* never PING */
    /* NULL: an ordinary client. Set: the service is presented when the
     * agreed version carries it (v16; v19 for messaging) and the session
     * then has has_service and service_id; a refused service fails the
     * connection with SX_E_AUTH (*te of sx_smp_client_connect_ex). */
    const sx_smp_client_service_opts *service;
    /* NULL: connect directly. Set: through this SOCKS5 proxy, which reaches
     * host:port by name (transport/socks.h). */
    const sx_socks_route *socks;
} sx_smp_client_opts;

/* Connects, checks the router identity (PROTOCOL-NOTES B10/B11) and runs the
 * handshake. opts may be NULL. Errors: SX_E_IO (connect, timeout), SX_E_AUTH
 * (identity or signature), SX_E_PROTOCOL (handshake), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_smp_client_connect(const char *host, uint16_t port,
                                              const uint8_t key_hash[SX_FINGERPRINT_LEN],
                                              const sx_smp_client_opts *opts, sx_smp_client **out);
/* The same, with the transport error of a failed handshake (te may be
 * NULL): a refused service answers 'E' with it (PROTOCOL-NOTES B21). */
SX_MUST_CHECK sx_status sx_smp_client_connect_ex(const char *host, uint16_t port,
                                                 const uint8_t key_hash[SX_FINGERPRINT_LEN],
                                                 const sx_smp_client_opts *opts, sx_smp_client **out,
                                                 sx_transport_error *te);
void sx_smp_client_close(sx_smp_client *cl);
/* The session (agreed version, session id, ...). */
const sx_smp_session *sx_smp_client_session(const sx_smp_client *cl);

/* A received router transmission: a copy of its bytes and the decoded view
 * into them. When decoding failed, ok is false and reply.err tells why. */
typedef struct sx_smp_client_reply {
    uint8_t *buf;
    size_t len;
    bool ok;
    sx_smp_reply reply;
} sx_smp_client_reply;

void sx_smp_client_reply_free(sx_smp_client_reply *r);

/* One command to send: the entity id, the command, and the key that
 * authorizes it (NULL: unauthorized). For an X25519 key an authenticator is
 * computed with the router's session key (PROTOCOL-NOTES C8); Ed25519/Ed448
 * keys sign (PROTOCOL-NOTES C7). */
typedef struct sx_smp_client_cmd {
    sx_slice entity;
    const sx_smp_cmd *cmd;
    const sx_key *auth_key;
    /* Out: the corrId used (24 random bytes); in, when corr_given (PFWD
     * uses its corrId as a nonce, PROTOCOL-NOTES D33). */
    uint8_t corr_id[SX_SMP_CORR_ID_LEN];
    bool corr_given;
} sx_smp_client_cmd;

/* Sends n commands in as few blocks as fit and waits for all their
 * responses (matched by corrId, in any order), written to replies[i].
 * Events and responses to other commands received meanwhile are queued.
 * Errors: SX_E_LIMIT (a command too large for a block), SX_E_IO (timeout or
 * connection failure), SX_E_CLOSED, SX_E_NOMEM, SX_E_INTERNAL. */
SX_MUST_CHECK sx_status sx_smp_client_call_many(sx_smp_client *cl, sx_smp_client_cmd *cmds, size_t n,
                                                sx_smp_client_reply *replies);
/* One command. */
SX_MUST_CHECK sx_status sx_smp_client_call(sx_smp_client *cl, sx_slice entity, const sx_smp_cmd *cmd,
                                           const sx_key *auth_key, sx_smp_client_reply *reply);
/* Sends raw block content as it is (tests of malformed input). */
SX_MUST_CHECK sx_status sx_smp_client_send_raw(sx_smp_client *cl, sx_slice content);
/* The next event (or unmatched transmission), waiting up to timeout_ms
 * (negative: no limit), keeping the connection alive meanwhile (see the top
 * of this file). SX_E_WOULD_BLOCK when none arrived in time; SX_E_IO when
 * the connection failed or a PING went unanswered; SX_E_PROTOCOL when a
 * PING was answered with something else; SX_E_CLOSED, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_smp_client_next_event(sx_smp_client *cl, int timeout_ms,
                                                 sx_smp_client_reply *out);

typedef struct sx_smp_client_stats {
    uint64_t pings_sent, pongs_received;
    uint64_t blocks_sent, blocks_received; /* after the handshake */
} sx_smp_client_stats;
void sx_smp_client_get_stats(const sx_smp_client *cl, sx_smp_client_stats *out);

#endif
