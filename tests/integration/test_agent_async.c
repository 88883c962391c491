/* The reference's scenarios of agents and routers going offline during the
 * handshake and the conversation (AGENT-NOTES I7-I10, I17), two agents in
 * one process with their own store files over real smp-server processes;
 * each test is named after the reference's (FunctionalAPITests.hs):
 *  - testAsyncInitiatingOffline: the inviter closed after making the link,
 *    the joiner joins and sends; the inviter opened again gets the CONF and
 *    the messages, allows, and both reach CON;
 *  - testAsyncBothOffline: both closed in turn after their step;
 *  - testAsyncServerOffline: DOWN and UP at the inviter as the router goes
 *    and comes back; joining while it is down returns (the join's steps are
 *    a stored command, retried), a second join of the same link meanwhile
 *    is refused and leaves nothing, and the handshake completes once the
 *    router is back;
 *  - testAllowConnectionClientRestart: the joiner's queue on a second
 *    router that is down when the inviter allows (the allow returns, its
 *    steps stored); the inviter closed, the router back, the inviter
 *    opened again: the stored command finishes, and both reach CON;
 *  - testDeliverClientRestart: a message sent while the router is down,
 *    its sender closed and opened again: SENT after the router is back, and
 *    the message arrives once;
 *  - the same with the back-off kept (the reference's stored retry state,
 *    updateRetryInterval2): the interval the sender grew to while the
 *    router was down is stored with the message, and the sender opened
 *    again goes on from it (the next stored interval larger still) rather
 *    than from the first;
 *  - testBatchedSubscriptions (200 connections, 20 deleted): the others'
 *    subscriptions come back after both agents and the router restarted;
 *  - testBatchedPendingMessages: messages waiting on the router for 5 of 10
 *    connections arrive once the recipient subscribes them all at once. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

/* x sends text to y: SENT with the id the send returned, MSG at y with the
 * text (acknowledged); the ids of both sides returned. */
static void send_recv(sx_agent *x, const char *x_conn, sx_agent *y, const char *y_conn,
                      const char *text, int pq)
{
    int64_t id = 0;
    assert_ok(sx_agent_send(x, x_conn, text, strlen(text), &id));
    assert_true(id > 0);
    expect_sent(x, x_conn, id);
    sx_agent_event ev;
    expect(y, SX_AGENT_EV_MSG, y_conn, &ev);
    expect_body(&ev, text);
    assert_string_equal(ev.integrity, "OK");
    if (pq >= 0)
        assert_int_equal(ev.pq, pq);
    assert_ok(sx_agent_ack(y, y_conn, ev.msg_id));
    sx_agent_event_clear(&ev);
}

/* exchangeGreetings: a message each way. */
static void greetings(sx_agent *alice, const char *bob_id, sx_agent *bob, const char *alice_id,
                      int pq)
{
    send_recv(alice, bob_id, bob, alice_id, "hello", pq);
    send_recv(bob, alice_id, alice, bob_id, "hello too", pq);
}

/* The CONF of bob's info at alice: its confirmation id into conf. */
static void expect_conf(sx_agent *alice, const char *bob_id, char conf[SX_AGENT_CONN_ID_TEXT])
{
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    expect_body(&ev, "bob's info");
    memcpy(conf, ev.conf_id, SX_AGENT_CONN_ID_TEXT);
    sx_agent_event_clear(&ev);
}

/* CON at alice, INFO and CON at bob, with pq. */
static void expect_connected(sx_agent *alice, const char *bob_id, sx_agent *bob, const char *alice_id,
                             bool pq)
{
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    assert_int_equal(ev.pq, pq);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
    expect_body(&ev, "alice's info");
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    assert_int_equal(ev.pq, pq);
    sx_agent_event_clear(&ev);
}

static char *invite(sx_agent *alice, const char *server, char *bob_id)
{
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, server, bob_id, &link));
    return link;
}

static void test_testAsyncInitiatingOffline(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_aio", false);
    sx_agent *bob = open_agent("bob_aio", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char *link = invite(alice, R.addr, bob_id);
    sx_agent_close(alice);
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, alice_id));
    sx_agent_free_text(link);
    alice = open_agent("alice_aio", false);
    char conf[SX_AGENT_CONN_ID_TEXT];
    expect_conf(alice, bob_id, conf);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's info", 12));
    expect_connected(alice, bob_id, bob, alice_id, true);
    greetings(alice, bob_id, bob, alice_id, true);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

