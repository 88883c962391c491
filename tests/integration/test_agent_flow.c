/* The agent's message flow beyond plain sending, two agents in one process
 * over a real smp-server process: delivery receipts end to end (the
 * reference's testDeliveryReceipts: MSG acked with a receipt, RCVD with
 * the sent message's id and status ok at the sender, the sent message kept
 * until the RCVD is acked, then deleted), a full queue (the reference's
 * testMsgDeliveryQuotaExceeded: the router's quota of 128 messages, QUOTA
 * and MWARN at the sender, which stops; the recipient drains, sends QCONT
 * on the quota marker, the sender resumes at once, well before its slow
 * retry interval of 5 minutes, nothing lost or doubled, in order), and a
 * batch of 100 messages in one call, delivered in order, and message
 * expiry (the reference's testExpireManyMessages: the router down past the
 * message timeout, MERR for the first message, MERRS for the others, their
 * rows gone; the next message after the restart arrives with the gap in
 * its integrity). */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

/* How many message rows the store of agent `name` has with this id. */
static int stored_msgs(const char *name, const char *conn_text, int64_t internal_id)
{
    (void)conn_text;
    char p[128];
    db_path(p, sizeof p, name);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM messages WHERE internal_id = ? AND "
                                        "internal_snd_id IS NOT NULL",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(q, 1, internal_id);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

static void test_receipts(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_rc", false);
    sx_agent *bob = open_agent("bob_rc", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    send_expect_sent(alice, bob_id, "hello", 2);
    expect_sent(alice, bob_id, 2);
    /* Delivered, kept for its receipt. */
    assert_int_equal(stored_msgs("alice_rc", bob_id, 2), 1);
    sx_agent_event ev;
    expect(bob, SX_AGENT_EV_MSG, alice_id, &ev);
    expect_body(&ev, "hello");
    assert_int_equal(ev.msg_id, 2);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_ack_receipt(bob, alice_id, 2, "rcpt info", 9));
    /* Alice: RCVD, from the receipt message (bob's id 3 of it, counted as
     * alice's message 3), confirming her message 2. */
    expect(alice, SX_AGENT_EV_RCVD, bob_id, &ev);
    assert_int_equal(ev.msg_id, 3);
    assert_int_equal(ev.n_receipts, 1);
    assert_int_equal(ev.receipts[0].msg_id, 2);
    assert_true(ev.receipts[0].ok);
    int64_t rcvd_id = ev.msg_id;
    sx_agent_event_clear(&ev);
    /* A receipt only for a MSG: not for the RCVD. */
    assert_int_equal(sx_agent_ack_receipt(alice, bob_id, rcvd_id, "x", 1), SX_E_USAGE);
    assert_int_equal(stored_msgs("alice_rc", bob_id, 2), 1);
    assert_ok(sx_agent_ack(alice, bob_id, rcvd_id));
    assert_int_equal(stored_msgs("alice_rc", bob_id, 2), 0);
    /* The conversation goes on both ways, receipts the other way too. */
    send_expect_sent(bob, alice_id, "hi", 4);
    expect_sent(bob, alice_id, 4);
    expect(alice, SX_AGENT_EV_MSG, bob_id, &ev);
    expect_body(&ev, "hi");
    assert_ok(sx_agent_ack_receipt(alice, bob_id, ev.msg_id, "", 0));
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_RCVD, alice_id, &ev);
    assert_int_equal(ev.n_receipts, 1);
    assert_int_equal(ev.receipts[0].msg_id, 4);
    assert_true(ev.receipts[0].ok);
    assert_ok(sx_agent_ack(bob, alice_id, ev.msg_id));
    sx_agent_event_clear(&ev);
    /* A plain ack sends no receipt. */
    send_expect_sent(alice, bob_id, "no receipt", 6);
    expect_sent(alice, bob_id, 6);
    expect_msg(bob, alice_id, "no receipt", 6, true);
    assert_ok(sx_agent_next(alice, 1000, &ev));
    while (ev.kind == SX_AGENT_EV_UP || ev.kind == SX_AGENT_EV_DOWN)
        assert_ok(sx_agent_next(alice, 1000, &ev));
    assert_int_equal(ev.kind, SX_AGENT_EV_NONE);
    assert_int_equal(stored_msgs("alice_rc", bob_id, 6), 1);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* The router's queue quota (msgQueueQuota of the reference, fixed at 128
 * as there) plus a few. */
