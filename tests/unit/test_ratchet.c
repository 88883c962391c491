/* Tests for crypto/x3dh and crypto/ratchet: byte-exact encodings written by
 * hand from the reference's encoders (E2E params, message header, encrypted
 * header and envelope, key derivations), the X3DH variants with and without
 * KEM, conversations in the reference's test patterns (skipped messages, PQ
 * on/off/on with the sndKEM/rcvKEM flags), a long randomised exchange with
 * reordering, loss, duplicates, replays, corruption and save/restore, the
 * skip limit, version upgrade, the hybrid secret and decoder edge cases. */
#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/reader.h"
#include "core/writer.h"
#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/ratchet.h"
#include "crypto/util.h"
#include "crypto/x3dh.h"

#define PK SX_SNTRUP761_PK_LEN
#define CT SX_SNTRUP761_CT_LEN
#define X448_SPKI_PREFIX "3042300506032b656f033900"

/* ---- helpers ------------------------------------------------------------- */

static sx_sntrup761_drbg drbg_a, drbg_b;
static sx_sntrup761_rng rng_a, rng_b;

static int setup(void **state)
{
    (void)state;
    if (sx_crypto_init() != SX_OK)
        return -1;
    uint8_t seed[32];
    memset(seed, 0xa1, sizeof seed);
    sx_sntrup761_drbg_init(&drbg_a, seed);
    memset(seed, 0xb2, sizeof seed);
    sx_sntrup761_drbg_init(&drbg_b, seed);
    rng_a = sx_sntrup761_drbg_rng(&drbg_a);
    rng_b = sx_sntrup761_drbg_rng(&drbg_b);
    return 0;
}

/* Small deterministic generator for test schedules. */
static uint64_t prng_state = 0x9e3779b97f4a7c15ull;
static uint32_t prng(void)
{
    prng_state ^= prng_state << 13;
    prng_state ^= prng_state >> 7;
    prng_state ^= prng_state << 17;
    return (uint32_t)(prng_state >> 16);
}

/* Hex of the writer's bytes compared with the expected hex. */
static void assert_hex(sx_slice got, const char *hex)
{
    size_t n = 0;
    uint8_t *want = tu_hex(hex, &n);
    assert_int_equal(got.len, n);
    assert_memory_equal(got.ptr, want, n);
    free(want);
}

static char *hex_of(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", p[i]);
    return s;
}

/* Serialised state, for "unchanged" checks. */
static uint8_t *save(const sx_ratchet *r, size_t *len)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, 1u << 20);
    assert_true(sx_ratchet_write(&w, r));
    assert_ok(sx_writer_status(&w));
    return sx_writer_take(&w, len);
}

static void assert_same_state(const sx_ratchet *r, const uint8_t *before, size_t before_len)
{
    size_t n;
    uint8_t *now = save(r, &n);
    assert_int_equal(n, before_len);
    assert_memory_equal(now, before, n);
    free(now);
}

/* ---- pairs of ratchets --------------------------------------------------- */

typedef enum init_kind {
    INIT_PLAIN,          /* nobody proposes KEM */
    INIT_KEM_PROPOSED,   /* the joining party proposes in its reply */
    INIT_KEM_ACCEPTED,   /* the initiator proposes, the joining party accepts */
    INIT_PROPOSED_AGAIN, /* both propose */
} init_kind;

/* alice created the invitation (receiving ratchet), bob joined (sending). */
static void init_pair(init_kind kind, uint16_t current, uint16_t max, sx_ratchet *alice,
                      sx_ratchet *bob)
{
    static sx_e2e_private apriv, bpriv;
    static sx_e2e_params apub, bpub;
    static sx_x3dh_result ares, bres;
    bool a_pq = kind == INIT_KEM_ACCEPTED || kind == INIT_PROPOSED_AGAIN;
    bool pq_support = kind != INIT_PLAIN;
    assert_ok(sx_e2e_generate(max, a_pq ? SX_USE_KEM_PROPOSE : SX_USE_KEM_NO, NULL, &rng_a,
                              &apriv, &apub));
    sx_use_kem use = kind == INIT_PLAIN            ? SX_USE_KEM_NO
                     : kind == INIT_KEM_ACCEPTED   ? SX_USE_KEM_ACCEPT
                                                   : SX_USE_KEM_PROPOSE;
    if (kind != INIT_PROPOSED_AGAIN)
        assert_int_equal(sx_e2e_reply_kem(max, &apub.kem, pq_support), use);
    assert_ok(sx_e2e_generate(current, use, apub.kem.pk, &rng_b, &bpriv, &bpub));
    assert_ok(sx_x3dh_snd(&bpriv, &apub, &bres));
    assert_ok(sx_x3dh_rcv(&apriv, &bpub, &ares));
    assert_memory_equal(ares.rk, bres.rk, 32);
    assert_ok(sx_ratchet_init_snd(bob, current, max, apub.k2, NULL, &bres, &rng_b));
    assert_ok(sx_ratchet_init_rcv(alice, current, max, apriv.k2, &ares, pq_support, &rng_a));
    sx_e2e_private_wipe(&apriv);
    sx_e2e_private_wipe(&bpriv);
    sx_x3dh_result_wipe(&ares);
    sx_x3dh_result_wipe(&bres);
}

#define PAD 256

/* Encrypts text from s with pq and returns the message (heap). */
static uint8_t *enc(sx_ratchet *s, sx_pq_enc pq, const char *text, size_t *len)
{
    size_t cap = 3 + SX_RATCHET_ENC_HEADER_MAX + 16 + PAD;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    assert_ok(sx_ratchet_encrypt(s, pq, SX_E2E_VERSION_CURRENT, PAD, sx_slice_str(text), out, cap,
                                 len));
    return out;
}

static void dec_ok(sx_ratchet *r, const uint8_t *m, size_t len, const char *text)
{
    uint8_t *out = malloc(len);
    sx_slice plain;
    sx_ratchet_error err;
    assert_non_null(out);
    sx_status st = sx_ratchet_decrypt(r, sx_slice_of(m, len), out, len, &plain, &err);
    if (st != SX_OK)
        fail_msg("decrypt of \"%s\": status %d, error %d (n=%u)", text, (int)st, (int)err.code,
                 err.n);
    assert_int_equal(plain.len, strlen(text));
    assert_memory_equal(plain.ptr, text, plain.len);
    free(out);
}

static sx_ratchet_err dec_err(sx_ratchet *r, const uint8_t *m, size_t len, sx_status want)
{
    size_t slen;
    uint8_t *before = save(r, &slen);
    uint8_t *out = malloc(len + 1);
    sx_slice plain;
    sx_ratchet_error err;
    assert_int_equal(sx_ratchet_decrypt(r, sx_slice_of(m, len), out, len + 1, &plain, &err), want);
    assert_int_equal(plain.len, 0);
    assert_same_state(r, before, slen);
    free(out);
    free(before);
    return err.code;
}

/* One message from s to r, as the reference's encryptDecrypt. */
static void send_recv(sx_ratchet *s, sx_ratchet *r, sx_pq_enc pq, const char *text)
{
    size_t len;
    uint8_t *m = enc(s, pq, text, &len);
    dec_ok(r, m, len, text);
    free(m);
}

/* ---- SHA3 hybrid secret -------------------------------------------------- */

static void test_hybrid_secret(void **state)
{
    (void)state;
    sx_key *a = NULL, *b = NULL, *ed = NULL;
    assert_ok(sx_key_generate(SX_KEY_X25519, &a));
    assert_ok(sx_key_generate(SX_KEY_X25519, &b));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &ed));
    uint8_t ss[32], h1[32], h2[32], want[32], buf[64];
    size_t n;
    tu_bytes_seq(ss, sizeof ss, 7);
    assert_ok(sx_kem_hybrid_secret(a, b, ss, h1));
    assert_ok(sx_kem_hybrid_secret(b, a, ss, h2));
    assert_memory_equal(h1, h2, 32);
    /* SHA3-256(dh || ss), computed here from the pieces. */
    assert_ok(sx_key_dh(a, b, buf, 32, &n));
    memcpy(buf + 32, ss, 32);
    assert_ok(sx_sha3_256(sx_slice_of(buf, 64), want));
    assert_memory_equal(h1, want, 32);
    /* Not SHA-256 and not the bare concatenation. */
    assert_ok(sx_sha256(sx_slice_of(buf, 64), want));
    assert_memory_not_equal(h1, want, 32);
    ss[0] ^= 1;
    assert_ok(sx_kem_hybrid_secret(a, b, ss, h2));
    assert_memory_not_equal(h1, h2, 32);
    assert_int_equal(sx_kem_hybrid_secret(a, ed, ss, h2), SX_E_USAGE);
    assert_int_equal(sx_kem_hybrid_secret(NULL, b, ss, h2), SX_E_USAGE);
    sx_key_free(a);
    sx_key_free(b);
    sx_key_free(ed);
}

/* ---- byte-exact encodings ------------------------------------------------ */

/* Raw keys and KEM values with recognisable contents. */
static void fill_params(sx_e2e_params *p, uint16_t v, sx_kem_state kem)
{
    memset(p, 0, sizeof *p);
    p->version = v;
    p->range.min = 2;
    p->range.max = v;
    tu_bytes_seq(p->k1, 56, 0x10);
    tu_bytes_seq(p->k2, 56, 0x80);
    p->kem.state = kem;
    tu_bytes_seq(p->kem.pk, PK, 0x01);
    tu_bytes_seq(p->kem.ct, CT, 0x40);
}

static char *expected_params(bool uri, uint16_t v, sx_kem_state kem)
{
    uint8_t k1[56], k2[56], pk[PK], ct[CT];
    tu_bytes_seq(k1, 56, 0x10);
    tu_bytes_seq(k2, 56, 0x80);
    tu_bytes_seq(pk, PK, 0x01);
    tu_bytes_seq(ct, CT, 0x40);
    char *h1 = hex_of(k1, 56), *h2 = hex_of(k2, 56), *hpk = hex_of(pk, PK), *hct = hex_of(ct, CT);
    size_t cap = 8000;
    char *s = malloc(cap);
    assert_non_null(s);
    int n = 0;
    if (uri)
        n = snprintf(s, cap, "0002%04x", v); /* version range 2..v */
    else
        n = snprintf(s, cap, "%04x", v);
    /* two shortString(SPKI DER): 68 = 0x44 bytes each */
    n += snprintf(s + n, cap - (size_t)n, "44" X448_SPKI_PREFIX "%s44" X448_SPKI_PREFIX "%s", h1,
                  h2);
    if (uri || v >= 3) {
        if (kem == SX_KEM_NONE)
            n += snprintf(s + n, cap - (size_t)n, "30"); /* '0' */
        else if (kem == SX_KEM_PROPOSED)
            n += snprintf(s + n, cap - (size_t)n, "3150" "0486%s", hpk); /* '1' 'P' */
        else
            n += snprintf(s + n, cap - (size_t)n, "3141" "040f%s" "0486%s", hct, hpk);
    }
    free(h1);
    free(h2);
    free(hpk);
    free(hct);
    return s;
}

