/* Benchmark: two agents (simplex/agent.h, store files in a temporary
 * folder, PQ on as by default) with N connections between them (default
 * 10,000) over the real smp-server started as a child process (the
 * integration tests' helper tests/integration/pool_router.c):
 *  - establishing them with up to W handshakes in flight: alice's thread
 *    makes invitations and allows each CONF, bob's thread joins the links
 *    as they come (each agent serialises its own calls, so the two agents
 *    work side by side), until CON on both sides: handshakes/s, the CPU of
 *    this process (both agents) and of the router per handshake;
 *  - one message each way on every connection (sx_agent_send_many, 50 a
 *    call; received and acknowledged): msg/s and CPU microseconds per
 *    message of the agents and of the router, beside the crypto floor of
 *    one message measured in this run in one thread: the double ratchet's
 *    encrypt + decrypt (PQ, the agent's padded size; a chain step and a
 *    DH + KEM turn) and the per-queue box
 *    (seal + open of the e2e envelope's padded body);
 *  - VmRSS of this process per connection end (the growth over the two
 *    open agents / 2N), the router's VmRSS, the store file's bytes per
 *    connection after the agents are closed;
 *  - alice's agent opened again on her N connections: the time of
 *    sx_agent_open, and until one message bob sent on every connection
 *    after it returned has arrived (the subscriptions made again).
 * Usage: bench_agent_conns [N] [W] */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/envelope.h"
#include "crypto/box.h"
#include "crypto/ratchet.h"
#include "crypto/util.h"
#include "pool_router.h"
#include "simplex/agent.h"

#define SEND_BATCH 50
#define BODY_LEN 256
#define FLOOR_MSGS 400

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_agent_conns: %s: %s\n", what, sx_error_message());
    exit(1);
}

