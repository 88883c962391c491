/* SHA-2/SHA-3 digests through OpenSSL 3 EVP; HKDF-SHA512 over libsodium's
 * HMAC-SHA512 (no shared mutable state: calls are thread-safe). */
#include "crypto/hash.h"

#include "crypto/util.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

static const EVP_MD *md_of(sx_hash_alg alg)
{
    switch (alg) {
    case SX_HASH_SHA256: return EVP_sha256();
    case SX_HASH_SHA512: return EVP_sha512();
    case SX_HASH_SHA3_384: return EVP_sha3_384();
    case SX_HASH_SHA3_256: return EVP_sha3_256();
    case SX_HASH_MD5: return EVP_md5();
    default: return NULL;
    }
}

size_t sx_hash_len(sx_hash_alg alg)
{
    switch (alg) {
    case SX_HASH_SHA256: return SX_SHA256_LEN;
    case SX_HASH_SHA512: return SX_SHA512_LEN;
    case SX_HASH_SHA3_384: return SX_SHA3_384_LEN;
    case SX_HASH_SHA3_256: return SX_SHA3_256_LEN;
    case SX_HASH_MD5: return SX_MD5_LEN;
    default: return 0;
    }
}

sx_status sx_hash(sx_hash_alg alg, sx_slice in, uint8_t *out, size_t cap)
{
    const EVP_MD *md = md_of(alg);
    SX_ENSURE(md != NULL && out != NULL, SX_E_USAGE);
    SX_ENSURE(cap >= sx_hash_len(alg), SX_E_USAGE);
    SX_ENSURE(in.ptr != NULL || in.len == 0, SX_E_USAGE);
    static const uint8_t empty[1];
    unsigned int n = 0;
    if (EVP_Digest(in.len ? in.ptr : empty, in.len, out, &n, md, NULL) != 1)
        return SX_E_INTERNAL;
    return n == sx_hash_len(alg) ? SX_OK : SX_E_INTERNAL;
}

sx_status sx_sha256(sx_slice in, uint8_t out[SX_SHA256_LEN])
{
    return sx_hash(SX_HASH_SHA256, in, out, SX_SHA256_LEN);
}

sx_status sx_sha512(sx_slice in, uint8_t out[SX_SHA512_LEN])
{
    return sx_hash(SX_HASH_SHA512, in, out, SX_SHA512_LEN);
}

sx_status sx_sha3_384(sx_slice in, uint8_t out[SX_SHA3_384_LEN])
{
    return sx_hash(SX_HASH_SHA3_384, in, out, SX_SHA3_384_LEN);
}

sx_status sx_md5(sx_slice in, uint8_t out[SX_MD5_LEN])
{
    return sx_hash(SX_HASH_MD5, in, out, SX_MD5_LEN);
}

sx_status sx_sha3_256(sx_slice in, uint8_t out[SX_SHA3_256_LEN])
{
    return sx_hash(SX_HASH_SHA3_256, in, out, SX_SHA3_256_LEN);
}

sx_status sx_hash_init(sx_hash_ctx *h, sx_hash_alg alg)
{
    SX_ENSURE(h != NULL, SX_E_USAGE);
    h->md = NULL;
    h->alg = alg;
    const EVP_MD *md = md_of(alg);
    SX_ENSURE(md != NULL, SX_E_USAGE);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return SX_E_NOMEM;
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return SX_E_INTERNAL;
    }
    h->md = ctx;
    return SX_OK;
}

sx_status sx_hash_update(sx_hash_ctx *h, sx_slice data)
{
    SX_ENSURE(h != NULL && h->md != NULL, SX_E_USAGE);
    SX_ENSURE(data.ptr != NULL || data.len == 0, SX_E_USAGE);
    if (data.len == 0)
        return SX_OK;
    return EVP_DigestUpdate(h->md, data.ptr, data.len) == 1 ? SX_OK : SX_E_INTERNAL;
}

