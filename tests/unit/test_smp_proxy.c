/* Unit tests of 2-hop routing's payloads and of the sending client's side
 * (PROTOCOL-NOTES D31-D37): the RFWD and RRES plaintexts (round trips,
 * every truncation, keys of the wrong kind), the sealed one-transmission
 * batches (size, wrong key or nonce, not one transmission, too large), a
 * whole PFWD opened as the relay opens it and its answer opened as the
 * client does, and the client's PKEY check against generated chains. */
#include "testutil.h"

#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/box.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "smp/command.h"
#include "smp/proxy.h"
#include "smp/response.h"
#include "smp/transmission.h"
#include "smp_client/smp_proxy.h"
#include "transport/block.h"

static uint8_t buf[SX_BLOCK_SIZE * 2], buf2[SX_BLOCK_SIZE * 2];

static sx_key *gen(sx_key_alg a)
{
    sx_key *k = NULL;
    assert_ok(sx_key_generate(a, &k));
    return k;
}

/* ---- RFWD / RRES plaintexts ---- */

static size_t make_fwd_t(uint8_t *out, size_t cap, sx_key *k, uint8_t key_der[SX_KEY_SPKI_MAX])
{
    uint8_t corr[24];
    tu_bytes_seq(corr, sizeof corr, 0x40);
    sx_smp_fwd_t f = {.corr_id = sx_slice_of(corr, 24), .version = 17};
    assert_ok(sx_smp_pubkey_of(k, key_der, &f.dh_key));
    f.enc = sx_slice_str("sealed transmission");
    sx_writer w;
    sx_writer_init_fixed(&w, out, cap);
    assert_true(sx_smp_fwd_t_write(&w, &f));
    return w.len;
}

static void test_fwd_t(void **state)
{
    (void)state;
    sx_key *k = gen(SX_KEY_X25519);
    uint8_t der[SX_KEY_SPKI_MAX];
    size_t n = make_fwd_t(buf, sizeof buf, k, der);
    /* ss(24) || Word16 || ss(44-byte SPKI) || tail */
    assert_int_equal(n, 1 + 24 + 2 + 1 + 44 + strlen("sealed transmission"));
    sx_smp_fwd_t d;
    assert_ok(sx_smp_fwd_t_decode(sx_slice_of(buf, n), &d));
    assert_int_equal(d.version, 17);
    assert_int_equal(d.corr_id.len, 24);
    assert_int_equal(d.corr_id.ptr[0], 0x40);
    assert_true(sx_slice_eq(d.enc, sx_slice_str("sealed transmission")));
    sx_writer w;
    sx_writer_init_fixed(&w, buf2, sizeof buf2);
    assert_true(sx_smp_fwd_t_write(&w, &d));
    assert_true(sx_slice_eq(sx_writer_slice(&w), sx_slice_of(buf, n)));
    /* Every truncation inside the fixed fields fails; the tail may be cut. */
    size_t fixed = 1 + 24 + 2 + 1 + 44;
    for (size_t i = 0; i < fixed; i++)
        assert_int_equal(sx_smp_fwd_t_decode(sx_slice_of(buf, i), &d), SX_E_PROTOCOL);
    assert_ok(sx_smp_fwd_t_decode(sx_slice_of(buf, fixed), &d));
    assert_int_equal(d.enc.len, 0);
    /* An Ed25519 key where X25519 belongs. */
    sx_key *ed = gen(SX_KEY_ED25519);
    sx_smp_fwd_t bad = {.corr_id = sx_slice_str("c"), .version = 8, .enc = sx_slice_str("x")};
    uint8_t eder[SX_KEY_SPKI_MAX];
    assert_ok(sx_smp_pubkey_of(ed, eder, &bad.dh_key));
    sx_writer_init_fixed(&w, buf2, sizeof buf2);
    assert_false(sx_smp_fwd_t_write(&w, &bad));
    memcpy(buf2, buf, n);
    buf2[1 + 24 + 2] = 43; /* key length off by one */
    assert_int_equal(sx_smp_fwd_t_decode(sx_slice_of(buf2, n), &d), SX_E_PROTOCOL);
    /* A corrId too long for a shortString is refused when writing. */
    uint8_t longc[256] = {0};
    bad.corr_id = sx_slice_of(longc, sizeof longc);
    bad.dh_key = d.dh_key;
    sx_writer_init_fixed(&w, buf2, sizeof buf2);
    assert_false(sx_smp_fwd_t_write(&w, &bad));
    sx_key_free(ed);
    sx_key_free(k);
}

