/* Private message routing of the agent's sends (sx_agent_opts proxy_mode,
 * proxy_fallback, routers, address_protected; the reference's
 * SMPProxyMode and SMPProxyFallback) with three real smp-server processes
 * on loopback: B holds both agents' queues, P is a proxy (one of the
 * user's own routers), H a proxy that cannot use B's host (socks_proxy
 * with host_mode onion and required_host_mode: its answer is PROXY BROKER
 * HOST). Which way each send went is read from B's statistics on its
 * control port (msgSent counts every SEND, pMsgFwdsRecv every forwarded
 * command, SKEY included; qSecured the secured queues), and from the
 * agent's own counters (sx_agent_get_stats).
 *
 * Alice and bob connect with every send proxied (the SKEYs of the
 * handshake too), then alice is reopened from her store with other
 * options: unknown with B among her routers (directly) and without
 * (through P); unprotected with a protected address (directly); P down (the
 * message waits, never sent directly, and goes through P once it is back);
 * H as the only router with the fallback prohibited (MWARN, the message
 * waits) and then allowed (directly). */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

static pool_router B, P, H;
static uint16_t ctl_b, ctl_p;
/* P by the name localhost: a host of its own, so that B (127.0.0.1) is not
 * "known" to a user whose routers are P only (known routers are compared
 * by host, as in the reference). */
static char p_local[300];

/* ---- B's and P's statistics (the control port's `stats`) ---- */

/* B's counts: every SEND, the forwarded commands, the secured queues. */
typedef struct bview {
    long long sent, fwd, secured;
} bview;

static bview b_view(void)
{
    bview v = {pool_router_ctl_stat(ctl_b, "us3r", "msgSent", NULL),
               pool_router_ctl_stat(ctl_b, "us3r", "pMsgFwdsRecv", NULL),
               pool_router_ctl_stat(ctl_b, "us3r", "qSecured", NULL)};
    return v;
}

/* ---- agents ---- */

/* An agent with these proxy options and routers (the short retries of
 * open_agent_opts over them). */
static sx_agent *open_proxy_agent(const char *name, sx_agent_proxy_mode mode, sx_agent_proxy_fallback fb,
                                  const char *r1, const char *r2, bool protected_)
{
    const char *routers[2] = {r1, r2};
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.pq_off = true;
    o.timeout_ms = 5000;
    o.proxy_mode = mode;
    o.proxy_fallback = fb;
    o.routers = routers;
    o.n_routers = r2 ? 2 : (r1 ? 1 : 0);
    o.address_protected = protected_;
    return open_agent_opts(name, &o);
}

/* The handshake of connect_pair with the queues on B (no PQ asked). */
static void connect_pair_b(sx_agent *alice, sx_agent *bob, char *bob_id, char *alice_id)
{
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, B.addr, bob_id, &link));
    assert_ok(sx_agent_join(bob, link, NULL, "bob", 3, alice_id));
    sx_agent_free_text(link);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice", 5));
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    sx_agent_event_clear(&ev);
}

static int64_t send_text(sx_agent *a, const char *conn, const char *text)
{
    int64_t id = 0;
    assert_ok(sx_agent_send(a, conn, text, strlen(text), &id));
    return id;
}

/* MSG with text (any id), integrity OK, acknowledged. */
static void expect_text(sx_agent *a, const char *conn, const char *text)
{
    sx_agent_event ev;
    expect(a, SX_AGENT_EV_MSG, conn, &ev);
    assert_int_equal(ev.body_len, strlen(text));
    assert_memory_equal(ev.body, text, ev.body_len);
    assert_string_equal(ev.integrity, "OK");
    assert_ok(sx_agent_ack(a, conn, ev.msg_id));
    sx_agent_event_clear(&ev);
}

/* alice sends text to bob and waits for SENT and bob's MSG. */
static void hello(sx_agent *alice, const char *bob_id, sx_agent *bob, const char *alice_id, const char *text)
{
    int64_t id = send_text(alice, bob_id, text);
    expect_sent(alice, bob_id, id);
    expect_text(bob, alice_id, text);
}

/* ---- the test ---- */

