/* Event-loop SMP client: name resolution on a short-lived thread, a
 * non-blocking TCP connect, non-blocking TLS and SMP handshakes, a queue of
 * encoded commands flushed as batches from a loop task, replies matched by
 * corrId, events, keep-alive PINGs and the connect deadline from the
 * client's own loop timer. */
#include "smp_client/smp_client_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "smp_client/smp_client_int.h"
#include "crypto/util.h"
#include "transport/net.h"

#define DEFAULT_TIMEOUT_MS 15000
#define DEFAULT_PING_MS 600000u
#define MAX_MISSED_PINGS 3 /* the reference gives up after 3 unanswered PINGs */
#define MAX_READS_PER_EVENT 16

/* ST_SERVICE: the hello carried a service, the router's answer to it is
 * the next block. */
typedef enum state { ST_RESOLVE,
                     ST_CONNECT,
                     ST_SOCKS,
                     ST_TLS,
                     ST_HELLO,
                     ST_SERVICE,
                     ST_ACTIVE,
                     ST_DEAD } state;

/* A name being resolved on its own thread. The thread and the loop share
 * it under mu: the thread posts task when done unless the client gave the
 * job up first (orphan: the thread frees it); once posted, the task frees
 * it, acting on the result only if cl is still set. */
typedef struct resolve_job {
    pthread_mutex_t mu;
    bool orphan, posted;
    sx_loop *loop;
    sx_smp_aclient *cl; /* loop thread only */
    sx_loop_task task;
    char host[256];
    uint16_t port;
    sx_status st;
    size_t n;
    sx_net_addr addrs[SX_NET_MAX_ADDRS];
} resolve_job;

/* A command queued or sent, waiting for its answer. */
typedef struct pend {
    struct pend *next;
    uint8_t corr_id[SX_SMP_CORR_ID_LEN];
    sx_smp_aclient_reply_cb cb;
    void *arg;
    uint8_t *t; /* the encoded transmission until it is in a block */
    size_t t_len;
} pend;

typedef struct outblk {
    struct outblk *next;
    uint8_t data[SX_BLOCK_SIZE];
} outblk;

typedef struct plist {
    pend *head, *tail;
} plist;

struct sx_smp_aclient {
    sx_loop *loop;
    sx_loop_io io;
    int fd;
    sx_tls_ctx *ctx;
    sx_tls_conn *tls;
    sx_smp_session sess;
    sx_smp_client_config hcfg;
    const sx_smp_client_service_opts *svc; /* borrowed; NULL: none */
    state st;
    bool connected; /* connected(SX_OK) was delivered */
    bool flush_posted, close_posted;
    sx_loop_timer timer;
    unsigned tick_ms;
    resolve_job *job;
    sx_net_addr addrs[SX_NET_MAX_ADDRS];
    size_t n_addrs, next_addr;
    sx_smp_aclient_callbacks cbs;
    int timeout_ms;
    int64_t started_ms, last_io_ms;
    unsigned ping_ms;
    unsigned missed_pings;
    plist unsent, waiting;
    outblk *out_head, *out_tail;
    size_t wdone;
    uint8_t *rbuf;
    size_t rdone;
    sx_batch batch;
    sx_loop_task flush_task, close_task, free_task, start_task;
    sx_smp_aclient_stats stats;
    /* Through a SOCKS5 proxy: the route (NULL: direct), the destination
     * the proxy is asked for, and the exchange while ST_SOCKS. */
    sx_socks_route *socks_route;
    char dest_host[256];
    uint16_t dest_port;
    sx_socks_client *socks;
};

static void io_cb(sx_loop *loop, sx_loop_io *io, unsigned events);

/* ---- lists ---- */

static void plist_push(plist *l, pend *p)
{
    p->next = NULL;
    if (l->tail)
        l->tail->next = p;
    else
        l->head = p;
    l->tail = p;
}

static pend *plist_pop(plist *l)
{
    pend *p = l->head;
    if (p) {
        l->head = p->next;
        if (!l->head)
            l->tail = NULL;
    }
    return p;
}

static void pend_free(pend *p)
{
    if (p->t) {
        sx_wipe(p->t, p->t_len);
        free(p->t);
    }
    free(p);
}

/* ---- teardown ---- */

static void free_task_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    free(t->data);
}

