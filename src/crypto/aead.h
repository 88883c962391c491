/* AES-256-GCM with associated data over OpenSSL 3 EVP, as the double ratchet
 * uses it (PROTOCOL-NOTES A.4): 32-byte key, 16-byte IV (standard GCM J0
 * derivation for non-96-bit IVs, which is what the reference's cryptonite
 * does), detached 16-byte tag. Padded variants apply the PROTOCOL-NOTES A30 pad
 * first. */
#ifndef SX_CRYPTO_AEAD_H
#define SX_CRYPTO_AEAD_H

#include "core/bytes.h"
#include "simplex/status.h"

#define SX_AES_KEY_LEN        32
#define SX_AES_GCM_TAG_LEN    16
#define SX_AES_GCM_IV_LEN     16 /* ratchet messages and headers */
#define SX_AES_GCM_IV12_LEN   12 /* the reference's "GCMIV" (WebRTC frames) */
#define SX_AES_GCM_IV_MAX_LEN 64 /* accepted range is 1..64 */

/* Encrypts msg into out (cap >= msg.len; out may be exactly msg.ptr for
 * in-place use) and writes the tag. iv.len must be 1..SX_AES_GCM_IV_MAX_LEN;
 * the protocol uses 16 or 12. Errors: SX_E_USAGE (bad lengths or pointers),
 * SX_E_INTERNAL (OpenSSL failure; out is wiped). */
SX_MUST_CHECK sx_status sx_aead_encrypt(const uint8_t key[SX_AES_KEY_LEN], sx_slice iv,
                                        sx_slice aad, sx_slice msg, uint8_t *out, size_t cap,
                                        uint8_t tag[SX_AES_GCM_TAG_LEN]);

/* Decrypts ct into out (cap >= ct.len; in place allowed) after checking tag.
 * Errors: SX_E_AUTH when the tag does not match (out is wiped), SX_E_USAGE,
 * SX_E_INTERNAL. */
SX_MUST_CHECK sx_status sx_aead_decrypt(const uint8_t key[SX_AES_KEY_LEN], sx_slice iv,
                                        sx_slice aad, sx_slice ct,
                                        const uint8_t tag[SX_AES_GCM_TAG_LEN], uint8_t *out,
                                        size_t cap);

/* PROTOCOL-NOTES A30 pad(msg, padded_len) then encrypt: out receives exactly
 * padded_len bytes (cap >= padded_len; msg must not overlap out). SX_E_LIMIT
 * when msg does not fit the padding. */
SX_MUST_CHECK sx_status sx_aead_encrypt_padded(const uint8_t key[SX_AES_KEY_LEN], sx_slice iv,
                                               sx_slice aad, sx_slice msg, size_t padded_len,
                                               uint8_t *out, size_t cap,
                                               uint8_t tag[SX_AES_GCM_TAG_LEN]);

/* Decrypt then PROTOCOL-NOTES A30 unpad: the padded plaintext goes to out
 * (cap >= ct.len) and *msg points into out. SX_E_AUTH on a bad tag,
 * SX_E_PROTOCOL when the decrypted padding is malformed (out is wiped in both
 * cases). */
SX_MUST_CHECK sx_status sx_aead_decrypt_padded(const uint8_t key[SX_AES_KEY_LEN], sx_slice iv,
                                               sx_slice aad, sx_slice ct,
                                               const uint8_t tag[SX_AES_GCM_TAG_LEN], uint8_t *out,
                                               size_t cap, sx_slice *msg);

#endif
