/* Benchmark: undelivered messages in the memory store (the queue's list)
 * against the journal message store (smp_router/jstore.h), same queues,
 * same messages, each store in its own child process so that the memory
 * figures do not mix. Prints, per store, the time to store M messages in
 * each of N queues and to read and acknowledge them all, and the growth of
 * the process's VmRSS while they are stored (the queue records themselves
 * are created before the baseline is taken). The journal holds at most
 * max_open queues (1024 here): with more queues than that, written round
 * robin as here, every write reopens its queue (the worst case); with
 * fewer, the queues stay open.
 *
 *   bench_jstore [--queues N] [--msgs M] [--body BYTES] [--dir FOLDER]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/util.h"
#include "smp_router/jstore.h"

static long g_queues = 20000, g_msgs = 4, g_body = 1000;
static const char *g_dir = "/tmp";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

static sx_queue **make_queues(sx_store *st)
{
    sx_queue **qs = calloc((size_t)g_queues, sizeof *qs);
    for (long i = 0; i < g_queues; i++) {
        sx_queue *q = calloc(1, sizeof *q);
        sx_random_bytes(q->rid, SX_ID_LEN);
        sx_random_bytes(q->sid, SX_ID_LEN);
        q->n_rkeys = 1;
        q->rkey.len = 32;
        if (sx_store_insert(st, q) != SX_OK) {
            fprintf(stderr, "queue insert failed\n");
            exit(1);
        }
        qs[i] = q;
    }
    return qs;
}

static void row(const char *name, double w, double d, long grow, const char *extra)
{
    double n = (double)g_queues * (double)g_msgs;
    printf("%-8s %8ld %6ld %6ld %9.2f %10.0f %9.2f %10.0f %10.1f %10.2f  %s\n", name, g_queues, g_msgs, g_body, w,
           n / w, d, n / d, (double)grow / 1024.0, (double)grow * 1024.0 / (double)g_queues, extra);
    /* B/queue: RSS growth per queue while its messages are stored */
    fflush(stdout);
}

static int run_memory(void)
{
    sx_store *st;
    if (sx_store_new(&st) != SX_OK)
        return 1;
    sx_queue **qs = make_queues(st);
    uint8_t *body = malloc((size_t)g_body);
    sx_random_bytes(body, (size_t)g_body);
    long base = rss_kib();
    double t0 = now();
    for (long m = 0; m < g_msgs; m++)
        for (long i = 0; i < g_queues; i++) {
            uint8_t id[SX_ID_LEN];
            sx_random_bytes(id, sizeof id);
            sx_push_result res;
            bool was_empty;
            if (sx_queue_push(st, qs[i], id, 1700000000, false, sx_slice_of(body, (size_t)g_body), &res, &was_empty) !=
                SX_OK)
                return 1;
        }
    double w = now() - t0;
    long grow = rss_kib() - base;
    t0 = now();
    for (long i = 0; i < g_queues; i++) {
        sx_msg *h;
        while ((h = sx_queue_head(st, qs[i])) != NULL) {
            uint8_t id[SX_ID_LEN];
            memcpy(id, h->id, SX_ID_LEN);
            sx_queue_remove_head(st, qs[i], id);
        }
    }
    row("memory", w, now() - t0, grow, "-");
    return 0;
}

static int run_journal(void)
{
    sx_store *st;
    if (sx_store_new(&st) != SX_OK)
        return 1;
    sx_queue **qs = make_queues(st);
    char path[512];
    snprintf(path, sizeof path, "%s/bench_jstore.%d", g_dir, (int)getpid());
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, path);
    c.max_open = 1024;
    sx_jstore *js;
    if (sx_jstore_open(&c, &js) != SX_OK)
        return 1;
    sx_jmsg *m = calloc(1, sizeof *m);
    m->len = (uint16_t)g_body;
    sx_random_bytes(m->body, (size_t)g_body);
    long base = rss_kib();
    double t0 = now();
    for (long k = 0; k < g_msgs; k++)
        for (long i = 0; i < g_queues; i++) {
            sx_random_bytes(m->id, SX_ID_LEN);
            m->ts = 1700000000;
            sx_jwrite r;
            if (sx_jstore_write(js, qs[i]->rid, m, &r, NULL) != SX_OK)
                return 1;
        }
    double w = now() - t0;
    long grow = rss_kib() - base;
    char extra[128];
    snprintf(extra, sizeof extra, "max_open %zu, held %zu", c.max_open, sx_jstore_loaded(js));
    t0 = now();
    for (long i = 0; i < g_queues; i++) {
        bool found = true;
        while (found) {
            if (sx_jstore_peek(js, qs[i]->rid, m, &found) != SX_OK)
                return 1;
            bool deleted;
            if (found && sx_jstore_ack(js, qs[i]->rid, m->id, &deleted, NULL, NULL) != SX_OK)
                return 1;
        }
    }
    row("journal", w, now() - t0, grow, extra);
    sx_jstore_close(js);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--queues") == 0)
            g_queues = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--msgs") == 0)
            g_msgs = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--body") == 0)
            g_body = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--dir") == 0)
            g_dir = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench_jstore [--queues N] [--msgs M] [--body BYTES] [--dir FOLDER]\n");
            return 2;
        }
    }
    if (g_queues < 1 || g_msgs < 1 || g_body < 1 || g_body > SX_MSG_BODY_MAX) {
        fprintf(stderr, "bench_jstore: bad sizes\n");
        return 2;
    }
    printf("%-8s %8s %6s %6s %9s %10s %9s %10s %10s %10s  %s\n", "store", "queues", "msgs", "body", "write s",
           "msgs/s", "read s", "msgs/s", "RSS+ MiB", "B/queue", "notes");
    fflush(stdout); /* before fork: the children would print it again */
    int (*phases[2])(void) = {run_memory, run_journal};
    int rc = 0;
    for (int p = 0; p < 2; p++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(phases[p]());
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench_jstore: phase %d failed\n", p);
            rc = 1;
        }
    }
    return rc;
}
