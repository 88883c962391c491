/* Tests for crypto/util: init, CSPRNG, constant-time compare, wipe. */
#include "testutil.h"

#include "crypto/util.h"

#include <pthread.h>
#include <string.h>

static void *init_thread(void *arg)
{
    sx_status *st = arg;
    *st = sx_crypto_init();
    return NULL;
}

static void test_init_idempotent_threads(void **state)
{
    (void)state;
    pthread_t th[4];
    sx_status st[4];
    for (int i = 0; i < 4; i++) {
        st[i] = SX_E_INTERNAL;
        assert_int_equal(pthread_create(&th[i], NULL, init_thread, &st[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_ok(st[i]);
    }
    assert_ok(sx_crypto_init());
    assert_ok(sx_crypto_init());
}

static void test_random_bytes(void **state)
{
    (void)state;
    uint8_t a[64], b[64], zero[64] = {0};
    sx_random_bytes(a, sizeof a);
    sx_random_bytes(b, sizeof b);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a, zero, sizeof a);

    /* n == 0 writes nothing (and accepts NULL). */
    uint8_t keep[4] = {1, 2, 3, 4};
    sx_random_bytes(keep, 0);
    sx_random_bytes(NULL, 0);
    assert_int_equal(keep[0], 1);
    assert_int_equal(keep[3], 4);

    /* Every byte value shows up in 64 KiB (fails only for a broken source). */
    static uint8_t big[65536];
    sx_random_bytes(big, sizeof big);
    int seen[256] = {0};
    for (size_t i = 0; i < sizeof big; i++)
        seen[big[i]] = 1;
    for (int v = 0; v < 256; v++)
        assert_int_equal(seen[v], 1);
}

static void test_ct_equal(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    tu_bytes_seq(a, sizeof a, 7);
    tu_bytes_seq(b, sizeof b, 7);
    assert_true(sx_ct_equal(sx_slice_of(a, 32), sx_slice_of(b, 32)));
    /* A difference at any position is seen. */
    for (size_t i = 0; i < sizeof b; i++) {
        b[i] ^= 0x01;
        assert_false(sx_ct_equal(sx_slice_of(a, 32), sx_slice_of(b, 32)));
        b[i] ^= 0x81;
        assert_false(sx_ct_equal(sx_slice_of(a, 32), sx_slice_of(b, 32)));
        b[i] ^= 0x80;
    }
    assert_true(sx_ct_equal(sx_slice_of(a, 32), sx_slice_of(b, 32)));
    /* Different lengths are unequal even when one is a prefix of the other. */
    assert_false(sx_ct_equal(sx_slice_of(a, 31), sx_slice_of(b, 32)));
    assert_false(sx_ct_equal(sx_slice_of(a, 0), sx_slice_of(b, 1)));
    assert_true(sx_ct_equal(sx_slice_of(NULL, 0), sx_slice_of(NULL, 0)));
    assert_true(sx_ct_equal(sx_slice_of(a, 0), sx_slice_of(b, 0)));
}

static void test_wipe(void **state)
{
    (void)state;
    uint8_t buf[40], zero[40] = {0};
    memset(buf, 0xa5, sizeof buf);
    sx_wipe(buf + 4, 32);
    assert_int_equal(buf[3], 0xa5);
    assert_memory_equal(buf + 4, zero, 32);
    assert_int_equal(buf[36], 0xa5);
    sx_wipe(buf, sizeof buf);
    assert_memory_equal(buf, zero, sizeof buf);
    sx_wipe(NULL, 0);
    sx_wipe(NULL, 10); /* tolerated */
}

static void test_hex_and_url_decode(void **state)
{
    (void)state;
    assert_int_equal(sx_hex_digit('0'), 0);
    assert_int_equal(sx_hex_digit('9'), 9);
    assert_int_equal(sx_hex_digit('a'), 10);
    assert_int_equal(sx_hex_digit('F'), 15);
    assert_int_equal(sx_hex_digit('g'), -1);
    assert_int_equal(sx_hex_digit('%'), -1);
    uint8_t out[32];
    /* '+' is a space, %XX a byte in either case, a '%' without two hex
     * digits stays, including one cut at the end */
    const char *in = "a+b%2Fc%2fd%zz%4";
    size_t n = sx_url_decode(sx_slice_str(in), out, sizeof out);
    assert_int_equal(n, strlen("a b/c/d%zz%4"));
    assert_memory_equal(out, "a b/c/d%zz%4", n);
    /* too small an output */
    assert_int_equal(sx_url_decode(sx_slice_str("abc"), out, 2), (size_t)-1);
    assert_int_equal(sx_url_decode(sx_slice_str("%41"), out, 1), 1);
    assert_int_equal(out[0], 'A');
    assert_int_equal(sx_url_decode(sx_slice_str(""), out, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_idempotent_threads),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_wipe),
        cmocka_unit_test(test_hex_and_url_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
