/* Tests for crypto/box: the crypto_box example of Bernstein's "Cryptography
 * in NaCl", the HSalsa20 pre-derivation of secret_box (PROTOCOL-NOTES A34/P7),
 * cbNonce and reverseNonce (PROTOCOL-NOTES A38), padded variants
 * (PROTOCOL-NOTES A35), the PROTOCOL-NOTES C8 authenticator and the MSG/NMSG
 * known answers of vectors/smp-crypto.md sections 2 and 3. */
#include "testutil.h"

#include "crypto/box.h"
#include "crypto/hash.h"
#include "core/pad.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* "Cryptography in NaCl", section 2-9: Alice's and Bob's keys, the nonce, the
 * 131-byte message and the 147-byte box (tag || ciphertext). */
#define ALICE_SK      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PK      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define BOB_SK        "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
#define BOB_PK        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
#define NACL_SHARED   "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
#define NACL_FIRSTKEY "1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389"
#define NACL_NONCE    "69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37"
#define NACL_MSG                                                       \
    "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffc" \
    "e5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb31" \
    "0e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde" \
    "048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f93776384864" \
    "5e0705"
#define NACL_BOX                                                       \
    "f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce" \
    "48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c972" \
    "71d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae" \
    "90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b3" \
    "7973f622a43d14a6599b1f654cb45a74e355a5"

static void test_nacl_crypto_box_kat(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    uint8_t ask[32], apk[32], bsk[32], bpk[32], shared[32], shared2[32], want[32], nonce[24];
    tu_hex_to(ALICE_SK, ask, 32);
    tu_hex_to(ALICE_PK, apk, 32);
    tu_hex_to(BOB_SK, bsk, 32);
    tu_hex_to(BOB_PK, bpk, 32);
    tu_hex_to(NACL_NONCE, nonce, 24);
    size_t mlen, blen;
    uint8_t *msg = tu_hex(NACL_MSG, &mlen);
    uint8_t *box = tu_hex(NACL_BOX, &blen);
    assert_int_equal(mlen, 131);
    assert_int_equal(blen, 147);

    /* The vector's keys are consistent: public = X25519 base point multiple,
     * and both sides reach the shared secret given in the paper. */
    uint8_t pk[32];
    assert_int_equal(crypto_scalarmult_base(pk, ask), 0);
    assert_memory_equal(pk, apk, 32);
    assert_int_equal(crypto_scalarmult_base(pk, bsk), 0);
    assert_memory_equal(pk, bpk, 32);
    assert_int_equal(crypto_scalarmult(shared, ask, bpk), 0);
    assert_int_equal(crypto_scalarmult(shared2, bsk, apk), 0);
    tu_hex_to(NACL_SHARED, want, 32);
    assert_memory_equal(shared, want, 32);
    assert_memory_equal(shared2, want, 32);
    /* firstkey = HSalsa20(shared, 0^16) as in the paper. */
    uint8_t zero16[16] = {0}, firstkey[32];
    assert_int_equal(crypto_core_hsalsa20(firstkey, zero16, shared, NULL), 0);
    tu_hex_to(NACL_FIRSTKEY, want, 32);
    assert_memory_equal(firstkey, want, 32);

    /* Alice boxes with the raw shared secret; the result is the paper's box. */
    uint8_t out[147];
    assert_ok(sx_cb_encrypt(shared, nonce, sx_slice_of(msg, 131), out, sizeof out));
    assert_memory_equal(out, box, 147);
    /* and libsodium's crypto_box_easy agrees byte for byte. */
    uint8_t ref[147];
    assert_int_equal(crypto_box_easy(ref, msg, 131, nonce, bpk, ask), 0);
    assert_memory_equal(ref, box, 147);

    /* Bob opens it with his side of the secret. */
    uint8_t back[131];
    sx_slice got;
    assert_ok(sx_cb_decrypt(shared2, nonce, sx_slice_of(box, 147), back, sizeof back, &got));
    assert_int_equal(got.len, 131);
    assert_ptr_equal(got.ptr, back);
    assert_memory_equal(back, msg, 131);
    free(msg);
    free(box);
}

