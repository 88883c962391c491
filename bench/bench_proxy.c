/* Benchmark: 2-hop routing against direct sending, in one run. Two real
 * smp-server programs (A, the proxy; B, where the queue is) are initialised
 * in a temporary folder and started as child processes; our blocking client
 * sends to a queue on B, once directly (SEND to B) and once through A (PFWD
 * to A, RFWD from A to B), the same number of messages of the same size.
 * Measures, side by side: end-to-end latency (a SEND issued until the
 * recipient on B has the MSG; one message at a time; p50, p99) and sender
 * throughput (SENDs answered per second with a window of commands in
 * flight, over enough queues that none reaches its quota; every message is
 * then received and acknowledged, untimed). Every wait has a
 * timeout; any failure exits non-zero. Usage: bench_proxy [messages]
 * [window] (default 2000, at most 6400, and 16). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "crypto/util.h"
#include "crypto/x509.h"
#include "smp/msgcrypt.h"
#include "smp_client/smp_client.h"
#include "smp_client/smp_proxy.h"
#include "transport/net.h"

#ifndef SX_SMP_SERVER_BIN
#define SX_SMP_SERVER_BIN "smp-server"
#endif

#define WAIT_MS 15000
#define BODY 100
#define ID_LEN 24
#define MAX_WINDOW 64

extern char **environ;

typedef struct router {
    char dir[300], etc[320], var[320], ini[360], out[320];
    char env_cfg[400], env_log[400];
    uint8_t fp[SX_FINGERPRINT_LEN];
    uint16_t port;
    pid_t pid;
} router;

static char g_root[64];
static router g_a, g_b;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, sx_status st)
{
    fprintf(stderr, "bench_proxy: %s: %s\n", what, sx_status_str(st));
    if (g_a.pid > 0)
        kill(g_a.pid, SIGKILL);
    if (g_b.pid > 0)
        kill(g_b.pid, SIGKILL);
    if (g_root[0] && strncmp(g_root, "/tmp/sx_bench_proxy_", 20) == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", g_root);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_proxy: cannot remove %s\n", g_root);
    }
    exit(1);
}

static pid_t spawn(router *r, char *const argv[])
{
    char *envp[512];
    size_t k = 0;
    for (size_t i = 0; environ[i] && k < 500; i++)
        if (strncmp(environ[i], "SMP_SERVER_", 11) != 0)
            envp[k++] = environ[i];
    envp[k++] = r->env_cfg;
    envp[k++] = r->env_log;
    envp[k] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(r->out, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execve(SX_SMP_SERVER_BIN, argv, envp);
        _exit(127);
    }
    return pid;
}

static void set_port(router *r)
{
    FILE *f = fopen(r->ini, "r");
    if (!f)
        die("read the ini", SX_E_IO);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    f = fopen(r->ini, "w");
    if (!f)
        die("write the ini", SX_E_IO);
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (strncmp(line, "port:", 5) == 0)
            fprintf(f, "port: %u\n", r->port);
        else if (strncmp(line, "# workers:", 10) == 0)
            fprintf(f, "workers: 1\n");
        else
            fprintf(f, "%.*s\n", (int)len, line);
        line += len + (nl ? 1 : 0);
    }
    fclose(f);
}

static void router_up(router *r, const char *name)
{
    snprintf(r->dir, sizeof r->dir, "%s/%s", g_root, name);
    snprintf(r->etc, sizeof r->etc, "%s/etc", r->dir);
    snprintf(r->var, sizeof r->var, "%s/var", r->dir);
    snprintf(r->ini, sizeof r->ini, "%s/smp-server.ini", r->etc);
    snprintf(r->out, sizeof r->out, "%s/out.log", r->dir);
    snprintf(r->env_cfg, sizeof r->env_cfg, "SMP_SERVER_CFG_PATH=%s", r->etc);
    snprintf(r->env_log, sizeof r->env_log, "SMP_SERVER_LOG_PATH=%s", r->var);
    if (mkdir(r->dir, 0700) != 0)
        die("mkdir", SX_E_IO);
    char *init[] = {"smp-server", "init", "-y", "--disable-web", "--no-password", NULL};
    int status = -1;
    pid_t pid = spawn(r, init);
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("smp-server init", SX_E_INTERNAL);
    char ca[400];
    snprintf(ca, sizeof ca, "%s/ca.crt", r->etc);
    X509 *x = NULL;
    sx_status st = sx_x509_read_cert_file(ca, &x);
    if (st == SX_OK)
        st = sx_x509_fingerprint(x, r->fp);
    X509_free(x);
    if (st != SX_OK)
        die("fingerprint", st);
    int fd;
    if (sx_net_listen("127.0.0.1", 0, 1, &fd, &r->port) != SX_OK)
        die("free port", SX_E_IO);
    sx_net_close(fd);
    set_port(r);
    char *start[] = {"smp-server", "start", NULL};
    r->pid = spawn(r, start);
    for (double t0 = now(); now() - t0 < 30;) {
        sx_smp_client *cl = NULL;
        sx_smp_client_opts o = {.timeout_ms = 2000};
        if (sx_smp_client_connect("127.0.0.1", r->port, r->fp, &o, &cl) == SX_OK) {
            sx_smp_client_close(cl);
            return;
        }
        usleep(50000);
    }
    die("smp-server start", SX_E_IO);
}

static sx_smp_client *connect_to(const router *r)
{
    sx_smp_client_opts o = {.timeout_ms = WAIT_MS};
    sx_smp_client *cl = NULL;
    sx_status st = sx_smp_client_connect("127.0.0.1", r->port, r->fp, &o, &cl);
    if (st != SX_OK)
        die("connect", st);
    return cl;
}

/* ---- the queue on B and its recipient ---- */

