/* Benchmark: the SMP router as an operator runs it. The real smp-server
 * program is initialised in a temporary folder and started as a child
 * process; our blocking client drives it over loopback TLS. Measures, side
 * by side in one run: end-to-end throughput and latency (SEND -> MSG -> ACK)
 * for small and large bodies over many connections and queues, router CPU
 * per message beside the mandatory crypto floor for the blocks it moved
 * (measured in this process: Ed25519 verifications, block seal/open, MSG
 * encryption), a raw TLS 1.3 echo of 16384-byte blocks, resident memory per idle queue
 * and per idle connection (VmRSS of the router process), and the time to
 * restart from a store log. Every wait has a timeout and a watchdog ends a
 * run that overstays; any failure exits non-zero. Usage: see usage(). */
#define _GNU_SOURCE /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
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
#include <sodium.h>

#include "smp_client/smp_client.h"
#include "core/base64.h"
#include "crypto/sbchain.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "smp_router/config.h"
#include "smp/msgcrypt.h"
#include "transport/net.h"
#include "transport/smp_version.h"
#include "transport/tls.h"

#ifndef SX_SMP_SERVER_BIN
#define SX_SMP_SERVER_BIN "smp-server"
#endif

#define WAIT_MS 15000          /* one network step */
#define START_TIMEOUT_S 120.0  /* a router start (store log replay included) */
#define STOP_TIMEOUT_S 120.0
#define SMALL_BODY 100
#define BODY_HDR 16            /* send time (ns), queue index, sequence */
_Static_assert(SMALL_BODY >= BODY_HDR, "a body holds its header");
#define QID_LEN 24             /* PROTOCOL-NOTES E24: queue ids */
#define NEW_BATCH 200          /* NEW commands per call_many */
#define MAX_THREADS 64

extern char **environ;

/* --scaling: the CPUs the next router started runs on (all its threads
 * inherit the mask set before exec). */
static cpu_set_t g_child_cpus;
static bool g_pin_child;

/* ---- options ---- */

typedef struct opts {
    const char *server_bin;
    int senders, receivers, queues; /* throughput: threads, queues in all */
    long small_msgs, large_msgs;    /* throughput: messages per body size */
    int window;                     /* messages in flight per queue */
    long echo_blocks;               /* TLS baseline: round trips per connection */
    long idle_queues;               /* memory per queue and restart */
    long idle_conns;                /* memory per connection */
    int creators;                   /* threads creating idle queues / connections */
    bool run_tput, run_queues, run_conns;
    bool run_scaling;               /* --scaling: msgs/s per router core */
    bool queues_log;                /* --queues-log: idle queues written as a store log */
    double phase_timeout;           /* seconds per measured phase */
    bool keep;                      /* keep the temporary folder */
    const char *ini_sets[8];        /* --ini "key: value": INI lines replaced after init */
    int n_ini_sets;
} opts;

static opts g_opt = {
    .senders = 8,
    .receivers = 8,
    .queues = 128,
    .small_msgs = 32000,
    .large_msgs = 16000,
    .window = 2,
    .echo_blocks = 4000,
    .idle_queues = 100000,
    .idle_conns = 2000,
    .creators = 4,
    .run_tput = true,
    .run_queues = true,
    .run_conns = true,
    .phase_timeout = 600,
};

static char g_root[256]; /* the temporary folder */
/* The largest SEND body at the agreed version (16048 at v19). */
static size_t g_large_body = 16048;

/* ---- small helpers ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static double self_cpu_secs(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

/* The first failure of any thread; the others see it and stop. */
static int g_failed;
static pthread_mutex_t g_fail_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((format(printf, 1, 2))) static void set_failed(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&g_fail_lock);
    if (!g_failed) {
        fprintf(stderr, "bench_router: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
    }
    __atomic_store_n(&g_failed, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&g_fail_lock);
    va_end(ap);
}

static bool failed(void)
{
    return __atomic_load_n(&g_failed, __ATOMIC_ACQUIRE) != 0;
}

static sx_status fail_st(const char *what, sx_status st)
{
    set_failed("%s: %s", what, sx_status_str(st));
    return st;
}

/* The router message a reply carries, named for error messages. */
static const char *reply_name(const sx_smp_client_reply *r)
{
    if (!r->ok)
        return "undecodable reply";
    if (r->reply.resp.tag == SX_SMP_R_ERR)
        return sx_smp_err_name(r->reply.resp.err.type);
    return sx_smp_resp_name(r->reply.resp.tag);
}

static bool reply_is(const sx_smp_client_reply *r, sx_smp_resp_tag tag)
{
    return r->ok && r->reply.resp.tag == tag;
}

/* ---- router processes ---- */

/* Child processes still running, for the watchdog (async-signal-safe reads). */
static volatile pid_t g_children[4];

static void child_track(pid_t pid, bool add)
{
    for (size_t i = 0; i < sizeof g_children / sizeof g_children[0]; i++) {
        if (add ? g_children[i] == 0 : g_children[i] == pid) {
            g_children[i] = add ? pid : 0;
            return;
        }
    }
}

static void watchdog_cb(int sig)
{
    (void)sig;
    static const char msg[] = "bench_router: watchdog: the run took too long, stopping\n";
    ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)n;
    for (size_t i = 0; i < sizeof g_children / sizeof g_children[0]; i++)
        if (g_children[i] > 0)
            kill(g_children[i], SIGKILL);
    _exit(3);
}

/* One smp-server installation in <root>/<name>: etc/ (INI, keys,
 * certificates), var/ (store log), out.log (its standard output). */
typedef struct router_proc {
    char cfg[512], log[512], out[512];
    char env_cfg[600], env_log[600];
    pid_t pid;
    uint16_t port;
    uint8_t fp[SX_FINGERPRINT_LEN];
} router_proc;

/* Forks and execs argv with the router's folders in the environment and
 * its output appended to out.log. Called from the main thread only (the
 * child dies with its parent through PR_SET_PDEATHSIG, which follows the
 * thread that forked). */
static sx_status spawn(router_proc *r, char *const argv[], pid_t *out)
{
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **envp = calloc(n_env + 3, sizeof *envp);
    if (!envp)
        return SX_E_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], SX_ROUTER_CFG_ENV "=", strlen(SX_ROUTER_CFG_ENV) + 1) != 0 &&
            strncmp(environ[i], SX_ROUTER_LOG_ENV "=", strlen(SX_ROUTER_LOG_ENV) + 1) != 0)
            envp[k++] = environ[i];
    envp[k++] = r->env_cfg;
    envp[k++] = r->env_log;
    envp[k] = NULL;
    int fd = open(r->out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = getpid();
    pid_t pid = fd >= 0 && devnull >= 0 ? fork() : -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        dup2(devnull, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (g_pin_child && sched_setaffinity(0, sizeof g_child_cpus, &g_child_cpus) != 0)
            _exit(125);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    if (fd >= 0)
        close(fd);
    if (devnull >= 0)
        close(devnull);
    free(envp);
    SX_ENSURE(pid > 0, SX_E_INTERNAL);
    child_track(pid, true);
    *out = pid;
    return SX_OK;
}

/* Waits up to timeout seconds for pid to exit; its status in *status. */
static sx_status reap(pid_t pid, double timeout, int *status)
{
    double end = now() + timeout;
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid) {
            child_track(pid, false);
            return SX_OK;
        }
        if (w < 0 && errno != EINTR)
            return SX_E_INTERNAL;
        if (now() > end)
            return SX_E_IO;
        sleep_ms(2);
    }
}

static void print_log_tail(const router_proc *r)
{
    FILE *f = fopen(r->out, "r");
    if (!f)
        return;
    static char buf[4096];
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz > (long)sizeof buf - 1 ? sz - (long)sizeof buf + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    fprintf(stderr, "--- %s (end) ---\n%s--- end ---\n", r->out, buf);
}

/* A port that was free a moment ago (the router binds it right after). */
static sx_status free_port(uint16_t *port)
{
    int fd;
    SX_TRY(sx_net_listen("127.0.0.1", 0, 1, &fd, port));
    sx_net_close(fd);
    return SX_OK;
}

/* Replaces the [TRANSPORT] port line of the INI written by init. */
static sx_status set_ini_port(const router_proc *r, uint16_t port)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", r->cfg, SX_ROUTER_INI_NAME);
    FILE *f = fopen(path, "r");
    SX_ENSURE(f != NULL, SX_E_IO);
    static char text[1 << 16], out[(1 << 16) + 64];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    SX_ENSURE(n > 0 && n < sizeof text - 1, SX_E_IO);
    text[n] = 0;
    char *line = strstr(text, "\nport: ");
    SX_ENSURE(line != NULL, SX_E_PROTOCOL);
    line++;
    char *eol = strchr(line, '\n');
    SX_ENSURE(eol != NULL, SX_E_PROTOCOL);
    int len = snprintf(out, sizeof out, "%.*sport: %u%s", (int)(line - text), text, port, eol);
    SX_ENSURE(len > 0 && (size_t)len < sizeof out, SX_E_LIMIT);
    f = fopen(path, "w");
    SX_ENSURE(f != NULL, SX_E_IO);
    bool ok = fwrite(out, 1, (size_t)len, f) == (size_t)len;
    ok = fclose(f) == 0 && ok;
    return ok ? SX_OK : SX_E_IO;
}

/* Replaces the INI line "key: ..." (active or commented out with '#')
 * with `set`, "key: value"; the key must be in the INI written by init. */
