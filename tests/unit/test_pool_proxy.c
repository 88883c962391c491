/* The pool's choice between a direct and a proxied send
 * (src/smp_client/pool_proxy.c; the reference's shouldUseProxy and
 * directAllowed in Agent/Client.hs at 152c30ca68): every mode and fallback
 * against known and unknown destinations, the choice of a proxy on another
 * host, and options refused. */
#include "testutil.h"

#include <string.h>

#include "smp_client/pool_proxy.h"

#define FP "LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh9Fo4ywbhE56w"

static sx_server_address addr(const char *text)
{
    sx_server_address a;
    assert_ok(sx_server_address_parse(text, strlen(text), &a));
    return a;
}

static void test_modes(void **state)
{
    (void)state;
    const char *proxies[] = {"smp://" FP ":pw@proxy.example"};
    const char *known[] = {"smp://" FP "@ours.example:5223", "mine.example"};
    sx_smp_pool_opts o = {.proxies = proxies, .n_proxies = 1, .known_routers = known, .n_known_routers = 2};
    sx_server_address ours = addr("smp://" FP "@ours.example"), mine = addr("smp://" FP "@mine.example:443"),
                      other = addr("smp://" FP "@other.example");
    static const struct {
        sx_smp_proxy_mode mode;
        bool prot;
        bool ours, mine, other;
    } rows[] = {
        {SX_SMP_PROXY_NEVER, false, false, false, false},
        {SX_SMP_PROXY_ALWAYS, false, true, true, true},
        {SX_SMP_PROXY_ALWAYS, true, true, true, true},
        {SX_SMP_PROXY_UNKNOWN, false, false, false, true},
        {SX_SMP_PROXY_UNKNOWN, true, false, false, true},
        {SX_SMP_PROXY_UNPROTECTED, false, false, false, true},
        {SX_SMP_PROXY_UNPROTECTED, true, false, false, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        o.proxy_mode = rows[i].mode;
        o.address_protected = rows[i].prot;
        sx_pool_proxy_cfg c;
        assert_ok(sx_pool_proxy_cfg_init(&c, &o));
        assert_int_equal(sx_pool_proxy_use(&c, &ours), rows[i].ours);
        assert_int_equal(sx_pool_proxy_use(&c, &mine), rows[i].mine);
        assert_int_equal(sx_pool_proxy_use(&c, &other), rows[i].other);
        /* the proxy's password is kept for PRXY */
        assert_true(c.proxies[0].has_password);
        assert_string_equal(c.proxies[0].password, "pw");
        sx_pool_proxy_cfg_cleanup(&c);
    }
}

static void test_fallback(void **state)
{
    (void)state;
    const char *proxies[] = {"smp://" FP "@proxy.example"};
    static const struct {
        sx_smp_proxy_fallback f;
        bool prot, ok;
    } rows[] = {
        {SX_SMP_FALLBACK_ALLOW, false, true},
        {SX_SMP_FALLBACK_ALLOW, true, true},
        {SX_SMP_FALLBACK_ALLOW_PROTECTED, false, false},
        {SX_SMP_FALLBACK_ALLOW_PROTECTED, true, true},
        {SX_SMP_FALLBACK_PROHIBIT, false, false},
        {SX_SMP_FALLBACK_PROHIBIT, true, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        sx_smp_pool_opts o = {.proxies = proxies, .n_proxies = 1, .proxy_mode = SX_SMP_PROXY_ALWAYS};
        o.proxy_fallback = rows[i].f;
        o.address_protected = rows[i].prot;
        sx_pool_proxy_cfg c;
        assert_ok(sx_pool_proxy_cfg_init(&c, &o));
        assert_int_equal(sx_pool_proxy_fallback_ok(&c), rows[i].ok);
        sx_pool_proxy_cfg_cleanup(&c);
    }
}

/* A proxy on the destination's own host is chosen only when every proxy
 * is. */
static void test_pick(void **state)
{
    (void)state;
    const char *proxies[] = {"smp://" FP "@dest.example:5223", "smp://" FP "@a.example", "smp://" FP "@b.example"};
    sx_smp_pool_opts o = {.proxies = proxies, .n_proxies = 3, .proxy_mode = SX_SMP_PROXY_ALWAYS};
    sx_pool_proxy_cfg c;
    assert_ok(sx_pool_proxy_cfg_init(&c, &o));
    sx_server_address dest = addr("smp://" FP "@dest.example:7000");
    bool seen[3] = {false, false, false};
    for (int i = 0; i < 200; i++) {
        size_t k = sx_pool_proxy_pick(&c, &dest);
        assert_true(k < 3);
        seen[k] = true;
    }
    assert_false(seen[0]);
    assert_true(seen[1] && seen[2]);
    sx_pool_proxy_cfg_cleanup(&c);
    o.n_proxies = 1;
    assert_ok(sx_pool_proxy_cfg_init(&c, &o));
    assert_int_equal(sx_pool_proxy_pick(&c, &dest), 0);
    sx_pool_proxy_cfg_cleanup(&c);
}

/* As the reference's unknownServer: a destination is known when any of
 * its hosts is any host of a known router, whatever their order (a check
 * of first hosts only gets every row below but the first wrong). */
static void test_known_any_host(void **state)
{
    (void)state;
    const char *proxies[] = {"smp://" FP "@proxy.example"};
    const char *known[] = {"smp://" FP "@ours.example,ours1234567890abc.onion", "[::1]"};
    sx_smp_pool_opts o = {.proxies = proxies,
                          .n_proxies = 1,
                          .known_routers = known,
                          .n_known_routers = 2,
                          .proxy_mode = SX_SMP_PROXY_UNKNOWN};
    sx_pool_proxy_cfg c;
    assert_ok(sx_pool_proxy_cfg_init(&c, &o));
    static const struct {
        const char *dest;
        bool proxied;
    } rows[] = {
        {"smp://" FP "@ours.example", false},
        {"smp://" FP "@ours1234567890abc.onion", false},                  /* the known one's second host */
        {"smp://" FP "@other.example,ours.example", false},               /* its second host known */
        {"smp://" FP "@ours1234567890abc.onion,ours.example:443", false}, /* another order and port */
        {"smp://" FP "@other.example,0:0:0:0:0:0:0:1", false},            /* the bare IPv6 host, written otherwise */
        {"smp://" FP "@other.example,another.example", true},
        {"smp://" FP "@ours.example.com", true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        sx_server_address d = addr(rows[i].dest);
        assert_int_equal(sx_pool_proxy_use(&c, &d), rows[i].proxied);
    }
    sx_pool_proxy_cfg_cleanup(&c);
}

/* The proxy is chosen among those that share no host with the destination,
 * any of their hosts against any of its (the reference's isUnusedServer). */
static void test_pick_any_host(void **state)
{
    (void)state;
    const char *proxies[] = {"smp://" FP "@a.example,dest5678901234567.onion", "smp://" FP "@b.example,dest.example",
                             "smp://" FP "@c.example"};
    sx_smp_pool_opts o = {.proxies = proxies, .n_proxies = 3, .proxy_mode = SX_SMP_PROXY_ALWAYS};
    sx_pool_proxy_cfg c;
    assert_ok(sx_pool_proxy_cfg_init(&c, &o));
    sx_server_address dest = addr("smp://" FP "@dest.example,dest5678901234567.onion");
    for (int i = 0; i < 100; i++)
        assert_int_equal(sx_pool_proxy_pick(&c, &dest), 2);
    sx_pool_proxy_cfg_cleanup(&c);
}

static void test_refused(void **state)
{
    (void)state;
    sx_pool_proxy_cfg c;
    sx_smp_pool_opts o = {.proxy_mode = SX_SMP_PROXY_UNKNOWN};
    assert_int_equal(sx_pool_proxy_cfg_init(&c, &o), SX_E_USAGE); /* no proxy */
    const char *bad[] = {"smp://" FP "@good.example", "smp://short@bad.example"};
    o.proxies = bad;
    o.n_proxies = 2;
    assert_int_equal(sx_pool_proxy_cfg_init(&c, &o), SX_E_USAGE);
    o.n_proxies = 1;
    const char *known_bad[] = {"smp://not-an-address"};
    o.known_routers = known_bad;
    o.n_known_routers = 1;
    assert_int_equal(sx_pool_proxy_cfg_init(&c, &o), SX_E_USAGE);
    o.n_known_routers = 0;
    o.proxy_mode = (sx_smp_proxy_mode)7;
    assert_int_equal(sx_pool_proxy_cfg_init(&c, &o), SX_E_USAGE);
    o.proxy_mode = SX_SMP_PROXY_NEVER;
    o.proxy_fallback = (sx_smp_proxy_fallback)7;
    assert_int_equal(sx_pool_proxy_cfg_init(&c, &o), SX_E_USAGE);
    /* never needs no proxy */
    sx_smp_pool_opts never = {0};
    assert_ok(sx_pool_proxy_cfg_init(&c, &never));
    sx_pool_proxy_cfg_cleanup(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_fallback),
        cmocka_unit_test(test_pick),
        cmocka_unit_test(test_known_any_host),
        cmocka_unit_test(test_pick_any_host),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
