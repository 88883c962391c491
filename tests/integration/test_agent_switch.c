/* Queue rotation (sx_agent_switch_connection, docs/AGENT.md "Queue
 * rotation") with two agents over real smp-server processes, as the
 * reference's "Connection switch" tests: alice moves her receiving queue to
 * a new queue on the same router, and to another router (then the first
 * router is killed and bob's messages still arrive); messages flow both
 * ways before, during and after the switch, each arriving once and in
 * order; both sides see the four SWITCH phases in order; the old queue is
 * gone on its router (a copy of bob's store from before the switch sending
 * to it gets the router's AUTH); both agents closed and opened again in the
 * middle of the switch finish it; an abort before the new queue is secured
 * (the peer's late key gives an ERR) and a switch after it. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

#define MAX_MSGS 32

/* An agent (PQ on, the default) that, with no_subscribe, does not subscribe
 * its queues at open. */
static sx_agent *open_switch_agent(const char *name, bool no_subscribe)
{
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.no_subscribe = no_subscribe;
    return open_agent_opts(name, &o);
}

/* One side of the conversation: what it saw. */
typedef struct side {
    sx_agent *a;
    const char *name;
    char conn[SX_AGENT_CONN_ID_TEXT]; /* the peer's connection in this agent */
    char phases[8][20];
    size_t n_phases;
    char got[MAX_MSGS][16];
    size_t n_got;
    const char *allow_err; /* an ERR whose detail has this is counted, not fatal */
    size_t n_err;
} side;

static void connect_sides(side *alice, side *bob, const char *server)
{
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(alice->a, server, alice->conn, &link));
    assert_ok(sx_agent_join(bob->a, link, NULL, "bob", 3, bob->conn));
    sx_agent_free_text(link);
    sx_agent_event ev;
    int64_t until = now_ms() + WAIT_MS;
    bool alice_con = false, bob_con = false;
    while (!alice_con || !bob_con) {
        if (now_ms() > until)
            fail_msg("no connection");
        assert_ok(sx_agent_next(alice->a, 50, &ev));
        if (ev.kind == SX_AGENT_EV_CONF)
            assert_ok(sx_agent_allow(alice->a, alice->conn, ev.conf_id, "alice", 5));
        alice_con = alice_con || ev.kind == SX_AGENT_EV_CON;
        sx_agent_event_clear(&ev);
        assert_ok(sx_agent_next(bob->a, 50, &ev));
        bob_con = bob_con || ev.kind == SX_AGENT_EV_CON;
        sx_agent_event_clear(&ev);
    }
}

/* Takes one event of s (waiting a little): MSG (acknowledged) and SWITCH
 * are recorded; ERR and MERR fail the test unless allowed. */
static void pump_one(side *s)
{
    sx_agent_event ev;
    assert_ok(sx_agent_next(s->a, 20, &ev));
    switch (ev.kind) {
    case SX_AGENT_EV_MSG:
        assert_string_equal(ev.conn, s->conn);
        assert_string_equal(ev.integrity, "OK");
        assert_true(s->n_got < MAX_MSGS);
        assert_true(ev.body_len < sizeof s->got[0]);
        memcpy(s->got[s->n_got], ev.body, ev.body_len);
        s->got[s->n_got++][ev.body_len] = '\0';
        assert_ok(sx_agent_ack(s->a, s->conn, ev.msg_id));
        break;
    case SX_AGENT_EV_SWITCH:
        assert_string_equal(ev.conn, s->conn);
        assert_true(s->n_phases < 8);
        snprintf(s->phases[s->n_phases++], sizeof s->phases[0], "%s %s", ev.switch_dir,
                 ev.switch_phase);
        break;
    case SX_AGENT_EV_ERR:
    case SX_AGENT_EV_MERR:
        if (s->allow_err && strstr(ev.detail, s->allow_err)) {
            s->n_err++;
            break;
        }
        fail_msg("%s: %s %s: %s", s->name, sx_agent_event_name(ev.kind), ev.conn, ev.detail);
        break;
    default: break; /* SENT, UP, DOWN, NONE */
    }
    sx_agent_event_clear(&ev);
}

/* Pumps x and y (either may be NULL) until x has nx phases and gx
 * messages, and y ny and gy. */
static void pump(side *x, size_t nx, size_t gx, side *y, size_t ny, size_t gy)
{
    int64_t until = now_ms() + WAIT_MS;
    for (;;) {
        bool xd = !x || (x->n_phases >= nx && x->n_got >= gx);
        bool yd = !y || (y->n_phases >= ny && y->n_got >= gy);
        if (xd && yd)
            return;
        if (now_ms() > until)
            fail_msg("waited too long: %s %zu/%zu phases %zu/%zu messages; %s %zu/%zu %zu/%zu",
                     x ? x->name : "-", x ? x->n_phases : 0, nx, x ? x->n_got : 0, gx,
                     y ? y->name : "-", y ? y->n_phases : 0, ny, y ? y->n_got : 0, gy);
        if (x)
            pump_one(x);
        if (y)
            pump_one(y);
    }
}

