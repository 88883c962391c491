/* The SMP router's statistics files (the reference's restoreServerStats,
 * saveServerStats, logServerStats and savePrometheusMetrics): the backup
 * restored at start and saved at stop, and one thread that appends the
 * daily line and rewrites the metrics file on time. Also the figures of
 * the running router that the metrics and the control port show. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "kit/prom.h"
#include "kit/paths.h"
#include "simplex/version.h"
#include "smp_router/metrics.h"
#include "smp_router/pglazy.h"
#include "smp_router/server_int.h"

struct sx_ops {
    sx_router *r;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    int64_t next_daily;   /* unix seconds, 0 = no daily line */
    int64_t next_metrics; /* likewise for the metrics file */
};

/* ---- what the store holds ---- */

typedef struct counts {
    sx_smp_entity_counts ent;
    int64_t msgs, ntfs;
} counts;

static void count_queue(sx_queue *q, void *arg)
{
    counts *c = arg;
    sx_queue_lock(q);
    if (!q->deleted) {
        c->ent.queues++;
        c->ent.notifiers += sx_queue_notifier(q) != NULL;
        c->msgs += q->n_msgs;
        c->ntfs += q->n_ntfs;
    }
    sx_queue_unlock(q);
}

/* store_queues: database: the queues and notifiers (and the messages, with
 * database messages) of the database, not only those held in memory. */
static void count_db(sx_router *r, counts *c)
{
    int64_t q, n, m;
    if (!r->db || !sx_store_lazy(r->store) || sx_pglazy_counts(r->db, &q, &n, &m) != SX_OK)
        return;
    c->ent.queues = q;
    c->ent.notifiers = n;
    if (r->opts.db_messages)
        c->msgs = m;
}

static void count_store(sx_router *r, counts *c)
{
    memset(c, 0, sizeof *c);
    sx_queue **qs = NULL;
    size_t n = 0;
    if (sx_store_snapshot(r->store, &qs, &n) != SX_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        count_queue(qs[i], c);
        sx_queue_release(r->store, qs[i]);
    }
    free(qs);
    count_db(r, c);
}

void sx_ops_entity_counts(sx_router *r, sx_smp_entity_counts *out)
{
    counts c;
    count_store(r, &c);
    *out = c.ent;
    /* The stored messages and notifications as the store has them: the
     * running counts drift (a notification replaced by a newer one, a
     * queue deleted with its messages), the store does not. */
    __atomic_store_n(&r->stats.d.c[SX_SMP_STAT_MSG_COUNT], c.msgs, __ATOMIC_RELAXED);
    __atomic_store_n(&r->stats.d.c[SX_SMP_STAT_NTF_COUNT], c.ntfs, __ATOMIC_RELAXED);
}

/* ---- the backup file ---- */

sx_status sx_ops_restore_stats(sx_router *r)
{
    /* The counts of what the store holds (no worker runs yet). */
    counts c;
    memset(&c, 0, sizeof c);
    if (sx_store_each(r->store, count_queue, &c) != SX_OK)
        return SX_E_NOMEM;
    count_db(r, &c);
    sx_smp_stats *s = &r->stats;
    const char *path = r->opts.stats_backup_path;
    if (path && access(path, F_OK) == 0) {
        if (!r->opts.quiet)
            printf("restoring server stats from file %s\n", path);
        sx_smp_stats_data d;
        size_t line = 0;
        sx_status st = sx_smp_stats_load(path, &d, &line);
        if (st != SX_OK) {
            fprintf(stderr, "error restoring server stats from %s (line %zu): %s\n", path, line, sx_status_str(st));
            return st;
        }
        int64_t saved_queues = d.c[SX_SMP_STAT_Q_COUNT];
        sx_smp_stats_restore(s, &d);
        sx_smp_stats_data_cleanup(&d);
        char *bak = sx_kit_path_with(path, ".bak");
        if (!bak || rename(path, bak) != 0) {
            free(bak);
            fprintf(stderr, "cannot rename %s: %s\n", path, strerror(errno));
            return SX_E_IO;
        }
        free(bak);
        if (!r->opts.quiet) {
            printf("server stats restored\n");
            if (saved_queues != c.ent.queues)
                printf("Queue count differs: stats: %lld, store: %lld\n", (long long)saved_queues,
                       (long long)c.ent.queues);
        }
    }
    sx_smp_stats_add(s, SX_SMP_STAT_MSG_EXPIRED, r->expired_at_start);
    sx_smp_stats_add(s, SX_SMP_STAT_MSG_NTF_EXPIRED, r->ntfs_expired_at_start);
    __atomic_store_n(&s->d.c[SX_SMP_STAT_Q_COUNT], c.ent.queues, __ATOMIC_RELAXED);
    __atomic_store_n(&s->d.c[SX_SMP_STAT_MSG_COUNT], c.msgs, __ATOMIC_RELAXED);
    __atomic_store_n(&s->d.c[SX_SMP_STAT_NTF_COUNT], c.ntfs, __ATOMIC_RELAXED);
    return SX_OK;
}