static void job_free(resolve_job *job)
{
    pthread_mutex_destroy(&job->mu);
    free(job);
}

/* Detaches a resolution still under way from the client. */
static void job_abandon(sx_smp_aclient *cl)
{
    resolve_job *job = cl->job;
    if (!job)
        return;
    cl->job = NULL;
    pthread_mutex_lock(&job->mu);
    bool posted = job->posted;
    if (!posted)
        job->orphan = true; /* the thread frees it */
    pthread_mutex_unlock(&job->mu);
    if (posted)
        job->cl = NULL; /* the posted task frees it */
}

/* Ends the client once: releases the connection, fails every pending
 * command with status, delivers the final callback and frees cl from a
 * loop task. */
static void teardown(sx_smp_aclient *cl, sx_status status)
{
    if (cl->st == ST_DEAD)
        return;
    cl->st = ST_DEAD;
    job_abandon(cl);
    sx_loop_timer_stop(cl->loop, &cl->timer);
    sx_loop_io_stop(cl->loop, &cl->io);
    /* Best effort close_notify after a clean close. */
    if (status == SX_OK && cl->tls && sx_tls_established(cl->tls) && sx_tls_shutdown(cl->tls) != SX_OK) {
    }
    sx_tls_conn_free(cl->tls);
    cl->tls = NULL;
    sx_net_close(cl->fd);
    cl->fd = -1;
    sx_tls_ctx_free(cl->ctx);
    cl->ctx = NULL;
    free(cl->socks);
    cl->socks = NULL;
    free(cl->socks_route);
    cl->socks_route = NULL;
    while (cl->out_head) {
        outblk *b = cl->out_head;
        cl->out_head = b->next;
        free(b);
    }
    cl->out_tail = NULL;
    if (cl->rbuf) {
        sx_wipe(cl->rbuf, SX_BLOCK_SIZE);
        free(cl->rbuf);
        cl->rbuf = NULL;
    }
    sx_status pend_status = status == SX_OK ? SX_E_CLOSED : status;
    /* Sent commands first (they were queued earlier), then unsent ones;
     * a callback may not queue more (the client is dead). */
    for (plist *l = &cl->waiting;; l = &cl->unsent) {
        pend *p;
        while ((p = plist_pop(l)) != NULL) {
            if (p->cb)
                p->cb(cl, pend_status, NULL, p->arg);
            pend_free(p);
        }
        if (l == &cl->unsent)
            break;
    }
    sx_smp_session_cleanup(&cl->sess);
    if (cl->connected) {
        if (cl->cbs.closed)
            cl->cbs.closed(cl, status, cl->cbs.arg);
    } else {
        cl->cbs.connected(cl, status == SX_OK ? SX_E_CLOSED : status, cl->cbs.arg);
    }
    cl->free_task.cb = free_task_cb;
    cl->free_task.data = cl;
    sx_loop_post(cl->loop, &cl->free_task);
}

/* ---- output ---- */

static void update_interest(sx_smp_aclient *cl)
{
    if (cl->st == ST_DEAD)
        return;
    unsigned ev = SX_EV_READ;
    if (cl->st == ST_CONNECT)
        ev = SX_EV_WRITE;
    else if (cl->st == ST_SOCKS)
        ev = cl->socks && cl->socks->out_off < cl->socks->out_len ? SX_EV_WRITE : SX_EV_READ;
    else if (cl->st == ST_TLS)
        ev = sx_tls_conn_want(cl->tls) == SX_TLS_WANT_WRITE ? SX_EV_WRITE : SX_EV_READ;
    else if (cl->out_head || sx_tls_conn_want(cl->tls) == SX_TLS_WANT_WRITE)
        ev |= SX_EV_WRITE;
    if (sx_loop_io_start(cl->loop, &cl->io, ev) != SX_OK)
        teardown(cl, SX_E_IO);
}

static bool queue_block(sx_smp_aclient *cl, const uint8_t block[SX_BLOCK_SIZE])
{
    outblk *b = malloc(sizeof *b);
    if (!b)
        return false;
    memcpy(b->data, block, SX_BLOCK_SIZE);
    b->next = NULL;
    if (cl->out_tail)
        cl->out_tail->next = b;
    else
        cl->out_head = b;
    cl->out_tail = b;
    return true;
}

