/* More of the reference's scenarios (AGENT-NOTES I), two agents in one
 * process with their own store files over real smp-server processes; each
 * test is named after the reference's (FunctionalAPITests.hs):
 *  - testInvitationErrors (I11): the application joins the same link again
 *    after errors (the inviter's router down, then the reply queue's router
 *    refusing a wrong password, the joiner closed and opened between): every
 *    retry gives the same connection, the keys and ratchet of the first
 *    attempt are used (one send queue in the store; the inviter's queue,
 *    secured with the first key, takes the confirmation; the CONF decrypts),
 *    and the handshake completes;
 *  - testSkippedMessages (I19): messages lost by the router (killed while
 *    the recipient was closed, its messages kept in memory only) are reported by
 *    the next message's integrity, ERR SKIPPED 3 5, with the ratchet's
 *    skipped keys stored for them; the conversation then goes on;
 *  - testBasicAuth (I32): the reference's matrix of routers with and
 *    without a password for creating queues (and with creation off),
 *    clients with the right, a wrong or no password: how far the handshake
 *    gets (0: create refused, 1: join refused, 2: connected), and the
 *    router's AUTH as the error;
 *  - testWaitDeliveryNoPending, testWaitDelivery, testWaitDeliveryAUTHErr,
 *    testWaitDeliveryTimeout (I27): sx_agent_delete_wait with and without
 *    messages pending, the router down, the peer's queue gone, the limit
 *    passing (DEL_RCVQ, SENT / MERR, DEL_CONN);
 *  - testOnlyCreatePull, testOnlyCreatePullSlowHandshake (I23): agents that
 *    subscribe nothing take every message of the handshake (fast and
 *    legacy) and of the conversation with sx_agent_get_message; nothing
 *    arrives before a GET. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

static void send_recv(sx_agent *x, const char *x_conn, sx_agent *y, const char *y_conn,
                      const char *text)
{
    int64_t id = 0;
    assert_ok(sx_agent_send(x, x_conn, text, strlen(text), &id));
    expect_sent(x, x_conn, id);
    sx_agent_event ev;
    expect(y, SX_AGENT_EV_MSG, y_conn, &ev);
    expect_body(&ev, text);
    assert_string_equal(ev.integrity, "OK");
    assert_ok(sx_agent_ack(y, y_conn, ev.msg_id));
    sx_agent_event_clear(&ev);
}

/* The handshake after bob's confirmation went: CONF, allow, CON, INFO,
 * CON, a message each way. */
static void finish_handshake(sx_agent *alice, const char *bob_id, sx_agent *bob,
                             const char *alice_id)
{
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    expect_body(&ev, "bob's info");
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's info", 12));
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
    expect_body(&ev, "alice's info");
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    sx_agent_event_clear(&ev);
    send_recv(alice, bob_id, bob, alice_id, "hello");
    send_recv(bob, alice_id, alice, bob_id, "hello too");
}

/* An ERR of conn (other events but UP/DOWN fail the test): its status. */
static sx_status expect_err(sx_agent *a, const char *conn)
{
    int64_t until = now_ms() + WAIT_MS;
    for (;;) {
        sx_agent_event ev;
        assert_ok(sx_agent_next(a, 200, &ev));
        if (ev.kind == SX_AGENT_EV_ERR) {
            assert_string_equal(ev.conn, conn);
            sx_status st = ev.status;
            sx_agent_event_clear(&ev);
            return st;
        }
        if (ev.kind != SX_AGENT_EV_NONE && ev.kind != SX_AGENT_EV_UP &&
            ev.kind != SX_AGENT_EV_DOWN)
            fail_msg("event %s, expected ERR", sx_agent_event_name(ev.kind));
        sx_agent_event_clear(&ev);
        if (now_ms() > until)
            fail_msg("no ERR in %d ms", WAIT_MS);
    }
}

