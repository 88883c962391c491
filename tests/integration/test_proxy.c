/* 2-hop routing with real smp-server processes on loopback (PROTOCOL-NOTES
 * D30-D37): a client connected to router A (the proxy) opens proxy
 * sessions to routers B and C (PRXY -> PKEY, chain and key checked against
 * their addresses), secures a queue on B and sends to it through A (PFWD ->
 * RFWD -> RRES -> PRES), and the recipient connected to B receives it; an
 * unknown session (PROXY NO_SESSION), a forwarded command other than
 * SEND/SKEY/LKEY/LGET (CMD PROHIBITED, from the destination), a destination
 * that is not listening (PROXY BROKER NETWORK), a wrong identity, the
 * relay connection shared by two clients, a PKEY whose key or identity
 * does not check, more commands at once than the proxy runs for one client,
 * a destination that stops answering (PROXY BROKER TIMEOUT), B as the
 * destination of RFWDs made by hand (without A), and the public API through
 * a proxy across a restart of the destination. */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "crypto/box.h"
#include "crypto/util.h"
#include "smp/msgcrypt.h"
#include "smp_client/smp_client.h"
#include "simplex/loop.h"
#include "simplex/smp.h"
#include "smp_client/smp_proxy.h"

#ifndef SX_SMP_SERVER_BIN
#error "SX_SMP_SERVER_BIN must name the smp-server executable"
#endif

#define WAIT_MS 30000
#define CALL_MS 10000
#define ID_LEN 24

extern char **environ;

typedef struct router {
    char dir[64], etc[128], var[128], ini[192], out[192];
    char env_cfg[160], env_log[160];
    char *envp[256];
    uint8_t fp[SX_FINGERPRINT_LEN];
    uint16_t port;
    pid_t pid;
} router;

static router g_r[3]; /* A proxy, B and C destinations */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dump(const router *rp)
{
    FILE *f = fopen(rp->out, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        fprintf(stderr, "  | %s", line);
    if (f)
        fclose(f);
}

static pid_t spawn(router *rp, char *const argv[])
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(rp->out, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_DFL);
        execve(SX_SMP_SERVER_BIN, argv, rp->envp);
        _exit(127);
    }
    return pid;
}

static int wait_pid(pid_t pid, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    int status = -1;
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(10000);
    }
    return status;
}

/* [TRANSPORT] port and one worker, so that clients share the relay
 * connection of the proxy's only worker; extra lines after [PROXY]. */
static void set_port(router *rp, const char *extra)
{
    FILE *f = fopen(rp->ini, "r");
    assert_non_null(f);
    char *text = NULL;
    size_t cap = 0, len = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char rep[64];
        const char *use = line;
        if (strncmp(line, "port:", 5) == 0) {
            snprintf(rep, sizeof rep, "port: %u\n", rp->port);
            use = rep;
        } else if (strncmp(line, "# workers:", 10) == 0) {
            use = "workers: 1\n";
        } else if (strncmp(line, "[PROXY]", 7) == 0 && extra) {
            snprintf(rep, sizeof rep, "[PROXY]\n%s", extra);
            use = rep;
        }
        size_t n = strlen(use);
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            text = realloc(text, cap);
            assert_non_null(text);
        }
        memcpy(text + len, use, n + 1);
        len += n;
    }
    fclose(f);
    f = fopen(rp->ini, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
}

static sx_smp_client *connect_to(const router *rp)
{
    sx_smp_client_opts o = {.timeout_ms = CALL_MS};
    sx_smp_client *cl = NULL;
    sx_status st = sx_smp_client_connect("127.0.0.1", rp->port, rp->fp, &o, &cl);
    if (st != SX_OK)
        fail_msg("connect to %u: %s", rp->port, sx_status_str(st));
    return cl;
}

/* `start` on rp->port; true once a client completed the handshake. */
static bool router_start(router *rp)
{
    char *start[] = {"smp-server", "start", "--log-level", "debug", NULL};
    rp->pid = spawn(rp, start);
    int64_t end = now_ms() + WAIT_MS;
    while (now_ms() < end) {
        int status;
        if (waitpid(rp->pid, &status, WNOHANG) == rp->pid) {
            rp->pid = 0;
            return false;
        }
        sx_smp_client_opts o = {.timeout_ms = 2000};
        sx_smp_client *cl = NULL;
        if (sx_smp_client_connect("127.0.0.1", rp->port, rp->fp, &o, &cl) == SX_OK) {
            sx_smp_client_close(cl);
            return true;
        }
        usleep(50000);
    }
    kill(rp->pid, SIGKILL);
    (void)wait_pid(rp->pid, WAIT_MS);
    rp->pid = 0;
    return false;
}

static void router_up(router *rp, const char *name, const char *extra)
{
    snprintf(rp->dir, sizeof rp->dir, "/tmp/sx_proxy_%s_XXXXXX", name);
    assert_non_null(mkdtemp(rp->dir));
    snprintf(rp->etc, sizeof rp->etc, "%s/etc", rp->dir);
    snprintf(rp->var, sizeof rp->var, "%s/var", rp->dir);
    snprintf(rp->ini, sizeof rp->ini, "%s/smp-server.ini", rp->etc);
    snprintf(rp->out, sizeof rp->out, "%s/output.log", rp->dir);
    snprintf(rp->env_cfg, sizeof rp->env_cfg, "SMP_SERVER_CFG_PATH=%s", rp->etc);
    snprintf(rp->env_log, sizeof rp->env_log, "SMP_SERVER_LOG_PATH=%s", rp->var);
    size_t k = 0;
    for (size_t i = 0; environ[i] && k < 250; i++)
        if (strncmp(environ[i], "SMP_SERVER_", 11) != 0)
            rp->envp[k++] = environ[i];
    rp->envp[k++] = rp->env_cfg;
    rp->envp[k++] = rp->env_log;
    rp->envp[k] = NULL;
    char *init[] = {"smp-server", "init", "-y", "--disable-web", "--no-password", NULL};
    if (wait_pid(spawn(rp, init), WAIT_MS) != 0) {
        dump(rp);
        fail_msg("init %s", name);
    }
    char path[256], text[128] = {0};
    snprintf(path, sizeof path, "%s/fingerprint", rp->etc);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(text, sizeof text, f));
    fclose(f);
    size_t got = 0;
    assert_ok(sx_b64_decode(text, strcspn(text, "\r\n"), SX_B64_URL, rp->fp, sizeof rp->fp, &got));
    assert_int_equal(got, SX_FINGERPRINT_LEN);
    for (int attempt = 0; attempt < 4; attempt++) {
        rp->port = tu_free_port();
        set_port(rp, extra);
        if (router_start(rp))
            return;
    }
    dump(rp);
    fail_msg("router %s did not start", name);
}

