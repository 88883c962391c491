/* Unit tests of the writer (PROTOCOL-NOTES A1-A14, P14). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "core/reader.h"
#include "core/writer.h"

static void test_layout(void **state)
{
    (void)state;
    uint8_t buf[64];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    sx_write_u16(&w, 0x1234);
    sx_write_u32(&w, 0xdeadbeef);
    sx_write_i64(&w, -2);
    sx_write_short(&w, sx_slice_str("ab"));
    sx_write_large(&w, sx_slice_str("c"));
    sx_write_maybe(&w, false);
    sx_write_maybe(&w, true);
    sx_write_bool(&w, true);
    sx_write_bool(&w, false);
    sx_write_version_range(&w, (sx_version_range){6, 18});
    assert_ok(sx_writer_status(&w));
    const char *expect = "1234 deadbeef fffffffffffffffe 026162 000163 30 31 54 46 00060012";
    size_t n;
    uint8_t *e = tu_hex(expect, &n);
    assert_int_equal(w.len, n);
    assert_bytes_equal(buf, e, n);
    free(e);
}

static void test_short_refuses_256(void **state)
{
    (void)state;
    /* PROTOCOL-NOTES P14: the reference wraps the length byte; we refuse
     * instead. */
    uint8_t big[256];
    memset(big, 'x', sizeof big);
    sx_writer w;
    sx_writer_init_dynamic(&w, 4096);
    assert_true(sx_write_short(&w, sx_slice_of(big, 255)));
    assert_int_equal(w.len, 256);
    assert_false(sx_write_short(&w, sx_slice_of(big, 256)));
    assert_int_equal(sx_writer_status(&w), SX_E_LIMIT);
    assert_int_equal(w.len, 256); /* nothing of the refused write */
    /* Sticky: later writes do nothing. */
    assert_false(sx_write_u8(&w, 1));
    assert_int_equal(w.len, 256);
    sx_writer_cleanup(&w);
}

static void test_large_limit(void **state)
{
    (void)state;
    uint8_t *big = calloc(65536, 1);
    assert_non_null(big);
    sx_writer w;
    sx_writer_init_dynamic(&w, 200000);
    assert_true(sx_write_large(&w, sx_slice_of(big, 65535)));
    assert_false(sx_write_large(&w, sx_slice_of(big, 65536)));
    assert_int_equal(sx_writer_status(&w), SX_E_LIMIT);
    sx_writer_cleanup(&w);
    free(big);
}

static void test_list_counts(void **state)
{
    (void)state;
    uint8_t buf[4];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_write_list_count(&w, 255));
    assert_false(sx_write_list_count(&w, 256));
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_write_nonempty_count(&w, 0));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_write_version_range(&w, (sx_version_range){7, 6}));
}

static void test_fixed_overflow(void **state)
{
    (void)state;
    uint8_t buf[5] = {0};
    sx_writer w;
    sx_writer_init_fixed(&w, buf, 4);
    assert_true(sx_write_u16(&w, 1));
    /* Short string of 2 needs 3 bytes; only 2 remain. Nothing is written. */
    assert_false(sx_write_short(&w, sx_slice_str("ab")));
    assert_int_equal(w.len, 2);
    assert_int_equal(buf[2], 0);
    assert_int_equal(sx_writer_status(&w), SX_E_LIMIT);
    assert_int_equal(buf[4], 0);
}

static void test_dynamic_growth_and_take(void **state)
{
    (void)state;
    sx_writer w;
    sx_writer_init_dynamic(&w, 1000);
    for (int i = 0; i < 1000; i++)
        assert_true(sx_write_u8(&w, (uint8_t)i));
    assert_false(sx_write_u8(&w, 0)); /* limit reached */
    assert_int_equal(sx_writer_status(&w), SX_E_LIMIT);
    size_t n;
    assert_null(sx_writer_take(&w, &n)); /* failed writer gives nothing */
    sx_writer_cleanup(&w);

    sx_writer_init_dynamic(&w, 1000);
    for (int i = 0; i < 300; i++)
        assert_true(sx_write_u8(&w, (uint8_t)i));
    uint8_t *p = sx_writer_take(&w, &n);
    assert_non_null(p);
    assert_int_equal(n, 300);
    for (int i = 0; i < 300; i++)
        assert_int_equal(p[i], (uint8_t)i);
    free(p);
    sx_writer_cleanup(&w); /* safe after take */

    sx_writer_init_dynamic(&w, 10);
    p = sx_writer_take(&w, &n);
    assert_non_null(p);
    assert_int_equal(n, 0);
    free(p);
}

static void test_reserve(void **state)
{
    (void)state;
    uint8_t buf[8];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    uint8_t *len = sx_write_reserve(&w, 2);
    assert_non_null(len);
    sx_write_str(&w, "abc");
    len[0] = 0;
    len[1] = 3;
    sx_reader r;
    sx_slice s;
    sx_reader_init(&r, buf, w.len);
    assert_true(sx_read_large(&r, &s));
    assert_true(sx_slice_eq(s, sx_slice_str("abc")));
    assert_null(sx_write_reserve(&w, 4));
}

/* Pre-sizing grows a growable writer once and writes nothing; a fixed writer
 * refuses more than it holds, with the sticky error. */
static void test_presize(void **state)
{
    (void)state;
    sx_writer w;
    sx_writer_init_dynamic(&w, 5000);
    assert_true(sx_write_str(&w, "ab"));
    assert_true(sx_writer_presize(&w, 3000));
    assert_int_equal(w.len, 2);
    assert_true(w.cap >= 3002);
    uint8_t *before = w.buf;
    for (int i = 0; i < 3000; i++)
        assert_true(sx_write_u8(&w, (uint8_t)i));
    assert_ptr_equal(w.buf, before); /* no growth after the pre-size */
    assert_memory_equal(w.buf, "ab", 2);
    assert_int_equal(w.buf[2 + 2999], (uint8_t)2999);
    assert_false(sx_writer_presize(&w, 5000 - 3002 + 1)); /* past the limit */
    assert_int_equal(sx_writer_status(&w), SX_E_LIMIT);
    sx_writer_cleanup(&w);

    uint8_t buf[4];
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_writer_presize(&w, 4));
    assert_int_equal(w.len, 0);
    assert_false(sx_writer_presize(&w, 5));
    assert_false(sx_write_u8(&w, 1)); /* sticky */
}

static void test_round_trip(void **state)
{
    (void)state;
    sx_writer w;
    sx_writer_init_dynamic(&w, 1 << 20);
    for (int64_t t = -5; t < 5; t++)
        sx_write_system_time(&w, t * 1000000007LL);
    sx_write_version(&w, 18);
    assert_ok(sx_writer_status(&w));
    sx_reader r;
    sx_reader_init_slice(&r, sx_writer_slice(&w));
    for (int64_t t = -5; t < 5; t++) {
        int64_t v;
        assert_true(sx_read_system_time(&r, &v));
        assert_true(v == t * 1000000007LL);
    }
    uint16_t v;
    assert_true(sx_read_version(&r, &v));
    assert_int_equal(v, 18);
    assert_ok(sx_reader_finish(&r));
    sx_writer_cleanup(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_short_refuses_256),
        cmocka_unit_test(test_large_limit),
        cmocka_unit_test(test_list_counts),
        cmocka_unit_test(test_fixed_overflow),
        cmocka_unit_test(test_dynamic_growth_and_take),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_presize),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
