/* Unit tests of the router kit's listening sockets and worker threads
 * (kit/workers.h) on real loopback sockets: every port listens, sockets are
 * handed to the workers in turn and adopted on the worker's own thread,
 * the per-port counters, the tick, the thread hooks, and the stop
 * sequence with sockets still open. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

#include "kit/workers.h"
#include "transport/net.h"

#define N_WORKERS 3

typedef struct rec {
    pthread_mutex_t mu;
    pthread_t threads[N_WORKERS];
    int started[N_WORKERS], ended[N_WORKERS], ticks[N_WORKERS];
    int adopted[N_WORKERS];
    int by_port[2];
    bool wrong_thread;
    int open_fds[64]; /* adopted and kept open, by worker */
    unsigned open_port[64];
    unsigned open_worker[64];
    size_t n_open;
    sx_kit_workers *ws;
} rec;

static rec R;

static void on_start(void *arg, unsigned worker)
{
    rec *r = arg;
    pthread_mutex_lock(&r->mu);
    r->threads[worker] = pthread_self();
    r->started[worker]++;
    pthread_mutex_unlock(&r->mu);
}

static void on_end(void *arg, unsigned worker)
{
    rec *r = arg;
    pthread_mutex_lock(&r->mu);
    r->ended[worker]++;
    /* the router closes what its worker still holds */
    for (size_t i = 0; i < r->n_open; i++) {
        if (r->open_fds[i] >= 0 && r->open_worker[i] == worker) {
            sx_net_close(r->open_fds[i]);
            sx_kit_workers_socket_closed(r->ws, r->open_port[i]);
            r->open_fds[i] = -1;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

static void on_tick(void *arg, unsigned worker)
{
    rec *r = arg;
    pthread_mutex_lock(&r->mu);
    r->ticks[worker]++;
    pthread_mutex_unlock(&r->mu);
}

/* Odd sockets are closed at once, even ones kept until the worker ends. */
static void on_adopt(void *arg, unsigned worker, int fd, unsigned port_index)
{
    rec *r = arg;
    pthread_mutex_lock(&r->mu);
    if (!pthread_equal(pthread_self(), r->threads[worker]))
        r->wrong_thread = true;
    size_t k = r->n_open++;
    r->adopted[worker]++;
    r->by_port[port_index]++;
    r->open_fds[k] = -1;
    if (k % 2 == 0) {
        r->open_fds[k] = fd;
        r->open_port[k] = port_index;
        r->open_worker[k] = worker;
    } else {
        sx_net_close(fd);
        sx_kit_workers_socket_closed(r->ws, port_index);
    }
    pthread_mutex_unlock(&r->mu);
}

static int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static int total(const int *v)
{
    int n = 0;
    for (int i = 0; i < N_WORKERS; i++)
        n += v[i];
    return n;
}

static void test_workers(void **state)
{
    (void)state;
    memset(&R, 0, sizeof R);
    pthread_mutex_init(&R.mu, NULL);
    uint16_t ports[2] = {0, 0};
    sx_kit_workers_opts o = {
        .n_workers = N_WORKERS,
        .tick_ms = 10,
        .host = "127.0.0.1",
        .ports = ports,
        .n_ports = 2,
        .adopt = on_adopt,
        .tick = on_tick,
        .thread_start = on_start,
        .thread_end = on_end,
        .arg = &R,
    };
    assert_ok(sx_kit_workers_new(&o, &R.ws));
    assert_int_equal(sx_kit_workers_count(R.ws), N_WORKERS);
    assert_int_equal(sx_kit_workers_n_ports(R.ws), 2);
    uint16_t p0 = sx_kit_workers_port(R.ws, 0), p1 = sx_kit_workers_port(R.ws, 1);
    assert_true(p0 != 0 && p1 != 0 && p0 != p1);
    assert_int_equal(sx_kit_workers_port(R.ws, 2), 0);
    assert_ok(sx_kit_workers_start(R.ws));

    int fds[12];
    for (int i = 0; i < 12; i++)
        fds[i] = connect_to(i < 8 ? p0 : p1);
    /* wait until all are adopted (bounded) */
    for (int tries = 0; tries < 500; tries++) {
        pthread_mutex_lock(&R.mu);
        int n = total(R.adopted);
        pthread_mutex_unlock(&R.mu);
        if (n == 12)
            break;
        usleep(10000);
    }
    pthread_mutex_lock(&R.mu);
    assert_int_equal(total(R.adopted), 12);
    for (int i = 0; i < N_WORKERS; i++)
        assert_int_equal(R.adopted[i], 4); /* in turn */
    assert_int_equal(R.by_port[0], 8);
    assert_int_equal(R.by_port[1], 4);
    assert_false(R.wrong_thread);
    pthread_mutex_unlock(&R.mu);
    assert_int_equal(sx_kit_workers_accepted(R.ws, 0), 8);
    assert_int_equal(sx_kit_workers_accepted(R.ws, 1), 4);
    assert_int_equal(sx_kit_workers_closed(R.ws, 0) + sx_kit_workers_closed(R.ws, 1), 6);
    /* the tick runs on every worker */
    for (int tries = 0; tries < 500; tries++) {
        pthread_mutex_lock(&R.mu);
        bool all = R.ticks[0] > 1 && R.ticks[1] > 1 && R.ticks[2] > 1;
        pthread_mutex_unlock(&R.mu);
        if (all)
            break;
        usleep(10000);
    }
    for (int i = 0; i < N_WORKERS; i++)
        assert_true(R.ticks[i] > 1);
    assert_false(sx_kit_workers_stopping(R.ws));

    sx_kit_workers_stop(R.ws);
    assert_true(sx_kit_workers_stopping(R.ws));
    for (int i = 0; i < N_WORKERS; i++) {
        assert_int_equal(R.started[i], 1);
        assert_int_equal(R.ended[i], 1);
    }
    /* every accepted socket was reported closed */
    assert_int_equal(sx_kit_workers_closed(R.ws, 0), 8);
    assert_int_equal(sx_kit_workers_closed(R.ws, 1), 4);
    /* the listeners are closed */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p0)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_not_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    close(fd);
    sx_kit_workers_free(R.ws);
    for (int i = 0; i < 12; i++)
        close(fds[i]);
    pthread_mutex_destroy(&R.mu);
}

static void test_bad_options(void **state)
{
    (void)state;
    sx_kit_workers *ws = (sx_kit_workers *)1;
    uint16_t ports[SX_KIT_MAX_PORTS + 1] = {0};
    sx_kit_workers_opts o = {.n_workers = 1, .host = "127.0.0.1", .ports = ports, .n_ports = 0, .adopt = on_adopt};
    assert_int_equal(sx_kit_workers_new(&o, &ws), SX_E_USAGE);
    assert_null(ws);
    o.n_ports = SX_KIT_MAX_PORTS + 1;
    assert_int_equal(sx_kit_workers_new(&o, &ws), SX_E_USAGE);
    o.n_ports = 1;
    o.adopt = NULL;
    assert_int_equal(sx_kit_workers_new(&o, &ws), SX_E_USAGE);
    /* a port in use: SX_E_IO, nothing left behind */
    int lfd;
    uint16_t used;
    assert_ok(sx_net_listen("127.0.0.1", 0, 4, &lfd, &used));
    ports[0] = used;
    o.adopt = on_adopt;
    assert_int_equal(sx_kit_workers_new(&o, &ws), SX_E_IO);
    assert_null(ws);
    sx_net_close(lfd);
    sx_kit_workers_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workers),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
