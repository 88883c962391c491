/* The SMP connection pool (sx_smp_pool_* of simplex/smp.h) against the real
 * smp-server program as a child process: queues subscribed through one
 * shared connection, messages sent through the pool and acknowledged, the
 * router killed with SIGKILL and started again on the same port and store
 * while messages wait, the pool reconnecting with back-off and subscribing
 * every queue again; every message confirmed by the router is acknowledged
 * exactly once and none is delivered after its acknowledgement; the
 * acknowledgement of a message delivered on the ended session is refused
 * and the message comes again on the new one. Plus the calls a program can
 * get wrong, a subscription the router refuses (AUTH), END when another
 * connection subscribes and DELETED when the queue is deleted (the pool
 * lets go of the queue each time), a send that makes its connection on demand, and the pool on a
 * thread of its own (sx_smp_tpool) used from a consumer thread and two
 * sender threads across the same kill and restart.
 *
 * Notifier subscriptions (NSUB) get NMSG as NOTIFICATION events, are made
 * again after a kill and end with END when another connection takes them.
 *
 * What the test exercises goes through simplex/simplex.h; the library's own
 * client only makes the notifier (NKEY) and sends with the notification
 * flag. The router runs as `smp-server start` in a temporary folder. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "simplex/simplex.h"

/* Only for what the public API cannot do: NKEY, and SEND with the
 * notification flag, to make a notifier to subscribe with NSUB. */
#include "smp_client/smp_api_int.h"
#include "smp_client/smp_client.h"
#include "core/base64.h"
#include "smp/encoding.h"

#ifndef SX_SMP_SERVER_BIN
#error "SX_SMP_SERVER_BIN must name the smp-server executable"
#endif

#define NQ 200           /* queues */
#define NK 4             /* messages per queue: 0 pool, 1 held/pool, 2 before the kill, 3 after */
#define WAIT_MS 30000    /* every wait of the loop */
#define START_MS 30000

#define assert_contains_text(s, part)                                                                  \
    do {                                                                                               \
        if (!strstr((s), (part)))                                                                      \
            fail_msg("'%s' does not contain '%s'", (s), (part));                                       \
    } while (0)

extern char **environ;

/* ---- the router process ---- */

static struct {
    char dir[64], etc[128], var[128], out[192], ini[192];
    char env_cfg[160], env_log[160];
    char **envp;
    char fp[128];
    char addr[256];
    uint16_t port;
    pid_t pid;
} R;

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

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void dump_output(void)
{
    char *t = read_text(R.out);
    if (t) {
        size_t n = strlen(t);
        fprintf(stderr, "---- smp-server output ----\n%s---- end ----\n", n > 4000 ? t + n - 4000 : t);
        free(t);
    }
}

static pid_t spawn(char *const argv[])
{
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(R.out, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a crashed test leaves no router behind */
        if (getppid() != parent)
            _exit(125);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execve(SX_SMP_SERVER_BIN, argv, R.envp);
        _exit(127);
    }
    return pid;
}

static bool wait_exit(pid_t pid, int timeout_ms, int *status)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (waitpid(pid, status, WNOHANG) != pid) {
        if (now_ms() > deadline)
            return false;
        sleep_ms(10);
    }
    return true;
}

/* The INI with our port. */
static void ini_set_port(uint16_t port)
{
    char *text = read_text(R.ini);
    assert_non_null(text);
    FILE *f = fopen(R.ini, "wb");
    assert_non_null(f);
    int ports = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        int n = nl ? (int)(nl - line) : (int)strlen(line);
        if (strncmp(line, "port:", 5) == 0) {
            fprintf(f, "port: %u\n", port);
            ports++;
        } else {
            fprintf(f, "%.*s\n", n, line);
        }
        line += n + (nl ? 1 : 0);
    }
    assert_int_equal(fclose(f), 0);
    assert_int_equal(ports, 1);
    free(text);
}

/* Starts the router on R.port and returns once a client got through the
 * handshake. */
static void router_start(void)
{
    assert_int_equal(R.pid, 0);
    char *argv[] = {"smp-server", "start", NULL};
    R.pid = spawn(argv);
    int64_t deadline = now_ms() + START_MS;
    for (;;) {
        int status;
        if (waitpid(R.pid, &status, WNOHANG) == R.pid) {
            R.pid = 0;
            dump_output();
            fail_msg("smp-server exited at start (status 0x%x)", (unsigned)status);
        }
        sx_smp_conn_opts o = {.timeout_ms = 2000};
        sx_smp_conn *c = NULL;
        if (sx_smp_connect(R.addr, &o, &c) == SX_OK) {
            sx_smp_close(c);
            return;
        }
        if (now_ms() > deadline) {
            dump_output();
            fail_msg("smp-server did not accept connections within %d ms", START_MS);
        }
        sleep_ms(50);
    }
}

