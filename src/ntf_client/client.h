/* The NTF client (PROTOCOL-NOTES G1-G15; reference Notifications/Client.hs
 * at 152c30ca68): a blocking connection to an NTF router (TLS with ALPN
 * ntf/1, the router's identity checked against the address's key hash, the
 * NTF hellos, 512-byte blocks), and its commands: tokens (register, verify,
 * check, replace, delete, cron) and subscriptions (create, check, delete),
 * one at a time or in batches with an answer or an error per item.
 *
 * Commands are authorized with the token's verify key: a signature for an
 * Ed25519 / Ed448 key, an authenticator with the router's hello key for an
 * X25519 key (v >= 2). A router's ERR answer is SX_E_AUTH (AUTH), SX_E_LIMIT
 * (QUOTA) or SX_E_PROTOCOL (others), with the error in *err when asked for.
 * One thread at a time per connection. */
#ifndef SX_NTF_CLIENT_CLIENT_H
#define SX_NTF_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "crypto/x509.h"
#include "ntf/protocol.h"
#include "smp/address.h"
#include "simplex/status.h"

#define SX_NTF_CLIENT_ID_MAX 32 /* token and subscription ids (24 bytes from our router) */

typedef struct sx_ntf_client sx_ntf_client;

/* Connects and runs the handshake (the highest version both support).
 * SX_E_IO (connect, timeout), SX_E_AUTH (identity: the key hash or the
 * hello key's signature), SX_E_PROTOCOL (hello), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntf_client_connect(const char *host, uint16_t port,
                                              const uint8_t key_hash[SX_FINGERPRINT_LEN], int timeout_ms,
                                              sx_ntf_client **out);
void sx_ntf_client_close(sx_ntf_client *c);
uint16_t sx_ntf_client_version(const sx_ntf_client *c);

/* One command of a batch: in, the entity (token or subscription id; empty
 * for TNEW, SNEW, PING), the key that authorizes it (NULL: none, PING) and
 * the command; out, the status and the answer. resp's views point into the
 * item's own buffer. */
typedef struct sx_ntf_call {
    sx_slice entity;
    const sx_key *key;
    sx_ntf_cmd cmd;
    sx_status status;
    sx_ntf_resp resp;
    uint8_t buf[SX_NTF_BLOCK_SIZE];
} sx_ntf_call;

/* Sends the calls, as many per block as fit (one per block for v1), and
 * reads every answer: each item's status is its own (SX_OK for any decoded
 * answer, ERR included: look at resp). Returns SX_OK when every item got an
 * answer, else the connection's failure (the rest get it too). */
SX_MUST_CHECK sx_status sx_ntf_client_batch(sx_ntf_client *c, sx_ntf_call *calls, size_t n);

/* ---- tokens ---- */

typedef struct sx_ntf_token_reg {
    uint8_t id[SX_NTF_CLIENT_ID_MAX];
    size_t id_len;
    uint8_t dh_secret[32]; /* X25519(router's key, dh) : opens the pushes */
} sx_ntf_token_reg;

/* TNEW: registers the device token (lower-case hex, or any text for
 * apns_null) with verify (Ed25519 / Ed448 / X25519 private key) and dh
 * (X25519 private key). */
SX_MUST_CHECK sx_status sx_ntf_token_register(sx_ntf_client *c, sx_ntf_provider pp, const char *token,
                                              const sx_key *verify, const sx_key *dh, sx_ntf_token_reg *out,
                                              sx_smp_error *err);
SX_MUST_CHECK sx_status sx_ntf_token_verify(sx_ntf_client *c, sx_slice id, const sx_key *verify, sx_slice code,
                                            sx_smp_error *err);
SX_MUST_CHECK sx_status sx_ntf_token_check(sx_ntf_client *c, sx_slice id, const sx_key *verify,
                                           sx_ntf_tkn_state *out, sx_smp_error *err);
SX_MUST_CHECK sx_status sx_ntf_token_replace(sx_ntf_client *c, sx_slice id, const sx_key *verify,
                                             sx_ntf_provider pp, const char *token, sx_smp_error *err);
SX_MUST_CHECK sx_status sx_ntf_token_delete(sx_ntf_client *c, sx_slice id, const sx_key *verify,
                                            sx_smp_error *err);
SX_MUST_CHECK sx_status sx_ntf_token_cron(sx_ntf_client *c, sx_slice id, const sx_key *verify, uint16_t minutes,
                                          sx_smp_error *err);
SX_MUST_CHECK sx_status sx_ntf_ping(sx_ntf_client *c);

/* ---- subscriptions ---- */

/* SNEW: subscribes the router to queue q's notifications for token
 * token_id; notifier_priv is the PKCS#8 DER of the queue's notifier private
 * key. *sub_id gets the subscription id. */
SX_MUST_CHECK sx_status sx_ntf_sub_create(sx_ntf_client *c, sx_slice token_id, const sx_key *verify,
                                          const sx_ntf_queue *q, sx_slice notifier_priv, uint8_t *sub_id,
                                          size_t *sub_id_len, sx_smp_error *err);
/* The SMPQueueNtf of a queue: its router's smp:// address (the first port
 * of a list) and the notifier id; out's views point into buf (cap >= 600
 * bytes). SX_E_USAGE for an address that does not parse. */
SX_MUST_CHECK sx_status sx_ntf_queue_of(const char *server, sx_slice notifier_id, uint8_t *buf, size_t cap,
                                        sx_ntf_queue *out);
/* SCHK: the status; for ERR the text goes to err_text (cap bytes,
 * NUL-terminated, may be NULL). */
SX_MUST_CHECK sx_status sx_ntf_sub_check(sx_ntf_client *c, sx_slice sub_id, const sx_key *verify,
                                         sx_ntf_sub_status *out, char *err_text, size_t cap, sx_smp_error *err);
SX_MUST_CHECK sx_status sx_ntf_sub_delete(sx_ntf_client *c, sx_slice sub_id, const sx_key *verify,
                                          sx_smp_error *err);

/* The status of an ERR answer (see above). */
sx_status sx_ntf_client_err_status(const sx_smp_error *e);

#endif