sx_status sx_hash_final(sx_hash_ctx *h, uint8_t *out, size_t cap)
{
    SX_ENSURE(h != NULL && h->md != NULL && out != NULL, SX_E_USAGE);
    SX_ENSURE(cap >= sx_hash_len(h->alg), SX_E_USAGE);
    unsigned int n = 0;
    int ok = EVP_DigestFinal_ex(h->md, out, &n);
    /* The context is spent either way; a later final must not reuse it. */
    EVP_MD_CTX_free(h->md);
    h->md = NULL;
    if (ok != 1 || n != sx_hash_len(h->alg))
        return SX_E_INTERNAL;
    return SX_OK;
}

void sx_hash_cleanup(sx_hash_ctx *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->md);
    h->md = NULL;
}

/* HKDF-SHA512 (RFC 5869) written out over libsodium's HMAC-SHA512 state:
 * one HMAC for the extract, then one per 64 output bytes, each started from a
 * copy of the state keyed with the PRK. This is the same computation that
 * OpenSSL's EVP_KDF "HKDF" does (tests/unit/test_hash.c compares them over
 * random inputs), without its parameter parsing, allocations and repeated
 * keying: a block-chain step (88 bytes) takes 8 SHA-512 compressions. */

/* HMAC keyed with the empty salt, which RFC 5869 2.2 makes HashLen zeros (the
 * same key to HMAC, which pads short keys with zeros). Computed once; never
 * changed after. */
static pthread_once_t zero_salt_once = PTHREAD_ONCE_INIT;
static crypto_auth_hmacsha512_state zero_salt_state;

static void zero_salt_init(void)
{
    static const uint8_t zero_salt[SX_SHA512_LEN];
    crypto_auth_hmacsha512_init(&zero_salt_state, zero_salt, sizeof zero_salt);
}

sx_status sx_hkdf_sha512(sx_slice salt, sx_slice ikm, sx_slice info, uint8_t *out, size_t len)
{
    SX_ENSURE(out != NULL && len > 0 && len <= SX_HKDF_SHA512_MAX_LEN, SX_E_USAGE);
    SX_ENSURE(salt.ptr != NULL || salt.len == 0, SX_E_USAGE);
    SX_ENSURE(ikm.ptr != NULL || ikm.len == 0, SX_E_USAGE);
    SX_ENSURE(info.ptr != NULL || info.len == 0, SX_E_USAGE);
    SX_TRY(sx_crypto_init());

    crypto_auth_hmacsha512_state st, keyed;
    uint8_t prk[SX_SHA512_LEN];
    uint8_t t[SX_SHA512_LEN];

    /* Extract: PRK = HMAC(salt, ikm). */
    if (salt.len == 0) {
        if (pthread_once(&zero_salt_once, zero_salt_init) != 0)
            return SX_E_INTERNAL;
        st = zero_salt_state;
    } else {
        crypto_auth_hmacsha512_init(&st, salt.ptr, salt.len);
    }
    if (ikm.len > 0)
        crypto_auth_hmacsha512_update(&st, ikm.ptr, ikm.len);
    crypto_auth_hmacsha512_final(&st, prk);

    /* Expand: T(i) = HMAC(PRK, T(i-1) || info || i), T(0) empty. */
    crypto_auth_hmacsha512_init(&keyed, prk, sizeof prk);
    size_t done = 0;
    for (unsigned i = 1; done < len; i++) {
        uint8_t counter = (uint8_t)i; /* i <= 255: len is capped above */
        st = keyed;
        if (i > 1)
            crypto_auth_hmacsha512_update(&st, t, sizeof t);
        if (info.len > 0)
            crypto_auth_hmacsha512_update(&st, info.ptr, info.len);
        crypto_auth_hmacsha512_update(&st, &counter, 1);
        crypto_auth_hmacsha512_final(&st, t);
        size_t take = len - done < sizeof t ? len - done : sizeof t;
        memcpy(out + done, t, take);
        done += take;
    }
    sx_wipe(prk, sizeof prk);
    sx_wipe(t, sizeof t);
    sx_wipe(&st, sizeof st);
    sx_wipe(&keyed, sizeof keyed);
    return SX_OK;
}
