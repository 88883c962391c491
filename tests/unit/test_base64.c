/* Unit tests of the text forms (PROTOCOL-NOTES A23, A24, P12), with RFC 4648 section
 * 10 vectors. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "core/base64.h"

static const char *const rfc_in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const rfc_out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

static void test_rfc4648_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        assert_ok(sx_b64_encode(sx_slice_str(rfc_in[i]), SX_B64_URL, out, sizeof out));
        assert_string_equal(out, rfc_out[i]);
        assert_int_equal(sx_b64_encoded_size(strlen(rfc_in[i]), SX_B64_URL), strlen(rfc_out[i]) + 1);
    }
}

static void test_rfc4648_decode_lenient(void **state)
{
    (void)state;
    for (size_t i = 1; i < 7; i++) {
        uint8_t out[16];
        size_t n;
        const char *t = rfc_out[i];
        assert_ok(sx_b64_decode(t, strlen(t), SX_B64_URL, out, sizeof out, &n));
        assert_int_equal(n, strlen(rfc_in[i]));
        assert_memory_equal(out, rfc_in[i], n);
        /* PROTOCOL-NOTES A23: missing padding is accepted. */
        size_t bare = strlen(t);
        while (bare && t[bare - 1] == '=')
            bare--;
        assert_ok(sx_b64_decode(t, bare, SX_B64_URL, out, sizeof out, &n));
        assert_int_equal(n, strlen(rfc_in[i]));
    }
}

static void test_url_alphabet(void **state)
{
    (void)state;
    const uint8_t b[] = {0xfb, 0xff, 0xbf};
    char out[8];
    assert_ok(sx_b64_encode(sx_slice_of(b, 3), SX_B64_URL, out, sizeof out));
    assert_string_equal(out, "-_-_");
    assert_ok(sx_b64_encode(sx_slice_of(b, 3), SX_B64_STD, out, sizeof out));
    assert_string_equal(out, "+/+/");
    uint8_t d[4];
    size_t n;
    assert_int_equal(sx_b64_decode("+/+/", 4, SX_B64_URL, d, sizeof d, &n), SX_E_PROTOCOL);
    assert_int_equal(sx_b64_decode("-_-_", 4, SX_B64_STD, d, sizeof d, &n), SX_E_PROTOCOL);
    assert_ok(sx_b64_decode("-_-_", 4, SX_B64_URL, d, sizeof d, &n));
    assert_bytes_equal(d, b, 3);
    /* No padding on output in the JWT variant. */
    assert_ok(sx_b64_encode(sx_slice_str("f"), SX_B64_URL_NOPAD, out, sizeof out));
    assert_string_equal(out, "Zg");
}

static void test_decode_errors(void **state)
{
    (void)state;
    uint8_t d[64];
    size_t n;
    /* At least one character (PROTOCOL-NOTES A23). */
    assert_int_equal(sx_b64_decode("", 0, SX_B64_URL, d, sizeof d, &n), SX_E_PROTOCOL);
    assert_int_equal(sx_b64_decode("==", 2, SX_B64_URL, d, sizeof d, &n), SX_E_PROTOCOL);
    /* Stray characters anywhere. */
    assert_int_equal(sx_b64_decode("Zm 9v", 5, SX_B64_URL, d, sizeof d, &n), SX_E_PROTOCOL);
    assert_int_equal(sx_b64_decode("Zm=9v", 5, SX_B64_URL, d, sizeof d, &n), SX_E_PROTOCOL);
    assert_int_equal(sx_b64_decode("Zm9v\n", 5, SX_B64_URL, d, sizeof d, &n), SX_E_PROTOCOL);
    assert_int_equal(sx_b64_decode("Zg===", 5, SX_B64_URL, d, sizeof d, &n), SX_E_PROTOCOL);
    /* A single leftover character carries no whole byte. */
    assert_int_equal(sx_b64_decode("Zm9vY", 5, SX_B64_URL, d, sizeof d, &n), SX_E_PROTOCOL);
    /* Output too small. */
    assert_int_equal(sx_b64_decode("Zm9vYmFy", 8, SX_B64_URL, d, 5, &n), SX_E_LIMIT);
    char small[4];
    assert_int_equal(sx_b64_encode(sx_slice_str("foo"), SX_B64_URL, small, sizeof small), SX_E_LIMIT);
}

/* Only the alphabet is accepted: every other byte, high bytes included
 * (which libsodium 1.0.18 would decode), is an error in every position. */
