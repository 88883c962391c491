/* The SMP connection pool on a thread of its own (sx_smp_tpool_* of
 * simplex/smp.h) against the real smp-server program: queues subscribed
 * from the test thread, messages sent from two sender threads and taken
 * and acknowledged by a consumer thread (sx_smp_tpool_next), the router
 * killed with SIGKILL and started again on the same port and store between
 * two rounds; every message delivered and acknowledged exactly once. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simplex/simplex.h"

#include "pool_router.h"

#define WAIT_MS 30000

#define assert_contains_text(s, part)                                                                  \
    do {                                                                                               \
        if (!strstr((s), (part)))                                                                      \
            fail_msg("'%s' does not contain '%s'", (s), (part));                                       \
    } while (0)

#define TQ 40 /* queues */
#define TK 3  /* messages per queue and phase */

static struct {
    sx_smp_tpool *tp;
    sx_smp_queue *rq[TQ], *sq[TQ];
    pthread_mutex_t mu;
    int delivered[TQ][2 * TK], acked[TQ][2 * TK];
    int acks_ok, after_ack, connected, disconnected;
    int stop;
    char bad[256];
} TP;

static void tp_bad(const char *what)
{
    pthread_mutex_lock(&TP.mu);
    if (!TP.bad[0])
        snprintf(TP.bad, sizeof TP.bad, "%s", what);
    pthread_mutex_unlock(&TP.mu);
}

static void *tp_consumer(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&TP.stop, __ATOMIC_ACQUIRE)) {
        sx_smp_pool_note n;
        if (sx_smp_tpool_next(TP.tp, 50, &n) != SX_OK) {
            tp_bad("next failed");
            break;
        }
        if (n.kind == SX_SMP_POOL_CONNECTED || n.kind == SX_SMP_POOL_DISCONNECTED) {
            pthread_mutex_lock(&TP.mu);
            if (n.kind == SX_SMP_POOL_CONNECTED)
                TP.connected++;
            else
                TP.disconnected++;
            pthread_mutex_unlock(&TP.mu);
        } else if (n.kind == SX_SMP_POOL_SUB_FAILED) {
            tp_bad("a subscription failed");
        } else if (n.kind == SX_SMP_POOL_MESSAGE) {
            int i = -1, k = -1;
            char body[64] = "";
            size_t len = n.ev.body_len < sizeof body - 1 ? n.ev.body_len : sizeof body - 1;
            if (n.ev.body)
                memcpy(body, n.ev.body, len);
            for (int j = 0; j < TQ; j++)
                if (TP.rq[j] == n.queue)
                    i = j;
            int qi = -2;
            if (i < 0 || sscanf(body, "q%d m%d", &qi, &k) != 2 || qi != i || k < 0 || k >= 2 * TK) {
                tp_bad("a message that is not the queue's");
            } else {
                pthread_mutex_lock(&TP.mu);
                if (TP.acked[i][k])
                    TP.after_ack++;
                TP.delivered[i][k]++;
                pthread_mutex_unlock(&TP.mu);
                sx_status st = sx_smp_tpool_ack(TP.tp, &n);
                pthread_mutex_lock(&TP.mu);
                if (st == SX_OK) {
                    TP.acked[i][k]++;
                    TP.acks_ok++;
                }
                pthread_mutex_unlock(&TP.mu);
            }
        }
        sx_smp_pool_note_clear(&n);
    }
    return NULL;
}

typedef struct tp_sender {
    int from, to, phase;
    sx_status st;
    char detail[256];
} tp_sender;

static void *tp_send_main(void *arg)
{
    tp_sender *ts = arg;
    for (int k = ts->phase * TK; k < (ts->phase + 1) * TK && ts->st == SX_OK; k++)
        for (int i = ts->from; i < ts->to && ts->st == SX_OK; i++) {
            char body[32];
            int n = snprintf(body, sizeof body, "q%d m%d", i, k);
            ts->st = sx_smp_tpool_send(TP.tp, TP.sq[i], body, (size_t)n);
            if (ts->st != SX_OK)
                snprintf(ts->detail, sizeof ts->detail, "%s", sx_error_message());
        }
    return NULL;
}

