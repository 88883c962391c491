/* Benchmark: messages between two agents (simplex/agent.h) over one
 * router, PQ on and off, beside raw SMP (SEND, MSG, ACK through the
 * thread-safe pool) on the same router in the same run. For each: N
 * messages sent 50 at a time (below a queue's quota) and received (and
 * acknowledged) by the other side: messages/s and the CPU microseconds per
 * message of this process (both ends) and of the router when this program
 * started it; M round trips one at a time (send, MSG, ack, reply): the
 * one-way latency from the send call to the MSG, median and 99th
 * percentile; then the N messages again queued 50 per call
 * (sx_agent_send_many), messages/s. The router is one already running
 * (e.g. scripts/run-smp-server; its address with the password that creates
 * queues) or, with "-", the smp-server of this build started for the run.
 * PHASES (default all) picks raw, on, off or all: bench/agent_cpu_split.sh
 * runs one phase at a time under perf to split the agents' CPU into
 * ratchet, SQLite and transport.
 * Usage: bench_agent [SMP_ADDRESS|-] [N] [M] [PHASES] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pool_router.h"
#include "simplex/simplex.h"

/* Messages sent before the receiver takes them (below a queue's quota). */
#define BATCH 50

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The router's pid when this program started it (its CPU is reported). */
static pid_t router_pid;

