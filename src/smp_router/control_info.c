/* The SMP router's control-port commands that report (stats, stats-rts,
 * threads, socket-threads, server-info) or save (save), with the
 * reference's words where it has them; where it prints its runtime's
 * figures (GHC's RTS statistics, Haskell thread ids and labels) these
 * print the process's own: threads from /proc, memory, CPU time. */
#include "smp_router/control_info.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "kit/ctlport.h"
#include "smp_router/metrics.h"

/* ---- the process, from /proc ---- */

/* A "Key:   value" line of /proc/self/status, value as text. */
static bool proc_status(const char *key, char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return false;
    char line[256];
    size_t k = strlen(key);
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, k) == 0 && line[k] == ':') {
            const char *v = line + k + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(out, cap, "%s", v);
            out[strcspn(out, "\n")] = '\0';
            found = true;
        }
    }
    fclose(f);
    return found;
}

typedef struct task {
    long tid;
    char state;
    char name[32];
} task;

static int cmp_task(const void *a, const void *b)
{
    long x = ((const task *)a)->tid, y = ((const task *)b)->tid;
    return x < y ? -1 : x > y;
}

/* The process's threads, sorted by id; *n of them (free the array). */
static task *list_tasks(size_t *n)
{
    *n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return NULL;
    size_t cap = 32;
    task *t = malloc(cap * sizeof *t);
    struct dirent *e;
    while (t && (e = readdir(d)) != NULL) {
        long tid = 0;
        const char *dn = e->d_name;
        for (; *dn >= '0' && *dn <= '9' && tid < 1000000000L; dn++)
            tid = tid * 10 + (*dn - '0');
        if (*dn || tid <= 0)
            continue;
        if (*n == cap) {
            task *nt = realloc(t, 2 * cap * sizeof *t);
            if (!nt)
                break;
            t = nt;
            cap *= 2;
        }
        task *k = &t[*n];
        memset(k, 0, sizeof *k);
        k->tid = tid;
        k->state = '?';
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
        FILE *f = fopen(path, "r");
        if (f) {
            size_t len = fread(buf, 1, sizeof buf - 1, f);
            buf[len] = '\0';
            fclose(f);
            /* "tid (name) S ...": the name may hold spaces and ')' */
            char *open = strchr(buf, '('), *close = strrchr(buf, ')');
            if (open && close && close > open) {
                size_t nl = (size_t)(close - open - 1);
                if (nl >= sizeof k->name)
                    nl = sizeof k->name - 1;
                memcpy(k->name, open + 1, nl);
                k->name[nl] = '\0';
                if (close[1] == ' ' && close[2])
                    k->state = close[2];
            }
        }
        (*n)++;
    }
    closedir(d);
    if (t)
        qsort(t, *n, sizeof *t, cmp_task);
    return t;
}

static const char *state_word(char s)
{
    switch (s) {
    case 'R': return "running";
    case 'S': return "sleeping";
    case 'D': return "waiting for I/O";
    case 'T':
    case 't': return "stopped";
    case 'Z': return "zombie";
    default: return "unknown";
    }
}

/* ---- commands ---- */

static void say_stat(sx_kit_ctl_conn *c, sx_router *r, sx_smp_stat k)
{
    sx_kit_ctl_say(c, "%s: %lld", sx_smp_stat_key(k), (long long)sx_smp_stats_get(&r->stats, k));
}

static void say_proxy(sx_kit_ctl_conn *c, sx_router *r, const char *label, sx_smp_stat first)
{
    long long v[5];
    for (int i = 0; i < 5; i++)
        v[i] = (long long)sx_smp_stats_get(&r->stats, (sx_smp_stat)(first + i));
    sx_kit_ctl_say(c, "%s: requests=%lld, successes=%lld, errorsConnect=%lld, errorsCompat=%lld, errorsOther=%lld",
                   label, v[0], v[1], v[2], v[3], v[4]);
}

