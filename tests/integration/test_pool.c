/* The SMP connection pool (sx_smp_pool_* of simplex/smp.h) against the real
 * smp-server program as a child process: queues subscribed through one
 * shared connection, messages sent through the pool and acknowledged, the
 * router killed with SIGKILL and started again on the same port and store
 * while messages wait, the pool reconnecting with back-off and subscribing
 * every queue again; every message confirmed by the router is acknowledged
 * exactly once and none is delivered after its acknowledgement; the
 * acknowledgement of a message delivered on the ended session is refused
 * and the message comes again on the new one. Plus the calls a program can
 * get wrong, a subscription the router refuses (AUTH), END when another
 * connection subscribes and DELETED when the queue is deleted (the pool
 * lets go of the queue each time), a send that makes its connection on demand, and the pool on a
 * thread of its own (sx_smp_tpool) used from a consumer thread and two
 * sender threads across the same kill and restart.
 *
 * Notifier subscriptions (NSUB) get NMSG as NOTIFICATION events, are made
 * again after a kill and end with END when another connection takes them.
 *
 * What the test exercises goes through simplex/simplex.h; the library's own
 * client only makes the notifier (NKEY) and sends with the notification
 * flag. The router runs as `smp-server start` in a temporary folder. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simplex/simplex.h"

#include "pool_router.h"

/* Only for what the public API cannot do: NKEY, and SEND with the
 * notification flag, to make a notifier to subscribe with NSUB. */
#include "smp_client/smp_api_int.h"
#include "smp_client/smp_client.h"
#include "core/base64.h"
#include "smp/encoding.h"

#define NQ 200        /* queues */
#define NK 4          /* messages per queue: 0 pool, 1 held/pool, 2 before the kill, 3 after */
#define WAIT_MS 30000 /* every wait of the loop */

/* ---- what the pool reported ---- */

typedef struct qrec {
    sx_smp_queue *rq, *sq;
    int delivered[NK]; /* MESSAGE events of each message */
    int acked[NK];     /* acknowledgements the router confirmed */
    bool sent[NK];     /* the router confirmed the SEND */
} qrec;

static struct {
    sx_loop *loop;
    sx_smp_pool *pool;
    qrec q[NQ];
    int connected, disconnected, connect_failed, subscribed, sub_failed;
    uint64_t session; /* of the last CONNECTED */
    int sends_ok, sends_failed, acks_ok, acks_failed;
    bool hold; /* keep the next message of queue 0 unacknowledged */
    bool held;
    sx_smp_pool_event held_e; /* that message's event (copied) */
    sx_smp_event held_ev;
    uint64_t held_session;
    sx_status stale_ack; /* the ack of the held event on the new session */
    bool stale_tried;
    int bodies_seen_after_ack;
    int ends; /* END or DELETED events */
    sx_smp_queue *end_q, *sub_failed_q;
    sx_smp_event_kind end_kind;
    sx_status sub_failed_st;
    char sub_failed_code[32];
    char bad[256];
} S;

static void note_bad(const char *what)
{
    if (!S.bad[0])
        snprintf(S.bad, sizeof S.bad, "%s", what);
}

static int queue_index(const sx_smp_queue *q)
{
    for (int i = 0; i < NQ; i++)
        if (S.q[i].rq == q)
            return i;
    return -1;
}

typedef struct msg_ref {
    int i, k;
} msg_ref;

static msg_ref refs[NQ][NK];

static void ack_done(sx_smp_pool *p, sx_status st, void *arg)
{
    (void)p;
    msg_ref *m = arg;
    if (st == SX_OK) {
        S.acks_ok++;
        S.q[m->i].acked[m->k]++;
    } else {
        S.acks_failed++; /* the connection ended first: the message comes again */
    }
}

static void send_done(sx_smp_pool *p, sx_status st, void *arg)
{
    (void)p;
    msg_ref *m = arg;
    if (st == SX_OK) {
        S.sends_ok++;
        S.q[m->i].sent[m->k] = true;
    } else {
        S.sends_failed++;
    }
}

