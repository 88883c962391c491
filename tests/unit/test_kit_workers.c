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
#include <sys/time.h>
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
static void on_adopt(void *arg, unsigned worker, int fd, unsigned port_index, const sx_kit_peer *peer)
{
    (void)peer;
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

/* ---- unfinished handshakes per address ---- */

typedef struct prec {
    pthread_mutex_t mu;
    int fds[16];
    sx_kit_peer peers[16];
    unsigned ports[16];
    size_t n;
} prec;

static prec P;

static void on_adopt_keep(void *arg, unsigned worker, int fd, unsigned port_index, const sx_kit_peer *peer)
{
    (void)worker;
    prec *p = arg;
    pthread_mutex_lock(&p->mu);
    assert_true(p->n < 16);
    p->fds[p->n] = fd;
    p->peers[p->n] = *peer;
    p->ports[p->n] = port_index;
    p->n++;
    pthread_mutex_unlock(&p->mu);
}

static size_t adopted_count(size_t want)
{
    size_t n = 0;
    for (int tries = 0; tries < 300; tries++) {
        pthread_mutex_lock(&P.mu);
        n = P.n;
        pthread_mutex_unlock(&P.mu);
        if (n >= want)
            break;
        usleep(10000);
    }
    usleep(50000); /* and nothing more comes */
    pthread_mutex_lock(&P.mu);
    n = P.n;
    pthread_mutex_unlock(&P.mu);
    return n;
}

/* The socket was closed by the other side: a read sees the end. */
static bool closed_by_peer(int fd)
{
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b;
    return recv(fd, &b, 1, 0) == 0;
}

/* At most 3 sockets of one address wait for their handshake; a fourth is
 * closed at accept, and one handshake done (or one connection closed)
 * makes room again. Loopback is limited here only with limit_loopback. */
static void test_pending_limit(void **state)
{
    (void)state;
    memset(&P, 0, sizeof P);
    pthread_mutex_init(&P.mu, NULL);
    uint16_t ports[1] = {0};
    sx_kit_workers_opts o = {
        .n_workers = 2,
        .host = "127.0.0.1",
        .ports = ports,
        .n_ports = 1,
        .max_pending_per_addr = 3,
        .limit_loopback = true,
        .adopt = on_adopt_keep,
        .arg = &P,
    };
    sx_kit_workers *ws;
    assert_ok(sx_kit_workers_new(&o, &ws));
    assert_ok(sx_kit_workers_start(ws));
    uint16_t port = sx_kit_workers_port(ws, 0);
    int c[6];
    for (int i = 0; i < 5; i++)
        c[i] = connect_to(port);
    assert_int_equal(adopted_count(3), 3);
    assert_int_equal(sx_kit_workers_refused(ws), 2);
    /* the two refused are closed; which two is up to accept order, so
     * check by count */
    int closed = 0;
    for (int i = 0; i < 5; i++) {
        struct timeval tv = {0, 300000};
        setsockopt(c[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char b;
        if (recv(c[i], &b, 1, 0) == 0)
            closed++;
    }
    assert_int_equal(closed, 2);
    pthread_mutex_lock(&P.mu);
    static const uint8_t lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
    assert_memory_equal(P.peers[0].addr, lo, 16);
    assert_true(P.peers[0].pending);
    /* one handshake done: room for one more */
    sx_kit_workers_handshake_done(ws, &P.peers[0]);
    assert_false(P.peers[0].pending);
    sx_kit_workers_handshake_done(ws, &P.peers[0]); /* a no-op */
    pthread_mutex_unlock(&P.mu);
    c[5] = connect_to(port);
    assert_int_equal(adopted_count(4), 4);
    int extra = connect_to(port);
    assert_true(closed_by_peer(extra));
    close(extra);
    assert_int_equal(sx_kit_workers_refused(ws), 3);
    /* a connection closed before its handshake gives its place back */
    pthread_mutex_lock(&P.mu);
    sx_kit_workers_handshake_done(ws, &P.peers[1]);
    pthread_mutex_unlock(&P.mu);
    extra = connect_to(port);
    assert_int_equal(adopted_count(5), 5);
    close(extra);
    sx_kit_workers_stop(ws);
    pthread_mutex_lock(&P.mu);
    for (size_t i = 0; i < P.n; i++) {
        sx_kit_workers_handshake_done(ws, &P.peers[i]);
        sx_net_close(P.fds[i]);
        sx_kit_workers_socket_closed(ws, P.ports[i]);
    }
    pthread_mutex_unlock(&P.mu);
    assert_int_equal(sx_kit_workers_accepted(ws, 0), sx_kit_workers_closed(ws, 0));
    sx_kit_workers_free(ws);
    for (int i = 0; i < 6; i++)
        close(c[i]);

    /* without limit_loopback, loopback is not counted */
    memset(&P, 0, sizeof P);
    o.limit_loopback = false;
    assert_ok(sx_kit_workers_new(&o, &ws));
    assert_ok(sx_kit_workers_start(ws));
    port = sx_kit_workers_port(ws, 0);
    for (int i = 0; i < 5; i++)
        c[i] = connect_to(port);
    assert_int_equal(adopted_count(5), 5);
    assert_int_equal(sx_kit_workers_refused(ws), 0);
    assert_false(P.peers[0].pending);
    sx_kit_workers_stop(ws);
    for (size_t i = 0; i < P.n; i++) {
        sx_net_close(P.fds[i]);
        sx_kit_workers_socket_closed(ws, P.ports[i]);
    }
    sx_kit_workers_free(ws);
    for (int i = 0; i < 5; i++)
        close(c[i]);
    pthread_mutex_destroy(&P.mu);
}

/* Many addresses (127.0.0.2 .. 127.0.0.201, one each at most): the map of
 * counts grows, and gives every place back. */
typedef struct mrec {
    pthread_mutex_t mu;
    sx_kit_peer peers[512];
    int fds[512];
    size_t n;
} mrec;

static mrec M;

static void on_adopt_many(void *arg, unsigned worker, int fd, unsigned port_index, const sx_kit_peer *peer)
{
    (void)worker;
    (void)port_index;
    mrec *m = arg;
    pthread_mutex_lock(&m->mu);
    if (m->n < 512) {
        m->peers[m->n] = *peer;
        m->fds[m->n++] = fd;
    } else {
        sx_net_close(fd);
    }
    pthread_mutex_unlock(&m->mu);
}

static int connect_from(uint32_t src, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in b = {.sin_family = AF_INET};
    b.sin_addr.s_addr = htonl(src);
    assert_int_equal(bind(fd, (struct sockaddr *)&b, sizeof b), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static size_t many_count(size_t want)
{
    for (int tries = 0; tries < 300; tries++) {
        pthread_mutex_lock(&M.mu);
        size_t n = M.n;
        pthread_mutex_unlock(&M.mu);
        if (n >= want)
            break;
        usleep(10000);
    }
    usleep(50000);
    pthread_mutex_lock(&M.mu);
    size_t n = M.n;
    pthread_mutex_unlock(&M.mu);
    return n;
}

static void test_pending_many_addresses(void **state)
{
    (void)state;
    enum { A = 200 };
    memset(&M, 0, sizeof M);
    pthread_mutex_init(&M.mu, NULL);
    uint16_t ports[1] = {0};
    sx_kit_workers_opts o = {
        .n_workers = 1,
        .host = "127.0.0.1",
        .ports = ports,
        .n_ports = 1,
        .max_pending_per_addr = 1,
        .limit_loopback = true,
        .adopt = on_adopt_many,
        .arg = &M,
    };
    sx_kit_workers *ws;
    assert_ok(sx_kit_workers_new(&o, &ws));
    assert_ok(sx_kit_workers_start(ws));
    uint16_t port = sx_kit_workers_port(ws, 0);
    static int c[3 * A];
    size_t nc = 0;
    for (int round = 0; round < 2; round++)
        for (uint32_t i = 0; i < A; i++)
            c[nc++] = connect_from(0x7f000002 + i, port);
    assert_int_equal(many_count(A), A);
    assert_int_equal(sx_kit_workers_refused(ws), A);
    /* every handshake done, in an order unrelated to the table's */
    pthread_mutex_lock(&M.mu);
    for (size_t k = 0; k < A; k++)
        sx_kit_workers_handshake_done(ws, &M.peers[(k * 7) % A]);
    for (size_t k = 0; k < A; k++)
        assert_false(M.peers[k].pending);
    pthread_mutex_unlock(&M.mu);
    for (uint32_t i = 0; i < A; i++)
        c[nc++] = connect_from(0x7f000002 + i, port);
    assert_int_equal(many_count(2 * A), 2 * A);
    assert_int_equal(sx_kit_workers_refused(ws), A);
    sx_kit_workers_stop(ws);
    pthread_mutex_lock(&M.mu);
    for (size_t k = 0; k < M.n; k++) {
        sx_kit_workers_handshake_done(ws, &M.peers[k]);
        sx_net_close(M.fds[k]);
    }
    pthread_mutex_unlock(&M.mu);
    sx_kit_workers_free(ws);
    for (size_t i = 0; i < nc; i++)
        close(c[i]);
    pthread_mutex_destroy(&M.mu);
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
        cmocka_unit_test(test_pending_limit),
        cmocka_unit_test(test_pending_many_addresses),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
