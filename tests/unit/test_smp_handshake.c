/* Unit tests of the SMP handshake and session (PROTOCOL-NOTES B16-B26, B30-B34,
 * W1, W2, W11): hello codecs byte by byte, truncation and trailing bytes, the
 * negotiation run as pure functions over blocks with the reference's fixture
 * chain, and the block key schedule against vectors/smp-crypto.md section 1. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "crypto/hash.h"
#include "transport/smp_handshake.h"

/* ------------------------------------------------------------------ */
/* Fixtures                                                             */

static const char *CLIENT_PUB = "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a";
static const char *ROUTER_PUB = "493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b010d531d";

typedef struct fixture {
    sx_tls_ctx *tls;
    sx_smp_server_config cfg;
    uint8_t *der[2]; /* server.crt, ca.crt */
    size_t der_len[2];
    sx_slice chain[2];
    uint8_t fp[32];  /* SHA-256 of ca.crt */
    sx_key *leaf_key; /* server.key */
    uint8_t sid[32]; /* tls-unique used throughout: bytes(32, 1) */
} fixture;

static fixture fx;
static uint8_t blk_a[SX_BLOCK_SIZE], blk_b[SX_BLOCK_SIZE], blk_c[SX_BLOCK_SIZE];

static void load_der(const char *rel, int i)
{
    X509 *x = NULL;
    assert_ok(sx_x509_read_cert_file(tu_data_path(rel), &x));
    assert_ok(sx_x509_to_der(x, &fx.der[i], &fx.der_len[i]));
    X509_free(x);
    fx.chain[i] = sx_slice_of(fx.der[i], fx.der_len[i]);
}

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    static char crt[512], ca[512], key[512];
    snprintf(crt, sizeof crt, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(ca, sizeof ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(key, sizeof key, "%s", tu_data_path("fixtures/server.key"));
    sx_tls_server_config tcfg = {.creds = {.cert_file = crt, .ca_file = ca, .key_file = key}};
    if (sx_tls_server_ctx_new(&tcfg, &fx.tls) != SX_OK)
        return -1;
    if (sx_smp_server_config_init(&fx.cfg, fx.tls) != SX_OK)
        return -1;
    load_der("fixtures/server.crt", 0);
    load_der("fixtures/ca.crt", 1);
    if (sx_x509_fingerprint_der(fx.chain[1], fx.fp) != SX_OK)
        return -1;
    if (sx_x509_read_key_file(key, SX_KEY_SIGN_ALGS, &fx.leaf_key) != SX_OK)
        return -1;
    tu_bytes_seq(fx.sid, 32, 0x01);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sx_smp_server_config_cleanup(&fx.cfg);
    sx_tls_ctx_free(fx.tls);
    free(fx.der[0]);
    free(fx.der[1]);
    sx_key_free(fx.leaf_key);
    return 0;
}

static sx_key *x25519_from_seq(uint8_t start)
{
    uint8_t raw[32];
    tu_bytes_seq(raw, 32, start);
    sx_key *k = NULL;
    assert_ok(sx_key_from_raw_private(SX_KEY_X25519, sx_slice_of(raw, 32), &k));
    return k;
}

static sx_smp_tls_info server_tls(bool alpn)
{
    sx_smp_tls_info t;
    memset(&t, 0, sizeof t);
    t.tls_unique = sx_slice_of(fx.sid, 32);
    t.alpn = alpn;
    return t;
}

static sx_smp_tls_info client_tls(void)
{
    sx_smp_tls_info t;
    memset(&t, 0, sizeof t);
    t.tls_unique = sx_slice_of(fx.sid, 32);
    t.peer_chain_len = 2;
    t.peer_chain[0] = fx.chain[0];
    t.peer_chain[1] = fx.chain[1];
    return t;
}

static sx_smp_client_config client_cfg(sx_version_range range)
{
    sx_smp_client_config c;
    memset(&c, 0, sizeof c);
    memcpy(c.key_hash, fx.fp, 32);
    c.range = range;
    return c;
}

/* The content of a handshake block. */
static sx_slice block_content(const uint8_t *block)
{
    sx_slice c;
    assert_ok(sx_block_decode(sx_slice_of(block, SX_BLOCK_SIZE), &c));
    return c;
}

/* Writes content as a handshake block. */
static void make_block(sx_slice content, uint8_t *block)
{
    assert_ok(sx_block_encode(content, block));
}

typedef struct run {
    sx_status srv_start, cli, srv_finish;
    sx_transport_error cli_te, srv_te;
    sx_smp_session srv, cli_s;
    sx_smp_server_hs hs;
} run;

/* Server hello -> client -> client hello -> server, all in memory. */
static void run_handshake(run *r, const sx_smp_server_config *cfg, bool alpn,
                          const sx_smp_client_config *ccfg, const sx_smp_tls_info *ctls,
                          const sx_smp_tls_info *stls)
{
    memset(r, 0, sizeof *r);
    sx_smp_tls_info st = stls ? *stls : server_tls(alpn);
    sx_smp_tls_info ct = ctls ? *ctls : client_tls();
    r->srv_start = sx_smp_server_hs_start(&r->hs, cfg, &st, blk_a);
    r->cli = r->srv_finish = SX_E_INTERNAL;
    if (r->srv_start != SX_OK)
        return;
    r->cli = sx_smp_client_hs_process(ccfg, &ct, blk_a, blk_b, &r->cli_s, &r->cli_te);
    if (r->cli != SX_OK)
        return;
    r->srv_finish = sx_smp_server_hs_finish(&r->hs, &st, blk_b, &r->srv, &r->srv_te);
}

static void run_cleanup(run *r)
{
    sx_smp_session_cleanup(&r->srv);
    sx_smp_session_cleanup(&r->cli_s);
    sx_smp_server_hs_cleanup(&r->hs);
}

/* A batch of one transmission through a session pair, in one direction. */
static void exchange(sx_smp_session *from, sx_smp_session *to, const char *msg)
{
    sx_batch *b = malloc(sizeof *b);
    assert_non_null(b);
    assert_ok(sx_batch_init(b, sx_smp_session_batch_capacity(from)));
    assert_ok(sx_batch_add(b, sx_slice_str(msg)));
    sx_slice content;
    assert_ok(sx_batch_content(b, &content));
    assert_ok(sx_smp_session_write_block(from, content, blk_c));
    if (from->encrypted) /* not readable as a plain block */
        assert_true(memcmp(blk_c + 2, content.ptr, content.len) != 0);
    sx_slice got;
    assert_ok(sx_smp_session_read_block(to, blk_c, &got));
    sx_slice items[4];
    size_t n = 0;
    assert_ok(sx_batch_decode(got, items, 4, &n));
    assert_int_equal(n, 1);
    assert_true(sx_slice_eq(items[0], sx_slice_str(msg)));
    free(b);
}

/* ------------------------------------------------------------------ */
/* PROTOCOL-NOTES W1 / W2
 * layouts                                                      */

static void w1_expected(uint16_t v, uint8_t *out, size_t *len)
{
    char hex[512];
    snprintf(hex, sizeof hex, "%04x20%s2c302a300506032b656e032100%s4630", v,
             tu_to_hex(fx.fp, 32), CLIENT_PUB);
    size_t n = strlen(hex) / 2;
    tu_hex_to(hex, out, n);
    *len = n;
}

static void test_w1_client_hello_layout(void **state)
{
    (void)state;
    const uint16_t versions[] = {18, 19};
    for (size_t i = 0; i < 2; i++) {
        uint8_t want[128];
        size_t want_len;
        w1_expected(versions[i], want, &want_len);
        assert_int_equal(want_len, 82); /* 2 + 33 + 45 + 1 + 1 */

        sx_smp_client_hello h;
        memset(&h, 0, sizeof h);
        h.version = versions[i];
        h.key_hash = sx_slice_of(fx.fp, 32);
        h.has_dh_key = true;
        tu_hex_to(CLIENT_PUB, h.dh_key, 32);
        uint8_t buf[256];
        sx_writer w;
        sx_writer_init_fixed(&w, buf, sizeof buf);
        assert_true(sx_smp_client_hello_write(&w, &h));
        assert_int_equal(w.len, want_len);
        assert_bytes_equal(buf, want, want_len);
    }

    /* The client's own hello block at v19 (server 6..19): exactly
     * PROTOCOL-NOTES W1 with 00 13, padded: 00 52 || content || '#'. */
    sx_smp_server_hs hs;
    sx_smp_tls_info st = server_tls(true), ct = client_tls();
    assert_ok(sx_smp_server_hs_start(&hs, &fx.cfg, &st, blk_a));
    sx_key *ck = x25519_from_seq(0x40);
    sx_smp_client_config cc = client_cfg(sx_smp_server_vrange());
    sx_smp_session s;
    assert_ok(sx_smp_client_hs_process_with_key(&cc, &ct, blk_a, ck, blk_b, &s, NULL));
    uint8_t want[128];
    size_t want_len;
    w1_expected(19, want, &want_len);
    assert_int_equal(blk_b[0], 0x00);
    assert_int_equal(blk_b[1], 0x52);
    assert_bytes_equal(blk_b + 2, want, want_len);
    for (size_t i = 2 + want_len; i < SX_BLOCK_SIZE; i++)
        assert_int_equal(blk_b[i], '#');
    sx_smp_session_cleanup(&s);
    sx_key_free(ck);
    sx_smp_server_hs_cleanup(&hs);
}

static void test_w2_server_hello_structure(void **state)
{
    (void)state;
    sx_smp_server_hs hs;
    sx_smp_tls_info st = server_tls(true);
    assert_ok(sx_smp_server_hs_start_with_key(&hs, &fx.cfg, &st, x25519_from_seq(0x80), blk_a));
    sx_slice c = block_content(blk_a);

    sx_reader r;
    sx_reader_init_slice(&r, c);
    uint16_t lo = 0, hi = 0;
    uint8_t n;
    sx_slice sid, d0 = {0}, d1 = {0}, sk = {0};
    assert_true(sx_read_u16(&r, &lo) && sx_read_u16(&r, &hi));
    assert_int_equal(lo, 6);
    assert_int_equal(hi, 19);
    assert_true(sx_read_short(&r, &sid));
    assert_true(sx_slice_eq(sid, sx_slice_of(fx.sid, 32)));
    assert_true(sx_read_u8(&r, &n));
    assert_int_equal(n, 2);
    assert_true(sx_read_large(&r, &d0) && sx_read_large(&r, &d1) && sx_read_large(&r, &sk));
    assert_true(sx_slice_eq(d0, fx.chain[0]));
    assert_true(sx_slice_eq(d1, fx.chain[1]));
    assert_ok(sx_reader_finish(&r)); /* nothing after the signed key */
    for (size_t i = 2 + c.len; i < SX_BLOCK_SIZE; i++)
        assert_int_equal(blk_a[i], '#');

    /* The signed key is the router's session key, signed by server.key
     * (Ed448) over SEQUENCE { SPKI } (PROTOCOL-NOTES A20). */
    sx_key *got = NULL;
    assert_ok(sx_x509_signed_key_verify(sk, fx.leaf_key, SX_KEY_BIT(SX_KEY_X25519), &got));
    uint8_t raw[32], want[32];
    size_t len;
    assert_ok(sx_key_raw_public(got, raw, sizeof raw, &len));
    tu_hex_to(ROUTER_PUB, want, 32);
    assert_bytes_equal(raw, want, 32);
    sx_key_free(got);
    sx_signed_key parsed;
    assert_ok(sx_x509_signed_key_parse(sk, &parsed));
    assert_int_equal(parsed.sig_alg, SX_KEY_ED448);
    assert_int_equal(parsed.tbs.len, 46); /* 30 2c || 44-byte SPKI */
    sx_smp_server_hs_cleanup(&hs);

    /* Without ALPN: 6..6 and no CertChainPubKey: exactly 4 + 1 + 32 bytes. */
    st = server_tls(false);
    assert_ok(sx_smp_server_hs_start(&hs, &fx.cfg, &st, blk_a));
    c = block_content(blk_a);
    assert_int_equal(c.len, 37);
    uint8_t legacy[5] = {0, 6, 0, 6, 32};
    assert_bytes_equal(c.ptr, legacy, 5);
    sx_smp_server_hs_cleanup(&hs);
}

/* ------------------------------------------------------------------ */
/* Codec round trips, truncation, trailing bytes                        */

static size_t write_server_hello(const sx_smp_server_hello *h, uint8_t *buf, size_t cap)
{
    sx_writer w;
    sx_writer_init_fixed(&w, buf, cap);
    assert_true(sx_smp_server_hello_write(&w, h));
    return w.len;
}

static size_t write_client_hello(const sx_smp_client_hello *h, uint8_t *buf, size_t cap)
{
    sx_writer w;
    sx_writer_init_fixed(&w, buf, cap);
    assert_true(sx_smp_client_hello_write(&w, h));
    return w.len;
}

static uint8_t signed_key_buf[SX_SIGNED_KEY_MAX];

/* A server hello with max version v and the fixture chain. */
static sx_smp_server_hello sample_server_hello(uint16_t v)
{
    sx_smp_server_hello h;
    memset(&h, 0, sizeof h);
    h.range = (sx_version_range){6, v};
    h.session_id = sx_slice_of(fx.sid, 32);
    h.has_cert_key = true;
    h.cert_key.chain_len = 2;
    h.cert_key.chain[0] = fx.chain[0];
    h.cert_key.chain[1] = fx.chain[1];
    sx_key *k = x25519_from_seq(0x80);
    sx_writer w;
    sx_writer_init_fixed(&w, signed_key_buf, sizeof signed_key_buf);
    assert_true(sx_x509_write_signed_key(&w, fx.leaf_key, k));
    sx_key_free(k);
    h.cert_key.signed_key = sx_writer_slice(&w);
    return h;
}

/* A client hello at v with every field the version carries. */
static sx_smp_client_hello sample_client_hello(uint16_t v)
{
    sx_smp_client_hello h;
    memset(&h, 0, sizeof h);
    h.version = v;
    h.key_hash = sx_slice_of(fx.fp, 32);
    h.has_dh_key = true;
    tu_hex_to(CLIENT_PUB, h.dh_key, 32);
    h.proxy_server = true;
    h.has_service = true;
    h.service_role = SX_SMP_SERVICE_NOTIFIER;
    h.service.chain_len = 2;
    h.service.chain[0] = fx.chain[0];
    h.service.chain[1] = fx.chain[1];
    sx_key *k = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &k));
    sx_writer w;
    sx_writer_init_fixed(&w, signed_key_buf, sizeof signed_key_buf);
    assert_true(sx_x509_write_signed_key(&w, fx.leaf_key, k));
    sx_key_free(k);
    h.service.signed_key = sx_writer_slice(&w);
    return h;
}

