/* Benchmark: resubscribing many queues through the SMP connection pool
 * (sx_smp_pool_*) after the router restarts. The real smp-server program
 * runs as a child process in a temporary folder; N queues are made on it
 * (default 10,000), then for each SUB window (default 1360, 64 and the
 * baseline 1, one SUB per round trip) a pool subscribes all of them, the
 * router is killed with SIGKILL and started again on the same port and
 * store, and the time from the pool's new session to the last SUB answer
 * is measured: queues/s and seconds, side by side in one run. Then the
 * same with the pool as a messaging service (a certificate made here): the
 * first subscription associates the queues, and after the restart one SUBS
 * resubscribes them all (time from the new session to the SOKS answer);
 * the router's resident memory after each resubscription gives the memory
 * per association (service run minus the first window's run, per queue).
 * The first window is also run once more with the router verifying each
 * Ed25519 signature alone (SX_SMP_ED25519_BATCH=0) instead of a block's
 * together, with the router's CPU time per SUB of the resubscription.
 * Usage:
 *   bench_pool [--queues N] [--windows 1360,64,1] [--server PATH] */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "simplex/simplex.h"

#include <openssl/x509.h>

#include "crypto/keys.h"
#include "crypto/x509.h"

#ifndef SX_SMP_SERVER_BIN
#define SX_SMP_SERVER_BIN "smp-server"
#endif

#define WAIT_S 600.0
#define CREATE_WINDOW 512
#define MAX_WINDOWS 8

extern char **environ;

static const char *g_bin = SX_SMP_SERVER_BIN;
static char g_dir[64], g_etc[128], g_var[128], g_out[192], g_ini[192], g_addr[256];
static char g_env_cfg[160], g_env_log[160];
static char **g_envp;
static size_t g_env_n; /* the slot after the fixed entries */
static bool g_nobatch; /* start the router with SX_SMP_ED25519_BATCH=0 */
static pid_t g_pid;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noreturn)) static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "bench_pool: %s (%s)\n", fmt, arg);
    if (g_pid > 0)
        kill(g_pid, SIGKILL);
    exit(1);
}

static pid_t spawn(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork", strerror(errno));
    if (pid == 0) {
        int fd = open(g_out, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_DFL);
        static char nobatch[] = "SX_SMP_ED25519_BATCH=0";
        g_envp[g_env_n] = g_nobatch ? nobatch : NULL;
        execve(g_bin, argv, g_envp);
        _exit(127);
    }
    return pid;
}

/* A free port below the ephemeral range (32768 and up), so that no
 * outgoing connection, the pool's own attempts included, takes it while
 * the router is down. */
static uint16_t free_port(void)
{
    uint32_t r = (uint32_t)getpid() * 2654435761u ^ (uint32_t)time(NULL);
    for (uint32_t i = 0; i < 200; i++) {
        uint16_t port = (uint16_t)(20000 + (r + i * 7919u) % 12000u);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
        bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return port;
    }
    die("no free port between 20000 and 32000", "");
    return 0;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    if (buf)
        buf[n] = 0;
    fclose(f);
    return buf;
}

static void router_init(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/sx_bench_pool_XXXXXX");
    if (!mkdtemp(g_dir))
        die("mkdtemp", strerror(errno));
    snprintf(g_etc, sizeof g_etc, "%s/etc", g_dir);
    snprintf(g_var, sizeof g_var, "%s/var", g_dir);
    snprintf(g_out, sizeof g_out, "%s/output.log", g_dir);
    snprintf(g_ini, sizeof g_ini, "%s/smp-server.ini", g_etc);
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    g_envp = calloc(n + 4, sizeof *g_envp);
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SMP_SERVER_CFG_PATH=", 20) != 0 && strncmp(environ[i], "SMP_SERVER_LOG_PATH=", 20) != 0 &&
            strncmp(environ[i], "SX_SMP_ED25519_BATCH=", 21) != 0)
            g_envp[k++] = environ[i];
    snprintf(g_env_cfg, sizeof g_env_cfg, "SMP_SERVER_CFG_PATH=%s", g_etc);
    snprintf(g_env_log, sizeof g_env_log, "SMP_SERVER_LOG_PATH=%s", g_var);
    g_envp[k++] = g_env_cfg;
    g_envp[k++] = g_env_log;
    g_env_n = k;
    char *argv[] = {"smp-server", "init", "-y", "--disable-web", "--no-password", NULL};
    int status = 0;
    pid_t pid = spawn(argv);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("smp-server init failed; its output", g_out);
    char path[256];
    snprintf(path, sizeof path, "%s/fingerprint", g_etc);
    char *fp = read_text(path);
    if (!fp)
        die("no fingerprint in", g_etc);
    fp[strcspn(fp, "\r\n")] = 0;
    uint16_t port = free_port();
    snprintf(g_addr, sizeof g_addr, "smp://%s@127.0.0.1:%u", fp, port);
    free(fp);
    /* the INI with our port */
    char *text = read_text(g_ini);
    FILE *f = text ? fopen(g_ini, "wb") : NULL;
    if (!f)
        die("cannot rewrite", g_ini);
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        if (strncmp(line, "port:", 5) == 0)
            fprintf(f, "port: %u\n", port);
        else
            fprintf(f, "%.*s\n", len, line);
        line += len + (nl ? 1 : 0);
    }
    fclose(f);
    free(text);
}

