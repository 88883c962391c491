/* Unit tests of the event loop: readiness, cross-thread posting, stop,
 * ticks, timers (ordering, cancel and re-arm inside callbacks, many at
 * once), and watchers stopped while their events are pending. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/loop.h"

typedef struct pipe_ctx {
    int reads;
    char got[16];
    bool stop_after_first;
} pipe_ctx;

static void on_read(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    pipe_ctx *c = io->data;
    assert_true(events & SX_EV_READ);
    ssize_t n = read(io->fd, c->got, sizeof c->got - 1);
    assert_true(n > 0);
    c->got[n] = 0;
    c->reads++;
    sx_loop_stop(loop);
}

static void test_readiness(void **state)
{
    (void)state;
    sx_loop *loop;
    assert_ok(sx_loop_new(&loop));
    int p[2];
    assert_int_equal(pipe(p), 0);
    pipe_ctx c = {0};
    sx_loop_io io;
    sx_loop_io_init(&io, p[0], on_read, &c);
    assert_ok(sx_loop_io_start(loop, &io, SX_EV_READ));
    assert_int_equal(write(p[1], "hi", 2), 2);
    assert_ok(sx_loop_run(loop));
    assert_int_equal(c.reads, 1);
    assert_string_equal(c.got, "hi");
    sx_loop_io_stop(loop, &io);
    sx_loop_io_stop(loop, &io); /* idempotent */
    close(p[0]);
    close(p[1]);
    sx_loop_free(loop);
}

typedef struct post_ctx {
    sx_loop *loop;
    sx_loop_task tasks[100];
    int order[100];
    int count;
} post_ctx;

static void on_task(sx_loop *loop, sx_loop_task *t)
{
    post_ctx *c = t->data;
    c->order[c->count++] = (int)(t - c->tasks);
    if (c->count == 100)
        sx_loop_stop(loop);
}

static void *poster(void *arg)
{
    post_ctx *c = arg;
    for (int i = 0; i < 100; i++) {
        c->tasks[i].cb = on_task;
        c->tasks[i].data = c;
        sx_loop_post(c->loop, &c->tasks[i]);
    }
    return NULL;
}

static void test_post_from_thread(void **state)
{
    (void)state;
    post_ctx c = {0};
    assert_ok(sx_loop_new(&c.loop));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, poster, &c), 0);
    assert_ok(sx_loop_run(c.loop));
    pthread_join(t, NULL);
    assert_int_equal(c.count, 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(c.order[i], i); /* posting order kept */
    sx_loop_free(c.loop);
}

static void *stopper(void *arg)
{
    usleep(20000);
    sx_loop_stop(arg);
    return NULL;
}

static void test_stop_from_thread(void **state)
{
    (void)state;
    sx_loop *loop;
    assert_ok(sx_loop_new(&loop));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stopper, loop), 0);
    int64_t t0 = sx_loop_now_ms();
    assert_ok(sx_loop_run(loop)); /* returns only because of the stop */
    pthread_join(t, NULL);
    assert_true(sx_loop_now_ms() - t0 >= 15);
    sx_loop_free(loop);
}

static void on_tick(sx_loop *loop, void *data)
{
    int *n = data;
    if (++*n == 3)
        sx_loop_stop(loop);
}

static void test_tick(void **state)
{
    (void)state;
    sx_loop *loop;
    assert_ok(sx_loop_new(&loop));
    int n = 0;
    sx_loop_set_tick(loop, 5, on_tick, &n);
    assert_ok(sx_loop_run(loop));
    assert_int_equal(n, 3);
    sx_loop_free(loop);
}

/* ---- timers ---- */

typedef struct tctx {
    sx_loop *loop;
    sx_loop_timer t[8];
    int order[32];
    int n;
    int fired[8];
    int stop_after; /* stop the loop after this many firings */
} tctx;

static int tidx(tctx *c, sx_loop_timer *t)
{
    return (int)(t - c->t);
}

static void on_timer(sx_loop *loop, sx_loop_timer *t)
{
    tctx *c = t->data;
    int i = tidx(c, t);
    c->fired[i]++;
    if (c->n < 32)
        c->order[c->n] = i;
    c->n++;
    if (c->n == c->stop_after)
        sx_loop_stop(loop);
}