static void router_kill9(void)
{
    assert_true(R.pid > 0);
    assert_int_equal(kill(R.pid, SIGKILL), 0);
    int status = 0;
    assert_true(wait_exit(R.pid, 30000, &status));
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    R.pid = 0;
}

static int setup(void **state)
{
    (void)state;
    memset(&R, 0, sizeof R);
    snprintf(R.dir, sizeof R.dir, "/tmp/sx_pool_XXXXXX");
    if (!mkdtemp(R.dir))
        return -1;
    snprintf(R.etc, sizeof R.etc, "%s/etc", R.dir);
    snprintf(R.var, sizeof R.var, "%s/var", R.dir);
    snprintf(R.out, sizeof R.out, "%s/output.log", R.dir);
    snprintf(R.ini, sizeof R.ini, "%s/smp-server.ini", R.etc);
    size_t n = 0;
    while (environ[n])
        n++;
    R.envp = calloc(n + 3, sizeof *R.envp);
    if (!R.envp)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SMP_SERVER_CFG_PATH=", 20) != 0 && strncmp(environ[i], "SMP_SERVER_LOG_PATH=", 20) != 0)
            R.envp[k++] = environ[i];
    snprintf(R.env_cfg, sizeof R.env_cfg, "SMP_SERVER_CFG_PATH=%s", R.etc);
    snprintf(R.env_log, sizeof R.env_log, "SMP_SERVER_LOG_PATH=%s", R.var);
    R.envp[k++] = R.env_cfg;
    R.envp[k++] = R.env_log;
    signal(SIGPIPE, SIG_IGN);
    char *argv[] = {"smp-server", "init", "-y", "--no-password", NULL};
    pid_t pid = spawn(argv);
    int status = 0;
    if (!wait_exit(pid, 60000, &status) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        dump_output();
        return -1;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/fingerprint", R.etc);
    char *fp = read_text(path);
    if (!fp)
        return -1;
    fp[strcspn(fp, "\r\n")] = 0;
    snprintf(R.fp, sizeof R.fp, "%s", fp);
    free(fp);
    R.port = tu_free_port();
    ini_set_port(R.port);
    snprintf(R.addr, sizeof R.addr, "smp://%s@127.0.0.1:%u", R.fp, R.port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (R.pid > 0) {
        int status;
        kill(R.pid, SIGKILL);
        (void)wait_exit(R.pid, 30000, &status);
        R.pid = 0;
    }
    free(R.envp);
    tu_rm_rf(R.dir);
    return 0;
}

/* ---- what the pool reported ---- */

typedef struct qrec {
    sx_smp_queue *rq, *sq;
    int delivered[NK]; /* MESSAGE events of each message */
    int acked[NK];     /* acknowledgements the router confirmed */
    bool sent[NK];     /* the router confirmed the SEND */
} qrec;

static struct {
    sx_loop *loop;
    sx_smp_pool *pool;
    qrec q[NQ];
    int connected, disconnected, connect_failed, subscribed, sub_failed;
    uint64_t session;             /* of the last CONNECTED */
    int sends_ok, sends_failed, acks_ok, acks_failed;
    bool hold;                    /* keep the next message of queue 0 unacknowledged */
    bool held;
    sx_smp_pool_event held_e;     /* that message's event (copied) */
    sx_smp_event held_ev;
    uint64_t held_session;
    sx_status stale_ack;          /* the ack of the held event on the new session */
    bool stale_tried;
    int bodies_seen_after_ack;
    int ends;                     /* END or DELETED events */
    sx_smp_queue *end_q, *sub_failed_q;
    sx_smp_event_kind end_kind;
    sx_status sub_failed_st;
    char sub_failed_code[32];
    char bad[256];
} S;

static void note_bad(const char *what)
{
    if (!S.bad[0])
        snprintf(S.bad, sizeof S.bad, "%s", what);
}

static int queue_index(const sx_smp_queue *q)
{
    for (int i = 0; i < NQ; i++)
        if (S.q[i].rq == q)
            return i;
    return -1;
}

typedef struct msg_ref {
    int i, k;
} msg_ref;

static msg_ref refs[NQ][NK];

static void ack_done(sx_smp_pool *p, sx_status st, void *arg)
{
    (void)p;
    msg_ref *m = arg;
    if (st == SX_OK) {
        S.acks_ok++;
        S.q[m->i].acked[m->k]++;
    } else {
        S.acks_failed++; /* the connection ended first: the message comes again */
    }
}

static void send_done(sx_smp_pool *p, sx_status st, void *arg)
{
    (void)p;
    msg_ref *m = arg;
    if (st == SX_OK) {
        S.sends_ok++;
        S.q[m->i].sent[m->k] = true;
    } else {
        S.sends_failed++;
    }
}

static void on_event(sx_smp_pool *p, const sx_smp_pool_event *e, void *arg)
{
    (void)arg;
    if (p != S.pool)
        note_bad("event of another pool");
    if (!e->server || !strstr(e->server, "127.0.0.1"))
        note_bad("event without the router's address");
    switch (e->kind) {
    case SX_SMP_POOL_CONNECTED:
        S.connected++;
        if (e->session <= S.session)
            note_bad("session numbers do not grow");
        S.session = e->session;
        if (S.held && !S.stale_tried && e->session != S.held_session) {
            /* a late acknowledgement of the ended session, before the new
             * one has subscribed anything */
            S.stale_tried = true;
            S.stale_ack = sx_smp_pool_ack(p, &S.held_e, ack_done, &refs[0][1]);
        }
        break;
    case SX_SMP_POOL_DISCONNECTED: S.disconnected++; break;
    case SX_SMP_POOL_CONNECT_FAILED: S.connect_failed++; break;
    case SX_SMP_POOL_SUBSCRIBED:
        if (queue_index(e->queue) < 0 || e->session != S.session)
            note_bad("SUBSCRIBED of an unknown queue or session");
        S.subscribed++;
        break;
    case SX_SMP_POOL_SUB_FAILED:
        S.sub_failed++;
        S.sub_failed_q = e->queue;
        S.sub_failed_st = e->status;
        snprintf(S.sub_failed_code, sizeof S.sub_failed_code, "%s", sx_error_code());
        break;
    case SX_SMP_POOL_MESSAGE: {
        int i = queue_index(e->queue);
        if (e->ev && (e->ev->kind == SX_SMP_EVENT_END || e->ev->kind == SX_SMP_EVENT_DELETED)) {
            S.ends++;
            S.end_q = e->queue;
            S.end_kind = e->ev->kind;
            break;
        }
        if (i < 0 || !e->ev || e->ev->kind != SX_SMP_EVENT_MESSAGE || e->session != S.session) {
            note_bad("MESSAGE of an unknown queue or session, or not a message");
            break;
        }
        int qi = -1, k = -1;
        char body[64] = "";
        size_t n = e->ev->body_len < sizeof body - 1 ? e->ev->body_len : sizeof body - 1;
        memcpy(body, e->ev->body, n);
        if (sscanf(body, "q%d m%d", &qi, &k) != 2 || qi != i || k < 0 || k >= NK) {
            note_bad("a message body that is not the queue's");
            break;
        }
        if (S.q[i].acked[k])
            S.bodies_seen_after_ack++;
        S.q[i].delivered[k]++;
        if (S.hold && i == 0 && k == 1 && !S.held) {
            S.held = true;
            S.held_e = *e;
            S.held_ev = *e->ev;
            S.held_ev.body = NULL;
            S.held_e.ev = &S.held_ev;
            S.held_session = e->session;
            break;
        }
        if (sx_smp_pool_ack(p, e, ack_done, &refs[i][k]) != SX_OK)
            note_bad("ack refused on the current session");
        break;
    }
    default: note_bad("unknown event kind"); break;
    }
}

/* Runs the loop until done() holds, failing after WAIT_MS. */
static bool (*g_done)(void);
static int64_t g_deadline;
static bool g_timed_out;

static void check_cb(sx_loop *loop, void *arg)
{
    (void)arg;
    if (g_done() || S.bad[0])
        sx_loop_stop(loop);
    else if (now_ms() > g_deadline) {
        g_timed_out = true;
        sx_loop_stop(loop);
    }
}

static void run_until(bool (*done)(void), const char *what)
{
    g_done = done;
    g_deadline = now_ms() + WAIT_MS;
    g_timed_out = false;
    sx_timer *t;
    assert_ok(sx_timer_new(S.loop, check_cb, NULL, &t));
    sx_timer_start(t, 5, 5);
    assert_ok(sx_loop_run(S.loop));
    sx_timer_free(t);
    if (S.bad[0])
        fail_msg("%s: %s", what, S.bad);
    if (g_timed_out) {
        sx_smp_pool_stats st;
        sx_smp_pool_get_stats(S.pool, &st);
        fail_msg("%s: not done in %d ms (active %zu, pending %zu, acks %d, sends %d)", what, WAIT_MS, st.active,
                 st.pending, S.acks_ok, S.sends_ok);
    }
}

static void stop_cb(sx_loop *loop, void *arg)
{
    (void)arg;
    sx_loop_stop(loop);
}

/* Runs the loop for ms. */
static void run_for(unsigned ms)
{
    sx_timer *t;
    assert_ok(sx_timer_new(S.loop, stop_cb, NULL, &t));
    sx_timer_start(t, ms, 0);
    assert_ok(sx_loop_run(S.loop));
    sx_timer_free(t);
    if (S.bad[0])
        fail_msg("%s", S.bad);
}

static bool all_active(void)
{
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    return st.active == NQ && st.pending == 0;
}

static int g_want_k;
static bool all_acked_k(void)
{
    for (int i = 0; i < NQ; i++)
        if (!S.q[i].acked[g_want_k] && !(S.hold && i == 0 && g_want_k == 1))
            return false;
    return true;
}

static bool held_now(void)
{
    return S.held;
}

/* messages 0..g_want_k of every queue */
static bool everything_acked(void)
{
    for (int i = 0; i < NQ; i++)
        for (int k = 0; k <= g_want_k; k++)
            if (!S.q[i].acked[k])
                return false;
    return all_active();
}

static void send_all_through_pool(int k)
{
    for (int i = 0; i < NQ; i++) {
        char body[32];
        int n = snprintf(body, sizeof body, "q%d m%d", i, k);
        assert_ok(sx_smp_pool_send(S.pool, S.q[i].sq, body, (size_t)n, send_done, &refs[i][k]));
    }
}

static void test_reconnect_resubscribe(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    for (int i = 0; i < NQ; i++)
        for (int k = 0; k < NK; k++)
            refs[i][k] = (msg_ref){i, k};
    router_start();

    /* queues, made with a blocking connection */
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    for (int i = 0; i < NQ; i++) {
        assert_ok(sx_smp_queue_create(bc, &S.q[i].rq));
        assert_ok(sx_smp_queue_sender(S.q[i].rq, &S.q[i].sq));
    }

    assert_ok(sx_loop_new(&S.loop));
    sx_smp_pool_opts o = {.retry_min_ms = 50, .retry_max_ms = 400, .sub_window = 64};
    assert_ok(sx_smp_pool_new(S.loop, &o, on_event, NULL, &S.pool));
    for (int i = 0; i < NQ; i++)
        assert_ok(sx_smp_pool_subscribe(S.pool, S.q[i].rq));
    assert_ok(sx_smp_pool_subscribe(S.pool, S.q[0].rq)); /* again: nothing */
    run_until(all_active, "first subscription");
    assert_int_equal(S.connected, 1);
    assert_int_equal(S.subscribed, NQ);
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.routers, 1);
    assert_int_equal(st.connected, 1);
    assert_int_equal(st.sub_sent, NQ);

    /* messages 0 through the pool's connection, acknowledged */
    send_all_through_pool(0);
    g_want_k = 0;
    run_until(all_acked_k, "messages 0");
    assert_int_equal(S.sends_ok, NQ);

    /* message 1 of queue 0 delivered and held unacknowledged */
    S.hold = true;
    assert_ok(sx_smp_pool_send(S.pool, S.q[0].sq, "q0 m1", 5, send_done, &refs[0][1]));
    run_until(held_now, "the held message");
    assert_int_equal(S.held_session, 1);
    for (int i = 1; i < NQ; i++) {
        char body[32];
        int n = snprintf(body, sizeof body, "q%d m1", i);
        assert_ok(sx_smp_pool_send(S.pool, S.q[i].sq, body, (size_t)n, send_done, &refs[i][1]));
    }
    g_want_k = 1;
    run_until(all_acked_k, "messages 1");

    /* messages 2 sent while the pool's loop does not run, then kill -9:
     * they wait on the router (or in the pool's socket) unacknowledged */
    for (int i = 0; i < NQ; i++) {
        char body[32];
        int n = snprintf(body, sizeof body, "q%d m2", i);
        sx_smp_queue *sq = S.q[i].sq;
        assert_ok(sx_smp_send(bc, sq, body, (size_t)n));
        S.q[i].sent[2] = true;
    }
    sx_smp_close(bc);
    router_kill9();
    S.hold = false;
    /* the pool finds the router gone and retries with back-off */
    run_for(600);
    assert_int_equal(S.disconnected, 1);
    assert_true(S.connect_failed >= 2);
    router_start();

    g_want_k = 2;
    run_until(everything_acked, "after the restart, messages 0-2");
    assert_true(S.stale_tried);
    assert_int_equal(S.stale_ack, SX_E_CLOSED);
    assert_true(S.session >= 2);
    uint64_t session_after = S.session;

    /* messages 3 through the new session */
    send_all_through_pool(3);
    g_want_k = 3;
    run_until(all_acked_k, "messages 3");
    assert_int_equal(S.session, session_after);

    /* every message acknowledged exactly once and never delivered after
     * its acknowledgement; the held one came twice (the stale ack did not
     * count), on two sessions */
    for (int i = 0; i < NQ; i++)
        for (int k = 0; k < NK; k++) {
            if (S.q[i].acked[k] != 1)
                fail_msg("queue %d message %d acknowledged %d times", i, k, S.q[i].acked[k]);
            assert_true(S.q[i].delivered[k] >= 1);
        }
    assert_int_equal(S.q[0].delivered[1], 2);
    assert_int_equal(S.bodies_seen_after_ack, 0);
    assert_int_equal(S.sub_failed, 0);
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.active, NQ);
    assert_int_equal(st.stale_acks, 1);
    assert_int_equal(st.sessions, session_after);
    assert_true(S.subscribed >= 2 * NQ);

    sx_smp_pool_free(S.pool);
    sx_loop_free(S.loop);
    for (int i = 0; i < NQ; i++) {
        sx_smp_queue_free(S.q[i].rq);
        sx_smp_queue_free(S.q[i].sq);
    }
}