static void test_secret_box_uses_hsalsa20(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    uint8_t key[32], nonce[24], msg[77];
    tu_bytes_seq(key, 32, 0x42);
    tu_bytes_seq(nonce, 24, 0x24);
    tu_bytes_seq(msg, sizeof msg, 0);
    uint8_t sb[77 + 16], plain[77 + 16], pre[77 + 16];
    assert_ok(sx_sb_encrypt(key, nonce, sx_slice_of(msg, 77), sb, sizeof sb));
    /* PROTOCOL-NOTES P7: NOT plain crypto_secretbox with K ... */
    assert_int_equal(crypto_secretbox_easy(plain, msg, 77, nonce, key), 0);
    assert_memory_not_equal(sb, plain, sizeof sb);
    /* ... but crypto_secretbox with HSalsa20(K, 0^16), i.e. crypto_box_afternm. */
    uint8_t zero16[16] = {0}, k[32];
    assert_int_equal(crypto_core_hsalsa20(k, zero16, key, NULL), 0);
    assert_int_equal(crypto_secretbox_easy(pre, msg, 77, nonce, k), 0);
    assert_memory_equal(sb, pre, sizeof sb);
    assert_int_equal(crypto_box_easy_afternm(pre, msg, 77, nonce, k), 0);
    assert_memory_equal(sb, pre, sizeof sb);
    /* and the cb and sb functions are the same function. */
    uint8_t cb[77 + 16];
    assert_ok(sx_cb_encrypt(key, nonce, sx_slice_of(msg, 77), cb, sizeof cb));
    assert_memory_equal(cb, sb, sizeof sb);
    /* A plain secretbox does not open with sx_sb_decrypt. */
    uint8_t back[77];
    sx_slice got;
    assert_int_equal(sx_sb_decrypt(key, nonce, sx_slice_of(plain, sizeof plain), back, 77, &got),
                     SX_E_AUTH);
    assert_ok(sx_sb_decrypt(key, nonce, sx_slice_of(sb, sizeof sb), back, 77, &got));
    assert_memory_equal(back, msg, 77);
}

static void test_cb_nonce(void **state)
{
    (void)state;
    uint8_t src[40], out[24], want[24];
    tu_bytes_seq(src, sizeof src, 1);
    /* exactly 24: unchanged */
    sx_cb_nonce(sx_slice_of(src, 24), out);
    assert_memory_equal(out, src, 24);
    /* longer: first 24 bytes */
    memset(out, 0xff, 24);
    sx_cb_nonce(sx_slice_of(src, 40), out);
    assert_memory_equal(out, src, 24);
    /* shorter: zero-padded on the right */
    memset(out, 0xff, 24);
    sx_cb_nonce(sx_slice_of(src, 5), out);
    memset(want, 0, 24);
    memcpy(want, src, 5);
    assert_memory_equal(out, want, 24);
    /* empty: all zeros */
    memset(out, 0xff, 24);
    sx_cb_nonce(sx_slice_of(NULL, 0), out);
    memset(want, 0, 24);
    assert_memory_equal(out, want, 24);

    /* reverseNonce, also in place, and twice = identity. */
    uint8_t n[24], r[24];
    tu_bytes_seq(n, 24, 0x10);
    sx_cb_nonce_reverse(n, r);
    for (size_t i = 0; i < 24; i++)
        assert_int_equal(r[i], 0x10 + 23 - i);
    sx_cb_nonce_reverse(r, r);
    assert_memory_equal(r, n, 24);
}