static sx_status set_ini_key(const router_proc *r, const char *set)
{
    const char *colon = strchr(set, ':');
    SX_ENSURE(colon != NULL && colon > set, SX_E_USAGE);
    size_t klen = (size_t)(colon - set) + 1; /* with the colon */
    char path[600];
    snprintf(path, sizeof path, "%s/%s", r->cfg, SX_ROUTER_INI_NAME);
    FILE *f = fopen(path, "r");
    SX_ENSURE(f != NULL, SX_E_IO);
    static char text[1 << 16], out[(1 << 16) + 1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    SX_ENSURE(n > 0 && n < sizeof text - 1, SX_E_IO);
    text[n] = 0;
    for (char *line = text; *line;) {
        char *eol = strchr(line, '\n');
        char *k = line;
        while (*k == '#' || *k == ' ')
            k++;
        if (strncmp(k, set, klen) == 0) {
            int len = snprintf(out, sizeof out, "%.*s%s%s", (int)(line - text), text, set, eol ? eol : "\n");
            SX_ENSURE(len > 0 && (size_t)len < sizeof out, SX_E_LIMIT);
            f = fopen(path, "w");
            SX_ENSURE(f != NULL, SX_E_IO);
            bool ok = fwrite(out, 1, (size_t)len, f) == (size_t)len;
            ok = fclose(f) == 0 && ok;
            return ok ? SX_OK : SX_E_IO;
        }
        if (!eol)
            break;
        line = eol + 1;
    }
    fprintf(stderr, "bench_router: no %.*s line in %s\n", (int)klen, set, path);
    return SX_E_USAGE;
}

/* `smp-server init -y --disable-web --no-password` in <root>/<name>, then a free port. */
static sx_status router_init(router_proc *r, const char *name)
{
    memset(r, 0, sizeof *r);
    snprintf(r->cfg, sizeof r->cfg, "%s/%s/etc", g_root, name);
    snprintf(r->log, sizeof r->log, "%s/%s/var", g_root, name);
    snprintf(r->out, sizeof r->out, "%s/%s.log", g_root, name);
    snprintf(r->env_cfg, sizeof r->env_cfg, "%s=%s", SX_ROUTER_CFG_ENV, r->cfg);
    snprintf(r->env_log, sizeof r->env_log, "%s=%s", SX_ROUTER_LOG_ENV, r->log);
    char *argv[] = {(char *)g_opt.server_bin, "init", "-y", "--disable-web", "--no-password", NULL};
    pid_t pid;
    SX_TRY(spawn(r, argv, &pid));
    int status = 0;
    SX_TRY(reap(pid, 60, &status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        print_log_tail(r);
        return SX_E_INTERNAL;
    }
    char ca[600];
    snprintf(ca, sizeof ca, "%s/ca.crt", r->cfg);
    X509 *x;
    SX_TRY(sx_x509_read_cert_file(ca, &x));
    sx_status st = sx_x509_fingerprint(x, r->fp);
    X509_free(x);
    for (int i = 0; st == SX_OK && i < g_opt.n_ini_sets; i++)
        st = set_ini_key(r, g_opt.ini_sets[i]);
    return st;
}

/* `smp-server start`; returns once the port accepts TCP connections, with
 * the seconds from fork to that moment in *ready (may be NULL). A port
 * taken in the meantime by someone else: retried with another one. */
static sx_status router_start(router_proc *r, double *ready)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        if (attempt > 0 || r->port == 0) {
            SX_TRY(free_port(&r->port));
            SX_TRY(set_ini_port(r, r->port));
        }
        char *argv[] = {(char *)g_opt.server_bin, "start", NULL};
        double t0 = now();
        SX_TRY(spawn(r, argv, &r->pid));
        while (now() - t0 < START_TIMEOUT_S) {
            int fd, status;
            if (sx_net_connect("127.0.0.1", r->port, 1000, &fd) == SX_OK) {
                if (ready)
                    *ready = now() - t0;
                sx_net_close(fd);
                return SX_OK;
            }
            if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
                child_track(r->pid, false);
                r->pid = 0;
                break;
            }
            sleep_ms(1);
        }
        if (r->pid > 0) { /* started but never accepted: not a port clash */
            kill(r->pid, SIGKILL);
            int status;
            if (reap(r->pid, 10, &status) == SX_OK)
                r->pid = 0;
            print_log_tail(r);
            return SX_E_IO;
        }
    }
    print_log_tail(r);
    return SX_E_IO;
}

/* SIGINT, then waits for the exit; *secs (may be NULL) gets the time. */
static sx_status router_stop(router_proc *r, double *secs)
{
    if (r->pid <= 0)
        return SX_OK;
    double t0 = now();
    kill(r->pid, SIGINT);
    int status = 0;
    sx_status st = reap(r->pid, STOP_TIMEOUT_S, &status);
    if (st != SX_OK) {
        kill(r->pid, SIGKILL);
        if (reap(r->pid, 10, &status) != SX_OK)
            return SX_E_INTERNAL;
    }
    r->pid = 0;
    if (secs)
        *secs = now() - t0;
    if (st != SX_OK || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        print_log_tail(r);
        return SX_E_INTERNAL;
    }
    return SX_OK;
}

/* VmRSS of the router process, KiB; -1 if unreadable. */
static long router_rss_kib(const router_proc *r)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)r->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* User + system CPU seconds of the router process so far. */
static double router_cpu_secs(const router_proc *r)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)r->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long ut = 0, stime = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stime) != 2)
        return 0;
    return (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
}

static sx_status bconnect(const router_proc *r, sx_smp_client **out)
{
    sx_smp_client_opts o = {.timeout_ms = WAIT_MS};
    return sx_smp_client_connect("127.0.0.1", r->port, r->fp, &o, out);
}

static sx_smp_pubkey pub_of(const sx_key *k, uint8_t buf[SX_KEY_SPKI_MAX], sx_status *st)
{
    sx_smp_pubkey p = {0};
    if (*st == SX_OK)
        *st = sx_smp_pubkey_of(k, buf, &p);
    return p;
}

/* ---- end-to-end throughput and latency ---- */

/* A queue of the throughput run: created by its receiver, secured and fed
 * by its sender. sent belongs to the sender; got is written by the receiver
 * and read by the sender (atomics) to bound what is in flight. */
typedef struct tq {
    uint8_t rid[QID_LEN], sid[QID_LEN];
    uint8_t secret[SX_CB_KEY_LEN];
    sx_key *rkey, *skey;
    uint32_t sent, got;
} tq;

typedef struct tput {
    tq *qs;
    int nq;
    sx_smp_client *snd[MAX_THREADS], *rcv[MAX_THREADS];
    /* Per run. */
    size_t body_len;
    uint32_t per_queue;
    double deadline;
    pthread_barrier_t start;
    uint32_t *lat_us[MAX_THREADS]; /* per receiver, in arrival order */
    size_t n_lat[MAX_THREADS];
} tput;

typedef struct tworker {
    tput *t;
    int index;
    pthread_t thread;
} tworker;

/* Receiver i owns queues [lo, hi). */
static void rcv_range(const tput *t, int i, int *lo, int *hi)
{
    int per = t->nq / g_opt.receivers, extra = t->nq % g_opt.receivers;
    *lo = i * per + (i < extra ? i : extra);
    *hi = *lo + per + (i < extra);
}

static void *sender_main(void *arg)
{
    tworker *w = arg;
    tput *t = w->t;
    sx_smp_client *cl = t->snd[w->index];
    int n = 0;
    int *mine = calloc((size_t)t->nq, sizeof *mine);
    for (int q = 0; mine && q < t->nq; q++)
        if (q % g_opt.senders == w->index)
            mine[n++] = q;
    uint8_t *bodies = malloc((size_t)(n ? n : 1) * t->body_len);
    sx_smp_cmd *cmds = calloc((size_t)(n ? n : 1), sizeof *cmds);
    sx_smp_client_cmd *cc = calloc((size_t)(n ? n : 1), sizeof *cc);
    sx_smp_client_reply *rep = calloc((size_t)(n ? n : 1), sizeof *rep);
    if (!mine || !bodies || !cmds || !cc || !rep)
        set_failed("sender %d: out of memory", w->index);
    else
        sx_random_bytes(bodies, (size_t)n * t->body_len);
    pthread_barrier_wait(&t->start);
    uint64_t total = (uint64_t)n * t->per_queue, done = 0;
    while (done < total && !failed()) {
        if (now() > t->deadline) {
            set_failed("sender %d: timed out with %llu of %llu sent", w->index, (unsigned long long)done,
                       (unsigned long long)total);
            break;
        }
        size_t k = 0;
        for (int i = 0; i < n; i++) {
            tq *q = &t->qs[mine[i]];
            if (q->sent >= t->per_queue ||
                q->sent - __atomic_load_n(&q->got, __ATOMIC_ACQUIRE) >= (uint32_t)g_opt.window)
                continue;
            uint8_t *body = bodies + (size_t)i * t->body_len;
            uint64_t ts = now_ns();
            uint32_t qi = (uint32_t)mine[i], seq = q->sent;
            memcpy(body, &ts, 8);
            memcpy(body + 8, &qi, 4);
            memcpy(body + 12, &seq, 4);
            cmds[k] = (sx_smp_cmd){.tag = SX_SMP_C_SEND};
            cmds[k].send.notification = true;
            cmds[k].send.body = sx_slice_of(body, t->body_len);
            cc[k] = (sx_smp_client_cmd){.entity = sx_slice_of(q->sid, QID_LEN), .cmd = &cmds[k], .auth_key = q->skey};
            q->sent = seq + 1;
            k++;
        }
        if (k == 0) { /* every queue has its window full: let receivers catch up */
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
            continue;
        }
        sx_status st = sx_smp_client_call_many(cl, cc, k, rep);
        if (st != SX_OK) {
            set_failed("sender %d: SEND batch: %s", w->index, sx_status_str(st));
            break;
        }
        for (size_t i = 0; i < k; i++) {
            if (!reply_is(&rep[i], SX_SMP_R_OK))
                set_failed("sender %d: SEND answered %s", w->index, reply_name(&rep[i]));
            sx_smp_client_reply_free(&rep[i]);
        }
        done += k;
    }
    free(mine);
    free(bodies);
    free(cmds);
    free(cc);
    free(rep);
    return NULL;
}

/* An ACK the receiver owes, with the message id it names. */
typedef struct pending_ack {
    tq *q;
    uint8_t msg_id[QID_LEN];
    sx_smp_cmd cmd;
} pending_ack;

typedef struct rstate {
    tput *t;
    int index, lo, hi;
    uint8_t *plain;     /* decryption scratch */
    uint64_t got;
    pending_ack *acks;  /* at most one per queue: the router delivers one at a time */
    size_t n_acks;
} rstate;

/* Takes one delivered MSG: checks it is the next of its queue, records its
 * latency and owes an ACK. */
