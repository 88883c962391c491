/* Integration tests with the real smp-server program as a child process:
 * each test runs `init` in a temporary folder, starts the router on a free
 * port, drives it with the client library, stops it with SIGINT, SIGTERM or
 * SIGKILL, restarts it and checks what survived (PROTOCOL-NOTES E25-E27,
 * H15); malformed traffic must leave the process serving (PROTOCOL-NOTES
 * B12-B19, B34). */
#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "smp_client/smp_client.h"
#include "core/base64.h"
#include "crypto/util.h"
#include "smp/msgcrypt.h"
#include "transport/net.h"

#ifndef SX_SMP_SERVER_BIN
#error "SX_SMP_SERVER_BIN must name the smp-server executable"
#endif

/* Every wait is bounded so that a broken router fails a test instead of
 * hanging it. Generous: the sanitizer build is several times slower. */
#define INIT_TIMEOUT_MS 60000
#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 30000
#define CALL_TIMEOUT_MS 10000
#define EVENT_TIMEOUT_MS 5000
#define START_ATTEMPTS 4 /* another process may take the free port first */

#define ID_LEN 24
#define B64_ID_MAX 64

extern char **environ;

/* ---- the router process --------------------------------------------------- */

typedef struct router_proc {
    char dir[64];
    char etc[128], var[128];
    char ini[192], out[192], store_log[192], msg_log[192];
    char env_cfg[160], env_log[160];
    char **envp;
    uint8_t fp[SX_FINGERPRINT_LEN];
    uint16_t port;
    pid_t pid;
    bool passed; /* set at the end of a test; teardown prints the log otherwise */
} router_proc;

/* What the running test is doing, printed when it fails. */
static const char *g_phase = "";

static void phase(const char *what)
{
    g_phase = what;
}

/* Threads a test started: teardown stops and joins those a failed test
 * left running. */
/* When set, the next router runs with this soft and hard limit of open
 * files, so that it cannot raise it (test_fd_exhaustion). */
static rlim_t g_nofile;

static pthread_t g_threads[8];
static size_t g_nthreads;
static int g_stop;   /* threads stop */
static int g_killed; /* the router was killed on purpose: errors expected */

static void thread_start(void *(*fn)(void *), void *arg)
{
    assert_true(g_nthreads < sizeof g_threads / sizeof g_threads[0]);
    assert_int_equal(pthread_create(&g_threads[g_nthreads], NULL, fn, arg), 0);
    g_nthreads++;
}

static void threads_join(void)
{
    __atomic_store_n(&g_stop, 1, __ATOMIC_RELEASE);
    for (size_t i = 0; i < g_nthreads; i++)
        if (pthread_join(g_threads[i], NULL) != 0)
            abort();
    g_nthreads = 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A whole file as a NUL-terminated heap string, NULL when it is missing. */
static char *read_text(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[len] = 0;
    if (len_out)
        *len_out = len;
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The end of the router's output, for diagnosing a failure. */
static void dump_output(const router_proc *rp)
{
    char *text = read_text(rp->out, NULL);
    if (!text)
        return;
    size_t n = strlen(text);
    const char *from = n > 6000 ? text + n - 6000 : text;
    fprintf(stderr, "---- smp-server output (%s) ----\n%s---- end ----\n", rp->out, from);
    free(text);
}

/* The environment of the children: ours with the two folders replaced. */
static void build_env(router_proc *rp)
{
    size_t n = 0;
    while (environ[n])
        n++;
    rp->envp = calloc(n + 3, sizeof *rp->envp);
    assert_non_null(rp->envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SMP_SERVER_CFG_PATH=", 20) != 0 &&
            strncmp(environ[i], "SMP_SERVER_LOG_PATH=", 20) != 0)
            rp->envp[k++] = environ[i];
    snprintf(rp->env_cfg, sizeof rp->env_cfg, "SMP_SERVER_CFG_PATH=%s", rp->etc);
    snprintf(rp->env_log, sizeof rp->env_log, "SMP_SERVER_LOG_PATH=%s", rp->var);
    rp->envp[k++] = rp->env_cfg;
    rp->envp[k++] = rp->env_log;
    rp->envp[k] = NULL;
}

/* fork + exec of smp-server with args; its stdout and stderr go to rp->out.
 * Only async-signal-safe calls between fork and exec. */
static pid_t spawn(router_proc *rp, char *const argv[])
{
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(rp->out, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        /* Die with the test: a crashed test leaves no router behind. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(125);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        if (g_nofile) {
            struct rlimit rl = {g_nofile, g_nofile};
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                _exit(124);
        }
        execve(SX_SMP_SERVER_BIN, argv, rp->envp);
        _exit(127);
    }
    return pid;
}

/* Waits up to timeout_ms for pid to exit: true with *status, false if it
 * is still running. */
static bool wait_exit(pid_t pid, int timeout_ms, int *status)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid)
            return true;
        if (w < 0 && errno != EINTR)
            fail_msg("waitpid: %s", strerror(errno));
        if (now_ms() > deadline)
            return false;
        sleep_ms(10);
    }
}

static bool router_alive(router_proc *rp)
{
    int status;
    if (rp->pid <= 0)
        return false;
    if (waitpid(rp->pid, &status, WNOHANG) == rp->pid) {
        fprintf(stderr, "smp-server exited: status 0x%x\n", (unsigned)status);
        rp->pid = 0;
        return false;
    }
    return true;
}

/* Rewrites the INI: [TRANSPORT] port: <port>, and two workers (our own
 * setting) so that cross-worker delivery is exercised. */
static void ini_set_port(router_proc *rp, uint16_t port)
{
    char *text = read_text(rp->ini, NULL);
    assert_non_null(text);
    size_t cap = strlen(text) + 256;
    char *outb = malloc(cap);
    assert_non_null(outb);
    size_t o = 0;
    int ports = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        int w;
        if (strncmp(line, "port:", 5) == 0) {
            w = snprintf(outb + o, cap - o, "port: %u\n", port);
            ports++;
        } else if (strncmp(line, "# workers:", 10) == 0) {
            w = snprintf(outb + o, cap - o, "workers: 2\n");
        } else {
            w = snprintf(outb + o, cap - o, "%.*s\n", (int)n, line);
        }
        assert_true(w > 0 && (size_t)w < cap - o);
        o += (size_t)w;
        line += n + (nl ? 1 : 0);
    }
    assert_int_equal(ports, 1);
    write_text(rp->ini, outb);
    free(outb);
    free(text);
}

static sx_smp_client *try_connect(const router_proc *rp, int timeout_ms, sx_status *st)
{
    sx_smp_client_opts o = {.timeout_ms = timeout_ms};
    sx_smp_client *cl = NULL;
    *st = sx_smp_client_connect("127.0.0.1", rp->port, rp->fp, &o, &cl);
    return *st == SX_OK ? cl : NULL;
}

static sx_smp_client *connect_rp(const router_proc *rp)
{
    sx_status st;
    sx_smp_client *cl = try_connect(rp, CALL_TIMEOUT_MS, &st);
    if (!cl)
        fail_msg("connect to 127.0.0.1:%u: %s", rp->port, sx_status_str(st));
    return cl;
}

/* Extra arguments of `start` (NULL: none). */
static char *g_start_arg, *g_start_arg2;

/* `smp-server start` on a free port; returns once a client completed the
 * SMP handshake with it. */
static void router_start(router_proc *rp)
{
    assert_int_equal(rp->pid, 0);
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
        rp->port = tu_free_port();
        ini_set_port(rp, rp->port);
        char *argv[] = {"smp-server", "start", g_start_arg, g_start_arg ? g_start_arg2 : NULL, NULL};
        rp->pid = spawn(rp, argv);
        int64_t deadline = now_ms() + START_TIMEOUT_MS;
        while (router_alive(rp)) {
            sx_status st;
            sx_smp_client *cl = try_connect(rp, 2000, &st);
            if (cl) {
                sx_smp_client_close(cl);
                return;
            }
            if (now_ms() > deadline) {
                kill(rp->pid, SIGKILL);
                int status;
                (void)wait_exit(rp->pid, STOP_TIMEOUT_MS, &status);
                rp->pid = 0;
                dump_output(rp);
                fail_msg("smp-server did not accept connections within %d ms", START_TIMEOUT_MS);
            }
            sleep_ms(50);
        }
        /* It exited: maybe the port was taken meanwhile; try another. */
        fprintf(stderr, "smp-server start attempt %d on port %u failed\n", attempt + 1, rp->port);
    }
    dump_output(rp);
    fail_msg("smp-server did not start in %d attempts", START_ATTEMPTS);
}

/* Sends sig and waits for the exit: status 0 for SIGINT/SIGTERM (clean
 * stop), killed by the signal for SIGKILL. */
static void router_stop(router_proc *rp, int sig)
{
    assert_true(rp->pid > 0);
    assert_int_equal(kill(rp->pid, sig), 0);
    int status = 0;
    if (!wait_exit(rp->pid, STOP_TIMEOUT_MS, &status)) {
        kill(rp->pid, SIGKILL);
        (void)wait_exit(rp->pid, STOP_TIMEOUT_MS, &status);
        rp->pid = 0;
        dump_output(rp);
        fail_msg("smp-server did not stop within %d ms of signal %d", STOP_TIMEOUT_MS, sig);
    }
    rp->pid = 0;
    if (sig == SIGKILL) {
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        return;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        dump_output(rp);
        fail_msg("smp-server stopped by signal %d with status 0x%x", sig, (unsigned)status);
    }
}

static void read_fingerprint(router_proc *rp)
{
    char path[256];
    snprintf(path, sizeof path, "%s/fingerprint", rp->etc);
    char *text = read_text(path, NULL);
    assert_non_null(text);
    size_t n = strcspn(text, "\r\n"), got = 0;
    assert_ok(sx_b64_decode(text, n, SX_B64_URL, rp->fp, sizeof rp->fp, &got));
    assert_int_equal(got, SX_FINGERPRINT_LEN);
    free(text);
}

/* init -y --no-password in a new temporary folder. */
static int setup_rp(void **state)
{
    static router_proc rp;
    memset(&rp, 0, sizeof rp);
    g_stop = 0;
    g_killed = 0;
    snprintf(rp.dir, sizeof rp.dir, "/tmp/sx_proc_XXXXXX");
    if (!mkdtemp(rp.dir))
        return -1;
    snprintf(rp.etc, sizeof rp.etc, "%s/etc", rp.dir);
    snprintf(rp.var, sizeof rp.var, "%s/var", rp.dir);
    snprintf(rp.ini, sizeof rp.ini, "%s/smp-server.ini", rp.etc);
    snprintf(rp.out, sizeof rp.out, "%s/output.log", rp.dir);
    snprintf(rp.store_log, sizeof rp.store_log, "%s/smp-server-store.log", rp.var);
    snprintf(rp.msg_log, sizeof rp.msg_log, "%s/smp-server-messages.log", rp.var);
    build_env(&rp);
    if (sx_crypto_init() != SX_OK)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    char *argv[] = {"smp-server", "init", "-y", "--disable-web", "--no-password", NULL};
    pid_t pid = spawn(&rp, argv);
    int status = 0;
    if (!wait_exit(pid, INIT_TIMEOUT_MS, &status)) {
        kill(pid, SIGKILL);
        (void)wait_exit(pid, STOP_TIMEOUT_MS, &status);
        dump_output(&rp);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        dump_output(&rp);
        return -1;
    }
    read_fingerprint(&rp);
    *state = &rp;
    return 0;
}

