/* The reference's connection switch scenarios that test_agent_switch.c
 * does not cover, two agents over a real smp-server process:
 *  - testSwitchDelete: a switch started while the peer is away, then the
 *    connection deleted: both receiving queues (the old one and the new one
 *    the switch made) are deleted on the router, and nothing else comes;
 *  - testSwitch2Connections: two connections between the same agents
 *    switched at once, the agents taking turns (only one of them open at a
 *    time, as the reference's sessions): each step of both switches is
 *    done in the right agent's turn, then messages with the ids the
 *    reference expects, and a full switch of each again with both open;
 *  - testSwitch2ConnectionsAbort1: the same with the second switch aborted
 *    before the peer answered: the peer's late key for it is an error
 *    (the queue is gone), the first switch completes, both connections
 *    carry messages, and each can be switched again to the end. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

#define NCONN 2
#define MAXPH 16

/* An agent and what it saw on each of its connections. */
typedef struct peer {
    sx_agent *a;
    const char *name;
    char conn[NCONN][SX_AGENT_CONN_ID_TEXT];
    char phases[NCONN][MAXPH][20];
    size_t n_phases[NCONN];
    const char *allow_err; /* an ERR whose detail has this is counted */
    size_t n_err[NCONN];
} peer;

static sx_agent *open_peer(peer *p)
{
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.pq_off = true;
    p->a = open_agent_opts(p->name, &o);
    return p->a;
}

/* All of p's outgoing messages with the router, then closed. */
static void close_peer(peer *p)
{
    assert_ok(sx_agent_flush(p->a, WAIT_MS));
    sx_agent_close(p->a);
    p->a = NULL;
}

static int conn_index(const peer *p, const char *conn)
{
    for (int i = 0; i < NCONN; i++)
        if (strcmp(p->conn[i], conn) == 0)
            return i;
    fail_msg("%s: event of an unknown connection %s", p->name, conn);
    return -1;
}

/* One event of p: SWITCH recorded; allowed ERRs counted; anything else but
 * UP, DOWN, NONE and SENT fails. */
static void pump_one(peer *p)
{
    sx_agent_event ev;
    assert_ok(sx_agent_next(p->a, 20, &ev));
    switch (ev.kind) {
    case SX_AGENT_EV_SWITCH: {
        int i = conn_index(p, ev.conn);
        assert_true(p->n_phases[i] < MAXPH);
        snprintf(p->phases[i][p->n_phases[i]++], sizeof p->phases[0][0], "%s %s",
                 ev.switch_dir, ev.switch_phase);
        break;
    }
    case SX_AGENT_EV_ERR:
        if (p->allow_err && strstr(ev.detail, p->allow_err)) {
            p->n_err[conn_index(p, ev.conn)]++;
            break;
        }
        fail_msg("%s: ERR %s: %s", p->name, ev.conn, ev.detail);
        break;
    case SX_AGENT_EV_NONE:
    case SX_AGENT_EV_UP:
    case SX_AGENT_EV_DOWN:
    case SX_AGENT_EV_SENT: break;
    default: fail_msg("%s: event %s %s (%s)", p->name, sx_agent_event_name(ev.kind), ev.conn, ev.detail);
    }
    sx_agent_event_clear(&ev);
}

/* Pumps p until connection i has n phases. */
static void pump_phases(peer *p, int i, size_t n)
{
    int64_t until = now_ms() + WAIT_MS;
    while (p->n_phases[i] < n) {
        if (now_ms() > until)
            fail_msg("%s: connection %d has %zu of %zu SWITCH phases", p->name, i,
                     p->n_phases[i], n);
        pump_one(p);
    }
}

/* Connection i's phases from `from` on are exactly the listed ones. */
static void expect_phases(const peer *p, int i, size_t from, const char *const *want, size_t n)
{
    if (p->n_phases[i] != from + n)
        fail_msg("%s: connection %d has %zu phases, expected %zu", p->name, i, p->n_phases[i],
                 from + n);
    for (size_t k = 0; k < n; k++)
        assert_string_equal(p->phases[i][from + k], want[k]);
}