static void on_event(sx_smp_pool *p, const sx_smp_pool_event *e, void *arg)
{
    (void)arg;
    if (p != S.pool)
        note_bad("event of another pool");
    if (!e->server || !strstr(e->server, "127.0.0.1"))
        note_bad("event without the router's address");
    switch (e->kind) {
    case SX_SMP_POOL_CONNECTED:
        S.connected++;
        if (e->session <= S.session)
            note_bad("session numbers do not grow");
        S.session = e->session;
        if (S.held && !S.stale_tried && e->session != S.held_session) {
            /* a late acknowledgement of the ended session, before the new
             * one has subscribed anything */
            S.stale_tried = true;
            S.stale_ack = sx_smp_pool_ack(p, &S.held_e, ack_done, &refs[0][1]);
        }
        break;
    case SX_SMP_POOL_DISCONNECTED: S.disconnected++; break;
    case SX_SMP_POOL_CONNECT_FAILED: S.connect_failed++; break;
    case SX_SMP_POOL_SUBSCRIBED:
        if (queue_index(e->queue) < 0 || e->session != S.session)
            note_bad("SUBSCRIBED of an unknown queue or session");
        S.subscribed++;
        break;
    case SX_SMP_POOL_SUB_FAILED:
        S.sub_failed++;
        S.sub_failed_q = e->queue;
        S.sub_failed_st = e->status;
        snprintf(S.sub_failed_code, sizeof S.sub_failed_code, "%s", sx_error_code());
        break;
    case SX_SMP_POOL_MESSAGE: {
        int i = queue_index(e->queue);
        if (e->ev && (e->ev->kind == SX_SMP_EVENT_END || e->ev->kind == SX_SMP_EVENT_DELETED)) {
            S.ends++;
            S.end_q = e->queue;
            S.end_kind = e->ev->kind;
            break;
        }
        if (i < 0 || !e->ev || e->ev->kind != SX_SMP_EVENT_MESSAGE || e->session != S.session) {
            note_bad("MESSAGE of an unknown queue or session, or not a message");
            break;
        }
        int qi = -1, k = -1;
        char body[64] = "";
        size_t n = e->ev->body_len < sizeof body - 1 ? e->ev->body_len : sizeof body - 1;
        memcpy(body, e->ev->body, n);
        if (sscanf(body, "q%d m%d", &qi, &k) != 2 || qi != i || k < 0 || k >= NK) {
            note_bad("a message body that is not the queue's");
            break;
        }
        if (S.q[i].acked[k])
            S.bodies_seen_after_ack++;
        S.q[i].delivered[k]++;
        if (S.hold && i == 0 && k == 1 && !S.held) {
            S.held = true;
            S.held_e = *e;
            S.held_ev = *e->ev;
            S.held_ev.body = NULL;
            S.held_e.ev = &S.held_ev;
            S.held_session = e->session;
            break;
        }
        if (sx_smp_pool_ack(p, e, ack_done, &refs[i][k]) != SX_OK)
            note_bad("ack refused on the current session");
        break;
    }
    default: note_bad("unknown event kind"); break;
    }
}

/* Runs the loop until done() holds, failing after WAIT_MS. */
static bool (*g_done)(void);
static int64_t g_deadline;
static bool g_timed_out;

static void check_cb(sx_loop *loop, void *arg)
{
    (void)arg;
    if (g_done() || S.bad[0])
        sx_loop_stop(loop);
    else if (now_ms() > g_deadline) {
        g_timed_out = true;
        sx_loop_stop(loop);
    }
}