/* utime + stime of a process, seconds. */
static double proc_cpu_s(pid_t pid)
{
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
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

/* VmRSS of a process (0: this one), KiB. */
static long rss_kib(pid_t pid)
{
    char p[64], line[256];
    if (pid)
        snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    else
        snprintf(p, sizeof p, "/proc/self/status");
    FILE *f = fopen(p, "r");
    long v = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            v = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static double load1(void)
{
    double l[1] = {0};
    return getloadavg(l, 1) == 1 ? l[0] : 0;
}

typedef struct counts {
    int con_a, con_b, msg_a, msg_b;
} counts;

/* Takes one event of x (alice when is_a), answering CONF with allow and MSG
 * with ack; counts CON and MSG. False when none came within ms. */
static bool step(sx_agent *x, bool is_a, int ms, counts *c)
{
    sx_agent_event ev;
    if (sx_agent_next(x, ms, &ev) != SX_OK)
        die("next");
    switch (ev.kind) {
    case SX_AGENT_EV_NONE: return false;
    case SX_AGENT_EV_CONF:
        if (sx_agent_allow(x, ev.conn, ev.conf_id, "a", 1) != SX_OK)
            die("allow");
        break;
    case SX_AGENT_EV_CON: *(is_a ? &c->con_a : &c->con_b) += 1; break;
    case SX_AGENT_EV_MSG:
        if (sx_agent_ack(x, ev.conn, ev.msg_id) != SX_OK)
            die("ack");
        *(is_a ? &c->msg_a : &c->msg_b) += 1;
        break;
    case SX_AGENT_EV_ERR:
    case SX_AGENT_EV_MERR:
        fprintf(stderr, "bench_agent_conns: %s %s: %s\n", sx_agent_event_name(ev.kind), ev.conn,
                ev.detail);
        exit(1);
    default: break;
    }
    sx_agent_event_clear(&ev);
    return true;
}

/* Takes events of both agents until the counts reach want (a's and b's
 * fields that are not negative), failing after 120 s without progress. */
static void pump(sx_agent *a, sx_agent *b, counts *c, const counts *want)
{
    double last = now_s();
    while (c->con_a < want->con_a || c->con_b < want->con_b || c->msg_a < want->msg_a ||
           c->msg_b < want->msg_b) {
        bool got = false;
        if (a)
            while (step(a, true, 1, c))
                got = true;
        if (b)
            while (step(b, false, 1, c))
                got = true;
        if (got)
            last = now_s();
        else if (now_s() - last > 120) {
            fprintf(stderr, "bench_agent_conns: stuck at CON %d/%d, MSG %d/%d\n", c->con_a, c->con_b,
                    c->msg_a, c->msg_b);
            exit(1);
        }
    }
}

/* One message on each of the n connections of x (ids), SEND_BATCH per call. */
static void send_all(sx_agent *x, char (*ids)[SX_AGENT_CONN_ID_TEXT], int n)
{
    static char body[BODY_LEN];
    memset(body, 'x', sizeof body);
    sx_agent_outmsg out[SEND_BATCH];
    for (int i = 0; i < n; i += SEND_BATCH) {
        int k = n - i < SEND_BATCH ? n - i : SEND_BATCH;
        for (int j = 0; j < k; j++)
            out[j] = (sx_agent_outmsg){.conn_id = ids[i + j], .body = body, .len = sizeof body};
        if (sx_agent_send_many(x, out, (size_t)k) != SX_OK)
            die("send_many");
    }
}

static void must(sx_status st, const char *what)
{
    if (st != SX_OK)
        die(what);
}

/* The crypto floor of one agent message, CPU microseconds in this thread:
 * *ratchet_us the PQ double ratchet's encrypt + decrypt of a BODY_LEN body
 * padded as the agent pads a message (one way: chain steps), *turn_us the
 * same with the direction changing at every message (a DH and a KEM
 * ratchet step each, as when each side answers the other), *box_us the
 * per-queue box's seal + open of the e2e envelope's padded body. */
static void crypto_floor(double *ratchet_us, double *turn_us, double *box_us)
{
    static sx_e2e_private ap, bp;
    static sx_e2e_params au, bu;
    static sx_x3dh_result ar, br;
    static sx_ratchet ra, rb;
    must(sx_e2e_generate(3, SX_USE_KEM_PROPOSE, NULL, NULL, &ap, &au), "params");
    must(sx_e2e_generate(3, SX_USE_KEM_ACCEPT, au.kem.pk, NULL, &bp, &bu), "params");
    must(sx_x3dh_snd(&bp, &au, &br), "x3dh");
    must(sx_x3dh_rcv(&ap, &bu, &ar), "x3dh");
    must(sx_ratchet_init_snd(&rb, 3, 3, au.k2, NULL, &br, NULL), "init");
    must(sx_ratchet_init_rcv(&ra, 3, 3, ap.k2, &ar, true, NULL), "init");
    size_t cap = 3 + SX_RATCHET_ENC_HEADER_MAX + 16 + SX_AGENT_MSG_PADDED_PQ;
    size_t bcap = SX_AGENT_E2E_MSG_PADDED + SX_CB_TAG_LEN;
    uint8_t *wire = malloc(cap), *plain = malloc(cap), *box = malloc(bcap), *open = malloc(bcap);
    if (!wire || !plain || !box || !open)
        exit(1);
    uint8_t msg[BODY_LEN];
    memset(msg, 'x', sizeof msg);
    double t0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < FLOOR_MSGS; i++) {
        size_t len;
        sx_slice out;
        must(sx_ratchet_encrypt(&rb, SX_PQ_KEEP, 3, SX_AGENT_MSG_PADDED_PQ, sx_slice_of(msg, sizeof msg),
                                wire, cap, &len),
             "encrypt");
        must(sx_ratchet_decrypt(&ra, sx_slice_of(wire, len), plain, cap, &out, NULL), "decrypt");
        if (out.len != sizeof msg)
            exit(1);
    }
    double t1 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < FLOOR_MSGS / 4; i++) {
        sx_ratchet *from = i % 2 ? &rb : &ra, *to = i % 2 ? &ra : &rb;
        size_t len;
        sx_slice out;
        must(sx_ratchet_encrypt(from, SX_PQ_KEEP, 3, SX_AGENT_MSG_PADDED_PQ, sx_slice_of(msg, sizeof msg),
                                wire, cap, &len),
             "encrypt");
        must(sx_ratchet_decrypt(to, sx_slice_of(wire, len), plain, cap, &out, NULL), "decrypt");
    }
    double t1b = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    uint8_t secret[SX_CB_KEY_LEN], nonce[SX_CB_NONCE_LEN];
    sx_random_bytes(secret, sizeof secret);
    sx_random_bytes(nonce, sizeof nonce);
    for (int i = 0; i < FLOOR_MSGS; i++) {
        sx_slice out;
        must(sx_cb_encrypt_padded(secret, nonce, sx_slice_of(wire, 3000), SX_AGENT_E2E_MSG_PADDED, box, bcap),
             "box");
        must(sx_cb_decrypt_padded(secret, nonce, sx_slice_of(box, bcap), open, bcap, &out), "open");
    }
    double t2 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    *ratchet_us = (t1 - t0) * 1e6 / FLOOR_MSGS;
    *turn_us = (t1b - t1) * 1e6 / (FLOOR_MSGS / 4);
    *box_us = (t2 - t1b) * 1e6 / FLOOR_MSGS;
    sx_ratchet_cleanup(&ra);
    sx_ratchet_cleanup(&rb);
    sx_e2e_private_wipe(&ap);
    sx_e2e_private_wipe(&bp);
    sx_x3dh_result_wipe(&ar);
    sx_x3dh_result_wipe(&br);
    free(wire);
    free(plain);
    free(box);
    free(open);
}

