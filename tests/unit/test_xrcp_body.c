/* Unit tests of the XRCP session payloads (xrcp/body.h, PROTOCOL-NOTES X11):
 * a signed command with an attachment and an unsigned response against
 * known answers from gen_xrcp_kat.py (the reference application's layout
 * written out with Python's Ed25519, SHA-512, HKDF and the NaCl
 * definition), every byte of a command flipped, counters repeated, skipped
 * and too far ahead, another session's code, truncated, oversized and
 * trailing input, and a large attachment. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "xrcp/body.h"
#include "xrcp/session.h"

static const char KAT_HYBRID[] = "e517b91cca3c7175ed7f18c11abe392bbd3860e0f10e8a46fcd8e6e432506ba0";
static const char KAT_COMMAND_SHA256[] = "2c23ae020d4c54dd2eea3fe9a4183e1062a4aad254893f7e428dd840fcf04823";
static const char KAT_RESPONSE[] =
    "000000010000003eee95ccb4c5a3c7efc47d83e59d42ce002a55067bec26f812fe6b79526e95c9096668c1"
    "07f6fa3272834b873a699d03c29921a707b9ba93e0625c45176858";
static const char CMD_JSON[] = "{\"type\":\"send\",\"command\":\"/get chats\"}";

typedef struct pair {
    sx_key *skey, *idkey;
    sx_xrcp_invitation inv; /* only skey and idkey are used */
    sx_xrcp_crypto ctrl, host;
} pair;

static sx_key *key_from_seq(uint8_t start)
{
    uint8_t raw[32];
    tu_bytes_seq(raw, sizeof raw, start);
    sx_key *k = NULL;
    assert_ok(sx_key_from_raw_private(SX_KEY_ED25519, sx_slice_of(raw, sizeof raw), &k));
    return k;
}

/* Both sides of the KAT session after the HELLOs (the controller's first
 * sending step went to its HELLO). */
static pair *pair_new(uint8_t code_start)
{
    pair *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->skey = key_from_seq(0);
    p->idkey = key_from_seq(32);
    size_t len = 0;
    assert_ok(sx_key_raw_public(p->skey, p->inv.skey, 32, &len));
    assert_ok(sx_key_raw_public(p->idkey, p->inv.idkey, 32, &len));
    uint8_t hybrid[32], code[32], k[32], n[24];
    tu_hex_to(KAT_HYBRID, hybrid, 32);
    tu_bytes_seq(code, sizeof code, code_start);
    sx_sbchain csnd, crcv, hsnd, hrcv;
    assert_ok(sx_xrcp_chains_init(hybrid, true, &csnd, &crcv));
    assert_ok(sx_xrcp_chains_init(hybrid, false, &hsnd, &hrcv));
    assert_ok(sx_sbchain_step(&csnd, k, n));
    assert_ok(sx_sbchain_step(&hrcv, k, n));
    assert_ok(sx_xrcp_crypto_init(&p->ctrl, sx_slice_of(code, 32), &csnd, &crcv, p->skey, p->idkey, NULL));
    uint8_t hcode[32];
    tu_bytes_seq(hcode, sizeof hcode, 40);
    assert_ok(sx_xrcp_crypto_init(&p->host, sx_slice_of(hcode, 32), &hsnd, &hrcv, NULL, NULL, &p->inv));
    return p;
}

static void pair_free(pair *p)
{
    sx_key_free(p->skey);
    sx_key_free(p->idkey);
    sx_xrcp_crypto_cleanup(&p->ctrl);
    sx_xrcp_crypto_cleanup(&p->host);
    free(p);
}

static uint8_t *write_body(sx_xrcp_crypto *c, const char *json, sx_slice att, size_t *len)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XRCP_BODY_MAX);
    assert_true(sx_xrcp_body_write(&w, c, sx_slice_str(json), att));
    return sx_writer_take(&w, len);
}

static void test_kat_command_and_response(void **state)
{
    (void)state;
    pair *p = pair_new(40);
    uint8_t att[1000];
    tu_bytes_seq(att, sizeof att, 9);
    size_t len = 0;
    uint8_t *cmd = write_body(&p->ctrl, CMD_JSON, sx_slice_of(att, sizeof att), &len);
    uint8_t h[32];
    assert_ok(sx_sha256(sx_slice_of(cmd, len), h));
    assert_string_equal(tu_to_hex(h, 32), KAT_COMMAND_SHA256);
    /* the host reads it */
    uint8_t *buf = NULL;
    sx_slice json, a;
    bool has = false;
    sx_xrcp_body_err why;
    assert_ok(sx_xrcp_body_read(&p->host, sx_slice_of(cmd, len), &buf, &json, &has, &a, &why));
    assert_true(has);
    assert_int_equal(json.len, strlen(CMD_JSON));
    assert_memory_equal(json.ptr, CMD_JSON, json.len);
    assert_int_equal(a.len, sizeof att);
    assert_memory_equal(a.ptr, att, sizeof att);
    free(buf);
    /* and answers on its own chain, unsigned */
    uint8_t *resp = write_body(&p->host, "{\"type\":\"ok\"}", sx_slice_of(NULL, 0), &len);
    assert_string_equal(tu_to_hex(resp, len), KAT_RESPONSE);
    assert_ok(sx_xrcp_body_read(&p->ctrl, sx_slice_of(resp, len), &buf, &json, &has, &a, &why));
    assert_false(has);
    assert_int_equal(json.len, 13);
    free(buf);
    free(resp);
    free(cmd);
    pair_free(p);
}

