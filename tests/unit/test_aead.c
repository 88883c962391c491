/* Tests for crypto/aead: AES-256 test cases 13-18 of McGrew & Viega, "The
 * Galois/Counter Mode of Operation" (12-, 8- and 60-byte IVs), 16-byte IV
 * round trips, tampering, padded variants and argument checks. */
#include "testutil.h"

#include "crypto/aead.h"
#include "core/pad.h"

#include <stdlib.h>
#include <string.h>

typedef struct gcm_case {
    const char *name, *key, *iv, *aad, *pt, *ct, *tag;
} gcm_case;

#define K0 "0000000000000000000000000000000000000000000000000000000000000000"
#define KF "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define P64                                                            \
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
#define P60                                                            \
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define A20 "feedfacedeadbeeffeedfacedeadbeefabaddad2"

static const gcm_case cases[] = {
    {"TC13", K0, "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"TC14", K0, "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"TC15", KF, "cafebabefacedbaddecaf888", "", P64,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"TC16", KF, "cafebabefacedbaddecaf888", A20, P60,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    /* 64-bit IV: the GHASH-derived J0 path that 16-byte IVs also take. */
    {"TC17", KF, "cafebabefacedbad", A20, P60,
     "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
     "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
     "3a337dbf46a792c45e454913fe2ea8f2"},
    /* 480-bit IV. */
    {"TC18", KF,
     "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"
     "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
     A20, P60,
     "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
     "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
     "a44a8266ee1c8eb0c8b5d4cf5ae9f19a"},
};

static void test_gcm_spec_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const gcm_case *c = &cases[i];
        size_t kl, ivl, al, pl, cl, tl;
        uint8_t *key = tu_hex(c->key, &kl), *iv = tu_hex(c->iv, &ivl), *aad = tu_hex(c->aad, &al);
        uint8_t *pt = tu_hex(c->pt, &pl), *ct = tu_hex(c->ct, &cl), *tag = tu_hex(c->tag, &tl);
        assert_int_equal(kl, 32);
        assert_int_equal(pl, cl);
        assert_int_equal(tl, 16);
        uint8_t out[64], got_tag[16];
        assert_ok(sx_aead_encrypt(key, sx_slice_of(iv, ivl), sx_slice_of(aad, al),
                                  sx_slice_of(pt, pl), out, sizeof out, got_tag));
        if (pl > 0 && memcmp(out, ct, pl) != 0)
            fail_msg("%s: ciphertext %s", c->name, tu_to_hex(out, pl));
        if (memcmp(got_tag, tag, 16) != 0)
            fail_msg("%s: tag %s", c->name, tu_to_hex(got_tag, 16));
        uint8_t back[64];
        assert_ok(sx_aead_decrypt(key, sx_slice_of(iv, ivl), sx_slice_of(aad, al),
                                  sx_slice_of(ct, cl), tag, back, sizeof back));
        assert_memory_equal(back, pt, pl);
        /* Flipping the last tag bit fails. */
        tag[15] ^= 1;
        assert_int_equal(sx_aead_decrypt(key, sx_slice_of(iv, ivl), sx_slice_of(aad, al),
                                         sx_slice_of(ct, cl), tag, back, sizeof back),
                         SX_E_AUTH);
        free(key);
        free(iv);
        free(aad);
        free(pt);
        free(ct);
        free(tag);
    }
}