static void run_until(bool (*done)(void), const char *what)
{
    g_done = done;
    g_deadline = now_ms() + WAIT_MS;
    g_timed_out = false;
    sx_timer *t;
    assert_ok(sx_timer_new(S.loop, check_cb, NULL, &t));
    sx_timer_start(t, 5, 5);
    assert_ok(sx_loop_run(S.loop));
    sx_timer_free(t);
    if (S.bad[0])
        fail_msg("%s: %s", what, S.bad);
    if (g_timed_out) {
        sx_smp_pool_stats st;
        sx_smp_pool_get_stats(S.pool, &st);
        fail_msg("%s: not done in %d ms (active %zu, pending %zu, acks %d, sends %d)", what, WAIT_MS, st.active,
                 st.pending, S.acks_ok, S.sends_ok);
    }
}

static void stop_cb(sx_loop *loop, void *arg)
{
    (void)arg;
    sx_loop_stop(loop);
}

/* Runs the loop for ms. */
static void run_for(unsigned ms)
{
    sx_timer *t;
    assert_ok(sx_timer_new(S.loop, stop_cb, NULL, &t));
    sx_timer_start(t, ms, 0);
    assert_ok(sx_loop_run(S.loop));
    sx_timer_free(t);
    if (S.bad[0])
        fail_msg("%s", S.bad);
}

static bool all_active(void)
{
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    return st.active == NQ && st.pending == 0;
}

static int g_want_k;
static bool all_acked_k(void)
{
    for (int i = 0; i < NQ; i++)
        if (!S.q[i].acked[g_want_k] && !(S.hold && i == 0 && g_want_k == 1))
            return false;
    return true;
}

static bool held_now(void)
{
    return S.held;
}

static bool down_and_retried(void)
{
    return S.disconnected >= 1 && S.connect_failed >= 2;
}

/* messages 0..g_want_k of every queue */
static bool everything_acked(void)
{
    for (int i = 0; i < NQ; i++)
        for (int k = 0; k <= g_want_k; k++)
            if (!S.q[i].acked[k])
                return false;
    return all_active();
}

static void send_all_through_pool(int k)
{
    for (int i = 0; i < NQ; i++) {
        char body[32];
        int n = snprintf(body, sizeof body, "q%d m%d", i, k);
        assert_ok(sx_smp_pool_send(S.pool, S.q[i].sq, body, (size_t)n, send_done, &refs[i][k]));
    }
}