static void test_e2e_params_bytes(void **state)
{
    (void)state;
    static const struct {
        bool uri;
        uint16_t v;
        sx_kem_state kem;
    } cases[] = {
        {false, 2, SX_KEM_NONE},     {false, 2, SX_KEM_PROPOSED}, /* KEM dropped in v2 */
        {false, 3, SX_KEM_NONE},     {false, 3, SX_KEM_PROPOSED}, {false, 3, SX_KEM_ACCEPTED},
        {true, 2, SX_KEM_NONE},      {true, 3, SX_KEM_NONE},      {true, 3, SX_KEM_PROPOSED},
        {true, 3, SX_KEM_ACCEPTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static sx_e2e_params p, q;
        fill_params(&p, cases[i].v, cases[i].kem);
        sx_writer w;
        sx_writer_init_dynamic(&w, 8192);
        if (cases[i].uri)
            assert_true(sx_e2e_params_write_uri(&w, &p));
        else
            assert_true(sx_e2e_params_write(&w, &p));
        char *want = expected_params(cases[i].uri, cases[i].v, cases[i].kem);
        assert_hex(sx_writer_slice(&w), want);
        free(want);
        if (cases[i].uri)
            assert_ok(sx_e2e_params_decode_uri(sx_writer_slice(&w), &q));
        else
            assert_ok(sx_e2e_params_decode(sx_writer_slice(&w), &q));
        sx_kem_state kem = !cases[i].uri && cases[i].v < 3 ? SX_KEM_NONE : cases[i].kem;
        assert_int_equal(q.version, cases[i].v);
        assert_int_equal(q.kem.state, kem);
        assert_memory_equal(q.k1, p.k1, 56);
        assert_memory_equal(q.k2, p.k2, 56);
        if (kem != SX_KEM_NONE)
            assert_memory_equal(q.kem.pk, p.kem.pk, PK);
        if (kem == SX_KEM_ACCEPTED)
            assert_memory_equal(q.kem.ct, p.kem.ct, CT);
        if (cases[i].uri) {
            assert_int_equal(q.range.min, 2);
            assert_int_equal(q.range.max, cases[i].v);
        }
        sx_writer_cleanup(&w);
    }
}

/* Every truncation, a trailing byte, wrong lengths and tags, other keys. */
static void test_e2e_params_decode_errors(void **state)
{
    (void)state;
    static sx_e2e_params p, q;
    fill_params(&p, 3, SX_KEM_ACCEPTED);
    sx_writer w;
    sx_writer_init_dynamic(&w, 8192);
    assert_true(sx_e2e_params_write(&w, &p));
    assert_true(sx_write_u8(&w, 0)); /* room for the trailing-byte case */
    uint8_t *b = w.buf;
    size_t len = w.len - 1;
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(sx_e2e_params_decode(sx_slice_of(b, cut), &q), SX_E_PROTOCOL);
    assert_ok(sx_e2e_params_decode(sx_slice_of(b, len), &q));
    assert_int_equal(sx_e2e_params_decode(sx_slice_of(b, len + 1), &q), SX_E_PROTOCOL);
    /* The reader form leaves what follows (ratchetKeyInfo) unread. */
    sx_reader r;
    sx_reader_init(&r, b, len + 1);
    assert_true(sx_e2e_params_read(&r, &q));
    assert_int_equal(sx_reader_remaining(&r), 1);

    size_t ct_len_at = 2 + 69 + 69 + 2; /* version, keys, '1' 'A' */
    size_t pk_len_at = ct_len_at + 2 + CT;
    const size_t at[] = {ct_len_at + 1, pk_len_at + 1};
    for (size_t i = 0; i < 2; i++) {
        uint8_t keep = b[at[i]];
        b[at[i]] = (uint8_t)(keep - 1); /* one byte short, rest misaligned */
        assert_int_equal(sx_e2e_params_decode(sx_slice_of(b, len), &q), SX_E_PROTOCOL);
        b[at[i]] = (uint8_t)(keep + 1);
        assert_int_equal(sx_e2e_params_decode(sx_slice_of(b, len), &q), SX_E_PROTOCOL);
        b[at[i]] = keep;
    }
    b[140] = '2'; /* Maybe tag */
    assert_int_equal(sx_e2e_params_decode(sx_slice_of(b, len), &q), SX_E_PROTOCOL);
    b[140] = '1';
    b[141] = 'X'; /* KEM tag */
    assert_int_equal(sx_e2e_params_decode(sx_slice_of(b, len), &q), SX_E_PROTOCOL);
    b[141] = 'A';
    assert_ok(sx_e2e_params_decode(sx_slice_of(b, len), &q));
    sx_writer_cleanup(&w);

    /* An X25519 key in place of k2, and both keys X25519: both refused. */
    sx_key *x = NULL;
    assert_ok(sx_key_generate(SX_KEY_X25519, &x));
    sx_writer_init_dynamic(&w, 8192);
    assert_true(sx_write_version(&w, 2));
    assert_true(sx_x448_write_public_short(&w, p.k1));
    assert_true(sx_key_write_public_short(&w, x));
    assert_int_equal(sx_e2e_params_decode(sx_writer_slice(&w), &q), SX_E_PROTOCOL);
    sx_writer_cleanup(&w);
    sx_writer_init_dynamic(&w, 8192);
    assert_true(sx_write_version(&w, 2));
    assert_true(sx_key_write_public_short(&w, x));
    assert_true(sx_key_write_public_short(&w, x));
    assert_int_equal(sx_e2e_params_decode(sx_writer_slice(&w), &q), SX_E_PROTOCOL);
    sx_writer_cleanup(&w);
    sx_key_free(x);

    /* Link form: min > max is refused. */
    uint8_t bad[4] = {0, 3, 0, 2};
    assert_int_equal(sx_e2e_params_decode_uri(sx_slice_of(bad, 4), &q), SX_E_PROTOCOL);
}

/* ---- text form of link parameters ---------------------------------------- */

/* Padded base64url, written here independently of core/base64. Free with free(). */
static char *b64url(const uint8_t *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *s = malloc((n + 2) / 3 * 4 + 1);
    assert_non_null(s);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        s[o++] = abc[v >> 18 & 63];
        s[o++] = abc[v >> 12 & 63];
        s[o++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
        s[o++] = i + 2 < n ? abc[v & 63] : '=';
    }
    s[o] = '\0';
    return s;
}

/* The text form of p as a NUL-terminated heap string. */
static char *text_of(const sx_e2e_params *p)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, 8192);
    assert_true(sx_e2e_params_write_text(&w, p));
    assert_true(sx_write_u8(&w, 0));
    size_t n;
    return (char *)sx_writer_take(&w, &n);
}

static sx_status decode_str(const char *text, sx_e2e_params *out)
{
    return sx_e2e_params_decode_text(text, strlen(text), out);
}

/* The reference's example (tests/AgentTests/ConnectionRequestTests.hs, the
 * e2e= value of its invitation links, percent-escaped there): version 1 and
 * the same X448 key twice. */
#define REF_KEY_TEXT                                                                               \
    "MEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U="
#define REF_KEY_RAW                                                                                \
    "98ab9261e43f9b44a2c4f0d2f16abc5416934b5716f8ba749f48780e2bbe914a51faa5f1e120c9df6606105a"     \
    "0614649b18faf2e58721afa5"
/* SPKI of fill_params' keys bytes(56, 0x10) and bytes(56, 0x80), base64url
 * computed outside the project. */
#define K1_TEXT                                                                                    \
    "MEIwBQYDK2VvAzkAEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_QEFCQ0RFRkc="
#define K2_TEXT                                                                                    \
    "MEIwBQYDK2VvAzkAgIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp-goaKjpKWmp6ipqqusra6vsLGys7S1trc="

static void test_e2e_params_text_reference(void **state)
{
    (void)state;
    static sx_e2e_params p;
    uint8_t raw[56];
    tu_hex_to(REF_KEY_RAW, raw, sizeof raw);
    const char *text = "v=1&x3dh=" REF_KEY_TEXT "," REF_KEY_TEXT;
    assert_ok(decode_str(text, &p));
    assert_int_equal(p.range.min, 1);
    assert_int_equal(p.range.max, 1);
    assert_int_equal(p.version, 1);
    assert_int_equal(p.kem.state, SX_KEM_NONE);
    assert_memory_equal(p.k1, raw, 56);
    assert_memory_equal(p.k2, raw, 56);
    char *again = text_of(&p);
    assert_string_equal(again, text);
    free(again);
    /* the same keys with the reference's supported range (its
     * testE2ERatchetParams12): "min-max" */
    p.range.min = 2;
    p.range.max = 3;
    again = text_of(&p);
    assert_string_equal(again, "v=2-3&x3dh=" REF_KEY_TEXT "," REF_KEY_TEXT);
    free(again);
    /* the link's escaped form is not the text: unescape first */
    assert_int_equal(decode_str("v%3D1%26x3dh%3D" REF_KEY_TEXT "%2C" REF_KEY_TEXT, &p),
                     SX_E_PROTOCOL);
}

/* Hand-assembled texts as the reference's encoder writes them, for ranges
 * and KEM states (the KEM dropped below version 3), and back. */
