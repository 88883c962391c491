/* The pool's choice between a direct and a proxied send (proxy_mode,
 * proxy_fallback, known_routers, address_protected of sx_smp_pool_opts;
 * the reference's SMPProxyMode and SMPProxyFallback) with real smp-server
 * processes on loopback: B holds the queue, P is a proxy, H a proxy that
 * cannot use B's host (socks_proxy with host_mode onion and
 * required_host_mode: it answers PROXY BROKER HOST, the reference's host
 * error). Which way each send went is read from B's statistics on its
 * control port (msgSent counts every SEND, pMsgFwdsRecv the forwarded ones)
 * and from the proxies' (pMsgFwds, pRelays), besides the pool's own
 * counters. Also: a proxy that is down is no reason to send directly, and
 * a proxy session that the proxy forgot (B restarted) is opened again. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool_router.h"
#include "simplex/loop.h"
#include "simplex/smp.h"

#define WAIT_MS 30000

static pool_router B, P, H;
static uint16_t ctl_b, ctl_p, ctl_h;
static sx_smp_queue *g_rq, *g_sq;

/* ---- the control port ---- */

/* B's counts: all SENDs and the forwarded ones. */
typedef struct bview {
    long long sent, fwd;
} bview;

static bview b_view(void)
{
    bview v = {pool_router_ctl_stat(ctl_b, "us3r", "msgSent", NULL),
               pool_router_ctl_stat(ctl_b, "us3r", "pMsgFwdsRecv", NULL)};
    return v;
}

/* ---- one send through a new pool ---- */

static struct {
    bool done;
    sx_status st;
    char code[128];
} g;

static void on_event(sx_smp_pool *p, const sx_smp_pool_event *e, void *arg)
{
    (void)p;
    (void)e;
    (void)arg;
}

static void send_done(sx_smp_pool *p, sx_status st, void *arg)
{
    (void)p;
    (void)arg;
    g.done = true;
    g.st = st;
    snprintf(g.code, sizeof g.code, "%s", st == SX_OK ? "" : sx_error_code());
}

static void check_cb(sx_loop *loop, void *arg)
{
    int64_t *deadline = arg;
    if (g.done || now_ms() > *deadline)
        sx_loop_stop(loop);
}

/* Sends n messages, one after the other, through one pool made with o; the
 * last status is returned, the pool's counters in *ps. */
static sx_status pool_send_n(const sx_smp_pool_opts *o, int n, sx_smp_pool_stats *ps)
{
    sx_loop *loop;
    assert_ok(sx_loop_new(&loop));
    sx_smp_pool *pool;
    assert_ok(sx_smp_pool_new(loop, o, on_event, NULL, &pool));
    sx_status last = SX_OK;
    for (int i = 0; i < n; i++) {
        memset(&g, 0, sizeof g);
        assert_ok(sx_smp_pool_send(pool, g_sq, "hello", 5, send_done, NULL));
        int64_t deadline = now_ms() + WAIT_MS;
        sx_timer *t;
        assert_ok(sx_timer_new(loop, check_cb, &deadline, &t));
        sx_timer_start(t, 5, 5);
        assert_ok(sx_loop_run(loop));
        sx_timer_free(t);
        if (!g.done)
            fail_msg("the send did not end in %d ms", WAIT_MS);
        last = g.st;
    }
    sx_smp_pool_get_stats(pool, ps);
    sx_smp_pool_free(pool);
    sx_loop_free(loop);
    return last;
}

static sx_status pool_send(const sx_smp_pool_opts *o, sx_smp_pool_stats *ps)
{
    return pool_send_n(o, 1, ps);
}

/* ---- setup ---- */

static void start_router(pool_router *rp, uint16_t *ctl, const char *proxy_lines)
{
    char extra[512];
    assert_int_equal(pool_router_init(rp, NULL), 0);
    *ctl = pool_router_free_port();
    snprintf(extra, sizeof extra, "control_port: %u\ncontrol_port_user_password: us3r\n%s", (unsigned)*ctl,
             proxy_lines ? proxy_lines : "");
    pool_router_edit(rp, extra);
    pool_router_start(rp);
}

static int setup(void **state)
{
    (void)state;
    start_router(&B, &ctl_b, NULL);
    start_router(&P, &ctl_p, NULL);
    start_router(&H, &ctl_h, "socks_proxy: 127.0.0.1:9\nhost_mode: onion\nrequired_host_mode: on\n");
    sx_smp_conn *c;
    assert_ok(sx_smp_connect(B.addr, NULL, &c));
    assert_ok(sx_smp_queue_create(c, &g_rq));
    assert_ok(sx_smp_queue_sender(g_rq, &g_sq));
    sx_smp_close(c);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sx_smp_queue_free(g_sq);
    sx_smp_queue_free(g_rq);
    pool_router_free(&B);
    pool_router_free(&P);
    pool_router_free(&H);
    return 0;
}

