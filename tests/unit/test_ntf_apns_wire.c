/* Unit tests of what the NTF router and an APNS endpoint read from each
 * other (src/ntf_router/apns_wire.h; PROTOCOL-NOTES G20, G23): APNS error
 * bodies (whole, truncated, oversized, with trailing bytes, nested), the
 * table from an answer to what the router does, and provider tokens written
 * by sx_ntf_apns_jwt read back, verified, and refused when altered. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/base64.h"
#include "ntf_router/apns_wire.h"

static sx_status reason_of(const char *body, char *out, size_t cap)
{
    return sx_ntf_apns_reason_parse(sx_slice_str(body), out, cap);
}

static void test_reason(void **state)
{
    (void)state;
    char r[SX_NTF_APNS_REASON_MAX];
    assert_ok(reason_of("{\"reason\":\"BadDeviceToken\"}", r, sizeof r));
    assert_string_equal(r, "BadDeviceToken");
    assert_ok(reason_of(" { \"reason\" : \"Unregistered\" , \"timestamp\" : 1733443200123 }\n", r, sizeof r));
    assert_string_equal(r, "Unregistered");
    assert_ok(reason_of("{\"timestamp\":1.5e3,\"x\":null,\"y\":true,\"z\":\"a\\\"b\\u00e9\"}", r, sizeof r));
    assert_string_equal(r, "");
    assert_ok(reason_of("{}", r, sizeof r));
    assert_string_equal(r, "");
    assert_ok(sx_ntf_apns_reason_parse(sx_slice_of(NULL, 0), r, sizeof r));
    assert_string_equal(r, "");
    /* truncated at every length */
    const char *whole = "{\"reason\":\"BadDeviceToken\",\"t\":12}";
    for (size_t n = 1; n < strlen(whole); n++)
        assert_int_equal(sx_ntf_apns_reason_parse(sx_slice_of((const uint8_t *)whole, n), r, sizeof r),
                         SX_E_PROTOCOL);
    /* trailing bytes, nesting, bad values */
    assert_int_equal(reason_of("{\"reason\":\"A\"}x", r, sizeof r), SX_E_PROTOCOL);
    assert_int_equal(reason_of("{\"reason\":\"A\"}{}", r, sizeof r), SX_E_PROTOCOL);
    assert_int_equal(reason_of("{\"reason\":{\"a\":1}}", r, sizeof r), SX_E_PROTOCOL);
    assert_int_equal(reason_of("{\"reason\":[1]}", r, sizeof r), SX_E_PROTOCOL);
    assert_int_equal(reason_of("{\"reason\":1}", r, sizeof r), SX_E_PROTOCOL);
    assert_int_equal(reason_of("{\"reason\":\"a\\nb\"}", r, sizeof r), SX_E_PROTOCOL);
    assert_int_equal(reason_of("{\"a\":01x}", r, sizeof r), SX_E_PROTOCOL);
    assert_int_equal(reason_of("{\"a\":\"\\q\"}", r, sizeof r), SX_E_PROTOCOL);
    assert_int_equal(reason_of("{\"a\":\"\\u12\"}", r, sizeof r), SX_E_PROTOCOL);
    assert_int_equal(reason_of("{,}", r, sizeof r), SX_E_PROTOCOL);
    assert_int_equal(reason_of("[]", r, sizeof r), SX_E_PROTOCOL);
    assert_int_equal(reason_of("{\"a\":1,}", r, sizeof r), SX_E_PROTOCOL);
    /* oversized: a reason longer than the limit, and than the caller's buffer */
    char big[256];
    snprintf(big, sizeof big, "{\"reason\":\"%0100d\"}", 7);
    assert_int_equal(reason_of(big, r, sizeof r), SX_E_LIMIT);
    char small[5];
    assert_int_equal(reason_of("{\"reason\":\"Shutdown\"}", small, sizeof small), SX_E_LIMIT);
    assert_string_equal(small, "");
}

