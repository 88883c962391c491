/* Hash functions over OpenSSL 3 EVP: SHA-256 (fingerprints, file chunk
 * digests), SHA-512 (PROTOCOL-NOTES C8 authenticators, file digests), SHA3-256
 * (the hybrid DH+KEM secret), SHA3-384; and HKDF-SHA512 (PROTOCOL-NOTES A37,
 * over libsodium's HMAC) used by the block chain and the ratchet. */
#ifndef SX_CRYPTO_HASH_H
#define SX_CRYPTO_HASH_H

#include "core/bytes.h"
#include "simplex/status.h"

#define SX_SHA256_LEN   32
#define SX_SHA512_LEN   64
#define SX_SHA3_256_LEN 32
#define SX_SHA3_384_LEN 48
#define SX_MD5_LEN      16
#define SX_HASH_MAX_LEN 64
/* RFC 5869: at most 255 blocks of output. */
#define SX_HKDF_SHA512_MAX_LEN (255 * SX_SHA512_LEN)

typedef enum sx_hash_alg {
    SX_HASH_SHA256,
    SX_HASH_SHA512,
    SX_HASH_SHA3_384,
    SX_HASH_SHA3_256,
    SX_HASH_MD5, /* only for the ids hash of service subscriptions (PROTOCOL-NOTES D29) */
} sx_hash_alg;

/* Digest length of alg in bytes, 0 for an unknown value. */
size_t sx_hash_len(sx_hash_alg alg);

/* One-shot digests of in. out must hold the digest length. Errors:
 * SX_E_INTERNAL (OpenSSL failure), SX_E_USAGE (unknown alg, out too small). */
SX_MUST_CHECK sx_status sx_hash(sx_hash_alg alg, sx_slice in, uint8_t *out, size_t cap);
SX_MUST_CHECK sx_status sx_sha256(sx_slice in, uint8_t out[SX_SHA256_LEN]);
SX_MUST_CHECK sx_status sx_sha512(sx_slice in, uint8_t out[SX_SHA512_LEN]);
SX_MUST_CHECK sx_status sx_sha3_384(sx_slice in, uint8_t out[SX_SHA3_384_LEN]);
SX_MUST_CHECK sx_status sx_sha3_256(sx_slice in, uint8_t out[SX_SHA3_256_LEN]);
SX_MUST_CHECK sx_status sx_md5(sx_slice in, uint8_t out[SX_MD5_LEN]);

/* Incremental hashing, for data that arrives in pieces (XFTP files).
 * init allocates (SX_E_NOMEM / SX_E_USAGE for an unknown alg); update may be
 * called any number of times; final writes the digest (cap >= its length,
 * else SX_E_USAGE) and ends the computation: further update/final calls are
 * SX_E_USAGE until the next init. cleanup releases the context and may be
 * called on a zeroed, initialised, finished or failed context. */
typedef struct sx_hash_ctx {
    struct evp_md_ctx_st *md; /* OpenSSL EVP_MD_CTX, NULL when not running */
    sx_hash_alg alg;
} sx_hash_ctx;

SX_MUST_CHECK sx_status sx_hash_init(sx_hash_ctx *h, sx_hash_alg alg);
SX_MUST_CHECK sx_status sx_hash_update(sx_hash_ctx *h, sx_slice data);
SX_MUST_CHECK sx_status sx_hash_final(sx_hash_ctx *h, uint8_t *out, size_t cap);
void sx_hash_cleanup(sx_hash_ctx *h);

/* PROTOCOL-NOTES A37: HKDF-SHA512 (RFC 5869 extract then expand) of ikm with
 * salt and info, writing exactly len bytes to out. An empty salt means HashLen
 * zero bytes, as in the RFC. Errors: SX_E_USAGE when len is 0 or over
 * SX_HKDF_SHA512_MAX_LEN, SX_E_INTERNAL when libsodium cannot start.
 * Thread-safe. */
SX_MUST_CHECK sx_status sx_hkdf_sha512(sx_slice salt, sx_slice ikm, sx_slice info, uint8_t *out,
                                       size_t len);

#endif
