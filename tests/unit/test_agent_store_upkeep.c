/* Tests for the agent store's retry intervals and cleanup (store_cmd.c,
 * store_cleanup.c, migration 7) on real SQLite files with a real ratchet
 * pair: a command's stored interval comes back with the command taken by
 * another handle; the cleanup deletes sent messages (with their deliveries)
 * and the hashes older than the cutoff, the oldest first and at most the
 * limit per pass, and leaves received messages and newer rows alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/store.h"
#include "agent_store_util.h"
#include "simplex/status.h"
#include "testutil.h"

static void test_cmd_retry(void **state)
{
    (void)state;
    char *p = asu_fresh("cmd_retry.db");
    sx_agent_store *s1, *s2;
    assert_ok(sx_agent_store_open(p, 0, &s1));
    assert_ok(sx_agent_store_open(p, 0, &s2));
    int64_t user;
    sx_agent_id c;
    asu_conn(s1, SX_AGENT_CONN_NEW, &user, &c);
    int64_t id = 0;
    assert_ok(sx_agent_store_cmd_enqueue(s1, &c, 0, "JOIN", sx_slice_str("b"), &id));
    assert_ok(sx_agent_store_cmd_set_taken(s1, id, true));
    /* none yet */
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM commands WHERE retry_int_fast IS NULL"),
                     1);
    assert_ok(sx_agent_store_cmd_retry_set(s1, id, 4500));
    assert_ok(sx_agent_store_cmd_set_taken(s1, id, false));
    sx_agent_command cmd;
    bool found = false;
    assert_ok(sx_agent_store_cmd_take(s2, NULL, 0, &cmd, &found));
    assert_true(found);
    assert_int_equal(cmd.command_id, id);
    assert_int_equal(cmd.retry_ms, 4500);
    sx_agent_command_cleanup(&cmd);
    /* a second command has none */
    int64_t id2 = 0;
    assert_ok(sx_agent_store_cmd_enqueue(s1, &c, 0, "ALLOW", sx_slice_str(""), &id2));
    assert_ok(sx_agent_store_cmd_take(s2, NULL, 0, &cmd, &found));
    assert_true(found);
    assert_int_equal(cmd.command_id, id2);
    assert_int_equal(cmd.retry_ms, 0);
    sx_agent_command_cleanup(&cmd);
    sx_agent_store_close(s1);
    sx_agent_store_close(s2);
    free(p);
}

#define N 5