static void test_reconnect_resubscribe(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    for (int i = 0; i < NQ; i++)
        for (int k = 0; k < NK; k++)
            refs[i][k] = (msg_ref){i, k};
    router_start();

    /* queues, made with a blocking connection */
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    for (int i = 0; i < NQ; i++) {
        assert_ok(sx_smp_queue_create(bc, &S.q[i].rq));
        assert_ok(sx_smp_queue_sender(S.q[i].rq, &S.q[i].sq));
    }

    assert_ok(sx_loop_new(&S.loop));
    sx_smp_pool_opts o = {.retry_min_ms = 50, .retry_max_ms = 400, .sub_window = 64};
    assert_ok(sx_smp_pool_new(S.loop, &o, on_event, NULL, &S.pool));
    for (int i = 0; i < NQ; i++)
        assert_ok(sx_smp_pool_subscribe(S.pool, S.q[i].rq));
    assert_ok(sx_smp_pool_subscribe(S.pool, S.q[0].rq)); /* again: nothing */
    run_until(all_active, "first subscription");
    assert_int_equal(S.connected, 1);
    assert_int_equal(S.subscribed, NQ);
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.routers, 1);
    assert_int_equal(st.connected, 1);
    assert_int_equal(st.sub_sent, NQ);
    /* SUBs share blocks (one each would be NQ blocks and more) */
    if (st.blocks_sent > NQ / 4)
        fail_msg("%d SUBs took %llu blocks", NQ, (unsigned long long)st.blocks_sent);

    /* messages 0 through the pool's connection, acknowledged */
    send_all_through_pool(0);
    g_want_k = 0;
    run_until(all_acked_k, "messages 0");
    assert_int_equal(S.sends_ok, NQ);

    /* message 1 of queue 0 delivered and held unacknowledged */
    S.hold = true;
    assert_ok(sx_smp_pool_send(S.pool, S.q[0].sq, "q0 m1", 5, send_done, &refs[0][1]));
    run_until(held_now, "the held message");
    assert_int_equal(S.held_session, 1);
    for (int i = 1; i < NQ; i++) {
        char body[32];
        int n = snprintf(body, sizeof body, "q%d m1", i);
        assert_ok(sx_smp_pool_send(S.pool, S.q[i].sq, body, (size_t)n, send_done, &refs[i][1]));
    }
    g_want_k = 1;
    run_until(all_acked_k, "messages 1");

    /* messages 2 sent while the pool's loop does not run, then kill -9:
     * they wait on the router (or in the pool's socket) unacknowledged */
    for (int i = 0; i < NQ; i++) {
        char body[32];
        int n = snprintf(body, sizeof body, "q%d m2", i);
        sx_smp_queue *sq = S.q[i].sq;
        assert_ok(sx_smp_send(bc, sq, body, (size_t)n));
        S.q[i].sent[2] = true;
    }
    sx_smp_close(bc);
    router_kill9();
    S.hold = false;
    /* the pool finds the router gone and retries with back-off (waited
     * for, not timed: a loaded machine may take longer than the back-off) */
    run_until(down_and_retried, "the pool retrying the killed router");
    assert_int_equal(S.disconnected, 1);
    assert_true(S.connect_failed >= 2);
    router_start();

    g_want_k = 2;
    run_until(everything_acked, "after the restart, messages 0-2");
    assert_true(S.stale_tried);
    assert_int_equal(S.stale_ack, SX_E_CLOSED);
    assert_true(S.session >= 2);
    uint64_t session_after = S.session;

    /* messages 3 through the new session */
    send_all_through_pool(3);
    g_want_k = 3;
    run_until(all_acked_k, "messages 3");
    assert_int_equal(S.session, session_after);

    /* every message acknowledged exactly once and never delivered after
     * its acknowledgement; the held one came twice (the stale ack did not
     * count), on two sessions */
    for (int i = 0; i < NQ; i++)
        for (int k = 0; k < NK; k++) {
            if (S.q[i].acked[k] != 1)
                fail_msg("queue %d message %d acknowledged %d times", i, k, S.q[i].acked[k]);
            assert_true(S.q[i].delivered[k] >= 1);
        }
    assert_int_equal(S.q[0].delivered[1], 2);
    assert_int_equal(S.bodies_seen_after_ack, 0);
    assert_int_equal(S.sub_failed, 0);
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.active, NQ);
    assert_int_equal(st.stale_acks, 1);
    assert_int_equal(st.sessions, session_after);
    assert_true(S.subscribed >= 2 * NQ);

    sx_smp_pool_free(S.pool);
    sx_loop_free(S.loop);
    for (int i = 0; i < NQ; i++) {
        sx_smp_queue_free(S.q[i].rq);
        sx_smp_queue_free(S.q[i].sq);
    }
}

/* ---- the calls a program can get wrong, and a connection on demand ---- */

static bool sends_done(void)
{
    return S.sends_ok + S.sends_failed >= 1 && S.connected + S.connect_failed >= 1;
}