static void tp_send_phase(int phase)
{
    tp_sender s[2] = {{0, TQ / 2, phase, SX_OK, ""}, {TQ / 2, TQ, phase, SX_OK, ""}};
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&th[t], NULL, tp_send_main, &s[t]), 0);
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
        if (s[t].st != SX_OK)
            fail_msg("send thread %d, phase %d: %s: %s", t, phase, sx_status_str(s[t].st), s[t].detail);
    }
}

static int tp_acks(void)
{
    pthread_mutex_lock(&TP.mu);
    int n = TP.acks_ok;
    pthread_mutex_unlock(&TP.mu);
    return n;
}

static void tp_wait(bool (*done)(void), const char *what)
{
    int64_t deadline = now_ms() + WAIT_MS;
    while (!done()) {
        if (TP.bad[0])
            fail_msg("%s: %s", what, TP.bad);
        if (now_ms() > deadline)
            fail_msg("%s: not done in %d ms (acks %d)", what, WAIT_MS, tp_acks());
        sleep_ms(5);
    }
}

static bool tp_phase0_acked(void)
{
    return tp_acks() == TQ * TK;
}

static bool tp_all_acked(void)
{
    return tp_acks() == 2 * TQ * TK;
}

static bool tp_resubscribed(void)
{
    sx_smp_pool_stats st;
    sx_smp_tpool_get_stats(TP.tp, &st);
    return st.active == TQ && st.sessions >= 2;
}

static void test_thread_facade(void **state)
{
    (void)state;
    memset(&TP, 0, sizeof TP);
    assert_int_equal(pthread_mutex_init(&TP.mu, NULL), 0);
    router_start();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    for (int i = 0; i < TQ; i++) {
        assert_ok(sx_smp_queue_create(bc, &TP.rq[i]));
        assert_ok(sx_smp_queue_sender(TP.rq[i], &TP.sq[i]));
    }
    /* a queue outside the pool for the barrier below */
    sx_smp_queue *barrier_rq, *barrier_sq;
    assert_ok(sx_smp_queue_create(bc, &barrier_rq));
    assert_ok(sx_smp_queue_sender(barrier_rq, &barrier_sq));
    sx_smp_pool_opts o = {.retry_min_ms = 50, .retry_max_ms = 400};
    assert_ok(sx_smp_tpool_new(&o, &TP.tp));
    assert_int_equal(sx_smp_tpool_subscribe(TP.tp, TP.sq[0]), SX_E_USAGE);
    assert_contains_text(sx_error_message(), "recipient");
    for (int i = 0; i < TQ; i++)
        assert_ok(sx_smp_tpool_subscribe(TP.tp, TP.rq[i]));
    pthread_t consumer;
    assert_int_equal(pthread_create(&consumer, NULL, tp_consumer, NULL), 0);

    tp_send_phase(0);
    tp_wait(tp_phase0_acked, "phase 0");
    /* The router answers an ACK before its journal record is on disk (a
     * removal lost in a crash only delivers the message again), and a SEND
     * only once its record is: one SEND answered after the last ACK makes
     * every ACK durable, so the kill below loses none of them. */
    assert_ok(sx_smp_send(bc, barrier_sq, "barrier", 7));
    sx_smp_close(bc);
    router_kill9();
    router_start();
    tp_wait(tp_resubscribed, "resubscribed");
    tp_send_phase(1);
    tp_wait(tp_all_acked, "phase 1");

    __atomic_store_n(&TP.stop, 1, __ATOMIC_RELEASE);
    pthread_join(consumer, NULL);
    if (TP.bad[0])
        fail_msg("%s", TP.bad);
    for (int i = 0; i < TQ; i++)
        for (int k = 0; k < 2 * TK; k++)
            if (TP.acked[i][k] != 1 || TP.delivered[i][k] != 1)
                fail_msg("queue %d message %d delivered %d and acknowledged %d times", i, k, TP.delivered[i][k],
                         TP.acked[i][k]);
    assert_int_equal(TP.after_ack, 0);
    assert_int_equal(TP.disconnected, 1);
    assert_int_equal(TP.connected, 2);
    sx_smp_tpool_free(TP.tp);
    for (int i = 0; i < TQ; i++) {
        sx_smp_queue_free(TP.rq[i]);
        sx_smp_queue_free(TP.sq[i]);
    }
    sx_smp_queue_free(barrier_rq);
    sx_smp_queue_free(barrier_sq);
    pthread_mutex_destroy(&TP.mu);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_thread_facade, router_setup, router_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