static void test_timer_order(void **state)
{
    (void)state;
    tctx c = {.stop_after = 4};
    assert_ok(sx_loop_new(&c.loop));
    for (int i = 0; i < 4; i++)
        sx_loop_timer_init(&c.t[i], on_timer, &c);
    sx_loop_timer_start(c.loop, &c.t[0], 40, 0);
    sx_loop_timer_start(c.loop, &c.t[1], 10, 0);
    sx_loop_timer_start(c.loop, &c.t[2], 25, 0);
    sx_loop_timer_start(c.loop, &c.t[3], 25, 0); /* same or later due than t2 */
    int64_t t0 = sx_loop_now_ms();
    assert_ok(sx_loop_run(c.loop));
    int64_t took = sx_loop_now_ms() - t0;
    assert_int_equal(c.n, 4);
    assert_int_equal(c.order[0], 1);
    assert_int_equal(c.order[1], 2);
    assert_int_equal(c.order[2], 3);
    assert_int_equal(c.order[3], 0);
    assert_true(took >= 39);
    for (int i = 0; i < 4; i++)
        assert_false(sx_loop_timer_active(&c.t[i]));
    sx_loop_free(c.loop);
}

/* Equal timeouts fire in start order. */
static void test_timer_ties(void **state)
{
    (void)state;
    tctx c = {.stop_after = 5};
    assert_ok(sx_loop_new(&c.loop));
    static const int seq[5] = {4, 2, 0, 1, 3};
    for (int k = 0; k < 5; k++) {
        sx_loop_timer_init(&c.t[seq[k]], on_timer, &c);
        sx_loop_timer_start(c.loop, &c.t[seq[k]], 5, 0);
    }
    assert_ok(sx_loop_run(c.loop));
    for (int k = 0; k < 5; k++)
        assert_int_equal(c.order[k], seq[k]);
    sx_loop_free(c.loop);
}

/* t0 repeats every 10 ms and on its 2nd firing re-arms itself as a 30 ms
 * one-shot; t2 re-arms itself with a zero timeout every time, which must
 * not starve the loop (it fires once per iteration, not forever in one). */
static void on_rearm(sx_loop *loop, sx_loop_timer *t)
{
    tctx *c = t->data;
    int i = tidx(c, t);
    c->fired[i]++;
    if (i == 0 && c->fired[0] == 2)
        sx_loop_timer_start(loop, &c->t[0], 30, 0);
    if (i == 0 && c->fired[0] == 3)
        sx_loop_stop(loop);
    if (i == 2)
        sx_loop_timer_start(loop, &c->t[2], 0, 0);
}

static void test_timer_rearm(void **state)
{
    (void)state;
    tctx c = {0};
    assert_ok(sx_loop_new(&c.loop));
    sx_loop_timer_init(&c.t[0], on_rearm, &c);
    sx_loop_timer_init(&c.t[2], on_rearm, &c);
    int64_t t0 = sx_loop_now_ms();
    sx_loop_timer_start(c.loop, &c.t[0], 10, 10);
    sx_loop_timer_start(c.loop, &c.t[2], 5, 0);
    assert_ok(sx_loop_run(c.loop));
    int64_t took = sx_loop_now_ms() - t0;
    assert_int_equal(c.fired[0], 3);
    assert_true(took >= 49);
    assert_true(c.fired[2] > 1);
    assert_false(sx_loop_timer_active(&c.t[0]));
    assert_true(sx_loop_timer_active(&c.t[2]));
    sx_loop_timer_stop(c.loop, &c.t[2]);
    assert_false(sx_loop_timer_active(&c.t[2]));
    sx_loop_free(c.loop);
}

static void on_cancel_other(sx_loop *loop, sx_loop_timer *t)
{
    tctx *c = t->data;
    int i = tidx(c, t);
    c->fired[i]++;
    if (i == 0)
        sx_loop_timer_stop(loop, &c->t[1]);
    sx_loop_timer_start(loop, &c->t[2], 20, 0);
}

static void on_end(sx_loop *loop, sx_loop_timer *t)
{
    tctx *c = t->data;
    c->fired[tidx(c, t)]++;
    sx_loop_stop(loop);
}

/* Two timers due in the same pass: the first cancels the second, which
 * then must not run. */