static int teardown_rp(void **state)
{
    router_proc *rp = *state;
    __atomic_store_n(&g_killed, 1, __ATOMIC_RELEASE);
    if (rp->pid > 0) {
        kill(rp->pid, SIGKILL);
        int status;
        (void)wait_exit(rp->pid, STOP_TIMEOUT_MS, &status);
        rp->pid = 0;
    }
    threads_join(); /* their calls fail fast now that the router is gone */
    if (!rp->passed) {
        dump_output(rp);
        fprintf(stderr, "failed during: %s\n", g_phase);
    }
    g_phase = "";
    char umount_cmd[160];
    snprintf(umount_cmd, sizeof umount_cmd, "umount '%s' 2>/dev/null", rp->var);
    (void)system(umount_cmd); /* a tmpfs left by a failed disk test */
    free(rp->envp);
    rp->envp = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", rp->dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- queues through the client library ------------------------------------ */

/* A queue as its creator knows it. */
typedef struct queue {
    sx_key *rkey; /* recipient authorization key */
    uint8_t rid[ID_LEN], sid[ID_LEN];
    uint8_t secret[32]; /* rcvDhSecret, to decrypt MSG bodies */
    sx_key *skey;       /* sender key once secured */
} queue;

static void queue_free(queue *q)
{
    sx_key_free(q->rkey);
    sx_key_free(q->skey);
    memset(q, 0, sizeof *q);
}

static void b64_id(const uint8_t *id, size_t n, char out[B64_ID_MAX])
{
    assert_ok(sx_b64_encode(sx_slice_of(id, n), SX_B64_URL, out, B64_ID_MAX));
}

static bool reply_is(const sx_smp_client_reply *r, sx_smp_resp_tag tag)
{
    return r->ok && r->reply.resp.tag == tag;
}

static bool reply_is_err(const sx_smp_client_reply *r, sx_smp_err_type t)
{
    return r->ok && r->reply.resp.tag == SX_SMP_R_ERR && r->reply.resp.err.type == t;
}

static const char *reply_name(const sx_smp_client_reply *r)
{
    if (!r->ok)
        return "(undecodable)";
    if (r->reply.resp.tag == SX_SMP_R_ERR)
        return sx_smp_err_name(r->reply.resp.err.type);
    return sx_smp_resp_name(r->reply.resp.tag);
}

static void expect_tag(sx_smp_client_reply *r, sx_smp_resp_tag tag)
{
    if (!reply_is(r, tag))
        fail_msg("expected %s, got %s", sx_smp_resp_name(tag), reply_name(r));
}

static void expect_err(sx_smp_client_reply *r, sx_smp_err_type t)
{
    if (!reply_is_err(r, t))
        fail_msg("expected ERR %s, got %s", sx_smp_err_name(t), reply_name(r));
}

/* Fills a NEW command for q (keys generated here; rdh returned to derive
 * the secret from IDS). b1, b2 hold the key encodings the command points to. */
static sx_status new_cmd(queue *q, sx_key_alg auth_alg, bool subscribe, sx_key **rdh, sx_smp_cmd *c,
                         uint8_t b1[SX_KEY_SPKI_MAX], uint8_t b2[SX_KEY_SPKI_MAX])
{
    memset(q, 0, sizeof *q);
    *rdh = NULL;
    SX_TRY(sx_key_generate(auth_alg, &q->rkey));
    SX_TRY(sx_key_generate(SX_KEY_X25519, rdh));
    memset(c, 0, sizeof *c);
    c->tag = SX_SMP_C_NEW;
    SX_TRY(sx_smp_pubkey_of(q->rkey, b1, &c->new_queue.rcv_auth_key));
    SX_TRY(sx_smp_pubkey_of(*rdh, b2, &c->new_queue.rcv_dh_key));
    c->new_queue.subscribe = subscribe;
    c->new_queue.has_queue_req = true;
    c->new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    return SX_OK;
}

/* Takes the ids and the DH secret from an IDS reply. SX_E_PROTOCOL for any
 * other reply. */
static sx_status take_ids(queue *q, const sx_key *rdh, const sx_smp_client_reply *r)
{
    if (!reply_is(r, SX_SMP_R_IDS))
        return SX_E_PROTOCOL;
    const sx_smp_ids *ids = &r->reply.resp.ids;
    if (ids->rcv_id.len != ID_LEN || ids->snd_id.len != ID_LEN)
        return SX_E_PROTOCOL;
    memcpy(q->rid, ids->rcv_id.ptr, ID_LEN);
    memcpy(q->sid, ids->snd_id.ptr, ID_LEN);
    sx_key *srv;
    SX_TRY(sx_key_decode_public(ids->srv_dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv));
    size_t n = 0;
    sx_status st = sx_key_dh(rdh, srv, q->secret, sizeof q->secret, &n);
    sx_key_free(srv);
    return st;
}

static void create_queue(sx_smp_client *cl, sx_key_alg auth_alg, bool subscribe, queue *q)
{
    sx_key *rdh;
    sx_smp_cmd c;
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    assert_ok(new_cmd(q, auth_alg, subscribe, &rdh, &c, b1, b2));
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(cl, sx_slice_of(NULL, 0), &c, q->rkey, &r));
    if (take_ids(q, rdh, &r) != SX_OK)
        fail_msg("NEW: expected IDS, got %s", reply_name(&r));
    sx_smp_client_reply_free(&r);
    sx_key_free(rdh);
}

static void call_simple(sx_smp_client *cl, const uint8_t *entity, sx_smp_cmd_tag tag, const sx_key *k,
                        sx_smp_client_reply *r)
{
    sx_smp_cmd c = {.tag = tag};
    assert_ok(sx_smp_client_call(cl, sx_slice_of(entity, entity ? ID_LEN : 0), &c, k, r));
}

static void expect_simple(sx_smp_client *cl, const uint8_t *entity, sx_smp_cmd_tag tag, const sx_key *k,
                          sx_smp_resp_tag want)
{
    sx_smp_client_reply r;
    call_simple(cl, entity, tag, k, &r);
    expect_tag(&r, want);
    sx_smp_client_reply_free(&r);
}

static void expect_simple_err(sx_smp_client *cl, const uint8_t *entity, sx_smp_cmd_tag tag, const sx_key *k,
                              sx_smp_err_type want)
{
    sx_smp_client_reply r;
    call_simple(cl, entity, tag, k, &r);
    expect_err(&r, want);
    sx_smp_client_reply_free(&r);
}

/* SKEY by the sender with a new key of alg. */
static void secure_queue(sx_smp_client *cl, queue *q, sx_key_alg alg)
{
    assert_ok(sx_key_generate(alg, &q->skey));
    uint8_t b[SX_KEY_SPKI_MAX];
    sx_smp_cmd c = {.tag = SX_SMP_C_SKEY};
    assert_ok(sx_smp_pubkey_of(q->skey, b, &c.key));
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(cl, sx_slice_of(q->sid, ID_LEN), &c, q->skey, &r));
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
}

/* SEND body to q, signed with key (NULL: unsigned). */
static void send_msg(sx_smp_client *cl, const queue *q, const sx_key *key, const char *body,
                     sx_smp_client_reply *r)
{
    sx_smp_cmd c = {.tag = SX_SMP_C_SEND};
    c.send.notification = true;
    c.send.body = sx_slice_str(body);
    assert_ok(sx_smp_client_call(cl, sx_slice_of(q->sid, ID_LEN), &c, key, r));
}

static void send_ok(sx_smp_client *cl, const queue *q, const char *body)
{
    sx_smp_client_reply r;
    send_msg(cl, q, q->skey, body, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
}

/* Decrypts a MSG of q: true with the body matching expect (and the message
 * id copied to id_out), false otherwise. No assertions (threads use it). */
static bool msg_matches(const queue *q, const sx_smp_client_reply *r, const char *expect, uint8_t id_out[ID_LEN])
{
    if (!reply_is(r, SX_SMP_R_MSG) || r->reply.t.entity_id.len != ID_LEN ||
        memcmp(r->reply.t.entity_id.ptr, q->rid, ID_LEN) != 0 || r->reply.resp.msg.msg_id.len != ID_LEN)
        return false;
    uint8_t *buf = malloc(SX_SMP_ENC_MSG_LEN);
    if (!buf)
        return false;
    sx_smp_rcv_msg m;
    bool ok = sx_smp_msg_decrypt(q->secret, r->reply.resp.msg.msg_id, r->reply.resp.msg.body, buf,
                                 SX_SMP_ENC_MSG_LEN, &m) == SX_OK &&
              !m.quota && m.body.len == strlen(expect) && memcmp(m.body.ptr, expect, m.body.len) == 0;
    free(buf);
    if (ok && id_out)
        memcpy(id_out, r->reply.resp.msg.msg_id.ptr, ID_LEN);
    return ok;
}

static void check_msg(const queue *q, sx_smp_client_reply *r, const char *expect, uint8_t id_out[ID_LEN])
{
    expect_tag(r, SX_SMP_R_MSG);
    if (!msg_matches(q, r, expect, id_out))
        fail_msg("MSG is not \"%s\" for this queue", expect);
}

static void next_event(sx_smp_client *cl, sx_smp_client_reply *r)
{
    sx_status st = sx_smp_client_next_event(cl, EVENT_TIMEOUT_MS, r);
    if (st != SX_OK)
        fail_msg("no event within %d ms: %s", EVENT_TIMEOUT_MS, sx_status_str(st));
}

static void ack(sx_smp_client *cl, const queue *q, const uint8_t id[ID_LEN], sx_smp_client_reply *r)
{
    sx_smp_cmd c = {.tag = SX_SMP_C_ACK};
    c.msg_id = sx_slice_of(id, ID_LEN);
    assert_ok(sx_smp_client_call(cl, sx_slice_of(q->rid, ID_LEN), &c, q->rkey, r));
}

/* SUB answered SOK, then the messages in order (each ACKed), then nothing. */
static void expect_messages(sx_smp_client *cl, const queue *q, const char *const *bodies, size_t n)
{
    expect_simple(cl, q->rid, SX_SMP_C_SUB, q->rkey, SX_SMP_R_SOK);
    sx_smp_client_reply r;
    uint8_t id[ID_LEN];
    if (n == 0) {
        sx_status st = sx_smp_client_next_event(cl, 300, &r);
        if (st == SX_OK)
            fail_msg("unexpected %s after SUB of an empty queue", reply_name(&r));
        assert_int_equal(st, SX_E_WOULD_BLOCK);
        return;
    }
    next_event(cl, &r);
    check_msg(q, &r, bodies[0], id);
    sx_smp_client_reply_free(&r);
    for (size_t i = 1; i < n; i++) {
        ack(cl, q, id, &r); /* the next message comes as ACK's response */
        check_msg(q, &r, bodies[i], id);
        sx_smp_client_reply_free(&r);
    }
    ack(cl, q, id, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
}

/* Lines of text (without '\n') that start with prefix. */
static size_t count_prefixed(const char *text, const char *prefix)
{
    size_t n = 0, pl = strlen(prefix);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, prefix, pl) == 0)
            n++;
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return n;
}

/* ---- 1, 2: stop with SIGINT / SIGTERM, restart ----------------------------- */