static void test_usage_and_on_demand(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    router_start();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    sx_smp_queue *rq, *sq;
    assert_ok(sx_smp_queue_create(bc, &rq));
    assert_ok(sx_smp_queue_sender(rq, &sq));
    S.q[0].rq = rq;

    assert_ok(sx_loop_new(&S.loop));
    sx_smp_pool *p = NULL;
    assert_int_equal(sx_smp_pool_new(S.loop, NULL, NULL, NULL, &p), SX_E_USAGE);
    assert_ok(sx_smp_pool_new(S.loop, NULL, on_event, NULL, &S.pool));
    assert_int_equal(sx_smp_pool_subscribe(S.pool, sq), SX_E_USAGE);
    assert_int_equal(sx_smp_pool_send(S.pool, rq, "x", 1, NULL, NULL), SX_E_USAGE);
    assert_int_equal(sx_smp_pool_unsubscribe(S.pool, rq), SX_E_USAGE);
    sx_smp_pool_event fake = {.kind = SX_SMP_POOL_CONNECTED};
    assert_int_equal(sx_smp_pool_ack(S.pool, &fake, NULL, NULL), SX_E_USAGE);
    static char big[70000];
    assert_int_equal(sx_smp_pool_send(S.pool, sq, big, sizeof big, NULL, NULL), SX_E_LIMIT);
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.connected, 0);

    /* a send connects on demand; no callback ran inside the call */
    refs[0][0] = (msg_ref){0, 0};
    assert_ok(sx_smp_pool_send(S.pool, sq, "q0 m0", 5, send_done, &refs[0][0]));
    assert_int_equal(S.sends_ok + S.connected, 0);
    run_until(sends_done, "send on demand");
    assert_int_equal(S.sends_ok, 1);
    assert_int_equal(S.connected, 1);

    /* subscribe then let go before the SUB went out: nothing is reported of it */
    assert_ok(sx_smp_pool_subscribe(S.pool, rq));
    assert_ok(sx_smp_pool_unsubscribe(S.pool, rq));
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.active + st.pending, 0);
    sx_smp_event ev;
    assert_ok(sx_smp_get(bc, rq, &ev)); /* the message is still there */
    assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
    sx_smp_event_clear(&ev);
    assert_int_equal(S.subscribed, 0);
    assert_int_equal(S.bad[0], 0);

    sx_smp_pool_free(S.pool);
    sx_loop_free(S.loop);
    sx_smp_close(bc);
    sx_smp_queue_free(rq);
    sx_smp_queue_free(sq);
    router_kill9();
}

/* ---- a router that cannot be reached ---- */

static bool three_failed_and_send_done(void)
{
    return S.connect_failed >= 3 && S.sends_failed == 1;
}

static void test_unreachable(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    router_start();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    sx_smp_queue *rq, *sq;
    assert_ok(sx_smp_queue_create(bc, &rq));
    sx_smp_close(bc);
    router_kill9(); /* nothing listens on its port now */
    assert_ok(sx_smp_queue_sender(rq, &sq));
    S.q[0].rq = rq;

    assert_ok(sx_loop_new(&S.loop));
    sx_smp_pool_opts o = {.retry_min_ms = 20, .retry_max_ms = 80};
    assert_ok(sx_smp_pool_new(S.loop, &o, on_event, NULL, &S.pool));
    assert_ok(sx_smp_pool_subscribe(S.pool, rq));
    refs[0][0] = (msg_ref){0, 0};
    assert_ok(sx_smp_pool_send(S.pool, sq, "q0 m0", 5, send_done, &refs[0][0]));
    /* attempts go on while the queue waits; the send fails with the first */
    run_until(three_failed_and_send_done, "attempts");
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.active + st.connected + st.sessions, 0);
    assert_int_equal(S.connected + S.subscribed + S.sends_ok, 0);

    /* nothing waits any more: the attempts stop (one may be under way) */
    assert_ok(sx_smp_pool_unsubscribe(S.pool, rq));
    run_for(100);
    int failed = S.connect_failed;
    run_for(400);
    assert_int_equal(S.connect_failed, failed);

    sx_smp_pool_free(S.pool);
    sx_loop_free(S.loop);
    sx_smp_queue_free(rq);
    sx_smp_queue_free(sq);
}

/* ---- a refused subscription, END and DELETED ---- */

static bool refused_and_subscribed(void)
{
    return S.sub_failed == 1 && S.subscribed == 2;
}

static bool one_end(void)
{
    return S.ends == 1;
}

static bool two_ends(void)
{
    return S.ends == 2;
}

