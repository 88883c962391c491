/* SMP router server: listeners, worker threads, the connection state machine
 * (TLS handshake, SMP handshake, block I/O), start and stop. The
 * subscription plumbing is in subs.c, the state across restarts in state.c,
 * the control port's `clients` listing in clients.c.
 *
 * Threads: worker 0 also accepts and hands each socket to a worker in turn.
 * A connection lives on one worker for its whole life; other threads reach
 * it only by posting a task to that worker (sx_sub_post). */
#include "smp_router/server_int.h"
#include "smp_router/services.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "kit/say.h"
#include "kit/web.h"
#include "crypto/util.h"
#include "smp_router/msgjournal.h"
#include "smp_router/pglazy.h"
#include "smp_router/pgschema.h"
#include "smp_router/pgqueues.h"
#include "transport/net.h"

#define SX_MAX_OUT_BLOCKS 256 /* back-pressure: stop reading above this */
#define SX_READS_PER_EVENT 32 /* fairness between connections */
#define SX_TICK_MS 1000

_Static_assert(SX_ROUTER_MAX_PORTS <= SX_KIT_MAX_PORTS, "the kit listens on every configured port");

static void conn_io_cb(sx_loop *loop, sx_loop_io *io, unsigned events);
static void conn_close(sx_conn *c);
static void conn_fail(sx_conn *c);

/* Why c closes (the debug line of conn_close); the first reason stays. */
static void conn_why(sx_conn *c, const char *why)
{
    if (!c->why)
        c->why = why;
}

static void conn_update_interest(sx_conn *c);
static void continue_reading(sx_conn *c);

/* ---- output ---- */

/* The batch that c's next transmission goes to, started if need be: the
 * reading connection's own, or the worker's scratch batch (ending the block of
 * the connection that had it). NULL when it cannot start. */
static sx_batch *batch_begin(sx_conn *c)
{
    sx_worker *w = c->w;
    if (w->read_conn == c) {
        if (!w->rbatch_open) {
            if (sx_batch_init(&w->rbatch, sx_smp_session_batch_capacity(&c->sess)) != SX_OK)
                return NULL;
            w->rbatch_open = true;
        }
        return &w->rbatch;
    }
    if (w->batch_conn == c)
        return &w->batch;
    if (w->batch_conn)
        sx_conn_flush(w->batch_conn);
    if (sx_batch_init(&w->batch, sx_smp_session_batch_capacity(&c->sess)) != SX_OK)
        return NULL;
    w->batch_conn = c;
    return &w->batch;
}

static bool queue_block(sx_conn *c, sx_slice content)
{
    sx_outblk *b = malloc(sizeof *b);
    if (!b)
        return false;
    b->next = NULL;
    b->log_seq = c->hold_seq;
    b->mlog_seq = c->hold_mseq;
    /* Encrypted in sending order: the chain must not skip or reorder
     * (PROTOCOL-NOTES P6). */
    if (sx_smp_session_write_block(&c->sess, content, b->data) != SX_OK) {
        free(b);
        return false;
    }
    if (c->out_tail)
        c->out_tail->next = b;
    else
        c->out_head = b;
    c->out_tail = b;
    c->out_count++;
    return true;
}

/* Queues a block that is sent as is (handshake blocks are never encrypted). */
static bool queue_raw_block(sx_conn *c, const uint8_t *block)
{
    sx_outblk *b = malloc(sizeof *b);
    if (!b)
        return false;
    b->next = NULL;
    b->log_seq = 0;
    b->mlog_seq = 0;
    memcpy(b->data, block, SX_BLOCK_SIZE);
    if (c->out_tail)
        c->out_tail->next = b;
    else
        c->out_head = b;
    c->out_tail = b;
    c->out_count++;
    return true;
}

void sx_conn_send(sx_conn *c, sx_slice t)
{
    if (c->state != SX_CONN_ACTIVE)
        return;
    sx_batch *b = batch_begin(c);
    if (!b || sx_batch_add(b, t) == SX_OK)
        return;
    sx_conn_flush(c);
    b = batch_begin(c);
    if (!b || sx_batch_add(b, t) != SX_OK) {
        /* A transmission that cannot fit a block alone: a bug upstream. */
        c->state = SX_CONN_CLOSING;
    }
}