/* ---- the calls a program can get wrong, and a connection on demand ---- */

static bool sends_done(void)
{
    return S.sends_ok + S.sends_failed >= 1 && S.connected + S.connect_failed >= 1;
}

static void test_usage_and_on_demand(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    router_start();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    sx_smp_queue *rq, *sq;
    assert_ok(sx_smp_queue_create(bc, &rq));
    assert_ok(sx_smp_queue_sender(rq, &sq));
    S.q[0].rq = rq;

    assert_ok(sx_loop_new(&S.loop));
    sx_smp_pool *p = NULL;
    assert_int_equal(sx_smp_pool_new(S.loop, NULL, NULL, NULL, &p), SX_E_USAGE);
    assert_ok(sx_smp_pool_new(S.loop, NULL, on_event, NULL, &S.pool));
    assert_int_equal(sx_smp_pool_subscribe(S.pool, sq), SX_E_USAGE);
    assert_int_equal(sx_smp_pool_send(S.pool, rq, "x", 1, NULL, NULL), SX_E_USAGE);
    assert_int_equal(sx_smp_pool_unsubscribe(S.pool, rq), SX_E_USAGE);
    sx_smp_pool_event fake = {.kind = SX_SMP_POOL_CONNECTED};
    assert_int_equal(sx_smp_pool_ack(S.pool, &fake, NULL, NULL), SX_E_USAGE);
    static char big[70000];
    assert_int_equal(sx_smp_pool_send(S.pool, sq, big, sizeof big, NULL, NULL), SX_E_LIMIT);
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.connected, 0);

    /* a send connects on demand; no callback ran inside the call */
    refs[0][0] = (msg_ref){0, 0};
    assert_ok(sx_smp_pool_send(S.pool, sq, "q0 m0", 5, send_done, &refs[0][0]));
    assert_int_equal(S.sends_ok + S.connected, 0);
    run_until(sends_done, "send on demand");
    assert_int_equal(S.sends_ok, 1);
    assert_int_equal(S.connected, 1);

    /* subscribe then let go before the SUB went out: nothing is reported of it */
    assert_ok(sx_smp_pool_subscribe(S.pool, rq));
    assert_ok(sx_smp_pool_unsubscribe(S.pool, rq));
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.active + st.pending, 0);
    sx_smp_event ev;
    assert_ok(sx_smp_get(bc, rq, &ev)); /* the message is still there */
    assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
    sx_smp_event_clear(&ev);
    assert_int_equal(S.subscribed, 0);
    assert_int_equal(S.bad[0], 0);

    sx_smp_pool_free(S.pool);
    sx_loop_free(S.loop);
    sx_smp_close(bc);
    sx_smp_queue_free(rq);
    sx_smp_queue_free(sq);
    router_kill9();
}

