/* Tests for crypto/secretbox: the secret box of Bernstein's "Cryptography in
 * NaCl" (firstkey, nonce, 131-byte message) through both Poly1305 paths, and
 * the OpenSSL path against libsodium's crypto_secretbox over many random
 * messages: the same tag and ciphertext, the same opening, and every
 * tampered tag, ciphertext byte, nonce or key refused without writing. */
#include "testutil.h"

#include "crypto/secretbox.h"
#include "crypto/util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define FIRSTKEY "1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389"
#define NONCE    "69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37"
#define MSG                                                            \
    "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffc" \
    "e5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb31" \
    "0e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde" \
    "048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f93776384864" \
    "5e0705"
#define BOX                                                            \
    "f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce" \
    "48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c972" \
    "71d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae" \
    "90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b3" \
    "7973f622a43d14a6599b1f654cb45a74e355a5"

typedef sx_status (*seal_fn)(uint8_t *, uint8_t *, const uint8_t *, size_t, const uint8_t *,
                             const uint8_t *);
typedef sx_status (*open_fn)(uint8_t *, const uint8_t *, size_t, const uint8_t *,
                             const uint8_t *, const uint8_t *);

static void test_nacl_kat(void **state)
{
    (void)state;
    static const seal_fn seals[] = {sx_secretbox_seal, sx_secretbox_seal_openssl,
                                    sx_secretbox_seal_sodium};
    static const open_fn opens[] = {sx_secretbox_open, sx_secretbox_open_openssl,
                                    sx_secretbox_open_sodium};
    uint8_t key[32], nonce[24], tag[16], c[131], m[131];
    tu_hex_to(FIRSTKEY, key, 32);
    tu_hex_to(NONCE, nonce, 24);
    size_t mlen, blen;
    uint8_t *msg = tu_hex(MSG, &mlen);
    uint8_t *box = tu_hex(BOX, &blen);
    assert_int_equal(mlen, 131);
    assert_int_equal(blen, 147);
    for (size_t i = 0; i < 3; i++) {
        assert_ok(seals[i](tag, c, msg, mlen, nonce, key));
        assert_memory_equal(tag, box, 16);
        assert_memory_equal(c, box + 16, 131);
        assert_ok(opens[i](m, box + 16, 131, box, nonce, key));
        assert_memory_equal(m, msg, 131);
    }
    free(msg);
    free(box);
}

/* One random message of n bytes: OpenSSL's path gives libsodium's bytes and
 * opens them; tampering anything is refused with the output untouched. */
static void check_one(size_t n, uint8_t *m, uint8_t *c1, uint8_t *c2, uint8_t *out)
{
    uint8_t key[32], nonce[24], t1[16], t2[16];
    sx_random_bytes(key, sizeof key);
    sx_random_bytes(nonce, sizeof nonce);
    sx_random_bytes(m, n);
    assert_ok(sx_secretbox_seal_openssl(t1, c1, m, n, nonce, key));
    assert_ok(sx_secretbox_seal_sodium(t2, c2, m, n, nonce, key));
    assert_memory_equal(t1, t2, 16);
    if (n > 0)
        assert_memory_equal(c1, c2, n);
    /* The length-chosen path gives the same. */
    assert_ok(sx_secretbox_seal(t2, c2, m, n, nonce, key));
    assert_memory_equal(t1, t2, 16);
    if (n > 0)
        assert_memory_equal(c1, c2, n);

    memset(out, 0xa5, n + 1);
    assert_ok(sx_secretbox_open_openssl(out, c1, n, t1, nonce, key));
    if (n > 0)
        assert_memory_equal(out, m, n);
    assert_ok(sx_secretbox_open(out, c1, n, t1, nonce, key));
    if (n > 0)
        assert_memory_equal(out, m, n);

    /* A flipped bit anywhere in the tag or ciphertext, a changed nonce or key:
     * both implementations refuse, and nothing is written. */
    size_t bits = (n + 16) * 8;
    size_t b = (size_t)randombytes_uniform((uint32_t)(bits < UINT32_MAX ? bits : UINT32_MAX));
    uint8_t *where = b < 128 ? t1 + b / 8 : c1 + (b - 128) / 8;
    *where ^= (uint8_t)(1u << (b % 8));
    memset(out, 0x5a, n + 1);
    assert_int_equal(sx_secretbox_open_openssl(out, c1, n, t1, nonce, key), SX_E_AUTH);
    assert_int_equal(sx_secretbox_open_sodium(out, c1, n, t1, nonce, key), SX_E_AUTH);
    assert_int_equal(sx_secretbox_open(out, c1, n, t1, nonce, key), SX_E_AUTH);
    for (size_t i = 0; i <= n; i++)
        assert_int_equal(out[i], 0x5a);
    *where ^= (uint8_t)(1u << (b % 8));
    nonce[randombytes_uniform(24)] ^= 0x01;
    assert_int_equal(sx_secretbox_open_openssl(out, c1, n, t1, nonce, key), SX_E_AUTH);
    nonce[0] ^= 0x80;
    key[randombytes_uniform(32)] ^= 0x40;
    assert_int_equal(sx_secretbox_open_openssl(out, c1, n, t1, nonce, key), SX_E_AUTH);
    for (size_t i = 0; i <= n; i++)
        assert_int_equal(out[i], 0x5a);
}