static void wait_list_add(sx_conn *c)
{
    if (c->waiting)
        return;
    sx_worker *w = c->w;
    c->waiting = true;
    c->wait_prev = NULL;
    c->wait_next = w->waiting;
    if (w->waiting)
        w->waiting->wait_prev = c;
    w->waiting = c;
}

static void wait_list_remove(sx_conn *c)
{
    if (!c->waiting)
        return;
    if (c->wait_prev)
        c->wait_prev->wait_next = c->wait_next;
    else
        c->w->waiting = c->wait_next;
    if (c->wait_next)
        c->wait_next->wait_prev = c->wait_prev;
    c->waiting = false;
    c->wait_prev = c->wait_next = NULL;
}

/* Whether a block stamped with seq waits for writer w: 0 no, 1 yes, -1
 * never to be sent (the log failed for good before writing its record). */
static int held_by(sx_kit_logwriter *w, uint64_t seq)
{
    if (!seq || !w || seq <= sx_kit_logwriter_durable(w))
        return 0;
    /* The batch with seq may have been written just before the failure:
     * the durable mark is set before the failure is. */
    return sx_kit_logwriter_dead(w) && seq > sx_kit_logwriter_durable(w) ? -1 : 1;
}

static void write_out(sx_conn *c)
{
    sx_router *r = c->w->r;
    if (c->failing)
        return;
    while (c->out_head) {
        /* PROTOCOL-NOTES E25: a reply is sent only once the records it confirms
         * are in the store log and the message journal; until then the
         * connection waits on the worker's list. A record that will never be
         * written (the log failed for good) closes the connection: its reply
         * is encrypted already and cannot become an error. */
        int h1 = held_by(r->lw, c->out_head->log_seq), h2 = held_by(r->mw, c->out_head->mlog_seq);
        if (h1 < 0 || h2 < 0) {
            conn_why(c, "store log failed");
            conn_fail(c);
            return;
        }
        if (h1 || h2) {
            wait_list_add(c);
            return;
        }
        sx_status st = sx_tls_write(c->tls, c->out_head->data, SX_BLOCK_SIZE, &c->wdone);
        if (st == SX_E_WOULD_BLOCK)
            return;
        if (st != SX_OK) {
            conn_why(c, sx_kit_io_why(st));
            conn_fail(c);
            return;
        }
        sx_outblk *b = c->out_head;
        c->out_head = b->next;
        if (!c->out_head)
            c->out_tail = NULL;
        c->out_count--;
        c->wdone = 0;
        c->last_sent_ms = sx_loop_now_ms();
        free(b);
    }
    if (c->state == SX_CONN_CLOSING)
        conn_fail(c);
}

void sx_conn_flush(sx_conn *c)
{
    sx_worker *w = c->w;
    sx_batch *b = NULL;
    if (w->read_conn == c && w->rbatch_open) {
        w->rbatch_open = false;
        b = &w->rbatch;
    } else if (w->batch_conn == c) {
        w->batch_conn = NULL;
        b = &w->batch;
    }
    sx_slice content;
    if (b && sx_batch_count(b) > 0 && sx_batch_content(b, &content) == SX_OK &&
        !queue_block(c, content)) {
        conn_fail(c);
        return;
    }
    write_out(c);
    if (c->fd >= 0)
        conn_update_interest(c);
}

void sx_conn_resume_reading(sx_conn *c)
{
    if (c->fd < 0 || c->failing)
        return;
    conn_update_interest(c);
    continue_reading(c);
}

void sx_conn_close_after_flush(sx_conn *c)
{
    c->state = SX_CONN_CLOSING;
}

/* ---- connection lifecycle ---- */

/* Back-pressure: no more blocks are read while too many answers wait to be
 * written, or as many proxied commands wait for their turn as may run
 * (commands_proxy.c; the reference stops reading such a client too). */
static bool reading_paused(const sx_conn *c)
{
    return c->state == SX_CONN_CLOSING || c->out_count >= SX_MAX_OUT_BLOCKS || sx_proxy_conn_full(c);
}

static void conn_update_interest(sx_conn *c)
{
    if (c->failing)
        return; /* its watcher stays stopped until the close */
    unsigned ev = 0;
    if (!reading_paused(c))
        ev |= SX_EV_READ;
    if (c->out_head || sx_tls_conn_want(c->tls) == SX_TLS_WANT_WRITE)
        ev |= SX_EV_WRITE;
    if (c->state == SX_CONN_TLS)
        ev = sx_tls_conn_want(c->tls) == SX_TLS_WANT_WRITE ? SX_EV_WRITE : SX_EV_READ;
    if (sx_loop_io_start(c->w->loop, &c->io, ev) != SX_OK) {
        conn_why(c, "internal error");
        conn_fail(c);
    }
}

