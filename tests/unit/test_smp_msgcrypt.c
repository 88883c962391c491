/* Unit tests of the router's encrypted payloads (PROTOCOL-NOTES D24-D26, P8,
 * E11) against the reference's known answers in vectors/smp-crypto.md section
 * 3. */
#include "test_smp_util.h"

#include <stdlib.h>
#include <string.h>

#include "core/pad.h"
#include "crypto/hash.h"
#include "smp/msgcrypt.h"

static uint8_t secret[32];

static int setup(void **state)
{
    (void)state;
    uint8_t raw[32];
    sx_key *priv = NULL, *other = NULL, *pub = NULL;
    tu_bytes_seq(raw, 32, 0x20);
    if (sx_key_from_raw_private(SX_KEY_X25519, sx_slice_of(raw, 32), &priv) != SX_OK)
        return -1;
    tu_bytes_seq(raw, 32, 0x80);
    if (sx_key_from_raw_private(SX_KEY_X25519, sx_slice_of(raw, 32), &other) != SX_OK ||
        sx_key_public_copy(other, &pub) != SX_OK)
        return -1;
    size_t n;
    sx_status st = sx_key_dh(priv, pub, secret, sizeof secret, &n);
    sx_key_free(priv);
    sx_key_free(other);
    sx_key_free(pub);
    return st == SX_OK && n == 32 ? 0 : -1;
}

static uint8_t enc[SX_SMP_ENC_MSG_LEN];
static uint8_t plain[SX_SMP_ENC_MSG_LEN];

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(SX_SMP_ENC_MSG_LEN, 16122);
    assert_int_equal(SX_SMP_RCV_MSG_PADDED, 16106);
    assert_int_equal(SX_SMP_NMSG_META_LEN, 144);
    assert_int_equal(SX_SMP_PROXIED_T_PADDED, 16226);
    assert_int_equal(SX_SMP_MSG_BODY_MAX, 16088);
}

/* Section 3, MSG: known first 48 bytes and SHA-256 of the 16122 bytes. */
static void test_msg_vector(void **state)
{
    (void)state;
    uint8_t msg_id[24];
    tu_bytes_seq(msg_id, 24, 0xa0);
    assert_ok(sx_smp_msg_encrypt(secret, sx_slice_of(msg_id, 24), 1718928000, true,
                                 sx_slice_str("hello"), enc));
    assert_string_equal(tu_to_hex(enc, 48), "dd4be64b257319b9ee48253d572a0c8926bc2a2889c82e02d7f111d6"
                                            "bf3ab7eac4c742480bf32786c8a8cb2a77adb923");
    uint8_t h[SX_SHA256_LEN];
    assert_ok(sx_sha256(sx_slice_of(enc, sizeof enc), h));
    assert_string_equal(tu_to_hex(h, sizeof h),
                        "54ed44fac9699cbcd17d0d49563729d663c4bf4ab44d6110d249ae06575073fd");

    sx_smp_rcv_msg m;
    assert_ok(sx_smp_msg_decrypt(secret, sx_slice_of(msg_id, 24), sx_slice_of(enc, sizeof enc),
                                 plain, sizeof plain, &m));
    assert_false(m.quota);
    assert_true(m.ts == 1718928000);
    assert_true(m.notification);
    assert_int_equal(m.body.len, 5);
    assert_bytes_equal(m.body.ptr, "hello", 5);

    /* the plaintext layout (PROTOCOL-NOTES D24): 00 0f || ts || 'T' '
     * ' || hello || '#'... */
    uint8_t nonce[SX_CB_NONCE_LEN];
    sx_cb_nonce(sx_slice_of(msg_id, 24), nonce);
    sx_slice p;
    assert_ok(sx_cb_decrypt(secret, nonce, sx_slice_of(enc, sizeof enc), plain, sizeof plain, &p));
    assert_int_equal(p.len, 16106);
    assert_string_equal(tu_to_hex(p.ptr, 17), "000f000000006674c2805420" "68656c6c6f");
    for (size_t i = 17; i < p.len; i++)
        assert_int_equal(p.ptr[i], '#');

    /* a flipped byte or another message id does not open */
    enc[100] ^= 1;
    assert_int_equal(sx_smp_msg_decrypt(secret, sx_slice_of(msg_id, 24),
                                        sx_slice_of(enc, sizeof enc), plain, sizeof plain, &m),
                     SX_E_AUTH);
    enc[100] ^= 1;
    msg_id[0] ^= 1;
    assert_int_equal(sx_smp_msg_decrypt(secret, sx_slice_of(msg_id, 24),
                                        sx_slice_of(enc, sizeof enc), plain, sizeof plain, &m),
                     SX_E_AUTH);
}