static void test_private_routing(void **state)
{
    (void)state;
    sx_agent_stats as;
    bview v0 = b_view();
    long long relays0 = pool_router_ctl_stat(ctl_p, "us3r", "pRelays", "requests");

    /* always, through P: the handshake's SKEYs, the confirmation, the
     * info and the messages, both sides */
    sx_agent *alice = open_proxy_agent("alice", SX_AGENT_PROXY_ALWAYS, SX_AGENT_FALLBACK_ALLOW, p_local, NULL, false);
    sx_agent *bob = open_proxy_agent("bob", SX_AGENT_PROXY_ALWAYS, SX_AGENT_FALLBACK_ALLOW, p_local, NULL, false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair_b(alice, bob, bob_id, alice_id);
    hello(alice, bob_id, bob, alice_id, "hello");
    hello(bob, alice_id, alice, bob_id, "hello too");
    hello(alice, bob_id, bob, alice_id, "how are you?");
    bview v1 = b_view();
    assert_int_equal(v1.secured - v0.secured, 2);
    /* confirmation, info and three messages: five SENDs, all forwarded,
     * and the two SKEYs forwarded as well */
    assert_int_equal(v1.sent - v0.sent, 5);
    assert_int_equal(v1.fwd - v0.fwd, 7);
    /* one proxy session each to B */
    assert_int_equal(pool_router_ctl_stat(ctl_p, "us3r", "pRelays", "requests") - relays0, 2);
    sx_agent_get_stats(alice, &as);
    assert_int_equal(as.sent_direct, 0);
    assert_true(as.sent_proxied >= 3);
    sx_agent_close(alice);

    /* unknown: B is one of alice's routers, so directly */
    alice = open_proxy_agent("alice", SX_AGENT_PROXY_UNKNOWN, SX_AGENT_FALLBACK_ALLOW, p_local, B.addr, false);
    hello(alice, bob_id, bob, alice_id, "direct");
    bview v2 = b_view();
    assert_int_equal(v2.sent - v1.sent, 1);
    assert_int_equal(v2.fwd - v1.fwd, 0);
    sx_agent_get_stats(alice, &as);
    assert_int_equal(as.sent_direct, 1);
    assert_int_equal(as.sent_proxied, 0);
    sx_agent_close(alice);

    /* unknown, B not among them: through P */
    alice = open_proxy_agent("alice", SX_AGENT_PROXY_UNKNOWN, SX_AGENT_FALLBACK_ALLOW, p_local, NULL, false);
    hello(alice, bob_id, bob, alice_id, "proxied");
    bview v3 = b_view();
    assert_int_equal(v3.sent - v2.sent, 1);
    assert_int_equal(v3.fwd - v2.fwd, 1);
    sx_agent_close(alice);

    /* unprotected, but the address is protected: directly */
    alice = open_proxy_agent("alice", SX_AGENT_PROXY_UNPROTECTED, SX_AGENT_FALLBACK_ALLOW, p_local, NULL, true);
    hello(alice, bob_id, bob, alice_id, "protected");
    bview v4 = b_view();
    assert_int_equal(v4.sent - v3.sent, 1);
    assert_int_equal(v4.fwd - v3.fwd, 0);
    sx_agent_close(alice);

    /* P down: a proxy that is down is no reason to send directly (even
     * with the fallback allowed); the message waits and goes through P
     * once it is back */
    alice = open_proxy_agent("alice", SX_AGENT_PROXY_ALWAYS, SX_AGENT_FALLBACK_ALLOW, p_local, NULL, false);
    pool_router_kill9(&P);
    int64_t id = send_text(alice, bob_id, "after the proxy's restart");
    /* a few retries' time: no SENT (nor any other event but DOWN/UP) */
    int64_t quiet_until = now_ms() + 3000;
    while (now_ms() < quiet_until) {
        sx_agent_event q;
        assert_ok(sx_agent_next(alice, 200, &q));
        if (q.kind != SX_AGENT_EV_NONE && q.kind != SX_AGENT_EV_DOWN && q.kind != SX_AGENT_EV_UP)
            fail_msg("%s while the proxy is down (%s)", sx_agent_event_name(q.kind), q.detail);
        sx_agent_event_clear(&q);
    }
    bview v5 = b_view();
    assert_int_equal(v5.sent - v4.sent, 0);
    pool_router_start(&P);
    expect_sent(alice, bob_id, id);
    expect_text(bob, alice_id, "after the proxy's restart");
    bview v6 = b_view();
    assert_int_equal(v6.sent - v5.sent, 1);
    assert_int_equal(v6.fwd - v5.fwd, 1);
    sx_agent_get_stats(alice, &as);
    assert_int_equal(as.sent_direct, 0);
    sx_agent_close(alice);

    /* H cannot use B's host. Fallback prohibited: MWARN with the proxy's
     * error, and the message waits in the store */
    alice = open_proxy_agent("alice", SX_AGENT_PROXY_ALWAYS, SX_AGENT_FALLBACK_PROHIBIT, H.addr, NULL, false);
    id = send_text(alice, bob_id, "after the fallback");
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_MWARN, bob_id, &ev);
    assert_int_equal(ev.msg_id, id);
    assert_int_equal(ev.status, SX_E_IO);
    assert_non_null(strstr(ev.detail, "PROXY BROKER HOST"));
    bview v7 = b_view();
    assert_int_equal(v7.sent - v6.sent, 0);
    sx_agent_get_stats(alice, &as);
    assert_int_equal(as.sent_direct, 0);
    assert_int_equal(as.proxy_fallbacks, 0);
    sx_agent_close(alice);
    /* allowed: the same message goes directly */
    alice = open_proxy_agent("alice", SX_AGENT_PROXY_ALWAYS, SX_AGENT_FALLBACK_ALLOW, H.addr, NULL, false);
    expect_sent(alice, bob_id, id);
    expect_text(bob, alice_id, "after the fallback");
    bview v8 = b_view();
    assert_int_equal(v8.sent - v7.sent, 1);
    assert_int_equal(v8.fwd - v7.fwd, 0);
    sx_agent_get_stats(alice, &as);
    assert_int_equal(as.sent_direct, 1);
    assert_int_equal(as.proxy_fallbacks, 1);
    sx_agent_close(alice);
    sx_agent_close(bob);
}