/* Writes queued blocks until the socket would block. */
static void write_out(sx_smp_aclient *cl)
{
    while (cl->st != ST_DEAD && cl->out_head) {
        sx_status st = sx_tls_write(cl->tls, cl->out_head->data, SX_BLOCK_SIZE, &cl->wdone);
        if (st == SX_E_WOULD_BLOCK)
            return;
        if (st != SX_OK) {
            teardown(cl, st);
            return;
        }
        outblk *b = cl->out_head;
        cl->out_head = b->next;
        if (!cl->out_head)
            cl->out_tail = NULL;
        free(b);
        cl->wdone = 0;
        cl->stats.blocks_sent++;
        cl->last_io_ms = sx_loop_now_ms();
    }
}

/* Moves unsent commands into as few blocks as fit. */
static sx_status fill_blocks(sx_smp_aclient *cl)
{
    uint8_t block[SX_BLOCK_SIZE];
    while (cl->unsent.head) {
        SX_TRY(sx_batch_init(&cl->batch, sx_smp_session_batch_capacity(&cl->sess)));
        plist taken = {0};
        while (cl->unsent.head &&
               sx_batch_add(&cl->batch, sx_slice_of(cl->unsent.head->t, cl->unsent.head->t_len)) == SX_OK)
            plist_push(&taken, plist_pop(&cl->unsent));
        /* send refuses what cannot fit alone, so a fresh batch takes one. */
        SX_ENSURE(taken.head, SX_E_INTERNAL);
        sx_slice content;
        sx_status st = sx_batch_content(&cl->batch, &content);
        if (st == SX_OK)
            st = sx_smp_session_write_block(&cl->sess, content, block);
        if (st == SX_OK && !queue_block(cl, block))
            st = SX_E_NOMEM;
        /* Sent or not, the commands now wait (teardown fails them). */
        for (pend *p = taken.head; p; p = p->next) {
            sx_wipe(p->t, p->t_len);
            free(p->t);
            p->t = NULL;
        }
        if (taken.head) {
            if (cl->waiting.tail)
                cl->waiting.tail->next = taken.head;
            else
                cl->waiting.head = taken.head;
            cl->waiting.tail = taken.tail;
        }
        if (st != SX_OK)
            return st;
    }
    return SX_OK;
}

static void flush(sx_smp_aclient *cl)
{
    if (cl->st != ST_ACTIVE)
        return;
    sx_status st = fill_blocks(cl);
    if (st != SX_OK) {
        teardown(cl, st);
        return;
    }
    write_out(cl);
    update_interest(cl);
}

static void flush_task_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    sx_smp_aclient *cl = t->data;
    cl->flush_posted = false;
    flush(cl);
}

/* ---- input ---- */

static void dispatch(sx_smp_aclient *cl, sx_slice item)
{
    sx_smp_client_reply r;
    if (sx_smp_client_reply_from(&cl->sess, item, &r) != SX_OK) {
        teardown(cl, SX_E_NOMEM);
        return;
    }
    sx_slice corr = r.reply.t.corr_id;
    pend *prev = NULL, *p = cl->waiting.head;
    if (corr.len == SX_SMP_CORR_ID_LEN)
        for (; p; prev = p, p = p->next)
            if (memcmp(p->corr_id, corr.ptr, SX_SMP_CORR_ID_LEN) == 0)
                break;
    if (corr.len == SX_SMP_CORR_ID_LEN && p) {
        if (prev)
            prev->next = p->next;
        else
            cl->waiting.head = p->next;
        if (cl->waiting.tail == p)
            cl->waiting.tail = prev;
        if (p->cb)
            p->cb(cl, SX_OK, &r, p->arg);
        pend_free(p);
    } else if (cl->cbs.event) {
        cl->cbs.event(cl, &r, cl->cbs.arg);
    }
    sx_smp_client_reply_free(&r);
}

static void on_block(sx_smp_aclient *cl)
{
    sx_slice content;
    sx_status st = sx_smp_session_read_block(&cl->sess, cl->rbuf, &content);
    sx_slice items[SX_BATCH_MAX_ITEMS];
    size_t count = 0;
    if (st == SX_OK)
        st = sx_batch_decode(content, items, SX_BATCH_MAX_ITEMS, &count);
    if (st != SX_OK) {
        teardown(cl, SX_E_PROTOCOL);
        return;
    }
    /* The items point into rbuf, which stays put while they are handled. */
    for (size_t i = 0; i < count && cl->st == ST_ACTIVE; i++)
        dispatch(cl, items[i]);
}

