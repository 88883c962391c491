/* Unit tests of the XRCP invitation URI (xrcp/invitation.h, PROTOCOL-NOTES
 * X1-X5) and the JSON helper it uses. The known answer was computed by
 * gen_xrcp_kat.py (Python's base64 and escaping, Ed25519 from the
 * `cryptography` package), independently of the C code. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "xrcp/invitation.h"
#include "xrcp/json.h"

static const char KAT_SIGNED[] =
    "xrcp:/YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8=@192.168.1.10:5227#/?v=1-2"
    "&app=%7B%22device%22%3A%22My%20laptop%20%C3%A9%22%2C%22v%22%3A%5B1%2C2%5D%7D&ts=1700000000"
    "&skey=MCowBQYDK2VwAyEAA6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg%3D"
    "&idkey=MCowBQYDK2VwAyEAKay64UG8yvCyLhqU000LxzYeUm0L_hLIl5S8kyKWbdc%3D"
    "&dh=MCowBQYDK2VuAyEAeaYx7t4b-cmPEgMs3q3Q56B5OY_HhriMyEbsia-FpRo%3D"
    "&ssig=IJj5qz7Va8jdwqaFaY9S87Z2-alfBkwhp_vsr42h5GnxcezFWOoAACB3MiQbrFWJA-n5_chO-LUkW5EGkJsBAg=="
    "&idsig=zCvDjI3FNI_UBUzjg4VmtGY-787YPImgMjl9x6etqwgARowhltZrT8ycrIXsY9DUl3vJKkSZvIdF9B8tsxe1BA==";
static const char KAT_APP[] = "{\"device\":\"My laptop \xc3\xa9\",\"v\":[1,2]}";

typedef struct kat_keys {
    sx_key *skey, *idkey, *dh;
} kat_keys;

static sx_key *key_from_seq(sx_key_alg alg, uint8_t start)
{
    uint8_t raw[32];
    tu_bytes_seq(raw, sizeof raw, start);
    sx_key *k = NULL;
    assert_ok(sx_key_from_raw_private(alg, sx_slice_of(raw, sizeof raw), &k));
    return k;
}

static void raw_pub(const sx_key *k, uint8_t out[32])
{
    size_t len = 0;
    assert_ok(sx_key_raw_public(k, out, 32, &len));
    assert_int_equal(len, 32);
}

/* The known answer's invitation, built field by field. */
static void kat_invitation(sx_xrcp_invitation *inv, kat_keys *k)
{
    memset(inv, 0, sizeof *inv);
    k->skey = key_from_seq(SX_KEY_ED25519, 0);
    k->idkey = key_from_seq(SX_KEY_ED25519, 32);
    k->dh = key_from_seq(SX_KEY_X25519, 64);
    tu_bytes_seq(inv->ca, sizeof inv->ca, 96);
    strcpy(inv->host, "192.168.1.10");
    inv->port = 5227;
    inv->v.min = 1;
    inv->v.max = 2;
    inv->ts = 1700000000;
    raw_pub(k->skey, inv->skey);
    raw_pub(k->idkey, inv->idkey);
    raw_pub(k->dh, inv->dh);
    assert_ok(sx_xrcp_invitation_set_app(inv, sx_slice_str(KAT_APP)));
}

static void kat_keys_free(kat_keys *k)
{
    sx_key_free(k->skey);
    sx_key_free(k->idkey);
    sx_key_free(k->dh);
}

static char *signed_text(const sx_xrcp_signed_invitation *s, size_t *len)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XRCP_URI_MAX);
    assert_true(sx_xrcp_signed_invitation_write(&w, s));
    assert_ok(sx_write_u8(&w, 0) ? SX_OK : SX_E_LIMIT);
    size_t n = 0;
    char *t = (char *)sx_writer_take(&w, &n);
    *len = n - 1;
    return t;
}