static void persist_across_signal(router_proc *rp, int sig)
{
    phase("first life");
    router_start(rp);
    sx_smp_client *cl = connect_rp(rp);
    queue qa, qb, qc, qd;
    create_queue(cl, SX_KEY_ED25519, false, &qa);
    create_queue(cl, SX_KEY_X25519, false, &qb);
    create_queue(cl, SX_KEY_ED448, false, &qc);
    create_queue(cl, SX_KEY_ED25519, false, &qd);
    secure_queue(cl, &qa, SX_KEY_ED448);
    static const char *const a_msgs[] = {"first", "second", "third", "fourth", "fifth"};
    static const char *const b_msgs[] = {"unsigned one", "unsigned two"};
    for (size_t i = 0; i < 5; i++)
        send_ok(cl, &qa, a_msgs[i]);
    for (size_t i = 0; i < 2; i++)
        send_ok(cl, &qb, b_msgs[i]);
    expect_simple(cl, qd.rid, SX_SMP_C_DEL, qd.rkey, SX_SMP_R_OK);
    /* qa's head is delivered but not ACKed when the router stops: it is
     * still undelivered and must come back first. The connection and its
     * subscription stay open across the signal. */
    expect_simple(cl, qa.rid, SX_SMP_C_SUB, qa.rkey, SX_SMP_R_SOK);
    sx_smp_client_reply r;
    next_event(cl, &r);
    check_msg(&qa, &r, "first", NULL);
    sx_smp_client_reply_free(&r);

    phase("first stop");
    router_stop(rp, sig);
    sx_smp_client_close(cl);

    /* PROTOCOL-NOTES E27: one "v3 <rid> ..." line per undelivered message
     * (their order is checked after the restart). */
    char *saved = read_text(rp->msg_log, NULL);
    if (!saved)
        fail_msg("%s was not written on signal %d", rp->msg_log, sig);
    assert_int_equal(count_prefixed(saved, "v3 "), 7);
    char ra[B64_ID_MAX], rb[B64_ID_MAX], pre[B64_ID_MAX + 8];
    b64_id(qa.rid, ID_LEN, ra);
    b64_id(qb.rid, ID_LEN, rb);
    snprintf(pre, sizeof pre, "v3 %s ", ra);
    assert_int_equal(count_prefixed(saved, pre), 5);
    snprintf(pre, sizeof pre, "v3 %s ", rb);
    assert_int_equal(count_prefixed(saved, pre), 2);
    free(saved);

    phase("second life");
    router_start(rp);
    /* The restored file is kept as .bak only. */
    char bak[256];
    snprintf(bak, sizeof bak, "%s.bak", rp->msg_log);
    assert_false(file_exists(rp->msg_log));
    assert_true(file_exists(bak));

    cl = connect_rp(rp);
    /* qa is still secured: an unsigned SEND is refused. */
    send_msg(cl, &qa, NULL, "unsigned", &r);
    expect_err(&r, SX_SMP_ERR_AUTH);
    sx_smp_client_reply_free(&r);
    expect_messages(cl, &qa, a_msgs, 5);
    expect_messages(cl, &qb, b_msgs, 2);
    expect_messages(cl, &qc, NULL, 0);
    expect_simple_err(cl, qd.rid, SX_SMP_C_SUB, qd.rkey, SX_SMP_ERR_AUTH);
    /* A message sent in the second life, pending at the second stop. */
    send_ok(cl, &qb, "second life");
    sx_smp_client_close(cl);
    router_stop(rp, sig);

    phase("third life");
    /* Third life: only that message; nothing comes back from the .bak. */
    router_start(rp);
    cl = connect_rp(rp);
    static const char *const again[] = {"second life"};
    expect_messages(cl, &qb, again, 1);
    expect_messages(cl, &qa, NULL, 0);
    sx_smp_client_close(cl);
    router_stop(rp, SIGINT);
    queue_free(&qa);
    queue_free(&qb);
    queue_free(&qc);
    queue_free(&qd);
}

static void test_sigint_restart(void **state)
{
    router_proc *rp = *state;
    persist_across_signal(rp, SIGINT);
    rp->passed = true;
}

static void test_sigterm_restart(void **state)
{
    router_proc *rp = *state;
    persist_across_signal(rp, SIGTERM);
    rp->passed = true;
}

/* ---- 3: kill -9 under load ------------------------------------------------- */

enum { LQ_UNKNOWN = 0,
       LQ_CREATED,
       LQ_SKEY_SENT,
       LQ_SECURED };

typedef struct lqueue {
    queue q;
    int state;
} lqueue;

typedef struct loader {
    const router_proc *rp;
    lqueue *qs;
    size_t n, cap;
    char err[256]; /* an error seen before the kill */
} loader;

static size_t g_created; /* IDS received, all loaders */

#define LOAD_THREADS 4
#define LOAD_BATCH 4

static void loader_note(loader *L, const char *what, const char *why)
{
    if (!__atomic_load_n(&g_killed, __ATOMIC_ACQUIRE) && !L->err[0])
        snprintf(L->err, sizeof L->err, "%s: %s", what, why);
}

static lqueue *loader_push(loader *L)
{
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        lqueue *p = realloc(L->qs, cap * sizeof *p);
        if (!p)
            return NULL;
        L->qs = p;
        L->cap = cap;
    }
    lqueue *q = &L->qs[L->n++];
    memset(q, 0, sizeof *q);
    return q;
}

/* Creates queues LOAD_BATCH at a time, and secures every other one, as
 * fast as the router answers, until the router dies or g_stop. Records
 * which IDS and SKEY OK it received. */
static void *loader_main(void *arg)
{
    loader *L = arg;
    sx_status st;
    sx_smp_client *cl = try_connect(L->rp, CALL_TIMEOUT_MS, &st);
    if (!cl) {
        loader_note(L, "connect", sx_status_str(st));
        return NULL;
    }
    size_t round = 0;
    while (!__atomic_load_n(&g_stop, __ATOMIC_ACQUIRE)) {
        lqueue *qs[LOAD_BATCH];
        sx_key *rdh[LOAD_BATCH] = {0};
        sx_smp_cmd cmds[LOAD_BATCH];
        sx_smp_client_cmd cc[LOAD_BATCH];
        sx_smp_client_reply rep[LOAD_BATCH];
        uint8_t b1[LOAD_BATCH][SX_KEY_SPKI_MAX], b2[LOAD_BATCH][SX_KEY_SPKI_MAX];
        bool failed = false;
        memset(rep, 0, sizeof rep);
        for (size_t i = 0; i < LOAD_BATCH; i++) {
            qs[i] = loader_push(L);
            if (!qs[i] || new_cmd(&qs[i]->q, SX_KEY_ED25519, false, &rdh[i], &cmds[i], b1[i], b2[i]) != SX_OK) {
                loader_note(L, "NEW", "out of memory");
                failed = true;
                break;
            }
            cc[i] = (sx_smp_client_cmd){.entity = sx_slice_of(NULL, 0), .cmd = &cmds[i], .auth_key = qs[i]->q.rkey};
        }
        if (!failed) {
            st = sx_smp_client_call_many(cl, cc, LOAD_BATCH, rep);
            if (st != SX_OK) {
                loader_note(L, "NEW", sx_status_str(st));
                failed = true;
            }
        }
        for (size_t i = 0; i < LOAD_BATCH && !failed; i++) {
            if (take_ids(&qs[i]->q, rdh[i], &rep[i]) == SX_OK) {
                qs[i]->state = LQ_CREATED;
                __atomic_add_fetch(&g_created, 1, __ATOMIC_ACQ_REL);
            } else {
                loader_note(L, "NEW reply", reply_name(&rep[i]));
                failed = true;
            }
        }
        for (size_t i = 0; i < LOAD_BATCH; i++) {
            sx_key_free(rdh[i]);
            sx_smp_client_reply_free(&rep[i]);
        }
        if (failed)
            break;
        /* SKEY for every other queue of the batch (varying by round). */
        size_t ns = 0;
        lqueue *sq[LOAD_BATCH];
        for (size_t i = (round++ & 1); i < LOAD_BATCH; i += 2) {
            lqueue *q = qs[i];
            memset(&cmds[ns], 0, sizeof cmds[ns]);
            if (sx_key_generate(SX_KEY_ED25519, &q->q.skey) != SX_OK ||
                sx_smp_pubkey_of(q->q.skey, b1[ns], &cmds[ns].key) != SX_OK) {
                loader_note(L, "SKEY", "key generation");
                failed = true;
                break;
            }
            cmds[ns].tag = SX_SMP_C_SKEY;
            cc[ns] = (sx_smp_client_cmd){.entity = sx_slice_of(q->q.sid, ID_LEN), .cmd = &cmds[ns], .auth_key = q->q.skey};
            q->state = LQ_SKEY_SENT;
            sq[ns++] = q;
        }
        if (failed)
            break;
        st = sx_smp_client_call_many(cl, cc, ns, rep);
        if (st != SX_OK) {
            loader_note(L, "SKEY", sx_status_str(st));
            break;
        }
        for (size_t i = 0; i < ns; i++) {
            if (reply_is(&rep[i], SX_SMP_R_OK))
                sq[i]->state = LQ_SECURED;
            else
                loader_note(L, "SKEY reply", reply_name(&rep[i]));
            sx_smp_client_reply_free(&rep[i]);
        }
    }
    sx_smp_client_close(cl);
    return NULL;
}

/* Runs one kind of check over many queues in batches: cmd for each
 * selected queue, the reply must be `want` (or ERR want_err when want is 0). */
typedef bool (*lq_select)(const lqueue *q);

static bool sel_known(const lqueue *q)
{
    return q->state != LQ_UNKNOWN;
}

static bool sel_secured(const lqueue *q)
{
    return q->state == LQ_SECURED;
}

static bool sel_never_secured(const lqueue *q)
{
    return q->state == LQ_CREATED;
}

#define CHECK_BATCH 100

/* One kind of check over many queues, in batches on one connection. */
typedef struct checker {
    sx_smp_client *cl;
    sx_smp_cmd_tag tag;
    bool signed_by_rkey;
    sx_smp_resp_tag want; /* 0: ERR want_err */
    sx_smp_err_type want_err;
    sx_smp_cmd cmds[CHECK_BATCH];
    sx_smp_client_cmd cc[CHECK_BATCH];
    sx_smp_client_reply rep[CHECK_BATCH];
    const lqueue *which[CHECK_BATCH];
    size_t n, checked;
} checker;

static void checker_flush(checker *k)
{
    if (k->n == 0)
        return;
    assert_ok(sx_smp_client_call_many(k->cl, k->cc, k->n, k->rep));
    for (size_t i = 0; i < k->n; i++) {
        bool good = k->want ? reply_is(&k->rep[i], k->want) : reply_is_err(&k->rep[i], k->want_err);
        if (!good) {
            char rid[B64_ID_MAX];
            b64_id(k->which[i]->q.rid, ID_LEN, rid);
            fail_msg("%s of queue %s (state %d) after kill -9: expected %s, got %s", sx_smp_cmd_name(k->tag), rid,
                     k->which[i]->state, k->want ? sx_smp_resp_name(k->want) : sx_smp_err_name(k->want_err),
                     reply_name(&k->rep[i]));
        }
        sx_smp_client_reply_free(&k->rep[i]);
    }
    k->checked += k->n;
    k->n = 0;
}

static void checker_add(checker *k, const lqueue *q)
{
    sx_smp_cmd *c = &k->cmds[k->n];
    memset(c, 0, sizeof *c);
    c->tag = k->tag;
    const uint8_t *entity = q->q.rid;
    if (k->tag == SX_SMP_C_SEND) {
        c->send.body = sx_slice_str("after kill -9");
        entity = q->q.sid;
    }
    k->cc[k->n] = (sx_smp_client_cmd){.entity = sx_slice_of(entity, ID_LEN), .cmd = c, .auth_key = k->signed_by_rkey ? q->q.rkey : NULL};
    k->which[k->n++] = q;
    if (k->n == CHECK_BATCH)
        checker_flush(k);
}

/* Sends tag for every queue sel picks; each reply must be want (or ERR
 * want_err when want is 0). Returns how many were checked. */
static size_t check_all(const router_proc *rp, loader *ls, lq_select sel, sx_smp_cmd_tag tag, bool signed_by_rkey,
                        sx_smp_resp_tag want, sx_smp_err_type want_err)
{
    static checker k;
    memset(&k, 0, sizeof k);
    k.cl = connect_rp(rp);
    k.tag = tag;
    k.signed_by_rkey = signed_by_rkey;
    k.want = want;
    k.want_err = want_err;
    for (size_t t = 0; t < LOAD_THREADS; t++)
        for (size_t i = 0; i < ls[t].n; i++)
            if (sel(&ls[t].qs[i]))
                checker_add(&k, &ls[t].qs[i]);
    checker_flush(&k);
    sx_smp_client_close(k.cl);
    return k.checked;
}

