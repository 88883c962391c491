/* Unit tests of the XRCP session set-up (xrcp/session.h, PROTOCOL-NOTES X7,
 * X8): the hybrid secret, the chains, the HELLO blocks. Known answers come
 * from gen_xrcp_kat.py (SHA3-256, HKDF and X25519 from Python's libraries,
 * crypto_box written out from the NaCl definition); the full exchange runs
 * real sntrup761 key pairs. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/pad.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "xrcp/session.h"

static const char KAT_HYBRID[] = "e517b91cca3c7175ed7f18c11abe392bbd3860e0f10e8a46fcd8e6e432506ba0";
static const char KAT_CK1[] = "0af98f7fa2ae36ebaee22675096ead63566b0ed56fa4df12ee9dfa92e289c0f9";
static const char KAT_CK2[] = "407f1042194a8faba6b1fd2bd862c8529d81b8d08c28135ab248b06d7cac55fe";
static const char KAT_CTRL_HELLO[] = "f115b503c8cda10a11dd14498602b1a7b01440057eeabbf3bf5922f862d3e15d";
static const char KAT_COMMAND[] = "c77348e45b71551e7f18af17ad5ea22a753f408003d194731e6d";
static const char KAT_HOST_HELLO[] = "46ed7915a937e7f862cc1beaeab8bed45d086b2c4a378545bc3427faea5da35a";

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
}

static void assert_sha256(const uint8_t *p, size_t n, const char *hex)
{
    uint8_t h[32];
    assert_ok(sx_sha256(sx_slice_of(p, n), h));
    assert_string_equal(tu_to_hex(h, 32), hex);
}

static void test_kat_secret_and_chains(void **state)
{
    (void)state;
    sx_key *ctrl = key_from_seq(SX_KEY_X25519, 64), *host = key_from_seq(SX_KEY_X25519, 128);
    uint8_t ctrl_pub[32], host_pub[32], ss[32], h1[32], h2[32];
    raw_pub(ctrl, ctrl_pub);
    raw_pub(host, host_pub);
    tu_bytes_seq(ss, 32, 0);
    assert_ok(sx_xrcp_hybrid_secret(ctrl, host_pub, ss, h1));
    assert_ok(sx_xrcp_hybrid_secret(host, ctrl_pub, ss, h2));
    assert_string_equal(tu_to_hex(h1, 32), KAT_HYBRID);
    assert_memory_equal(h1, h2, 32);
    sx_sbchain snd, rcv, hsnd, hrcv;
    assert_ok(sx_xrcp_chains_init(h1, true, &snd, &rcv));
    assert_string_equal(tu_to_hex(snd.ck, 32), KAT_CK1);
    assert_string_equal(tu_to_hex(rcv.ck, 32), KAT_CK2);
    assert_ok(sx_xrcp_chains_init(h1, false, &hsnd, &hrcv));
    assert_memory_equal(hsnd.ck, rcv.ck, 32);
    assert_memory_equal(hrcv.ck, snd.ck, 32);
    /* the controller's HELLO under the first step of its sending chain */
    uint8_t ct[SX_SNTRUP761_CT_LEN];
    tu_bytes_seq(ct, sizeof ct, 7);
    uint8_t *block = malloc(SX_XRCP_BLOCK_LEN);
    assert_non_null(block);
    assert_ok(sx_xrcp_ctrl_hello_encode(ct, &snd, block));
    assert_sha256(block, SX_XRCP_BLOCK_LEN, KAT_CTRL_HELLO);
    /* the host reads it */
    bool is_error = true;
    uint8_t ct2[SX_SNTRUP761_CT_LEN];
    char msg[64];
    uint8_t unused[32] = {0};
    assert_ok(sx_xrcp_ctrl_reply_decode(sx_slice_of(block, SX_XRCP_BLOCK_LEN), unused, &is_error, ct2, msg,
                                        sizeof msg));
    assert_false(is_error);
    assert_memory_equal(ct, ct2, sizeof ct);
    assert_ok(sx_xrcp_ctrl_hello_open(sx_slice_of(block, SX_XRCP_BLOCK_LEN), &hrcv));
    assert_memory_equal(hrcv.ck, snd.ck, 32);
    /* the first command body: next step, tag at the end, no padding */
    uint8_t body[64], plain[64];
    assert_ok(sx_xrcp_body_seal(&snd, sx_slice_str("/get chats"), body, sizeof body));
    assert_string_equal(tu_to_hex(body, 26), KAT_COMMAND);
    sx_slice m;
    assert_ok(sx_xrcp_body_open(&hrcv, sx_slice_of(body, 26), plain, sizeof plain, &m));
    assert_true(sx_slice_eq(m, sx_slice_str("/get chats")));
    free(block);
    sx_key_free(ctrl);
    sx_key_free(host);
}