void sx_ops_save_stats(sx_router *r)
{
    const char *path = r->opts.stats_backup_path;
    if (!path)
        return;
    if (!r->opts.quiet)
        printf("saving server stats to file %s\n", path);
    sx_status st = sx_smp_stats_save(&r->stats, path);
    if (st != SX_OK)
        fprintf(stderr, "cannot save server stats to %s: %s\n", path, sx_status_str(st));
    else if (!r->opts.quiet)
        printf("server stats saved\n");
}

/* ---- figures of the running router ---- */

/* Out of memory: the client is not counted. */
static void add_client(sx_kit_hset *h, const void *conn)
{
    sx_status st = sx_kit_hset_add(h, (uint64_t)(uintptr_t)conn);
    (void)st;
}

/* Subscriptions and deliveries, read from the queues under their locks:
 * a client is told apart by its connection's address, which is never
 * dereferenced here. */
static void subscription_figures(sx_router *r, sx_smp_metrics_rt *rt)
{
    sx_queue **qs = NULL;
    size_t n = 0;
    if (sx_store_snapshot(r->store, &qs, &n) != SX_OK)
        return;
    sx_kit_hset smp = {0}, ntf = {0}, dlv = {0};
    int64_t now = sx_loop_now_ms() / 1000;
    for (size_t i = 0; i < n; i++) {
        sx_queue *q = qs[i];
        sx_queue_lock(q);
        if (!q->deleted) {
            rt->loaded_queues++;
            rt->loaded_notifiers += sx_queue_notifier(q) != NULL;
            sx_sub *s = q->sub;
            if (s) { /* cleared under the queue lock when its connection goes */
                rt->smp_subs++;
                add_client(&smp, s->conn);
                if (s->delivered) {
                    rt->delivered_subs++;
                    add_client(&dlv, s->conn);
                    int64_t age = now - s->delivered_at;
                    if (age < 0)
                        age = 0;
                    rt->pending[age < 60 ? 0 : age < 300 ? 1
                                           : age < 1200  ? 2
                                           : age < 3600  ? 3
                                                         : 4]++;
                    if (age > rt->pending_max)
                        rt->pending_max = age;
                }
            }
            sx_sub *ns = sx_queue_nsub(q);
            if (ns) {
                rt->ntf_subs++;
                add_client(&ntf, ns->conn);
            }
        }
        sx_queue_unlock(q);
        sx_queue_release(r->store, q);
    }
    free(qs);
    rt->smp_sub_clients = (int64_t)smp.n;
    rt->ntf_sub_clients = (int64_t)ntf.n;
    rt->delivered_clients = (int64_t)dlv.n;
    sx_kit_hset_clear(&smp);
    sx_kit_hset_clear(&ntf);
    sx_kit_hset_clear(&dlv);
}

static void runtime_figures(sx_router *r, sx_smp_metrics_rt *rt)
{
    memset(rt, 0, sizeof *rt);
    size_t np = sx_kit_workers_n_ports(r->ws);
    rt->n_ports = np < SX_SMP_METRICS_PORTS ? np : SX_SMP_METRICS_PORTS;
    for (size_t i = 0; i < rt->n_ports; i++) {
        rt->port[i] = sx_kit_workers_port(r->ws, i);
        rt->accepted[i] = sx_kit_workers_accepted(r->ws, i);
        rt->closed[i] = sx_kit_workers_closed(r->ws, i);
        rt->active[i] = rt->accepted[i] >= rt->closed[i] ? rt->accepted[i] - rt->closed[i] : 0;
    }
    rt->threads = sx_kit_proc_threads();
    for (unsigned i = 0; i < r->n_workers; i++)
        rt->clients += (int64_t)__atomic_load_n(&r->workers[i].n_conns, __ATOMIC_RELAXED);
    subscription_figures(r, rt);
}

sx_status sx_ops_metrics_text(sx_router *r, int64_t now_ms, char **out)
{
    *out = NULL;
    sx_smp_metrics_in in;
    memset(&in, 0, sizeof in);
    sx_ops_entity_counts(r, &in.ent);
    sx_smp_stats_data d;
    sx_smp_stats_counters(&r->stats, &d);
    in.d = &d;
    sx_smp_stats_period_counts(&r->stats, in.active, in.active_ntf);
    runtime_figures(r, &in.rt);
    int64_t *ack = malloc(sizeof(int64_t) * SX_SMP_ACK_BUCKETS);
    if (!ack)
        return SX_E_NOMEM;
    for (size_t i = 0; i < SX_SMP_ACK_BUCKETS; i++)
        ack[i] = sx_kit_stat_get(&r->stats.ack[i]);
    in.ack = ack;
    in.ack_sum = sx_kit_stat_get(&r->stats.ack_sum);
    in.version = sx_version();
    in.now_ms = now_ms;
    sx_status st = sx_smp_metrics_text(&in, out, NULL);
    free(ack);
    return st;
}

