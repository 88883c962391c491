/* The reference's message expiration and delivery receipt scenarios that
 * test_agent_flow.c does not cover, two agents in one process over a real
 * smp-server process:
 *  - testExpireMessage: the router down past the message timeout; the
 *    first message fails with MERR, the one sent after the wait does not
 *    and is delivered once the router is back, with the gap in its
 *    integrity (ERR SKIPPED);
 *  - testExpireMessageQuota / testExpireManyMessagesQuota: the peer's queue
 *    full (the router's quota of 128 messages), the messages that waited
 *    past the quota timeout fail (MERR, and MERRS for the others waiting
 *    behind it), the one sent later survives and goes once the peer drains
 *    its queue (QCONT), its integrity showing the gap;
 *  - testDeliveryReceiptsVersion: no receipt between agents of version 3
 *    (receipts came with version 4); both opened again at the current
 *    version, their messages raise the connection's version to 7 and the
 *    receipts flow both ways;
 *  - testDeliveryReceiptsConcurrent: both sides send 100 messages from a
 *    thread of their own while acknowledging every message with a receipt
 *    and every receipt: each message arrives once, in order, each receipt
 *    confirms one sent message with its hash right, nothing else comes.
 * The timeouts are longer than the reference's (its 1-2 s become 4-6 s):
 * our store keeps message times in whole seconds, and the machine may be
 * loaded. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

#define QUOTA 128

/* The next event other than NONE, UP, DOWN and MWARN (the reference's get
 * skips warnings too); MERR and MERRS are returned, not failed on. */
static void next_any(sx_agent *a, sx_agent_event *ev)
{
    int64_t until = now_ms() + WAIT_MS;
    for (;;) {
        assert_ok(sx_agent_next(a, 200, ev));
        if (ev->kind == SX_AGENT_EV_ERR)
            fail_msg("ERR %s: %s", ev->conn, ev->detail);
        if (ev->kind != SX_AGENT_EV_NONE && ev->kind != SX_AGENT_EV_UP &&
            ev->kind != SX_AGENT_EV_DOWN && ev->kind != SX_AGENT_EV_MWARN)
            return;
        sx_agent_event_clear(ev);
        if (now_ms() > until)
            fail_msg("no event in %d ms", WAIT_MS);
    }
}

/* Nothing but UP, DOWN and MWARN for ms. */
static void expect_nothing(sx_agent *a, int ms, const char *why)
{
    int64_t until = now_ms() + ms;
    while (now_ms() < until) {
        sx_agent_event ev;
        assert_ok(sx_agent_next(a, 100, &ev));
        if (ev.kind != SX_AGENT_EV_NONE && ev.kind != SX_AGENT_EV_UP &&
            ev.kind != SX_AGENT_EV_DOWN && ev.kind != SX_AGENT_EV_MWARN)
            fail_msg("%s: event %s (%s)", why, sx_agent_event_name(ev.kind), ev.detail);
        sx_agent_event_clear(&ev);
    }
}

/* MERR of msg_id on conn, for a network error (router down). */
static void expect_merr_network(sx_agent *a, const char *conn, int64_t msg_id)
{
    sx_agent_event ev;
    next_any(a, &ev);
    if (ev.kind != SX_AGENT_EV_MERR)
        fail_msg("event %s (%s), expected MERR", sx_agent_event_name(ev.kind), ev.detail);
    assert_string_equal(ev.conn, conn);
    assert_int_equal(ev.msg_id, msg_id);
    assert_int_equal(ev.status, SX_E_IO);
    sx_agent_event_clear(&ev);
}

/* The message text with its integrity, acknowledged; its id returned. */
static int64_t expect_msg_integrity(sx_agent *a, const char *conn, const char *text,
                                    const char *integrity)
{
    sx_agent_event ev;
    expect(a, SX_AGENT_EV_MSG, conn, &ev);
    expect_body(&ev, text);
    assert_string_equal(ev.integrity, integrity);
    int64_t id = ev.msg_id;
    assert_ok(sx_agent_ack(a, conn, id));
    sx_agent_event_clear(&ev);
    return id;
}

