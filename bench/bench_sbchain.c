/* Benchmark: per-block transport encryption (PROTOCOL-NOTES B.6) against a
 * baseline. Baseline: libsodium crypto_secretbox_easy over the same 16368-byte
 * padded block with a fixed key (no key schedule). Ours: sx_sbchain_seal /
 * open, which add one HKDF-SHA512 step, the HSalsa20 derivation and padding per
 * block. Then the secret box alone with libsodium's Poly1305 against
 * OpenSSL's (crypto/secretbox.h), and the chain's HKDF step alone:
 * sx_hkdf_sha512 against OpenSSL's EVP_KDF "HKDF" on the same inputs. All run in this process on the same data;
 * figures are CPU time of this process, printed side by side.
 * Usage: bench_sbchain [blocks] (default 20000). */
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/hash.h"
#include "crypto/sbchain.h"
#include "crypto/secretbox.h"
#include "crypto/util.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One chain step (empty salt, 32-byte key, 88 bytes) through EVP_KDF, as
 * sx_hkdf_sha512 computed it before. */
static int evp_step(EVP_KDF *kdf, const uint8_t ck[32], uint8_t *out)
{
    static uint8_t zero_salt[64];
    char digest[] = "SHA512";
    char info[] = "SimpleXSbChain";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ck, 32),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, zero_salt, sizeof zero_salt),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof info - 1),
        OSSL_PARAM_construct_end(),
    };
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    int ok = ctx != NULL && EVP_KDF_derive(ctx, out, 88, params) == 1;
    EVP_KDF_CTX_free(ctx);
    return ok;
}

/* The secret box of one block's padded content, seal then open, with
 * libsodium's Poly1305 and with OpenSSL's (crypto/secretbox.h). */
static int bench_poly(int blocks)
{
    static uint8_t m[SX_SBBLOCK_PADDED_LEN], c[SX_SBBLOCK_PADDED_LEN];
    uint8_t key[32], nonce[24], tag[16];
    sx_random_bytes(m, sizeof m);
    sx_random_bytes(key, sizeof key);
    sx_random_bytes(nonce, sizeof nonce);
    double t[2];
    for (int k = 0; k < 2; k++) {
        double t0 = now();
        for (int i = 0; i < blocks; i++) {
            nonce[0] = (uint8_t)i;
            sx_status st = k == 0 ? sx_secretbox_seal_sodium(tag, c, m, sizeof m, nonce, key)
                                  : sx_secretbox_seal_openssl(tag, c, m, sizeof m, nonce, key);
            if (st == SX_OK)
                st = k == 0 ? sx_secretbox_open_sodium(m, c, sizeof c, tag, nonce, key)
                            : sx_secretbox_open_openssl(m, c, sizeof c, tag, nonce, key);
            if (st != SX_OK)
                return 1;
        }
        t[k] = now() - t0;
    }
    printf("secret box of 16368 bytes, seal + open\n");
    printf("%-34s %8d boxes  %8.3f us/box\n", "baseline libsodium Poly1305", blocks, t[0] / blocks * 1e6);
    printf("%-34s %8d boxes  %8.3f us/box  x%.2f of baseline time\n", "OpenSSL Poly1305", blocks,
           t[1] / blocks * 1e6, t[1] / t[0]);
    return 0;
}

/* HKDF steps per second, ours against EVP_KDF, each chained on its output. */
static int bench_hkdf(int steps)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    if (!kdf)
        return 1;
    uint8_t ck[88], a[32], b[32];
    sx_random_bytes(ck, sizeof ck);
    memcpy(a, ck, sizeof a);
    memcpy(b, ck, sizeof b);
    double t0 = now();
    for (int i = 0; i < steps; i++) {
        if (!evp_step(kdf, b, ck))
            return 1;
        memcpy(b, ck, 32);
    }
    double base = now() - t0;
    t0 = now();
    for (int i = 0; i < steps; i++) {
        if (sx_hkdf_sha512(sx_slice_of(NULL, 0), sx_slice_of(a, 32), sx_slice_str("SimpleXSbChain"), ck,
                           88) != SX_OK)
            return 1;
        memcpy(a, ck, 32);
    }
    double ours = now() - t0;
    EVP_KDF_free(kdf);
    if (memcmp(a, b, sizeof a) != 0) {
        fprintf(stderr, "HKDF outputs differ\n");
        return 1;
    }
    printf("chain HKDF step (88 bytes)\n");
    printf("%-34s %8d steps  %8.3f us/step\n", "baseline OpenSSL EVP_KDF HKDF", steps, base / steps * 1e6);
    printf("%-34s %8d steps  %8.3f us/step  x%.2f of baseline time\n", "sx_hkdf_sha512", steps,
           ours / steps * 1e6, ours / base);
    return 0;
}