static void assert_cert_key_equal(const sx_smp_cert_key *a, const sx_smp_cert_key *b)
{
    assert_int_equal(a->chain_len, b->chain_len);
    for (size_t i = 0; i < a->chain_len; i++)
        assert_true(sx_slice_eq(a->chain[i], b->chain[i]));
    assert_true(sx_slice_eq(a->signed_key, b->signed_key));
}

static const uint16_t rt_versions[] = {6, 7, 11, 14, 16, 19};
#define RT_COUNT (sizeof rt_versions / sizeof rt_versions[0])

static void test_server_hello_roundtrip(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    for (size_t i = 0; i < RT_COUNT; i++) {
        uint16_t v = rt_versions[i];
        sx_smp_server_hello h = sample_server_hello(v), d;
        size_t len = write_server_hello(&h, buf, sizeof buf);
        assert_ok(sx_smp_server_hello_decode(sx_slice_of(buf, len), &d));
        assert_int_equal(d.range.min, 6);
        assert_int_equal(d.range.max, v);
        assert_true(sx_slice_eq(d.session_id, h.session_id));
        if (v >= 7) {
            assert_true(d.has_cert_key);
            assert_cert_key_equal(&d.cert_key, &h.cert_key);
        } else {
            assert_false(d.has_cert_key); /* not on the wire below v7 */
            assert_int_equal(len, 37);
        }
    }
}