static void test_testAsyncBothOffline(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_abo", false);
    sx_agent *bob = open_agent("bob_abo", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char *link = invite(alice, R.addr, bob_id);
    sx_agent_close(alice);
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, alice_id));
    sx_agent_free_text(link);
    assert_ok(sx_agent_flush(bob, WAIT_MS)); /* the confirmation went */
    sx_agent_close(bob);
    alice = open_agent("alice_abo", false);
    char conf[SX_AGENT_CONN_ID_TEXT];
    expect_conf(alice, bob_id, conf);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's info", 12));
    bob = open_agent("bob_abo", false);
    expect_connected(alice, bob_id, bob, alice_id, true);
    greetings(alice, bob_id, bob, alice_id, true);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* The next DOWN (down) or UP event of a, other events failing the test
 * (waiting for DOWN, the UP of the first subscription is passed over). */
static void expect_router_event(sx_agent *a, bool down)
{
    int64_t until = now_ms() + WAIT_MS;
    sx_agent_event ev;
    for (;;) {
        assert_ok(sx_agent_next(a, 200, &ev));
        if (ev.kind != SX_AGENT_EV_NONE && !(down && ev.kind == SX_AGENT_EV_UP))
            break;
        if (now_ms() > until)
            fail_msg("no %s event", down ? "DOWN" : "UP");
    }
    if (ev.kind != (down ? SX_AGENT_EV_DOWN : SX_AGENT_EV_UP))
        fail_msg("event %s, expected %s", sx_agent_event_name(ev.kind), down ? "DOWN" : "UP");
    assert_non_null(strstr(R.addr, ev.server));
    sx_agent_event_clear(&ev);
}

static void test_testAsyncServerOffline(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_aso", false);
    sx_agent *bob = open_agent("bob_aso", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char again[SX_AGENT_CONN_ID_TEXT];
    char *link = invite(alice, R.addr, bob_id);
    router_kill9();
    expect_router_event(alice, true);
    /* The reference's synchronous join fails here and its test joins again
     * once the router is back; ours is its asynchronous join: the network
     * steps are a stored command (agent_cmds.c), the call returns and the
     * agent retries them. Joining the same link again while that attempt
     * is pending (the reference's second call) takes up the same attempt:
     * the same connection, its keys, one confirmation. */
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, alice_id));
    assert_int_equal(conn_count(bob), 1);
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, again));
    assert_string_equal(again, alice_id);
    assert_int_equal(conn_count(bob), 1);
    router_start();
    expect_router_event(alice, false);
    sx_agent_free_text(link);
    char conf[SX_AGENT_CONN_ID_TEXT];
    expect_conf(alice, bob_id, conf);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's info", 12));
    expect_connected(alice, bob_id, bob, alice_id, true);
    greetings(alice, bob_id, bob, alice_id, true);
    assert_int_equal(conn_count(bob), 1);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

