/* Unit tests of the XFTP file store's id map (src/xftp_router/idmap.c):
 * insert, find, delete with deletion marks, growth, re-insertion over
 * marks, walks over the slots, and two maps with different seeds. */
#include <string.h>

#include "testutil.h"

#include "xftp_router/idmap.h"

static void key_of(uint32_t n, uint8_t k[SX_IDMAP_KEY_LEN])
{
    memset(k, 0, SX_IDMAP_KEY_LEN);
    memcpy(k, &n, sizeof n);
    k[15] = (uint8_t)(n * 7);
}

static size_t walk_count(const sx_idmap *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->cap + 3; i++) /* past the end: NULL */
        n += sx_idmap_at(m, i) != NULL;
    return n;
}

static void test_map(void **state)
{
    (void)state;
    static int vals[20000];
    sx_idmap m;
    sx_idmap_init(&m);
    uint8_t k[SX_IDMAP_KEY_LEN];
    key_of(1, k);
    assert_null(sx_idmap_get(&m, k)); /* empty map, no slots */
    assert_null(sx_idmap_del(&m, k));
    assert_null(sx_idmap_at(&m, 0));
    for (uint32_t i = 0; i < 20000; i++) {
        key_of(i, k);
        assert_ok(sx_idmap_put(&m, k, &vals[i]));
    }
    assert_int_equal(m.count, 20000);
    assert_true(m.count * 4 < m.cap * 3); /* at most three quarters full */
    assert_int_equal(walk_count(&m), 20000);
    for (uint32_t i = 0; i < 20000; i++) {
        key_of(i, k);
        assert_ptr_equal(sx_idmap_get(&m, k), &vals[i]);
    }
    /* delete every other one: the rest stay reachable past the marks */
    for (uint32_t i = 0; i < 20000; i += 2) {
        key_of(i, k);
        assert_ptr_equal(sx_idmap_del(&m, k), &vals[i]);
        assert_null(sx_idmap_del(&m, k));
    }
    assert_int_equal(m.count, 10000);
    assert_int_equal(walk_count(&m), 10000);
    for (uint32_t i = 0; i < 20000; i++) {
        key_of(i, k);
        if (i % 2)
            assert_ptr_equal(sx_idmap_get(&m, k), &vals[i]);
        else
            assert_null(sx_idmap_get(&m, k));
    }
    /* re-insert over the marks, and a key never seen */
    for (uint32_t i = 0; i < 20000; i += 2) {
        key_of(i, k);
        assert_ok(sx_idmap_put(&m, k, &vals[i]));
    }
    key_of(99999, k);
    assert_null(sx_idmap_get(&m, k));
    assert_int_equal(m.count, 20000);
    assert_int_equal(walk_count(&m), 20000);
    sx_idmap_free(&m);
    assert_int_equal(m.cap, 0);
    assert_null(m.slots);
}

static void test_seeds(void **state)
{
    (void)state;
    sx_idmap a, b;
    sx_idmap_init(&a);
    sx_idmap_init(&b);
    assert_true(a.seed != b.seed); /* 2^-64 to fail */
    /* the same keys land in different slot orders */
    static int v;
    uint8_t k[SX_IDMAP_KEY_LEN];
    for (uint32_t i = 0; i < 64; i++) {
        key_of(i, k);
        assert_ok(sx_idmap_put(&a, k, &v));
        assert_ok(sx_idmap_put(&b, k, &v));
    }
    assert_int_equal(a.cap, b.cap);
    bool same = true;
    for (size_t i = 0; i < a.cap; i++)
        same = same && (a.slots[i].val == NULL) == (b.slots[i].val == NULL) &&
               (a.slots[i].val == NULL || memcmp(a.slots[i].key, b.slots[i].key, SX_IDMAP_KEY_LEN) == 0);
    assert_false(same);
    sx_idmap_free(&a);
    sx_idmap_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
