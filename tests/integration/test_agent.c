/* The agent core (include/simplex/agent.h) with two agents in one process,
 * each with its own store file, over a real smp-server process: the fast
 * duplex handshake through an invitation (CONF, allow, CON; INFO, CON) with
 * the post-quantum ratchet on and off, messages both ways in order with
 * their ids and integrity, the router killed and restarted while messages
 * are being sent (each delivered once, in order, after the restart), and an
 * agent closed and opened again from its store going on with the
 * conversation; the reference's testDuplicateMessage (a message shown
 * again until acknowledged, and one acknowledged while the router was
 * down never shown twice); links it cannot join; a connection deleted by one side
 * and the other's message failing with MERR, and the same after a
 * suspension of the connection (OFF); DOWN and UP around a router
 * restart, END when another agent subscribes; ratchet re-synchronisation
 * after one side's store was put back to an older copy (the reference's
 * "Ratchet synchronization" tests): one side starting, both sides starting
 * at once, a side restarting between starting and the answer, and one
 * suspended and brought back there; a
 * contact address joined by two requesters, one accepted after the
 * owner's restart, one rejected;
 * the legacy handshake (KEY and HELLO), also between a legacy inviter and
 * a joiner with a queue its sender secures, and through an address. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

/* An agent whose new invitations take the legacy handshake when legacy. */
static sx_agent *open_agent_legacy(const char *name, bool pq_off, bool legacy)
{
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.pq_off = pq_off;
    o.legacy_handshake = legacy;
    return open_agent_opts(name, &o);
}

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

/* The reference's testDuplicateMessage, on a router that keeps its
 * messages in its journal across a SIGKILL: a message shown and not
 * acknowledged comes again after bob's restart; a message whose
 * acknowledgement bob stored while the router was down is sent again by
 * the router after its restart, and bob's agent acknowledges it quietly
 * (never shown twice), and the message the router held behind it comes
 * next; then the conversation goes on. */
static void test_duplicate_message(void **state)
{
    (void)state;
    pool_router_edit(&R, "store_messages: journal");
    router_start();
    sx_agent *alice = open_agent("alice_dup", false);
    sx_agent *bob = open_agent("bob_dup", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    send_expect_sent(alice, bob_id, "hello", 2);
    expect_sent(alice, bob_id, 2);
    sx_agent_event ev;
    expect(bob, SX_AGENT_EV_MSG, alice_id, &ev);
    expect_body(&ev, "hello");
    sx_agent_event_clear(&ev);
    sx_agent_close(bob); /* not acknowledged: the router sends it again */
    bob = open_agent("bob_dup", false);
    expect_msg(bob, alice_id, "hello", 2, -1);
    send_expect_sent(alice, bob_id, "hello 2", 3);
    expect_sent(alice, bob_id, 3);
    expect(bob, SX_AGENT_EV_MSG, alice_id, &ev);
    expect_body(&ev, "hello 2");
    assert_int_equal(ev.msg_id, 3);
    sx_agent_event_clear(&ev);
    /* Held by the router behind message 3 until that one's ACK. */
    send_expect_sent(alice, bob_id, "hello 2b", 4);
    expect_sent(alice, bob_id, 4);
    router_kill9();
    /* The user's acknowledgement is stored; the router's ACK is lost. */
    assert_ok(sx_agent_ack(bob, alice_id, 3));
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_start();
    alice = open_agent("alice_dup", false);
    bob = open_agent("bob_dup", false);
    /* Message 3 again from the journal, acknowledged quietly (the router
     * then gives message 4, which it kept across the SIGKILL too). */
    expect_msg(bob, alice_id, "hello 2b", 4, true);
    send_expect_sent(alice, bob_id, "hello 3", 5);
    expect_sent(alice, bob_id, 5);
    expect_msg(bob, alice_id, "hello 3", 5, true);
    assert_ok(sx_agent_next(bob, 500, &ev));
    while (ev.kind == SX_AGENT_EV_UP || ev.kind == SX_AGENT_EV_DOWN)
        assert_ok(sx_agent_next(bob, 500, &ev));
    assert_int_equal(ev.kind, SX_AGENT_EV_NONE);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* Links the agent cannot join, and a connection deleted by one side: the
 * other's next message fails for good with MERR (the router's AUTH), as
 * after the peer's suspension in the reference's runAgentClientTest. The
 * other connection of the same two agents goes on: both its messages come,
 * the second only once the first was acknowledged on the router (found
 * through the agent's index of its connections' queues). */
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
    char keep_bob[SX_AGENT_CONN_ID_TEXT], keep_alice[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, keep_bob, keep_alice, true);
    connect_pair(alice, bob, bob_id, alice_id, true);
    assert_ok(sx_agent_delete(alice, bob_id));
    sx_agent_conn_info *ci = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(alice, &ci, &n));
    assert_int_equal(n, 1);
    assert_string_equal(ci[0].id, keep_bob);
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
    sx_agent_event_clear(&ev);
    send_expect_sent(bob, keep_alice, "still here", 2);
    expect_msg(alice, keep_bob, "still here", 2, -1);
    send_expect_sent(bob, keep_alice, "and again", 3);
    expect_msg(alice, keep_bob, "and again", 3, -1);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* The end of the reference's runAgentClientTest: alice suspends the
 * connection (OFF), bob's next message fails for good with MERR (the
 * router's AUTH); alice's store still has the connection. */
