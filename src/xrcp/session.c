/* XRCP session set-up (session.h, PROTOCOL-NOTES X7, X8). */
#include "xrcp/session.h"

#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/pad.h"
#include "crypto/hash.h"
#include "crypto/util.h"
#include "transport/tls.h"
#include "xrcp/json.h"

#define HELLO_BOX_LEN (SX_XRCP_HELLO_PAD + SX_CB_TAG_LEN)
#define KEM_TEXT_LEN 1545 /* base64url of 1158 bytes (no padding) and the NUL */

sx_status sx_xrcp_version_choose(sx_version_range offered, uint16_t *v)
{
    if (v == NULL)
        return SX_E_USAGE;
    uint16_t hi = offered.max < SX_XRCP_VERSION ? offered.max : SX_XRCP_VERSION;
    uint16_t lo = offered.min > 1 ? offered.min : 1;
    if (offered.min > offered.max || lo > hi)
        return SX_E_PROTOCOL;
    *v = hi;
    return SX_OK;
}

bool sx_xrcp_version_ok(uint16_t v)
{
    return v >= 1 && v <= SX_XRCP_VERSION;
}

static sx_status x25519(const sx_key *priv, const uint8_t pub[SX_XRCP_KEY_LEN], uint8_t out[32])
{
    sx_key *peer = NULL;
    size_t len = 0;
    if (priv == NULL || sx_key_alg_of(priv) != SX_KEY_X25519 || !sx_key_is_private(priv))
        return SX_E_USAGE;
    sx_status st = sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(pub, SX_XRCP_KEY_LEN), &peer);
    if (st == SX_OK)
        st = sx_key_dh(priv, peer, out, 32, &len);
    if (st == SX_OK && len != 32)
        st = SX_E_INTERNAL;
    sx_key_free(peer);
    return st;
}

sx_status sx_xrcp_hybrid_secret(const sx_key *priv, const uint8_t peer[SX_XRCP_KEY_LEN],
                                const uint8_t kem_ss[SX_SNTRUP761_SS_LEN], uint8_t out[32])
{
    if (peer == NULL || kem_ss == NULL || out == NULL)
        return SX_E_USAGE;
    uint8_t both[32 + SX_SNTRUP761_SS_LEN];
    sx_status st = x25519(priv, peer, both);
    if (st == SX_OK) {
        memcpy(both + 32, kem_ss, SX_SNTRUP761_SS_LEN);
        st = sx_sha3_256(sx_slice_of(both, sizeof both), out);
    }
    sx_wipe(both, sizeof both);
    return st;
}

sx_status sx_xrcp_chains_init(const uint8_t hybrid[32], bool controller, sx_sbchain *snd, sx_sbchain *rcv)
{
    if (hybrid == NULL || snd == NULL || rcv == NULL)
        return SX_E_USAGE;
    sx_sbchain ck1, ck2;
    sx_status st = sx_sbchain_init(sx_slice_of(NULL, 0), hybrid, &ck1, &ck2);
    if (st == SX_OK) {
        *snd = controller ? ck1 : ck2;
        *rcv = controller ? ck2 : ck1;
    }
    sx_sbchain_cleanup(&ck1);
    sx_sbchain_cleanup(&ck2);
    return st;
}

void sx_xrcp_host_hello_clear(sx_xrcp_host_hello *h)
{
    if (h == NULL)
        return;
    free(h->app);
    sx_wipe(h, sizeof *h);
}