/* Nothing but UP, DOWN and NONE for ms (the end of a session). */
static void expect_quiet(peer *p, int ms)
{
    int64_t until = now_ms() + ms;
    while (now_ms() < until) {
        sx_agent_event ev;
        assert_ok(sx_agent_next(p->a, 100, &ev));
        if (ev.kind != SX_AGENT_EV_NONE && ev.kind != SX_AGENT_EV_UP &&
            ev.kind != SX_AGENT_EV_DOWN)
            fail_msg("%s: nothing else should be delivered, got %s %s (%s)", p->name,
                     sx_agent_event_name(ev.kind), ev.conn, ev.detail);
        sx_agent_event_clear(&ev);
    }
}

/* alice invites, bob joins; connection k of each. */
static void connect_k(peer *alice, peer *bob, int k)
{
    connect_pair(alice->a, bob->a, alice->conn[k], bob->conn[k], false);
}

/* exchangeGreetingsMsgId: alice sends id, bob id + 1. */
static void greetings(peer *alice, peer *bob, int k, int64_t id)
{
    send_expect_sent(alice->a, alice->conn[k], "hello", id);
    expect_sent(alice->a, alice->conn[k], id);
    expect_msg(bob->a, bob->conn[k], "hello", id, 0);
    send_expect_sent(bob->a, bob->conn[k], "hello too", id + 1);
    expect_sent(bob->a, bob->conn[k], id + 1);
    expect_msg(alice->a, alice->conn[k], "hello too", id + 1, 0);
}

static const char *const RCV_ALL[] = {"rcv started", "rcv confirmed", "rcv secured",
                                      "rcv completed"};
static const char *const SND_ALL[] = {"snd started", "snd confirmed", "snd secured",
                                      "snd completed"};

/* testFullSwitch: both open, alice switches connection k to the end, then
 * greetings with id. */
static void full_switch(peer *alice, peer *bob, int k, int64_t id)
{
    size_t a0 = alice->n_phases[k], b0 = bob->n_phases[k];
    assert_ok(sx_agent_switch_connection(alice->a, alice->conn[k], NULL));
    int64_t until = now_ms() + WAIT_MS;
    while (alice->n_phases[k] < a0 + 4 || bob->n_phases[k] < b0 + 4) {
        if (now_ms() > until)
            fail_msg("switch of connection %d: alice %zu, bob %zu phases", k,
                     alice->n_phases[k] - a0, bob->n_phases[k] - b0);
        pump_one(alice);
        pump_one(bob);
    }
    expect_phases(alice, k, a0, RCV_ALL, 4);
    expect_phases(bob, k, b0, SND_ALL, 4);
    greetings(alice, bob, k, id);
}

/* Two connections with greetings (ids 2, 3 on each); both closed. */
static void two_connections(peer *alice, peer *bob)
{
    open_peer(alice);
    open_peer(bob);
    for (int k = 0; k < NCONN; k++) {
        connect_k(alice, bob, k);
        greetings(alice, bob, k, 2);
    }
    close_peer(alice);
    close_peer(bob);
}

/* alice's turn: both switches started (the second aborted when abort2). */
static void start_both(peer *alice, bool abort2)
{
    open_peer(alice);
    for (int k = 0; k < NCONN; k++) {
        assert_ok(sx_agent_switch_connection(alice->a, alice->conn[k], NULL));
        pump_phases(alice, k, 1);
        assert_string_equal(alice->phases[k][0], "rcv started");
    }
    /* A second switch while one is on is refused. */
    assert_int_equal(sx_agent_switch_connection(alice->a, alice->conn[0], NULL), SX_E_USAGE);
    if (abort2)
        assert_ok(sx_agent_abort_switch(alice->a, alice->conn[1]));
    expect_quiet(alice, 500);
    close_peer(alice);
}

