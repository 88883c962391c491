/* Unit tests of the bounds-checked reader (PROTOCOL-NOTES A1-A14). */
#include "testutil.h"

#include <string.h>

#include "core/reader.h"

static void test_integers_big_endian(void **state)
{
    (void)state;
    const uint8_t b[] = {0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff,
                         0xff, 0xff, 0xff, 0xfe, 0x7f};
    sx_reader r;
    sx_reader_init(&r, b, sizeof b);
    uint16_t a;
    uint32_t c;
    int64_t d;
    uint8_t e;
    assert_true(sx_read_u16(&r, &a));
    assert_int_equal(a, 0x1234);
    assert_true(sx_read_u32(&r, &c));
    assert_int_equal(c, 0xdeadbeefu);
    assert_true(sx_read_i64(&r, &d));
    assert_true(d == -2); /* PROTOCOL-NOTES A3: two's complement */
    assert_true(sx_read_u8(&r, &e));
    assert_int_equal(e, 0x7f);
    assert_ok(sx_reader_finish(&r));
}

static void test_i64_extremes(void **state)
{
    (void)state;
    const uint8_t maxb[] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const uint8_t minb[] = {0x80, 0, 0, 0, 0, 0, 0, 0};
    sx_reader r;
    int64_t v;
    sx_reader_init(&r, maxb, 8);
    assert_true(sx_read_i64(&r, &v));
    assert_true(v == INT64_MAX);
    sx_reader_init(&r, minb, 8);
    assert_true(sx_read_i64(&r, &v));
    assert_true(v == INT64_MIN);
}

static void test_strings(void **state)
{
    (void)state;
    const uint8_t b[] = {3, 'a', 'b', 'c', 0, 2, 'x', 'y', 'r', 'e', 's', 't'};
    sx_reader r;
    sx_slice s, l, t, e;
    sx_reader_init(&r, b, sizeof b);
    assert_true(sx_read_short(&r, &s));
    assert_true(sx_slice_eq(s, sx_slice_str("abc")));
    assert_true(sx_read_large(&r, &l));
    assert_true(sx_slice_eq(l, sx_slice_str("xy")));
    assert_true(sx_read_tail(&r, &t));
    assert_true(sx_slice_eq(t, sx_slice_str("rest")));
    assert_true(sx_read_tail(&r, &e)); /* empty tail is valid */
    assert_int_equal(e.len, 0);
    assert_ok(sx_reader_finish(&r));
}

static void test_short_oversized(void **state)
{
    (void)state;
    /* Declared length 200 with 3 bytes present. */
    const uint8_t b[] = {200, 'a', 'b', 'c'};
    sx_reader r;
    sx_slice s;
    sx_reader_init(&r, b, sizeof b);
    assert_false(sx_read_short(&r, &s));
    assert_null(s.ptr);
    assert_int_equal(sx_reader_finish(&r), SX_E_PROTOCOL);
    /* Large with declared 65535 and nothing behind it. */
    const uint8_t c[] = {0xff, 0xff, 1};
    sx_reader_init(&r, c, sizeof c);
    assert_false(sx_read_large(&r, &s));
    assert_int_equal(sx_reader_remaining(&r), 0);
}

static void test_short_len_bounds(void **state)
{
    (void)state;
    const uint8_t b[] = {2, 'a', 'b'};
    sx_reader r;
    sx_slice s;
    sx_reader_init(&r, b, sizeof b);
    assert_true(sx_read_short_len(&r, 2, 2, &s));
    sx_reader_init(&r, b, sizeof b);
    assert_false(sx_read_short_len(&r, 3, 10, &s));
    sx_reader_init(&r, b, sizeof b);
    assert_false(sx_read_short_len(&r, 0, 1, &s));
    assert_int_equal(sx_reader_finish(&r), SX_E_PROTOCOL);
}

