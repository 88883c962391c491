/* The SMP router's expiry thread (the reference's expireMessagesThread):
 * every msg_check_interval it drops the messages older than the message
 * TTL at the heads of the queues and the expired pending notifications
 * (PROTOCOL-NOTES E20, E21). It has a thread of its own so that walking
 * every queue never holds up a worker's connections: it takes the queues'
 * locks one at a time, as any worker does, and never holds one while it
 * waits. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "kit/say.h"
#include "smp_router/pglazy.h"
#include "smp_router/server_int.h"

struct sx_expiry {
    sx_router *r;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop; /* under mu; also read without it between queues */
};

typedef struct unloaded_expiry {
    sx_router *r;
    int64_t cutoff;
} unloaded_expiry;

/* A queue read from the database for expiry only (in no store): its
 * messages are in the store's message back-end, found by its id. */
static void expire_unloaded(sx_queue *q, void *arg)
{
    unloaded_expiry *ue = arg;
    size_t msgs = sx_queue_expire(ue->r->store, q, ue->cutoff);
    sx_smp_stats_add(&ue->r->stats, SX_SMP_STAT_MSG_EXPIRED, (int64_t)msgs);
    sx_smp_stats_add(&ue->r->stats, SX_SMP_STAT_MSG_COUNT, -(int64_t)msgs);
}

static bool stopping(struct sx_expiry *e)
{
    return __atomic_load_n(&e->stop, __ATOMIC_ACQUIRE);
}

/* One pass over the store: a snapshot of its queues (taken under the map
 * lock, which is released before any queue is locked), then each queue
 * locked in turn. A stop ends the pass between two queues. */
static void sweep(struct sx_expiry *e)
{
    sx_router *r = e->r;
    const sx_router_opts *o = &r->opts;
    int64_t now = (int64_t)time(NULL);
    sx_queue **qs;
    size_t n;
    if (sx_store_snapshot(r->store, &qs, &n) != SX_OK)
        return;
    int64_t ntf_ttl = o->ntf_ttl_seconds > 0 ? o->ntf_ttl_seconds : 86400;
    size_t i = 0;
    for (; i < n && !stopping(e); i++) {
        sx_queue *q = qs[i];
        sx_queue_lock(q);
        size_t msgs = o->msg_ttl_seconds > 0 ? sx_queue_expire(r->store, q, now - o->msg_ttl_seconds) : 0;
        size_t ntfs = sx_queue_expire_ntfs(q, now - ntf_ttl);
        sx_smp_stats_add(&r->stats, SX_SMP_STAT_MSG_EXPIRED, (int64_t)msgs);
        sx_smp_stats_add(&r->stats, SX_SMP_STAT_MSG_COUNT, -(int64_t)msgs);
        sx_smp_stats_add(&r->stats, SX_SMP_STAT_MSG_NTF_EXPIRED, (int64_t)ntfs);
        sx_smp_stats_add(&r->stats, SX_SMP_STAT_NTF_COUNT, -(int64_t)ntfs);
        sx_queue_unlock(q);
        sx_queue_release(r->store, q);
    }
    for (; i < n; i++) /* the rest of a pass cut short by a stop */
        sx_queue_release(r->store, qs[i]);
    free(qs);
    /* store_queues: database: the queues not read since the start, from the
     * database (with database messages, only those holding messages). */
    if (!stopping(e) && r->db && o->msg_ttl_seconds > 0 && sx_store_lazy(r->store)) {
        unloaded_expiry ue = {r, now - o->msg_ttl_seconds};
        if (sx_pglazy_each_unloaded(r->db, r->store, o->db_messages, expire_unloaded, &ue) != SX_OK)
            SX_SAY(SX_SAY_WARN, "expiry: the queues in the database could not all be read");
    }
}

static void *expiry_main(void *arg)
{
    struct sx_expiry *e = arg;
    pthread_setname_np(pthread_self(), "smp-expire");
    int64_t every = e->r->opts.msg_check_interval > 0 ? e->r->opts.msg_check_interval : 7200;
    pthread_mutex_lock(&e->mu);
    while (!e->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)every;
        while (!e->stop && pthread_cond_timedwait(&e->cv, &e->mu, &until) == 0) {
        }
        if (e->stop)
            break;
        pthread_mutex_unlock(&e->mu);
        sweep(e);
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

sx_status sx_expiry_start(sx_router *r)
{
    struct sx_expiry *e = calloc(1, sizeof *e);
    if (!e)
        return SX_E_NOMEM;
    e->r = r;
    pthread_mutex_init(&e->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&e->thread, NULL, expiry_main, e) != 0) {
        pthread_cond_destroy(&e->cv);
        pthread_mutex_destroy(&e->mu);
        free(e);
        return SX_E_IO;
    }
    r->expiry = e;
    return SX_OK;
}

void sx_expiry_stop(sx_router *r)
{
    struct sx_expiry *e = r->expiry;
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    __atomic_store_n(&e->stop, true, __ATOMIC_RELEASE);
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
    r->expiry = NULL;
}
