/* Tests for the router kit's CRC-32C (kit/logsum.h): known answers (the
 * "123456789" check value and the iSCSI vectors of RFC 3720 B.4), and the
 * instruction path against the bytewise table over random lengths,
 * alignments and continuations. */
#include "testutil.h"

#include "crypto/util.h"
#include "kit/logsum.h"

#include <stdlib.h>
#include <string.h>

static void test_known_answers(void **state)
{
    (void)state;
    uint32_t (*const fns[])(uint32_t, const uint8_t *, size_t) = {sx_kit_crc32c, sx_kit_crc32c_bytewise};
    uint8_t zeros[32] = {0}, ones[32], inc[32], dec[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++) {
        inc[i] = (uint8_t)i;
        dec[i] = (uint8_t)(31 - i);
    }
    for (size_t k = 0; k < 2; k++) {
        assert_int_equal(fns[k](0, (const uint8_t *)"123456789", 9), 0xE3069283u);
        assert_int_equal(fns[k](0, zeros, 32), 0x8A9136AAu);
        assert_int_equal(fns[k](0, ones, 32), 0x62A8AB43u);
        assert_int_equal(fns[k](0, inc, 32), 0x46DD794Eu);
        assert_int_equal(fns[k](0, dec, 32), 0x113FDB5Cu);
        assert_int_equal(fns[k](0, zeros, 0), 0u);
    }
}

static void test_matches_bytewise(void **state)
{
    (void)state;
    enum { MAX = 70000 };
    uint8_t *buf = malloc(MAX + 16);
    assert_non_null(buf);
    sx_random_bytes(buf, MAX + 16);
    srand(42);
    for (int i = 0; i < 3000; i++) {
        size_t off = (size_t)rand() % 16;
        size_t n = i < 300 ? (size_t)i : (size_t)rand() % MAX;
        uint32_t a = sx_kit_crc32c(0, buf + off, n), b = sx_kit_crc32c_bytewise(0, buf + off, n);
        assert_int_equal(a, b);
        /* in two pieces, continuing from the first */
        size_t cut = n ? (size_t)rand() % n : 0;
        uint32_t c = sx_kit_crc32c(sx_kit_crc32c(0, buf + off, cut), buf + off + cut, n - cut);
        assert_int_equal(c, b);
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_matches_bytewise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
