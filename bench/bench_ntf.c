/* Benchmark: the NTF router end to end, as processes. The real smp-server
 * (metrics every second), ntf-server and APNS stand-in programs run in a
 * temporary folder (the test helpers tests/integration/pool_router.c and
 * ntf_env.c start them); one device token is registered and verified.
 *  1. N queues with notifiers are made on the SMP router (NEW with a
 *     notifier, several threads over the thread-safe pool), then N SNEW
 *     are sent to the NTF router in batches; measured: the time from the
 *     first SNEW to the SMP router counting N NSUB (its metrics file,
 *     written every second, so +-1 s), SNEW/s as the client saw them, and
 *     the NTF router's resident memory (VmRSS) before and after.
 *  2. Latency: L messages sent one at a time (SEND with the notification
 *     flag) to subscribed queues, each timed until its push is recorded by
 *     the stand-in: p50 / p99.
 *  3. Throughput: M messages to M subscribed queues from 4 threads, the
 *     time until the stand-in has recorded M pushes: notifications/s.
 * Baseline in the same run, without the NTF router: the same latency and
 * throughput from SEND to NMSG at a notifier subscriber of our own (the
 * thread-safe pool subscribed to other queues' notifiers, in process).
 * The subscriptions are spread over D verified device tokens (queue i to
 * token i mod D): the NTF router keeps at most one push per token in flight
 * (each token's pushes in order), so D bounds the APNS streams in flight.
 * The stand-in answers at once, or after R ms (a far provider's round
 * trip: Apple's is tens of ms), the connection's other streams going on.
 * Usage:
 *   bench_ntf [N [M [L [D [R]]]]]   defaults 2000 1000 200 1 0; N = 100000
 *                                   for the figure */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "ntf_env.h"
#include "pool_router.h"
#include "simplex/smp.h"

#define THREADS 8
#define SENDERS 4
#define BATCH 256

typedef struct qrec {
    uint8_t nid[SX_SMP_QUEUE_ID_LEN];
    char nkey[SX_SMP_KEY_TEXT_MAX];
    sx_smp_queue *snd; /* the first ones only */
} qrec;

static sx_smp_tpool *g_tp;
static const char *g_addr;
static qrec *g_q;
static long g_nq;
static long g_keep_below, g_keep_from; /* senders kept for [0, below) and [from, ...) */
static long g_next;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long take_next(long limit)
{
    pthread_mutex_lock(&g_mu);
    long i = g_next < limit ? g_next++ : -1;
    pthread_mutex_unlock(&g_mu);
    return i;
}

static void *create_thread(void *arg)
{
    (void)arg;
    sx_smp_new_opts o = {.notifier = true};
    long i;
    while ((i = take_next(g_nq)) >= 0) {
        sx_smp_created c;
        memset(&c, 0, sizeof c);
        if (sx_smp_tpool_create(g_tp, g_addr, &o, &c) != SX_OK || !c.has_ntf) {
            fprintf(stderr, "NEW failed at %ld\n", i);
            exit(1);
        }
        memcpy(g_q[i].nid, c.ntf.notifier_id, sizeof g_q[i].nid);
        memcpy(g_q[i].nkey, c.ntf.notifier_key, sizeof g_q[i].nkey);
        if ((i < g_keep_below || i >= g_keep_from) && sx_smp_queue_sender(c.queue, &g_q[i].snd) != SX_OK)
            exit(1);
        sx_smp_queue_free(c.queue);
    }
    return NULL;
}

/* Makes queues [from, to) with notifiers. */
static void make_queues(long from, long to)
{
    g_next = from;
    g_nq = to;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, create_thread, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
}

static long g_send_to;
static void *send_thread(void *arg)
{
    (void)arg;
    long i;
    while ((i = take_next(g_send_to)) >= 0)
        if (sx_smp_tpool_send_notify(g_tp, g_q[i].snd, "bench", 5) != SX_OK) {
            fprintf(stderr, "SEND failed at %ld\n", i);
            exit(1);
        }
    return NULL;
}

static void send_burst(long from, long to)
{
    g_next = from;
    g_send_to = to;
    pthread_t t[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        pthread_create(&t[i], NULL, send_thread, NULL);
    for (int i = 0; i < SENDERS; i++)
        pthread_join(t[i], NULL);
}

/* ---- what the processes report ---- */

static long long metric(const pool_router *rp, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/smp-server-metrics.txt", rp->var);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    long long v = -1;
    size_t nl = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, nl) == 0 && line[nl] == ' ')
            v = atoll(line + nl + 1);
    fclose(f);
    return v;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            v = atol(line + 6);
    if (f)
        fclose(f);
    return v;
}

/* Message pushes the stand-in recorded: counted from where the last call
 * stopped. */
static long g_alerts;
static long g_off;
static long count_alerts(env *e)
{
    FILE *f = fopen(e->reqs, "r");
    if (!f)
        return g_alerts;
    if (fseek(f, g_off, SEEK_SET) == 0) {
        static char buf[65536];
        while (fgets(buf, sizeof buf, f)) {
            size_t n = strlen(buf);
            if (n == 0 || buf[n - 1] != '\n')
                break; /* a line still being written */
            g_off += (long)n;
            if (strstr(buf, "\"apns-push-type\":\"alert\""))
                g_alerts++;
        }
    }
    fclose(f);
    return g_alerts;
}