static bool take_msg(rstate *s, const sx_smp_client_reply *r)
{
    tput *t = s->t;
    if (!reply_is(r, SX_SMP_R_MSG)) {
        set_failed("receiver %d: expected MSG, got %s", s->index, reply_name(r));
        return false;
    }
    sx_slice rid = r->reply.t.entity_id;
    tq *q = NULL;
    for (int i = s->lo; i < s->hi && !q && rid.len == QID_LEN; i++)
        if (memcmp(t->qs[i].rid, rid.ptr, QID_LEN) == 0)
            q = &t->qs[i];
    sx_smp_rcv_msg m;
    sx_status st = q ? sx_smp_msg_decrypt(q->secret, r->reply.resp.msg.msg_id, r->reply.resp.msg.body, s->plain,
                                          SX_SMP_ENC_MSG_LEN, &m)
                     : SX_E_PROTOCOL;
    uint64_t ts = 0;
    uint32_t qi = 0, seq = 0;
    if (st == SX_OK && (m.quota || m.body.len != t->body_len))
        st = SX_E_PROTOCOL;
    if (st == SX_OK) {
        memcpy(&ts, m.body.ptr, 8);
        memcpy(&qi, m.body.ptr + 8, 4);
        memcpy(&seq, m.body.ptr + 12, 4);
        if (qi >= (uint32_t)t->nq || &t->qs[qi] != q || seq != q->got || r->reply.resp.msg.msg_id.len != QID_LEN ||
            s->n_acks >= (size_t)(s->hi - s->lo))
            st = SX_E_PROTOCOL;
    }
    if (st != SX_OK) {
        set_failed("receiver %d: unexpected message (%s)", s->index, sx_status_str(st));
        return false;
    }
    uint64_t lat = (now_ns() - ts) / 1000u;
    t->lat_us[s->index][t->n_lat[s->index]++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
    __atomic_store_n(&q->got, seq + 1, __ATOMIC_RELEASE);
    s->got++;
    pending_ack *a = &s->acks[s->n_acks++];
    a->q = q;
    memcpy(a->msg_id, r->reply.resp.msg.msg_id.ptr, QID_LEN);
    return true;
}

/* Sends the owed ACKs in one batch; an ACK answered with the queue's next
 * message (PROTOCOL-NOTES E6) owes another ACK, sent in the next round. */
static bool send_acks(rstate *s, sx_smp_client *cl)
{
    size_t cap = (size_t)(s->hi - s->lo);
    pending_ack *sent = malloc(cap * sizeof *sent);
    sx_smp_client_cmd *cc = malloc(cap * sizeof *cc);
    sx_smp_client_reply *rep = malloc(cap * sizeof *rep);
    bool ok = sent && cc && rep;
    while (ok && s->n_acks > 0 && !failed()) {
        size_t n = s->n_acks;
        memcpy(sent, s->acks, n * sizeof *sent);
        s->n_acks = 0;
        for (size_t i = 0; i < n; i++) {
            sent[i].cmd = (sx_smp_cmd){.tag = SX_SMP_C_ACK};
            sent[i].cmd.msg_id = sx_slice_of(sent[i].msg_id, QID_LEN);
            cc[i] = (sx_smp_client_cmd){
                .entity = sx_slice_of(sent[i].q->rid, QID_LEN), .cmd = &sent[i].cmd, .auth_key = sent[i].q->rkey};
        }
        sx_status st = sx_smp_client_call_many(cl, cc, n, rep);
        if (st != SX_OK) {
            set_failed("receiver %d: ACK batch: %s", s->index, sx_status_str(st));
            ok = false;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (ok && !reply_is(&rep[i], SX_SMP_R_OK))
                ok = take_msg(s, &rep[i]);
            sx_smp_client_reply_free(&rep[i]);
        }
    }
    if (!sent || !cc || !rep)
        set_failed("receiver %d: out of memory", s->index);
    free(sent);
    free(cc);
    free(rep);
    return ok;
}

static void *receiver_main(void *arg)
{
    tworker *w = arg;
    tput *t = w->t;
    sx_smp_client *cl = t->rcv[w->index];
    rstate s = {.t = t, .index = w->index};
    rcv_range(t, w->index, &s.lo, &s.hi);
    s.plain = malloc(SX_SMP_ENC_MSG_LEN);
    s.acks = calloc((size_t)(s.hi - s.lo) + 1, sizeof *s.acks);
    if (!s.plain || !s.acks)
        set_failed("receiver %d: out of memory", w->index);
    pthread_barrier_wait(&t->start);
    uint64_t expected = (uint64_t)(s.hi - s.lo) * t->per_queue;
    while (s.got < expected && !failed()) {
        if (now() > t->deadline) {
            set_failed("receiver %d: timed out with %llu of %llu received", w->index, (unsigned long long)s.got,
                       (unsigned long long)expected);
            break;
        }
        sx_smp_client_reply ev;
        sx_status st = sx_smp_client_next_event(cl, 100, &ev);
        if (st == SX_E_WOULD_BLOCK)
            continue;
        if (st != SX_OK) {
            set_failed("receiver %d: waiting for MSG: %s", w->index, sx_status_str(st));
            break;
        }
        bool ok = take_msg(&s, &ev);
        sx_smp_client_reply_free(&ev);
        /* Whatever else has arrived joins the same ACK batch. */
        while (ok && s.n_acks < (size_t)(s.hi - s.lo) && sx_smp_client_next_event(cl, 0, &ev) == SX_OK) {
            ok = take_msg(&s, &ev);
            sx_smp_client_reply_free(&ev);
        }
        if (!ok || !send_acks(&s, cl))
            break;
    }
    free(s.plain);
    free(s.acks);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct tput_result {
    double msgs_per_s;
    double p50_ms, p99_ms, max_ms;
    double router_cpu_us;  /* router CPU per message */
    double router_load;    /* router CPU seconds per second */
    double bench_load;     /* this process, likewise */
    double secs;
    uint64_t msgs;
    uint64_t blocks_in, blocks_out; /* blocks the router read and wrote (the clients' counts) */
} tput_result;

/* Blocks all the throughput clients sent and received so far. */
static void tput_blocks(const tput *t, uint64_t *sent, uint64_t *received)
{
    *sent = *received = 0;
    for (int i = 0; i < g_opt.senders + g_opt.receivers; i++) {
        sx_smp_client *cl = i < g_opt.senders ? t->snd[i] : t->rcv[i - g_opt.senders];
        if (!cl)
            continue;
        sx_smp_client_stats s;
        sx_smp_client_get_stats(cl, &s);
        *sent += s.blocks_sent;
        *received += s.blocks_received;
    }
}

/* One timed run of per_queue messages of body_len bytes on every queue. */
static sx_status tput_run(tput *t, const router_proc *r, size_t body_len, long total, tput_result *res)
{
    memset(res, 0, sizeof *res);
    t->body_len = body_len;
    t->per_queue = (uint32_t)((total + t->nq - 1) / t->nq);
    for (int i = 0; i < t->nq; i++)
        t->qs[i].sent = t->qs[i].got = 0;
    for (int i = 0; i < g_opt.receivers; i++) {
        int lo, hi;
        rcv_range(t, i, &lo, &hi);
        t->n_lat[i] = 0;
        t->lat_us[i] = malloc(((size_t)(hi - lo) * t->per_queue + 1) * sizeof(uint32_t));
        if (!t->lat_us[i])
            return fail_st("latency buffers", SX_E_NOMEM);
    }
    int nthreads = g_opt.senders + g_opt.receivers;
    tworker w[2 * MAX_THREADS];
    if (pthread_barrier_init(&t->start, NULL, (unsigned)nthreads + 1) != 0)
        return fail_st("barrier", SX_E_INTERNAL);
    t->deadline = now() + g_opt.phase_timeout;
    int started = 0;
    for (int i = 0; i < nthreads; i++) {
        w[i] = (tworker){.t = t, .index = i < g_opt.senders ? i : i - g_opt.senders};
        if (pthread_create(&w[i].thread, NULL, i < g_opt.senders ? sender_main : receiver_main, &w[i]) != 0) {
            /* Threads already waiting at the barrier cannot be released:
             * give up on the whole run. */
            fprintf(stderr, "bench_router: cannot create threads\n");
            exit(1);
        }
        started++;
    }
    uint64_t sent0, received0;
    tput_blocks(t, &sent0, &received0);
    pthread_barrier_wait(&t->start);
    double t0 = now(), cpu0 = router_cpu_secs(r), self0 = self_cpu_secs();
    for (int i = 0; i < started; i++)
        pthread_join(w[i].thread, NULL);
    double secs = now() - t0;
    double cpu = router_cpu_secs(r) - cpu0, self = self_cpu_secs() - self0;
    pthread_barrier_destroy(&t->start);
    uint64_t sent1, received1;
    tput_blocks(t, &sent1, &received1);
    res->blocks_in = sent1 - sent0;
    res->blocks_out = received1 - received0;

    size_t n = 0;
    for (int i = 0; i < g_opt.receivers; i++)
        n += t->n_lat[i];
    uint32_t *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < g_opt.receivers; i++) {
        if (all)
            memcpy(all + k, t->lat_us[i], t->n_lat[i] * sizeof *all);
        k += t->n_lat[i];
        free(t->lat_us[i]);
        t->lat_us[i] = NULL;
    }
    if (failed() || !all) {
        free(all);
        return SX_E_INTERNAL;
    }
    qsort(all, n, sizeof *all, cmp_u32);
    res->msgs = n;
    res->secs = secs;
    res->msgs_per_s = (double)n / secs;
    res->p50_ms = n ? all[n / 2] / 1000.0 : 0;
    res->p99_ms = n ? all[n * 99 / 100 < n ? n * 99 / 100 : n - 1] / 1000.0 : 0;
    res->max_ms = n ? all[n - 1] / 1000.0 : 0;
    res->router_cpu_us = n ? cpu * 1e6 / (double)n : 0;
    res->router_load = cpu / secs;
    res->bench_load = self / secs;
    free(all);
    return SX_OK;
}

/* ---- the mandatory crypto floor ---- */

/* What the router cannot avoid per message, measured in this process on
 * this machine in the same run: both Ed25519 verifications (SEND and ACK, as
 * the router calls them), the MSG encryption to the recipient, and the
 * transport encryption of every block it read and wrote (PROTOCOL-NOTES
 * B32-B34: an HKDF step and a secret box per block). TLS record encryption
 * and the kernel's socket work are not in it. */
typedef struct floor_costs {
    double open_us, seal_us;  /* one 16384-byte block */
    double msg_enc_us;        /* sx_smp_msg_encrypt */
    double verify_us[2];      /* Ed25519: a small SEND and ACK, a largest SEND */
} floor_costs;

#define SIGNED_OVERHEAD 120 /* bytes a signed transmission adds to its body (about) */

static double thread_cpu_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Microseconds of this thread's CPU per Ed25519 verification of len bytes. */
static double verify_cost(size_t len, int rounds)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
    uint8_t *msg = malloc(len);
    if (!msg)
        return -1;
    sx_random_bytes(msg, len);
    crypto_sign_keypair(pk, sk);
    crypto_sign_detached(sig, NULL, msg, len, sk);
    double t0 = thread_cpu_secs();
    int bad = 0;
    for (int i = 0; i < rounds; i++)
        bad |= sx_key_verify_raw(SX_KEY_ED25519, sx_slice_of(pk, sizeof pk), sx_slice_of(msg, len),
                                 sx_slice_of(sig, sizeof sig)) != SX_OK;
    double us = (thread_cpu_secs() - t0) * 1e6 / rounds;
    free(msg);
    sx_wipe(sk, sizeof sk);
    return bad ? -1 : us;
}