static bool write_decimal(sx_writer *w, uint32_t v)
{
    char buf[12];
    size_t n = 0;
    do {
        buf[sizeof buf - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return sx_write_bytes(w, buf + sizeof buf - n, n);
}

/* pad(content) into the 16384-byte block. */
static sx_status finish_block(const sx_writer *w, uint8_t *block)
{
    sx_status st = sx_writer_status(w);
    return st == SX_OK ? sx_pad(sx_writer_slice(w), block, SX_XRCP_BLOCK_LEN) : st;
}

sx_status sx_xrcp_host_hello_encode(const sx_xrcp_host_hello *hello, const sx_key *host_dh,
                                    const uint8_t ctrl_dh[SX_XRCP_KEY_LEN], const uint8_t nonce[SX_CB_NONCE_LEN],
                                    uint8_t *block)
{
    if (hello == NULL || host_dh == NULL || ctrl_dh == NULL || block == NULL || hello->app == NULL ||
        !sx_xrcp_json_valid(sx_slice_of(hello->app, hello->app_len)))
        return SX_E_USAGE;
    uint8_t pub[SX_KEY_RAW_MAX];
    size_t plen = 0;
    if (sx_key_alg_of(host_dh) != SX_KEY_X25519 || sx_key_raw_public(host_dh, pub, sizeof pub, &plen) != SX_OK ||
        plen != SX_XRCP_KEY_LEN || memcmp(pub, hello->dh, SX_XRCP_KEY_LEN) != 0)
        return SX_E_USAGE;
    /* the JSON object, fields in the reference's order (PROTOCOL-NOTES X7) */
    char ca[64], kem[KEM_TEXT_LEN];
    if (sx_b64_encode(sx_slice_of(hello->ca, SX_XRCP_FP_LEN), SX_B64_URL, ca, sizeof ca) != SX_OK ||
        sx_b64_encode(sx_slice_of(hello->kem_pk, SX_SNTRUP761_PK_LEN), SX_B64_URL, kem, sizeof kem) != SX_OK)
        return SX_E_INTERNAL;
    sx_writer j;
    sx_writer_init_dynamic(&j, SX_XRCP_HELLO_PAD - 2);
    sx_write_str(&j, "{\"v\":");
    write_decimal(&j, hello->v);
    sx_write_str(&j, ",\"ca\":\"");
    sx_write_str(&j, ca);
    sx_write_str(&j, "\",\"app\":");
    sx_write_bytes(&j, hello->app, hello->app_len);
    sx_write_str(&j, ",\"kem\":\"");
    sx_write_str(&j, kem);
    sx_write_str(&j, "\"}");
    sx_status st = sx_writer_status(&j);
    uint8_t secret[32], n[SX_CB_NONCE_LEN];
    uint8_t *content = NULL;
    if (st == SX_OK)
        st = x25519(host_dh, ctrl_dh, secret);
    if (st == SX_OK && (content = malloc(SX_XRCP_BLOCK_LEN)) == NULL)
        st = SX_E_NOMEM;
    if (st == SX_OK) {
        if (nonce != NULL)
            memcpy(n, nonce, sizeof n);
        else
            sx_random_bytes(n, sizeof n);
        sx_writer w;
        sx_writer_init_fixed(&w, content, SX_XRCP_BLOCK_LEN - 2);
        sx_key *k = NULL;
        sx_write_str(&w, "HELLO ");
        st = sx_key_public_copy(host_dh, &k);
        if (st == SX_OK)
            sx_key_write_public_short(&w, k);
        sx_key_free(k);
        sx_write_bytes(&w, n, sizeof n);
        uint8_t *box = sx_write_reserve(&w, HELLO_BOX_LEN);
        if (st == SX_OK && box != NULL)
            st = sx_cb_encrypt_padded(secret, n, sx_writer_slice(&j), SX_XRCP_HELLO_PAD, box, HELLO_BOX_LEN);
        if (st == SX_OK)
            st = finish_block(&w, block);
    }
    sx_wipe(secret, sizeof secret);
    if (content != NULL) {
        sx_wipe(content, SX_XRCP_BLOCK_LEN);
        free(content);
    }
    sx_writer_cleanup(&j);
    return st;
}

/* A JSON number for a Word16: decimal digits only. */
static bool json_u16(sx_slice v, uint16_t *out)
{
    uint32_t x = 0;
    if (v.len == 0 || v.len > 5)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return false;
        x = x * 10 + (uint32_t)(v.ptr[i] - '0');
    }
    if (x > 65535)
        return false;
    *out = (uint16_t)x;
    return true;
}

static bool json_b64(sx_slice obj, const char *name, uint8_t *out, size_t want)
{
    sx_slice v, c;
    return sx_xrcp_json_member(obj, name, &v) && sx_xrcp_json_plain_string(v, &c) && sx_xrcp_b64_exact(c, out, want);
}

sx_status sx_xrcp_host_hello_decode(sx_slice block, const sx_key *ctrl_dh, sx_xrcp_host_hello *out,
                                    uint8_t dh_secret[SX_CB_KEY_LEN])
{
    if (out == NULL || ctrl_dh == NULL || dh_secret == NULL || (block.ptr == NULL && block.len != 0))
        return SX_E_USAGE;
    memset(out, 0, sizeof *out);
    sx_slice content, nonce, box;
    if (block.len != SX_XRCP_BLOCK_LEN || sx_unpad(block, &content) != SX_OK)
        return SX_E_PROTOCOL;
    sx_reader r;
    sx_key *host = NULL;
    sx_reader_init_slice(&r, content);
    sx_read_expect_str(&r, "HELLO ");
    sx_key_read_public_short(&r, SX_KEY_BIT(SX_KEY_X25519), &host);
    sx_read_bytes(&r, SX_CB_NONCE_LEN, &nonce);
    sx_read_tail(&r, &box);
    sx_status st = sx_reader_finish(&r) == SX_OK ? SX_OK : SX_E_PROTOCOL;
    size_t len = 0;
    if (st == SX_OK)
        st = sx_key_raw_public(host, out->dh, SX_XRCP_KEY_LEN, &len);
    sx_key_free(host);
    if (st == SX_OK)
        st = x25519(ctrl_dh, out->dh, dh_secret);
    uint8_t *plain = NULL;
    sx_slice json = {NULL, 0};
    if (st == SX_OK && (plain = malloc(box.len + 1)) == NULL)
        st = SX_E_NOMEM;
    if (st == SX_OK)
        st = sx_cb_decrypt_padded(dh_secret, nonce.ptr, box, plain, box.len + 1, &json);
    if (st == SX_OK) {
        sx_slice v, app;
        bool ok = sx_xrcp_json_member(json, "v", &v) && json_u16(v, &out->v) &&
                  json_b64(json, "ca", out->ca, SX_XRCP_FP_LEN) &&
                  json_b64(json, "kem", out->kem_pk, SX_SNTRUP761_PK_LEN);
        if (ok && !sx_xrcp_json_member(json, "app", &app))
            app = sx_slice_str("null");
        if (!ok)
            st = SX_E_PROTOCOL;
        else if ((out->app = malloc(app.len)) == NULL)
            st = SX_E_NOMEM;
        else {
            sx_reader ar;
            sx_reader_init_slice(&ar, app);
            sx_read_copy(&ar, out->app, app.len);
            out->app_len = app.len;
        }
    }
    if (plain != NULL) {
        sx_wipe(plain, box.len + 1);
        free(plain);
    }
    if (st != SX_OK) {
        sx_xrcp_host_hello_clear(out);
        sx_wipe(dh_secret, SX_CB_KEY_LEN);
    }
    return st;
}

sx_status sx_xrcp_ctrl_hello_encode(const uint8_t kem_ct[SX_SNTRUP761_CT_LEN], sx_sbchain *snd, uint8_t *block)
{
    if (kem_ct == NULL || snd == NULL || block == NULL)
        return SX_E_USAGE;
    uint8_t *content = malloc(SX_XRCP_BLOCK_LEN);
    if (content == NULL)
        return SX_E_NOMEM;
    sx_writer w;
    sx_writer_init_fixed(&w, content, SX_XRCP_BLOCK_LEN - 2);
    sx_write_str(&w, "HELLO ");
    sx_write_large(&w, sx_slice_of(kem_ct, SX_SNTRUP761_CT_LEN));
    uint8_t *box = sx_write_reserve(&w, HELLO_BOX_LEN);
    uint8_t key[SX_SBCHAIN_KEY_LEN], nonce[SX_CB_NONCE_LEN];
    sx_status st = box != NULL ? sx_sbchain_step(snd, key, nonce) : sx_writer_status(&w);
    if (st == SX_OK)
        st = sx_sb_encrypt_padded(key, nonce, sx_slice_str("{}"), SX_XRCP_HELLO_PAD, box, HELLO_BOX_LEN);
    if (st == SX_OK)
        st = finish_block(&w, block);
    sx_wipe(key, sizeof key);
    sx_wipe(content, SX_XRCP_BLOCK_LEN);
    free(content);
    return st;
}

sx_status sx_xrcp_ctrl_error_encode(const uint8_t dh_secret[SX_CB_KEY_LEN], const char *message,
                                    const uint8_t nonce[SX_CB_NONCE_LEN], uint8_t *block)
{
    if (dh_secret == NULL || message == NULL || block == NULL)
        return SX_E_USAGE;
    uint8_t *content = malloc(SX_XRCP_BLOCK_LEN);
    if (content == NULL)
        return SX_E_NOMEM;
    uint8_t n[SX_CB_NONCE_LEN];
    if (nonce != NULL)
        memcpy(n, nonce, sizeof n);
    else
        sx_random_bytes(n, sizeof n);
    sx_writer w;
    sx_writer_init_fixed(&w, content, SX_XRCP_BLOCK_LEN - 2);
    sx_write_str(&w, "ERROR ");
    sx_write_bytes(&w, n, sizeof n);
    uint8_t *box = sx_write_reserve(&w, HELLO_BOX_LEN);
    sx_status st = box != NULL ? sx_cb_encrypt_padded(dh_secret, n, sx_slice_str(message), SX_XRCP_HELLO_PAD, box,
                                                      HELLO_BOX_LEN)
                               : sx_writer_status(&w);
    if (st == SX_OK)
        st = finish_block(&w, block);
    free(content);
    return st;
}

/* The controller's reply: its kind and the part after the kind. */
static sx_status reply_parts(sx_slice block, bool *is_error, sx_slice *first, sx_slice *rest)
{
    sx_slice content;
    if (block.len != SX_XRCP_BLOCK_LEN || sx_unpad(block, &content) != SX_OK)
        return SX_E_PROTOCOL;
    sx_reader r;
    sx_reader_init_slice(&r, content);
    if (sx_read_accept(&r, "HELLO ")) {
        *is_error = false;
        sx_read_large(&r, first);
    } else {
        *is_error = true;
        sx_read_expect_str(&r, "ERROR ");
        sx_read_bytes(&r, SX_CB_NONCE_LEN, first);
    }
    sx_read_tail(&r, rest);
    return sx_reader_finish(&r) == SX_OK ? SX_OK : SX_E_PROTOCOL;
}

sx_status sx_xrcp_ctrl_reply_decode(sx_slice block, const uint8_t dh_secret[SX_CB_KEY_LEN], bool *is_error,
                                    uint8_t kem_ct[SX_SNTRUP761_CT_LEN], char *message, size_t cap)
{
    if (is_error == NULL || kem_ct == NULL || dh_secret == NULL || message == NULL || cap == 0 ||
        (block.ptr == NULL && block.len != 0))
        return SX_E_USAGE;
    message[0] = 0;
    sx_slice first, rest;
    sx_status st = reply_parts(block, is_error, &first, &rest);
    if (st != SX_OK)
        return st;
    if (!*is_error) {
        if (first.len != SX_SNTRUP761_CT_LEN)
            return SX_E_PROTOCOL;
        sx_reader r;
        sx_reader_init_slice(&r, first);
        sx_read_copy(&r, kem_ct, SX_SNTRUP761_CT_LEN);
        return SX_OK;
    }
    uint8_t *plain = malloc(rest.len + 1);
    if (plain == NULL)
        return SX_E_NOMEM;
    sx_slice text;
    st = sx_cb_decrypt_padded(dh_secret, first.ptr, rest, plain, rest.len + 1, &text);
    if (st == SX_OK) {
        size_t n = text.len < cap - 1 ? text.len : cap - 1;
        sx_reader r;
        sx_reader_init_slice(&r, text);
        sx_read_copy(&r, message, n);
        message[n] = 0;
    }
    free(plain);
    return st;
}

sx_status sx_xrcp_ctrl_hello_open(sx_slice block, sx_sbchain *rcv)
{
    if (rcv == NULL || (block.ptr == NULL && block.len != 0))
        return SX_E_USAGE;
    bool is_error = false;
    sx_slice first, rest;
    sx_status st = reply_parts(block, &is_error, &first, &rest);
    if (st == SX_OK && is_error)
        st = SX_E_PROTOCOL;
    if (st != SX_OK)
        return st;
    uint8_t key[SX_SBCHAIN_KEY_LEN], nonce[SX_CB_NONCE_LEN];
    uint8_t *plain = malloc(rest.len + 1);
    if (plain == NULL)
        return SX_E_NOMEM;
    sx_slice json;
    st = sx_sbchain_step(rcv, key, nonce);
    if (st == SX_OK)
        st = sx_sb_decrypt_padded(key, nonce, rest, plain, rest.len + 1, &json);
    if (st == SX_OK && !sx_xrcp_json_is_object(json))
        st = SX_E_PROTOCOL;
    sx_wipe(key, sizeof key);
    sx_wipe(plain, rest.len + 1);
    free(plain);
    return st;
}

sx_status sx_xrcp_body_seal(sx_sbchain *snd, sx_slice msg, uint8_t *out, size_t cap)
{
    if (snd == NULL || out == NULL || (msg.ptr == NULL && msg.len != 0) || cap < msg.len + SX_CB_TAG_LEN)
        return SX_E_USAGE;
    uint8_t key[SX_SBCHAIN_KEY_LEN], nonce[SX_CB_NONCE_LEN];
    uint8_t *tmp = malloc(msg.len + SX_CB_TAG_LEN);
    if (tmp == NULL)
        return SX_E_NOMEM;
    sx_status st = sx_sbchain_step(snd, key, nonce);
    if (st == SX_OK)
        st = sx_sb_encrypt(key, nonce, msg, tmp, msg.len + SX_CB_TAG_LEN);
    if (st == SX_OK) {
        /* tag || ciphertext -> ciphertext || tag */
        memcpy(out, tmp + SX_CB_TAG_LEN, msg.len);
        memcpy(out + msg.len, tmp, SX_CB_TAG_LEN);
    }
    sx_wipe(key, sizeof key);
    free(tmp);
    return st;
}

sx_status sx_xrcp_body_open(sx_sbchain *rcv, sx_slice box, uint8_t *out, size_t cap, sx_slice *msg)
{
    if (rcv == NULL || out == NULL || msg == NULL || (box.ptr == NULL && box.len != 0))
        return SX_E_USAGE;
    uint8_t key[SX_SBCHAIN_KEY_LEN], nonce[SX_CB_NONCE_LEN];
    sx_status st = sx_sbchain_step(rcv, key, nonce);
    if (st != SX_OK)
        return st;
    if (box.len < SX_CB_TAG_LEN) {
        sx_wipe(key, sizeof key);
        return SX_E_AUTH;
    }
    size_t n = box.len - SX_CB_TAG_LEN;
    uint8_t *tmp = cap >= n ? malloc(box.len) : NULL;
    if (tmp == NULL) {
        sx_wipe(key, sizeof key);
        return cap < n ? SX_E_USAGE : SX_E_NOMEM;
    }
    sx_reader r;
    sx_reader_init_slice(&r, box);
    sx_read_copy(&r, tmp + SX_CB_TAG_LEN, n);
    sx_read_copy(&r, tmp, SX_CB_TAG_LEN);
    st = sx_sb_decrypt(key, nonce, sx_slice_of(tmp, box.len), out, cap, msg);
    sx_wipe(key, sizeof key);
    free(tmp);
    return st;
}

void sx_xrcp_code_text(sx_slice code, char *out, size_t cap)
{
    if (out == NULL || cap == 0)
        return;
    uint8_t n[SX_TLS_UNIQUE_MAX];
    size_t len = code.ptr != NULL && code.len < sizeof n ? code.len : (code.ptr != NULL ? sizeof n : 0);
    if (len > 0)
        memcpy(n, code.ptr, len);
    /* repeated division by ten, least significant digit first: 64 bytes
     * make at most 155 digits */
    char digits[160];
    size_t nd = 0;
    size_t start = 0;
    while (start < len && n[start] == 0)
        start++;
    while (start < len && nd < sizeof digits) {
        unsigned rem = 0;
        for (size_t i = start; i < len; i++) {
            unsigned cur = rem * 256 + n[i];
            n[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
        }
        digits[nd++] = (char)('0' + rem);
        while (start < len && n[start] == 0)
            start++;
    }
    if (nd == 0)
        digits[nd++] = '0';
    size_t o = 0;
    for (size_t i = 0; i < nd && o + 1 < cap; i++) {
        if (i > 0 && i % 5 == 0) {
            out[o++] = ' ';
            if (o + 1 >= cap)
                break;
        }
        out[o++] = digits[nd - 1 - i];
    }
    out[o] = 0;
    sx_wipe(n, sizeof n);
}