static void test_iv16_round_trip_and_tamper(void **state)
{
    (void)state;
    uint8_t key[32], iv[16], aad[37], msg[100], ct[100], tag[16], back[100];
    tu_bytes_seq(key, 32, 0x10);
    tu_bytes_seq(iv, 16, 0x50);
    tu_bytes_seq(aad, sizeof aad, 0x70);
    tu_bytes_seq(msg, sizeof msg, 0x90);
    sx_slice ivs = sx_slice_of(iv, 16), aads = sx_slice_of(aad, sizeof aad);
    assert_ok(sx_aead_encrypt(key, ivs, aads, sx_slice_of(msg, 100), ct, sizeof ct, tag));
    assert_memory_not_equal(ct, msg, 100);
    assert_ok(sx_aead_decrypt(key, ivs, aads, sx_slice_of(ct, 100), tag, back, sizeof back));
    assert_memory_equal(back, msg, 100);

    /* A 16-byte IV is not its 12-byte prefix: the J0 derivations differ. */
    uint8_t ct12[100], tag12[16];
    assert_ok(sx_aead_encrypt(key, sx_slice_of(iv, 12), aads, sx_slice_of(msg, 100), ct12,
                              sizeof ct12, tag12));
    assert_memory_not_equal(ct12, ct, 100);

    const uint8_t zero[100] = {0};
    /* Every ciphertext byte, every tag byte, the AAD, the IV and the key matter;
     * on failure the output is wiped. */
    for (size_t i = 0; i < 100; i += 7) {
        ct[i] ^= 0x20;
        memset(back, 0xee, sizeof back);
        assert_int_equal(sx_aead_decrypt(key, ivs, aads, sx_slice_of(ct, 100), tag, back, 100),
                         SX_E_AUTH);
        assert_memory_equal(back, zero, 100);
        ct[i] ^= 0x20;
    }
    for (size_t i = 0; i < 16; i++) {
        tag[i] ^= 0x01;
        assert_int_equal(sx_aead_decrypt(key, ivs, aads, sx_slice_of(ct, 100), tag, back, 100),
                         SX_E_AUTH);
        tag[i] ^= 0x01;
    }
    aad[36] ^= 1;
    assert_int_equal(sx_aead_decrypt(key, ivs, aads, sx_slice_of(ct, 100), tag, back, 100),
                     SX_E_AUTH);
    aad[36] ^= 1;
    assert_int_equal(
        sx_aead_decrypt(key, ivs, sx_slice_of(aad, 36), sx_slice_of(ct, 100), tag, back, 100),
        SX_E_AUTH);
    iv[15] ^= 1;
    assert_int_equal(sx_aead_decrypt(key, ivs, aads, sx_slice_of(ct, 100), tag, back, 100),
                     SX_E_AUTH);
    iv[15] ^= 1;
    key[0] ^= 1;
    assert_int_equal(sx_aead_decrypt(key, ivs, aads, sx_slice_of(ct, 100), tag, back, 100),
                     SX_E_AUTH);
    key[0] ^= 1;
    /* Truncated ciphertext. */
    assert_int_equal(sx_aead_decrypt(key, ivs, aads, sx_slice_of(ct, 99), tag, back, 100),
                     SX_E_AUTH);
    /* Still fine after all that. */
    assert_ok(sx_aead_decrypt(key, ivs, aads, sx_slice_of(ct, 100), tag, back, sizeof back));
    assert_memory_equal(back, msg, 100);
}

static void test_in_place_and_empty(void **state)
{
    (void)state;
    uint8_t key[32], iv[16], buf[50], msg[50], tag[16];
    tu_bytes_seq(key, 32, 1);
    tu_bytes_seq(iv, 16, 2);
    tu_bytes_seq(msg, 50, 3);
    memcpy(buf, msg, 50);
    assert_ok(sx_aead_encrypt(key, sx_slice_of(iv, 16), sx_slice_of(NULL, 0), sx_slice_of(buf, 50),
                              buf, sizeof buf, tag));
    assert_memory_not_equal(buf, msg, 50);
    assert_ok(sx_aead_decrypt(key, sx_slice_of(iv, 16), sx_slice_of(NULL, 0), sx_slice_of(buf, 50),
                              tag, buf, sizeof buf));
    assert_memory_equal(buf, msg, 50);

    /* Empty message: only the tag, which still covers the AAD. */
    assert_ok(sx_aead_encrypt(key, sx_slice_of(iv, 16), sx_slice_str("ad"), sx_slice_of(NULL, 0),
                              NULL, 0, tag));
    assert_ok(sx_aead_decrypt(key, sx_slice_of(iv, 16), sx_slice_str("ad"), sx_slice_of(NULL, 0),
                              tag, NULL, 0));
    assert_int_equal(sx_aead_decrypt(key, sx_slice_of(iv, 16), sx_slice_str("ae"),
                                     sx_slice_of(NULL, 0), tag, NULL, 0),
                     SX_E_AUTH);
}

static void test_usage_errors(void **state)
{
    (void)state;
    uint8_t key[32] = {0}, iv[65] = {0}, msg[10] = {0}, out[10], tag[16];
    sx_slice m = sx_slice_of(msg, 10), none = sx_slice_of(NULL, 0);
    assert_int_equal(sx_aead_encrypt(key, sx_slice_of(iv, 0), none, m, out, 10, tag), SX_E_USAGE);
    assert_int_equal(sx_aead_encrypt(key, sx_slice_of(iv, 65), none, m, out, 10, tag), SX_E_USAGE);
    assert_int_equal(sx_aead_encrypt(key, sx_slice_of(NULL, 16), none, m, out, 10, tag),
                     SX_E_USAGE);
    assert_int_equal(sx_aead_encrypt(key, sx_slice_of(iv, 16), none, m, out, 9, tag), SX_E_USAGE);
    assert_int_equal(sx_aead_encrypt(NULL, sx_slice_of(iv, 16), none, m, out, 10, tag), SX_E_USAGE);
    assert_int_equal(sx_aead_encrypt(key, sx_slice_of(iv, 16), none, m, out, 10, NULL), SX_E_USAGE);
    assert_int_equal(
        sx_aead_encrypt(key, sx_slice_of(iv, 16), sx_slice_of(NULL, 3), m, out, 10, tag),
        SX_E_USAGE);
    assert_int_equal(sx_aead_decrypt(key, sx_slice_of(iv, 16), none, m, tag, out, 9), SX_E_USAGE);
    assert_int_equal(sx_aead_decrypt(key, sx_slice_of(iv, 16), none, m, tag, NULL, 10), SX_E_USAGE);
    /* The limits themselves are accepted. */
    assert_ok(sx_aead_encrypt(key, sx_slice_of(iv, 1), none, m, out, 10, tag));
    assert_ok(sx_aead_encrypt(key, sx_slice_of(iv, 64), none, m, out, 10, tag));
}

