/* The agent core (include/simplex/agent.h) with two agents in one process,
 * each with its own store file, over a real smp-server process: the fast
 * duplex handshake through an invitation (CONF, allow, CON; INFO, CON) with
 * the post-quantum ratchet on and off, messages both ways in order with
 * their ids and integrity, the router killed and restarted while messages
 * are being sent (each delivered once, in order, after the restart), and an
 * agent closed and opened again from its store going on with the
 * conversation; links it cannot join; a connection deleted by one side
 * and the other's message failing with MERR. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

static void duplex_pq(bool pq)
{
    router_start();
    sx_agent *alice = open_agent(pq ? "alice_pq" : "alice", !pq);
    sx_agent *bob = open_agent(pq ? "bob_pq" : "bob", !pq);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, pq);
    /* Message ids: the confirmations took id 1 on both sides and the id
     * counter is shared by both directions. */
    send_expect_sent(alice, bob_id, "hello", 2);
    expect_sent(alice, bob_id, 2);
    send_expect_sent(alice, bob_id, "how are you?", 3);
    expect_sent(alice, bob_id, 3);
    expect_msg(bob, alice_id, "hello", 2, pq);
    expect_msg(bob, alice_id, "how are you?", 3, pq);
    send_expect_sent(bob, alice_id, "hello too", 4);
    expect_sent(bob, alice_id, 4);
    expect_msg(alice, bob_id, "hello too", 4, pq);
    /* Many in a row, in order. */
    char t[32];
    for (int i = 0; i < 20; i++) {
        snprintf(t, sizeof t, "m%d", i);
        send_expect_sent(bob, alice_id, t, 5 + i);
    }
    for (int i = 0; i < 20; i++)
        expect_sent(bob, alice_id, 5 + i);
    for (int i = 0; i < 20; i++) {
        snprintf(t, sizeof t, "m%d", i);
        expect_msg(alice, bob_id, t, 5 + i, pq);
    }
    sx_agent_conn_info *ci = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(alice, &ci, &n));
    assert_int_equal(n, 1);
    assert_string_equal(ci[0].id, bob_id);
    assert_string_equal(ci[0].state, "duplex");
    free(ci);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

static void test_duplex_pq(void **state)
{
    (void)state;
    duplex_pq(true);
}

static void test_duplex_no_pq(void **state)
{
    (void)state;
    duplex_pq(false);
}

/* The router killed while alice sends: the messages wait in her store and
 * go after the restart, once each, in order. */
static void test_router_restart(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_rr", false);
    sx_agent *bob = open_agent("bob_rr", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    send_expect_sent(alice, bob_id, "before", 2);
    expect_sent(alice, bob_id, 2);
    expect_msg(bob, alice_id, "before", 2, true);
    router_kill9();
    send_expect_sent(alice, bob_id, "during 1", 3);
    send_expect_sent(alice, bob_id, "during 2", 4);
    send_expect_sent(alice, bob_id, "during 3", 5);
    sleep_ms(500); /* at least one failed attempt */
    router_start();
    expect_sent(alice, bob_id, 3);
    expect_sent(alice, bob_id, 4);
    expect_sent(alice, bob_id, 5);
    expect_msg(bob, alice_id, "during 1", 3, true);
    expect_msg(bob, alice_id, "during 2", 4, true);
    expect_msg(bob, alice_id, "during 3", 5, true);
    send_expect_sent(bob, alice_id, "after", 6);
    expect_sent(bob, alice_id, 6);
    expect_msg(alice, bob_id, "after", 6, true);
    /* Nothing more: no message came twice. */
    sx_agent_event ev;
    assert_ok(sx_agent_next(bob, 500, &ev));
    while (ev.kind == SX_AGENT_EV_UP || ev.kind == SX_AGENT_EV_DOWN)
        assert_ok(sx_agent_next(bob, 500, &ev));
    assert_int_equal(ev.kind, SX_AGENT_EV_NONE);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* bob closed, alice sends, bob opened again from his store: the message
 * comes, and the conversation goes on both ways. */
static void test_reopen(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_ro", false);
    sx_agent *bob = open_agent("bob_ro", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    send_expect_sent(bob, alice_id, "one", 2);
    expect_sent(bob, alice_id, 2);
    expect_msg(alice, bob_id, "one", 2, true);
    sx_agent_close(bob);
    send_expect_sent(alice, bob_id, "while away", 3);
    expect_sent(alice, bob_id, 3);
    bob = open_agent("bob_ro", false);
    expect_msg(bob, alice_id, "while away", 3, true);
    send_expect_sent(bob, alice_id, "back", 4);
    expect_sent(bob, alice_id, 4);
    expect_msg(alice, bob_id, "back", 4, true);
    /* A message shown but not acked before closing comes again. */
    send_expect_sent(alice, bob_id, "unacked", 5);
    expect_sent(alice, bob_id, 5);
    sx_agent_event ev;
    expect(bob, SX_AGENT_EV_MSG, alice_id, &ev);
    expect_body(&ev, "unacked");
    sx_agent_event_clear(&ev);
    sx_agent_close(bob);
    bob = open_agent("bob_ro", false);
    expect_msg(bob, alice_id, "unacked", 5, -1);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* Links the agent cannot join, and a connection deleted by one side: the
 * other's next message fails for good with MERR (the router's AUTH), as
 * after the peer's suspension in the reference's runAgentClientTest. */
static void test_refusals_and_delete(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_del", false);
    sx_agent *bob = open_agent("bob_del", false);
    char id[SX_AGENT_CONN_ID_TEXT];
    assert_int_equal(sx_agent_join(bob, "simplex:/invitation#/?v=2-7", NULL, "", 0, id),
                     SX_E_PROTOCOL);
    assert_int_equal(sx_agent_send(bob, "AAAAAAAAAAAAAAAA", "x", 1, NULL), SX_E_USAGE);
    assert_int_equal(sx_agent_send(bob, "not an id", "x", 1, NULL), SX_E_USAGE);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    assert_ok(sx_agent_delete(alice, bob_id));
    sx_agent_conn_info *ci = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(alice, &ci, &n));
    assert_int_equal(n, 0);
    free(ci);
    send_expect_sent(bob, alice_id, "anyone there?", 2);
    sx_agent_event ev;
    int64_t until = now_ms() + WAIT_MS;
    do {
        assert_ok(sx_agent_next(bob, 200, &ev));
        if (now_ms() > until)
            fail_msg("no MERR");
    } while (ev.kind != SX_AGENT_EV_MERR);
    assert_string_equal(ev.conn, alice_id);
    assert_int_equal(ev.msg_id, 2);
    assert_int_equal(ev.status, SX_E_AUTH);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_duplex_pq, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_duplex_no_pq, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_router_restart, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_reopen, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_refusals_and_delete, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