/* ---- a refused subscription, END and DELETED ---- */

static bool refused_and_subscribed(void)
{
    return S.sub_failed == 1 && S.subscribed == 2;
}

static bool one_end(void)
{
    return S.ends == 1;
}

static bool two_ends(void)
{
    return S.ends == 2;
}

static void test_refused_end_deleted(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    router_start();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    sx_smp_queue *gone, *q1, *q2;
    assert_ok(sx_smp_queue_create(bc, &gone));
    assert_ok(sx_smp_queue_create(bc, &q1));
    assert_ok(sx_smp_queue_create(bc, &q2));
    assert_ok(sx_smp_queue_delete(bc, gone));
    S.q[0].rq = q1;
    S.q[1].rq = q2;
    S.q[2].rq = gone;

    assert_ok(sx_loop_new(&S.loop));
    assert_ok(sx_smp_pool_new(S.loop, NULL, on_event, NULL, &S.pool));
    assert_ok(sx_smp_pool_subscribe(S.pool, q1));
    assert_ok(sx_smp_pool_subscribe(S.pool, gone));
    assert_ok(sx_smp_pool_subscribe(S.pool, q2));
    run_until(refused_and_subscribed, "a refused subscription");
    assert_ptr_equal(S.sub_failed_q, gone);
    assert_int_equal(S.sub_failed_st, SX_E_AUTH);
    assert_string_equal(S.sub_failed_code, "AUTH");
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.active, 2);
    assert_int_equal(st.pending, 0);
    assert_int_equal(sx_smp_pool_unsubscribe(S.pool, gone), SX_E_USAGE); /* let go of already */

    /* another connection takes q1's subscription: END, and the pool lets go */
    assert_ok(sx_smp_subscribe(bc, q1));
    run_until(one_end, "END");
    assert_ptr_equal(S.end_q, q1);
    assert_int_equal(S.end_kind, SX_SMP_EVENT_END);
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.active, 1);

    /* q2 deleted by its recipient elsewhere: DELETED, and the pool lets go */
    assert_ok(sx_smp_queue_delete(bc, q2));
    run_until(two_ends, "DELETED");
    assert_ptr_equal(S.end_q, q2);
    assert_int_equal(S.end_kind, SX_SMP_EVENT_DELETED);
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.active + st.pending, 0);
    assert_int_equal(S.connected, 1);

    sx_smp_pool_free(S.pool);
    sx_loop_free(S.loop);
    sx_smp_close(bc);
    sx_smp_queue_free(gone);
    sx_smp_queue_free(q1);
    sx_smp_queue_free(q2);
    router_kill9();
}