static void test_alphabet_only(void **state)
{
    (void)state;
    for (int v = SX_B64_URL; v <= SX_B64_STD; v++) {
        for (int c = 0; c < 256; c++) {
            bool valid = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                         (v == SX_B64_STD ? (c == '+' || c == '/') : (c == '-' || c == '_'));
            for (int pos = 0; pos < 4; pos++) {
                char t[5] = "Zm9v";
                t[pos] = (char)c;
                uint8_t out[8];
                size_t n;
                sx_status st = sx_b64_decode(t, 4, (sx_b64_variant)v, out, sizeof out, &n);
                if (c == '=' && pos == 3)
                    continue; /* "Zm9=" is padding */
                if (valid)
                    assert_ok(st);
                else if (st == SX_OK)
                    fail_msg("byte %d at %d accepted (variant %d)", c, pos, v);
            }
        }
    }
}

static void test_fingerprint_text(void **state)
{
    (void)state;
    /* PROTOCOL-NOTES A29: a 32-byte fingerprint is 44 characters with one
     * '='. */
    const char *fp = "LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=";
    uint8_t d[32];
    size_t n;
    assert_ok(sx_b64_decode(fp, strlen(fp), SX_B64_URL, d, sizeof d, &n));
    assert_int_equal(n, 32);
    char back[64];
    assert_ok(sx_b64_encode(sx_slice_of(d, 32), SX_B64_URL, back, sizeof back));
    assert_string_equal(back, fp);
}

/* Differential: our decoder against libsodium's on random and adversarial
 * text: the same status, length and bytes, for every variant and for output
 * buffers that are too small, exact and large. */
static uint32_t g_rng = 2024;
static uint32_t rnd(uint32_t n)
{
    g_rng = g_rng * 1103515245u + 12345u;
    return n ? (g_rng >> 8) % n : 0;
}

static void test_decode_matches_sodium(void **state)
{
    (void)state;
    static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char odd[] = "=+/-_ .\n\x80\xff\x00";
    for (int round = 0; round < 400000; round++) {
        sx_b64_variant v = (sx_b64_variant)rnd(3);
        const char *alpha = v == SX_B64_STD ? std : url;
        char text[80];
        size_t len = rnd(8) == 0 ? rnd(80) : rnd(12);
        for (size_t i = 0; i < len; i++) {
            uint32_t k = rnd(100);
            if (k < 3)
                text[i] = odd[rnd(sizeof odd - 1)];
            else if (k < 6)
                text[i] = (v == SX_B64_STD ? url : std)[62 + rnd(2)]; /* the other alphabet's extras */
            else if (k < 9)
                text[i] = (char)rnd(256);
            else
                text[i] = alpha[rnd(64)];
        }
        /* often end with zero, one or two (or three) pads */
        if (len > 0 && rnd(3) == 0)
            for (uint32_t p = rnd(4); p > 0 && len < sizeof text; p--)
                text[len++] = '=';
        size_t caps[] = {0, len * 3 / 4, len * 3 / 4 + 1, len > 4 ? len * 3 / 4 - 1 : 0, 64};
        size_t cap = caps[rnd(5)];
        uint8_t a[64], b[64];
        memset(a, 0xaa, sizeof a);
        memset(b, 0xaa, sizeof b);
        size_t na = 99, nb = 99;
        sx_status sa = sx_b64_decode(text, len, v, a, cap, &na);
        sx_status sb = sx_b64_decode_sodium(text, len, v, b, cap, &nb);
        if (sa != sb || na != nb) {
            fprintf(stderr, "round %d: '%.*s' v %d cap %zu: ours %d/%zu, libsodium %d/%zu\n", round,
                    (int)len, text, (int)v, cap, (int)sa, na, (int)sb, nb);
        }
        assert_int_equal(sa, sb);
        assert_int_equal(na, nb);
        if (sa == SX_OK && na)
            assert_memory_equal(a, b, na);
    }
}