static void test_e2e_params_text_bytes(void **state)
{
    (void)state;
    static const struct {
        uint16_t min, max;
        sx_kem_state kem;
        const char *range;
    } cases[] = {
        {1, 1, SX_KEM_NONE, "1"},           {2, 2, SX_KEM_NONE, "2"},
        {2, 2, SX_KEM_PROPOSED, "2"},       {1, 2, SX_KEM_ACCEPTED, "1-2"},
        {2, 3, SX_KEM_NONE, "2-3"},         {2, 3, SX_KEM_PROPOSED, "2-3"},
        {2, 3, SX_KEM_ACCEPTED, "2-3"},     {3, 3, SX_KEM_PROPOSED, "3"},
        {3, 3, SX_KEM_ACCEPTED, "3"},       {0, 65535, SX_KEM_PROPOSED, "0-65535"},
        {65534, 65535, SX_KEM_ACCEPTED, "65534-65535"},
    };
    uint8_t pk[PK], ct[CT];
    tu_bytes_seq(pk, PK, 0x01);
    tu_bytes_seq(ct, CT, 0x40);
    char *pk_text = b64url(pk, PK), *ct_text = b64url(ct, CT);
    assert_int_equal(strlen(pk_text), 1544);
    assert_int_equal(strlen(ct_text), 1388);
    char *want = malloc(8192);
    assert_non_null(want);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static sx_e2e_params p, q;
        fill_params(&p, cases[i].max, cases[i].kem);
        p.range.min = cases[i].min;
        p.version = 0; /* not used by the text form */
        sx_kem_state kem = cases[i].max >= 3 ? cases[i].kem : SX_KEM_NONE;
        int n = snprintf(want, 8192, "v=%s&x3dh=" K1_TEXT "," K2_TEXT, cases[i].range);
        if (kem == SX_KEM_PROPOSED)
            snprintf(want + n, 8192 - (size_t)n, "&kem_key=%s", pk_text);
        else if (kem == SX_KEM_ACCEPTED)
            snprintf(want + n, 8192 - (size_t)n, "&kem_ct=%s&kem_key=%s", ct_text, pk_text);
        char *got = text_of(&p);
        assert_string_equal(got, want);
        free(got);

        assert_ok(decode_str(want, &q));
        assert_int_equal(q.range.min, cases[i].min);
        assert_int_equal(q.range.max, cases[i].max);
        assert_int_equal(q.version, cases[i].max);
        assert_memory_equal(q.k1, p.k1, 56);
        assert_memory_equal(q.k2, p.k2, 56);
        assert_int_equal(q.kem.state, kem);
        if (kem != SX_KEM_NONE)
            assert_memory_equal(q.kem.pk, pk, PK);
        if (kem == SX_KEM_ACCEPTED)
            assert_memory_equal(q.kem.ct, ct, CT);
    }
    /* The last case is the longest text: it fits SX_E2E_PARAMS_TEXT_MAX
     * exactly, and a byte less is SX_E_LIMIT. */
    assert_int_equal(strlen(want), SX_E2E_PARAMS_TEXT_MAX);
    static sx_e2e_params p;
    fill_params(&p, 65535, SX_KEM_ACCEPTED);
    p.range.min = 65534;
    static uint8_t buf[SX_E2E_PARAMS_TEXT_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_e2e_params_write_text(&w, &p));
    assert_memory_equal(buf, want, SX_E2E_PARAMS_TEXT_MAX);
    sx_writer_init_fixed(&w, buf, sizeof buf - 1);
    assert_false(sx_e2e_params_write_text(&w, &p));
    assert_int_equal(sx_writer_status(&w), SX_E_LIMIT);
    /* the writer refuses min > max and unknown KEM states */
    p.range.min = 4;
    p.range.max = 3;
    sx_writer_init_dynamic(&w, 8192);
    assert_false(sx_e2e_params_write_text(&w, &p));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
    sx_writer_cleanup(&w);
    p.range.min = 3;
    p.kem.state = (sx_kem_state)7;
    sx_writer_init_dynamic(&w, 8192);
    assert_false(sx_e2e_params_write_text(&w, &p));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
    sx_writer_cleanup(&w);
    free(want);
    free(pk_text);
    free(ct_text);
}

/* Generated parameters: text and back, and the same value through the
 * binary link form gives the same text. */
static void test_e2e_params_text_roundtrip(void **state)
{
    (void)state;
    static sx_e2e_private a, b;
    static sx_e2e_params pa, pb, q, r;
    for (int i = 0; i < 6; i++) {
        uint16_t v = i < 2 ? 2 : 3;
        assert_ok(sx_e2e_generate(v, i % 3 == 0 ? SX_USE_KEM_NO : SX_USE_KEM_PROPOSE, NULL, &rng_a,
                                  &a, &pa));
        assert_ok(sx_e2e_generate(v, sx_e2e_reply_kem(v, &pa.kem, true), pa.kem.pk, &rng_b, &b,
                                  &pb));
        const sx_e2e_params *all[] = {&pa, &pb};
        for (int j = 0; j < 2; j++) {
            sx_e2e_params p = *all[j];
            p.range.min = (uint16_t)(i % 2 ? 2 : v);
            char *t = text_of(&p);
            assert_ok(decode_str(t, &q));
            assert_int_equal(q.range.min, p.range.min);
            assert_int_equal(q.range.max, p.range.max);
            assert_int_equal(q.version, p.version);
            assert_memory_equal(q.k1, p.k1, 56);
            assert_memory_equal(q.k2, p.k2, 56);
            assert_int_equal(q.kem.state, p.kem.state);
            if (q.kem.state != SX_KEM_NONE)
                assert_memory_equal(q.kem.pk, p.kem.pk, PK);
            if (q.kem.state == SX_KEM_ACCEPTED)
                assert_memory_equal(q.kem.ct, p.kem.ct, CT);
            sx_writer w;
            sx_writer_init_dynamic(&w, 8192);
            assert_true(sx_e2e_params_write_uri(&w, &q));
            assert_ok(sx_e2e_params_decode_uri(sx_writer_slice(&w), &r));
            sx_writer_cleanup(&w);
            char *t2 = text_of(&r);
            assert_string_equal(t2, t);
            free(t);
            free(t2);
        }
    }
    sx_e2e_private_wipe(&a);
    sx_e2e_private_wipe(&b);
}

/* printf into a static buffer, then decode: the status. */
__attribute__((format(printf, 1, 2))) static sx_status decode_fmt(const char *fmt, ...)
{
    static char buf[16384];
    static sx_e2e_params q;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof buf);
    sx_status st = sx_e2e_params_decode_text(buf, (size_t)n, &q);
    if (st != SX_OK) {
        static const sx_e2e_params zero;
        assert_memory_equal(&q, &zero, sizeof q); /* zeroed on failure */
    }
    return st;
}

static void test_e2e_params_text_errors(void **state)
{
    (void)state;
    static sx_e2e_params p, q;
    uint8_t pk[PK], ct[CT];
    tu_bytes_seq(pk, PK, 0x01);
    tu_bytes_seq(ct, CT, 0x40);
    char *P = b64url(pk, PK), *C = b64url(ct, CT);
    const char *K = K1_TEXT;

    /* every truncation of an acceptance: only the cut right after the keys
     * is itself a valid text (without KEM); a trailing byte fails */
    fill_params(&p, 3, SX_KEM_ACCEPTED);
    char *t = text_of(&p);
    size_t len = strlen(t), keys_end = strlen("v=2-3&x3dh=") + 92 + 1 + 92;
    assert_ok(sx_e2e_params_decode_text(t, len, &q));
    for (size_t cut = 0; cut < len; cut++) {
        sx_status st = sx_e2e_params_decode_text(t, cut, &q);
        if (cut == keys_end)
            assert_ok(st);
        else if (st != SX_E_PROTOCOL)
            fail_msg("truncation at %zu: status %d", cut, (int)st);
    }
    /* any single character replaced by one outside every field's alphabet */
    for (size_t i = 0; i < len; i++) {
        static const char bad[] = {'!', '\0', (char)0x80};
        for (size_t j = 0; j < sizeof bad; j++) {
            char keep = t[i];
            t[i] = bad[j];
            if (sx_e2e_params_decode_text(t, len, &q) != SX_E_PROTOCOL)
                fail_msg("character %zu replaced by 0x%02x accepted", i, (unsigned char)bad[j]);
            t[i] = keep;
        }
    }
    free(t);

    /* baseline for the cases below */
    assert_ok(decode_fmt("v=2-3&x3dh=%s,%s&kem_ct=%s&kem_key=%s", K, K, C, P));
    assert_ok(decode_fmt("v=3&x3dh=%s,%s&kem_key=%s", K, K, P));

    /* structure: trailing text, missing, repeated, reordered or unknown
     * parameters, other separators, KEM fields out of place */
    static const char *const trailers[] = {"&", "=", " ", "\n", ",", "&x=1", "&v=3", "&kem_ct="};
    for (size_t i = 0; i < sizeof trailers / sizeof trailers[0]; i++) {
        assert_int_equal(decode_fmt("v=3&x3dh=%s,%s%s", K, K, trailers[i]), SX_E_PROTOCOL);
        assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_key=%s%s", K, K, P, trailers[i]),
                         SX_E_PROTOCOL);
    }
    assert_int_equal(decode_fmt("%s", ""), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3"), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh="), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s", K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,", K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=,%s", K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s,%s", K, K, K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("x3dh=%s,%s", K, K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("x3dh=%s,%s&v=3", K, K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("?v=3&x3dh=%s,%s", K, K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("V=3&x3dh=%s,%s", K, K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&X3DH=%s,%s", K, K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3;x3dh=%s,%s", K, K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s;%s", K, K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&v=3&x3dh=%s,%s", K, K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&foo=bar&x3dh=%s,%s", K, K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&foo=bar", K, K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_key=%s&kem_ct=%s", K, K, P, C),
                     SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_ct=%s", K, K, C), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_key=%s&kem_key=%s", K, K, P, P),
                     SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_ct=%s&kem_ct=%s&kem_key=%s", K, K, C, C, P),
                     SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_key=", K, K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_key", K, K), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_ct=&kem_key=%s", K, K, P), SX_E_PROTOCOL);
    /* a KEM with a range below version 3 (the reference would ignore it) */
    assert_int_equal(decode_fmt("v=2&x3dh=%s,%s&kem_key=%s", K, K, P), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=1-2&x3dh=%s,%s&kem_ct=%s&kem_key=%s", K, K, C, P),
                     SX_E_PROTOCOL);

    /* version ranges: canonical decimals only */
    static const char *const good_ranges[] = {"0", "1", "65535", "0-65535", "65534-65535", "2-3"};
    for (size_t i = 0; i < sizeof good_ranges / sizeof good_ranges[0]; i++)
        assert_ok(decode_fmt("v=%s&x3dh=%s,%s", good_ranges[i], K, K));
    static const char *const bad_ranges[] = {
        "",    "3-3",  "03",    "00",     "3-03",  "+3",  "-3",  "3-",  "-",   "3--4", "3-4-5",
        "4-3", "65536", "99999", "100000", "0-65536", " 3", "3 ", "2 -3", "0x3", "3.0", "\xd9\xa3",
    };
    for (size_t i = 0; i < sizeof bad_ranges / sizeof bad_ranges[0]; i++)
        if (decode_fmt("v=%s&x3dh=%s,%s", bad_ranges[i], K, K) != SX_E_PROTOCOL)
            fail_msg("range \"%s\" accepted", bad_ranges[i]);

    /* keys: other algorithms, bad DER, a raw key, wrong lengths, padding */
    sx_key *x25519 = NULL, *ed448 = NULL;
    char x25519_text[SX_KEY_TEXT_MAX], ed448_text[SX_KEY_TEXT_MAX];
    assert_ok(sx_key_generate(SX_KEY_X25519, &x25519));
    assert_ok(sx_key_generate(SX_KEY_ED448, &ed448));
    assert_ok(sx_key_public_to_text(x25519, x25519_text, sizeof x25519_text));
    assert_ok(sx_key_public_to_text(ed448, ed448_text, sizeof ed448_text));
    sx_key_free(x25519);
    sx_key_free(ed448);
    uint8_t raw[56], spki[69];
    tu_bytes_seq(raw, 56, 0x10);
    char *raw_text = b64url(raw, 56);
    tu_hex_to(X448_SPKI_PREFIX, spki, 12);
    memcpy(spki + 12, raw, 56);
    spki[68] = 0;
    char *spki67 = b64url(spki, 67), *spki69 = b64url(spki, 69);
    spki[4] ^= 1; /* the OID */
    char *bad_oid = b64url(spki, 68);
    const char *const bad_keys[] = {x25519_text, ed448_text, raw_text, spki67, spki69, bad_oid,
                                    "",
                                    /* padding missing, doubled; bits after the last byte */
                                    "MEIwBQYDK2VvAzkAEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_QEFCQ0RFRkc",
                                    "MEIwBQYDK2VvAzkAEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_QEFCQ0RFRkc==",
                                    "MEIwBQYDK2VvAzkAEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_QEFCQ0RFRkd=",
                                    /* standard alphabet */
                                    "MEIwBQYDK2VvAzkAEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkc="};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        if (decode_fmt("v=3&x3dh=%s,%s", bad_keys[i], K) != SX_E_PROTOCOL ||
            decode_fmt("v=3&x3dh=%s,%s", K, bad_keys[i]) != SX_E_PROTOCOL)
            fail_msg("key %zu accepted", i);
    }
    free(raw_text);
    free(spki67);
    free(spki69);
    free(bad_oid);

    /* KEM values: one byte short or long, padding, bits after the last byte */
    uint8_t big[PK + 1];
    tu_bytes_seq(big, sizeof big, 0x01);
    char *pk_short = b64url(big, PK - 1), *pk_long = b64url(big, PK + 1);
    char *ct_short = b64url(big, CT - 1), *ct_long = b64url(big, CT + 1);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_key=%s", K, K, pk_short), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_key=%s", K, K, pk_long), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_key=%s=", K, K, P), SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_ct=%s&kem_key=%s", K, K, ct_short, P),
                     SX_E_PROTOCOL);
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_ct=%s&kem_key=%s", K, K, ct_long, P),
                     SX_E_PROTOCOL);
    size_t clen = strlen(C);
    assert_true(clen == 1388 && C[clen - 1] == '=' && C[clen - 2] == '=');
    C[clen - 1] = '\0'; /* one '=' short */
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_ct=%s&kem_key=%s", K, K, C, P),
                     SX_E_PROTOCOL);
    C[clen - 2] = '\0'; /* no padding */
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_ct=%s&kem_key=%s", K, K, C, P),
                     SX_E_PROTOCOL);
    C[clen - 2] = C[clen - 1] = '=';
    char keep = C[clen - 3];
    /* the last digit carries 2 bits then 4 zero bits ('A', 'Q', 'g', 'w') */
    assert_non_null(strchr("AQgw", keep));
    C[clen - 3] = (char)(keep + 1); /* nonzero unused bits */
    assert_int_equal(decode_fmt("v=3&x3dh=%s,%s&kem_ct=%s&kem_key=%s", K, K, C, P),
                     SX_E_PROTOCOL);
    C[clen - 3] = keep;
    assert_ok(decode_fmt("v=3&x3dh=%s,%s&kem_ct=%s&kem_key=%s", K, K, C, P));
    free(pk_short);
    free(pk_long);
    free(ct_short);
    free(ct_long);

    /* usage */
    assert_int_equal(sx_e2e_params_decode_text("v=3", 3, NULL), SX_E_USAGE);
    assert_int_equal(sx_e2e_params_decode_text(NULL, 3, &q), SX_E_USAGE);
    assert_int_equal(sx_e2e_params_decode_text(NULL, 0, &q), SX_E_PROTOCOL);
    free(P);
    free(C);
}