static void test_refused_end_deleted(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    router_start();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    sx_smp_queue *gone, *q1, *q2;
    assert_ok(sx_smp_queue_create(bc, &gone));
    assert_ok(sx_smp_queue_create(bc, &q1));
    assert_ok(sx_smp_queue_create(bc, &q2));
    assert_ok(sx_smp_queue_delete(bc, gone));
    S.q[0].rq = q1;
    S.q[1].rq = q2;
    S.q[2].rq = gone;

    assert_ok(sx_loop_new(&S.loop));
    assert_ok(sx_smp_pool_new(S.loop, NULL, on_event, NULL, &S.pool));
    assert_ok(sx_smp_pool_subscribe(S.pool, q1));
    assert_ok(sx_smp_pool_subscribe(S.pool, gone));
    assert_ok(sx_smp_pool_subscribe(S.pool, q2));
    run_until(refused_and_subscribed, "a refused subscription");
    assert_ptr_equal(S.sub_failed_q, gone);
    assert_int_equal(S.sub_failed_st, SX_E_AUTH);
    assert_string_equal(S.sub_failed_code, "AUTH");
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.active, 2);
    assert_int_equal(st.pending, 0);
    assert_int_equal(sx_smp_pool_unsubscribe(S.pool, gone), SX_E_USAGE); /* let go of already */

    /* another connection takes q1's subscription: END, and the pool lets go */
    assert_ok(sx_smp_subscribe(bc, q1));
    run_until(one_end, "END");
    assert_ptr_equal(S.end_q, q1);
    assert_int_equal(S.end_kind, SX_SMP_EVENT_END);
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.active, 1);

    /* q2 deleted by its recipient elsewhere: DELETED, and the pool lets go */
    assert_ok(sx_smp_queue_delete(bc, q2));
    run_until(two_ends, "DELETED");
    assert_ptr_equal(S.end_q, q2);
    assert_int_equal(S.end_kind, SX_SMP_EVENT_DELETED);
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.active + st.pending, 0);
    assert_int_equal(S.connected, 1);

    sx_smp_pool_free(S.pool);
    sx_loop_free(S.loop);
    sx_smp_close(bc);
    sx_smp_queue_free(gone);
    sx_smp_queue_free(q1);
    sx_smp_queue_free(q2);
    router_kill9();
}

/* ---- notifier subscriptions (NSUB) across a kill ---- */

static struct {
    int subscribed, notifications, ends;
    uint64_t last_session;
    sx_smp_notifier *nt;
    size_t meta_len;
    char bad[128];
} N;

static void ntf_event(sx_smp_pool *p, const sx_smp_pool_event *e, void *arg)
{
    (void)p;
    (void)arg;
    if (e->kind == SX_SMP_POOL_CONNECTED) {
        S.connected++;
        S.session = e->session;
    } else if (e->kind == SX_SMP_POOL_SUBSCRIBED) {
        if (e->notifier != N.nt || e->queue)
            snprintf(N.bad, sizeof N.bad, "SUBSCRIBED of another subscription");
        N.subscribed++;
    } else if (e->kind == SX_SMP_POOL_SUB_FAILED) {
        snprintf(N.bad, sizeof N.bad, "NSUB refused: %s", sx_error_message());
    } else if (e->kind == SX_SMP_POOL_NOTIFICATION) {
        if (e->notifier != N.nt || !e->nonce || !e->meta || e->meta_len == 0)
            snprintf(N.bad, sizeof N.bad, "a NOTIFICATION without its notifier, nonce or metadata");
        N.notifications++;
        N.last_session = e->session;
        N.meta_len = e->meta_len;
    } else if (e->kind == SX_SMP_POOL_MESSAGE) {
        if (e->notifier == N.nt && e->ev && e->ev->kind == SX_SMP_EVENT_END)
            N.ends++;
        else
            snprintf(N.bad, sizeof N.bad, "a MESSAGE event");
    }
    if (N.bad[0])
        note_bad(N.bad);
}

static int g_want_ntf, g_want_nsub;
static bool ntf_reached(void)
{
    return N.notifications >= g_want_ntf && N.subscribed >= g_want_nsub;
}

