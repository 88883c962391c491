/* Unit tests of the event loop: readiness, cross-thread posting, stop,
 * ticks, and watchers stopped while their events are pending. */
#include "testutil.h"

#include <pthread.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readiness),
        cmocka_unit_test(test_post_from_thread),
        cmocka_unit_test(test_stop_from_thread),
        cmocka_unit_test(test_tick),
        cmocka_unit_test(test_stop_pending_watcher),
        cmocka_unit_test(test_hangup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