/* ---- notifier subscriptions (NSUB) across a kill ---- */

static struct {
    int subscribed, notifications, ends;
    uint64_t last_session;
    sx_smp_notifier *nt;
    size_t meta_len;
    char bad[128];
} N;

static void ntf_event(sx_smp_pool *p, const sx_smp_pool_event *e, void *arg)
{
    (void)p;
    (void)arg;
    if (e->kind == SX_SMP_POOL_CONNECTED) {
        S.connected++;
        S.session = e->session;
    } else if (e->kind == SX_SMP_POOL_SUBSCRIBED) {
        if (e->notifier != N.nt || e->queue)
            snprintf(N.bad, sizeof N.bad, "SUBSCRIBED of another subscription");
        N.subscribed++;
    } else if (e->kind == SX_SMP_POOL_SUB_FAILED) {
        snprintf(N.bad, sizeof N.bad, "NSUB refused: %s", sx_error_message());
    } else if (e->kind == SX_SMP_POOL_NOTIFICATION) {
        if (e->notifier != N.nt || !e->nonce || !e->meta || e->meta_len == 0)
            snprintf(N.bad, sizeof N.bad, "a NOTIFICATION without its notifier, nonce or metadata");
        N.notifications++;
        N.last_session = e->session;
        N.meta_len = e->meta_len;
    } else if (e->kind == SX_SMP_POOL_MESSAGE) {
        if (e->notifier == N.nt && e->ev && e->ev->kind == SX_SMP_EVENT_END)
            N.ends++;
        else
            snprintf(N.bad, sizeof N.bad, "a MESSAGE event");
    }
    if (N.bad[0])
        note_bad(N.bad);
}