static void test_timer_cancel_same_pass(void **state)
{
    (void)state;
    tctx c = {0};
    assert_ok(sx_loop_new(&c.loop));
    sx_loop_timer_init(&c.t[0], on_cancel_other, &c);
    sx_loop_timer_init(&c.t[1], on_cancel_other, &c);
    sx_loop_timer_init(&c.t[2], on_end, &c);
    sx_loop_timer_start(c.loop, &c.t[0], 10, 0);
    sx_loop_timer_start(c.loop, &c.t[1], 10, 0);
    c.t[1].due_ms = c.t[0].due_ms; /* still sorted: t1 was inserted after t0 */
    assert_ok(sx_loop_run(c.loop));
    assert_int_equal(c.fired[0], 1);
    assert_int_equal(c.fired[1], 0);
    assert_int_equal(c.fired[2], 1);
    assert_false(sx_loop_timer_active(&c.t[1]));
    sx_loop_free(c.loop);
}

#define MANY 2000

static void count_tick(sx_loop *loop, void *data)
{
    (void)loop;
    ++*(int *)data;
}

typedef struct many_ctx {
    sx_loop_timer t[MANY];
    int64_t last_due;
    int fired;
    bool out_of_order;
} many_ctx;

static void on_many(sx_loop *loop, sx_loop_timer *t)
{
    many_ctx *c = t->data;
    if (t->due_ms < c->last_due)
        c->out_of_order = true;
    c->last_due = t->due_ms;
    if (++c->fired == MANY / 2)
        sx_loop_stop(loop);
}

/* Many timers with scattered times; half of them cancelled; the rest fire
 * in due order, and the tick still runs alongside. */
static void test_timer_many(void **state)
{
    (void)state;
    sx_loop *loop;
    assert_ok(sx_loop_new(&loop));
    many_ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    int ticks = 0;
    sx_loop_set_tick(loop, 7, count_tick, &ticks);
    for (int i = 0; i < MANY; i++) {
        sx_loop_timer_init(&c->t[i], on_many, c);
        sx_loop_timer_start(loop, &c->t[i], (unsigned)((i * 7919) % 97), 0);
    }
    for (int i = 1; i < MANY; i += 2)
        sx_loop_timer_stop(loop, &c->t[i]);
    assert_ok(sx_loop_run(loop));
    assert_int_equal(c->fired, MANY / 2);
    assert_false(c->out_of_order);
    assert_true(ticks >= 3); /* the last timer is due after 96 ms */
    for (int i = 0; i < MANY; i++)
        assert_false(sx_loop_timer_active(&c->t[i]));
    sx_loop_set_tick(loop, 0, NULL, NULL);
    free(c);
    sx_loop_free(loop);
}

/* Two pipes ready in one iteration; the first callback stops the second
 * watcher, whose callback must then not run. */
typedef struct pair_ctx {
    sx_loop_io a, b;
    int a_calls, b_calls;
} pair_ctx;

static void on_either(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)events;
    pair_ctx *c = io->data;
    char buf[4];
    if (read(io->fd, buf, sizeof buf) < 0)
        fail_msg("read");
    if (io == &c->a) {
        c->a_calls++;
        sx_loop_io_stop(loop, &c->b);
    } else {
        c->b_calls++;
        sx_loop_io_stop(loop, &c->a);
    }
    sx_loop_stop(loop);
}

static void test_stop_pending_watcher(void **state)
{
    (void)state;
    sx_loop *loop;
    assert_ok(sx_loop_new(&loop));
    int p1[2], p2[2];
    assert_int_equal(pipe(p1), 0);
    assert_int_equal(pipe(p2), 0);
    pair_ctx c = {0};
    sx_loop_io_init(&c.a, p1[0], on_either, &c);
    sx_loop_io_init(&c.b, p2[0], on_either, &c);
    assert_ok(sx_loop_io_start(loop, &c.a, SX_EV_READ));
    assert_ok(sx_loop_io_start(loop, &c.b, SX_EV_READ));
    assert_int_equal(write(p1[1], "x", 1), 1);
    assert_int_equal(write(p2[1], "y", 1), 1);
    assert_ok(sx_loop_run(loop));
    /* Exactly one of the two ran: whichever came first stopped the other. */
    assert_int_equal(c.a_calls + c.b_calls, 1);
    close(p1[0]);
    close(p1[1]);
    close(p2[0]);
    close(p2[1]);
    sx_loop_free(loop);
}