static void test_box_errors(void **state)
{
    (void)state;
    uint8_t key[32], nonce[24], msg[40], box[56], back[40];
    tu_bytes_seq(key, 32, 7);
    tu_bytes_seq(nonce, 24, 8);
    tu_bytes_seq(msg, 40, 9);
    sx_slice got;
    assert_ok(sx_cb_encrypt(key, nonce, sx_slice_of(msg, 40), box, sizeof box));

    /* Every byte of the box (tag and ciphertext) is authenticated; nothing is
     * written on failure. */
    for (size_t i = 0; i < sizeof box; i++) {
        box[i] ^= 0x40;
        memset(back, 0x77, sizeof back);
        assert_int_equal(sx_cb_decrypt(key, nonce, sx_slice_of(box, 56), back, 40, &got),
                         SX_E_AUTH);
        assert_int_equal(got.len, 0);
        assert_int_equal(back[0], 0x77);
        box[i] ^= 0x40;
    }
    /* Truncation at every length, including shorter than the tag. */
    for (size_t n = 0; n < sizeof box; n++)
        assert_int_equal(sx_cb_decrypt(key, nonce, sx_slice_of(box, n), back, 40, &got), SX_E_AUTH);
    /* Wrong nonce, wrong key. */
    nonce[23] ^= 1;
    assert_int_equal(sx_cb_decrypt(key, nonce, sx_slice_of(box, 56), back, 40, &got), SX_E_AUTH);
    nonce[23] ^= 1;
    key[31] ^= 1;
    assert_int_equal(sx_sb_decrypt(key, nonce, sx_slice_of(box, 56), back, 40, &got), SX_E_AUTH);
    key[31] ^= 1;
    /* Usage errors. */
    assert_int_equal(sx_cb_encrypt(key, nonce, sx_slice_of(msg, 40), box, 55), SX_E_USAGE);
    assert_int_equal(sx_cb_encrypt(NULL, nonce, sx_slice_of(msg, 40), box, 56), SX_E_USAGE);
    assert_int_equal(sx_cb_encrypt(key, NULL, sx_slice_of(msg, 40), box, 56), SX_E_USAGE);
    assert_int_equal(sx_cb_encrypt(key, nonce, sx_slice_of(NULL, 40), box, 56), SX_E_USAGE);
    assert_int_equal(sx_cb_decrypt(key, nonce, sx_slice_of(box, 56), back, 39, &got), SX_E_USAGE);
    assert_int_equal(sx_cb_decrypt(key, nonce, sx_slice_of(box, 56), back, 40, NULL), SX_E_USAGE);
    /* All of that left the box intact. */
    assert_ok(sx_cb_decrypt(key, nonce, sx_slice_of(box, 56), back, 40, &got));
    assert_memory_equal(back, msg, 40);

    /* Empty message: a bare 16-byte tag. */
    uint8_t tag_only[16];
    assert_ok(sx_sb_encrypt(key, nonce, sx_slice_of(NULL, 0), tag_only, 16));
    assert_ok(sx_sb_decrypt(key, nonce, sx_slice_of(tag_only, 16), NULL, 0, &got));
    assert_int_equal(got.len, 0);
    tag_only[0] ^= 1;
    assert_int_equal(sx_sb_decrypt(key, nonce, sx_slice_of(tag_only, 16), NULL, 0, &got),
                     SX_E_AUTH);
}

static void test_in_place(void **state)
{
    (void)state;
    uint8_t key[32], nonce[24], msg[64], buf[80];
    tu_bytes_seq(key, 32, 3);
    tu_bytes_seq(nonce, 24, 4);
    tu_bytes_seq(msg, 64, 5);
    uint8_t want[80];
    assert_ok(sx_sb_encrypt(key, nonce, sx_slice_of(msg, 64), want, sizeof want));
    /* plaintext placed after the tag slot, encrypted in place */
    memcpy(buf + 16, msg, 64);
    assert_ok(sx_sb_encrypt(key, nonce, sx_slice_of(buf + 16, 64), buf, sizeof buf));
    assert_memory_equal(buf, want, 80);
    /* decrypted over itself */
    sx_slice got;
    assert_ok(sx_sb_decrypt(key, nonce, sx_slice_of(buf, 80), buf, 80, &got));
    assert_memory_equal(buf, msg, 64);
}