/* ---- tests ---- */

static void test_modes(void **state)
{
    (void)state;
    const char *via_p[] = {P.addr};
    sx_smp_pool_stats ps;
    sx_smp_pool_opts o = {.proxies = via_p, .n_proxies = 1};

    /* never (the default): directly */
    bview v0 = b_view();
    assert_ok(pool_send(&o, &ps));
    bview v1 = b_view();
    assert_int_equal(v1.sent - v0.sent, 1);
    assert_int_equal(v1.fwd - v0.fwd, 0);
    assert_int_equal(ps.sent_direct, 1);
    assert_int_equal(ps.sent_proxied, 0);

    /* always: through P, twice on one proxy session (one PRXY) */
    long long relays0 = pool_router_ctl_stat(ctl_p, "us3r", "pRelays", "requests");
    long long fwds0 = pool_router_ctl_stat(ctl_p, "us3r", "pMsgFwds", "successes");
    o.proxy_mode = SX_SMP_PROXY_ALWAYS;
    assert_ok(pool_send_n(&o, 2, &ps));
    bview v2 = b_view();
    assert_int_equal(v2.sent - v1.sent, 2);
    assert_int_equal(v2.fwd - v1.fwd, 2);
    assert_int_equal(ps.sent_proxied, 2);
    assert_int_equal(ps.sent_direct, 0);
    assert_int_equal(pool_router_ctl_stat(ctl_p, "us3r", "pRelays", "requests") - relays0, 1);
    assert_int_equal(pool_router_ctl_stat(ctl_p, "us3r", "pMsgFwds", "successes") - fwds0, 2);

    /* unknown routers: B known (by its address) -> directly; known by
     * another host only -> through P */
    const char *known_b[] = {B.addr};
    const char *known_other[] = {"example.com"};
    o.proxy_mode = SX_SMP_PROXY_UNKNOWN;
    o.known_routers = known_b;
    o.n_known_routers = 1;
    assert_ok(pool_send(&o, &ps));
    bview v3 = b_view();
    assert_int_equal(v3.sent - v2.sent, 1);
    assert_int_equal(v3.fwd - v2.fwd, 0);
    o.known_routers = known_other;
    assert_ok(pool_send(&o, &ps));
    bview v4 = b_view();
    assert_int_equal(v4.sent - v3.sent, 1);
    assert_int_equal(v4.fwd - v3.fwd, 1);

    /* unprotected: through P while the address is not protected, directly
     * when it is */
    o.proxy_mode = SX_SMP_PROXY_UNPROTECTED;
    assert_ok(pool_send(&o, &ps));
    bview v5 = b_view();
    assert_int_equal(v5.fwd - v4.fwd, 1);
    o.address_protected = true;
    assert_ok(pool_send(&o, &ps));
    bview v6 = b_view();
    assert_int_equal(v6.sent - v5.sent, 1);
    assert_int_equal(v6.fwd - v5.fwd, 0);
    assert_int_equal(ps.sent_direct, 1);
}