/* Stops rp and removes its folder; false when it did not stop cleanly or a
 * sanitizer reported something in its output (sanitizer builds). */
static bool router_down(router *rp)
{
    bool ok = true;
    if (rp->pid > 0) {
        kill(rp->pid, SIGTERM);
        int status = wait_pid(rp->pid, WAIT_MS);
        ok = status == 0;
        rp->pid = 0;
    }
    FILE *f = fopen(rp->out, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error"))
            ok = false;
    if (f)
        fclose(f);
    if (!ok) {
        fprintf(stderr, "router %s:\n", rp->dir);
        dump(rp);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %.63s", rp->dir);
    if (rp->dir[0] && system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", rp->dir);
    return ok;
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (sx_crypto_init() != SX_OK)
        return -1;
    /* A proxies at most 2 commands of a client at once and waits 5 s for a
     * destination's answer. */
    router_up(&g_r[0], "a", "client_concurrency: 2\nforward_timeout: 5\n");
    router_up(&g_r[1], "b", NULL);
    router_up(&g_r[2], "c", NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bool ok = true;
    for (int i = 0; i < 3; i++)
        ok = router_down(&g_r[i]) && ok;
    return ok ? 0 : -1;
}

static sx_smp_address address_of(const router *rp)
{
    sx_smp_address a;
    memset(&a, 0, sizeof a);
    memcpy(a.key_hash, rp->fp, SX_FINGERPRINT_LEN);
    snprintf(a.host, sizeof a.host, "127.0.0.1");
    a.port = rp->port;
    return a;
}

/* SIGSTOP, and wait until the process is stopped (the signal takes effect
 * asynchronously). */
static void stop_process(pid_t pid)
{
    assert_int_equal(kill(pid, SIGSTOP), 0);
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *p = strrchr(buf, ')');
        if (p && (p[2] == 'T' || p[2] == 't'))
            return;
        usleep(10000);
    }
    fail_msg("process %d did not stop", (int)pid);
}

/* ---- queues on a destination ---- */

typedef struct queue {
    sx_key *rkey, *skey;
    uint8_t rid[ID_LEN], sid[ID_LEN];
    uint8_t secret[32];
} queue;

static void queue_free(queue *q)
{
    sx_key_free(q->rkey);
    sx_key_free(q->skey);
}

static void create_queue(sx_smp_client *cl, queue *q)
{
    memset(q, 0, sizeof *q);
    sx_key *rdh = NULL;
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    assert_ok(sx_key_generate(SX_KEY_ED25519, &q->rkey));
    assert_ok(sx_key_generate(SX_KEY_X25519, &rdh));
    sx_smp_cmd c = {.tag = SX_SMP_C_NEW};
    assert_ok(sx_smp_pubkey_of(q->rkey, b1, &c.new_queue.rcv_auth_key));
    assert_ok(sx_smp_pubkey_of(rdh, b2, &c.new_queue.rcv_dh_key));
    c.new_queue.subscribe = true;
    c.new_queue.has_queue_req = true;
    c.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(cl, sx_slice_of(NULL, 0), &c, q->rkey, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_IDS);
    const sx_smp_ids *ids = &r.reply.resp.ids;
    memcpy(q->rid, ids->rcv_id.ptr, ID_LEN);
    memcpy(q->sid, ids->snd_id.ptr, ID_LEN);
    sx_key *srv = NULL;
    size_t n = 0;
    assert_ok(sx_key_decode_public(ids->srv_dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv));
    assert_ok(sx_key_dh(rdh, srv, q->secret, sizeof q->secret, &n));
    sx_key_free(srv);
    sx_key_free(rdh);
    sx_smp_client_reply_free(&r);
}

static bool is_err(const sx_smp_client_reply *r, sx_smp_err_type t)
{
    return r->ok && r->reply.resp.tag == SX_SMP_R_ERR && r->reply.resp.err.type == t;
}

static bool is_proxy_err(const sx_smp_client_reply *r, sx_smp_proxy_err kind)
{
    return is_err(r, SX_SMP_ERR_PROXY) && r->reply.resp.err.proxy.kind == kind;
}

/* A MSG that came as the answer to an ACK (the queue's next message). */
static sx_smp_client_reply g_carry;
static bool g_has_carry;

static void expect_msg(sx_smp_client *rcv, const queue *q, const char *text)
{
    sx_smp_client_reply ev;
    if (g_has_carry) {
        ev = g_carry;
        g_has_carry = false;
    } else {
        assert_ok(sx_smp_client_next_event(rcv, CALL_MS, &ev));
    }
    assert_true(ev.ok && ev.reply.resp.tag == SX_SMP_R_MSG);
    uint8_t *buf = malloc(SX_BLOCK_SIZE);
    assert_non_null(buf);
    sx_smp_rcv_msg m;
    assert_ok(sx_smp_msg_decrypt(q->secret, ev.reply.resp.msg.msg_id, ev.reply.resp.msg.body, buf, SX_BLOCK_SIZE, &m));
    assert_int_equal(m.body.len, strlen(text));
    assert_memory_equal(m.body.ptr, text, m.body.len);
    /* ACK: OK, or the next message. */
    sx_smp_cmd ack = {.tag = SX_SMP_C_ACK};
    ack.msg_id = ev.reply.resp.msg.msg_id;
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(rcv, sx_slice_of(q->rid, ID_LEN), &ack, q->rkey, &r));
    assert_true(r.ok && (r.reply.resp.tag == SX_SMP_R_OK || r.reply.resp.tag == SX_SMP_R_MSG));
    if (r.reply.resp.tag == SX_SMP_R_MSG) {
        g_carry = r;
        g_has_carry = true;
    } else {
        sx_smp_client_reply_free(&r);
    }
    free(buf);
    sx_smp_client_reply_free(&ev);
}

/* Secures with SKEY and sends twice, all through the proxy session. */
static void secure_and_send(sx_smp_client *snd, const sx_smp_relay_session *rs, queue *q, const char *text)
{
    uint8_t der[SX_KEY_SPKI_MAX];
    assert_ok(sx_key_generate(SX_KEY_ED25519, &q->skey));
    sx_smp_cmd skey = {.tag = SX_SMP_C_SKEY};
    assert_ok(sx_smp_pubkey_of(q->skey, der, &skey.key));
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_proxy_call(snd, rs, sx_slice_of(q->sid, ID_LEN), &skey, q->skey, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    sx_smp_cmd send = {.tag = SX_SMP_C_SEND};
    send.send.body = sx_slice_str(text);
    assert_ok(sx_smp_client_proxy_call(snd, rs, sx_slice_of(q->sid, ID_LEN), &send, q->skey, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    /* Unsigned, to a secured queue: the destination's AUTH comes back. */
    assert_ok(sx_smp_client_proxy_call(snd, rs, sx_slice_of(q->sid, ID_LEN), &send, NULL, &r));
    assert_true(is_err(&r, SX_SMP_ERR_AUTH));
    sx_smp_client_reply_free(&r);
}

static void open_session(sx_smp_client *cl, const router *dest, sx_smp_relay_session *rs)
{
    sx_smp_address a = address_of(dest);
    sx_smp_client_reply r;
    sx_status st = sx_smp_client_proxy_session(cl, &a, sx_slice_of(NULL, 0), rs, &r);
    if (st != SX_OK)
        fail_msg("proxy session: %s (%s)", sx_status_str(st),
                 r.ok ? sx_smp_resp_name(r.reply.resp.tag) : "no answer");
    assert_true(rs->version >= SX_SMP_V_SENDING_PROXY && rs->version <= SX_SMP_VERSION_PROXIED_MAX);
}

/* ---- tests ---- */

static void test_round_trip(void **state)
{
    (void)state;
    sx_smp_client *rcv_b = connect_to(&g_r[1]), *rcv_c = connect_to(&g_r[2]);
    sx_smp_client *snd = connect_to(&g_r[0]), *snd2 = connect_to(&g_r[0]);
    queue qb, qc;
    create_queue(rcv_b, &qb);
    create_queue(rcv_c, &qc);
    sx_smp_relay_session rb, rc, rb2;
    open_session(snd, &g_r[1], &rb);
    open_session(snd, &g_r[2], &rc);
    open_session(snd2, &g_r[1], &rb2);
    /* One relay connection per destination, shared by the proxy's clients. */
    assert_int_equal(rb.session_id_len, rb2.session_id_len);
    assert_memory_equal(rb.session_id, rb2.session_id, rb.session_id_len);
    assert_true(rb.session_id_len != rc.session_id_len || memcmp(rb.session_id, rc.session_id, rb.session_id_len));
    secure_and_send(snd, &rb, &qb, "via A to B");
    expect_msg(rcv_b, &qb, "via A to B");
    secure_and_send(snd, &rc, &qc, "via A to C");
    expect_msg(rcv_c, &qc, "via A to C");
    /* The second client through the same relay session. */
    sx_smp_cmd send = {.tag = SX_SMP_C_SEND};
    send.send.body = sx_slice_str("second client");
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_proxy_call(snd2, &rb2, sx_slice_of(qb.sid, ID_LEN), &send, qb.skey, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    expect_msg(rcv_b, &qb, "second client");
    /* A message of the largest size the proxied version allows. */
    size_t max = sx_smp_max_message_length(rb.version);
    char *big = malloc(max + 1);
    assert_non_null(big);
    memset(big, 'x', max);
    big[max] = 0;
    send.send.body = sx_slice_of(big, max);
    assert_ok(sx_smp_client_proxy_call(snd, &rb, sx_slice_of(qb.sid, ID_LEN), &send, qb.skey, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    expect_msg(rcv_b, &qb, big);
    free(big);
    sx_smp_relay_session_cleanup(&rb);
    sx_smp_relay_session_cleanup(&rb2);
    sx_smp_relay_session_cleanup(&rc);
    queue_free(&qb);
    queue_free(&qc);
    sx_smp_client_close(snd);
    sx_smp_client_close(snd2);
    sx_smp_client_close(rcv_b);
    sx_smp_client_close(rcv_c);
}

static void test_errors(void **state)
{
    (void)state;
    sx_smp_client *rcv_b = connect_to(&g_r[1]);
    sx_smp_client *snd = connect_to(&g_r[0]);
    queue qb;
    create_queue(rcv_b, &qb);
    sx_smp_relay_session rb;
    open_session(snd, &g_r[1], &rb);
    sx_smp_client_reply r;

    /* An unknown session id: PROXY NO_SESSION from the proxy. */
    sx_smp_relay_session bogus = rb;
    bogus.session_id[0] ^= 0xff;
    sx_smp_cmd send = {.tag = SX_SMP_C_SEND};
    send.send.body = sx_slice_str("lost");
    assert_int_equal(sx_smp_client_proxy_call(snd, &bogus, sx_slice_of(qb.sid, ID_LEN), &send, NULL, &r),
                     SX_E_PROTOCOL);
    assert_true(is_proxy_err(&r, SX_SMP_PROXY_NO_SESSION));
    sx_smp_client_reply_free(&r);

    /* Commands other than SEND, SKEY, LKEY and LGET: CMD PROHIBITED from the
     * destination, sealed like any answer. */
    sx_smp_cmd sub = {.tag = SX_SMP_C_SUB};
    assert_ok(sx_smp_client_proxy_call(snd, &rb, sx_slice_of(qb.rid, ID_LEN), &sub, qb.rkey, &r));
    assert_true(is_err(&r, SX_SMP_ERR_CMD) && r.reply.resp.err.cmd == SX_SMP_CMD_PROHIBITED);
    sx_smp_client_reply_free(&r);
    sx_smp_cmd ping = {.tag = SX_SMP_C_PING};
    assert_ok(sx_smp_client_proxy_call(snd, &rb, sx_slice_of(NULL, 0), &ping, NULL, &r));
    assert_true(is_err(&r, SX_SMP_ERR_CMD) && r.reply.resp.err.cmd == SX_SMP_CMD_PROHIBITED);
    sx_smp_client_reply_free(&r);
    /* The queue is untouched: an unsigned SEND still goes in. */
    assert_ok(sx_smp_client_proxy_call(snd, &rb, sx_slice_of(qb.sid, ID_LEN), &send, NULL, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    expect_msg(rcv_b, &qb, "lost");

    /* An onion host first and a public one after: A takes the public one
     * (it has no SOCKS proxy, as the reference without one). */
    {
        sx_smp_cmd px = {.tag = SX_SMP_C_PRXY};
        static const char onion[] = "aaaaaaaaaaaaaaaa.onion", ip[] = "127.0.0.1";
        uint8_t hosts[64];
        size_t hn = 0;
        hosts[hn++] = (uint8_t)strlen(onion);
        memcpy(hosts + hn, onion, strlen(onion));
        hn += strlen(onion);
        hosts[hn++] = (uint8_t)strlen(ip);
        memcpy(hosts + hn, ip, strlen(ip));
        hn += strlen(ip);
        char port[8];
        snprintf(port, sizeof port, "%u", g_r[1].port);
        px.prxy.server.hosts.count = 2;
        px.prxy.server.hosts.items = sx_slice_of(hosts, hn);
        px.prxy.server.port = sx_slice_str(port);
        px.prxy.server.key_hash = sx_slice_of(g_r[1].fp, SX_FINGERPRINT_LEN);
        assert_ok(sx_smp_client_call(snd, sx_slice_of(NULL, 0), &px, NULL, &r));
        assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_PKEY);
        sx_smp_client_reply_free(&r);
    }

    /* A destination nobody listens on: PROXY BROKER NETWORK. */
    sx_smp_address none = address_of(&g_r[1]);
    none.port = tu_free_port();
    sx_smp_relay_session rs;
    assert_int_equal(sx_smp_client_proxy_session(snd, &none, sx_slice_of(NULL, 0), &rs, &r), SX_E_PROTOCOL);
    assert_true(is_proxy_err(&r, SX_SMP_PROXY_BROKER));
    assert_int_equal(r.reply.resp.err.proxy.broker, SX_SMP_BROKER_NETWORK);
    sx_smp_client_reply_free(&r);

    /* B's address with C's identity: the proxy's TLS check refuses B. */
    sx_smp_address wrong = address_of(&g_r[1]);
    memcpy(wrong.key_hash, g_r[2].fp, SX_FINGERPRINT_LEN);
    assert_int_equal(sx_smp_client_proxy_session(snd, &wrong, sx_slice_of(NULL, 0), &rs, &r), SX_E_PROTOCOL);
    assert_true(is_proxy_err(&r, SX_SMP_PROXY_BROKER));
    sx_smp_client_reply_free(&r);

    /* The client's own PKEY checks (PROTOCOL-NOTES D32): B's PKEY against
     * C's identity, and with a damaged signature. */
    sx_smp_cmd prxy = {.tag = SX_SMP_C_PRXY};
    uint8_t hosts[16] = {9, '1', '2', '7', '.', '0', '.', '0', '.', '1'};
    char port[8];
    snprintf(port, sizeof port, "%u", g_r[1].port);
    prxy.prxy.server.hosts.count = 1;
    prxy.prxy.server.hosts.items = sx_slice_of(hosts, 10);
    prxy.prxy.server.port = sx_slice_str(port);
    prxy.prxy.server.key_hash = sx_slice_of(g_r[1].fp, SX_FINGERPRINT_LEN);
    assert_ok(sx_smp_client_call(snd, sx_slice_of(NULL, 0), &prxy, NULL, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_PKEY);
    assert_int_equal(sx_smp_pkey_check(&r.reply.resp, g_r[2].fp, sx_smp_server_vrange(), &rs), SX_E_AUTH);
    sx_smp_resp damaged = r.reply.resp;
    uint8_t sk[512];
    assert_true(damaged.pkey.signed_key.len <= sizeof sk);
    memcpy(sk, damaged.pkey.signed_key.ptr, damaged.pkey.signed_key.len);
    sk[damaged.pkey.signed_key.len - 1] ^= 1;
    damaged.pkey.signed_key = sx_slice_of(sk, damaged.pkey.signed_key.len);
    assert_int_equal(sx_smp_pkey_check(&damaged, g_r[1].fp, sx_smp_server_vrange(), &rs), SX_E_AUTH);
    /* A range the client does not share. */
    damaged = r.reply.resp;
    sx_version_range old = {6, 7};
    assert_int_equal(sx_smp_pkey_check(&damaged, g_r[1].fp, old, &rs), SX_E_PROTOCOL);
    assert_ok(sx_smp_pkey_check(&r.reply.resp, g_r[1].fp, sx_smp_server_vrange(), &rs));
    sx_smp_relay_session_cleanup(&rs);
    sx_smp_client_reply_free(&r);

    sx_smp_relay_session_cleanup(&rb);
    queue_free(&qb);
    sx_smp_client_close(snd);
    sx_smp_client_close(rcv_b);
}

/* One RFWD from a client that acts as the proxy by hand: the envelope
 * boxed with its session's secret and nonce, and B's answer. */
static void rfwd_call(sx_smp_client *cl, sx_slice plain, const uint8_t nonce[24], sx_smp_client_reply *r)
{
    const sx_smp_session *s = sx_smp_client_session(cl);
    static uint8_t box[SX_BLOCK_SIZE];
    assert_ok(sx_cb_encrypt(s->secret, nonce, plain, box, sizeof box));
    sx_smp_cmd rfwd = {.tag = SX_SMP_C_RFWD};
    rfwd.enc = sx_slice_of(box, plain.len + SX_CB_TAG_LEN);
    sx_smp_client_cmd cc = {.entity = sx_slice_of(NULL, 0), .cmd = &rfwd};
    cc.corr_given = true;
    memcpy(cc.corr_id, nonce, sizeof cc.corr_id);
    assert_ok(sx_smp_client_call_many(cl, &cc, 1, r));
}

/* B as the destination with the forwarding done by hand (PROTOCOL-NOTES
 * D34-D36), without A: a good RFWD is answered RRES that opens with the
 * reversed nonces; a bad envelope CRYPTO, a bad plaintext CMD SYNTAX, an
 * inner box under another key CRYPTO, two inner transmissions BLOCK. */
static void test_destination_by_hand(void **state)
{
    (void)state;
    sx_smp_client *rcv = connect_to(&g_r[1]), *fwd = connect_to(&g_r[1]);
    queue q;
    create_queue(rcv, &q);
    const sx_smp_session *s = sx_smp_client_session(fwd);
    assert_true(s->has_secret && s->server_dh_pub);
    sx_smp_relay_session rs = {.version = 17};
    memcpy(rs.session_id, s->session_id, s->session_id_len);
    rs.session_id_len = s->session_id_len;
    assert_ok(sx_key_public_copy(s->server_dh_pub, &rs.relay_key));
    sx_smp_cmd send = {.tag = SX_SMP_C_SEND};
    send.send.body = sx_slice_str("by hand");
    static sx_smp_pfwd p;
    assert_ok(sx_smp_pfwd_make(&rs, sx_slice_of(q.sid, ID_LEN), &send, NULL, &p));
    static uint8_t plain[SX_BLOCK_SIZE], opened[SX_BLOCK_SIZE];
    sx_smp_fwd_t f = {.corr_id = sx_slice_of(p.corr_id, 24), .version = 17, .dh_key = p.cmd.pfwd.dh_key};
    f.enc = p.cmd.pfwd.enc;
    sx_writer w;
    sx_writer_init_fixed(&w, plain, sizeof plain);
    assert_true(sx_smp_fwd_t_write(&w, &f));
    uint8_t nonce[24], rev[24];
    sx_random_bytes(nonce, sizeof nonce);
    sx_smp_client_reply r;
    rfwd_call(fwd, sx_writer_slice(&w), nonce, &r);
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_RRES);
    sx_cb_nonce_reverse(nonce, rev);
    sx_slice env;
    assert_ok(sx_cb_decrypt(s->secret, rev, r.reply.resp.enc, opened, sizeof opened, &env));
    sx_smp_fwd_resp fr;
    assert_ok(sx_smp_fwd_resp_decode(env, &fr));
    assert_true(sx_slice_eq(fr.corr_id, sx_slice_of(p.corr_id, 24)));
    assert_int_equal(fr.enc.len, SX_SMP_PROXIED_BOX_LEN);
    sx_smp_client_reply inner;
    assert_ok(sx_smp_pres_open(&rs, &p, fr.enc, &inner));
    assert_true(inner.ok && inner.reply.resp.tag == SX_SMP_R_OK);
    sx_smp_client_reply_free(&inner);
    sx_smp_client_reply_free(&r);
    expect_msg(rcv, &q, "by hand");

    /* An envelope that does not open: CRYPTO. */
    sx_smp_cmd rfwd = {.tag = SX_SMP_C_RFWD};
    rfwd.enc = sx_slice_str("not a box, but long enough to be tried as one");
    assert_ok(sx_smp_client_call(fwd, sx_slice_of(NULL, 0), &rfwd, NULL, &r));
    assert_true(is_err(&r, SX_SMP_ERR_CRYPTO));
    sx_smp_client_reply_free(&r);
    /* An envelope that opens to something else: CMD SYNTAX. */
    sx_random_bytes(nonce, sizeof nonce);
    rfwd_call(fwd, sx_slice_str("\x05short"), nonce, &r);
    assert_true(is_err(&r, SX_SMP_ERR_CMD) && r.reply.resp.err.cmd == SX_SMP_CMD_SYNTAX);
    sx_smp_client_reply_free(&r);
    /* The inner box under another key: CRYPTO. */
    sx_key *other = NULL;
    uint8_t oder[SX_KEY_SPKI_MAX];
    assert_ok(sx_key_generate(SX_KEY_X25519, &other));
    sx_smp_fwd_t bad = f;
    assert_ok(sx_smp_pubkey_of(other, oder, &bad.dh_key));
    sx_writer_init_fixed(&w, plain, sizeof plain);
    assert_true(sx_smp_fwd_t_write(&w, &bad));
    sx_random_bytes(nonce, sizeof nonce);
    rfwd_call(fwd, sx_writer_slice(&w), nonce, &r);
    assert_true(is_err(&r, SX_SMP_ERR_CRYPTO));
    sx_smp_client_reply_free(&r);
    /* Two transmissions in the inner batch: BLOCK. */
    static uint8_t two[64], ibox[SX_SMP_PROXIED_BOX_LEN];
    memcpy(two, "\x02\x00\x01"
                "a"
                "\x00\x01"
                "b",
           7);
    assert_ok(sx_cb_encrypt_padded(p.secret, p.corr_id, sx_slice_of(two, 7), SX_SMP_PROXIED_T_LEN, ibox,
                                   sizeof ibox));
    bad = f;
    bad.enc = sx_slice_of(ibox, sizeof ibox);
    sx_writer_init_fixed(&w, plain, sizeof plain);
    assert_true(sx_smp_fwd_t_write(&w, &bad));
    sx_random_bytes(nonce, sizeof nonce);
    rfwd_call(fwd, sx_writer_slice(&w), nonce, &r);
    assert_true(is_err(&r, SX_SMP_ERR_BLOCK));
    sx_smp_client_reply_free(&r);
    sx_key_free(other);
    sx_smp_relay_session_cleanup(&rs);
    queue_free(&q);
    sx_smp_client_close(fwd);
    sx_smp_client_close(rcv);
}

typedef struct calls {
    sx_smp_client *cl;
    sx_smp_client_cmd *cc;
    size_t n;
    sx_smp_client_reply *r;
    sx_status st;
} calls;

static void *call_main(void *arg)
{
    calls *c = arg;
    c->st = sx_smp_client_call_many(c->cl, c->cc, c->n, c->r);
    return NULL;
}

/* More PFWDs at once than A runs for one client: the rest wait their turn
 * (PROTOCOL-NOTES D38) and every one is answered. */
static void test_concurrency(void **state)
{
    (void)state;
    enum { N = 9 };
    sx_smp_client *rcv_b = connect_to(&g_r[1]);
    sx_smp_client *snd = connect_to(&g_r[0]);
    queue qb;
    create_queue(rcv_b, &qb);
    sx_smp_relay_session rb;
    open_session(snd, &g_r[1], &rb);
    static sx_smp_pfwd p[N];
    sx_smp_client_cmd cc[N];
    sx_smp_client_reply r[N];
    char text[N][16];
    sx_smp_cmd send[N];
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof text[i], "message %d", i);
        send[i] = (sx_smp_cmd){.tag = SX_SMP_C_SEND};
        send[i].send.body = sx_slice_str(text[i]);
        assert_ok(sx_smp_pfwd_make(&rb, sx_slice_of(qb.sid, ID_LEN), &send[i], NULL, &p[i]));
        cc[i] = (sx_smp_client_cmd){.entity = sx_slice_of(rb.session_id, rb.session_id_len), .cmd = &p[i].cmd};
        cc[i].corr_given = true;
        memcpy(cc[i].corr_id, p[i].corr_id, sizeof cc[i].corr_id);
    }
    /* B stopped: two run at A, two wait, and A stops reading the client
     * (its debug log says each); then B goes on and all are answered. */
    stop_process(g_r[1].pid);
    calls c = {snd, cc, N, r, SX_E_INTERNAL};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, call_main, &c), 0);
    bool waited = false, paused = false;
    for (int64_t end = now_ms() + WAIT_MS; !(waited && paused) && now_ms() < end;) {
        usleep(20000);
        FILE *f = fopen(g_r[0].out, "r");
        assert_non_null(f);
        char line[512];
        while (fgets(line, sizeof line, f)) {
            waited = waited || strstr(line, "proxied command waits (2 running)") != NULL;
            paused = paused || strstr(line, "not read while 2 proxied commands wait") != NULL;
        }
        fclose(f);
    }
    assert_int_equal(kill(g_r[1].pid, SIGCONT), 0);
    pthread_join(th, NULL);
    assert_true(waited);
    assert_true(paused);
    assert_ok(c.st);
    for (int i = 0; i < N; i++) {
        assert_true(r[i].ok && r[i].reply.resp.tag == SX_SMP_R_PRES);
        sx_smp_client_reply inner;
        assert_ok(sx_smp_pres_open(&rb, &p[i], r[i].reply.resp.enc, &inner));
        assert_true(inner.ok && inner.reply.resp.tag == SX_SMP_R_OK);
        sx_smp_client_reply_free(&inner);
        sx_smp_client_reply_free(&r[i]);
    }
    /* The relay ran them in the order they were sent. */
    for (int i = 0; i < N; i++)
        expect_msg(rcv_b, &qb, text[i]);
    sx_smp_relay_session_cleanup(&rb);
    queue_free(&qb);
    sx_smp_client_close(snd);
    sx_smp_client_close(rcv_b);
}

/* A destination that does not answer: PROXY BROKER TIMEOUT after A's
 * forward_timeout; once it answers again, the same session works. */
static void test_timeout(void **state)
{
    (void)state;
    sx_smp_client *rcv_c = connect_to(&g_r[2]);
    sx_smp_client *snd = connect_to(&g_r[0]);
    queue qc;
    create_queue(rcv_c, &qc);
    sx_smp_relay_session rc;
    open_session(snd, &g_r[2], &rc);
    sx_smp_cmd send = {.tag = SX_SMP_C_SEND};
    send.send.body = sx_slice_str("late");
    sx_smp_client_reply r;
    stop_process(g_r[2].pid);
    int64_t t0 = now_ms();
    sx_status st = sx_smp_client_proxy_call(snd, &rc, sx_slice_of(qc.sid, ID_LEN), &send, NULL, &r);
    int64_t waited = now_ms() - t0;
    assert_int_equal(kill(g_r[2].pid, SIGCONT), 0);
    assert_int_equal(st, SX_E_PROTOCOL);
    assert_true(is_proxy_err(&r, SX_SMP_PROXY_BROKER));
    assert_int_equal(r.reply.resp.err.proxy.broker, SX_SMP_BROKER_TIMEOUT);
    assert_true(waited >= 1000);
    sx_smp_client_reply_free(&r);
    /* The late command still reached C; the next one is answered. */
    expect_msg(rcv_c, &qc, "late");
    send.send.body = sx_slice_str("on time");
    assert_ok(sx_smp_client_proxy_call(snd, &rc, sx_slice_of(qc.sid, ID_LEN), &send, NULL, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    expect_msg(rcv_c, &qc, "on time");
    sx_smp_relay_session_cleanup(&rc);
    queue_free(&qc);
    sx_smp_client_close(snd);
    sx_smp_client_close(rcv_c);
}

/* The public API through A: secure and send, then B restarts (A's relay
 * connection ends with it, and A forgets the session): the next send is
 * answered PROXY NO_SESSION, and the library opens a new session by itself. */
static void test_api_destination_restart(void **state)
{
    (void)state;
    char fa[64], fb[64], a[160], b[160];
    assert_ok(sx_b64_encode(sx_slice_of(g_r[0].fp, SX_FINGERPRINT_LEN), SX_B64_URL, fa, sizeof fa));
    assert_ok(sx_b64_encode(sx_slice_of(g_r[1].fp, SX_FINGERPRINT_LEN), SX_B64_URL, fb, sizeof fb));
    snprintf(a, sizeof a, "smp://%s@127.0.0.1:%u", fa, g_r[0].port);
    snprintf(b, sizeof b, "smp://%s@127.0.0.1:%u", fb, g_r[1].port);
    sx_smp_conn *rc = NULL, *proxy = NULL;
    sx_smp_queue *rq = NULL, *sq = NULL;
    assert_ok(sx_smp_connect(b, NULL, &rc));
    assert_ok(sx_smp_connect(a, NULL, &proxy));
    assert_ok(sx_smp_queue_create(rc, &rq));
    assert_ok(sx_smp_queue_sender(rq, &sq));
    assert_ok(sx_smp_queue_secure_proxied(proxy, sq));
    assert_true(sx_smp_queue_has_sender_key(sq));
    assert_ok(sx_smp_send_proxied(proxy, sq, "one", 3));
    assert_ok(sx_smp_subscribe(rc, rq));
    sx_smp_event ev;
    assert_ok(sx_smp_receive(rc, CALL_MS, &ev));
    assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
    assert_int_equal(ev.body_len, 3);
    assert_memory_equal(ev.body, "one", 3);
    assert_ok(sx_smp_ack(rc, rq, &ev));
    sx_smp_event_clear(&ev);
    sx_smp_close(rc);

    /* B stops and starts again on its port, with its queues. */
    kill(g_r[1].pid, SIGTERM);
    assert_int_equal(wait_pid(g_r[1].pid, WAIT_MS), 0);
    g_r[1].pid = 0;
    if (!router_start(&g_r[1])) {
        dump(&g_r[1]);
        fail_msg("B did not start again");
    }
    assert_ok(sx_smp_send_proxied(proxy, sq, "two", 3));
    assert_ok(sx_smp_connect(b, NULL, &rc));
    assert_ok(sx_smp_subscribe(rc, rq));
    assert_ok(sx_smp_receive(rc, CALL_MS, &ev));
    assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
    assert_memory_equal(ev.body, "two", 3);
    assert_ok(sx_smp_ack(rc, rq, &ev));
    sx_smp_event_clear(&ev);
    /* A said so in its log: the first relay connection closed, a second made. */
    FILE *f = fopen(g_r[0].out, "r");
    assert_non_null(f);
    char line[512], want[96];
    snprintf(want, sizeof want, "proxy: connected to relay 127.0.0.1:%u", g_r[1].port);
    int connects = 0;
    while (fgets(line, sizeof line, f))
        connects += strstr(line, want) != NULL;
    fclose(f);
    assert_true(connects >= 2);

    /* A proxy that needs its password (code PROXY BASIC_AUTH) is in
     * integration.smp_proxy_cli; a destination down: */
    stop_process(g_r[1].pid);
    sx_status st = sx_smp_send_proxied(proxy, sq, "three", 5);
    kill(g_r[1].pid, SIGCONT);
    if (st != SX_E_IO || strcmp(sx_error_code(), "PROXY BROKER TIMEOUT") != 0)
        fail_msg("send with B stopped: %s, code '%s': %s", sx_status_str(st), sx_error_code(), sx_error_message());
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
    sx_smp_close(rc);
    sx_smp_close(proxy);
}

/* ---- the event-loop flavour of the API ---- */

typedef struct loop_run {
    sx_loop *loop;
    sx_smp_aconn *proxy;
    sx_smp_queue *sq;
    int pending; /* operations not yet answered */
    sx_status st[4];
    char code[4][48];
    int step; /* 0 connecting, 1 securing, 2 sending */
    bool closed;
} loop_run;

static void loop_done(sx_smp_aconn *c, sx_status st, void *arg);

static void loop_send_two(loop_run *lr)
{
    assert_ok(sx_smp_aconn_send_proxied(lr->proxy, lr->sq, "loop one", 8, loop_done, lr));
    assert_ok(sx_smp_aconn_send_proxied(lr->proxy, lr->sq, "loop two", 8, loop_done, lr));
    lr->pending = 2;
}

static void loop_done(sx_smp_aconn *c, sx_status st, void *arg)
{
    (void)c;
    loop_run *lr = arg;
    int i = lr->step == 1 ? 0 : 3 - lr->pending;
    lr->st[i] = st;
    snprintf(lr->code[i], sizeof lr->code[i], "%s", sx_error_code());
    if (st != SX_OK)
        fprintf(stderr, "loop operation %d: %s\n", i, sx_error_message());
    if (--lr->pending > 0)
        return;
    if (lr->step == 1 && st == SX_OK) {
        lr->step = 2;
        loop_send_two(lr);
        return;
    }
    sx_smp_aconn_close(lr->proxy);
}

static void loop_connected(sx_smp_aconn *c, sx_status st, void *arg)
{
    loop_run *lr = arg;
    if (st != SX_OK) {
        lr->st[0] = st;
        lr->closed = true;
        sx_loop_stop(lr->loop);
        return;
    }
    lr->step = 1;
    lr->pending = 1;
    assert_ok(sx_smp_aconn_secure_proxied(c, lr->sq, loop_done, lr));
}

static void loop_closed(sx_smp_aconn *c, sx_status st, void *arg)
{
    (void)c;
    (void)st;
    loop_run *lr = arg;
    lr->closed = true;
    sx_loop_stop(lr->loop);
}

/* sx_smp_aconn_secure_proxied, then two sx_smp_aconn_send_proxied at once
 * (both ask for the session; one is kept) through A to a queue on B. */
static void test_api_loop(void **state)
{
    (void)state;
    char fa[64], fb[64], a[160], b[160];
    assert_ok(sx_b64_encode(sx_slice_of(g_r[0].fp, SX_FINGERPRINT_LEN), SX_B64_URL, fa, sizeof fa));
    assert_ok(sx_b64_encode(sx_slice_of(g_r[1].fp, SX_FINGERPRINT_LEN), SX_B64_URL, fb, sizeof fb));
    snprintf(a, sizeof a, "smp://%s@127.0.0.1:%u", fa, g_r[0].port);
    snprintf(b, sizeof b, "smp://%s@127.0.0.1:%u", fb, g_r[1].port);
    sx_smp_conn *rc = NULL;
    sx_smp_queue *rq = NULL;
    assert_ok(sx_smp_connect(b, NULL, &rc));
    assert_ok(sx_smp_queue_create(rc, &rq));
    loop_run lr;
    memset(&lr, 0, sizeof lr);
    for (int i = 0; i < 4; i++)
        lr.st[i] = SX_E_INTERNAL;
    assert_ok(sx_smp_queue_sender(rq, &lr.sq));
    assert_ok(sx_loop_new(&lr.loop));
    sx_smp_aconn_callbacks cbs = {.connected = loop_connected, .closed = loop_closed, .arg = &lr};
    assert_ok(sx_smp_aconn_connect(lr.loop, a, NULL, &cbs, &lr.proxy));
    assert_ok(sx_loop_run(lr.loop));
    assert_true(lr.closed);
    sx_loop_free(lr.loop);
    for (int i = 0; i < 3; i++)
        if (lr.st[i] != SX_OK)
            fail_msg("operation %d: %s (%s)", i, sx_status_str(lr.st[i]), lr.code[i]);
    assert_true(sx_smp_queue_has_sender_key(lr.sq));
    assert_ok(sx_smp_subscribe(rc, rq));
    const char *want[] = {"loop one", "loop two"};
    for (int i = 0; i < 2; i++) {
        sx_smp_event ev;
        assert_ok(sx_smp_receive(rc, CALL_MS, &ev));
        assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
        assert_int_equal(ev.body_len, 8);
        assert_memory_equal(ev.body, want[i], 8);
        assert_ok(sx_smp_ack(rc, rq, &ev));
        sx_smp_event_clear(&ev);
    }
    sx_smp_queue_free(lr.sq);
    sx_smp_queue_free(rq);
    sx_smp_close(rc);
}

/* PROTOCOL-NOTES D31: A keeps one relay connection per destination
 * address as the reference's proxy agent keys them (the whole address:
 * every host in order, the port as sent, the key hash). The same address
 * again gets the same relay session; the same router named with an added
 * host after its first (here an onion one, or a name) is another relay,
 * although A connects to the same first host for each. */
static void prxy_session(sx_smp_client *cl, const char *const *hosts, size_t n, uint8_t *sid, size_t *sid_len)
{
    uint8_t items[256];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t hl = strlen(hosts[i]);
        assert_true(len + 1 + hl <= sizeof items);
        items[len++] = (uint8_t)hl;
        memcpy(items + len, hosts[i], hl);
        len += hl;
    }
    char port[8];
    snprintf(port, sizeof port, "%u", g_r[1].port);
    sx_smp_cmd px = {.tag = SX_SMP_C_PRXY};
    px.prxy.server.hosts.count = n;
    px.prxy.server.hosts.items = sx_slice_of(items, len);
    px.prxy.server.port = sx_slice_str(port);
    px.prxy.server.key_hash = sx_slice_of(g_r[1].fp, SX_FINGERPRINT_LEN);
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(cl, sx_slice_of(NULL, 0), &px, NULL, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_PKEY);
    assert_true(r.reply.resp.pkey.session_id.len > 0 && r.reply.resp.pkey.session_id.len <= 64);
    *sid_len = r.reply.resp.pkey.session_id.len;
    memcpy(sid, r.reply.resp.pkey.session_id.ptr, *sid_len);
    sx_smp_client_reply_free(&r);
}

static bool same_sid(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return an == bn && memcmp(a, b, an) == 0;
}

static void test_relay_identity(void **state)
{
    (void)state;
    sx_smp_client *snd = connect_to(&g_r[0]), *snd2 = connect_to(&g_r[0]);
    static const char *const one[] = {"127.0.0.1"};
    static const char *const with_onion[] = {"127.0.0.1", "aaaaaaaaaaaaaaaa.onion"};
    static const char *const with_name[] = {"127.0.0.1", "localhost"};
    uint8_t s1[64], s1b[64], s2[64], s2b[64], s3[64];
    size_t n1, n1b, n2, n2b, n3;
    prxy_session(snd, one, 1, s1, &n1);
    prxy_session(snd2, one, 1, s1b, &n1b);
    assert_true(same_sid(s1, n1, s1b, n1b));
    prxy_session(snd, with_onion, 2, s2, &n2);
    prxy_session(snd2, with_onion, 2, s2b, &n2b);
    assert_true(same_sid(s2, n2, s2b, n2b));
    assert_false(same_sid(s1, n1, s2, n2));
    prxy_session(snd, with_name, 2, s3, &n3);
    assert_false(same_sid(s3, n3, s1, n1));
    assert_false(same_sid(s3, n3, s2, n2));
    sx_smp_client_close(snd);
    sx_smp_client_close(snd2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_relay_identity),
        cmocka_unit_test(test_destination_by_hand),
        cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_api_destination_restart),
        cmocka_unit_test(test_api_loop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