static sx_status floor_measure(size_t large_body, floor_costs *f)
{
    enum { ROUNDS = 2000 };
    memset(f, 0, sizeof *f);
    uint8_t sid[32], secret[32], id[24];
    sx_random_bytes(sid, sizeof sid);
    sx_random_bytes(secret, sizeof secret);
    sx_random_bytes(id, sizeof id);
    sx_sbchain snd, rcv, other;
    SX_TRY(sx_sbchain_init(sx_slice_of(sid, 32), secret, &snd, &other));
    rcv = snd;
    static uint8_t block[SX_SBBLOCK_LEN], plain[SX_SBBLOCK_PADDED_LEN], content[SX_SBBLOCK_MAX_CONTENT];
    static uint8_t enc[SX_SMP_ENC_MSG_LEN];
    sx_random_bytes(content, sizeof content);
    sx_status st = SX_OK;
    double seal = 0, open = 0;
    for (int i = 0; i < ROUNDS && st == SX_OK; i++) {
        double t0 = thread_cpu_secs();
        st = sx_sbchain_seal(&snd, sx_slice_of(content, 1000), block, sizeof block);
        double t1 = thread_cpu_secs();
        sx_slice got;
        if (st == SX_OK)
            st = sx_sbchain_open(&rcv, sx_slice_of(block, sizeof block), plain, sizeof plain, &got);
        seal += t1 - t0;
        open += thread_cpu_secs() - t1;
    }
    double t0 = thread_cpu_secs();
    for (int i = 0; i < ROUNDS && st == SX_OK; i++)
        st = sx_smp_msg_encrypt(secret, sx_slice_of(id, sizeof id), 1700000000, false,
                                sx_slice_of(content, large_body), enc);
    double enc_secs = thread_cpu_secs() - t0;
    sx_sbchain_cleanup(&snd);
    sx_sbchain_cleanup(&rcv);
    sx_sbchain_cleanup(&other);
    if (st != SX_OK)
        return st;
    f->seal_us = seal * 1e6 / ROUNDS;
    f->open_us = open * 1e6 / ROUNDS;
    f->msg_enc_us = enc_secs * 1e6 / ROUNDS;
    /* SEND of a small body and ACK are both short: one cost serves both. */
    f->verify_us[0] = verify_cost(SMALL_BODY + SIGNED_OVERHEAD, ROUNDS);
    f->verify_us[1] = verify_cost(large_body + SIGNED_OVERHEAD, ROUNDS / 2);
    return f->verify_us[0] > 0 && f->verify_us[1] > 0 ? SX_OK : SX_E_INTERNAL;
}

/* The floor per message of one throughput run: its SEND and ACK verified,
 * its MSG encrypted, and its share of the blocks moved. */
static double floor_per_msg(const floor_costs *f, const tput_result *res, bool large)
{
    if (res->msgs == 0)
        return 0;
    double blocks = ((double)res->blocks_in * f->open_us + (double)res->blocks_out * f->seal_us) / (double)res->msgs;
    return blocks + f->msg_enc_us + f->verify_us[large ? 1 : 0] + f->verify_us[0];
}

/* Connections, queues (NEW by the receiver, subscribed there) and sender
 * keys (SKEY by the sender, v >= 9). */
static sx_status tput_setup(tput *t, const router_proc *r)
{
    t->nq = g_opt.queues;
    t->qs = calloc((size_t)t->nq, sizeof *t->qs);
    SX_ENSURE(t->qs != NULL, SX_E_NOMEM);
    for (int i = 0; i < g_opt.senders; i++)
        SX_TRY(bconnect(r, &t->snd[i]));
    for (int i = 0; i < g_opt.receivers; i++)
        SX_TRY(bconnect(r, &t->rcv[i]));
    g_large_body = sx_smp_max_message_length(sx_smp_client_session(t->snd[0])->version);
    sx_status st = SX_OK;
    size_t cap = (size_t)t->nq;
    sx_smp_cmd *cmds = calloc(cap, sizeof *cmds);
    sx_smp_client_cmd *cc = calloc(cap, sizeof *cc);
    sx_smp_client_reply *rep = calloc(cap, sizeof *rep);
    sx_key **rdh = calloc(cap, sizeof *rdh);
    uint8_t(*kbuf)[2][SX_KEY_SPKI_MAX] = calloc(cap, sizeof *kbuf);
    if (!cmds || !cc || !rep || !rdh || !kbuf)
        st = SX_E_NOMEM;
    for (int i = 0; i < g_opt.receivers && st == SX_OK; i++) {
        int lo, hi;
        rcv_range(t, i, &lo, &hi);
        size_t n = 0;
        for (int q = lo; q < hi && st == SX_OK; q++, n++) {
            st = sx_key_generate(SX_KEY_ED25519, &t->qs[q].rkey);
            if (st == SX_OK)
                st = sx_key_generate(SX_KEY_X25519, &rdh[q]);
            cmds[n] = (sx_smp_cmd){.tag = SX_SMP_C_NEW};
            cmds[n].new_queue.rcv_auth_key = pub_of(t->qs[q].rkey, kbuf[q][0], &st);
            cmds[n].new_queue.rcv_dh_key = pub_of(rdh[q], kbuf[q][1], &st);
            cmds[n].new_queue.subscribe = true;
            cmds[n].new_queue.has_queue_req = true;
            cmds[n].new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
            cc[n] = (sx_smp_client_cmd){.entity = sx_slice_of(NULL, 0), .cmd = &cmds[n], .auth_key = t->qs[q].rkey};
        }
        if (st == SX_OK && n > 0)
            st = sx_smp_client_call_many(t->rcv[i], cc, n, rep);
        for (size_t j = 0; st == SX_OK && j < n; j++) {
            tq *q = &t->qs[lo + (int)j];
            const sx_smp_ids *ids = &rep[j].reply.resp.ids;
            sx_key *srv = NULL;
            size_t len = 0;
            if (!reply_is(&rep[j], SX_SMP_R_IDS) || ids->rcv_id.len != QID_LEN || ids->snd_id.len != QID_LEN) {
                fprintf(stderr, "bench_router: NEW answered %s\n", reply_name(&rep[j]));
                st = SX_E_PROTOCOL;
                break;
            }
            memcpy(q->rid, ids->rcv_id.ptr, QID_LEN);
            memcpy(q->sid, ids->snd_id.ptr, QID_LEN);
            st = sx_key_decode_public(ids->srv_dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv);
            if (st == SX_OK)
                st = sx_key_dh(rdh[lo + (int)j], srv, q->secret, sizeof q->secret, &len);
            sx_key_free(srv);
        }
        for (size_t j = 0; j < n; j++)
            sx_smp_client_reply_free(&rep[j]);
    }
    for (int i = 0; i < g_opt.senders && st == SX_OK; i++) {
        size_t n = 0;
        for (int q = i; q < t->nq && st == SX_OK; q += g_opt.senders, n++) {
            st = sx_key_generate(SX_KEY_ED25519, &t->qs[q].skey);
            cmds[n] = (sx_smp_cmd){.tag = SX_SMP_C_SKEY};
            cmds[n].key = pub_of(t->qs[q].skey, kbuf[q][0], &st);
            cc[n] = (sx_smp_client_cmd){
                .entity = sx_slice_of(t->qs[q].sid, QID_LEN), .cmd = &cmds[n], .auth_key = t->qs[q].skey};
        }
        if (st == SX_OK && n > 0)
            st = sx_smp_client_call_many(t->snd[i], cc, n, rep);
        for (size_t j = 0; st == SX_OK && j < n; j++) {
            if (!reply_is(&rep[j], SX_SMP_R_OK)) {
                fprintf(stderr, "bench_router: SKEY answered %s\n", reply_name(&rep[j]));
                st = SX_E_PROTOCOL;
            }
        }
        for (size_t j = 0; j < n; j++)
            sx_smp_client_reply_free(&rep[j]);
    }
    for (size_t i = 0; rdh && i < cap; i++)
        sx_key_free(rdh[i]);
    free(cmds);
    free(cc);
    free(rep);
    free(rdh);
    free(kbuf);
    return st;
}

static void tput_cleanup(tput *t)
{
    for (int i = 0; i < MAX_THREADS; i++) {
        sx_smp_client_close(t->snd[i]);
        sx_smp_client_close(t->rcv[i]);
    }
    for (int i = 0; t->qs && i < t->nq; i++) {
        sx_key_free(t->qs[i].rkey);
        sx_key_free(t->qs[i].skey);
    }
    free(t->qs);
}

/* ---- TLS echo baseline ---- */

typedef struct echo {
    sx_tls_ctx *sctx, *cctx;
    const uint8_t *key_hash;
    int lfd;
    uint16_t port;
    long blocks;
    int window;
    double deadline;
    pthread_barrier_t start;
} echo;

typedef struct eworker {
    echo *e;
    int index;
    pthread_t thread;
    int fd;
    sx_tls_conn *c;
} eworker;

/* Server side: one connection, echoes every block. */
static void *echo_server_main(void *arg)
{
    eworker *w = arg;
    echo *e = w->e;
    uint8_t *blk = malloc(SX_BLOCK_SIZE);
    sx_status st = blk ? sx_net_accept(e->lfd, WAIT_MS, &w->fd) : SX_E_NOMEM;
    if (st == SX_OK)
        st = sx_tls_conn_new_server(e->sctx, w->fd, &w->c);
    if (st == SX_OK)
        st = sx_tls_handshake_blocking(w->c, WAIT_MS);
    pthread_barrier_wait(&e->start);
    for (long i = 0; i < e->blocks && st == SX_OK && !failed(); i++) {
        st = sx_tls_read_block(w->c, blk, WAIT_MS);
        if (st == SX_OK)
            st = sx_tls_write_block(w->c, blk, WAIT_MS);
    }
    if (st != SX_OK)
        set_failed("echo server %d: %s", w->index, sx_status_str(st));
    free(blk);
    return NULL;
}

/* Client side: keeps window blocks in flight, checks each echo. */
static void *echo_client_main(void *arg)
{
    eworker *w = arg;
    echo *e = w->e;
    uint8_t *out = malloc(SX_BLOCK_SIZE), *in = malloc(SX_BLOCK_SIZE);
    sx_status st = out && in ? sx_net_connect("127.0.0.1", e->port, WAIT_MS, &w->fd) : SX_E_NOMEM;
    if (st == SX_OK)
        st = sx_tls_conn_new_client(e->cctx, w->fd, e->key_hash, &w->c);
    if (st == SX_OK)
        st = sx_tls_handshake_blocking(w->c, WAIT_MS);
    if (out)
        sx_random_bytes(out, SX_BLOCK_SIZE);
    pthread_barrier_wait(&e->start);
    long sent = 0, got = 0;
    while (got < e->blocks && st == SX_OK && !failed()) {
        if (sent < e->blocks && sent - got < e->window) {
            memcpy(out, &sent, sizeof sent);
            st = sx_tls_write_block(w->c, out, WAIT_MS);
            sent++;
            continue;
        }
        st = sx_tls_read_block(w->c, in, WAIT_MS);
        if (st == SX_OK && (memcmp(in, &got, sizeof got) != 0 ||
                            memcmp(in + sizeof got, out + sizeof got, SX_BLOCK_SIZE - sizeof got) != 0))
            st = SX_E_PROTOCOL;
        got++;
        if (st == SX_OK && now() > e->deadline)
            st = SX_E_IO;
    }
    if (st != SX_OK)
        set_failed("echo client %d: %s", w->index, sx_status_str(st));
    free(out);
    free(in);
    return NULL;
}