/* The handshake is done: the client is connected. */
static void go_active(sx_smp_aclient *cl)
{
    if (cl->close_posted) {
        /* Closed while connecting: the close task ends it with
         * connected(SX_E_CLOSED), never connected(SX_OK) then closed. */
        sx_loop_io_stop(cl->loop, &cl->io);
        return;
    }
    cl->st = ST_ACTIVE;
    cl->connected = true;
    write_out(cl);
    if (cl->st == ST_DEAD)
        return;
    cl->cbs.connected(cl, SX_OK, cl->cbs.arg);
}

/* The service presented in the hello: the chain our TLS context sent, its
 * leaf key signing the service key (*leaf is the caller's to free). */
static sx_status service_config(sx_smp_aclient *cl, sx_smp_client_service *svc, sx_key **leaf)
{
    SX_ENSURE(cl->svc->service_key != NULL, SX_E_USAGE);
    SX_TRY(sx_tls_ctx_private_key(cl->ctx, leaf));
    svc->role = cl->svc->role;
    svc->leaf_key = *leaf;
    svc->service_key = cl->svc->service_key;
    svc->chain_len = sx_tls_ctx_chain_len(cl->ctx);
    for (size_t i = 0; i < svc->chain_len && i < SX_X509_CHAIN_MAX; i++)
        svc->chain[i] = sx_tls_ctx_cert(cl->ctx, i);
    return SX_OK;
}

static void on_server_hello(sx_smp_aclient *cl)
{
    sx_smp_tls_info info;
    sx_smp_tls_info_from_conn(cl->tls, &info);
    uint8_t reply[SX_BLOCK_SIZE];
    sx_transport_error te = SX_TE_NONE;
    sx_smp_client_service svc = {0};
    sx_key *leaf = NULL;
    sx_status st = SX_OK;
    if (cl->svc && (st = service_config(cl, &svc, &leaf)) == SX_OK)
        cl->hcfg.service = &svc;
    if (st == SX_OK)
        st = sx_smp_client_hs_process(&cl->hcfg, &info, cl->rbuf, reply, &cl->sess, &te);
    cl->hcfg.service = NULL;
    sx_key_free(leaf);
    if (st == SX_OK && !queue_block(cl, reply))
        st = SX_E_NOMEM;
    if (st != SX_OK) {
        teardown(cl, st);
        return;
    }
    if (cl->sess.service_pending) {
        cl->st = ST_SERVICE;
        write_out(cl);
        if (cl->st != ST_DEAD)
            update_interest(cl);
        return;
    }
    go_active(cl);
}

/* The router's answer to the service: its ServiceId, or a refusal. */
static void on_service_reply(sx_smp_aclient *cl)
{
    sx_transport_error te = SX_TE_NONE;
    sx_status st = sx_smp_client_hs_service_reply(&cl->sess, cl->rbuf, &te);
    if (st != SX_OK) {
        teardown(cl, st);
        return;
    }
    go_active(cl);
}

static void read_blocks(sx_smp_aclient *cl)
{
    for (int n = 0; n < MAX_READS_PER_EVENT && (cl->st == ST_HELLO || cl->st == ST_SERVICE || cl->st == ST_ACTIVE);
         n++) {
        if (!cl->rbuf) {
            cl->rbuf = malloc(SX_BLOCK_SIZE);
            if (!cl->rbuf) {
                teardown(cl, SX_E_NOMEM);
                return;
            }
            cl->rdone = 0;
        }
        sx_status st = sx_tls_read(cl->tls, cl->rbuf, SX_BLOCK_SIZE, &cl->rdone);
        if (st == SX_E_WOULD_BLOCK)
            return;
        if (st != SX_OK) {
            teardown(cl, st);
            return;
        }
        cl->rdone = 0;
        cl->last_io_ms = sx_loop_now_ms();
        cl->stats.blocks_received++;
        cl->missed_pings = 0;
        if (cl->st == ST_HELLO)
            on_server_hello(cl);
        else if (cl->st == ST_SERVICE)
            on_service_reply(cl);
        else
            on_block(cl);
        if (cl->st == ST_DEAD)
            return;
        /* Keep a buffer only while a block is being read. */
        free(cl->rbuf);
        cl->rbuf = NULL;
    }
}