static void test_kat_encode(void **state)
{
    (void)state;
    sx_xrcp_invitation inv;
    kat_keys k;
    kat_invitation(&inv, &k);
    sx_xrcp_signed_invitation s;
    assert_ok(sx_xrcp_invitation_sign(&inv, k.skey, k.idkey, &s));
    size_t len = 0;
    char *t = signed_text(&s, &len);
    assert_string_equal(t, KAT_SIGNED);
    free(t);
    /* the keys must be the invitation's */
    sx_xrcp_signed_invitation s2;
    assert_int_equal(sx_xrcp_invitation_sign(&inv, k.idkey, k.skey, &s2), SX_E_USAGE);
    sx_xrcp_signed_invitation_clear(&s);
    sx_xrcp_invitation_clear(&inv);
    kat_keys_free(&k);
}

static void test_kat_decode(void **state)
{
    (void)state;
    sx_xrcp_signed_invitation s;
    assert_ok(sx_xrcp_invitation_decode_verified(sx_slice_str(KAT_SIGNED), &s));
    assert_string_equal(s.inv.host, "192.168.1.10");
    assert_int_equal(s.inv.port, 5227);
    assert_int_equal(s.inv.v.min, 1);
    assert_int_equal(s.inv.v.max, 2);
    assert_true(s.inv.ts == 1700000000);
    assert_int_equal(s.inv.app_len, strlen(KAT_APP));
    assert_memory_equal(s.inv.app, KAT_APP, s.inv.app_len);
    uint8_t ca[32];
    tu_bytes_seq(ca, 32, 96);
    assert_memory_equal(s.inv.ca, ca, 32);
    sx_xrcp_invitation inv;
    kat_keys k;
    kat_invitation(&inv, &k);
    assert_memory_equal(s.inv.skey, inv.skey, 32);
    assert_memory_equal(s.inv.idkey, inv.idkey, 32);
    assert_memory_equal(s.inv.dh, inv.dh, 32);
    sx_xrcp_invitation_clear(&inv);
    kat_keys_free(&k);
    sx_xrcp_signed_invitation_clear(&s);
}

/* Random keys, several shapes of field: decode(encode(x)) == x. */
static void test_round_trip(void **state)
{
    (void)state;
    static const char *apps[] = {"\"app\"", "{}", "[1,2.5e3,true,null,{\"a\":\"\\u00e9\"}]", "{\"n\":\"a b/c?d=e&f\"}"};
    static const char *hosts[] = {"127.0.0.1", "localhost", "abcdef234567.onion", "host-name.example"};
    for (size_t i = 0; i < 4; i++) {
        sx_key *sk = NULL, *ik = NULL, *dh = NULL;
        assert_ok(sx_key_generate(SX_KEY_ED25519, &sk));
        assert_ok(sx_key_generate(SX_KEY_ED25519, &ik));
        assert_ok(sx_key_generate(SX_KEY_X25519, &dh));
        sx_xrcp_invitation inv;
        memset(&inv, 0, sizeof inv);
        sx_random_bytes(inv.ca, sizeof inv.ca);
        strcpy(inv.host, hosts[i]);
        inv.port = (uint16_t)(i == 0 ? 0 : i == 1 ? 65535
                                                  : 5227);
        inv.v.min = 1;
        inv.v.max = (uint16_t)(i + 1);
        inv.ts = i == 2 ? -5 : (int64_t)1700000000 + (int64_t)i;
        raw_pub(sk, inv.skey);
        raw_pub(ik, inv.idkey);
        raw_pub(dh, inv.dh);
        assert_ok(sx_xrcp_invitation_set_app(&inv, sx_slice_str(apps[i])));
        sx_xrcp_signed_invitation s, d;
        assert_ok(sx_xrcp_invitation_sign(&inv, sk, ik, &s));
        size_t len = 0;
        char *t = signed_text(&s, &len);
        assert_ok(sx_xrcp_invitation_decode_verified(sx_slice_of(t, len), &d));
        assert_string_equal(d.inv.host, inv.host);
        assert_int_equal(d.inv.port, inv.port);
        assert_int_equal(d.inv.v.max, inv.v.max);
        assert_true(d.inv.ts == inv.ts);
        assert_int_equal(d.inv.app_len, inv.app_len);
        assert_memory_equal(d.inv.app, inv.app, inv.app_len);
        assert_memory_equal(d.inv.ca, inv.ca, 32);
        assert_memory_equal(d.ssig, s.ssig, 64);
        assert_memory_equal(d.idsig, s.idsig, 64);
        size_t len2 = 0;
        char *t2 = signed_text(&d, &len2);
        assert_string_equal(t, t2);
        free(t);
        free(t2);
        sx_xrcp_signed_invitation_clear(&s);
        sx_xrcp_signed_invitation_clear(&d);
        sx_xrcp_invitation_clear(&inv);
        sx_key_free(sk);
        sx_key_free(ik);
        sx_key_free(dh);
    }
}