/* n connections with their own client and server threads; round trips/s. */
static sx_status echo_run(const router_proc *r, int n, double *round_trips_per_s, double *load)
{
    static const char *const alpn[] = {"smp/1", NULL};
    char crt[600], ca[600], key[600];
    snprintf(crt, sizeof crt, "%s/server.crt", r->cfg);
    snprintf(ca, sizeof ca, "%s/ca.crt", r->cfg);
    snprintf(key, sizeof key, "%s/server.key", r->cfg);
    echo e = {.key_hash = r->fp, .blocks = g_opt.echo_blocks, .window = g_opt.window, .lfd = -1};
    sx_tls_server_config scfg = {.creds = {.cert_file = crt, .ca_file = ca, .key_file = key}, .alpn = alpn};
    sx_tls_client_config ccfg = {.alpn = alpn};
    sx_status st = sx_tls_server_ctx_new(&scfg, &e.sctx);
    if (st == SX_OK)
        st = sx_tls_client_ctx_new(&ccfg, &e.cctx);
    if (st == SX_OK)
        st = sx_net_listen("127.0.0.1", 0, 64, &e.lfd, &e.port);
    if (st != SX_OK || pthread_barrier_init(&e.start, NULL, (unsigned)(2 * n + 1)) != 0) {
        sx_tls_ctx_free(e.sctx);
        sx_tls_ctx_free(e.cctx);
        sx_net_close(e.lfd);
        return fail_st("echo setup", st != SX_OK ? st : SX_E_INTERNAL);
    }
    e.deadline = now() + g_opt.phase_timeout;
    eworker w[2 * MAX_THREADS];
    for (int i = 0; i < 2 * n; i++) {
        w[i] = (eworker){.e = &e, .index = i % n, .fd = -1};
        if (pthread_create(&w[i].thread, NULL, i < n ? echo_server_main : echo_client_main, &w[i]) != 0) {
            fprintf(stderr, "bench_router: cannot create threads\n");
            exit(1);
        }
    }
    pthread_barrier_wait(&e.start);
    double t0 = now(), self0 = self_cpu_secs();
    for (int i = n; i < 2 * n; i++)
        pthread_join(w[i].thread, NULL);
    double secs = now() - t0;
    for (int i = 0; i < n; i++)
        pthread_join(w[i].thread, NULL);
    *load = (self_cpu_secs() - self0) / secs;
    for (int i = 0; i < 2 * n; i++) {
        sx_tls_conn_free(w[i].c);
        sx_net_close(w[i].fd);
    }
    pthread_barrier_destroy(&e.start);
    sx_net_close(e.lfd);
    sx_tls_ctx_free(e.sctx);
    sx_tls_ctx_free(e.cctx);
    *round_trips_per_s = (double)n * (double)e.blocks / secs;
    return failed() ? SX_E_INTERNAL : SX_OK;
}

/* ---- idle queues: memory, then restart from the store log ---- */

typedef struct creator {
    const router_proc *r;
    int index;
    pthread_t thread;
    sx_smp_client *cl;
    long count;            /* queues to create */
    sx_key *rkey, *rdh;    /* one pair for all of this thread's queues */
    uint8_t last_rid[QID_LEN];
    long *progress;        /* shared counter */
    double deadline;
} creator;

/* Creates c->count queues in batches of NEW_BATCH (create only, no
 * subscription: idle queues). The keys are the same for every queue of the
 * thread: the router stores a copy per queue all the same. */
static void *creator_main(void *arg)
{
    creator *c = arg;
    sx_smp_cmd cmd = {.tag = SX_SMP_C_NEW};
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_status st = SX_OK;
    cmd.new_queue.rcv_auth_key = pub_of(c->rkey, b1, &st);
    cmd.new_queue.rcv_dh_key = pub_of(c->rdh, b2, &st);
    cmd.new_queue.subscribe = false;
    cmd.new_queue.has_queue_req = true;
    cmd.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    sx_smp_client_cmd cc[NEW_BATCH];
    sx_smp_client_reply rep[NEW_BATCH];
    for (long done = 0; done < c->count && st == SX_OK && !failed();) {
        size_t n = (size_t)(c->count - done < NEW_BATCH ? c->count - done : NEW_BATCH);
        for (size_t i = 0; i < n; i++)
            cc[i] = (sx_smp_client_cmd){.entity = sx_slice_of(NULL, 0), .cmd = &cmd, .auth_key = c->rkey};
        st = sx_smp_client_call_many(c->cl, cc, n, rep);
        bool got = st == SX_OK; /* on failure call_many has freed the replies */
        for (size_t i = 0; got && i < n; i++) {
            if (st == SX_OK && (!reply_is(&rep[i], SX_SMP_R_IDS) || rep[i].reply.resp.ids.rcv_id.len != QID_LEN)) {
                set_failed("creator %d: NEW answered %s", c->index, reply_name(&rep[i]));
                st = SX_E_PROTOCOL;
            } else if (st == SX_OK) {
                memcpy(c->last_rid, rep[i].reply.resp.ids.rcv_id.ptr, QID_LEN);
            }
            sx_smp_client_reply_free(&rep[i]);
        }
        done += (long)n;
        __atomic_fetch_add(c->progress, (long)n, __ATOMIC_RELAXED);
        if (st == SX_OK && now() > c->deadline)
            st = SX_E_IO;
    }
    if (st != SX_OK)
        set_failed("creator %d: %s", c->index, sx_status_str(st));
    return NULL;
}

static void read_load(double l[3])
{
    l[0] = l[1] = l[2] = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3)
            l[0] = l[1] = l[2] = -1;
        fclose(f);
    }
}

typedef struct queues_result {
    long rss_idle, rss_before, rss_after, rss_restarted; /* KiB */
    double create_secs;
    double bytes_per_queue;
    double bytes_per_queue_restored;
    double stop_secs, restart_accept_secs, restart_served_secs;
    long long store_log_bytes;
    double load[3]; /* the load average just before the restart */
    double restart_cpu_secs; /* the router's CPU time when its port accepted */
    /* --queues-log: started once more on the log the restart left (already
     * compact: a router that sees so keeps it instead of rewriting it) */
    double restart2_accept_secs, restart2_cpu_secs;
    double load2[3];
} queues_result;

/* Prints progress of a long creation on stderr every few seconds. */
static void wait_progress(const char *what, long *progress, long total, pthread_t *threads, int n)
{
    double last = now();
    for (;;) {
        long p = __atomic_load_n(progress, __ATOMIC_RELAXED);
        if (p >= total || failed())
            break;
        if (now() - last >= 5) {
            fprintf(stderr, "  %s: %ld of %ld\n", what, p, total);
            last = now();
        }
        sleep_ms(50);
    }
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
}

/* The SUB of a queue made before the restart answers SOK. */
static sx_status check_restored(const router_proc *r, const creator *c)
{
    sx_smp_client *cl;
    SX_TRY(bconnect(r, &cl));
    sx_smp_cmd sub = {.tag = SX_SMP_C_SUB};
    sx_smp_client_reply rep;
    sx_status st = sx_smp_client_call(cl, sx_slice_of(c->last_rid, QID_LEN), &sub, c->rkey, &rep);
    if (st == SX_OK) {
        if (!reply_is(&rep, SX_SMP_R_SOK)) {
            fprintf(stderr, "bench_router: SUB after restart answered %s\n", reply_name(&rep));
            st = SX_E_PROTOCOL;
        }
        sx_smp_client_reply_free(&rep);
    }
    sx_smp_client_close(cl);
    return st;
}

/* --queues-log: the idle queues written straight into the store log of a
 * router that has none (the CREATE lines the router itself writes for a NEW
 * without a sender key: fresh random ids and DH secrets, one recipient key),
 * then the router started on it: restart time and RSS over the same
 * router idle. Much faster to set up than a million NEWs on a small machine;
 * the creation figures are not measured then. */
static sx_status queues_from_log(queues_result *res, creator *c)
{
    router_proc r;
    SX_TRY(router_init(&r, "queues"));
    SX_TRY(router_start(&r, NULL));
    sleep_ms(300);
    res->rss_idle = router_rss_kib(&r);
    SX_TRY(router_stop(&r, NULL));
    sx_status st = sx_key_generate(SX_KEY_ED25519, &c->rkey);
    uint8_t kb[SX_KEY_SPKI_MAX];
    sx_smp_pubkey pk = pub_of(c->rkey, kb, &st);
    char rk[128], rid[48], sid[48], rdh[64];
    if (st == SX_OK)
        st = sx_b64_encode(pk.der, SX_B64_URL, rk, sizeof rk);
    char slog[600];
    snprintf(slog, sizeof slog, "%s/smp-server-store.log", r.log);
    FILE *f = st == SX_OK ? fopen(slog, "w") : NULL;
    if (st == SX_OK && !f)
        st = SX_E_IO;
    long long day = (long long)time(NULL) / 86400 * 86400;
    for (long i = 0; i < g_opt.idle_queues && st == SX_OK; i++) {
        uint8_t id[QID_LEN], sid_b[QID_LEN], dh[32];
        sx_random_bytes(id, sizeof id);
        sx_random_bytes(sid_b, sizeof sid_b);
        sx_random_bytes(dh, sizeof dh);
        st = sx_b64_encode(sx_slice_of(id, sizeof id), SX_B64_URL, rid, sizeof rid);
        if (st == SX_OK)
            st = sx_b64_encode(sx_slice_of(sid_b, sizeof sid_b), SX_B64_URL, sid, sizeof sid);
        if (st == SX_OK)
            st = sx_b64_encode(sx_slice_of(dh, sizeof dh), SX_B64_URL, rdh, sizeof rdh);
        if (st == SX_OK && fprintf(f, "CREATE rid=%s rk=%s rdh=%s sid=%s sk= queue_mode=M updated_at=%lld\n", rid,
                                   rk, rdh, sid, day) < 0)
            st = SX_E_IO;
        memcpy(c->last_rid, id, QID_LEN);
    }
    if (f && fclose(f) != 0 && st == SX_OK)
        st = SX_E_IO;
    struct stat sb;
    res->store_log_bytes = stat(slog, &sb) == 0 ? (long long)sb.st_size : -1;
    read_load(res->load);
    double t1 = now();
    if (st == SX_OK)
        st = router_start(&r, &res->restart_accept_secs);
    if (st == SX_OK)
        res->restart_cpu_secs = router_cpu_secs(&r);
    if (st == SX_OK)
        st = check_restored(&r, c);
    res->restart_served_secs = now() - t1;
    if (st == SX_OK) {
        sleep_ms(500);
        res->rss_restarted = router_rss_kib(&r);
        res->bytes_per_queue_restored =
            (double)(res->rss_restarted - res->rss_idle) * 1024.0 / (double)g_opt.idle_queues;
        res->bytes_per_queue = res->bytes_per_queue_restored;
    }
    if (st == SX_OK)
        st = router_stop(&r, NULL);
    if (st == SX_OK) {
        read_load(res->load2);
        st = router_start(&r, &res->restart2_accept_secs);
    }
    if (st == SX_OK)
        res->restart2_cpu_secs = router_cpu_secs(&r);
    if (st == SX_OK)
        st = check_restored(&r, c);
    sx_key_free(c->rkey);
    c->rkey = NULL;
    sx_status sst = router_stop(&r, NULL);
    if (st != SX_OK)
        return fail_st("idle queues from a store log", st);
    return sst;
}