static void test_e2e_private_storage(void **state)
{
    (void)state;
    static sx_e2e_private a, b, c;
    static sx_e2e_params pa, pb;
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_PROPOSE, NULL, &rng_a, &a, &pa));
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_ACCEPT, pa.kem.pk, &rng_b, &b, &pb));
    assert_int_equal(b.kem, SX_KEM_ACCEPTED);
    const sx_e2e_private *all[] = {&a, &b};
    for (size_t i = 0; i < 2; i++) {
        sx_writer w;
        sx_writer_init_dynamic(&w, 16384);
        assert_true(sx_e2e_private_write(&w, all[i]));
        sx_reader r;
        sx_reader_init_slice(&r, sx_writer_slice(&w));
        assert_true(sx_e2e_private_read(&r, &c));
        assert_ok(sx_reader_finish(&r));
        assert_memory_equal(&c, all[i], sizeof c);
        for (size_t cut = 0; cut < w.len; cut += 97) {
            sx_reader_init(&r, w.buf, cut);
            assert_false(sx_e2e_private_read(&r, &c));
        }
        w.buf[0] = 2; /* unknown format */
        sx_reader_init_slice(&r, sx_writer_slice(&w));
        assert_false(sx_e2e_private_read(&r, &c));
        sx_writer_cleanup(&w);
    }
    sx_e2e_private_wipe(&a);
    sx_e2e_private_wipe(&b);
}

/* A plaintext header written by hand: maxVersion, shortString(SPKI),
 * [maybe KEM], PN, Ns. */
static void test_header_bytes(void **state)
{
    (void)state;
    static sx_ratchet_header h, g;
    memset(&h, 0, sizeof h);
    h.max_version = 3;
    tu_bytes_seq(h.dh, 56, 0x20);
    h.pn = 0x01020304;
    h.ns = 7;
    h.kem.state = SX_KEM_ACCEPTED;
    tu_bytes_seq(h.kem.pk, PK, 0x05);
    tu_bytes_seq(h.kem.ct, CT, 0x06);
    char *dh = hex_of(h.dh, 56), *pk = hex_of(h.kem.pk, PK), *ct = hex_of(h.kem.ct, CT);
    char *want = malloc(8000);
    assert_non_null(want);

    for (uint16_t v = 2; v <= 3; v++) {
        sx_writer w;
        sx_writer_init_dynamic(&w, 4096);
        assert_true(sx_ratchet_header_write(&w, v, &h));
        if (v == 2)
            snprintf(want, 8000, "0003" "44" X448_SPKI_PREFIX "%s" "01020304" "00000007", dh);
        else
            snprintf(want, 8000,
                     "0003" "44" X448_SPKI_PREFIX "%s" "3141" "040f%s" "0486%s" "01020304"
                     "00000007",
                     dh, ct, pk);
        assert_hex(sx_writer_slice(&w), want);
        /* Sizes from the reference's comments: 79 without KEM (v2), 2282 with. */
        assert_int_equal(w.len, v == 2 ? 79 : 2282);
        sx_reader r;
        sx_reader_init_slice(&r, sx_writer_slice(&w));
        assert_true(sx_ratchet_header_read(&r, v, &g));
        assert_int_equal(sx_reader_remaining(&r), 0);
        assert_int_equal(g.pn, h.pn);
        assert_int_equal(g.ns, h.ns);
        assert_int_equal(g.kem.state, v == 2 ? SX_KEM_NONE : SX_KEM_ACCEPTED);
        /* Every truncation fails; trailing bytes are allowed by the reader. */
        for (size_t cut = 0; cut < w.len; cut++) {
            sx_reader_init(&r, w.buf, cut);
            assert_false(sx_ratchet_header_read(&r, v, &g));
        }
        sx_writer_cleanup(&w);
    }
    h.kem.state = SX_KEM_NONE;
    sx_writer w;
    sx_writer_init_dynamic(&w, 4096);
    assert_true(sx_ratchet_header_write(&w, 3, &h));
    snprintf(want, 8000, "0003" "44" X448_SPKI_PREFIX "%s" "30" "01020304" "00000007", dh);
    assert_hex(sx_writer_slice(&w), want);
    sx_writer_cleanup(&w);
    free(want);
    free(dh);
    free(pk);
    free(ct);
}

/* hkdf3 of the reference, computed here with the project's HKDF. */
static void hkdf3(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                  const char *info, uint8_t out[96])
{
    assert_ok(sx_hkdf_sha512(sx_slice_of(salt, salt_len), sx_slice_of(ikm, ikm_len),
                             sx_slice_str(info), out, 96));
}

/* The X3DH and first root step recomputed from the raw keys. */
static void test_x3dh_derivation(void **state)
{
    (void)state;
    static sx_e2e_private apriv, bpriv;
    static sx_e2e_params apub, bpub;
    static sx_x3dh_result res;
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_PROPOSE, NULL, &rng_a, &apriv, &apub));
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_ACCEPT, apub.kem.pk, &rng_b, &bpriv, &bpub));
    assert_ok(sx_x3dh_snd(&bpriv, &apub, &res));
    uint8_t ikm[3 * 56 + 32], okm[96], salt[64] = {0};
    assert_ok(sx_x448_dh(bpriv.k2, apub.k1, ikm));
    assert_ok(sx_x448_dh(bpriv.k1, apub.k2, ikm + 56));
    assert_ok(sx_x448_dh(bpriv.k2, apub.k2, ikm + 112));
    memcpy(ikm + 168, bpriv.kem_ss, 32);
    hkdf3(salt, 64, ikm, sizeof ikm, "SimpleXX3DH", okm);
    assert_memory_equal(res.snd_hk, okm, 32);
    assert_memory_equal(res.rcv_next_hk, okm + 32, 32);
    assert_memory_equal(res.rk, okm + 64, 32);
    assert_memory_equal(res.ad, bpub.k1, 56);
    assert_memory_equal(res.ad + 56, apub.k1, 56);
    assert_true(res.kem_accepted);
    assert_memory_equal(res.pqrss, bpriv.kem_ss, 32);

    /* initSndRatchet: rootKdf(SK, DH(DHRr, DHRs) || ss). */
    static sx_ratchet bob;
    uint8_t own[56];
    tu_bytes_seq(own, 56, 0x33);
    assert_ok(sx_ratchet_init_snd(&bob, 3, 3, apub.k2, own, &res, NULL));
    uint8_t ikm2[56 + 32];
    assert_ok(sx_x448_dh(own, apub.k2, ikm2));
    memcpy(ikm2 + 56, res.pqrss, 32);
    hkdf3(res.rk, 32, ikm2, sizeof ikm2, "SimpleXRootRatchet", okm);
    assert_memory_equal(bob.rk, okm, 32);
    assert_memory_equal(bob.cks, okm + 32, 32);
    assert_memory_equal(bob.nhks, okm + 64, 32);
    assert_memory_equal(bob.hks, res.snd_hk, 32);
    assert_memory_equal(bob.nhkr, res.rcv_next_hk, 32);
    assert_true(bob.support_kem && bob.enable_kem && bob.snd_kem && !bob.rcv_kem);
    sx_ratchet_cleanup(&bob);
    sx_e2e_private_wipe(&apriv);
    sx_e2e_private_wipe(&bpriv);
    sx_x3dh_result_wipe(&res);
}