static void test_truncations(void **state)
{
    (void)state;
    size_t n = strlen(KAT_SIGNED);
    sx_xrcp_signed_invitation s;
    for (size_t i = 0; i < n; i++) {
        sx_status st = sx_xrcp_invitation_decode_verified(sx_slice_of(KAT_SIGNED, i), &s);
        /* a cut inside the last signature's '=' padding still decodes */
        if (i >= n - 2)
            assert_ok(st);
        else
            assert_int_not_equal(st, SX_OK);
        sx_xrcp_signed_invitation_clear(&s);
    }
}

static void test_trailing(void **state)
{
    (void)state;
    static const char *tails[] = {" ", "x", "==", "%", "\n"};
    sx_xrcp_signed_invitation s;
    for (size_t i = 0; i < 5; i++) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s%s", KAT_SIGNED, tails[i]);
        assert_int_not_equal(sx_xrcp_invitation_decode_verified(sx_slice_str(buf), &s), SX_OK);
    }
    /* an unknown parameter or an empty item at the end is ignored, as by
     * the reference's query parser */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s&zz=1", KAT_SIGNED);
    assert_ok(sx_xrcp_invitation_decode_verified(sx_slice_str(buf), &s));
    sx_xrcp_signed_invitation_clear(&s);
    snprintf(buf, sizeof buf, "%s&", KAT_SIGNED);
    assert_ok(sx_xrcp_invitation_decode_verified(sx_slice_str(buf), &s));
    sx_xrcp_signed_invitation_clear(&s);
}

/* Every byte changed: decoding fails or a signature fails, except for
 * changes the reference also reads as the same invitation. */
static void test_byte_flips(void **state)
{
    (void)state;
    size_t n = strlen(KAT_SIGNED);
    char buf[1024];
    sx_xrcp_signed_invitation s;
    size_t accepted = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, KAT_SIGNED, n);
        buf[i] ^= 0x01;
        sx_status st = sx_xrcp_invitation_decode_verified(sx_slice_of(buf, n), &s);
        if (st == SX_OK) {
            /* only a changed hex digit case in an escape ("%3d" for "%3D"), or
             * the last base64 character's unused bits, may decode to the same */
            accepted++;
            size_t len = 0;
            char *t = signed_text(&s, &len);
            assert_string_equal(t, KAT_SIGNED);
            free(t);
        }
        sx_xrcp_signed_invitation_clear(&s);
    }
    assert_true(accepted < 20);
}