static sx_status queues_phase(queues_result *res)
{
    memset(res, 0, sizeof *res);
    if (g_opt.queues_log) {
        creator c0 = {0};
        return queues_from_log(res, &c0);
    }
    router_proc r;
    SX_TRY(router_init(&r, "queues"));
    SX_TRY(router_start(&r, NULL));
    sleep_ms(300);
    res->rss_idle = router_rss_kib(&r);
    int nc = g_opt.creators;
    creator c[MAX_THREADS];
    memset(c, 0, sizeof c);
    long progress = 0;
    sx_status st = SX_OK;
    for (int i = 0; i < nc && st == SX_OK; i++) {
        c[i] = (creator){.r = &r, .index = i, .progress = &progress};
        c[i].count = g_opt.idle_queues / nc + (i < g_opt.idle_queues % nc);
        st = bconnect(&r, &c[i].cl);
        if (st == SX_OK)
            st = sx_key_generate(SX_KEY_ED25519, &c[i].rkey);
        if (st == SX_OK)
            st = sx_key_generate(SX_KEY_X25519, &c[i].rdh);
        /* A first command on each connection, so that the baseline below
         * has every per-connection buffer in place. */
        sx_smp_cmd ping = {.tag = SX_SMP_C_PING};
        sx_smp_client_reply rep;
        if (st == SX_OK)
            st = sx_smp_client_call(c[i].cl, sx_slice_of(NULL, 0), &ping, NULL, &rep);
        if (st == SX_OK)
            sx_smp_client_reply_free(&rep);
    }
    if (st != SX_OK)
        goto done;
    sleep_ms(300);
    res->rss_before = router_rss_kib(&r);
    double t0 = now();
    pthread_t th[MAX_THREADS];
    int started = 0;
    for (int i = 0; i < nc; i++) {
        c[i].deadline = t0 + g_opt.phase_timeout;
        if (pthread_create(&c[i].thread, NULL, creator_main, &c[i]) != 0) {
            set_failed("cannot create threads");
            break;
        }
        th[started++] = c[i].thread;
    }
    wait_progress("queues created", &progress, g_opt.idle_queues, th, started);
    res->create_secs = now() - t0;
    if (failed()) {
        st = SX_E_INTERNAL;
        goto done;
    }
    sleep_ms(1000); /* let the store log writer settle */
    res->rss_after = router_rss_kib(&r);
    res->bytes_per_queue = (double)(res->rss_after - res->rss_before) * 1024.0 / (double)g_opt.idle_queues;
    for (int i = 0; i < nc; i++) {
        sx_smp_client_close(c[i].cl);
        c[i].cl = NULL;
    }

    /* Restart: SIGINT, then time the next start until the port accepts,
     * and until a queue made before answers SUB. */
    st = router_stop(&r, &res->stop_secs);
    if (st != SX_OK)
        goto done;
    char slog[600];
    struct stat sb;
    snprintf(slog, sizeof slog, "%s/smp-server-store.log", r.log);
    res->store_log_bytes = stat(slog, &sb) == 0 ? (long long)sb.st_size : -1;
    read_load(res->load);
    double t1 = now();
    st = router_start(&r, &res->restart_accept_secs);
    if (st == SX_OK)
        res->restart_cpu_secs = router_cpu_secs(&r);
    if (st == SX_OK)
        st = check_restored(&r, &c[0]);
    res->restart_served_secs = now() - t1;
    if (st == SX_OK) {
        sleep_ms(500);
        res->rss_restarted = router_rss_kib(&r);
        res->bytes_per_queue_restored =
            (double)(res->rss_restarted - res->rss_idle) * 1024.0 / (double)g_opt.idle_queues;
    }
done:
    for (int i = 0; i < nc; i++) {
        sx_smp_client_close(c[i].cl);
        sx_key_free(c[i].rkey);
        sx_key_free(c[i].rdh);
    }
    sx_status sst = router_stop(&r, NULL);
    if (st != SX_OK)
        return fail_st("idle queues", st);
    return sst;
}

/* ---- idle connections ---- */

typedef struct connector {
    const router_proc *r;
    int index;
    pthread_t thread;
    sx_smp_client **cls;
    long from, to;
    long *progress;
    double deadline;
} connector;

static void *connector_main(void *arg)
{
    connector *c = arg;
    for (long i = c->from; i < c->to && !failed(); i++) {
        sx_status st = bconnect(c->r, &c->cls[i]);
        if (st == SX_OK && now() > c->deadline)
            st = SX_E_IO;
        if (st != SX_OK) {
            set_failed("connection %ld: %s", i, sx_status_str(st));
            break;
        }
        __atomic_fetch_add(c->progress, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void *closer_main(void *arg)
{
    connector *c = arg;
    for (long i = c->from; i < c->to; i++) {
        sx_smp_client_close(c->cls[i]);
        c->cls[i] = NULL;
    }
    return NULL;
}

typedef struct conns_result {
    long rss_before, rss_after; /* KiB */
    double kib_per_conn;
    double connect_secs;
    long bench_rss_kib;
} conns_result;

static long self_rss_kib(void)
{
    router_proc me = {.pid = getpid()};
    return router_rss_kib(&me);
}

static sx_status conns_phase(conns_result *res)
{
    memset(res, 0, sizeof *res);
    enum { WARM = 4 };
    router_proc r;
    SX_TRY(router_init(&r, "conns"));
    SX_TRY(router_start(&r, NULL));
    long n = g_opt.idle_conns;
    sx_smp_client **cls = calloc((size_t)n + WARM, sizeof *cls);
    sx_status st = cls ? SX_OK : SX_E_NOMEM;
    /* A few connections first, so that the baseline has TLS and the
     * workers' lazily made state in place. */
    for (int i = 0; i < WARM && st == SX_OK; i++)
        st = bconnect(&r, &cls[n + i]);
    int nc = g_opt.creators;
    connector c[MAX_THREADS];
    long progress = 0;
    if (st == SX_OK) {
        sleep_ms(300);
        res->rss_before = router_rss_kib(&r);
        double t0 = now();
        pthread_t th[MAX_THREADS];
        int started = 0;
        for (int i = 0; i < nc; i++) {
            c[i] = (connector){.r = &r, .index = i, .cls = cls, .progress = &progress};
            c[i].from = n * i / nc;
            c[i].to = n * (i + 1) / nc;
            c[i].deadline = t0 + g_opt.phase_timeout;
            if (pthread_create(&c[i].thread, NULL, connector_main, &c[i]) != 0) {
                set_failed("cannot create threads");
                break;
            }
            th[started++] = c[i].thread;
        }
        wait_progress("connections", &progress, n, th, started);
        res->connect_secs = now() - t0;
        st = failed() ? SX_E_INTERNAL : SX_OK;
    }
    if (st == SX_OK) {
        sleep_ms(1000); /* idle: nothing in flight */
        res->rss_after = router_rss_kib(&r);
        res->kib_per_conn = (double)(res->rss_after - res->rss_before) / (double)n;
        res->bench_rss_kib = self_rss_kib();
    }
    if (cls) {
        /* Closing thousands of TLS sessions takes a while: in parallel. */
        pthread_t th[MAX_THREADS];
        int started = 0;
        for (int i = 0; i < nc; i++) {
            c[i] = (connector){.cls = cls, .from = (n + WARM) * i / nc, .to = (n + WARM) * (i + 1) / nc};
            if (pthread_create(&th[started], NULL, closer_main, &c[i]) == 0)
                started++;
            else
                closer_main(&c[i]);
        }
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        free(cls);
    }
    sx_status sst = router_stop(&r, NULL);
    if (st != SX_OK)
        return fail_st("idle connections", st);
    return sst;
}

/* ---- scaling with cores (--scaling) ---- */

/* Adds "workers: n" under the [TRANSPORT] port line of the INI written by
 * init (router_start rewrites only the port line). */
static sx_status set_ini_workers(const router_proc *r, int n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", r->cfg, SX_ROUTER_INI_NAME);
    FILE *f = fopen(path, "r");
    SX_ENSURE(f != NULL, SX_E_IO);
    static char text[1 << 16], out[(1 << 16) + 64];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    SX_ENSURE(len > 0 && len < sizeof text - 1, SX_E_IO);
    text[len] = 0;
    char *line = strstr(text, "\nport: ");
    SX_ENSURE(line != NULL, SX_E_PROTOCOL);
    char *eol = strchr(line + 1, '\n');
    SX_ENSURE(eol != NULL, SX_E_PROTOCOL);
    int k = snprintf(out, sizeof out, "%.*s\nworkers: %d%s", (int)(eol - text), text, n, eol);
    SX_ENSURE(k > 0 && (size_t)k < sizeof out, SX_E_LIMIT);
    f = fopen(path, "w");
    SX_ENSURE(f != NULL, SX_E_IO);
    bool ok = fwrite(out, 1, (size_t)k, f) == (size_t)k;
    ok = fclose(f) == 0 && ok;
    return ok ? SX_OK : SX_E_IO;
}

/* The kernel's Cpus_allowed_list of pid into out ("?" if unreadable). */
static void cpus_of(pid_t pid, char *out, size_t cap)
{
    char path[64], line[256];
    snprintf(out, cap, "?");
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Cpus_allowed_list:", 18) == 0) {
            char *v = line + 18;
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\n")] = 0;
            size_t k = strlen(v) < cap - 1 ? strlen(v) : cap - 1;
            memcpy(out, v, k);
            out[k] = 0;
        }
    fclose(f);
}

/* For N = 1 .. (usable CPUs - 1): a router with N workers pinned to N CPUs,
 * this process (the clients) pinned to the others, and the throughput runs
 * of the tput phase; prints msgs/s and msgs/s per router core, and the
 * router's CPU use (N CPUs used = the router is the bottleneck). */
static sx_status scaling_phase(void)
{
    cpu_set_t all;
    CPU_ZERO(&all);
    SX_ENSURE(sched_getaffinity(0, sizeof all, &all) == 0, SX_E_INTERNAL);
    int cpus[CPU_SETSIZE], ncpu = 0;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &all))
            cpus[ncpu++] = i;
    printf("scaling: %d usable CPUs; the router on N of them (N workers), the %d client threads on the others\n",
           ncpu, g_opt.senders + g_opt.receivers);
    if (ncpu < 2) {
        printf("  needs at least 2 CPUs (one for the router, one for the clients): nothing measured\n");
        return SX_OK;
    }
    if (ncpu == 2)
        printf("  this machine gives N = 1 only; run it on a larger machine for N = 2 and up\n");
    printf("  %3s %12s %18s %12s %18s %14s %14s\n", "N", "100 B msgs/s", "per router core", "16 KB msgs/s",
           "per router core", "router CPUs", "client CPUs");
    fflush(stdout);
    sx_status st = SX_OK;
    for (int n = 1; n < ncpu && st == SX_OK; n++) {
        cpu_set_t mine;
        CPU_ZERO(&g_child_cpus);
        CPU_ZERO(&mine);
        for (int i = 0; i < ncpu; i++) {
            if (i < n)
                CPU_SET(cpus[i], &g_child_cpus);
            else
                CPU_SET(cpus[i], &mine);
        }
        /* Threads made from here on (the clients') inherit this mask. */
        if (sched_setaffinity(0, sizeof mine, &mine) != 0)
            return fail_st("sched_setaffinity", SX_E_INTERNAL);
        char name[32];
        snprintf(name, sizeof name, "scaling%d", n);
        router_proc r;
        tput t;
        memset(&t, 0, sizeof t);
        tput_result small = {0}, large = {0};
        st = router_init(&r, name);
        if (st == SX_OK)
            st = set_ini_workers(&r, n);
        g_pin_child = true;
        if (st == SX_OK)
            st = router_start(&r, NULL);
        g_pin_child = false;
        char rc[64], bc[64];
        if (st == SX_OK) {
            cpus_of(r.pid, rc, sizeof rc);
            cpus_of(getpid(), bc, sizeof bc);
            printf("  N = %d: router on CPUs %s, clients on CPUs %s\n", n, rc, bc);
            fflush(stdout);
            st = tput_setup(&t, &r);
        }
        if (st == SX_OK)
            st = tput_run(&t, &r, SMALL_BODY, g_opt.small_msgs, &small);
        if (st == SX_OK)
            st = tput_run(&t, &r, g_large_body, g_opt.large_msgs, &large);
        tput_cleanup(&t);
        sx_status sst = router_stop(&r, NULL);
        if (st == SX_OK)
            st = sst;
        if (st != SX_OK)
            fail_st("scaling", st);
        else
            printf("  %3d %12.0f %18.0f %12.0f %18.0f %7.2f, %5.2f %7.2f, %5.2f\n", n, small.msgs_per_s,
                   small.msgs_per_s / n, large.msgs_per_s, large.msgs_per_s / n, small.router_load,
                   large.router_load, small.bench_load, large.bench_load);
        fflush(stdout);
    }
    if (sched_setaffinity(0, sizeof all, &all) != 0)
        fprintf(stderr, "bench_router: cannot restore the CPU mask\n");
    return st;
}