/* Writes the whole file through "<path>.tmp" and a rename, so that a
 * reader never sees half of it. */
static sx_status write_file(const char *path, const char *text)
{
    char *tmp = sx_kit_path_with(path, ".tmp");
    if (!tmp)
        return SX_E_NOMEM;
    sx_status st = SX_E_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        st = sx_fd_write_all(fd, text, strlen(text));
        if (close(fd) != 0 && st == SX_OK)
            st = SX_E_IO;
        if (st == SX_OK && rename(tmp, path) != 0)
            st = SX_E_IO;
        if (st != SX_OK)
            unlink(tmp);
    }
    free(tmp);
    return st;
}

/* ---- the thread ---- */

static void daily_line(sx_router *r, int64_t now)
{
    sx_smp_entity_counts ent;
    sx_ops_entity_counts(r, &ent);
    char line[4096];
    sx_status st = sx_smp_stats_daily_line(&r->stats, &ent, now, line, sizeof line);
    if (st == SX_OK)
        st = sx_kit_stats_append_line(r->opts.stats_daily_path, line);
    if (st != SX_OK)
        fprintf(stderr, "cannot write server stats to %s: %s\n", r->opts.stats_daily_path, sx_status_str(st));
}

static void metrics_file(sx_router *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char *text = NULL;
    sx_status st = sx_ops_metrics_text(r, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, &text);
    if (st == SX_OK)
        st = write_file(r->opts.metrics_path, text);
    free(text);
    if (st != SX_OK)
        fprintf(stderr, "cannot write metrics to %s: %s\n", r->opts.metrics_path, sx_status_str(st));
}

static void *ops_main(void *arg)
{
    struct sx_ops *o = arg;
    sx_router *r = o->r;
    pthread_setname_np(pthread_self(), "smp-stats");
    int64_t daily_every = r->opts.stats_interval > 0 ? r->opts.stats_interval : 86400;
    pthread_mutex_lock(&o->mu);
    while (!o->stop) {
        int64_t now = (int64_t)time(NULL);
        bool do_daily = o->next_daily && now >= o->next_daily;
        bool do_metrics = o->next_metrics && now >= o->next_metrics;
        if (do_daily || do_metrics) {
            if (do_daily)
                o->next_daily = now + daily_every;
            if (do_metrics)
                o->next_metrics = now + r->opts.metrics_interval;
            pthread_mutex_unlock(&o->mu);
            if (do_daily)
                daily_line(r, now);
            if (do_metrics)
                metrics_file(r);
            pthread_mutex_lock(&o->mu);
            continue;
        }
        int64_t wake = 0;
        if (o->next_daily)
            wake = o->next_daily;
        if (o->next_metrics && (!wake || o->next_metrics < wake))
            wake = o->next_metrics;
        struct timespec until = {.tv_sec = (time_t)(wake ? wake : now + 3600)};
        pthread_cond_timedwait(&o->cv, &o->mu, &until);
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

sx_status sx_ops_start(sx_router *r)
{
    const sx_router_opts *opts = &r->opts;
    bool daily = opts->stats_daily_path != NULL;
    bool metrics = opts->metrics_path && opts->metrics_interval > 0;
    if (!daily && !metrics)
        return SX_OK;
    struct sx_ops *o = calloc(1, sizeof *o);
    if (!o)
        return SX_E_NOMEM;
    o->r = r;
    int64_t now = (int64_t)time(NULL);
    if (daily) {
        if (opts->stats_interval > 0) {
            o->next_daily = now + opts->stats_interval;
        } else {
            /* the next time of day stats_start_time, UTC */
            int64_t delay = opts->stats_start_time - now % 86400;
            o->next_daily = now + (delay <= 0 ? delay + 86400 : delay);
        }
        if (!opts->quiet)
            printf("server stats log enabled: %s\n", opts->stats_daily_path);
    }
    if (metrics) {
        o->next_metrics = now + opts->metrics_interval;
        if (!opts->quiet)
            printf("Prometheus metrics saved every %lld seconds to %s\n", (long long)opts->metrics_interval,
                   opts->metrics_path);
    }
    pthread_mutex_init(&o->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_REALTIME);
    pthread_cond_init(&o->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&o->thread, NULL, ops_main, o) != 0) {
        pthread_cond_destroy(&o->cv);
        pthread_mutex_destroy(&o->mu);
        free(o);
        return SX_E_IO;
    }
    r->ops = o;
    return SX_OK;
}

void sx_ops_stop(sx_router *r)
{
    struct sx_ops *o = r->ops;
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    o->stop = true;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    pthread_join(o->thread, NULL);
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
    free(o);
    r->ops = NULL;
}
