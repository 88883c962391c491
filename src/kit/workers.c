/* Router kit: listening sockets and worker threads (see workers.h). */
#include "kit/workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "transport/net.h"

/* A socket on its way from worker 0 to the worker that adopts it. */
typedef struct handover {
    sx_loop_task task;
    sx_kit_workers *ws;
    unsigned worker;
    unsigned port_index;
    int fd;
} handover;

typedef struct kit_worker {
    sx_kit_workers *ws;
    unsigned index;
    sx_loop *loop;
    pthread_t thread;
    bool running;
} kit_worker;

struct sx_kit_workers {
    sx_kit_workers_opts o;
    unsigned n;
    kit_worker *w;
    size_t n_listen;
    int listen_fds[SX_KIT_MAX_PORTS];
    sx_loop_io listen_io[SX_KIT_MAX_PORTS];
    uint16_t ports[SX_KIT_MAX_PORTS];
    uint64_t accepted[SX_KIT_MAX_PORTS]; /* atomic */
    uint64_t closed[SX_KIT_MAX_PORTS];   /* atomic */
    unsigned next_worker;                /* worker 0's thread only */
    bool stopping;                       /* atomic */
    bool listening_stopped;
};

static void adopt_task_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    handover *h = t->data;
    sx_kit_workers *ws = h->ws;
    if (__atomic_load_n(&ws->stopping, __ATOMIC_ACQUIRE)) {
        sx_net_close(h->fd);
        sx_kit_workers_socket_closed(ws, h->port_index);
    } else {
        ws->o.adopt(ws->o.arg, h->worker, h->fd, h->port_index);
    }
    free(h);
}

static void accept_cb(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)loop;
    (void)events;
    sx_kit_workers *ws = io->data;
    unsigned port_index = (unsigned)(io - ws->listen_io);
    /* A bounded batch, so a flood of connections does not starve worker 0's
     * own connections; the listener stays readable for the rest. */
    for (int i = 0; i < 64; i++) {
        int fd;
        if (sx_net_accept(io->fd, 0, &fd) != SX_OK)
            return;
        __atomic_add_fetch(&ws->accepted[port_index], 1, __ATOMIC_RELAXED);
        handover *h = calloc(1, sizeof *h);
        if (!h) {
            sx_net_close(fd);
            sx_kit_workers_socket_closed(ws, port_index);
            continue;
        }
        h->ws = ws;
        h->worker = ws->next_worker++ % ws->n;
        h->port_index = port_index;
        h->fd = fd;
        h->task.cb = adopt_task_cb;
        h->task.data = h;
        sx_loop_post(ws->w[h->worker].loop, &h->task);
    }
}

static void tick_cb(sx_loop *loop, void *data)
{
    (void)loop;
    kit_worker *w = data;
    w->ws->o.tick(w->ws->o.arg, w->index);
}

static void *worker_main(void *arg)
{
    kit_worker *w = arg;
    sx_kit_workers *ws = w->ws;
    if (ws->o.thread_start)
        ws->o.thread_start(ws->o.arg, w->index);
    if (sx_loop_run(w->loop) != SX_OK)
        fprintf(stderr, "worker %u: event loop failed\n", w->index);
    if (ws->o.thread_end)
        ws->o.thread_end(ws->o.arg, w->index);
    return NULL;
}

static void close_listeners(sx_kit_workers *ws)
{
    if (ws->listening_stopped)
        return;
    ws->listening_stopped = true;
    for (size_t i = 0; i < ws->n_listen; i++) {
        if (ws->w && ws->w[0].loop)
            sx_loop_io_stop(ws->w[0].loop, &ws->listen_io[i]);
        sx_net_close(ws->listen_fds[i]);
        ws->listen_fds[i] = -1;
    }
}