static void test_kill9_under_load(void **state)
{
    router_proc *rp = *state;
    phase("load");
    router_start(rp);
    static loader ls[LOAD_THREADS];
    memset(ls, 0, sizeof ls);
    __atomic_store_n(&g_created, 0, __ATOMIC_RELEASE);
    for (size_t t = 0; t < LOAD_THREADS; t++) {
        ls[t].rp = rp;
        thread_start(loader_main, &ls[t]);
    }
    /* Some work first, then a random moment within the next 700 ms. */
    int64_t deadline = now_ms() + START_TIMEOUT_MS;
    while (__atomic_load_n(&g_created, __ATOMIC_ACQUIRE) < 40 && now_ms() < deadline)
        sleep_ms(5);
    uint16_t rnd;
    sx_random_bytes((uint8_t *)&rnd, sizeof rnd);
    int delay = rnd % 700;
    sleep_ms(delay);
    size_t at_kill = __atomic_load_n(&g_created, __ATOMIC_ACQUIRE);
    __atomic_store_n(&g_killed, 1, __ATOMIC_RELEASE);
    router_stop(rp, SIGKILL);
    threads_join();
    for (size_t t = 0; t < LOAD_THREADS; t++)
        if (ls[t].err[0])
            fail_msg("load thread %zu before the kill: %s", t, ls[t].err);
    assert_true(at_kill >= 40);

    size_t created = 0, secured = 0, in_flight = 0;
    for (size_t t = 0; t < LOAD_THREADS; t++)
        for (size_t i = 0; i < ls[t].n; i++) {
            int s = ls[t].qs[i].state;
            created += s != LQ_UNKNOWN;
            secured += s == LQ_SECURED;
            in_flight += s == LQ_SKEY_SENT;
        }
    print_message("kill -9 after %d ms of random delay: %zu queues created, %zu secured, %zu SKEY unanswered\n",
                  delay, created, secured, in_flight);

    phase("checks after kill -9");
    router_start(rp);
    /* Secured queues refuse an unsigned SEND; never-secured ones take it. */
    assert_int_equal(check_all(rp, ls, sel_secured, SX_SMP_C_SEND, false, 0, SX_SMP_ERR_AUTH), secured);
    check_all(rp, ls, sel_never_secured, SX_SMP_C_SEND, false, SX_SMP_R_OK, 0);
    /* Every queue whose IDS came back exists: SUB with its key is SOK. */
    assert_int_equal(check_all(rp, ls, sel_known, SX_SMP_C_SUB, true, SX_SMP_R_SOK, 0), created);
    router_stop(rp, SIGINT);

    for (size_t t = 0; t < LOAD_THREADS; t++) {
        for (size_t i = 0; i < ls[t].n; i++)
            queue_free(&ls[t].qs[i].q);
        free(ls[t].qs);
    }
    rp->passed = true;
}

/* ---- 4: malformed traffic --------------------------------------------------- */

/* A client that keeps working while another one misbehaves. */
typedef struct worker {
    const router_proc *rp;
    int rounds;
    char err[256];
} worker;

static void *worker_main(void *arg)
{
    worker *W = arg;
    sx_status st;
    sx_smp_client *cl = try_connect(W->rp, CALL_TIMEOUT_MS, &st);
    if (!cl) {
        snprintf(W->err, sizeof W->err, "connect: %s", sx_status_str(st));
        return NULL;
    }
    queue q;
    sx_key *rdh = NULL;
    sx_smp_cmd c;
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_client_reply r = {0};
    st = new_cmd(&q, SX_KEY_ED25519, true, &rdh, &c, b1, b2);
    if (st == SX_OK)
        st = sx_smp_client_call(cl, sx_slice_of(NULL, 0), &c, q.rkey, &r);
    if (st == SX_OK)
        st = take_ids(&q, rdh, &r);
    sx_smp_client_reply_free(&r);
    sx_key_free(rdh);
    while (st == SX_OK && !__atomic_load_n(&g_stop, __ATOMIC_ACQUIRE)) {
        char body[64];
        snprintf(body, sizeof body, "round %d", W->rounds);
        sx_smp_cmd ping = {.tag = SX_SMP_C_PING};
        sx_smp_cmd snd = {.tag = SX_SMP_C_SEND};
        snd.send.body = sx_slice_str(body);
        st = sx_smp_client_call(cl, sx_slice_of(NULL, 0), &ping, NULL, &r);
        if (st == SX_OK && !reply_is(&r, SX_SMP_R_PONG)) {
            snprintf(W->err, sizeof W->err, "PING: %s", reply_name(&r));
            st = SX_E_PROTOCOL;
        }
        sx_smp_client_reply_free(&r);
        if (st == SX_OK) {
            st = sx_smp_client_call(cl, sx_slice_of(q.sid, ID_LEN), &snd, NULL, &r);
            if (st == SX_OK && !reply_is(&r, SX_SMP_R_OK)) {
                snprintf(W->err, sizeof W->err, "SEND: %s", reply_name(&r));
                st = SX_E_PROTOCOL;
            }
            sx_smp_client_reply_free(&r);
        }
        uint8_t id[ID_LEN];
        if (st == SX_OK) {
            st = sx_smp_client_next_event(cl, CALL_TIMEOUT_MS, &r);
            if (st == SX_OK && !msg_matches(&q, &r, body, id)) {
                snprintf(W->err, sizeof W->err, "expected MSG \"%s\", got %s", body, reply_name(&r));
                st = SX_E_PROTOCOL;
            }
            sx_smp_client_reply_free(&r);
        }
        if (st == SX_OK) {
            sx_smp_cmd a = {.tag = SX_SMP_C_ACK};
            a.msg_id = sx_slice_of(id, ID_LEN);
            st = sx_smp_client_call(cl, sx_slice_of(q.rid, ID_LEN), &a, q.rkey, &r);
            if (st == SX_OK && !reply_is(&r, SX_SMP_R_OK)) {
                snprintf(W->err, sizeof W->err, "ACK: %s", reply_name(&r));
                st = SX_E_PROTOCOL;
            }
            sx_smp_client_reply_free(&r);
        }
        if (st == SX_OK)
            __atomic_add_fetch(&W->rounds, 1, __ATOMIC_ACQ_REL);
    }
    if (st != SX_OK && !W->err[0])
        snprintf(W->err, sizeof W->err, "round %d: %s", W->rounds, sx_status_str(st));
    queue_free(&q);
    sx_smp_client_close(cl);
    return NULL;
}

/* A raw connection: TCP, then TLS (optionally), then nothing else. */
typedef struct raw_conn {
    int fd;
    sx_tls_ctx *ctx;
    sx_tls_conn *tls;
    sx_smp_session sess;
} raw_conn;

static void raw_open(const router_proc *rp, bool tls, bool alpn, raw_conn *rc)
{
    memset(rc, 0, sizeof *rc);
    rc->fd = -1;
    assert_ok(sx_net_connect("127.0.0.1", rp->port, CALL_TIMEOUT_MS, &rc->fd));
    if (!tls)
        return;
    static const char *const protos[] = {"smp/1", NULL};
    sx_tls_client_config cfg = {.alpn = alpn ? protos : NULL};
    assert_ok(sx_tls_client_ctx_new(&cfg, &rc->ctx));
    assert_ok(sx_tls_conn_new_client(rc->ctx, rc->fd, rp->fp, &rc->tls));
    assert_ok(sx_tls_handshake_blocking(rc->tls, CALL_TIMEOUT_MS));
}

/* Closes abruptly: no close_notify. */
static void raw_close(raw_conn *rc)
{
    sx_smp_session_cleanup(&rc->sess);
    sx_tls_conn_free(rc->tls);
    sx_net_close(rc->fd);
    sx_tls_ctx_free(rc->ctx);
    memset(rc, 0, sizeof *rc);
    rc->fd = -1;
}

/* The router must close the connection soon (not merely stay silent). */
static void expect_closed_by_router(raw_conn *rc)
{
    int64_t t0 = now_ms();
    uint8_t *block = malloc(SX_BLOCK_SIZE);
    assert_non_null(block);
    sx_status st;
    if (rc->tls) {
        st = sx_tls_read_block(rc->tls, block, CALL_TIMEOUT_MS);
    } else {
        st = sx_net_wait(rc->fd, false, CALL_TIMEOUT_MS);
        if (st == SX_OK) {
            ssize_t n;
            do
                n = recv(rc->fd, block, SX_BLOCK_SIZE, 0);
            while (n > 0 && now_ms() - t0 < CALL_TIMEOUT_MS && sx_net_wait(rc->fd, false, 1000) == SX_OK);
            st = n > 0 ? SX_OK : SX_E_CLOSED;
        }
    }
    free(block);
    assert_int_not_equal(st, SX_OK);
    if (now_ms() - t0 >= CALL_TIMEOUT_MS - 500)
        fail_msg("the router kept a broken connection open for %d ms", CALL_TIMEOUT_MS);
}

/* Reads one session block and decodes its transmissions (at most max;
 * the views point into block). */
static void raw_read_replies(raw_conn *rc, uint8_t *block, sx_smp_reply *out, size_t max, size_t *count)
{
    sx_slice content;
    assert_ok(sx_smp_session_recv_blocking(&rc->sess, rc->tls, block, &content, CALL_TIMEOUT_MS));
    sx_slice items[SX_BATCH_MAX_ITEMS];
    assert_ok(sx_batch_decode(content, items, SX_BATCH_MAX_ITEMS, count));
    assert_true(*count >= 1 && *count <= max);
    for (size_t i = 0; i < *count; i++)
        assert_ok(sx_smp_reply_decode(items[i], rc->sess.version, sx_smp_session_id(&rc->sess), &out[i]));
}

/* Expects a block holding exactly one ERR BLOCK with empty corrId and entity
 * (PROTOCOL-NOTES B15). */
static void raw_expect_err_block(raw_conn *rc, uint8_t *block)
{
    sx_smp_reply r;
    size_t n;
    raw_read_replies(rc, block, &r, 1, &n);
    assert_int_equal(r.resp.tag, SX_SMP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_SMP_ERR_BLOCK);
    assert_int_equal(r.t.corr_id.len, 0);
    assert_int_equal(r.t.entity_id.len, 0);
}

/* PING over a raw session; replies before PONG (errors for earlier junk)
 * are skipped, up to a bound. */
static void raw_ping(raw_conn *rc)
{
    uint8_t corr[SX_SMP_CORR_ID_LEN];
    sx_random_bytes(corr, sizeof corr);
    uint8_t cmdbuf[16], tbuf[128];
    sx_writer cw, tw;
    sx_writer_init_fixed(&cw, cmdbuf, sizeof cmdbuf);
    sx_smp_cmd ping = {.tag = SX_SMP_C_PING};
    assert_true(sx_smp_cmd_write(&cw, rc->sess.version, &ping));
    sx_smp_transmission t = {0};
    t.session_id = sx_smp_session_id(&rc->sess);
    t.corr_id = sx_slice_of(corr, sizeof corr);
    t.command = sx_writer_slice(&cw);
    sx_writer_init_fixed(&tw, tbuf, sizeof tbuf);
    assert_true(sx_smp_transmission_write(&tw, rc->sess.version, &t));
    static sx_batch b;
    assert_ok(sx_batch_init(&b, sx_smp_session_batch_capacity(&rc->sess)));
    assert_ok(sx_batch_add(&b, sx_writer_slice(&tw)));
    sx_slice content;
    assert_ok(sx_batch_content(&b, &content));
    assert_ok(sx_smp_session_send_blocking(&rc->sess, rc->tls, content, CALL_TIMEOUT_MS));
    uint8_t *block = malloc(SX_BLOCK_SIZE);
    assert_non_null(block);
    static sx_smp_reply r[SX_BATCH_MAX_ITEMS];
    for (int i = 0; i < 64; i++) {
        size_t n;
        raw_read_replies(rc, block, r, SX_BATCH_MAX_ITEMS, &n);
        for (size_t k = 0; k < n; k++) {
            if (r[k].resp.tag == SX_SMP_R_PONG && r[k].t.corr_id.len == sizeof corr &&
                memcmp(r[k].t.corr_id.ptr, corr, sizeof corr) == 0) {
                free(block);
                return;
            }
        }
    }
    free(block);
    fail_msg("no PONG after 64 blocks");
}