static void test_suspend_connection(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_off", false);
    sx_agent *bob = open_agent("bob_off", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    assert_int_equal(sx_agent_suspend_connection(alice, "AAAAAAAAAAAAAAAA"), SX_E_USAGE);
    connect_pair(alice, bob, bob_id, alice_id, true);
    send_expect_sent(bob, alice_id, "before", 2);
    expect_sent(bob, alice_id, 2);
    expect_msg(alice, bob_id, "before", 2, true);
    assert_ok(sx_agent_suspend_connection(alice, bob_id));
    send_expect_sent(bob, alice_id, "after", 3);
    sx_agent_event ev;
    int64_t until = now_ms() + WAIT_MS;
    do {
        assert_ok(sx_agent_next(bob, 200, &ev));
        assert_true(ev.kind != SX_AGENT_EV_SENT);
        if (now_ms() > until)
            fail_msg("no MERR");
    } while (ev.kind != SX_AGENT_EV_MERR);
    assert_string_equal(ev.conn, alice_id);
    assert_int_equal(ev.msg_id, 3);
    assert_int_equal(ev.status, SX_E_AUTH);
    sx_agent_conn_info *ci = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(alice, &ci, &n));
    assert_int_equal(n, 1);
    assert_string_equal(ci[0].state, "duplex");
    free(ci);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* The next event of kind at a (others skipped, ERR and MERR fail). */
static void wait_kind(sx_agent *a, sx_agent_event_kind kind, sx_agent_event *ev)
{
    int64_t until = now_ms() + WAIT_MS;
    for (;;) {
        assert_ok(sx_agent_next(a, 200, ev));
        if (ev->kind == SX_AGENT_EV_ERR || ev->kind == SX_AGENT_EV_MERR)
            fail_msg("%s %s: %s", sx_agent_event_name(ev->kind), ev->conn, ev->detail);
        if (ev->kind == kind)
            return;
        sx_agent_event_clear(ev);
        if (now_ms() > until)
            fail_msg("no %s in %d ms", sx_agent_event_name(kind), WAIT_MS);
    }
}

/* The subscription events: DOWN when the router goes (naming it), UP when
 * it is back and the queues are subscribed again (messages flow), and END
 * when another agent on the same store subscribes the connection's queue
 * (that one then gets the messages). */
static void test_down_up_end(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_due", false);
    sx_agent *bob = open_agent("bob_due", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    router_kill9();
    sx_agent_event ev;
    wait_kind(bob, SX_AGENT_EV_DOWN, &ev);
    assert_string_equal(ev.conn, "");
    assert_true(strlen(ev.server) > 0);
    char down[sizeof ev.server];
    memcpy(down, ev.server, sizeof down);
    router_start();
    wait_kind(bob, SX_AGENT_EV_UP, &ev);
    assert_string_equal(ev.server, down);
    send_expect_sent(alice, bob_id, "after up", 2);
    expect_sent(alice, bob_id, 2);
    expect_msg(bob, alice_id, "after up", 2, true);
    sx_agent *bob2 = open_agent("bob_due", false);
    wait_kind(bob, SX_AGENT_EV_END, &ev);
    assert_string_equal(ev.conn, alice_id);
    send_expect_sent(alice, bob_id, "to the new one", 3);
    expect_sent(alice, bob_id, 3);
    expect_msg(bob2, alice_id, "to the new one", 3, true);
    sx_agent_close(bob2);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* ---- ratchet re-synchronisation ---- */

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

/* The store file of name replaced by the copy saved as name.bak (the
 * agent closed: no WAL left to apply). */
static void store_restore(const char *name)
{
    char p[128], b[160], x[160];
    db_path(p, sizeof p, name);
    snprintf(b, sizeof b, "%s.bak", p);
    copy_file(b, p);
    snprintf(x, sizeof x, "%s-wal", p);
    unlink(x);
    snprintf(x, sizeof x, "%s-shm", p);
    unlink(x);
}

static void store_backup(const char *name)
{
    char p[128], b[160];
    db_path(p, sizeof p, name);
    snprintf(b, sizeof b, "%s.bak", p);
    copy_file(p, b);
}

static void expect_rsync(sx_agent *a, const char *conn, const char *state, const char *err)
{
    sx_agent_event ev;
    expect(a, SX_AGENT_EV_RSYNC, conn, &ev);
    assert_string_equal(ev.rsync, state);
    if (err)
        assert_string_equal(ev.detail, err);
    sx_agent_event_clear(&ev);
}

static const char *conn_rsync(sx_agent *a, const char *conn)
{
    sx_agent_conn_info *ci = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(a, &ci, &n));
    const char *r = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ci[i].id, conn) == 0)
            r = ci[i].rsync;
    free(ci);
    assert_non_null(r);
    return r;
}