static void test_client_hello_roundtrip(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    for (size_t i = 0; i < RT_COUNT; i++) {
        uint16_t v = rt_versions[i];
        sx_smp_client_hello h = sample_client_hello(v), d;
        size_t len = write_client_hello(&h, buf, sizeof buf);
        assert_ok(sx_smp_client_hello_decode(sx_slice_of(buf, len), &d));
        assert_int_equal(d.version, v);
        assert_true(sx_slice_eq(d.key_hash, h.key_hash));
        assert_int_equal(d.has_dh_key, v >= 7);
        if (v >= 7)
            assert_bytes_equal(d.dh_key, h.dh_key, 32);
        assert_int_equal(d.proxy_server, v >= 14);
        assert_int_equal(d.has_service, v >= 16);
        if (v >= 16) {
            assert_int_equal(d.service_role, SX_SMP_SERVICE_NOTIFIER);
            assert_cert_key_equal(&d.service, &h.service);
        }
        size_t want = 35 + (v >= 7 ? 45 : 0) + (v >= 14 ? 1 : 0);
        if (v < 16)
            assert_int_equal(len, want);
        else
            assert_true(len > want + 1);
    }
    /* No service at v16: a '0' tag. */
    sx_smp_client_hello h = sample_client_hello(16), d;
    h.has_service = false;
    size_t len = write_client_hello(&h, buf, sizeof buf);
    assert_int_equal(len, 82);
    assert_int_equal(buf[81], '0');
    assert_ok(sx_smp_client_hello_decode(sx_slice_of(buf, len), &d));
    assert_false(d.has_service);
}

static void test_server_hello_truncated(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    for (size_t i = 0; i < RT_COUNT; i++) {
        uint16_t v = rt_versions[i];
        sx_smp_server_hello h = sample_server_hello(v), d;
        size_t len = write_server_hello(&h, buf, sizeof buf);
        for (size_t cut = 0; cut < len; cut++) {
            sx_status st = sx_smp_server_hello_decode(sx_slice_of(buf, cut), &d);
            if (cut < 37) {
                /* range and session id are mandatory */
                assert_int_equal(st, SX_E_PROTOCOL);
            } else {
                /* The untagged CertChainPubKey is optional in the parser: a
                 * cut one is absent (the client then refuses it,
                 * PROTOCOL-NOTES B18). */
                assert_ok(st);
                assert_false(d.has_cert_key);
            }
        }
    }
}

static void test_client_hello_truncated(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    for (size_t i = 0; i < RT_COUNT; i++) {
        uint16_t v = rt_versions[i];
        sx_smp_client_hello h = sample_client_hello(v), d;
        size_t len = write_client_hello(&h, buf, sizeof buf);
        for (size_t cut = 0; cut < len; cut++) {
            sx_status st = sx_smp_client_hello_decode(sx_slice_of(buf, cut), &d);
            if (cut >= 35 && v >= 7 && v < 14) {
                /* v7..13: the untagged key is the last field; cut, it is
                 * absent, as in the reference. */
                assert_ok(st);
                assert_false(d.has_dh_key);
            } else {
                assert_int_equal(st, SX_E_PROTOCOL);
            }
        }
    }
}

static void test_trailing_ignored(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    const char tail[] = "future fields \x01\x02\xff";
    for (size_t i = 0; i < RT_COUNT; i++) {
        uint16_t v = rt_versions[i];
        sx_smp_server_hello sh = sample_server_hello(v), sd;
        size_t len = write_server_hello(&sh, buf, sizeof buf);
        memcpy(buf + len, tail, sizeof tail);
        assert_ok(sx_smp_server_hello_decode(sx_slice_of(buf, len + sizeof tail), &sd));
        assert_int_equal(sd.has_cert_key, v >= 7);
        if (v >= 7)
            assert_cert_key_equal(&sd.cert_key, &sh.cert_key);

        sx_smp_client_hello ch = sample_client_hello(v), cd;
        len = write_client_hello(&ch, buf, sizeof buf);
        memcpy(buf + len, tail, sizeof tail);
        assert_ok(sx_smp_client_hello_decode(sx_slice_of(buf, len + sizeof tail), &cd));
        assert_int_equal(cd.version, v);
        assert_int_equal(cd.has_dh_key, v >= 7);
        assert_int_equal(cd.has_service, v >= 16);
    }
    /* v6 client hello followed by what would be a key at v7: ignored. */
    sx_smp_client_hello h = sample_client_hello(6), d;
    size_t len = write_client_hello(&h, buf, sizeof buf);
    assert_int_equal(len, 35);
    sx_smp_client_hello h7 = sample_client_hello(7);
    size_t len7 = write_client_hello(&h7, buf + 100, sizeof buf - 100);
    memcpy(buf + len, buf + 100 + 35, len7 - 35);
    assert_ok(sx_smp_client_hello_decode(sx_slice_of(buf, len + len7 - 35), &d));
    assert_false(d.has_dh_key);
}

static void test_bad_fields(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    sx_smp_server_hello d;
    /* PROTOCOL-NOTES A20/A14: min > max. */
    const uint8_t bad_range[] = {0, 7, 0, 6, 1, 0xaa};
    assert_int_equal(sx_smp_server_hello_decode(sx_slice_of(bad_range, sizeof bad_range), &d),
                     SX_E_PROTOCOL);
    sx_smp_server_hello h = sample_server_hello(19);
    h.range = (sx_version_range){10, 9};
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_smp_server_hello_write(&w, &h));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);

    /* Session id length byte larger than what follows. */
    const uint8_t short_sid[] = {0, 6, 0, 6, 33, 1, 2, 3};
    assert_int_equal(sx_smp_server_hello_decode(sx_slice_of(short_sid, sizeof short_sid), &d),
                     SX_E_PROTOCOL);

    /* Client hello: bad Bool, bad Maybe tag, bad role, oversized chain length. */
    sx_smp_client_hello ch = sample_client_hello(16), cd;
    size_t len = write_client_hello(&ch, buf, sizeof buf);
    buf[80] = 'X'; /* proxyServer */
    assert_int_equal(sx_smp_client_hello_decode(sx_slice_of(buf, len), &cd), SX_E_PROTOCOL);
    buf[80] = 'T';
    buf[81] = '2'; /* Maybe tag */
    assert_int_equal(sx_smp_client_hello_decode(sx_slice_of(buf, len), &cd), SX_E_PROTOCOL);
    buf[81] = '1';
    buf[82] = 'Q'; /* role */
    assert_int_equal(sx_smp_client_hello_decode(sx_slice_of(buf, len), &cd), SX_E_PROTOCOL);
    buf[82] = 'P';
    assert_ok(sx_smp_client_hello_decode(sx_slice_of(buf, len), &cd));
    assert_int_equal(cd.service_role, SX_SMP_SERVICE_PROXY);
    buf[83] = 5; /* chain of 5 certificates */
    assert_int_equal(sx_smp_client_hello_decode(sx_slice_of(buf, len), &cd), SX_E_PROTOCOL);
    buf[83] = 2;
    buf[84] = 0xff; /* first certificate's Large length beyond the input */
    assert_int_equal(sx_smp_client_hello_decode(sx_slice_of(buf, len), &cd), SX_E_PROTOCOL);

    /* A key that is not X25519 at v11 is no key (the reference's optional
     * parser), and at v14 the following Bool then fails on its length byte. */
    sx_smp_client_hello k = sample_client_hello(11);
    len = write_client_hello(&k, buf, sizeof buf);
    buf[35 + 1 + 8] = 0x70; /* OID 1.3.101.110 -> 1.3.101.112 (Ed25519) */
    assert_ok(sx_smp_client_hello_decode(sx_slice_of(buf, len), &cd));
    assert_false(cd.has_dh_key);
    k = sample_client_hello(14);
    len = write_client_hello(&k, buf, sizeof buf);
    buf[35 + 1 + 8] = 0x70;
    assert_int_equal(sx_smp_client_hello_decode(sx_slice_of(buf, len), &cd), SX_E_PROTOCOL);

    /* Writers refuse a chain of 0 and a bad role. */
    ch = sample_client_hello(16);
    ch.service_role = (sx_smp_service_role)'Z';
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_smp_client_hello_write(&w, &ch));
    ch = sample_client_hello(16);
    ch.service.chain_len = 0;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_smp_client_hello_write(&w, &ch));
}