static void random_block(uint8_t *block)
{
    sx_random_bytes(block, SX_BLOCK_SIZE);
}

/* A client hello with a given version and identity, after reading the
 * server's hello. */
static void bad_hello(const router_proc *rp, uint16_t version, bool wrong_identity)
{
    raw_conn rc;
    raw_open(rp, true, true, &rc);
    uint8_t *block = malloc(SX_BLOCK_SIZE);
    assert_non_null(block);
    assert_ok(sx_tls_read_block(rc.tls, block, CALL_TIMEOUT_MS));
    sx_slice content;
    assert_ok(sx_block_decode(sx_slice_of(block, SX_BLOCK_SIZE), &content));
    sx_smp_server_hello sh;
    assert_ok(sx_smp_server_hello_decode(content, &sh));
    assert_true(version < sh.range.min || version > sh.range.max || wrong_identity);
    uint8_t fp[SX_FINGERPRINT_LEN];
    memcpy(fp, rp->fp, sizeof fp);
    if (wrong_identity)
        fp[5] ^= 0x40;
    sx_smp_client_hello ch = {0};
    ch.version = version;
    ch.key_hash = sx_slice_of(fp, sizeof fp);
    sx_key *dh;
    assert_ok(sx_key_generate(SX_KEY_X25519, &dh));
    size_t n = 0;
    assert_ok(sx_key_raw_public(dh, ch.dh_key, sizeof ch.dh_key, &n));
    ch.has_dh_key = version >= SX_SMP_V_AUTH_CMDS;
    sx_key_free(dh);
    uint8_t hello[512];
    sx_writer w;
    sx_writer_init_fixed(&w, hello, sizeof hello);
    assert_true(sx_smp_client_hello_write(&w, &ch));
    assert_ok(sx_block_encode(sx_writer_slice(&w), block));
    assert_ok(sx_tls_write_block(rc.tls, block, CALL_TIMEOUT_MS));
    free(block);
    expect_closed_by_router(&rc);
    raw_close(&rc);
}

static void check_alive(router_proc *rp, const char *after)
{
    if (!router_alive(rp)) {
        dump_output(rp);
        fail_msg("smp-server died after %s", after);
    }
}

static void test_malformed_traffic(void **state)
{
    router_proc *rp = *state;
    router_start(rp);
    static worker W;
    memset(&W, 0, sizeof W);
    W.rp = rp;
    thread_start(worker_main, &W);
    int64_t deadline = now_ms() + START_TIMEOUT_MS;
    while (__atomic_load_n(&W.rounds, __ATOMIC_ACQUIRE) < 1 && !W.err[0] && now_ms() < deadline)
        sleep_ms(5);
    int rounds_before = __atomic_load_n(&W.rounds, __ATOMIC_ACQUIRE);
    uint8_t *block = malloc(SX_BLOCK_SIZE);
    assert_non_null(block);
    raw_conn rc;

    phase("malformed: non-TLS bytes");
    /* Bytes that are not TLS at all. */
    raw_open(rp, false, false, &rc);
    random_block(block);
    block[0] = 0x16; /* looks like a handshake record, then nonsense */
    assert_int_equal(send(rc.fd, block, 1000, MSG_NOSIGNAL), 1000);
    expect_closed_by_router(&rc);
    raw_close(&rc);
    check_alive(rp, "non-TLS bytes");

    phase("malformed: truncated hello");
    /* TLS, then a truncated client hello and an abrupt close. */
    raw_open(rp, true, true, &rc);
    assert_ok(sx_tls_read_block(rc.tls, block, CALL_TIMEOUT_MS));
    random_block(block);
    assert_ok(sx_tls_write_full(rc.tls, block, 100, CALL_TIMEOUT_MS));
    raw_close(&rc);
    check_alive(rp, "a truncated hello");

    phase("malformed: random hello block");
    /* TLS, then a client hello block of random bytes (HANDSHAKE PARSE). */
    raw_open(rp, true, true, &rc);
    assert_ok(sx_tls_read_block(rc.tls, block, CALL_TIMEOUT_MS));
    random_block(block);
    assert_ok(sx_tls_write_block(rc.tls, block, CALL_TIMEOUT_MS));
    expect_closed_by_router(&rc);
    raw_close(&rc);
    check_alive(rp, "a random hello");

    phase("malformed: bad hellos");
    /* Wrong versions and a wrong identity in the hello (PROTOCOL-NOTES B19):
     * closed. */
    bad_hello(rp, SX_SMP_VERSION_CURRENT + 1, false);
    check_alive(rp, "a hello above the range");
    bad_hello(rp, 0xffff, false);
    check_alive(rp, "a hello with version 65535");
    bad_hello(rp, SX_SMP_VERSION_MIN - 1, false);
    check_alive(rp, "a hello below the range");
    bad_hello(rp, SX_SMP_VERSION_CURRENT, true);
    check_alive(rp, "a hello with a wrong identity");

    phase("malformed: random encrypted blocks");
    /* Valid handshake (encrypted blocks, v19), then random blocks: each is
     * one ERR BLOCK and the chain advances (PROTOCOL-NOTES B34), so PING still
     * works. */
    raw_open(rp, true, true, &rc);
    assert_ok(sx_smp_handshake_client_blocking(rc.tls, rp->fp, sx_smp_server_vrange(), CALL_TIMEOUT_MS,
                                               &rc.sess));
    assert_true(rc.sess.encrypted);
    raw_ping(&rc);
    for (int i = 0; i < 5; i++) {
        random_block(block);
        assert_ok(sx_tls_write_block(rc.tls, block, CALL_TIMEOUT_MS));
        /* The router used one key of the chain on it, so we skip one. */
        uint8_t key[SX_SBCHAIN_KEY_LEN], nonce[SX_CB_NONCE_LEN];
        assert_ok(sx_sbchain_step(&rc.sess.snd, key, nonce));
        raw_expect_err_block(&rc, block);
    }
    raw_ping(&rc);
    check_alive(rp, "random encrypted blocks");
    phase("malformed: random block content");
    /* Well-encrypted blocks whose content is random (any length, also
     * empty): errors at most, then PING. */
    for (int i = 0; i < 20; i++) {
        uint16_t len;
        sx_random_bytes((uint8_t *)&len, sizeof len);
        len = (uint16_t)(i == 0 ? 0 : len % (SX_BLOCK_ENC_MAX_CONTENT + 1));
        uint8_t *content = malloc(SX_BLOCK_SIZE);
        assert_non_null(content);
        sx_random_bytes(content, len);
        if (i % 3 == 1 && len > 0)
            content[0] = 1; /* one item: reaches the transmission parser */
        assert_ok(sx_smp_session_send_blocking(&rc.sess, rc.tls, sx_slice_of(content, len), CALL_TIMEOUT_MS));
        free(content);
    }
    raw_ping(&rc);
    phase("malformed: truncated block");
    /* Then half a block and an abrupt close. */
    random_block(block);
    assert_ok(sx_tls_write_full(rc.tls, block, 5000, CALL_TIMEOUT_MS));
    raw_close(&rc);
    check_alive(rp, "random content and a truncated block");

    phase("malformed: v6 bad padding");
    /* v6 (no ALPN, plain blocks) with a padding length beyond the block. */
    raw_open(rp, true, false, &rc);
    assert_ok(sx_smp_handshake_client_blocking(rc.tls, rp->fp, sx_smp_server_vrange(), CALL_TIMEOUT_MS,
                                               &rc.sess));
    assert_int_equal(rc.sess.version, SX_SMP_VERSION_MIN);
    assert_false(rc.sess.encrypted);
    random_block(block);
    block[0] = 0xff;
    block[1] = 0xff;
    assert_ok(sx_tls_write_block(rc.tls, block, CALL_TIMEOUT_MS));
    raw_expect_err_block(&rc, block);
    raw_ping(&rc);
    /* A truncated block closed with close_notify. */
    random_block(block);
    assert_ok(sx_tls_write_full(rc.tls, block, 700, CALL_TIMEOUT_MS));
    if (sx_tls_shutdown_blocking(rc.tls, CALL_TIMEOUT_MS) != SX_OK) {
        /* the router may have gone first: nothing to check here */
    }
    raw_close(&rc);
    check_alive(rp, "plain blocks with bad padding");
    free(block);

    phase("malformed: well-behaved client");
    /* The well-behaved client kept working through all of it. */
    deadline = now_ms() + START_TIMEOUT_MS;
    while (__atomic_load_n(&W.rounds, __ATOMIC_ACQUIRE) < rounds_before + 3 && !W.err[0] && now_ms() < deadline)
        sleep_ms(5);
    threads_join();
    if (W.err[0])
        fail_msg("the well-behaved client failed: %s", W.err);
    assert_true(W.rounds >= rounds_before + 3);
    print_message("well-behaved client: %d rounds\n", W.rounds);

    /* And a new client is served. */
    sx_smp_client *cl = connect_rp(rp);
    expect_simple(cl, NULL, SX_SMP_C_PING, NULL, SX_SMP_R_PONG);
    sx_smp_client_close(cl);
    router_stop(rp, SIGINT);
    rp->passed = true;
}

/* ---- 5: store log in the reference's format ------------------------------- */

static void key_text(const sx_key *k, char out[SX_KEY_TEXT_MAX])
{
    assert_ok(sx_key_public_to_text(k, out, SX_KEY_TEXT_MAX));
}

/* Splits text into lines (modifies it); returns the count. */
static size_t split_lines(char *text, char **lines, size_t max)
{
    size_t n = 0;
    for (char *p = text; *p && n < max;) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl); /* every record ends with '\n' */
        *nl = 0;
        lines[n++] = p;
        p = nl + 1;
    }
    return n;
}

/* "CREATE rid=.. rk=.. rdh=.. sid=.. sk=<sk> queue_mode=M updated_at=<day>". */
static void check_create_line(const char *line, const queue *q, const sx_key *skey)
{
    char rid[B64_ID_MAX], sid[B64_ID_MAX], rdh[B64_ID_MAX], rk[SX_KEY_TEXT_MAX], sk[SX_KEY_TEXT_MAX] = "";
    b64_id(q->rid, ID_LEN, rid);
    b64_id(q->sid, ID_LEN, sid);
    b64_id(q->secret, sizeof q->secret, rdh);
    key_text(q->rkey, rk);
    if (skey)
        key_text(skey, sk);
    char want[1024];
    snprintf(want, sizeof want, "CREATE rid=%s rk=%s rdh=%s sid=%s sk=%s queue_mode=M updated_at=", rid, rk, rdh,
             sid, sk);
    if (strncmp(line, want, strlen(want)) != 0)
        fail_msg("store log line\n  %s\nis not\n  %s<day>", line, want);
    const char *ts = line + strlen(want);
    char *end;
    long long day = strtoll(ts, &end, 10);
    assert_true(end > ts && *end == 0);
    long long now = (long long)time(NULL);
    assert_int_equal(day % 86400, 0);
    assert_true(day <= now && day > now - 2 * 86400);
}

static const char *find_line(char **lines, size_t n, const char *prefix)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(lines[i], prefix, strlen(prefix)) == 0)
            return lines[i];
    return NULL;
}