static void test_msg_limits(void **state)
{
    (void)state;
    sx_slice id = tsu_seq(24, 1);
    sx_smp_rcv_msg m;
    sx_slice body = tsu_seq(SX_SMP_MSG_BODY_MAX, 3);
    assert_ok(sx_smp_msg_encrypt(secret, id, -1, false, body, enc));
    assert_ok(sx_smp_msg_decrypt(secret, id, sx_slice_of(enc, sizeof enc), plain, sizeof plain, &m));
    assert_false(m.notification);
    assert_true(m.ts == -1);
    assert_int_equal(m.body.len, SX_SMP_MSG_BODY_MAX);
    assert_bytes_equal(m.body.ptr, body.ptr, body.len);
    assert_int_equal(sx_smp_msg_encrypt(secret, id, 0, false, tsu_seq(SX_SMP_MSG_BODY_MAX + 1, 3),
                                        enc),
                     SX_E_LIMIT);
    assert_ok(sx_smp_msg_encrypt(secret, id, 0, false, sx_slice_of(NULL, 0), enc));
    assert_ok(sx_smp_msg_decrypt(secret, id, sx_slice_of(enc, sizeof enc), plain, sizeof plain, &m));
    assert_int_equal(m.body.len, 0);
    /* a short output buffer for decryption */
    assert_int_equal(sx_smp_msg_decrypt(secret, id, sx_slice_of(enc, sizeof enc), plain, 100, &m),
                     SX_E_USAGE);
}

static void test_quota_marker(void **state)
{
    (void)state;
    sx_slice id = tsu_seq(24, 7);
    assert_ok(sx_smp_msg_encrypt_quota(secret, id, 1718928000, enc));
    sx_smp_rcv_msg m;
    assert_ok(sx_smp_msg_decrypt(secret, id, sx_slice_of(enc, sizeof enc), plain, sizeof plain, &m));
    assert_true(m.quota);
    assert_true(m.ts == 1718928000);
    assert_int_equal(m.body.len, 0);
    uint8_t nonce[SX_CB_NONCE_LEN];
    sx_cb_nonce(id, nonce);
    sx_slice p;
    assert_ok(sx_cb_decrypt_padded(secret, nonce, sx_slice_of(enc, sizeof enc), plain,
                                   sizeof plain, &p));
    assert_int_equal(p.len, 14);
    assert_bytes_equal(p.ptr, "QUOTA ", 6);
}

/* PROTOCOL-NOTES D25: extra flag characters are skipped; malformed bodies are
 * refused. */
static void test_body_parse(void **state)
{
    (void)state;
    sx_slice id = tsu_seq(24, 9);
    uint8_t nonce[SX_CB_NONCE_LEN];
    sx_cb_nonce(id, nonce);
    struct {
        const char *hex;
        sx_status st;
        bool notification;
        const char *body;
    } cases[] = {
        {"0000000000000001" "54585920" "6869", SX_OK, true, "hi"},   /* "TXY hi" */
        {"0000000000000001" "4620", SX_OK, false, ""},                /* "F " */
        {"0000000000000001" "46", SX_E_PROTOCOL, false, NULL},        /* no space */
        {"0000000000000001" "5820", SX_E_PROTOCOL, false, NULL},      /* bad flag */
        {"00000000000000", SX_E_PROTOCOL, false, NULL},               /* short ts */
        {"51554f544120" "0000000000000005" "00", SX_E_PROTOCOL, false, NULL}, /* quota + junk */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        uint8_t *pt = tu_hex(cases[i].hex, &n);
        assert_ok(sx_cb_encrypt_padded(secret, nonce, sx_slice_of(pt, n), SX_SMP_RCV_MSG_PADDED,
                                       enc, sizeof enc));
        free(pt);
        sx_smp_rcv_msg m;
        assert_int_equal(sx_smp_msg_decrypt(secret, id, sx_slice_of(enc, sizeof enc), plain,
                                            sizeof plain, &m),
                         cases[i].st);
        if (cases[i].st != SX_OK)
            continue;
        assert_false(m.quota);
        assert_int_equal(m.notification, cases[i].notification);
        assert_int_equal(m.body.len, strlen(cases[i].body));
        assert_bytes_equal(m.body.ptr, cases[i].body, m.body.len);
    }
}