/* ------------------------------------------------------------------ */
/* Transport errors and the service reply                               */

static void test_transport_error_text(void **state)
{
    (void)state;
    const char *names[] = {"", "BLOCK", "VERSION", "LARGE_MSG", "SESSION", "NO_AUTH",
                           "HANDSHAKE PARSE", "HANDSHAKE IDENTITY", "HANDSHAKE BAD_AUTH",
                           "HANDSHAKE BAD_SERVICE"};
    for (int e = SX_TE_BLOCK; e <= SX_TE_HANDSHAKE_BAD_SERVICE; e++) {
        assert_string_equal(sx_transport_error_str((sx_transport_error)e), names[e]);
        uint8_t buf[64];
        sx_writer w;
        sx_writer_init_fixed(&w, buf, sizeof buf);
        assert_true(sx_transport_error_write(&w, (sx_transport_error)e));
        assert_int_equal(w.len, strlen(names[e]));
        assert_bytes_equal(buf, names[e], w.len);
        /* followed by a space and more: only the error is read */
        sx_write_str(&w, " rest");
        sx_reader r;
        sx_reader_init(&r, buf, w.len);
        sx_transport_error got;
        assert_true(sx_transport_error_read(&r, &got));
        assert_int_equal(got, e);
        assert_int_equal(sx_reader_remaining(&r), 5);
    }
    const char *bad[] = {"", "BLOCKS", "HANDSHAKE", "HANDSHAKE ", "HANDSHAKE FOO", "block",
                         "HANDSHAKEPARSE"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sx_reader r;
        sx_reader_init(&r, (const uint8_t *)bad[i], strlen(bad[i]));
        sx_transport_error got;
        assert_false(sx_transport_error_read(&r, &got));
    }
    sx_writer w;
    uint8_t buf[8];
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_transport_error_write(&w, SX_TE_NONE));
}

static void test_service_reply_codec(void **state)
{
    (void)state;
    uint8_t buf[300];
    sx_smp_service_reply rep = {.ok = true, .service_id = sx_slice_str("0123456789abcdef01234567")};
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_smp_service_reply_write(&w, &rep));
    assert_int_equal(w.len, 26);
    assert_int_equal(buf[0], 'R');
    assert_int_equal(buf[1], 24);
    sx_smp_service_reply d;
    for (size_t cut = 0; cut < w.len; cut++)
        assert_int_equal(sx_smp_service_reply_decode(sx_slice_of(buf, cut), &d), SX_E_PROTOCOL);
    buf[w.len] = '#';
    assert_ok(sx_smp_service_reply_decode(sx_slice_of(buf, w.len + 1), &d));
    assert_true(d.ok);
    assert_true(sx_slice_eq(d.service_id, rep.service_id));

    rep = (sx_smp_service_reply){.ok = false, .error = SX_TE_HANDSHAKE_BAD_SERVICE};
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_smp_service_reply_write(&w, &rep));
    assert_int_equal(w.len, 22);
    assert_bytes_equal(buf, "EHANDSHAKE BAD_SERVICE", 22);
    assert_ok(sx_smp_service_reply_decode(sx_slice_of(buf, w.len), &d));
    assert_false(d.ok);
    assert_int_equal(d.error, SX_TE_HANDSHAKE_BAD_SERVICE);
    assert_int_equal(sx_smp_service_reply_decode(sx_slice_of(buf, 10), &d), SX_E_PROTOCOL);
    const uint8_t other[] = {'X', 1, 'a'};
    assert_int_equal(sx_smp_service_reply_decode(sx_slice_of(other, 3), &d), SX_E_PROTOCOL);

    /* As a block: padded, never encrypted. */
    assert_ok(sx_smp_service_reply_block(&rep, blk_a));
    assert_int_equal(blk_a[1], 22);
    assert_int_equal(blk_a[2], 'E');
}

/* ------------------------------------------------------------------ */
/* Negotiation                                                          */

static void test_negotiate_v19_encrypted(void **state)
{
    (void)state;
    sx_smp_client_config cc = client_cfg(sx_smp_server_vrange());
    run r;
    run_handshake(&r, &fx.cfg, true, &cc, NULL, NULL);
    assert_ok(r.srv_start);
    assert_ok(r.cli);
    assert_ok(r.srv_finish);
    assert_int_equal(r.srv_te, SX_TE_NONE);
    assert_int_equal(r.srv.version, 19);
    assert_int_equal(r.cli_s.version, 19);
    assert_int_equal(r.srv.range.min, 6);
    assert_int_equal(r.srv.range.max, 19);
    assert_true(r.srv.is_server);
    assert_false(r.cli_s.is_server);
    assert_true(r.srv.encrypted && r.cli_s.encrypted);
    assert_true(r.srv.has_secret && r.cli_s.has_secret);
    assert_bytes_equal(r.srv.secret, r.cli_s.secret, 32);
    assert_true(sx_slice_eq(sx_smp_session_id(&r.srv), sx_slice_of(fx.sid, 32)));
    assert_true(sx_slice_eq(sx_smp_session_id(&r.cli_s), sx_slice_of(fx.sid, 32)));
    /* Keys that later layers use for PROTOCOL-NOTES C8 authenticators. */
    assert_non_null(r.srv.server_dh_priv);
    assert_null(r.srv.server_dh_pub);
    assert_non_null(r.cli_s.server_dh_pub);
    assert_true(sx_key_public_equal(r.srv.server_dh_priv, r.cli_s.server_dh_pub));
    assert_null(r.hs.dh_key); /* moved into the session */
    /* The client keeps the server's chain. */
    assert_int_equal(r.cli_s.peer_chain_len, 2);
    assert_true(sx_slice_eq(r.cli_s.peer_chain[0], fx.chain[0]));
    assert_true(sx_slice_eq(r.cli_s.peer_chain[1], fx.chain[1]));
    assert_int_equal(r.srv.peer_chain_len, 0);
    assert_int_equal(sx_smp_session_batch_capacity(&r.srv), SX_BATCH_CAP_ENCRYPTED);
    /* Several blocks both ways keep the chains in step (PROTOCOL-NOTES B31,
     * B32). */
    for (int i = 0; i < 5; i++) {
        exchange(&r.cli_s, &r.srv, "client to server");
        exchange(&r.srv, &r.cli_s, "server to client");
    }
    /* A server block cannot be read as a client block by the server. */
    sx_slice content;
    uint8_t msg[] = {1, 0, 1, 'x'};
    assert_ok(sx_smp_session_write_block(&r.srv, sx_slice_of(msg, 4), blk_c));
    assert_int_equal(sx_smp_session_read_block(&r.srv, blk_c, &content), SX_E_AUTH);
    run_cleanup(&r);
}