static void test_outcome(void **state)
{
    (void)state;
    sx_ntf_invalid_reason inv;
    assert_int_equal(sx_ntf_apns_outcome_of(200, "", &inv), SX_NTF_APNS_DELIVERED);
    assert_int_equal(sx_ntf_apns_outcome_of(400, "BadDeviceToken", &inv), SX_NTF_APNS_TOKEN_INVALID);
    assert_int_equal(inv, SX_NTF_INVALID_BAD);
    assert_int_equal(sx_ntf_apns_outcome_of(400, "DeviceTokenNotForTopic", &inv), SX_NTF_APNS_TOKEN_INVALID);
    assert_int_equal(inv, SX_NTF_INVALID_TOPIC);
    assert_int_equal(sx_ntf_apns_outcome_of(400, "TopicDisallowed", &inv), SX_NTF_APNS_PERMANENT);
    assert_int_equal(sx_ntf_apns_outcome_of(400, "BadTopic", &inv), SX_NTF_APNS_FAILED);
    assert_int_equal(sx_ntf_apns_outcome_of(403, "ExpiredProviderToken", &inv), SX_NTF_APNS_PERMANENT);
    assert_int_equal(sx_ntf_apns_outcome_of(403, "InvalidProviderToken", &inv), SX_NTF_APNS_PERMANENT);
    assert_int_equal(sx_ntf_apns_outcome_of(403, "Forbidden", &inv), SX_NTF_APNS_FAILED);
    assert_int_equal(sx_ntf_apns_outcome_of(410, "ExpiredToken", &inv), SX_NTF_APNS_TOKEN_INVALID);
    assert_int_equal(inv, SX_NTF_INVALID_EXPIRED);
    assert_int_equal(sx_ntf_apns_outcome_of(410, "Unregistered", &inv), SX_NTF_APNS_TOKEN_INVALID);
    assert_int_equal(inv, SX_NTF_INVALID_UNREGISTERED);
    assert_int_equal(sx_ntf_apns_outcome_of(410, "", &inv), SX_NTF_APNS_RETRY);
    assert_int_equal(sx_ntf_apns_outcome_of(503, "ServiceUnavailable", &inv), SX_NTF_APNS_RETRY);
    assert_int_equal(sx_ntf_apns_outcome_of(429, "TooManyRequests", &inv), SX_NTF_APNS_FAILED);
    assert_int_equal(sx_ntf_apns_outcome_of(500, NULL, &inv), SX_NTF_APNS_FAILED);
}

static char g_dir[] = "/tmp/sx_ntf_wire.XXXXXX";

static sx_ntf_apns_key *new_key(const char *name, bool public_only, sx_ntf_apns_key **pub)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    assert_non_null(pk);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    sx_ntf_apns_key *k = NULL;
    assert_ok(sx_ntf_apns_key_load(path, &k));
    if (public_only) {
        snprintf(path, sizeof path, "%s/%s.pub", g_dir, name);
        f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(PEM_write_PUBKEY(f, pk), 1);
        fclose(f);
        assert_int_equal(sx_ntf_apns_key_load(path, pub), SX_E_PROTOCOL); /* not a private key */
        assert_ok(sx_ntf_apns_key_load_public(path, pub));
    }
    EVP_PKEY_free(pk);
    return k;
}