static bool ntf_ended(void)
{
    return N.ends == 1;
}

/* SEND with the notification flag through the library's own client. */
static void send_notified(sx_smp_client *ic, const sx_smp_queue *sq)
{
    sx_smp_cmd cmd = {.tag = SX_SMP_C_SEND};
    cmd.send.notification = true;
    cmd.send.body = sx_slice_of("notified", 8);
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(ic, sx_slice_of(sq->f.snd_id, SX_QUEUE_ID_LEN), &cmd, NULL, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
}

static sx_smp_client *internal_connect(void)
{
    uint8_t fp[SX_FINGERPRINT_LEN];
    size_t got = 0;
    assert_ok(sx_b64_decode(R.fp, strlen(R.fp), SX_B64_URL, fp, sizeof fp, &got));
    assert_int_equal(got, SX_FINGERPRINT_LEN);
    sx_smp_client *ic = NULL;
    assert_ok(sx_smp_client_connect("127.0.0.1", R.port, fp, NULL, &ic));
    return ic;
}

static void test_notifier(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    memset(&N, 0, sizeof N);
    router_start();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    sx_smp_queue *rq, *sq;
    assert_ok(sx_smp_queue_create(bc, &rq));
    assert_ok(sx_smp_queue_sender(rq, &sq));
    sx_smp_close(bc);

    /* NKEY by the recipient: the notifier's keys, and its id back */
    sx_smp_client *ic = internal_connect();
    sx_key *nkey, *ndh;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &nkey));
    assert_ok(sx_key_generate(SX_KEY_X25519, &ndh));
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd cmd = {.tag = SX_SMP_C_NKEY};
    assert_ok(sx_smp_pubkey_of(nkey, b1, &cmd.nkey.auth_key));
    assert_ok(sx_smp_pubkey_of(ndh, b2, &cmd.nkey.dh_key));
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(ic, sx_slice_of(rq->f.rcv_id, SX_QUEUE_ID_LEN), &cmd, rq->f.rcv_key, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_NID);
    uint8_t nid[SX_QUEUE_ID_LEN];
    assert_int_equal(r.reply.resp.nid.notifier_id.len, SX_QUEUE_ID_LEN);
    memcpy(nid, r.reply.resp.nid.notifier_id.ptr, SX_QUEUE_ID_LEN);
    sx_smp_client_reply_free(&r);
    char key_text[512];
    assert_ok(sx_key_private_to_text(nkey, key_text, sizeof key_text));

    sx_smp_notifier *bad = NULL;
    assert_int_equal(sx_smp_notifier_new(R.addr, nid, 23, key_text, &bad), SX_E_USAGE);
    assert_int_equal(sx_smp_notifier_new(R.addr, nid, sizeof nid, "not a key", &bad), SX_E_USAGE);
    assert_int_equal(sx_smp_notifier_new("smp://nowhere", nid, sizeof nid, key_text, &bad), SX_E_USAGE);
    assert_null(bad);
    assert_ok(sx_smp_notifier_new(R.addr, nid, sizeof nid, key_text, &N.nt));

    assert_ok(sx_loop_new(&S.loop));
    sx_smp_pool_opts o = {.retry_min_ms = 50, .retry_max_ms = 400};
    assert_ok(sx_smp_pool_new(S.loop, &o, ntf_event, NULL, &S.pool));
    assert_ok(sx_smp_pool_subscribe_notifier(S.pool, N.nt));
    g_want_nsub = 1;
    g_want_ntf = 0;
    run_until(ntf_reached, "NSUB");
    send_notified(ic, sq);
    g_want_ntf = 1;
    run_until(ntf_reached, "the first notification");
    assert_int_equal(N.last_session, 1);
    sx_smp_client_close(ic);

    router_kill9();
    router_start();
    g_want_nsub = 2;
    run_until(ntf_reached, "NSUB again after the restart");
    ic = internal_connect();
    send_notified(ic, sq);
    g_want_ntf = 2;
    run_until(ntf_reached, "a notification on the new session");
    assert_int_equal(N.last_session, S.session);
    assert_true(S.session >= 2);

    /* another connection takes the notifier subscription: END */
    cmd = (sx_smp_cmd){.tag = SX_SMP_C_NSUB};
    assert_ok(sx_smp_client_call(ic, sx_slice_of(nid, SX_QUEUE_ID_LEN), &cmd, nkey, &r));
    sx_smp_client_reply_free(&r);
    run_until(ntf_ended, "END of the notifier subscription");
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.active + st.pending, 0);
    assert_int_equal(sx_smp_pool_unsubscribe_notifier(S.pool, N.nt), SX_E_USAGE);

    sx_smp_pool_free(S.pool);
    sx_loop_free(S.loop);
    sx_smp_client_close(ic);
    sx_smp_notifier_free(N.nt);
    sx_key_free(nkey);
    sx_key_free(ndh);
    sx_smp_queue_free(rq);
    sx_smp_queue_free(sq);
    router_kill9();
}

