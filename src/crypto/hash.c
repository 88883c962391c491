/* SHA-2/SHA-3 digests and HKDF-SHA512 through OpenSSL 3 EVP. The HKDF
 * implementation is fetched once per process and shared; each derivation
 * gets its own short-lived context, so calls are thread-safe. */
#include "crypto/hash.h"

#include "crypto/util.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <pthread.h>

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

/* The HKDF implementation, fetched once; never freed (process lifetime). */
static pthread_once_t hkdf_once = PTHREAD_ONCE_INIT;
static EVP_KDF *hkdf_impl;

static void hkdf_fetch(void)
{
    hkdf_impl = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
}

sx_status sx_hkdf_sha512(sx_slice salt, sx_slice ikm, sx_slice info, uint8_t *out, size_t len)
{
    SX_ENSURE(out != NULL && len > 0 && len <= SX_HKDF_SHA512_MAX_LEN, SX_E_USAGE);
    SX_ENSURE(salt.ptr != NULL || salt.len == 0, SX_E_USAGE);
    SX_ENSURE(ikm.ptr != NULL || ikm.len == 0, SX_E_USAGE);
    SX_ENSURE(info.ptr != NULL || info.len == 0, SX_E_USAGE);
    if (pthread_once(&hkdf_once, hkdf_fetch) != 0 || hkdf_impl == NULL)
        return SX_E_INTERNAL;

    /* RFC 5869 2.2: a missing salt is HashLen zeros. HMAC pads short keys with
     * zeros, so this equals the empty salt; passing it explicitly avoids
     * relying on how OpenSSL treats a zero-length salt parameter. */
    static const uint8_t zero_salt[SX_SHA512_LEN];
    static uint8_t empty[1];
    if (salt.len == 0)
        salt = sx_slice_of(zero_salt, sizeof zero_salt);

    char digest[] = "SHA512";
    OSSL_PARAM params[5];
    size_t i = 0;
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                    ikm.len ? (void *)ikm.ptr : empty, ikm.len);
    params[i++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt.ptr, salt.len);
    if (info.len > 0)
        params[i++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info.ptr, info.len);
    params[i] = OSSL_PARAM_construct_end();

    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(hkdf_impl);
    if (ctx == NULL)
        return SX_E_NOMEM;
    sx_status st = SX_OK;
    if (EVP_KDF_derive(ctx, out, len, params) != 1) {
        sx_wipe(out, len);
        st = SX_E_INTERNAL;
    }
    EVP_KDF_CTX_free(ctx); /* clears the key material it copied */
    return st;
}
