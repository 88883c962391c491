/* Known answers for 2-hop routing (PROTOCOL-NOTES D30-D37): the bytes our
 * encoders make for PRXY, PKEY, PFWD, RFWD, RRES and PRES with fixed keys,
 * nonces and contents, against gen_smp_proxy_kat.py, which computes them
 * from its reading of the reference's encodings with Python's X25519 and a
 * crypto_box written out from its definition (no code of ours). The
 * pieces are the ones the client (smp_client/smp_proxy.c) and the router
 * (commands_proxy.c, commands_fwd.c) put together: the command and message
 * writers, sx_smp_proxied_seal (one-transmission batch padded to 16226),
 * sx_smp_fwd_t_write / sx_smp_fwd_resp_write, the unpadded session box and
 * the reversed nonces. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/box.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "smp/command.h"
#include "smp/proxy.h"
#include "smp/response.h"
#include "transport/block.h"

#define V 18

static uint8_t buf[2 * SX_BLOCK_SIZE];

static void seq(uint8_t *out, size_t n, unsigned start)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)((start + i) % 256);
}

/* The bytes, or their SHA-256 when want starts with "sha256 ". */
static void expect(const char *what, sx_slice got, const char *want)
{
    const char *hex;
    if (strncmp(want, "sha256 ", 7) == 0) {
        uint8_t h[SX_SHA256_LEN];
        assert_ok(sx_sha256(got, h));
        hex = tu_to_hex(h, sizeof h);
        want += 7;
    } else {
        hex = tu_to_hex(got.ptr, got.len);
    }
    if (strcmp(hex, want) != 0)
        fail_msg("%s: %s, expected %s", what, hex, want);
}

static sx_key *x25519_of(unsigned start)
{
    uint8_t raw[32];
    seq(raw, sizeof raw, start);
    sx_key *k = NULL;
    assert_ok(sx_key_from_raw_private(SX_KEY_X25519, sx_slice_of(raw, sizeof raw), &k));
    return k;
}

static sx_slice cmd_bytes(const sx_smp_cmd *c)
{
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_smp_cmd_write(&w, V, c));
    return sx_writer_slice(&w);
}

static sx_slice resp_bytes(const sx_smp_resp *m)
{
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_smp_resp_write(&w, V, m));
    return sx_writer_slice(&w);
}

static void test_prxy_pkey(void **state)
{
    (void)state;
    static const char h1[] = "smp1.example.com", h2[] = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvw.onion";
    uint8_t hosts[128], kh[32];
    size_t n = 0;
    hosts[n++] = sizeof h1 - 1;
    memcpy(hosts + n, h1, sizeof h1 - 1);
    n += sizeof h1 - 1;
    hosts[n++] = sizeof h2 - 1;
    memcpy(hosts + n, h2, sizeof h2 - 1);
    n += sizeof h2 - 1;
    seq(kh, sizeof kh, 0);
    sx_smp_cmd c = {.tag = SX_SMP_C_PRXY};
    c.prxy.server.hosts = (sx_smp_list){.count = 2, .items = sx_slice_of(hosts, n)};
    c.prxy.server.port = sx_slice_str("5223");
    c.prxy.server.key_hash = sx_slice_of(kh, sizeof kh);
    c.prxy.has_basic_auth = true;
    c.prxy.basic_auth = sx_slice_str("pass-word");
    expect("prxy", cmd_bytes(&c),
           "50525859200210736d70312e6578616d706c652e636f6d3d6162636465666768696a6b6c6d6e6f707172737475767778797a32333435"
           "36376162636465666768696a6b6c6d6e6f70717273747576772e6f6e696f6e043532323320000102030405060708090a0b0c0d0e0f"
           "101112131415161718191a1b1c1d1e1f3109706173732d776f7264");
    c.prxy.has_basic_auth = false;
    expect("prxy noauth", cmd_bytes(&c),
           "50525859200210736d70312e6578616d706c652e636f6d3d6162636465666768696a6b6c6d6e6f707172737475767778797a32333435"
           "36376162636465666768696a6b6c6d6e6f70717273747576772e6f6e696f6e043532323320000102030405060708090a0b0c0d0e0f"
           "101112131415161718191a1b1c1d1e1f30");

    /* PKEY with two certificates and a signed key (bytes, not parsed here) */
    static uint8_t items[2 + 300 + 2 + 280], sk[120], sid[32];
    items[0] = 300 >> 8;
    items[1] = 300 & 0xff;
    seq(items + 2, 300, 1);
    items[302] = 280 >> 8;
    items[303] = 280 & 0xff;
    seq(items + 304, 280, 2);
    seq(sk, sizeof sk, 3);
    seq(sid, sizeof sid, 40);
    sx_smp_resp m = {.tag = SX_SMP_R_PKEY};
    m.pkey.session_id = sx_slice_of(sid, sizeof sid);
    m.pkey.vrange = (sx_version_range){8, 18};
    m.pkey.chain = (sx_smp_list){.count = 2, .items = sx_slice_of(items, sizeof items)};
    m.pkey.signed_key = sx_slice_of(sk, sizeof sk);
    expect("pkey", resp_bytes(&m), "sha256 c2eb8c5376d8f45b9aee49843fd0cbea296acd73c8024990584aa64862051abd");
}