static void close_task_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    conn_close(t->data);
}

/* Closes c from a loop task instead of now. Writes and watcher changes
 * happen where the caller may hold a queue lock (a reply flushed from a
 * command handler), and closing takes the locks of c's subscriptions: the
 * same lock stripe would wait for itself. From here on c is neither read
 * nor written; the task runs before the one that frees c (tasks run in
 * order, and conn_close posts the free). */
static void conn_fail(sx_conn *c)
{
    if (c->fd < 0 || c->failing)
        return;
    c->failing = true;
    c->state = SX_CONN_CLOSING;
    sx_loop_io_stop(c->w->loop, &c->io);
    c->close_task.cb = close_task_cb;
    c->close_task.data = c;
    sx_loop_post(c->w->loop, &c->close_task);
}

static void free_conn_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    free(t->data);
}

static void conn_close(sx_conn *c)
{
    if (c->fd < 0)
        return;
    SX_SAY(SX_SAY_DEBUG, "client %llu: closed (%s)", (unsigned long long)c->id, c->why ? c->why : "by the router");
    sx_worker *w = c->w;
    if (w->batch_conn == c)
        w->batch_conn = NULL;
    if (w->read_conn == c)
        w->rbatch_open = false;
    wait_list_remove(c);
    sx_proxy_conn_closed(c);
    sx_svc_conn_closed(c);
    sx_loop_io_stop(w->loop, &c->io);
    for (size_t i = 0; i < c->subs_cap; i++) {
        sx_sub *s = c->subs[i];
        if (!s || s == SUB_TOMB)
            continue;
        sx_queue *q = s->q;
        s->active = false;
        sx_queue_lock(q);
        sx_router_sub_closed(c, s);
        if (q->sub == s) {
            q->sub = NULL;
            sx_sub_release(w->r, s);
        }
        if (sx_queue_nsub(q) == s) {
            sx_queue_set_nsub(q, NULL);
            sx_sub_release(w->r, s);
        }
        sx_queue_unlock(q);
        sx_sub_release(w->r, s);
    }
    free(c->subs);
    c->subs = NULL;
    c->subs_cap = c->subs_n = c->subs_used = 0;
    while (c->out_head) {
        sx_outblk *b = c->out_head;
        c->out_head = b->next;
        free(b);
    }
    c->out_tail = NULL;
    sx_smp_server_hs_cleanup(&c->hs);
    sx_smp_session_cleanup(&c->sess);
    sx_wipe(c->dh_priv, sizeof c->dh_priv);
    sx_tls_conn_free(c->tls);
    c->tls = NULL;
    if (!c->handed_over)
        sx_net_close(c->fd);
    c->fd = -1;
    sx_kit_workers_handshake_done(w->r->ws, &c->peer);
    sx_kit_workers_socket_closed(w->r->ws, c->port_index);
    if (c->rbuf) {
        sx_wipe(c->rbuf, SX_BLOCK_SIZE);
        free(c->rbuf);
        c->rbuf = NULL;
    }
    /* Unlink and free: no watcher or task refers to c any more (tasks hold
     * subs, whose active flag is now false). */
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    __atomic_sub_fetch(&w->n_conns, 1, __ATOMIC_RELAXED);
    /* Callers up the stack may still look at c (they check c->fd): free it
     * from the loop's task queue, after the current event. */
    c->free_task.cb = free_conn_cb;
    c->free_task.data = c;
    sx_loop_post(w->loop, &c->free_task);
}

