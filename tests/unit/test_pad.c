/* Unit tests of PROTOCOL-NOTES A.3 padding. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "core/pad.h"

static void test_pad_layout(void **state)
{
    (void)state;
    uint8_t out[10];
    assert_ok(sx_pad(sx_slice_str("abc"), out, sizeof out));
    const uint8_t expect[10] = {0, 3, 'a', 'b', 'c', '#', '#', '#', '#', '#'};
    assert_bytes_equal(out, expect, 10);
    sx_slice m;
    assert_ok(sx_unpad(sx_slice_of(out, sizeof out), &m));
    assert_true(sx_slice_eq(m, sx_slice_str("abc")));
}

static void test_pad_limits(void **state)
{
    (void)state;
    uint8_t out[5];
    assert_ok(sx_pad(sx_slice_str("abc"), out, 5)); /* exactly n - 2 */
    assert_int_equal(sx_pad(sx_slice_str("abcd"), out, 5), SX_E_LIMIT);
    assert_int_equal(sx_pad(sx_slice_str(""), out, 1), SX_E_USAGE);
    assert_ok(sx_pad(sx_slice_str(""), out, 2));
    /* 65534 bytes cannot be described even with room for them. */
    uint8_t *big = calloc(70000, 1);
    assert_non_null(big);
    assert_int_equal(sx_pad(sx_slice_of(big, 65534), big, 70000), SX_E_LIMIT);
    free(big);
}

static void test_unpad_truncated(void **state)
{
    (void)state;
    const uint8_t bad[] = {0, 5, 'a', 'b'};
    sx_slice m;
    assert_int_equal(sx_unpad(sx_slice_of(bad, sizeof bad), &m), SX_E_PROTOCOL);
    assert_int_equal(sx_unpad(sx_slice_of(bad, 1), &m), SX_E_PROTOCOL);
    assert_int_equal(sx_unpad(sx_slice_of(bad, 0), &m), SX_E_PROTOCOL);
    /* The fill is not checked (PROTOCOL-NOTES A30). */
    const uint8_t odd[] = {0, 1, 'a', 'x', 'y'};
    assert_ok(sx_unpad(sx_slice_of(odd, sizeof odd), &m));
    assert_int_equal(m.len, 1);
}

static void test_lazy_pad(void **state)
{
    (void)state;
    uint8_t out[16];
    assert_ok(sx_pad_lazy(sx_slice_str("hi"), out, sizeof out));
    const uint8_t expect[16] = {0, 0, 0, 0, 0, 0, 0, 2, 'h', 'i', '#', '#', '#', '#', '#', '#'};
    assert_bytes_equal(out, expect, 16);
    sx_slice m;
    assert_ok(sx_unpad_lazy(sx_slice_of(out, 16), &m));
    assert_true(sx_slice_eq(m, sx_slice_str("hi")));
    assert_int_equal(sx_pad_lazy(sx_slice_str("123456789"), out, 16), SX_E_LIMIT);
    /* Negative or oversized declared lengths. */
    uint8_t neg[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'a'};
    assert_int_equal(sx_unpad_lazy(sx_slice_of(neg, 9), &m), SX_E_PROTOCOL);
    uint8_t over[9] = {0, 0, 0, 0, 0, 0, 0, 2, 'a'};
    assert_int_equal(sx_unpad_lazy(sx_slice_of(over, 9), &m), SX_E_PROTOCOL);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(sx_unpad_lazy(sx_slice_of(over, i), &m), SX_E_PROTOCOL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pad_layout),
        cmocka_unit_test(test_pad_limits),
        cmocka_unit_test(test_unpad_truncated),
        cmocka_unit_test(test_lazy_pad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