static void test_testAllowConnectionClientRestart(void **state)
{
    (void)state;
    router_start();
    pool_router r2;
    assert_int_equal(pool_router_init(&r2, NULL), 0);
    pool_router_start(&r2);
    sx_agent *alice = open_agent("alice_acr", false);
    sx_agent *bob = open_agent("bob_acr", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char *link = invite(alice, R.addr, bob_id);
    /* bob's queue, to which alice confirms, on the second router */
    assert_ok(sx_agent_join(bob, link, r2.addr, "bob's info", 10, alice_id));
    sx_agent_free_text(link);
    char conf[SX_AGENT_CONN_ID_TEXT];
    expect_conf(alice, bob_id, conf);
    /* With bob's router down the allow's steps (SKEY, our info) stay a
     * stored command: the call returns, the agent is closed, and the
     * command resumes when it is opened again, as in the reference. */
    pool_router_kill9(&r2);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's info", 12));
    sx_agent_close(alice);
    pool_router_start(&r2);
    alice = open_agent("alice_acr", false);
    /* allowed already: the stored command finishes it */
    assert_int_equal(sx_agent_allow(alice, bob_id, conf, "alice's info", 12), SX_E_USAGE);
    expect_connected(alice, bob_id, bob, alice_id, true);
    greetings(alice, bob_id, bob, alice_id, true);
    sx_agent_close(alice);
    sx_agent_close(bob);
    pool_router_free(&r2);
    router_kill9();
}

static void test_testDeliverClientRestart(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_dcr", false);
    sx_agent *bob = open_agent("bob_dcr", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    greetings(alice, bob_id, bob, alice_id, true);
    router_kill9();
    int64_t id = 0;
    assert_ok(sx_agent_send(bob, alice_id, "hello", 5, &id));
    assert_int_equal(id, 4);
    sleep_ms(300); /* an attempt or more fails */
    sx_agent_close(bob);
    bob = open_agent("bob_dcr", false);
    router_start();
    expect_sent(bob, alice_id, 4);
    expect_msg(alice, bob_id, "hello", 4, true);
    /* Once: nothing else comes. */
    sx_agent_event ev;
    int64_t until = now_ms() + 1000;
    while (now_ms() < until) {
        assert_ok(sx_agent_next(alice, 100, &ev));
        if (ev.kind != SX_AGENT_EV_NONE && ev.kind != SX_AGENT_EV_UP && ev.kind != SX_AGENT_EV_DOWN)
            fail_msg("unexpected %s", sx_agent_event_name(ev.kind));
        sx_agent_event_clear(&ev);
    }
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* The fast retry interval stored with message internal_id in the store
 * file of name (0: none yet). */
static int64_t stored_retry(const char *name, int64_t internal_id)
{
    char p[128];
    db_path(p, sizeof p, name);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT MAX(IFNULL(retry_int_fast, 0)) FROM snd_messages "
                                        "WHERE internal_id = ?",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(q, 1, internal_id);
    int64_t v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_finalize(q);
    sqlite3_close(db);
    assert_true(v >= 0);
    return v;
}

/* Polls until the stored interval of message 4 differs from old. */
static int64_t stored_retry_change(const char *name, int64_t old)
{
    int64_t until = now_ms() + WAIT_MS;
    for (;;) {
        int64_t v = stored_retry(name, 4);
        if (v != old)
            return v;
        if (now_ms() > until)
            fail_msg("the stored retry interval stayed %lld", (long long)old);
        sleep_ms(50);
    }
}

static void test_retry_interval_kept(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_rik", false);
    sx_agent *bob = open_agent("bob_rik", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    greetings(alice, bob_id, bob, alice_id, true);
    router_kill9();
    int64_t id = 0;
    assert_ok(sx_agent_send(bob, alice_id, "hello", 5, &id));
    assert_int_equal(id, 4);
    /* the first interval (open_agent's send_retry_ms), then grown once the
     * failures went on long enough (10 s) */
    int64_t first = stored_retry_change("bob_rik", 0);
    int64_t grown = stored_retry_change("bob_rik", first);
    assert_true(grown > first);
    sx_agent_close(bob);
    int64_t kept = stored_retry("bob_rik", 4);
    assert_true(kept >= grown);
    bob = open_agent("bob_rik", false);
    /* the next failures store what follows kept, not the first again */
    int64_t next = stored_retry_change("bob_rik", kept);
    if (next <= kept)
        fail_msg("after the restart the interval went from %lld to %lld", (long long)kept,
                 (long long)next);
    router_start();
    expect_sent(bob, alice_id, 4);
    expect_msg(alice, bob_id, "hello", 4, true);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* exchangeGreetingsMsgId: alice's message with id, bob's answer id + 1. */
static void greetings_ids(sx_agent *alice, const char *bob_id, sx_agent *bob, const char *alice_id,
                          int64_t id)
{
    send_expect_sent(alice, bob_id, "hello", id);
    expect_sent(alice, bob_id, id);
    expect_msg(bob, alice_id, "hello", id, 0);
    send_expect_sent(bob, alice_id, "hello too", id + 1);
    expect_sent(bob, alice_id, id + 1);
    expect_msg(alice, bob_id, "hello too", id + 1, 0);
}

#define BATCH_CONNS 200
#define BATCH_DEL 20

/* 200 connections (PQ off), greetings on each, 20 deleted by both sides;
 * both agents closed, the router restarted, the agents opened again: their
 * subscriptions come back from the stores, the 180 others take messages
 * (ids 4 and 5), again after subscribing all once more (6 and 7), and are
 * deleted; a second delete of each is refused. */
static void test_testBatchedSubscriptions(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_bs", true);
    sx_agent *bob = open_agent("bob_bs", true);
    static char bob_ids[BATCH_CONNS][SX_AGENT_CONN_ID_TEXT], alice_ids[BATCH_CONNS][SX_AGENT_CONN_ID_TEXT];
    for (int i = 0; i < BATCH_CONNS; i++)
        connect_pair(alice, bob, bob_ids[i], alice_ids[i], false);
    for (int i = 0; i < BATCH_CONNS; i++)
        greetings_ids(alice, bob_ids[i], bob, alice_ids[i], 2);
    for (int i = 0; i < BATCH_DEL; i++) {
        assert_ok(sx_agent_delete(alice, bob_ids[i]));
        assert_ok(sx_agent_delete(bob, alice_ids[i]));
    }
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
    router_start();
    alice = open_agent("alice_bs", true);
    bob = open_agent("bob_bs", true);
    sx_agent_conn_info *ci = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(alice, &ci, &n));
    assert_int_equal(n, BATCH_CONNS - BATCH_DEL);
    free(ci);
    for (int i = BATCH_DEL; i < BATCH_CONNS; i++)
        greetings_ids(alice, bob_ids[i], bob, alice_ids[i], 4);
    assert_ok(sx_agent_subscribe_all(alice));
    assert_ok(sx_agent_subscribe_all(bob));
    for (int i = BATCH_DEL; i < BATCH_CONNS; i++)
        greetings_ids(alice, bob_ids[i], bob, alice_ids[i], 6);
    for (int i = BATCH_DEL; i < BATCH_CONNS; i++) {
        assert_ok(sx_agent_delete(alice, bob_ids[i]));
        assert_ok(sx_agent_delete(bob, alice_ids[i]));
    }
    for (int i = 0; i < BATCH_CONNS; i++) {
        assert_int_not_equal(sx_agent_delete(alice, bob_ids[i]), SX_OK);
        assert_int_not_equal(sx_agent_delete(bob, alice_ids[i]), SX_OK);
    }
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

#define PENDING_CONNS 10
#define PENDING_MSGS 5

/* testBatchedPendingMessages: 10 connections, bob closed, alice sends on
 * 5 of them; bob opened without subscribing, then all his connections
 * subscribed in one call: the 5 messages waiting on the router arrive,
 * one on each of those connections, and the other 5 connections are
 * subscribed too (a message on each arrives). */
static void test_testBatchedPendingMessages(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_bp", false);
    sx_agent *bob = open_agent("bob_bp", false);
    char bob_ids[PENDING_CONNS][SX_AGENT_CONN_ID_TEXT], alice_ids[PENDING_CONNS][SX_AGENT_CONN_ID_TEXT];
    for (int i = 0; i < PENDING_CONNS; i++)
        connect_pair(alice, bob, bob_ids[i], alice_ids[i], true);
    sx_agent_close(bob);
    for (int i = 0; i < PENDING_MSGS; i++)
        send_expect_sent(alice, bob_ids[i], "hello", 2);
    /* SENT for each, in any order across connections. */
    bool sent[PENDING_MSGS] = {false};
    for (int n = 0; n < PENDING_MSGS; n++) {
        sx_agent_event ev;
        next_ev(alice, &ev);
        assert_int_equal(ev.kind, SX_AGENT_EV_SENT);
        int k = -1;
        for (int i = 0; i < PENDING_MSGS; i++)
            if (strcmp(ev.conn, bob_ids[i]) == 0)
                k = i;
        assert_true(k >= 0 && !sent[k]);
        sent[k] = true;
        sx_agent_event_clear(&ev);
    }
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.no_subscribe = true;
    bob = open_agent_opts("bob_bp", &o);
    assert_ok(sx_agent_subscribe_all(bob));
    bool got[PENDING_MSGS] = {false};
    for (int n = 0; n < PENDING_MSGS; n++) {
        sx_agent_event ev;
        next_ev(bob, &ev);
        assert_int_equal(ev.kind, SX_AGENT_EV_MSG);
        expect_body(&ev, "hello");
        assert_string_equal(ev.integrity, "OK");
        int k = -1;
        for (int i = 0; i < PENDING_MSGS; i++)
            if (strcmp(ev.conn, alice_ids[i]) == 0)
                k = i;
        assert_true(k >= 0 && !got[k]);
        got[k] = true;
        assert_ok(sx_agent_ack(bob, ev.conn, ev.msg_id));
        sx_agent_event_clear(&ev);
    }
    for (int i = PENDING_MSGS; i < PENDING_CONNS; i++)
        send_recv(alice, bob_ids[i], bob, alice_ids[i], "after", 1);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_testAsyncInitiatingOffline, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testAsyncBothOffline, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testAsyncServerOffline, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testAllowConnectionClientRestart, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_retry_interval_kept, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testDeliverClientRestart, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testBatchedSubscriptions, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testBatchedPendingMessages, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