/* How many files in dir start with prefix. */
static size_t count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void test_store_log_written(void **state)
{
    router_proc *rp = *state;
    phase("store log while running");
    router_start(rp);
    sx_smp_client *cl = connect_rp(rp);
    queue qa, qb, qc;
    create_queue(cl, SX_KEY_ED25519, false, &qa);
    create_queue(cl, SX_KEY_X25519, false, &qb);
    secure_queue(cl, &qb, SX_KEY_ED25519);
    create_queue(cl, SX_KEY_ED448, false, &qc);
    expect_simple(cl, qc.rid, SX_SMP_C_DEL, qc.rkey, SX_SMP_R_OK);
    sx_smp_client_close(cl);

    /* Read while the router runs: each change is in the file before its OK. */
    char *text = read_text(rp->store_log, NULL);
    assert_non_null(text);
    char *lines[16];
    size_t n = split_lines(text, lines, 16);
    assert_int_equal(n, 5);
    char rid[B64_ID_MAX], want[512], sk[SX_KEY_TEXT_MAX];
    check_create_line(lines[0], &qa, NULL);
    check_create_line(lines[1], &qb, NULL);
    b64_id(qb.rid, ID_LEN, rid);
    key_text(qb.skey, sk);
    snprintf(want, sizeof want, "SECURE %s %s", rid, sk);
    assert_string_equal(lines[2], want);
    check_create_line(lines[3], &qc, NULL);
    b64_id(qc.rid, ID_LEN, rid);
    snprintf(want, sizeof want, "DELETE %s", rid);
    assert_string_equal(lines[4], want);
    free(text);
    router_stop(rp, SIGINT);

    /* PROTOCOL-NOTES E26: at start the log is compacted to one CREATE per live
     * queue with its current state, and the old one kept as a timestamped
     * backup. */
    phase("compacted store log");
    router_start(rp);
    text = read_text(rp->store_log, NULL);
    assert_non_null(text);
    n = split_lines(text, lines, 16);
    assert_int_equal(n, 2);
    b64_id(qa.rid, ID_LEN, rid);
    snprintf(want, sizeof want, "CREATE rid=%s ", rid);
    const char *la = find_line(lines, n, want);
    assert_non_null(la);
    check_create_line(la, &qa, NULL);
    b64_id(qb.rid, ID_LEN, rid);
    snprintf(want, sizeof want, "CREATE rid=%s ", rid);
    const char *lb = find_line(lines, n, want);
    assert_non_null(lb);
    check_create_line(lb, &qb, qb.skey);
    free(text);
    assert_int_equal(count_files(rp->var, "smp-server-store.log.20"), 1);
    router_stop(rp, SIGINT);
    queue_free(&qa);
    queue_free(&qb);
    queue_free(&qc);
    rp->passed = true;
}

/* A queue known only through a hand-written record. */
typedef struct hand_queue {
    queue q;
    char rid[B64_ID_MAX], sid[B64_ID_MAX], rdh[B64_ID_MAX], rk[SX_KEY_TEXT_MAX];
} hand_queue;

static void hand_queue_new(hand_queue *h, sx_key_alg alg)
{
    memset(h, 0, sizeof *h);
    assert_ok(sx_key_generate(alg, &h->q.rkey));
    sx_random_bytes(h->q.rid, ID_LEN);
    sx_random_bytes(h->q.sid, ID_LEN);
    sx_random_bytes(h->q.secret, sizeof h->q.secret);
    b64_id(h->q.rid, ID_LEN, h->rid);
    b64_id(h->q.sid, ID_LEN, h->sid);
    b64_id(h->q.secret, sizeof h->q.secret, h->rdh);
    key_text(h->q.rkey, h->rk);
}

static void test_store_log_by_hand(void **state)
{
    router_proc *rp = *state;
    /* Records as the reference writes them (PROTOCOL-NOTES E25): ids, keys and
     * secrets in padded base64url, keys as DER SubjectPublicKeyInfo. h1 plain,
     * h2 created then secured, h3 created then deleted, h4 with the legacy
     * sndSecure= field and an X25519 recipient key. */
    hand_queue h1, h2, h3, h4;
    hand_queue_new(&h1, SX_KEY_ED25519);
    hand_queue_new(&h2, SX_KEY_ED448);
    hand_queue_new(&h3, SX_KEY_ED25519);
    hand_queue_new(&h4, SX_KEY_X25519);
    assert_ok(sx_key_generate(SX_KEY_ED25519, &h2.q.skey));
    char sk2[SX_KEY_TEXT_MAX];
    key_text(h2.q.skey, sk2);
    long long day = (long long)time(NULL) / 86400 * 86400;
    char text[4096];
    int len = snprintf(text, sizeof text,
                       "CREATE rid=%s rk=%s rdh=%s sid=%s sk= queue_mode=M updated_at=%lld\n"
                       "CREATE rid=%s rk=%s rdh=%s sid=%s sk= queue_mode=M updated_at=%lld\n"
                       "SECURE %s %s\n"
                       "CREATE rid=%s rk=%s rdh=%s sid=%s sk= queue_mode=M\n"
                       "DELETE %s\n"
                       "CREATE rid=%s rk=%s rdh=%s sid=%s sk= sndSecure=T\n",
                       h1.rid, h1.rk, h1.rdh, h1.sid, day, h2.rid, h2.rk, h2.rdh, h2.sid, day, h2.rid, sk2, h3.rid,
                       h3.rk, h3.rdh, h3.sid, h3.rid, h4.rid, h4.rk, h4.rdh, h4.sid);
    assert_true(len > 0 && (size_t)len < sizeof text);
    assert_int_equal(mkdir(rp->var, 0700) == 0 || errno == EEXIST, 1);
    write_text(rp->store_log, text);

    phase("start on a hand-written store log");
    router_start(rp);
    char *out = read_text(rp->out, NULL);
    assert_non_null(out);
    if (!strstr(out, "Store log: 3 queues restored"))
        fail_msg("expected 3 queues restored from the hand-written log");
    free(out);

    sx_smp_client *cl = connect_rp(rp);
    sx_smp_client_reply r;
    /* h1 exists, unsecured; its messages are encrypted with our rdh secret. */
    send_ok(cl, &h1.q, "to a hand-written queue");
    static const char *const m1[] = {"to a hand-written queue"};
    expect_messages(cl, &h1.q, m1, 1);
    /* h2 is secured with sk2. */
    send_msg(cl, &h2.q, NULL, "unsigned", &r);
    expect_err(&r, SX_SMP_ERR_AUTH);
    sx_smp_client_reply_free(&r);
    send_ok(cl, &h2.q, "signed");
    static const char *const m2[] = {"signed"};
    expect_messages(cl, &h2.q, m2, 1);
    /* h3 was deleted. */
    expect_simple_err(cl, h3.q.rid, SX_SMP_C_SUB, h3.q.rkey, SX_SMP_ERR_AUTH);
    /* h4 (legacy line, X25519 key authorizing with authenticators). */
    expect_messages(cl, &h4.q, NULL, 0);
    /* A wrong key for h1 is refused. */
    expect_simple_err(cl, h1.q.rid, SX_SMP_C_SUB, h4.q.rkey, SX_SMP_ERR_AUTH);
    sx_smp_client_close(cl);
    router_stop(rp, SIGINT);
    queue_free(&h1.q);
    queue_free(&h2.q);
    queue_free(&h3.q);
    queue_free(&h4.q);
    rp->passed = true;
}

/* ---- 7: kill -9 while messages are sent (the message journal) ------------- */

#define MLOAD_THREADS 4
#define MLOAD_PER_QUEUE 100 /* messages sent to a queue before the next one */
#define MLOAD_ACKED 20      /* of which the first are received and ACKed */
#define MLOAD_BATCH 10
#define MLOAD_QUEUES 256

/* A queue of the message load: how many SENDs were answered OK, how many
 * of its first messages were received and ACKed with OK, and how many had
 * an ACK sent (one more than acked while an ACK awaits its answer: the kill
 * may come after the router removed the message and before the OK). */
typedef struct mqueue {
    queue q;
    int confirmed;
    int acked;
    int ack_sent;
} mqueue;

typedef struct mloader {
    const router_proc *rp;
    int index;
    mqueue qs[MLOAD_QUEUES];
    size_t n;
    char err[256];
} mloader;

static size_t g_confirmed; /* SEND OK, all threads */

static void mloader_note(mloader *L, const char *what, const char *why)
{
    if (!__atomic_load_n(&g_killed, __ATOMIC_ACQUIRE) && !L->err[0])
        snprintf(L->err, sizeof L->err, "%s: %s", what, why);
}

static void mbody(char *out, size_t cap, int thread, size_t qi, int seq)
{
    snprintf(out, cap, "t%d q%zu m%d", thread, qi, seq);
}

/* Creates a queue, sends it MLOAD_PER_QUEUE messages in batches, GETs and
 * ACKs the first MLOAD_ACKED of them meanwhile, then the next queue; until
 * the router dies or g_stop. */
static void *mloader_main(void *arg)
{
    mloader *L = arg;
    sx_status st;
    sx_smp_client *cl = try_connect(L->rp, CALL_TIMEOUT_MS, &st);
    if (!cl) {
        mloader_note(L, "connect", sx_status_str(st));
        return NULL;
    }
    while (!__atomic_load_n(&g_stop, __ATOMIC_ACQUIRE) && L->n < MLOAD_QUEUES) {
        mqueue *mq = &L->qs[L->n];
        sx_key *rdh = NULL;
        sx_smp_cmd c;
        uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
        sx_smp_client_reply r = {0};
        st = new_cmd(&mq->q, SX_KEY_ED25519, false, &rdh, &c, b1, b2);
        if (st == SX_OK)
            st = sx_smp_client_call(cl, sx_slice_of(NULL, 0), &c, mq->q.rkey, &r);
        if (st == SX_OK)
            st = take_ids(&mq->q, rdh, &r);
        sx_smp_client_reply_free(&r);
        sx_key_free(rdh);
        if (st != SX_OK) {
            mloader_note(L, "NEW", sx_status_str(st));
            break;
        }
        size_t qi = L->n++;
        for (int sent = 0; sent < MLOAD_PER_QUEUE && st == SX_OK;) {
            static __thread char bodies[MLOAD_BATCH][64];
            sx_smp_cmd cmds[MLOAD_BATCH];
            sx_smp_client_cmd cc[MLOAD_BATCH];
            sx_smp_client_reply rep[MLOAD_BATCH];
            memset(rep, 0, sizeof rep);
            for (int i = 0; i < MLOAD_BATCH; i++) {
                mbody(bodies[i], sizeof bodies[i], L->index, qi, sent + i);
                memset(&cmds[i], 0, sizeof cmds[i]);
                cmds[i].tag = SX_SMP_C_SEND;
                cmds[i].send.body = sx_slice_str(bodies[i]);
                cc[i] = (sx_smp_client_cmd){.entity = sx_slice_of(mq->q.sid, ID_LEN), .cmd = &cmds[i]};
            }
            st = sx_smp_client_call_many(cl, cc, MLOAD_BATCH, rep);
            /* Replies may come in any order; messages are stored in order, so
             * OKs form a prefix unless an error cut the batch. */
            for (int i = 0; i < MLOAD_BATCH && st == SX_OK; i++) {
                if (reply_is(&rep[i], SX_SMP_R_OK) && mq->confirmed == sent + i) {
                    mq->confirmed++;
                    __atomic_add_fetch(&g_confirmed, 1, __ATOMIC_ACQ_REL);
                } else if (!reply_is(&rep[i], SX_SMP_R_OK)) {
                    mloader_note(L, "SEND reply", reply_name(&rep[i]));
                    st = SX_E_PROTOCOL;
                }
            }
            for (int i = 0; i < MLOAD_BATCH; i++)
                sx_smp_client_reply_free(&rep[i]);
            if (st != SX_OK)
                break;
            sent += MLOAD_BATCH;
            /* GET and ACK one message (of the first MLOAD_ACKED). */
            for (int k = 0; k < 2 && mq->acked < MLOAD_ACKED && st == SX_OK; k++) {
                sx_smp_cmd g = {.tag = SX_SMP_C_GET};
                st = sx_smp_client_call(cl, sx_slice_of(mq->q.rid, ID_LEN), &g, mq->q.rkey, &r);
                char want[64];
                mbody(want, sizeof want, L->index, qi, mq->acked);
                uint8_t id[ID_LEN];
                if (st == SX_OK && !msg_matches(&mq->q, &r, want, id)) {
                    mloader_note(L, "GET", reply_name(&r));
                    st = SX_E_PROTOCOL;
                }
                sx_smp_client_reply_free(&r);
                if (st == SX_OK) {
                    /* No assertions on this thread: the kill fails calls. */
                    sx_smp_cmd a = {.tag = SX_SMP_C_ACK};
                    a.msg_id = sx_slice_of(id, ID_LEN);
                    mq->ack_sent = mq->acked + 1;
                    st = sx_smp_client_call(cl, sx_slice_of(mq->q.rid, ID_LEN), &a, mq->q.rkey, &r);
                    if (st == SX_OK && reply_is(&r, SX_SMP_R_OK))
                        mq->acked++;
                    else if (st == SX_OK)
                        st = SX_E_PROTOCOL;
                    sx_smp_client_reply_free(&r);
                }
            }
        }
        if (st != SX_OK) {
            mloader_note(L, "load", sx_status_str(st));
            break;
        }
    }
    sx_smp_client_close(cl);
    return NULL;
}

