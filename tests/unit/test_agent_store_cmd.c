/* Tests for the commands a process holds (store_cmd.c): a command marked
 * taken by the process that stored it is not taken by another handle,
 * one let go (pending again) is, and a restart after a crash makes a held
 * command pending again; a parked one stays parked; a connection marked
 * deleted to wait for its deliveries (store_delwait.c). */
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

/* A parked command (a join that failed for good) is neither taken nor made
 * pending by a restart; it is found by connection and tag with its state,
 * and goes with its connection. A connection marked deleted keeps its
 * deliveries' count and is listed with its time. */
static void test_parked_and_deleted(void **state)
{
    (void)state;
    char *p = asu_fresh("parked.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t user;
    sx_agent_id c;
    asu_conn(s, SX_AGENT_CONN_NEW, &user, &c);
    int64_t id = 0;
    assert_ok(sx_agent_store_cmd_enqueue(s, &c, 0, "JOIN", sx_slice_str("keys"), &id));
    assert_ok(sx_agent_store_cmd_park(s, id));
    sx_agent_command cmd;
    bool found = true;
    assert_ok(sx_agent_store_cmd_take(s, NULL, 0, &cmd, &found));
    assert_false(found);
    size_t n = 9, pending = 9, taken = 9;
    assert_ok(sx_agent_store_cmd_resume(s, &n));
    assert_int_equal(n, 0);
    assert_ok(sx_agent_store_cmd_count(s, &pending, &taken));
    assert_int_equal(pending, 0);
    assert_int_equal(taken, 0);
    int t = 0;
    assert_ok(sx_agent_store_cmd_find(s, &c, "ALLOW", &cmd, &t, &found));
    assert_false(found);
    assert_ok(sx_agent_store_cmd_find(s, &c, "JOIN", &cmd, &t, &found));
    assert_true(found);
    assert_int_equal(t, 2);
    assert_int_equal(cmd.command_id, id);
    assert_int_equal(cmd.body.len, 4);
    assert_memory_equal(cmd.body.ptr, "keys", 4);
    sx_agent_command_cleanup(&cmd);

    /* the connection of a send queue, by its router and sender id */
    int64_t sq = asu_snd_queue(s, &c, 7);
    sx_agent_snd_queue row;
    assert_ok(sx_agent_store_snd_queue_get(s, sq, &row));
    sx_agent_id owner;
    assert_ok(sx_agent_store_snd_queue_conn(s, row.server_id, row.snd_id, row.snd_id_len, &owner,
                                            &found));
    assert_true(found);
    assert_memory_equal(owner.b, c.b, sizeof c.b);
    row.snd_id[0] ^= 1;
    assert_ok(sx_agent_store_snd_queue_conn(s, row.server_id, row.snd_id, row.snd_id_len, &owner,
                                            &found));
    assert_false(found);

    size_t nd = 9;
    assert_ok(sx_agent_store_conn_deliveries(s, &c, &nd));
    assert_int_equal(nd, 0);
    assert_ok(sx_agent_store_conn_set_deleted(s, &c, 1234567));
    sx_agent_conn got;
    assert_ok(sx_agent_store_conn_get(s, &c, &got));
    assert_int_equal(got.state, SX_AGENT_CONN_DELETED);
    sx_agent_id *ids = NULL;
    int64_t *ats = NULL;
    assert_ok(sx_agent_store_conn_deleted_list(s, &ids, &ats, &n));
    assert_int_equal(n, 1);
    assert_memory_equal(ids[0].b, c.b, sizeof c.b);
    assert_int_equal(ats[0], 1234567);
    free(ids);
    free(ats);
    /* no command is stored for a deleted connection */
    int64_t id2 = 1;
    assert_ok(sx_agent_store_cmd_enqueue(s, &c, 0, "ALLOW", sx_slice_str(""), &id2));
    assert_int_equal(id2, 0);
    assert_ok(sx_agent_store_conn_delete(s, &c));
    assert_ok(sx_agent_store_cmd_find(s, &c, "JOIN", &cmd, &t, &found));
    assert_false(found);
    assert_ok(sx_agent_store_conn_deleted_list(s, &ids, &ats, &n));
    assert_int_equal(n, 0);
    free(ids);
    free(ats);
    sx_agent_store_close(s);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held),
        cmocka_unit_test(test_parked_and_deleted),
    };
    return cmocka_run_group_tests(tests, asu_setup, asu_teardown);
}