static void tls_step(sx_smp_aclient *cl)
{
    sx_status st = sx_tls_handshake(cl->tls);
    if (st == SX_E_WOULD_BLOCK)
        return;
    if (st != SX_OK) {
        teardown(cl, st);
        return;
    }
    cl->st = ST_HELLO;
}

/* ---- connecting ---- */

/* Starts a connect to the next address; SX_E_IO from teardown when none
 * is left. */
static void connect_next(sx_smp_aclient *cl)
{
    while (cl->next_addr < cl->n_addrs) {
        int fd = -1;
        if (sx_net_connect_start(&cl->addrs[cl->next_addr++], &fd) != SX_OK)
            continue;
        cl->fd = fd;
        sx_loop_io_init(&cl->io, fd, io_cb, cl);
        cl->st = ST_CONNECT;
        if (sx_loop_io_start(cl->loop, &cl->io, SX_EV_WRITE) == SX_OK)
            return;
        sx_net_close(cl->fd);
        cl->fd = -1;
        teardown(cl, SX_E_IO);
        return;
    }
    teardown(cl, SX_E_IO);
}

static void start_tls(sx_smp_aclient *cl)
{
    sx_status st = sx_tls_conn_new_client(cl->ctx, cl->fd, cl->hcfg.key_hash, &cl->tls);
    if (st != SX_OK) {
        teardown(cl, st);
        return;
    }
    cl->st = ST_TLS;
}

/* The exchange with the SOCKS5 proxy, as far as the socket allows; on to
 * TLS once the proxy connected. Reads no more than the proxy's replies. */
static void socks_step(sx_smp_aclient *cl)
{
    sx_socks_client *s = cl->socks;
    while (!sx_socks_client_done(s)) {
        if (s->out_off < s->out_len) {
            ssize_t w = send(cl->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
            if (w > 0) {
                s->out_off += (size_t)w;
                continue;
            }
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return;
            teardown(cl, SX_E_IO);
            return;
        }
        size_t want = sx_socks_client_want(s);
        uint8_t buf[SX_SOCKS_REPLY_MAX];
        ssize_t r = want ? recv(cl->fd, buf, want, 0) : -1;
        if (r > 0) {
            sx_status st = sx_socks_client_feed(s, buf, (size_t)r);
            if (st != SX_OK) {
                teardown(cl, st);
                return;
            }
            continue;
        }
        if (r < 0 && want && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        teardown(cl, want ? SX_E_IO : SX_E_PROTOCOL);
        return;
    }
    free(cl->socks);
    cl->socks = NULL;
    start_tls(cl);
}

/* The TCP connect ended: on to SOCKS or TLS, or the next address. */
static void connect_done(sx_smp_aclient *cl)
{
    sx_loop_io_stop(cl->loop, &cl->io);
    if (sx_net_connect_finish(cl->fd) != SX_OK) {
        sx_net_close(cl->fd);
        cl->fd = -1;
        connect_next(cl);
        return;
    }
    sx_loop_io_init(&cl->io, cl->fd, io_cb, cl);
    if (cl->socks_route) {
        const sx_socks_route *r = cl->socks_route;
        cl->socks = malloc(sizeof *cl->socks);
        sx_status st = cl->socks ? sx_socks_client_init(cl->socks, cl->dest_host, cl->dest_port,
                                                        r->user[0] ? r->user : NULL, r->pass)
                                 : SX_E_NOMEM;
        if (st != SX_OK) {
            teardown(cl, st);
            return;
        }
        cl->st = ST_SOCKS;
        return;
    }
    start_tls(cl);
}

static void start_task_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    sx_smp_aclient *cl = t->data;
    if (cl->st == ST_RESOLVE)
        connect_next(cl);
}

static void resolved_task_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    resolve_job *job = t->data;
    sx_smp_aclient *cl = job->cl;
    if (cl) {
        cl->job = NULL;
        if (job->st != SX_OK) {
            teardown(cl, SX_E_IO);
        } else {
            memcpy(cl->addrs, job->addrs, job->n * sizeof job->addrs[0]);
            cl->n_addrs = job->n;
            connect_next(cl);
        }
    }
    /* The thread posted this under mu and may not have unlocked it yet;
     * once it has, it never touches job again. */
    pthread_mutex_lock(&job->mu);
    pthread_mutex_unlock(&job->mu);
    job_free(job);
}