void sx_ctl_cmd_stats(sx_kit_ctl_conn *c, sx_router *r)
{
    sx_smp_entity_counts ent;
    sx_ops_entity_counts(r, &ent);
    size_t active[3], active_ntf[3];
    sx_smp_stats_period_counts(&r->stats, active, active_ntf);
    sx_smp_stats *s = &r->stats;
    pthread_mutex_lock(&s->mu);
    int64_t from = s->d.from_time;
    pthread_mutex_unlock(&s->mu);
    time_t tt = (time_t)from;
    struct tm tm;
    char when[40] = "";
    if (gmtime_r(&tt, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    sx_kit_ctl_say(c, "fromTime: %s", when);
    static const sx_smp_stat first[] = {SX_SMP_STAT_Q_CREATED, SX_SMP_STAT_Q_SECURED,
                                        SX_SMP_STAT_Q_DELETED_ALL, SX_SMP_STAT_Q_DELETED_ALL_B,
                                        SX_SMP_STAT_Q_DELETED_NEW, SX_SMP_STAT_Q_DELETED_SECURED};
    for (size_t i = 0; i < sizeof first / sizeof first[0]; i++)
        say_stat(c, r, first[i]);
    sx_kit_ctl_say(c, "daily active queues: %zu", active[0]);
    say_stat(c, r, SX_SMP_STAT_Q_SUB);
    say_stat(c, r, SX_SMP_STAT_Q_SUB_ALL_B);
    say_stat(c, r, SX_SMP_STAT_Q_SUB_END);
    say_stat(c, r, SX_SMP_STAT_Q_SUB_END_B);
    sx_kit_ctl_say(c, "other SUB events (auth, duplicate, prohibited): (%lld,%lld,%lld)",
                   (long long)sx_smp_stats_get(s, SX_SMP_STAT_Q_SUB_AUTH),
                   (long long)sx_smp_stats_get(s, SX_SMP_STAT_Q_SUB_DUPLICATE),
                   (long long)sx_smp_stats_get(s, SX_SMP_STAT_Q_SUB_PROHIBITED));
    static const sx_smp_stat msgs[] = {SX_SMP_STAT_MSG_SENT, SX_SMP_STAT_MSG_RECV, SX_SMP_STAT_MSG_RECV_GET,
                                       SX_SMP_STAT_MSG_GET, SX_SMP_STAT_MSG_GET_NO_MSG};
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
        say_stat(c, r, msgs[i]);
    sx_kit_ctl_say(c, "other GET events (auth, duplicate, prohibited): (%lld,%lld,%lld)",
                   (long long)sx_smp_stats_get(s, SX_SMP_STAT_MSG_GET_AUTH),
                   (long long)sx_smp_stats_get(s, SX_SMP_STAT_MSG_GET_DUPLICATE),
                   (long long)sx_smp_stats_get(s, SX_SMP_STAT_MSG_GET_PROHIBITED));
    static const sx_smp_stat ntfs[] = {SX_SMP_STAT_MSG_SENT_NTF, SX_SMP_STAT_MSG_RECV_NTF, SX_SMP_STAT_MSG_NTFS,
                                       SX_SMP_STAT_MSG_NTFS_B, SX_SMP_STAT_MSG_NTF_EXPIRED, SX_SMP_STAT_Q_COUNT};
    for (size_t i = 0; i < sizeof ntfs / sizeof ntfs[0]; i++)
        say_stat(c, r, ntfs[i]);
    sx_kit_ctl_say(c, "qCount 2: %lld", (long long)ent.queues);
    sx_kit_ctl_say(c, "notifiers: %lld", (long long)ent.notifiers);
    say_stat(c, r, SX_SMP_STAT_MSG_COUNT);
    say_stat(c, r, SX_SMP_STAT_NTF_COUNT);
    if (sx_kit_ctl_role_of(c) == SX_KIT_CTL_ADMIN)
        sx_kit_ctl_say(c, "ntfCount 2: %lld", (long long)sx_smp_stats_get(s, SX_SMP_STAT_NTF_COUNT));
    say_proxy(c, r, "pRelays", SX_SMP_STAT_P_RELAYS_REQUESTS);
    say_proxy(c, r, "pRelaysOwn", SX_SMP_STAT_P_RELAYS_OWN_REQUESTS);
    say_proxy(c, r, "pMsgFwds", SX_SMP_STAT_P_MSG_FWDS_REQUESTS);
    say_proxy(c, r, "pMsgFwdsOwn", SX_SMP_STAT_P_MSG_FWDS_OWN_REQUESTS);
    say_stat(c, r, SX_SMP_STAT_P_MSG_FWDS_RECV);
    sx_kit_ctl_say(c, "rcvServiceCount: %lld", (long long)ent.rcv_services);
    sx_kit_ctl_say(c, "ntfServiceCount: %lld", (long long)ent.ntf_services);
    sx_kit_ctl_say(c, "rcvServiceQueuesCount: %lld", (long long)ent.rcv_service_queues);
    sx_kit_ctl_say(c, "ntfServiceQueuesCount: %lld", (long long)ent.ntf_service_queues);
}

static double seconds_of(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

void sx_ctl_cmd_stats_rts(sx_kit_ctl_conn *c, sx_router *r)
{
    char v[128];
    size_t n = 0;
    task *t = list_tasks(&n);
    free(t);
    sx_kit_ctl_say(c, "uptime: %lld s", (long long)((int64_t)time(NULL) - r->started_at));
    sx_kit_ctl_say(c, "threads: %zu", n);
    sx_kit_ctl_say(c, "workers: %u", r->n_workers);
    static const char *const mem[] = {"VmRSS", "VmHWM", "VmSize", "VmPeak", "RssAnon", "RssFile"};
    for (size_t i = 0; i < sizeof mem / sizeof mem[0]; i++)
        if (proc_status(mem[i], v, sizeof v))
            sx_kit_ctl_say(c, "%s: %s", mem[i], v);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        sx_kit_ctl_say(c, "cpu user: %.3f s", seconds_of(ru.ru_utime));
        sx_kit_ctl_say(c, "cpu system: %.3f s", seconds_of(ru.ru_stime));
        sx_kit_ctl_say(c, "context switches (voluntary, involuntary): (%ld,%ld)", ru.ru_nvcsw, ru.ru_nivcsw);
    }
    long fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            fds += e->d_name[0] != '.';
        closedir(d);
        sx_kit_ctl_say(c, "open files: %ld", fds - 1); /* less the one reading the folder */
    }
}

void sx_ctl_cmd_threads(sx_kit_ctl_conn *c, sx_router *r)
{
    (void)r;
    size_t n = 0;
    task *t = list_tasks(&n);
    sx_kit_ctl_say(c, "Threads: %zu", n);
    for (size_t i = 0; t && i < n; i++)
        sx_kit_ctl_say(c, "%ld (%s) %s", t[i].tid, state_word(t[i].state), t[i].name);
    free(t);
}

/* The reference lists a thread per socket; ours serve many sockets each:
 * one line per worker thread with the connections it holds. */
void sx_ctl_cmd_socket_threads(sx_kit_ctl_conn *c, sx_router *r)
{
    size_t n = 0;
    task *t = list_tasks(&n);
    char ports[64] = "";
    size_t o = 0;
    for (size_t i = 0; i < sx_kit_workers_n_ports(r->ws) && o < sizeof ports; i++) {
        int k = snprintf(ports + o, sizeof ports - o, "%s%u", i ? " " : "", (unsigned)sx_kit_workers_port(r->ws, i));
        if (k > 0)
            o += (size_t)k;
    }
    for (unsigned w = 0; w < r->n_workers; w++) {
        char name[24];
        snprintf(name, sizeof name, "worker %u", w);
        const task *k = NULL;
        for (size_t i = 0; t && i < n && !k; i++)
            if (strcmp(t[i].name, name) == 0)
                k = &t[i];
        size_t conns = __atomic_load_n(&r->workers[w].n_conns, __ATOMIC_RELAXED);
        if (k)
            sx_kit_ctl_say(c, "%s,%u,%ld,%s,%s,%zu connections", ports, w, k->tid, state_word(k->state), name, conns);
        else
            sx_kit_ctl_say(c, "%s,%u,,gone,,%zu connections", ports, w, conns);
    }
    free(t);
}

typedef struct subs_info {
    size_t smp, smp_clients, ntf, ntf_clients, delivered, get_mode;
} subs_info;

static void add_client(sx_kit_hset *h, const void *conn)
{
    sx_status st = sx_kit_hset_add(h, (uint64_t)(uintptr_t)conn);
    (void)st; /* out of memory: not counted */
}

static void count_subs(sx_router *r, subs_info *si)
{
    memset(si, 0, sizeof *si);
    sx_queue **qs = NULL;
    size_t n = 0;
    if (sx_store_snapshot(r->store, &qs, &n) != SX_OK)
        return;
    sx_kit_hset smp = {0}, ntf = {0};
    for (size_t i = 0; i < n; i++) {
        sx_queue *q = qs[i];
        sx_queue_lock(q);
        sx_sub *s = q->sub, *ns = sx_queue_nsub(q);
        if (!q->deleted && s) {
            si->smp++;
            si->delivered += s->delivered;
            add_client(&smp, s->conn);
        }
        if (!q->deleted && ns) {
            si->ntf++;
            add_client(&ntf, ns->conn);
        }
        sx_queue_unlock(q);
        sx_queue_release(r->store, q);
    }
    free(qs);
    si->smp_clients = smp.n;
    si->ntf_clients = ntf.n;
    sx_kit_hset_clear(&smp);
    sx_kit_hset_clear(&ntf);
}

void sx_ctl_cmd_server_info(sx_kit_ctl_conn *c, sx_router *r)
{
    size_t n = 0;
    task *t = list_tasks(&n);
    free(t);
    sx_kit_ctl_say(c, "Threads: %zu", n);
    size_t clients = 0;
    for (unsigned i = 0; i < r->n_workers; i++)
        clients += __atomic_load_n(&r->workers[i].n_conns, __ATOMIC_RELAXED);
    sx_kit_ctl_say(c, "Clients: %zu", clients);
    subs_info si;
    count_subs(r, &si);
    if (sx_kit_ctl_role_of(c) == SX_KIT_CTL_ADMIN) {
        /* ours instead of the reference's per-client queue lengths */
        for (unsigned i = 0; i < r->n_workers; i++)
            sx_kit_ctl_say(c, "Worker %u clients: %zu", i, __atomic_load_n(&r->workers[i].n_conns, __ATOMIC_RELAXED));
        sx_kit_ctl_say(c, "SMP subscriptions with a delivered message: %zu", si.delivered);
    }
    sx_kit_ctl_say(c, "SMP subscriptions: %zu", si.smp);
    sx_kit_ctl_say(c, "SMP subscribed clients: %zu", si.smp_clients);
    sx_kit_ctl_say(c, "Ntf subscriptions: %zu", si.ntf);
    sx_kit_ctl_say(c, "Ntf subscribed clients: %zu", si.ntf_clients);
}

void sx_ctl_cmd_save(sx_kit_ctl_conn *c, sx_router *r)
{
    sx_kit_ctl_say(c, "saving server state...");
    /* Queue changes are in the store log as they happen, and messages in
     * the message journal when it is on; what is left to save is the
     * statistics backup. */
    if (r->opts.stats_backup_path) {
        sx_status st = sx_smp_stats_save(&r->stats, r->opts.stats_backup_path);
        if (st != SX_OK) {
            sx_kit_ctl_say(c, "error: %s", sx_status_str(st));
            return;
        }
    }
    sx_kit_ctl_say(c, "server state saved!");
}