static void test_padded_variants(void **state)
{
    (void)state;
    uint8_t key[32], nonce[24], out[116], back[100];
    tu_bytes_seq(key, 32, 0x11);
    tu_bytes_seq(nonce, 24, 0x22);
    sx_slice msg = sx_slice_str("a padded message"), got;

    for (int sb = 0; sb < 2; sb++) {
        sx_status (*enc)(const uint8_t *, const uint8_t *, sx_slice, size_t, uint8_t *, size_t) =
            sb ? sx_sb_encrypt_padded : sx_cb_encrypt_padded;
        sx_status (*dec)(const uint8_t *, const uint8_t *, sx_slice, uint8_t *, size_t,
                         sx_slice *) = sb ? sx_sb_decrypt_padded : sx_cb_decrypt_padded;
        assert_ok(enc(key, nonce, msg, 100, out, sizeof out));
        /* PROTOCOL-NOTES A35: the same as pad then the unpadded box. */
        uint8_t padded[100], want[116];
        assert_ok(sx_pad(msg, padded, 100));
        assert_ok(sx_cb_encrypt(key, nonce, sx_slice_of(padded, 100), want, sizeof want));
        assert_memory_equal(out, want, 116);
        assert_ok(dec(key, nonce, sx_slice_of(out, 116), back, sizeof back, &got));
        assert_true(sx_slice_eq(got, msg));
        assert_ptr_equal(got.ptr, back + 2);

        /* Tampered: SX_E_AUTH. */
        out[20] ^= 1;
        assert_int_equal(dec(key, nonce, sx_slice_of(out, 116), back, sizeof back, &got),
                         SX_E_AUTH);
        out[20] ^= 1;

        /* Too long for the padding (PROTOCOL-NOTES A30: at most N - 2); N - 2
         * fits. */
        uint8_t big[99];
        memset(big, 'z', sizeof big);
        assert_int_equal(enc(key, nonce, sx_slice_of(big, 99), 100, out, sizeof out), SX_E_LIMIT);
        assert_ok(enc(key, nonce, sx_slice_of(big, 98), 100, out, sizeof out));
        assert_ok(dec(key, nonce, sx_slice_of(out, 116), back, sizeof back, &got));
        assert_int_equal(got.len, 98);
        assert_int_equal(enc(key, nonce, msg, 100, out, 115), SX_E_USAGE);
        assert_int_equal(enc(key, nonce, msg, 1, out, sizeof out), SX_E_USAGE);
        assert_int_equal(dec(key, nonce, sx_slice_of(out, 116), back, 99, &got), SX_E_USAGE);

        /* Authentic box whose padding claims more than follows. */
        uint8_t bad[30];
        memset(bad, '#', sizeof bad);
        bad[0] = 0;
        bad[1] = 29;
        assert_ok(sx_cb_encrypt(key, nonce, sx_slice_of(bad, 30), out, sizeof out));
        memset(back, 0x55, sizeof back);
        assert_int_equal(dec(key, nonce, sx_slice_of(out, 46), back, sizeof back, &got),
                         SX_E_PROTOCOL);
        assert_int_equal(got.len, 0);
        const uint8_t zero[30] = {0};
        assert_memory_equal(back, zero, 30);
        /* one byte less in the declared length is fine */
        bad[1] = 28;
        assert_ok(sx_cb_encrypt(key, nonce, sx_slice_of(bad, 30), out, sizeof out));
        assert_ok(dec(key, nonce, sx_slice_of(out, 46), back, sizeof back, &got));
        assert_int_equal(got.len, 28);
        /* a plaintext of 1 byte cannot hold the length */
        assert_ok(sx_cb_encrypt(key, nonce, sx_slice_of(bad, 1), out, sizeof out));
        assert_int_equal(dec(key, nonce, sx_slice_of(out, 17), back, sizeof back, &got),
                         SX_E_PROTOCOL);
    }
}

/* smp-crypto.md: the X25519 secrets used in sections 2 and 3. */
static void vector_secret(uint8_t secret[32])
{
    uint8_t router_sk[32], router_pk[32], queue_sk[32], want[32];
    tu_bytes_seq(router_sk, 32, 0x80);
    tu_bytes_seq(queue_sk, 32, 0x20);
    assert_int_equal(crypto_scalarmult_base(router_pk, router_sk), 0);
    tu_hex_to("493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b010d531d", want, 32);
    assert_memory_equal(router_pk, want, 32);
    assert_int_equal(crypto_scalarmult(secret, queue_sk, router_pk), 0);
}