static void *resolve_thread(void *arg)
{
    resolve_job *job = arg;
    job->st = sx_net_resolve(job->host, job->port, job->addrs, SX_NET_MAX_ADDRS, &job->n);
    pthread_mutex_lock(&job->mu);
    bool orphan = job->orphan;
    if (!orphan) {
        job->posted = true;
        sx_loop_post(job->loop, &job->task);
    }
    pthread_mutex_unlock(&job->mu);
    if (orphan)
        job_free(job);
    return NULL;
}

/* Resolves a host name on a detached thread; the result comes back as a
 * loop task. */
static sx_status resolve_start(sx_smp_aclient *cl, const char *host, uint16_t port)
{
    size_t hl = strlen(host);
    SX_ENSURE(hl > 0 && hl < sizeof cl->job->host, SX_E_USAGE);
    resolve_job *job = calloc(1, sizeof *job);
    if (!job)
        return SX_E_NOMEM;
    if (pthread_mutex_init(&job->mu, NULL) != 0) {
        free(job);
        return SX_E_INTERNAL;
    }
    memcpy(job->host, host, hl + 1);
    job->port = port;
    job->loop = cl->loop;
    job->cl = cl;
    job->task = (sx_loop_task){.cb = resolved_task_cb, .data = job};
    pthread_attr_t attr;
    pthread_t th;
    bool ok = pthread_attr_init(&attr) == 0;
    if (ok) {
        ok = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
             pthread_create(&th, &attr, resolve_thread, job) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!ok) {
        job_free(job);
        return SX_E_INTERNAL;
    }
    cl->job = job;
    return SX_OK;
}

static void io_cb(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)loop;
    sx_smp_aclient *cl = io->data;
    if (cl->st == ST_CONNECT) {
        connect_done(cl);
        if (cl->st == ST_SOCKS)
            events |= SX_EV_WRITE; /* the greeting goes at once */
        else if (cl->st != ST_TLS)
            return;
    }
    if (cl->st == ST_SOCKS) {
        socks_step(cl);
        if (cl->st == ST_SOCKS)
            update_interest(cl);
        if (cl->st != ST_TLS)
            return;
    }
    if (cl->st == ST_TLS) {
        tls_step(cl);
        if (cl->st == ST_TLS)
            update_interest(cl);
        if (cl->st != ST_HELLO)
            return;
        events |= SX_EV_READ; /* the hello may already be buffered */
    }
    if (cl->out_head && (events & (SX_EV_WRITE | SX_EV_ERROR)))
        write_out(cl);
    if (cl->st != ST_DEAD && (events & (SX_EV_READ | SX_EV_ERROR)))
        read_blocks(cl);
    /* Data buffered inside TLS raises no socket event: read it now. */
    for (int n = 0; n < 64 && cl->st != ST_DEAD && cl->tls && sx_tls_has_pending(cl->tls); n++)
        read_blocks(cl);
    update_interest(cl);
}

/* ---- keep-alive ---- */

static void ping_reply_cb(sx_smp_aclient *cl, sx_status status, sx_smp_client_reply *reply, void *arg)
{
    (void)arg;
    if (status == SX_OK && reply->ok && reply->reply.resp.tag == SX_SMP_R_PONG)
        cl->stats.pongs_received++;
}

void sx_smp_aclient_tick(sx_smp_aclient *cl)
{
    int64_t now = sx_loop_now_ms();
    if (cl->st != ST_ACTIVE && cl->st != ST_DEAD) {
        if (now - cl->started_ms > cl->timeout_ms)
            teardown(cl, SX_E_IO);
        return;
    }
    if (cl->st != ST_ACTIVE || now - cl->last_io_ms < (int64_t)cl->ping_ms)
        return;
    if (cl->missed_pings >= MAX_MISSED_PINGS) {
        teardown(cl, SX_E_IO);
        return;
    }
    sx_smp_cmd ping = {.tag = SX_SMP_C_PING};
    if (sx_smp_aclient_send(cl, sx_slice_of(NULL, 0), &ping, NULL, ping_reply_cb, NULL) != SX_OK) {
        teardown(cl, SX_E_NOMEM);
        return;
    }
    cl->missed_pings++;
    cl->stats.pings_sent++;
    /* Count the interval from the PING, not from the last block. */
    cl->last_io_ms = now;
}

