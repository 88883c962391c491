/* The SMP router's message expiry runs on a thread of its own: with the
 * router's only worker held busy (a task posted to its loop that waits),
 * messages past their TTL are still expired every msg_check_interval, and
 * once the worker runs again the queue is empty; and sweeps run while two
 * workers serve traffic (scripts/test --tsan runs this file). The router
 * runs in process on loopback and is driven by the client library. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "simplex/smp.h"
#include "core/loop.h"
#include "smp_router/server.h"
#include "smp_router/server_int.h"

/* base64url SHA-256 of fixtures/ca.crt: the router's identity */
#define FIXTURE_FP "LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI="
#define MSGS 3

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static bool g_busy, g_release;

/* On the worker: holds its loop until the test releases it (60 s at most,
 * so that a failed test cannot hang the router's stop). */
static void busy_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    (void)t;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    pthread_mutex_lock(&g_mu);
    g_busy = true;
    pthread_cond_broadcast(&g_cv);
    while (!g_release && pthread_cond_timedwait(&g_cv, &g_mu, &until) == 0) {
    }
    g_busy = false;
    pthread_mutex_unlock(&g_mu);
}

static bool worker_busy(void)
{
    pthread_mutex_lock(&g_mu);
    bool b = g_busy;
    pthread_mutex_unlock(&g_mu);
    return b;
}

/* An in-process router with the test certificates on a port of its own,
 * workers threads, messages expiring after 1 s and swept every second;
 * addr gets its address. */