static void send_text(side *s, const char *text)
{
    assert_ok(sx_agent_send(s->a, s->conn, text, strlen(text), NULL));
}

static const char *const PHASES[] = {"started", "confirmed", "secured", "completed"};

static void expect_phases(const side *s, const char *dir)
{
    assert_int_equal(s->n_phases, 4);
    for (size_t i = 0; i < 4; i++) {
        char want[20];
        snprintf(want, sizeof want, "%s %s", dir, PHASES[i]);
        assert_string_equal(s->phases[i], want);
    }
}


static bool has_phase(const side *s, const char *phase)
{
    for (size_t i = 0; i < s->n_phases; i++)
        if (strcmp(s->phases[i], phase) == 0)
            return true;
    return false;
}

/* Pumps s until it saw the phase ("rcv secured"). */
static void pump_phase(side *s, const char *phase)
{
    int64_t until = now_ms() + WAIT_MS;
    while (!has_phase(s, phase)) {
        if (now_ms() > until)
            fail_msg("%s: no SWITCH %s (%zu phases)", s->name, phase, s->n_phases);
        pump_one(s);
    }
}

/* The phases of s: in their order, none twice, ending with completed. */
static void expect_phases_ordered(const side *s, const char *dir)
{
    size_t next = 0;
    for (size_t i = 0; i < s->n_phases; i++) {
        size_t k = next;
        char want[20];
        for (; k < 4; k++) {
            snprintf(want, sizeof want, "%s %s", dir, PHASES[k]);
            if (strcmp(s->phases[i], want) == 0)
                break;
        }
        if (k == 4)
            fail_msg("%s: phase %s out of order", s->name, s->phases[i]);
        next = k + 1;
    }
    assert_int_equal(next, 4);
}