/* The encrypted header and envelope, recomputed from the chain key. */
static void test_message_bytes(void **state)
{
    (void)state;
    for (uint16_t v = 2; v <= 3; v++) {
        for (int pq = 0; pq <= (v == 3); pq++) {
            static sx_ratchet a, b;
            init_pair(pq ? INIT_KEM_ACCEPTED : INIT_PLAIN, v, v, &a, &b);
            uint8_t ck[32], hk[32], okm[96];
            memcpy(ck, b.cks, 32);
            memcpy(hk, b.hks, 32);
            static sx_ratchet_msg_key key;
            assert_ok(sx_ratchet_encrypt_header(&b, SX_PQ_KEEP, v, &key));
            hkdf3(NULL, 0, ck, 32, "SimpleXChainRatchet", okm);
            assert_memory_equal(b.cks, okm, 32);
            assert_memory_equal(key.mk, okm + 32, 32);
            assert_memory_equal(key.iv, okm + 64, 16);
            assert_int_equal(b.ns, 1);

            size_t padded = pq ? 2310 : 88;
            size_t prefix = v >= 3 ? 2 : 1;
            assert_int_equal(key.header_len, 2 + 16 + 16 + prefix + padded);
            assert_int_equal(key.header[0], 0);
            assert_int_equal(key.header[1], v);
            assert_memory_equal(key.header + 2, okm + 80, 16); /* header IV */
            if (v >= 3) {
                assert_int_equal(key.header[34], padded >> 8);
                assert_int_equal(key.header[35], padded & 0xff);
            } else {
                assert_int_equal(key.header[34], padded);
            }
            /* Open the header by hand: AES-GCM(hk, iv, ad), then pad. */
            uint8_t plain[2310];
            sx_slice hdr;
            assert_ok(sx_aead_decrypt_padded(hk, sx_slice_of(key.header + 2, 16),
                                             sx_slice_of(b.ad, 112),
                                             sx_slice_of(key.header + 34 + prefix, padded),
                                             key.header + 18, plain, sizeof plain, &hdr));
            static sx_ratchet_header h;
            memset(&h, 0, sizeof h);
            h.max_version = v;
            memcpy(h.dh, b.dhrs_pub, 56);
            h.pn = 0;
            h.ns = 0;
            h.kem.state = pq ? SX_KEM_ACCEPTED : SX_KEM_NONE;
            memcpy(h.kem.pk, b.kem.pk, PK);
            memcpy(h.kem.ct, b.kem.ct, CT);
            sx_writer w;
            sx_writer_init_dynamic(&w, 4096);
            assert_true(sx_ratchet_header_write(&w, v, &h));
            assert_int_equal(hdr.len, w.len);
            assert_memory_equal(hdr.ptr, w.buf, w.len);
            sx_writer_cleanup(&w);

            /* Envelope: versioned(header) tag body; body = AES-GCM(mk, iv,
             * ad || header) of pad(msg, 1000). */
            uint8_t out[4000], body[1000];
            size_t len;
            assert_ok(sx_ratchet_encrypt_msg(&key, 1000, sx_slice_str("hello"), out, sizeof out,
                                             &len));
            assert_int_equal(len, sx_ratchet_msg_len(&key, 1000));
            assert_int_equal(len, prefix + key.header_len + 16 + 1000);
            if (v >= 3) {
                assert_int_equal(out[0], key.header_len >> 8);
                assert_int_equal(out[1], key.header_len & 0xff);
            } else {
                assert_int_equal(out[0], key.header_len);
            }
            assert_memory_equal(out + prefix, key.header, key.header_len);
            uint8_t aad[112 + SX_RATCHET_ENC_HEADER_MAX];
            memcpy(aad, b.ad, 112);
            memcpy(aad + 112, key.header, key.header_len);
            sx_slice m;
            assert_ok(sx_aead_decrypt_padded(
                key.mk, sx_slice_of(key.iv, 16), sx_slice_of(aad, 112 + key.header_len),
                sx_slice_of(out + prefix + key.header_len + 16, 1000),
                out + prefix + key.header_len, body, sizeof body, &m));
            assert_int_equal(m.len, 5);
            assert_memory_equal(m.ptr, "hello", 5);

            /* The message key survives its storage encoding. */
            sx_writer_init_dynamic(&w, 4096);
            assert_true(sx_ratchet_msg_key_write(&w, &key));
            static sx_ratchet_msg_key k2;
            assert_ok(sx_ratchet_msg_key_decode(sx_writer_slice(&w), &k2));
            assert_int_equal(k2.header_len, key.header_len);
            assert_memory_equal(k2.header, key.header, key.header_len);
            assert_memory_equal(k2.mk, key.mk, 32);
            assert_int_equal(sx_ratchet_msg_key_decode(sx_slice_of(w.buf, w.len - 1), &k2),
                             SX_E_PROTOCOL);
            /* A header length over the largest header (found by
             * fuzz_agent_store_blobs: it used to clear past the buffer). */
            size_t at = 2 + 1 + 112 + 1 + 32 + 16;
            uint8_t save_hi = w.buf[at], save_lo = w.buf[at + 1];
            w.buf[at] = 0xff;
            w.buf[at + 1] = 0xff;
            assert_int_equal(sx_ratchet_msg_key_decode(sx_writer_slice(&w), &k2), SX_E_PROTOCOL);
            w.buf[at] = save_hi;
            w.buf[at + 1] = save_lo;
            assert_ok(sx_ratchet_msg_key_decode(sx_writer_slice(&w), &k2));
            sx_writer_cleanup(&w);

            dec_ok(&a, out, len, "hello");
            sx_ratchet_cleanup(&a);
            sx_ratchet_cleanup(&b);
        }
    }
}

/* Envelope and encrypted-header decoders: the length prefix rule and every
 * truncation. */
static void test_envelope_decode(void **state)
{
    (void)state;
    static sx_ratchet a, b;
    init_pair(INIT_PLAIN, 3, 3, &a, &b);
    size_t len;
    uint8_t *m = enc(&b, SX_PQ_KEEP, "x", &len);
    sx_ratchet_enc_msg em;
    sx_ratchet_enc_header eh;
    assert_ok(sx_ratchet_enc_msg_decode(sx_slice_of(m, len), &em));
    assert_int_equal(em.header.len, 124);
    assert_int_equal(em.body.len, PAD);
    assert_ok(sx_ratchet_enc_header_decode(em.header, &eh));
    assert_int_equal(eh.version, 3);
    assert_int_equal(eh.body.len, 88);
    for (size_t cut = 0; cut < 2 + 124 + 16; cut++)
        assert_int_equal(sx_ratchet_enc_msg_decode(sx_slice_of(m, cut), &em), SX_E_PROTOCOL);
    for (size_t cut = 0; cut < 124; cut++)
        assert_int_equal(sx_ratchet_enc_header_decode(sx_slice_of(m + 2, cut), &eh),
                         SX_E_PROTOCOL);
    /* Trailing bytes after the encrypted header body. */
    uint8_t hb[125];
    memcpy(hb, m + 2, 124);
    hb[124] = 0;
    assert_int_equal(sx_ratchet_enc_header_decode(sx_slice_of(hb, 125), &eh), SX_E_PROTOCOL);
    /* A 1-byte length (first byte >= 32) is read as such. */
    uint8_t one[2 + 16 + 16 + 1 + 40];
    memset(one, 0, sizeof one);
    one[1] = 2;
    one[34] = 40;
    assert_ok(sx_ratchet_enc_header_decode(sx_slice_of(one, sizeof one), &eh));
    assert_int_equal(eh.body.len, 40);
    one[34] = 31; /* now a 2-byte length 0x1f00: too long */
    assert_int_equal(sx_ratchet_enc_header_decode(sx_slice_of(one, sizeof one), &eh),
                     SX_E_PROTOCOL);
    assert_int_equal(dec_err(&a, m, 10, SX_E_PROTOCOL), SX_RATCHET_ERR_MESSAGE);
    dec_ok(&a, m, len, "x");
    free(m);
    sx_ratchet_cleanup(&a);
    sx_ratchet_cleanup(&b);
}

/* ---- X3DH variants ------------------------------------------------------- */

static void test_x3dh_variants(void **state)
{
    (void)state;
    static sx_e2e_private ap, bp;
    static sx_e2e_params au, bu;
    static sx_x3dh_result ar, br;
    /* v2 and v3 without KEM */
    for (uint16_t v = 2; v <= 3; v++) {
        assert_ok(sx_e2e_generate(v, SX_USE_KEM_NO, NULL, &rng_a, &ap, &au));
        assert_ok(sx_e2e_generate(v, SX_USE_KEM_NO, NULL, &rng_b, &bp, &bu));
        assert_ok(sx_x3dh_snd(&bp, &au, &br));
        assert_ok(sx_x3dh_rcv(&ap, &bu, &ar));
        assert_memory_equal(&ar, &br, sizeof ar);
        assert_false(ar.kem_keys || ar.kem_accepted);
    }
    /* a KEM is not generated below v3 */
    assert_ok(sx_e2e_generate(2, SX_USE_KEM_PROPOSE, NULL, &rng_a, &ap, &au));
    assert_int_equal(ap.kem, SX_KEM_NONE);
    assert_int_equal(au.kem.state, SX_KEM_NONE);

    /* propose in reply: no secret, the proposer keeps its pair */
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_NO, NULL, &rng_a, &ap, &au));
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_PROPOSE, NULL, &rng_b, &bp, &bu));
    assert_ok(sx_x3dh_snd(&bp, &au, &br));
    assert_ok(sx_x3dh_rcv(&ap, &bu, &ar));
    assert_memory_equal(ar.rk, br.rk, 32);
    assert_true(br.kem_keys && !br.kem_accepted && !ar.kem_keys && !ar.kem_accepted);

    /* propose and accept: the same secret and ciphertext, different keys */
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_PROPOSE, NULL, &rng_a, &ap, &au));
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_ACCEPT, au.kem.pk, &rng_b, &bp, &bu));
    assert_ok(sx_x3dh_snd(&bp, &au, &br));
    assert_ok(sx_x3dh_rcv(&ap, &bu, &ar));
    assert_memory_equal(ar.rk, br.rk, 32);
    assert_memory_equal(ar.snd_hk, br.snd_hk, 32);
    assert_memory_equal(ar.rcv_next_hk, br.rcv_next_hk, 32);
    assert_memory_equal(ar.ad, br.ad, 112);
    assert_true(ar.kem_accepted && br.kem_accepted);
    assert_memory_equal(ar.pqrss, br.pqrss, 32);
    assert_memory_equal(ar.pqrct, br.pqrct, CT);
    assert_memory_not_equal(ar.pqrr, br.pqrr, PK);

    /* the proposal rejected */
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_NO, NULL, &rng_b, &bp, &bu));
    assert_ok(sx_x3dh_snd(&bp, &au, &br));
    assert_ok(sx_x3dh_rcv(&ap, &bu, &ar));
    assert_memory_equal(ar.rk, br.rk, 32);
    assert_false(ar.kem_keys || br.kem_keys);

    /* proposed again in reply */
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_PROPOSE, NULL, &rng_b, &bp, &bu));
    assert_ok(sx_x3dh_snd(&bp, &au, &br));
    assert_ok(sx_x3dh_rcv(&ap, &bu, &ar));
    assert_memory_equal(ar.rk, br.rk, 32);
    assert_true(br.kem_keys && !br.kem_accepted && !ar.kem_accepted);

    /* acceptance without a proposal: CERatchetKEMState on both sides */
    uint8_t kpk[PK], ksk[SX_SNTRUP761_SK_LEN];
    assert_ok(sx_sntrup761_keypair(kpk, ksk, &rng_b));
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_NO, NULL, &rng_a, &ap, &au));
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_ACCEPT, kpk, &rng_b, &bp, &bu));
    assert_int_equal(sx_x3dh_snd(&bp, &au, &br), SX_E_PROTOCOL);
    assert_int_equal(sx_x3dh_rcv(&ap, &bu, &ar), SX_E_PROTOCOL);
    /* initiator params that already accept are refused by the joiner */
    assert_int_equal(sx_x3dh_snd(&ap, &bu, &br), SX_E_PROTOCOL);

    /* replyKEM_ */
    sx_kem_params none = {.state = SX_KEM_NONE}, prop = {.state = SX_KEM_PROPOSED};
    assert_int_equal(sx_e2e_reply_kem(3, &prop, true), SX_USE_KEM_ACCEPT);
    assert_int_equal(sx_e2e_reply_kem(3, &none, true), SX_USE_KEM_PROPOSE);
    assert_int_equal(sx_e2e_reply_kem(3, NULL, true), SX_USE_KEM_PROPOSE);
    assert_int_equal(sx_e2e_reply_kem(3, &prop, false), SX_USE_KEM_NO);
    assert_int_equal(sx_e2e_reply_kem(2, &prop, true), SX_USE_KEM_NO);
    sx_e2e_private_wipe(&ap);
    sx_e2e_private_wipe(&bp);
}