/* Section 3, NMSG metadata: the whole 144 bytes. */
static void test_nmsg_vector(void **state)
{
    (void)state;
    uint8_t msg_id[24], nonce[24], out[SX_SMP_NMSG_META_LEN];
    tu_bytes_seq(msg_id, 24, 0xa0);
    tu_bytes_seq(nonce, 24, 0xc0);
    assert_ok(sx_smp_nmsg_encrypt(secret, nonce, sx_slice_of(msg_id, 24), 1718928000, out));
    assert_string_equal(
        tu_to_hex(out, sizeof out),
        "c5d3d11f099ce9cfd9f1f43c066994a5d92df06c80cbb6a87ea3c099d23dad68e2125110d8f2b37cf375c0bc"
        "74fbe9c8718d3d380261f12bc2ec0d55275d5ecb589f485e547d8640d9116f1cfd8312e80495a439520eb417"
        "d4972f5d22d58523817a84c89bcafa5ee8ca0a50b878260d0061474fad67acd07a4c394ed6993107317cd756"
        "3f4cdba5c20342ccafd6a2d2");
    uint8_t buf[SX_SMP_NMSG_META_LEN];
    sx_slice id;
    int64_t ts;
    assert_ok(sx_smp_nmsg_decrypt(secret, nonce, sx_slice_of(out, sizeof out), buf, sizeof buf,
                                  &id, &ts));
    assert_int_equal(id.len, 24);
    assert_bytes_equal(id.ptr, msg_id, 24);
    assert_true(ts == 1718928000);
    /* PROTOCOL-NOTES W7: the plaintext is 00 21 18 <msgId> <ts> '#'x93 */
    sx_slice p;
    assert_ok(sx_cb_decrypt(secret, nonce, sx_slice_of(out, sizeof out), buf, sizeof buf, &p));
    assert_int_equal(p.len, 128);
    assert_int_equal(p.ptr[0], 0x00);
    assert_int_equal(p.ptr[1], 0x21);
    assert_int_equal(p.ptr[2], 0x18);
    for (size_t i = 35; i < 128; i++)
        assert_int_equal(p.ptr[i], '#');

    /* bytes after the timestamp are ignored; a short body is refused */
    uint8_t meta[40];
    memcpy(meta, p.ptr + 2, 33);
    memcpy(meta + 33, "future", 6);
    assert_ok(sx_cb_encrypt_padded(secret, nonce, sx_slice_of(meta, 39), 128, out, sizeof out));
    assert_ok(sx_smp_nmsg_decrypt(secret, nonce, sx_slice_of(out, sizeof out), buf, sizeof buf,
                                  &id, &ts));
    assert_true(ts == 1718928000);
    assert_ok(sx_cb_encrypt_padded(secret, nonce, sx_slice_of(meta, 30), 128, out, sizeof out));
    assert_int_equal(sx_smp_nmsg_decrypt(secret, nonce, sx_slice_of(out, sizeof out), buf,
                                         sizeof buf, &id, &ts),
                     SX_E_PROTOCOL);
    assert_int_equal(id.len, 0);
    out[5] ^= 1;
    assert_int_equal(sx_smp_nmsg_decrypt(secret, nonce, sx_slice_of(out, sizeof out), buf,
                                         sizeof buf, &id, &ts),
                     SX_E_AUTH);
    /* message id limits */
    assert_ok(sx_smp_nmsg_encrypt(secret, nonce, tsu_seq(117, 0), 1, out));
    assert_int_equal(sx_smp_nmsg_encrypt(secret, nonce, tsu_seq(118, 0), 1, out), SX_E_LIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_msg_vector),
        cmocka_unit_test(test_msg_limits),
        cmocka_unit_test(test_quota_marker),
        cmocka_unit_test(test_body_parse),
        cmocka_unit_test(test_nmsg_vector),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