/* ---- a router is its whole address ---- */

/* Connections and subscriptions only: the sessions of two connections
 * interleave. */
static void identity_event(sx_smp_pool *p, const sx_smp_pool_event *e, void *arg)
{
    (void)p;
    (void)arg;
    if (e->kind == SX_SMP_POOL_CONNECTED)
        S.connected++;
    else if (e->kind == SX_SMP_POOL_SUBSCRIBED)
        S.subscribed++;
    else if (e->kind == SX_SMP_POOL_SUB_FAILED || e->kind == SX_SMP_POOL_CONNECT_FAILED)
        note_bad("a subscription or connection failed");
}

static bool two_active(void)
{
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    return st.active == 2 && st.pending == 0;
}

/* As the reference's client agent keys its connections by the whole
 * address (every host, port, key hash): a queue whose address lists
 * another host besides the same first one is on another router for the
 * pool, and gets a connection of its own. */
static void test_router_identity(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    router_start();
    char alt[320];
    snprintf(alt, sizeof alt, "smp://%s@127.0.0.1,localhost:%u", R.fp, (unsigned)R.port);
    sx_smp_conn *c1, *c2;
    assert_ok(sx_smp_connect(R.addr, NULL, &c1));
    assert_ok(sx_smp_connect(alt, NULL, &c2));
    sx_smp_queue *q1, *q2, *q3;
    assert_ok(sx_smp_queue_create(c1, &q1));
    assert_ok(sx_smp_queue_create(c2, &q2));
    assert_ok(sx_smp_queue_create(c1, &q3));
    assert_ok(sx_loop_new(&S.loop));
    assert_ok(sx_smp_pool_new(S.loop, NULL, identity_event, NULL, &S.pool));
    assert_ok(sx_smp_pool_subscribe(S.pool, q1));
    assert_ok(sx_smp_pool_subscribe(S.pool, q2));
    run_until(two_active, "two routers");
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.routers, 2);
    assert_int_equal(S.connected, 2);
    assert_int_equal(S.subscribed, 2);
    /* the same address again: the same router and connection */
    assert_ok(sx_smp_pool_subscribe(S.pool, q3));
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.routers, 2);
    sx_smp_pool_free(S.pool);
    sx_loop_free(S.loop);
    sx_smp_close(c1);
    sx_smp_close(c2);
    sx_smp_queue_free(q1);
    sx_smp_queue_free(q2);
    sx_smp_queue_free(q3);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reconnect_resubscribe, router_setup, router_teardown),
        cmocka_unit_test_setup_teardown(test_usage_and_on_demand, router_setup, router_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable, router_setup, router_teardown),
        cmocka_unit_test_setup_teardown(test_refused_end_deleted, router_setup, router_teardown),
        cmocka_unit_test_setup_teardown(test_notifier, router_setup, router_teardown),
        cmocka_unit_test_setup_teardown(test_router_identity, router_setup, router_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