/* The messages of s are exactly prefix1, prefix2, ... prefixN in order. */
static void expect_got(const side *s, const char *prefix, size_t n)
{
    assert_int_equal(s->n_got, n);
    for (size_t i = 0; i < n; i++) {
        char want[48];
        snprintf(want, sizeof want, "%s%zu", prefix, i + 1);
        assert_string_equal(s->got[i], want);
    }
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* The old queue is gone on its router: bob's store from before the switch
 * (copied to bob_old while bob was closed) sends to it and gets AUTH. */
static void expect_old_queue_gone(const char *bob_conn)
{
    sx_agent *old = open_switch_agent("bob_old", true);
    assert_ok(sx_agent_send(old, bob_conn, "ghost", 5, NULL));
    sx_agent_event ev;
    int64_t until = now_ms() + WAIT_MS;
    do {
        assert_ok(sx_agent_next(old, 200, &ev));
        assert_int_not_equal(ev.kind, SX_AGENT_EV_SENT);
        if (now_ms() > until)
            fail_msg("no MERR for the old queue");
    } while (ev.kind != SX_AGENT_EV_MERR);
    assert_int_equal(ev.status, SX_E_AUTH);
    sx_agent_close(old);
}

static void switch_to(const char *server, bool kill_first)
{
    side alice = {.name = "alice"}, bob = {.name = "bob"};
    alice.a = open_switch_agent("alice", false);
    bob.a = open_switch_agent("bob", false);
    connect_sides(&alice, &bob, R.addr);
    send_text(&bob, "b1");
    send_text(&alice, "a1");
    pump(&alice, 0, 1, &bob, 0, 1);

    /* A copy of bob's store from before the switch. */
    sx_agent_close(bob.a);
    char p[128], q[128];
    db_path(p, sizeof p, "bob");
    db_path(q, sizeof q, "bob_old");
    copy_file(p, q);
    bob.a = open_switch_agent("bob", false);

    assert_ok(sx_agent_switch_connection(alice.a, alice.conn, server));
    assert_int_equal(sx_agent_switch_connection(alice.a, alice.conn, server), SX_E_USAGE);
    send_text(&bob, "b2");
    send_text(&alice, "a2");
    pump(&alice, 3, 2, &bob, 3, 2);
    assert_string_equal(alice.phases[2], "rcv secured");
    /* Too late to abort: the peer may drop the old queue any time now. */
    assert_int_equal(sx_agent_abort_switch(alice.a, alice.conn), SX_E_USAGE);
    /* Bob sends on both queues now; alice shows each message once. */
    send_text(&bob, "b3");
    send_text(&alice, "a3");
    pump(&alice, 4, 3, &bob, 4, 3);
    send_text(&bob, "b4");
    send_text(&alice, "a4");
    pump(&alice, 4, 4, &bob, 4, 4);
    expect_phases(&alice, "rcv");
    expect_phases(&bob, "snd");
    expect_got(&alice, "b", 4);
    expect_got(&bob, "a", 4);

    sx_agent_close(bob.a);
    expect_old_queue_gone(bob.conn);
    bob.a = open_switch_agent("bob", false);
    if (kill_first) {
        /* Bob to alice now goes through the second router only. */
        router_kill9();
        send_text(&bob, "b5");
        pump(&alice, 4, 5, NULL, 0, 0);
        expect_got(&alice, "b", 5);
    }
    sx_agent_close(alice.a);
    sx_agent_close(bob.a);
}

static void test_switch_same_router(void **state)
{
    (void)state;
    router_start();
    switch_to(NULL, false);
    router_kill9();
}

static void test_switch_other_router(void **state)
{
    (void)state;
    router_start();
    pool_router r2;
    assert_int_equal(pool_router_init(&r2, NULL), 0);
    pool_router_start(&r2);
    switch_to(r2.addr, true);
    pool_router_free(&r2);
}

/* Both agents closed and opened again in the middle of the switch. */
static void test_switch_restart(void **state)
{
    (void)state;
    router_start();
    side alice = {.name = "alice"}, bob = {.name = "bob"};
    alice.a = open_switch_agent("alice", false);
    bob.a = open_switch_agent("bob", false);
    connect_sides(&alice, &bob, R.addr);

    send_text(&bob, "b1");
    pump(&alice, 0, 1, NULL, 0, 0);

    assert_ok(sx_agent_switch_connection(alice.a, alice.conn, NULL));
    pump_phase(&alice, "rcv started");
    sx_agent_close(alice.a); /* QADD may not even be out yet */
    alice.a = open_switch_agent("alice", false);
    pump_phase(&bob, "snd confirmed"); /* QKEY delivered */
    sx_agent_close(bob.a);
    pump_phase(&alice, "rcv secured"); /* the key set, QUSE stored */
    assert_ok(sx_agent_flush(alice.a, WAIT_MS));
    sx_agent_close(alice.a);
    bob.a = open_switch_agent("bob", false);
    pump_phase(&bob, "snd completed"); /* QUSE taken, QTEST on the new queue */
    alice.a = open_switch_agent("alice", false);
    pump_phase(&alice, "rcv completed");
    send_text(&bob, "b2");
    send_text(&alice, "a1");
    pump(&alice, 0, 2, &bob, 0, 1);
    /* An event of a closed agent is not kept (its state is): "confirmed"
     * may have been reported by an agent closed before it was taken. */
    expect_phases_ordered(&alice, "rcv");
    expect_phases_ordered(&bob, "snd");
    expect_got(&alice, "b", 2);
    expect_got(&bob, "a", 1);
    sx_agent_close(alice.a);
    sx_agent_close(bob.a);
    router_kill9();
}

/* Abort before the new queue is secured, then switch again. */
static void test_switch_abort(void **state)
{
    (void)state;
    router_start();
    side alice = {.name = "alice"}, bob = {.name = "bob"};
    alice.a = open_switch_agent("alice", false);
    bob.a = open_switch_agent("bob", false);
    connect_sides(&alice, &bob, R.addr);
    assert_int_equal(sx_agent_abort_switch(alice.a, alice.conn), SX_E_USAGE);

    sx_agent_close(bob.a);
    assert_ok(sx_agent_switch_connection(alice.a, alice.conn, NULL));
    pump(&alice, 1, 0, NULL, 0, 0);
    assert_ok(sx_agent_abort_switch(alice.a, alice.conn));
    assert_int_equal(sx_agent_abort_switch(alice.a, alice.conn), SX_E_USAGE);
    bob.a = open_switch_agent("bob", false);
    /* Bob answers the QADD; his key is for a queue alice no longer has. */
    alice.allow_err = "QKEY: queue address not found";
    pump(&bob, 2, 0, NULL, 0, 0);
    int64_t until = now_ms() + WAIT_MS;
    while (alice.n_err == 0) {
        if (now_ms() > until)
            fail_msg("no ERR for the late key");
        pump_one(&alice);
    }
    assert_int_equal(alice.n_phases, 1);

    /* Again, to the end; bob's queue of the first attempt is replaced. */
    alice.n_phases = 0;
    bob.n_phases = 0;
    assert_ok(sx_agent_switch_connection(alice.a, alice.conn, NULL));
    send_text(&bob, "b1");
    send_text(&alice, "a1");
    pump(&alice, 4, 1, &bob, 4, 1);
    expect_phases(&alice, "rcv");
    expect_phases(&bob, "snd");
    send_text(&bob, "b2");
    pump(&alice, 4, 2, NULL, 0, 0);
    expect_got(&alice, "b", 2);
    expect_got(&bob, "a", 1);
    sx_agent_close(alice.a);
    sx_agent_close(bob.a);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_switch_same_router, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_switch_other_router, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_switch_restart, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_switch_abort, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
