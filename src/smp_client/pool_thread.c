/* The connection pool on a thread of its own (sx_smp_tpool_* of
 * simplex/smp.h): a thread runs a loop and an sx_smp_pool on it. A call
 * from any thread is a record on the caller's stack, handed to the loop
 * with sx_loop_call; the caller waits on the record's condition until the
 * pool's thread has done the work (and, for send and ack, until the
 * router answered), then takes the status and the error detail, which it
 * sets as its own thread's detail. Pool events become notes, copies the
 * pool's thread appends to a list under the pool's mutex; sx_smp_tpool_next
 * takes them in order. */
#include "simplex/smp.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smp_client/pool_thread.h"
#include "core/deadline.h"
#include "core/error.h"
#include "crypto/util.h"

typedef struct note_item {
    struct note_item *next;
    sx_smp_pool_note n;
} note_item;

struct sx_smp_tpool {
    sx_loop *loop;
    sx_smp_pool *pool;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a note was added */
    note_item *head, *tail;
};

typedef enum call_kind {
    C_SUBSCRIBE,
    C_SUBSCRIBE_NTF,
    C_UNSUBSCRIBE_NTF,
    C_UNSUBSCRIBE,
    C_SEND,
    C_ACK,
    C_STATS,
    C_ROUTERS,
    C_SERVICE_ID,
    C_RELEASE,
    C_STOP,
    C_FN, /* a function of another file (pool_thread.h) */
} call_kind;

/* One call, on the caller's stack until done. */
typedef struct call {
    sx_smp_tpool *tp;
    call_kind kind;
    sx_smp_queue *q;
    sx_smp_notifier *nt;
    const void *body;
    size_t len;
    const sx_smp_pool_note *note;
    sx_smp_pool_stats *stats;
    sx_smp_pool_router_fn router_fn; /* C_ROUTERS, with fn_arg */
    sx_tpool_start_fn fn;
    void *fn_arg;
    const char *server; /* C_SERVICE_ID: in; id, id_len: out */
    uint8_t *id;
    size_t id_len;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    sx_status st;
    char code[32], detail[256];
} call;

static void copy_detail(char *code, size_t code_cap, char *detail, size_t detail_cap)
{
    snprintf(code, code_cap, "%s", sx_error_code());
    snprintf(detail, detail_cap, "%s", sx_error_message());
}

