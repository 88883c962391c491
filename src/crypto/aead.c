/* AES-256-GCM via EVP_aes_256_gcm. The IV length is set explicitly before the
 * key and IV, so 16-byte IVs go through GCM's GHASH-based J0 derivation. */
#include "crypto/aead.h"

#include "core/pad.h"
#include "crypto/util.h"

#include <openssl/evp.h>
#include <limits.h>

static bool valid_common(const uint8_t *key, sx_slice iv, sx_slice aad, sx_slice data,
                         const uint8_t *out, size_t cap, const uint8_t *tag)
{
    if (key == NULL || tag == NULL || iv.ptr == NULL)
        return false;
    if (iv.len == 0 || iv.len > SX_AES_GCM_IV_MAX_LEN)
        return false;
    if ((aad.ptr == NULL && aad.len > 0) || (data.ptr == NULL && data.len > 0))
        return false;
    if (out == NULL && data.len > 0)
        return false;
    /* EVP takes int lengths. */
    if (aad.len > INT_MAX || data.len > INT_MAX)
        return false;
    return cap >= data.len;
}

/* Runs one GCM pass; enc selects direction. On decrypt the tag is checked by
 * the final call. Returns SX_E_AUTH only for a tag mismatch. */
static sx_status gcm_run(int enc, const uint8_t *key, sx_slice iv, sx_slice aad, sx_slice in,
                         uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return SX_E_NOMEM;
    sx_status st = SX_E_INTERNAL;
    int n = 0;
    uint8_t fin[16]; /* GCM's final call outputs nothing; this is a dummy */
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1)
        goto cleanup;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv.len, NULL) != 1)
        goto cleanup;
    if (EVP_CipherInit_ex(ctx, NULL, NULL, key, iv.ptr, enc) != 1)
        goto cleanup;
    if (aad.len > 0 && EVP_CipherUpdate(ctx, NULL, &n, aad.ptr, (int)aad.len) != 1)
        goto cleanup;
    if (in.len > 0) {
        if (EVP_CipherUpdate(ctx, out, &n, in.ptr, (int)in.len) != 1 || (size_t)n != in.len)
            goto cleanup;
    }
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SX_AES_GCM_TAG_LEN, tag) != 1)
        goto cleanup;
    if (EVP_CipherFinal_ex(ctx, fin, &n) != 1) {
        st = enc ? SX_E_INTERNAL : SX_E_AUTH;
        goto cleanup;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SX_AES_GCM_TAG_LEN, tag) != 1)
        goto cleanup;
    st = SX_OK;
cleanup:
    EVP_CIPHER_CTX_free(ctx); /* wipes the expanded key */
    if (st != SX_OK && in.len > 0)
        sx_wipe(out, in.len);
    return st;
}

sx_status sx_aead_encrypt(const uint8_t key[SX_AES_KEY_LEN], sx_slice iv, sx_slice aad,
                          sx_slice msg, uint8_t *out, size_t cap, uint8_t tag[SX_AES_GCM_TAG_LEN])
{
    SX_ENSURE(valid_common(key, iv, aad, msg, out, cap, tag), SX_E_USAGE);
    return gcm_run(1, key, iv, aad, msg, out, tag);
}

sx_status sx_aead_decrypt(const uint8_t key[SX_AES_KEY_LEN], sx_slice iv, sx_slice aad, sx_slice ct,
                          const uint8_t tag[SX_AES_GCM_TAG_LEN], uint8_t *out, size_t cap)
{
    SX_ENSURE(valid_common(key, iv, aad, ct, out, cap, tag), SX_E_USAGE);
    /* EVP_CTRL_GCM_SET_TAG takes a non-const pointer but only reads it. */
    return gcm_run(0, key, iv, aad, ct, out, (uint8_t *)tag);
}

sx_status sx_aead_encrypt_padded(const uint8_t key[SX_AES_KEY_LEN], sx_slice iv, sx_slice aad,
                                 sx_slice msg, size_t padded_len, uint8_t *out, size_t cap,
                                 uint8_t tag[SX_AES_GCM_TAG_LEN])
{
    SX_ENSURE(out != NULL && cap >= padded_len && padded_len >= 2, SX_E_USAGE);
    SX_ENSURE(msg.ptr != NULL || msg.len == 0, SX_E_USAGE);
    SX_TRY(sx_pad(msg, out, padded_len));
    sx_status st = sx_aead_encrypt(key, iv, aad, sx_slice_of(out, padded_len), out, cap, tag);
    if (st != SX_OK)
        sx_wipe(out, padded_len);
    return st;
}

sx_status sx_aead_decrypt_padded(const uint8_t key[SX_AES_KEY_LEN], sx_slice iv, sx_slice aad,
                                 sx_slice ct, const uint8_t tag[SX_AES_GCM_TAG_LEN], uint8_t *out,
                                 size_t cap, sx_slice *msg)
{
    SX_ENSURE(msg != NULL, SX_E_USAGE);
    *msg = sx_slice_of(NULL, 0);
    SX_TRY(sx_aead_decrypt(key, iv, aad, ct, tag, out, cap));
    sx_status st = sx_unpad(sx_slice_of(out, ct.len), msg);
    if (st != SX_OK) {
        sx_wipe(out, ct.len);
        *msg = sx_slice_of(NULL, 0);
    }
    return st;
}
