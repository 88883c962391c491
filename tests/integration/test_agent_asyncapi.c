/* The asynchronous calls (docs/AGENT.md, "Asynchronous calls") over a
 * real router, as the reference's "Async agent commands" tests: a duplex
 * connection made with the asynchronous create, join (into a connection
 * id prepared before) and allow, each ending with its INV / JOINED / OK
 * event carrying the caller's correlation id; the same with the router
 * down at each call and the agent closed and opened again before the
 * router comes back, the event then coming from the new agent; and a
 * contact request accepted asynchronously. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

/* The next event must be kind of conn with correlation id corr. */
static void expect_corr(sx_agent *a, sx_agent_event_kind kind, const char *conn, const char *corr,
                        sx_agent_event *ev)
{
    expect(a, kind, conn, ev);
    assert_string_equal(ev->corr_id, corr);
}

/* No event but UP / DOWN for a second and a half (the router is down, so
 * nothing the test waits for can come). */
static void quiet(sx_agent *a)
{
    int64_t until = now_ms() + 1500;
    while (now_ms() < until) {
        sx_agent_event ev;
        assert_ok(sx_agent_next(a, 100, &ev));
        if (ev.kind != SX_AGENT_EV_NONE && ev.kind != SX_AGENT_EV_UP &&
            ev.kind != SX_AGENT_EV_DOWN)
            fail_msg("unexpected %s (%s)", sx_agent_event_name(ev.kind), ev.detail);
        sx_agent_event_clear(&ev);
    }
}

/* Messages both ways on an established connection; ids go on from first. */
static void converse(sx_agent *alice, sx_agent *bob, const char *bob_id, const char *alice_id,
                     int64_t first)
{
    send_expect_sent(alice, bob_id, "hello", first);
    expect_sent(alice, bob_id, first);
    send_expect_sent(alice, bob_id, "how are you?", first + 1);
    expect_sent(alice, bob_id, first + 1);
    expect_msg(bob, alice_id, "hello", first, -1);
    expect_msg(bob, alice_id, "how are you?", first + 1, -1);
    send_expect_sent(bob, alice_id, "hello too", first + 2);
    expect_sent(bob, alice_id, first + 2);
    expect_msg(alice, bob_id, "hello too", first + 2, -1);
}

/* The reference's "connect using async agent commands". */
static void test_async_connect(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice", false);
    sx_agent *bob = open_agent("bob", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    sx_agent_event ev;

    /* correlation ids of a bad length are refused */
    char long_corr[SX_AGENT_CORR_ID_MAX + 2];
    memset(long_corr, 'c', sizeof long_corr - 1);
    long_corr[sizeof long_corr - 1] = '\0';
    assert_int_equal(sx_agent_create_invitation_async(alice, "", R.addr, bob_id), SX_E_USAGE);
    assert_int_equal(sx_agent_create_invitation_async(alice, long_corr, R.addr, bob_id),
                     SX_E_USAGE);

    assert_ok(sx_agent_create_invitation_async(alice, "1", R.addr, bob_id));
    expect_corr(alice, SX_AGENT_EV_INV, bob_id, "1", &ev);
    assert_non_null(ev.body);
    assert_int_equal(strlen((const char *)ev.body), ev.body_len);
    char link[8192];
    assert_true(ev.body_len < sizeof link);
    memcpy(link, ev.body, ev.body_len + 1);
    assert_non_null(strstr(link, "simplex:/invitation#/?v=2-7&smp="));
    sx_agent_event_clear(&ev);

    /* the joiner's connection id is known before the join */
    assert_ok(sx_agent_prepare_join(bob, alice_id));
    assert_ok(sx_agent_join_async(bob, "2", alice_id, link, NULL, "bob's info", 10));
    /* a prepared connection joins once */
    assert_int_equal(sx_agent_join_async(bob, "2b", alice_id, link, NULL, "x", 1), SX_E_USAGE);
    expect_corr(bob, SX_AGENT_EV_JOINED, alice_id, "2", &ev);
    sx_agent_event_clear(&ev);

    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    expect_body(&ev, "bob's info");
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow_async(alice, "3", bob_id, conf, "alice's info", 12));
    expect_corr(alice, SX_AGENT_EV_OK, bob_id, "3", &ev);
    sx_agent_event_clear(&ev);
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    assert_string_equal(ev.corr_id, "");
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
    expect_body(&ev, "alice's info");
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    sx_agent_event_clear(&ev);
    converse(alice, bob, bob_id, alice_id, 2);

    /* acknowledged asynchronously: OK, and the router, which holds the
     * next message until the ACK, delivers it */
    send_expect_sent(alice, bob_id, "ack me", 5);
    expect_sent(alice, bob_id, 5);
    expect(bob, SX_AGENT_EV_MSG, alice_id, &ev);
    expect_body(&ev, "ack me");
    int64_t got = ev.msg_id;
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_ack_async(bob, "4", alice_id, got));
    expect_corr(bob, SX_AGENT_EV_OK, alice_id, "4", &ev);
    sx_agent_event_clear(&ev);
    send_expect_sent(alice, bob_id, "after the ack", 6);
    expect_sent(alice, bob_id, 6);
    expect(bob, SX_AGENT_EV_MSG, alice_id, &ev);
    expect_body(&ev, "after the ack");
    got = ev.msg_id;
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_ack_async(bob, "5", alice_id, got));
    expect_corr(bob, SX_AGENT_EV_OK, alice_id, "5", &ev);
    sx_agent_event_clear(&ev);
    /* an unknown message: ERR with the correlation id */
    assert_ok(sx_agent_ack_async(bob, "6", alice_id, 999));
    assert_ok(sx_agent_next(bob, WAIT_MS, &ev));
    while (ev.kind == SX_AGENT_EV_UP || ev.kind == SX_AGENT_EV_DOWN) {
        sx_agent_event_clear(&ev);
        assert_ok(sx_agent_next(bob, WAIT_MS, &ev));
    }
    assert_int_equal(ev.kind, SX_AGENT_EV_ERR);
    assert_string_equal(ev.corr_id, "6");
    assert_string_equal(ev.conn, alice_id);
    sx_agent_event_clear(&ev);

    /* the synchronous join into a prepared connection */
    char *link2 = NULL;
    char carol_id[SX_AGENT_CONN_ID_TEXT], alice2_id[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_create_invitation(alice, R.addr, carol_id, &link2));
    assert_ok(sx_agent_prepare_join(bob, alice2_id));
    assert_ok(sx_agent_join_prepared(bob, alice2_id, link2, NULL, "bob 2", 5));
    sx_agent_free_text(link2);
    expect(alice, SX_AGENT_EV_CONF, carol_id, &ev);
    expect_body(&ev, "bob 2");
    sx_agent_event_clear(&ev);

    assert_ok(sx_agent_delete(alice, bob_id));
    sx_agent_close(bob);
    sx_agent_close(alice);
}