static void test_testInvitationErrors(void **state)
{
    (void)state;
    router_start();
    /* bob's reply queue on a second router that wants a password */
    pool_router r2;
    assert_int_equal(pool_router_init(&r2, "create_password: abcd\n"), 0);
    pool_router_start(&r2);
    char r2_wrong[300], r2_right[300];
    pool_router_addr_pw(r2_wrong, sizeof r2_wrong, &r2, "wrong");
    pool_router_addr_pw(r2_right, sizeof r2_right, &r2, "abcd");
    sx_agent *alice = open_agent("alice_ie", false);
    sx_agent *bob = open_agent("bob_ie", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT], again[SX_AGENT_CONN_ID_TEXT];
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, bob_id, &link));

    /* alice's router down: SKEY cannot be made; the join's steps wait for
     * a retry, and the application's own retry takes the same connection
     * (a second join of the link made new keys before: refused). */
    router_kill9();
    assert_ok(sx_agent_join(bob, link, r2_wrong, "bob's info", 10, alice_id));
    assert_ok(sx_agent_join(bob, link, r2_wrong, "bob's info", 10, again));
    assert_string_equal(again, alice_id);
    assert_int_equal(conn_count(bob), 1);

    /* back: SKEY goes with the stored key; the reply queue's router
     * refuses the wrong password, for good (ERR). */
    router_start();
    assert_int_equal(expect_err(bob, alice_id), SX_E_AUTH);

    /* bob closed and opened again: the failed join is kept (parked), not
     * retried on its own. */
    sx_agent_close(bob);
    bob = open_agent("bob_ie", false);
    assert_int_equal(conn_count(bob), 1);
    assert_int_equal(db_count("bob_ie", "SELECT count(*) FROM commands WHERE taken = 2"), 1);

    /* Joined again with the right password: the first attempt's key (the
     * inviter's queue is secured with it) and ratchet, one send queue. */
    assert_ok(sx_agent_join(bob, link, r2_right, "bob's info", 10, again));
    assert_string_equal(again, alice_id);
    sx_agent_free_text(link);
    finish_handshake(alice, bob_id, bob, alice_id);
    assert_int_equal(conn_count(bob), 1);
    assert_int_equal(db_count("bob_ie", "SELECT count(*) FROM snd_queues"), 1);
    assert_int_equal(db_count("bob_ie", "SELECT count(*) FROM commands"), 0);
    sx_agent_close(alice);
    sx_agent_close(bob);
    pool_router_free(&r2);
    router_kill9();
}

/* The same link joined again once the join went through: the same
 * connection, nothing sent twice; once established, refused. */
static void test_join_again_done(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_jd", false);
    sx_agent *bob = open_agent("bob_jd", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT], again[SX_AGENT_CONN_ID_TEXT];
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, bob_id, &link));
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, alice_id));
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, again));
    assert_string_equal(again, alice_id);
    finish_handshake(alice, bob_id, bob, alice_id);
    assert_int_equal(sx_agent_join(bob, link, NULL, "bob's info", 10, again), SX_E_USAGE);
    sx_agent_free_text(link);
    assert_int_equal(conn_count(bob), 1);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