static void on_client_hello(sx_conn *c)
{
    sx_smp_tls_info info;
    sx_smp_tls_info_from_conn(c->tls, &info);
    sx_transport_error te = SX_TE_NONE;
    sx_status st = sx_smp_server_hs_finish(&c->hs, &info, c->rbuf, &c->sess, &te);
    if (st != SX_OK) {
        conn_why(c, "handshake error");
        if (c->hs.reply_error) {
            uint8_t block[SX_BLOCK_SIZE];
            sx_smp_service_reply rep = {.ok = false, .error = te};
            if (sx_smp_service_reply_block(&rep, block) == SX_OK)
                (void)queue_raw_block(c, block);
            c->state = SX_CONN_CLOSING;
            return;
        }
        conn_close(c);
        return;
    }
    sx_smp_server_hs_cleanup(&c->hs);
    if (c->sess.server_dh_priv) {
        size_t n = 0;
        c->has_dh_priv = sx_key_raw_private(c->sess.server_dh_priv, c->dh_priv, sizeof c->dh_priv, &n) == SX_OK &&
                         n == sizeof c->dh_priv;
        sx_key_free(c->sess.server_dh_priv);
        c->sess.server_dh_priv = NULL;
    }
    if (c->sess.has_service) {
        /* PROTOCOL-NOTES B21: the third block, 'R' with the service's id
         * (services.c) or 'E' HANDSHAKE BAD_SERVICE. */
        uint8_t block[SX_BLOCK_SIZE];
        size_t id_len = 0;
        uint64_t seq = 0;
        bool ok = sx_router_service_assign(&c->w->r->svc, c->w->r->lw, &c->sess, c->sess.service_id, &id_len, &seq) == SX_OK;
        c->sess.service_id_len = ok ? id_len : 0;
        sx_smp_service_reply rep = {.ok = ok, .error = SX_TE_HANDSHAKE_BAD_SERVICE};
        rep.service_id = sx_slice_of(c->sess.service_id, c->sess.service_id_len);
        if (sx_smp_service_reply_block(&rep, block) != SX_OK || !queue_raw_block(c, block)) {
            conn_close(c);
            return;
        }
        c->out_tail->log_seq = seq; /* sent once NEW_SERVICE is written */
        if (!ok) {
            conn_why(c, "service refused");
            c->state = SX_CONN_CLOSING;
            return;
        }
    }
    c->state = SX_CONN_ACTIVE;
    sx_kit_workers_handshake_done(c->w->r->ws, &c->peer);
    SX_SAY(SX_SAY_DEBUG, "client %llu: handshake done, SMP version %u", (unsigned long long)c->id,
           (unsigned)c->sess.version);
}

/* Reads and handles whole blocks until the socket has no more. */
static void read_blocks(sx_conn *c)
{
    for (int n = 0; n < SX_READS_PER_EVENT && c->fd >= 0; n++) {
        if (reading_paused(c))
            return;
        if (!c->rbuf) {
            c->rbuf = malloc(SX_BLOCK_SIZE);
            if (!c->rbuf) {
                conn_why(c, "out of memory");
                conn_close(c);
                return;
            }
            c->rdone = 0;
        }
        sx_status st = sx_tls_read(c->tls, c->rbuf, SX_BLOCK_SIZE, &c->rdone);
        if (st == SX_E_WOULD_BLOCK) {
            if (c->rdone == 0) { /* nothing of a block yet: no buffer while idle */
                free(c->rbuf);
                c->rbuf = NULL;
            }
            /* part of a block came, or of the TLS record carrying it: the
             * block's clock runs (PROTOCOL-NOTES B7a) */
            if (c->rdone == 0 && !sx_tls_has_pending(c->tls))
                c->rstart_ms = 0;
            else if (c->rstart_ms == 0)
                c->rstart_ms = sx_loop_now_ms();
            return;
        }
        if (st != SX_OK) {
            conn_why(c, sx_kit_io_why(st));
            conn_close(c);
            return;
        }
        c->rdone = 0;
        c->rstart_ms = 0;
        c->last_active_ms = sx_loop_now_ms();
        if (c->state == SX_CONN_HELLO) {
            on_client_hello(c);
        } else if (c->state == SX_CONN_ACTIVE) {
            sx_slice content;
            st = sx_smp_session_read_block(&c->sess, c->rbuf, &content);
            if (st == SX_OK) {
                sx_router_handle_batch(c, content);
            } else {
                /* PROTOCOL-NOTES B15/B34: an unreadable block gets one ERR
                 * BLOCK. */
                sx_router_handle_batch(c, sx_slice_of(NULL, 0));
            }
        }
        if (c->fd < 0)
            return;
        /* Keep the buffer only while reads are in flight. */
        free(c->rbuf);
        c->rbuf = NULL;
    }
}

/* Reads what the socket has; the replies to all of it go out together after
 * (PROTOCOL-NOTES B14: a block carries any transmissions; clients match
 * replies by corrId), so a burst of SENDs is answered by one block of OKs
 * rather than a block per SEND. */