/* setupDesynchronizedRatchet of the reference: bob's store saved after
 * two messages, two more, then the saved copy put back (*bob reopened on
 * it). The ratchet keys bob had then are gone on alice's side: her next
 * message cannot be decrypted (RSYNC required, RATCHET_HEADER), bob may
 * not send, and could not start the re-synchronisation before it. */
static void desync(sx_agent *alice, sx_agent **bob, const char *bob_name, const char *bob_id,
                   const char *alice_id, bool pq)
{
    send_expect_sent(alice, bob_id, "hello", 2);
    expect_sent(alice, bob_id, 2);
    expect_msg(*bob, alice_id, "hello", 2, pq);
    send_expect_sent(*bob, alice_id, "hello 2", 3);
    expect_sent(*bob, alice_id, 3);
    expect_msg(alice, bob_id, "hello 2", 3, pq);
    sx_agent_close(*bob);
    store_backup(bob_name);
    *bob = open_agent(bob_name, !pq);
    send_expect_sent(alice, bob_id, "hello 3", 4);
    expect_sent(alice, bob_id, 4);
    expect_msg(*bob, alice_id, "hello 3", 4, pq);
    send_expect_sent(*bob, alice_id, "hello 4", 5);
    expect_sent(*bob, alice_id, 5);
    expect_msg(alice, bob_id, "hello 4", 5, pq);
    sx_agent_close(*bob);
    store_restore(bob_name);
    *bob = open_agent(bob_name, !pq);
    assert_string_equal(conn_rsync(*bob, alice_id), "ok");
    assert_int_equal(sx_agent_synchronize_ratchet(*bob, alice_id, false), SX_E_USAGE);
    send_expect_sent(alice, bob_id, "hello 5", 6);
    expect_sent(alice, bob_id, 6);
    expect_rsync(*bob, alice_id, "required", "RATCHET_HEADER");
    assert_string_equal(conn_rsync(*bob, alice_id), "required");
    assert_int_equal(sx_agent_send(*bob, alice_id, "hello 6", 7, NULL), SX_E_USAGE);
}

/* exchangeGreetingsMsgIds: one message each way, with the ids expected
 * after the re-synchronisation (each side's key message and two EREADYs
 * took ids), integrity OK. */
static void greetings(sx_agent *alice, const char *bob_id, int64_t alice_msg_id, sx_agent *bob,
                      const char *alice_id, int64_t bob_msg_id, bool pq)
{
    send_expect_sent(alice, bob_id, "hello", alice_msg_id);
    expect_sent(alice, bob_id, alice_msg_id);
    expect_msg(bob, alice_id, "hello", bob_msg_id, pq);
    send_expect_sent(bob, alice_id, "hello too", bob_msg_id + 1);
    expect_sent(bob, alice_id, bob_msg_id + 1);
    expect_msg(alice, bob_id, "hello too", alice_msg_id + 1, pq);
}