static void kat_host_hello(sx_xrcp_host_hello *h, sx_key *host)
{
    memset(h, 0, sizeof *h);
    h->v = 1;
    tu_bytes_seq(h->ca, sizeof h->ca, 220);
    for (size_t i = 0; i < SX_SNTRUP761_PK_LEN; i++)
        h->kem_pk[i] = (uint8_t)(3 + i);
    raw_pub(host, h->dh);
    static const char app[] = "{\"device\":\"phone\"}";
    h->app = malloc(sizeof app - 1);
    assert_non_null(h->app);
    memcpy(h->app, app, sizeof app - 1);
    h->app_len = sizeof app - 1;
}

static void test_kat_host_hello(void **state)
{
    (void)state;
    sx_key *ctrl = key_from_seq(SX_KEY_X25519, 64), *host = key_from_seq(SX_KEY_X25519, 128);
    uint8_t ctrl_pub[32], nonce[24], secret[32];
    raw_pub(ctrl, ctrl_pub);
    tu_bytes_seq(nonce, 24, 10);
    sx_xrcp_host_hello h, d;
    kat_host_hello(&h, host);
    uint8_t *block = malloc(SX_XRCP_BLOCK_LEN);
    assert_non_null(block);
    assert_ok(sx_xrcp_host_hello_encode(&h, host, ctrl_pub, nonce, block));
    assert_sha256(block, SX_XRCP_BLOCK_LEN, KAT_HOST_HELLO);
    assert_ok(sx_xrcp_host_hello_decode(sx_slice_of(block, SX_XRCP_BLOCK_LEN), ctrl, &d, secret));
    assert_int_equal(d.v, 1);
    assert_memory_equal(d.ca, h.ca, 32);
    assert_memory_equal(d.kem_pk, h.kem_pk, SX_SNTRUP761_PK_LEN);
    assert_memory_equal(d.dh, h.dh, 32);
    assert_int_equal(d.app_len, h.app_len);
    assert_memory_equal(d.app, h.app, h.app_len);
    sx_xrcp_host_hello_clear(&d);
    /* the key must be the hello's */
    assert_int_equal(sx_xrcp_host_hello_encode(&h, ctrl, ctrl_pub, nonce, block), SX_E_USAGE);
    /* every byte of the block changed: refused, except in the padding */
    uint8_t *copy = malloc(SX_XRCP_BLOCK_LEN);
    assert_non_null(copy);
    size_t content = 2 + 6 + 45 + 24 + SX_XRCP_HELLO_PAD + 16;
    for (size_t i = 0; i < content; i += (i < 200 || i > content - 200) ? 1 : 97) {
        memcpy(copy, block, SX_XRCP_BLOCK_LEN);
        copy[i] ^= 0x20;
        assert_int_not_equal(sx_xrcp_host_hello_decode(sx_slice_of(copy, SX_XRCP_BLOCK_LEN), ctrl, &d, secret),
                             SX_OK);
    }
    memcpy(copy, block, SX_XRCP_BLOCK_LEN);
    copy[content + 5] ^= 0x20;
    assert_ok(sx_xrcp_host_hello_decode(sx_slice_of(copy, SX_XRCP_BLOCK_LEN), ctrl, &d, secret));
    sx_xrcp_host_hello_clear(&d);
    /* wrong lengths */
    assert_int_equal(sx_xrcp_host_hello_decode(sx_slice_of(block, SX_XRCP_BLOCK_LEN - 1), ctrl, &d, secret),
                     SX_E_PROTOCOL);
    /* another controller key cannot open it */
    sx_key *other = key_from_seq(SX_KEY_X25519, 1);
    assert_int_equal(sx_xrcp_host_hello_decode(sx_slice_of(block, SX_XRCP_BLOCK_LEN), other, &d, secret), SX_E_AUTH);
    sx_key_free(other);
    free(copy);
    free(block);
    sx_xrcp_host_hello_clear(&h);
    sx_key_free(ctrl);
    sx_key_free(host);
}