static sx_router *start_router(int workers, char addr[256])
{
    static char crt[1024], ca[1024], key[1024];
    snprintf(crt, sizeof crt, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(ca, sizeof ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(key, sizeof key, "%s", tu_data_path("fixtures/server.key"));
    sx_router_opts o = {0};
    o.cert_file = crt;
    o.ca_file = ca;
    o.key_file = key;
    o.host = "127.0.0.1";
    o.n_ports = 1;
    o.workers = workers;
    o.new_queues = true;
    o.quiet = true;
    o.msg_ttl_seconds = 1;
    o.msg_check_interval = 1;
    sx_router *r = NULL;
    assert_int_equal(sx_router_start(&o, &r), SX_OK);
    snprintf(addr, 256, "smp://" FIXTURE_FP "@127.0.0.1:%u", sx_router_port(r, 0));
    return r;
}

static void expiry_while_worker_busy(void **state)
{
    (void)state;
    char addr[256];
    sx_router *r = start_router(1, addr);
    sx_smp_conn_opts co = {.timeout_ms = 30000};
    sx_smp_conn *c = NULL;
    assert_int_equal(sx_smp_connect(addr, &co, &c), SX_OK);
    sx_smp_queue *rq = NULL, *sq = NULL;
    assert_int_equal(sx_smp_queue_create(c, &rq), SX_OK);
    assert_int_equal(sx_smp_queue_sender(rq, &sq), SX_OK);
    int64_t expired0 = sx_smp_stats_get(&r->stats, SX_SMP_STAT_MSG_EXPIRED);
    for (int i = 0; i < MSGS; i++)
        assert_int_equal(sx_smp_send(c, sq, "to expire", 9), SX_OK);

    /* the only worker held: no command is served until it is released */
    sx_loop_task busy = {.cb = busy_cb};
    sx_loop_post(r->workers[0].loop, &busy);
    for (int i = 0; i < 3000 && !worker_busy(); i++)
        usleep(10000);
    assert_true(worker_busy());
    int64_t expired = 0;
    for (int i = 0; i < 3000; i++) { /* 30 s: the messages are 1 s old after 2 s */
        expired = sx_smp_stats_get(&r->stats, SX_SMP_STAT_MSG_EXPIRED) - expired0;
        if (expired >= MSGS)
            break;
        usleep(10000);
    }
    bool still_busy = worker_busy();
    pthread_mutex_lock(&g_mu);
    g_release = true;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    assert_int_equal(expired, MSGS);
    assert_true(still_busy); /* expired while the worker was held */

    /* the worker serves again, and the queue is empty */
    sx_smp_event ev;
    memset(&ev, 0, sizeof ev);
    assert_int_equal(sx_smp_get(c, rq, &ev), SX_OK);
    assert_int_equal(ev.kind, SX_SMP_EVENT_NONE);
    sx_smp_event_clear(&ev);
    sx_smp_queue_free(sq);
    sx_smp_close(c);
    sx_smp_queue_free(rq);
    assert_int_equal(sx_router_stop(r), SX_OK);
}

/* Sweeps every second while two workers serve SEND, GET and ACK on another
 * queue (under ThreadSanitizer, the expiry thread against the workers):
 * the idle queue's old messages expire meanwhile, and every message of the
 * busy queue is either received or expired, never both. */
static void expiry_while_workers_serve(void **state)
{
    (void)state;
    char addr[256];
    sx_router *r = start_router(2, addr);
    sx_smp_conn_opts co = {.timeout_ms = 30000};
    sx_smp_conn *c = NULL;
    assert_int_equal(sx_smp_connect(addr, &co, &c), SX_OK);
    sx_smp_queue *idle_r = NULL, *idle_s = NULL, *busy_r = NULL, *busy_s = NULL;
    assert_int_equal(sx_smp_queue_create(c, &idle_r), SX_OK);
    assert_int_equal(sx_smp_queue_sender(idle_r, &idle_s), SX_OK);
    assert_int_equal(sx_smp_queue_create(c, &busy_r), SX_OK);
    assert_int_equal(sx_smp_queue_sender(busy_r, &busy_s), SX_OK);
    int64_t expired0 = sx_smp_stats_get(&r->stats, SX_SMP_STAT_MSG_EXPIRED);
    for (int i = 0; i < MSGS; i++)
        assert_int_equal(sx_smp_send(c, idle_s, "idle", 4), SX_OK);
    /* about three seconds of traffic: three sweeps or so meanwhile */
    long sent = 0, received = 0;
    time_t until = time(NULL) + 3;
    while (time(NULL) < until) {
        assert_int_equal(sx_smp_send(c, busy_s, "busy", 4), SX_OK);
        sent++;
        sx_smp_event ev;
        memset(&ev, 0, sizeof ev);
        assert_int_equal(sx_smp_get(c, busy_r, &ev), SX_OK);
        if (ev.kind == SX_SMP_EVENT_MESSAGE) {
            /* NO_MSG: the sweep took it between GET and ACK (a slow run) */
            sx_status st = sx_smp_ack(c, busy_r, &ev);
            assert_true(st == SX_OK || st == SX_E_PROTOCOL);
            received += st == SX_OK;
        }
        sx_smp_event_clear(&ev);
    }
    assert_true(sent > 0);
    /* the idle queue's messages, and each busy one not received (the sweep
     * took it first), expired once */
    int64_t want = MSGS + (sent - received), expired = 0;
    for (int i = 0; i < 3000; i++) {
        expired = sx_smp_stats_get(&r->stats, SX_SMP_STAT_MSG_EXPIRED) - expired0;
        if (expired >= want)
            break;
        usleep(10000);
    }
    assert_int_equal(expired, want);
    sx_smp_event ev;
    memset(&ev, 0, sizeof ev);
    assert_int_equal(sx_smp_get(c, idle_r, &ev), SX_OK);
    assert_int_equal(ev.kind, SX_SMP_EVENT_NONE);
    sx_smp_event_clear(&ev);
    sx_smp_queue_free(idle_s);
    sx_smp_queue_free(busy_s);
    sx_smp_close(c);
    sx_smp_queue_free(idle_r);
    sx_smp_queue_free(busy_r);
    assert_int_equal(sx_router_stop(r), SX_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expiry_while_worker_busy),
        cmocka_unit_test(expiry_while_workers_serve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