/* After the restart: every message told OK and not ACKed must come back,
 * in order (a message whose ACK was answered may come back too: its
 * removal need not be durable; one sent but not answered may come back).
 * Returns how many confirmed messages are missing; *restored counts the
 * confirmed ones found. */
static size_t drain_check(sx_smp_client *cl, int thread, size_t qi, const mqueue *mq, size_t *restored)
{
    expect_simple(cl, mq->q.rid, SX_SMP_C_SUB, mq->q.rkey, SX_SMP_R_SOK);
    int next = 0; /* next sequence number expected at least */
    sx_smp_client_reply r;
    uint8_t id[ID_LEN];
    bool have = sx_smp_client_next_event(cl, 300, &r) == SX_OK;
    while (have) {
        expect_tag(&r, SX_SMP_R_MSG);
        int seq = -1;
        for (int s = next; s < mq->confirmed + MLOAD_BATCH && seq < 0; s++) {
            char want[64];
            mbody(want, sizeof want, thread, qi, s);
            if (msg_matches(&mq->q, &r, want, id))
                seq = s;
        }
        if (seq < 0) {
            /* A message ACKed before the kill, delivered again: before next. */
            bool old = false;
            for (int s = 0; s < next && !old; s++) {
                char want[64];
                mbody(want, sizeof want, thread, qi, s);
                old = msg_matches(&mq->q, &r, want, id);
            }
            if (!old)
                fail_msg("queue t%d q%zu: an unexpected or out-of-order message after the restart", thread, qi);
        } else {
            int gone = mq->ack_sent > mq->acked ? mq->ack_sent : mq->acked; /* may be removed */
            int from = next > gone ? next : gone;
            if (seq >= gone && seq < mq->confirmed && seq != from)
                fail_msg("queue t%d q%zu: confirmed messages %d..%d lost", thread, qi, from, seq - 1);
            if (seq < mq->confirmed)
                (*restored)++;
            next = seq + 1;
        }
        sx_smp_client_reply_free(&r);
        ack(cl, &mq->q, id, &r);
        have = reply_is(&r, SX_SMP_R_MSG);
        if (!have)
            expect_tag(&r, SX_SMP_R_OK);
        if (!have)
            sx_smp_client_reply_free(&r);
    }
    int gone = mq->ack_sent > mq->acked ? mq->ack_sent : mq->acked;
    int first = next > gone ? next : gone;
    return mq->confirmed > first ? (size_t)(mq->confirmed - first) : 0;
}

static void test_kill9_messages(void **state)
{
    router_proc *rp = *state;
    phase("message load");
    router_start(rp);
    static mloader ls[MLOAD_THREADS];
    memset(ls, 0, sizeof ls);
    __atomic_store_n(&g_confirmed, 0, __ATOMIC_RELEASE);
    for (int t = 0; t < MLOAD_THREADS; t++) {
        ls[t].rp = rp;
        ls[t].index = t;
        thread_start(mloader_main, &ls[t]);
    }
    int64_t deadline = now_ms() + START_TIMEOUT_MS;
    while (__atomic_load_n(&g_confirmed, __ATOMIC_ACQUIRE) < 300 && now_ms() < deadline)
        sleep_ms(5);
    uint16_t rnd;
    sx_random_bytes((uint8_t *)&rnd, sizeof rnd);
    int delay = 200 + rnd % 800;
    sleep_ms(delay);
    __atomic_store_n(&g_killed, 1, __ATOMIC_RELEASE);
    router_stop(rp, SIGKILL);
    threads_join();
    size_t confirmed = 0, acked = 0, queues = 0;
    for (int t = 0; t < MLOAD_THREADS; t++) {
        if (ls[t].err[0])
            fail_msg("load thread %d before the kill: %s", t, ls[t].err);
        queues += ls[t].n;
        for (size_t i = 0; i < ls[t].n; i++) {
            confirmed += (size_t)ls[t].qs[i].confirmed;
            acked += (size_t)ls[t].qs[i].acked;
        }
    }
    assert_true(confirmed >= 300);

    phase("restart after kill -9 under message load");
    router_start(rp);
    sx_smp_client *cl = connect_rp(rp);
    size_t lost = 0, restored = 0;
    for (int t = 0; t < MLOAD_THREADS; t++)
        for (size_t i = 0; i < ls[t].n; i++)
            lost += drain_check(cl, t, i, &ls[t].qs[i], &restored);
    sx_smp_client_close(cl);
    print_message("kill -9 after %d ms of message load: %zu queues, %zu SENDs confirmed, %zu ACKed, %zu "
                  "confirmed and not ACKed restored, %zu lost\n",
                  delay, queues, confirmed, acked, restored, lost);
    assert_int_equal(lost, 0);
    router_stop(rp, SIGINT);
    for (int t = 0; t < MLOAD_THREADS; t++)
        for (size_t i = 0; i < ls[t].n; i++)
            queue_free(&ls[t].qs[i].q);
    rp->passed = true;
}

/* ---- 8: a full disk ----------------------------------------------------------- */

/* The log folder on a small tmpfs of its own when this process may mount
 * one (root in CI); otherwise the router's file size limit (prlimit) stands
 * for the full disk. */
typedef struct disk {
    bool tmpfs;
    char filler[256];
} disk;

static void disk_setup(router_proc *rp, disk *d)
{
    memset(d, 0, sizeof d[0]);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "mv '%s' '%s.orig' && mkdir '%s' && mount -t tmpfs -o size=8m tmpfs '%s' 2>/dev/null && "
             "cp -a '%s.orig/.' '%s/'",
             rp->var, rp->var, rp->var, rp->var, rp->var, rp->var);
    /* SX_TEST_NO_TMPFS=1 tries the other way where mounting works too. */
    const char *no = getenv("SX_TEST_NO_TMPFS");
    d->tmpfs = !(no && strcmp(no, "1") == 0) && system(cmd) == 0;
    if (!d->tmpfs) {
        snprintf(cmd, sizeof cmd, "if [ -d '%s.orig' ]; then rmdir '%s' 2>/dev/null; mv '%s.orig' '%s'; fi",
                 rp->var, rp->var, rp->var, rp->var);
        assert_int_equal(system(cmd), 0);
    }
    snprintf(d->filler, sizeof d->filler, "%s/filler", rp->var);
    print_message("full disk by %s\n", d->tmpfs ? "a tmpfs of 8 MB" : "the router's file size limit");
}

static void disk_teardown(router_proc *rp, disk *d)
{
    if (!d->tmpfs)
        return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "umount '%s'", rp->var);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot unmount %s\n", rp->var);
}

static void disk_fill(router_proc *rp, disk *d)
{
    if (d->tmpfs) {
        int fd = open(d->filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        static uint8_t buf[65536];
        while (write(fd, buf, sizeof buf) > 0) {
        }
        int n;
        while ((n = (int)write(fd, buf, 1)) > 0) {
        }
        close(fd);
        return;
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "prlimit --pid %d --fsize=1:", (int)rp->pid);
    assert_int_equal(system(cmd), 0);
}

static void disk_free(router_proc *rp, disk *d)
{
    if (d->tmpfs) {
        assert_int_equal(unlink(d->filler), 0);
        return;
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "prlimit --pid %d --fsize=unlimited:", (int)rp->pid);
    assert_int_equal(system(cmd), 0);
}

/* Waits until the router's output holds text (the log's state). */
static void wait_output(router_proc *rp, const char *text, size_t times)
{
    int64_t deadline = now_ms() + CALL_TIMEOUT_MS;
    for (;;) {
        char *out = read_text(rp->out, NULL);
        size_t n = 0;
        for (const char *p = out; p && (p = strstr(p, text)) != NULL; p++)
            n++;
        free(out);
        if (n >= times)
            return;
        if (now_ms() > deadline)
            fail_msg("the router did not say \"%s\" (%zu times)", text, times);
        sleep_ms(20);
    }
}

/* Larger than a page, so that its record cannot fit in what the last page
 * of the journal has left on the tmpfs. */
static char g_held_body[12001];

typedef struct held_send {
    const router_proc *rp;
    const queue *q;
    bool ok;
    char err[128];
} held_send;

/* A SEND whose record meets the full disk: its answer waits. */
static void *held_send_main(void *arg)
{
    held_send *h = arg;
    sx_status st;
    sx_smp_client_opts o = {.timeout_ms = 30000};
    sx_smp_client *cl = NULL;
    st = sx_smp_client_connect("127.0.0.1", h->rp->port, h->rp->fp, &o, &cl);
    if (st != SX_OK) {
        snprintf(h->err, sizeof h->err, "connect: %s", sx_status_str(st));
        return NULL;
    }
    sx_smp_cmd c = {.tag = SX_SMP_C_SEND};
    c.send.body = sx_slice_str(g_held_body);
    sx_smp_client_reply r = {0};
    st = sx_smp_client_call(cl, sx_slice_of(h->q->sid, ID_LEN), &c, NULL, &r);
    if (st == SX_OK && reply_is(&r, SX_SMP_R_OK))
        h->ok = true;
    else
        snprintf(h->err, sizeof h->err, "%s", st == SX_OK ? reply_name(&r) : sx_status_str(st));
    sx_smp_client_reply_free(&r);
    sx_smp_client_close(cl);
    return NULL;
}

static void test_disk_full(void **state)
{
    router_proc *rp = *state;
    disk d;
    disk_setup(rp, &d);
    phase("disk full");
    router_start(rp);
    sx_smp_client *cl = connect_rp(rp);
    queue q;
    create_queue(cl, SX_KEY_ED25519, false, &q);
    static const char *const before[] = {"before 0", "before 1", "before 2", "before 3"};
    for (size_t i = 0; i < 4; i++)
        send_ok(cl, &q, before[i]);

    memset(g_held_body, 'h', sizeof g_held_body - 1);
    disk_fill(rp, &d);
    /* The first record to meet the full disk: its OK waits (the writer
     * keeps the batch and tries again). */
    static held_send h;
    memset(&h, 0, sizeof h);
    h.rp = rp;
    h.q = &q;
    thread_start(held_send_main, &h);
    /* The router says so on stderr, which a file size limit silences too. */
    if (d.tmpfs)
        wait_output(rp, "changes are refused until the log can be written again", 1);
    else
        sleep_ms(500);
    /* Now SEND is refused at once with ERR STORE: nothing is confirmed that
     * is not written. */
    sx_smp_client_reply r;
    send_msg(cl, &q, NULL, "refused", &r);
    expect_err(&r, SX_SMP_ERR_STORE);
    sx_smp_client_reply_free(&r);
    /* Reads go on: GET and ACK what is stored. */
    sx_smp_cmd g = {.tag = SX_SMP_C_GET};
    assert_ok(sx_smp_client_call(cl, sx_slice_of(q.rid, ID_LEN), &g, q.rkey, &r));
    uint8_t id[ID_LEN];
    check_msg(&q, &r, "before 0", id);
    sx_smp_client_reply_free(&r);
    ack(cl, &q, id, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    assert_false(h.ok);

    phase("space back");
    disk_free(rp, &d);
    threads_join();
    if (!h.ok)
        fail_msg("the SEND held over the full disk: %s", h.err);
    if (d.tmpfs)
        wait_output(rp, "can be written again", 1);
    send_ok(cl, &q, "after");
    sx_smp_client_close(cl);

    phase("kill -9 after the full disk");
    router_stop(rp, SIGKILL);
    router_start(rp);
    cl = connect_rp(rp);
    const char *const want[] = {"before 1", "before 2", "before 3", g_held_body, "after"};
    expect_messages(cl, &q, want, 5);
    send_ok(cl, &q, "kept");
    sx_smp_client_close(cl);

    phase("failed save at exit");
    disk_fill(rp, &d);
    assert_int_equal(kill(rp->pid, SIGINT), 0);
    int status = 0;
    assert_true(wait_exit(rp->pid, STOP_TIMEOUT_MS, &status));
    rp->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 0)
        fail_msg("a failed save at exit gave status 0x%x", (unsigned)status);
    char journal[256];
    snprintf(journal, sizeof journal, "%s/smp-server-messages.wal", rp->var);
    assert_true(file_exists(journal));
    if (d.tmpfs)
        disk_free(rp, &d);
    router_start(rp);
    cl = connect_rp(rp);
    static const char *const kept[] = {"kept"};
    expect_messages(cl, &q, kept, 1);
    sx_smp_client_close(cl);
    router_stop(rp, SIGINT);
    /* A clean stop removes the journal again. */
    assert_false(file_exists(journal));
    assert_true(file_exists(rp->msg_log));
    queue_free(&q);
    disk_teardown(rp, &d);
    rp->passed = true;
}

/* ---- descriptor exhaustion ------------------------------------------------ */

/* utime + stime of a process, in clock ticks (/proc/<pid>/stat). */
static long long cpu_ticks(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *text = read_text(path, NULL);
    assert_non_null(text);
    /* the fields after the command name, which may hold spaces */
    const char *p = strrchr(text, ')');
    assert_non_null(p);
    unsigned long long ut = 0, st = 0;
    assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st), 2);
    free(text);
    return (long long)(ut + st);
}