static void test_negotiate_legacy_no_alpn(void **state)
{
    (void)state;
    sx_smp_client_config cc = client_cfg(sx_smp_server_vrange());
    run r;
    run_handshake(&r, &fx.cfg, false, &cc, NULL, NULL);
    assert_ok(r.cli);
    assert_ok(r.srv_finish);
    assert_int_equal(r.srv.version, 6);
    assert_int_equal(r.cli_s.version, 6);
    assert_false(r.srv.encrypted || r.cli_s.encrypted);
    assert_false(r.srv.has_secret || r.cli_s.has_secret);
    assert_null(r.cli_s.server_dh_pub); /* no CertChainPubKey below v7 */
    assert_int_equal(r.cli_s.peer_chain_len, 0);
    /* The v6 client hello is version and key hash only. */
    assert_int_equal(block_content(blk_b).len, 35);
    assert_int_equal(sx_smp_session_batch_capacity(&r.cli_s), SX_BATCH_CAP_PLAIN);
    exchange(&r.cli_s, &r.srv, "plain");
    exchange(&r.srv, &r.cli_s, "plain back");
    run_cleanup(&r);
}

static void test_negotiate_v10_unencrypted(void **state)
{
    (void)state;
    sx_smp_client_config cc = client_cfg((sx_version_range){6, 10});
    run r;
    run_handshake(&r, &fx.cfg, true, &cc, NULL, NULL);
    assert_ok(r.cli);
    assert_ok(r.srv_finish);
    assert_int_equal(r.srv.version, 10);
    assert_int_equal(r.cli_s.range.max, 10);
    assert_int_equal(r.srv.range.max, 10);
    assert_true(r.srv.has_secret && r.cli_s.has_secret); /* keys exchanged (v >= 7) */
    assert_false(r.srv.encrypted || r.cli_s.encrypted);  /* but no block encryption (v < 11) */
    exchange(&r.cli_s, &r.srv, "v10");
    run_cleanup(&r);

    /* v11 is the first encrypted version. */
    cc = client_cfg((sx_version_range){6, 11});
    run_handshake(&r, &fx.cfg, true, &cc, NULL, NULL);
    assert_ok(r.srv_finish);
    assert_int_equal(r.srv.version, 11);
    assert_true(r.srv.encrypted && r.cli_s.encrypted);
    exchange(&r.cli_s, &r.srv, "v11");
    run_cleanup(&r);
}

static void test_negotiate_version_errors(void **state)
{
    (void)state;
    /* Client side: no intersection. */
    sx_smp_client_config cc = client_cfg((sx_version_range){20, 25});
    run r;
    run_handshake(&r, &fx.cfg, true, &cc, NULL, NULL);
    assert_int_equal(r.cli, SX_E_PROTOCOL);
    assert_int_equal(r.cli_te, SX_TE_VERSION);
    assert_null(r.cli_s.server_dh_pub);
    run_cleanup(&r);
    cc = client_cfg((sx_version_range){7, 19});
    run_handshake(&r, &fx.cfg, false, &cc, NULL, NULL); /* legacy server 6..6 */
    assert_int_equal(r.cli_te, SX_TE_VERSION);
    run_cleanup(&r);

    /* Server side: a version outside the offered range. */
    const uint16_t bad[] = {5, 20, 0xffff};
    for (size_t i = 0; i < 3; i++) {
        sx_smp_server_hs hs;
        sx_smp_tls_info st = server_tls(true);
        assert_ok(sx_smp_server_hs_start(&hs, &fx.cfg, &st, blk_a));
        sx_smp_client_hello h = sample_client_hello(bad[i]);
        h.has_service = false;
        uint8_t buf[256];
        make_block(sx_slice_of(buf, write_client_hello(&h, buf, sizeof buf)), blk_b);
        sx_smp_session s;
        sx_transport_error te;
        assert_int_equal(sx_smp_server_hs_finish(&hs, &st, blk_b, &s, &te), SX_E_PROTOCOL);
        assert_int_equal(te, SX_TE_VERSION);
        assert_false(hs.reply_error);
        sx_smp_server_hs_cleanup(&hs);
    }
    /* Legacy server (no ALPN) refuses v7. */
    sx_smp_server_hs hs;
    sx_smp_tls_info st = server_tls(false);
    assert_ok(sx_smp_server_hs_start(&hs, &fx.cfg, &st, blk_a));
    sx_smp_client_hello h = sample_client_hello(7);
    uint8_t buf[256];
    make_block(sx_slice_of(buf, write_client_hello(&h, buf, sizeof buf)), blk_b);
    sx_smp_session s;
    sx_transport_error te;
    assert_int_equal(sx_smp_server_hs_finish(&hs, &st, blk_b, &s, &te), SX_E_PROTOCOL);
    assert_int_equal(te, SX_TE_VERSION);
    sx_smp_server_hs_cleanup(&hs);
}

static void test_negotiate_identity(void **state)
{
    (void)state;
    /* Server side: the client hello names another server (PROTOCOL-NOTES
     * B19). */
    sx_smp_client_config cc = client_cfg(sx_smp_server_vrange());
    sx_smp_server_config other = fx.cfg;
    other.key_hash[0] ^= 1; /* the server believes it is someone else */
    run r;
    run_handshake(&r, &other, true, &cc, NULL, NULL);
    assert_ok(r.cli);
    assert_int_equal(r.srv_finish, SX_E_AUTH);
    assert_int_equal(r.srv_te, SX_TE_HANDSHAKE_IDENTITY);
    assert_false(r.hs.reply_error); /* closed without an error block */
    assert_null(r.srv.server_dh_priv);
    run_cleanup(&r);

    /* Client side: the hello's chain is not the expected identity
     * (PROTOCOL-NOTES B18). */
    cc.key_hash[5] ^= 0x80;
    run_handshake(&r, &fx.cfg, true, &cc, NULL, NULL);
    assert_int_equal(r.cli, SX_E_AUTH);
    assert_int_equal(r.cli_te, SX_TE_HANDSHAKE_BAD_AUTH);
    run_cleanup(&r);
}

static void test_negotiate_session_mismatch(void **state)
{
    (void)state;
    sx_smp_client_config cc = client_cfg(sx_smp_server_vrange());
    sx_smp_tls_info ct = client_tls();
    uint8_t other[32];
    memcpy(other, fx.sid, 32);
    other[31] ^= 1;
    ct.tls_unique = sx_slice_of(other, 32);
    run r;
    run_handshake(&r, &fx.cfg, true, &cc, &ct, NULL);
    assert_int_equal(r.cli, SX_E_PROTOCOL);
    assert_int_equal(r.cli_te, SX_TE_SESSION);
    run_cleanup(&r);
    /* A shorter tls-unique (a prefix) is another session too. */
    ct.tls_unique = sx_slice_of(fx.sid, 31);
    run_handshake(&r, &fx.cfg, true, &cc, &ct, NULL);
    assert_int_equal(r.cli_te, SX_TE_SESSION);
    run_cleanup(&r);
}