/* Encoding: the same text as libsodium's for every variant and length. */
static void test_encode_matches_sodium(void **state)
{
    (void)state;
    for (int round = 0; round < 200000; round++) {
        sx_b64_variant v = (sx_b64_variant)rnd(3);
        uint8_t in[70];
        size_t n = rnd(8) == 0 ? rnd(70) : rnd(10);
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)rnd(256);
        char a[100], b[100];
        memset(a, 'x', sizeof a);
        memset(b, 'x', sizeof b);
        size_t cap = sx_b64_encoded_size(n, v);
        assert_ok(sx_b64_encode(sx_slice_of(in, n), v, a, cap));
        assert_ok(sx_b64_encode_sodium(sx_slice_of(in, n), v, b, cap));
        assert_string_equal(a, b);
        assert_int_equal(strlen(a) + 1, cap);
        assert_int_equal(sx_b64_encode(sx_slice_of(in, n), v, a, cap - 1), SX_E_LIMIT);
    }
    /* long inputs (message bodies), eight characters a step */
    static uint8_t big[16050];
    static char ba[21500], bb[21500];
    for (int round = 0; round < 40; round++) {
        sx_b64_variant v = (sx_b64_variant)(round % 3);
        size_t n = sizeof big - (size_t)rnd(64);
        for (size_t i = 0; i < n; i++)
            big[i] = (uint8_t)rnd(256);
        size_t cap = sx_b64_encoded_size(n, v);
        assert_true(cap <= sizeof ba);
        assert_ok(sx_b64_encode(sx_slice_of(big, n), v, ba, cap));
        assert_ok(sx_b64_encode_sodium(sx_slice_of(big, n), v, bb, cap));
        assert_string_equal(ba, bb);
    }
    /* every 6-bit value in every position */
    for (unsigned x = 0; x < 64; x++) {
        uint8_t in[3] = {(uint8_t)(x << 2), (uint8_t)(x << 4 | x >> 2), (uint8_t)(x << 6 | x)};
        for (int v = 0; v < 3; v++) {
            char a[8], b[8];
            assert_ok(sx_b64_encode(sx_slice_of(in, 3), (sx_b64_variant)v, a, sizeof a));
            assert_ok(sx_b64_encode_sodium(sx_slice_of(in, 3), (sx_b64_variant)v, b, sizeof b));
            assert_string_equal(a, b);
        }
    }
}

/* The text form without a NUL: the same characters as the terminated form,
 * exactly sx_b64_encoded_size - 1 of them, and nothing written past them. */
static void test_encode_text(void **state)
{
    (void)state;
    static uint8_t in[16100];
    static char a[21600], b[21600];
    for (int round = 0; round < 3000; round++) {
        sx_b64_variant v = (sx_b64_variant)rnd(3);
        size_t n = round < 2000 ? (size_t)rnd(80) : sizeof in - (size_t)rnd(200);
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)rnd(256);
        size_t cap = sx_b64_encoded_size(n, v);
        memset(a, '#', cap + 8);
        size_t got = sx_b64_encode_text(sx_slice_of(in, n), v, a);
        assert_int_equal(got, cap - 1);
        for (size_t i = got; i < cap + 8; i++)
            assert_int_equal(a[i], '#');
        assert_ok(sx_b64_encode_sodium(sx_slice_of(in, n), v, b, cap));
        assert_memory_equal(a, b, got);
    }
    for (size_t i = 0; i < sizeof rfc_in / sizeof rfc_in[0]; i++) {
        char t[16] = {0};
        size_t got = sx_b64_encode_text(sx_slice_str(rfc_in[i]), SX_B64_STD, t);
        assert_int_equal(got, strlen(rfc_out[i]));
        assert_string_equal(t, rfc_out[i]);
    }
}

/* Every 1..3-byte value round-trips, and every non-canonical last digit is
 * refused (as libsodium refuses it). */
static void test_decode_all_tails(void **state)
{
    (void)state;
    for (uint32_t x = 0; x < (1u << 16); x++) {
        uint8_t in[2] = {(uint8_t)(x >> 8), (uint8_t)x};
        for (size_t n = 1; n <= 2; n++) {
            char text[8];
            assert_ok(sx_b64_encode(sx_slice_of(in, n), SX_B64_URL, text, sizeof text));
            uint8_t out[4];
            size_t got;
            assert_ok(sx_b64_decode(text, strlen(text), SX_B64_URL, out, sizeof out, &got));
            assert_int_equal(got, n);
            assert_memory_equal(out, in, n);
            /* flip the last digit to each other digit: both decoders agree */
            size_t last = n == 1 ? 1 : 2;
            static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            for (size_t d = 0; d < 64; d += 7) {
                text[last] = url[d];
                size_t g1, g2;
                assert_int_equal(sx_b64_decode(text, strlen(text), SX_B64_URL, out, sizeof out, &g1),
                                 sx_b64_decode_sodium(text, strlen(text), SX_B64_URL, out, sizeof out, &g2));
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_encode),
        cmocka_unit_test(test_rfc4648_decode_lenient),
        cmocka_unit_test(test_url_alphabet),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_alphabet_only),
        cmocka_unit_test(test_fingerprint_text),
        cmocka_unit_test(test_decode_matches_sodium),
        cmocka_unit_test(test_decode_all_tails),
        cmocka_unit_test(test_encode_matches_sodium),
        cmocka_unit_test(test_encode_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
