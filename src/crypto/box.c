/* crypto_box / secret_box as the reference builds them: HSalsa20 of the
 * 32-byte input with a zero nonce gives the XSalsa20-Poly1305 key, then the
 * detached secret box of crypto/secretbox.h writes tag and ciphertext (tag
 * first). */
#include "crypto/box.h"

#include "core/pad.h"
#include "crypto/hash.h"
#include "crypto/secretbox.h"
#include "crypto/util.h"

#include <sodium.h>
#include <string.h>

_Static_assert(SX_CB_NONCE_LEN == crypto_secretbox_NONCEBYTES, "nonce size");
_Static_assert(SX_CB_TAG_LEN == crypto_secretbox_MACBYTES, "tag size");
_Static_assert(SX_CB_KEY_LEN == crypto_core_hsalsa20_KEYBYTES, "key size");
_Static_assert(SX_CB_AUTH_LEN == SX_CB_TAG_LEN + SX_SHA512_LEN, "authenticator size");

void sx_cb_nonce(sx_slice b, uint8_t out[SX_CB_NONCE_LEN])
{
    size_t n = b.len < SX_CB_NONCE_LEN ? b.len : SX_CB_NONCE_LEN;
    if (n > 0)
        memcpy(out, b.ptr, n);
    memset(out + n, 0, SX_CB_NONCE_LEN - n);
}

void sx_cb_nonce_reverse(const uint8_t in[SX_CB_NONCE_LEN], uint8_t out[SX_CB_NONCE_LEN])
{
    uint8_t tmp[SX_CB_NONCE_LEN];
    for (size_t i = 0; i < SX_CB_NONCE_LEN; i++)
        tmp[i] = in[SX_CB_NONCE_LEN - 1 - i];
    memcpy(out, tmp, SX_CB_NONCE_LEN);
}

/* PROTOCOL-NOTES A33/A34/P7: k = HSalsa20(input, 0^16). */
static sx_status derive_key(const uint8_t in[SX_CB_KEY_LEN], uint8_t k[crypto_secretbox_KEYBYTES])
{
    static const uint8_t zero16[crypto_core_hsalsa20_INPUTBYTES];
    SX_TRY(sx_crypto_init());
    if (crypto_core_hsalsa20(k, zero16, in, NULL) != 0)
        return SX_E_INTERNAL;
    return SX_OK;
}

static sx_status seal(const uint8_t *key, const uint8_t *nonce, sx_slice msg, uint8_t *out,
                      size_t cap)
{
    SX_ENSURE(key != NULL && nonce != NULL && out != NULL, SX_E_USAGE);
    SX_ENSURE(msg.ptr != NULL || msg.len == 0, SX_E_USAGE);
    SX_ENSURE(msg.len <= SIZE_MAX - SX_CB_TAG_LEN && cap >= msg.len + SX_CB_TAG_LEN, SX_E_USAGE);
    uint8_t k[crypto_secretbox_KEYBYTES];
    SX_TRY(derive_key(key, k));
    /* Overlapping input is moved out of the way first; the tag is written
     * last. */
    sx_status st = sx_secretbox_seal(out, out + SX_CB_TAG_LEN, msg.ptr, msg.len, nonce, k);
    sx_wipe(k, sizeof k);
    return st;
}

static sx_status open_box(const uint8_t *key, const uint8_t *nonce, sx_slice box, uint8_t *out,
                          size_t cap, sx_slice *msg)
{
    SX_ENSURE(key != NULL && nonce != NULL && msg != NULL, SX_E_USAGE);
    *msg = sx_slice_of(NULL, 0);
    SX_ENSURE(box.ptr != NULL || box.len == 0, SX_E_USAGE);
    /* The reference treats a box too short for its tag as a failed decryption. */
    if (box.len < SX_CB_TAG_LEN)
        return SX_E_AUTH;
    size_t n = box.len - SX_CB_TAG_LEN;
    SX_ENSURE(cap >= n && (out != NULL || n == 0), SX_E_USAGE);
    uint8_t k[crypto_secretbox_KEYBYTES];
    SX_TRY(derive_key(key, k));
    uint8_t dummy[1];
    uint8_t *dst = n > 0 ? out : dummy;
    /* Verifies the Poly1305 tag (in constant time) before writing anything. */
    sx_status st = sx_secretbox_open(dst, box.ptr + SX_CB_TAG_LEN, n, box.ptr, nonce, k);
    sx_wipe(k, sizeof k);
    if (st != SX_OK)
        return st;
    *msg = sx_slice_of(dst, n);
    return SX_OK;
}