/* Starts the router and waits until it answers a handshake. */
static double router_start(void)
{
    char *argv[] = {"smp-server", "start", NULL};
    double t0 = now_s();
    g_pid = spawn(argv);
    for (;;) {
        int status;
        if (waitpid(g_pid, &status, WNOHANG) == g_pid) {
            g_pid = 0;
            die("smp-server exited at start; its output", g_out);
        }
        sx_smp_conn_opts o = {.timeout_ms = 2000};
        sx_smp_conn *c = NULL;
        if (sx_smp_connect(g_addr, &o, &c) == SX_OK) {
            sx_smp_close(c);
            return now_s() - t0;
        }
        if (now_s() - t0 > WAIT_S)
            die("smp-server did not start in time", g_out);
        usleep(20000);
    }
}

/* The router's CPU time (user + system), seconds. */
static double router_cpu_s(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)g_pid);
    char *text = read_text(path);
    if (!text)
        return 0;
    /* fields 14 and 15 (utime, stime), counted after the command name */
    char *p = strrchr(text, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        ut = st = 0;
    free(text);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void router_kill9(void)
{
    int status;
    kill(g_pid, SIGKILL);
    waitpid(g_pid, &status, 0);
    g_pid = 0;
}

/* ---- making the queues (event-loop connection, many NEW in flight) ---- */

static sx_smp_queue **g_q;
static long g_nq, g_made, g_asked;
static bool g_conn_ok;

static void created_cb(sx_smp_aconn *c, sx_status st, sx_smp_queue *q, void *arg);

static void create_more(sx_smp_aconn *c)
{
    while (g_asked < g_nq && g_asked - g_made < CREATE_WINDOW) {
        if (sx_smp_aconn_create(c, created_cb, NULL) != SX_OK)
            die("create", sx_error_message());
        g_asked++;
    }
}

static void created_cb(sx_smp_aconn *c, sx_status st, sx_smp_queue *q, void *arg)
{
    (void)arg;
    if (st != SX_OK)
        die("create", sx_error_message());
    g_q[g_made++] = q;
    if (g_made == g_nq)
        sx_smp_aconn_close(c);
    else
        create_more(c);
}

static void aconnected_cb(sx_smp_aconn *c, sx_status st, void *arg)
{
    (void)arg;
    if (st != SX_OK)
        die("connect", sx_error_message());
    g_conn_ok = true;
    create_more(c);
}

static void aclosed_cb(sx_smp_aconn *c, sx_status st, void *arg)
{
    (void)c;
    sx_loop_stop(arg);
    if (st != SX_OK)
        die("connection closed", sx_error_message());
}

static void make_queues(sx_loop *loop)
{
    sx_smp_aconn_callbacks cbs = {.connected = aconnected_cb, .closed = aclosed_cb, .arg = loop};
    sx_smp_aconn *c;
    if (sx_smp_aconn_connect(loop, g_addr, NULL, &cbs, &c) != SX_OK || sx_loop_run(loop) != SX_OK)
        die("making queues", sx_error_message());
}

/* ---- one pool ---- */

static struct {
    uint64_t session;     /* the session counted */
    double t_connected;   /* its CONNECTED */
    double cpu_connected; /* the router's CPU time then */
    long subscribed;      /* SUBSCRIBED on it */
    long failed;
    uint64_t blocks0; /* blocks sent by the pool before it */
    bool service;     /* stop at SOKS of the session instead */
} P;

static void on_event(sx_smp_pool *p, const sx_smp_pool_event *e, void *arg)
{
    sx_loop *loop = arg;
    switch (e->kind) {
    case SX_SMP_POOL_CONNECTED: {
        sx_smp_pool_stats st;
        sx_smp_pool_get_stats(p, &st);
        P.session = e->session;
        P.t_connected = now_s();
        P.cpu_connected = router_cpu_s();
        P.subscribed = 0;
        P.blocks0 = st.blocks_sent;
        break;
    }
    case SX_SMP_POOL_SUBSCRIBED:
        if (e->session == P.session && ++P.subscribed == g_nq)
            sx_loop_stop(loop);
        break;
    case SX_SMP_POOL_SERVICE_SUBSCRIBED:
        if (P.service && e->session == P.session) {
            if (e->service_count != g_nq || e->service_expected != g_nq)
                die("SOKS counts", "the router's count differs");
            sx_loop_stop(loop);
        }
        break;
    case SX_SMP_POOL_SUB_FAILED: P.failed++; break;
    case SX_SMP_POOL_MESSAGE: break; /* the queues are empty */
    default: break;
    }
}

static void run_until_subscribed(sx_loop *loop)
{
    if (sx_loop_run(loop) != SX_OK)
        die("loop", sx_error_message());
    if (P.failed)
        die("a subscription failed", sx_error_message());
}

/* The router's resident memory, KiB (0: unknown). */
static long router_rss_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)g_pid);
    FILE *f = fopen(path, "r");
    long kib = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    fclose(f);
    return kib;
}

