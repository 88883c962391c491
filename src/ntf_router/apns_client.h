/* The NTF router's APNS client (PROTOCOL-NOTES G19, G20, G23; reference
 * Notifications/Server/Push/APNS.hs at 152c30ca68): HTTP/2 (nghttp2) over
 * TLS (OpenSSL, the web PKI: a CA store and the host name checked), one
 * connection per push provider kept and reused, made again after GOAWAY, a
 * 503 or any error; the provider token (ES256 JWT) made again when 1800 s
 * old. Blocking, one batch at a time: a batch of pushes goes out as that
 * many concurrent HTTP/2 streams on the provider's connection, each answer
 * matched to its push by its stream. The router calls it from its push
 * thread (push.h) only. (The reference sends one request at a time through
 * its HTTP/2 client's queue; see docs/NTF.md.) */
#ifndef SX_NTF_ROUTER_APNS_CLIENT_H
#define SX_NTF_ROUTER_APNS_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/bytes.h"
#include "ntf/protocol.h"
#include "ntf_router/apns_wire.h"
#include "simplex/status.h"

#define SX_NTF_APNS_HOST_PROD "api.push.apple.com"
#define SX_NTF_APNS_HOST_DEV "api.sandbox.push.apple.com"
#define SX_NTF_APNS_HOST_TEST "localhost"
#define SX_NTF_APNS_CA_FILE "/etc/ssl/cert.pem" /* the reference's CA store */
#define SX_NTF_APNS_BATCH_MAX 64                /* streams in flight at once */

typedef struct sx_ntf_apns_client sx_ntf_apns_client;

typedef struct sx_ntf_apns_client_opts {
    const char *key_file; /* the .p8 key (APNS_KEY_FILE) */
    const char *key_id;   /* the JWT's kid (APNS_KEY_ID) */
    const char *team_id;  /* NULL: SX_NTF_APNS_TEAM_ID */
    const char *topic;    /* NULL: SX_NTF_APNS_TOPIC */
    /* NULL: by provider (AP production, AD sandbox, AT localhost); set, all
     * providers go there (tests: the APNS stand-in). */
    const char *host;
    uint16_t port;       /* 0: 443 */
    const char *ca_file; /* NULL: SX_NTF_APNS_CA_FILE, else the system's */
    int timeout_ms;      /* connect and answer; 0: 20 s */
} sx_ntf_apns_client_opts;

/* Loads the key and makes the first provider token; connects on the first
 * push. SX_E_USAGE (no key file or id), SX_E_IO / SX_E_PROTOCOL (the key),
 * SX_E_NOMEM, SX_E_INTERNAL (OpenSSL). */
SX_MUST_CHECK sx_status sx_ntf_apns_client_new(const sx_ntf_apns_client_opts *o, sx_ntf_apns_client **out);
void sx_ntf_apns_client_free(sx_ntf_apns_client *c);

typedef struct sx_ntf_apns_result {
    sx_ntf_apns_outcome outcome;   /* RETRY also for a connection that failed */
    sx_ntf_invalid_reason invalid; /* TOKEN_INVALID */
    int status;                    /* 0: no answer (connection error) */
    char reason[SX_NTF_APNS_REASON_MAX];
} sx_ntf_apns_result;

/* One push: POST /3/device/<token_hex> with apns-topic, apns-push-type
 * ("background" with apns-priority 5, else "alert") and the bearer token.
 * SX_OK with res filled whenever the push was tried; SX_E_USAGE for an
 * apns_null token or a bad argument. */
SX_MUST_CHECK sx_status sx_ntf_apns_client_push(sx_ntf_apns_client *c, sx_ntf_provider pp, const char *token_hex,
                                                bool background, sx_slice body, sx_ntf_apns_result *res);
/* One push of a batch. */
typedef struct sx_ntf_apns_req {
    const char *token_hex;
    bool background;
    sx_slice body; /* must stay valid until the call returns */
} sx_ntf_apns_req;

/* n (<= SX_NTF_APNS_BATCH_MAX) pushes to provider pp, all in flight at once
 * on one connection; res[i] is the answer to reqs[i] (RETRY with status 0
 * for a push the connection lost: the connection is then dropped). SX_OK
 * whenever the pushes were tried; SX_E_USAGE for a bad argument. */
SX_MUST_CHECK sx_status sx_ntf_apns_client_push_batch(sx_ntf_apns_client *c, sx_ntf_provider pp,
                                                      const sx_ntf_apns_req *reqs, size_t n, sx_ntf_apns_result *res);
/* Drops the connection of a provider (the next push connects again). */
void sx_ntf_apns_client_disconnect(sx_ntf_apns_client *c, sx_ntf_provider pp);
/* Connections made so far (tests). */
uint64_t sx_ntf_apns_client_connects(const sx_ntf_apns_client *c);

#endif
