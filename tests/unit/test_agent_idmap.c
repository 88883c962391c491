/* Unit tests of the agent's key -> index map (src/agent/idmap.h): put,
 * replace, get and remove checked against a plain array under a long run
 * of pseudo-random operations (keys drawn from a small range so that
 * probe runs collide and removals shift entries back), key 0, growth, and
 * reserve making later puts infallible. */
#include "testutil.h"

#include <stdlib.h>

#include "agent/idmap.h"

#define KEYS 512

static uint64_t rnd_state = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void test_empty(void **state)
{
    (void)state;
    sx_agent_idmap m = {0};
    size_t v = 7;
    assert_false(sx_agent_idmap_get(&m, 0, &v));
    assert_false(sx_agent_idmap_remove(&m, 0));
    assert_int_equal(v, 7);
    sx_agent_idmap_free(&m);
    sx_agent_idmap_free(&m); /* twice is harmless */
}

static void test_basic(void **state)
{
    (void)state;
    sx_agent_idmap m = {0};
    size_t v = 0;
    assert_ok(sx_agent_idmap_put(&m, 0, 0));
    assert_ok(sx_agent_idmap_put(&m, UINT64_MAX, 5));
    assert_true(sx_agent_idmap_get(&m, 0, &v));
    assert_int_equal(v, 0);
    assert_true(sx_agent_idmap_get(&m, UINT64_MAX, &v));
    assert_int_equal(v, 5);
    assert_false(sx_agent_idmap_get(&m, 1, &v));
    /* replacing keeps one entry */
    assert_ok(sx_agent_idmap_put(&m, 0, 9));
    assert_true(sx_agent_idmap_get(&m, 0, &v));
    assert_int_equal(v, 9);
    assert_int_equal(m.count, 2);
    assert_true(sx_agent_idmap_remove(&m, 0));
    assert_false(sx_agent_idmap_get(&m, 0, &v));
    assert_false(sx_agent_idmap_remove(&m, 0));
    assert_int_equal(m.count, 1);
    assert_int_equal(sx_agent_idmap_put(&m, 3, SIZE_MAX), SX_E_USAGE);
    sx_agent_idmap_free(&m);
}

static void test_growth_and_reserve(void **state)
{
    (void)state;
    sx_agent_idmap m = {0};
    for (size_t i = 0; i < 20000; i++)
        assert_ok(sx_agent_idmap_put(&m, (uint64_t)i * 16, i)); /* pointer-like keys */
    assert_int_equal(m.count, 20000);
    assert_true(m.cap >= 2 * m.count);
    for (size_t i = 0; i < 20000; i++) {
        size_t v = 0;
        assert_true(sx_agent_idmap_get(&m, (uint64_t)i * 16, &v));
        assert_int_equal(v, i);
        assert_false(sx_agent_idmap_get(&m, (uint64_t)i * 16 + 1, &v));
    }
    assert_ok(sx_agent_idmap_reserve(&m, 50000));
    size_t cap = m.cap;
    for (size_t i = 20000; i < 50000; i++)
        assert_ok(sx_agent_idmap_put(&m, (uint64_t)i * 16, i));
    assert_int_equal(m.cap, cap); /* no growth after reserve */
    sx_agent_idmap_free(&m);
}

static void test_random_against_array(void **state)
{
    (void)state;
    sx_agent_idmap m = {0};
    size_t ref[KEYS];
    bool has[KEYS] = {false};
    size_t n = 0;
    for (int step = 0; step < 200000; step++) {
        uint64_t r = rnd();
        size_t k = (size_t)(r % KEYS);
        size_t v = 0;
        switch ((r >> 20) % 3) {
        case 0:
            assert_ok(sx_agent_idmap_put(&m, k, (size_t)(r >> 32)));
            n += !has[k];
            has[k] = true;
            ref[k] = (size_t)(r >> 32);
            break;
        case 1:
            assert_int_equal(sx_agent_idmap_remove(&m, k), has[k]);
            n -= has[k];
            has[k] = false;
            break;
        default:
            assert_int_equal(sx_agent_idmap_get(&m, k, &v), has[k]);
            if (has[k])
                assert_int_equal(v, ref[k]);
        }
        assert_int_equal(m.count, n);
    }
    /* every key once more, after the churn */
    for (size_t k = 0; k < KEYS; k++) {
        size_t v = 0;
        assert_int_equal(sx_agent_idmap_get(&m, k, &v), has[k]);
        if (has[k])
            assert_int_equal(v, ref[k]);
    }
    sx_agent_idmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_growth_and_reserve),
        cmocka_unit_test(test_random_against_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