static void test_bad_fields(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to;
    } cases[] = {
        {"xrcp:/", "xrcp://"},
        {"v=1-2", "v=2-1"},
        {"v=1-2", "v=70000"},
        {"v=1-2", "v=x"},
        {":5227#", ":65536#"},
        {":5227#", ":#"},
        {"ts=1700000000", "ts=17e8"},
        {"ts=1700000000", "ts=99999999999999999999"},
        {"skey=MCowBQYDK2Vw", "skey=MCowBQYDK2Vu"}, /* X25519 where Ed25519 is due */
        {"dh=MCowBQYDK2Vu", "dh=MCowBQYDK2Vw"},
        {"&app=%7B", "&app=%7C"}, /* not JSON */
        {"@192.168.1.10:", "@:"},
        {"@192.168.1.10:", "@a/b:"},
        {"@192.168.1.10:", "@x-y.onion:"},
        {"@192.168.1.10:", "@X1.onion:"},
        {"&ssig=", "&sig="},
        {"&idsig=", "&isig="},
        {"YGFiY2Rl", "YGFiY2R"}, /* fingerprint of 31 bytes */
    };
    sx_xrcp_signed_invitation s;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[1024];
        const char *at = strstr(KAT_SIGNED, cases[i].from);
        assert_non_null(at);
        size_t pre = (size_t)(at - KAT_SIGNED);
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)pre, KAT_SIGNED, cases[i].to, at + strlen(cases[i].from));
        assert_int_not_equal(sx_xrcp_invitation_decode(sx_slice_str(buf), &s), SX_OK);
        sx_xrcp_signed_invitation_clear(&s);
    }
}

/* Parameters in another order decode and verify (the verifier rebuilds the
 * signed text); a missing one fails. */
static void test_order_and_missing(void **state)
{
    (void)state;
    const char *q = strstr(KAT_SIGNED, "#/?") + 3;
    const char *ss = strstr(KAT_SIGNED, "&ssig=");
    char params[8][256];
    size_t np = 0;
    const char *p = q;
    while (p < ss && np < 8) {
        const char *e = strchr(p, '&');
        if (e == NULL || e > ss)
            e = ss;
        snprintf(params[np++], sizeof params[0], "%.*s", (int)(e - p), p);
        p = e + 1;
    }
    assert_int_equal(np, 6);
    char buf[2048];
    size_t head = (size_t)(q - KAT_SIGNED);
    int o = snprintf(buf, sizeof buf, "%.*s", (int)head, KAT_SIGNED);
    for (size_t i = np; i-- > 0;)
        o += snprintf(buf + o, sizeof buf - (size_t)o, "%s%s", params[i], i > 0 ? "&" : "");
    snprintf(buf + o, sizeof buf - (size_t)o, "%s", ss);
    sx_xrcp_signed_invitation s;
    assert_ok(sx_xrcp_invitation_decode_verified(sx_slice_str(buf), &s));
    sx_xrcp_signed_invitation_clear(&s);
    for (size_t skip = 0; skip < np; skip++) {
        o = snprintf(buf, sizeof buf, "%.*s", (int)head, KAT_SIGNED);
        bool first = true;
        for (size_t i = 0; i < np; i++) {
            if (i == skip)
                continue;
            o += snprintf(buf + o, sizeof buf - (size_t)o, "%s%s", first ? "" : "&", params[i]);
            first = false;
        }
        snprintf(buf + o, sizeof buf - (size_t)o, "%s", ss);
        assert_int_equal(sx_xrcp_invitation_decode(sx_slice_str(buf), &s), SX_E_PROTOCOL);
    }
}