static sx_smp_service_creds g_creds;
static char g_crt[160], g_ca[160], g_key[160];

/* A service certificate chain (CA and leaf, Ed25519) in the folder. */
static void make_service_chain(void)
{
    snprintf(g_crt, sizeof g_crt, "%s/svc.crt", g_dir);
    snprintf(g_ca, sizeof g_ca, "%s/svc-ca.crt", g_dir);
    snprintf(g_key, sizeof g_key, "%s/svc.key", g_dir);
    sx_key *ca_key = NULL, *leaf_key = NULL;
    X509 *ca = NULL, *leaf = NULL;
    if (sx_key_generate(SX_KEY_ED25519, &ca_key) != SX_OK || sx_key_generate(SX_KEY_ED25519, &leaf_key) != SX_OK ||
        sx_x509_create_ca(ca_key, &ca) != SX_OK ||
        sx_x509_create_server(ca_key, ca, leaf_key, "bench service", &leaf) != SX_OK ||
        sx_x509_write_cert_file(g_crt, leaf) != SX_OK || sx_x509_write_cert_file(g_ca, ca) != SX_OK ||
        sx_x509_write_key_file(g_key, leaf_key) != SX_OK)
        die("service certificate", sx_error_message());
    X509_free(ca);
    X509_free(leaf);
    sx_key_free(ca_key);
    sx_key_free(leaf_key);
    g_creds = (sx_smp_service_creds){.cert_file = g_crt, .ca_file = g_ca, .key_file = g_key};
}

typedef struct result {
    long rss_kib; /* the router's, after the resubscription */
    unsigned window;
    double first_s, resub_s;
    double resub_cpu_us; /* router CPU per SUB of the resubscription */
    uint64_t sub_sent;
    uint64_t resub_blocks; /* blocks the pool sent on the new session */
} result;

static void measure(sx_loop *loop, unsigned window, bool service, bool nobatch, result *r)
{
    memset(&P, 0, sizeof P);
    sx_smp_pool_opts o = {.retry_min_ms = 20, .retry_max_ms = 200, .sub_window = window};
    if (service)
        o.conn.service = &g_creds;
    sx_smp_pool *p;
    if (sx_smp_pool_new(loop, &o, on_event, loop, &p) != SX_OK)
        die("pool", sx_error_message());
    double t0 = now_s();
    for (long i = 0; i < g_nq; i++)
        if (sx_smp_pool_subscribe(p, g_q[i]) != SX_OK)
            die("subscribe", sx_error_message());
    run_until_subscribed(loop);
    r->window = window;
    r->first_s = now_s() - t0;
    router_kill9();
    g_nobatch = nobatch;
    router_start(); /* the pool reconnects on its own; the loop does not run meanwhile */
    P.service = service;
    run_until_subscribed(loop);
    r->resub_s = now_s() - P.t_connected;
    r->rss_kib = router_rss_kib();
    r->resub_cpu_us = (router_cpu_s() - P.cpu_connected) * 1e6 / (double)g_nq;
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(p, &st);
    if (service && (st.service_subs_ok != 1 || st.service_assoc != (size_t)g_nq))
        die("the service's SUBS", "not one SUBS for every queue");
    if (st.active != (size_t)g_nq)
        die("not every queue is active after the restart", "");
    r->sub_sent = st.sub_sent;
    r->resub_blocks = st.blocks_sent - P.blocks0;
    sx_smp_pool_free(p);
}