#define QUOTA 128
#define OVER 5

static void test_quota_qcont(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_q", false);
    sx_agent *bob = open_agent("bob_q", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    sx_agent_close(bob); /* bob away: his queue fills */
    char t[32];
    for (int i = 0; i < QUOTA + OVER; i++) {
        snprintf(t, sizeof t, "m%d", i);
        send_expect_sent(alice, bob_id, t, 2 + i);
    }
    sx_agent_event ev;
    for (int i = 0; i < QUOTA; i++)
        expect_sent(alice, bob_id, 2 + i);
    /* The next one: QUOTA, a warning, and the sender stops. */
    expect(alice, SX_AGENT_EV_MWARN, bob_id, &ev);
    assert_int_equal(ev.msg_id, 2 + QUOTA);
    assert_int_equal(ev.status, SX_E_LIMIT);
    assert_non_null(strstr(ev.detail, "QUOTA"));
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_next(alice, 1500, &ev));
    while (ev.kind == SX_AGENT_EV_UP || ev.kind == SX_AGENT_EV_DOWN)
        assert_ok(sx_agent_next(alice, 1500, &ev));
    assert_int_equal(ev.kind, SX_AGENT_EV_NONE);
    /* bob back: he drains the queue, his agent sends QCONT at the marker. */
    bob = open_agent("bob_q", false);
    for (int i = 0; i < QUOTA; i++) {
        snprintf(t, sizeof t, "m%d", i);
        expect_msg(bob, alice_id, t, 2 + i, true);
    }
    int64_t start = now_ms();
    expect(alice, SX_AGENT_EV_QCONT, bob_id, &ev);
    sx_agent_event_clear(&ev);
    for (int i = QUOTA; i < QUOTA + OVER; i++)
        expect_sent(alice, bob_id, 2 + i);
    /* Well before the slow retry (5 minutes): it was the QCONT. */
    assert_true(now_ms() - start < 240000);
    /* bob's own QCONT message took id 2 + QUOTA. */
    for (int i = QUOTA; i < QUOTA + OVER; i++) {
        snprintf(t, sizeof t, "m%d", i);
        expect_msg(bob, alice_id, t, 3 + i, true);
    }
    assert_ok(sx_agent_next(bob, 1000, &ev));
    while (ev.kind == SX_AGENT_EV_UP || ev.kind == SX_AGENT_EV_DOWN)
        assert_ok(sx_agent_next(bob, 1000, &ev));
    assert_int_equal(ev.kind, SX_AGENT_EV_NONE);
    /* And back the other way, through bob's queue. */
    send_expect_sent(bob, alice_id, "thanks", 4 + QUOTA + OVER - 1);
    expect_sent(bob, alice_id, 4 + QUOTA + OVER - 1);
    expect_msg(alice, bob_id, "thanks", 4 + QUOTA + OVER - 1, true);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

#define BATCH 100

static void test_send_many(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_b", false);
    sx_agent *bob = open_agent("bob_b", false);
    sx_agent *carol = open_agent("carol_b", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char carol_id[SX_AGENT_CONN_ID_TEXT], alice_c_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    connect_pair(alice, carol, carol_id, alice_c_id, true);
    static char texts[BATCH][16];
    sx_agent_outmsg m[BATCH + 1];
    memset(m, 0, sizeof m);
    for (int i = 0; i < BATCH; i++) {
        snprintf(texts[i], sizeof texts[i], "b%d", i);
        m[i].conn_id = bob_id;
        m[i].body = texts[i];
        m[i].len = strlen(texts[i]);
    }
    assert_ok(sx_agent_send_many(alice, m, BATCH));
    for (int i = 0; i < BATCH; i++) {
        assert_int_equal(m[i].status, SX_OK);
        assert_int_equal(m[i].msg_id, 2 + i);
    }
    for (int i = 0; i < BATCH; i++)
        expect_sent(alice, bob_id, 2 + i);
    for (int i = 0; i < BATCH; i++)
        expect_msg(bob, alice_id, texts[i], 2 + i, true);
    /* Two connections and a message that cannot go (an unknown connection):
     * the others are queued. */
    m[0].conn_id = carol_id;
    m[1].conn_id = "AAAAAAAAAAAAAAAA";
    m[2].conn_id = bob_id;
    m[3].conn_id = carol_id;
    assert_int_equal(sx_agent_send_many(alice, m, 4), SX_E_USAGE);
    assert_int_equal(m[0].status, SX_OK);
    assert_int_equal(m[1].status, SX_E_USAGE);
    assert_int_equal(m[1].msg_id, 0);
    assert_int_equal(m[2].status, SX_OK);
    assert_int_equal(m[3].status, SX_OK);
    assert_int_equal(m[0].msg_id, 2);
    assert_int_equal(m[2].msg_id, 2 + BATCH);
    assert_int_equal(m[3].msg_id, 3);
    expect_msg(carol, alice_c_id, texts[0], 2, true);
    expect_msg(carol, alice_c_id, texts[3], 3, true);
    expect_msg(bob, alice_id, texts[2], 2 + BATCH, true);
    assert_ok(sx_agent_send_many(alice, m, 0));
    sx_agent_close(alice);
    sx_agent_close(bob);
    sx_agent_close(carol);
    router_kill9();
}

static int64_t sql_count(const char *name, const char *sql)
{
    char p[128];
    db_path(p, sizeof p, name);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

static void test_expiry(void **state)
{
    (void)state;
    router_start();
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.message_timeout_s = 2;
    sx_agent *alice = open_agent_opts("alice_x", &o);
    sx_agent *bob = open_agent("bob_x", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    send_expect_sent(alice, bob_id, "before", 2);
    expect_sent(alice, bob_id, 2);
    expect_msg(bob, alice_id, "before", 2, true);
    router_kill9();
    send_expect_sent(alice, bob_id, "lost 1", 3);
    send_expect_sent(alice, bob_id, "lost 2", 4);
    send_expect_sent(alice, bob_id, "lost 3", 5);
    /* The first fails with MERR, the rest with it in MERRS (or, when they
     * were stored in a later second than the first, on their own): each
     * of 3, 4, 5 once, 3 first. */
    int failed[6] = {0};
    int n_failed = 0;
    int64_t until = now_ms() + WAIT_MS;
    while (n_failed < 3) {
        sx_agent_event ev;
        assert_ok(sx_agent_next(alice, 200, &ev));
        if (now_ms() > until)
            fail_msg("not all expired");
        if (ev.kind == SX_AGENT_EV_MERR || ev.kind == SX_AGENT_EV_MERRS) {
            assert_string_equal(ev.conn, bob_id);
            assert_int_equal(ev.status, SX_E_IO);
            assert_non_null(strstr(ev.detail, "expired"));
        }
        if (ev.kind == SX_AGENT_EV_MERR) {
            if (n_failed == 0)
                assert_int_equal(ev.msg_id, 3);
            assert_true(ev.msg_id >= 3 && ev.msg_id <= 5 && !failed[ev.msg_id]);
            failed[ev.msg_id] = 1;
            n_failed++;
        } else if (ev.kind == SX_AGENT_EV_MERRS) {
            assert_true(ev.n_msg_ids > 0);
            for (size_t i = 0; i < ev.n_msg_ids; i++) {
                assert_true(ev.msg_ids[i] > 3 && ev.msg_ids[i] <= 5 && !failed[ev.msg_ids[i]]);
                failed[ev.msg_ids[i]] = 1;
                n_failed++;
            }
        } else if (ev.kind != SX_AGENT_EV_NONE && ev.kind != SX_AGENT_EV_UP &&
                   ev.kind != SX_AGENT_EV_DOWN) {
            fail_msg("event %s", sx_agent_event_name(ev.kind));
        }
        sx_agent_event_clear(&ev);
    }
    /* Nothing of them left in the store. */
    assert_int_equal(sql_count("alice_x", "SELECT count(*) FROM snd_message_deliveries"), 0);
    assert_int_equal(sql_count("alice_x", "SELECT count(*) FROM messages WHERE internal_id >= 3"),
                     0);
    router_start();
    send_expect_sent(alice, bob_id, "after", 6);
    expect_sent(alice, bob_id, 6);
    sx_agent_event ev;
    expect(bob, SX_AGENT_EV_MSG, alice_id, &ev);
    expect_body(&ev, "after");
    assert_string_equal(ev.integrity, "ERR SKIPPED 3 5");
    assert_ok(sx_agent_ack(bob, alice_id, ev.msg_id));
    sx_agent_event_clear(&ev);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_receipts, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_quota_qcont, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_send_many, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_expiry, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