static void test_cleanup(void **state)
{
    (void)state;
    char *pa = asu_fresh("alice_cl.db"), *pb = asu_fresh("bob_cl.db");
    sx_agent_store *sa, *sb;
    assert_ok(sx_agent_store_open(pa, 0, &sa));
    assert_ok(sx_agent_store_open(pb, 0, &sb));
    int64_t ua, ub;
    sx_agent_id ca, cb;
    asu_conn(sa, SX_AGENT_CONN_DUPLEX, &ua, &ca);
    asu_conn(sb, SX_AGENT_CONN_DUPLEX, &ub, &cb);
    sx_ratchet alice, bob;
    asu_ratchet_pair(&alice, &bob);
    assert_ok(sx_agent_store_ratchet_save(sa, &ca, &alice));
    assert_ok(sx_agent_store_ratchet_save(sb, &cb, &bob));
    int64_t bq = asu_snd_queue(sb, &cb, 1);
    int64_t aq = asu_rcv_queue(sa, &ca, 2);
    /* bob sends N messages; alice receives them */
    int64_t ids[N];
    for (int i = 0; i < N; i++) {
        uint8_t wire[1024];
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        asu_snd_ctx sc = {.text = text, .out = wire, .cap = sizeof wire};
        sx_agent_snd_ids sids;
        assert_ok(sx_agent_store_snd_msg_create(sb, &cb, &bq, 1, asu_snd_cb, &sc, &sids));
        ids[i] = sids.internal_id;
        asu_rcv_ctx rc = {.wire = wire, .wire_len = sc.out_len, .rcv_queue_id = aq};
        memset(rc.broker_id, 'a' + i, sizeof rc.broker_id);
        int64_t rid = 0;
        assert_ok(sx_agent_store_rcv_msg_record(sa, &ca, asu_rcv_cb, &rc, &rid));
    }
    /* the first two delivered and kept for receipts, the rest waiting */
    assert_ok(sx_agent_store_delivery_done(sb, &cb, bq, ids[0], true));
    assert_ok(sx_agent_store_delivery_done(sb, &cb, bq, ids[1], true));
    uint8_t h[32];
    memset(h, 7, sizeof h);
    bool seen = true;
    assert_ok(sx_agent_store_rkey_hash_add(sa, &ca, h, &seen));
    assert_false(seen);
    /* ages: the first three sent messages 1000 s old, oldest first; the
     * received hashes and the ratchet key hash too, except one hash */
    char sql[256];
    for (int i = 0; i < 3; i++) {
        snprintf(sql, sizeof sql,
                 "UPDATE messages SET created_at = created_at - %d WHERE internal_id = %lld",
                 1100 - i * 10, (long long)ids[i]);
        asu_sql_exec(pb, sql);
    }
    asu_sql_exec(pa, "UPDATE encrypted_rcv_message_hashes SET created_at = created_at - 1000 "
                     "WHERE hash <> (SELECT max(hash) FROM encrypted_rcv_message_hashes)");
    asu_sql_exec(pa, "UPDATE processed_ratchet_key_hashes SET created_at = created_at - 1000");
    asu_sql_exec(pa, "UPDATE messages SET created_at = created_at - 1000");
    int64_t cutoff = (int64_t)time(NULL) - 500;

    /* bob: two per pass, the oldest first */
    sx_agent_cleanup_counts n;
    assert_ok(sx_agent_store_cleanup(sb, cutoff, 2, &n));
    assert_int_equal(n.snd_msgs, 2);
    snprintf(sql, sizeof sql, "SELECT min(internal_id) FROM messages");
    assert_int_equal(asu_sql_int(pb, sql), ids[2]);
    assert_int_equal(asu_sql_int(pb, "SELECT count(*) FROM snd_messages"), N - 2);
    assert_ok(sx_agent_store_cleanup(sb, cutoff, 2, &n));
    assert_int_equal(n.snd_msgs, 1);
    /* the third's delivery went with it; the newer two stay, waiting */
    assert_int_equal(asu_sql_int(pb, "SELECT count(*) FROM snd_message_deliveries"), N - 3);
    assert_int_equal(asu_sql_int(pb, "SELECT count(*) FROM messages"), N - 3);
    assert_ok(sx_agent_store_cleanup(sb, cutoff, 2, &n));
    assert_int_equal(n.snd_msgs, 0);
    assert_int_equal(asu_sql_int(pb, "SELECT count(*) FROM snd_messages"), N - 3);

    /* alice: received messages stay, old hashes go */
    assert_ok(sx_agent_store_cleanup(sa, cutoff, 100, &n));
    assert_int_equal(n.snd_msgs, 0);
    assert_int_equal(n.rcv_hashes, N - 1);
    assert_int_equal(n.ratchet_key_hashes, 1);
    assert_int_equal(asu_sql_int(pa, "SELECT count(*) FROM rcv_messages"), N);
    assert_int_equal(asu_sql_int(pa, "SELECT count(*) FROM encrypted_rcv_message_hashes"), 1);
    assert_int_equal(asu_sql_int(pa, "SELECT count(*) FROM processed_ratchet_key_hashes"), 0);
    assert_int_equal(sx_agent_store_cleanup(sa, cutoff, 0, &n), SX_E_USAGE);
    sx_agent_store_close(sa);
    sx_agent_store_close(sb);
    free(pa);
    free(pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_retry),
        cmocka_unit_test(test_cleanup),
    };
    return cmocka_run_group_tests(tests, asu_setup, asu_teardown);
}
