/* Unit tests of the agent's version ranges (docs/AGENT.md "Versions"). */
#include "testutil.h"

#include "agent/version.h"

static void test_supported_ranges(void **state)
{
    (void)state;
    sx_version_range a = sx_agent_vrange(), s = sx_smpc_vrange(), e = sx_e2e_vrange();
    assert_int_equal(a.min, 2);
    assert_int_equal(a.max, 7);
    assert_int_equal(s.min, 1);
    assert_int_equal(s.max, 4);
    assert_int_equal(e.min, 2);
    assert_int_equal(e.max, 3);
}

static void test_common_max(void **state)
{
    (void)state;
    uint16_t v = 0;
    assert_true(sx_vrange_common_max((sx_version_range){2, 7}, (sx_version_range){1, 5}, &v));
    assert_int_equal(v, 5);
    assert_true(sx_vrange_common_max((sx_version_range){2, 7}, (sx_version_range){7, 9}, &v));
    assert_int_equal(v, 7);
    v = 0;
    assert_false(sx_vrange_common_max((sx_version_range){2, 3}, (sx_version_range){4, 9}, &v));
    assert_int_equal(v, 0);
    /* Malformed ranges meet nothing. */
    assert_false(sx_vrange_common_max((sx_version_range){5, 4}, (sx_version_range){1, 9}, &v));
    assert_false(sx_vrange_common_max((sx_version_range){0, 4}, (sx_version_range){0, 9}, &v));
    sx_version_range r;
    assert_true(sx_vrange_intersect((sx_version_range){2, 7}, (sx_version_range){3, 9}, &r));
    assert_int_equal(r.min, 3);
    assert_int_equal(r.max, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_supported_ranges),
        cmocka_unit_test(test_common_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