/* Pool thread: the call is done. */
static void call_done(call *c, sx_status st)
{
    if (st != SX_OK)
        copy_detail(c->code, sizeof c->code, c->detail, sizeof c->detail);
    pthread_mutex_lock(&c->mu);
    c->st = st;
    c->done = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void op_done(sx_smp_pool *p, sx_status st, void *arg)
{
    (void)p;
    call_done(arg, st);
}

static void call_fn(sx_loop *loop, void *arg)
{
    call *c = arg;
    sx_smp_tpool *tp = c->tp;
    sx_status st = SX_OK;
    switch (c->kind) {
    case C_SUBSCRIBE: st = sx_smp_pool_subscribe(tp->pool, c->q); break;
    case C_SUBSCRIBE_NTF: st = sx_smp_pool_subscribe_notifier(tp->pool, c->nt); break;
    case C_UNSUBSCRIBE_NTF: st = sx_smp_pool_unsubscribe_notifier(tp->pool, c->nt); break;
    case C_UNSUBSCRIBE: st = sx_smp_pool_unsubscribe(tp->pool, c->q); break;
    case C_SEND:
        st = sx_smp_pool_send(tp->pool, c->q, c->body, c->len, op_done, c);
        if (st == SX_OK)
            return; /* op_done ends it */
        break;
    case C_ACK: {
        sx_smp_pool_event e = {.kind = SX_SMP_POOL_MESSAGE,
                               .server = c->note->server,
                               .session = c->note->session,
                               .queue = c->note->queue,
                               .ev = (sx_smp_event *)&c->note->ev};
        st = sx_smp_pool_ack(tp->pool, &e, op_done, c);
        if (st == SX_OK)
            return;
        break;
    }
    case C_STATS: sx_smp_pool_get_stats(tp->pool, c->stats); break;
    case C_ROUTERS: sx_smp_pool_routers(tp->pool, c->router_fn, c->fn_arg); break;
    case C_FN:
        st = c->fn(tp->pool, c, c->fn_arg);
        if (st == SX_OK)
            return; /* sx_tpool_call_done ends it */
        break;
    case C_RELEASE: sx_smp_pool_release(tp->pool); break;
    case C_SERVICE_ID: {
        size_t len = 0;
        const uint8_t *id = sx_smp_pool_service_id(tp->pool, c->server, &len);
        if (id)
            memcpy(c->id, id, len);
        c->id_len = len;
        break;
    }
    case C_STOP:
        sx_smp_pool_free(tp->pool);
        tp->pool = NULL;
        sx_loop_stop(loop);
        break;
    }
    call_done(c, st);
}

/* Any thread: hands the call to the pool's thread and waits for it. */
static sx_status run_call(call *c)
{
    c->done = false;
    c->code[0] = c->detail[0] = 0;
    if (pthread_mutex_init(&c->mu, NULL) != 0)
        return sx_error_set(SX_E_INTERNAL, NULL, "pool: cannot make a mutex");
    if (pthread_cond_init(&c->cv, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        return sx_error_set(SX_E_INTERNAL, NULL, "pool: cannot make a condition");
    }
    sx_status st = sx_loop_call(c->tp->loop, call_fn, c);
    if (st == SX_OK) {
        pthread_mutex_lock(&c->mu);
        while (!c->done)
            pthread_cond_wait(&c->cv, &c->mu);
        pthread_mutex_unlock(&c->mu);
        st = c->st;
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    sx_error_clear();
    if (st != SX_OK && c->detail[0])
        sx_error_set(st, c->code[0] ? c->code : NULL, "%s", c->detail);
    return st;
}

/* ---- notes ---- */

static void on_event(sx_smp_pool *p, const sx_smp_pool_event *e, void *arg)
{
    (void)p;
    sx_smp_tpool *tp = arg;
    note_item *it = calloc(1, sizeof *it);
    if (!it)
        return; /* no memory: the note is lost, as an event the program did not see */
    sx_smp_pool_note *n = &it->n;
    n->kind = e->kind;
    snprintf(n->server, sizeof n->server, "%s", e->server ? e->server : "");
    n->session = e->session;
    n->status = e->status;
    if (e->status != SX_OK)
        copy_detail(n->code, sizeof n->code, n->detail, sizeof n->detail);
    n->queue = e->queue;
    n->notifier = e->notifier;
    if (e->service_id && e->service_id_len <= sizeof n->service_id) {
        memcpy(n->service_id, e->service_id, e->service_id_len);
        n->service_id_len = e->service_id_len;
    }
    n->service_assoc = e->service_assoc;
    n->service_expected = e->service_expected;
    n->service_count = e->service_count;
    memcpy(n->service_expected_hash, e->service_expected_hash, sizeof n->service_expected_hash);
    memcpy(n->service_hash, e->service_hash, sizeof n->service_hash);
    if (e->kind == SX_SMP_POOL_NOTIFICATION && e->nonce) {
        memcpy(n->nonce, e->nonce, sizeof n->nonce);
        n->meta = malloc(e->meta_len ? e->meta_len : 1);
        if (!n->meta) {
            free(it);
            return;
        }
        if (e->meta_len)
            memcpy(n->meta, e->meta, e->meta_len);
        n->meta_len = e->meta_len;
    }
    if (e->ev) {
        n->ev = *e->ev;
        e->ev->body = NULL; /* the note owns it now */
        e->ev->body_len = 0;
    }
    pthread_mutex_lock(&tp->mu);
    if (tp->tail)
        tp->tail->next = it;
    else
        tp->head = it;
    tp->tail = it;
    pthread_cond_broadcast(&tp->cv);
    pthread_mutex_unlock(&tp->mu);
}

void sx_smp_pool_note_clear(sx_smp_pool_note *n)
{
    if (!n)
        return;
    sx_smp_event_clear(&n->ev);
    free(n->meta);
    memset(n, 0, sizeof *n);
}

sx_status sx_smp_tpool_next(sx_smp_tpool *tp, int timeout_ms, sx_smp_pool_note *n)
{
    sx_error_clear();
    if (!tp || !n)
        return sx_error_set(SX_E_USAGE, NULL, "next: no pool or no place for the note");
    memset(n, 0, sizeof *n);
    struct timespec until = sx_deadline_after_ms(timeout_ms >= 0 ? timeout_ms : 0);
    pthread_mutex_lock(&tp->mu);
    while (!tp->head) {
        if (timeout_ms < 0)
            pthread_cond_wait(&tp->cv, &tp->mu);
        else if (pthread_cond_timedwait(&tp->cv, &tp->mu, &until) == ETIMEDOUT)
            break;
    }
    note_item *it = tp->head;
    if (it) {
        tp->head = it->next;
        if (!tp->head)
            tp->tail = NULL;
    }
    pthread_mutex_unlock(&tp->mu);
    if (it) {
        *n = it->n;
        free(it);
    }
    return SX_OK;
}

/* ---- the thread ---- */

static void *thread_main(void *arg)
{
    sx_smp_tpool *tp = arg;
    if (sx_loop_run(tp->loop) != SX_OK) {
        /* the system's poll failed: nothing more can run */
    }
    return NULL;
}

sx_status sx_smp_tpool_new(const sx_smp_pool_opts *opts, sx_smp_tpool **out)
{
    sx_error_clear();
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "pool: no place for the pool");
    *out = NULL;
    sx_smp_tpool *tp = calloc(1, sizeof *tp);
    if (!tp)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    if (pthread_mutex_init(&tp->mu, NULL) != 0) {
        free(tp);
        return sx_error_set(SX_E_INTERNAL, NULL, "pool: cannot make a mutex");
    }
    if (pthread_cond_init(&tp->cv, NULL) != 0) {
        pthread_mutex_destroy(&tp->mu);
        free(tp);
        return sx_error_set(SX_E_INTERNAL, NULL, "pool: cannot make a condition");
    }
    sx_status st = sx_loop_new(&tp->loop);
    if (st == SX_OK)
        st = sx_smp_pool_new(tp->loop, opts, on_event, tp, &tp->pool);
    if (st == SX_OK && pthread_create(&tp->th, NULL, thread_main, tp) != 0)
        st = sx_error_set(SX_E_INTERNAL, NULL, "pool: cannot start its thread");
    if (st != SX_OK) {
        sx_smp_pool_free(tp->pool);
        sx_loop_free(tp->loop);
        pthread_cond_destroy(&tp->cv);
        pthread_mutex_destroy(&tp->mu);
        free(tp);
        return st;
    }
    *out = tp;
    return SX_OK;
}

void sx_smp_tpool_free(sx_smp_tpool *tp)
{
    if (!tp)
        return;
    call c = {.tp = tp, .kind = C_STOP};
    if (run_call(&c) != SX_OK) {
        /* cannot reach the thread (no memory): stop it anyway; the pool
         * is freed below, on this thread, once it has returned */
        sx_loop_stop(tp->loop);
    }
    pthread_join(tp->th, NULL);
    sx_smp_pool_free(tp->pool);
    /* runs the connections' last clean-up tasks, on this thread now */
    sx_loop_free(tp->loop);
    for (note_item *it = tp->head, *next; it; it = next) {
        next = it->next;
        sx_smp_pool_note_clear(&it->n);
        free(it);
    }
    pthread_cond_destroy(&tp->cv);
    pthread_mutex_destroy(&tp->mu);
    free(tp);
}

sx_status sx_smp_tpool_subscribe(sx_smp_tpool *tp, sx_smp_queue *rcv)
{
    if (!tp)
        return sx_error_set(SX_E_USAGE, NULL, "subscribe: no pool");
    call c = {.tp = tp, .kind = C_SUBSCRIBE, .q = rcv};
    return run_call(&c);
}

sx_status sx_smp_tpool_subscribe_notifier(sx_smp_tpool *tp, sx_smp_notifier *n)
{
    if (!tp)
        return sx_error_set(SX_E_USAGE, NULL, "notifier subscribe: no pool");
    call c = {.tp = tp, .kind = C_SUBSCRIBE_NTF, .nt = n};
    return run_call(&c);
}

void sx_smp_tpool_release(sx_smp_tpool *tp)
{
    if (!tp)
        return;
    call c = {.tp = tp, .kind = C_RELEASE};
    (void)run_call(&c);
}

sx_status sx_smp_tpool_unsubscribe_notifier(sx_smp_tpool *tp, sx_smp_notifier *n)
{
    if (!tp)
        return sx_error_set(SX_E_USAGE, NULL, "notifier unsubscribe: no pool");
    call c = {.tp = tp, .kind = C_UNSUBSCRIBE_NTF, .nt = n};
    return run_call(&c);
}

sx_status sx_smp_tpool_unsubscribe(sx_smp_tpool *tp, sx_smp_queue *rcv)
{
    if (!tp)
        return sx_error_set(SX_E_USAGE, NULL, "unsubscribe: no pool");
    call c = {.tp = tp, .kind = C_UNSUBSCRIBE, .q = rcv};
    return run_call(&c);
}

sx_status sx_smp_tpool_send(sx_smp_tpool *tp, const sx_smp_queue *snd, const void *body, size_t len)
{
    if (!tp)
        return sx_error_set(SX_E_USAGE, NULL, "send: no pool");
    call c = {.tp = tp, .kind = C_SEND, .q = (sx_smp_queue *)snd, .body = body, .len = len};
    return run_call(&c);
}

sx_status sx_smp_tpool_ack(sx_smp_tpool *tp, const sx_smp_pool_note *n)
{
    if (!tp || !n || n->kind != SX_SMP_POOL_MESSAGE)
        return sx_error_set(SX_E_USAGE, NULL, "acknowledge: no pool or not a message note");
    call c = {.tp = tp, .kind = C_ACK, .note = n};
    return run_call(&c);
}

sx_status sx_tpool_run(sx_smp_tpool *tp, sx_tpool_start_fn fn, void *arg)
{
    if (!tp)
        return sx_error_set(SX_E_USAGE, NULL, "pool: no pool");
    call c = {.tp = tp, .kind = C_FN, .fn = fn, .fn_arg = arg};
    return run_call(&c);
}

void sx_tpool_call_done(call *c, sx_status st)
{
    call_done(c, st);
}

void *sx_tpool_call_arg(const call *c)
{
    return c->fn_arg;
}

void sx_smp_tpool_get_stats(sx_smp_tpool *tp, sx_smp_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!tp)
        return;
    call c = {.tp = tp, .kind = C_STATS, .stats = out};
    if (run_call(&c) != SX_OK) {
        /* no memory to reach the thread: zeroes */
    }
}

void sx_smp_tpool_routers(sx_smp_tpool *tp, sx_smp_pool_router_fn fn, void *arg)
{
    if (!tp || !fn)
        return;
    call c = {.tp = tp, .kind = C_ROUTERS, .router_fn = fn, .fn_arg = arg};
    if (run_call(&c) != SX_OK) {
        /* no memory to reach the thread: no routers */
    }
}

size_t sx_smp_tpool_service_id(sx_smp_tpool *tp, const char *server, uint8_t id[SX_SMP_SERVICE_ID_CAP])
{
    if (!tp || !server || !id)
        return 0;
    call c = {.tp = tp, .kind = C_SERVICE_ID, .server = server, .id = id};
    if (run_call(&c) != SX_OK)
        return 0;
    return c.id_len;
}
