/* Asymmetric keys of the protocol (Ed25519, Ed448, X25519, X448) over
 * OpenSSL 3 EVP: generation, raw bytes, pure EdDSA signatures, raw X25519/X448
 * shared secrets, and the strict DER / text encodings of PROTOCOL-NOTES
 * A16-A18, A24 and A39. */
#ifndef SX_CRYPTO_KEYS_H
#define SX_CRYPTO_KEYS_H

#include <openssl/types.h>

#include "core/bytes.h"
#include "core/reader.h"
#include "core/writer.h"
#include "simplex/status.h"

typedef enum sx_key_alg {
    SX_KEY_ED25519 = 0,
    SX_KEY_ED448 = 1,
    SX_KEY_X25519 = 2,
    SX_KEY_X448 = 3,
} sx_key_alg;

/* Sets of algorithms, for decoders of fields typed by the protocol. */
#define SX_KEY_BIT(alg) (1u << (unsigned)(alg))
#define SX_KEY_ANY 0xfu
#define SX_KEY_SIGN_ALGS (SX_KEY_BIT(SX_KEY_ED25519) | SX_KEY_BIT(SX_KEY_ED448))
#define SX_KEY_DH_ALGS (SX_KEY_BIT(SX_KEY_X25519) | SX_KEY_BIT(SX_KEY_X448))
/* Queue authorization keys (APublicAuthKey): a signature key or X25519. */
#define SX_KEY_AUTH_ALGS (SX_KEY_SIGN_ALGS | SX_KEY_BIT(SX_KEY_X25519))

#define SX_KEY_RAW_MAX 57       /* Ed448 */
#define SX_SIG_ED25519_LEN 64   /* PROTOCOL-NOTES A18 */
#define SX_SIG_ED448_LEN 114
#define SX_SIG_MAX 114
#define SX_DH_MAX 56            /* X448 shared secret */
#define SX_KEY_SPKI_MAX 69      /* Ed448 SubjectPublicKeyInfo */
#define SX_KEY_PKCS8_MAX 73     /* Ed448 PKCS#8 */
/* base64url of the longest DER, with padding and the NUL. */
#define SX_KEY_TEXT_MAX 104

/* A key of one algorithm; either public only or a private key (which can
 * also do everything a public key does). Heap object, never shared between
 * threads while one of them frees it; all other calls only read it. */
typedef struct sx_key sx_key;

/* Raw key length of alg (32/57/32/56), or 0 for an unknown value. */
size_t sx_key_raw_len(sx_key_alg alg);
/* Signature length (64/114), 0 for DH algorithms and unknown values. */
size_t sx_key_sig_len(sx_key_alg alg);
/* Length of the DER SubjectPublicKeyInfo (PROTOCOL-NOTES A16) / PKCS#8
 * (PROTOCOL-NOTES A17); 0 if unknown. */
size_t sx_key_spki_len(sx_key_alg alg);
size_t sx_key_pkcs8_len(sx_key_alg alg);
/* "Ed25519", "Ed448", "X25519", "X448"; "?" for an unknown value. */
const char *sx_key_alg_name(sx_key_alg alg);

/* New random private key. SX_E_USAGE for an unknown alg, SX_E_INTERNAL on
 * OpenSSL failure. *out is NULL on any error. */
SX_MUST_CHECK sx_status sx_key_generate(sx_key_alg alg, sx_key **out);
/* Keys from raw bytes (RFC 7748 / RFC 8032 encodings). The length must be
 * sx_key_raw_len(alg): SX_E_USAGE otherwise. A private key's public half is
 * derived. */
SX_MUST_CHECK sx_status sx_key_from_raw_public(sx_key_alg alg, sx_slice raw, sx_key **out);
SX_MUST_CHECK sx_status sx_key_from_raw_private(sx_key_alg alg, sx_slice raw, sx_key **out);
/* Wraps an OpenSSL key of one of the four algorithms (the caller keeps its
 * own reference; the new key takes another). The new key is private whenever
 * pkey holds private material; with want_private it must. SX_E_PROTOCOL for
 * another algorithm or a missing private key. */
SX_MUST_CHECK sx_status sx_key_from_evp(EVP_PKEY *pkey, bool want_private, sx_key **out);
/* A public-only copy of k (k may be public or private). */
SX_MUST_CHECK sx_status sx_key_public_copy(const sx_key *k, sx_key **out);
/* Releases k; OpenSSL wipes the private material. Accepts NULL. */
void sx_key_free(sx_key *k);

sx_key_alg sx_key_alg_of(const sx_key *k);
bool sx_key_is_private(const sx_key *k);
/* The OpenSSL key inside k, borrowed: valid while k lives. Up-ref it to keep. */
EVP_PKEY *sx_key_evp(const sx_key *k);
/* True when both keys have the same algorithm and public key. */
bool sx_key_public_equal(const sx_key *a, const sx_key *b);

/* Raw key bytes into out (cap >= sx_key_raw_len, else SX_E_USAGE). The
 * private form needs a private key (SX_E_USAGE); the caller wipes it. */