static void test_switch_2_connections(void **state)
{
    (void)state;
    router_start();
    peer alice = {.name = "alice"}, bob = {.name = "bob"};
    two_connections(&alice, &bob);
    start_both(&alice, false);

    /* Bob's turn: the QADDs taken, QKEYs sent. */
    open_peer(&bob);
    for (int k = 0; k < NCONN; k++)
        pump_phases(&bob, k, 2);
    expect_quiet(&bob, 500);
    close_peer(&bob);
    /* Alice's: the QKEYs taken, the new queues secured, QUSE sent. */
    open_peer(&alice);
    for (int k = 0; k < NCONN; k++)
        pump_phases(&alice, k, 3);
    expect_quiet(&alice, 500);
    close_peer(&alice);
    /* Bob's: QUSE taken, QTEST on the new queues. */
    open_peer(&bob);
    for (int k = 0; k < NCONN; k++)
        pump_phases(&bob, k, 4);
    expect_quiet(&bob, 500);
    close_peer(&bob);
    /* Alice's: QTEST taken, the old queues deleted. */
    open_peer(&alice);
    for (int k = 0; k < NCONN; k++)
        pump_phases(&alice, k, 4);
    expect_quiet(&alice, 500);
    for (int k = 0; k < NCONN; k++) {
        expect_phases(&alice, k, 0, RCV_ALL, 4);
        expect_phases(&bob, k, 0, SND_ALL, 4);
    }

    /* Both open: messages (the switch's own took ids 4 to 7), and each
     * connection switched again. */
    open_peer(&bob);
    for (int k = 0; k < NCONN; k++)
        greetings(&alice, &bob, k, 8);
    for (int k = 0; k < NCONN; k++)
        full_switch(&alice, &bob, k, 14);
    sx_agent_close(alice.a);
    sx_agent_close(bob.a);
    router_kill9();
}

static void test_switch_2_connections_abort1(void **state)
{
    (void)state;
    router_start();
    peer alice = {.name = "alice"}, bob = {.name = "bob"};
    two_connections(&alice, &bob);
    start_both(&alice, true);

    /* Bob's turn: he answers both QADDs (the abort came after them). */
    open_peer(&bob);
    for (int k = 0; k < NCONN; k++)
        pump_phases(&bob, k, 2);
    expect_quiet(&bob, 500);
    close_peer(&bob);
    /* Alice's: the first goes on; the second's key is for a queue she no
     * longer has. */
    open_peer(&alice);
    alice.allow_err = "queue address not found";
    pump_phases(&alice, 0, 3);
    int64_t until = now_ms() + WAIT_MS;
    while (alice.n_err[1] == 0) {
        if (now_ms() > until)
            fail_msg("no ERR for the aborted switch's late key");
        pump_one(&alice);
    }
    expect_quiet(&alice, 500);
    assert_int_equal(alice.n_err[0], 0);
    assert_int_equal(alice.n_err[1], 1);
    assert_int_equal(alice.n_phases[1], 1); /* only "started" */
    close_peer(&alice);

    /* Both open: the first switch completes. */
    open_peer(&alice);
    open_peer(&bob);
    pump_phases(&bob, 0, 4);
    pump_phases(&alice, 0, 4);
    expect_phases(&alice, 0, 0, RCV_ALL, 4);
    expect_phases(&bob, 0, 0, SND_ALL, 4);
    assert_int_equal(bob.n_phases[1], 2); /* started, confirmed: no more */
    alice.allow_err = NULL;

    greetings(&alice, &bob, 0, 8);
    greetings(&alice, &bob, 1, 6);
    full_switch(&alice, &bob, 0, 14);
    full_switch(&alice, &bob, 1, 12);
    sx_agent_close(alice.a);
    sx_agent_close(bob.a);
    router_kill9();
}

/* ---- testSwitchDelete ---- */

static uint16_t ctl_port;

static long long deleted_queues(void)
{
    return pool_router_ctl_stat(ctl_port, "us3r", "qDeletedAll", NULL);
}

static void test_switch_delete(void **state)
{
    (void)state;
    ctl_port = pool_router_free_port();
    char extra[160];
    snprintf(extra, sizeof extra, "control_port: %u\ncontrol_port_user_password: us3r\n",
             (unsigned)ctl_port);
    pool_router_edit(&R, extra);
    router_start();
    peer alice = {.name = "alice"}, bob = {.name = "bob"};
    open_peer(&alice);
    open_peer(&bob);
    connect_k(&alice, &bob, 0);
    greetings(&alice, &bob, 0, 2);
    close_peer(&bob);

    assert_ok(sx_agent_switch_connection(alice.a, alice.conn[0], NULL));
    pump_phases(&alice, 0, 1);
    assert_string_equal(alice.phases[0][0], "rcv started");
    long long before = deleted_queues();
    assert_ok(sx_agent_delete(alice.a, alice.conn[0]));
    /* Both of alice's receiving queues: the old one and the switch's. */
    assert_int_equal(deleted_queues() - before, 2);
    expect_quiet(&alice, 1000);
    assert_int_not_equal(sx_agent_delete(alice.a, alice.conn[0]), SX_OK);
    sx_agent_close(alice.a);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_switch_delete, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_switch_2_connections, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_switch_2_connections_abort1, pair_setup,
                                        pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