static void test_bad_signatures(void **state)
{
    (void)state;
    sx_xrcp_signed_invitation s;
    assert_ok(sx_xrcp_invitation_decode(sx_slice_str(KAT_SIGNED), &s));
    for (size_t i = 0; i < 64; i++) {
        s.ssig[i] ^= 0x80;
        assert_int_equal(sx_xrcp_invitation_verify(&s), SX_E_AUTH);
        s.ssig[i] ^= 0x80;
        s.idsig[i] ^= 0x80;
        assert_int_equal(sx_xrcp_invitation_verify(&s), SX_E_AUTH);
        s.idsig[i] ^= 0x80;
    }
    assert_ok(sx_xrcp_invitation_verify(&s));
    /* a changed field breaks the signatures */
    s.inv.port++;
    assert_int_equal(sx_xrcp_invitation_verify(&s), SX_E_AUTH);
    s.inv.port--;
    s.inv.ts++;
    assert_int_equal(sx_xrcp_invitation_verify(&s), SX_E_AUTH);
    s.inv.ts--;
    s.inv.dh[0] ^= 1;
    assert_int_equal(sx_xrcp_invitation_verify(&s), SX_E_AUTH);
    s.inv.dh[0] ^= 1;
    /* the identity signature over the base64url text (not standard base64,
     * PROTOCOL-NOTES X3) is refused: the KAT's session signature has '-'
     * and '_' characters, so the two texts differ */
    sx_key *ik = key_from_seq(SX_KEY_ED25519, 32);
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XRCP_URI_MAX);
    assert_true(sx_xrcp_invitation_write(&w, &s.inv));
    assert_true(sx_write_str(&w, "&ssig="));
    assert_true(sx_write_str(&w, strstr(KAT_SIGNED, "&ssig=") + 6));
    w.len -= strlen(strstr(KAT_SIGNED, "&idsig="));
    size_t len = 0;
    assert_ok(sx_key_sign(ik, sx_writer_slice(&w), s.idsig, sizeof s.idsig, &len));
    sx_writer_cleanup(&w);
    assert_int_equal(sx_xrcp_invitation_verify(&s), SX_E_AUTH);
    sx_key_free(ik);
    sx_xrcp_signed_invitation_clear(&s);
}

static void test_encoder_refuses(void **state)
{
    (void)state;
    sx_xrcp_invitation inv;
    kat_keys k;
    kat_invitation(&inv, &k);
    assert_int_equal(sx_xrcp_invitation_set_app(&inv, sx_slice_str("{\"a\":\"1+1\"}")), SX_E_USAGE);
    assert_int_equal(sx_xrcp_invitation_set_app(&inv, sx_slice_str("{\"a\":\"50%\"}")), SX_E_USAGE);
    assert_int_equal(sx_xrcp_invitation_set_app(&inv, sx_slice_str("{\"a\":}")), SX_E_USAGE);
    sx_writer w;
    static const char *bad_hosts[] = {"", "a:b", "a b", "a%20", "a+b", "a&b"};
    for (size_t i = 0; i < 6; i++) {
        sx_xrcp_invitation c = inv;
        strcpy(c.host, bad_hosts[i]);
        sx_writer_init_dynamic(&w, SX_XRCP_URI_MAX);
        assert_false(sx_xrcp_invitation_write(&w, &c));
        assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
        sx_writer_cleanup(&w);
    }
    sx_xrcp_invitation c = inv;
    c.v.min = 3;
    sx_writer_init_dynamic(&w, SX_XRCP_URI_MAX);
    assert_false(sx_xrcp_invitation_write(&w, &c));
    sx_writer_cleanup(&w);
    sx_xrcp_invitation_clear(&inv);
    kat_keys_free(&k);
}

/* A sender whose app JSON holds a '+' escapes it once as "%2B" and signs
 * that; the reader unescapes the app value twice (PROTOCOL-NOTES X4), gets a
 * space, rebuilds "%20" and the signatures fail, as in the reference. */