static void test_maybe_bool_tags(void **state)
{
    (void)state;
    /* PROTOCOL-NOTES P1: tags are ASCII, not 0/1 bytes. */
    const uint8_t ok[] = {'0', '1', 'T', 'F'};
    sx_reader r;
    bool m0, m1, t, f;
    sx_reader_init(&r, ok, sizeof ok);
    assert_true(sx_read_maybe(&r, &m0));
    assert_true(sx_read_maybe(&r, &m1));
    assert_true(sx_read_bool(&r, &t));
    assert_true(sx_read_bool(&r, &f));
    assert_false(m0);
    assert_true(m1);
    assert_true(t);
    assert_false(f);
    assert_ok(sx_reader_finish(&r));

    const uint8_t bad_maybe[] = {0x01};
    sx_reader_init(&r, bad_maybe, 1);
    assert_false(sx_read_maybe(&r, &m0));
    const uint8_t bad_bool[] = {0x00};
    sx_reader_init(&r, bad_bool, 1);
    assert_false(sx_read_bool(&r, &t));
    const uint8_t lower[] = {'t'};
    sx_reader_init(&r, lower, 1);
    assert_false(sx_read_bool(&r, &t));
}

static void test_lists(void **state)
{
    (void)state;
    const uint8_t zero[] = {0};
    sx_reader r;
    uint8_t n;
    sx_reader_init(&r, zero, 1);
    assert_true(sx_read_list_count(&r, &n));
    assert_int_equal(n, 0);
    sx_reader_init(&r, zero, 1);
    assert_false(sx_read_nonempty_count(&r, &n)); /* PROTOCOL-NOTES A11: NonEmpty with 0 */
    const uint8_t two[] = {2};
    sx_reader_init(&r, two, 1);
    assert_true(sx_read_nonempty_count(&r, &n));
    assert_int_equal(n, 2);
}

static void test_version_range(void **state)
{
    (void)state;
    const uint8_t good[] = {0, 6, 0, 18};
    const uint8_t same[] = {0, 6, 0, 6};
    const uint8_t bad[] = {0, 18, 0, 6};
    sx_reader r;
    sx_version_range vr;
    sx_reader_init(&r, good, 4);
    assert_true(sx_read_version_range(&r, &vr));
    assert_int_equal(vr.min, 6);
    assert_int_equal(vr.max, 18);
    sx_reader_init(&r, same, 4);
    assert_true(sx_read_version_range(&r, &vr));
    sx_reader_init(&r, bad, 4);
    assert_false(sx_read_version_range(&r, &vr)); /* PROTOCOL-NOTES A14: min > max */
    assert_int_equal(sx_reader_finish(&r), SX_E_PROTOCOL);
}

static void test_expect_and_word(void **state)
{
    (void)state;
    const char *t = "SEND T hello";
    sx_reader r;
    sx_slice w;
    sx_reader_init(&r, (const uint8_t *)t, strlen(t));
    assert_true(sx_read_word(&r, &w));
    assert_true(sx_slice_eq(w, sx_slice_str("SEND")));
    assert_true(sx_read_expect_str(&r, " "));
    assert_true(sx_read_word(&r, &w));
    assert_true(sx_slice_eq(w, sx_slice_str("T")));
    assert_false(sx_read_expect_str(&r, " hellO"));
    /* The failed expect is sticky. */
    assert_false(sx_read_expect_str(&r, " hello"));
    /* A word at the end of input without a space. */
    sx_reader_init(&r, (const uint8_t *)"PING", 4);
    assert_true(sx_read_word(&r, &w));
    assert_int_equal(w.len, 4);
    assert_ok(sx_reader_finish(&r));
}

/* A composite value: u16, short, Maybe(large), bool, version range, i64. */
static sx_status decode_composite(const uint8_t *b, size_t n)
{
    sx_reader r;
    uint16_t a;
    sx_slice s, l;
    bool present, flag;
    sx_version_range vr;
    int64_t ts;
    sx_reader_init(&r, b, n);
    sx_read_u16(&r, &a);
    sx_read_short(&r, &s);
    if (sx_read_maybe(&r, &present) && present)
        sx_read_large(&r, &l);
    sx_read_bool(&r, &flag);
    sx_read_version_range(&r, &vr);
    sx_read_system_time(&r, &ts);
    return sx_reader_finish(&r);
}