/* Seals a JSON text as the host HELLO's box by hand, to test the decoder's
 * JSON checks. */
static void hello_with_json(const char *json, sx_key *host, const uint8_t ctrl_pub[32], uint8_t *block)
{
    uint8_t secret[32], nonce[24] = {0};
    size_t len = 0;
    sx_key *peer = NULL;
    assert_ok(sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(ctrl_pub, 32), &peer));
    assert_ok(sx_key_dh(host, peer, secret, 32, &len));
    sx_key_free(peer);
    uint8_t *content = malloc(SX_XRCP_BLOCK_LEN);
    assert_non_null(content);
    sx_writer w;
    sx_writer_init_fixed(&w, content, SX_XRCP_BLOCK_LEN);
    sx_key *pub = NULL;
    assert_ok(sx_key_public_copy(host, &pub));
    assert_true(sx_write_str(&w, "HELLO ") && sx_key_write_public_short(&w, pub) && sx_write_bytes(&w, nonce, 24));
    sx_key_free(pub);
    uint8_t *box = sx_write_reserve(&w, SX_XRCP_HELLO_PAD + 16);
    assert_non_null(box);
    assert_ok(sx_cb_encrypt_padded(secret, nonce, sx_slice_str(json), SX_XRCP_HELLO_PAD, box, SX_XRCP_HELLO_PAD + 16));
    assert_ok(sx_pad(sx_writer_slice(&w), block, SX_XRCP_BLOCK_LEN));
    free(content);
}

static void test_host_hello_json(void **state)
{
    (void)state;
    sx_key *ctrl = key_from_seq(SX_KEY_X25519, 64), *host = key_from_seq(SX_KEY_X25519, 128);
    uint8_t ctrl_pub[32], secret[32];
    raw_pub(ctrl, ctrl_pub);
    uint8_t *block = malloc(SX_XRCP_BLOCK_LEN);
    assert_non_null(block);
    /* a valid hello with the fields in another order, an extra field, no app */
    char good[2400];
    char kem[1600], ca[64];
    uint8_t pk[SX_SNTRUP761_PK_LEN], fp[32];
    tu_bytes_seq(pk, sizeof pk, 9);
    tu_bytes_seq(fp, sizeof fp, 1);
    assert_ok(sx_b64_encode(sx_slice_of(pk, sizeof pk), SX_B64_URL, kem, sizeof kem));
    assert_ok(sx_b64_encode(sx_slice_of(fp, sizeof fp), SX_B64_URL, ca, sizeof ca));
    snprintf(good, sizeof good, "{\"kem\":\"%s\", \"x\":[1], \"ca\":\"%s\", \"v\":7}", kem, ca);
    hello_with_json(good, host, ctrl_pub, block);
    sx_xrcp_host_hello d;
    assert_ok(sx_xrcp_host_hello_decode(sx_slice_of(block, SX_XRCP_BLOCK_LEN), ctrl, &d, secret));
    assert_int_equal(d.v, 7);
    assert_memory_equal(d.ca, fp, 32);
    assert_memory_equal(d.kem_pk, pk, sizeof pk);
    assert_int_equal(d.app_len, 4);
    assert_memory_equal(d.app, "null", 4);
    sx_xrcp_host_hello_clear(&d);
    /* each bad JSON as the pieces around the kem and ca texts */
    static const char *bad[][3] = {
        {"{\"kem\":\"", "\",\"ca\":\"", "\"}"},             /* no v */
        {"{\"kem\":\"", "\",\"ca\":\"", "\",\"v\":70000}"}, /* not a Word16 */
        {"{\"kem\":\"", "\",\"ca\":\"", "\",\"v\":\"1\"}"}, /* a string */
        {"{\"kem\":\"", "\",\"ca\":\"", "AAAA\",\"v\":1}"}, /* ca of 35 bytes */
        {"{\"kem\":\"", "\",\"ca\":\"", "\",\"v\":1"},      /* not JSON */
        {"[\"", "\",\"", "\"]"},                            /* not an object */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(good, sizeof good, "%s%s%s%s%s", bad[i][0], kem, bad[i][1], ca, bad[i][2]);
        hello_with_json(good, host, ctrl_pub, block);
        assert_int_equal(sx_xrcp_host_hello_decode(sx_slice_of(block, SX_XRCP_BLOCK_LEN), ctrl, &d, secret),
                         SX_E_PROTOCOL);
    }
    free(block);
    sx_key_free(ctrl);
    sx_key_free(host);
}

