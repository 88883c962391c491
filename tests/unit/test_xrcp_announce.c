/* Unit tests of the XRCP multicast announcement (xrcp/announce.h,
 * PROTOCOL-NOTES X6). The known answer (SHA-256 of the whole packet) comes
 * from gen_xrcp_kat.py, whose crypto_box is written out in Python from the
 * NaCl definition, independently of libsodium and of our code. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "xrcp/announce.h"

static const char KAT_SIGNED[] =
    "xrcp:/YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8=@192.168.1.10:5227#/?v=1-2"
    "&app=%7B%22device%22%3A%22My%20laptop%20%C3%A9%22%2C%22v%22%3A%5B1%2C2%5D%7D&ts=1700000000"
    "&skey=MCowBQYDK2VwAyEAA6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg%3D"
    "&idkey=MCowBQYDK2VwAyEAKay64UG8yvCyLhqU000LxzYeUm0L_hLIl5S8kyKWbdc%3D"
    "&dh=MCowBQYDK2VuAyEAeaYx7t4b-cmPEgMs3q3Q56B5OY_HhriMyEbsia-FpRo%3D"
    "&ssig=IJj5qz7Va8jdwqaFaY9S87Z2-alfBkwhp_vsr42h5GnxcezFWOoAACB3MiQbrFWJA-n5_chO-LUkW5EGkJsBAg=="
    "&idsig=zCvDjI3FNI_UBUzjg4VmtGY-787YPImgMjl9x6etqwgARowhltZrT8ycrIXsY9DUl3vJKkSZvIdF9B8tsxe1BA==";
static const char KAT_PACKET_SHA256[] = "f26f2953faf9946c55830d6376eebd9149a7d39bf3e0a8db1a4316c8fcbd71d8";

typedef struct fixture {
    sx_key *ctrl_dh;  /* the invitation's dh key (bytes 64..) */
    sx_key *host_dh;  /* the host's previous-session key (bytes 128..) */
    sx_key *other_dh; /* a key of another pairing */
    uint8_t host_pub[32];
    sx_xrcp_signed_invitation s;
    uint8_t packet[SX_XRCP_ANNOUNCE_LEN];
} fixture;

static sx_key *key_from_seq(sx_key_alg alg, uint8_t start)
{
    uint8_t raw[32];
    tu_bytes_seq(raw, sizeof raw, start);
    sx_key *k = NULL;
    assert_ok(sx_key_from_raw_private(alg, sx_slice_of(raw, sizeof raw), &k));
    return k;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->ctrl_dh = key_from_seq(SX_KEY_X25519, 64);
    f->host_dh = key_from_seq(SX_KEY_X25519, 128);
    f->other_dh = key_from_seq(SX_KEY_X25519, 200);
    size_t len = 0;
    assert_ok(sx_key_raw_public(f->host_dh, f->host_pub, 32, &len));
    assert_ok(sx_xrcp_invitation_decode_verified(sx_slice_str(KAT_SIGNED), &f->s));
    uint8_t nonce[SX_CB_NONCE_LEN];
    tu_bytes_seq(nonce, sizeof nonce, 160);
    assert_ok(sx_xrcp_announce_encode(&f->s, f->ctrl_dh, f->host_pub, nonce, f->packet));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sx_key_free(f->ctrl_dh);
    sx_key_free(f->host_dh);
    sx_key_free(f->other_dh);
    sx_xrcp_signed_invitation_clear(&f->s);
    free(f);
    return 0;
}

static void test_kat(void **state)
{
    fixture *f = *state;
    uint8_t h[32];
    assert_ok(sx_sha256(sx_slice_of(f->packet, sizeof f->packet), h));
    assert_string_equal(tu_to_hex(h, 32), KAT_PACKET_SHA256);
    /* layout: shortString(X25519 DER), then the nonce */
    assert_int_equal(f->packet[0], 44);
    assert_int_equal(f->packet[1], 0x30);
    assert_memory_equal(f->packet + 13, f->s.inv.dh, 32);
    assert_int_equal(f->packet[45], 160);
}

static void test_decode(void **state)
{
    fixture *f = *state;
    const sx_key *keys[3] = {f->other_dh, NULL, f->host_dh};
    sx_xrcp_signed_invitation d;
    size_t which = 99;
    assert_ok(sx_xrcp_announce_decode(sx_slice_of(f->packet, sizeof f->packet), keys, 3, &d, &which));
    assert_int_equal(which, 2);
    assert_memory_equal(d.ssig, f->s.ssig, 64);
    assert_memory_equal(d.inv.dh, f->s.inv.dh, 32);
    assert_string_equal(d.inv.host, "192.168.1.10");
    sx_xrcp_signed_invitation_clear(&d);
    /* no key of ours opens it */
    assert_int_equal(sx_xrcp_announce_decode(sx_slice_of(f->packet, sizeof f->packet), keys, 2, &d, &which),
                     SX_E_AUTH);
    assert_int_equal(sx_xrcp_announce_decode(sx_slice_of(f->packet, sizeof f->packet), keys, 0, &d, &which),
                     SX_E_AUTH);
}

