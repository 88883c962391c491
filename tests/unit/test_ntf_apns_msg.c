/* Unit tests of the APNS provider token and push bodies
 * (src/ntf_router/apns_msg.h; PROTOCOL-NOTES G20, G21): the JWT's two JSON
 * parts and its DER ES256 signature checked with OpenSSL against the key's
 * public half, a key of another curve refused, and each body taken apart:
 * the nonce and the sealed payload decoded and opened with the secret to the
 * registration code / the message, padded to 3072 bytes. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/base64.h"
#include "crypto/box.h"
#include "ntf_router/apns_msg.h"

static char g_dir[] = "/tmp/sx_ntf_apns.XXXXXX";

/* Writes a new EC key of the curve as PKCS#8 PEM; returns its public half. */
static EVP_PKEY *write_key(const char *path, const char *curve)
{
    EVP_PKEY *pk = EVP_EC_gen(curve);
    assert_non_null(pk);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    return pk;
}

static size_t b64_decode(const char *text, size_t len, sx_b64_variant v, uint8_t *out, size_t cap)
{
    size_t n = 0;
    assert_ok(sx_b64_decode(text, len, v, out, cap, &n));
    return n;
}

static void test_jwt(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(g_dir));
    char path[128];
    snprintf(path, sizeof path, "%s/AuthKey.p8", g_dir);
    EVP_PKEY *pub = write_key(path, "P-256");
    sx_ntf_apns_key *k = NULL;
    assert_ok(sx_ntf_apns_key_load(path, &k));
    uint8_t buf[1024];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf - 1);
    assert_true(sx_ntf_apns_jwt(&w, k, "ABC123DEFG", SX_NTF_APNS_TEAM_ID, 1733443200));
    buf[w.len] = 0;
    char *jwt = (char *)buf;
    char *dot1 = strchr(jwt, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    assert_non_null(dot2);
    assert_null(strchr(jwt, '=')); /* unpadded */
    uint8_t part[512];
    size_t n = b64_decode(jwt, (size_t)(dot1 - jwt), SX_B64_URL_NOPAD, part, sizeof part);
    assert_int_equal(n, strlen("{\"alg\":\"ES256\",\"kid\":\"ABC123DEFG\"}"));
    assert_memory_equal(part, "{\"alg\":\"ES256\",\"kid\":\"ABC123DEFG\"}", n);
    n = b64_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), SX_B64_URL_NOPAD, part, sizeof part);
    assert_int_equal(n, strlen("{\"iss\":\"5NN7GUYB6T\",\"iat\":1733443200}"));
    assert_memory_equal(part, "{\"iss\":\"5NN7GUYB6T\",\"iat\":1733443200}", n);
    /* the signature is DER SEQUENCE { r, s } over "header.claims" */
    uint8_t sig[128];
    size_t sig_len = b64_decode(dot2 + 1, strlen(dot2 + 1), SX_B64_URL_NOPAD, sig, sizeof sig);
    assert_int_equal(sig[0], 0x30);
    assert_int_equal(sig[1] + 2, sig_len);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), 1);
    assert_int_equal(EVP_DigestVerify(md, sig, sig_len, (const uint8_t *)jwt, (size_t)(dot2 - jwt)), 1);
    EVP_MD_CTX_free(md);
    /* a kid that would break the JSON */
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_ntf_apns_jwt(&w, k, "a\nb", SX_NTF_APNS_TEAM_ID, 1));
    sx_ntf_apns_key_free(k);
    EVP_PKEY_free(pub);

    /* a key of another curve, a missing file */
    EVP_PKEY *other = write_key(path, "P-384");
    assert_int_equal(sx_ntf_apns_key_load(path, &k), SX_E_PROTOCOL);
    EVP_PKEY_free(other);
    snprintf(path, sizeof path, "%s/none.p8", g_dir);
    assert_int_equal(sx_ntf_apns_key_load(path, &k), SX_E_IO);
    tu_rm_rf(g_dir);
}

/* The text of JSON string field `key` (no escapes in these values). */
static sx_slice field(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    assert_non_null(p);
    p += strlen(pat);
    const char *e = strchr(p, '"');
    assert_non_null(e);
    return sx_slice_of(p, (size_t)(e - p));
}

static void test_bodies(void **state)
{
    (void)state;
    uint8_t secret[32], nonce[24], code[32];
    tu_bytes_seq(secret, sizeof secret, 1);
    tu_bytes_seq(nonce, sizeof nonce, 50);
    tu_bytes_seq(code, sizeof code, 100);
    static uint8_t buf[8192], box[4096], plain[4096];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf - 1);
    assert_true(sx_ntf_apns_verification_body(&w, secret, nonce, code, sizeof code));
    buf[w.len] = 0;
    const char *json = (const char *)buf;
    const char *head = "{\"aps\":{\"content-available\":1},\"notificationData\":{\"nonce\":\"";
    assert_int_equal(strncmp(json, head, strlen(head)), 0);
    sx_slice n = field(json, "nonce"), v = field(json, "verification");
    uint8_t got_nonce[24];
    assert_int_equal(b64_decode((const char *)n.ptr, n.len, SX_B64_URL, got_nonce, sizeof got_nonce), 24);
    assert_memory_equal(got_nonce, nonce, 24);
    size_t blen = b64_decode((const char *)v.ptr, v.len, SX_B64_URL, box, sizeof box);
    assert_int_equal(blen, SX_NTF_APNS_PADDED_LEN + 16);
    sx_slice msg;
    assert_ok(sx_cb_decrypt_padded(secret, nonce, sx_slice_of(box, blen), plain, sizeof plain, &msg));
    assert_int_equal(msg.len, sizeof code);
    assert_memory_equal(msg.ptr, code, sizeof code);
    secret[0] ^= 1;
    assert_int_equal(sx_cb_decrypt_padded(secret, nonce, sx_slice_of(box, blen), plain, sizeof plain, &msg),
                     SX_E_AUTH);
    secret[0] ^= 1;

    const char *text = "smp://a@b/c 1733443200 n m";
    sx_writer_init_fixed(&w, buf, sizeof buf - 1);
    assert_true(sx_ntf_apns_message_body(&w, secret, nonce, (const uint8_t *)text, strlen(text)));
    buf[w.len] = 0;
    assert_non_null(strstr(json, "{\"aps\":{\"mutable-content\":1,\"alert\":\"Encrypted message or another app "
                                 "event\",\"category\":\"NTF_CAT_CHECK_MESSAGE\"},"
                                 "\"notificationData\":{\"message\":\""));
    v = field(json, "message");
    blen = b64_decode((const char *)v.ptr, v.len, SX_B64_URL, box, sizeof box);
    assert_ok(sx_cb_decrypt_padded(secret, nonce, sx_slice_of(box, blen), plain, sizeof plain, &msg));
    assert_true(sx_slice_eq(msg, sx_slice_str(text)));
    /* a payload over the padded length */
    static uint8_t big[SX_NTF_APNS_PADDED_LEN];
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_ntf_apns_message_body(&w, secret, nonce, big, sizeof big));

    sx_writer_init_fixed(&w, buf, sizeof buf - 1);
    assert_true(sx_ntf_apns_check_body(&w));
    buf[w.len] = 0;
    assert_string_equal(json, "{\"aps\":{\"content-available\":1},\"notificationData\":{\"checkMessages\":true}}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt),
        cmocka_unit_test(test_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