static void conn_read(sx_conn *c)
{
    sx_worker *w = c->w;
    w->read_conn = c;
    read_blocks(c);
    if (c->fd >= 0)
        sx_conn_flush(c);
    w->rbatch_open = false;
    w->read_conn = NULL;
}

/* A browser on the shared web port (SNI sent): the connection leaves the
 * router for the web server, TLS and socket with it. */
static void conn_hand_to_web(sx_conn *c)
{
    int fd = c->fd;
    sx_tls_conn *tls = c->tls;
    c->tls = NULL;
    c->handed_over = true;
    conn_why(c, "to the web server");
    conn_close(c);
    sx_kit_web_adopt(c->w->r->opts.web, fd, tls);
}

static void conn_tls_step(sx_conn *c)
{
    sx_router *r = c->w->r;
    bool shared = r->tls_shared && c->port_index == r->opts.web_port_index;
    sx_status st = sx_kit_tls_step(shared ? r->tls_shared : r->tls, c->fd, &c->tls, r->opts.log_tls_errors);
    if (st == SX_E_WOULD_BLOCK) {
        conn_update_interest(c);
        return;
    }
    if (st != SX_OK) {
        if (c->tls)
            SX_SAY(SX_SAY_DEBUG, "client %llu: TLS error: %s", (unsigned long long)c->id, sx_tls_conn_error(c->tls));
        conn_why(c, st == SX_E_CLOSED ? "peer closed" : "TLS error");
        conn_close(c);
        return;
    }
    if (shared && sx_tls_sni_used(c->tls)) {
        conn_hand_to_web(c);
        return;
    }
    sx_smp_tls_info info;
    sx_smp_tls_info_from_conn(c->tls, &info);
    uint8_t block[SX_BLOCK_SIZE];
    if (sx_smp_server_hs_start(&c->hs, &c->w->r->smp, &info, block) != SX_OK || !queue_raw_block(c, block)) {
        conn_why(c, "handshake error");
        conn_close(c);
        return;
    }
    c->state = SX_CONN_HELLO;
    write_out(c);
    if (c->fd >= 0)
        conn_update_interest(c);
}

static void read_task_cb(sx_loop *loop, sx_loop_task *t);

/* Decrypted bytes buffered inside TLS raise no socket event: when reading
 * stopped with some left (fairness limit, back-pressure), continue from the
 * loop's task queue. Tasks run in order, so this one runs before the task
 * that would free a connection closed meanwhile. */
static void continue_reading(sx_conn *c)
{
    if (c->fd < 0 || c->read_posted || c->state != SX_CONN_ACTIVE || reading_paused(c) || !sx_tls_has_pending(c->tls))
        return;
    c->read_posted = true;
    c->read_task.cb = read_task_cb;
    c->read_task.data = c;
    sx_loop_post(c->w->loop, &c->read_task);
}

static void read_task_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    sx_conn *c = t->data;
    c->read_posted = false;
    if (c->fd < 0)
        return;
    conn_read(c);
    if (c->fd >= 0) {
        conn_update_interest(c);
        continue_reading(c);
    }
}

static void conn_io_cb(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)loop;
    sx_conn *c = io->data;
    if (c->state == SX_CONN_TLS) {
        conn_tls_step(c);
        if (c->fd < 0 || c->state == SX_CONN_TLS)
            return;
    }
    if (c->out_head && (events & (SX_EV_WRITE | SX_EV_ERROR)))
        write_out(c);
    if (c->fd >= 0 && (events & (SX_EV_READ | SX_EV_ERROR)))
        conn_read(c);
    if (c->fd >= 0 && (events & SX_EV_ERROR) && !(events & SX_EV_READ) && !c->out_head) {
        conn_why(c, "socket error");
        conn_close(c);
    }
    if (c->fd >= 0) {
        conn_update_interest(c);
        continue_reading(c);
    }
}

/* On worker `worker` (the kit's adopt): a new socket starts its TLS
 * handshake. */