static void test_truncated_trailing_flipped(void **state)
{
    fixture *f = *state;
    const sx_key *keys[1] = {f->host_dh};
    sx_xrcp_signed_invitation d;
    for (size_t i = 0; i < sizeof f->packet; i++) {
        assert_int_not_equal(sx_xrcp_announce_decode(sx_slice_of(f->packet, i), keys, 1, &d, NULL), SX_OK);
        uint8_t p[SX_XRCP_ANNOUNCE_LEN];
        memcpy(p, f->packet, sizeof p);
        p[i] ^= 0x04;
        assert_int_not_equal(sx_xrcp_announce_decode(sx_slice_of(p, sizeof p), keys, 1, &d, NULL), SX_OK);
    }
    uint8_t longer[SX_XRCP_ANNOUNCE_LEN + 1];
    memcpy(longer, f->packet, sizeof f->packet);
    longer[sizeof f->packet] = 0;
    assert_int_not_equal(sx_xrcp_announce_decode(sx_slice_of(longer, sizeof longer), keys, 1, &d, NULL), SX_OK);
}

/* A packet whose key differs from the invitation's dh is refused, even
 * when it opens (the reference's INVITATION error). */
static void test_key_mismatch(void **state)
{
    fixture *f = *state;
    sx_key *k2 = key_from_seq(SX_KEY_X25519, 10);
    uint8_t pub2[32];
    size_t len = 0;
    assert_ok(sx_key_raw_public(k2, pub2, 32, &len));
    /* the encoder refuses a key that is not the invitation's */
    uint8_t p[SX_XRCP_ANNOUNCE_LEN];
    assert_int_equal(sx_xrcp_announce_encode(&f->s, k2, f->host_pub, NULL, p), SX_E_USAGE);
    /* build one by hand: k2 in the header, box under k2 and the host key */
    memcpy(p, f->packet, sizeof p);
    memcpy(p + 13, pub2, 32);
    uint8_t secret[32];
    sx_key *hp = NULL;
    assert_ok(sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(f->host_pub, 32), &hp));
    assert_ok(sx_key_dh(k2, hp, secret, 32, &len));
    sx_writer w;
    sx_writer_init_dynamic(&w, 4096);
    assert_true(sx_xrcp_signed_invitation_write(&w, &f->s));
    assert_ok(sx_cb_encrypt_padded(secret, p + 45, sx_writer_slice(&w), SX_XRCP_ANNOUNCE_PAD, p + 69,
                                   SX_XRCP_ANNOUNCE_PAD + 16));
    sx_writer_cleanup(&w);
    const sx_key *keys[1] = {f->host_dh};
    sx_xrcp_signed_invitation d;
    assert_int_equal(sx_xrcp_announce_decode(sx_slice_of(p, sizeof p), keys, 1, &d, NULL), SX_E_AUTH);
    sx_key_free(hp);
    sx_key_free(k2);
}

static void test_too_long(void **state)
{
    fixture *f = *state;
    char app[500];
    memset(app, 'a', sizeof app);
    app[0] = '"';
    app[sizeof app - 1] = '"';
    assert_ok(sx_xrcp_invitation_set_app(&f->s.inv, sx_slice_of(app, sizeof app)));
    uint8_t p[SX_XRCP_ANNOUNCE_LEN];
    assert_int_equal(sx_xrcp_announce_encode(&f->s, f->ctrl_dh, f->host_pub, NULL, p), SX_E_LIMIT);
    /* the boundary: a signed URI of 898 bytes fits the 900-byte padding */
    bool seen = false;
    const sx_key *keys[1] = {f->host_dh};
    for (size_t m = 250; m < 450; m++) {
        app[m - 1] = '"';
        assert_ok(sx_xrcp_invitation_set_app(&f->s.inv, sx_slice_of(app, m)));
        app[m - 1] = 'a';
        sx_writer w;
        sx_writer_init_dynamic(&w, 4096);
        assert_true(sx_xrcp_signed_invitation_write(&w, &f->s));
        size_t len = w.len;
        sx_writer_cleanup(&w);
        sx_status st = sx_xrcp_announce_encode(&f->s, f->ctrl_dh, f->host_pub, NULL, p);
        assert_int_equal(st, len <= 898 ? SX_OK : SX_E_LIMIT);
        if (len == 898) {
            seen = true;
            /* signed again (same length: signatures are fixed size), it opens and verifies */
            sx_key *sk = key_from_seq(SX_KEY_ED25519, 0), *ik = key_from_seq(SX_KEY_ED25519, 32);
            sx_xrcp_signed_invitation s2, d;
            assert_ok(sx_xrcp_invitation_sign(&f->s.inv, sk, ik, &s2));
            assert_ok(sx_xrcp_announce_encode(&s2, f->ctrl_dh, f->host_pub, NULL, p));
            assert_ok(sx_xrcp_announce_decode(sx_slice_of(p, sizeof p), keys, 1, &d, NULL));
            assert_int_equal(d.inv.app_len, m);
            sx_xrcp_signed_invitation_clear(&d);
            sx_xrcp_signed_invitation_clear(&s2);
            sx_key_free(sk);
            sx_key_free(ik);
        }
    }
    assert_true(seen);
}

int main(void)
{
    if (sx_crypto_init() != SX_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_trailing_flipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