static void timer_cb(sx_loop *loop, sx_loop_timer *t)
{
    sx_smp_aclient *cl = t->data;
    sx_smp_aclient_tick(cl);
    /* While connecting, wake up right at the deadline too. */
    if (cl->st != ST_ACTIVE && cl->st != ST_DEAD) {
        int64_t left = cl->started_ms + cl->timeout_ms - sx_loop_now_ms() + 1;
        unsigned next = left < 1 ? 1 : left < (int64_t)cl->tick_ms ? (unsigned)left
                                                                   : cl->tick_ms;
        sx_loop_timer_start(loop, t, next, cl->tick_ms);
    }
}

/* ---- API ---- */

sx_status sx_smp_aclient_connect(sx_loop *loop, const char *host, uint16_t port,
                                 const uint8_t key_hash[SX_FINGERPRINT_LEN], const sx_smp_aclient_opts *opts,
                                 const sx_smp_aclient_callbacks *cbs, sx_smp_aclient **out)
{
    *out = NULL;
    SX_ENSURE(loop && cbs && cbs->connected, SX_E_USAGE);
    SX_TRY(sx_crypto_init());
    sx_smp_aclient *cl = calloc(1, sizeof *cl);
    if (!cl)
        return SX_E_NOMEM;
    cl->loop = loop;
    cl->fd = -1;
    cl->cbs = *cbs;
    cl->timeout_ms = opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : DEFAULT_TIMEOUT_MS;
    cl->ping_ms = opts && opts->ping_interval_ms ? opts->ping_interval_ms : DEFAULT_PING_MS;
    memcpy(cl->hcfg.key_hash, key_hash, SX_FINGERPRINT_LEN);
    cl->hcfg.range = opts && opts->range.max ? opts->range : sx_smp_server_vrange();
    cl->hcfg.proxy_server = opts && opts->proxy_server;
    cl->svc = opts ? opts->service : NULL;
    cl->flush_task = (sx_loop_task){.cb = flush_task_cb, .data = cl};
    cl->start_task = (sx_loop_task){.cb = start_task_cb, .data = cl};
    sx_loop_io_init(&cl->io, -1, io_cb, cl);
    sx_loop_timer_init(&cl->timer, timer_cb, cl);
    static const char *const alpn[] = {"smp/1", NULL};
    sx_tls_client_config tcfg = {.alpn = opts && opts->no_alpn ? NULL : alpn,
                                 .creds = cl->svc ? &cl->svc->creds : NULL};
    sx_status st = host && port ? sx_tls_client_ctx_new(&tcfg, &cl->ctx) : SX_E_USAGE;
    if (st == SX_OK) {
        /* A numeric address needs no resolver: the connect starts from a
         * loop task, so that even an immediate failure is reported through
         * the callback, never from inside this call. */
        if (opts && opts->socks) {
            size_t hl = strlen(host);
            cl->socks_route = malloc(sizeof *cl->socks_route);
            if (!cl->socks_route)
                st = SX_E_NOMEM;
            else if (hl >= sizeof cl->dest_host)
                st = SX_E_USAGE;
            if (st == SX_OK) {
                *cl->socks_route = *opts->socks;
                memcpy(cl->dest_host, host, hl + 1);
                cl->dest_port = port;
                /* the proxy's address is numeric: no resolver */
                host = cl->socks_route->host;
                port = cl->socks_route->port;
            }
        }
        if (st != SX_OK) {
            /* answered below */
        } else if (sx_net_addr_numeric(host, port, &cl->addrs[0]) == SX_OK) {
            cl->n_addrs = 1;
            sx_loop_post(loop, &cl->start_task);
        } else {
            st = resolve_start(cl, host, port);
        }
    }
    if (st != SX_OK) {
        sx_tls_ctx_free(cl->ctx);
        free(cl->socks_route);
        free(cl);
        return st;
    }
    cl->st = ST_RESOLVE;
    cl->started_ms = cl->last_io_ms = sx_loop_now_ms();
    unsigned tick = cl->ping_ms / 4;
    cl->tick_ms = tick < 10 ? 10 : tick > 1000 ? 1000
                                               : tick;
    if (!(opts && opts->no_tick)) {
        unsigned first = (unsigned)cl->timeout_ms < cl->tick_ms ? (unsigned)cl->timeout_ms : cl->tick_ms;
        sx_loop_timer_start(loop, &cl->timer, first, cl->tick_ms);
    }
    *out = cl;
    return SX_OK;
}