typedef struct queue {
    sx_key *rkey;
    uint8_t rid[ID_LEN], sid[ID_LEN], secret[32];
} queue;

static void create_queue(sx_smp_client *cl, queue *q)
{
    sx_key *rdh = NULL, *srv = NULL;
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd c = {.tag = SX_SMP_C_NEW};
    sx_status st = sx_key_generate(SX_KEY_ED25519, &q->rkey);
    if (st == SX_OK)
        st = sx_key_generate(SX_KEY_X25519, &rdh);
    if (st == SX_OK)
        st = sx_smp_pubkey_of(q->rkey, b1, &c.new_queue.rcv_auth_key);
    if (st == SX_OK)
        st = sx_smp_pubkey_of(rdh, b2, &c.new_queue.rcv_dh_key);
    c.new_queue.subscribe = true;
    c.new_queue.has_queue_req = true;
    c.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    sx_smp_client_reply r = {0};
    if (st == SX_OK)
        st = sx_smp_client_call(cl, sx_slice_of(NULL, 0), &c, q->rkey, &r);
    if (st == SX_OK && !(r.ok && r.reply.resp.tag == SX_SMP_R_IDS))
        st = SX_E_PROTOCOL;
    if (st == SX_OK) {
        memcpy(q->rid, r.reply.resp.ids.rcv_id.ptr, ID_LEN);
        memcpy(q->sid, r.reply.resp.ids.snd_id.ptr, ID_LEN);
        st = sx_key_decode_public(r.reply.resp.ids.srv_dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv);
    }
    size_t n = 0;
    if (st == SX_OK)
        st = sx_key_dh(rdh, srv, q->secret, sizeof q->secret, &n);
    sx_smp_client_reply_free(&r);
    sx_key_free(rdh);
    sx_key_free(srv);
    if (st != SX_OK)
        die("create a queue on B", st);
}

/* Waits for one MSG (or one carried over from an ACK's answer) and ACKs it. */
static sx_smp_client_reply g_carry;
static bool g_has_carry;

static queue g_q[64];
static int g_nq;

static const queue *queue_of(sx_slice rid)
{
    for (int i = 0; i < g_nq; i++)
        if (rid.len == ID_LEN && memcmp(g_q[i].rid, rid.ptr, ID_LEN) == 0)
            return &g_q[i];
    die("MSG for an unknown queue", SX_E_PROTOCOL);
    return NULL;
}

static void receive_one(sx_smp_client *rcv)
{
    sx_smp_client_reply ev;
    if (g_has_carry) {
        ev = g_carry;
        g_has_carry = false;
    } else {
        sx_status st = sx_smp_client_next_event(rcv, WAIT_MS, &ev);
        if (st != SX_OK)
            die("wait for MSG", st);
    }
    if (!ev.ok || ev.reply.resp.tag != SX_SMP_R_MSG)
        die("expected MSG", SX_E_PROTOCOL);
    const queue *q = queue_of(ev.reply.t.entity_id);
    sx_smp_cmd ack = {.tag = SX_SMP_C_ACK};
    ack.msg_id = ev.reply.resp.msg.msg_id;
    sx_smp_client_reply r;
    sx_status st = sx_smp_client_call(rcv, sx_slice_of(q->rid, ID_LEN), &ack, q->rkey, &r);
    if (st != SX_OK || !r.ok)
        die("ACK", st == SX_OK ? SX_E_PROTOCOL : st);
    if (r.reply.resp.tag == SX_SMP_R_MSG) {
        g_carry = r;
        g_has_carry = true;
    } else {
        sx_smp_client_reply_free(&r);
    }
    sx_smp_client_reply_free(&ev);
}

