/* Retries after errors and subscriptions taken up later, two agents in one
 * process with their own store files over real smp-server processes:
 *  - testContactErrors (I11, the contact half): the application joins the
 *    same contact address again after errors (the reply queue's router
 *    refusing a wrong password, the address's router down, the requester
 *    closed and opened between): every retry gives the same connection, one
 *    receiving queue, one request reaching the owner, and the handshake
 *    completes;
 *  - a receiving queue whose DEL failed (its router down) is kept marked
 *    deleted and its deletion retried, also by the next process, until the
 *    router takes it;
 *  - a queue read with GET (an agent opened with no_subscribe) is
 *    subscribed by sx_agent_subscribe_all: its messages then come by
 *    themselves. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

/* Nothing but UP / DOWN for a while. */
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

/* The next event other than UP and DOWN is kind of conn; status SX_OK or
 * not (ok; -1: either). */
static void expect_kind(sx_agent *a, sx_agent_event_kind kind, const char *conn, int ok)
{
    int64_t until = now_ms() + WAIT_MS;
    sx_agent_event ev;
    for (;;) {
        assert_ok(sx_agent_next(a, 200, &ev));
        if (ev.kind != SX_AGENT_EV_NONE && ev.kind != SX_AGENT_EV_UP &&
            ev.kind != SX_AGENT_EV_DOWN)
            break;
        sx_agent_event_clear(&ev);
        if (now_ms() > until)
            fail_msg("no event in %d ms", WAIT_MS);
    }
    if (ev.kind != kind)
        fail_msg("event %s (%s), expected %s", sx_agent_event_name(ev.kind), ev.detail,
                 sx_agent_event_name(kind));
    assert_string_equal(ev.conn, conn);
    if (ok >= 0)
        assert_int_equal(ev.status == SX_OK, ok);
    sx_agent_event_clear(&ev);
}

/* ---- testContactErrors ---- */

static void test_testContactErrors(void **state)
{
    (void)state;
    router_start();
    /* bob's queue on a second router that wants a password */
    pool_router r2;
    assert_int_equal(pool_router_init(&r2, "create_password: abcd\n"), 0);
    pool_router_start(&r2);
    char r2_wrong[300], r2_right[300];
    pool_router_addr_pw(r2_wrong, sizeof r2_wrong, &r2, "wrong");
    pool_router_addr_pw(r2_right, sizeof r2_right, &r2, "abcd");
    sx_agent *alice = open_agent("alice_ce", false);
    sx_agent *bob = open_agent("bob_ce", false);
    char addr[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT], again[SX_AGENT_CONN_ID_TEXT];
    char *link = NULL;
    assert_ok(sx_agent_create_contact(alice, R.addr, addr, &link));

    /* bob's queue refused (a wrong password), for good: the error, the
     * join kept (parked). */
    assert_int_equal(sx_agent_join(bob, link, r2_wrong, "bob's info", 10, alice_id), SX_E_AUTH);
    assert_int_equal(conn_count(bob), 1);
    assert_int_equal(db_count("bob_ce", "SELECT count(*) FROM commands WHERE taken = 2"), 1);

    /* the address's router down: joined again with the right password,
     * the same connection; its queue is made, the request waits. */
    router_kill9();
    assert_ok(sx_agent_join(bob, link, r2_right, "bob's info", 10, alice_id));
    assert_int_equal(conn_count(bob), 1);
    assert_ok(sx_agent_join(bob, link, r2_right, "bob's info", 10, again));
    assert_string_equal(again, alice_id);
    assert_int_equal(conn_count(bob), 1);

    /* bob closed and opened again: the same connection still. */
    sx_agent_close(bob);
    bob = open_agent("bob_ce", false);
    assert_ok(sx_agent_join(bob, link, r2_right, "bob's info", 10, again));
    assert_string_equal(again, alice_id);
    assert_int_equal(conn_count(bob), 1);
    assert_int_equal(db_count("bob_ce", "SELECT count(*) FROM rcv_queues"), 1);

    /* the router back: one request, accepted; the handshake completes. */
    router_start();
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_REQ, addr, &ev);
    expect_body(&ev, "bob's info");
    char inv[SX_AGENT_CONN_ID_TEXT];
    memcpy(inv, ev.inv_id, sizeof inv);
    sx_agent_event_clear(&ev);
    char bob_id[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_accept_contact(alice, inv, R.addr, "alice's info", 12, bob_id));
    expect(bob, SX_AGENT_EV_CONF, alice_id, &ev);
    expect_body(&ev, "alice's info");
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(bob, alice_id, conf, "bob's info", 10));
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    sx_agent_event_clear(&ev);
    expect(alice, SX_AGENT_EV_INFO, bob_id, &ev);
    expect_body(&ev, "bob's info");
    sx_agent_event_clear(&ev);
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    sx_agent_event_clear(&ev);
    send_expect_sent(alice, bob_id, "hello", 2);
    expect_sent(alice, bob_id, 2);
    expect_msg(bob, alice_id, "hello", 2, -1);
    /* no second request reaches alice */
    no_events(alice, 1500);
    assert_int_equal(conn_count(bob), 1);
    assert_int_equal(db_count("bob_ce", "SELECT count(*) FROM commands"), 0);
    sx_agent_free_text(link);
    sx_agent_close(alice);
    sx_agent_close(bob);
    pool_router_free(&r2);
    router_kill9();
}