/* The whole set-up with real keys: host HELLO, KEM, controller HELLO, then
 * the next key of each direction agrees. */
static void test_exchange(void **state)
{
    (void)state;
    sx_key *ctrl = NULL, *host = NULL;
    assert_ok(sx_key_generate(SX_KEY_X25519, &ctrl));
    assert_ok(sx_key_generate(SX_KEY_X25519, &host));
    uint8_t ctrl_pub[32];
    raw_pub(ctrl, ctrl_pub);
    /* host */
    static uint8_t kem_sk[SX_SNTRUP761_SK_LEN];
    sx_xrcp_host_hello h;
    memset(&h, 0, sizeof h);
    h.v = 1;
    sx_random_bytes(h.ca, sizeof h.ca);
    raw_pub(host, h.dh);
    assert_ok(sx_sntrup761_keypair(h.kem_pk, kem_sk, NULL));
    h.app = malloc(2);
    memcpy(h.app, "{}", 2);
    h.app_len = 2;
    uint8_t *b1 = malloc(SX_XRCP_BLOCK_LEN), *b2 = malloc(SX_XRCP_BLOCK_LEN);
    assert_non_null(b1);
    assert_non_null(b2);
    assert_ok(sx_xrcp_host_hello_encode(&h, host, ctrl_pub, NULL, b1));
    /* controller */
    sx_xrcp_host_hello got;
    uint8_t csecret[32], ct[SX_SNTRUP761_CT_LEN], ss[32], hybrid_c[32];
    assert_ok(sx_xrcp_host_hello_decode(sx_slice_of(b1, SX_XRCP_BLOCK_LEN), ctrl, &got, csecret));
    assert_ok(sx_sntrup761_enc(ct, ss, got.kem_pk, NULL));
    assert_ok(sx_xrcp_hybrid_secret(ctrl, got.dh, ss, hybrid_c));
    sx_sbchain csnd, crcv;
    assert_ok(sx_xrcp_chains_init(hybrid_c, true, &csnd, &crcv));
    assert_ok(sx_xrcp_ctrl_hello_encode(ct, &csnd, b2));
    /* host again */
    uint8_t hsecret[32], ct2[SX_SNTRUP761_CT_LEN], ss2[32], hybrid_h[32];
    sx_key *peer = NULL;
    size_t len = 0;
    assert_ok(sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(ctrl_pub, 32), &peer));
    assert_ok(sx_key_dh(host, peer, hsecret, 32, &len));
    sx_key_free(peer);
    assert_memory_equal(hsecret, csecret, 32);
    bool is_error = true;
    char msg[8];
    assert_ok(sx_xrcp_ctrl_reply_decode(sx_slice_of(b2, SX_XRCP_BLOCK_LEN), hsecret, &is_error, ct2, msg, sizeof msg));
    assert_false(is_error);
    assert_ok(sx_sntrup761_dec(ss2, ct2, kem_sk));
    assert_ok(sx_xrcp_hybrid_secret(host, ctrl_pub, ss2, hybrid_h));
    assert_memory_equal(hybrid_c, hybrid_h, 32);
    sx_sbchain hsnd, hrcv;
    assert_ok(sx_xrcp_chains_init(hybrid_h, false, &hsnd, &hrcv));
    /* a tampered controller HELLO does not open and still advances the chain;
     * on a copy of the chain */
    sx_sbchain tmp = hrcv;
    b2[2 + 6 + 2 + SX_SNTRUP761_CT_LEN + 20] ^= 1;
    assert_int_equal(sx_xrcp_ctrl_hello_open(sx_slice_of(b2, SX_XRCP_BLOCK_LEN), &tmp), SX_E_AUTH);
    b2[2 + 6 + 2 + SX_SNTRUP761_CT_LEN + 20] ^= 1;
    assert_ok(sx_xrcp_ctrl_hello_open(sx_slice_of(b2, SX_XRCP_BLOCK_LEN), &hrcv));
    /* a command body from the controller and the host's response */
    uint8_t blk[64], buf[64];
    sx_slice content;
    assert_ok(sx_xrcp_body_seal(&csnd, sx_slice_str("/get chats"), blk, sizeof blk));
    assert_ok(sx_xrcp_body_open(&hrcv, sx_slice_of(blk, 26), buf, sizeof buf, &content));
    assert_true(sx_slice_eq(content, sx_slice_str("/get chats")));
    assert_ok(sx_xrcp_body_seal(&hsnd, sx_slice_str("[]"), blk, sizeof blk));
    sx_sbchain saved = crcv;
    blk[0] ^= 1; /* tampered: refused, and the chain still moves on */
    assert_int_equal(sx_xrcp_body_open(&crcv, sx_slice_of(blk, 18), buf, sizeof buf, &content), SX_E_AUTH);
    blk[0] ^= 1;
    assert_int_equal(sx_xrcp_body_open(&crcv, sx_slice_of(blk, 18), buf, sizeof buf, &content), SX_E_AUTH);
    crcv = saved;
    assert_ok(sx_xrcp_body_open(&crcv, sx_slice_of(blk, 18), buf, sizeof buf, &content));
    assert_true(sx_slice_eq(content, sx_slice_str("[]")));
    /* a replayed body does not open: its key is used up */
    assert_int_equal(sx_xrcp_body_open(&crcv, sx_slice_of(blk, 18), buf, sizeof buf, &content), SX_E_AUTH);
    /* shorter than a tag */
    assert_int_equal(sx_xrcp_body_open(&crcv, sx_slice_of(blk, 15), buf, sizeof buf, &content), SX_E_AUTH);
    /* the controller's error reply */
    uint8_t nonce[24] = {1};
    assert_ok(sx_xrcp_ctrl_error_encode(csecret, "version not supported", nonce, b2));
    char text[64];
    sx_slice reply = sx_slice_of(b2, SX_XRCP_BLOCK_LEN);
    assert_ok(sx_xrcp_ctrl_reply_decode(reply, hsecret, &is_error, ct2, text, sizeof text));
    assert_true(is_error);
    assert_string_equal(text, "version not supported");
    /* cut to the buffer */
    assert_ok(sx_xrcp_ctrl_reply_decode(sx_slice_of(b2, SX_XRCP_BLOCK_LEN), hsecret, &is_error, ct2, text, 8));
    assert_string_equal(text, "version");
    /* under another secret it does not open */
    hsecret[0] ^= 1;
    assert_int_equal(
        sx_xrcp_ctrl_reply_decode(sx_slice_of(b2, SX_XRCP_BLOCK_LEN), hsecret, &is_error, ct2, text, sizeof text),
        SX_E_AUTH);
    /* a reply that is neither */
    uint8_t *odd = calloc(1, SX_XRCP_BLOCK_LEN);
    assert_ok(sx_pad(sx_slice_str("HELLOX"), odd, SX_XRCP_BLOCK_LEN));
    assert_int_equal(sx_xrcp_ctrl_reply_decode(sx_slice_of(odd, SX_XRCP_BLOCK_LEN), hsecret, &is_error, ct2, text,
                                               sizeof text),
                     SX_E_PROTOCOL);
    free(odd);
    sx_wipe(kem_sk, sizeof kem_sk);
    sx_xrcp_host_hello_clear(&h);
    sx_xrcp_host_hello_clear(&got);
    free(b1);
    free(b2);
    sx_key_free(ctrl);
    sx_key_free(host);
}