static sx_status seal_padded(const uint8_t *key, const uint8_t *nonce, sx_slice msg,
                             size_t padded_len, uint8_t *out, size_t cap)
{
    SX_ENSURE(key != NULL && nonce != NULL && out != NULL, SX_E_USAGE);
    SX_ENSURE(padded_len >= 2 && padded_len <= SIZE_MAX - SX_CB_TAG_LEN, SX_E_USAGE);
    SX_ENSURE(cap >= padded_len + SX_CB_TAG_LEN, SX_E_USAGE);
    SX_ENSURE(msg.ptr != NULL || msg.len == 0, SX_E_USAGE);
    uint8_t *body = out + SX_CB_TAG_LEN;
    SX_TRY(sx_pad(msg, body, padded_len));
    /* Encrypt the padded plaintext in place. */
    sx_status st = seal(key, nonce, sx_slice_of(body, padded_len), out, cap);
    if (st != SX_OK)
        sx_wipe(out, padded_len + SX_CB_TAG_LEN);
    return st;
}

static sx_status open_padded(const uint8_t *key, const uint8_t *nonce, sx_slice box, uint8_t *out,
                             size_t cap, sx_slice *msg)
{
    sx_slice padded;
    SX_TRY(open_box(key, nonce, box, out, cap, &padded));
    sx_status st = sx_unpad(padded, msg);
    if (st != SX_OK) {
        sx_wipe(out, padded.len);
        *msg = sx_slice_of(NULL, 0);
    }
    return st;
}

sx_status sx_cb_encrypt(const uint8_t secret[SX_CB_KEY_LEN], const uint8_t nonce[SX_CB_NONCE_LEN],
                        sx_slice msg, uint8_t *out, size_t cap)
{
    return seal(secret, nonce, msg, out, cap);
}

sx_status sx_cb_decrypt(const uint8_t secret[SX_CB_KEY_LEN], const uint8_t nonce[SX_CB_NONCE_LEN],
                        sx_slice box, uint8_t *out, size_t cap, sx_slice *msg)
{
    return open_box(secret, nonce, box, out, cap, msg);
}

sx_status sx_cb_encrypt_padded(const uint8_t secret[SX_CB_KEY_LEN],
                               const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice msg,
                               size_t padded_len, uint8_t *out, size_t cap)
{
    return seal_padded(secret, nonce, msg, padded_len, out, cap);
}

sx_status sx_cb_decrypt_padded(const uint8_t secret[SX_CB_KEY_LEN],
                               const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice box, uint8_t *out,
                               size_t cap, sx_slice *msg)
{
    return open_padded(secret, nonce, box, out, cap, msg);
}

sx_status sx_sb_encrypt(const uint8_t key[SX_CB_KEY_LEN], const uint8_t nonce[SX_CB_NONCE_LEN],
                        sx_slice msg, uint8_t *out, size_t cap)
{
    return seal(key, nonce, msg, out, cap);
}

sx_status sx_sb_decrypt(const uint8_t key[SX_CB_KEY_LEN], const uint8_t nonce[SX_CB_NONCE_LEN],
                        sx_slice box, uint8_t *out, size_t cap, sx_slice *msg)
{
    return open_box(key, nonce, box, out, cap, msg);
}

sx_status sx_sb_encrypt_padded(const uint8_t key[SX_CB_KEY_LEN],
                               const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice msg,
                               size_t padded_len, uint8_t *out, size_t cap)
{
    return seal_padded(key, nonce, msg, padded_len, out, cap);
}

sx_status sx_sb_decrypt_padded(const uint8_t key[SX_CB_KEY_LEN],
                               const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice box, uint8_t *out,
                               size_t cap, sx_slice *msg)
{
    return open_padded(key, nonce, box, out, cap, msg);
}

sx_status sx_cb_authenticate(const uint8_t secret[SX_CB_KEY_LEN],
                             const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice msg,
                             uint8_t out[SX_CB_AUTH_LEN])
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    uint8_t digest[SX_SHA512_LEN];
    SX_TRY(sx_sha512(msg, digest));
    sx_status st = seal(secret, nonce, sx_slice_of(digest, sizeof digest), out, SX_CB_AUTH_LEN);
    sx_wipe(digest, sizeof digest);
    return st;
}

sx_status sx_cb_verify(const uint8_t secret[SX_CB_KEY_LEN], const uint8_t nonce[SX_CB_NONCE_LEN],
                       sx_slice auth, sx_slice msg)
{
    SX_ENSURE(secret != NULL && nonce != NULL, SX_E_USAGE);
    SX_ENSURE(auth.ptr != NULL || auth.len == 0, SX_E_USAGE);
    if (auth.len != SX_CB_AUTH_LEN)
        return SX_E_AUTH;
    uint8_t expected[SX_SHA512_LEN];
    uint8_t opened[SX_SHA512_LEN];
    sx_slice got;
    SX_TRY(sx_sha512(msg, expected));
    sx_status st = open_box(secret, nonce, auth, opened, sizeof opened, &got);
    if (st == SX_OK && !sx_ct_equal(got, sx_slice_of(expected, sizeof expected)))
        st = SX_E_AUTH;
    sx_wipe(opened, sizeof opened);
    return st;
}
