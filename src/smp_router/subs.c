/* SMP router: the subscription plumbing. A connection's map of the queues it
 * subscribed (sx_sub), and the posts that let a command on one worker reach a
 * subscriber on another (a task on the subscriber's worker, coalesced by the
 * atomic pending/posted flags). */
#include "smp_router/server_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base64.h"
#include "crypto/util.h"

/* ---- subscriptions ---- */

void sx_sub_retain(sx_sub *s)
{
    __atomic_fetch_add(&s->refs, 1, __ATOMIC_RELAXED);
}

void sx_sub_release(sx_router *r, sx_sub *s)
{
    if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        sx_queue_release(r->store, s->q);
        free(s);
    }
}

static void sub_task_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    sx_sub *s = t->data;
    __atomic_store_n(&s->posted, false, __ATOMIC_RELEASE);
    unsigned what = __atomic_exchange_n(&s->pending, 0u, __ATOMIC_ACQ_REL);
    if (s->active && what)
        sx_router_sub_work(s->conn, s, what);
    sx_sub_release(s->worker->r, s); /* the task's reference */
}

void sx_sub_post(sx_sub *s, unsigned what)
{
    __atomic_fetch_or(&s->pending, what, __ATOMIC_ACQ_REL);
    if (__atomic_exchange_n(&s->posted, true, __ATOMIC_ACQ_REL))
        return; /* already queued: it will see the new bits */
    sx_sub_retain(s);
    s->task.cb = sub_task_cb;
    s->task.data = s;
    sx_loop_post(s->worker->loop, &s->task);
}

void sx_sub_post_release(sx_router *r, sx_sub *s, unsigned what, const sx_conn *except)
{
    if (!s)
        return;
    if (s->conn != except)
        sx_sub_post(s, what);
    sx_sub_release(r, s);
}

static size_t ptr_hash(const void *p, size_t mask)
{
    uintptr_t v = (uintptr_t)p;
    v ^= v >> 17;
    v *= 0x9E3779B97F4A7C15ull;
    return (size_t)(v >> 20) & mask;
}


static sx_sub **subs_slot(sx_conn *c, sx_queue *q, bool notifier, bool insert)
{
    if (!c->subs_cap)
        return NULL;
    size_t mask = c->subs_cap - 1, i = ptr_hash(q, mask);
    sx_sub **tomb = NULL;
    for (;;) {
        sx_sub **slot = &c->subs[i];
        if (*slot == NULL)
            return insert ? (tomb ? tomb : slot) : NULL;
        if (*slot == SUB_TOMB) {
            if (!tomb)
                tomb = slot;
        } else if ((*slot)->q == q && (*slot)->notifier == notifier) {
            return slot;
        }
        i = (i + 1) & mask;
    }
}

static bool subs_grow(sx_conn *c)
{
    size_t cap = c->subs_cap ? c->subs_cap * 2 : 8;
    if (c->subs_cap && c->subs_n * 4 < c->subs_cap)
        cap = c->subs_cap; /* mostly tombstones: rehash at the same size */
    sx_sub **old = c->subs;
    size_t oldcap = c->subs_cap;
    c->subs = calloc(cap, sizeof *c->subs);
    if (!c->subs) {
        c->subs = old;
        return false;
    }
    c->subs_cap = cap;
    c->subs_used = c->subs_n = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i] && old[i] != SUB_TOMB) {
            *subs_slot(c, old[i]->q, old[i]->notifier, true) = old[i];
            c->subs_used++;
            c->subs_n++;
        }
    }
    free(old);
    return true;
}

sx_sub *sx_conn_sub(sx_conn *c, sx_queue *q, bool notifier)
{
    sx_sub **slot = subs_slot(c, q, notifier, false);
    return slot ? *slot : NULL;
}

sx_sub *sx_conn_sub_add(sx_conn *c, sx_queue *q, bool get_mode, bool notifier)
{
    if ((c->subs_used + 1) * 4 > c->subs_cap * 3 && !subs_grow(c))
        return NULL;
    sx_sub *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->refs = 1; /* the connection's map */
    s->active = true;
    s->get_mode = get_mode;
    s->notifier = notifier;
    s->conn = c;
    s->worker = c->w;
    sx_queue_retain(c->w->r->store, q);
    s->q = q;
    sx_sub **slot = subs_slot(c, q, notifier, true);
    if (*slot == NULL)
        c->subs_used++;
    *slot = s;
    c->subs_n++;
    return s;
}

void sx_conn_sub_remove(sx_conn *c, sx_queue *q, bool notifier)
{
    sx_sub **slot = subs_slot(c, q, notifier, false);
    if (!slot)
        return;
    sx_sub *s = *slot;
    *slot = SUB_TOMB;
    c->subs_n--;
    s->active = false;
    sx_queue_lock(q);
    if (q->sub == s) {
        q->sub = NULL;
        sx_sub_release(c->w->r, s); /* the queue's reference */
    }
    if (sx_queue_nsub(q) == s) {
        sx_queue_set_nsub(q, NULL);
        sx_sub_release(c->w->r, s);
    }
    sx_queue_unlock(q);
    sx_sub_release(c->w->r, s); /* the map's reference */
}