static void adopt(void *arg, unsigned worker, int fd, unsigned port_index, const sx_kit_peer *peer)
{
    sx_router *r = arg;
    sx_worker *w = &r->workers[worker];
    sx_conn *c = calloc(1, sizeof *c);
    if (!c) {
        sx_kit_workers_refuse(r->ws, fd, port_index, peer);
        return;
    }
    c->fd = fd;
    c->peer = *peer;
    c->port_index = (uint8_t)port_index;
    c->id = __atomic_add_fetch(&r->next_conn_id, 1, __ATOMIC_RELAXED);
    c->state = SX_CONN_TLS;
    c->w = w;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    __atomic_add_fetch(&w->n_conns, 1, __ATOMIC_RELAXED);
    c->last_active_ms = c->accepted_ms = sx_loop_now_ms();
    SX_SAY(SX_SAY_DEBUG, "client %llu: accepted on port %u, worker %u", (unsigned long long)c->id,
           (unsigned)sx_kit_workers_port(r->ws, port_index), worker);
    sx_loop_io_init(&c->io, c->fd, conn_io_cb, c);
    /* TLS starts when the client's hello has come (sx_kit_tls_step). */
    if (sx_loop_io_start(w->loop, &c->io, SX_EV_READ) != SX_OK) {
        conn_why(c, "internal error");
        conn_close(c);
    }
}

/* PROTOCOL-NOTES B7: a connection must finish TLS within 60 s and the SMP
 * handshake within 120 s of being accepted, or it is closed; PROTOCOL-NOTES
 * B7a: after the handshake, a block must be whole within 40 s of its first
 * bytes. */
#define SX_TLS_TIMEOUT_MS 60000
#define SX_HANDSHAKE_TIMEOUT_MS 120000
#define SX_BLOCK_TIMEOUT_MS 40000

static void close_stalled_handshakes(sx_worker *w, int64_t now)
{
    int64_t tls_ms = w->r->opts.handshake_timeout_ms ? w->r->opts.handshake_timeout_ms / 2 : SX_TLS_TIMEOUT_MS;
    int64_t hs_ms = w->r->opts.handshake_timeout_ms ? w->r->opts.handshake_timeout_ms : SX_HANDSHAKE_TIMEOUT_MS;
    int64_t block_ms = w->r->opts.block_timeout_ms ? w->r->opts.block_timeout_ms : SX_BLOCK_TIMEOUT_MS;
    sx_conn *c = w->conns;
    while (c) {
        sx_conn *next = c->next;
        int64_t age = now - c->accepted_ms;
        if (c->state == SX_CONN_TLS && age > tls_ms) {
            conn_why(c, "timeout: TLS handshake");
            conn_close(c);
        } else if (c->state == SX_CONN_HELLO && age > hs_ms) {
            conn_why(c, "timeout: SMP handshake");
            conn_close(c);
        } else if (c->state == SX_CONN_ACTIVE && c->rstart_ms && now - c->rstart_ms > block_ms) {
            conn_why(c, "timeout: block");
            conn_close(c);
        }
        c = next;
    }
}

/* PROTOCOL-NOTES B37: closes connections without subscriptions that were idle
 * too long. */
static void tick(void *arg, unsigned worker)
{
    sx_router *r = arg;
    sx_worker *w = &r->workers[worker];
    const sx_router_opts *o = &w->r->opts;
    close_stalled_handshakes(w, sx_loop_now_ms());
    sx_proxy_tick(w, sx_loop_now_ms());
    if (!o->inactive_disconnect || o->inactive_ttl <= 0)
        return;
    int64_t now = sx_loop_now_ms();
    static __thread int64_t last_check;
    if (now - last_check < o->inactive_check_interval * 1000)
        return;
    last_check = now;
    sx_conn *c = w->conns;
    while (c) {
        sx_conn *next = c->next;
        if (c->subs_n == 0 && now - c->last_active_ms > o->inactive_ttl * 1000) {
            conn_why(c, "timeout: inactive");
            conn_close(c);
        }
        c = next;
    }
}

/* On a worker whose loop stopped: close what is left on this thread. */
static void thread_end(void *arg, unsigned worker)
{
    sx_router *r = arg;
    sx_worker *w = &r->workers[worker];
    sx_relays_stop(w);
    while (w->conns) {
        conn_why(w->conns, "router stopping");
        conn_close(w->conns);
    }
}

/* On a worker: the store log advanced (or failed); send what waited. */
static void log_task_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    sx_worker *w = t->data;
    __atomic_store_n(&w->log_task_posted, false, __ATOMIC_RELEASE);
    sx_conn *c = w->waiting;
    while (c) {
        sx_conn *next = c->wait_next;
        wait_list_remove(c);
        write_out(c); /* re-adds c if its next block still waits */
        if (c->fd >= 0 && !c->failing) {
            conn_update_interest(c);
            continue_reading(c);
        }
        c = next;
    }
}