/* Bob's side of the handshakes, on its own thread: joins the links alice's
 * thread hands over, in order, and takes bob's events, until CON on all n. */
typedef struct joiner {
    sx_agent *b;
    int n;
    char (*ids)[SX_AGENT_CONN_ID_TEXT];
    char **links;       /* links[i]: alice's i-th invitation, NULL until made */
    int made;           /* links handed over */
    pthread_mutex_t mu; /* guards made */
    counts *c;
    double join_s; /* wall time inside sx_agent_join */
} joiner;

static void *joiner_main(void *arg)
{
    joiner *j = arg;
    int joined = 0;
    while (j->c->con_b < j->n) {
        pthread_mutex_lock(&j->mu);
        int made = j->made;
        pthread_mutex_unlock(&j->mu);
        /* Join what is there, a few at a time between rounds of events. */
        for (int k = 0; joined < made && k < 8; k++, joined++) {
            double q = now_s();
            if (sx_agent_join(j->b, j->links[joined], NULL, "b", 1, j->ids[joined]) != SX_OK)
                die("join");
            j->join_s += now_s() - q;
            sx_agent_free_text(j->links[joined]);
            j->links[joined] = NULL;
        }
        int waited = joined < made ? 0 : 5;
        while (step(j->b, false, waited, j->c))
            waited = 0;
    }
    return NULL;
}

/* Establishes the n connections: this thread (alice) makes invitations,
 * keeping at most w handshakes in flight, and takes alice's events (CONF
 * allowed at once); bob's thread joins. The two agents (each with its own
 * lock) work at the same time: alice's NEW and allow beside bob's join. */
static void establish(sx_agent *a, sx_agent *b, const char *server, int n, int w,
                      char (*ab)[SX_AGENT_CONN_ID_TEXT], char (*ba)[SX_AGENT_CONN_ID_TEXT],
                      counts *c, double t0)
{
    joiner j = {.b = b, .n = n, .ids = ba, .c = c};
    j.links = calloc((size_t)n, sizeof *j.links);
    if (!j.links)
        exit(1);
    pthread_mutex_init(&j.mu, NULL);
    pthread_t th;
    if (pthread_create(&th, NULL, joiner_main, &j) != 0)
        exit(1);
    int made = 0, shown = 0;
    double last = now_s(), inv_s = 0;
    int last_con = 0;
    while (c->con_a < n) {
        while (made < n && made - c->con_a < w) {
            double q = now_s();
            if (sx_agent_create_invitation(a, server, ab[made], &j.links[made]) != SX_OK)
                die("invite");
            inv_s += now_s() - q;
            made++;
            pthread_mutex_lock(&j.mu);
            j.made = made;
            pthread_mutex_unlock(&j.mu);
            if (made % 4 == 0)
                break; /* alice's events between invitations */
        }
        int waited = made < n && made - c->con_a < w ? 0 : 5;
        while (step(a, true, waited, c))
            waited = 0;
        if (c->con_a != last_con) {
            last_con = c->con_a;
            last = now_s();
        } else if (now_s() - last > 120) {
            fprintf(stderr, "bench_agent_conns: stuck at CON %d (alice), %d made\n", c->con_a, made);
            exit(1);
        }
        if (c->con_a - shown >= 1000 && c->con_a < n) {
            shown = c->con_a;
            printf("  %d established, %.0f s, load %.1f\n", shown, now_s() - t0, load1());
            fflush(stdout);
        }
    }
    pthread_join(th, NULL);
    printf("  wall time inside create_invitation %.1f s, join %.1f s (threads overlap)\n", inv_s,
           j.join_s);
    pthread_mutex_destroy(&j.mu);
    free(j.links);
}