/* Client processing of a hand-made server hello. */
static sx_status client_on(const sx_smp_server_hello *h, sx_transport_error *te)
{
    static uint8_t buf[8192];
    make_block(sx_slice_of(buf, write_server_hello(h, buf, sizeof buf)), blk_a);
    sx_smp_client_config cc = client_cfg(sx_smp_server_vrange());
    sx_smp_tls_info ct = client_tls();
    sx_smp_session s;
    sx_status st = sx_smp_client_hs_process(&cc, &ct, blk_a, blk_b, &s, te);
    sx_smp_session_cleanup(&s);
    return st;
}

static void test_negotiate_bad_auth(void **state)
{
    (void)state;
    sx_transport_error te;
    sx_smp_server_hello h = sample_server_hello(19);
    assert_ok(client_on(&h, &te));
    assert_int_equal(te, SX_TE_NONE);

    /* One bit of the signature. */
    static uint8_t sk[SX_SIGNED_KEY_MAX];
    memcpy(sk, h.cert_key.signed_key.ptr, h.cert_key.signed_key.len);
    sk[h.cert_key.signed_key.len - 1] ^= 1;
    h.cert_key.signed_key = sx_slice_of(sk, h.cert_key.signed_key.len);
    assert_int_equal(client_on(&h, &te), SX_E_AUTH);
    assert_int_equal(te, SX_TE_HANDSHAKE_BAD_AUTH);

    /* Signed by another key than the TLS leaf's. */
    h = sample_server_hello(19);
    sx_key *other = NULL, *dh = x25519_from_seq(0x80);
    assert_ok(sx_key_generate(SX_KEY_ED448, &other));
    sx_writer w;
    sx_writer_init_fixed(&w, sk, sizeof sk);
    assert_true(sx_x509_write_signed_key(&w, other, dh));
    h.cert_key.signed_key = sx_writer_slice(&w);
    assert_int_equal(client_on(&h, &te), SX_E_AUTH);
    assert_int_equal(te, SX_TE_HANDSHAKE_BAD_AUTH);

    /* A signed Ed25519 key where an X25519 key belongs. */
    h = sample_server_hello(19);
    sx_key *ed = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &ed));
    sx_writer_init_fixed(&w, sk, sizeof sk);
    assert_true(sx_x509_write_signed_key(&w, fx.leaf_key, ed));
    h.cert_key.signed_key = sx_writer_slice(&w);
    assert_int_equal(client_on(&h, &te), SX_E_AUTH);
    assert_int_equal(te, SX_TE_HANDSHAKE_BAD_AUTH);

    /* Chains of 1 and of 3 with the identity not 2nd. */
    h = sample_server_hello(19);
    h.cert_key.chain_len = 1;
    assert_int_equal(client_on(&h, &te), SX_E_AUTH);
    assert_int_equal(te, SX_TE_HANDSHAKE_BAD_AUTH);
    h = sample_server_hello(19);
    h.cert_key.chain_len = 3;
    h.cert_key.chain[1] = fx.chain[0];
    h.cert_key.chain[2] = fx.chain[1];
    assert_int_equal(client_on(&h, &te), SX_E_AUTH);
    /* ... and a 3-chain whose 2nd is the identity is accepted (PROTOCOL-NOTES
     * B10). */
    h.cert_key.chain[1] = fx.chain[1];
    assert_ok(client_on(&h, &te));

    /* No CertChainPubKey although the server offers v7+ (our stricter rule). */
    h = sample_server_hello(19);
    h.has_cert_key = false;
    assert_int_equal(client_on(&h, &te), SX_E_AUTH);
    assert_int_equal(te, SX_TE_HANDSHAKE_BAD_AUTH);

    /* A small-order server key gives no secret. */
    h = sample_server_hello(19);
    uint8_t zero[32] = {0};
    sx_key *z = NULL;
    assert_ok(sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(zero, 32), &z));
    sx_writer_init_fixed(&w, sk, sizeof sk);
    assert_true(sx_x509_write_signed_key(&w, fx.leaf_key, z));
    h.cert_key.signed_key = sx_writer_slice(&w);
    assert_int_equal(client_on(&h, &te), SX_E_AUTH);
    assert_int_equal(te, SX_TE_HANDSHAKE_BAD_AUTH);

    /* No TLS leaf to verify with. */
    h = sample_server_hello(19);
    static uint8_t buf[8192];
    make_block(sx_slice_of(buf, write_server_hello(&h, buf, sizeof buf)), blk_a);
    sx_smp_client_config cc = client_cfg(sx_smp_server_vrange());
    sx_smp_tls_info ct = client_tls();
    ct.peer_chain_len = 0;
    sx_smp_session s;
    assert_int_equal(sx_smp_client_hs_process(&cc, &ct, blk_a, blk_b, &s, &te), SX_E_AUTH);
    sx_key_free(z);
    sx_key_free(ed);
    sx_key_free(other);
    sx_key_free(dh);
}

static void test_negotiate_parse_errors(void **state)
{
    (void)state;
    sx_smp_client_config cc = client_cfg(sx_smp_server_vrange());
    sx_smp_tls_info ct = client_tls(), st = server_tls(true);
    sx_smp_session s;
    sx_transport_error te;
    /* Not a padded block: declared length beyond the block. */
    memset(blk_a, 0xff, SX_BLOCK_SIZE);
    assert_int_equal(sx_smp_client_hs_process(&cc, &ct, blk_a, blk_b, &s, &te), SX_E_PROTOCOL);
    assert_int_equal(te, SX_TE_HANDSHAKE_PARSE);
    /* A block with a truncated hello. */
    const uint8_t cut[] = {0, 6, 0, 19, 32, 1, 2};
    make_block(sx_slice_of(cut, sizeof cut), blk_a);
    assert_int_equal(sx_smp_client_hs_process(&cc, &ct, blk_a, blk_b, &s, &te), SX_E_PROTOCOL);
    assert_int_equal(te, SX_TE_HANDSHAKE_PARSE);

    sx_smp_server_hs hs;
    assert_ok(sx_smp_server_hs_start(&hs, &fx.cfg, &st, blk_a));
    const uint8_t ccut[] = {0, 19, 32, 1};
    make_block(sx_slice_of(ccut, sizeof ccut), blk_b);
    assert_int_equal(sx_smp_server_hs_finish(&hs, &st, blk_b, &s, &te), SX_E_PROTOCOL);
    assert_int_equal(te, SX_TE_HANDSHAKE_PARSE);
    assert_false(hs.reply_error);
    sx_smp_server_hs_cleanup(&hs);
}

static void test_negotiate_proxy(void **state)
{
    (void)state;
    /* A proxy and a relay at 14+: the top version, but no block encryption. */
    sx_smp_client_config cc = client_cfg(sx_smp_server_vrange());
    cc.proxy_server = true;
    run r;
    run_handshake(&r, &fx.cfg, true, &cc, NULL, NULL);
    assert_ok(r.srv_finish);
    assert_int_equal(r.srv.version, 19);
    assert_true(r.srv.proxy_server);
    assert_true(r.srv.has_secret && r.cli_s.has_secret);
    assert_false(r.srv.encrypted || r.cli_s.encrypted);
    exchange(&r.cli_s, &r.srv, "proxied");
    run_cleanup(&r);

    /* PROTOCOL-NOTES B20: a relay whose max < 14: the proxy caps itself at
     * 10. */
    sx_smp_server_config old = fx.cfg;
    old.range = (sx_version_range){6, 12};
    run_handshake(&r, &old, true, &cc, NULL, NULL);
    assert_ok(r.srv_finish);
    assert_int_equal(r.cli_s.version, 10);
    assert_int_equal(r.srv.version, 10);
    assert_false(r.srv.proxy_server); /* no flag below v14 */
    assert_false(r.srv.encrypted);
    run_cleanup(&r);
    /* ... unless its own minimum is higher. */
    cc.range = (sx_version_range){11, 19};
    run_handshake(&r, &old, true, &cc, NULL, NULL);
    assert_ok(r.srv_finish);
    assert_int_equal(r.srv.version, 11);
    run_cleanup(&r);
    /* An ordinary client with the same relay gets 12 and encryption. */
    cc = client_cfg(sx_smp_server_vrange());
    run_handshake(&r, &old, true, &cc, NULL, NULL);
    assert_ok(r.srv_finish);
    assert_int_equal(r.srv.version, 12);
    assert_true(r.srv.encrypted);
    run_cleanup(&r);
}

