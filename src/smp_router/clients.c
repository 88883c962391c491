/* SMP router: the control port's `clients` listing, gathered from every
 * worker on its own thread (each lists the connections it owns). */
#include "smp_router/server_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base64.h"
#include "core/deadline.h"
#include "crypto/util.h"

/* ---- control port `clients` ---- */

/* One request shared by the control thread and every worker: each worker
 * appends its lines and drops its reference; the last one out frees it, so
 * a control thread that gave up waiting leaves nothing dangling. */
typedef struct clients_req clients_req;
typedef struct clients_task {
    sx_loop_task task;
    clients_req *req;
    sx_worker *w;
} clients_task;

struct clients_req {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned pending; /* workers that have not answered */
    unsigned refs;    /* workers still to run + the control thread */
    char *buf;
    size_t len, cap;
    bool oom;
    int64_t wall_now, mono_now; /* to turn monotonic times into seconds since 1970 */
    clients_task *tasks;
};

static void clients_req_unref(clients_req *q)
{
    /* called with q->mu held */
    if (--q->refs > 0) {
        pthread_mutex_unlock(&q->mu);
        return;
    }
    pthread_mutex_unlock(&q->mu);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q->buf);
    free(q->tasks);
    free(q);
}

static bool buf_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        while (nc < *len + n + 1)
            nc *= 2;
        char *b = realloc(*buf, nc);
        if (!b)
            return false;
        *buf = b;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

static void clients_task_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    clients_task *ct = t->data;
    clients_req *q = ct->req;
    sx_worker *w = ct->w;
    char *lines = NULL;
    size_t len = 0, cap = 0;
    bool ok = true;
    int64_t wall = q->wall_now, mono = q->mono_now;
    for (sx_conn *c = w->conns; c && ok; c = c->next) {
        char sid[96] = "";
        if (c->state != SX_CONN_TLS) {
            sx_slice id = sx_smp_session_id(&c->sess);
            if (id.len && sx_b64_encode(id, SX_B64_STD, sid, sizeof sid) != SX_OK)
                sid[0] = '\0';
        }
        size_t subs = 0;
        for (size_t i = 0; i < c->subs_cap; i++)
            if (c->subs[i] && c->subs[i] != SUB_TOMB && !c->subs[i]->notifier)
                subs++;
        long long created = (long long)(wall - (mono - c->accepted_ms) / 1000);
        long long rcv = (long long)(wall - (mono - c->last_active_ms) / 1000);
        long long snd = c->last_sent_ms ? (long long)(wall - (mono - c->last_sent_ms) / 1000) : created;
        char line[256];
        int n = snprintf(line, sizeof line, "%llu,%s,%s,%lld,%lld,%lld,%lld,%zu\n",
                         (unsigned long long)c->id, sid, c->fd >= 0 ? "True" : "False", created, rcv, snd,
                         (long long)((mono - c->accepted_ms) / 1000), subs);
        ok = n > 0 && (size_t)n < sizeof line && buf_append(&lines, &len, &cap, line, (size_t)n);
    }
    pthread_mutex_lock(&q->mu);
    if (!ok)
        q->oom = true;
    else if (len && !buf_append(&q->buf, &q->len, &q->cap, lines, len))
        q->oom = true;
    q->pending--;
    pthread_cond_signal(&q->cv);
    free(lines);
    clients_req_unref(q); /* unlocks */
}

sx_status sx_router_clients_csv(sx_router *r, int timeout_ms, char **out, size_t *len)
{
    SX_ENSURE(r && out && len, SX_E_USAGE);
    clients_req *q = calloc(1, sizeof *q);
    if (!q)
        return SX_E_NOMEM;
    q->tasks = calloc(r->n_workers, sizeof *q->tasks);
    if (!q->tasks) {
        free(q);
        return SX_E_NOMEM;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->wall_now = (int64_t)time(NULL);
    q->mono_now = sx_loop_now_ms();
    q->pending = r->n_workers;
    q->refs = r->n_workers + 1;
    for (unsigned i = 0; i < r->n_workers; i++) {
        q->tasks[i].req = q;
        q->tasks[i].w = &r->workers[i];
        q->tasks[i].task.cb = clients_task_cb;
        q->tasks[i].task.data = &q->tasks[i];
        sx_loop_post(r->workers[i].loop, &q->tasks[i].task);
    }
    struct timespec dl = sx_deadline_after_ms(timeout_ms);
    pthread_mutex_lock(&q->mu);
    while (q->pending > 0)
        if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) != 0)
            break;
    sx_status st = SX_OK;
    if (q->pending > 0)
        st = SX_E_IO;
    else if (q->oom)
        st = SX_E_NOMEM;
    if (st == SX_OK) {
        *out = q->buf ? q->buf : strdup("");
        *len = q->buf ? q->len : 0;
        q->buf = NULL;
        if (!*out)
            st = SX_E_NOMEM;
    }
    clients_req_unref(q); /* unlocks */
    return st;
}