static void report(const char *name, int blocks, double secs, double base_secs)
{
    double mb = (double)blocks * SX_SBBLOCK_LEN / (1024.0 * 1024.0);
    printf("%-34s %8d blocks %8.3f s %10.0f blocks/s %8.1f MiB/s", name, blocks, secs, blocks / secs,
           mb / secs);
    if (base_secs > 0)
        printf("  x%.2f of baseline time", secs / base_secs);
    printf("\n");
}

int main(int argc, char **argv)
{
    int blocks = argc > 1 ? atoi(argv[1]) : 20000;
    if (blocks <= 0 || sx_crypto_init() != SX_OK)
        return 2;
    static uint8_t content[SX_SBBLOCK_MAX_CONTENT];
    static uint8_t padded[SX_SBBLOCK_PADDED_LEN];
    static uint8_t block[SX_SBBLOCK_LEN];
    static uint8_t plain[SX_SBBLOCK_PADDED_LEN];
    sx_random_bytes(content, sizeof content);
    memcpy(padded, content, sizeof content);

    uint8_t key[crypto_secretbox_KEYBYTES], nonce[crypto_secretbox_NONCEBYTES];
    sx_random_bytes(key, sizeof key);
    sx_random_bytes(nonce, sizeof nonce);

    /* Baseline: seal. */
    double t0 = now();
    for (int i = 0; i < blocks; i++) {
        nonce[0] = (uint8_t)i;
        crypto_secretbox_easy(block, padded, sizeof padded, nonce, key);
    }
    double base_seal = now() - t0;

    /* Baseline: open (the same nonce each time, a fresh seal first). */
    crypto_secretbox_easy(block, padded, sizeof padded, nonce, key);
    t0 = now();
    for (int i = 0; i < blocks; i++)
        if (crypto_secretbox_open_easy(plain, block, sizeof block, nonce, key) != 0)
            return 1;
    double base_open = now() - t0;

    /* Ours: a sending and a receiving chain from the same session. */
    uint8_t sid[32], secret[32];
    sx_random_bytes(sid, sizeof sid);
    sx_random_bytes(secret, sizeof secret);
    sx_sbchain snd, rcv, other;
    if (sx_sbchain_init(sx_slice_of(sid, 32), secret, &snd, &other) != SX_OK)
        return 1;
    rcv = snd;
    sx_slice msg = sx_slice_of(content, 1000);

    uint8_t *sealed = malloc((size_t)blocks * SX_SBBLOCK_LEN);
    if (!sealed)
        return 1;
    /* Touch every page first so that page faults are not timed. */
    memset(sealed, 0, (size_t)blocks * SX_SBBLOCK_LEN);
    t0 = now();
    for (int i = 0; i < blocks; i++)
        if (sx_sbchain_seal(&snd, msg, sealed + (size_t)i * SX_SBBLOCK_LEN, SX_SBBLOCK_LEN) != SX_OK)
            return 1;
    double ours_seal = now() - t0;

    t0 = now();
    for (int i = 0; i < blocks; i++) {
        sx_slice got;
        if (sx_sbchain_open(&rcv, sx_slice_of(sealed + (size_t)i * SX_SBBLOCK_LEN, SX_SBBLOCK_LEN), plain,
                            sizeof plain, &got) != SX_OK ||
            got.len != msg.len)
            return 1;
    }
    double ours_open = now() - t0;
    free(sealed);

    printf("per-block transport encryption, 16384-byte blocks\n");
    report("baseline crypto_secretbox seal", blocks, base_seal, 0);
    report("sx_sbchain_seal (HKDF+pad+box)", blocks, ours_seal, base_seal);
    report("baseline crypto_secretbox open", blocks, base_open, 0);
    report("sx_sbchain_open (HKDF+box+unpad)", blocks, ours_open, base_open);
    sx_sbchain_cleanup(&snd);
    sx_sbchain_cleanup(&rcv);
    sx_sbchain_cleanup(&other);
    return bench_poly(blocks) || bench_hkdf(blocks * 5);
}