int main(int argc, char **argv)
{
    g_nq = 10000;
    unsigned windows[MAX_WINDOWS] = {1360, 64, 1};
    size_t nw = 3;
    bool bin_given = false;
    static const struct option lo[] = {
        {"queues", required_argument, 0, 'q'}, {"windows", required_argument, 0, 'w'}, {"server", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "q:w:s:h", lo, NULL)) != -1) {
        if (ch == 'q') {
            g_nq = atol(optarg);
        } else if (ch == 'w') {
            nw = 0;
            for (char *t = strtok(optarg, ","); t && nw < MAX_WINDOWS; t = strtok(NULL, ","))
                windows[nw++] = (unsigned)atol(t);
        } else if (ch == 's') {
            g_bin = optarg;
            bin_given = true;
        } else {
            printf("usage: bench_pool [--queues N] [--windows 1360,64,1] [--server PATH]\n");
            return ch == 'h' ? 0 : 2;
        }
    }
    if (g_nq <= 0 || nw == 0)
        die("bad --queues or --windows", "");
    const char *env_bin = getenv("SX_SMP_SERVER");
    if (env_bin && *env_bin && !bin_given)
        g_bin = env_bin;
    signal(SIGPIPE, SIG_IGN);
    router_init();
    router_start();
    g_q = calloc((size_t)g_nq, sizeof *g_q);
    sx_loop *loop = NULL;
    if (!g_q || sx_loop_new(&loop) != SX_OK)
        die("no memory", "");
    double t0 = now_s();
    make_queues(loop);
    printf("bench_pool: %ld queues made in %.2f s (NEW, %d in flight)\n", g_nq, now_s() - t0, CREATE_WINDOW);
    printf("%-28s %10s %12s %10s %12s %12s %14s\n", "SUB window", "first s", "first q/s", "resub s", "resub q/s",
           "SUBs/block", "router us/SUB");
    result res[MAX_WINDOWS + 1];
    for (size_t i = 0; i <= nw; i++) {
        /* the last row: the first window again, the router verifying one
         * signature at a time (SX_SMP_ED25519_BATCH=0) */
        bool one_by_one = i == nw;
        if (one_by_one && windows[0] == 1)
            break;
        unsigned win = one_by_one ? windows[0] : windows[i];
        measure(loop, win, false, one_by_one, &res[i]);
        char name[48];
        snprintf(name, sizeof name, "%u%s", win,
                 one_by_one ? " (Ed25519 one by one)" : win == 1 ? " (baseline: 1 per RTT)"
                                                                 : "");
        printf("%-28s %10.3f %12.0f %10.3f %12.0f %12.1f %14.1f\n", name, res[i].first_s,
               (double)g_nq / res[i].first_s, res[i].resub_s, (double)g_nq / res[i].resub_s,
               res[i].resub_blocks ? (double)g_nq / (double)res[i].resub_blocks : 0.0, res[i].resub_cpu_us);
        fflush(stdout);
        if (one_by_one) {
            double ratio = res[nw].resub_cpu_us / res[0].resub_cpu_us;
            printf("router CPU per SUB resubscribing %ld queues (window %u): %.1f us with batch Ed25519 "
                   "verification, %.1f us one by one: %.2fx lower (goal >= 1.6x: %s)\n",
                   g_nq, win, res[0].resub_cpu_us, res[nw].resub_cpu_us, ratio, ratio >= 1.6 ? "met" : "not met");
        }
    }
    for (size_t i = 0; i < nw; i++)
        if (windows[i] == 1)
            for (size_t j = 0; j < nw; j++)
                if (windows[j] != 1)
                    printf("window %u resubscribes %.1fx faster than one SUB per round trip\n", windows[j],
                           res[i].resub_s / res[j].resub_s);
    /* The pool as a service: one SUBS after the restart. */
    make_service_chain();
    result svc;
    measure(loop, windows[0], true, false, &svc);
    printf("%-28s %10.3f %12.0f %10.3f %12.0f %12s\n", "service (one SUBS)", svc.first_s, (double)g_nq / svc.first_s,
           svc.resub_s, (double)g_nq / svc.resub_s, "-");
    printf("service SUBS resubscribes %.1fx faster than SUB window %u\n", res[0].resub_s / svc.resub_s, windows[0]);
    if (svc.rss_kib && res[0].rss_kib)
        printf("router RSS after resubscribing: %ld KiB per-queue SUB, %ld KiB service; %.0f bytes per "
               "association\n",
               res[0].rss_kib, svc.rss_kib, (double)(svc.rss_kib - res[0].rss_kib) * 1024.0 / (double)g_nq);
    router_kill9();
    sx_loop_free(loop);
    for (long i = 0; i < g_nq; i++)
        sx_smp_queue_free(g_q[i]);
    free(g_q);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_pool: could not remove %s\n", g_dir);
    free(g_envp);
    return 0;
}
