/* Tests for the store's part of queue rotation (store_switch.c): the
 * migration that adds the switch status, the status on create, get and
 * list, moving the primary flag to the next queue, deleting the replaced
 * queue (with its pending deliveries), and the refusals. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/store.h"
#include "agent/store_int.h"
#include "agent_store_util.h"
#include "simplex/status.h"
#include "testutil.h"

/* The version of the migration named name (fails the test when missing). */
static int migration_version(const char *name)
{
    size_t n;
    const sx_agent_migration *m = sx_agent_store_migrations(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].name, name) == 0)
            return m[i].version;
    fail_msg("no migration %s", name);
    return 0;
}

static int64_t column_count(const char *p, const char *table)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pragma_table_info('%s') WHERE name = 'switch_status'", table);
    return asu_sql_int(p, sql);
}

static void test_migration(void **state)
{
    (void)state;
    int v = migration_version("queue_switch");
    assert_true(v > 1);
    char *p = asu_fresh("mig.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, v - 1, &s));
    sx_agent_store_close(s);
    assert_int_equal(column_count(p, "rcv_queues"), 0);
    assert_int_equal(column_count(p, "snd_queues"), 0);
    assert_ok(sx_agent_store_open(p, 0, &s));
    int got;
    assert_ok(sx_agent_store_schema(s, &got));
    assert_int_equal(got, SX_AGENT_STORE_SCHEMA);
    sx_agent_store_close(s);
    assert_int_equal(column_count(p, "rcv_queues"), 1);
    assert_int_equal(column_count(p, "snd_queues"), 1);
    free(p);
}

/* Runs sql on the file and returns SQLite's result code. */
static int sql_rc(const char *p, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static void test_switch_status(void **state)
{
    (void)state;
    char *p = asu_fresh("status.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t user;
    sx_agent_id conn;
    asu_conn(s, SX_AGENT_CONN_DUPLEX, &user, &conn);
    int64_t rq = asu_rcv_queue(s, &conn, 0x10);
    int64_t sq = asu_snd_queue(s, &conn, 0x20);
    sx_agent_rcv_queue r;
    sx_agent_snd_queue q;
    assert_ok(sx_agent_store_rcv_queue_get(s, rq, &r));
    assert_int_equal(r.switch_status, SX_AGENT_RSW_NONE);
    assert_ok(sx_agent_store_snd_queue_get(s, sq, &q));
    assert_int_equal(q.switch_status, SX_AGENT_SSW_NONE);

    /* Each status in turn, then back to none. */
    for (int sw = SX_AGENT_RSW_STARTED; sw <= SX_AGENT_RSW_RECEIVED_MSG; sw++) {
        assert_ok(sx_agent_store_rcv_queue_set_switch(s, rq, (sx_agent_rcv_switch)sw));
        assert_ok(sx_agent_store_rcv_queue_get(s, rq, &r));
        assert_int_equal(r.switch_status, sw);
    }
    assert_ok(sx_agent_store_rcv_queue_set_switch(s, rq, SX_AGENT_RSW_NONE));
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM rcv_queues WHERE switch_status IS NULL"),
                     1);
    for (int sw = SX_AGENT_SSW_SENDING_QKEY; sw <= SX_AGENT_SSW_SENDING_QTEST; sw++) {
        assert_ok(sx_agent_store_snd_queue_set_switch(s, sq, (sx_agent_snd_switch)sw));
        assert_ok(sx_agent_store_snd_queue_get(s, sq, &q));
        assert_int_equal(q.switch_status, sw);
    }
    assert_ok(sx_agent_store_snd_queue_set_switch(s, sq, SX_AGENT_SSW_NONE));
    assert_ok(sx_agent_store_snd_queue_get(s, sq, &q));
    assert_int_equal(q.switch_status, SX_AGENT_SSW_NONE);

    /* Out of range, no such queue. */
    assert_int_equal(sx_agent_store_rcv_queue_set_switch(s, rq, (sx_agent_rcv_switch)5), SX_E_USAGE);
    assert_int_equal(sx_agent_store_snd_queue_set_switch(s, sq, (sx_agent_snd_switch)3), SX_E_USAGE);
    assert_int_equal(sx_agent_store_rcv_queue_set_switch(s, 999999, SX_AGENT_RSW_STARTED),
                     SX_E_USAGE);
    assert_int_equal(sx_agent_store_snd_queue_set_switch(s, 999999, SX_AGENT_SSW_SENDING_QKEY),
                     SX_E_USAGE);
    /* The file refuses values no code writes. */
    assert_int_equal(sql_rc(p, "UPDATE rcv_queues SET switch_status = 5"), SQLITE_CONSTRAINT);
    assert_int_equal(sql_rc(p, "UPDATE snd_queues SET switch_status = 0"), SQLITE_CONSTRAINT);

    /* A new queue created with a status and a queue it replaces keeps both,
     * also through a retry of a NEW send queue. */
    r.queue_id = 0;
    r.primary = false;
    r.replace_queue_id = rq;
    r.switch_status = SX_AGENT_RSW_STARTED;
    memset(r.rcv_id, 0x31, r.rcv_id_len);
    memset(r.snd_id, 0x32, r.snd_id_len);
    int64_t rq2;
    assert_ok(sx_agent_store_rcv_queue_create(s, &r, &rq2));
    sx_agent_rcv_queue r2;
    assert_ok(sx_agent_store_rcv_queue_get(s, rq2, &r2));
    assert_int_equal(r2.switch_status, SX_AGENT_RSW_STARTED);
    assert_int_equal(r2.replace_queue_id, rq);
    assert_false(r2.primary);
    r.switch_status = (sx_agent_rcv_switch)9;
    int64_t bad;
    assert_int_equal(sx_agent_store_rcv_queue_create(s, &r, &bad), SX_E_USAGE);

    q.queue_id = 0;
    q.status = SX_AGENT_Q_NEW;
    q.primary = false;
    q.replace_queue_id = sq;
    q.switch_status = SX_AGENT_SSW_SENDING_QKEY;
    memset(q.snd_id, 0x41, q.snd_id_len);
    int64_t sq2, sq3;
    assert_ok(sx_agent_store_snd_queue_create(s, &q, &sq2));
    q.switch_status = SX_AGENT_SSW_SENDING_QTEST;
    assert_ok(sx_agent_store_snd_queue_create(s, &q, &sq3));
    assert_int_equal(sq2, sq3);
    sx_agent_snd_queue q2;
    assert_ok(sx_agent_store_snd_queue_get(s, sq2, &q2));
    assert_int_equal(q2.switch_status, SX_AGENT_SSW_SENDING_QTEST);
    assert_int_equal(q2.replace_queue_id, sq);
    q.switch_status = (sx_agent_snd_switch)7;
    assert_int_equal(sx_agent_store_snd_queue_create(s, &q, &bad), SX_E_USAGE);
    sx_agent_store_close(s);
    free(p);
}

/* The receiver's end of a switch: the next queue becomes primary, the old
 * one goes; the same for the sender, whose old queue's deliveries go too. */
static void test_primary_and_delete(void **state)
{
    (void)state;
    char *p = asu_fresh("primary.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t user;
    sx_agent_id conn, other;
    asu_conn(s, SX_AGENT_CONN_DUPLEX, &user, &conn);
    asu_conn(s, SX_AGENT_CONN_DUPLEX, &user, &other);
    int64_t old_rq = asu_rcv_queue(s, &conn, 0x10);
    int64_t other_rq = asu_rcv_queue(s, &other, 0x11);
    sx_agent_rcv_queue r;
    assert_ok(sx_agent_store_rcv_queue_get(s, old_rq, &r));
    r.primary = false;
    r.replace_queue_id = old_rq;
    r.switch_status = SX_AGENT_RSW_SENDING_QUSE;
    memset(r.rcv_id, 0x51, r.rcv_id_len);
    memset(r.snd_id, 0x52, r.snd_id_len);
    int64_t new_rq;
    assert_ok(sx_agent_store_rcv_queue_create(s, &r, &new_rq));
    sx_agent_rcv_queue *rl;
    size_t n;
    assert_ok(sx_agent_store_rcv_queue_list(s, &conn, &rl, &n));
    assert_int_equal(n, 2);
    assert_int_equal(rl[0].queue_id, old_rq);
    free(rl);

    assert_ok(sx_agent_store_rcv_queue_set_primary(s, new_rq));
    assert_ok(sx_agent_store_rcv_queue_list(s, &conn, &rl, &n));
    assert_int_equal(n, 2);
    assert_int_equal(rl[0].queue_id, new_rq);
    assert_true(rl[0].primary);
    assert_int_equal(rl[0].replace_queue_id, 0);
    assert_int_equal(rl[0].switch_status, SX_AGENT_RSW_NONE);
    assert_int_equal(rl[1].queue_id, old_rq);
    assert_false(rl[1].primary);
    free(rl);
    /* Another connection's queue keeps its flag. */
    assert_ok(sx_agent_store_rcv_queue_get(s, other_rq, &r));
    assert_true(r.primary);

    assert_ok(sx_agent_store_rcv_queue_delete(s, old_rq));
    assert_ok(sx_agent_store_rcv_queue_list(s, &conn, &rl, &n));
    assert_int_equal(n, 1);
    assert_int_equal(rl[0].queue_id, new_rq);
    free(rl);
    assert_int_equal(sx_agent_store_rcv_queue_delete(s, old_rq), SX_E_USAGE);
    assert_int_equal(sx_agent_store_rcv_queue_set_primary(s, old_rq), SX_E_USAGE);

    /* Abort: the next queue is deleted instead; the old one stays primary. */
    assert_ok(sx_agent_store_rcv_queue_get(s, new_rq, &r));
    r.primary = false;
    r.replace_queue_id = new_rq;
    r.switch_status = SX_AGENT_RSW_SENDING_QADD;
    memset(r.rcv_id, 0x61, r.rcv_id_len);
    memset(r.snd_id, 0x62, r.snd_id_len);
    int64_t next_rq;
    assert_ok(sx_agent_store_rcv_queue_create(s, &r, &next_rq));
    assert_ok(sx_agent_store_rcv_queue_delete(s, next_rq));
    assert_ok(sx_agent_store_rcv_queue_get(s, new_rq, &r));
    assert_true(r.primary);

    /* Send side: a message pending on both queues, one on the old only. */
    sx_ratchet alice, bob;
    asu_ratchet_pair(&alice, &bob);
    assert_ok(sx_agent_store_ratchet_save(s, &conn, &bob));
    int64_t old_sq = asu_snd_queue(s, &conn, 0x20);
    sx_agent_snd_queue q;
    assert_ok(sx_agent_store_snd_queue_get(s, old_sq, &q));
    q.primary = false;
    q.status = SX_AGENT_Q_SECURED;
    q.replace_queue_id = old_sq;
    q.switch_status = SX_AGENT_SSW_SENDING_QTEST;
    memset(q.snd_id, 0x71, q.snd_id_len);
    int64_t new_sq;
    assert_ok(sx_agent_store_snd_queue_create(s, &q, &new_sq));
    uint8_t wire[1024];
    asu_snd_ctx sc = {.text = "before", .out = wire, .cap = sizeof wire};
    assert_ok(sx_agent_store_snd_msg_create(s, &conn, &old_sq, 1, asu_snd_cb, &sc, NULL));
    int64_t both[2] = {old_sq, new_sq};
    sc.text = "during";
    assert_ok(sx_agent_store_snd_msg_create(s, &conn, both, 2, asu_snd_cb, &sc, NULL));
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM snd_message_deliveries"), 3);

    assert_ok(sx_agent_store_snd_queue_set_primary(s, new_sq));
    sx_agent_snd_queue *sl;
    assert_ok(sx_agent_store_snd_queue_list(s, &conn, &sl, &n));
    assert_int_equal(n, 2);
    assert_int_equal(sl[0].queue_id, new_sq);
    assert_true(sl[0].primary);
    assert_int_equal(sl[0].replace_queue_id, 0);
    assert_int_equal(sl[0].switch_status, SX_AGENT_SSW_NONE);
    assert_false(sl[1].primary);
    free(sl);
    assert_ok(sx_agent_store_snd_queue_delete(s, old_sq));
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM snd_message_deliveries"), 1);
    sx_agent_delivery d;
    bool found;
    assert_ok(sx_agent_store_delivery_next(s, new_sq, &d, &found));
    assert_true(found);
    sx_agent_delivery_cleanup(&d);
    assert_int_equal(sx_agent_store_snd_queue_delete(s, old_sq), SX_E_USAGE);
    assert_int_equal(sx_agent_store_snd_queue_set_primary(s, 999999), SX_E_USAGE);

    /* A queue that pointed at a deleted one no longer does. */
    assert_ok(sx_agent_store_snd_queue_get(s, new_sq, &q));
    q.primary = false;
    q.status = SX_AGENT_Q_NEW;
    q.replace_queue_id = new_sq;
    memset(q.snd_id, 0x72, q.snd_id_len);
    int64_t next_sq;
    assert_ok(sx_agent_store_snd_queue_create(s, &q, &next_sq));
    assert_ok(sx_agent_store_snd_queue_delete(s, new_sq));
    assert_ok(sx_agent_store_snd_queue_get(s, next_sq, &q));
    assert_int_equal(q.replace_queue_id, 0);
    sx_ratchet_cleanup(&alice);
    sx_ratchet_cleanup(&bob);
    sx_agent_store_close(s);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migration),
        cmocka_unit_test(test_switch_status),
        cmocka_unit_test(test_primary_and_delete),
    };
    return cmocka_run_group_tests(tests, asu_setup, asu_teardown);
}