static int g_want_ntf, g_want_nsub;
static bool ntf_reached(void)
{
    return N.notifications >= g_want_ntf && N.subscribed >= g_want_nsub;
}

static bool ntf_ended(void)
{
    return N.ends == 1;
}

/* SEND with the notification flag through the library's own client. */
static void send_notified(sx_smp_client *ic, const sx_smp_queue *sq)
{
    sx_smp_cmd cmd = {.tag = SX_SMP_C_SEND};
    cmd.send.notification = true;
    cmd.send.body = sx_slice_of("notified", 8);
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(ic, sx_slice_of(sq->f.snd_id, SX_QUEUE_ID_LEN), &cmd, NULL, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
}

static sx_smp_client *internal_connect(void)
{
    uint8_t fp[SX_FINGERPRINT_LEN];
    size_t got = 0;
    assert_ok(sx_b64_decode(R.fp, strlen(R.fp), SX_B64_URL, fp, sizeof fp, &got));
    assert_int_equal(got, SX_FINGERPRINT_LEN);
    sx_smp_client *ic = NULL;
    assert_ok(sx_smp_client_connect("127.0.0.1", R.port, fp, NULL, &ic));
    return ic;
}

static void test_notifier(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    memset(&N, 0, sizeof N);
    router_start();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    sx_smp_queue *rq, *sq;
    assert_ok(sx_smp_queue_create(bc, &rq));
    assert_ok(sx_smp_queue_sender(rq, &sq));
    sx_smp_close(bc);

    /* NKEY by the recipient: the notifier's keys, and its id back */
    sx_smp_client *ic = internal_connect();
    sx_key *nkey, *ndh;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &nkey));
    assert_ok(sx_key_generate(SX_KEY_X25519, &ndh));
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd cmd = {.tag = SX_SMP_C_NKEY};
    assert_ok(sx_smp_pubkey_of(nkey, b1, &cmd.nkey.auth_key));
    assert_ok(sx_smp_pubkey_of(ndh, b2, &cmd.nkey.dh_key));
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(ic, sx_slice_of(rq->f.rcv_id, SX_QUEUE_ID_LEN), &cmd, rq->f.rcv_key, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_NID);
    uint8_t nid[SX_QUEUE_ID_LEN];
    assert_int_equal(r.reply.resp.nid.notifier_id.len, SX_QUEUE_ID_LEN);
    memcpy(nid, r.reply.resp.nid.notifier_id.ptr, SX_QUEUE_ID_LEN);
    sx_smp_client_reply_free(&r);
    char key_text[512];
    assert_ok(sx_key_private_to_text(nkey, key_text, sizeof key_text));

    sx_smp_notifier *bad = NULL;
    assert_int_equal(sx_smp_notifier_new(R.addr, nid, 23, key_text, &bad), SX_E_USAGE);
    assert_int_equal(sx_smp_notifier_new(R.addr, nid, sizeof nid, "not a key", &bad), SX_E_USAGE);
    assert_int_equal(sx_smp_notifier_new("smp://nowhere", nid, sizeof nid, key_text, &bad), SX_E_USAGE);
    assert_null(bad);
    assert_ok(sx_smp_notifier_new(R.addr, nid, sizeof nid, key_text, &N.nt));

    assert_ok(sx_loop_new(&S.loop));
    sx_smp_pool_opts o = {.retry_min_ms = 50, .retry_max_ms = 400};
    assert_ok(sx_smp_pool_new(S.loop, &o, ntf_event, NULL, &S.pool));
    assert_ok(sx_smp_pool_subscribe_notifier(S.pool, N.nt));
    g_want_nsub = 1;
    g_want_ntf = 0;
    run_until(ntf_reached, "NSUB");
    send_notified(ic, sq);
    g_want_ntf = 1;
    run_until(ntf_reached, "the first notification");
    assert_int_equal(N.last_session, 1);
    sx_smp_client_close(ic);

    router_kill9();
    router_start();
    g_want_nsub = 2;
    run_until(ntf_reached, "NSUB again after the restart");
    ic = internal_connect();
    send_notified(ic, sq);
    g_want_ntf = 2;
    run_until(ntf_reached, "a notification on the new session");
    assert_int_equal(N.last_session, S.session);
    assert_true(S.session >= 2);

    /* another connection takes the notifier subscription: END */
    cmd = (sx_smp_cmd){.tag = SX_SMP_C_NSUB};
    assert_ok(sx_smp_client_call(ic, sx_slice_of(nid, SX_QUEUE_ID_LEN), &cmd, nkey, &r));
    sx_smp_client_reply_free(&r);
    run_until(ntf_ended, "END of the notifier subscription");
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.active + st.pending, 0);
    assert_int_equal(sx_smp_pool_unsubscribe_notifier(S.pool, N.nt), SX_E_USAGE);

    sx_smp_pool_free(S.pool);
    sx_loop_free(S.loop);
    sx_smp_client_close(ic);
    sx_smp_notifier_free(N.nt);
    sx_key_free(nkey);
    sx_key_free(ndh);
    sx_smp_queue_free(rq);
    sx_smp_queue_free(sq);
    router_kill9();
}

