/* Fuzz target: batch Ed25519 verification (crypto/ed25519_batch.h) against
 * libsodium's crypto_sign_verify_detached, differentially. The input is a
 * count byte, then per signature a mode byte, a message length byte and the
 * message, and 96 bytes: in mode 0 (even) they are the signature and the
 * public key as they are; in mode 1 (odd) the message is signed with a
 * fixed key and the 96 bytes are XORed into signature || key, so that
 * mutations start from valid signatures. A different answer aborts, except
 * the one documented case (docs/PERFORMANCE.md): two or more signatures
 * refused by libsodium accepted together. */
#include "crypto/ed25519_batch.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t pk0[32], sk0[64];
    static int ready;
    if (!ready) {
        uint8_t seed[32] = {1, 2, 3};
        if (sodium_init() < 0)
            abort();
        crypto_sign_seed_keypair(pk0, sk0, seed);
        ready = 1;
    }
    if (size < 1)
        return 0;
    size_t n = (size_t)(data[0] % MAX_ITEMS) + 1, pos = 1, k = 0;
    uint8_t sig[MAX_ITEMS][64], pk[MAX_ITEMS][32], msg[MAX_ITEMS][256];
    sx_ed25519_item items[MAX_ITEMS];
    for (; k < n; k++) {
        if (size - pos < 2)
            break;
        uint8_t mode = data[pos], len = data[pos + 1];
        pos += 2;
        if (size - pos < (size_t)len + 96)
            break;
        memcpy(msg[k], data + pos, len);
        pos += len;
        if (mode & 1) {
            crypto_sign_detached(sig[k], NULL, msg[k], len, sk0);
            memcpy(pk[k], pk0, 32);
            for (int i = 0; i < 64; i++)
                sig[k][i] ^= data[pos + i];
            for (int i = 0; i < 32; i++)
                pk[k][i] ^= data[pos + 64 + i];
        } else {
            memcpy(sig[k], data + pos, 64);
            memcpy(pk[k], data + pos + 64, 32);
        }
        pos += 96;
        items[k] = (sx_ed25519_item){msg[k], len, sig[k], pk[k]};
    }
    if (k == 0)
        return 0;
    uint8_t ok[MAX_ITEMS];
    size_t valid = sx_ed25519_verify_batch(items, k, ok), count = 0, wrongly_accepted = 0;
    for (size_t i = 0; i < k; i++) {
        int want = crypto_sign_verify_detached(sig[i], msg[i], items[i].msg_len, pk[i]) == 0;
        count += ok[i];
        if (ok[i] == want)
            continue;
        if (!ok[i])
            abort(); /* a valid signature refused: never allowed */
        wrongly_accepted++;
    }
    if (count != valid || wrongly_accepted == 1)
        abort();
    return 0;
}