/* ---- conversations (the reference's test patterns) ----------------------- */

static void conversation(init_kind kind, uint16_t v)
{
    static sx_ratchet alice, bob;
    init_pair(kind, v, v, &alice, &bob);
    bool kem = kind != INIT_PLAIN && v >= 3;
    if (kind == INIT_KEM_PROPOSED || kind == INIT_PROPOSED_AGAIN) {
        send_recv(&bob, &alice, SX_PQ_ON, "initialising ratchet");
        send_recv(&alice, &bob, SX_PQ_ON, "initialising ratchet");
    }
    send_recv(&bob, &alice, SX_PQ_KEEP, "hello alice");
    assert_int_equal(bob.snd_kem, kem);
    assert_int_equal(alice.rcv_kem, kem);
    send_recv(&alice, &bob, SX_PQ_KEEP, "hello bob");
    assert_int_equal(alice.snd_kem, kem);
    assert_int_equal(bob.rcv_kem, kem);

    /* testEncryptDecrypt: three each way, crossing */
    size_t l[6];
    uint8_t *m[6];
    const char *t[6] = {"how are you, alice?", "are you there?", "hey?",
                        "how are you, bob?",   "are you there?", "hey?"};
    for (int i = 0; i < 3; i++)
        m[i] = enc(&bob, SX_PQ_KEEP, t[i], &l[i]);
    for (int i = 3; i < 6; i++)
        m[i] = enc(&alice, SX_PQ_KEEP, t[i], &l[i]);
    for (int i = 0; i < 3; i++)
        dec_ok(&alice, m[i], l[i], t[i]);
    for (int i = 3; i < 6; i++)
        dec_ok(&bob, m[i], l[i], t[i]);
    for (int i = 0; i < 6; i++)
        free(m[i]);

    /* testSkippedMessages */
    m[0] = enc(&bob, SX_PQ_KEEP, "hello alice", &l[0]);
    m[1] = enc(&bob, SX_PQ_KEEP, "hello there again", &l[1]);
    m[2] = enc(&bob, SX_PQ_KEEP, "are you there?", &l[2]);
    dec_ok(&alice, m[2], l[2], "are you there?");
    assert_int_equal(dec_err(&alice, m[2], l[2], SX_E_PROTOCOL), SX_RATCHET_ERR_DUPLICATE);
    dec_ok(&alice, m[1], l[1], "hello there again");
    dec_ok(&alice, m[0], l[0], "hello alice");
    assert_int_equal(alice.n_skipped, 0);
    /* a skipped message used once is now an earlier one of this chain */
    assert_int_equal(dec_err(&alice, m[0], l[0], SX_E_PROTOCOL), SX_RATCHET_ERR_EARLIER);
    for (int i = 0; i < 3; i++)
        free(m[i]);

    /* testSkippedAfterRatchetAdvance */
    uint8_t *b[20] = {0};
    size_t bl[20];
    char name[8];
    send_recv(&bob, &alice, SX_PQ_KEEP, "b1");
    for (int i = 2; i <= 4; i++) {
        snprintf(name, sizeof name, "b%d", i);
        b[i] = enc(&bob, SX_PQ_KEEP, name, &bl[i]);
    }
    send_recv(&alice, &bob, SX_PQ_KEEP, "a5");
    b[5] = enc(&bob, SX_PQ_KEEP, "b5", &bl[5]);
    b[6] = enc(&bob, SX_PQ_KEEP, "b6", &bl[6]);
    send_recv(&bob, &alice, SX_PQ_KEEP, "b7");
    b[8] = enc(&bob, SX_PQ_KEEP, "b8", &bl[8]);
    b[9] = enc(&bob, SX_PQ_KEEP, "b9", &bl[9]);
    send_recv(&alice, &bob, SX_PQ_KEEP, "a10");
    b[11] = enc(&bob, SX_PQ_KEEP, "b11", &bl[11]);
    b[12] = enc(&bob, SX_PQ_KEEP, "b12", &bl[12]);
    send_recv(&alice, &bob, SX_PQ_KEEP, "a14");
    dec_ok(&alice, b[12], bl[12], "b12");
    dec_ok(&alice, b[2], bl[2], "b2");
    assert_int_equal(dec_err(&alice, b[2], bl[2], SX_E_AUTH), SX_RATCHET_ERR_HEADER);
    send_recv(&alice, &bob, SX_PQ_KEEP, "a15");
    b[16] = enc(&bob, SX_PQ_KEEP, "a16", &bl[16]);
    b[17] = enc(&bob, SX_PQ_KEEP, "a17", &bl[17]);
    dec_ok(&alice, b[8], bl[8], "b8");
    dec_ok(&alice, b[3], bl[3], "b3");
    dec_ok(&alice, b[4], bl[4], "b4");
    dec_ok(&alice, b[5], bl[5], "b5");
    dec_ok(&alice, b[6], bl[6], "b6");
    send_recv(&alice, &bob, SX_PQ_KEEP, "a18");
    dec_ok(&alice, b[16], bl[16], "a16");
    dec_ok(&alice, b[17], bl[17], "a17");
    dec_ok(&alice, b[9], bl[9], "b9");
    dec_ok(&alice, b[11], bl[11], "b11");
    assert_int_equal(alice.n_skipped, 0);
    for (int i = 0; i < 20; i++)
        free(b[i]);
    sx_ratchet_cleanup(&alice);
    sx_ratchet_cleanup(&bob);
}

static void test_conversations(void **state)
{
    (void)state;
    conversation(INIT_PLAIN, 2);
    conversation(INIT_PLAIN, 3);
    conversation(INIT_KEM_PROPOSED, 3);
    conversation(INIT_KEM_ACCEPTED, 3);
    conversation(INIT_PROPOSED_AGAIN, 3);
}

/* ---- PQ on, off and on again --------------------------------------------- */

/* The reference's operators: pq choice; the sender's sndKEM after encrypting;
 * which flag of the receiver is checked after decrypting, and its value. */
typedef struct pq_step {
    int from; /* 0 = alice, 1 = bob */
    sx_pq_enc pq;
    bool snd;     /* sender's snd_kem */
    bool rcv_snd; /* check the receiver's snd_kem (true) or rcv_kem (false) */
    bool rcv;     /* its value */
} pq_step;

#define ON_ON {0, SX_PQ_ON, true, false, true}      /* !#>! */
#define ON_OFF {0, SX_PQ_ON, false, false, false}   /* \#>! */
#define KEEP_ON {0, SX_PQ_KEEP, true, false, true}  /* !#>  */
#define OFF_ON {0, SX_PQ_OFF, true, false, true}    /* !#>\ */
#define OFF_OFF {0, SX_PQ_OFF, false, true, false}  /* \#>\ */
#define KEEP_OFF {0, SX_PQ_KEEP, false, true, false} /* \#>  */

static void run_pq(init_kind kind, const pq_step *steps, const int *from, size_t n)
{
    static sx_ratchet p[2];
    init_pair(kind, 3, 3, &p[0], &p[1]);
    for (size_t i = 0; i < n; i++) {
        sx_ratchet *s = &p[from[i]], *r = &p[1 - from[i]];
        char text[32];
        snprintf(text, sizeof text, "step %zu", i);
        send_recv(s, r, steps[i].pq, text);
        if (s->snd_kem != steps[i].snd)
            fail_msg("step %zu: sender snd_kem %d", i, s->snd_kem);
        bool got = steps[i].rcv_snd ? r->snd_kem : r->rcv_kem;
        if (got != steps[i].rcv)
            fail_msg("step %zu: receiver flag %d", i, got);
    }
    sx_ratchet_cleanup(&p[0]);
    sx_ratchet_cleanup(&p[1]);
}

#define A 0
#define B 1

static void test_pq_disable_enable(void **state)
{
    (void)state;
    /* testDisableEnableKEM (from KEM accepted) */
    const pq_step s1[] = {KEEP_ON, KEEP_ON, OFF_ON,   KEEP_ON,  KEEP_OFF, KEEP_OFF, ON_OFF,
                          KEEP_OFF, KEEP_OFF, KEEP_OFF, ON_OFF, ON_OFF,   ON_OFF,   KEEP_ON,
                          KEEP_ON};
    const int f1[] = {B, A, B, A, B, A, B, A, B, A, B, A, B, A, B};
    run_pq(INIT_KEM_ACCEPTED, s1, f1, 15);
    /* testDisableEnableKEMStrict */
    const pq_step s2[] = {ON_ON,  ON_ON,  OFF_ON, ON_ON,   OFF_OFF, OFF_OFF, ON_OFF, OFF_OFF,
                          ON_OFF, OFF_OFF, ON_OFF, ON_OFF, ON_OFF,  ON_ON,   ON_ON};
    run_pq(INIT_KEM_ACCEPTED, s2, f1, 15);
    /* testEnableKEM (from no KEM) */
    const pq_step s3[] = {KEEP_OFF, KEEP_OFF, ON_OFF,  ON_OFF,  ON_OFF, ON_OFF, ON_OFF,
                          KEEP_ON,  KEEP_ON,  KEEP_ON, KEEP_ON, OFF_ON, KEEP_ON, KEEP_OFF,
                          KEEP_OFF};
    const int f3[] = {B, A, B, B, A, A, B, A, B, A, B, A, B, A, B};
    run_pq(INIT_PLAIN, s3, f3, 15);
    /* testEnableKEMStrict */
    const pq_step s4[] = {OFF_OFF, OFF_OFF, ON_OFF,  ON_OFF,  ON_OFF,  ON_OFF,  ON_OFF,
                          ON_ON,   ON_ON,   ON_ON,   ON_ON,   OFF_ON,  ON_ON,   OFF_OFF,
                          ON_OFF,  OFF_OFF, ON_OFF,  OFF_OFF, ON_OFF,  OFF_OFF, ON_OFF};
    const int f4[] = {B, A, B, B, A, A, B, A, B, A, B, A, B, A, B, A, B, A, B, A, B};
    run_pq(INIT_PLAIN, s4, f4, 21);
}

