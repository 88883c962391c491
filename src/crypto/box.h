/* NaCl-style boxes as the reference uses them (PROTOCOL-NOTES A33-A35, A38,
 * C8, P7): XSalsa20-Poly1305 keyed by k = HSalsa20(K, 0^16), output
 * 16-byte tag || ciphertext, no nonce prepended.
 *
 * The "cb" functions take a raw 32-byte X25519 shared secret (crypto_box);
 * the "sb" functions take a symmetric 32-byte key (secret_box). Both run the
 * SAME HSalsa20 pre-derivation, so they are byte-for-byte the same function;
 * neither equals plain libsodium crypto_secretbox(K). The two names exist so
 * call sites read like the protocol. Keys and nonces are borrowed; derived
 * keys are wiped before return. All functions are thread-safe. */
#ifndef SX_CRYPTO_BOX_H
#define SX_CRYPTO_BOX_H

#include "core/bytes.h"
#include "simplex/status.h"

#define SX_CB_KEY_LEN   32 /* X25519 shared secret or secret_box key */
#define SX_CB_NONCE_LEN 24
#define SX_CB_TAG_LEN   16
#define SX_CB_AUTH_LEN  80 /* PROTOCOL-NOTES C8: tag + SHA-512 */

/* PROTOCOL-NOTES A38 cbNonce: first 24 bytes of b, right-padded with zeros if
 * shorter. */
void sx_cb_nonce(sx_slice b, uint8_t out[SX_CB_NONCE_LEN]);
/* PROTOCOL-NOTES A38 reverseNonce: out = bytes of in in reverse order
 * (in == out allowed). */
void sx_cb_nonce_reverse(const uint8_t in[SX_CB_NONCE_LEN], uint8_t out[SX_CB_NONCE_LEN]);

/* PROTOCOL-NOTES A33 cbEncryptNoPad: out (cap >= msg.len + 16) receives
 * tag || ciphertext, exactly msg.len + 16 bytes. msg may overlap out.
 * SX_E_USAGE on bad pointers or a short cap, SX_E_INTERNAL if libsodium cannot
 * start. */
SX_MUST_CHECK sx_status sx_cb_encrypt(const uint8_t secret[SX_CB_KEY_LEN],
                                      const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice msg,
                                      uint8_t *out, size_t cap);
/* PROTOCOL-NOTES A33 decrypt without unpadding: checks the tag, writes
 * box.len - 16 bytes of plaintext to out (cap >= box.len - 16) and sets *msg to
 * them. SX_E_AUTH when box is shorter than 16 bytes or the tag does not match
 * (nothing is written then); SX_E_USAGE on bad arguments. */
SX_MUST_CHECK sx_status sx_cb_decrypt(const uint8_t secret[SX_CB_KEY_LEN],
                                      const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice box,
                                      uint8_t *out, size_t cap, sx_slice *msg);
/* PROTOCOL-NOTES A35 cbEncrypt: PROTOCOL-NOTES A30 pad(msg, padded_len) then
 * encrypt; out receives exactly padded_len + 16 bytes (cap >= that; msg must
 * not overlap out). SX_E_LIMIT when msg does not fit padded_len (PROTOCOL-NOTES
 * A30 rules), SX_E_USAGE on bad arguments. */
SX_MUST_CHECK sx_status sx_cb_encrypt_padded(const uint8_t secret[SX_CB_KEY_LEN],
                                             const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice msg,
                                             size_t padded_len, uint8_t *out, size_t cap);
/* PROTOCOL-NOTES A35 cbDecrypt: decrypt (as sx_cb_decrypt) then
 * PROTOCOL-NOTES A30 unpad; *msg points into out. SX_E_AUTH for a bad tag,
 * SX_E_PROTOCOL for malformed padding (out is wiped then). */
SX_MUST_CHECK sx_status sx_cb_decrypt_padded(const uint8_t secret[SX_CB_KEY_LEN],
                                             const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice box,
                                             uint8_t *out, size_t cap, sx_slice *msg);

/* PROTOCOL-NOTES A34 secret_box with a symmetric key: same contracts as the cb
 * functions. */
SX_MUST_CHECK sx_status sx_sb_encrypt(const uint8_t key[SX_CB_KEY_LEN],
                                      const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice msg,
                                      uint8_t *out, size_t cap);
SX_MUST_CHECK sx_status sx_sb_decrypt(const uint8_t key[SX_CB_KEY_LEN],
                                      const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice box,
                                      uint8_t *out, size_t cap, sx_slice *msg);
SX_MUST_CHECK sx_status sx_sb_encrypt_padded(const uint8_t key[SX_CB_KEY_LEN],
                                             const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice msg,
                                             size_t padded_len, uint8_t *out, size_t cap);
SX_MUST_CHECK sx_status sx_sb_decrypt_padded(const uint8_t key[SX_CB_KEY_LEN],
                                             const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice box,
                                             uint8_t *out, size_t cap, sx_slice *msg);

/* PROTOCOL-NOTES C8 authenticator: crypto_box of SHA-512(msg) under the X25519
 * shared secret with nonce (cbNonce of the corrId), 80 bytes. */
SX_MUST_CHECK sx_status sx_cb_authenticate(const uint8_t secret[SX_CB_KEY_LEN],
                                           const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice msg,
                                           uint8_t out[SX_CB_AUTH_LEN]);
/* PROTOCOL-NOTES C8 verification: SX_OK when auth opens under secret/nonce to
 * SHA-512(msg) (compared in constant time); SX_E_AUTH for any other auth,
 * including one of the wrong length. */
SX_MUST_CHECK sx_status sx_cb_verify(const uint8_t secret[SX_CB_KEY_LEN],
                                     const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice auth,
                                     sx_slice msg);

#endif
