/* Tests for the commands a process holds (store_cmd.c): a command marked
 * taken by the process that stored it is not taken by another handle,
 * one let go (pending again) is, and a restart after a crash makes a held
 * command pending again. */
#include <stdlib.h>
#include <string.h>

#include "agent/store.h"
#include "agent_store_util.h"
#include "simplex/status.h"
#include "testutil.h"

static void test_held(void **state)
{
    (void)state;
    char *p = asu_fresh("held.db");
    sx_agent_store *s1, *s2;
    assert_ok(sx_agent_store_open(p, 0, &s1));
    assert_ok(sx_agent_store_open(p, 0, &s2));
    int64_t user;
    sx_agent_id c;
    asu_conn(s1, SX_AGENT_CONN_NEW, &user, &c);
    int64_t id = 0;
    assert_ok(sx_agent_store_begin(s1));
    assert_ok(sx_agent_store_cmd_enqueue(s1, &c, 0, "JOIN", sx_slice_str("body"), &id));
    assert_true(id > 0);
    assert_ok(sx_agent_store_cmd_set_taken(s1, id, true));
    assert_ok(sx_agent_store_commit(s1));
    /* Held by s1: another handle does not take it. */
    sx_agent_command cmd;
    bool found = true;
    assert_ok(sx_agent_store_cmd_take(s2, NULL, 0, &cmd, &found));
    assert_false(found);
    /* Let go: the other takes it, with its body. */
    assert_ok(sx_agent_store_cmd_set_taken(s1, id, false));
    assert_ok(sx_agent_store_cmd_take(s2, NULL, 0, &cmd, &found));
    assert_true(found);
    assert_int_equal(cmd.command_id, id);
    assert_string_equal(cmd.tag, "JOIN");
    assert_int_equal(cmd.body.len, 4);
    assert_memory_equal(cmd.body.ptr, "body", 4);
    sx_agent_command_cleanup(&cmd);
    /* The taker "crashes": a restart's resume makes it pending again. */
    sx_agent_store_close(s2);
    size_t n = 0;
    assert_ok(sx_agent_store_cmd_resume(s1, &n));
    assert_int_equal(n, 1);
    size_t pending = 0, taken = 0;
    assert_ok(sx_agent_store_cmd_count(s1, &pending, &taken));
    assert_int_equal(pending, 1);
    assert_int_equal(taken, 0);
    /* Rolled back with the transaction that stored it: no row. */
    int64_t id2 = 0;
    assert_ok(sx_agent_store_begin(s1));
    assert_ok(sx_agent_store_cmd_enqueue(s1, &c, 0, "ALLOW", sx_slice_str(""), &id2));
    assert_ok(sx_agent_store_cmd_set_taken(s1, id2, true));
    sx_agent_store_rollback(s1);
    assert_ok(sx_agent_store_cmd_count(s1, &pending, &taken));
    assert_int_equal(pending, 1);
    assert_int_equal(taken, 0);
    assert_ok(sx_agent_store_cmd_complete(s1, id));
    sx_agent_store_close(s1);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held),
    };
    return cmocka_run_group_tests(tests, asu_setup, asu_teardown);
}