/* Header size: PQ support only grows (2310 once on, even with PQ off). */
static void test_pq_support_monotonic(void **state)
{
    (void)state;
    static sx_ratchet a, b;
    init_pair(INIT_PLAIN, 3, 3, &a, &b);
    static sx_ratchet_msg_key key;
    assert_ok(sx_ratchet_encrypt_header(&b, SX_PQ_KEEP, 3, &key));
    assert_int_equal(key.header_len, 124);
    assert_ok(sx_ratchet_encrypt_header(&b, SX_PQ_ON, 3, &key));
    assert_int_equal(key.header_len, 2346);
    assert_ok(sx_ratchet_encrypt_header(&b, SX_PQ_OFF, 3, &key));
    assert_int_equal(key.header_len, 2346);
    assert_true(b.support_kem);
    assert_false(b.enable_kem);
    /* A receiving ratchet cannot send before its first message. */
    assert_int_equal(sx_ratchet_encrypt_header(&a, SX_PQ_KEEP, 3, &key), SX_E_USAGE);
    sx_ratchet_cleanup(&a);
    sx_ratchet_cleanup(&b);
}

/* ---- versions ------------------------------------------------------------ */

static void test_version_upgrade(void **state)
{
    (void)state;
    static sx_ratchet a, b;
    init_pair(INIT_PLAIN, 2, 3, &a, &b);
    size_t len;
    /* Announcing only version 2: stays at 2, 1-byte header length. */
    uint8_t out[4000];
    assert_ok(sx_ratchet_encrypt(&b, SX_PQ_KEEP, 2, PAD, sx_slice_str("v2"), out, sizeof out,
                                 &len));
    assert_int_equal(out[0], 123);
    dec_ok(&a, out, len, "v2");
    assert_int_equal(a.current, 2);
    /* Announcing 3 in the header upgrades the receiver's current version. */
    assert_ok(sx_ratchet_encrypt(&b, SX_PQ_KEEP, 3, PAD, sx_slice_str("up"), out, sizeof out,
                                 &len));
    assert_int_equal(out[0], 123);
    assert_int_equal(b.current, 2);
    assert_int_equal(b.max_supported, 3);
    dec_ok(&a, out, len, "up");
    assert_int_equal(a.current, 3);
    assert_ok(sx_ratchet_encrypt(&a, SX_PQ_KEEP, 3, PAD, sx_slice_str("v3"), out, sizeof out,
                                 &len));
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 124);
    dec_ok(&b, out, len, "v3");
    assert_int_equal(b.current, 3);
    sx_ratchet_cleanup(&a);
    sx_ratchet_cleanup(&b);

    /* A side that supports only 2 never upgrades. */
    init_pair(INIT_PLAIN, 2, 2, &a, &b);
    b.max_supported = 3; /* the peer announces 3 */
    assert_ok(sx_ratchet_encrypt(&b, SX_PQ_KEEP, 3, PAD, sx_slice_str("x"), out, sizeof out, &len));
    dec_ok(&a, out, len, "x");
    assert_int_equal(a.current, 2);
    sx_ratchet_cleanup(&a);
    sx_ratchet_cleanup(&b);
}

/* ---- skip limit ---------------------------------------------------------- */

static void test_too_many_skipped(void **state)
{
    (void)state;
    static sx_ratchet a, b;
    init_pair(INIT_PLAIN, 3, 3, &a, &b);
    enum { N = 515 };
    uint8_t **m = calloc(N, sizeof *m);
    size_t *l = calloc(N, sizeof *l);
    assert_non_null(m);
    assert_non_null(l);
    char t[16];
    for (int i = 0; i < N; i++) {
        snprintf(t, sizeof t, "m%d", i);
        m[i] = enc(&b, SX_PQ_KEEP, t, &l[i]);
    }
    /* First message of a chain: Nr = 0, so message 513 skips 513 > 512. */
    size_t slen;
    uint8_t *before = save(&a, &slen);
    uint8_t *out = malloc(l[513]);
    sx_slice plain;
    sx_ratchet_error err;
    assert_int_equal(sx_ratchet_decrypt(&a, sx_slice_of(m[513], l[513]), out, l[513], &plain, &err),
                     SX_E_LIMIT);
    assert_int_equal(err.code, SX_RATCHET_ERR_TOO_MANY_SKIPPED);
    assert_int_equal(err.n, 514);
    assert_same_state(&a, before, slen);
    free(out);
    free(before);
    /* Exactly 512 is allowed, and all skipped ones decrypt later. */
    dec_ok(&a, m[512], l[512], "m512");
    assert_int_equal(a.n_skipped, 512);
    dec_ok(&a, m[513], l[513], "m513");
    for (int i = 511; i >= 0; i--) {
        snprintf(t, sizeof t, "m%d", i);
        dec_ok(&a, m[i], l[i], t);
    }
    assert_int_equal(a.n_skipped, 0);
    assert_int_equal(dec_err(&a, m[513], l[513], SX_E_PROTOCOL), SX_RATCHET_ERR_DUPLICATE);
    assert_int_equal(dec_err(&a, m[512], l[512], SX_E_PROTOCOL), SX_RATCHET_ERR_EARLIER);

    /* Too many in the previous chain (PN) when the ratchet turns. */
    for (int i = 0; i < N; i++) {
        free(m[i]);
        snprintf(t, sizeof t, "n%d", i);
        m[i] = enc(&b, SX_PQ_KEEP, t, &l[i]);
    }
    send_recv(&a, &b, SX_PQ_KEEP, "turn");
    size_t tl;
    uint8_t *turned = enc(&b, SX_PQ_KEEP, "after turn", &tl);
    /* PN = 1030, Nr = 514 (m514 never arrived): 516 to skip */
    before = save(&a, &slen);
    out = malloc(tl);
    assert_int_equal(sx_ratchet_decrypt(&a, sx_slice_of(turned, tl), out, tl, &plain, &err),
                     SX_E_LIMIT);
    assert_int_equal(err.code, SX_RATCHET_ERR_TOO_MANY_SKIPPED);
    assert_int_equal(err.n, 517);
    assert_same_state(&a, before, slen);
    free(out);
    free(before);
    dec_ok(&a, m[0], l[0], "n0"); /* m514 is skipped here */
    dec_ok(&a, m[1], l[1], "n1");
    assert_int_equal(dec_err(&a, turned, tl, SX_E_LIMIT), SX_RATCHET_ERR_TOO_MANY_SKIPPED);
    dec_ok(&a, m[2], l[2], "n2");
    dec_ok(&a, turned, tl, "after turn"); /* 512 skipped from the old chain */
    assert_int_equal(a.n_skipped, 513);
    dec_ok(&a, m[514], l[514], "n514");
    assert_int_equal(a.n_skipped, 512);
    free(turned);
    for (int i = 0; i < N; i++)
        free(m[i]);
    free(m);
    free(l);
    sx_ratchet_cleanup(&a);
    sx_ratchet_cleanup(&b);
}

/* A step that fails half way: the keys of the old chain (PN) are staged and
 * the DH step is taken, then the new chain's skip (Ns) is over the limit.
 * Nothing of it may stay: the stored form is byte-identical to before, and
 * the same ratchet still reads the messages that do fit. */
static void test_skip_fails_midway(void **state)
{
    (void)state;
    static sx_ratchet a, b;
    init_pair(INIT_PLAIN, 3, 3, &a, &b);
    send_recv(&b, &a, SX_PQ_KEEP, "chain one");
    size_t l1[4];
    uint8_t *old[4];
    char t[16];
    for (int i = 0; i < 4; i++) {
        snprintf(t, sizeof t, "old%d", i);
        old[i] = enc(&b, SX_PQ_KEEP, t, &l1[i]);
    }
    send_recv(&a, &b, SX_PQ_KEEP, "turn");
    enum { N = SX_RATCHET_MAX_SKIP + 2 };
    uint8_t **m = calloc(N, sizeof *m);
    size_t *l = calloc(N, sizeof *l);
    assert_non_null(m);
    assert_non_null(l);
    for (int i = 0; i < N; i++) {
        snprintf(t, sizeof t, "new%d", i);
        m[i] = enc(&b, SX_PQ_KEEP, t, &l[i]);
    }
    /* new[N-1]: PN = 5 (4 to stage from chain one), Ns = 513 > 512. */
    size_t slen;
    uint8_t *before = save(&a, &slen);
    size_t n_skipped = a.n_skipped;
    uint8_t *out = malloc(l[N - 1]);
    sx_slice plain;
    sx_ratchet_error err;
    assert_int_equal(sx_ratchet_decrypt(&a, sx_slice_of(m[N - 1], l[N - 1]), out, l[N - 1],
                                        &plain, &err),
                     SX_E_LIMIT);
    assert_int_equal(err.code, SX_RATCHET_ERR_TOO_MANY_SKIPPED);
    assert_int_equal(err.n, 514); /* the new chain's count: the old one passed */
    assert_int_equal(a.n_skipped, n_skipped);
    assert_same_state(&a, before, slen);
    free(out);
    /* The ratchet goes on as if that message had not come. */
    dec_ok(&a, m[N - 2], l[N - 2], "new512");
    assert_int_equal(a.n_skipped, 4 + 512);
    dec_ok(&a, old[2], l1[2], "old2");
    dec_ok(&a, m[0], l[0], "new0");
    dec_ok(&a, m[N - 1], l[N - 1], "new513");
    for (int i = 0; i < 4; i++)
        free(old[i]);
    for (int i = 0; i < N; i++)
        free(m[i]);
    free(m);
    free(l);
    free(before);
    sx_ratchet_cleanup(&a);
    sx_ratchet_cleanup(&b);
}