/* Every byte of a signed command flipped: refused, and the host's state
 * (counter, chain) untouched by the refusals before the signature check,
 * so the genuine command still reads afterwards. */
static void test_tampered_command(void **state)
{
    (void)state;
    pair *p = pair_new(40);
    uint8_t att[64];
    tu_bytes_seq(att, sizeof att, 1);
    size_t len = 0;
    uint8_t *cmd = write_body(&p->ctrl, CMD_JSON, sx_slice_of(att, sizeof att), &len);
    size_t ct_end = 8 + ((size_t)cmd[6] << 8 | cmd[7]);
    size_t signed_end = ct_end + 2 * (1 + SX_XRCP_SIG_LEN);
    for (size_t i = 0; i < len; i++) {
        cmd[i] ^= 0x20;
        uint8_t *buf = NULL;
        sx_slice json, a;
        bool has = false;
        sx_xrcp_body_err why = SX_XRCP_BODY_OK;
        sx_status st = sx_xrcp_body_read(&p->host, sx_slice_of(cmd, len), &buf, &json, &has, &a, &why);
        assert_int_not_equal(st, SX_OK);
        assert_null(buf);
        /* a flip under the signatures (not their length bytes) fails them */
        bool sig_len_byte = i == ct_end || i == ct_end + 1 + SX_XRCP_SIG_LEN;
        if (i >= 8 && i < signed_end && !sig_len_byte)
            assert_int_equal(why, SX_XRCP_BODY_CTRL_AUTH);
        cmd[i] ^= 0x20;
        if (i >= signed_end) {
            /* the attachment's bytes fail after the keys were taken: a
             * new command is needed each time */
            free(cmd);
            cmd = write_body(&p->ctrl, CMD_JSON, sx_slice_of(att, sizeof att), &len);
        }
    }
    uint8_t *buf = NULL;
    sx_slice json, a;
    bool has = false;
    assert_ok(sx_xrcp_body_read(&p->host, sx_slice_of(cmd, len), &buf, &json, &has, &a, NULL));
    free(buf);
    free(cmd);
    pair_free(p);
}

static sx_status read_one(sx_xrcp_crypto *c, const uint8_t *b, size_t len, sx_xrcp_body_err *why)
{
    uint8_t *buf = NULL;
    sx_slice json, a;
    bool has = false;
    sx_status st = sx_xrcp_body_read(c, sx_slice_of(b, len), &buf, &json, &has, &a, why);
    free(buf);
    return st;
}

/* A counter that repeats is refused; skipped counters keep their keys and
 * are read once, late; more than 256 ahead is refused. */
static void test_counters(void **state)
{
    (void)state;
    pair *p = pair_new(40);
    size_t l1, l2, l3;
    uint8_t *c1 = write_body(&p->ctrl, "1", sx_slice_of(NULL, 0), &l1);
    uint8_t *c2 = write_body(&p->ctrl, "2", sx_slice_of(NULL, 0), &l2);
    uint8_t *c3 = write_body(&p->ctrl, "3", sx_slice_of(NULL, 0), &l3);
    sx_xrcp_body_err why;
    assert_ok(read_one(&p->host, c1, l1, &why));
    assert_int_equal(read_one(&p->host, c1, l1, &why), SX_E_PROTOCOL);
    assert_int_equal(why, SX_XRCP_BODY_DUPLICATE);
    assert_ok(read_one(&p->host, c3, l3, &why)); /* 2 skipped, its keys kept */
    assert_int_equal(read_one(&p->host, c3, l3, &why), SX_E_PROTOCOL);
    assert_int_equal(why, SX_XRCP_BODY_DUPLICATE);
    assert_ok(read_one(&p->host, c2, l2, &why)); /* late, once */
    assert_int_equal(read_one(&p->host, c2, l2, &why), SX_E_PROTOCOL);
    assert_int_equal(why, SX_XRCP_BODY_EARLIER);
    assert_int_equal(read_one(&p->host, c1, l1, &why), SX_E_PROTOCOL);
    assert_int_equal(why, SX_XRCP_BODY_EARLIER);
    /* 257 ahead */
    uint8_t *last = NULL;
    size_t ll = 0;
    for (int i = 0; i < 257; i++) {
        free(last);
        last = write_body(&p->ctrl, "x", sx_slice_of(NULL, 0), &ll);
    }
    assert_int_equal(read_one(&p->host, last, ll, &why), SX_E_PROTOCOL);
    assert_int_equal(why, SX_XRCP_BODY_MANY_SKIPPED);
    free(last);
    free(c1);
    free(c2);
    free(c3);
    pair_free(p);
}

