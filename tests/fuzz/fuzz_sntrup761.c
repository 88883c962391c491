/* Fuzz target: sntrup761 on bytes from a peer. The input (zero-padded or cut
 * to size) is (1) decapsulated as a ciphertext under a fixed key, (2) used as
 * a public key to encapsulate to, (3) used as a secret key to decapsulate
 * with, and (4) seeds an encapsulation to the fixed key that must decapsulate
 * to the same secret. Any crash, failed call or mismatch aborts. */
#include "crypto/hash.h"
#include "crypto/sntrup761.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t pk[SX_SNTRUP761_PK_LEN], sk[SX_SNTRUP761_SK_LEN];
static int ready;

static void setup(void)
{
    uint8_t seed[32] = "simplex-c fuzz sntrup761 key";
    sx_sntrup761_drbg d;
    sx_sntrup761_drbg_init(&d, seed);
    sx_sntrup761_rng rng = sx_sntrup761_drbg_rng(&d);
    if (sx_sntrup761_keypair(pk, sk, &rng) != SX_OK || sx_sntrup761_sk_check(sk) != SX_OK)
        abort();
    sx_sntrup761_drbg_cleanup(&d);
    ready = 1;
}

/* The input as exactly n bytes: a prefix, zero-padded. */
static void take(uint8_t *out, size_t n, const uint8_t *data, size_t size)
{
    memset(out, 0, n);
    if (size > 0)
        memcpy(out, data, size < n ? size : n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t ct[SX_SNTRUP761_CT_LEN], ct2[SX_SNTRUP761_CT_LEN];
    static uint8_t pk2[SX_SNTRUP761_PK_LEN], sk2[SX_SNTRUP761_SK_LEN];
    uint8_t ss[SX_SNTRUP761_SS_LEN], ss2[SX_SNTRUP761_SS_LEN], seed[SX_SHA256_LEN];
    if (!ready)
        setup();

    /* (1) a received ciphertext: always a secret, the same one twice */
    take(ct, sizeof ct, data, size);
    if (sx_sntrup761_dec(ss, ct, sk) != SX_OK || sx_sntrup761_dec(ss2, ct, sk) != SX_OK ||
        memcmp(ss, ss2, sizeof ss) != 0)
        abort();

    /* (2) a received public key */
    if (sx_sha256(sx_slice_of(data, size), seed) != SX_OK)
        abort();
    sx_sntrup761_drbg d;
    sx_sntrup761_drbg_init(&d, seed);
    sx_sntrup761_rng rng = sx_sntrup761_drbg_rng(&d);
    take(pk2, sizeof pk2, data, size);
    if (sx_sntrup761_enc(ct2, ss, pk2, &rng) != SX_OK)
        abort();

    /* (3) a stored secret key that may be damaged: no crash, check says no
     * or yes but never anything else */
    take(sk2, sizeof sk2, data, size);
    if (sx_sntrup761_dec(ss, ct, sk2) != SX_OK)
        abort();
    sx_status st = sx_sntrup761_sk_check(sk2);
    if (st != SX_OK && st != SX_E_PROTOCOL)
        abort();

    /* (4) randomness from the input: the round trip must hold */
    if (sx_sntrup761_enc(ct2, ss, pk, &rng) != SX_OK || sx_sntrup761_dec(ss2, ct2, sk) != SX_OK ||
        memcmp(ss, ss2, sizeof ss) != 0)
        abort();
    sx_sntrup761_drbg_cleanup(&d);
    return 0;
}