static void wait_alerts(env *e, long want)
{
    double deadline = now_s() + 600;
    while (count_alerts(e) < want) {
        if (now_s() > deadline) {
            fprintf(stderr, "only %ld pushes of %ld\n", g_alerts, want);
            exit(1);
        }
        usleep(200);
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, long n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    long i = (long)(p * (double)(n - 1) + 0.5);
    return v[i];
}

/* ---- the baseline: NMSG at our own notifier subscriber ---- */

static long g_nmsg;
static bool next_nmsg(sx_smp_tpool *tp, double deadline)
{
    static sx_smp_pool_note note;
    while (now_s() < deadline) {
        memset(&note, 0, sizeof note);
        if (sx_smp_tpool_next(tp, 100, &note) != SX_OK)
            return false;
        bool got = note.kind == SX_SMP_POOL_NOTIFICATION;
        sx_smp_pool_note_clear(&note);
        if (got) {
            g_nmsg++;
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000, m = argc > 2 ? atol(argv[2]) : 1000,
         l = argc > 3 ? atol(argv[3]) : 200, nd = argc > 4 ? atol(argv[4]) : 1,
         rtt = argc > 5 ? atol(argv[5]) : 0;
    if (n < 1 || m < 1 || l < 1 || m + l > n || nd < 1 || nd > 10000 || rtt < 0 || rtt > 10000) {
        fprintf(stderr, "usage: bench_ntf [N [M [L [D [R]]]]] with M + L <= N, 1 <= D <= 10000, 0 <= R <= 10000\n");
        return 2;
    }
    g_standin = SX_APNS_STANDIN_BIN;
    g_ntf_server = SX_NTF_SERVER_BIN;
    g_standin_delay_ms = (int)rtt;
    long base_n = m + l; /* the baseline's own queues */
    pool_router rp;
    if (pool_router_init(&rp, "prometheus_interval: 1\n") != 0)
        return 1;
    pool_router_start(&rp);
    env e;
    env_init(&e, 0);
    device *devs = calloc((size_t)nd, sizeof *devs);
    if (!devs)
        return 1;
    for (long i = 0; i < nd; i++) {
        char hex[32];
        snprintf(hex, sizeof hex, "0123456789ab%04lx", i);
        device_activate(&e, &devs[i], hex);
    }
    g_alerts = 0;
    g_off = 0;
    (void)count_alerts(&e);
    if (sx_smp_tpool_new(NULL, &g_tp) != SX_OK)
        return 1;
    g_addr = rp.addr;
    g_q = calloc((size_t)(n + base_n), sizeof *g_q);
    if (!g_q)
        return 1;
    printf("bench_ntf: N=%ld subscriptions, M=%ld for throughput, L=%ld for latency, D=%ld device tokens, "
           "stand-in answers after R=%ld ms\n",
           n, m, l, nd, rtt);

    /* queues: the NTF router's [0, n), the baseline's [n, n + base_n) */
    double t0 = now_s();
    g_keep_below = m + l;
    g_keep_from = n;
    make_queues(0, n + base_n);
    printf("  queues made (NEW with notifier): %ld in %.1f s\n", n + base_n, now_s() - t0);

    /* 1. subscribe n queues */
    long long nsub0 = metric(&rp, "simplex_smp_subscription_ntf_requests");
    if (nsub0 < 0)
        nsub0 = 0;
    long rss0 = rss_kib(e.ntf_pid);
    sx_ntf_call *calls = calloc(BATCH, sizeof *calls);
    uint8_t(*qbuf)[600] = calloc(BATCH, 600);
    uint8_t(*kbuf)[128] = calloc(BATCH, 128);
    if (!calls || !qbuf || !kbuf)
        return 1;
    double s0 = now_s();
    for (long i = 0; i < n; i += BATCH) {
        size_t k = 0;
        for (; k < BATCH && i + (long)k < n; k++) {
            qrec *q = &g_q[i + (long)k];
            sx_ntf_call *c = &calls[k];
            memset(c, 0, sizeof *c);
            size_t kl = 0;
            sx_ntf_queue nq;
            if (sx_b64_decode(q->nkey, strlen(q->nkey), SX_B64_URL, kbuf[k], 128, &kl) != SX_OK ||
                sx_ntf_queue_of(rp.addr, sx_slice_of(q->nid, sizeof q->nid), qbuf[k], 600, &nq) != SX_OK)
                return 1;
            const device *d = &devs[(i + (long)k) % nd];
            c->key = d->verify;
            c->cmd.tag = SX_NTF_C_SNEW;
            c->cmd.snew.token_id = dev_id(d);
            c->cmd.snew.queue = nq;
            c->cmd.snew.notifier_key = sx_slice_of(kbuf[k], kl);
        }
        if (sx_ntf_client_batch(e.c, calls, k) != SX_OK)
            return 1;
        for (size_t j = 0; j < k; j++)
            if (calls[j].status != SX_OK || calls[j].resp.tag != SX_NTF_R_IDSUB) {
                fprintf(stderr, "SNEW %ld failed\n", i + (long)j);
                return 1;
            }
    }
    double s_snew = now_s() - s0;
    long long nsub = 0;
    while ((nsub = metric(&rp, "simplex_smp_subscription_ntf_requests")) < nsub0 + n) {
        if (now_s() - s0 > 1800)
            return 1;
        usleep(20000);
    }
    double s_all = now_s() - s0;
    long rss1 = rss_kib(e.ntf_pid);
    printf("  subscribe %ld queues: SNEW answered in %.2f s (%.0f/s); every NSUB counted by the SMP router "
           "after %.2f s (%.0f queues/s, metrics every 1 s)\n",
           n, s_snew, (double)n / s_snew, s_all, (double)n / s_all);
    printf("  ntf-server VmRSS: %ld KiB before, %ld KiB after (%.0f bytes per subscription)\n", rss0, rss1,
           (double)(rss1 - rss0) * 1024.0 / (double)n);

    /* 2. latency through the NTF router, one message at a time */
    double *lat = calloc((size_t)l, sizeof *lat);
    if (!lat)
        return 1;
    long base = count_alerts(&e);
    for (long i = 0; i < l; i++) {
        double a = now_s();
        if (sx_smp_tpool_send_notify(g_tp, g_q[m + i].snd, "latency", 7) != SX_OK)
            return 1;
        wait_alerts(&e, base + i + 1);
        lat[i] = now_s() - a;
    }
    double p50 = pct(lat, l, 0.5) * 1e3, p99 = pct(lat, l, 0.99) * 1e3;

    /* 3. throughput through the NTF router */
    base = count_alerts(&e);
    double b0 = now_s();
    send_burst(0, m);
    double b_sent = now_s() - b0;
    wait_alerts(&e, base + m);
    double b_all = now_s() - b0;
    printf("  NTF router, SEND -> push at the stand-in: latency p50 %.2f ms, p99 %.2f ms (%ld one at a time); "
           "%ld in %.2f s = %.0f notifications/s (sends done after %.2f s)\n",
           p50, p99, l, m, b_all, (double)m / b_all, b_sent);

    /* baseline: NMSG at our own notifier subscriber */
    sx_smp_tpool *sub = NULL;
    if (sx_smp_tpool_new(NULL, &sub) != SX_OK)
        return 1;
    sx_smp_notifier **nts = calloc((size_t)base_n, sizeof *nts);
    long subscribed = 0;
    for (long i = 0; i < base_n; i++) {
        qrec *q = &g_q[n + i];
        if (sx_smp_notifier_new(rp.addr, q->nid, sizeof q->nid, q->nkey, &nts[i]) != SX_OK ||
            sx_smp_tpool_subscribe_notifier(sub, nts[i]) != SX_OK)
            return 1;
    }
    static sx_smp_pool_note note;
    double dl = now_s() + 600;
    while (subscribed < base_n && now_s() < dl) {
        memset(&note, 0, sizeof note);
        if (sx_smp_tpool_next(sub, 100, &note) == SX_OK && note.kind == SX_SMP_POOL_SUBSCRIBED)
            subscribed++;
        sx_smp_pool_note_clear(&note);
    }
    if (subscribed < base_n)
        return 1;
    for (long i = 0; i < l; i++) {
        double a = now_s();
        if (sx_smp_tpool_send_notify(g_tp, g_q[n + m + i].snd, "latency", 7) != SX_OK ||
            !next_nmsg(sub, a + 60))
            return 1;
        lat[i] = now_s() - a;
    }
    double bp50 = pct(lat, l, 0.5) * 1e3, bp99 = pct(lat, l, 0.99) * 1e3;
    g_nmsg = 0;
    b0 = now_s();
    g_next = n;
    g_send_to = n + m;
    pthread_t t[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        pthread_create(&t[i], NULL, send_thread, NULL);
    while (g_nmsg < m)
        if (!next_nmsg(sub, b0 + 600))
            return 1;
    double nb_all = now_s() - b0;
    for (int i = 0; i < SENDERS; i++)
        pthread_join(t[i], NULL);
    printf("  baseline, SEND -> NMSG at our own notifier subscriber (no NTF router): latency p50 %.2f ms, "
           "p99 %.2f ms; %ld in %.2f s = %.0f notifications/s\n",
           bp50, bp99, m, nb_all, (double)m / nb_all);

    sx_smp_tpool_free(sub);
    for (long i = 0; i < base_n; i++)
        sx_smp_notifier_free(nts[i]);
    free(nts);
    sx_smp_tpool_free(g_tp);
    for (long i = 0; i < n + base_n; i++)
        sx_smp_queue_free(g_q[i].snd);
    free(g_q);
    free(lat);
    free(calls);
    free(qbuf);
    free(kbuf);
    for (long i = 0; i < nd; i++)
        device_free(&devs[i]);
    free(devs);
    env_free(&e);
    pool_router_free(&rp);
    return 0;
}