/* On the writer thread, after each batch. */
static void log_durable_cb(void *arg, uint64_t seq, bool ok)
{
    (void)seq;
    (void)ok;
    sx_router *r = arg;
    for (unsigned i = 0; i < r->n_workers; i++) {
        sx_worker *w = &r->workers[i];
        if (__atomic_exchange_n(&w->log_task_posted, true, __ATOMIC_ACQ_REL))
            continue;
        w->log_task.cb = log_task_cb;
        w->log_task.data = w;
        sx_loop_post(w->loop, &w->log_task);
    }
}

sx_status sx_server_start(const sx_router_opts *opts, sx_router **out)
{
    *out = NULL;
    SX_ENSURE(opts && opts->cert_file && opts->ca_file && opts->key_file && opts->n_ports >= 1 &&
                  opts->n_ports <= SX_ROUTER_MAX_PORTS,
              SX_E_USAGE);
    SX_TRY(sx_crypto_init());
    sx_router *r = calloc(1, sizeof *r);
    if (!r)
        return SX_E_NOMEM;
    r->opts = *opts;
    r->started_at = (int64_t)time(NULL);
    if (opts->proxy_socks) {
        r->has_socks = true;
        r->socks = *opts->proxy_socks;
        r->opts.proxy_socks = &r->socks;
        /* the reference's isolation username of its proxy client's session:
         * user 1, the time the router started */
        struct timespec now;
        int64_t ns = clock_gettime(CLOCK_REALTIME, &now) == 0
                         ? (int64_t)now.tv_sec * 1000000000 + now.tv_nsec
                         : r->started_at * 1000000000;
        if (sx_socks_isolation_user(1, ns, r->socks_isolation) != SX_OK)
            r->socks_isolation[0] = 0;
    }
    sx_smp_stats_init(&r->stats, r->started_at);
    if (opts->create_password) {
        size_t n = strlen(opts->create_password);
        if (n >= sizeof r->create_password) {
            free(r);
            return SX_E_USAGE;
        }
        memcpy(r->create_password, opts->create_password, n);
        r->create_password_len = n;
        r->has_password = true;
    }
    sx_status st;
    sx_tls_server_config tcfg = {0};
    tcfg.creds.cert_file = opts->cert_file;
    tcfg.creds.ca_file = opts->ca_file;
    tcfg.creds.key_file = opts->key_file;
    st = sx_tls_server_ctx_new(&tcfg, &r->tls);
    if (st != SX_OK)
        goto fail;
    st = sx_smp_server_config_init(&r->smp, r->tls);
    if (st != SX_OK)
        goto fail;
    if (opts->web && sx_kit_web_tls(opts->web) && opts->web_shared && opts->web_port_index < opts->n_ports) {
        tcfg.https_compat = true; /* PROTOCOL-NOTES B3: browsers connect too */
        st = sx_tls_server_ctx_new(&tcfg, &r->tls_shared);
        if (st == SX_OK)
            st = sx_tls_server_ctx_set_sni(r->tls_shared, sx_kit_web_tls(opts->web));
        if (st != SX_OK)
            goto fail;
    }
    st = sx_store_new(&r->store);
    if (st != SX_OK)
        goto fail;
    st = sx_server_restore_state(r);
    if (st != SX_OK)
        goto fail;
    st = sx_ops_restore_stats(r);
    if (st != SX_OK)
        goto fail;
    if (opts->maintenance) {
        /* start --maintenance: the state is restored (logs replayed and
         * compacted, messages restored and expired); no port, no thread */
        *out = r;
        return SX_OK;
    }

    sx_kit_workers_opts wo = {
        .n_workers = opts->workers,
        .tick_ms = SX_TICK_MS,
        .host = opts->host,
        .ports = opts->ports,
        .n_ports = opts->n_ports,
        .max_pending_per_addr = opts->max_pending_per_addr,
        .limit_loopback = opts->limit_loopback,
        .adopt = adopt,
        .tick = tick,
        .thread_end = thread_end,
        .arg = r,
    };
    st = sx_kit_workers_new(&wo, &r->ws);
    if (st != SX_OK)
        goto fail;
    r->n_workers = sx_kit_workers_count(r->ws);
    r->workers = calloc(r->n_workers, sizeof *r->workers);
    if (!r->workers) {
        st = SX_E_NOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < r->n_workers; i++) {
        r->workers[i].r = r;
        r->workers[i].index = i;
        r->workers[i].loop = sx_kit_workers_loop(r->ws, i);
    }
    sx_kit_logwriter_opts lwo = {
        .cb = log_durable_cb,
        .arg = r,
        .retry_ms = opts->log_retry_ms > 0 ? opts->log_retry_ms : 1000,
    };
    if (r->log) {
        st = sx_kit_logwriter_start_opts(r->log, &lwo, &r->lw);
        if (st != SX_OK)
            goto fail;
    } else if (r->db) {
        /* the records go to the database instead (pgqueues.h) */
        sx_kit_logwriter_opts dbo = lwo;
        dbo.sink = sx_pgq_sink;
        dbo.sink_arg = r->db;
        st = sx_kit_logwriter_start_opts(NULL, &dbo, &r->lw);
        if (st != SX_OK)
            goto fail;
    }
    if (r->mlog) {
        st = sx_kit_logwriter_start_opts(r->mlog, &lwo, &r->mw);
        if (st != SX_OK)
            goto fail;
        sx_msgjournal_compact_opts co = {
            .journal = opts->msgs_journal_path,
            .log_opts = {.sync = opts->store_log_sync ? SX_KIT_SYNC_BATCH : SX_KIT_SYNC_NEVER},
            .min_bytes = opts->journal_compact_bytes ? opts->journal_compact_bytes : 64u << 20,
            .growth = 2,
            .check_ms = opts->journal_check_ms,
        };
        st = sx_msgjournal_compactor_start(&co, r->store, r->mw, &r->mlog, &r->mjc);
        if (st != SX_OK)
            goto fail;
    }
    st = sx_kit_workers_start(r->ws);
    if (st != SX_OK)
        goto fail;
    *out = r;
    return SX_OK;

fail:
    /* No worker runs (sx_kit_workers_start stops those it started). */
    sx_kit_workers_stop(r->ws);
    sx_msgjournal_compactor_stop(r->mjc);
    sx_kit_logwriter_stop(r->lw);
    sx_kit_logwriter_stop(r->mw);
    r->lw = NULL;
    sx_kit_workers_free(r->ws);
    free(r->workers);
    sx_kit_log_close(r->log);
    sx_kit_log_close(r->mlog);
    sx_slservices_free(r->svc);
    free(r->holders);
    sx_store_free(r->store);
    sx_pgdb_close(r->db);
    sx_smp_server_config_cleanup(&r->smp);
    sx_tls_ctx_free(r->tls);
    sx_tls_ctx_free(r->tls_shared);
    sx_smp_stats_cleanup(&r->stats);
    free(r);
    return st;
}