/* utime + stime of the router, seconds (0 when not ours). */
static double router_cpu_s(void)
{
    if (!router_pid)
        return 0;
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)router_pid);
    FILE *f = fopen(p, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *s = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* One phase's figures, printed in one table at the end. */
typedef struct result {
    const char *name;
    double msgs_s, cpu_us, router_us, p50_ms, p99_ms, batch_s;
} result;

/* Fills the throughput figures of r from the times around n messages. */
static void tput(result *r, int n, double t0, double t1, double c0, double c1, double r0, double r1)
{
    r->msgs_s = n / (t1 - t0);
    r->cpu_us = (c1 - c0) * 1e6 / n;
    r->router_us = (r1 - r0) * 1e6 / n;
}

/* Median and 99th percentile of k latencies (seconds), into r in ms. */
static void lat(result *r, double *l, int k)
{
    qsort(l, (size_t)k, sizeof *l, cmp_double);
    r->p50_ms = l[k / 2] * 1000;
    r->p99_ms = l[(k * 99) / 100 < k ? (k * 99) / 100 : k - 1] * 1000;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_agent: %s: %s\n", what, sx_error_message());
    exit(1);
}

/* The next event of kind, skipping the others. */
static void wait_ev(sx_agent *a, sx_agent_event_kind kind, sx_agent_event *ev)
{
    double until = now_s() + 60;
    for (;;) {
        if (sx_agent_next(a, 200, ev) != SX_OK)
            die("next");
        if (ev->kind == kind)
            return;
        if (ev->kind == SX_AGENT_EV_ERR || ev->kind == SX_AGENT_EV_MERR) {
            fprintf(stderr, "bench_agent: %s\n", ev->detail);
            exit(1);
        }
        sx_agent_event_clear(ev);
        if (now_s() > until) {
            fprintf(stderr, "bench_agent: no %s in 60 s\n", sx_agent_event_name(kind));
            exit(1);
        }
    }
}

/* Takes the next MSG and acknowledges it; the time it came. */
static double recv_ack(sx_agent *a)
{
    sx_agent_event ev;
    wait_ev(a, SX_AGENT_EV_MSG, &ev);
    double t = now_s();
    if (sx_agent_ack(a, ev.conn, ev.msg_id) != SX_OK)
        die("ack");
    sx_agent_event_clear(&ev);
    return t;
}

static void run_agents(const char *addr, const char *dir, bool pq, int n, int m, result *r, double *l)
{
    char pa[256], pb[256];
    snprintf(pa, sizeof pa, "%s/a%d.db", dir, pq);
    snprintf(pb, sizeof pb, "%s/b%d.db", dir, pq);
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.pq_off = !pq;
    sx_agent *a = NULL, *b = NULL;
    if (sx_agent_open(pa, &o, &a) != SX_OK || sx_agent_open(pb, &o, &b) != SX_OK)
        die("open");
    char ab[SX_AGENT_CONN_ID_TEXT], ba[SX_AGENT_CONN_ID_TEXT], *link;
    if (sx_agent_create_invitation(a, addr, ab, &link) != SX_OK)
        die("invite");
    if (sx_agent_join(b, link, addr, "b", 1, ba) != SX_OK)
        die("join");
    sx_agent_free_text(link);
    sx_agent_event ev;
    wait_ev(a, SX_AGENT_EV_CONF, &ev);
    if (sx_agent_allow(a, ab, ev.conf_id, "a", 1) != SX_OK)
        die("allow");
    sx_agent_event_clear(&ev);
    wait_ev(a, SX_AGENT_EV_CON, &ev);
    wait_ev(b, SX_AGENT_EV_CON, &ev);
    char body[256];
    memset(body, 'x', sizeof body);
    double t0 = now_s(), c0 = cpu_s(), r0 = router_cpu_s();
    for (int done = 0; done < n; done += BATCH) {
        int k = n - done < BATCH ? n - done : BATCH;
        for (int i = 0; i < k; i++)
            if (sx_agent_send(a, ab, body, sizeof body, NULL) != SX_OK)
                die("send");
        for (int i = 0; i < k; i++)
            recv_ack(b);
    }
    double t1 = now_s(), c1 = cpu_s(), r1 = router_cpu_s();
    for (int i = 0; i < m; i++) {
        double s0 = now_s();
        if (sx_agent_send(a, ab, body, sizeof body, NULL) != SX_OK)
            die("send");
        double s1 = recv_ack(b);
        l[2 * i] = s1 - s0;
        s0 = now_s();
        if (sx_agent_send(b, ba, body, sizeof body, NULL) != SX_OK)
            die("send");
        l[2 * i + 1] = recv_ack(a) - s0;
    }
    double t2 = now_s();
    /* The same messages queued BATCH per call (sx_agent_send_many). */
    sx_agent_outmsg out[BATCH];
    for (int done = 0; done < n; done += BATCH) {
        int k = n - done < BATCH ? n - done : BATCH;
        for (int i = 0; i < k; i++)
            out[i] = (sx_agent_outmsg){.conn_id = ab, .body = body, .len = sizeof body};
        if (sx_agent_send_many(a, out, (size_t)k) != SX_OK)
            die("send_many");
        for (int i = 0; i < k; i++)
            recv_ack(b);
    }
    double t3 = now_s();
    r->name = pq ? "agent, PQ on" : "agent, PQ off";
    tput(r, n, t0, t1, c0, c1, r0, r1);
    lat(r, l, 2 * m);
    r->batch_s = n / (t3 - t2);
    sx_agent_close(a);
    sx_agent_close(b);
}

static void next_msg(sx_smp_tpool *tp, sx_smp_pool_note *nt)
{
    double until = now_s() + 60;
    for (;;) {
        if (sx_smp_tpool_next(tp, 200, nt) != SX_OK)
            die("next");
        if (nt->kind == SX_SMP_POOL_MESSAGE && nt->ev.kind == SX_SMP_EVENT_MESSAGE)
            return;
        sx_smp_pool_note_clear(nt);
        if (now_s() > until) {
            fprintf(stderr, "bench_agent: no message in 60 s\n");
            exit(1);
        }
    }
}

static void run_raw(const char *addr, int n, int m, result *r, double *l)
{
    sx_smp_tpool *tp;
    if (sx_smp_tpool_new(NULL, &tp) != SX_OK)
        die("pool");
    sx_smp_created c1, c2;
    sx_smp_queue *s1, *s2;
    if (sx_smp_tpool_create(tp, addr, NULL, &c1) != SX_OK ||
        sx_smp_tpool_create(tp, addr, NULL, &c2) != SX_OK ||
        sx_smp_queue_sender(c1.queue, &s1) != SX_OK || sx_smp_queue_sender(c2.queue, &s2) != SX_OK ||
        sx_smp_tpool_secure_sender(tp, s1) != SX_OK || sx_smp_tpool_secure_sender(tp, s2) != SX_OK ||
        sx_smp_tpool_subscribe(tp, c1.queue) != SX_OK || sx_smp_tpool_subscribe(tp, c2.queue) != SX_OK)
        die("queues");
    char body[256];
    memset(body, 'x', sizeof body);
    sx_smp_pool_note nt;
    memset(&nt, 0, sizeof nt);
    double t0 = now_s(), u0 = cpu_s(), r0 = router_cpu_s();
    for (int done = 0; done < n; done += BATCH) {
        int k = n - done < BATCH ? n - done : BATCH;
        for (int i = 0; i < k; i++)
            if (sx_smp_tpool_send(tp, s1, body, sizeof body) != SX_OK)
                die("send");
        for (int i = 0; i < k; i++) {
            next_msg(tp, &nt);
            if (sx_smp_tpool_ack(tp, &nt) != SX_OK)
                die("ack");
            sx_smp_pool_note_clear(&nt);
        }
    }
    double t1 = now_s(), u1 = cpu_s(), r1 = router_cpu_s();
    for (int i = 0; i < m; i++) {
        for (int k = 0; k < 2; k++) {
            double s0 = now_s();
            if (sx_smp_tpool_send(tp, k ? s2 : s1, body, sizeof body) != SX_OK)
                die("send");
            next_msg(tp, &nt);
            l[2 * i + k] = now_s() - s0;
            if (sx_smp_tpool_ack(tp, &nt) != SX_OK)
                die("ack");
            sx_smp_pool_note_clear(&nt);
        }
    }
    r->name = "raw SMP (baseline)";
    tput(r, n, t0, t1, u0, u1, r0, r1);
    lat(r, l, 2 * m);
    sx_smp_tpool_free(tp);
    sx_smp_queue_free(c1.queue);
    sx_smp_queue_free(c2.queue);
    sx_smp_queue_free(s1);
    sx_smp_queue_free(s2);
}

static double load1(void)
{
    double v[1] = {0};
    return getloadavg(v, 1) == 1 ? v[0] : 0;
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "-";
    int n = argc > 2 ? atoi(argv[2]) : 500;
    int m = argc > 3 ? atoi(argv[3]) : 100;
    const char *phases = argc > 4 ? argv[4] : "all";
    bool all = strcmp(phases, "all") == 0;
    bool raw = all || strcmp(phases, "raw") == 0, on = all || strcmp(phases, "on") == 0,
         off = all || strcmp(phases, "off") == 0;
    if (n <= 0 || m <= 0 || (!raw && !on && !off)) {
        fprintf(stderr, "Usage: bench_agent [SMP_ADDRESS|-] [N] [M] [raw|on|off|all]\n");
        return 2;
    }
    char dir[] = "/tmp/bench_agent.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    pool_router rp;
    bool own = strcmp(addr, "-") == 0;
    if (own) {
        if (pool_router_init(&rp, NULL) != 0)
            die("router init");
        pool_router_start(&rp);
        addr = rp.addr;
        router_pid = rp.pid;
    }
    printf("%d messages of 256 bytes, 50 at a time, then %d round trips; load %.1f\n", n, m, load1());
    double *l = calloc(2 * (size_t)m, sizeof *l);
    if (!l)
        return 1;
    result rs[3];
    memset(rs, 0, sizeof rs);
    int k = 0;
    if (raw)
        run_raw(addr, n, m, &rs[k++], l);
    if (on)
        run_agents(addr, dir, true, n, m, &rs[k++], l);
    if (off)
        run_agents(addr, dir, false, n, m, &rs[k++], l);
    printf("\n%-20s %9s %9s %10s %9s %9s %10s\n", "", "msg/s", "CPU us", "router us", "p50 ms",
           "p99 ms", "batch/s");
    for (int i = 0; i < k; i++) {
        printf("%-20s %9.0f %9.0f %10.0f %9.2f %9.2f", rs[i].name, rs[i].msgs_s, rs[i].cpu_us,
               rs[i].router_us, rs[i].p50_ms, rs[i].p99_ms);
        if (rs[i].batch_s > 0)
            printf(" %10.0f", rs[i].batch_s);
        if (raw && i > 0)
            printf("   (%.2f x raw msg/s, %.1f x raw CPU)", rs[i].msgs_s / rs[0].msgs_s,
                   rs[i].cpu_us / rs[0].cpu_us);
        printf("\n");
    }
    printf("CPU us: this process (both ends) per message in the msg/s phase; router us: the router's\n"
           "(when started here); p50/p99: one way, from the send call to MSG; load %.1f at the end\n",
           load1());
    free(l);
    if (own)
        pool_router_free(&rp);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