/* Nothing else came (no ERR, no second RSYNC). */
/* No event but UP/DOWN for ms (defined below). */
static void expect_quiet(sx_agent *a, int ms);

/* Both sides: agreed, then ok once the first message passed on the new
 * ratchet. */
static void expect_agreed_ok(sx_agent *alice, const char *bob_id, sx_agent *bob,
                             const char *alice_id)
{
    expect_rsync(alice, bob_id, "agreed", "");
    expect_rsync(bob, alice_id, "agreed", "");
    expect_rsync(alice, bob_id, "ok", "");
    expect_rsync(bob, alice_id, "ok", "");
    assert_string_equal(conn_rsync(alice, bob_id), "ok");
    assert_string_equal(conn_rsync(bob, alice_id), "ok");
}

static void ratchet_sync(bool pq)
{
    router_start();
    sx_agent *alice = open_agent(pq ? "alice_rs" : "alice_rsn", !pq);
    sx_agent *bob = open_agent(pq ? "bob_rs" : "bob_rsn", !pq);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, pq);
    desync(alice, &bob, pq ? "bob_rs" : "bob_rsn", bob_id, alice_id, pq);
    assert_ok(sx_agent_synchronize_ratchet(bob, alice_id, false));
    assert_string_equal(conn_rsync(bob, alice_id), "started");
    expect_agreed_ok(alice, bob_id, bob, alice_id);
    greetings(alice, bob_id, 10, bob, alice_id, 7, pq);
    greetings(bob, alice_id, 9, alice, bob_id, 12, pq);
    expect_quiet(alice, 500);
    expect_quiet(bob, 500);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* No event but UP/DOWN for a while (a rejected requester hears nothing). */
static void expect_quiet(sx_agent *a, int ms)
{
    int64_t until = now_ms() + ms;
    while (now_ms() < until) {
        sx_agent_event ev;
        assert_ok(sx_agent_next(a, 100, &ev));
        if (ev.kind != SX_AGENT_EV_NONE && ev.kind != SX_AGENT_EV_UP &&
            ev.kind != SX_AGENT_EV_DOWN)
            fail_msg("unexpected %s %s", sx_agent_event_name(ev.kind), ev.conn);
        sx_agent_event_clear(&ev);
    }
}

static void expect_req(sx_agent *a, const char *addr, const char *info, char inv[SX_AGENT_CONN_ID_TEXT])
{
    sx_agent_event ev;
    expect(a, SX_AGENT_EV_REQ, addr, &ev);
    expect_body(&ev, info);
    assert_true(ev.pq);
    assert_int_equal(strlen(ev.inv_id), SX_AGENT_CONN_ID_TEXT - 1);
    memcpy(inv, ev.inv_id, SX_AGENT_CONN_ID_TEXT);
    sx_agent_event_clear(&ev);
}

/* The reference's runAgentClientContactTest and testRejectContactRequest:
 * alice's address, bob's and carol's requests (REQ with their info), alice
 * closed and opened again between bob's REQ and her accept (the request
 * and the address's queue come back from the store), carol's request
 * rejected (she hears nothing); bob allows alice's confirmation, CON on
 * both sides, messages both ways with the fast handshake's ids. */