static void test_authenticator_vector(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    uint8_t secret[32], sid[32], corr[24], ent[24], nonce[24];
    vector_secret(secret);
    tu_bytes_seq(sid, 32, 0x01);
    tu_bytes_seq(corr, 24, 0x60);
    tu_bytes_seq(ent, 24, 0x90);
    /* t = 20 || sid || 18 || corrId || 18 || entityId || "SEND F hello" */
    uint8_t t[1 + 32 + 1 + 24 + 1 + 24 + 12];
    size_t o = 0;
    t[o++] = 0x20;
    memcpy(t + o, sid, 32);
    o += 32;
    t[o++] = 0x18;
    memcpy(t + o, corr, 24);
    o += 24;
    t[o++] = 0x18;
    memcpy(t + o, ent, 24);
    o += 24;
    memcpy(t + o, "SEND F hello", 12);
    o += 12;
    assert_int_equal(o, sizeof t);

    sx_cb_nonce(sx_slice_of(corr, 24), nonce);
    uint8_t auth[SX_CB_AUTH_LEN], want[SX_CB_AUTH_LEN];
    assert_ok(sx_cb_authenticate(secret, nonce, sx_slice_of(t, sizeof t), auth));
    tu_hex_to("92d0110a006f1610c2258aae2a1ebb264b2219bb5f83394fe3e5082cd8621d3c"
              "12f248d6d77bdbf4fedcf16130a0518d5c5dcc62d8dcfb9bc005d40d5067cdee"
              "069d818b1f42051f5aad00ae7654b1da",
              want, SX_CB_AUTH_LEN);
    assert_memory_equal(auth, want, SX_CB_AUTH_LEN);

    /* The router verifies with X25519(queue public, its private): same secret. */
    uint8_t router_sk[32], queue_sk[32], queue_pk[32], secret2[32];
    tu_bytes_seq(router_sk, 32, 0x80);
    tu_bytes_seq(queue_sk, 32, 0x20);
    assert_int_equal(crypto_scalarmult_base(queue_pk, queue_sk), 0);
    assert_int_equal(crypto_scalarmult(secret2, router_sk, queue_pk), 0);
    assert_ok(sx_cb_verify(secret2, nonce, sx_slice_of(auth, 80), sx_slice_of(t, sizeof t)));

    /* Rejections: changed message, authenticator byte, nonce, secret, length. */
    t[sizeof t - 1] ^= 1;
    assert_int_equal(sx_cb_verify(secret2, nonce, sx_slice_of(auth, 80), sx_slice_of(t, sizeof t)),
                     SX_E_AUTH);
    t[sizeof t - 1] ^= 1;
    for (size_t i = 0; i < 80; i += 5) {
        auth[i] ^= 0x08;
        assert_int_equal(
            sx_cb_verify(secret2, nonce, sx_slice_of(auth, 80), sx_slice_of(t, sizeof t)),
            SX_E_AUTH);
        auth[i] ^= 0x08;
    }
    nonce[0] ^= 1;
    assert_int_equal(sx_cb_verify(secret2, nonce, sx_slice_of(auth, 80), sx_slice_of(t, sizeof t)),
                     SX_E_AUTH);
    nonce[0] ^= 1;
    secret2[5] ^= 1;
    assert_int_equal(sx_cb_verify(secret2, nonce, sx_slice_of(auth, 80), sx_slice_of(t, sizeof t)),
                     SX_E_AUTH);
    secret2[5] ^= 1;
    assert_int_equal(sx_cb_verify(secret2, nonce, sx_slice_of(auth, 79), sx_slice_of(t, sizeof t)),
                     SX_E_AUTH);
    assert_int_equal(sx_cb_verify(secret2, nonce, sx_slice_of(NULL, 0), sx_slice_of(t, sizeof t)),
                     SX_E_AUTH);
    /* A box of a different 64-byte value with the right key is still refused. */
    uint8_t other[80], digest[64];
    memset(digest, 0, sizeof digest);
    assert_ok(sx_cb_encrypt(secret2, nonce, sx_slice_of(digest, 64), other, 80));
    assert_int_equal(sx_cb_verify(secret2, nonce, sx_slice_of(other, 80), sx_slice_of(t, sizeof t)),
                     SX_E_AUTH);
    /* A box of the right digest but 81 bytes long is refused by length. */
    uint8_t longer[81];
    assert_ok(sx_sha512(sx_slice_of(t, sizeof t), digest));
    uint8_t digest65[65];
    memcpy(digest65, digest, 64);
    digest65[64] = 0;
    assert_ok(sx_cb_encrypt(secret2, nonce, sx_slice_of(digest65, 65), longer, 81));
    assert_int_equal(
        sx_cb_verify(secret2, nonce, sx_slice_of(longer, 81), sx_slice_of(t, sizeof t)), SX_E_AUTH);
    assert_ok(sx_cb_verify(secret2, nonce, sx_slice_of(auth, 80), sx_slice_of(t, sizeof t)));
    assert_int_equal(sx_cb_authenticate(secret, nonce, sx_slice_of(t, sizeof t), NULL), SX_E_USAGE);
}