static void test_openssl_matches_sodium(void **state)
{
    (void)state;
    enum { MAX = 20000 };
    uint8_t *m = malloc(MAX), *c1 = malloc(MAX), *c2 = malloc(MAX), *out = malloc(MAX + 1);
    assert_non_null(m);
    assert_non_null(c1);
    assert_non_null(c2);
    assert_non_null(out);
    /* Every length up to past a few Poly1305 and Salsa20 blocks and past the
     * 32 bytes of the first stream block, the lengths around the switch to
     * OpenSSL, a transport block's padded content, then random lengths. */
    for (size_t n = 0; n <= 300; n++)
        check_one(n, m, c1, c2, out);
    static const size_t edges[] = {SX_SECRETBOX_OSSL_MIN - 1, SX_SECRETBOX_OSSL_MIN,
                                   SX_SECRETBOX_OSSL_MIN + 1, 16368, 16384, MAX};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        for (int k = 0; k < 50; k++)
            check_one(edges[i], m, c1, c2, out);
    for (int k = 0; k < 20000; k++)
        check_one(randombytes_uniform(MAX + 1), m, c1, c2, out);
    free(m);
    free(c1);
    free(c2);
    free(out);
}

/* Message and ciphertext in one buffer at several offsets from each other,
 * as box.c uses them (ciphertext 16 bytes after the message start when the
 * tag goes first, plaintext at the block start when opening in place). */
static void test_overlap(void **state)
{
    (void)state;
    enum { N = 4000, PAD = 64 };
    static const long shifts[] = {0, 16, -16, 1, -1, 63, -63, 1000, -1000};
    uint8_t *m = malloc(N), *want = malloc(N), *buf = malloc(N + 2 * 1000 + PAD);
    assert_non_null(m);
    assert_non_null(want);
    assert_non_null(buf);
    uint8_t key[32], nonce[24], tag[16], wtag[16];
    sx_random_bytes(key, sizeof key);
    sx_random_bytes(nonce, sizeof nonce);
    for (size_t len = 100; len <= N; len += N - 100) {
        sx_random_bytes(m, len);
        assert_ok(sx_secretbox_seal_sodium(wtag, want, m, len, nonce, key));
        for (size_t i = 0; i < sizeof shifts / sizeof shifts[0]; i++) {
            uint8_t *src = buf + 1000, *dst = buf + 1000 + shifts[i];
            memcpy(src, m, len);
            assert_ok(sx_secretbox_seal_openssl(tag, dst, src, len, nonce, key));
            assert_memory_equal(tag, wtag, 16);
            assert_memory_equal(dst, want, len);
            memcpy(src, want, len);
            assert_ok(sx_secretbox_open_openssl(dst, src, len, wtag, nonce, key));
            assert_memory_equal(dst, m, len);
        }
    }
    free(m);
    free(want);
    free(buf);
}

int main(void)
{
    assert_true(sodium_init() >= 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nacl_kat),
        cmocka_unit_test(test_openssl_matches_sodium),
        cmocka_unit_test(test_overlap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