static void contact(bool lg)
{
    router_start();
    sx_agent *alice = open_agent_legacy(lg ? "alice_ctl" : "alice_ct", false, lg);
    sx_agent *bob = open_agent_legacy(lg ? "bob_ctl" : "bob_ct", false, lg);
    sx_agent *carol = open_agent_legacy(lg ? "carol_ctl" : "carol_ct", false, lg);
    char addr[SX_AGENT_CONN_ID_TEXT], *link = NULL;
    assert_ok(sx_agent_create_contact(alice, R.addr, addr, &link));
    assert_non_null(strstr(link, "simplex:/contact#/?v=2-7&smp="));
    assert_non_null(strstr(link, "q%3Dc"));
    assert_null(strstr(link, "e2e="));
    char bob_alice[SX_AGENT_CONN_ID_TEXT], carol_alice[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_join(bob, link, NULL, "bob's request", 13, bob_alice));
    char bob_inv[SX_AGENT_CONN_ID_TEXT], carol_inv[SX_AGENT_CONN_ID_TEXT];
    expect_req(alice, addr, "bob's request", bob_inv);

    /* The request outlives the owner's agent; the address keeps working. */
    sx_agent_close(alice);
    alice = open_agent_legacy(lg ? "alice_ctl" : "alice_ct", false, lg);
    assert_ok(sx_agent_join(carol, link, NULL, "carol's request", 15, carol_alice));
    sx_agent_free_text(link);
    expect_req(alice, addr, "carol's request", carol_inv);
    assert_string_not_equal(bob_inv, carol_inv);

    char alice_bob[SX_AGENT_CONN_ID_TEXT], other[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_accept_contact(alice, bob_inv, NULL, "alice's info", 12, alice_bob));
    assert_string_not_equal(alice_bob, addr);
    assert_int_equal(sx_agent_accept_contact(alice, bob_inv, NULL, "", 0, other), SX_E_USAGE);
    assert_ok(sx_agent_reject_contact(alice, carol_inv));
    assert_int_equal(sx_agent_reject_contact(alice, carol_inv), SX_E_USAGE);
    assert_int_equal(sx_agent_accept_contact(alice, carol_inv, NULL, "", 0, other), SX_E_USAGE);

    /* The roles swap: bob made the invitation, alice joined it. */
    sx_agent_event ev;
    expect(bob, SX_AGENT_EV_CONF, bob_alice, &ev);
    expect_body(&ev, "alice's info");
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(bob, bob_alice, conf, "bob's info", 10));
    expect(bob, SX_AGENT_EV_CON, bob_alice, &ev);
    assert_true(ev.pq);
    sx_agent_event_clear(&ev);
    expect(alice, SX_AGENT_EV_INFO, alice_bob, &ev);
    expect_body(&ev, "bob's info");
    sx_agent_event_clear(&ev);
    expect(alice, SX_AGENT_EV_CON, alice_bob, &ev);
    assert_true(ev.pq);
    sx_agent_event_clear(&ev);

    int64_t base = lg ? 3 : 1; /* the legacy handshake's HELLOs take 2 and 3 */
    send_expect_sent(alice, alice_bob, "hello bob", base + 1);
    expect_sent(alice, alice_bob, base + 1);
    expect_msg(bob, bob_alice, "hello bob", base + 1, true);
    send_expect_sent(bob, bob_alice, "hello alice", base + 2);
    expect_sent(bob, bob_alice, base + 2);
    expect_msg(alice, alice_bob, "hello alice", base + 2, true);

    /* The address stays, beside the new connection; carol waits in vain. */
    sx_agent_conn_info *ci = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(alice, &ci, &n));
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(ci[i].state, strcmp(ci[i].id, addr) == 0        ? "contact"
                                         : strcmp(ci[i].id, alice_bob) == 0 ? "duplex"
                                                                            : "?");
    free(ci);
    expect_quiet(carol, 1500);
    expect_quiet(alice, 500);
    assert_ok(sx_agent_delete(alice, addr));
    sx_agent_close(alice);
    sx_agent_close(bob);
    sx_agent_close(carol);
    router_kill9();
}

static void test_contact(void **state)
{
    (void)state;
    contact(false);
}

/* The same with every queue of the legacy handshake. */
static void test_contact_legacy(void **state)
{
    (void)state;
    contact(true);
}

/* The reference's runAgentClientTest in its "v8" form (no SKEY): the
 * same events, HELLO both ways under the hood, message ids from 4. With
 * only alice legacy, bob's reply queue is secured by alice (SKEY) while
 * alice's is secured by her KEY: no HELLO, ids from 2. With only bob
 * legacy, bob SKEYs alice's queue but his reply queue needs his KEY, and
 * HELLO follows. */
static void legacy(bool alice_legacy, bool bob_legacy)
{
    router_start();
    char an[16], bn[16];
    snprintf(an, sizeof an, "alice_lg%d%d", alice_legacy, bob_legacy);
    snprintf(bn, sizeof bn, "bob_lg%d%d", alice_legacy, bob_legacy);
    sx_agent *alice = open_agent_legacy(an, false, alice_legacy);
    sx_agent *bob = open_agent_legacy(bn, false, bob_legacy);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT], *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, bob_id, &link));
    assert_true(alice_legacy == (strstr(link, "q%3Dm") == NULL));
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, alice_id));
    sx_agent_free_text(link);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    expect_body(&ev, "bob's info");
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's info", 12));
    expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
    expect_body(&ev, "alice's info");
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    assert_true(ev.pq);
    sx_agent_event_clear(&ev);
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    assert_true(ev.pq);
    sx_agent_event_clear(&ev);
    int64_t base = bob_legacy ? 3 : 1;
    send_expect_sent(alice, bob_id, "hello", base + 1);
    expect_sent(alice, bob_id, base + 1);
    expect_msg(bob, alice_id, "hello", base + 1, true);
    send_expect_sent(bob, alice_id, "hello too", base + 2);
    expect_sent(bob, alice_id, base + 2);
    expect_msg(alice, bob_id, "hello too", base + 2, true);
    send_expect_sent(bob, alice_id, "how are you?", base + 3);
    expect_sent(bob, alice_id, base + 3);
    expect_msg(alice, bob_id, "how are you?", base + 3, true);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

