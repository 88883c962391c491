/* Router kit: listening sockets and worker threads (see workers.h). */
#define _GNU_SOURCE /* pthread_setname_np */
#include "kit/workers.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "kit/say.h"
#include "transport/net.h"

/* A socket on its way from worker 0 to the worker that adopts it. */
typedef struct handover {
    sx_loop_task task;
    sx_kit_workers *ws;
    unsigned worker;
    unsigned port_index;
    int fd;
    sx_kit_peer peer;
} handover;

/* One address with unfinished handshakes; n == 0: a free slot. */
typedef struct pending_slot {
    uint8_t addr[16];
    uint32_t n;
} pending_slot;

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
    /* Unfinished handshakes by address: open addressing with linear
     * probing, under pend_mu (worker 0 counts, any worker gives back). */
    pthread_mutex_t pend_mu;
    pending_slot *pend;
    size_t pend_cap, pend_used;
    uint64_t pend_seed;
    unsigned max_pending;
    uint64_t refused;            /* atomic */
    uint64_t pauses;             /* atomic */
    sx_loop_timer pause;         /* worker 0: listeners resume when it fires */
    uint64_t trim_closed;        /* worker 0: sockets closed at the last trim */
    int64_t trim_ms;             /* worker 0: when */
    int64_t last_report_ms;      /* worker 0: the last accept failure printed */
    uint64_t unreported;         /* worker 0: failures since then */
    int64_t refused_report_ms;   /* worker 0: the last refusals said */
    uint64_t refused_unreported; /* worker 0: refusals since then */
};

/* ---- unfinished handshakes by address ---- */

static bool is_loopback(const uint8_t a[16])
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t v6lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return (memcmp(a, v4mapped, 12) == 0 && a[12] == 127) || memcmp(a, v6lo, 16) == 0;
}

static size_t pend_home(const sx_kit_workers *ws, const uint8_t a[16])
{
    uint64_t lo, hi;
    memcpy(&lo, a, 8);
    memcpy(&hi, a + 8, 8);
    return (size_t)(sx_mix64(sx_mix64(lo ^ ws->pend_seed) ^ hi) & (ws->pend_cap - 1));
}

/* The slot of a, or the free slot where it would go (pend_cap > 0). */
static size_t pend_find(const sx_kit_workers *ws, const uint8_t a[16])
{
    size_t i = pend_home(ws, a);
    while (ws->pend[i].n && memcmp(ws->pend[i].addr, a, 16) != 0)
        i = (i + 1) & (ws->pend_cap - 1);
    return i;
}

static bool pend_grow(sx_kit_workers *ws)
{
    size_t cap = ws->pend_cap ? ws->pend_cap * 2 : 64;
    pending_slot *old = ws->pend;
    size_t old_cap = ws->pend_cap;
    pending_slot *t = calloc(cap, sizeof *t);
    if (!t)
        return false;
    ws->pend = t;
    ws->pend_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].n)
            ws->pend[pend_find(ws, old[i].addr)] = old[i];
    free(old);
    return true;
}

/* Counts one more unfinished handshake of peer's address; false when the
 * address has its maximum already. A socket that cannot be counted (no
 * memory, or loopback) is let in uncounted. */
static bool pend_take(sx_kit_workers *ws, sx_kit_peer *peer)
{
    peer->pending = false;
    if (!ws->o.limit_loopback && is_loopback(peer->addr))
        return true;
    bool ok = true;
    pthread_mutex_lock(&ws->pend_mu);
    if ((ws->pend_used + 1) * 2 > ws->pend_cap && !pend_grow(ws)) {
        pthread_mutex_unlock(&ws->pend_mu);
        return true;
    }
    pending_slot *sl = &ws->pend[pend_find(ws, peer->addr)];
    if (sl->n >= ws->max_pending) {
        ok = false;
    } else {
        if (sl->n++ == 0) {
            memcpy(sl->addr, peer->addr, 16);
            ws->pend_used++;
        }
        peer->pending = true;
    }
    pthread_mutex_unlock(&ws->pend_mu);
    return ok;
}

void sx_kit_workers_handshake_done(sx_kit_workers *ws, sx_kit_peer *peer)
{
    if (!ws || !peer || !peer->pending)
        return;
    peer->pending = false;
    pthread_mutex_lock(&ws->pend_mu);
    size_t i = ws->pend_cap ? pend_find(ws, peer->addr) : 0;
    if (ws->pend_cap && ws->pend[i].n && --ws->pend[i].n == 0) {
        /* Deleted with a backward shift: every entry after it in the probe
         * run moves up if its home allows, so no tombstones are needed. */
        ws->pend_used--;
        size_t mask = ws->pend_cap - 1, j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (!ws->pend[j].n)
                break;
            size_t home = pend_home(ws, ws->pend[j].addr);
            /* j's entry may fill the hole at i unless its home lies in
             * (i, j] cyclically */
            if (((j - home) & mask) >= ((j - i) & mask)) {
                ws->pend[i] = ws->pend[j];
                i = j;
            }
        }
        ws->pend[i].n = 0;
    }
    pthread_mutex_unlock(&ws->pend_mu);
}