/* ---- the run ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        fprintf(stderr, "bench_router: cannot remove %s\n", path);
    return 0; /* best effort: go on with the rest */
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_router [options]\n"
            "  --large             1,000,000 idle queues and 10,000 idle connections\n"
            "  --queues N          idle queues for memory and restart (100000)\n"
            "  --queues-log        write the idle queues into the store log instead of creating them\n"
            "                      with NEW (fast; only restart and RSS after it are measured)\n"
            "  --conns N           idle connections for memory (2000)\n"
            "  --messages N        messages per throughput run with ~100 B bodies (32000);\n"
            "                      the run with the largest bodies (16048 B at v19) half as many\n"
            "  --senders N, --receivers N   threads, one connection each (8, 8)\n"
            "  --tput-queues N     queues in the throughput runs (128)\n"
            "  --window N          messages in flight per queue (2)\n"
            "  --echo-blocks N     TLS echo round trips per connection (4000)\n"
            "  --only LIST         comma list of tput, queues, conns, scaling (all but scaling)\n"
            "  --scaling           only the scaling run: the router pinned to N CPUs (N workers) and\n"
            "                      the clients to the others, N = 1 .. CPUs - 1: msgs/s per router core\n"
            "  --timeout S         seconds allowed per phase (600)\n"
            "  --server PATH       smp-server program (%s; env SX_SMP_SERVER)\n"
            "  --keep              keep the temporary folder\n"
            "  --ini \"KEY: VALUE\"  replace that line of the routers' INI after init (up to 8; e.g.\n"
            "                      \"store_messages: journal\"; bench/store_tput.sh uses it)\n",
            SX_SMP_SERVER_BIN);
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || end == s || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_args(int argc, char **argv)
{
    enum { O_LARGE = 256, O_QUEUES, O_CONNS, O_MSGS, O_SND, O_RCV, O_TQ, O_WIN, O_ECHO, O_ONLY, O_TIMEOUT,
           O_SERVER, O_KEEP, O_HELP, O_SCALING, O_QLOG, O_INI };
    static const struct option lo[] = {
        {"large", no_argument, NULL, O_LARGE},         {"queues", required_argument, NULL, O_QUEUES},
        {"conns", required_argument, NULL, O_CONNS},   {"messages", required_argument, NULL, O_MSGS},
        {"senders", required_argument, NULL, O_SND},   {"receivers", required_argument, NULL, O_RCV},
        {"tput-queues", required_argument, NULL, O_TQ}, {"window", required_argument, NULL, O_WIN},
        {"echo-blocks", required_argument, NULL, O_ECHO}, {"only", required_argument, NULL, O_ONLY},
        {"timeout", required_argument, NULL, O_TIMEOUT}, {"server", required_argument, NULL, O_SERVER},
        {"keep", no_argument, NULL, O_KEEP},           {"help", no_argument, NULL, O_HELP},
        {"scaling", no_argument, NULL, O_SCALING},     {"queues-log", no_argument, NULL, O_QLOG},
        {"ini", required_argument, NULL, O_INI},
        {NULL, 0, NULL, 0},
    };
    const char *env = getenv("SX_SMP_SERVER");
    g_opt.server_bin = env && *env ? env : SX_SMP_SERVER_BIN;
    int ch;
    long v;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case O_LARGE:
            g_opt.idle_queues = 1000000;
            g_opt.idle_conns = 10000;
            break;
        case O_QUEUES:
            if (!parse_long(optarg, 1, 100000000, &g_opt.idle_queues))
                return false;
            break;
        case O_CONNS:
            if (!parse_long(optarg, 1, 1000000, &g_opt.idle_conns))
                return false;
            break;
        case O_MSGS:
            if (!parse_long(optarg, 2, 100000000, &g_opt.small_msgs))
                return false;
            g_opt.large_msgs = g_opt.small_msgs / 2;
            break;
        case O_SND:
        case O_RCV:
            if (!parse_long(optarg, 1, MAX_THREADS, &v))
                return false;
            *(ch == O_SND ? &g_opt.senders : &g_opt.receivers) = (int)v;
            break;
        case O_TQ:
            if (!parse_long(optarg, 1, 100000, &v))
                return false;
            g_opt.queues = (int)v;
            break;
        case O_WIN:
            /* Below the queue quota (128), so that SEND never meets QUOTA. */
            if (!parse_long(optarg, 1, 100, &v))
                return false;
            g_opt.window = (int)v;
            break;
        case O_ECHO:
            if (!parse_long(optarg, 1, 100000000, &g_opt.echo_blocks))
                return false;
            break;
        case O_ONLY:
            g_opt.run_tput = strstr(optarg, "tput") != NULL;
            g_opt.run_queues = strstr(optarg, "queues") != NULL;
            g_opt.run_conns = strstr(optarg, "conns") != NULL;
            g_opt.run_scaling = strstr(optarg, "scaling") != NULL;
            if (!g_opt.run_tput && !g_opt.run_queues && !g_opt.run_conns && !g_opt.run_scaling)
                return false;
            break;
        case O_QLOG:
            g_opt.queues_log = true;
            break;
        case O_SCALING:
            g_opt.run_tput = g_opt.run_queues = g_opt.run_conns = false;
            g_opt.run_scaling = true;
            break;
        case O_TIMEOUT:
            if (!parse_long(optarg, 1, 86400, &v))
                return false;
            g_opt.phase_timeout = (double)v;
            break;
        case O_SERVER:
            g_opt.server_bin = optarg;
            break;
        case O_KEEP:
            g_opt.keep = true;
            break;
        case O_INI:
            if (g_opt.n_ini_sets == (int)(sizeof g_opt.ini_sets / sizeof g_opt.ini_sets[0]) ||
                !strchr(optarg, ':'))
                return false;
            g_opt.ini_sets[g_opt.n_ini_sets++] = optarg;
            break;
        case O_HELP:
            usage(stdout);
            exit(0);
        default:
            return false;
        }
    }
    /* Every receiver and sender needs a queue. */
    return optind == argc && g_opt.queues >= g_opt.receivers && g_opt.queues >= g_opt.senders;
}

/* File descriptors for the idle connections, here and in the router
 * (which inherits the limit). */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)g_opt.idle_conns + 256;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
            fprintf(stderr, "bench_router: RLIMIT_NOFILE is %llu, below the %llu wanted\n",
                    (unsigned long long)rl.rlim_cur, (unsigned long long)want);
    }
}