uint16_t sx_router_port(const sx_router *r, size_t i)
{
    return sx_kit_workers_port(r->ws, i);
}

sx_status sx_server_stop(sx_router *r)
{
    if (!r)
        return SX_OK;
    /* The journal's compaction first: it locks queues and uses the writer. */
    sx_msgjournal_compactor_stop(r->mjc);
    r->mjc = NULL;
    /* Workers stop and close their connections; tasks posted to a worker
     * after it stopped (deliveries, hand-overs of new sockets) run then, so
     * every reference they hold is dropped before the store goes. */
    sx_kit_workers_stop(r->ws);
    /* Everything queued reaches the files before the files are saved. */
    sx_kit_logwriter_stop(r->lw);
    r->lw = NULL;
    sx_kit_logwriter_stop(r->mw);
    r->mw = NULL;
    sx_kit_workers_free(r->ws);
    r->ws = NULL;
    free(r->workers);
    sx_ops_save_stats(r);
    sx_status saved = sx_server_save_state(r);
    sx_kit_log_close(r->log);
    sx_kit_log_close(r->mlog);
    sx_slservices_free(r->svc);
    free(r->holders);
    sx_store_free(r->store); /* before the database: its messages' back-end uses it */
    sx_pgdb_close(r->db);
    sx_smp_server_config_cleanup(&r->smp);
    sx_tls_ctx_free(r->tls);
    sx_tls_ctx_free(r->tls_shared);
    sx_smp_stats_cleanup(&r->stats);
    free(r);
    return saved;
}