/* The reference's "should restore and complete async commands on
 * restart", for each call: the router is down when it is made, the agent
 * is closed, the router comes back and an agent opened on the store
 * reports the end with the call's correlation id. */
static void test_async_restore(void **state)
{
    (void)state;
    router_start();
    router_kill9();
    sx_agent *alice = open_agent("alice", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    sx_agent_event ev;
    assert_ok(sx_agent_create_invitation_async(alice, "1", R.addr, bob_id));
    quiet(alice); /* no INV: the router is down */
    sx_agent_close(alice);
    router_start();
    alice = open_agent("alice", false);
    expect_corr(alice, SX_AGENT_EV_INV, bob_id, "1", &ev);
    char link[8192];
    assert_true(ev.body_len < sizeof link);
    memcpy(link, ev.body, ev.body_len + 1);
    sx_agent_event_clear(&ev);

    /* the join */
    router_kill9();
    sx_agent *bob = open_agent("bob", false);
    assert_ok(sx_agent_prepare_join(bob, alice_id));
    assert_ok(sx_agent_join_async(bob, "2", alice_id, link, NULL, "bob's info", 10));
    quiet(bob);
    sx_agent_close(bob);
    router_start();
    bob = open_agent("bob", false);
    expect_corr(bob, SX_AGENT_EV_JOINED, alice_id, "2", &ev);
    sx_agent_event_clear(&ev);

    /* the allow */
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    expect_body(&ev, "bob's info");
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    router_kill9();
    assert_ok(sx_agent_allow_async(alice, "3", bob_id, conf, "alice's info", 12));
    quiet(alice);
    sx_agent_close(alice);
    router_start();
    alice = open_agent("alice", false);
    expect_corr(alice, SX_AGENT_EV_OK, bob_id, "3", &ev);
    sx_agent_event_clear(&ev);
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
    expect_body(&ev, "alice's info");
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    sx_agent_event_clear(&ev);
    converse(alice, bob, bob_id, alice_id, 2);
    sx_agent_close(bob);
    sx_agent_close(alice);
}

/* The reference's "accept connection using async command", and the same
 * with a restart between the accept and its end. */
static void accept_async(bool restart)
{
    router_start();
    sx_agent *alice = open_agent("alice", false);
    sx_agent *bob = open_agent("bob", false);
    char addr_id[SX_AGENT_CONN_ID_TEXT], bob_id[SX_AGENT_CONN_ID_TEXT];
    char alice_id[SX_AGENT_CONN_ID_TEXT];
    char *link = NULL;
    sx_agent_event ev;
    assert_ok(sx_agent_create_contact(alice, R.addr, addr_id, &link));
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, alice_id));
    sx_agent_free_text(link);
    expect(alice, SX_AGENT_EV_REQ, addr_id, &ev);
    expect_body(&ev, "bob's info");
    char inv[SX_AGENT_CONN_ID_TEXT];
    memcpy(inv, ev.inv_id, sizeof inv);
    sx_agent_event_clear(&ev);
    if (restart)
        router_kill9();
    assert_ok(sx_agent_accept_contact_async(alice, "1", inv, NULL, "alice's info", 12, bob_id));
    /* accepted once */
    char other[SX_AGENT_CONN_ID_TEXT];
    assert_int_equal(sx_agent_accept_contact_async(alice, "1b", inv, NULL, "x", 1, other),
                     SX_E_USAGE);
    if (restart) {
        quiet(alice);
        sx_agent_close(alice);
        router_start();
        alice = open_agent("alice", false);
    }
    expect_corr(alice, SX_AGENT_EV_JOINED, bob_id, "1", &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CONF, alice_id, &ev);
    expect_body(&ev, "alice's info");
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(bob, alice_id, conf, "bob's info", 10));
    expect(alice, SX_AGENT_EV_INFO, bob_id, &ev);
    expect_body(&ev, "bob's info");
    sx_agent_event_clear(&ev);
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    sx_agent_event_clear(&ev);
    converse(alice, bob, bob_id, alice_id, 2);
    sx_agent_close(bob);
    sx_agent_close(alice);
}

static void test_accept_async(void **state)
{
    (void)state;
    accept_async(false);
}

static void test_accept_async_restart(void **state)
{
    (void)state;
    accept_async(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_async_connect, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_async_restore, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_accept_async, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_accept_async_restart, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
