/* The layers of an SMP message body between two agents (docs/AGENT.md,
 * "Message envelopes"):
 *
 *   ClientMsgEnvelope  = PubHeader nonce(24) encBody            (the SEND body)
 *   PubHeader          = smpClientVersion(Word16) Maybe(X25519 key, shortString DER)
 *   encBody            = crypto_box(per-queue secret, nonce, pad(ClientMessage, L))
 *                        L = 15904 with a key in the header (first messages), else 16000
 *   ClientMessage      = 'K' shortString(sender auth key DER) agentEnvelope   (legacy confirmation)
 *                      | '_' agentEnvelope
 *   agentEnvelope      = agentVersion(Word16) then
 *                        'C' Maybe(ratchet params) encConnInfo                (confirmation)
 *                      | 'M' encAgentMessage                                  (ratchet-encrypted message)
 *                      | 'I' Large(invitation link text) connInfo             (request via a contact address)
 *                      | 'R' ratchet params info                              (ratchet re-synchronisation)
 *   (the last field of each is the rest of the bytes)
 *
 * The recipient's side of the router's re-encryption (the MSG body: time
 * stamp, flags and this envelope, or the quota marker) is
 * sx_smp_msg_decrypt in smp/msgcrypt.h. Slices in decoded values point into
 * the decoder's input. */
#ifndef SX_AGENT_ENVELOPE_H
#define SX_AGENT_ENVELOPE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/connreq.h"
#include "crypto/box.h"
#include "crypto/keys.h"
#include "crypto/x3dh.h"
#include "smp/encoding.h"

/* Padded lengths of the per-queue encryption (e2eEncConfirmationLength,
 * e2eEncMessageLength). */
#define SX_AGENT_E2E_CONF_PADDED 15904
#define SX_AGENT_E2E_MSG_PADDED 16000
/* Padded lengths of the double-ratchet plaintext: a confirmation's
 * connection info and an agent message, with PQ support (agent version 5 and
 * up) and without. */
#define SX_AGENT_CONN_INFO_PADDED 14832
#define SX_AGENT_CONN_INFO_PADDED_PQ 11106
#define SX_AGENT_MSG_PADDED 15840
#define SX_AGENT_MSG_PADDED_PQ 13618
/* The most an envelope we write can be: header with a key, nonce, tag and
 * the padded confirmation. */
#define SX_AGENT_ENVELOPE_MAX \
    (2 + 1 + 1 + SX_X25519_SPKI_LEN + SX_CB_NONCE_LEN + SX_CB_TAG_LEN + SX_AGENT_E2E_MSG_PADDED)

size_t sx_agent_conn_info_padded_len(uint16_t agent_version, bool pq_support);
size_t sx_agent_msg_padded_len(uint16_t agent_version, bool pq_support);

/* ---- ClientMsgEnvelope ---- */

typedef struct sx_client_env {
    uint16_t version; /* SMP client version */
    bool has_dh;
    uint8_t dh[SX_X25519_SPKI_LEN]; /* the sender's per-queue X25519 key, DER */
    uint8_t nonce[SX_CB_NONCE_LEN];
    sx_slice enc_body;
} sx_client_env;

bool sx_client_env_write(sx_writer *w, const sx_client_env *e);
/* Any length of encrypted body is taken (it is checked by decryption). */
SX_MUST_CHECK sx_status sx_client_env_decode(sx_slice in, sx_client_env *out);

/* ---- ClientMessage ---- */

typedef struct sx_client_msg {
    bool confirmation;      /* 'K': carries the sender's queue auth key */
    sx_smp_pubkey auth_key; /* Ed25519, Ed448 or X25519 (APublicAuthKey) */
    sx_slice body;          /* the agent envelope */
} sx_client_msg;

bool sx_client_msg_write(sx_writer *w, const sx_client_msg *m);
SX_MUST_CHECK sx_status sx_client_msg_decode(sx_slice in, sx_client_msg *out);

/* ---- per-queue encryption ---- */

/* The per-queue secret: X25519 of our private key and the peer's public key
 * (DER). SX_E_PROTOCOL for a bad peer key, SX_E_AUTH for a small-order one. */
SX_MUST_CHECK sx_status sx_agent_e2e_secret(const sx_key *own_priv, const uint8_t peer_dh[SX_X25519_SPKI_LEN],
                                            uint8_t secret[SX_CB_KEY_LEN]);
/* agentCbEncrypt: the envelope of client_msg (an encoded ClientMessage)
 * encrypted with secret; own_dh (NULL for none) goes into the header and
 * selects the confirmation padding. nonce NULL: a random one. Written to w.
 * SX_E_LIMIT (in w) when the message does not fit the padding. */
bool sx_agent_cb_encrypt(sx_writer *w, const uint8_t secret[SX_CB_KEY_LEN], uint16_t smp_client_version,
                         const uint8_t *own_dh, const uint8_t *nonce, sx_slice client_msg);
/* agentCbEncryptOnce: as above with a fresh X25519 key pair, for the
 * recipient's queue key rcv_dh (DER); confirmation padding. */
bool sx_agent_cb_encrypt_once(sx_writer *w, uint16_t smp_client_version, const uint8_t rcv_dh[SX_X25519_SPKI_LEN],
                              sx_slice client_msg);
/* Opens env's body with secret into buf (cap >= enc_body.len); *client_msg
 * points into buf. SX_E_AUTH for a bad tag, SX_E_PROTOCOL for bad padding. */
SX_MUST_CHECK sx_status sx_agent_cb_decrypt(const uint8_t secret[SX_CB_KEY_LEN], const sx_client_env *env,
                                            uint8_t *buf, size_t cap, sx_slice *client_msg);

/* ---- agent envelopes ---- */

typedef enum sx_agent_env_type {
    SX_AGENT_ENV_CONFIRMATION = 'C',
    SX_AGENT_ENV_MESSAGE = 'M',
    SX_AGENT_ENV_INVITATION = 'I',
    SX_AGENT_ENV_RATCHET_KEY = 'R',
} sx_agent_env_type;

typedef struct sx_agent_env {
    uint16_t agent_version;
    sx_agent_env_type type;
    /* C: optional ratchet params of the joining party (any KEM state);
     * R: the params (no ACCEPTED KEM). Plain form, one version. */
    bool has_e2e;
    sx_e2e_params e2e;
    /* I: the invitation link as written (a simplex:/invitation link). */
    sx_slice conn_req;
    /* C: encrypted conn info; M: encrypted agent message; I: conn info;
     * R: info (the encoded AgentRatchetInfo). */
    sx_slice body;
} sx_agent_env;

/* SX_E_USAGE in w for a bad type, an I without conn_req, an R without
 * has_e2e. */
bool sx_agent_env_write(sx_writer *w, const sx_agent_env *e);
/* For an I envelope the link must parse as an invitation: into *inv when inv
 * is not NULL (free it with sx_agent_connreq_free), else it is parsed and
 * dropped. SX_E_PROTOCOL, SX_E_LIMIT, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_agent_env_decode(sx_slice in, sx_agent_env *out, sx_agent_connreq *inv);

#endif