static void test_server_without_client_key(void **state)
{
    (void)state;
    sx_smp_server_hs hs;
    sx_smp_tls_info st = server_tls(true);
    assert_ok(sx_smp_server_hs_start(&hs, &fx.cfg, &st, blk_a));
    sx_smp_client_hello h = sample_client_hello(11);
    h.has_dh_key = false;
    uint8_t buf[256];
    make_block(sx_slice_of(buf, write_client_hello(&h, buf, sizeof buf)), blk_b);
    sx_smp_session s;
    sx_transport_error te;
    assert_ok(sx_smp_server_hs_finish(&hs, &st, blk_b, &s, &te));
    assert_int_equal(s.version, 11);
    assert_false(s.has_secret);
    assert_false(s.encrypted);
    assert_non_null(s.server_dh_priv);
    sx_smp_session_cleanup(&s);
    sx_smp_server_hs_cleanup(&hs);

    /* A small-order client key. */
    assert_ok(sx_smp_server_hs_start(&hs, &fx.cfg, &st, blk_a));
    h = sample_client_hello(19);
    h.has_service = false;
    memset(h.dh_key, 0, 32);
    make_block(sx_slice_of(buf, write_client_hello(&h, buf, sizeof buf)), blk_b);
    assert_int_equal(sx_smp_server_hs_finish(&hs, &st, blk_b, &s, &te), SX_E_AUTH);
    assert_int_equal(te, SX_TE_HANDSHAKE_BAD_AUTH);
    assert_non_null(hs.dh_key); /* still owned by hs */
    sx_smp_server_hs_cleanup(&hs);
}

static void test_negotiate_service(void **state)
{
    (void)state;
    sx_key *svc_key = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &svc_key));
    sx_smp_client_service svc = {
        .role = SX_SMP_SERVICE_NOTIFIER,
        .chain_len = 2,
        .chain = {fx.chain[0], fx.chain[1]},
        .leaf_key = fx.leaf_key,
        .service_key = svc_key,
    };
    sx_smp_client_config cc = client_cfg(sx_smp_server_vrange());
    cc.service = &svc;
    /* The server sees the same chain as the client's TLS certificate. */
    sx_smp_tls_info st = server_tls(true);
    st.peer_chain_len = 2;
    st.peer_chain[0] = fx.chain[0];
    st.peer_chain[1] = fx.chain[1];
    run r;
    run_handshake(&r, &fx.cfg, true, &cc, NULL, &st);
    assert_ok(r.cli);
    assert_true(r.cli_s.service_pending);
    assert_false(r.cli_s.has_service);
    assert_ok(r.srv_finish);
    assert_true(r.srv.has_service);
    assert_int_equal(r.srv.service_role, SX_SMP_SERVICE_NOTIFIER);
    assert_bytes_equal(r.srv.service_cert_hash, fx.fp, 32); /* the id (2nd) certificate */
    assert_bytes_equal(r.cli_s.service_cert_hash, fx.fp, 32);
    assert_true(sx_key_public_equal(r.srv.service_key, svc_key));
    assert_int_equal(r.srv.peer_chain_len, 2);
    assert_true(sx_slice_eq(r.srv.peer_chain[1], fx.chain[1]));

    /* 'R' with the id the router assigns. */
    sx_smp_service_reply rep = {.ok = true, .service_id = sx_slice_str("service-id-0123456789abc")};
    assert_ok(sx_smp_service_reply_block(&rep, blk_c));
    sx_transport_error te;
    assert_ok(sx_smp_client_hs_service_reply(&r.cli_s, blk_c, &te));
    assert_true(r.cli_s.has_service);
    assert_false(r.cli_s.service_pending);
    assert_int_equal(r.cli_s.service_id_len, 24);
    assert_bytes_equal(r.cli_s.service_id, "service-id-0123456789abc", 24);
    assert_int_equal(sx_smp_client_hs_service_reply(&r.cli_s, blk_c, &te), SX_E_USAGE);
    /* Block encryption starts after the third block. */
    exchange(&r.cli_s, &r.srv, "service");
    run_cleanup(&r);

    /* 'E': the client fails with the server's error. */
    run_handshake(&r, &fx.cfg, true, &cc, NULL, &st);
    assert_ok(r.srv_finish);
    rep = (sx_smp_service_reply){.ok = false, .error = SX_TE_HANDSHAKE_BAD_SERVICE};
    assert_ok(sx_smp_service_reply_block(&rep, blk_c));
    assert_int_equal(sx_smp_client_hs_service_reply(&r.cli_s, blk_c, &te), SX_E_AUTH);
    assert_int_equal(te, SX_TE_HANDSHAKE_BAD_SERVICE);
    run_cleanup(&r);

    /* The TLS chain differs from the hello's: BAD_AUTH, answered with 'E'. */
    sx_smp_tls_info st1 = st;
    st1.peer_chain_len = 1;
    run_handshake(&r, &fx.cfg, true, &cc, NULL, &st1);
    assert_int_equal(r.srv_finish, SX_E_AUTH);
    assert_int_equal(r.srv_te, SX_TE_HANDSHAKE_BAD_AUTH);
    assert_true(r.hs.reply_error);
    assert_false(r.srv.has_service);
    run_cleanup(&r);

    /* Signed by another key than the leaf's. */
    sx_key *other = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED448, &other));
    svc.leaf_key = other;
    run_handshake(&r, &fx.cfg, true, &cc, NULL, &st);
    assert_int_equal(r.srv_te, SX_TE_HANDSHAKE_BAD_AUTH);
    assert_true(r.hs.reply_error);
    run_cleanup(&r);
    svc.leaf_key = fx.leaf_key;

    /* A service key that is not Ed25519. */
    sx_key *x = x25519_from_seq(0x11);
    svc.service_key = x;
    run_handshake(&r, &fx.cfg, true, &cc, NULL, &st);
    assert_int_equal(r.srv_te, SX_TE_HANDSHAKE_BAD_AUTH);
    run_cleanup(&r);
    svc.service_key = svc_key;

    /* Not sent below v16, nor a messaging service below v19. */
    cc.range = (sx_version_range){6, 15};
    run_handshake(&r, &fx.cfg, true, &cc, NULL, &st);
    assert_ok(r.srv_finish);
    assert_false(r.cli_s.service_pending);
    assert_false(r.srv.has_service);
    run_cleanup(&r);
    svc.role = SX_SMP_SERVICE_MESSAGING;
    cc.range = (sx_version_range){6, 18};
    run_handshake(&r, &fx.cfg, true, &cc, NULL, &st);
    assert_ok(r.srv_finish);
    assert_false(r.srv.has_service);
    run_cleanup(&r);
    cc.range = sx_smp_server_vrange();
    run_handshake(&r, &fx.cfg, true, &cc, NULL, &st);
    assert_ok(r.srv_finish);
    assert_true(r.srv.has_service);
    assert_int_equal(r.srv.service_role, SX_SMP_SERVICE_MESSAGING);
    run_cleanup(&r);

    sx_key_free(x);
    sx_key_free(other);
    sx_key_free(svc_key);
}

/* ------------------------------------------------------------------ */
/* PROTOCOL-NOTES W11 through the
 * session                                             */