static void on_hup(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    unsigned *got = io->data;
    *got = events;
    sx_loop_io_stop(loop, io);
    sx_loop_stop(loop);
}

static void test_hangup(void **state)
{
    (void)state;
    sx_loop *loop;
    assert_ok(sx_loop_new(&loop));
    int p[2];
    assert_int_equal(pipe(p), 0);
    unsigned got = 0;
    sx_loop_io io;
    sx_loop_io_init(&io, p[0], on_hup, &got);
    assert_ok(sx_loop_io_start(loop, &io, SX_EV_READ));
    close(p[1]);
    assert_ok(sx_loop_run(loop));
    assert_true(got & SX_EV_ERROR);
    close(p[0]);
    sx_loop_free(loop);
}

/* ---- the public additions (simplex/loop.h) ---- */

typedef struct pub_ctx {
    sx_loop *loop;
    int calls[4];
    int order[8];
    int norder;
    sx_timer *t;
    int fired;
} pub_ctx;

static void pub_call(sx_loop *loop, void *arg)
{
    pub_ctx *c = arg;
    (void)loop;
    c->calls[0]++;
    if (c->norder < 8)
        c->order[c->norder++] = c->calls[0];
}

static void *pub_thread(void *arg)
{
    pub_ctx *c = arg;
    for (int i = 0; i < 3; i++)
        assert_ok(sx_loop_call(c->loop, pub_call, c));
    return NULL;
}

static void pub_stop(sx_loop *loop, void *arg)
{
    (void)arg;
    sx_loop_stop(loop);
}

/* Calls from another thread run on the loop, in order; a call posted and
 * not run when the loop is freed runs from sx_loop_free (no leak). */
static void test_public_call(void **state)
{
    (void)state;
    pub_ctx c = {0};
    assert_ok(sx_loop_new(&c.loop));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, pub_thread, &c), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_ok(sx_loop_call(c.loop, pub_stop, NULL));
    assert_ok(sx_loop_run(c.loop));
    assert_int_equal(c.calls[0], 3);
    assert_int_equal(c.order[0], 1);
    assert_int_equal(c.order[2], 3);
    assert_ok(sx_loop_call(c.loop, pub_call, &c));
    assert_int_equal(sx_loop_call(c.loop, NULL, &c), SX_E_USAGE);
    sx_loop_free(c.loop);
    assert_int_equal(c.calls[0], 4);
}

static void pub_tick(sx_loop *loop, void *arg)
{
    pub_ctx *c = arg;
    c->fired++;
    if (c->fired == 3) {
        sx_timer_free(c->t); /* from its own callback */
        c->t = NULL;
        sx_loop_stop(loop);
    }
}

static void pub_never(sx_loop *loop, void *arg)
{
    (void)loop;
    pub_ctx *c = arg;
    c->calls[1]++;
}

/* A repeating heap timer fires until it frees itself; a stopped one never
 * fires. */
static void test_public_timer(void **state)
{
    (void)state;
    pub_ctx c = {0};
    assert_ok(sx_loop_new(&c.loop));
    sx_timer *never;
    assert_ok(sx_timer_new(c.loop, pub_tick, &c, &c.t));
    assert_ok(sx_timer_new(c.loop, pub_never, &c, &never));
    sx_timer_start(never, 5, 0);
    sx_timer_stop(never);
    sx_timer_start(c.t, 1, 2);
    int64_t t0 = sx_loop_now_ms();
    assert_ok(sx_loop_run(c.loop));
    assert_int_equal(c.fired, 3);
    assert_true(sx_loop_now_ms() - t0 >= 4); /* 1 + 2 + 2 ms at least */
    assert_int_equal(c.calls[1], 0);
    sx_timer_free(never);
    sx_timer_free(NULL);
    sx_loop_free(c.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readiness),
        cmocka_unit_test(test_post_from_thread),
        cmocka_unit_test(test_stop_from_thread),
        cmocka_unit_test(test_tick),
        cmocka_unit_test(test_timer_order),
        cmocka_unit_test(test_timer_ties),
        cmocka_unit_test(test_timer_rearm),
        cmocka_unit_test(test_timer_cancel_same_pass),
        cmocka_unit_test(test_timer_many),
        cmocka_unit_test(test_stop_pending_watcher),
        cmocka_unit_test(test_hangup),
        cmocka_unit_test(test_public_call),
        cmocka_unit_test(test_public_timer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