/* ---- a failed DEL tried again ---- */

/* alice deletes her side with the router down: the queue and the
 * connection are kept (shown as deleted), the DEL is tried again, also
 * after alice is closed and opened again, and goes once the router is
 * back: DEL_RCVQ, DEL_CONN; bob's next message is refused (AUTH). */
static void test_delete_retried(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_dr", false);
    sx_agent *bob = open_agent("bob_dr", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    router_kill9();
    assert_ok(sx_agent_delete(alice, bob_id));
    sx_agent_conn_info *cs = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(alice, &cs, &n));
    assert_int_equal(n, 1);
    assert_string_equal(cs[0].state, "deleted");
    free(cs);
    int64_t id = 0;
    assert_int_equal(sx_agent_send(alice, bob_id, "x", 1, &id), SX_E_USAGE);
    /* tried again (and failing) while the router is down: no event */
    no_events(alice, 1500);
    sx_agent_close(alice);
    assert_int_equal(db_count("alice_dr", "SELECT count(*) FROM commands WHERE tag = 'RDEL'"), 1);
    assert_int_equal(db_count("alice_dr", "SELECT count(*) FROM rcv_queues"), 1);
    alice = open_agent("alice_dr", false);
    no_events(alice, 500);
    router_start();
    expect_kind(alice, SX_AGENT_EV_DEL_RCVQ, bob_id, 1);
    expect_kind(alice, SX_AGENT_EV_DEL_CONN, bob_id, -1);
    assert_int_equal(conn_count(alice), 0);
    assert_int_equal(db_count("alice_dr", "SELECT count(*) FROM commands"), 0);
    /* the queue is gone from the router */
    send_expect_sent(bob, alice_id, "hello", 2);
    expect_kind(bob, SX_AGENT_EV_MERR, alice_id, 0);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* With delete_error_count 3 the router stays down through three attempts:
 * the queue is forgotten with the error (DEL_RCVQ), the connection goes
 * (DEL_CONN); the queue is still on the router, bob's message is taken. */
static void test_delete_given_up(void **state)
{
    (void)state;
    router_start();
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.delete_error_count = 3;
    sx_agent *alice = open_agent_opts("alice_dg", &o);
    sx_agent *bob = open_agent("bob_dg", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    router_kill9();
    assert_ok(sx_agent_delete(alice, bob_id));
    assert_int_equal(conn_count(alice), 1);
    expect_kind(alice, SX_AGENT_EV_DEL_RCVQ, bob_id, 0);
    expect_kind(alice, SX_AGENT_EV_DEL_CONN, bob_id, -1);
    assert_int_equal(conn_count(alice), 0);
    assert_int_equal(db_count("alice_dg", "SELECT count(*) FROM commands"), 0);
    router_start();
    send_expect_sent(bob, alice_id, "hello", 2);
    expect_sent(bob, alice_id, 2);
    no_events(alice, 500);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* ---- subscribe_all after GET ---- */

static void test_subscribe_after_get(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_sg", false);
    sx_agent *bob = open_agent("bob_sg", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    sx_agent_close(bob);
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.no_subscribe = true;
    bob = open_agent_opts("bob_sg", &o);

    /* read with GET: nothing comes by itself */
    send_expect_sent(alice, bob_id, "hello", 2);
    expect_sent(alice, bob_id, 2);
    no_events(bob, 500);
    int64_t until = now_ms() + WAIT_MS;
    for (bool got = false; !got;) {
        assert_ok(sx_agent_get_message(bob, alice_id, &got));
        if (!got && now_ms() > until)
            fail_msg("no message to GET");
        if (!got)
            sleep_ms(100);
    }
    expect_msg(bob, alice_id, "hello", 2, -1);

    /* subscribed now: the next message comes as an event, GET refused */
    assert_ok(sx_agent_subscribe_all(bob));
    send_expect_sent(alice, bob_id, "hello again", 3);
    expect_sent(alice, bob_id, 3);
    expect_msg(bob, alice_id, "hello again", 3, -1);
    bool got = true;
    assert_int_equal(sx_agent_get_message(bob, alice_id, &got), SX_E_USAGE);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_testContactErrors, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_delete_retried, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_delete_given_up, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_after_get, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