/* A router limited to 48 open files, with 100 connections waiting: accept
 * fails with EMFILE, and the router must neither spin (the listener stays
 * readable) nor stop accepting for good: once the connections close, a
 * client is served. */
static void test_fd_exhaustion(void **state)
{
    router_proc *rp = *state;
    enum { LIMIT = 48, N = 100 };
    g_nofile = LIMIT;
    router_start(rp);
    g_nofile = 0;
    char *out = read_text(rp->out, NULL);
    assert_non_null(out);
    assert_non_null(strstr(out, "Open files limit: 48\n"));
    free(out);

    phase("fd exhaustion: connections");
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fds[i] >= 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(rp->port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0);
    }
    sleep_ms(500);
    phase("fd exhaustion: CPU while out of descriptors");
    long long t0 = cpu_ticks(rp->pid);
    sleep_ms(2000);
    long long used = cpu_ticks(rp->pid) - t0;
    long hz = sysconf(_SC_CLK_TCK);
    /* spinning would be about 2 s of CPU (2 * hz); allow 10 % */
    fprintf(stderr, "router CPU while out of descriptors: %lld of %ld ticks\n", used, 2 * hz);
    if (used * 10 > 2 * hz)
        fail_msg("the router used %lld of %ld ticks while out of descriptors", used, 2 * hz);
    out = read_text(rp->out, NULL);
    assert_non_null(out);
    assert_non_null(strstr(out, "accept failed: Too many open files"));
    free(out);

    phase("fd exhaustion: served again");
    for (int i = 0; i < N; i++)
        close(fds[i]);
    sx_smp_client *cl = connect_rp(rp);
    queue q;
    create_queue(cl, SX_KEY_ED25519, false, &q);
    queue_free(&q);
    sx_smp_client_close(cl);
    router_stop(rp, SIGINT);
    rp->passed = true;
}

static long rss_kib(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *text = read_text(path, NULL);
    assert_non_null(text);
    const char *p = strstr(text, "VmRSS:");
    assert_non_null(p);
    long kib = strtol(p + 6, NULL, 10);
    free(text);
    return kib;
}

/* Connections that have not started TLS cost the router little: no TLS
 * object until the client's hello has come (sx_kit_tls_step), about 45 KB
 * each before. 800 of them, silent or with the first 3 bytes of a record,
 * must stay under 8 KiB each. */
static void test_pre_tls_memory(void **state)
{
    router_proc *rp = *state;
    enum { N = 800 };
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max < N + 64)
        skip();
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    router_start(rp);
    sleep_ms(300);
    long before = rss_kib(rp->pid);
    static int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fds[i] >= 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(rp->port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0);
        if (i % 2) {
            static const uint8_t part[3] = {22, 3, 1}; /* a handshake record begins */
            assert_int_equal(send(fds[i], part, sizeof part, MSG_NOSIGNAL), 3);
        }
    }
    sleep_ms(1000);
    long during = rss_kib(rp->pid);
    fprintf(stderr, "router RSS: %ld KiB, with %d connections before TLS %ld KiB (%.1f KiB each)\n", before, N,
            during, (double)(during - before) / N);
    if ((during - before) > 8 * N)
        fail_msg("%ld KiB for %d connections before TLS", during - before, N);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    /* and it still serves */
    sx_smp_client *cl = connect_rp(rp);
    sx_smp_client_close(cl);
    router_stop(rp, SIGINT);
    rl.rlim_cur = old;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    rp->passed = true;
}

/* --log-level debug: a line for each connection accepted, its handshake
 * and its close with the reason; at the default level (info) none, but the
 * start and stop notes; --log-level error: no notes, only errors. */
static void test_log_level(void **state)
{
    router_proc *rp = *state;
    phase("log level: default");
    router_start(rp); /* its probe connection comes and goes */
    sx_smp_client *cl = connect_rp(rp);
    queue q;
    create_queue(cl, SX_KEY_ED25519, false, &q);
    queue_free(&q);
    sx_smp_client_close(cl);
    sleep_ms(300);
    router_stop(rp, SIGINT);
    char *out = read_text(rp->out, NULL);
    assert_non_null(out);
    assert_null(strstr(out, "[DEBUG "));
    assert_null(strstr(out, ": accepted on port"));
    /* the start and stop notes (NOTE, as the reference's logNote) */
    assert_non_null(strstr(out, "] Store log: 0 queues restored"));
    assert_non_null(strstr(out, "] Received SIGINT, stopping the server..."));
    assert_non_null(strstr(out, "] Server stopped"));
    free(out);
    assert_int_equal(truncate(rp->out, 0), 0);

    phase("log level: error");
    g_start_arg = "--log-level";
    g_start_arg2 = "error";
    router_start(rp);
    g_start_arg = g_start_arg2 = NULL;
    /* a folder where the saved messages' temporary file goes: the save at
     * the stop fails, and says so at ERROR */
    char blocker[sizeof rp->msg_log + 8];
    snprintf(blocker, sizeof blocker, "%s.tmp", rp->msg_log);
    assert_int_equal(mkdir(blocker, 0700), 0);
    assert_int_equal(kill(rp->pid, SIGINT), 0);
    int status = 0;
    assert_true(wait_exit(rp->pid, STOP_TIMEOUT_MS, &status));
    rp->pid = 0;
    assert_int_equal(rmdir(blocker), 0);
    out = read_text(rp->out, NULL);
    assert_non_null(out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1) {
        dump_output(rp);
        fail_msg("a stop that could not save the messages ended with status 0x%x", (unsigned)status);
    }
    /* no notes; the error, with its level */
    if (strstr(out, "queues restored") || strstr(out, "compacting") || strstr(out, "Received SIGINT") || strstr(out, "Server stopped") ||
        strstr(out, "[NOTE ") || strstr(out, "[INFO ")) {
        dump_output(rp);
        fail_msg("--log-level error printed notes");
    }
    assert_non_null(strstr(out, "[ERROR "));
    assert_non_null(strstr(out, "Error saving messages to "));
    /* the configuration is printed whatever the level, as the reference does */
    assert_non_null(strstr(out, "Serving SMP protocol on port "));
    free(out);
    assert_int_equal(truncate(rp->out, 0), 0);

    phase("log level: debug");
    g_start_arg = "--log-level";
    g_start_arg2 = "debug";
    router_start(rp);
    g_start_arg = g_start_arg2 = NULL;
    cl = connect_rp(rp);
    create_queue(cl, SX_KEY_ED25519, false, &q);
    queue_free(&q);
    sx_smp_client_close(cl);
    /* and one whose TLS fails */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(rp->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    /* a whole TLS record of a handshake message of no known type */
    static const uint8_t junk[9] = {22, 3, 1, 0, 4, 0xff, 0, 0, 0};
    assert_int_equal(send(fd, junk, sizeof junk, MSG_NOSIGNAL), (ssize_t)sizeof junk);
    sleep_ms(300);
    close(fd);
    int64_t deadline = now_ms() + EVENT_TIMEOUT_MS;
    for (;;) {
        out = read_text(rp->out, NULL);
        assert_non_null(out);
        if (count_prefixed(out, "[DEBUG ") >= 3 && strstr(out, "closed (peer closed)") &&
            strstr(out, "closed (TLS error)"))
            break;
        if (now_ms() > deadline) {
            dump_output(rp);
            fail_msg("the debug lines of the connections did not come");
        }
        free(out);
        sleep_ms(50);
    }
    assert_non_null(strstr(out, ": accepted on port "));
    assert_non_null(strstr(out, ": handshake done, SMP version "));
    /* the line's form: [DEBUG yyyy-mm-dd hh:mm:ss +zzzz server.c:n] client k: ... */
    const char *l = strstr(out, "[DEBUG ");
    assert_true(l[11] == '-' && l[14] == '-' && l[17] == ' ' && l[20] == ':' && l[26] == ' ');
    assert_true(l[27] == '+' || l[27] == '-');
    assert_non_null(strstr(out, " server.c:"));
    free(out);
    router_stop(rp, SIGINT);
    rp->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigint_restart, setup_rp, teardown_rp),
        cmocka_unit_test_setup_teardown(test_sigterm_restart, setup_rp, teardown_rp),
        cmocka_unit_test_setup_teardown(test_kill9_under_load, setup_rp, teardown_rp),
        cmocka_unit_test_setup_teardown(test_malformed_traffic, setup_rp, teardown_rp),
        cmocka_unit_test_setup_teardown(test_store_log_written, setup_rp, teardown_rp),
        cmocka_unit_test_setup_teardown(test_store_log_by_hand, setup_rp, teardown_rp),
        cmocka_unit_test_setup_teardown(test_kill9_messages, setup_rp, teardown_rp),
        cmocka_unit_test_setup_teardown(test_disk_full, setup_rp, teardown_rp),
        cmocka_unit_test_setup_teardown(test_fd_exhaustion, setup_rp, teardown_rp),
        cmocka_unit_test_setup_teardown(test_pre_tls_memory, setup_rp, teardown_rp),
        cmocka_unit_test_setup_teardown(test_log_level, setup_rp, teardown_rp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
