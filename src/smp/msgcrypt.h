/* Encrypted payloads the router produces (PROTOCOL-NOTES D24-D26, P8, P9):
 * the received-message body of MSG, encrypted to the recipient with the
 * queue's DH secret and the message id as nonce, and the NMSG metadata,
 * encrypted to the notification recipient with a random nonce. Both sides
 * are here: the router encrypts, the client decrypts. Secrets are borrowed
 * and never copied; plaintext scratch is wiped. */
#ifndef SX_SMP_MSGCRYPT_H
#define SX_SMP_MSGCRYPT_H

#include "core/bytes.h"
#include "crypto/box.h"
#include "simplex/status.h"

#define SX_SMP_MSG_ID_LEN 24         /* PROTOCOL-NOTES E24: router message ids */
#define SX_SMP_MSG_BODY_MAX 16088    /* MaxMessageLen: the largest stored SEND body */
#define SX_SMP_RCV_MSG_PADDED 16106  /* PROTOCOL-NOTES D24: padded plaintext (16104 + 2) */
#define SX_SMP_ENC_MSG_LEN (SX_SMP_RCV_MSG_PADDED + SX_CB_TAG_LEN) /* 16122 */
#define SX_SMP_NMSG_META_PADDED 128  /* PROTOCOL-NOTES D26 */
#define SX_SMP_NMSG_META_LEN (SX_SMP_NMSG_META_PADDED + SX_CB_TAG_LEN) /* 144 */
#define SX_SMP_PROXIED_T_PADDED 16226 /* PROTOCOL-NOTES D33: paddedProxiedTLength */

/* PROTOCOL-NOTES D24: out = crypto_box(secret, cbNonce(msg_id), pad(Int64
 * ts || 'T'/'F' || ' ' || body, 16106)), exactly SX_SMP_ENC_MSG_LEN bytes.
 * SX_E_LIMIT when body is over SX_SMP_MSG_BODY_MAX; SX_E_USAGE on bad
 * arguments. */
SX_MUST_CHECK sx_status sx_smp_msg_encrypt(const uint8_t secret[SX_CB_KEY_LEN], sx_slice msg_id,
                                           int64_t ts, bool notification, sx_slice body,
                                           uint8_t out[SX_SMP_ENC_MSG_LEN]);
/* PROTOCOL-NOTES E11: the quota marker, body "QUOTA " || Int64 ts, padded and
 * encrypted the same way. */
SX_MUST_CHECK sx_status sx_smp_msg_encrypt_quota(const uint8_t secret[SX_CB_KEY_LEN],
                                                 sx_slice msg_id, int64_t ts,
                                                 uint8_t out[SX_SMP_ENC_MSG_LEN]);

/* PROTOCOL-NOTES D25: a decrypted received-message body. */
typedef struct sx_smp_rcv_msg {
    bool quota;        /* the quota marker: only ts is set */
    int64_t ts;
    bool notification;
    sx_slice body;     /* points into the caller's buffer */
} sx_smp_rcv_msg;

/* Decrypts and parses an MSG body into buf (cap >= enc.len - 16): SX_OK,
 * SX_E_AUTH when the box does not open, SX_E_PROTOCOL when the padding or
 * the body layout is wrong (buf is wiped then). */
SX_MUST_CHECK sx_status sx_smp_msg_decrypt(const uint8_t secret[SX_CB_KEY_LEN], sx_slice msg_id,
                                           sx_slice enc, uint8_t *buf, size_t cap,
                                           sx_smp_rcv_msg *out);

/* PROTOCOL-NOTES D26: out = crypto_box(secret, nonce,
 * pad(shortString(msg_id) || Int64 ts, 128)), SX_SMP_NMSG_META_LEN bytes.
 * msg_id is at most 117 bytes (it must fit the padding; SX_E_LIMIT
 * otherwise). */
SX_MUST_CHECK sx_status sx_smp_nmsg_encrypt(const uint8_t secret[SX_CB_KEY_LEN],
                                            const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice msg_id,
                                            int64_t ts, uint8_t out[SX_SMP_NMSG_META_LEN]);
/* Decrypts NMSG metadata into buf (cap >= enc.len - 16); *msg_id points into
 * buf. Bytes after the timestamp are ignored (reserved for extensions).
 * SX_E_AUTH / SX_E_PROTOCOL as above. */
SX_MUST_CHECK sx_status sx_smp_nmsg_decrypt(const uint8_t secret[SX_CB_KEY_LEN],
                                            const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice enc,
                                            uint8_t *buf, size_t cap, sx_slice *msg_id,
                                            int64_t *ts);

#endif