static void test_ratchet_sync(void **state)
{
    (void)state;
    ratchet_sync(true);
}

static void test_ratchet_sync_no_pq(void **state)
{
    (void)state;
    ratchet_sync(false);
}

/* Both sides start while the router is down (alice, whose ratchet is
 * fine, with force): each takes the other's keys as the answer. */
static void test_ratchet_sync_simultaneous(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_rss", false);
    sx_agent *bob = open_agent("bob_rss", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    desync(alice, &bob, "bob_rss", bob_id, alice_id, true);
    router_kill9();
    assert_ok(sx_agent_synchronize_ratchet(bob, alice_id, false));
    assert_int_equal(sx_agent_synchronize_ratchet(alice, bob_id, false), SX_E_USAGE);
    assert_ok(sx_agent_synchronize_ratchet(alice, bob_id, true));
    assert_string_equal(conn_rsync(alice, bob_id), "started");
    router_start();
    expect_agreed_ok(alice, bob_id, bob, alice_id);
    greetings(alice, bob_id, 10, bob, alice_id, 7, true);
    expect_quiet(alice, 500);
    expect_quiet(bob, 500);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* bob starts while the router is down and is closed before the answer:
 * reopened from his store, he finishes the exchange. */
static void test_ratchet_sync_restart(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_rsr", false);
    sx_agent *bob = open_agent("bob_rsr", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    desync(alice, &bob, "bob_rsr", bob_id, alice_id, true);
    router_kill9();
    assert_ok(sx_agent_synchronize_ratchet(bob, alice_id, false));
    sx_agent_close(bob);
    bob = open_agent("bob_rsr", false);
    assert_string_equal(conn_rsync(bob, alice_id), "started");
    router_start();
    expect_agreed_ok(alice, bob_id, bob, alice_id);
    greetings(alice, bob_id, 10, bob, alice_id, 7, true);
    expect_quiet(alice, 500);
    expect_quiet(bob, 500);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* The reference's testRatchetSyncSuspendForeground: bob starts while the
 * router is down, his agent is suspended at once (no delay, no event) and
 * brought back; once the router is back both agree and messages flow. */
static void test_ratchet_sync_suspend_foreground(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_rss", false);
    sx_agent *bob = open_agent("bob_rss", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    desync(alice, &bob, "bob_rss", bob_id, alice_id, true);
    router_kill9();
    assert_ok(sx_agent_synchronize_ratchet(bob, alice_id, false));
    assert_string_equal(conn_rsync(bob, alice_id), "started");
    assert_ok(sx_agent_suspend(bob, 0));
    sleep_ms(100);
    assert_ok(sx_agent_foreground(bob));
    router_start();
    expect_agreed_ok(alice, bob_id, bob, alice_id);
    greetings(alice, bob_id, 10, bob, alice_id, 7, true);
    expect_quiet(alice, 500);
    expect_quiet(bob, 500);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

static void test_legacy(void **state)
{
    (void)state;
    legacy(true, true);
}

static void test_legacy_inviter(void **state)
{
    (void)state;
    legacy(true, false);
}

static void test_legacy_joiner(void **state)
{
    (void)state;
    legacy(false, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_duplex_pq, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_duplex_no_pq, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_router_restart, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_reopen, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_message, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_refusals_and_delete, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_suspend_connection, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_down_up_end, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_ratchet_sync, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_ratchet_sync_no_pq, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_ratchet_sync_simultaneous, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_ratchet_sync_restart, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_ratchet_sync_suspend_foreground, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_contact, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_contact_legacy, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_legacy, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_inviter, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_joiner, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
