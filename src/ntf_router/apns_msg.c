/* APNS provider token and push bodies (see apns_msg.h). */
#include "ntf_router/apns_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/base64.h"
#include "crypto/box.h"

struct sx_ntf_apns_key {
    EVP_PKEY *pkey;
};

static sx_status key_load(const char *path, bool public_ok, sx_ntf_apns_key **out)
{
    SX_ENSURE(path != NULL && out != NULL, SX_E_USAGE);
    *out = NULL;
    FILE *f = fopen(path, "r");
    SX_ENSURE(f != NULL, SX_E_IO);
    EVP_PKEY *pk = NULL;
    if (public_ok) {
        pk = PEM_read_PUBKEY(f, NULL, NULL, NULL);
        if (!pk) {
            ERR_clear_error();
            rewind(f);
        }
    }
    if (!pk)
        pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    SX_ENSURE(pk != NULL, SX_E_PROTOCOL);
    char group[32] = "";
    size_t glen = 0;
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC ||
        !EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof group, &glen) ||
        strcmp(group, "prime256v1") != 0) {
        EVP_PKEY_free(pk);
        return SX_E_PROTOCOL;
    }
    sx_ntf_apns_key *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pk);
        return SX_E_NOMEM;
    }
    k->pkey = pk;
    *out = k;
    return SX_OK;
}

sx_status sx_ntf_apns_key_load(const char *path, sx_ntf_apns_key **out)
{
    return key_load(path, false, out);
}

sx_status sx_ntf_apns_key_load_public(const char *path, sx_ntf_apns_key **out)
{
    return key_load(path, true, out);
}

bool sx_ntf_apns_es256_verify(const sx_ntf_apns_key *k, sx_slice data, sx_slice sig)
{
    if (!k || (data.len > 0 && !data.ptr) || sig.len == 0 || !sig.ptr)
        return false;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
              EVP_DigestVerify(md, sig.ptr, sig.len, data.ptr, data.len) == 1;
    EVP_MD_CTX_free(md);
    if (!ok)
        ERR_clear_error();
    return ok;
}

void sx_ntf_apns_key_free(sx_ntf_apns_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

static bool write_b64(sx_writer *w, sx_slice s, sx_b64_variant v)
{
    size_t n = sx_b64_encoded_size(s.len, v);
    char *text = malloc(n);
    if (!text)
        return sx_writer_fail(w, SX_E_NOMEM);
    bool ok = sx_b64_encode(s, v, text, n) == SX_OK ? sx_write_str(w, text) : sx_writer_fail(w, SX_E_INTERNAL);
    free(text);
    return ok;
}

/* A JSON string of printable ASCII (what key ids and team ids are). */
static bool write_json_str(sx_writer *w, const char *s)
{
    if (!sx_write_str(w, "\""))
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f)
            return sx_writer_fail(w, SX_E_USAGE);
        if ((c == '"' || c == '\\') && !sx_write_str(w, "\\"))
            return false;
        if (!sx_write_u8(w, c))
            return false;
    }
    return sx_write_str(w, "\"");
}

bool sx_ntf_apns_jwt(sx_writer *w, const sx_ntf_apns_key *k, const char *kid, const char *team, int64_t iat)
{
    if (!k || !kid || !team)
        return sx_writer_fail(w, SX_E_USAGE);
    uint8_t hb[512], cb[512];
    sx_writer hw, cw;
    sx_writer_init_fixed(&hw, hb, sizeof hb);
    sx_writer_init_fixed(&cw, cb, sizeof cb);
    char iat_text[24];
    snprintf(iat_text, sizeof iat_text, "%lld", (long long)iat);
    bool ok = sx_write_str(&hw, "{\"alg\":\"ES256\",\"kid\":") && write_json_str(&hw, kid) && sx_write_str(&hw, "}") &&
              sx_write_str(&cw, "{\"iss\":") && write_json_str(&cw, team) && sx_write_str(&cw, ",\"iat\":") &&
              sx_write_str(&cw, iat_text) && sx_write_str(&cw, "}");
    if (!ok)
        return sx_writer_fail(w, SX_E_USAGE);
    size_t start = w->len;
    if (!write_b64(w, sx_writer_slice(&hw), SX_B64_URL_NOPAD) || !sx_write_str(w, ".") ||
        !write_b64(w, sx_writer_slice(&cw), SX_B64_URL_NOPAD))
        return false;
    /* ES256 over the two parts; OpenSSL gives the DER the reference sends */
    uint8_t sig[128];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
         EVP_DigestSign(md, sig, &sig_len, w->buf + start, w->len - start) == 1;
    EVP_MD_CTX_free(md);
    if (!ok)
        return sx_writer_fail(w, SX_E_INTERNAL);
    return sx_write_str(w, ".") && write_b64(w, sx_slice_of(sig, sig_len), SX_B64_URL_NOPAD);
}

/* b64url(crypto_box(secret, nonce, pad(msg, 3072))) */
static bool write_sealed(sx_writer *w, const uint8_t secret[32], const uint8_t nonce[24], const uint8_t *msg,
                         size_t len)
{
    uint8_t *box = malloc(SX_NTF_APNS_PADDED_LEN + 16);
    if (!box)
        return sx_writer_fail(w, SX_E_NOMEM);
    sx_status st = sx_cb_encrypt_padded(secret, nonce, sx_slice_of(msg, len), SX_NTF_APNS_PADDED_LEN, box,
                                        SX_NTF_APNS_PADDED_LEN + 16);
    sx_slice sealed = sx_slice_of(box, SX_NTF_APNS_PADDED_LEN + 16);
    bool ok = st == SX_OK ? sx_write_str(w, "\"") && write_b64(w, sealed, SX_B64_URL) && sx_write_str(w, "\"")
                          : sx_writer_fail(w, st == SX_E_LIMIT ? SX_E_LIMIT : SX_E_USAGE);
    free(box);
    return ok;
}

static bool write_nonce(sx_writer *w, const uint8_t nonce[24])
{
    return sx_write_str(w, "\"") && write_b64(w, sx_slice_of(nonce, 24), SX_B64_URL) && sx_write_str(w, "\"");
}

bool sx_ntf_apns_verification_body(sx_writer *w, const uint8_t secret[32], const uint8_t nonce[24],
                                   const uint8_t *code, size_t code_len)
{
    return sx_write_str(w, "{\"aps\":{\"content-available\":1},\"notificationData\":{\"nonce\":") &&
           write_nonce(w, nonce) && sx_write_str(w, ",\"verification\":") &&
           write_sealed(w, secret, nonce, code, code_len) && sx_write_str(w, "}}");
}

bool sx_ntf_apns_message_body(sx_writer *w, const uint8_t secret[32], const uint8_t nonce[24], const uint8_t *msg,
                              size_t msg_len)
{
    return sx_write_str(w, "{\"aps\":{\"mutable-content\":1,\"alert\":\"Encrypted message or another app event\","
                           "\"category\":\"NTF_CAT_CHECK_MESSAGE\"},\"notificationData\":{\"message\":") &&
           write_sealed(w, secret, nonce, msg, msg_len) && sx_write_str(w, ",\"nonce\":") && write_nonce(w, nonce) &&
           sx_write_str(w, "}}");
}

bool sx_ntf_apns_check_body(sx_writer *w)
{
    return sx_write_str(w, "{\"aps\":{\"content-available\":1},\"notificationData\":{\"checkMessages\":true}}");
}