SX_MUST_CHECK sx_status sx_key_raw_public(const sx_key *k, uint8_t *out, size_t cap, size_t *len);
SX_MUST_CHECK sx_status sx_key_raw_private(const sx_key *k, uint8_t *out, size_t cap, size_t *len);

/* PROTOCOL-NOTES A39: pure Ed25519/Ed448 signature of msg (no pre-hash, no
 * context) with a private signature key. The signature (PROTOCOL-NOTES A18: 64
 * or 114 bytes) goes to sig. SX_E_USAGE for a DH or public key or cap too
 * small. */
SX_MUST_CHECK sx_status sx_key_sign(const sx_key *k, sx_slice msg, uint8_t *sig, size_t cap,
                                    size_t *sig_len);
/* SX_OK when sig is a valid signature of msg by k; SX_E_AUTH otherwise
 * (including a signature of the wrong length); SX_E_USAGE for a DH key. */
SX_MUST_CHECK sx_status sx_key_verify(const sx_key *k, sx_slice msg, sx_slice sig);
/* The same check from raw public key bytes, without a key object (for hot
 * paths that keep keys compactly): Ed25519 through libsodium, which is about
 * twice as fast as OpenSSL here; Ed448 through OpenSSL. SX_E_AUTH for a bad
 * signature or key; SX_E_USAGE for a DH algorithm or a wrong raw length. */
SX_MUST_CHECK sx_status sx_key_verify_raw(sx_key_alg alg, sx_slice raw_pub, sx_slice msg, sx_slice sig);
/* X25519 of raw 32-byte keys (libsodium). SX_E_AUTH when the result is all
 * zero (small-order peer point), like sx_key_dh. The caller wipes out. */
SX_MUST_CHECK sx_status sx_x25519_raw(const uint8_t priv[32], const uint8_t pub[32], uint8_t out[32]);
/* PROTOCOL-NOTES A39: raw X25519/X448 shared secret (32/56 bytes, no hashing)
 * of our private key and the peer's public key, which must be the same
 * algorithm (else SX_E_USAGE). A peer key that yields the all-zero secret (a
 * small-order point) is refused by OpenSSL: SX_E_AUTH. The caller wipes out. */
SX_MUST_CHECK sx_status sx_key_dh(const sx_key *priv, const sx_key *peer, uint8_t *out, size_t cap,
                                  size_t *len);

/* PROTOCOL-NOTES A16 / A17 DER encodings, appended to w: SubjectPublicKeyInfo
 * of any key, PKCS#8 (version 0, no public key) of a private key (SX_E_USAGE in
 * w for a public one). The _short forms add the 1-byte length (PROTOCOL-NOTES
 * A4). Writer style: false with the writer failed on error. */
bool sx_key_write_public(sx_writer *w, const sx_key *k);
bool sx_key_write_public_short(sx_writer *w, const sx_key *k);
bool sx_key_write_private(sx_writer *w, const sx_key *k);
bool sx_key_write_private_short(sx_writer *w, const sx_key *k);

/* Strict decoders of the same DER: the exact prefix of one of the algorithms
 * in the set `allowed` (SX_KEY_BIT... / SX_KEY_*_ALGS), the exact key length,
 * nothing after it. Unknown or not-allowed algorithm, truncation and trailing
 * bytes are all SX_E_PROTOCOL; SX_E_NOMEM / SX_E_INTERNAL otherwise. */
SX_MUST_CHECK sx_status sx_key_decode_public(sx_slice der, unsigned allowed, sx_key **out);
SX_MUST_CHECK sx_status sx_key_decode_private(sx_slice der, unsigned allowed, sx_key **out);
/* The same strict check of a public key's DER without making a key (no
 * allocation): SX_OK with *alg set, or SX_E_PROTOCOL. The raw key is not
 * checked further, which is all the decoder does too. */
SX_MUST_CHECK sx_status sx_key_check_public(sx_slice der, unsigned allowed, sx_key_alg *alg);
/* Reads shortString(DER) from r and decodes it; a decoding failure fails r
 * with its status. *out is NULL on failure. */
bool sx_key_read_public_short(sx_reader *r, unsigned allowed, sx_key **out);
bool sx_key_read_private_short(sx_reader *r, unsigned allowed, sx_key **out);

/* PROTOCOL-NOTES A24: NUL-terminated base64url (padded) of the DER into out
 * (cap >= SX_KEY_TEXT_MAX is always enough; SX_E_LIMIT if too small). */
SX_MUST_CHECK sx_status sx_key_public_to_text(const sx_key *k, char *out, size_t cap);
SX_MUST_CHECK sx_status sx_key_private_to_text(const sx_key *k, char *out, size_t cap);
/* Parses len chars of base64url (padding optional) then decodes strictly as
 * above. Errors: SX_E_PROTOCOL. */
SX_MUST_CHECK sx_status sx_key_public_from_text(const char *text, size_t len, unsigned allowed,
                                                sx_key **out);
SX_MUST_CHECK sx_status sx_key_private_from_text(const char *text, size_t len, unsigned allowed,
                                                 sx_key **out);

#endif