/* In a service session, the commands of the service's role carry its
 * signature: NEW and SUB for messaging, NSUB for a notifier, none for a
 * proxy service (it may send only PING and RFWD, PROTOCOL-NOTES D8a). */
static bool service_signs(const sx_smp_aclient *cl, const sx_smp_cmd *cmd)
{
    if (cl->sess.service_role == SX_SMP_SERVICE_PROXY)
        return false;
    if (cl->sess.service_role == SX_SMP_SERVICE_NOTIFIER)
        return cmd->tag == SX_SMP_C_NSUB;
    return cmd->tag == SX_SMP_C_NEW || cmd->tag == SX_SMP_C_SUB;
}

sx_status sx_smp_aclient_send(sx_smp_aclient *cl, sx_slice entity, const sx_smp_cmd *cmd, const sx_key *auth_key,
                              sx_smp_aclient_reply_cb reply_cb, void *arg)
{
    return sx_smp_aclient_send_corr(cl, NULL, entity, cmd, auth_key, reply_cb, arg);
}

sx_status sx_smp_aclient_send_corr(sx_smp_aclient *cl, const uint8_t corr_id[SX_SMP_CORR_ID_LEN], sx_slice entity,
                                   const sx_smp_cmd *cmd, const sx_key *auth_key, sx_smp_aclient_reply_cb reply_cb,
                                   void *arg)
{
    SX_ENSURE(cl->st != ST_DEAD && !cl->close_posted, SX_E_CLOSED);
    SX_ENSURE(cl->st == ST_ACTIVE, SX_E_USAGE);
    pend *p = calloc(1, sizeof *p);
    uint8_t *tbuf = malloc(SX_SMP_CLIENT_TBUF);
    sx_status st = SX_E_NOMEM;
    if (!p || !tbuf)
        goto fail;
    sx_writer w;
    sx_writer_init_fixed(&w, tbuf, SX_SMP_CLIENT_TBUF);
    if (corr_id)
        memcpy(p->corr_id, corr_id, SX_SMP_CORR_ID_LEN);
    else
        sx_random_bytes(p->corr_id, SX_SMP_CORR_ID_LEN);
    if (corr_id || !cl->sess.has_service)
        st = sx_smp_client_encode_corr(&cl->sess, entity, cmd, auth_key, p->corr_id, &w);
    else
        st = sx_smp_client_encode_svc(&cl->sess, service_signs(cl, cmd) ? cl->svc->service_key : NULL, entity,
                                      cmd, auth_key, p->corr_id, &w);
    if (st != SX_OK)
        goto fail;
    size_t len = sx_writer_slice(&w).len;
    if (!sx_batch_fits_alone(sx_smp_session_batch_capacity(&cl->sess), len)) {
        st = SX_E_LIMIT;
        goto fail;
    }
    p->t = tbuf;
    p->t_len = len;
    p->cb = reply_cb;
    p->arg = arg;
    plist_push(&cl->unsent, p);
    if (!cl->flush_posted) {
        cl->flush_posted = true;
        sx_loop_post(cl->loop, &cl->flush_task);
    }
    return SX_OK;
fail:
    if (tbuf) {
        sx_wipe(tbuf, SX_SMP_CLIENT_TBUF);
        free(tbuf);
    }
    free(p);
    return st;
}

static void close_task_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    teardown(t->data, SX_OK);
}

void sx_smp_aclient_close(sx_smp_aclient *cl)
{
    if (!cl || cl->st == ST_DEAD || cl->close_posted)
        return;
    cl->close_posted = true;
    cl->close_task = (sx_loop_task){.cb = close_task_cb, .data = cl};
    sx_loop_post(cl->loop, &cl->close_task);
}

const sx_smp_session *sx_smp_aclient_session(const sx_smp_aclient *cl)
{
    return &cl->sess;
}

void sx_smp_aclient_get_stats(const sx_smp_aclient *cl, sx_smp_aclient_stats *out)
{
    *out = cl->stats;
}