/* ---- accepting ---- */

static void listeners_watch(sx_kit_workers *ws, bool on)
{
    for (size_t i = 0; i < ws->n_listen; i++) {
        if (!on)
            sx_loop_io_stop(ws->w[0].loop, &ws->listen_io[i]);
        else if (sx_loop_io_start(ws->w[0].loop, &ws->listen_io[i], SX_EV_READ) != SX_OK)
            fprintf(stderr, "cannot watch the listening socket again\n");
    }
}

static void pause_cb(sx_loop *loop, sx_loop_timer *t)
{
    (void)loop;
    sx_kit_workers *ws = t->data;
    if (!ws->listening_stopped && !__atomic_load_n(&ws->stopping, __ATOMIC_ACQUIRE))
        listeners_watch(ws, true);
}

/* accept failed: the listener stays readable while the queued connection
 * cannot be taken, so instead of trying again at once (worker 0 would spin)
 * the listeners are not watched for SX_KIT_ACCEPT_PAUSE_MS. Queued
 * connections wait in the backlog meanwhile, and are taken once
 * descriptors are free again. Reported at most once a minute. */
static void accept_failed(sx_kit_workers *ws, int err)
{
    __atomic_add_fetch(&ws->pauses, 1, __ATOMIC_RELAXED);
    ws->unreported++;
    int64_t now = sx_loop_now_ms();
    if (ws->last_report_ms == 0 || now - ws->last_report_ms >= 60000) {
        SX_SAY(SX_SAY_WARN, "accept failed: %s; not accepting for %d ms (%llu time(s) since the last report)",
               strerror(err), SX_KIT_ACCEPT_PAUSE_MS, (unsigned long long)ws->unreported);
        ws->last_report_ms = now;
        ws->unreported = 0;
    }
    listeners_watch(ws, false);
    sx_loop_timer_start(ws->w[0].loop, &ws->pause, SX_KIT_ACCEPT_PAUSE_MS, 0);
}

/* A socket was closed at accept: its address had too many unfinished
 * handshakes. Said at most once a minute, with the count since the last
 * time; the address is not said (the routers log no client addresses). */
static void refused_report(sx_kit_workers *ws)
{
    ws->refused_unreported++;
    int64_t now = sx_loop_now_ms();
    if (ws->refused_report_ms != 0 && now - ws->refused_report_ms < 60000)
        return;
    SX_SAY(SX_SAY_WARN, "closed %llu connection(s) at accept since the last report: their address had %u "
                        "unfinished handshakes",
           (unsigned long long)ws->refused_unreported, ws->max_pending);
    ws->refused_report_ms = now;
    ws->refused_unreported = 0;
}

static void adopt_task_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    handover *h = t->data;
    sx_kit_workers *ws = h->ws;
    if (__atomic_load_n(&ws->stopping, __ATOMIC_ACQUIRE)) {
        sx_kit_workers_handshake_done(ws, &h->peer);
        sx_net_close(h->fd);
        sx_kit_workers_socket_closed(ws, h->port_index);
    } else {
        ws->o.adopt(ws->o.arg, h->worker, h->fd, h->port_index, &h->peer);
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
        int fd, err = 0;
        sx_kit_peer peer = {0};
        sx_status st = sx_net_accept_peer(io->fd, &fd, peer.addr, &err);
        if (st == SX_E_WOULD_BLOCK)
            return;
        if (st != SX_OK) {
            accept_failed(ws, err);
            return;
        }
        __atomic_add_fetch(&ws->accepted[port_index], 1, __ATOMIC_RELAXED);
        handover *h = NULL;
        if (!pend_take(ws, &peer)) {
            __atomic_add_fetch(&ws->refused, 1, __ATOMIC_RELAXED);
            refused_report(ws);
        } else if (!(h = calloc(1, sizeof *h))) {
            sx_kit_workers_handshake_done(ws, &peer);
        }
        if (!h) {
            sx_net_close(fd);
            sx_kit_workers_socket_closed(ws, port_index);
            continue;
        }
        h->ws = ws;
        h->worker = ws->next_worker++ % ws->n;
        h->port_index = port_index;
        h->fd = fd;
        h->peer = peer;
        h->task.cb = adopt_task_cb;
        h->task.data = h;
        sx_loop_post(ws->w[h->worker].loop, &h->task);
    }
}

/* Worker 0, each tick: memory the connections freed goes back to the
 * system once SX_KIT_TRIM_CLOSED sockets closed since the last time, at
 * most every SX_KIT_TRIM_MS. glibc's malloc keeps freed memory in each
 * thread's arena, and returns only the top of a heap by itself: after a
 * burst of connections (each some 45 KB while in TLS) the freed chunks lie
 * between live ones, so without malloc_trim the router would stay at its
 * peak. */
#define SX_KIT_TRIM_CLOSED 256
#define SX_KIT_TRIM_MS 10000

