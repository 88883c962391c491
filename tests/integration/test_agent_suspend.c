/* Suspending the agent and bringing it back (sx_agent_suspend,
 * sx_agent_foreground; the reference's "Suspending agent" tests) with two
 * agents over a real smp-server: a suspended agent receives nothing until
 * it is in the foreground again (then the message comes); a suspension
 * without delay stops at once, with no event; the deliveries pending when
 * suspending finish first (the router was down and comes back: SENT, SENT,
 * then SUSPENDED); and the deadline suspends the agent even with
 * deliveries still pending, which go after the foreground. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

static void expect_suspended(sx_agent *a)
{
    sx_agent_event ev;
    next_ev(a, &ev);
    if (ev.kind != SX_AGENT_EV_SUSPENDED)
        fail_msg("event %s, expected SUSPENDED", sx_agent_event_name(ev.kind));
    assert_string_equal(ev.conn, "");
}

/* No event but DOWN/UP for ms milliseconds. */
static void expect_quiet(sx_agent *a, int ms)
{
    int64_t until = now_ms() + ms;
    while (now_ms() < until) {
        sx_agent_event ev;
        assert_ok(sx_agent_next(a, 100, &ev));
        if (ev.kind != SX_AGENT_EV_NONE && ev.kind != SX_AGENT_EV_DOWN && ev.kind != SX_AGENT_EV_UP)
            fail_msg("unexpected %s %s", sx_agent_event_name(ev.kind), ev.conn);
        sx_agent_event_clear(&ev);
    }
}

static int64_t send_text(sx_agent *a, const char *conn, const char *text)
{
    int64_t id = 0;
    assert_ok(sx_agent_send(a, conn, text, strlen(text), &id));
    return id;
}

static void test_suspend_receive(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice", true);
    sx_agent *bob = open_agent("bob", true);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, false);
    assert_int_equal(send_text(alice, bob_id, "hello"), 2);
    expect_sent(alice, bob_id, 2);
    expect_msg(bob, alice_id, "hello", 2, 0);
    /* nothing pending: SUSPENDED at once */
    assert_ok(sx_agent_suspend(bob, 1000));
    expect_suspended(bob);
    assert_int_equal(send_text(alice, bob_id, "hello 2"), 3);
    expect_sent(alice, bob_id, 3);
    expect_quiet(bob, 1000);
    assert_ok(sx_agent_foreground(bob));
    expect_msg(bob, alice_id, "hello 2", 3, 0);
    /* without delay: at once, no event; bob's own send waits as well */
    assert_ok(sx_agent_suspend(bob, 0));
    assert_int_equal(send_text(alice, bob_id, "hello 3"), 4);
    expect_sent(alice, bob_id, 4);
    /* bob has not received alice's message 4 yet: his own takes 4, hers
     * will be his 5 */
    assert_int_equal(send_text(bob, alice_id, "from the background"), 4);
    expect_quiet(bob, 1000);
    expect_quiet(alice, 200);
    assert_ok(sx_agent_foreground(bob));
    /* the receiving and the sending threads run independently: the two
     * events of bob come in either order */
    sx_agent_event e1, e2;
    next_ev(bob, &e1);
    next_ev(bob, &e2);
    sx_agent_event *m = e1.kind == SX_AGENT_EV_MSG ? &e1 : &e2, *s = m == &e1 ? &e2 : &e1;
    assert_int_equal(m->kind, SX_AGENT_EV_MSG);
    assert_int_equal(m->msg_id, 5);
    assert_int_equal(m->body_len, 7);
    assert_memory_equal(m->body, "hello 3", 7);
    assert_ok(sx_agent_ack(bob, alice_id, 5));
    assert_int_equal(s->kind, SX_AGENT_EV_SENT);
    assert_int_equal(s->msg_id, 4);
    sx_agent_event_clear(&e1);
    sx_agent_event_clear(&e2);
    expect_msg(alice, bob_id, "from the background", 5, 0);
    assert_int_equal(sx_agent_suspend(bob, -1), SX_E_USAGE);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* The router is down while bob sends; he suspends with a long delay; the
 * router comes back: both messages go, then SUSPENDED. */
static void test_suspend_complete_sending(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_c", true);
    sx_agent *bob = open_agent("bob_c", true);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, false);
    assert_int_equal(send_text(alice, bob_id, "hello"), 2);
    expect_sent(alice, bob_id, 2);
    expect_msg(bob, alice_id, "hello", 2, 0);
    router_kill9();
    assert_int_equal(send_text(bob, alice_id, "hello too"), 3);
    assert_int_equal(send_text(bob, alice_id, "how are you?"), 4);
    assert_ok(sx_agent_suspend(bob, WAIT_MS));
    router_start();
    expect_sent(bob, alice_id, 3);
    expect_sent(bob, alice_id, 4);
    expect_suspended(bob);
    expect_msg(alice, bob_id, "hello too", 3, 0);
    expect_msg(alice, bob_id, "how are you?", 4, 0);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* The deadline passes with the router still down: SUSPENDED anyway; the
 * messages wait in the store and go after the foreground. */
static void test_suspend_timeout(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_t", true);
    sx_agent *bob = open_agent("bob_t", true);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, false);
    router_kill9();
    assert_int_equal(send_text(bob, alice_id, "hello too"), 2);
    assert_int_equal(send_text(bob, alice_id, "how are you?"), 3);
    assert_ok(sx_agent_suspend(bob, 300));
    expect_suspended(bob);
    router_start();
    expect_quiet(bob, 1000);
    assert_ok(sx_agent_foreground(bob));
    expect_sent(bob, alice_id, 2);
    expect_sent(bob, alice_id, 3);
    expect_msg(alice, bob_id, "hello too", 2, 0);
    expect_msg(alice, bob_id, "how are you?", 3, 0);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_suspend_receive, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_suspend_complete_sending, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_suspend_timeout, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