/* A command sealed with another session's tls-unique (same keys): refused. */
static void test_session_code(void **state)
{
    (void)state;
    pair *p = pair_new(41);
    size_t len = 0;
    uint8_t *cmd = write_body(&p->ctrl, CMD_JSON, sx_slice_of(NULL, 0), &len);
    sx_xrcp_body_err why;
    assert_int_equal(read_one(&p->host, cmd, len, &why), SX_E_AUTH);
    assert_int_equal(why, SX_XRCP_BODY_SESSION_CODE);
    free(cmd);
    pair_free(p);
}

/* Truncated at every length, one byte more, a wrong attachment tag, and
 * lengths over the bounds. */
static void test_malformed(void **state)
{
    (void)state;
    pair *p = pair_new(40);
    uint8_t att[32] = {0};
    size_t len = 0;
    uint8_t *cmd = write_body(&p->ctrl, CMD_JSON, sx_slice_of(att, sizeof att), &len);
    sx_xrcp_body_err why;
    /* the signatures do not cover the attachment (the signed JSON carries
     * its digest): cut right before it, the command reads without one */
    size_t signed_end = 8 + ((size_t)cmd[6] << 8 | cmd[7]) + 2 * 65;
    for (size_t n = 0; n < len; n++) {
        if (n == signed_end)
            assert_ok(read_one(&p->host, cmd, n, &why));
        else
            assert_int_not_equal(read_one(&p->host, cmd, n, &why), SX_OK);
    }
    uint8_t *more = malloc(len + 1);
    memcpy(more, cmd, len);
    more[len] = 0;
    assert_int_equal(read_one(&p->host, more, len + 1, &why), SX_E_PROTOCOL);
    assert_int_equal(why, SX_XRCP_BODY_INVALID);
    /* a ct length over the JSON bound */
    uint8_t big[8] = {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(read_one(&p->host, big, sizeof big, &why), SX_E_PROTOCOL);
    assert_int_equal(why, SX_XRCP_BODY_INVALID);
    free(more);
    /* the host's unsigned response to the controller with a tag of 2 */
    size_t rl = 0;
    uint8_t *resp = write_body(&p->host, "{}", sx_slice_of(att, sizeof att), &rl);
    size_t at = 8 + ((size_t)resp[6] << 8 | resp[7]);
    resp[at] = 2;
    assert_int_equal(read_one(&p->ctrl, resp, rl, &why), SX_E_PROTOCOL);
    free(resp);
    /* writing over the bounds */
    sx_writer w;
    sx_writer_init_dynamic(&w, 64);
    assert_false(sx_xrcp_body_write(&w, &p->ctrl, sx_slice_of(att, SX_XRCP_JSON_MAX + 1), sx_slice_of(NULL, 0)));
    sx_writer_cleanup(&w);
    free(cmd);
    pair_free(p);
}

/* A 20 MB attachment, and the host's digest check of it (the digest
 * travels in the JSON, as in the reference application). */
static void test_large_attachment(void **state)
{
    (void)state;
    pair *p = pair_new(40);
    size_t n = 20u << 20;
    uint8_t *att = malloc(n);
    assert_non_null(att);
    for (size_t i = 0; i < n; i++)
        att[i] = (uint8_t)(i * 7 + (i >> 13));
    uint8_t digest[SX_SHA512_LEN], got[SX_SHA512_LEN];
    assert_ok(sx_sha512(sx_slice_of(att, n), digest));
    size_t len = 0;
    uint8_t *cmd = write_body(&p->ctrl, "{\"type\":\"storeFile\"}", sx_slice_of(att, n), &len);
    assert_true(len > n);
    uint8_t *buf = NULL;
    sx_slice json, a;
    bool has = false;
    assert_ok(sx_xrcp_body_read(&p->host, sx_slice_of(cmd, len), &buf, &json, &has, &a, NULL));
    assert_true(has);
    assert_int_equal(a.len, n);
    assert_ok(sx_sha512(a, got));
    assert_memory_equal(got, digest, sizeof got);
    free(buf);
    free(cmd);
    free(att);
    pair_free(p);
}

int main(void)
{
    if (sx_crypto_init() != SX_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat_command_and_response),
        cmocka_unit_test(test_tampered_command),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_session_code),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_large_attachment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