static const char *yes_no(bool ok)
{
    return ok ? "yes" : "NO";
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (!parse_args(argc, argv)) {
        usage(stderr);
        return 2;
    }
    raise_nofile();
    if (sx_crypto_init() != SX_OK) {
        fprintf(stderr, "bench_router: crypto init failed\n");
        return 1;
    }
    if (access(g_opt.server_bin, X_OK) != 0) {
        fprintf(stderr, "bench_router: %s is not executable (build smp-server, or --server PATH)\n",
                g_opt.server_bin);
        return 1;
    }
    /* The watchdog: generous, but a run can never hang. */
    double budget = 4 * g_opt.phase_timeout + 600;
    signal(SIGALRM, watchdog_cb);
    alarm((unsigned)budget);
    const char *tmp = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/sx_bench_router_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_root)) {
        fprintf(stderr, "bench_router: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    double load[3] = {0};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = -1;
        fclose(la);
    }
    printf("bench_router: %s, %ld CPUs online, load average %.2f before the run, folder %s\n", g_opt.server_bin,
           sysconf(_SC_NPROCESSORS_ONLN), load[0], g_root);
    fflush(stdout);

    sx_status st = SX_OK;
    tput_result small = {0}, large = {0};
    double echo_rt = 0, echo_load = 0;
    floor_costs fl = {0};
    queues_result qr = {0};
    conns_result cr = {0};

    if (g_opt.run_tput) {
        router_proc r;
        tput t;
        memset(&t, 0, sizeof t);
        st = router_init(&r, "tput");
        if (st == SX_OK)
            st = router_start(&r, NULL);
        if (st == SX_OK)
            st = tput_setup(&t, &r);
        if (st != SX_OK)
            fail_st("throughput setup", st);
        if (st == SX_OK) {
            printf("throughput: %d senders, %d receivers (one connection each), %d queues, window %d per queue\n",
                   g_opt.senders, g_opt.receivers, g_opt.queues, g_opt.window);
            fflush(stdout);
            st = tput_run(&t, &r, SMALL_BODY, g_opt.small_msgs, &small);
        }
        if (st == SX_OK) {
            printf("  %4d B bodies: %8.0f msgs/s  p50 %.2f ms  p99 %.2f ms  max %.1f ms  (%llu msgs in %.1f s; "
                   "router %.0f us CPU/msg, router %.2f CPUs, clients %.2f CPUs)\n",
                   SMALL_BODY, small.msgs_per_s, small.p50_ms, small.p99_ms, small.max_ms,
                   (unsigned long long)small.msgs, small.secs, small.router_cpu_us, small.router_load,
                   small.bench_load);
            fflush(stdout);
            st = tput_run(&t, &r, g_large_body, g_opt.large_msgs, &large);
        }
        if (st == SX_OK) {
            printf("  %4d B bodies: %8.0f msgs/s  p50 %.2f ms  p99 %.2f ms  max %.1f ms  (%llu msgs in %.1f s; "
                   "router %.0f us CPU/msg, router %.2f CPUs, clients %.2f CPUs)\n",
                   (int)g_large_body, large.msgs_per_s, large.p50_ms, large.p99_ms, large.max_ms,
                   (unsigned long long)large.msgs, large.secs, large.router_cpu_us, large.router_load,
                   large.bench_load);
            fflush(stdout);
        }
        tput_cleanup(&t);
        sx_status sst = router_stop(&r, NULL);
        if (st == SX_OK)
            st = sst;
        if (st == SX_OK)
            st = echo_run(&r, g_opt.senders, &echo_rt, &echo_load);
        if (st == SX_OK) {
            printf("  TLS echo, %d connections, window %d: %.0f round trips/s of %d-byte blocks (%.0f MiB/s each "
                   "way, %.2f CPUs)\n",
                   g_opt.senders, g_opt.window, echo_rt, SX_BLOCK_SIZE, echo_rt * SX_BLOCK_SIZE / 1048576.0,
                   echo_load);
            fflush(stdout);
            st = floor_measure(g_large_body, &fl);
            if (st != SX_OK)
                fail_st("crypto floor", st);
        }
        if (st == SX_OK) {
            printf("  crypto floor (this process, CPU time): block open %.1f us, seal %.1f us; MSG encryption "
                   "%.1f us; Ed25519 verify %.1f us (%d B), %.1f us (%zu B)\n",
                   fl.open_us, fl.seal_us, fl.msg_enc_us, fl.verify_us[0], SMALL_BODY + SIGNED_OVERHEAD,
                   fl.verify_us[1], g_large_body + SIGNED_OVERHEAD);
            const tput_result *runs[2] = {&small, &large};
            for (int k = 0; k < 2; k++) {
                const tput_result *x = runs[k];
                double m = x->msgs ? (double)x->msgs : 1;
                printf("  %5zu B: %.2f blocks in, %.2f out per message; floor %.1f us, router %.1f us CPU per "
                       "message\n",
                       k ? g_large_body : (size_t)SMALL_BODY, (double)x->blocks_in / m, (double)x->blocks_out / m,
                       floor_per_msg(&fl, x, k == 1), x->router_cpu_us);
            }
            fflush(stdout);
        }
    }
    if (st == SX_OK && g_opt.run_queues) {
        printf("idle queues: creating %ld through %d connections...\n", g_opt.idle_queues, g_opt.creators);
        fflush(stdout);
        st = queues_phase(&qr);
        if (st == SX_OK && g_opt.queues_log) {
            printf("  RSS %ld KiB idle; %ld queues written into the store log (%lld bytes)\n", qr.rss_idle,
                   g_opt.idle_queues, qr.store_log_bytes);
            printf("  restart: port accepts after %.3f s (router CPU %.2f s), SUB served after %.3f s; RSS after restart "
                   "%ld KiB (%.0f B/queue over the idle router); load average %.2f %.2f %.2f\n",
                   qr.restart_accept_secs, qr.restart_cpu_secs, qr.restart_served_secs, qr.rss_restarted,
                   qr.bytes_per_queue_restored, qr.load[0], qr.load[1], qr.load[2]);
            printf("  restarted again on the log that restart left (compact: kept, not rewritten, by a router "
                   "that checks): port accepts after %.3f s (router CPU %.2f s); load average %.2f %.2f %.2f\n",
                   qr.restart2_accept_secs, qr.restart2_cpu_secs, qr.load2[0], qr.load2[1], qr.load2[2]);
            fflush(stdout);
        } else if (st == SX_OK) {
            printf("  RSS %ld KiB idle, %ld KiB with %d connections, %ld KiB with %ld queues (%.1f s to create, "
                   "%.0f queues/s)\n",
                   qr.rss_idle, qr.rss_before, g_opt.creators, qr.rss_after, g_opt.idle_queues, qr.create_secs,
                   (double)g_opt.idle_queues / qr.create_secs);
            printf("  stop %.2f s; store log %lld bytes; restart: port accepts after %.3f s (router CPU %.2f s), SUB "
                   "served after %.3f s; RSS after restart %ld KiB (%.0f B/queue over the idle router)\n",
                   qr.stop_secs, qr.store_log_bytes, qr.restart_accept_secs, qr.restart_cpu_secs,
                   qr.restart_served_secs, qr.rss_restarted, qr.bytes_per_queue_restored);
            fflush(stdout);
        }
    }
    if (st == SX_OK && g_opt.run_scaling)
        st = scaling_phase();
    if (st == SX_OK && g_opt.run_conns) {
        printf("idle connections: opening %ld (TLS + SMP handshakes) through %d threads...\n", g_opt.idle_conns,
               g_opt.creators);
        fflush(stdout);
        st = conns_phase(&cr);
        if (st == SX_OK) {
            printf("  RSS %ld KiB before, %ld KiB after (%.1f s to connect, %.0f handshakes/s); this process "
                   "%ld KiB\n",
                   cr.rss_before, cr.rss_after, cr.connect_secs, (double)g_opt.idle_conns / cr.connect_secs,
                   cr.bench_rss_kib);
            fflush(stdout);
        }
    }
    alarm(0);
    if (!g_opt.keep)
        nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (st != SX_OK) {
        fprintf(stderr, "bench_router: failed (%s)\n", sx_status_str(st));
        return 1;
    }

    if (!g_opt.run_tput && !g_opt.run_queues && !g_opt.run_conns)
        return 0;
    printf("\n%-44s %16s %12s %5s\n", "measure", "value", "goal", "met");
    char v[64];
    if (g_opt.run_tput) {
        snprintf(v, sizeof v, "%.0f", small.msgs_per_s);
        printf("%-44s %16s %12s %5s\n", "throughput, 100 B bodies (msgs/s)", v, "-", "");
        snprintf(v, sizeof v, "%.0f", large.msgs_per_s);
        char name[64];
        snprintf(name, sizeof name, "throughput, %zu B bodies (msgs/s)", g_large_body);
        printf("%-44s %16s %12s %5s\n", name, v, "-", "");
        snprintf(v, sizeof v, "%.2f / %.2f", small.p50_ms, small.p99_ms);
        printf("%-44s %16s %12s %5s\n", "latency p50 / p99, 100 B (ms)", v, "-", "");
        snprintf(v, sizeof v, "%.2f / %.2f", large.p50_ms, large.p99_ms);
        snprintf(name, sizeof name, "latency p50 / p99, %zu B (ms)", g_large_body);
        printf("%-44s %16s %12s %5s\n", name, v, "-", "");
        snprintf(v, sizeof v, "%.0f", echo_rt);
        printf("%-44s %16s %12s %5s\n", "TLS 1.3 echo, 16384 B blocks (round trips/s)", v, "-", "");
        const tput_result *runs[2] = {&small, &large};
        for (int k = 0; k < 2; k++) {
            size_t body = k ? g_large_body : (size_t)SMALL_BODY;
            double fpm = floor_per_msg(&fl, runs[k], k == 1);
            snprintf(name, sizeof name, "router CPU / crypto floor, %zu B (us)", body);
            snprintf(v, sizeof v, "%.0f / %.0f", runs[k]->router_cpu_us, fpm);
            printf("%-44s %16s %12s %5s\n", name, v, "-", "");
            double ratio = fpm > 0 ? runs[k]->router_cpu_us / fpm : 0;
            snprintf(name, sizeof name, "router CPU over crypto floor, %zu B", body);
            snprintf(v, sizeof v, "%.2f", ratio);
            printf("%-44s %16s %12s %5s\n", name, v, "<= 1.10", yes_no(ratio > 0 && ratio <= 1.10));
        }
    }
    if (g_opt.run_queues) {
        char name[64];
        snprintf(name, sizeof name, "RSS per idle queue, %ld queues (B)", g_opt.idle_queues);
        snprintf(v, sizeof v, "%.0f", qr.bytes_per_queue);
        printf("%-44s %16s %12s %5s\n", name, v, "<= 300", yes_no(qr.bytes_per_queue <= 300));
        snprintf(name, sizeof name, "restart from store log, %ld queues (s)", g_opt.idle_queues);
        snprintf(v, sizeof v, "%.3f", qr.restart_accept_secs);
        printf("%-44s %16s %12s %5s\n", name, v, "<= 5", yes_no(qr.restart_accept_secs <= 5));
        printf("  (load average %.2f %.2f %.2f at the restart)\n", qr.load[0], qr.load[1], qr.load[2]);
    }
    if (g_opt.run_conns) {
        char name[64];
        snprintf(name, sizeof name, "RSS per idle connection, %ld conns (KiB)", g_opt.idle_conns);
        snprintf(v, sizeof v, "%.1f", cr.kib_per_conn);
        printf("%-44s %16s %12s %5s\n", name, v, "<= 32", yes_no(cr.kib_per_conn <= 32));
    }
    return 0;
}