/* Options the agent refuses at open. */
static void test_bad_options(void **state)
{
    (void)state;
    char p[128];
    db_path(p, sizeof p, "bad");
    sx_agent *a = NULL;
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.proxy_mode = SX_AGENT_PROXY_ALWAYS; /* without routers */
    assert_int_equal(sx_agent_open(p, &o, &a), SX_E_USAGE);
    assert_null(a);
    o.proxy_mode = (sx_agent_proxy_mode)42;
    assert_int_equal(sx_agent_open(p, &o, &a), SX_E_USAGE);
    o.proxy_mode = SX_AGENT_PROXY_NEVER;
    o.proxy_fallback = (sx_agent_proxy_fallback)42;
    assert_int_equal(sx_agent_open(p, &o, &a), SX_E_USAGE);
    o.proxy_fallback = SX_AGENT_FALLBACK_ALLOW;
    o.n_routers = 1; /* and no list */
    assert_int_equal(sx_agent_open(p, &o, &a), SX_E_USAGE);
    const char *bad[] = {"not a router"};
    o.routers = bad;
    o.proxy_mode = SX_AGENT_PROXY_ALWAYS;
    assert_int_equal(sx_agent_open(p, &o, &a), SX_E_USAGE);
    assert_null(a);
}

/* ---- setup ---- */

static void start_router(pool_router *rp, uint16_t *ctl, const char *lines)
{
    char extra[512];
    assert_int_equal(pool_router_init(rp, NULL), 0);
    uint16_t port = pool_router_free_port();
    if (ctl)
        *ctl = port;
    snprintf(extra, sizeof extra, "control_port: %u\ncontrol_port_user_password: us3r\n%s", (unsigned)port,
             lines ? lines : "");
    pool_router_edit(rp, extra);
    pool_router_start(rp);
}

static int setup(void **state)
{
    (void)state;
    snprintf(DIR_, sizeof DIR_, "/tmp/sx-agent-proxy-XXXXXX");
    if (!mkdtemp(DIR_))
        return -1;
    start_router(&B, &ctl_b, NULL);
    start_router(&P, &ctl_p, NULL);
    snprintf(p_local, sizeof p_local, "smp://%s@localhost:%u", P.fp, (unsigned)P.port);
    start_router(&H, NULL, "socks_proxy: 127.0.0.1:9\nhost_mode: onion\nrequired_host_mode: on\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pool_router_free(&B);
    pool_router_free(&P);
    pool_router_free(&H);
    tu_rm_rf(DIR_);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_routing),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