static void test_versions(void **state)
{
    (void)state;
    uint16_t v = 0;
    sx_version_range r = {1, 1};
    assert_ok(sx_xrcp_version_choose(r, &v));
    assert_int_equal(v, 1);
    r.max = 9; /* a newer controller: we take our highest */
    assert_ok(sx_xrcp_version_choose(r, &v));
    assert_int_equal(v, SX_XRCP_VERSION);
    r.min = 2; /* nothing in common */
    assert_int_equal(sx_xrcp_version_choose(r, &v), SX_E_PROTOCOL);
    r.min = 0;
    r.max = 0;
    assert_int_equal(sx_xrcp_version_choose(r, &v), SX_E_PROTOCOL);
    assert_true(sx_xrcp_version_ok(1));
    assert_false(sx_xrcp_version_ok(0));
    assert_false(sx_xrcp_version_ok(SX_XRCP_VERSION + 1));
}

/* The session code text: known answers from the reference application's
 * rendering (the bytes as one big-endian integer, decimal, groups of five),
 * computed with Python's int.from_bytes. */
static void test_code_text(void **state)
{
    (void)state;
    char out[SX_XRCP_CODE_TEXT_MAX];
    uint8_t b[64];
    for (size_t i = 0; i < 32; i++)
        b[i] = (uint8_t)(i + 1);
    sx_xrcp_code_text(sx_slice_of(b, 32), out, sizeof out);
    assert_string_equal(out, "45586 73563 20691 21150 99449 77504 40760 33900 36387 14961 91371 64185 18271 47368 "
                             "11808");
    /* leading zero bytes drop out; a last group of one digit */
    memset(b, 0x80, 48);
    b[0] = b[1] = 0;
    b[2] = 0xff;
    sx_xrcp_code_text(sx_slice_of(b, 48), out, sizeof out);
    assert_string_equal(out, "60005 72348 84170 80900 66012 91461 23794 25278 73902 38832 84883 77224 03399 30902 "
                             "53385 45915 26156 48552 32063 85698 37802 58624 0");
    memset(b, 0, 48);
    sx_xrcp_code_text(sx_slice_of(b, 48), out, sizeof out);
    assert_string_equal(out, "0");
    /* the longest, and a buffer too short for it: cut, NUL-terminated */
    memset(b, 0xff, 64);
    sx_xrcp_code_text(sx_slice_of(b, 64), out, sizeof out);
    assert_int_equal(strlen(out), 185);
    assert_string_equal(out + 180, "84095");
    char small[9];
    sx_xrcp_code_text(sx_slice_of(b, 64), small, sizeof small);
    assert_string_equal(small, "13407 80");
}

int main(void)
{
    if (sx_crypto_init() != SX_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat_secret_and_chains),
        cmocka_unit_test(test_kat_host_hello),
        cmocka_unit_test(test_host_hello_json),
        cmocka_unit_test(test_exchange),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_code_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