static void maybe_trim(sx_kit_workers *ws)
{
#ifdef __GLIBC__
    uint64_t closed = 0;
    for (size_t i = 0; i < ws->n_listen; i++)
        closed += __atomic_load_n(&ws->closed[i], __ATOMIC_RELAXED);
    int64_t now = sx_loop_now_ms();
    if (closed - ws->trim_closed < SX_KIT_TRIM_CLOSED || now - ws->trim_ms < SX_KIT_TRIM_MS)
        return;
    ws->trim_closed = closed;
    ws->trim_ms = now;
    malloc_trim(0);
#else
    (void)ws;
#endif
}

static void tick_cb(sx_loop *loop, void *data)
{
    (void)loop;
    kit_worker *w = data;
    w->ws->o.tick(w->ws->o.arg, w->index);
    if (w->index == 0)
        maybe_trim(w->ws);
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
    if (ws->w && ws->w[0].loop)
        sx_loop_timer_stop(ws->w[0].loop, &ws->pause);
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
    ws->max_pending = o->max_pending_per_addr ? o->max_pending_per_addr : SX_KIT_DEFAULT_MAX_PENDING;
    ws->pend_seed = sx_mix64((uint64_t)(uintptr_t)ws ^ (uint64_t)time(NULL));
    pthread_mutex_init(&ws->pend_mu, NULL);
    sx_loop_timer_init(&ws->pause, pause_cb, ws);
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
        /* Named for the control port's `threads` (at most 15 characters)
         * here, before start returns, so that no listing sees it unnamed. */
        char name[16];
        snprintf(name, sizeof name, "worker %u", i % 10000000u);
        pthread_setname_np(ws->w[i].thread, name);
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

static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

void sx_kit_block_stop_signals(void)
{
    sigset_t set;
    stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int sx_kit_wait_stop_signal(void)
{
    sigset_t set;
    stop_signals(&set);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    SX_SAY(SX_SAY_NOTE, "Received %s, stopping the server...", sig == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    return sig;
}

void sx_kit_workers_refuse(sx_kit_workers *ws, int fd, unsigned port_index, const sx_kit_peer *peer)
{
    sx_kit_peer p = *peer;
    sx_kit_workers_handshake_done(ws, &p);
    sx_net_close(fd);
    sx_kit_workers_socket_closed(ws, port_index);
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
    free(ws->pend);
    pthread_mutex_destroy(&ws->pend_mu);
    free(ws);
}

uint64_t sx_kit_workers_refused(const sx_kit_workers *ws)
{
    return __atomic_load_n(&ws->refused, __ATOMIC_RELAXED);
}

uint64_t sx_kit_workers_accept_pauses(const sx_kit_workers *ws)
{
    return __atomic_load_n(&ws->pauses, __ATOMIC_RELAXED);
}

sx_status sx_kit_raise_nofile(uint64_t *before, uint64_t *after)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return SX_E_IO;
    if (before)
        *before = (uint64_t)rl.rlim_cur;
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            return SX_E_IO;
    }
    if (after)
        *after = (uint64_t)rl.rlim_cur;
    return SX_OK;
}

/* The first TLS record is whole in fd's receive queue, or what is there is
 * not the start of a client hello (the TLS step then fails it at once), or
 * the socket is closed or failed (the step sees it). Otherwise false, with
 * the receive low-water mark set to the bytes the record needs. */
static bool first_record_ready(int fd)
{
    uint8_t h[6]; /* record header, and the handshake message type */
    ssize_t n = recv(fd, h, sizeof h, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0)
        return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    if (n == 0 || h[0] != 22 || (n >= 2 && h[1] != 3)) /* closed, or no TLS handshake record */
        return true;
    int want = (int)sizeof h;
    if (n == (ssize_t)sizeof h) {
        size_t len = (size_t)h[3] << 8 | h[4];
        if (len > 16384 || h[5] != 1) /* too long for a record, or not a client hello */
            return true;
        want = (int)(5 + len);
        int avail = 0;
        if (ioctl(fd, FIONREAD, &avail) != 0 || avail >= want)
            return true;
    }
    /* Without the mark the socket would stay readable: take the record as
     * it is then, rather than spin. */
    return setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want) != 0;
}

const char *sx_kit_io_why(sx_status st)
{
    return st == SX_E_CLOSED ? "peer closed" : st == SX_E_IO ? "socket error"
                                                             : "TLS error";
}

sx_status sx_kit_tls_step(sx_tls_ctx *ctx, int fd, sx_tls_conn **tls, bool log_errors)
{
    if (!*tls) {
        if (!first_record_ready(fd))
            return SX_E_WOULD_BLOCK;
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
        SX_TRY(sx_tls_conn_new_server(ctx, fd, tls));
    }
    sx_status st = sx_tls_handshake(*tls);
    if (st != SX_OK && st != SX_E_WOULD_BLOCK && log_errors)
        fprintf(stderr, "TLS error: %s\n", sx_tls_conn_error(*tls));
    return st;
}
