/* XSalsa20-Poly1305 as NaCl defines it: subkey = HSalsa20(key, nonce[0..16]);
 * the Salsa20 stream under subkey and nonce[16..24] gives the one-time
 * Poly1305 key (its first 32 bytes) and then the bytes that encrypt the
 * message (from byte 32 on); the tag is Poly1305 of the ciphertext. The
 * first stream block is computed once and serves both the Poly1305 key and
 * the first 32 message bytes, the rest of the stream starts at block 1. */
#include "crypto/secretbox.h"

#include "crypto/util.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

_Static_assert(SX_SECRETBOX_KEY_LEN == crypto_secretbox_KEYBYTES, "key size");
_Static_assert(SX_SECRETBOX_NONCE_LEN == crypto_secretbox_NONCEBYTES, "nonce size");
_Static_assert(SX_SECRETBOX_TAG_LEN == crypto_secretbox_MACBYTES, "tag size");

#define POLY_KEY_LEN 32 /* bytes of the first stream block keying Poly1305 */

/* OpenSSL's Poly1305, fetched once; NULL when this OpenSSL has none (then
 * every box goes through libsodium). Never freed (process lifetime). */
static pthread_once_t poly_once = PTHREAD_ONCE_INIT;
static EVP_MAC *poly_impl;

static void poly_fetch(void)
{
    poly_impl = EVP_MAC_fetch(NULL, "POLY1305", NULL);
}

static bool overlap(const uint8_t *a, const uint8_t *b, size_t n)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return x != y && (x < y ? y - x < n : x - y < n);
}

static sx_status poly_tag(uint8_t tag[SX_SECRETBOX_TAG_LEN], const uint8_t *c, size_t n,
                          const uint8_t key[POLY_KEY_LEN])
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(poly_impl);
    if (ctx == NULL)
        return SX_E_NOMEM;
    size_t len = 0;
    bool ok = EVP_MAC_init(ctx, key, POLY_KEY_LEN, NULL) == 1 && EVP_MAC_update(ctx, c, n) == 1 &&
              EVP_MAC_final(ctx, tag, &len, SX_SECRETBOX_TAG_LEN) == 1 &&
              len == SX_SECRETBOX_TAG_LEN;
    EVP_MAC_CTX_free(ctx); /* clears the key it holds */
    return ok ? SX_OK : SX_E_INTERNAL;
}

/* The subkey, and the first stream block XORed with 32 zeros then the first n
 * bytes of in (n <= 32): the Poly1305 key, then those bytes en- or
 * decrypted. */
static void first_block(uint8_t sub[32], uint8_t block0[64], const uint8_t *in, size_t n,
                        const uint8_t nonce[SX_SECRETBOX_NONCE_LEN], const uint8_t *key)
{
    crypto_core_hsalsa20(sub, nonce, key, NULL);
    memset(block0, 0, 64);
    if (n > 0)
        memcpy(block0 + POLY_KEY_LEN, in, n);
    crypto_stream_salsa20_xor(block0, block0, POLY_KEY_LEN + n, nonce + 16, sub);
}

static bool openssl_ready(void)
{
    return sx_crypto_init() == SX_OK && pthread_once(&poly_once, poly_fetch) == 0 &&
           poly_impl != NULL;
}

sx_status sx_secretbox_seal_openssl(uint8_t tag[SX_SECRETBOX_TAG_LEN], uint8_t *c,
                                    const uint8_t *m, size_t mlen,
                                    const uint8_t nonce[SX_SECRETBOX_NONCE_LEN],
                                    const uint8_t key[SX_SECRETBOX_KEY_LEN])
{
    if (!openssl_ready())
        return SX_E_INTERNAL;
    /* Encrypt in place when the buffers overlap otherwise. */
    if (mlen > 0 && overlap(m, c, mlen)) {
        memmove(c, m, mlen);
        m = c;
    }
    size_t m0 = mlen < POLY_KEY_LEN ? mlen : POLY_KEY_LEN;
    uint8_t sub[32], block0[64];
    first_block(sub, block0, m, m0, nonce, key);
    if (mlen > m0)
        crypto_stream_salsa20_xor_ic(c + m0, m + m0, mlen - m0, nonce + 16, 1, sub);
    if (m0 > 0)
        memcpy(c, block0 + POLY_KEY_LEN, m0);
    /* The tag last: it may overlap where m was. */
    static const uint8_t empty[1];
    sx_status st = poly_tag(tag, mlen ? c : empty, mlen, block0);
    sx_wipe(sub, sizeof sub);
    sx_wipe(block0, sizeof block0);
    if (st != SX_OK) {
        sx_wipe(c, mlen);
        sx_wipe(tag, SX_SECRETBOX_TAG_LEN);
    }
    return st;
}