static void test_w11_key_schedule(void **state)
{
    (void)state;
    sx_smp_server_hs hs;
    sx_smp_tls_info st = server_tls(true), ct = client_tls();
    assert_ok(sx_smp_server_hs_start_with_key(&hs, &fx.cfg, &st, x25519_from_seq(0x80), blk_a));
    sx_key *ck = x25519_from_seq(0x40);
    sx_smp_client_config cc = client_cfg(sx_smp_server_vrange());
    sx_smp_session cs, ss;
    assert_ok(sx_smp_client_hs_process_with_key(&cc, &ct, blk_a, ck, blk_b, &cs, NULL));
    assert_ok(sx_smp_server_hs_finish(&hs, &st, blk_b, &ss, NULL));

    uint8_t want[32];
    tu_hex_to("dcd77236231add34de0561c47859a65d304f2a8550e8df98df053cf5dfabea0b", want, 32);
    assert_bytes_equal(ss.secret, want, 32);
    assert_bytes_equal(cs.secret, want, 32);
    uint8_t ck1[32], ck2[32];
    tu_hex_to("15edae1e6c8f3388f7cbb988ef10c584ed813a69a55b89b2262128c3b0dafb82", ck1, 32);
    tu_hex_to("2748471430da6bc42732cca6f00f059f45205344ad2c88ccc4649c10385039f4", ck2, 32);
    assert_bytes_equal(ss.snd.ck, ck1, 32); /* router sends on ck1 */
    assert_bytes_equal(ss.rcv.ck, ck2, 32);
    assert_bytes_equal(cs.snd.ck, ck2, 32); /* client sends on ck2 */
    assert_bytes_equal(cs.rcv.ck, ck1, 32);

    /* First step of each send chain. */
    sx_sbchain c = ss.snd;
    uint8_t key[32], nonce[24], wk[32], wn[24];
    assert_ok(sx_sbchain_step(&c, key, nonce));
    tu_hex_to("927287cc3a53315fd3fd6337700c1a09fd35001528ac5cf8e899cb94ba59fdc9", wk, 32);
    tu_hex_to("e302905a8b92d0d182e9aa90ca434a424673419ee1443c28", wn, 24);
    assert_bytes_equal(key, wk, 32);
    assert_bytes_equal(nonce, wn, 24);
    c = cs.snd;
    assert_ok(sx_sbchain_step(&c, key, nonce));
    tu_hex_to("79ed188791e53ced0a29f3a2f23ff318c805dc815de085eda0be2fabe30a9dab", wk, 32);
    tu_hex_to("799bdef469eeeaae0c27ca6549c1bb044958763223973800", wn, 24);
    assert_bytes_equal(key, wk, 32);
    assert_bytes_equal(nonce, wn, 24);

    /* The router's first block for "PONG!!", as computed by the reference. */
    const uint8_t pong[] = {0x01, 0x00, 0x06, 'P', 'O', 'N', 'G', '!', '!'};
    assert_ok(sx_smp_session_write_block(&ss, sx_slice_of(pong, sizeof pong), blk_c));
    uint8_t head[48], digest[32];
    tu_hex_to("3b901eb0646894f14a5cb133abe7e1d8e342052517b6e7c36a8db72e19ffbfe4"
              "5cd0a09d1f1e6a788d12fe07b04178f4",
              head, 48);
    assert_bytes_equal(blk_c, head, 48);
    assert_ok(sx_sha256(sx_slice_of(blk_c, SX_BLOCK_SIZE), digest));
    tu_hex_to("d7386e7e760c9efaf1ca48554e357729bc62a0a46302a0be3c17ed9707b5bce8", want, 32);
    assert_bytes_equal(digest, want, 32);
    sx_slice got;
    assert_ok(sx_smp_session_read_block(&cs, blk_c, &got));
    assert_true(sx_slice_eq(got, sx_slice_of(pong, sizeof pong)));

    /* The second router block uses step 2; a dropped block desynchronises
     * the direction for good (PROTOCOL-NOTES P6). */
    assert_ok(sx_smp_session_write_block(&ss, sx_slice_of(pong, sizeof pong), blk_c));
    assert_ok(sx_smp_session_write_block(&ss, sx_slice_of(pong, sizeof pong), blk_c));
    assert_int_equal(sx_smp_session_read_block(&cs, blk_c, &got), SX_E_AUTH);

    sx_smp_session_cleanup(&cs);
    sx_smp_session_cleanup(&ss);
    sx_key_free(ck);
    sx_smp_server_hs_cleanup(&hs);
}

static void test_usage_errors(void **state)
{
    (void)state;
    sx_smp_server_hs hs;
    sx_smp_tls_info st = server_tls(true);
    st.tls_unique = sx_slice_of(NULL, 0);
    assert_int_equal(sx_smp_server_hs_start(&hs, &fx.cfg, &st, blk_a), SX_E_USAGE);
    assert_null(hs.dh_key);
    sx_smp_session s;
    memset(&s, 0, sizeof s);
    assert_int_equal(sx_smp_server_hs_finish(&hs, &st, blk_b, &s, NULL), SX_E_USAGE);
    sx_smp_client_config cc = client_cfg((sx_version_range){10, 9});
    sx_smp_tls_info ct = client_tls();
    assert_int_equal(sx_smp_client_hs_process(&cc, &ct, blk_a, blk_b, &s, NULL), SX_E_USAGE);
    uint8_t secret[32] = {0};
    assert_int_equal(sx_smp_session_start_encryption(&s, secret), SX_E_USAGE);
    sx_smp_session_cleanup(NULL);
    sx_smp_server_hs_cleanup(NULL);
    /* A client context has no chain for a server config. */
    sx_tls_client_config tc = {0};
    sx_tls_ctx *cctx = NULL;
    assert_ok(sx_tls_client_ctx_new(&tc, &cctx));
    sx_smp_server_config cfg;
    assert_int_equal(sx_smp_server_config_init(&cfg, cctx), SX_E_USAGE);
    sx_key *k = NULL;
    assert_int_equal(sx_tls_ctx_private_key(cctx, &k), SX_E_USAGE);
    sx_tls_ctx_free(cctx);
    /* The server config knows its identity and key. */
    assert_bytes_equal(fx.cfg.key_hash, fx.fp, 32);
    assert_int_equal(fx.cfg.chain_len, 2);
    assert_true(sx_key_public_equal(fx.cfg.sign_key, fx.leaf_key));
    assert_int_equal(fx.cfg.range.min, 6);
    assert_int_equal(fx.cfg.range.max, 19);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_w1_client_hello_layout),
        cmocka_unit_test(test_w2_server_hello_structure),
        cmocka_unit_test(test_server_hello_roundtrip),
        cmocka_unit_test(test_client_hello_roundtrip),
        cmocka_unit_test(test_server_hello_truncated),
        cmocka_unit_test(test_client_hello_truncated),
        cmocka_unit_test(test_trailing_ignored),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_transport_error_text),
        cmocka_unit_test(test_service_reply_codec),
        cmocka_unit_test(test_negotiate_v19_encrypted),
        cmocka_unit_test(test_negotiate_legacy_no_alpn),
        cmocka_unit_test(test_negotiate_v10_unencrypted),
        cmocka_unit_test(test_negotiate_version_errors),
        cmocka_unit_test(test_negotiate_identity),
        cmocka_unit_test(test_negotiate_session_mismatch),
        cmocka_unit_test(test_negotiate_bad_auth),
        cmocka_unit_test(test_negotiate_parse_errors),
        cmocka_unit_test(test_negotiate_proxy),
        cmocka_unit_test(test_server_without_client_key),
        cmocka_unit_test(test_negotiate_service),
        cmocka_unit_test(test_w11_key_schedule),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