/* ---- the pool on its own thread, used from three threads ---- */

#define TQ 40 /* queues */
#define TK 3  /* messages per queue and phase */

static struct {
    sx_smp_tpool *tp;
    sx_smp_queue *rq[TQ], *sq[TQ];
    pthread_mutex_t mu;
    int delivered[TQ][2 * TK], acked[TQ][2 * TK];
    int acks_ok, after_ack, connected, disconnected;
    int stop;
    char bad[256];
} TP;

static void tp_bad(const char *what)
{
    pthread_mutex_lock(&TP.mu);
    if (!TP.bad[0])
        snprintf(TP.bad, sizeof TP.bad, "%s", what);
    pthread_mutex_unlock(&TP.mu);
}

static void *tp_consumer(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&TP.stop, __ATOMIC_ACQUIRE)) {
        sx_smp_pool_note n;
        if (sx_smp_tpool_next(TP.tp, 50, &n) != SX_OK) {
            tp_bad("next failed");
            break;
        }
        if (n.kind == SX_SMP_POOL_CONNECTED || n.kind == SX_SMP_POOL_DISCONNECTED) {
            pthread_mutex_lock(&TP.mu);
            if (n.kind == SX_SMP_POOL_CONNECTED)
                TP.connected++;
            else
                TP.disconnected++;
            pthread_mutex_unlock(&TP.mu);
        } else if (n.kind == SX_SMP_POOL_SUB_FAILED) {
            tp_bad("a subscription failed");
        } else if (n.kind == SX_SMP_POOL_MESSAGE) {
            int i = -1, k = -1;
            char body[64] = "";
            size_t len = n.ev.body_len < sizeof body - 1 ? n.ev.body_len : sizeof body - 1;
            if (n.ev.body)
                memcpy(body, n.ev.body, len);
            for (int j = 0; j < TQ; j++)
                if (TP.rq[j] == n.queue)
                    i = j;
            int qi = -2;
            if (i < 0 || sscanf(body, "q%d m%d", &qi, &k) != 2 || qi != i || k < 0 || k >= 2 * TK) {
                tp_bad("a message that is not the queue's");
            } else {
                pthread_mutex_lock(&TP.mu);
                if (TP.acked[i][k])
                    TP.after_ack++;
                TP.delivered[i][k]++;
                pthread_mutex_unlock(&TP.mu);
                sx_status st = sx_smp_tpool_ack(TP.tp, &n);
                pthread_mutex_lock(&TP.mu);
                if (st == SX_OK) {
                    TP.acked[i][k]++;
                    TP.acks_ok++;
                }
                pthread_mutex_unlock(&TP.mu);
            }
        }
        sx_smp_pool_note_clear(&n);
    }
    return NULL;
}

