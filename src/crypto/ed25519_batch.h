/* Batch verification of Ed25519 signatures (issue 18): many (message,
 * signature, public key) triples checked with one multi-scalar
 * multiplication instead of one double scalar multiplication each.
 *
 * The answer for each signature is meant to be the one libsodium 1.0.18's
 * crypto_sign_verify_detached gives (cofactorless equation, S < L, no
 * small-order R or A, canonical A, R compared by its canonical encoding); the
 * prechecks are the same, and when the batch equation fails every remaining
 * signature is checked one by one with libsodium. The one known difference
 * (two or more signatures whose R or A carry a deliberate torsion component,
 * which only the holder of the private key can build) is described in
 * docs/PERFORMANCE.md, "Batch verification of Ed25519".
 *
 * Everything here works on public data (signatures, keys, messages) and is
 * variable-time on purpose. Thread-safe: no shared mutable state after the
 * one-time set-up of the constants. */
#ifndef SX_CRYPTO_ED25519_BATCH_H
#define SX_CRYPTO_ED25519_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* One signature to verify: msg may be NULL when msg_len is 0; sig is 64
 * bytes (R || S), pk 32 bytes. Nothing is copied: the bytes must stay valid
 * during the call. */
typedef struct sx_ed25519_item {
    const uint8_t *msg;
    size_t msg_len;
    const uint8_t *sig;
    const uint8_t *pk;
} sx_ed25519_item;

/* Verifies items[0..n-1]; ok[i] = 1 when signature i is valid, 0 when not.
 * Returns how many are valid. Never fails: if memory is short the items are
 * verified one by one with libsodium. */
size_t sx_ed25519_verify_batch(const sx_ed25519_item *items, size_t n, uint8_t *ok);

/* The batch equation alone, without the one-by-one fallback: 1 when every
 * item passes the prechecks and sum z_i([S_i]B - R_i - [h_i]A_i) is the
 * identity for fresh random odd 128-bit z_i, 0 otherwise. For tests and the
 * measurement of the discrepancy. */
int sx_ed25519_batch_equation(const sx_ed25519_item *items, size_t n);

/* Arithmetic hooks for the unit tests (points are 32-byte encodings,
 * scalars 32-byte little-endian integers). Each returns 0, or -1
 * when a point does not decode (RFC 8032 5.1.3). */
int sx_ed25519_test_decode(const uint8_t p[32], int *small_order);
int sx_ed25519_test_add(uint8_t out[32], const uint8_t p[32], const uint8_t q[32]);
int sx_ed25519_test_dbl(uint8_t out[32], const uint8_t p[32]);
/* out = sum [s_i]P_i with the multi-scalar multiplication of the batch. */
int sx_ed25519_test_msm(uint8_t out[32], const uint8_t (*s)[32], const uint8_t (*p)[32], size_t n);
/* out = [s]B with the base-point table. */
void sx_ed25519_test_base(uint8_t out[32], const uint8_t s[32]);

#endif