/* ---- testExpireMessage ---- */

#define NET_TIMEOUT_S 4

static void test_expire_message(void **state)
{
    (void)state;
    router_start();
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.message_timeout_s = NET_TIMEOUT_S;
    sx_agent *alice = open_agent_opts("alice_em", &o);
    sx_agent *bob = open_agent("bob_em", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    router_kill9();
    send_expect_sent(alice, bob_id, "1", 2);
    sleep_ms((NET_TIMEOUT_S + 1) * 1000);
    send_expect_sent(alice, bob_id, "2", 3); /* this one does not expire */
    expect_merr_network(alice, bob_id, 2);
    router_start();
    expect_sent(alice, bob_id, 3);
    /* Bob's first message after the handshake: id 2; alice's 2 is missing. */
    assert_int_equal(expect_msg_integrity(bob, alice_id, "2", "ERR SKIPPED 2 2"), 2);
    expect_nothing(alice, 1000, "alice after the delivery");
    expect_nothing(bob, 1000, "bob after the delivery");
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* ---- testExpireMessageQuota, testExpireManyMessagesQuota ---- */

/* The slow retry after QUOTA is longer than the quota timeout, so the
 * first waiting message expires at its first retry and the later one
 * (sent QUOTA_TIMEOUT_S + 2 s after it) is still young then; its own next
 * retry is one more interval away, time for the peer to drain its queue. */
#define QUOTA_TIMEOUT_S 6
#define QUOTA_RETRY_MS 12000

static void expect_merr_quota(const sx_agent_event *ev, const char *conn)
{
    assert_string_equal(ev->conn, conn);
    assert_int_equal(ev->status, SX_E_LIMIT);
    if (!strstr(ev->detail, "QUOTA"))
        fail_msg("%s: %s, expected QUOTA", sx_agent_event_name(ev->kind), ev->detail);
}

/* alice and bob connected, bob closed, alice's 128 messages fill his
 * queue: the next message id. */
static int64_t fill_queue(sx_agent **alice, sx_agent **bob, const char *an, const char *bn,
                          char *bob_id, char *alice_id)
{
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.quota_timeout_s = QUOTA_TIMEOUT_S;
    o.quota_retry_ms = QUOTA_RETRY_MS;
    *alice = open_agent_opts(an, &o);
    *bob = open_agent(bn, false);
    connect_pair(*alice, *bob, bob_id, alice_id, true);
    sx_agent_close(*bob);
    *bob = NULL;
    char t[16];
    for (int i = 0; i < QUOTA; i++) {
        snprintf(t, sizeof t, "q%d", i);
        send_expect_sent(*alice, bob_id, t, 2 + i);
    }
    for (int i = 0; i < QUOTA; i++)
        expect_sent(*alice, bob_id, 2 + i);
    return 2 + QUOTA;
}

/* Bob back: his 128 messages, QCONT and SENT of last at alice (in either
 * order), then last's text at bob with the gap of alice's ids. */
static void drain(sx_agent *alice, const char *bob_id, sx_agent **bob, const char *bn,
                  const char *alice_id, int64_t last, const char *text, const char *integrity)
{
    *bob = open_agent(bn, false);
    char t[16];
    for (int i = 0; i < QUOTA; i++) {
        snprintf(t, sizeof t, "q%d", i);
        expect_msg(*bob, alice_id, t, 2 + i, true);
    }
    bool qcont = false, sent = false;
    while (!qcont || !sent) {
        sx_agent_event ev;
        next_any(alice, &ev);
        assert_string_equal(ev.conn, bob_id);
        if (ev.kind == SX_AGENT_EV_QCONT && !qcont)
            qcont = true;
        else if (ev.kind == SX_AGENT_EV_SENT && ev.msg_id == last && !sent)
            sent = true;
        else
            fail_msg("alice: event %s %lld (%s)", sx_agent_event_name(ev.kind),
                     (long long)ev.msg_id, ev.detail);
        sx_agent_event_clear(&ev);
    }
    /* Bob's QCONT message took the id after his 128 received. */
    assert_int_equal(expect_msg_integrity(*bob, alice_id, text, integrity), 3 + QUOTA);
    expect_nothing(alice, 1000, "alice after the delivery");
    expect_nothing(*bob, 1000, "bob after the delivery");
}

static void test_expire_message_quota(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice, *bob;
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    int64_t x = fill_queue(&alice, &bob, "alice_eq", "bob_eq", bob_id, alice_id);
    send_expect_sent(alice, bob_id, "2", x);
    sleep_ms((QUOTA_TIMEOUT_S + 2) * 1000);
    send_expect_sent(alice, bob_id, "3", x + 1); /* this one does not expire */
    sx_agent_event ev;
    next_any(alice, &ev);
    if (ev.kind != SX_AGENT_EV_MERR)
        fail_msg("event %s (%s), expected MERR", sx_agent_event_name(ev.kind), ev.detail);
    assert_int_equal(ev.msg_id, x);
    expect_merr_quota(&ev, bob_id);
    sx_agent_event_clear(&ev);
    char integrity[64];
    snprintf(integrity, sizeof integrity, "ERR SKIPPED %lld %lld", (long long)x, (long long)x);
    drain(alice, bob_id, &bob, "bob_eq", alice_id, x + 1, "3", integrity);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

static void test_expire_many_messages_quota(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice, *bob;
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    int64_t x = fill_queue(&alice, &bob, "alice_emq", "bob_emq", bob_id, alice_id);
    send_expect_sent(alice, bob_id, "2", x);
    send_expect_sent(alice, bob_id, "3", x + 1);
    send_expect_sent(alice, bob_id, "4", x + 2);
    sleep_ms((QUOTA_TIMEOUT_S + 2) * 1000);
    send_expect_sent(alice, bob_id, "5", x + 3); /* this one does not expire */
    /* MERR of the first; the two others with it in MERRS, or on their own
     * (the reference accepts each of these orders): each once, in order. */
    int64_t next = x;
    while (next < x + 3) {
        sx_agent_event ev;
        next_any(alice, &ev);
        expect_merr_quota(&ev, bob_id);
        if (ev.kind == SX_AGENT_EV_MERR) {
            assert_int_equal(ev.msg_id, next);
            next++;
        } else if (ev.kind == SX_AGENT_EV_MERRS) {
            assert_true(next > x); /* never before the first's MERR */
            assert_true(ev.n_msg_ids > 0);
            for (size_t i = 0; i < ev.n_msg_ids; i++)
                assert_int_equal(ev.msg_ids[i], next++);
        } else {
            fail_msg("event %s, expected MERR or MERRS", sx_agent_event_name(ev.kind));
        }
        sx_agent_event_clear(&ev);
    }
    assert_int_equal(next, x + 3);
    char integrity[64];
    snprintf(integrity, sizeof integrity, "ERR SKIPPED %lld %lld", (long long)x,
             (long long)(x + 2));
    drain(alice, bob_id, &bob, "bob_emq", alice_id, x + 3, "5", integrity);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* ---- testDeliveryReceiptsVersion ---- */

static sx_agent *open_v(const char *name, uint16_t agent_max)
{
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.pq_off = true;
    o.agent_version_max = agent_max;
    return open_agent_opts(name, &o);
}

static void check_version(sx_agent *a, const char *conn, uint16_t want)
{
    sx_agent_conn_versions v;
    assert_ok(sx_agent_connection_versions(a, conn, &v));
    if (v.agent != want)
        fail_msg("connection %s: agent version %u, expected %u", conn, v.agent, want);
}

/* x sends text (id), y acknowledges it with a receipt. */
static void send_ack_receipt(sx_agent *x, const char *x_conn, sx_agent *y, const char *y_conn,
                             const char *text, int64_t id)
{
    send_expect_sent(x, x_conn, text, id);
    expect_sent(x, x_conn, id);
    sx_agent_event ev;
    expect(y, SX_AGENT_EV_MSG, y_conn, &ev);
    expect_body(&ev, text);
    assert_int_equal(ev.msg_id, id);
    assert_false(ev.pq);
    assert_ok(sx_agent_ack_receipt(y, y_conn, id, "", 0));
    sx_agent_event_clear(&ev);
}

/* RCVD (id) at x for its message sent_id, acknowledged. */
static void expect_rcvd(sx_agent *x, const char *x_conn, int64_t id, int64_t sent_id)
{
    sx_agent_event ev;
    expect(x, SX_AGENT_EV_RCVD, x_conn, &ev);
    assert_int_equal(ev.msg_id, id);
    assert_int_equal(ev.n_receipts, 1);
    assert_int_equal(ev.receipts[0].msg_id, sent_id);
    assert_true(ev.receipts[0].ok);
    assert_ok(sx_agent_ack(x, x_conn, id));
    sx_agent_event_clear(&ev);
}

static void test_receipts_version(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_v("alice_rv", 3);
    sx_agent *bob = open_v("bob_rv", 3);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, bob_id, &link));
    assert_non_null(strstr(link, "v=2-3&"));
    assert_ok(sx_agent_join(bob, link, NULL, "bob", 3, alice_id));
    sx_agent_free_text(link);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice", 5));
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    sx_agent_event_clear(&ev);
    check_version(alice, bob_id, 3);
    check_version(bob, alice_id, 3);

    /* Acknowledged with a receipt, but version 3 has none. */
    send_ack_receipt(alice, bob_id, bob, alice_id, "hello", 2);
    expect_nothing(alice, 1500, "no delivery receipt (unsupported version)");
    send_ack_receipt(bob, alice_id, alice, bob_id, "hello too", 3);
    expect_nothing(bob, 1500, "no delivery receipt (unsupported version)");

    /* Both at the current version: the greetings raise the connection's. */
    sx_agent_close(alice);
    sx_agent_close(bob);
    alice = open_v("alice_rv", 0);
    bob = open_v("bob_rv", 0);
    send_expect_sent(alice, bob_id, "hello", 4);
    expect_sent(alice, bob_id, 4);
    expect_msg(bob, alice_id, "hello", 4, false);
    send_expect_sent(bob, alice_id, "hello too", 5);
    expect_sent(bob, alice_id, 5);
    expect_msg(alice, bob_id, "hello too", 5, false);
    check_version(alice, bob_id, 7);
    check_version(bob, alice_id, 7);

    send_ack_receipt(alice, bob_id, bob, alice_id, "hello", 6);
    expect_rcvd(alice, bob_id, 7, 6);
    send_ack_receipt(bob, alice_id, alice, bob_id, "hello too", 8);
    expect_rcvd(bob, alice_id, 9, 8);
    send_ack_receipt(alice, bob_id, bob, alice_id, "hello 2", 10);
    expect_rcvd(alice, bob_id, 11, 10);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* ---- testDeliveryReceiptsConcurrent ---- */

#define CONC_MSGS 100

typedef struct conc_side {
    sx_agent *a;
    const char *name;
    char conn[SX_AGENT_CONN_ID_TEXT];
    int64_t sent_ids[CONC_MSGS];
    int n_sent_ev;  /* SENT events */
    int n_msg;      /* MSG events, acknowledged with a receipt */
    int n_rcvd;     /* receipts in RCVD events */
    int64_t last_msg_id;
    int64_t rcpt_ids[2 * CONC_MSGS]; /* the sent ids the receipts name */
} conc_side;

static void *conc_send(void *arg)
{
    conc_side *s = arg;
    for (int i = 0; i < CONC_MSGS; i++) {
        int64_t id = 0;
        if (sx_agent_send(s->a, s->conn, "hello", 5, &id) != SX_OK)
            return (void *)1;
        s->sent_ids[i] = id;
    }
    return NULL;
}

/* One event of s: SENT counted; MSG (in order, integrity OK) acknowledged
 * with a receipt; RCVD (hash ok, the ids kept) acknowledged. */
static void conc_pump(conc_side *s)
{
    sx_agent_event ev;
    assert_ok(sx_agent_next(s->a, 20, &ev));
    switch (ev.kind) {
    case SX_AGENT_EV_SENT:
        assert_string_equal(ev.conn, s->conn);
        s->n_sent_ev++;
        break;
    case SX_AGENT_EV_MSG:
        assert_string_equal(ev.conn, s->conn);
        assert_string_equal(ev.integrity, "OK");
        expect_body(&ev, "hello");
        assert_true(ev.msg_id > s->last_msg_id);
        s->last_msg_id = ev.msg_id;
        s->n_msg++;
        assert_ok(sx_agent_ack_receipt(s->a, s->conn, ev.msg_id, "", 0));
        break;
    case SX_AGENT_EV_RCVD:
        assert_string_equal(ev.conn, s->conn);
        for (size_t i = 0; i < ev.n_receipts; i++) {
            assert_true(ev.receipts[i].ok);
            assert_true(s->n_rcvd < 2 * CONC_MSGS);
            s->rcpt_ids[s->n_rcvd++] = ev.receipts[i].msg_id;
        }
        assert_ok(sx_agent_ack(s->a, s->conn, ev.msg_id));
        break;
    case SX_AGENT_EV_NONE:
    case SX_AGENT_EV_UP:
    case SX_AGENT_EV_DOWN:
    case SX_AGENT_EV_MWARN: /* the queue full for a moment: retried */
    case SX_AGENT_EV_QCONT: break;
    default:
        fail_msg("%s: event %s (%s)", s->name, sx_agent_event_name(ev.kind), ev.detail);
    }
    sx_agent_event_clear(&ev);
}

/* Each message the sender thread sent has exactly one receipt. */
static void check_receipts(const conc_side *s)
{
    assert_int_equal(s->n_rcvd, CONC_MSGS);
    for (int i = 0; i < CONC_MSGS; i++) {
        int n = 0;
        for (int k = 0; k < s->n_rcvd; k++)
            n += s->rcpt_ids[k] == s->sent_ids[i];
        if (n != 1)
            fail_msg("%s: message %lld has %d receipts", s->name, (long long)s->sent_ids[i], n);
    }
}

static bool conc_done(const conc_side *s)
{
    return s->n_sent_ev == CONC_MSGS && s->n_msg == CONC_MSGS && s->n_rcvd == CONC_MSGS;
}

static void test_receipts_concurrent(void **state)
{
    (void)state;
    router_start();
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.quota_retry_ms = 1000;
    static conc_side alice, bob;
    memset(&alice, 0, sizeof alice);
    memset(&bob, 0, sizeof bob);
    alice.name = "alice";
    bob.name = "bob";
    alice.a = open_agent_opts("alice_rc", &o);
    bob.a = open_agent_opts("bob_rc", &o);
    connect_pair(alice.a, bob.a, alice.conn, bob.conn, true);
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, conc_send, &alice), 0);
    assert_int_equal(pthread_create(&tb, NULL, conc_send, &bob), 0);
    int64_t until = now_ms() + 4 * WAIT_MS;
    while (!conc_done(&alice) || !conc_done(&bob)) {
        if (now_ms() > until)
            fail_msg("alice %d/%d/%d, bob %d/%d/%d (SENT/MSG/receipts)", alice.n_sent_ev,
                     alice.n_msg, alice.n_rcvd, bob.n_sent_ev, bob.n_msg, bob.n_rcvd);
        conc_pump(&alice);
        conc_pump(&bob);
    }
    void *ra = NULL, *rb = NULL;
    assert_int_equal(pthread_join(ta, &ra), 0);
    assert_int_equal(pthread_join(tb, &rb), 0);
    assert_null(ra);
    assert_null(rb);
    expect_nothing(alice.a, 1500, "nothing else should be delivered to alice");
    expect_nothing(bob.a, 1500, "nothing else should be delivered to bob");
    check_receipts(&alice);
    check_receipts(&bob);
    sx_agent_close(alice.a);
    sx_agent_close(bob.a);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_expire_message, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_expire_message_quota, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_expire_many_messages_quota, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_receipts_version, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_receipts_concurrent, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