typedef struct tp_sender {
    int from, to, phase;
    sx_status st;
    char detail[256];
} tp_sender;

static void *tp_send_main(void *arg)
{
    tp_sender *ts = arg;
    for (int k = ts->phase * TK; k < (ts->phase + 1) * TK && ts->st == SX_OK; k++)
        for (int i = ts->from; i < ts->to && ts->st == SX_OK; i++) {
            char body[32];
            int n = snprintf(body, sizeof body, "q%d m%d", i, k);
            ts->st = sx_smp_tpool_send(TP.tp, TP.sq[i], body, (size_t)n);
            if (ts->st != SX_OK)
                snprintf(ts->detail, sizeof ts->detail, "%s", sx_error_message());
        }
    return NULL;
}

static void tp_send_phase(int phase)
{
    tp_sender s[2] = {{0, TQ / 2, phase, SX_OK, ""}, {TQ / 2, TQ, phase, SX_OK, ""}};
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&th[t], NULL, tp_send_main, &s[t]), 0);
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
        if (s[t].st != SX_OK)
            fail_msg("send thread %d, phase %d: %s: %s", t, phase, sx_status_str(s[t].st), s[t].detail);
    }
}

static int tp_acks(void)
{
    pthread_mutex_lock(&TP.mu);
    int n = TP.acks_ok;
    pthread_mutex_unlock(&TP.mu);
    return n;
}

static void tp_wait(bool (*done)(void), const char *what)
{
    int64_t deadline = now_ms() + WAIT_MS;
    while (!done()) {
        if (TP.bad[0])
            fail_msg("%s: %s", what, TP.bad);
        if (now_ms() > deadline)
            fail_msg("%s: not done in %d ms (acks %d)", what, WAIT_MS, tp_acks());
        sleep_ms(5);
    }
}

static bool tp_phase0_acked(void)
{
    return tp_acks() == TQ * TK;
}

static bool tp_all_acked(void)
{
    return tp_acks() == 2 * TQ * TK;
}

static bool tp_resubscribed(void)
{
    sx_smp_pool_stats st;
    sx_smp_tpool_get_stats(TP.tp, &st);
    return st.active == TQ && st.sessions >= 2;
}

static void test_thread_facade(void **state)
{
    (void)state;
    memset(&TP, 0, sizeof TP);
    assert_int_equal(pthread_mutex_init(&TP.mu, NULL), 0);
    router_start();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    for (int i = 0; i < TQ; i++) {
        assert_ok(sx_smp_queue_create(bc, &TP.rq[i]));
        assert_ok(sx_smp_queue_sender(TP.rq[i], &TP.sq[i]));
    }
    sx_smp_close(bc);
    sx_smp_pool_opts o = {.retry_min_ms = 50, .retry_max_ms = 400};
    assert_ok(sx_smp_tpool_new(&o, &TP.tp));
    assert_int_equal(sx_smp_tpool_subscribe(TP.tp, TP.sq[0]), SX_E_USAGE);
    assert_contains_text(sx_error_message(), "recipient");
    for (int i = 0; i < TQ; i++)
        assert_ok(sx_smp_tpool_subscribe(TP.tp, TP.rq[i]));
    pthread_t consumer;
    assert_int_equal(pthread_create(&consumer, NULL, tp_consumer, NULL), 0);

    tp_send_phase(0);
    tp_wait(tp_phase0_acked, "phase 0");
    router_kill9();
    router_start();
    tp_wait(tp_resubscribed, "resubscribed");
    tp_send_phase(1);
    tp_wait(tp_all_acked, "phase 1");

    __atomic_store_n(&TP.stop, 1, __ATOMIC_RELEASE);
    pthread_join(consumer, NULL);
    if (TP.bad[0])
        fail_msg("%s", TP.bad);
    for (int i = 0; i < TQ; i++)
        for (int k = 0; k < 2 * TK; k++)
            if (TP.acked[i][k] != 1 || TP.delivered[i][k] != 1)
                fail_msg("queue %d message %d delivered %d and acknowledged %d times", i, k, TP.delivered[i][k],
                         TP.acked[i][k]);
    assert_int_equal(TP.after_ack, 0);
    assert_int_equal(TP.disconnected, 1);
    assert_int_equal(TP.connected, 2);
    sx_smp_tpool_free(TP.tp);
    for (int i = 0; i < TQ; i++) {
        sx_smp_queue_free(TP.rq[i]);
        sx_smp_queue_free(TP.sq[i]);
    }
    pthread_mutex_destroy(&TP.mu);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reconnect_resubscribe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_and_on_demand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_end_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notifier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_facade, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