sx_status sx_secretbox_open_openssl(uint8_t *m, const uint8_t *c, size_t clen,
                                    const uint8_t tag[SX_SECRETBOX_TAG_LEN],
                                    const uint8_t nonce[SX_SECRETBOX_NONCE_LEN],
                                    const uint8_t key[SX_SECRETBOX_KEY_LEN])
{
    if (!openssl_ready())
        return SX_E_INTERNAL;
    static const uint8_t empty[1];
    size_t m0 = clen < POLY_KEY_LEN ? clen : POLY_KEY_LEN;
    uint8_t sub[32], block0[64], want[SX_SECRETBOX_TAG_LEN];
    first_block(sub, block0, c, m0, nonce, key);
    sx_status st = poly_tag(want, clen ? c : empty, clen, block0);
    if (st == SX_OK && crypto_verify_16(want, tag) != 0)
        st = SX_E_AUTH;
    if (st == SX_OK && clen > 0) {
        /* Authentic: decrypt, in place when the buffers overlap otherwise. */
        if (overlap(m, c, clen)) {
            memmove(m, c, clen);
            c = m;
        }
        if (clen > m0)
            crypto_stream_salsa20_xor_ic(m + m0, c + m0, clen - m0, nonce + 16, 1, sub);
        memcpy(m, block0 + POLY_KEY_LEN, m0);
    }
    sx_wipe(sub, sizeof sub);
    sx_wipe(block0, sizeof block0);
    return st;
}

sx_status sx_secretbox_seal(uint8_t tag[SX_SECRETBOX_TAG_LEN], uint8_t *c, const uint8_t *m,
                            size_t mlen, const uint8_t nonce[SX_SECRETBOX_NONCE_LEN],
                            const uint8_t key[SX_SECRETBOX_KEY_LEN])
{
    if (mlen >= SX_SECRETBOX_OSSL_MIN && openssl_ready())
        return sx_secretbox_seal_openssl(tag, c, m, mlen, nonce, key);
    return sx_secretbox_seal_sodium(tag, c, m, mlen, nonce, key);
}

sx_status sx_secretbox_open(uint8_t *m, const uint8_t *c, size_t clen,
                            const uint8_t tag[SX_SECRETBOX_TAG_LEN],
                            const uint8_t nonce[SX_SECRETBOX_NONCE_LEN],
                            const uint8_t key[SX_SECRETBOX_KEY_LEN])
{
    if (clen >= SX_SECRETBOX_OSSL_MIN && openssl_ready())
        return sx_secretbox_open_openssl(m, c, clen, tag, nonce, key);
    return sx_secretbox_open_sodium(m, c, clen, tag, nonce, key);
}

sx_status sx_secretbox_seal_sodium(uint8_t tag[SX_SECRETBOX_TAG_LEN], uint8_t *c,
                                   const uint8_t *m, size_t mlen,
                                   const uint8_t nonce[SX_SECRETBOX_NONCE_LEN],
                                   const uint8_t key[SX_SECRETBOX_KEY_LEN])
{
    SX_TRY(sx_crypto_init());
    static const uint8_t empty[1];
    /* libsodium moves overlapping input out of the way itself. */
    if (crypto_secretbox_detached(c, tag, mlen ? m : empty, mlen, nonce, key) != 0)
        return SX_E_INTERNAL;
    return SX_OK;
}

sx_status sx_secretbox_open_sodium(uint8_t *m, const uint8_t *c, size_t clen,
                                   const uint8_t tag[SX_SECRETBOX_TAG_LEN],
                                   const uint8_t nonce[SX_SECRETBOX_NONCE_LEN],
                                   const uint8_t key[SX_SECRETBOX_KEY_LEN])
{
    SX_TRY(sx_crypto_init());
    static const uint8_t empty[1];
    uint8_t dummy[1];
    /* Verifies the tag (in constant time) before writing anything. */
    if (crypto_secretbox_open_detached(clen ? m : dummy, clen ? c : empty, tag, clen, nonce,
                                       key) != 0)
        return SX_E_AUTH;
    return SX_OK;
}
