/* Benchmark: messages between two agents (simplex/agent.h) over one
 * router, PQ on and off, beside raw SMP (SEND, MSG, ACK through the
 * thread-safe pool) on the same router in the same run. For each: N
 * messages sent 50 at a time (below a queue's quota) and received (and acknowledged) by the other side,
 * messages/s; and M round trips one at a time (send, MSG, ack, reply),
 * milliseconds per round trip; then the N messages again queued 50 per
 * call (sx_agent_send_many), messages/s. The router is one already running (e.g.
 * scripts/run-smp-server); its address with the password that creates
 * queues.
 * Usage: bench_agent SMP_ADDRESS [N] [M] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "simplex/simplex.h"

/* Messages sent before the receiver takes them (below a queue's quota). */
#define BATCH 50

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
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

static void recv_ack(sx_agent *a)
{
    sx_agent_event ev;
    wait_ev(a, SX_AGENT_EV_MSG, &ev);
    if (sx_agent_ack(a, ev.conn, ev.msg_id) != SX_OK)
        die("ack");
    sx_agent_event_clear(&ev);
}

static void run_agents(const char *addr, const char *dir, bool pq, int n, int m)
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
    double t0 = now_s();
    for (int done = 0; done < n; done += BATCH) {
        int k = n - done < BATCH ? n - done : BATCH;
        for (int i = 0; i < k; i++)
            if (sx_agent_send(a, ab, body, sizeof body, NULL) != SX_OK)
                die("send");
        for (int i = 0; i < k; i++)
            recv_ack(b);
    }
    double t1 = now_s();
    for (int i = 0; i < m; i++) {
        if (sx_agent_send(a, ab, body, sizeof body, NULL) != SX_OK)
            die("send");
        recv_ack(b);
        if (sx_agent_send(b, ba, body, sizeof body, NULL) != SX_OK)
            die("send");
        recv_ack(a);
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
    printf("agent, PQ %-3s   %8.0f msg/s   %8.2f ms per round trip   %8.0f msg/s batch-queued\n",
           pq ? "on" : "off", n / (t1 - t0), (t2 - t1) * 1000 / m, n / (t3 - t2));
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

static void run_raw(const char *addr, int n, int m)
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
    double t0 = now_s();
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
    double t1 = now_s();
    for (int i = 0; i < m; i++) {
        for (int k = 0; k < 2; k++) {
            if (sx_smp_tpool_send(tp, k ? s2 : s1, body, sizeof body) != SX_OK)
                die("send");
            next_msg(tp, &nt);
            if (sx_smp_tpool_ack(tp, &nt) != SX_OK)
                die("ack");
            sx_smp_pool_note_clear(&nt);
        }
    }
    double t2 = now_s();
    printf("raw SMP (baseline) %8.0f msg/s   %8.2f ms per round trip\n", n / (t1 - t0),
           (t2 - t1) * 1000 / m);
    sx_smp_tpool_free(tp);
    sx_smp_queue_free(c1.queue);
    sx_smp_queue_free(c2.queue);
    sx_smp_queue_free(s1);
    sx_smp_queue_free(s2);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "Usage: bench_agent SMP_ADDRESS [N] [M]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 500;
    int m = argc > 3 ? atoi(argv[3]) : 100;
    if (n <= 0 || m <= 0)
        return 2;
    char dir[] = "/tmp/bench_agent.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    printf("%d messages of 256 bytes, 50 at a time, then %d round trips\n", n, m);
    run_raw(argv[1], n, m);
    run_agents(argv[1], dir, true, n, m);
    run_agents(argv[1], dir, false, n, m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