static void check_sha256(const uint8_t *p, size_t n, const char *hex)
{
    uint8_t got[32], want[32];
    assert_ok(sx_sha256(sx_slice_of(p, n), got));
    tu_hex_to(hex, want, 32);
    assert_memory_equal(got, want, 32);
}

static void put_i64(uint8_t *p, int64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static void test_msg_body_vector(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    uint8_t secret[32], msg_id[24], nonce[24];
    vector_secret(secret);
    tu_bytes_seq(msg_id, 24, 0xa0);
    sx_cb_nonce(sx_slice_of(msg_id, 24), nonce);
    /* PROTOCOL-NOTES D24: Int64 ts || "T hello", padded to 16106 then boxed:
     * 16122 bytes. */
    uint8_t body[15];
    put_i64(body, 1718928000);
    memcpy(body + 8, "T hello", 7);
    enum { N = 16106, BOX = N + 16 };
    uint8_t *out = malloc(BOX), *back = malloc(BOX);
    assert_non_null(out);
    assert_non_null(back);
    assert_ok(sx_cb_encrypt_padded(secret, nonce, sx_slice_of(body, sizeof body), N, out, BOX));
    uint8_t first48[48];
    tu_hex_to("dd4be64b257319b9ee48253d572a0c8926bc2a2889c82e02d7f111d6bf3ab7ea"
              "c4c742480bf32786c8a8cb2a77adb923",
              first48, 48);
    assert_memory_equal(out, first48, 48);
    check_sha256(out, BOX, "54ed44fac9699cbcd17d0d49563729d663c4bf4ab44d6110d249ae06575073fd");
    sx_slice got;
    assert_ok(sx_cb_decrypt_padded(secret, nonce, sx_slice_of(out, BOX), back, BOX, &got));
    assert_true(sx_slice_eq(got, sx_slice_of(body, sizeof body)));
    free(out);
    free(back);
}

static void test_nmsg_meta_vector(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    uint8_t secret[32], nonce[24], meta[1 + 24 + 8];
    vector_secret(secret);
    tu_bytes_seq(nonce, 24, 0xc0);
    /* PROTOCOL-NOTES D26: ss(msgId) || Int64 ts, padded to 128. */
    meta[0] = 24;
    tu_bytes_seq(meta + 1, 24, 0xa0);
    put_i64(meta + 25, 1718928000);
    uint8_t out[144], want[144], back[128];
    assert_ok(
        sx_cb_encrypt_padded(secret, nonce, sx_slice_of(meta, sizeof meta), 128, out, sizeof out));
    tu_hex_to("c5d3d11f099ce9cfd9f1f43c066994a5d92df06c80cbb6a87ea3c099d23dad68"
              "e2125110d8f2b37cf375c0bc74fbe9c8718d3d380261f12bc2ec0d55275d5ecb"
              "589f485e547d8640d9116f1cfd8312e80495a439520eb417d4972f5d22d58523"
              "817a84c89bcafa5ee8ca0a50b878260d0061474fad67acd07a4c394ed6993107"
              "317cd7563f4cdba5c20342ccafd6a2d2",
              want, 144);
    assert_memory_equal(out, want, 144);
    sx_slice got;
    assert_ok(sx_cb_decrypt_padded(secret, nonce, sx_slice_of(out, 144), back, sizeof back, &got));
    assert_true(sx_slice_eq(got, sx_slice_of(meta, sizeof meta)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nacl_crypto_box_kat),
        cmocka_unit_test(test_secret_box_uses_hsalsa20),
        cmocka_unit_test(test_cb_nonce),
        cmocka_unit_test(test_box_errors),
        cmocka_unit_test(test_in_place),
        cmocka_unit_test(test_padded_variants),
        cmocka_unit_test(test_authenticator_vector),
        cmocka_unit_test(test_msg_body_vector),
        cmocka_unit_test(test_nmsg_meta_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