static void test_testSkippedMessages(void **state)
{
    (void)state;
    /* the queues kept by the store log, the messages in memory only (the
     * reference's test router: no message file) */
    pool_router_edit(&R, "restore_messages: off\n");
    router_start();
    sx_agent *alice = open_agent("alice_sm", false);
    sx_agent *bob = open_agent("bob_sm", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    send_expect_sent(alice, bob_id, "hello", 2);
    expect_sent(alice, bob_id, 2);
    expect_msg(bob, alice_id, "hello", 2, 1);
    sx_agent_close(bob);
    send_expect_sent(alice, bob_id, "hello 2", 3);
    expect_sent(alice, bob_id, 3);
    send_expect_sent(alice, bob_id, "hello 3", 4);
    expect_sent(alice, bob_id, 4);
    send_expect_sent(alice, bob_id, "hello 4", 5);
    expect_sent(alice, bob_id, 5);
    /* killed: the three messages waiting for bob are lost with it */
    router_kill9();
    sx_agent_close(alice);
    router_start();
    alice = open_agent("alice_sm", false);
    bob = open_agent("bob_sm", false);
    send_expect_sent(alice, bob_id, "hello 5", 6);
    expect_sent(alice, bob_id, 6);
    sx_agent_event ev;
    expect(bob, SX_AGENT_EV_MSG, alice_id, &ev);
    expect_body(&ev, "hello 5");
    assert_string_equal(ev.integrity, "ERR SKIPPED 3 5");
    assert_int_equal(ev.msg_id, 3);
    assert_ok(sx_agent_ack(bob, alice_id, ev.msg_id));
    sx_agent_event_clear(&ev);
    /* the ratchet kept the keys of the three it skipped */
    assert_int_equal(db_count("bob_sm", "SELECT count(*) FROM skipped_keys"), 3);
    send_expect_sent(alice, bob_id, "hello 6", 7);
    expect_sent(alice, bob_id, 7);
    expect_msg(bob, alice_id, "hello 6", 4, 1);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* testCreateQueueAuth: alice creates an invitation with pw1, bob joins it
 * with his reply queue on the same router with pw2: 0, 1 or 2 as the
 * reference. */
static int create_queue_auth(const pool_router *rp, const char *pw1, const char *pw2, int n)
{
    char a1[300], a2[300], an[32], bn[32];
    pool_router_addr_pw(a1, sizeof a1, rp, pw1);
    pool_router_addr_pw(a2, sizeof a2, rp, pw2);
    snprintf(an, sizeof an, "alice_ba%d", n);
    snprintf(bn, sizeof bn, "bob_ba%d", n);
    sx_agent *alice = open_agent(an, false);
    sx_agent *bob = open_agent(bn, false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char *link = NULL;
    int r = 0;
    sx_status st = sx_agent_create_invitation(alice, a1, bob_id, &link);
    if (st != SX_OK) {
        assert_int_equal(st, SX_E_AUTH);
    } else {
        st = sx_agent_join(bob, link, a2, "bob's info", 10, alice_id);
        if (st != SX_OK) {
            assert_int_equal(st, SX_E_AUTH);
            r = 1;
        } else {
            finish_handshake(alice, bob_id, bob, alice_id);
            r = 2;
        }
    }
    sx_agent_free_text(link);
    sx_agent_close(alice);
    sx_agent_close(bob);
    return r;
}

typedef struct auth_case {
    const char *name;
    bool new_queues;
    const char *srv, *clnt1, *clnt2;
    int expected;
} auth_case;

static void test_testBasicAuth(void **state)
{
    (void)state;
    static const auth_case cases[] = {
        {"success", true, "abcd", "abcd", "abcd", 2},
        {"disabled", false, "abcd", "abcd", "abcd", 0},
        {"NEW fail, no auth", true, "abcd", NULL, "abcd", 0},
        {"NEW fail, bad auth", true, "abcd", "wrong", "abcd", 0},
        {"JOIN fail, no auth", true, "abcd", "abcd", NULL, 1},
        {"JOIN fail, bad auth", true, "abcd", "abcd", "wrong", 1},
        {"no password: success", true, NULL, NULL, NULL, 2},
        {"srv disabled", false, NULL, NULL, NULL, 0},
        {"auth fst", true, NULL, "abcd", NULL, 2},
        {"auth snd", true, NULL, NULL, "abcd", 2},
        {"auth both", true, NULL, "abcd", "abcd", 2},
        {"auth, disabled", false, NULL, "abcd", "abcd", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const auth_case *c = &cases[i];
        char extra[128];
        snprintf(extra, sizeof extra, "new_queues: %s\n%s%s\n", c->new_queues ? "on" : "off",
                 c->srv ? "create_password: " : "", c->srv ? c->srv : "");
        pool_router rp;
        assert_int_equal(pool_router_init(&rp, extra), 0);
        pool_router_start(&rp);
        int got = create_queue_auth(&rp, c->clnt1, c->clnt2, (int)i);
        if (got != c->expected)
            fail_msg("%s: %d, expected %d", c->name, got, c->expected);
        pool_router_free(&rp);
    }
}

/* ---- delete connection waiting for delivery (I27) ---- */

/* The next event other than UP and DOWN, whatever it is. */
static void next_any(sx_agent *a, sx_agent_event *ev)
{
    int64_t until = now_ms() + WAIT_MS;
    for (;;) {
        assert_ok(sx_agent_next(a, 200, ev));
        if (ev->kind != SX_AGENT_EV_NONE && ev->kind != SX_AGENT_EV_UP &&
            ev->kind != SX_AGENT_EV_DOWN)
            return;
        sx_agent_event_clear(ev);
        if (now_ms() > until)
            fail_msg("no event in %d ms", WAIT_MS);
    }
}

/* The next event is kind of conn; status SX_OK or not (ok). */
static void expect_kind(sx_agent *a, sx_agent_event_kind kind, const char *conn, int ok)
{
    sx_agent_event ev;
    next_any(a, &ev);
    if (ev.kind != kind)
        fail_msg("event %s (%s), expected %s", sx_agent_event_name(ev.kind), ev.detail,
                 sx_agent_event_name(kind));
    assert_string_equal(ev.conn, conn);
    if (ok >= 0)
        assert_int_equal(ev.status == SX_OK, ok);
    sx_agent_event_clear(&ev);
}

/* MERR of message id with the router's AUTH. */
static void expect_merr_auth(sx_agent *a, const char *conn, int64_t id)
{
    sx_agent_event ev;
    next_any(a, &ev);
    if (ev.kind != SX_AGENT_EV_MERR)
        fail_msg("event %s, expected MERR", sx_agent_event_name(ev.kind));
    assert_string_equal(ev.conn, conn);
    assert_int_equal(ev.msg_id, id);
    assert_int_equal(ev.status, SX_E_AUTH);
    sx_agent_event_clear(&ev);
}

/* Nothing but UP / DOWN for a while (the reference's noMessages). */
static void no_events(sx_agent *a, int ms)
{
    int64_t until = now_ms() + ms;
    while (now_ms() < until) {
        sx_agent_event ev;
        assert_ok(sx_agent_next(a, 100, &ev));
        if (ev.kind != SX_AGENT_EV_NONE && ev.kind != SX_AGENT_EV_UP &&
            ev.kind != SX_AGENT_EV_DOWN)
            fail_msg("unexpected %s of %s", sx_agent_event_name(ev.kind), ev.conn);
        sx_agent_event_clear(&ev);
    }
}

/* Connected, "hello" (2) and "hello too" (3) exchanged. */
static void connected_pair(sx_agent *alice, sx_agent *bob, char *bob_id, char *alice_id)
{
    connect_pair(alice, bob, bob_id, alice_id, true);
    send_expect_sent(alice, bob_id, "hello", 2);
    expect_sent(alice, bob_id, 2);
    expect_msg(bob, alice_id, "hello", 2, 1);
    send_expect_sent(bob, alice_id, "hello too", 3);
    expect_sent(bob, alice_id, 3);
    expect_msg(alice, bob_id, "hello too", 3, 1);
}

static void test_testWaitDeliveryNoPending(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_wn", false);
    sx_agent *bob = open_agent("bob_wn", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connected_pair(alice, bob, bob_id, alice_id);
    assert_ok(sx_agent_delete_wait(alice, bob_id));
    expect_kind(alice, SX_AGENT_EV_DEL_RCVQ, bob_id, 1);
    expect_kind(alice, SX_AGENT_EV_DEL_CONN, bob_id, -1);
    assert_int_equal(conn_count(alice), 0);
    /* alice's queue is gone from the router */
    send_expect_sent(bob, alice_id, "message 2", 4);
    expect_merr_auth(bob, alice_id, 4);
    no_events(alice, 500);
    no_events(bob, 500);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* An agent whose failed DEL is not tried again (the reference's tests set
 * a small deleteErrorCount with a fast cleanup for the same outcome). */
static sx_agent *open_agent_del1(const char *name, unsigned wait_s)
{
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.delete_wait_s = wait_s;
    o.delete_error_count = 1;
    return open_agent_opts(name, &o);
}

/* Two messages queued while the router is down, then the connection
 * deleted: DEL_RCVQ with the network error at once, the messages delivered
 * when the router is back, then DEL_CONN. */
static void queue_then_delete(sx_agent *alice, const char *bob_id, bool check_waiting)
{
    router_kill9();
    send_expect_sent(alice, bob_id, "how are you?", 4);
    send_expect_sent(alice, bob_id, "message 1", 5);
    assert_ok(sx_agent_delete_wait(alice, bob_id));
    expect_kind(alice, SX_AGENT_EV_DEL_RCVQ, bob_id, 0);
    if (!check_waiting)
        return; /* a short limit may end the wait at any moment */
    /* no new message on a deleted connection */
    int64_t id = 0;
    assert_int_equal(sx_agent_send(alice, bob_id, "x", 1, &id), SX_E_USAGE);
    assert_int_equal(sx_agent_delete_wait(alice, bob_id), SX_E_USAGE);
    sx_agent_conn_info *cs = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(alice, &cs, &n));
    assert_int_equal(n, 1);
    assert_string_equal(cs[0].state, "deleted");
    free(cs);
}

static void test_testWaitDelivery(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent_del1("alice_wd", 0);
    sx_agent *bob = open_agent("bob_wd", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connected_pair(alice, bob, bob_id, alice_id);
    queue_then_delete(alice, bob_id, true);
    no_events(alice, 500);
    no_events(bob, 500);
    router_start();
    expect_sent(alice, bob_id, 4);
    expect_sent(alice, bob_id, 5);
    expect_kind(alice, SX_AGENT_EV_DEL_CONN, bob_id, -1);
    assert_int_equal(conn_count(alice), 0);
    expect_msg(bob, alice_id, "how are you?", 4, 1);
    expect_msg(bob, alice_id, "message 1", 5, 1);
    /* DEL never reached the router: alice's queue is still there */
    send_expect_sent(bob, alice_id, "message 2", 6);
    expect_sent(bob, alice_id, 6);
    no_events(alice, 500);
    no_events(bob, 500);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

static void test_testWaitDeliveryAUTHErr(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent_del1("alice_wa", 0);
    sx_agent *bob = open_agent("bob_wa", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connected_pair(alice, bob, bob_id, alice_id);
    /* bob deletes his side first (nothing pending): his queue is gone */
    assert_ok(sx_agent_delete_wait(bob, alice_id));
    expect_kind(bob, SX_AGENT_EV_DEL_RCVQ, alice_id, 1);
    expect_kind(bob, SX_AGENT_EV_DEL_CONN, alice_id, -1);
    queue_then_delete(alice, bob_id, true);
    /* closed and opened again while waiting: the wait goes on */
    sx_agent_close(alice);
    alice = open_agent_del1("alice_wa", 0);
    router_start();
    expect_merr_auth(alice, bob_id, 4);
    expect_merr_auth(alice, bob_id, 5);
    expect_kind(alice, SX_AGENT_EV_DEL_CONN, bob_id, -1);
    assert_int_equal(conn_count(alice), 0);
    no_events(alice, 500);
    no_events(bob, 500);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

static void test_testWaitDeliveryTimeout(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent_del1("alice_wt", 1);
    sx_agent *bob = open_agent("bob_wt", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connected_pair(alice, bob, bob_id, alice_id);
    queue_then_delete(alice, bob_id, false);
    /* the limit passes with the router down: the connection goes with the
     * two messages undelivered */
    expect_kind(alice, SX_AGENT_EV_DEL_CONN, bob_id, -1);
    assert_int_equal(conn_count(alice), 0);
    assert_int_equal(db_count("alice_wt", "SELECT count(*) FROM snd_message_deliveries"), 0);
    router_start();
    no_events(alice, 1500);
    no_events(bob, 1500);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* ---- subscription mode OnlyCreate (I23) ---- */

/* GET until a message comes (the peer's sender may not have sent it yet):
 * nothing is delivered before it (the reference's getMsg). */
static void get_msg(sx_agent *a, const char *conn)
{
    no_events(a, 300);
    int64_t until = now_ms() + WAIT_MS;
    for (;;) {
        bool got = false;
        assert_ok(sx_agent_get_message(a, conn, &got));
        if (got)
            return;
        if (now_ms() > until)
            fail_msg("no message to GET in %d ms", WAIT_MS);
        sleep_ms(100);
    }
}

static void only_create_pull(bool legacy)
{
    router_start();
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.no_subscribe = true;
    o.legacy_handshake = legacy;
    sx_agent *alice = open_agent_opts(legacy ? "alice_ocl" : "alice_oc", &o);
    sx_agent *bob = open_agent_opts(legacy ? "bob_ocl" : "bob_oc", &o);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, bob_id, &link));
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, alice_id));
    sx_agent_free_text(link);
    get_msg(alice, bob_id);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    expect_body(&ev, "bob's info");
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    bool got = true;
    assert_ok(sx_agent_get_message(alice, bob_id, &got));
    assert_false(got); /* the confirmation was acknowledged: the queue is empty */
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's info", 12));
    if (legacy) {
        /* bob's KEY and HELLO after alice's info, alice's HELLO after his */
        get_msg(bob, alice_id);
        expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
        expect_body(&ev, "alice's info");
        sx_agent_event_clear(&ev);
        get_msg(alice, bob_id);
        expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
        sx_agent_event_clear(&ev);
        get_msg(bob, alice_id);
        expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
        sx_agent_event_clear(&ev);
    } else {
        get_msg(bob, alice_id);
        expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
        expect_body(&ev, "alice's info");
        sx_agent_event_clear(&ev);
        expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
        sx_agent_event_clear(&ev);
        /* to the inviter once its info was sent */
        expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
        sx_agent_event_clear(&ev);
    }
    int64_t base = legacy ? 4 : 2;
    send_expect_sent(alice, bob_id, "hello", base);
    expect_sent(alice, bob_id, base);
    get_msg(bob, alice_id);
    /* not acknowledged yet: no next GET */
    assert_int_equal(sx_agent_get_message(bob, alice_id, &got), SX_E_USAGE);
    expect_msg(bob, alice_id, "hello", base, -1);
    send_expect_sent(bob, alice_id, "hello too", base + 1);
    expect_sent(bob, alice_id, base + 1);
    get_msg(alice, bob_id);
    expect_msg(alice, bob_id, "hello too", base + 1, -1);
    assert_ok(sx_agent_get_message(alice, bob_id, &got));
    assert_false(got);
    no_events(alice, 300);
    no_events(bob, 300);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

static void test_testOnlyCreatePull(void **state)
{
    (void)state;
    only_create_pull(false);
}

static void test_testOnlyCreatePullSlowHandshake(void **state)
{
    (void)state;
    only_create_pull(true);
}

/* A subscribed queue's messages come by themselves: no GET. */
static void test_get_subscribed_refused(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_gs", false);
    sx_agent *bob = open_agent("bob_gs", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    bool got = true;
    assert_int_equal(sx_agent_get_message(bob, alice_id, &got), SX_E_USAGE);
    assert_false(got);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_testInvitationErrors, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_join_again_done, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testSkippedMessages, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testBasicAuth, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testWaitDeliveryNoPending, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testWaitDelivery, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testWaitDeliveryAUTHErr, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testWaitDeliveryTimeout, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testOnlyCreatePull, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_testOnlyCreatePullSlowHandshake, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_get_subscribed_refused, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
