/* Streamlined NTRU Prime sntrup761 (round-3 KEM: p = 761, q = 4591, w = 286),
 * the post-quantum half of the ratchet's hybrid key agreement. Written from
 * the NTRU Prime specification; byte-compatible with the reference's KEM. */
#ifndef SX_CRYPTO_SNTRUP761_H
#define SX_CRYPTO_SNTRUP761_H

#include <stddef.h>
#include <stdint.h>

#include "simplex/status.h"

#define SX_SNTRUP761_PK_LEN 1158 /* Encode(h), h in R/q */
#define SX_SNTRUP761_SK_LEN 1763 /* f || 1/g || pk || rho || Hash4(pk) */
#define SX_SNTRUP761_CT_LEN 1039 /* Rounded(hr) (1007) || HashConfirm (32) */
#define SX_SNTRUP761_SS_LEN 32

/* Source of the random bytes a key pair or an encapsulation consumes.
 * fill_cb(ctx, out, n) must write n bytes. Every function below takes a
 * `const sx_sntrup761_rng *`; NULL means the system CSPRNG (sx_random_bytes). */
typedef struct sx_sntrup761_rng {
    void (*fill_cb)(void *ctx, uint8_t *out, size_t n);
    void *ctx;
} sx_sntrup761_rng;

/* Deterministic generator for tests and known-answer runs: the ChaCha20
 * (RFC 8439, all-zero nonce) keystream under the 32-byte seed as key, block
 * counter from 0, handed out in order however the reads are split. NOT for
 * production keys: the output is exactly as secret as the seed. The state is
 * caller-owned; one drbg must not be used by two threads at once. */
typedef struct sx_sntrup761_drbg {
    uint8_t key[32];
    uint8_t block[64];
    uint32_t counter; /* next block to generate */
    size_t used;      /* bytes of block already handed out */
} sx_sntrup761_drbg;

void sx_sntrup761_drbg_init(sx_sntrup761_drbg *d, const uint8_t seed[32]);
/* Writes the next n bytes of the keystream. */
void sx_sntrup761_drbg_fill(sx_sntrup761_drbg *d, uint8_t *out, size_t n);
/* An rng reading from d (d is borrowed and must outlive its uses). */
sx_sntrup761_rng sx_sntrup761_drbg_rng(sx_sntrup761_drbg *d);
/* Wipes the state. */
void sx_sntrup761_drbg_cleanup(sx_sntrup761_drbg *d);

/* Generates a key pair: pk (public) and sk (secret; wipe it when done).
 * Draws 3044 bytes per attempt at g (about 1.5 attempts on average), then
 * 3044 bytes for f and 191 for rho. SX_E_USAGE on NULL pointers. */
SX_MUST_CHECK sx_status sx_sntrup761_keypair(uint8_t pk[SX_SNTRUP761_PK_LEN],
                                             uint8_t sk[SX_SNTRUP761_SK_LEN],
                                             const sx_sntrup761_rng *rng);

/* Encapsulates to pk: writes the ciphertext ct and the shared secret ss.
 * Draws 3044 bytes. Any 1158 bytes are accepted as pk (every byte string
 * decodes to some element of R/q, as in the reference). SX_E_USAGE on NULL
 * pointers. */
SX_MUST_CHECK sx_status sx_sntrup761_enc(uint8_t ct[SX_SNTRUP761_CT_LEN],
                                         uint8_t ss[SX_SNTRUP761_SS_LEN],
                                         const uint8_t pk[SX_SNTRUP761_PK_LEN],
                                         const sx_sntrup761_rng *rng);

/* Decapsulates ct with sk into ss. Never fails on a bad ciphertext: with
 * implicit rejection, a ct that does not re-encrypt to itself yields a
 * pseudo-random secret derived from sk's rho and ct, chosen with masks so the
 * time taken does not tell the two cases apart. SX_E_USAGE on NULL pointers
 * only. */
SX_MUST_CHECK sx_status sx_sntrup761_dec(uint8_t ss[SX_SNTRUP761_SS_LEN],
                                         const uint8_t ct[SX_SNTRUP761_CT_LEN],
                                         const uint8_t sk[SX_SNTRUP761_SK_LEN]);

/* Checks that sk is a consistent secret key: f has coefficients in {-1,0,1}
 * and weight w; g = 3*f*h (h decoded from the embedded pk) is small; the
 * stored 1/g times g is 1 in R/3; the cached hash equals Hash4(pk). Not
 * constant time (a diagnostic for stored or imported keys). SX_OK, or
 * SX_E_PROTOCOL naming no detail; SX_E_USAGE on NULL. */
SX_MUST_CHECK sx_status sx_sntrup761_sk_check(const uint8_t sk[SX_SNTRUP761_SK_LEN]);

/* Exposed for unit tests: sorts x[0..n) ascending with Batcher's
 * merge-exchange network (compare-exchanges chosen by n only). */
void sx_sntrup761_sort_u32(uint32_t *x, size_t n);

#endif