static void test_padded(void **state)
{
    (void)state;
    uint8_t key[32], iv[16], out[200], back[200], tag[16];
    tu_bytes_seq(key, 32, 0xa0);
    tu_bytes_seq(iv, 16, 0xb0);
    sx_slice ivs = sx_slice_of(iv, 16), ad = sx_slice_str("header");
    sx_slice msg = sx_slice_str("hello ratchet");
    sx_slice got;

    assert_ok(sx_aead_encrypt_padded(key, ivs, ad, msg, 100, out, sizeof out, tag));
    /* Equal to pad then plain encrypt. */
    uint8_t padded[100], ct2[100], tag2[16];
    assert_ok(sx_pad(msg, padded, 100));
    assert_ok(sx_aead_encrypt(key, ivs, ad, sx_slice_of(padded, 100), ct2, 100, tag2));
    assert_memory_equal(out, ct2, 100);
    assert_memory_equal(tag, tag2, 16);

    assert_ok(
        sx_aead_decrypt_padded(key, ivs, ad, sx_slice_of(out, 100), tag, back, sizeof back, &got));
    assert_true(sx_slice_eq(got, msg));
    assert_ptr_equal(got.ptr, back + 2);

    /* Tampered: SX_E_AUTH and an empty result. */
    out[50] ^= 4;
    assert_int_equal(
        sx_aead_decrypt_padded(key, ivs, ad, sx_slice_of(out, 100), tag, back, sizeof back, &got),
        SX_E_AUTH);
    assert_int_equal(got.len, 0);
    out[50] ^= 4;

    /* Message too long for the padding (PROTOCOL-NOTES A30: at most N - 2). */
    uint8_t big[99];
    memset(big, 'x', sizeof big);
    assert_int_equal(
        sx_aead_encrypt_padded(key, ivs, ad, sx_slice_of(big, 99), 100, out, sizeof out, tag),
        SX_E_LIMIT);
    assert_ok(
        sx_aead_encrypt_padded(key, ivs, ad, sx_slice_of(big, 98), 100, out, sizeof out, tag));
    assert_ok(
        sx_aead_decrypt_padded(key, ivs, ad, sx_slice_of(out, 100), tag, back, sizeof back, &got));
    assert_int_equal(got.len, 98);
    assert_int_equal(sx_aead_encrypt_padded(key, ivs, ad, msg, 100, out, 99, tag), SX_E_USAGE);
    assert_int_equal(sx_aead_encrypt_padded(key, ivs, ad, msg, 1, out, 99, tag), SX_E_USAGE);

    /* Authentic but badly padded plaintext (declared length 0xffff). */
    uint8_t bad[20];
    memset(bad, '#', sizeof bad);
    bad[0] = 0xff;
    bad[1] = 0xff;
    assert_ok(sx_aead_encrypt(key, ivs, ad, sx_slice_of(bad, 20), out, sizeof out, tag));
    memset(back, 0x55, sizeof back);
    assert_int_equal(
        sx_aead_decrypt_padded(key, ivs, ad, sx_slice_of(out, 20), tag, back, sizeof back, &got),
        SX_E_PROTOCOL);
    assert_int_equal(got.len, 0);
    const uint8_t zero[20] = {0};
    assert_memory_equal(back, zero, 20);
    /* Too short to hold the length prefix. */
    assert_ok(sx_aead_encrypt(key, ivs, ad, sx_slice_of(bad, 1), out, sizeof out, tag));
    assert_int_equal(
        sx_aead_decrypt_padded(key, ivs, ad, sx_slice_of(out, 1), tag, back, sizeof back, &got),
        SX_E_PROTOCOL);
    assert_int_equal(
        sx_aead_decrypt_padded(key, ivs, ad, sx_slice_of(out, 1), tag, back, sizeof back, NULL),
        SX_E_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcm_spec_vectors),
        cmocka_unit_test(test_iv16_round_trip_and_tamper),
        cmocka_unit_test(test_in_place_and_empty),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_padded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