static void test_fwd_resp(void **state)
{
    (void)state;
    sx_smp_fwd_resp f = {.corr_id = sx_slice_str("0123456789abcdef01234567"), .enc = sx_slice_str("answer")};
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_smp_fwd_resp_write(&w, &f));
    size_t n = w.len;
    assert_int_equal(n, 1 + 24 + 6);
    sx_smp_fwd_resp d;
    assert_ok(sx_smp_fwd_resp_decode(sx_slice_of(buf, n), &d));
    assert_true(sx_slice_eq(d.corr_id, f.corr_id));
    assert_true(sx_slice_eq(d.enc, f.enc));
    for (size_t i = 0; i < 25; i++)
        assert_int_equal(sx_smp_fwd_resp_decode(sx_slice_of(buf, i), &d), SX_E_PROTOCOL);
    buf[0] = 200; /* a length past the end */
    assert_int_equal(sx_smp_fwd_resp_decode(sx_slice_of(buf, n), &d), SX_E_PROTOCOL);
}

/* ---- sealed batches ---- */

static void test_seal_open(void **state)
{
    (void)state;
    uint8_t secret[32], other[32], nonce[24], rev[24];
    tu_bytes_seq(secret, 32, 1);
    tu_bytes_seq(other, 32, 2);
    tu_bytes_seq(nonce, 24, 3);
    sx_cb_nonce_reverse(nonce, rev);
    static uint8_t box[SX_SMP_PROXIED_BOX_LEN], out[SX_SMP_PROXIED_BOX_LEN];
    sx_slice t = sx_slice_str("one transmission");
    assert_ok(sx_smp_proxied_seal(secret, nonce, t, box, sizeof box));
    sx_slice got;
    sx_slice b = sx_slice_of(box, SX_SMP_PROXIED_BOX_LEN);
    assert_ok(sx_smp_proxied_open(secret, nonce, b, out, sizeof out, &got));
    assert_true(sx_slice_eq(got, t));
    assert_int_equal(sx_smp_proxied_open(other, nonce, b, out, sizeof out, &got), SX_E_AUTH);
    assert_int_equal(sx_smp_proxied_open(secret, rev, b, out, sizeof out, &got), SX_E_AUTH);
    assert_int_equal(sx_smp_proxied_open(secret, nonce, sx_slice_of(box, 100), out, sizeof out, &got), SX_E_AUTH);
    assert_int_equal(sx_smp_proxied_open(secret, nonce, sx_slice_of(box, 10), out, sizeof out, &got), SX_E_AUTH);
    /* The largest transmission: 16226 - 2 (pad length) - 1 (count) - 2. */
    static uint8_t big[SX_SMP_PROXIED_T_LEN];
    memset(big, 'b', sizeof big);
    assert_ok(sx_smp_proxied_seal(secret, nonce, sx_slice_of(big, SX_SMP_PROXIED_T_LEN - 5), box, sizeof box));
    assert_ok(sx_smp_proxied_open(secret, nonce, b, out, sizeof out, &got));
    assert_int_equal(got.len, SX_SMP_PROXIED_T_LEN - 5);
    assert_int_equal(sx_smp_proxied_seal(secret, nonce, sx_slice_of(big, SX_SMP_PROXIED_T_LEN - 4), box, sizeof box),
                     SX_E_LIMIT);
    /* Boxes whose content is not a batch of exactly one transmission. */
    const char *contents[] = {"", "\x00", "\x02\x00\x01"
                                          "a\x00\x01"
                                          "b",
                              "\x01\x00\x05"
                              "ab",
                              "\x01\x00\x01"
                              "ab"};
    const size_t lens[] = {0, 1, 7, 5, 5};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        assert_ok(sx_cb_encrypt_padded(secret, nonce, sx_slice_of(contents[i], lens[i]), SX_SMP_PROXIED_T_LEN, box,
                                       sizeof box));
        assert_int_equal(sx_smp_proxied_open(secret, nonce, b, out, sizeof out, &got), SX_E_PROTOCOL);
    }
    /* Not padded as the reference pads: a box of the bare batch. */
    assert_ok(sx_cb_encrypt(secret, nonce, sx_slice_str("\x01\x00\x01"
                                                        "a"),
                            box, sizeof box));
    assert_int_equal(sx_smp_proxied_open(secret, nonce, sx_slice_of(box, 4 + 16), out, sizeof out, &got), SX_E_AUTH);
}

/* ---- a PFWD as the relay reads it, and its answer as the client does ---- */