static void test_app_double_unescape(void **state)
{
    (void)state;
    char uri[1024], text[1024];
    const char *at = strstr(KAT_SIGNED, "laptop%20");
    const char *ss = strstr(KAT_SIGNED, "&ssig=");
    size_t pre = (size_t)(at - KAT_SIGNED);
    int n = snprintf(text, sizeof text, "%.*slaptop%%2B%.*s", (int)pre, KAT_SIGNED, (int)(ss - at - 9), at + 9);
    kat_keys k;
    sx_xrcp_invitation inv;
    kat_invitation(&inv, &k);
    uint8_t ssig[64], idsig[64];
    size_t len = 0;
    assert_ok(sx_key_sign(k.skey, sx_slice_of(text, (size_t)n), ssig, 64, &len));
    char b64[100];
    assert_ok(sx_b64_encode(sx_slice_of(ssig, 64), SX_B64_STD, b64, sizeof b64));
    int m = snprintf(text + n, sizeof text - (size_t)n, "&ssig=%s", b64);
    assert_ok(sx_key_sign(k.idkey, sx_slice_of(text, (size_t)(n + m)), idsig, 64, &len));
    int o = snprintf(uri, sizeof uri, "%.*s", n, text);
    assert_ok(sx_b64_encode(sx_slice_of(ssig, 64), SX_B64_URL, b64, sizeof b64));
    o += snprintf(uri + o, sizeof uri - (size_t)o, "&ssig=%s", b64);
    assert_ok(sx_b64_encode(sx_slice_of(idsig, 64), SX_B64_URL, b64, sizeof b64));
    snprintf(uri + o, sizeof uri - (size_t)o, "&idsig=%s", b64);
    sx_xrcp_signed_invitation s;
    assert_ok(sx_xrcp_invitation_decode(sx_slice_str(uri), &s));
    assert_non_null(memchr(s.inv.app, ' ', s.inv.app_len));
    assert_int_equal(sx_xrcp_invitation_verify(&s), SX_E_AUTH);
    sx_xrcp_signed_invitation_clear(&s);
    /* the same construction with the "%20" the encoder writes verifies */
    n = snprintf(text, sizeof text, "%.*s", (int)(ss - KAT_SIGNED), KAT_SIGNED);
    assert_ok(sx_key_sign(k.skey, sx_slice_of(text, (size_t)n), ssig, 64, &len));
    assert_ok(sx_b64_encode(sx_slice_of(ssig, 64), SX_B64_URL, b64, sizeof b64));
    assert_non_null(strstr(KAT_SIGNED, b64));
    sx_xrcp_invitation_clear(&inv);
    kat_keys_free(&k);
}

static void test_json(void **state)
{
    (void)state;
    static const char *good[] = {"1", "-0.5e+3", " {\"a\" : [1, {}, []], \"b\":\"\\n\\u12ab\"} ", "\"\xc3\xa9\"",
                                 "null"};
    static const char *bad[] = {"", "01", "1.", "{", "{\"a\"}", "[1,]", "\"\\x\"", "\"\x01\"", "\"\xc0\xaf\"",
                                "tru", "1 2", "{\"a\":1,}", "\"\xed\xa0\x80\""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(sx_xrcp_json_valid(sx_slice_str(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(sx_xrcp_json_valid(sx_slice_str(bad[i])));
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_false(sx_xrcp_json_valid(sx_slice_of(deep, 200)));
    assert_true(sx_xrcp_json_valid(sx_slice_of(deep + 40, 120)));
    sx_slice v, c;
    const char *obj = "{\"v\":1,\"ca\":\"abc\",\"app\":{\"x\":[1]},\"kem\":\"k\\\"\"}";
    assert_true(sx_xrcp_json_member(sx_slice_str(obj), "app", &v));
    assert_true(sx_slice_eq(v, sx_slice_str("{\"x\":[1]}")));
    assert_true(sx_xrcp_json_member(sx_slice_str(obj), "ca", &v));
    assert_true(sx_xrcp_json_plain_string(v, &c));
    assert_true(sx_slice_eq(c, sx_slice_str("abc")));
    assert_true(sx_xrcp_json_member(sx_slice_str(obj), "kem", &v));
    assert_false(sx_xrcp_json_plain_string(v, &c));
    assert_false(sx_xrcp_json_member(sx_slice_str(obj), "x", &v));
    assert_false(sx_xrcp_json_member(sx_slice_str("[1]"), "x", &v));
}

int main(void)
{
    if (sx_crypto_init() != SX_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat_encode),
        cmocka_unit_test(test_kat_decode),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_byte_flips),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_order_and_missing),
        cmocka_unit_test(test_bad_signatures),
        cmocka_unit_test(test_encoder_refuses),
        cmocka_unit_test(test_app_double_unescape),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