static void test_forwarding(void **state)
{
    (void)state;
    sx_key *relay = x25519_of(100), *client = x25519_of(140), *proxy = x25519_of(180);
    uint8_t nn[24], pn[24], rev[24], t[120], r[76];
    seq(nn, sizeof nn, 200);
    seq(pn, sizeof pn, 60);
    memcpy(t, "inner transmission: ", 20);
    seq(t + 20, 100, 9);
    memcpy(r, "inner response: ", 16);
    seq(r + 16, 60, 77);

    /* the client's secret with the relay, and its sealed transmission */
    uint8_t cmd_secret[32], sess_secret[32];
    size_t len = 0;
    assert_ok(sx_key_dh(client, relay, cmd_secret, sizeof cmd_secret, &len));
    expect("cmd secret", sx_slice_of(cmd_secret, len), "9f9e345145a5e5fd9bbd6aa99ee3e2244a64ac6735ce8c1fa24ffb21c4f2475a");
    static uint8_t enc_t[SX_SMP_PROXIED_BOX_LEN], enc_r[SX_SMP_PROXIED_BOX_LEN];
    assert_ok(sx_smp_proxied_seal(cmd_secret, nn, sx_slice_of(t, sizeof t), enc_t, sizeof enc_t));
    expect("enc t", sx_slice_of(enc_t, sizeof enc_t),
           "sha256 9970d8a8c05b71a7bde2ffb64369d6446b1207e415a847ed2104f7cbebdc11fa");
    uint8_t kder[SX_KEY_SPKI_MAX];
    sx_smp_cmd pf = {.tag = SX_SMP_C_PFWD};
    pf.pfwd.version = V;
    assert_ok(sx_smp_pubkey_of(client, kder, &pf.pfwd.dh_key));
    pf.pfwd.enc = sx_slice_of(enc_t, sizeof enc_t);
    expect("pfwd", cmd_bytes(&pf), "sha256 daa4b3be39fa6e9dc081763dcf6dae8241b673c1381347ee996074dfa62dda13");

    /* the proxy's envelope for the relay */
    assert_ok(sx_key_dh(proxy, relay, sess_secret, sizeof sess_secret, &len));
    expect("session secret", sx_slice_of(sess_secret, len),
           "1b098b3ef744290f4dbee7cfc788d3247bfb97a27a8c2e68f38f76c8e820a433");
    static uint8_t plain[SX_BLOCK_SIZE], box[SX_BLOCK_SIZE];
    sx_smp_fwd_t f = {.corr_id = sx_slice_of(nn, sizeof nn), .version = V, .dh_key = pf.pfwd.dh_key};
    f.enc = pf.pfwd.enc;
    sx_writer w;
    sx_writer_init_fixed(&w, plain, sizeof plain);
    assert_true(sx_smp_fwd_t_write(&w, &f));
    sx_slice fwd_t = sx_writer_slice(&w);
    expect("fwd t", fwd_t, "sha256 3db867bf714739ae4cb624c53db46664d0c605b5369429b56784baa57ba6a734");
    assert_ok(sx_cb_encrypt(sess_secret, pn, fwd_t, box, sizeof box));
    sx_smp_cmd rf = {.tag = SX_SMP_C_RFWD};
    rf.enc = sx_slice_of(box, fwd_t.len + SX_CB_TAG_LEN);
    expect("rfwd", cmd_bytes(&rf), "sha256 cdac3d9badf8ec62781bac97894ad80bfdb47907c245bf9ff729e1e80d7edb8f");

    /* the relay's answer: for the client under the reversed N, wrapped for
     * the proxy under the reversed P; the proxy passes the client's part on */
    sx_cb_nonce_reverse(nn, rev);
    expect("reversed nonce", sx_slice_of(rev, sizeof rev), "dfdedddcdbdad9d8d7d6d5d4d3d2d1d0cfcecdcccbcac9c8");
    assert_ok(sx_smp_proxied_seal(cmd_secret, rev, sx_slice_of(r, sizeof r), enc_r, sizeof enc_r));
    expect("enc r", sx_slice_of(enc_r, sizeof enc_r),
           "sha256 566fe3df2e0b7523534d024c83a10be8af5063810a6df25db39fd07ec7cb87b6");
    sx_smp_fwd_resp fr = {.corr_id = sx_slice_of(nn, sizeof nn), .enc = sx_slice_of(enc_r, sizeof enc_r)};
    sx_writer_init_fixed(&w, plain, sizeof plain);
    assert_true(sx_smp_fwd_resp_write(&w, &fr));
    sx_cb_nonce_reverse(pn, rev);
    assert_ok(sx_cb_encrypt(sess_secret, rev, sx_writer_slice(&w), box, sizeof box));
    sx_smp_resp rr = {.tag = SX_SMP_R_RRES};
    rr.enc = sx_slice_of(box, sx_writer_slice(&w).len + SX_CB_TAG_LEN);
    expect("rres", resp_bytes(&rr), "sha256 501e5c2dd29eed5c8db68df7f50a844e9e4f1d49549d6f7b4fde1c83ca7dff8d");
    sx_smp_resp pr = {.tag = SX_SMP_R_PRES};
    pr.enc = sx_slice_of(enc_r, sizeof enc_r);
    expect("pres", resp_bytes(&pr), "sha256 2b53687bf79c256261ef1c9f91c721aa77417a3818650215a23fed980a93f4de");

    /* and our decoders open what the generator's boxes hold */
    static uint8_t opened[SX_SMP_PROXIED_BOX_LEN];
    sx_slice got;
    assert_ok(sx_smp_proxied_open(cmd_secret, nn, sx_slice_of(enc_t, sizeof enc_t), opened, sizeof opened, &got));
    assert_int_equal(got.len, sizeof t);
    assert_memory_equal(got.ptr, t, sizeof t);
    sx_key_free(relay);
    sx_key_free(client);
    sx_key_free(proxy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prxy_pkey),
        cmocka_unit_test(test_forwarding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