static void test_pfwd_relay_view(void **state)
{
    (void)state;
    sx_key *relay = gen(SX_KEY_X25519), *sender = gen(SX_KEY_ED25519);
    sx_smp_relay_session rs = {.version = 17, .session_id_len = 32};
    tu_bytes_seq(rs.session_id, 32, 0x70);
    assert_ok(sx_key_public_copy(relay, &rs.relay_key));
    uint8_t sid[24];
    tu_bytes_seq(sid, 24, 0x90);
    sx_smp_cmd send = {.tag = SX_SMP_C_SEND};
    send.send.body = sx_slice_str("through the proxy");
    static sx_smp_pfwd p;
    assert_ok(sx_smp_pfwd_make(&rs, sx_slice_of(sid, 24), &send, sender, &p));
    assert_int_equal(p.cmd.tag, SX_SMP_C_PFWD);
    assert_int_equal(p.cmd.pfwd.version, 17);
    assert_int_equal(p.cmd.pfwd.enc.len, SX_SMP_PROXIED_BOX_LEN);
    /* The whole PFWD fits an encrypted block's batch with the session id. */
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_smp_cmd_write(&w, 17, &p.cmd));
    assert_true(w.len + 1 + 1 + 24 + 1 + 32 + 2 <= SX_BATCH_CAP_ENCRYPTED);

    /* The relay: its key and the command's key, the PFWD corrId as nonce. */
    sx_key *ck = NULL;
    assert_ok(sx_key_decode_public(p.cmd.pfwd.dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &ck));
    uint8_t secret[32];
    size_t n = 0;
    assert_ok(sx_key_dh(relay, ck, secret, sizeof secret, &n));
    static uint8_t out[SX_SMP_PROXIED_BOX_LEN];
    sx_slice t;
    assert_ok(sx_smp_proxied_open(secret, p.corr_id, p.cmd.pfwd.enc, out, sizeof out, &t));
    sx_smp_request req;
    assert_ok(sx_smp_request_decode(t, 17, sx_slice_of(rs.session_id, 32), &req));
    assert_int_equal(req.cmd.tag, SX_SMP_C_SEND);
    assert_true(sx_slice_eq(req.cmd.send.body, sx_slice_str("through the proxy")));
    assert_true(sx_slice_eq(req.t.corr_id, sx_slice_of(p.corr_id, 24)));
    assert_true(sx_slice_eq(req.t.entity_id, sx_slice_of(sid, 24)));
    /* Signed over the relay session's id (implied, PROTOCOL-NOTES C4). */
    sx_writer_init_fixed(&w, buf2, sizeof buf2);
    assert_true(sx_smp_transmission_auth_bytes(&w, &req.t, 17, sx_slice_of(rs.session_id, 32), sx_slice_of(NULL, 0)));
    assert_ok(sx_key_verify(sender, sx_writer_slice(&w), req.t.auth));

    /* Its answer, sealed with the reversed nonce. */
    uint8_t rev[24];
    sx_cb_nonce_reverse(p.corr_id, rev);
    sx_smp_resp ok = {.tag = SX_SMP_R_OK};
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_smp_resp_transmission_write(&w, 17, sx_slice_of(rs.session_id, 32), req.t.corr_id, req.t.entity_id,
                                               &ok));
    static uint8_t box[SX_SMP_PROXIED_BOX_LEN];
    assert_ok(sx_smp_proxied_seal(secret, rev, sx_writer_slice(&w), box, sizeof box));
    sx_smp_client_reply r;
    assert_ok(sx_smp_pres_open(&rs, &p, sx_slice_of(box, sizeof box), &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    /* Sealed with the request's nonce instead: it does not open. */
    assert_ok(sx_smp_proxied_seal(secret, p.corr_id, sx_writer_slice(&w), box, sizeof box));
    assert_int_equal(sx_smp_pres_open(&rs, &p, sx_slice_of(box, sizeof box), &r), SX_E_AUTH);
    sx_key_free(ck);
    sx_key_free(relay);
    sx_key_free(sender);
    sx_smp_relay_session_cleanup(&rs);
}

/* ---- PKEY ---- */

typedef struct chain {
    sx_key *ca_key, *leaf_key, *dh;
    X509 *ca, *leaf;
    uint8_t *der[2];
    size_t len[2];
    uint8_t fp[SX_FINGERPRINT_LEN];
    uint8_t items[4096];
    uint8_t signed_key[512];
    size_t items_len, signed_len;
} chain;

static void chain_make(chain *c)
{
    memset(c, 0, sizeof *c);
    c->ca_key = gen(SX_KEY_ED25519);
    c->leaf_key = gen(SX_KEY_ED25519);
    c->dh = gen(SX_KEY_X25519);
    assert_ok(sx_x509_create_ca(c->ca_key, &c->ca));
    assert_ok(sx_x509_create_server(c->ca_key, c->ca, c->leaf_key, "127.0.0.1", &c->leaf));
    assert_ok(sx_x509_to_der(c->leaf, &c->der[0], &c->len[0]));
    assert_ok(sx_x509_to_der(c->ca, &c->der[1], &c->len[1]));
    assert_ok(sx_x509_fingerprint(c->ca, c->fp));
    sx_writer w;
    sx_writer_init_fixed(&w, c->items, sizeof c->items);
    for (int i = 0; i < 2; i++)
        assert_true(sx_write_large(&w, sx_slice_of(c->der[i], c->len[i])));
    c->items_len = w.len;
    sx_writer_init_fixed(&w, c->signed_key, sizeof c->signed_key);
    assert_true(sx_x509_write_signed_key(&w, c->leaf_key, c->dh));
    c->signed_len = w.len;
}

static void chain_free(chain *c)
{
    sx_key_free(c->ca_key);
    sx_key_free(c->leaf_key);
    sx_key_free(c->dh);
    X509_free(c->ca);
    X509_free(c->leaf);
    free(c->der[0]);
    free(c->der[1]);
}

static sx_smp_resp pkey_of(const chain *c)
{
    sx_smp_resp m = {.tag = SX_SMP_R_PKEY};
    m.pkey.session_id = sx_slice_str("session id of the proxy and relay");
    m.pkey.vrange = (sx_version_range){8, 17};
    m.pkey.chain.count = 2;
    m.pkey.chain.items = sx_slice_of(c->items, c->items_len);
    m.pkey.signed_key = sx_slice_of(c->signed_key, c->signed_len);
    return m;
}

static void test_pkey_check(void **state)
{
    (void)state;
    chain c, other;
    chain_make(&c);
    chain_make(&other);
    sx_smp_relay_session rs;
    sx_version_range own = {6, 19};
    sx_smp_resp m = pkey_of(&c);
    assert_ok(sx_smp_pkey_check(&m, c.fp, own, &rs));
    assert_int_equal(rs.version, 17);
    assert_int_equal(rs.session_id_len, strlen("session id of the proxy and relay"));
    uint8_t raw[32], want[32];
    size_t n;
    assert_ok(sx_key_raw_public(rs.relay_key, raw, sizeof raw, &n));
    assert_ok(sx_key_raw_public(c.dh, want, sizeof want, &n));
    assert_memory_equal(raw, want, 32);
    sx_smp_relay_session_cleanup(&rs);
    /* The version is the highest both allow. */
    own.max = 12;
    assert_ok(sx_smp_pkey_check(&m, c.fp, own, &rs));
    assert_int_equal(rs.version, 12);
    sx_smp_relay_session_cleanup(&rs);
    own = (sx_version_range){6, 7};
    assert_int_equal(sx_smp_pkey_check(&m, c.fp, own, &rs), SX_E_PROTOCOL);
    own = (sx_version_range){6, 19};
    /* Another identity. */
    assert_int_equal(sx_smp_pkey_check(&m, other.fp, own, &rs), SX_E_AUTH);
    /* A key signed by another leaf. */
    sx_smp_resp bad = m;
    bad.pkey.signed_key = sx_slice_of(other.signed_key, other.signed_len);
    assert_int_equal(sx_smp_pkey_check(&bad, c.fp, own, &rs), SX_E_AUTH);
    /* Another leaf with this identity certificate: the chain does not validate. */
    uint8_t mixed[4096];
    sx_writer w;
    sx_writer_init_fixed(&w, mixed, sizeof mixed);
    assert_true(sx_write_large(&w, sx_slice_of(other.der[0], other.len[0])));
    assert_true(sx_write_large(&w, sx_slice_of(c.der[1], c.len[1])));
    bad = m;
    bad.pkey.chain.items = sx_writer_slice(&w);
    bad.pkey.signed_key = sx_slice_of(other.signed_key, other.signed_len);
    assert_int_equal(sx_smp_pkey_check(&bad, c.fp, own, &rs), SX_E_AUTH);
    /* One certificate, and five. */
    bad = m;
    bad.pkey.chain.count = 1;
    assert_int_equal(sx_smp_pkey_check(&bad, c.fp, own, &rs), SX_E_AUTH);
    bad.pkey.chain.count = 5;
    assert_int_equal(sx_smp_pkey_check(&bad, c.fp, own, &rs), SX_E_AUTH);
    /* Not a PKEY, an empty session id. */
    bad = m;
    bad.tag = SX_SMP_R_OK;
    assert_int_equal(sx_smp_pkey_check(&bad, c.fp, own, &rs), SX_E_PROTOCOL);
    bad = m;
    bad.pkey.session_id = sx_slice_of(NULL, 0);
    assert_int_equal(sx_smp_pkey_check(&bad, c.fp, own, &rs), SX_E_PROTOCOL);
    chain_free(&c);
    chain_free(&other);
}

int main(void)
{
    if (sx_crypto_init() != SX_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fwd_t),
        cmocka_unit_test(test_fwd_resp),
        cmocka_unit_test(test_seal_open),
        cmocka_unit_test(test_pfwd_relay_view),
        cmocka_unit_test(test_pkey_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