/* ---- one way of sending ---- */

typedef struct sender {
    sx_smp_client *cl;
    const sx_smp_relay_session *rs; /* NULL: direct */
    int next;                       /* the queue of the next message */
} sender;

/* Sends n messages with n commands in flight; each answer must be OK. */
static void send_window(sender *s, int n)
{
    static uint8_t body[BODY];
    memset(body, 'm', sizeof body);
    sx_smp_cmd send = {.tag = SX_SMP_C_SEND};
    send.send.body = sx_slice_of(body, sizeof body);
    static sx_smp_pfwd p[MAX_WINDOW];
    sx_smp_client_cmd cc[MAX_WINDOW];
    sx_smp_client_reply r[MAX_WINDOW];
    for (int i = 0; i < n; i++) {
        const queue *q = &g_q[s->next];
        s->next = (s->next + 1) % g_nq;
        if (s->rs) {
            sx_status st = sx_smp_pfwd_make(s->rs, sx_slice_of(q->sid, ID_LEN), &send, NULL, &p[i]);
            if (st != SX_OK)
                die("PFWD", st);
            cc[i] = (sx_smp_client_cmd){.entity = sx_slice_of(s->rs->session_id, s->rs->session_id_len),
                                        .cmd = &p[i].cmd};
            cc[i].corr_given = true;
            memcpy(cc[i].corr_id, p[i].corr_id, sizeof cc[i].corr_id);
        } else {
            cc[i] = (sx_smp_client_cmd){.entity = sx_slice_of(q->sid, ID_LEN), .cmd = &send};
        }
    }
    sx_status st = sx_smp_client_call_many(s->cl, cc, (size_t)n, r);
    if (st != SX_OK)
        die("send", st);
    for (int i = 0; i < n; i++) {
        bool ok;
        if (s->rs) {
            sx_smp_client_reply inner;
            ok = r[i].ok && r[i].reply.resp.tag == SX_SMP_R_PRES &&
                 sx_smp_pres_open(s->rs, &p[i], r[i].reply.resp.enc, &inner) == SX_OK && inner.ok &&
                 inner.reply.resp.tag == SX_SMP_R_OK;
            if (r[i].ok && r[i].reply.resp.tag == SX_SMP_R_PRES && inner.buf)
                sx_smp_client_reply_free(&inner);
        } else {
            ok = r[i].ok && r[i].reply.resp.tag == SX_SMP_R_OK;
        }
        if (!ok) {
            fprintf(stderr, "bench_proxy: answer %s %s\n", r[i].ok ? sx_smp_resp_name(r[i].reply.resp.tag) : "?",
                    r[i].ok && r[i].reply.resp.tag == SX_SMP_R_ERR ? sx_smp_err_name(r[i].reply.resp.err.type) : "");
            die("a SEND was not answered OK", SX_E_PROTOCOL);
        }
        sx_smp_client_reply_free(&r[i]);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Latency: one message at a time, SEND issued until the MSG is on B's
 * recipient connection. */
static void latency(sender *s, sx_smp_client *rcv, int n, double *p50, double *p99)
{
    double *t = malloc(sizeof *t * (size_t)n);
    if (!t)
        die("memory", SX_E_NOMEM);
    for (int i = 0; i < n; i++) {
        double t0 = now();
        send_window(s, 1);
        receive_one(rcv);
        t[i] = (now() - t0) * 1e3;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    *p50 = t[n / 2];
    *p99 = t[(n * 99) / 100];
    free(t);
}

/* CPU seconds of a child process so far (user + system). */
static double proc_cpu(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Sender throughput: n messages over the queues (within their quota, so
 * that nothing waits for the recipient), w in flight; then the recipient
 * takes them all (not timed), so that each one is known to have arrived. */
static double throughput(sender *s, sx_smp_client *rcv, int n, int w, double cpu_us[3])
{
    double c0[3] = {proc_cpu(g_a.pid), proc_cpu(g_b.pid), self_cpu()};
    double t0 = now();
    for (int done = 0; done < n; done += w)
        send_window(s, n - done < w ? n - done : w);
    double secs = now() - t0;
    double c1[3] = {proc_cpu(g_a.pid), proc_cpu(g_b.pid), self_cpu()};
    for (int i = 0; i < 3; i++)
        cpu_us[i] = (c1[i] - c0[i]) * 1e6 / n;
    for (int i = 0; i < n; i++)
        receive_one(rcv);
    return n / secs;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    int w = argc > 2 ? atoi(argv[2]) : 16;
    if (n < 10 || w < 1 || w > MAX_WINDOW) {
        fprintf(stderr, "usage: bench_proxy [messages >= 10] [window 1..%d]\n", MAX_WINDOW);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (sx_crypto_init() != SX_OK)
        die("crypto", SX_E_INTERNAL);
    snprintf(g_root, sizeof g_root, "/tmp/sx_bench_proxy_XXXXXX");
    if (!mkdtemp(g_root))
        die("mkdtemp", SX_E_IO);
    router_up(&g_a, "a");
    router_up(&g_b, "b");
    sx_smp_client *rcv = connect_to(&g_b), *direct = connect_to(&g_b), *via = connect_to(&g_a);
    /* Enough queues that the messages of one run stay within the quota
     * (128 a queue). */
    g_nq = (n + 99) / 100;
    if (g_nq > 64) {
        fprintf(stderr, "bench_proxy: at most 6400 messages\n");
        return 2;
    }
    for (int i = 0; i < g_nq; i++)
        create_queue(rcv, &g_q[i]);
    sx_smp_address dest = {.port = g_b.port};
    memcpy(dest.key_hash, g_b.fp, SX_FINGERPRINT_LEN);
    snprintf(dest.host, sizeof dest.host, "127.0.0.1");
    sx_smp_relay_session rs;
    sx_smp_client_reply pr;
    sx_status st = sx_smp_client_proxy_session(via, &dest, sx_slice_of(NULL, 0), &rs, &pr);
    if (st != SX_OK)
        die("proxy session", st);
    sender sd = {direct, NULL, 0}, sp = {via, &rs, 0};
    int nl = n / 4 < 200 ? n / 4 : 200;
    if (nl < 10)
        nl = 10;
    /* Warm up both paths, then measure them in turn. */
    latency(&sd, rcv, 10, &(double){0}, &(double){0});
    latency(&sp, rcv, 10, &(double){0}, &(double){0});
    double d50, d99, p50, p99;
    latency(&sd, rcv, nl, &d50, &d99);
    latency(&sp, rcv, nl, &p50, &p99);
    double dc[3], pc[3];
    double dt = throughput(&sd, rcv, n, w, dc);
    double pt = throughput(&sp, rcv, n, w, pc);
    printf("bench_proxy: %d messages of %d bytes, window %d, A (proxy) and B (queue) smp-server on loopback\n", n,
           BODY, w);
    printf("%-34s %14s %14s %8s\n", "measure", "direct to B", "through A", "ratio");
    printf("%-34s %14.3f %14.3f %8.2f\n", "latency p50, SEND to MSG (ms)", d50, p50, p50 / d50);
    printf("%-34s %14.3f %14.3f %8.2f\n", "latency p99, SEND to MSG (ms)", d99, p99, p99 / d99);
    printf("%-34s %14.0f %14.0f %8.2f\n", "throughput (messages/s)", dt, pt, pt / dt);
    static const char *const who[3] = {"CPU us/message, router A", "CPU us/message, router B",
                                       "CPU us/message, client"};
    for (int i = 0; i < 3; i++)
        printf("%-34s %14.1f %14.1f\n", who[i], dc[i], pc[i]);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double load[1] = {0};
    if (getloadavg(load, 1) != 1)
        load[0] = -1;
    printf("(%ld cores, load average %.1f: the three processes share them)\n", cores, load[0]);
    printf("(latency over %d messages one at a time; the proxied path adds A, a TLS hop and the\n"
           " per-message X25519 agreement and boxes of the client, A and B)\n",
           nl);
    sx_smp_relay_session_cleanup(&rs);
    sx_smp_client_close(rcv);
    sx_smp_client_close(direct);
    sx_smp_client_close(via);
    kill(g_a.pid, SIGTERM);
    kill(g_b.pid, SIGTERM);
    waitpid(g_a.pid, NULL, 0);
    waitpid(g_b.pid, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_root);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_proxy: cannot remove %s\n", g_root);
    return 0;
}