static void test_truncation_every_offset(void **state)
{
    (void)state;
    const uint8_t full[] = {0, 1, 3, 'a', 'b', 'c', '1', 0, 2, 'x', 'y', 'T', 0, 6, 0, 18,
                            0, 0, 0, 0, 0x66, 0x75, 0x5a, 0x80, 0xAA};
    size_t n = sizeof full - 1; /* the last byte is the trailing garbage */
    assert_ok(decode_composite(full, n));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(decode_composite(full, i), SX_E_PROTOCOL);
    /* One trailing byte. */
    assert_int_equal(decode_composite(full, n + 1), SX_E_PROTOCOL);
}

static void test_sticky_error_zeroes(void **state)
{
    (void)state;
    const uint8_t b[] = {1, 2, 3, 4};
    sx_reader r;
    uint32_t v = 99;
    uint16_t w = 99;
    sx_reader_init(&r, b, 3);
    assert_false(sx_read_u32(&r, &v));
    assert_int_equal(v, 0);
    /* Two bytes remain in the buffer, but the reader has failed. */
    assert_false(sx_read_u16(&r, &w));
    assert_int_equal(w, 0);
    assert_int_equal(sx_reader_remaining(&r), 0);
    uint8_t dst[2] = {7, 7};
    assert_false(sx_read_copy(&r, dst, 2));
    assert_int_equal(dst[0], 0);
}

static void test_null_buffer(void **state)
{
    (void)state;
    sx_reader r;
    uint8_t v;
    sx_reader_init(&r, NULL, 10);
    assert_false(sx_read_u8(&r, &v));
    sx_reader_init(&r, NULL, 0);
    assert_ok(sx_reader_finish(&r));
}

static void test_fail_helper(void **state)
{
    (void)state;
    sx_reader r;
    sx_reader_init(&r, (const uint8_t *)"x", 1);
    assert_false(sx_reader_fail(&r, SX_E_LIMIT));
    assert_false(sx_reader_fail(&r, SX_E_AUTH)); /* first error kept */
    assert_int_equal(sx_reader_status(&r), SX_E_LIMIT);
}

/* Text primitives: rest, accept, until, decimal. */
static void test_text_primitives(void **state)
{
    (void)state;
    const char *t = "smp://ab:cd@h,1:5223,443";
    sx_reader r;
    sx_slice s;
    sx_reader_init(&r, (const uint8_t *)t, strlen(t));
    assert_false(sx_read_accept(&r, "xftp://")); /* no match: nothing consumed, no error */
    assert_true(sx_reader_ok(&r));
    assert_true(sx_read_accept(&r, "smp://"));
    assert_true(sx_read_accept(&r, ""));
    s = sx_reader_rest(&r);
    assert_int_equal(s.len, strlen(t) - 6);
    assert_ptr_equal(s.ptr, (const uint8_t *)t + 6);
    assert_true(sx_read_until(&r, ":@", &s));
    assert_true(sx_slice_eq(s, sx_slice_str("ab")));
    assert_true(sx_read_until(&r, ":@", &s)); /* at a stop byte: empty */
    assert_int_equal(s.len, 0);
    assert_true(sx_read_accept(&r, ":"));
    assert_true(sx_read_until(&r, "@", &s));
    assert_true(sx_slice_eq(s, sx_slice_str("cd")));
    assert_true(sx_read_accept(&r, "@h,"));
    uint32_t v;
    assert_true(sx_read_decimal(&r, 255, &v));
    assert_int_equal(v, 1);
    assert_true(sx_read_accept(&r, ":"));
    assert_true(sx_read_decimal(&r, 65535, &v));
    assert_int_equal(v, 5223);
    assert_false(sx_read_accept(&r, ",4435")); /* longer than what is left */
    assert_true(sx_read_accept(&r, ","));
    assert_true(sx_read_until(&r, "/", &s)); /* no stop byte: to the end */
    assert_true(sx_slice_eq(s, sx_slice_str("443")));
    assert_int_equal(sx_reader_rest(&r).len, 0);
    assert_true(sx_read_until(&r, "/", &s)); /* at the end: empty */
    assert_int_equal(s.len, 0);
    assert_ok(sx_reader_finish(&r));

    /* a NUL byte is never a stop byte */
    const uint8_t z[] = {'a', 0, 'b', '@'};
    sx_reader_init(&r, z, sizeof z);
    assert_true(sx_read_until(&r, "@", &s));
    assert_int_equal(s.len, 3);

    /* after an error everything fails and rest is empty */
    sx_reader_init(&r, (const uint8_t *)"12", 2);
    assert_false(sx_read_u32(&r, &v));
    assert_int_equal(sx_reader_rest(&r).len, 0);
    assert_false(sx_read_accept(&r, ""));
    assert_false(sx_read_until(&r, "x", &s));
    assert_false(sx_read_decimal(&r, 99, &v));
    sx_reader_init(&r, NULL, 0);
    assert_int_equal(sx_reader_rest(&r).len, 0);
}