static sx_agent *open_at(const char *path)
{
    sx_agent *x = NULL;
    if (sx_agent_open(path, NULL, &x) != SX_OK)
        die(path);
    return x;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    int w = argc > 2 ? atoi(argv[2]) : 100;
    if (n <= 0 || w <= 0) {
        fprintf(stderr, "Usage: bench_agent_conns [N] [W]\n");
        return 2;
    }
    char dir[] = "/tmp/bench_agent_conns.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char pa[96], pb[96];
    snprintf(pa, sizeof pa, "%s/a.db", dir);
    snprintf(pb, sizeof pb, "%s/b.db", dir);
    pool_router rp;
    if (pool_router_init(&rp, NULL) != 0)
        die("router init");
    pool_router_start(&rp);
    printf("%d connections between two agents (PQ on) over one smp-server, %d handshakes at a time; "
           "load %.1f\n",
           n, w, load1());
    fflush(stdout);

    long rss0 = rss_kib(0), router_rss0 = rss_kib(rp.pid);
    sx_agent *a = open_at(pa), *b = open_at(pb);
    long rss_open = rss_kib(0);
    char(*ab)[SX_AGENT_CONN_ID_TEXT] = calloc((size_t)n, SX_AGENT_CONN_ID_TEXT);
    char(*ba)[SX_AGENT_CONN_ID_TEXT] = calloc((size_t)n, SX_AGENT_CONN_ID_TEXT);
    if (!ab || !ba)
        return 1;
    counts c = {0};
    double t0 = now_s(), c0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID), r0 = proc_cpu_s(rp.pid);
    establish(a, b, rp.addr, n, w, ab, ba, &c, t0);
    double t1 = now_s(), c1 = cpu_s(CLOCK_PROCESS_CPUTIME_ID), r1 = proc_cpu_s(rp.pid);
    long rss_conns = rss_kib(0), router_rss = rss_kib(rp.pid);

    /* One message each way on every connection. */
    send_all(a, ab, n);
    counts want = {.msg_b = n};
    pump(a, b, &c, &want);
    send_all(b, ba, n);
    want.msg_a = n;
    pump(a, b, &c, &want);
    double t2 = now_s(), c2 = cpu_s(CLOCK_PROCESS_CPUTIME_ID), r2 = proc_cpu_s(rp.pid);
    if (sx_agent_flush(a, 60000) != SX_OK || sx_agent_flush(b, 60000) != SX_OK)
        die("flush");
    long rss_msgs = rss_kib(0);
    sx_agent_close(a);
    char wal[120];
    snprintf(wal, sizeof wal, "%s-wal", pa);
    long long db_bytes = file_size(pa), wal_bytes = file_size(wal);

    /* alice again on her n connections; bob sends once on each. */
    double t3 = now_s();
    a = open_at(pa);
    double t4 = now_s();
    send_all(b, ba, n);
    counts c2s = {0};
    want = (counts){.msg_a = n};
    pump(a, b, &c2s, &want);
    double t5 = now_s();
    sx_agent_close(a);
    sx_agent_close(b);

    double fr = 0, ft = 0, fb = 0;
    crypto_floor(&fr, &ft, &fb);
    double msgs = 2.0 * n;
    printf("\n%-52s %14s\n", "measure", "value");
    printf("%-52s %14.1f\n", "handshakes/s (both sides, to CON)", n / (t1 - t0));
    printf("%-52s %14.2f\n", "  seconds to establish all", t1 - t0);
    printf("%-52s %14.0f\n", "  agents' CPU per handshake, us", (c1 - c0) * 1e6 / n);
    printf("%-52s %14.0f\n", "  router CPU per handshake, us", (r1 - r0) * 1e6 / n);
    printf("%-52s %14.1f\n", "messages/s (one each way on every connection)", msgs / (t2 - t1));
    printf("%-52s %14.0f\n", "  agents' CPU per message (send + receive), us", (c2 - c1) * 1e6 / msgs);
    printf("%-52s %14.0f\n", "  router CPU per message, us", (r2 - r1) * 1e6 / msgs);
    printf("%-52s %14.0f\n", "  floor: ratchet encrypt + decrypt (PQ, a step), us", fr);
    printf("%-52s %14.0f\n", "  floor: the same with a DH + KEM ratchet turn, us", ft);
    printf("%-52s %14.0f\n", "  floor: per-queue box seal + open, us", fb);
    /* After the fast handshake alice sent last on each connection: her
     * message is a chain step, bob's answer a turn. */
    double floor_us = (fr + ft) / 2 + fb;
    printf("%-52s %14.0f\n", "  floor of this run (1/2 step + 1/2 turn + box), us", floor_us);
    printf("%-52s %14.2f\n", "  agents' CPU / that floor", (c2 - c1) * 1e6 / msgs / floor_us);
    printf("%-52s %14.0f\n", "process RSS per connection end (2N), bytes",
           (double)(rss_conns - rss_open) * 1024 / (2.0 * n));
    printf("%-52s %14.0f\n", "  the same after the messages, bytes",
           (double)(rss_msgs - rss_open) * 1024 / (2.0 * n));
    printf("%-52s %14ld\n", "  two agents open, empty, KiB over the process", rss_open - rss0);
    printf("%-52s %14.0f\n", "router RSS per connection (2 idle queues), bytes",
           (double)(router_rss - router_rss0) * 1024 / n);
    printf("%-52s %14.0f\n", "store file per connection (alice, closed), bytes",
           (double)(db_bytes + wal_bytes) / n);
    printf("%-52s %14.3f\n", "reopen: sx_agent_open on N connections, s", t4 - t3);
    printf("%-52s %14.3f\n", "  until a message on each of them arrived, s", t5 - t3);
    printf("%-52s %14.1f\n", "load average (1 min) at the end", load1());
    free(ab);
    free(ba);
    pool_router_free(&rp);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