/* Decrypt that may fail but must then leave the state as it was. */
static void dec_any_fail(sx_ratchet *r, const uint8_t *m, size_t len)
{
    size_t slen;
    uint8_t *before = save(r, &slen);
    uint8_t *out = malloc(len + 1);
    sx_slice plain;
    sx_ratchet_error err;
    sx_status st = sx_ratchet_decrypt(r, sx_slice_of(m, len), out, len + 1, &plain, &err);
    assert_int_not_equal(st, SX_OK);
    assert_int_not_equal(err.code, SX_RATCHET_OK);
    assert_same_state(r, before, slen);
    free(out);
    free(before);
}

/* ---- corruption ---------------------------------------------------------- */

static void test_corruption(void **state)
{
    (void)state;
    static sx_ratchet a, b;
    init_pair(INIT_KEM_ACCEPTED, 3, 3, &a, &b);
    send_recv(&b, &a, SX_PQ_KEEP, "first");
    send_recv(&a, &b, SX_PQ_KEEP, "reply");
    size_t len;
    uint8_t *m = enc(&b, SX_PQ_KEEP, "target", &len);
    /* Flip one bit at many offsets: length prefix, version, IV, tag, header
     * body, body tag, body. Every one is refused and changes nothing. */
    assert_int_equal(len, 2 + 2346 + 16 + PAD);
    for (size_t off = 0; off < len; off += (off < 64 ? 1 : 37)) {
        m[off] ^= 0x04;
        dec_any_fail(&a, m, len);
        m[off] ^= 0x04;
    }
    const struct {
        size_t off;
        sx_status st;
        sx_ratchet_err code;
    } at[] = {
        {0, SX_E_PROTOCOL, SX_RATCHET_ERR_MESSAGE},   /* envelope length */
        {2, SX_E_AUTH, SX_RATCHET_ERR_BODY},          /* version: header AD only */
        {10, SX_E_AUTH, SX_RATCHET_ERR_HEADER},       /* header IV */
        {25, SX_E_AUTH, SX_RATCHET_ERR_HEADER},       /* header tag */
        {37, SX_E_PROTOCOL, SX_RATCHET_ERR_MESSAGE},  /* header length */
        {1000, SX_E_AUTH, SX_RATCHET_ERR_HEADER},     /* header body */
        {2350, SX_E_AUTH, SX_RATCHET_ERR_BODY},       /* body tag */
        {2400, SX_E_AUTH, SX_RATCHET_ERR_BODY},       /* body */
    };
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        m[at[i].off] ^= 0x01;
        assert_int_equal(dec_err(&a, m, len, at[i].st), at[i].code);
        m[at[i].off] ^= 0x01;
    }
    /* Cut short or extended: the body is the rest, so it fails to open. */
    assert_int_equal(dec_err(&a, m, len - 1, SX_E_AUTH), SX_RATCHET_ERR_BODY);
    dec_ok(&a, m, len, "target");
    free(m);
    sx_ratchet_cleanup(&a);
    sx_ratchet_cleanup(&b);
}

/* ---- long randomised exchange -------------------------------------------- */

typedef struct wire {
    uint8_t *buf;
    size_t len;
    char text[48];
    int to;
    int state; /* 0 in flight, 1 delivered, 2 lost */
} wire;

static void reload(sx_ratchet *r, const sx_sntrup761_rng *rng)
{
    size_t n;
    uint8_t *s = save(r, &n);
    sx_ratchet_cleanup(r);
    assert_ok(sx_ratchet_read(sx_slice_of(s, n), r));
    r->rng = rng;
    size_t n2;
    uint8_t *s2 = save(r, &n2);
    assert_int_equal(n, n2);
    assert_memory_equal(s, s2, n);
    free(s);
    free(s2);
}

static void random_exchange(init_kind kind, int total, bool toggle_pq)
{
    static sx_ratchet p[2]; /* 0 = alice (receiving first), 1 = bob */
    const sx_sntrup761_rng *rngs[2] = {&rng_a, &rng_b};
    init_pair(kind, 3, 3, &p[0], &p[1]);
    wire *w = calloc((size_t)total, sizeof *w);
    assert_non_null(w);
    int sent = 0, delivered = 0, lost = 0, replays = 0, corrupt = 0, reloads = 0;
    bool can_send[2] = {false, true};
    while (sent < total || delivered + lost < sent) {
        uint32_t r = prng() % 100;
        if (r < 40 && sent < total) {
            int from = can_send[0] && can_send[1] ? (int)(prng() % 2) : 1;
            /* runs in one direction, so that chains get long */
            if (sent > 0 && prng() % 4 != 0 && can_send[1 - w[sent - 1].to])
                from = 1 - w[sent - 1].to;
            wire *x = &w[sent];
            sx_pq_enc pq = SX_PQ_KEEP;
            if (toggle_pq && prng() % 16 == 0)
                pq = prng() % 2 ? SX_PQ_ON : SX_PQ_OFF;
            snprintf(x->text, sizeof x->text, "message %d from %c", sent, from ? 'b' : 'a');
            x->to = 1 - from;
            x->buf = enc(&p[from], pq, x->text, &x->len);
            sent++;
        } else if (r < 85) {
            /* deliver one of the oldest in-flight messages to a random side */
            int to = (int)(prng() % 2), cand[8], nc = 0;
            for (int i = 0; i < sent && nc < 8; i++)
                if (w[i].state == 0 && w[i].to == to)
                    cand[nc++] = i;
            if (nc == 0)
                continue;
            wire *x = &w[cand[prng() % (uint32_t)nc]];
            dec_ok(&p[to], x->buf, x->len, x->text);
            x->state = 1;
            delivered++;
            can_send[to] = true;
        } else if (r < 87) {
            for (int i = 0; i < sent; i++)
                if (w[i].state == 0) {
                    w[i].state = 2; /* lost on the way */
                    lost++;
                    break;
                }
        } else if (r < 93) {
            if (delivered == 0)
                continue;
            int i = (int)(prng() % (uint32_t)sent);
            if (w[i].state != 1)
                continue;
            dec_any_fail(&p[w[i].to], w[i].buf, w[i].len); /* duplicate / replay */
            replays++;
        } else if (r < 97) {
            int i = (int)(prng() % (uint32_t)sent);
            if (sent == 0 || w[i].state != 0)
                continue;
            size_t off = prng() % w[i].len;
            uint8_t bit = (uint8_t)(1u << (prng() % 8));
            w[i].buf[off] ^= bit;
            dec_any_fail(&p[w[i].to], w[i].buf, w[i].len);
            w[i].buf[off] ^= bit;
            corrupt++;
        } else {
            int s = (int)(prng() % 2);
            reload(&p[s], rngs[s]);
            reloads++;
        }
    }
    assert_int_equal(delivered + lost, total);
    assert_true(replays > 0 && corrupt > 0 && reloads > 0 && lost > 0);
    for (int i = 0; i < total; i++)
        free(w[i].buf);
    free(w);
    sx_ratchet_cleanup(&p[0]);
    sx_ratchet_cleanup(&p[1]);
}

static void test_random_exchange(void **state)
{
    (void)state;
    random_exchange(INIT_PLAIN, 4000, false);
}

static void test_random_exchange_pq(void **state)
{
    (void)state;
    random_exchange(INIT_KEM_ACCEPTED, 600, true);
    random_exchange(INIT_PLAIN, 600, true);
}

/* ---- storage ------------------------------------------------------------- */

static void test_state_storage(void **state)
{
    (void)state;
    static sx_ratchet a, b, c;
    init_pair(INIT_KEM_ACCEPTED, 3, 3, &a, &b);
    size_t l1, l2;
    uint8_t *m1 = enc(&b, SX_PQ_KEEP, "one", &l1);
    uint8_t *m2 = enc(&b, SX_PQ_KEEP, "two", &l2);
    dec_ok(&a, m2, l2, "two");
    assert_int_equal(a.n_skipped, 1);
    size_t n;
    uint8_t *s = save(&a, &n);
    /* Every truncation and a trailing byte fail; the full copy works. */
    for (size_t cut = 0; cut < n; cut += (cut < 300 ? 1 : 101)) {
        assert_int_equal(sx_ratchet_read(sx_slice_of(s, cut), &c), SX_E_PROTOCOL);
        sx_ratchet_cleanup(&c);
    }
    uint8_t *s2 = malloc(n + 1);
    memcpy(s2, s, n);
    s2[n] = 0;
    assert_int_equal(sx_ratchet_read(sx_slice_of(s2, n + 1), &c), SX_E_PROTOCOL);
    sx_ratchet_cleanup(&c);
    s2[0] = 9; /* format */
    assert_int_equal(sx_ratchet_read(sx_slice_of(s2, n), &c), SX_E_PROTOCOL);
    sx_ratchet_cleanup(&c);
    free(s2);
    /* Format 1 (no public key: it is derived) is still read, to the same
     * state. */
    enum { PUB_AT = 1 + 2 + 2 + 112 + 56 };
    assert_int_equal(s[0], 2);
    uint8_t *v1 = malloc(n - 56);
    assert_non_null(v1);
    memcpy(v1, s, PUB_AT);
    memcpy(v1 + PUB_AT, s + PUB_AT + 56, n - PUB_AT - 56);
    v1[0] = 1;
    assert_ok(sx_ratchet_read(sx_slice_of(v1, n - 56), &c));
    assert_same_state(&c, s, n);
    sx_ratchet_cleanup(&c);
    free(v1);
    assert_ok(sx_ratchet_read(sx_slice_of(s, n), &c));
    assert_int_equal(c.n_skipped, 1);
    assert_memory_equal(c.dhrs_pub, a.dhrs_pub, 56);
    dec_ok(&c, m1, l1, "one");
    send_recv(&c, &b, SX_PQ_KEEP, "from the restored state");
    send_recv(&b, &c, SX_PQ_KEEP, "and back");
    free(s);
    free(m1);
    free(m2);
    sx_ratchet_cleanup(&a);
    sx_ratchet_cleanup(&b);
    sx_ratchet_cleanup(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hybrid_secret),
        cmocka_unit_test(test_e2e_params_bytes),
        cmocka_unit_test(test_e2e_params_decode_errors),
        cmocka_unit_test(test_e2e_params_text_reference),
        cmocka_unit_test(test_e2e_params_text_bytes),
        cmocka_unit_test(test_e2e_params_text_roundtrip),
        cmocka_unit_test(test_e2e_params_text_errors),
        cmocka_unit_test(test_e2e_private_storage),
        cmocka_unit_test(test_header_bytes),
        cmocka_unit_test(test_x3dh_derivation),
        cmocka_unit_test(test_message_bytes),
        cmocka_unit_test(test_envelope_decode),
        cmocka_unit_test(test_x3dh_variants),
        cmocka_unit_test(test_conversations),
        cmocka_unit_test(test_pq_disable_enable),
        cmocka_unit_test(test_pq_support_monotonic),
        cmocka_unit_test(test_version_upgrade),
        cmocka_unit_test(test_too_many_skipped),
        cmocka_unit_test(test_skip_fails_midway),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_random_exchange),
        cmocka_unit_test(test_random_exchange_pq),
        cmocka_unit_test(test_state_storage),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