static void test_fallback(void **state)
{
    (void)state;
    const char *via_h[] = {H.addr};
    sx_smp_pool_stats ps;
    sx_smp_pool_opts o = {.proxies = via_h, .n_proxies = 1, .proxy_mode = SX_SMP_PROXY_ALWAYS};

    /* allowed: H's host error, then directly */
    long long host0 = pool_router_ctl_stat(ctl_h, "us3r", "pRelays", "errorsOther");
    bview v0 = b_view();
    assert_ok(pool_send(&o, &ps));
    bview v1 = b_view();
    assert_int_equal(v1.sent - v0.sent, 1);
    assert_int_equal(v1.fwd - v0.fwd, 0);
    assert_int_equal(ps.proxy_fallbacks, 1);
    assert_int_equal(ps.sent_direct, 1);
    assert_int_equal(pool_router_ctl_stat(ctl_h, "us3r", "pRelays", "errorsOther") - host0, 1);

    /* prohibited: the proxy's error */
    o.proxy_fallback = SX_SMP_FALLBACK_PROHIBIT;
    /* (the library reports the proxy's BROKER errors as SX_E_IO) */
    assert_int_equal(pool_send(&o, &ps), SX_E_IO);
    assert_string_equal(g.code, "PROXY BROKER HOST");
    assert_int_equal(ps.proxy_fallbacks, 0);
    /* allowed only for a protected address: not here */
    o.proxy_fallback = SX_SMP_FALLBACK_ALLOW_PROTECTED;
    assert_int_equal(pool_send(&o, &ps), SX_E_IO);
    assert_string_equal(g.code, "PROXY BROKER HOST");
    o.address_protected = true;
    assert_ok(pool_send(&o, &ps));
    assert_int_equal(ps.proxy_fallbacks, 1);
    bview v2 = b_view();
    assert_int_equal(v2.sent - v1.sent, 1);
    assert_int_equal(v2.fwd - v1.fwd, 0);

    /* a proxy that is down is not a host error: never directly (as the
     * reference), whatever the fallback */
    char down[300];
    snprintf(down, sizeof down, "smp://%s@127.0.0.1:%u", P.fp, (unsigned)pool_router_free_port());
    const char *via_down[] = {down};
    sx_smp_pool_opts od = {.proxies = via_down, .n_proxies = 1, .proxy_mode = SX_SMP_PROXY_ALWAYS};
    od.conn.timeout_ms = 3000;
    assert_int_not_equal(pool_send(&od, &ps), SX_OK);
    assert_int_equal(ps.proxy_fallbacks, 0);
    assert_int_equal(ps.sent_direct, 0);
    bview v3 = b_view();
    assert_int_equal(v3.sent - v2.sent, 0);
}

/* The proxy forgets its session when its connection to B ends (B killed
 * and started again): the pool's next send gets PROXY NO_SESSION and opens
 * a new session on the same connection to P. */
static void test_no_session(void **state)
{
    (void)state;
    const char *via_p[] = {P.addr};
    sx_smp_pool_opts o = {.proxies = via_p, .n_proxies = 1, .proxy_mode = SX_SMP_PROXY_ALWAYS};
    sx_loop *loop;
    assert_ok(sx_loop_new(&loop));
    sx_smp_pool *pool;
    assert_ok(sx_smp_pool_new(loop, &o, on_event, NULL, &pool));
    long long no_session0 = pool_router_ctl_stat(ctl_p, "us3r", "pMsgFwds", "errorsConnect");
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            pool_router_kill9(&B);
            pool_router_start(&B);
            /* P notices the closed relay connection */
            sleep_ms(500);
        }
        memset(&g, 0, sizeof g);
        assert_ok(sx_smp_pool_send(pool, g_sq, "again", 5, send_done, NULL));
        int64_t deadline = now_ms() + WAIT_MS;
        sx_timer *t;
        assert_ok(sx_timer_new(loop, check_cb, &deadline, &t));
        sx_timer_start(t, 5, 5);
        assert_ok(sx_loop_run(loop));
        sx_timer_free(t);
        assert_true(g.done);
        if (g.st != SX_OK)
            fail_msg("round %d: %s (%s)", round, sx_strerror(g.st), g.code);
    }
    sx_smp_pool_stats ps;
    sx_smp_pool_get_stats(pool, &ps);
    assert_int_equal(ps.sent_proxied, 2);
    assert_int_equal(ps.sessions, 1); /* one connection to P throughout */
    /* P answered NO_SESSION once (counted as the reference does) */
    assert_int_equal(pool_router_ctl_stat(ctl_p, "us3r", "pMsgFwds", "errorsConnect") - no_session0, 1);
    sx_smp_pool_free(pool);
    sx_loop_free(loop);
    assert_int_equal(pool_router_ctl_stat(ctl_b, "us3r", "pMsgFwdsRecv", NULL), 1); /* since B's restart */
}

static void test_bad_options(void **state)
{
    (void)state;
    sx_loop *loop;
    assert_ok(sx_loop_new(&loop));
    sx_smp_pool *pool = NULL;
    sx_smp_pool_opts o = {.proxy_mode = SX_SMP_PROXY_ALWAYS};
    assert_int_equal(sx_smp_pool_new(loop, &o, on_event, NULL, &pool), SX_E_USAGE);
    const char *bad[] = {"smp://nothing"};
    o.proxies = bad;
    o.n_proxies = 1;
    assert_int_equal(sx_smp_pool_new(loop, &o, on_event, NULL, &pool), SX_E_USAGE);
    o.proxy_mode = (sx_smp_proxy_mode)9;
    assert_int_equal(sx_smp_pool_new(loop, &o, on_event, NULL, &pool), SX_E_USAGE);
    assert_null(pool);
    sx_loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_fallback),
        cmocka_unit_test(test_no_session),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