static void test_jwt(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(g_dir));
    sx_ntf_apns_key *pub = NULL, *other_pub = NULL;
    sx_ntf_apns_key *k = new_key("a.p8", true, &pub);
    sx_ntf_apns_key *other = new_key("b.p8", true, &other_pub);
    uint8_t buf[SX_NTF_APNS_JWT_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_ntf_apns_jwt(&w, k, "KEY1234567", SX_NTF_APNS_TEAM_ID, 1733443200));
    sx_slice jwt = sx_writer_slice(&w);
    sx_ntf_apns_jwt_parts p;
    assert_ok(sx_ntf_apns_jwt_parse(jwt, &p));
    assert_string_equal(p.alg, "ES256");
    assert_string_equal(p.kid, "KEY1234567");
    assert_string_equal(p.iss, SX_NTF_APNS_TEAM_ID);
    assert_int_equal(p.iat, 1733443200);
    assert_true(sx_ntf_apns_jwt_verify(&p, pub));
    assert_true(sx_ntf_apns_jwt_verify(&p, k));
    assert_false(sx_ntf_apns_jwt_verify(&p, other_pub));
    /* a byte changed in the signed part: parses (or not) but never verifies */
    uint8_t alt[SX_NTF_APNS_JWT_MAX];
    for (size_t i = 0; i < jwt.len; i += 7) {
        memcpy(alt, jwt.ptr, jwt.len);
        alt[i] = alt[i] == 'A' ? 'B' : 'A';
        if (sx_ntf_apns_jwt_parse(sx_slice_of(alt, jwt.len), &p) == SX_OK)
            assert_false(sx_ntf_apns_jwt_verify(&p, pub));
    }
    /* truncated at every length */
    for (size_t n = 0; n < jwt.len; n++)
        if (sx_ntf_apns_jwt_parse(sx_slice_of(jwt.ptr, n), &p) == SX_OK)
            assert_false(sx_ntf_apns_jwt_verify(&p, pub));
    /* trailing bytes: a fourth part, padding */
    memcpy(alt, jwt.ptr, jwt.len);
    memcpy(alt + jwt.len, ".AA", 3);
    assert_int_equal(sx_ntf_apns_jwt_parse(sx_slice_of(alt, jwt.len + 3), &p), SX_E_PROTOCOL);
    memcpy(alt + jwt.len, "==", 2);
    assert_int_equal(sx_ntf_apns_jwt_parse(sx_slice_of(alt, jwt.len + 2), &p), SX_E_PROTOCOL);
    /* oversized */
    uint8_t *huge = malloc(SX_NTF_APNS_JWT_MAX + 1);
    assert_non_null(huge);
    memset(huge, 'A', SX_NTF_APNS_JWT_MAX + 1);
    assert_int_equal(sx_ntf_apns_jwt_parse(sx_slice_of(huge, SX_NTF_APNS_JWT_MAX + 1), &p), SX_E_LIMIT);
    free(huge);
    /* claims without iat */
    char text[512];
    char h[128], c[128];
    assert_ok(sx_b64_encode(sx_slice_str("{\"alg\":\"ES256\",\"kid\":\"K\"}"), SX_B64_URL_NOPAD, h, sizeof h));
    assert_ok(sx_b64_encode(sx_slice_str("{\"iss\":\"T\"}"), SX_B64_URL_NOPAD, c, sizeof c));
    snprintf(text, sizeof text, "%s.%s.MEUCIQ", h, c);
    assert_int_equal(sx_ntf_apns_jwt_parse(sx_slice_str(text), &p), SX_E_PROTOCOL);
    assert_ok(sx_b64_encode(sx_slice_str("{\"iss\":\"T\",\"iat\":-1}"), SX_B64_URL_NOPAD, c, sizeof c));
    snprintf(text, sizeof text, "%s.%s.MEUCIQ", h, c);
    assert_int_equal(sx_ntf_apns_jwt_parse(sx_slice_str(text), &p), SX_E_PROTOCOL);
    assert_ok(sx_b64_encode(sx_slice_str("{\"iss\":\"T\",\"iat\":5}"), SX_B64_URL_NOPAD, c, sizeof c));
    snprintf(text, sizeof text, "%s.%s.MEUCIQ", h, c);
    assert_ok(sx_ntf_apns_jwt_parse(sx_slice_str(text), &p));
    assert_false(sx_ntf_apns_jwt_verify(&p, pub));
    sx_ntf_apns_key_free(k);
    sx_ntf_apns_key_free(pub);
    sx_ntf_apns_key_free(other);
    sx_ntf_apns_key_free(other_pub);
    tu_rm_rf(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason),
        cmocka_unit_test(test_outcome),
        cmocka_unit_test(test_jwt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