static uint32_t decimal_of(const char *t, uint32_t max, sx_status *st, size_t *left)
{
    sx_reader r;
    uint32_t v = 77;
    sx_reader_init(&r, (const uint8_t *)t, strlen(t));
    bool ok = sx_read_decimal(&r, max, &v);
    *st = sx_reader_status(&r);
    assert_true(ok == (*st == SX_OK));
    *left = sx_reader_remaining(&r);
    return v;
}

static void test_decimal_bounds(void **state)
{
    (void)state;
    sx_status st;
    size_t left;
    assert_int_equal(decimal_of("0", 0, &st, &left), 0);
    assert_ok(st);
    assert_int_equal(decimal_of("255", 255, &st, &left), 255);
    assert_ok(st);
    assert_int_equal(decimal_of("0000255x", 255, &st, &left), 255);
    assert_ok(st);
    assert_int_equal(left, 1);
    assert_int_equal(decimal_of("256", 255, &st, &left), 0);
    assert_int_equal(st, SX_E_PROTOCOL);
    assert_int_equal(decimal_of("65536", 65535, &st, &left), 0);
    assert_int_equal(st, SX_E_PROTOCOL);
    assert_int_equal(decimal_of("4294967295", UINT32_MAX, &st, &left), UINT32_MAX);
    assert_ok(st);
    assert_int_equal(decimal_of("4294967296", UINT32_MAX, &st, &left), 0);
    assert_int_equal(st, SX_E_PROTOCOL);
    assert_int_equal(decimal_of("99999999999999999999", UINT32_MAX, &st, &left), 0);
    assert_int_equal(st, SX_E_PROTOCOL);
    assert_int_equal(decimal_of("7", 5, &st, &left), 0);
    assert_int_equal(st, SX_E_PROTOCOL);
    assert_int_equal(decimal_of("", 5, &st, &left), 0);
    assert_int_equal(st, SX_E_PROTOCOL);
    assert_int_equal(decimal_of("-1", 5, &st, &left), 0);
    assert_int_equal(st, SX_E_PROTOCOL);
    assert_int_equal(decimal_of("+1", 5, &st, &left), 0);
    assert_int_equal(st, SX_E_PROTOCOL);
    /* bounded by len, not by a NUL */
    sx_reader r;
    uint32_t v;
    sx_reader_init(&r, (const uint8_t *)"123456", 2);
    assert_true(sx_read_decimal(&r, 1000, &v));
    assert_int_equal(v, 12);
    assert_ok(sx_reader_finish(&r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers_big_endian),
        cmocka_unit_test(test_i64_extremes),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_short_oversized),
        cmocka_unit_test(test_short_len_bounds),
        cmocka_unit_test(test_maybe_bool_tags),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_version_range),
        cmocka_unit_test(test_expect_and_word),
        cmocka_unit_test(test_truncation_every_offset),
        cmocka_unit_test(test_sticky_error_zeroes),
        cmocka_unit_test(test_null_buffer),
        cmocka_unit_test(test_fail_helper),
        cmocka_unit_test(test_text_primitives),
        cmocka_unit_test(test_decimal_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