sx_status sx_kit_workers_new(const sx_kit_workers_opts *o, sx_kit_workers **out)
{
    *out = NULL;
    SX_ENSURE(o && o->adopt && o->ports && o->n_ports >= 1 && o->n_ports <= SX_KIT_MAX_PORTS, SX_E_USAGE);
    sx_kit_workers *ws = calloc(1, sizeof *ws);
    if (!ws)
        return SX_E_NOMEM;
    ws->o = *o;
    for (size_t i = 0; i < SX_KIT_MAX_PORTS; i++)
        ws->listen_fds[i] = -1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    ws->n = o->n_workers ? o->n_workers : (cores > 0 ? (unsigned)cores : 1);
    ws->w = calloc(ws->n, sizeof *ws->w);
    sx_status st = ws->w ? SX_OK : SX_E_NOMEM;
    for (unsigned i = 0; st == SX_OK && i < ws->n; i++) {
        ws->w[i].ws = ws;
        ws->w[i].index = i;
        st = sx_loop_new(&ws->w[i].loop);
        if (st == SX_OK && o->tick && o->tick_ms)
            sx_loop_set_tick(ws->w[i].loop, o->tick_ms, tick_cb, &ws->w[i]);
    }
    for (size_t i = 0; st == SX_OK && i < o->n_ports; i++) {
        st = sx_net_listen(o->host ? o->host : "0.0.0.0", o->ports[i], o->backlog ? o->backlog : 1024,
                           &ws->listen_fds[i], &ws->ports[i]);
        if (st != SX_OK)
            break;
        ws->n_listen++;
        sx_loop_io_init(&ws->listen_io[i], ws->listen_fds[i], accept_cb, ws);
        st = sx_loop_io_start(ws->w[0].loop, &ws->listen_io[i], SX_EV_READ);
    }
    if (st != SX_OK) {
        sx_kit_workers_free(ws);
        return st;
    }
    *out = ws;
    return SX_OK;
}

sx_status sx_kit_workers_start(sx_kit_workers *ws)
{
    for (unsigned i = 0; i < ws->n; i++) {
        if (pthread_create(&ws->w[i].thread, NULL, worker_main, &ws->w[i]) != 0) {
            sx_kit_workers_stop(ws);
            return SX_E_INTERNAL;
        }
        ws->w[i].running = true;
    }
    return SX_OK;
}

unsigned sx_kit_workers_count(const sx_kit_workers *ws)
{
    return ws->n;
}

sx_loop *sx_kit_workers_loop(const sx_kit_workers *ws, unsigned worker)
{
    return worker < ws->n ? ws->w[worker].loop : NULL;
}

size_t sx_kit_workers_n_ports(const sx_kit_workers *ws)
{
    return ws->n_listen;
}

uint16_t sx_kit_workers_port(const sx_kit_workers *ws, size_t i)
{
    return i < ws->n_listen ? ws->ports[i] : 0;
}

bool sx_kit_workers_stopping(const sx_kit_workers *ws)
{
    return __atomic_load_n(&ws->stopping, __ATOMIC_ACQUIRE);
}

uint64_t sx_kit_workers_accepted(const sx_kit_workers *ws, size_t i)
{
    return i < ws->n_listen ? __atomic_load_n(&ws->accepted[i], __ATOMIC_RELAXED) : 0;
}

uint64_t sx_kit_workers_closed(const sx_kit_workers *ws, size_t i)
{
    return i < ws->n_listen ? __atomic_load_n(&ws->closed[i], __ATOMIC_RELAXED) : 0;
}

void sx_kit_workers_socket_closed(sx_kit_workers *ws, unsigned port_index)
{
    if (port_index < SX_KIT_MAX_PORTS)
        __atomic_add_fetch(&ws->closed[port_index], 1, __ATOMIC_RELAXED);
}

void sx_kit_workers_stop(sx_kit_workers *ws)
{
    if (!ws)
        return;
    __atomic_store_n(&ws->stopping, true, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < ws->n; i++)
        if (ws->w[i].running)
            sx_loop_stop(ws->w[i].loop);
    for (unsigned i = 0; i < ws->n; i++) {
        if (ws->w[i].running)
            pthread_join(ws->w[i].thread, NULL);
        ws->w[i].running = false;
    }
    /* Tasks posted after a loop stopped (hand-overs, deliveries between
     * workers) run now; a task may post another, hence twice. */
    for (int round = 0; round < 2; round++)
        for (unsigned i = 0; i < ws->n; i++)
            sx_loop_drain(ws->w[i].loop);
    close_listeners(ws);
}

void sx_kit_workers_free(sx_kit_workers *ws)
{
    if (!ws)
        return;
    __atomic_store_n(&ws->stopping, true, __ATOMIC_RELEASE);
    close_listeners(ws);
    if (ws->w)
        for (unsigned i = 0; i < ws->n; i++)
            sx_loop_free(ws->w[i].loop);
    free(ws->w);
    free(ws);
}

sx_status sx_kit_tls_step(sx_tls_conn *tls, bool log_errors)
{
    sx_status st = sx_tls_handshake(tls);
    if (st != SX_OK && st != SX_E_WOULD_BLOCK && log_errors)
        fprintf(stderr, "TLS error: %s\n", sx_tls_conn_error(tls));
    return st;
}
